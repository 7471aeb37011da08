"""``symdl report`` exits 1 when a check in the report failed (as verify and check do), after writing the report."""

from __future__ import annotations

from symdl.cli.main import main


def test_report_with_a_failing_check_is_written_and_exits_1(tmp_path, capsys):
    out = tmp_path / "report"
    args = ["report", "identity", "--formula", "exp(exp(z))", "-o", str(out), "--format", "md", "--no-plots"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert (out / "report.md").is_file() and str(out / "report.md") in captured.out
    assert captured.err.count("\n") == 1 and "checks failed: Formula 1:" in captured.err
    assert "✗" in (out / "report.md").read_text(encoding="utf-8")


def test_report_whose_checks_pass_exits_0(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "identity", "--formula", "z**2/2", "-o", str(out), "--format", "md", "--no-plots"]) == 0
    assert capsys.readouterr().err == ""
    assert "✗" not in (out / "report.md").read_text(encoding="utf-8")
