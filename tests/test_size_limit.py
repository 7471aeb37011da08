"""The size limit on intermediate expressions: symdl.budget.MAX_NODES, check_size and ExpressionTooLarge, applied after
parsing, after differentiation and to formula layers' VJPs; one line and exit 2 on the CLI, nothing written."""

from __future__ import annotations

import os
import pickle

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
import symdl.budget
from symdl.budget import MAX_NODES, ExpressionTooLarge, check_size, count_nodes
from symdl.cli import main
from symdl.symbolic.parse import parse

#: 89 distinct factors: the derivative is a sum of 89 products of 88 factors (31,684 nodes), the formula 355.
EXPLODING = "*".join(f"sin({k}*z)" for k in range(1, 90))
z = sp.Symbol("z", real=True)


@settings(deadline=None, max_examples=50)
@given(st.recursive(st.sampled_from([z, sp.Integer(2), sp.Rational(1, 3)]),
                    lambda inner: st.one_of(st.builds(sp.sin, inner), st.builds(sp.exp, inner),
                                            st.builds(lambda a, b: a * b + a, inner, inner)),
                    max_leaves=30))
def test_count_nodes_is_the_preorder_traversal_count_with_an_early_exit(expr):
    full = sum(1 for _ in sp.preorder_traversal(expr))
    assert count_nodes(expr, 10**6) == full
    assert count_nodes(expr, 3) == min(full, 4)


def test_check_size_refuses_past_the_limit_and_the_error_pickles():
    expr = sp.sin(z) * sp.exp(z)  # 5 nodes: Mul, sin, z, exp, z
    assert check_size(expr, "e", limit=5) is expr
    with pytest.raises(ExpressionTooLarge, match="^e has more than 4 nodes") as caught:
        check_size(expr, "e", limit=4)
    assert isinstance(caught.value, ValueError)
    again = pickle.loads(pickle.dumps(caught.value))  # it crosses the budget worker's pipe
    assert (type(again), str(again), again.what, again.limit) == (ExpressionTooLarge, str(caught.value), "e", 4)


def test_the_derivative_of_a_long_product_is_refused():
    assert count_nodes(parse(EXPLODING), MAX_NODES) < 400  # the formula itself is small
    with pytest.raises(ExpressionTooLarge, match=r"^the derivative of 'sin\(1\*z\)\*sin\(2\*z\).*' by z has more than 20000 nodes"):
        symdl.formula_rule(EXPLODING)
    shorter = "*".join(f"sin({k}*z)" for k in range(1, 30))  # 29 factors: 3,500 nodes, accepted
    assert count_nodes(symdl.formula_rule(shorter).derivative(), MAX_NODES) < MAX_NODES


def test_the_limit_is_read_when_checked(monkeypatch):
    monkeypatch.setattr(symdl.budget, "MAX_NODES", 10)
    assert count_nodes(parse("sin(z)*cos(z)*exp(z)*tanh(z)")) == 9
    with pytest.raises(ExpressionTooLarge, match=r"^the formula 'sin\(z\)\*cos\(z\)\*exp\(z\)\*tanh\(z\)\*sinh\(z\)' has more than 10"):
        parse("sin(z)*cos(z)*exp(z)*tanh(z)*sinh(z)")
    with pytest.raises(ExpressionTooLarge, match="^the derivative of 'sin"):
        symdl.formula_rule("sin(z)*cos(z)")  # 5 nodes; its derivative 11
    with pytest.raises(ExpressionTooLarge, match="^the derivative of 'gelu_tanh' by z"):
        symdl.rule("gelu_tanh").derivative()  # registered rules are checked too


def test_a_formula_layers_jacobian_is_refused():
    equation = "y[i] = " + "*".join(f"sin({k}*x[i])" for k in range(1, 70))
    with pytest.raises(ExpressionTooLarge, match=r"^the derivative of y by x\[i'\] has more than 20000 nodes"):
        symdl.formula_layer(equation, inputs={"x": "n"}).vjp("x")


def test_the_vjp_of_a_formula_layer_is_checked(monkeypatch):
    """The contracted VJP is checked as well as each partial (a VJP is usually the smaller: spied, not provoked)."""
    import symdl.formula_layers.derivation as derivation

    checked = []
    monkeypatch.setattr(derivation, "check_size", lambda expr, what: checked.append((what, count_nodes(expr))) or expr)
    layer = symdl.formula_layer("y[i] = sum(W[i, j] * tanh(x[j]), j)", inputs={"x": "in"}, params={"W": ("out", "in")})
    assert ("the VJP of y by W", count_nodes(layer.vjp("W"))) in checked


@pytest.mark.parametrize("command", ["derive", "codegen"])
def test_the_cli_says_so_on_one_line_exit_2_and_writes_nothing(command, tmp_path, capsys):
    argv = [command, EXPLODING] + (["-o", str(tmp_path / "f.py")] if command == "codegen" else [])
    code = main(argv)
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.startswith("symdl: error: the derivative of 'sin(1*z)") and captured.err.count("\n") == 1
    assert "has more than 20000 nodes (symdl.budget.MAX_NODES); simplify the formula or split it" in captured.err
    assert os.listdir(tmp_path) == []
