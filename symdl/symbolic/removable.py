"""Boundaries where a derivative is continuous but its expression takes another value at the point itself.

f(z) = log(1 + e^(−|z|)) + max(0, z) is softplus, C∞: f' → 1/2 from both sides
of 0. SymPy's f' is max'(z) − sign(z)·σ(−|z|), and at z = 0 max' takes the
branch z ≤ 0 (0) and sign(0) = 0, so the expression gives 0 there. The
derivative at such a point is the common limit.
"""

from __future__ import annotations

import functools

import sympy as sp

from .branch_at import value_at
from .proof import (
    Undecidable,
    breakpoints,
    elementary,
    one_sided_values,
    resolve_branches,
)
from .readable import readable
from .regimes import _critical_values, _edges, _poles, _sample_values, probes_beside

__all__ = ["branch_limits", "branch_value", "kinks_of_limit", "limit_text", "moving_removable_points", "removable_points"]

_BRANCHING = (sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Min, sp.Max)


def removable_points(derivative: sp.Expr, var: sp.Symbol, kinks: tuple[sp.Expr, ...] = ()) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]:
    """(p, lim f'(p±), f'(p) as the expression gives it) at each boundary p, not a kink, where f'(p⁻) = f'(p⁺) ≠ f'(p).

    Only parameter-free points, where the comparison is exact; none when the boundaries cannot be found.
    """
    try:
        points = breakpoints(derivative, var)
    except Undecidable:
        return ()
    found = []
    for at in points:
        if at.free_symbols or any(sp.simplify(at - k) == 0 for k in kinks):
            continue
        try:
            left, right = one_sided_values(derivative, var, at)
        except (Undecidable, NotImplementedError):
            continue
        try:
            value = derivative.subs(var, at)
        except TypeError:  # a condition's side has a pole there (z/(z + 1) ≤ 27 at z = −1): no value to compare
            continue
        if not (left.is_finite and right.is_finite) or value.has(sp.Piecewise):
            continue
        if sp.simplify(right - left) != 0 or sp.simplify(value - left) == 0:
            continue
        found.append((at, readable(left), value))
    return tuple(found)



def moving_removable_points(derivative: sp.Expr, var: sp.Symbol, kinks: tuple[sp.Expr, ...] = ()
                            ) -> tuple[tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...], tuple[sp.Expr, ...]]:
    """(removable, undecided) among the points :func:`removable_points` leaves: boundaries that move with another
    symbol, and poles of the derivative's expression where a base polynomial in ``var`` vanishes (sin(z − a)/(z − a) at
    z = a) or one polynomial in exponentials e^{k·var} (z/(eᶻ − 1) at 0, found without SymPy's solveset, which may take
    minutes in a sum of exponentials and sigmoids), kinks excepted.

    removable: (p, lim f'(p±), f'(p) as the expression gives it) where both one-sided limits are the same number for
    every value of the other symbols and f'(p) is not shown to be it (nan at a pole); where a branch is left beside a
    point that moves with one other symbol, the limit case by case in it (:func:`regime_limit`). undecided: the points
    whose limits could not be found that way (a branch or another symbol left in f'(p ± t)).

    Once per process for each (derivative, var, kinks): check_derivative asks again for every claim on the same rule,
    and the limits cost SymPy seconds.
    """
    return _moving_removable_points(derivative, var, tuple(kinks))


@functools.lru_cache(maxsize=1024)
def _moving_removable_points(derivative: sp.Expr, var: sp.Symbol, kinks: tuple[sp.Expr, ...]
                             ) -> tuple[tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...], tuple[sp.Expr, ...]]:
    try:
        points = [p for p in breakpoints(derivative, var) if p.free_symbols]
        points += [p for p in _poles(elementary(derivative), var, polynomial=True) if p not in points]
    except Undecidable:
        return (), ()
    removable, undecided = [], []
    for at in points:
        if any(sp.simplify(at - k) == 0 for k in kinks):
            continue
        left, right = (_one_sided_limit(derivative, var, at, side) for side in (-1, 1))
        if (left is None or right is None) and not at.free_symbols and derivative.free_symbols <= {var}:
            left, right = branch_limits(derivative, var, at)  # a branch left at a fixed point: limit branch by branch
        if (left is None or right is None) and at.free_symbols:
            limit = regime_limit(derivative, var, at)  # a branch beside a moving point: regime by regime
            if limit is not None:
                value = _value_at(derivative, var, at)
                if not (value.is_finite and not value.has(*_BRANCHING) and sp.simplify(value - limit) == 0):
                    removable.append((at, limit, value))
                continue
        if left is None or right is None:
            undecided.append(at)
            continue
        if not (left.is_finite and right.is_finite) or sp.simplify(right - left) != 0:
            continue  # a jump or an infinite limit: no value to extend by
        value = _value_at(derivative, var, at)
        if value.is_finite and not value.has(*_BRANCHING) and sp.simplify(value - left) == 0:
            continue
        removable.append((at, readable(left), value))
    return tuple(removable), tuple(undecided)


