"""SymPy expressions as formulas: str(expr) round-trips through the text grammar, and formula_rule(expr) checks node by node."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdl
from symdl import FormulaError, formula_rule, parse
from symdl.budget import ExpressionTooLarge
from symdl.symbolic.from_sympy import from_sympy
from symdl.symbolic.functions import NAMED_FUNCTIONS
from symdl.testing.formula_strategies import formula_texts

z, y, d = sp.symbols("z y d", real=True)
Phi, sigmoid, softplus = (NAMED_FUNCTIONS[name] for name in ("Phi", "sigmoid", "softplus"))

COMMON = [
    sp.Max(0, z),
    sp.Min(z, 1),
    sp.Piecewise((z, z > 0), (0, True)),
    sp.Piecewise((z, z > 0), (z / 100, True)),
    sp.Heaviside(z),
    sp.Heaviside(z, 0),
    sp.erf(z),
    sp.erfc(-z / sp.sqrt(2)) / 2,
    sp.atan(z),
    z * Phi(z),
    sigmoid(z) * (1 - sigmoid(z)),
    softplus(z) - sp.log(2),
    sp.Piecewise((z**2 / 2, sp.Abs(z) <= 1), (sp.Abs(z) - sp.S.Half, True)),
    sp.Piecewise((z, (z > 0) & (z < 1)), (1, z >= 1), (0, True)),
    sp.Piecewise((1, (z < -1) | sp.Eq(z, 2)), (0, True)),
    sp.Piecewise((z, ~(z > 0)), (0, True)),
    sp.Piecewise((z, sp.Ne(z, 1)), (0, True)),
]


@pytest.mark.parametrize("expr", COMMON, ids=str)
def test_str_of_a_common_expression_parses_back_to_it(expr):
    assert parse(str(expr)) == expr


@pytest.mark.parametrize("expr", COMMON, ids=str)
def test_a_common_expression_is_accepted_node_by_node_as_it_is(expr):
    assert from_sympy(expr) == expr


# -- hypothesis: random trees of the accepted nodes --------------------------------------------------

_UNARY = (sp.exp, sp.tanh, sp.atan, sp.erf, sp.erfc, sp.Abs, sp.sin, sp.Heaviside, sigmoid, softplus, Phi)
_numbers = st.fractions(min_value=-5, max_value=5, max_denominator=8).map(sp.Rational)


def _extend(children):
    condition = st.builds(lambda a, b: a > b, children, children)
    return st.one_of(
        st.builds(lambda a, b: a + b, children, children),
        st.builds(lambda a, b: a * b, children, children),
        st.builds(lambda f, a: f(a), st.sampled_from(_UNARY), children),
        st.builds(sp.Max, children, children),
        st.builds(sp.Min, children, children),
        st.builds(lambda a, c, b: sp.Piecewise((a, c), (b, True)), children, condition, children),
    )


expressions = st.recursive(st.one_of(st.just(z), st.just(z), _numbers), _extend, max_leaves=5)


def _rebuilt(expr):
    return expr.func(*(_rebuilt(arg) for arg in expr.args)) if expr.args else expr


def _accepted(expr):
    """Drop draws outside the grammar (nan, oo, I) or left unevaluated by SymPy (Max(0, 1) inside a Min)."""
    if not isinstance(expr, sp.Expr) or expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.I):
        return False
    return _rebuilt(expr) == expr


@given(expressions.filter(_accepted))
def test_str_round_trips_and_node_by_node_gives_the_same_expression(expr):
    assert parse(str(expr)) == expr
    assert from_sympy(expr) == expr


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=3), st.floats(-4, 4))
def test_floats_become_the_decimals_they_print_as(coefficients, at):
    expr = sum((sp.Float(c) * sp.tanh(z) ** k for k, c in enumerate(coefficients, 1)), sp.S.Zero)
    exact = from_sympy(expr)
    assert not exact.atoms(sp.Float)
    for c in coefficients:
        assert sp.Rational(repr(c)) in exact.atoms(sp.Rational) | {sp.S.Zero, sp.S.One, -sp.S.One} or c == 0
    value, expected = float(exact.subs(z, at)), float(expr.subs(z, at))
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-9)


# -- symbols and params, as for text ----------------------------------------------------------------


def test_symbols_are_matched_by_name_whatever_their_assumptions():
    plain, positive = sp.Symbol("z"), sp.Symbol("z", positive=True)
    assert from_sympy(plain**2 + positive) == z**2 + z
    assert from_sympy(sp.Symbol("d") * plain, ["z"], {"d": 1.5}) == 3 * z / 2
    assert from_sympy(sp.Symbol("d") * plain, ["z"], ["d"]) == d * z


def test_formula_rule_of_an_expression_is_the_rule_of_its_text():
    huber = sp.Piecewise((sp.Symbol("e") ** 2 / 2, sp.Abs(sp.Symbol("e")) < sp.Symbol("d")),
                         (sp.Symbol("d") * (sp.Abs(sp.Symbol("e")) - sp.Symbol("d") / 2), True))
    from_expr = formula_rule(huber, wrt="e", params={"d": 1.5})
    from_text = formula_rule(str(huber), wrt="e", params={"d": 1.5})
    assert from_expr.expr == from_text.expr
    points = np.linspace(-4, 4, 33)
    np.testing.assert_array_equal(from_expr.numeric()(points), from_text.numeric()(points))
    np.testing.assert_array_equal(from_expr.numeric_derivative()(points), from_text.numeric_derivative()(points))


def test_heaviside_and_atan_rules_have_their_derivatives():
    step = formula_rule(sp.Symbol("z") * sp.Heaviside(sp.Symbol("z"), 0))
    np.testing.assert_array_equal(step.numeric_derivative()(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 1.0])
    angle = formula_rule("atan(z)")
    points = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(angle.numeric_derivative()(points), 1 / (1 + points**2), rtol=1e-15)


# -- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, expected",
    [
        (sp.Function("f")(z), "SymPy node 'f(z)' (f) is not accepted; accepted: Integer"),
        (sp.gamma(z), "'gamma(z)' (gamma) is not accepted"),
        (sp.Dummy("z") + 1, "(Dummy) is not accepted"),
        (sp.Piecewise((z, sp.Lt(z, 1) ^ sp.Gt(z, 0)), (0, True)), "(Xor) is not accepted"),
        (sp.EulerGamma * z, "(EulerGamma) is not accepted"),
        (sp.I * z, "(ImaginaryUnit) is not accepted"),
        (sp.zoo + z, "(ComplexInfinity) is not accepted"),
        (y * z, "unknown name 'y' at SymPy node 'y'; declared names: z"),
        (z**101, "exponents are limited to ±100"),
        (sp.exp(sp.Integer(10) ** 6) * z, "beyond the float range"),
        (sp.Piecewise((z, z > 0)), "the last piece's condition must be True"),
        (sp.Float("1e-400") * z, "below the float range"),
    ],
)
def test_a_refused_node_is_one_line_naming_it_and_what_is_accepted(expr, expected):
    with pytest.raises(FormulaError) as caught:
        from_sympy(expr)
    message = str(caught.value)
    assert expected in message and "\n" not in message and message.startswith("formula: ")


@pytest.mark.parametrize("value", [3, "z**2", [z], sp.Matrix([z]), None])
def test_a_value_that_is_not_a_sympy_expression_is_a_type_error(value):
    with pytest.raises(TypeError, match="expected a SymPy expression"):
        from_sympy(value)


def test_a_huge_shared_tree_is_refused_by_its_node_count_before_anything_is_built():
    expr = z
    for _ in range(40):  # 2**40 nodes as a tree, 80 as SymPy holds it
        expr = sp.sin(expr) + sp.cos(expr)
    with pytest.raises(FormulaError, match="more than 1000 nodes"):
        from_sympy(expr)


def test_deep_nesting_is_refused():
    expr = z
    for _ in range(150):
        expr = sp.sin(expr)
    with pytest.raises(FormulaError, match="nested deeper than 100"):
        from_sympy(expr)


def test_nothing_is_printed_and_parsed_or_evaluated(monkeypatch):
    """No text parser and no eval run; a hostile symbol name is just an unknown name."""

    def refuse(*args, **kwargs):
        raise AssertionError("called")

    monkeypatch.setattr(sp.parsing.sympy_parser, "parse_expr", refuse)
    monkeypatch.setattr(symdl.symbolic.from_sympy, "parse", refuse, raising=False)
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    for expr in COMMON:
        assert from_sympy(expr) == expr
    with pytest.raises(FormulaError, match="unknown name"):
        from_sympy(sp.Symbol("__import__('os').system('true')") + z)


# -- the text grammar's SymPy spellings: refusals --------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Piecewise((z, z > 0))", "the last piece's condition must be True"),
        ("Piecewise((z, True), (0, True))", "only the last piece may have the condition True"),
        ("Piecewise(z, z > 0)", "takes pieces (value, condition)"),
        ("Piecewise((True, z > 0), (0, True))", "is a condition where a value is expected"),
        ("z + True", "literal True"),
        ("Eq(z, 1)", "is a condition where a value is expected"),
        ("where((z > 0) & 1, z, 0)", "is a value where a condition is expected"),
        ("~z", "operator '~', which belongs in conditions"),
        ("((z > 0) & (z < 1)) + 1", "operator '&'"),
        ("Heaviside(z, z)", "value at 0 that is not a number"),
        ("Max(z)", "takes 2 to 6 arguments"),
        ("(z, 1)", "tuple"),
        ("where(z > 0, (z, 1), 0)", "tuple"),
    ],
)
def test_the_sympy_spellings_refuse_what_does_not_fit(text, expected):
    with pytest.raises(FormulaError) as caught:
        parse(text)
    assert expected in str(caught.value)


# -- everything the text parser builds comes back node by node -----------------------------------------


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(formula_texts(max_leaves=6))
def test_whatever_text_builds_is_accepted_node_by_node_as_it_is(text):
    try:
        expr = parse(text)
    except (FormulaError, ExpressionTooLarge):
        return
    assert from_sympy(expr) == expr


def test_a_rule_from_an_expression_is_shown_and_saved_as_text_that_parses_back():
    rule = formula_rule(sp.Float(0.1) * sp.Symbol("z") + sp.tanh(sp.Symbol("z")) * sp.Symbol("k"), params={"k": 2.0})
    assert parse(rule.summary, ["z"], ["k"]) == parse("z/10 + k*tanh(z)", ["z"], ["k"])
    again = formula_rule(rule.summary, params={"k": 2.0})
    assert again.expr == rule.expr
    points = np.linspace(-3, 3, 7)
    np.testing.assert_array_equal(again.numeric()(points), rule.numeric()(points))
