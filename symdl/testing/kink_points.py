"""The points of [low, high] a rule's variable keeps away from: its breakpoints, and its floors' and rounds' jumps.

A breakpoint p of f or f' is one of finitely many (an expression in the
other inputs). A floor, ceiling or round F(u) jumps wherever u crosses an
integer (round: a half-integer): with u = αx + β affine in the variable x,
at x = (n − β)/α, finitely many in a bounded range, listed; with u not
affine, or more than :data:`MAX_JUMPS` of them in the range, the jumps are
not listed and the range is refused. A kink that moves with their values
(|x − ⌊x⌋ − 1/2| at ⌊x⌋ + 1/2) is read in each interval between the jumps,
where every floor, ceiling and round is constant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from ..codegen.kernel import Kernel, compile_kernel
from ..rulebook.rule import Rule
from ..symbolic.jumps import breakpoints_between_jumps
from ..symbolic.proof import Undecidable, breakpoints
from ..symbolic.rounding import has_jumps, round

__all__ = ["MAX_JUMPS", "kink_points"]

#: At most this many jumps of the floors, ceilings and rounds of the variable are listed in a range (⌊x⌋ on
#: [−40, 40] has 81; ⌊10⁴x⌋ there 800 001, refused: narrow the range).
MAX_JUMPS = 10_000

#: (finite breakpoints) per call: the points in [low, high] at the others' values.
KinkPoints = Callable[[Sequence[float], float, float], set[float]]


def kink_points(rule: Rule, what: str) -> KinkPoints:
    """others, low, high ↦ the points of [low, high] where f or f' may switch branch or jump, at those values of the
    other inputs. ValueError (one line, prefixed by ``what``) where they cannot be listed."""
    x = rule.wrt
    exprs = [rule.bind(rule.expr), rule.bind(rule.derivative())]
    functions = rule.jumps.functions
    found: list[sp.Expr] = []
    try:
        for e in exprs:
            listed = breakpoints_between_jumps(e, x) if functions else breakpoints(e, x)
            found += [p for p in listed if p not in found]
    except Undecidable as why:
        raise ValueError(f"{what}: the kinks of {rule.name!r} are not known: {why}") from None
    fixed = [_kernel(rule, p, f"breakpoint_{i}") for i, p in enumerate(found)]
    affine = [_affine(rule, f, what) for f in functions]
    moving = [_kernel(rule, p, f"moving_kink_{i}") for i, p in enumerate(rule.jumps.moving_kinks)]

    def points(others: Sequence[float], low: float, high: float) -> set[float]:
        out = {float(k(0.0, *others)) for k in fixed}
        jumps = sorted({j for slope, offset, half in affine for j in _jumps(slope, offset, half, others, low, high, what)})
        if moving:
            edges = np.array([low, *jumps, high])
            middles = (edges[:-1] + edges[1:]) / 2
            for k in moving:  # in each interval the floors are constant: the kink there, if it falls inside
                at = np.broadcast_to(np.asarray(k(middles, *others), dtype=np.float64), middles.shape)
                out |= {float(p) for p, a, b in zip(at, edges[:-1], edges[1:]) if a <= p <= b}
        return {p for p in out | set(jumps) if low <= p <= high}

    return points


def _kernel(rule: Rule, expr: sp.Expr, name: str) -> Kernel:
    return compile_kernel(expr + 0 * rule.wrt, rule.inputs, name)


def _affine(rule: Rule, function: sp.Expr, what: str) -> tuple[Kernel, Kernel, bool]:
    """(α, β, round?) of F(αx + β), α and β kernels of the inputs; ValueError where the argument is not affine in x."""
    x, u = rule.wrt, function.args[0]
    slope = sp.diff(u, x)
    if has_jumps(u, x) or slope.has(x):
        raise ValueError(f"{what}: the jumps of {function} in {x} are not listed: its argument is not affine in {x}")
    return _kernel(rule, slope, "slope"), _kernel(rule, u.subs(x, 0), "offset"), isinstance(function, round)


def _jumps(slope: Kernel, offset: Kernel, half: bool, others: Sequence[float], low: float, high: float,
           what: str) -> list[float]:
    """x in [low, high] where αx + β is an integer (n + 1/2 for round), at the others' values."""
    a, b = float(slope(0.0, *others)), float(offset(0.0, *others)) - (0.5 if half else 0.0)
    if a == 0:
        return []  # constant in x: no jump
    lo, hi = sorted((a * low + b, a * high + b))
    first, last = math.ceil(lo), math.floor(hi)
    if last - first + 1 > MAX_JUMPS:
        raise ValueError(f"{what}: more than {MAX_JUMPS} jumps of a floor, ceiling or round in [{low!r}, {high!r}] "
                         "(its argument crosses that many integers); narrow the range")
    return [(n - b) / a for n in range(first, last + 1)]