def _value_at(derivative: sp.Expr, var: sp.Symbol, at: sp.Expr) -> sp.Expr:
    """f'(p) as the expression gives it (:func:`~symdl.symbolic.branch_at.value_at`: where SymPy cannot substitute, the
    branch that holds at p is picked first, as the printed code evaluates it, where p is a number and f' has no other
    symbol); nan where it is not found."""
    fixed = not at.free_symbols and derivative.free_symbols <= {var}
    try:
        return value_at(derivative, var, at) if fixed else derivative.subs(var, at)
    except (ValueError, TypeError):
        return sp.nan


def regime_limit(derivative: sp.Expr, var: sp.Symbol, at: sp.Expr) -> sp.Expr | None:
    """lim f'(p ± t), t → 0⁺, at a point p that moves with one other symbol s and has a branch beside it, as a
    Piecewise in s: sin(z − a)/(z − a) + relu(z) at z = a is 0 for a < 0, 1 for a > 0, and a kink at a = 0 (nan there:
    no value is claimed, :func:`kinks_of_limit`). None where it is not found so (undecided).

    s is cut at its critical values, where p meets another breakpoint or a condition on s alone switches (as a case
    analysis cuts a parameter): between two, the branch either side of p is the same for every s, read at one sample,
    and its limit (:func:`_one_sided_limit`) holds for every s there; at a critical value p is a fixed point and the
    limits are taken branch by branch (:func:`branch_limits`). Both sides must agree between critical values (else a
    kink moves with s: None) and be finite everywhere.
    """
    others = (derivative.free_symbols | at.free_symbols) - {var}
    if len(others) != 1:
        return None
    (s,) = others
    expr = elementary(derivative)
    try:
        points = [p for p in breakpoints(expr, var) if sp.simplify(p - at) != 0]
        edges = [e for e in _edges(expr) if not e.has(var)] + [at - p for p in points]
        values, samples = _critical_values(s, edges, _sample_values(None, expr, var))
    except (Undecidable, NotImplementedError, ValueError, TypeError):
        return None
    if len(samples) != len(values) + 1:  # a pole of an edge in s, or an end at a declared sign: not cut here
        return None
    pieces: list[tuple[sp.Expr, sp.Basic]] = []  # (limit, s < c), (limit, s = c), …, (limit, true), c increasing
    for k, sample in enumerate(samples):
        try:
            probes = probes_beside(at.subs(s, sample), [p.subs(s, sample) for p in points])
            sides = [_one_sided_limit(resolve_branches(expr, {s: sample, var: probe}), var, at, side)
                     for probe, side in zip(probes, (-1, 1))]
        except (Undecidable, ValueError, TypeError):
            return None
        left, right = sides
        if left is None or right is None or not (left.is_finite and right.is_finite) or sp.simplify(right - left) != 0:
            return None
        pieces.append((left, s < values[k] if k < len(values) else sp.true))
        if k < len(values):
            try:
                left, right = branch_limits(expr.subs(s, values[k]), var, at.subs(s, values[k]))
            except (Undecidable, NotImplementedError, ValueError, TypeError):
                return None
            if not (left.is_finite and right.is_finite):
                return None
            pieces.append((left if sp.simplify(right - left) == 0 else sp.nan, sp.Eq(s, values[k])))
    merged: list[tuple[sp.Expr, sp.Basic]] = []
    for value, cond in ((value if value is sp.nan else readable(value), cond) for value, cond in pieces):
        if merged and (merged[-1][0] is sp.nan) == (value is sp.nan) and sp.simplify(merged[-1][0] - value) == 0:
            # the same limit on both: one case (s < c then s = c is s ≤ c; a later s < d or true holds the earlier)
            cond = sp.Le(s, cond.rhs) if isinstance(cond, sp.Eq) else cond
            merged.pop()
        merged.append((value, cond))
    if len(merged) == 1:
        return merged[0][0]
    return sp.Piecewise(*merged)


def kinks_of_limit(limit: sp.Expr) -> list[sp.Expr]:
    """The values c of the other symbol s where a limit of :func:`regime_limit` is nan (Eq(s, c)): a kink there."""
    if not isinstance(limit, sp.Piecewise):
        return []
    return [cond.rhs if cond.lhs.is_Symbol else cond.lhs for value, cond in limit.args
            if value is sp.nan and isinstance(cond, sp.Eq)]


