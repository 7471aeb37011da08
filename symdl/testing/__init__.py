"""Numeric checks of generated code: finite differences, a 50-digit mpmath reference, stability.

The numpy.testing pattern: plain functions returning numbers, usable from any
test runner.

>>> import numpy as np
>>> d = central_difference(np.sin, [np.array([0.5])])
>>> bool(abs(d[0] - np.cos(0.5)) < 1e-9)
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import cast

import mpmath
import numpy as np
import sympy as sp

from ..symbolic.functions import NamedFunction
from ..symbolic.proof import elementary
from ..symbolic.rounding import in_floors
from ..symbolic.shared_replace import replace_shared
from .differences import central_difference, fd_step, held_central_difference
from .gradcheck import (
    TOLERANCES,
    GradCheckReport,
    Tolerance,
    assert_grad_close,
    check_grad,
)
from .network_check import (
    assert_network_grad_close,
    check_network_grad,
    flatten_params,
    unflatten_params,
)
from .subgradient import assert_subgradient, one_sided_differences

__all__ = [
    "TOLERANCES",
    "GradCheckReport",
    "Tolerance",
    "assert_grad_close",
    "assert_subgradient",
    "check_grad",
    "check_network_grad",
    "flatten_params",
    "unflatten_params",
    "assert_network_grad_close",
    "one_sided_differences",
    "ACCURACY_RTOL",
    "STABILITY_LIMIT",
    "central_difference",
    "held_central_difference",
    "fd_step",
    "mpmath_reference",
    "INPUT_ULPS",
    "input_sensitivity",
    "relative_error",
    "stability_grid",
    "unstable_points",
]

#: Largest relative error allowed against the 50-digit reference on [−40, 40].
ACCURACY_RTOL: dict[np.dtype, float] = {np.dtype(np.float64): 1e-13, np.dtype(np.float32): 1e-5}
#: Generated code must stay finite and warning-free for inputs of this magnitude.
STABILITY_LIMIT = 1000.0


#: The most digits :func:`mpmath_reference` works with.
_MAX_DPS = 800


def mpmath_reference(
    expr: sp.Expr,
    symbols: Sequence[sp.Symbol],
    values: Sequence[np.ndarray],
    dps: int = 50,
    where: np.ndarray | None = None,
    *,
    magnitudes: bool = False,
) -> np.ndarray:
    """``expr`` evaluated at each point with at least ``dps`` digits (mpmath), rounded to float64.

    The inputs are taken as the exact binary values they hold. Each value is
    evaluated again with twice the digits until two evaluations agree to 20
    digits (up to 800 digits), so cancellation such as (1 + x) − 1 at
    x = 1e-60 does not turn into 0; a value that is 0 is evaluated again up
    to 800 digits (and a value found there confirmed at 1600), so
    log(1 + e⁻⁵⁰⁰) is 7.1e-218 and not the 0 that every precision below 218
    digits gives. A 0 at 800 digits is a zero only where the expression's
    terms are small enough for what 800 digits miss of them to underflow
    float64 (x − y at x = y, sin(0), max(x, 0)·eˣ at x < 0): their scale S
    (Σ of the terms' scales, × of the factors', max(1, |f|)·max(1, S(u)) for
    a function f(u), a piecewise branch's plus its conditions' sides: a
    first-order estimate, see :func:`_scale`) times 10⁻⁷⁹⁰ is below 2⁻¹⁰⁷⁵. Otherwise the 0 may be
    cancellation (eˣ·log(1 + e⁻ˣ) is 0 up to 800 digits at x = 2000, and
    ≈ 1), and the point is evaluated at 1600 digits: a 0 there is taken by
    the same test with 10⁻¹⁵⁹⁰, a value when S·10⁻¹⁵⁹⁰ is within 10⁻²⁰ of
    it; else the point is refused (an ArithmeticError naming it). A product with a factor that is exactly 0
    at the point (max(0, x) at x = −40, beside e^(e⁻ˣ)) and other factors finite is 0 (:func:`_exact_zero_product`).
    Points outside ``where`` (a boolean mask, default all) are not evaluated and are NaN; so is a point where the
    expression is not real (log of a negative number). Named functions are evaluated in their
    :meth:`~symdl.symbolic.functions.NamedFunction.reference` form.

    ``magnitudes=True`` is for sums of magnitudes Σₖ|tₖ|, such as an error
    bound wanted to a few digits: non-negative terms cannot cancel, so at
    ``dps`` digits the sum is as accurate as its least accurate term, and the
    first non-zero value at ``dps`` digits is returned without the
    convergence loop (one evaluation per point; a zero is still confirmed up
    to 800 digits as above). A term that cancels inside itself, such as
    log(1 + x) at tiny x, keeps only the digits ``dps`` leaves it: the
    option is not for such a term where it dominates the sum.
    """
    func = _mpmath_function(expr, tuple(symbols), cse=magnitudes)
    scale = functools.partial(_scale_function, expr, tuple(symbols))
    exact_zero = functools.partial(_exact_zero_product, _elementary(expr), tuple(symbols))
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in values])
    out = np.full(arrays[0].shape, np.nan, dtype=np.float64)
    mask = np.ones(out.shape, dtype=bool) if where is None else np.broadcast_to(np.asarray(where, dtype=bool), out.shape)
    indices = [index for index in np.ndindex(out.shape) if mask[index]]
    points = [[float(arr[index]) for arr in arrays] for index in indices]
    converged = _converged(points, func, dps, once=magnitudes, scale=scale, exact_zero=exact_zero)
    for index, value in zip(indices, converged):
        out[index] = value
    return out


@functools.lru_cache(maxsize=256)
def _mpmath_function(expr: sp.Expr, symbols: tuple[sp.Symbol, ...], cse: bool = False) -> Callable[..., object]:
    """``expr`` lambdified for mpmath, named functions in their reference form: once per distinct expression.

    SymPy expressions hash by structure, so a reference evaluated again at other
    points (float32 after float64) reuses the function. ``cse``: common
    subexpressions computed once per point, for an expanded sum of magnitudes
    whose terms share their factors (an error bound: rbf's evaluate 3× faster).
    """
    return sp.lambdify(list(symbols), _elementary(expr), modules="mpmath", cse=cse)


def _elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every named function in its reference form, written with elementary functions."""
    exact = replace_shared(expr, lambda e: isinstance(e, NamedFunction), lambda e: type(e).reference(*e.args))
    return elementary(in_floors(exact))  # mpmath has no round half to even


@functools.lru_cache(maxsize=256)
def _scale_function(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]) -> Callable[..., object]:
    """The scale S ≥ |expr| of :func:`mpmath_reference` lambdified for mpmath: built once, where a value is 0."""
    return sp.lambdify(list(symbols), _scale(_elementary(expr), {}), modules="mpmath", cse=True)


