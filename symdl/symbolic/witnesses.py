"""Witness points of the proof engine: where a claimed identity is shown false, and which points are candidates.

A counterexample is exact (rationals where one serves) and confirmed at 30 and at 50 digits; a candidate at an
excluded point (a kink, whose value is a convention) is never offered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp


def _nonzero_at(expr: sp.Expr, point: Mapping[sp.Expr, sp.Expr], digits: int = 30) -> bool:
    """True when ``expr`` at ``point`` is a finite number clearly not 0 (or not real), evaluated with ``digits`` digits.

    A value that is not real at a real point also disproves a real identity
    (log z² − 2 log z is 2πi at z = −1).
    """
    try:
        value = sp.N(expr.xreplace(point), digits)
    except (TypeError, ValueError, ZeroDivisionError, RecursionError):
        return False
    if not value.is_number or value.is_finite is False or value.has(sp.nan, sp.zoo):
        return False
    return bool(value.is_real is False or abs(value) > 1e-20)


def _witness_points(expr: sp.Expr, var: sp.Symbol | None = None) -> list[dict]:
    """Rational sample points for every free symbol (both signs tried), where a smooth non-identity shows; with
    ``var``, for it too (last, so the others keep their values) when ``expr`` does not contain it."""
    atoms = sorted(expr.free_symbols | expr.atoms(sp.Indexed), key=str)
    atoms = [a for a in atoms if not (isinstance(a, sp.Symbol) and any(a == i.base.label for i in expr.atoms(sp.Indexed)))]
    # A claim ≡ 0 "for every real var" is refuted at a value of var: sign(z)' = 1 differs from 0 by the constant 1,
    # which has no free symbol at all, and a point without z is no point (an empty one reads as none).
    atoms += [var] if var is not None and var not in atoms else []
    return [
        {
            a: sp.Rational(7 + 3 * t + trial, 13 + trial) * (1 if a.is_positive or (t + trial) % 2 else -1)
            for t, a in enumerate(atoms)
        }
        for trial in range(4)
    ]


def _numeric_witness(expr: sp.Expr) -> bool:
    """True when ``expr`` is clearly not 0 at a sample point: a counterexample, before any simplify."""
    return any(_nonzero_at(expr, point) for point in _witness_points(expr))


def _confirmed(expr: sp.Expr, candidates: Sequence[Mapping[sp.Expr, sp.Expr]]) -> dict | None:
    """The first candidate point where ``expr`` is nonzero at 30 and at 50 digits (nothing left free), else None."""
    for point in candidates:
        if expr.xreplace(point).free_symbols:  # not set(point) ⊇ free symbols: W[i] is given, its base W is not
            continue
        if _nonzero_at(expr, point) and _nonzero_at(expr, point, 50):
            return dict(point)
    return None


def _off(
    candidates: Sequence[Mapping[sp.Expr, sp.Expr]], var: sp.Symbol, exclude: Sequence[sp.Expr]
) -> list[Mapping[sp.Expr, sp.Expr]]:
    """The candidate points not at an excluded point (each read at the candidate's parameter values).

    There the claim is not made (a kink's value is a convention): hard_tanh's slope claimed wrong on (0, 2)
    cancels to a difference whose breakpoints are 0 and 2 alone, and the simplest rational inside is its kink 1.
    """
    def at_excluded(point: Mapping[sp.Expr, sp.Expr]) -> bool:
        gaps = [(e - var).xreplace(point) for e in exclude] if var in point else []
        # exact where exact: a candidate 10⁻³⁵ beside a kink (an interval that narrow) is not at it
        return any(g.is_number and (g.is_zero or (g.has(sp.Float) and abs(sp.N(g, 30)) < 1e-25)) for g in gaps)

    return [point for point in candidates if not at_excluded(point)]


def _rationals_inside(lo: sp.Expr | None, hi: sp.Expr | None, count: int = 4) -> list[sp.Rational]:
    """Up to ``count`` simplest nonzero rationals strictly between ``lo`` and ``hi`` (None: unbounded)."""
    if lo is None:
        if hi is None:
            return [sp.Rational(1, 3), sp.Rational(-5, 7), sp.Rational(8, 3), sp.Rational(-13, 4)]
        lo = hi - 4
    if hi is None:
        hi = lo + 4
    found: list[sp.Rational] = []
    for d in range(1, 1000):
        n = int(sp.floor(lo * d)) + 1
        while sp.Rational(n, d) < hi and len(found) < count:
            if n != 0 and sp.Rational(n, d) not in found:
                found.append(sp.Rational(n, d))
            n += 1
        if len(found) >= count:
            break
    return found