def limit_text(limit: sp.Expr) -> str:
    """A limit in words: 1/2, or one of :func:`regime_limit` case by case ('0 for a < 0, a kink at a = 0, 1 for a > 0')."""
    if not isinstance(limit, sp.Piecewise):
        return str(limit)
    cases, below = [], None  # below: the critical value under the next open case
    for value, cond in limit.args:
        if isinstance(cond, sp.Eq):
            cases.append(f"{'a kink' if value is sp.nan else value} at {cond.lhs} = {cond.rhs}")
            below = cond
            continue
        if isinstance(cond, sp.Le):  # the same limit below c and at c
            cases.append(f"{value} for {f'{below.rhs} < ' if below is not None else ''}{cond.lhs} ≤ {cond.rhs}")
            below = cond
            continue
        s = below.lhs if below is not None else cond.lhs if cond is not sp.true else None
        if s is None:
            cases.append(str(value))
        elif cond is sp.true and below is not None:
            cases.append(f"{value} for {s} > {below.rhs}")
        else:
            cases.append(f"{value} for {f'{below.rhs} < ' if below is not None else ''}{s} < {cond.rhs}")
    return ", ".join(cases)


def _one_sided_limit(derivative: sp.Expr, var: sp.Symbol, at: sp.Expr, side: int) -> sp.Expr | None:
    """lim f'(p + side·t), t → 0⁺, where f'(p + side·t) has no branch left and is a polynomial in the other symbols
    whose coefficients (in t alone) each have a limit: then it holds for every value of the others; ∞ where a
    coefficient has none; None where it cannot be found so. SymPy's limit with another symbol in it takes that symbol
    generic: t/(t + a) → 0 is wrong at a = 0."""
    t = sp.Dummy("t", positive=True)
    near = sp.simplify(elementary(derivative).subs(var, at + side * t))
    others = sorted(near.free_symbols - {t}, key=str)
    if near.has(*_BRANCHING) or others and not near.is_polynomial(*others):
        return None
    total = sp.Integer(0)
    try:
        for powers, coefficient in sp.Poly(sp.expand(near), *others).terms() if others else [((), near)]:
            limit = sp.limit(coefficient, t, 0, "+")
            if not limit.is_finite:
                return sp.oo if limit.is_infinite or limit.has(sp.oo, -sp.oo, sp.zoo) else None
            total += limit * sp.Mul(*(o**k for o, k in zip(others, powers)))
    except (NotImplementedError, ValueError, sp.PolynomialError):
        return None
    return total


def branch_limits(expr: sp.Expr, var: sp.Symbol, at: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(lim f(p − t), lim f(p + t)), t → 0⁺, branch by branch: f's branches beside p, then each one's limit where its
    value at p is not a number (sin(z)/z + max(0, z)' at 0: 0 + 0 from below, 0 + 1 from above, not nan).

    :func:`~symdl.symbolic.proof.one_sided_values` substitutes p into each branch; the limit is taken only where that
    gives no finite number and f has no symbol but ``var`` (SymPy's limit takes another symbol generic).
    """
    left, right = one_sided_values(expr, var, at)
    if left.is_finite and right.is_finite or at.free_symbols or not expr.free_symbols <= {var}:
        return left, right
    expr = elementary(expr)
    try:
        probes = probes_beside(at, breakpoints(expr, var))
    except Undecidable:
        return left, right
    sides = []
    for probe, direction, value in zip(probes, ("-", "+"), (left, right)):
        if value.is_finite:
            sides.append(value)
            continue
        try:
            sides.append(sp.limit(resolve_branches(expr, {var: probe}), var, at, direction))
        except (NotImplementedError, ValueError):
            sides.append(value)
    return sides[0], sides[1]


def branch_value(expr: sp.Expr, var: sp.Symbol, at: sp.Expr, value: sp.Expr) -> sp.Expr:
    """lim f_b(z), z → p, for the branch f_b of f that holds at p, where ``value`` (f_b(p)) is not a number:
    sin(z)/z + max(0, z)' at 0 is 0 + 0 (the branch z ≤ 0), not nan. ``value`` where it is one, or the branch has
    another symbol, or its limits from both sides differ."""
    if value.is_finite or at.free_symbols or not expr.free_symbols <= {var}:
        return value
    branch = resolve_branches(elementary(expr), {var: at})
    try:
        left, right = (sp.limit(branch, var, at, direction) for direction in ("-", "+"))
    except (NotImplementedError, ValueError):
        return value
    return left if left.is_finite and sp.simplify(right - left) == 0 else value