def _scale(e: sp.Expr, done: dict[sp.Expr, sp.Expr]) -> sp.Expr:
    """S(a + b) = S(a) + S(b), S(a·b) = S(a)·S(b), S(f(u)) = max(1, |f(u)|)·max(1, S(u)), S(x) = |x|.

    What an evaluation with relative precision ε can miss of ``e`` is about ε·S(e): the error of a sum is at most
    the sum of its terms' errors, a factor's error is multiplied by the other factors, and a function's value
    carries its argument's error (e^u: e^u·|u|·ε) or, at least, an error of ε (log(1 + e⁻²⁰⁰⁰) is 0 at 800 digits).
    A piecewise expression takes its branch's scale plus those of the sides of its conditions; max and min the
    largest of their arguments'.
    """
    if e in done:
        return done[e]
    args = [a for a in e.args if isinstance(a, sp.Expr)]
    if e.is_Atom:
        scale: sp.Expr = sp.Abs(e)
    elif e.is_Add:
        scale = sp.Add(*(_scale(a, done) for a in args), evaluate=False)
    elif e.is_Mul:
        scale = sp.Mul(*(_scale(a, done) for a in args), evaluate=False)
    elif isinstance(e, sp.Piecewise):
        # A condition decided by a 0 that is cancellation (log(1 + e⁻²⁰⁰⁰) ≤ y at y = 0) may take the wrong branch:
        # the sides of every comparison count, as the two arguments of max and min do.
        sides = [_scale(side, done) for c in {c for _, c in e.args} for r in c.atoms(sp.core.relational.Relational)
                 for side in (r.lhs, r.rhs) if isinstance(side, sp.Expr)]
        scale = sp.Add(sp.Piecewise(*((_scale(v, done), c) for v, c in e.args), evaluate=False), *sides,
                       evaluate=False)
    elif isinstance(e, sp.Max | sp.Min):
        scale = sp.Max(*(_scale(a, done) for a in args), evaluate=False)
    else:
        scale = sp.Mul(sp.Max(1, sp.Abs(e), evaluate=False),
                       *(sp.Max(1, _scale(a, done), evaluate=False) for a in args), evaluate=False)
    done[e] = scale
    return scale


