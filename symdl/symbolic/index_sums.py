r"""The algebra of index sums: one Kronecker-delta contraction, one normal form, one zero test.

Every index-notation proof of symdl — BP1–BP4 (:mod:`symdl.backprop.index_proofs`),
the vector rules (:mod:`symdl.rulebook.vector_rules`), batch norm
(:mod:`symdl.layers.batchnorm_symbolic`) — and the derivation steps the reports
show use these three functions, so a step shown is a step proven.

* :func:`contract_deltas`: Σ_{k=a}^{b} δ_{kp} f(k) = f(p) when a ≤ p ≤ b, and 0
  when p is known to lie outside [a, b] (``sympy.concrete.delta.deltasummation``). The range hypotheses are stated:
  ``ranges`` maps an index to the interval it is known to lie in (the indices
  of enclosing sums are added automatically). Where p is not known to lie in
  the range the result keeps SymPy's guard, Piecewise((f(p), a ≤ p ≤ b), (0, True)).
* :func:`normal_form`: deltas contracted, then every sum split into monomials
  coefficient · Π Σ_t (product): Σ(f + g) = Σf + Σg; Σ c·f = c·Σf for c free
  of the index; Σ_{k=a}^{b} c = (b − a + 1)·c; the bound index renamed to
  t_h, h the nesting height of the sum (1 for a sum with no sum inside), which
  never captures: the sums inside bind t_1 … t_{h−1} only. Every rewrite is an
  identity of finite sums, so two expressions with the same normal form are
  equal; different forms prove nothing either way.
* :func:`is_zero_index_expr`: the normal form, each sum (and every other
  non-rational subterm) an independent symbol, then the zero rational function
  over ℚ(params) by exact sparse arithmetic. True proves ≡ 0; False means not
  shown. SymPy's ``simplify`` is never called on a sum.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import sympy as sp
from sympy.concrete.delta import deltasummation
from sympy.core.relational import (
    GreaterThan,
    LessThan,
    Relational,
    StrictGreaterThan,
    StrictLessThan,
)

__all__ = [
    "Ranges",
    "bound_index",
    "contract_deltas",
    "is_zero_index_expr",
    "normal_form",
    "rational_zero",
    "sum_symbols",
]

#: Range hypotheses: index ↦ (low, high), meaning low ≤ index ≤ high.
Ranges = Mapping[sp.Symbol, tuple[sp.Expr, sp.Expr]]


def _checked(ranges: Ranges | None) -> dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]:
    if ranges is None:
        return {}
    if not isinstance(ranges, Mapping):
        raise TypeError(f"ranges must map an index to its (low, high) range, got {type(ranges).__name__}")
    out = {}
    for index, bounds in ranges.items():
        if not isinstance(index, sp.Symbol) or not isinstance(bounds, tuple) or len(bounds) != 2:
            raise TypeError(f"ranges must map an index symbol to (low, high), got {index!r}: {bounds!r}")
        low, high = (sp.sympify(b, strict=True) for b in bounds)  # SymPy expressions or ints, never text
        out[index] = (low, high)
    return out


# --- the one contraction ---------------------------------------------------------------------


def contract_deltas(expr: sp.Expr, ranges: Ranges | None = None) -> sp.Expr:
    """Σ_{k=a}^{b} δ_{kp} f(k) = f(p) for every sum over a Kronecker delta in ``expr``, innermost first.

    The equation holds when a ≤ p ≤ b; deltasummation returns it guarded,
    Piecewise((f(p), a ≤ p ≤ b), (0, True)). The guard is dropped only when
    ``ranges`` (index ↦ (low, high)) and the sums around the delta imply it;
    otherwise it stays, and nothing later can mistake it for the contracted value.
    """
    return _contract(expr, _checked(ranges))


def _contract(e: sp.Basic, known: dict) -> sp.Basic:
    if e.is_Atom or isinstance(e, sp.Indexed):
        return e
    if isinstance(e, sp.Sum):
        limits = [tuple(lim) for lim in e.limits]  # innermost first
        body = _contract(e.function, {**known, **{v: (lo, hi) for v, lo, hi in limits}})
        if not body.has(sp.KroneckerDelta):
            return e if body == e.function else sp.Sum(body, *limits)
        for n, limit in enumerate(limits):
            # The indices of the sums around this one are in range inside it.
            around = {**known, **{v: (lo, hi) for v, lo, hi in limits[n + 1 :]}}
            if body.has(sp.KroneckerDelta):
                body = deltasummation(sp.expand(body), limit)
                body = body.replace(lambda u: isinstance(u, sp.Piecewise), lambda u: _drop_guard(u, around))
            else:
                body = sp.Sum(body, limit)
        return body
    args = tuple(_contract(arg, known) for arg in e.args)
    return e.func(*args) if args != e.args else e


def _drop_guard(pw: sp.Piecewise, known: dict) -> sp.Expr:
    """The first branch of ``pw`` when its condition follows from the range hypotheses, the rest of ``pw`` when its
    condition's negation does (the delta's index outside the sum's range: 0), else ``pw``."""
    value, cond = pw.args[0]
    relations = cond.atoms(Relational) if cond != sp.true else set()
    held = {r: sp.true for r in relations if _holds(r, known)}
    if cond.xreplace(held) == sp.true:
        return value
    broken = {r: sp.false for r in relations if _holds(r.negated, known)}
    if len(pw.args) > 1 and cond.xreplace(broken) == sp.false:
        return sp.Piecewise(*pw.args[1:])
    return pw


