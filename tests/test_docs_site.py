"""The documentation site builds with warnings as errors: guide, report, search, and the API reference from the docstrings."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import symdl

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TIMEOUT_SECONDS = 600  # a hung build fails; speed is not asserted here (one strict build: about 11 s of CPU)

if not os.environ.get("CI"):  # CI installs the docs extra: there a missing tool fails instead of skipping
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra: pip install '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once by ``mkdocs build --strict`` into a fresh folder."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    return out


def _api_pages() -> dict[str, list[str]]:
    """Each page of docs/api/ → the objects its ``:::`` lines render."""
    return {
        page.name: re.findall(r"^::: (\S+)$", page.read_text(encoding="utf-8"), re.MULTILINE) for page in sorted((DOCS / "api").glob("*.md"))
    }


def _is_module(path: str) -> bool:
    try:
        return importlib.util.find_spec(path) is not None
    except ModuleNotFoundError:  # a function's path, as symdl.rulebook.registry.rule
        return False


def _html(site: Path, page: str) -> str:
    folder = site / "api" if page == "index.md" else site / "api" / page.removesuffix(".md")
    return (folder / "index.html").read_text(encoding="utf-8")


def test_every_guide_page_and_the_report_are_in_the_site(site):
    for page in sorted(DOCS.glob("*.md")):
        target = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert target.is_file(), page.name
    report = (site / "report" / "report" / "index.html").read_text(encoding="utf-8")
    assert 'src="../figures/hard_tanh.svg"' in report and (site / "report" / "figures" / "hard_tanh.svg").is_file()
    assert r"\(" in report  # the report's $…$ mathematics, kept for MathJax rather than mangled as Markdown


def test_the_search_index_covers_guide_report_and_api(site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = {doc["location"] for doc in index["docs"]}
    for location in ("quickstart/", "report/report/", "api/#symdl.Network", "api/#symdl.rulebook.registry.rule", "api/rules/#symdl.rulebook.Rule"):
        assert location in locations, location


def test_the_api_reference_documents_every_public_name_of_symdl(site):
    """Each name of ``symdl.__all__`` has its anchor on the package's page, ``symdl.rule`` included (a submodule shares its name)."""
    page = _html(site, "index.md")
    for name in symdl.__all__:
        if not name.startswith("__") and not inspect.ismodule(getattr(symdl, name)):
            assert f'id="symdl.{name}"' in page, name
    rule = page.split('id="symdl.rulebook.registry.rule"', 1)[1][:5000]
    assert "kink_convention" in rule and "The rule called" in rule  # signature and docstring, from the source
    assert 'id="symdl.Network.compile"' in page  # members
    assert 'id="symdl.Rule.plot"' in page and 'id="symdl.Rule.derivation"' in page  # inherited from Plottable, Derives


def test_every_documented_module_renders_with_its_docstring(site):
    pages = _api_pages()
    assert sum(len(objects) for objects in pages.values()) >= 50
    for page, objects in pages.items():
        html = _html(site, page)
        for path in objects:
            assert f'id="{path}"' in html, (page, path)
            if not _is_module(path):
                continue
            doc = inspect.getdoc(importlib.import_module(path)) or ""
            words = re.findall(r"[A-Za-z]{4,}", doc.split("\n", 1)[0])[:4]  # the opening line's words, markup aside
            section = html.split(f'id="{path}"', 1)[1][:20_000]
            assert words and all(word in section for word in words), (path, words)


def test_api_anchors_are_unique(site):
    """Every object has its own anchor, its full dotted path (the hand-written reference had colliding ones)."""
    for page in _api_pages():
        ids = re.findall(r'\bid="([^"]+)"', _html(site, page))
        assert len(ids) == len(set(ids)), (page, sorted({i for i in ids if ids.count(i) > 1})[:5])


def test_docstrings_read_as_markdown_on_every_api_page(site):
    """Sphinx roles became links or code, doctests code blocks: no raw ``:func:`` and no ``>>>`` read as a quote."""
    for page in _api_pages():
        html = _html(site, page)
        assert not re.search(r":(func|class|meth|mod|attr|data|obj|exc):`", html), page
        assert "<blockquote>" not in html, page
    assert '<a class="autorefs autorefs-internal"' in _html(site, "networks.md")


def _griffe_rst():
    spec = importlib.util.spec_from_file_location("griffe_rst", DOCS / "griffe_rst.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docstring_extension_converts_roles_literals_and_doctests():
    markdown = _griffe_rst().markdown
    assert markdown("See :func:`~symdl.rulebook.rule`.", "symdl") == (
        'See <autoref identifier="symdl.rulebook.rule" optional><code>rule</code></autoref>.'
    )
    assert 'identifier="symdl.graph.Model"' in markdown(":class:`Model`", "symdl.graph")
    assert markdown("``x + 1``", "m") == "`x + 1`"
    assert markdown("Example:\n\n>>> 1 + 1\n2\n\nafter", "m") == "Example:\n\n```python\n>>> 1 + 1\n2\n```\n\nafter"
    fenced = "```python\n>>> 1\n1\n```"
    assert markdown(fenced, "m") == fenced
