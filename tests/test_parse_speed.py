"""The parser does no SymPy work that can blow up: every case here once took SymPy seconds to minutes.

These are guards against exponential work, not speed goals: each parse must
finish within ``GUARD_S`` of CPU time, 20× the goal, so a loaded machine
cannot fail them while a blow-up still does. The goal itself — a rejection in
milliseconds, a ≤ 200-character formula in ≤ 0.1 s — is measured by
``bench/bench_parse.py`` (docs/performance.md).
"""

from __future__ import annotations

import time

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings

from symdl.symbolic.formula_conditions import MAX_LIFTED
from symdl.symbolic.parse import FormulaError, parse
from symdl.testing.formula_strategies import formula_texts

z = sp.Symbol("z", real=True)


def nested(depth: int, start: int = 2) -> str:
    """The issue's shape: where(Abs(z) < where(Abs(z) < …, z, k), z, k + 1)."""
    text = "z"
    for k in range(depth):
        text = f"where(Abs(z) < {text}, z, {start + k})"
    return text


GUARD_S = 2.0


def seconds(text: str) -> float:
    """The fastest of three parses in CPU time (the CI machine is shared): the parser's own cost, rejections included."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        try:
            parse(text)
        except FormulaError:
            pass
        best = min(best, time.process_time() - start)
    return best


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    parse(nested(2))  # SymPy imports some of its logic modules on first use


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_nested_where_in_a_condition_is_accepted_fast_and_means_the_same(depth):
    text = nested(depth)
    assert seconds(text) <= GUARD_S, text
    expr = parse(text)
    for value in (-3.5, -1.0, 0.0, 0.5, 2.5, 7.0):  # the nesting evaluated by hand
        expected = value
        for k in range(depth):
            expected = value if abs(value) < expected else 2 + k
        assert float(expr.subs(z, value)) == expected, (text, value)


def test_a_too_deep_nesting_is_refused_in_milliseconds():
    text = nested(12)
    with pytest.raises(FormulaError, match=f"at most {MAX_LIFTED}"):
        parse(text)
    assert seconds(text) <= GUARD_S


def test_a_bad_constant_at_the_end_of_a_long_formula_is_refused_in_milliseconds():
    text = " + ".join(nested(3, 10 * k) for k in range(14)) + " + 1/0"
    assert 900 < len(text) < 2000
    with pytest.raises(FormulaError, match="1/0"):
        parse(text)
    assert seconds(text) <= GUARD_S


@pytest.mark.parametrize("text", [
    "(E if (z > exp(-1e300)) else 1) + (+(49611 ^ z))",
    "(cosh(exp(-1e300)) if ((1 - 1e300) >= cosh(exp(-1e300))) else exp(-1e300))",
    "min(z, (exp(-1e300) * 999999), 1.25)",
    "min(z, (exp(-1e300) * exp(-1e300)), 1.25)",
    "max(5 ** z, where(z < 1, z, 4503599627370496), 88.7)",
])
def test_constants_far_beyond_float_are_compared_without_evalf(text):
    assert seconds(text) <= GUARD_S


def test_constants_equal_to_20_digits_are_refused_not_proven():
    # SymPy spent minutes in Piecewise.eval proving 1 == (pi**pi)**erfc(370433) (found by bench/fuzz_cli.py)
    text = "(erfc(370433) if (not ((+(+1)) == ((pi ^ pi) ^ erfc(370433)))) else (-1))"
    with pytest.raises(FormulaError, match="equal to at least 20 digits"):
        parse(text)
    assert seconds(text) <= GUARD_S
    assert parse("where(sqrt(2)**2 == 2, z, 1)") == z  # identical once built: decided


def test_constant_comparisons_decide_as_sympy_does():
    assert parse("where(1 < 2, z, 3)") == z
    assert parse("where(exp(-1e300) > 0, z, 1)") == z
    assert parse("where(exp(-1e300) < 0, z, 1)") == 1
    assert parse("where(pi > 3.14159, z, 1)") == z
    assert parse("max(pi, 3.14159, z)") == sp.Max(sp.pi, z)
    assert parse("min(2, exp(-1e300), z)") == sp.Min(sp.exp(-sp.Integer(10) ** 300), z, evaluate=False)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(formula_texts(max_leaves=10))
def test_every_short_formula_is_parsed_or_refused_without_a_blowup(text):
    if len(text) <= 200:
        assert seconds(text) <= GUARD_S, text


def _pieces(condition: str, count: int) -> str:
    return "Piecewise(" + ", ".join(f"(z, {condition.format(j=j)})" for j in range(count)) + ", (0, True))"


@pytest.mark.parametrize("text", [
    _pieces("where(z > {j}, z, 1) > where(z < {j}, 2, z)", 2),  # lifted conditions, all pieces of equal value
    _pieces("(z > {j}) | (z < -{j})", 5),
    _pieces("((z > {j}) | (z < -{j})) & ((z > {j} + 1) | (z < -{j} - 1))", 2),
    _pieces("(sin(z) > {j}/9) | ~(cos(z) < -{j}/9) | Eq(tanh(z), {j}/10)", 3),
])
def test_a_piecewise_within_its_limits_is_built_fast(text):
    parse(text)
    assert seconds(text) <= GUARD_S, text


def test_a_piecewise_with_too_many_comparisons_is_refused_fast():
    # 4 such pieces (196 characters) took SymPy 0.8 s to merge, 7 of them minutes
    text = _pieces("where(z > {j}, z, 1) > where(z < {j}, 2, z)", 7)
    with pytest.raises(FormulaError, match="at most 10 are accepted"):
        parse(text)
    assert seconds(text) <= GUARD_S