def _exact_zero_product(expr: sp.Expr, symbols: tuple[sp.Symbol, ...], point: list[float]) -> bool:
    """a·b·… = 0 at ``point``: a factor is exactly 0 there in SymPy's exact arithmetic on the inputs' binary values
    (max(0, z) at z = −40) and every other factor is finite (e^(e⁴⁰) is; 1/(z + 40) is not). Exact only without
    float constants (their arithmetic rounds) and where every comparison in the factor is of rationals: SymPy
    decides log(1 + e⁻¹⁸⁵⁰) ≤ 0 by a few digits, and a factor that is 0 only at 800 digits is no exact 0."""
    at = {s: sp.Rational(v) for s, v in zip(symbols, point)}  # a float's Rational is its exact binary value
    factors = sp.Mul.make_args(expr)
    values = [f.xreplace(at) for f in factors]
    if not any(v is sp.S.Zero and _compares_rationals(f, at) for f, v in zip(factors, values)):
        return False
    return all(v.is_finite is True for v in values)


def _compares_rationals(factor: sp.Expr, at: Mapping[sp.Symbol, sp.Expr]) -> bool:
    """No float constant in ``factor``, and every side of its comparisons and argument of its max, min, |·|, sign
    and step is a rational at ``at``: each branch it takes is decided exactly."""
    if factor.has(sp.Float):
        return False
    sides = [side for rel in factor.atoms(sp.core.relational.Relational) for side in (rel.lhs, rel.rhs)]
    sides += [a for f in factor.atoms(sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside) for a in f.args]
    return all(sp.S(side).xreplace(at).is_Rational for side in sides)


