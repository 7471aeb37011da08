"""The HTML report in a real browser: headless Chromium lays out its MathML and SVG plots.

The product page has no script. The test copies it, appends a test-only
script that measures every ``<math>`` and ``<svg>`` with
``getBoundingClientRect`` and writes the sizes into the DOM, and reads them
back from ``chromium --dump-dom``. A screenshot of the original page must not
be blank. Skipped without Chromium, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report_render import reader_report, unreadable

from symdl.report import write_report

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and os.path.exists(p)), None)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--disable-extensions", "--mute-audio",
]

MEASURE = """
<script>
(() => {
  const size = (e) => { const r = e.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
  const out = {math: [...document.querySelectorAll('math')].map(size),
               svg: [...document.querySelectorAll('svg')].map(size),
               mfrac: [...document.querySelectorAll('math[display="block"] mfrac')]
                        .filter(e => !e.parentElement.closest('msup, msub, msubsup, mfrac, munder, mover, munderover, mtable'))
                        .map(size),
               mtable: [...document.querySelectorAll('mtable')].map(size),
               mathDisplay: [...document.querySelectorAll('math')].map(e => [e.getAttribute('display'), getComputedStyle(e).display]),
               text: document.body.innerText};
  const pre = document.createElement('pre');
  pre.id = 'symdl-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def _chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI must run the browser test (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    return CHROMIUM


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return write_report(reader_report(), out, formats=("html",))["html"]


@pytest.fixture(scope="module")
def measured(page, tmp_path_factory) -> dict:
    """What Chromium laid out: the sizes of every <math>, <svg>, <mfrac> and <mtable>, and the page's rendered text."""
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source.lower()
    work = tmp_path_factory.mktemp("probe")
    probe = work / "probe.html"
    probe.write_text(source.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    result = _run(["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], work / "profile")
    found = re.search(r'<pre id="symdl-measure">(.*?)</pre>', result.stdout, flags=re.DOTALL)
    assert found, f"no measurements in chromium's DOM (exit {result.returncode}): {result.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


def test_chromium_lays_out_every_formula_and_plot(page, measured):
    source = page.read_text(encoding="utf-8")
    sizes = measured
    expected_math = len(re.findall(r"<math[ >]", source))  # display formulas and the inline ones of the prose
    expected_svg = source.count("<svg")
    assert len(sizes["math"]) == expected_math >= 20
    assert len(sizes["svg"]) == expected_svg >= 3
    assert all(w > 0 and h > 0 for w, h in sizes["math"]), sizes["math"]
    # Laid out as mathematics (MathML Core), not as inline text: displayed fractions (not in a script or a table cell, which are text style) are taller than a line of text.
    assert {tuple(d) for d in sizes["mathDisplay"]} == {("block", "block math"), (None, "math")}
    assert sizes["mfrac"] and all(h >= 25 for _, h in sizes["mfrac"]), [s for s in sizes["mfrac"] if s[1] < 25]
    assert sizes["mtable"] and all(h >= 30 for _, h in sizes["mtable"]), sizes["mtable"]
    assert all(w >= 200 and h >= 100 for w, h in sizes["svg"]), sizes["svg"]


def test_the_rendered_text_holds_no_tex_source_or_internal_name(measured):
    text = measured["text"]
    assert "BP1" in text and "selu" in text and "σ" in text
    assert unreadable(text) == []


def test_screenshot_is_not_blank(page, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    shot = tmp_path / "shot.png"
    result = _run(["--window-size=1200,3000", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile")
    assert shot.is_file(), f"no screenshot (exit {result.returncode}): {result.stderr[-500:]}"
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (3000, 1200)
    ink = np.any(pixels < 0.9, axis=-1)
    rgb = np.round(pixels * 255).astype(np.uint32)
    colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert ink.mean() > 0.01, f"only {ink.mean():.2%} of the page is drawn"
    assert len(colours) > 50  # text, formulas and coloured plot lines, not a flat page
    rows_with_ink = np.flatnonzero(ink.any(axis=1))
    assert rows_with_ink.max() - rows_with_ink.min() > 2000  # content runs down the whole page
