"""``symdl report``: end to end through the real report items, and its one-line errors (exit 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import symdl.report.files
from symdl.cli import main
from symdl.report import PdfBuildError

HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2
    assert err.startswith("symdl: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for word in words:
        assert word in err


def test_a_rule_and_a_formula_give_tex_html_and_md(capsys, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "report", "relu", "--formula", "log(1 + exp(z))", "-o", str(out_dir), "--no-verify")
    assert code == 0, err
    paths = out.split()
    assert paths == [str(out_dir / f"report.{fmt}") for fmt in ("tex", "html", "md")]
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="relu"' in html and "<math" in html and "<svg" in html and "<script" not in html.lower()
    tex = (out_dir / "report.tex").read_text(encoding="utf-8")
    assert tex.count(r"\section{") == 2 and r"\begin{cases}" in tex
    md = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "$$" in md and (out_dir / "figures" / "relu.svg").is_file()
    assert err == ""  # no progress when stderr is not a terminal


def test_the_same_report_twice_is_byte_identical_and_shows_progress_when_asked(capsys, tmp_path):
    for name in ("a", "b"):
        code, _, err = run(capsys, "report", "--only", "sigmoid", "-o", str(tmp_path / name), "--progress")
        assert code == 0, err
        # one counter over the whole command: the section, then the three files written
        assert "symdl report: [1/4] sections: sigmoid…" in err and "symdl report: [4/4] writing: report.md…" in err
    for path in sorted((tmp_path / "a").rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes(), path


def test_without_matplotlib_the_figures_are_skipped_with_a_note_and_their_old_files_removed(capsys, tmp_path, monkeypatch):
    out_dir, figures = tmp_path / "out", tmp_path / "out" / "figures"
    figures.mkdir(parents=True)
    for name in ("relu.svg", "relu.pdf", "tanh.svg", "notes.txt"):  # relu's from an earlier run; the rest not this report's
        (figures / name).write_text("old", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    code, out, err = run(capsys, "report", "relu", "-o", str(out_dir), "--format", "tex,md", "--no-verify")
    assert code == 0, err
    assert err == "symdl: figures skipped: matplotlib is not installed (pip install 'symdl[plot]')\n"
    md = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "## relu" in md and "figures/" not in md and "### Plot" not in md
    assert "includegraphics" not in (out_dir / "report.tex").read_text(encoding="utf-8")
    assert sorted(p.name for p in figures.iterdir()) == ["notes.txt", "tanh.svg"]
    assert all(p.read_text(encoding="utf-8") == "old" for p in figures.iterdir())


def test_no_plots_in_an_existing_directory_removes_only_the_figures_of_the_formats_written(capsys, tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    for name in ("relu.svg", "relu.pdf"):
        (figures / name).write_text("old", encoding="utf-8")
    code, _, err = run(capsys, "report", "relu", "-o", str(tmp_path), "--format", "md", "--no-verify", "--no-plots")
    assert code == 0 and err == "", err
    assert sorted(p.name for p in figures.iterdir()) == ["relu.pdf"]  # the TeX, not rewritten, still includes it


def test_the_backprop_network_takes_output_activation_penalty_batchnorm_and_dropout(capsys, tmp_path):
    code, out, err = run(capsys, "report", "backprop", "-o", str(tmp_path / "out"), "--format", "md", "--no-verify",
                         "--output-activation", "sigmoid", "--loss", "binary_cross_entropy", "--penalty", "l2",
                         "--batchnorm", "--dropout", "0.25")
    assert code == 0, err
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "sigmoid on the output layer" in text and "penalty l2" in text and "drop probability 0.25" in text
    # φ_L and Ω, used by the equations, are defined as display equations of their own.
    assert "\n{\\varphi }_{L}{\\left(z \\right)} = \\sigma \\left(z\\right)\n" in text  # φ_L is the sigmoid σ
    assert "\n\\Omega {\\left(w \\right)} = " in text


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["relux"], ["unknown report item 'relux'", "did you mean 'relu'"]),
        (["--only", "nonsense"], ["unknown report item 'nonsense'"]),
        (["relu", "--format", "tex,docx"], ["unknown report format 'docx'"]),
        (["relu", "--format", ","], ["no report format"]),
        (["backprop", "--layers", "2,x"], ["--layers"]),
        (["backprop", "--activation", "nope"], ["nope"]),
        (["backprop", "--penalty", "nope"], ["penalty", "nope"]),
        (["backprop", "--dropout", "1.5"], ["dropout", "1.5"]),
        (["backprop", "--output-activation", "nope"], ["nope"]),
        (["relu", "--formula", "__import__('os')"], []),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, words):
    code, out, err = run(capsys, "report", *argv, "-o", str(tmp_path / "out"))
    assert_one_line_error(code, err, *words)
    assert out == ""


def test_an_unwritable_output_is_one_line_and_exit_2(capsys, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    code, _, err = run(capsys, "report", "relu", "-o", str(not_a_dir))
    assert_one_line_error(code, err, "not a directory")
    code, _, err = run(capsys, "report", "relu", "-o", str(not_a_dir / "below"))
    assert_one_line_error(code, err, "cannot write")


def test_pdf_without_tex_is_refused_before_anything_is_built(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run(capsys, "report", "relu", "--format", "pdf,html", "-o", str(tmp_path / "out"))
    assert_one_line_error(code, err, "latexmk", "install")
    assert not (tmp_path / "out").exists()


def test_a_failed_pdf_build_keeps_the_other_files_and_exits_1(capsys, tmp_path, monkeypatch):
    def fail(tex, timeout=0.0):
        raise PdfBuildError(f"latexmk failed on {tex} (exit 12): ! Undefined control sequence.")

    monkeypatch.setattr(symdl.report.files, "build_pdf", fail)
    monkeypatch.setattr(symdl.report.files, "pdf_available", lambda: None)
    code, out, err = run(capsys, "report", "relu", "--no-verify", "--no-plots", "--format", "pdf,html",
                         "-o", str(tmp_path))
    assert code == 1
    assert err.count("\n") == 1 and "Undefined control sequence" in err
    assert out.split() == [str(tmp_path / "report.tex"), str(tmp_path / "report.html")]
    assert (tmp_path / "report.tex").is_file() and (tmp_path / "report.html").is_file()


@pytest.mark.skipif(not HAVE_TEX and not os.environ.get("CI"), reason="no TeX installation")
def test_the_pdf_builds_from_the_command_line(tmp_path):
    # A separate process, as a user runs it: no traceback, the PDF and the TeX it came from.
    result = subprocess.run(
        [sys.executable, "-m", "symdl", "report", "relu", "--format", "pdf", "-o", str(tmp_path), "--no-verify"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "report.tex"), str(tmp_path / "report.pdf")]
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_help_documents_formats_and_the_pdf_rule(capsys):
    code, out, _ = run(capsys, "report", "--help")
    assert code == 0
    for word in ("--format", "tex, pdf, html, md", "--formula", "--only", "--no-plots", "exit 2", "exit 1"):
        assert word in " ".join(out.split()), word


def test_a_bad_formula_or_oversized_network_is_refused_before_anything_is_written(tmp_path, capsys):
    from symdl.cli import main

    target = tmp_path / "never"
    for argv in (["--formula", "z +* 2"], ["backprop", "--layers", "99999999999999999999,1"]):
        assert main(["report", *argv, "-o", str(target), "--no-plots"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("symdl: error:")
        assert not target.exists()


def test_formulas_alone_give_a_formula_only_report_with_their_names_and_variables(capsys, tmp_path):
    """--formula alone: only the formulas (not the 40 built-in sections); NAME= titles one; --wrt/--param apply."""
    out_dir = tmp_path / "formulas"
    code, _, err = run(capsys, "report", "--formula", "log cosh loss=log(cosh(e))", "--formula", "softplus(b*e)",
                       "--wrt", "e", "--param", "b=2", "-o", str(out_dir), "--format", "md,tex", "--no-verify",
                       "--no-plots")
    assert code == 0, err
    md = (out_dir / "report.md").read_text(encoding="utf-8")
    titles = [line for line in md.splitlines() if line.startswith("## ")]
    assert titles == ["## Contents", "## log cosh loss", "## Formula 2"]
    assert "\\tanh" in md  # d/de log cosh e
    assert (out_dir / "report.tex").read_text(encoding="utf-8").count(r"\section{") == 2


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["relu", "--wrt", "e"], ["--wrt describes the variables of --formula"]),
        (["--param", "b=1"], ["--param describes the variables of --formula"]),
        (["--formula", "log(cosh(e))"], ["unknown name 'e'"]),
        (["--formula", "x==z"], ["is a condition where a value is expected"]),
        (["--formula", "softplus(z)", "--wrt", "e"], ["unknown name 'z'", "declared names: e"]),
        (["--formula", "softplus(z)", "--symbol", "e", "--wrt", "z", "--formula", "e"], ["does not depend on 'z'"]),
    ],
)
def test_formula_variables_are_checked_before_anything_is_written(capsys, tmp_path, argv, words):
    target = tmp_path / "never"
    code, _, err = run(capsys, "report", *argv, "-o", str(target))
    assert_one_line_error(code, err, *words)
    assert not target.exists()


def test_a_formula_name_outside_the_title_alphabet_is_refused():
    from symdl.report.rule_sections import formula_section

    with pytest.raises(ValueError, match="formula name"):
        formula_section("z**2", name="\u202etitle")
    assert formula_section("z**2", name="square", verify=False, plot=False).title == "square"
