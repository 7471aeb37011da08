"""Numeric measurements of one rule's generated code: finite differences away from its breakpoints, and its kinks.

Shared by ``symdl verify`` (:mod:`symdl.verify.rules`) and the planted mistakes
(:mod:`symdl.verify.mutations`), which must fail these same measurements.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from ..codegen.kernel import compile_kernel
from ..rulebook.rule import Rule
from ..symbolic.jumps import breakpoints_between_jumps
from ..symbolic.stop_gradient import has_stop_gradient
from ..testing import central_difference, held_central_difference, sample_points
from ..testing.differences import jump_free

__all__ = ["FD_TOLERANCE", "REFERENCE_DIGITS", "check_kinks", "fd_error"]

#: Largest |fd − d| / max(1, |d|) accepted for float64 central differences.
FD_TOLERANCE = 1e-6

#: Digits of the first mpmath evaluation of a reference value; it is evaluated again with twice as many until two
#: agree to 20 digits (:func:`symdl.testing.mpmath_reference`), so the start sets the cost, not the accuracy: a
#: value that cancels k digits agrees at 30 and 60 digits only when 30 − k ≥ 20, and goes on to 120 otherwise.
REFERENCE_DIGITS = 30


def _away_from(points: list[Callable[..., np.ndarray]], values: list[np.ndarray], index: int) -> None:
    """Move ``values[index]`` at least 1e-3·max(1, |p|) away from each breakpoint p (in place)."""
    x = values[index]
    for point in points:
        p = np.broadcast_to(point(*values), x.shape)
        margin = 1e-3 * np.maximum(1.0, np.abs(p))
        close = np.abs(x - p) < margin
        x[close] = p[close] + np.where(x[close] >= p[close], margin[close], -margin[close])


def _breakpoint_functions(r: Rule, var: sp.Symbol) -> list[Callable[..., np.ndarray]]:
    exprs = [r.bind(r.expr), r.bind(r.derivative(var))]
    found: list[sp.Expr] = []
    for e in exprs:  # a floor's jumps are infinitely many: windows over them are left out by _fd_error instead
        found += [p for p in breakpoints_between_jumps(e, var) if p not in found]
    return [compile_kernel(p, r.inputs, f"breakpoint_{i}") for i, p in enumerate(found)]


def _points(r: Rule, var: sp.Symbol, points: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random inputs on [−40, 40] (or the declared ranges and labels), moved away from every breakpoint in ``var``."""
    d = r.definition
    values = sample_points(rng, r.inputs, points, d.input_ranges, d.label_values)
    index = r.inputs.index(var)
    edges = _breakpoint_functions(r, var)
    if edges:
        # Half the points go near a breakpoint, on either side: uniform points on [−40, 40] would
        # seldom land in hard_tanh's (−1, 1), and a wrong derivative there would go unseen.
        x = values[index]
        near = rng.random(points) < 0.5
        which = rng.integers(0, len(edges), size=points)
        for k, edge in enumerate(edges):
            rows = near & (which == k)
            at = np.broadcast_to(edge(*values), x.shape)[rows]
            x[rows] = at + rng.uniform(-1, 1, size=int(rows.sum())) * np.maximum(1.0, np.abs(at))
    _away_from(edges, values, index)
    return values


def _fd_error(
    r: Rule, var: sp.Symbol, forward: Callable[..., np.ndarray], derivative: Callable[..., np.ndarray], values: list
) -> float:
    """max |fd − d| / max(1, |d|) of the generated derivative against central differences of the forward code."""
    # Overflow and NaN are measured, not warned about: points where both sides are non-finite (exp(exp(z)) at
    # z = 40) belong to the stability check; a point where only one side is finite is a disagreement.
    with np.errstate(all="ignore"):
        if has_stop_gradient(r.expr):  # the derivative stops there: difference the function with sg(u) held
            fd = held_central_difference(r.numeric_forward_expr(), r.inputs, values, r.inputs.index(var))
        else:
            fd = central_difference(forward, values, r.inputs.index(var))
        exact = derivative(*values)
        error = np.abs(fd - exact) / np.maximum(1.0, np.abs(exact))
    both = np.isfinite(fd) & np.isfinite(exact)
    error = np.where(both, error, np.where(np.isfinite(fd) | np.isfinite(exact), np.inf, 0.0))
    # a window over a jump of floor, ceiling or round differences the jump, not the derivative: not measured there
    error = np.where(jump_free(r.numeric_forward_expr(), r.inputs, values, r.inputs.index(var)), error, 0.0)
    return float(np.max(error)) if error.size else 0.0


def fd_error(r: Rule, points: int = 200, seed: int = 0, forward: Callable[..., np.ndarray] | None = None) -> float:
    """The finite-difference error of ``r``'s generated derivative by its first input (see :func:`verify_rule`).

    ``forward``: ``r``'s compiled forward kernel when the caller has it (the mutants share their rule's forward code).
    """
    if forward is None:
        forward = compile_kernel(r.numeric_forward_expr(), r.inputs, r.kernel_name)
    values = _points(r, r.wrt, points, np.random.default_rng(seed))
    return _fd_error(r, r.wrt, forward, r.numeric_derivative(), values)


def check_kinks(r: Rule) -> bool:
    """Each kink's value is a subgradient, and the generated derivative returns it there.

    A kink that no float64 hits ((√5 − 1)/2) has no "there": the derivative is checked at the floats just beside
    it instead (:data:`_BESIDE` steps away), where it must return the one-sided derivative of that side.
    """
    if not r.kinks:
        return True  # nothing to check: the derivative is not compiled
    derivative = r.numeric_derivative()
    values = [np.float64(0.37) for _ in r.inputs[1:]]
    # the other inputs at exactly the floats the code is given, so the kink is where the code's is
    others = dict(zip(r.inputs[1:], [sp.Rational(float(v)) for v in values]))
    for kink in r.kinks:
        if not kink.is_subgradient({**r.param_subs, **others}):
            return False
        at = r.bind(kink.at).subs(others)
        near = float(sp.N(at, 30))
        if sp.Rational(near) == at:
            checked = [(near, kink.value)]
        else:
            below, above = (_beside(near, toward, _BESIDE) for toward in (-np.inf, np.inf))
            checked = [(below, kink.left), (above, kink.right)]
        for x, side in checked:
            returned = float(np.asarray(derivative(np.float64(x), *values)))
            expected = float(sp.N(r.bind(side).subs(others), 30))
            if abs(returned - expected) > 1e-12 * max(1.0, abs(expected)):
                return False
    return True


#: Floats between a kink that no float64 hits and the points where :func:`check_kinks` asks for a one-sided value:
#: a few units in the last place, beyond the rounding of the code's comparison, not far enough to change the slope.
_BESIDE = 4


def _beside(x: float, toward: float, steps: int) -> float:
    """The float ``steps`` floats from ``x`` toward ``toward``."""
    out = np.float64(x)
    for _ in range(steps):
        out = np.nextafter(out, toward)
    return float(out)
