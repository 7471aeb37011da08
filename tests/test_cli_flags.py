"""No ignored flags: a flag that does not apply to what was asked is refused with one line (or honoured)."""

from __future__ import annotations

import pytest

from symdl.cli import main


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("symdl: error: ")
    return captured.err


def test_check_of_a_rule_by_another_input_is_refused(capsys):
    assert main(["check", "prelu", "--wrt", "alpha"]) == 2
    err = one_error(capsys)
    assert "by its input z" in err and "symdl derive prelu --wrt alpha" in err


@pytest.mark.parametrize("wrt", ["garbage", "x", "Z", "alpha"])
def test_check_of_a_rule_by_an_unknown_input_names_the_inputs(wrt, capsys):
    assert main(["check", "relu", "--wrt", wrt]) == 2
    assert "its inputs: z" in one_error(capsys)


def test_check_by_the_rules_own_input_and_a_formulas_variable_are_honoured(capsys):
    assert main(["check", "relu", "--wrt", "z"]) == 0
    assert capsys.readouterr().out.startswith("relu  (by z)")
    assert main(["check", "x**2", "--wrt", "x"]) == 0
    assert capsys.readouterr().out.startswith("x**2  (by x)")


@pytest.mark.parametrize("flag", [["--activation", "garbage"], ["--loss", "nonsense"], ["--layers", "1,x"],
                                  ["--activation", "tanh"]])
def test_report_network_flags_without_backprop_are_refused(flag, tmp_path, capsys):
    target = tmp_path / "r"
    assert main(["report", "relu", *flag, "-o", str(target), "--format", "md"]) == 2
    assert f"{flag[0]} describes the network of the backprop section" in one_error(capsys)
    assert not target.exists()


def test_report_network_flags_with_backprop_are_checked(tmp_path, capsys):
    assert main(["report", "backprop", "--activation", "garbage", "-o", str(tmp_path / "r"), "--format", "md"]) == 2
    assert "garbage" in one_error(capsys)
