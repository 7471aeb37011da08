"""The LaTeX report compiles to a PDF with latexmk (shell escape off), hostile names and text included.

One module-scoped build of :func:`test_report_render.reader_report` (the hostile
sample and sections the library builds) is read back as a reader sees it:
``pdftotext`` for the text, ``-bbox-layout`` for where each line ends. Skipped
without latexmk/pdflatex or poppler's pdftotext, except in CI (``CI`` set),
where it fails: .ci/run installs texlive-latex-base, latexmk and poppler-utils.
"""

from __future__ import annotations

import collections
import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report_render import reader_report, sample_plot, sample_report, unreadable

from symdl.report import PdfBuildError, ReportError, build_pdf, write_report
from symdl.report.model import Report, Section

HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


@pytest.fixture(autouse=True)
def _need_tex():
    if not HAVE_TEX:
        if os.environ.get("CI"):
            pytest.fail("latexmk/pdflatex not installed, and CI must build the PDF (.ci/run installs them)")
        pytest.skip("no TeX installation")


def _pdftotext(pdf: Path, *options: str) -> str:
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext not installed, and CI must read the PDF (.ci/run installs poppler-utils)")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    result = subprocess.run(["pdftotext", *options, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60)
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Report, Path, dict[str, Path]]:
    report = reader_report()
    directory = tmp_path_factory.mktemp("pdf")
    return report, directory, write_report(report, directory, formats=("pdf",))


def test_the_hostile_sample_report_builds_a_pdf_with_only_the_pdf_and_its_figures_in_the_directory(built):
    report, directory, written = built
    assert set(written) == {"tex", "pdf"}
    data = written["pdf"].read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 10_000
    assert sorted(p.name for p in directory.iterdir()) == ["figures", "report.pdf", "report.tex"]  # no .aux, .log
    assert sorted(p.name for p in (directory / "figures").iterdir()) == sorted(f"{s.key}.pdf" for s in report.sections if s.plot)
    assert not (directory / "pwned").exists()


def test_every_plot_is_drawn_in_the_pdf_with_its_caption(built):
    report, _, written = built
    plotted = [s for s in report.sections if s.plot is not None]
    assert len(plotted) >= 4
    # Each included figure is a Form XObject (a stream, so its dictionary is never hidden in an object stream).
    forms = re.findall(rb"/Subtype\s*/Form", written["pdf"].read_bytes())
    assert len(forms) >= len(plotted)
    text = " ".join(_pdftotext(written["pdf"]).split())
    for section in plotted[:-1]:  # the last is the hostile section, whose caption is hostile text
        assert " ".join(section.plot.caption.split()[:6]) in text, section.plot.caption


def _lines(bbox: str) -> list[tuple[float, str]]:
    """Each text line of ``pdftotext -bbox-layout`` output: (its right end in pt, its words joined)."""
    lines = []
    for line in re.findall(r"<line [^>]*>(.*?)</line>", bbox, flags=re.DOTALL):
        words = re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', line)
        if words:
            lines.append((max(float(x) for x, _ in words), html.unescape(" ".join(w for _, w in words))))
    return lines


def test_no_line_runs_past_the_right_margin_code_and_equations_included(built):
    _, _, written = built
    lines = _lines(_pdftotext(written["pdf"], "-bbox-layout"))
    # Justified prose ends exactly at the right margin: the most common right end of a long line.
    margin, count = collections.Counter(round(end) for end, text in lines if len(text.split()) >= 8).most_common(1)[0]
    assert count >= 5
    code = [(end, text) for end, text in lines if "numpy." in text or text.startswith("def ")]
    assert len(code) >= 3 and any("↪" in text or "→" in text for _, text in code)  # SELU's long line is continued
    assert [(end, text) for end, text in code if end > margin + 1] == []
    # Wide equations are scaled down to the line (SELU's derivation holds some twice the text width).
    assert [(end, text[:80]) for end, text in lines if end > margin + 1] == []


def test_the_pdf_text_holds_no_tex_source_or_internal_name(built):
    _, _, written = built
    text = _pdftotext(written["pdf"])
    assert "BP1" in text and "selu" in text
    assert unreadable(text) == []


def test_the_pdf_is_reproducible(tmp_path):
    plot = sample_plot(abs, lambda x: x > 0, "abs", "a plot")
    report = Report("two builds", (Section(key="a", title="σ & co", kind="formula", summary="100% $x$", plot=plot),))
    first = write_report(report, tmp_path / "a", formats=("pdf",))["pdf"].read_bytes()
    second = write_report(report, tmp_path / "b", formats=("pdf",))["pdf"].read_bytes()
    assert first == second


def test_a_failing_build_reports_the_latex_error_on_one_line(tmp_path):
    tex = tmp_path / "broken.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\n\\undefinedcommand\n\\end{document}\n")
    with pytest.raises(PdfBuildError, match=r"Undefined control sequence") as error:
        build_pdf(tex, timeout=60)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "broken.pdf").exists()


