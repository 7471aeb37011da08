r"""The normal form of index sums: Kronecker deltas contracted, every sum prenex with canonical indices.

An expression is in normal form (:func:`canonical`) when it is expanded into
monomials and each monomial is coefficient · Σ_{k_a, k_b, …} (product): one
sum in front, its limits sorted, a bound index over 0 … n_l − 1 named k_l.
It is sound because every rewrite is an identity of finite sums — linearity,
pulling out factors free of the index, counting constant terms, merging
products and nested sums over distinct, uncaptured indices with constant
bounds, and renaming a bound index when that captures nothing — so two
expressions with the same normal form are equal. Different forms prove
nothing either way.

Before that, :func:`contract_deltas` evaluates Σ_k δ_{kp} f_k = f_p
(``sympy.concrete.delta.deltasummation``), dropping the "index in range"
guard only under hypotheses the caller states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp
from sympy.concrete.delta import deltasummation

from ..network.index_form import unit_index, width

__all__ = ["canonical", "contract_deltas", "structurally_zero"]


# --- contraction and canonical form --------------------------------------------


def contract_deltas(expr: sp.Expr, in_range: Iterable[sp.Expr] = ()) -> sp.Expr:
    """Σ_k δ_{kp} f_k = f_p: each sum over a Kronecker delta in ``expr`` contracted (deltasummation), innermost first.

    deltasummation guards its result with "the index is in range"; that guard
    is dropped only when each of its relations is one of ``in_range`` (the
    hypotheses 0 ≤ p < n_l, …) — otherwise the Piecewise stays and nothing
    later can mistake it for the contracted value.
    """
    allowed = {sp.sympify(r).canonical for r in in_range}

    def walk(e: sp.Expr) -> sp.Expr:
        if e.is_Atom or isinstance(e, sp.Indexed):
            return e
        args = tuple(walk(arg) for arg in e.args)
        if args != e.args:
            e = e.func(*args)
        if not (isinstance(e, sp.Sum) and e.function.has(sp.KroneckerDelta)):
            return e
        body = e.function
        for limit in e.limits:  # innermost first
            body = deltasummation(sp.expand(body), limit) if body.has(sp.KroneckerDelta) else sp.Sum(body, limit)
            body = body.replace(lambda u: isinstance(u, sp.Piecewise), lambda u: _drop_range_guard(u, allowed))
        return body

    return walk(expr)


def _drop_range_guard(pw: sp.Piecewise, allowed: set[sp.Expr]) -> sp.Expr:
    (value, cond), *rest = pw.args
    if rest != [(sp.S.Zero, sp.true)]:
        return pw
    relations = cond.atoms(sp.core.relational.Relational)
    known = {r: sp.true for r in relations if r.canonical in allowed}
    if cond == sp.true or (relations and cond.xreplace(known) == sp.true):
        return value
    return pw


def canonical(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` expanded with every sum in prenex form: coefficient · Σ_{k_a, k_b, …} (product), recursively.

    Only identities of finite sums are used: Σ(f + g) = Σf + Σg; Σ c·f = c·Σf
    for c free of the index; Σ_k c = (number of terms)·c; (Σ_k f)(Σ_m g) =
    Σ_{k,m} f g when the indices are distinct and not captured; nested sums
    with constant bounds merge and commute (limits sorted); and a bound index
    over 0 … n_l − 1 is renamed to k_l (:func:`unit_index`) when that captures
    nothing. Two expressions with the same canonical form are therefore equal;
    different forms prove nothing either way.
    """
    if not expr.has(sp.Sum):
        return sp.expand(expr)
    if isinstance(expr, sp.Add):
        return sp.Add(*(canonical(arg) for arg in expr.args))
    if isinstance(expr, sp.Mul) or (isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0):
        factors = expr.args if isinstance(expr, sp.Mul) else [expr.base] * int(expr.exp)
        terms = [sp.S.One]
        for factor in factors:
            parts = sp.Add.make_args(canonical(factor))
            terms = [_product([t, u]) for t in terms for u in parts]
        return sp.Add(*terms)
    if isinstance(expr, sp.Sum):
        total = canonical(expr.function)
        for limit in expr.limits:  # innermost first
            total = sp.Add(*(_sum_term(term, limit) for term in sp.Add.make_args(total)))
        return total
    return expr.func(*(canonical(arg) for arg in expr.args))


