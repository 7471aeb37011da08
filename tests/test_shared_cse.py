"""cse_basic / factor_terms_shared give exactly what SymPy's cse(optimizations="basic") / factor_terms give."""

from __future__ import annotations

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.symbolic.shared_cse import cse_basic, factor_terms_shared

x, y = sp.symbols("x y", real=True)
n = sp.Symbol("n", integer=True, positive=True)
j = sp.Symbol("j", integer=True)
a = sp.IndexedBase("a")

LEAVES = st.sampled_from([x, y, sp.Integer(2), sp.Integer(-3), sp.Rational(1, 2), sp.Float(0.25)])


def _combine(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: p[0] + p[1]),
        pair.map(lambda p: p[0] - p[1]),
        pair.map(lambda p: p[0] * p[1]),
        pair.map(lambda p: sp.Min(p[0], p[1])),
        children.map(lambda c: -c),
        children.map(sp.exp),
        children.map(lambda c: sp.exp(-(c + 2))),
        children.map(sp.Abs),
        children.map(lambda c: c**2),
        children.map(lambda c: 1 / (1 + c**2)),
    )


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)


def same(expr: sp.Expr) -> None:
    assert sp.srepr(factor_terms_shared(expr)) == sp.srepr(sp.factor_terms(expr))
    assert cse_basic(expr, symbols=sp.numbered_symbols("_c")) == sp.cse(
        expr, symbols=sp.numbered_symbols("_c"), optimizations="basic"
    )


@settings(max_examples=25, deadline=None)
@given(EXPRESSIONS, EXPRESSIONS)
def test_random_expressions_with_a_shared_part(e, f):
    same(e * f + sp.exp(e) * (f - e) - 3 * e)


def test_what_the_kernel_printer_gives_cse_for_gelus_derivative(monkeypatch):
    from symdl import rule
    from symdl.codegen import kernel

    seen: list[sp.Expr] = []
    monkeypatch.setattr(kernel, "cse_basic", lambda expr, **kw: seen.append(expr) or cse_basic(expr, **kw))
    kernel._kernel_source.cache_clear()
    rule("gelu").numeric_derivative()
    (expr,) = seen
    assert sp.count_ops(expr) > 500  # the erf pieces, sharing min(|x|, cutoff) many times: the case this exists for
    assert sp.srepr(factor_terms_shared(expr)) == sp.srepr(sp.factor_terms(expr))


def test_sums_lists_and_signs():
    same(sp.log(sp.Sum(sp.exp(a[j] - x), (j, 0, n - 1))) - sp.Sum(2 * y * a[j] + 2 * y, (j, 0, n - 1)))
    same(-x - y + sp.exp(-(x + 2)) * (-2 * x - 2 * y))
    assert cse_basic([x + y, -(x + y) * sp.exp(x + y)]) == sp.cse([x + y, -(x + y) * sp.exp(x + y)], optimizations="basic")