def test_without_tex_a_pdf_request_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ReportError, match="latexmk and pdflatex not found"):
        write_report(sample_report(hostile=False), tmp_path / "out", formats=("tex", "pdf"))
    assert not (tmp_path / "out").exists()


# --- the pages as images: pdftoppm at 50 dpi, read with matplotlib -------------------------------------------------------

DPI = 50


def _page_boxes(bbox: str) -> list[tuple[float, float, list[tuple[float, float, float, float, str]]]]:
    """Each page of ``pdftotext -bbox-layout``: (width, height, its lines as (xMin, yMin, xMax, yMax, text)) in pt."""
    pages = []
    for width, height, body in re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', bbox, flags=re.DOTALL):
        lines = []
        for line in re.findall(r"<line [^>]*>(.*?)</line>", body, flags=re.DOTALL):
            words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', line)
            if words:
                box = [[float(w[c]) for w in words] for c in range(4)]
                text = html.unescape(" ".join(w[4] for w in words))
                lines.append((min(box[0]), min(box[1]), max(box[2]), max(box[3]), text))
        pages.append((float(width), float(height), lines))
    return pages


@pytest.fixture(scope="module")
def pages(built, tmp_path_factory):
    """(the page images as RGB arrays in [0, 1], the pages' text boxes), from the module's one PDF build."""
    image = pytest.importorskip("matplotlib.image")
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm not installed, and CI must render the PDF (.ci/run installs poppler-utils)")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    _, _, written = built
    directory = tmp_path_factory.mktemp("pages")
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(written["pdf"]), str(directory / "page")],
                   check=True, timeout=120, capture_output=True)
    images = [image.imread(p)[..., :3] for p in sorted(directory.glob("page-*.png"))]
    return images, _page_boxes(_pdftotext(written["pdf"], "-bbox-layout"))


def _ink(img):
    return img.min(axis=2) < 0.8  # a pixel darker or more coloured than the paper


def _coloured(img):
    return img.max(axis=2) - img.min(axis=2) > 0.3  # matplotlib's blue and orange lines, not black text or grey


def test_every_page_has_ink_and_none_outside_the_text_block(pages):
    images, boxes = pages
    assert len(images) == len(boxes) >= 3
    # The text block: the extremes of every word of the document (a figure is set within the text width).
    left = min(x0 for _, _, lines in boxes for x0, _, _, _, _ in lines)
    right = max(x1 for _, _, lines in boxes for _, _, x1, _, _ in lines)
    top = min(y0 for _, _, lines in boxes for _, y0, _, _, _ in lines)
    bottom = max(y1 for _, _, lines in boxes for _, _, _, y1, _ in lines)
    scale, slack = DPI / 72, 3  # pt → pixels; a pixel or two of antialiasing and the rounding of the boxes
    for number, img in enumerate(images, start=1):
        ink = _ink(img)
        assert ink.mean() > 0.001, f"page {number} is blank"
        rows, columns = ink.any(axis=1).nonzero()[0], ink.any(axis=0).nonzero()[0]
        assert columns.min() >= left * scale - slack and columns.max() <= right * scale + slack, f"page {number}"
        assert rows.min() >= top * scale - slack and rows.max() <= bottom * scale + slack, f"page {number}"
        # and the margins themselves are paper: the block is well inside the page
        assert left * scale > 0.05 * img.shape[1] and right * scale < 0.95 * img.shape[1]


def test_every_colour_plot_is_drawn_just_above_its_caption(built, pages):
    report, _, _ = built
    images, boxes = pages
    scale = DPI / 72
    plotted = [s for s in report.sections if s.plot is not None][:-1]  # the last caption is hostile text
    found = 0
    for section in plotted:
        start = " ".join(section.plot.caption.split()[:4])
        where = [(n, line) for n, (_, _, lines) in enumerate(boxes) for line in lines if line[4].startswith(start)]
        assert where, f"caption {start!r} not found"
        number, (x0, y0, x1, _, _) = where[0]
        img = images[number]
        above = _coloured(img[max(0, int((y0 - 250) * scale)): int(y0 * scale), :])
        assert above.sum() > 50, f"no colour plot above the caption {start!r} on page {number + 1}"
        below = _coloured(img[int(y0 * scale): int((y0 + 40) * scale), :])  # the caption line itself is black text
        assert below.sum() < above.sum() / 10
        found += 1
    assert found >= 3
    # Only plots are coloured: no more pages with colour than there are plots (the hostile one included).
    coloured_pages = [n for n, img in enumerate(images) if _coloured(img).sum() > 50]
    assert len(plotted) <= len(coloured_pages) <= len(plotted) + 1, coloured_pages