def _canonical_index(dummy: sp.Symbol, low: sp.Expr, high: sp.Expr) -> sp.Symbol:
    """k_l for a sum over 0 … n_l − 1, else ``dummy`` unchanged."""
    size = high + 1
    if low == 0 and isinstance(size, sp.Symbol) and size.name[:2] == "n_" and size.name[2:].isdigit():
        layer = int(size.name[2:])
        if size == width(layer):
            return unit_index(layer)
    return dummy


def _sum_term(term: sp.Expr, limit: tuple) -> sp.Expr:
    """Σ over ``limit`` of one monomial ``term`` (whose sums are already prenex), in prenex form."""
    dummy, low, high = limit
    name = _canonical_index(dummy, low, high)
    if name != dummy and name not in term.free_symbols:
        term, dummy = term.xreplace({dummy: name}), name
    outer = [f for f in sp.Mul.make_args(term) if dummy not in f.free_symbols]
    inner = [f for f in sp.Mul.make_args(term) if dummy in f.free_symbols]
    if not inner:
        return sp.Add(*(_product([*outer, count]) for count in sp.Add.make_args(sp.expand(high - low + 1))))
    plain = sp.Mul(*(f for f in inner if not isinstance(f, sp.Sum)))
    sums = _product([f for f in inner if isinstance(f, sp.Sum)])
    # Σ_k c_k Σ_m f = Σ_{k,m} c_k f when m is not free in c_k and the bounds are constant.
    if (
        isinstance(sums, sp.Sum)
        and not set(sums.variables) & plain.free_symbols
        and dummy not in sums.variables
        and _constant_limits(sums.limits, [dummy])
    ):
        new = sp.Sum(plain * sums.function, *_sorted_limits([*sums.limits, (dummy, low, high)]))
    else:
        new = sp.Sum(plain * sums, (dummy, low, high))  # sums that could not merge stay nested
    return _product([*outer, new])


def _constant_limits(limits: Sequence[tuple], others: Sequence[sp.Symbol]) -> bool:
    bound = {lim[0] for lim in limits} | set(others)
    return all(not (set(lim[1].free_symbols) | set(lim[2].free_symbols)) & bound for lim in limits)


def _sorted_limits(limits: Sequence[tuple]) -> list[tuple]:
    return sorted((tuple(lim) for lim in limits), key=lambda lim: sp.default_sort_key(lim[0]))


def _product(factors: Sequence[sp.Expr]) -> sp.Expr:
    """The product of monomials whose sums are prenex, with sums over distinct constant ranges merged into one."""
    plain: list[sp.Expr] = []
    sums: list[sp.Sum] = []
    for factor in factors:
        for f in sp.Mul.make_args(factor):
            (sums if isinstance(f, sp.Sum) else plain).append(f)
    kept: list[sp.Expr] = []
    merged: sp.Sum | None = None
    for s in sums:
        if merged is None:
            merged = s
            continue
        mine, theirs = set(merged.variables), set(s.variables)
        free_clash = (mine & s.function.free_symbols) | (theirs & merged.function.free_symbols)
        if mine & theirs or free_clash or not _constant_limits([*merged.limits, *s.limits], []):
            kept.append(s)
            continue
        merged = sp.Sum(merged.function * s.function, *_sorted_limits([*merged.limits, *s.limits]))
    return sp.Mul(*plain, *kept, *([merged] if merged is not None else []))


def structurally_zero(difference: sp.Expr) -> bool:
    return canonical(difference) == 0