def _holds(relation: Relational, known: dict) -> bool:
    """Whether ``relation`` (linear in ranged indices) holds for every index value in its known range."""
    if isinstance(relation, (GreaterThan, StrictGreaterThan)):
        gap = relation.lhs - relation.rhs
    elif isinstance(relation, (LessThan, StrictLessThan)):
        gap = relation.rhs - relation.lhs
    else:
        return False
    gap = sp.expand(gap)
    for index in sorted(gap.free_symbols & set(known), key=sp.default_sort_key):
        slope = sp.diff(gap, index)
        if not slope.is_number or slope == 0:
            return False
        low, high = known[index]
        gap = sp.expand(gap.xreplace({index: low if slope > 0 else high}))  # the worst case over the range
    strict = isinstance(relation, (StrictGreaterThan, StrictLessThan))
    return bool(gap.is_positive if strict else gap.is_nonnegative)


# --- the one normal form -----------------------------------------------------------------------


def bound_index(height: int) -> sp.Symbol:
    """t_h: the name :func:`normal_form` gives the index of a sum of nesting height h (1: no sum inside)."""
    return sp.Symbol(f"t_{height}", integer=True)


def normal_form(expr: sp.Expr, ranges: Ranges | None = None) -> sp.Expr:
    """``expr`` with deltas contracted (:func:`contract_deltas`), expanded into coefficient · Π Σ_{t…} (product).

    Rewrites, each an identity of finite sums: Σ(f + g) = Σf + Σg; Σ c·f =
    c·Σf for c free of the index; Σ_{k=a}^{b} c = (b − a + 1)·c; Σ_k f_k Σ_m
    g_{km} = Σ_{k,m} f_k g_{km} when m's bounds are free of k (sums with
    constant bounds merge and commute); renaming bound indices. A merged sum
    keeps only factors that depend on its indices, so it is one connected
    block; its indices are named t_{h+1}, t_{h+2}, … (h the nesting height of
    the sums inside it, whose indices are t_1 … t_h: no capture), in the
    order that gives the least expression, and listed sorted.
    """
    return _normal(contract_deltas(expr, ranges))


def _normal(expr: sp.Expr) -> sp.Expr:
    if not expr.has(sp.Sum):
        return sp.expand(expr)
    if isinstance(expr, sp.Sum):
        body = _normal(expr.function)
        for limit in expr.limits:  # innermost first
            body = sp.Add(*(_sum_monomial(term, tuple(limit)) for term in sp.Add.make_args(sp.expand(body))))
        return body
    return sp.expand(expr.func(*(_normal(arg) for arg in expr.args)))


def _height(expr: sp.Basic) -> int:
    """The deepest nesting of summation indices in ``expr`` (0 without sums)."""
    if isinstance(expr, sp.Sum):
        return len(expr.limits) + _height(expr.function)
    return max((_height(arg) for arg in expr.args), default=0)


def _apart(s: sp.Sum) -> sp.Sum:
    """``s`` with its indices renamed to fresh dummies (so that sums can merge without capture)."""
    return s.xreplace({v: sp.Dummy(v.name, integer=True) for v in s.variables})


def _sum_monomial(term: sp.Expr, limit: tuple) -> sp.Expr:
    """Σ over ``limit`` of one monomial ``term`` (whose sums are already in normal form), in normal form."""
    index, low, high = limit
    outside, plain, limits = [], [], []
    fresh = sp.Dummy(index.name, integer=True)
    for f in sp.Mul.make_args(term):
        if index not in f.free_symbols:
            outside.append(f)
            continue
        base, power = f.as_base_exp()
        copies = [base] * int(power) if isinstance(base, sp.Sum) and power.is_Integer and power > 0 else [f]
        for g in copies:
            if isinstance(g, sp.Sum) and _constant_bounds(g, index):
                g = _apart(g)  # constant bounds: merge Σ_k f_k Σ_m g_km = Σ_{k,m} f_k g_km
                plain.append(g.function)
                limits += [tuple(lim) for lim in g.limits]
            else:
                plain.append(g)
    if not plain:
        return sp.expand(sp.Mul(*outside) * (high - low + 1))
    body = sp.Mul(*plain).xreplace({index: fresh})
    return sp.Mul(*outside) * _canonical_sum(body, [(fresh, low, high), *limits])


def _constant_bounds(s: sp.Sum, index: sp.Symbol) -> bool:
    """Whether no bound of ``s`` depends on ``index`` or on an index of ``s`` itself."""
    limits = [sp.sympify(b, strict=True) for _, low, high in s.limits for b in (low, high)]  # SymPy already, not text
    bounds = set().union(*(b.free_symbols for b in limits))
    return not bounds & {index, *s.variables}