def _converged(
    points: list[list[float]],
    func: Callable[..., object],
    dps: int,
    once: bool = False,
    scale: Callable[[], Callable[..., object]] | None = None,
    exact_zero: Callable[[list[float]], bool] | None = None,
) -> list[float]:
    """``func`` at each point, evaluated with twice the digits until two evaluations agree (see :func:`mpmath_reference`).

    Every point goes through the same precisions (``dps``, 2·``dps``, … up to :data:`_MAX_DPS`, then twice that),
    so the points still open are evaluated together at each one, in one mpmath context. ``scale`` gives the
    scale function S of :func:`_scale`, asked for only where a value is 0 at :data:`_MAX_DPS` digits (without
    it, such a 0 is taken as it is). ``exact_zero`` says where a 0 is exact though its scale is large (a product
    with a factor that is exactly 0: :func:`_exact_zero_product`).
    """
    with mpmath.workprec(53):  # a float has 53 bits: exact whatever precision the caller's mpmath is at
        args = [[mpmath.mpf(p) for p in point] for point in points]
    results: list[float | None] = [None] * len(points)
    previous: dict[int, mpmath.mpf] = {}
    suspect: dict[int, mpmath.mpf] = {}  # point → S where its 0 at _MAX_DPS digits may be cancellation
    failed: tuple[int, str] | None = None  # (point, message) of the first point that fails, the one reported
    open_ = list(range(len(points)))
    while open_:
        still = []
        with mpmath.workdps(dps):
            tolerance = mpmath.mpf(10) ** -20
            missed = mpmath.mpf(10) ** (10 - dps)  # what dps digits may miss, relative to S (10 digits of slack)
            for i in open_:
                result = func(*args[i])
                if isinstance(result, mpmath.mpc):
                    if result.imag != 0:
                        results[i] = float("nan")  # not real here (log or sqrt of a negative number)
                        continue
                    result = result.real
                value = mpmath.mpf(result)
                before = previous.get(i)
                if i in suspect:  # 0 at _MAX_DPS digits, where its terms are too large to tell a zero
                    error = suspect[i] * missed
                    if value == 0 and error < _UNDERFLOW or value != 0 and error <= abs(value) * tolerance:
                        results[i] = float(value)
                    elif failed is None or i < failed[0]:
                        failed = (i, f"no trustworthy value at {points[i]}: 0 at {_MAX_DPS} digits and"
                                     f" {mpmath.nstr(value, 3)} at {dps}, where its terms reach"
                                     f" {mpmath.nstr(suspect[i], 3)} (cancellation, not a zero)")
                    continue
                # An exact 0 at two precisions proves nothing: 1 + e⁻⁵⁰⁰ rounds to 1 below 218 digits, so
                # log(1 + e⁻⁵⁰⁰) is 0 at 50 and at 100 digits although it is 7.1e-218. A zero is trusted
                # only when it is still zero at the highest precision, and what that precision misses of the
                # expression's terms underflows float64: eˣ·log(1 + e⁻ˣ) is 0 at 800 digits at x = 2000.
                if value == 0:
                    if dps >= _MAX_DPS and before == 0:
                        size = _scale_at(scale, args[i])
                        if size * missed < _UNDERFLOW or exact_zero is not None and exact_zero(points[i]):
                            results[i] = 0.0
                            continue
                        suspect[i] = size
                        still.append(i)
                        continue
                elif once or before is not None and (value == before or abs(value - before) <= abs(value) * tolerance):
                    results[i] = float(value)
                    continue
                # Past the highest precision only to confirm a value that was 0 below it (log(1 + e⁻¹⁰⁰⁰) = 5.1e-435).
                if dps >= _MAX_DPS and not (before == 0 and value != 0 and dps < 2 * _MAX_DPS):
                    if failed is None or i < failed[0]:
                        failed = (i, f"no {dps}-digit agreement at {points[i]}: the expression cancels too much to evaluate")
                    continue
                previous[i] = value
                still.append(i)
        open_ = [i for i in still if failed is None or i < failed[0]]  # a later point cannot be the one reported
        dps = 2 * dps if dps >= _MAX_DPS else min(2 * dps, _MAX_DPS)
    if failed is not None:
        raise ArithmeticError(failed[1])
    return cast("list[float]", results)


#: Half the smallest subnormal float64, 2⁻¹⁰⁷⁵: a value below it rounds to 0.
_UNDERFLOW = mpmath.mpf(2) ** -1075


def _scale_at(scale: Callable[[], Callable[..., object]] | None, point: list[mpmath.mpf]) -> mpmath.mpf:
    """S at ``point`` at the working precision; 0 without ``scale``, +inf where it cannot be evaluated (1/0)."""
    if scale is None:
        return mpmath.mpf(0)
    try:
        return mpmath.mpf(abs(cast("mpmath.mpf", scale()(*point))))
    except (ArithmeticError, TypeError, ValueError):  # a division by a 0 or a comparison of complex numbers
        return mpmath.inf


#: The backward error :func:`relative_error` forgives: the input moved by this many ulps of its dtype.
INPUT_ULPS = 8


def input_sensitivity(kernel: Callable[..., np.ndarray], values: Sequence[np.ndarray]) -> np.ndarray:
    """Σᵢ |xᵢ·∂f/∂xᵢ| at each point, by float64 central differences of ``kernel`` (one digit is all it needs).

    How much f moves when every input moves by one relative unit: an error of
    k ulps in an input (or in an argument computed from it) moves f by
    k·ε·Σᵢ |xᵢ ∂f/∂xᵢ|. Non-finite estimates count as 0 (they excuse nothing).
    """
    args = [np.asarray(v, dtype=np.float64) for v in values]
    total = np.zeros(np.broadcast_shapes(*(a.shape for a in args)))
    with np.errstate(all="ignore"):
        for i, x in enumerate(args):
            h = 1e-7 * np.maximum(np.abs(x), np.finfo(np.float64).tiny)
            upper, lower = x + h, x - h
            slope = (np.asarray(kernel(*args[:i], upper, *args[i + 1 :]), dtype=np.float64)
                     - np.asarray(kernel(*args[:i], lower, *args[i + 1 :]), dtype=np.float64)) / (upper - lower)
            total = total + np.abs(x * slope)
    return np.where(np.isfinite(total), total, 0.0)


