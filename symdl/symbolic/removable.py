"""Boundaries where a derivative is continuous but its expression takes another value at the point itself.

f(z) = log(1 + e^(−|z|)) + max(0, z) is softplus, C∞: f' → 1/2 from both sides
of 0. SymPy's f' is max'(z) − sign(z)·σ(−|z|), and at z = 0 max' takes the
branch z ≤ 0 (0) and sign(0) = 0, so the expression gives 0 there. The
derivative at such a point is the common limit.
"""

from __future__ import annotations

import sympy as sp

from .proof import Undecidable, breakpoints, one_sided_values
from .readable import readable

__all__ = ["removable_points"]


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