def _canonical_sum(body: sp.Expr, limits: list[tuple]) -> sp.Sum:
    """Σ over ``limits`` (bounds free of their indices) of ``body``, indices renamed t_{h+1}, … to the least form."""
    height = _height(body)
    names = [bound_index(height + n + 1) for n in range(len(limits))]
    variables = [lim[0] for lim in limits]
    if set(names) & (body.free_symbols - set(variables)):
        raise ValueError(f"renaming the indices of a sum to {names} in {body} would capture")
    orders = itertools.permutations(names) if len(names) <= _MAX_PERMUTED else [names]
    best, best_key = None, None
    for order in orders:
        rename = dict(zip(variables, order))
        renamed = [(rename[v], lo, hi) for v, lo, hi in limits]
        candidate = sp.Sum(body.xreplace(rename), *sorted(renamed, key=lambda lim: sp.default_sort_key(lim[0])))
        key = sp.default_sort_key(candidate)
        if best_key is None or key < best_key:
            best, best_key = candidate, key
    return best


_MAX_PERMUTED = 5  # beyond 5! orders the indices keep the order found: still sound, maybe not canonical


# --- the one zero test ------------------------------------------------------------------------


def sum_symbols(expr: sp.Expr) -> dict[sp.Sum, sp.Symbol]:
    """Each sum in ``expr`` ↦ its own real symbol S0, S1, … (sorted, so the same on every run)."""
    return {s: sp.Dummy(f"S{n}", real=True) for n, s in enumerate(sorted(expr.atoms(sp.Sum), key=sp.default_sort_key))}


def _to_field(expr: sp.Expr, field: Any, table: dict, params: frozenset) -> Any:
    """``expr`` in ``field`` by walking +, ·, integer powers; every other subterm a generator of ``table``."""
    if expr in table:
        return table[expr]
    if expr.free_symbols <= params and not expr.atoms(sp.Indexed):
        return field(field.domain.from_sympy(expr))
    if isinstance(expr, sp.Add):
        return sum((_to_field(arg, field, table, params) for arg in expr.args), field.zero)
    if isinstance(expr, sp.Mul):
        out = field.one
        for arg in expr.args:
            out *= _to_field(arg, field, table, params)
        return out
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        return _to_field(expr.base, field, table, params) ** int(expr.exp)
    raise KeyError(expr)


def _generators(expr: sp.Expr, params: frozenset, domain: Any, found: list) -> None:
    if expr.free_symbols <= params and not expr.atoms(sp.Indexed):
        try:
            domain.from_sympy(expr)
            return
        except sp.polys.polyerrors.CoercionFailed:  # √2, π, …: a generator like any other
            pass
    if isinstance(expr, (sp.Add, sp.Mul)):
        for arg in expr.args:
            _generators(arg, params, domain, found)
    elif isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        _generators(expr.base, params, domain, found)
    elif expr not in found:
        found.append(expr)


def rational_zero(expr: sp.Expr, params: Sequence[sp.Symbol] = ()) -> bool:
    """Whether ``expr`` is the zero rational function of its non-rational subterms over ℚ(params).

    Symbols, array elements, function applications and other subterms that
    are not +, · or integer powers are independent generators: if the result
    is 0 for all their values it is 0 for the actual ones. Exact: sparse
    rational-function arithmetic. True proves ``expr`` ≡ 0; False means not shown.
    """
    frozen = frozenset(params)
    domain = sp.QQ.frac_field(*params) if params else sp.QQ
    found: list[sp.Expr] = []
    _generators(expr, frozen, domain, found)
    names = [sp.Dummy(f"g{n}") for n in range(len(found))] or [sp.Dummy("g")]
    # The polynomial ring first (no gcd after every step): without negative powers of generators the ring's
    # answer is the field's, since the ring embeds in it. A negative power (ValueError there): the field.
    ring, *ring_gens = sp.ring(names, domain)
    try:
        return _to_field(expr, ring, dict(zip(found, ring_gens)), frozen) == ring.zero
    except (ValueError, ZeroDivisionError):
        pass
    except (KeyError, sp.polys.polyerrors.CoercionFailed):
        return False  # the same subterm fails in the field
    field, *gens = sp.field(names, domain)
    try:
        return _to_field(expr, field, dict(zip(found, gens)), frozen) == field.zero
    except (KeyError, ZeroDivisionError, sp.polys.polyerrors.CoercionFailed):
        return False


def is_zero_index_expr(expr: sp.Expr, ranges: Ranges | None = None, params: Sequence[sp.Symbol] = ()) -> bool:
    """``expr`` ≡ 0: its :func:`normal_form` is 0, or is the zero rational function with each sum a symbol.

    ``ranges`` are the hypotheses of the delta contraction, ``params`` the
    symbols allowed in coefficients (a symbolic batch size m). True proves the
    identity under those hypotheses; False means not shown.
    """
    normal = normal_form(expr, ranges)
    if normal == 0:
        return True
    return rational_zero(normal.xreplace(sum_symbols(normal)), params)
