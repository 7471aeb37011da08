"""The LaTeX report compiles to a PDF with latexmk (shell escape off), hostile names and text included.

Skipped without latexmk/pdflatex, except in CI (``CI`` set), where it fails:
.ci/run installs texlive-latex-base and latexmk.
"""

from __future__ import annotations

import os
import shutil

import pytest
from test_report_render import sample_report

from symdl.report import PdfBuildError, ReportError, build_pdf, write_report
from symdl.report.model import Report, Section

HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


@pytest.fixture(autouse=True)
def _need_tex():
    if not HAVE_TEX:
        if os.environ.get("CI"):
            pytest.fail("latexmk/pdflatex not installed, and CI must build the PDF (.ci/run installs them)")
        pytest.skip("no TeX installation")


def test_the_hostile_sample_report_builds_a_pdf_and_only_the_pdf_lands_in_the_directory(tmp_path):
    written = write_report(sample_report(), tmp_path, formats=("pdf",))
    assert set(written) == {"tex", "pdf"}
    data = written["pdf"].read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf", "report.tex"]  # no .aux, .log, temporary
    assert not (tmp_path / "pwned").exists()


def test_the_pdf_is_reproducible(tmp_path):
    report = Report("two builds", (Section(key="a", title="σ & co", kind="formula", summary="100% $x$"),))
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