def relative_error(
    numeric: np.ndarray, reference: np.ndarray, sensitivity: np.ndarray | None = None
) -> np.ndarray:
    """|numeric − reference| / |reference| where the reference is a normal number of ``numeric``'s dtype.

    How numerical libraries measure accuracy: below the smallest normal
    number (``tiny``) the error is absolute, ``|diff| / tiny`` (0 when it is
    at most ``tiny``: a value that underflows, or subnormals that keep few
    bits, is no error). With ``sensitivity`` (:func:`input_sensitivity`), the
    error an input perturbation of :data:`INPUT_ULPS` ulps explains is
    forgiven first (mixed forward–backward error, Higham §1.5): e^{−2u} for u
    computed from z in a few roundings cannot be closer than cond·ε, whatever
    the code; an error beyond that, such as the cancellation of 1 + tanh u, is
    still counted in full.
    """
    numeric = np.asarray(numeric)
    info = np.finfo(numeric.dtype if numeric.dtype.kind == "f" else np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = np.abs(numeric.astype(np.float64) - reference)
        if sensitivity is not None:
            diff = np.maximum(diff - INPUT_ULPS * float(info.eps) * np.asarray(sensitivity, dtype=np.float64), 0.0)
        return np.where(diff <= info.tiny, 0.0, diff / np.maximum(np.abs(reference), info.tiny))


def stability_grid(dtype: np.dtype, low: float = -STABILITY_LIMIT, high: float = STABILITY_LIMIT) -> np.ndarray:
    """Points of [low, high] that break naive code: the ends, overflow edges of exp, zero, tiny values."""
    edges = [0.0, 1e-30, 1e-8, 1.0, 19.0, 20.0, 37.0, 40.0, 88.0, 89.0, 90.0, 709.0, 710.0, 711.0, 999.0, 1000.0]
    points = np.concatenate([np.linspace(low, high, 101), edges, -np.array(edges)])
    points = points[(points >= low) & (points <= high)]
    return np.unique(points.astype(dtype))


def unstable_points(
    kernel: Callable[..., np.ndarray], grids: Sequence[np.ndarray]
) -> tuple[int, str]:
    """(number of bad points, first problem) of ``kernel`` over the outer product of ``grids``.

    Bad means: a numpy overflow/invalid/divide-by-zero floating-point error, or a
    non-finite result. Numpy's errors are raised here whatever the caller's
    ``np.errstate`` (underflow is never one); the first stops the kernel, so the
    count is then −1 (unknown). The first non-finite result is named by its point,
    the grids taken in order with the first slowest, or as "(reduced)" when the
    kernel's output is not one value per point.
    """
    mesh = np.meshgrid(*grids, indexing="ij")
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            out = np.asarray(kernel(*mesh))
    except FloatingPointError as error:
        return -1, f"numpy floating-point error: {error}"
    bad = ~np.isfinite(out)
    if np.any(bad):
        where = tuple(m[bad][0] for m in mesh) if out.shape == mesh[0].shape else "(reduced)"
        return int(np.count_nonzero(bad)), f"non-finite result at {where}"
    return 0, ""


def sample_points(
    rng: np.random.Generator,
    symbols: Sequence[sp.Symbol],
    count: int,
    ranges: Mapping[sp.Symbol, tuple[float, float]] | None = None,
    labels: Mapping[sp.Symbol, Sequence[float]] | None = None,
    low: float = -40.0,
    high: float = 40.0,
) -> list[np.ndarray]:
    """Random float64 inputs: uniform on each symbol's range, or drawn from its label values."""
    out = []
    for s in symbols:
        if labels and s in labels:
            out.append(rng.choice(np.asarray(labels[s], dtype=np.float64), size=count))
        else:
            lo, hi = (ranges or {}).get(s, (low, high))
            out.append(rng.uniform(lo, hi, size=count))
    return out
