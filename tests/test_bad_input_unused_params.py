"""formula_rule's parameters must be used by the formula: a misspelt name (delta for d) would silently do nothing.

One FormulaError (a ValueError) line naming the unused parameter and the names the formula uses; CLI exit 2.
"""

import pytest
import sympy as sp

import symdl
from symdl.cli import main


@pytest.mark.parametrize(("text", "kwargs", "line"), [
    ("d*z**2", {"params": {"d": 1, "delta": 2}},
     "formula: parameter 'delta' is not used by 'd*z**2'; the formula uses d, z (give only the parameters it uses)"),
    ("z**2", {"params": {"k": None}},
     "formula: parameter 'k' is not used by 'z**2'; the formula uses z (give only the parameters it uses)"),
    ("abs(e - y)", {"wrt": "e", "symbols": ["y"], "params": {"y2": 1.0}},
     "formula: parameter 'y2' is not used by 'abs(e - y)'; the formula uses e, y (give only the parameters it uses)"),
    ("k*z - k*z + z", {"params": {"k": 1}},  # cancelled as the text is read: k has no effect either
     "formula: parameter 'k' is not used by 'k*z - k*z + z'; the formula uses z (give only the parameters it uses)"),
    ("z" + "+z" * 40, {"params": {"c": 1}},
     "formula: parameter 'c' is not used by '" + ("z" + "+z" * 40)[:56] + "...; the formula uses z (give only the parameters it uses)"),
])
def test_a_parameter_the_formula_does_not_use_is_one_clear_line(text, kwargs, line):
    with pytest.raises(symdl.FormulaError) as info:
        symdl.formula_rule(text, **kwargs)
    assert str(info.value) == line


def test_a_sympy_expression_with_an_unused_parameter_is_refused_alike():
    z, d = sp.symbols("z d", real=True)
    with pytest.raises(ValueError, match=r"^formula: parameter 'delta' is not used by 'd\*z'; the formula uses d, z"):
        symdl.formula_rule(d * z, params={"d": 1.0, "delta": 2.0})


def test_used_parameters_and_unused_input_symbols_still_build():
    assert symdl.formula_rule("d*z**2", params={"d": 1}).params == {"d": 1}
    assert symdl.formula_rule("abs(a)", wrt="a", symbols=["y"]).inputs[1].name == "y"  # a loss may ignore its target


@pytest.mark.parametrize("argv", [
    ["derive", "d*z**2", "--param", "d=1", "--param", "delta=2"],
    ["check", "d*z**2", "--param", "d=1", "--param", "delta=2"],
    ["codegen", "d*z**2", "--param", "d=1", "--param", "delta=2", "-o", "-"],
])
def test_the_cli_refuses_an_unused_param_with_exit_2(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == "symdl: error: formula: parameter 'delta' is not used by 'd*z**2'; the formula uses d, z (give only the parameters it uses)\n"


def test_report_shares_param_between_formulas_but_refuses_one_no_formula_uses(capsys, tmp_path):
    argv = ["report", "--formula", "a*z", "--formula", "z**2", "--param", "a=2", "--format", "md", "--no-verify", "--no-plots"]
    assert main([*argv, "-o", str(tmp_path / "ok")]) == 0, capsys.readouterr().err
    assert (tmp_path / "ok" / "report.md").exists()
    capsys.readouterr()
    assert main([*argv, "--param", "b=1", "-o", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err == "symdl: error: --param 'b': no --formula uses it (give only parameters the formulas use)\n"
    assert not (tmp_path / "bad").exists()
