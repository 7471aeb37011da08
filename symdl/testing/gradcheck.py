"""check_grad: a gradient against central finite differences, coordinate by coordinate or along random directions.

For a scalar function f and a claimed gradient g at x, the directional
derivative along a unit vector u is checked:

    D(h) = (f(x + h·u) − f(x − h·u)) / 2h,    R = (4·D(h/2) − D(h)) / 3   (Richardson)

against ⟨g(x), u⟩. R cancels the h² term of D, so its error is O(h⁴) plus
rounding; |R − D(h/2)| estimates the error of D(h/2) and is reported. Along
random directions the cost is 4 evaluations per direction whatever the
number of parameters (2 without Richardson); coordinate mode uses the unit
vectors. Tolerances come from one table keyed by dtype: float64 gets the
strict check, float32 a smoke check; every tolerance is widened by the
rounding floor eps·|f|/h, the error that rounding f's values alone can cause
(eps·Σ|tᵢ|/h when f returns the terms tᵢ of a sum, which may cancel).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..arguments import generator, non_negative_number
from ..display_hooks import Displayed
from ..excerpt import excerpt
from ..numbers import format_number
from .tensors import Point, PointFunction, as_array, tensor_point

__all__ = [
    "LOCATE_LIMIT",
    "TOLERANCES",
    "GradCheckReport",
    "Tolerance",
    "assert_grad_close",
    "check_grad",
]


@dataclass(frozen=True)
class Tolerance:
    """|fd − analytic| ≤ atol + rtol·max(|fd|, |analytic|)."""

    rtol: float
    atol: float

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            non_negative_number(getattr(self, name), f"Tolerance: {name}")


#: Tolerances by dtype (the dtype of x). float64: strict; float32: a smoke check (FD error ~1e-3 there).
TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float64): Tolerance(rtol=1e-6, atol=1e-10),
    np.dtype(np.float32): Tolerance(rtol=5e-2, atol=1e-3),
}


@dataclass(frozen=True)
class GradCheckReport(Displayed):
    """The worst coordinate or direction of a :func:`check_grad` run, and what was used to judge it."""

    mode: str
    worst: str
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    error_estimate: float
    rounding_floor: float
    tolerance: Tolerance
    step: float
    evaluations: int
    checked: int

    @property
    def passed(self) -> bool:
        scale = max(abs(self.analytic), abs(self.numeric))
        return self.abs_error <= self.tolerance.atol + self.tolerance.rtol * scale + self.rounding_floor

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"gradient check {verdict} ({self.mode}, {self.checked} checked, {self.evaluations} evaluations): "
            f"worst {self.worst}: analytic {format_number(self.analytic, '.17g')}, finite difference {format_number(self.numeric, '.17g')}, "
            f"abs error {format_number(self.abs_error, '.3g')}, rel error {format_number(self.rel_error, '.3g')} "
            f"(tolerance rtol={format_number(self.tolerance.rtol, 'g')}, atol={format_number(self.tolerance.atol, 'g')}; step {format_number(self.step, '.3g')}; "
            f"FD error estimate {format_number(self.error_estimate, '.3g')}, rounding floor {format_number(self.rounding_floor, '.3g')})"
        )

    def failure_message(self, located: GradCheckReport | None = None) -> str:
        """The numpy.testing-style lines of a failed check: the worst case's ACTUAL (analytic) and DESIRED
        (finite difference), and ``located``, the worst coordinate found one by one after a directions run."""
        lines = [
            f"Gradient check failed ({self.mode}, {self.checked} checked, {self.evaluations} evaluations)",
            *_case_lines(self),
            f"Tolerance: rtol={format_number(self.tolerance.rtol, 'g')}, atol={format_number(self.tolerance.atol, 'g')} "
            f"(+ rounding floor {format_number(self.rounding_floor, '.3g')}); step {format_number(self.step, '.3g')}, "
            f"FD error estimate {format_number(self.error_estimate, '.3g')}",
        ]
        if located is not None:
            lines += [f"Checked one by one ({located.checked} coordinates):", *_case_lines(located)]
        return "\n".join(lines)


def _case_lines(report: GradCheckReport) -> list[str]:
    return [
        f"Worst {report.worst}",
        f" ACTUAL (analytic):           {format_number(report.analytic, '.17g')}",
        f" DESIRED (finite difference): {format_number(report.numeric, '.17g')}",
        f"Absolute difference: {format_number(report.abs_error, '.3g')}, relative difference: {format_number(report.rel_error, '.3g')}",
    ]


def _directional(
    f: Callable[[np.ndarray], float | np.ndarray], x: np.ndarray, u: np.ndarray, h: float, richardson: bool
) -> tuple[float, float, float, int]:
    """(derivative along u, error estimate, rounding floor, evaluations) by central differences.

    The rounding floor is the error that rounding f's values alone can cause:
    eps·|f|/h for one central difference, about 4× that after Richardson,
    with Σ|tᵢ| for |f| when f returns its terms tᵢ (see :func:`_value`).
    """
    eps = float(np.finfo(x.dtype).eps)
    scale = 0.0

    def central(step: float) -> float:
        nonlocal scale
        (plus, plus_size), (minus, minus_size) = _value(f(x + step * u)), _value(f(x - step * u))
        scale = max(scale, plus_size, minus_size)
        return (plus - minus) / (2 * step)

    if not richardson:
        value = central(h)
        return value, float("nan"), 2 * eps * scale / h, 2
    coarse, fine = central(h), central(h / 2)
    return (4 * fine - coarse) / 3, abs(fine - coarse) / 3, 8 * eps * scale / h, 4


def _real_values(caller: str, out: object, accepted: str) -> np.ndarray:
    """f's output as an array, else a ValueError if it is complex (a cast to float64 would drop the imaginary part and
    the check would pass on Re f alone)."""
    raw = as_array(out)
    if np.iscomplexobj(raw):
        shown = repr(raw.item()) if raw.ndim == 0 else f"an array of {raw.dtype}"
        raise ValueError(f"{caller}: f returned a complex value ({shown}); complex functions are not supported, "
                         f"f must return {accepted}")
    if raw.dtype.kind == "O" and all(v is not None for v in raw.ravel()):  # SymPy or mpmath numbers; None would be NaN
        try:
            raw = raw.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if raw.dtype.kind not in "biuf":  # None (a function without its return) or text: not a failed check of NaN
        raise ValueError(f"{caller}: f returned {excerpt(out)}; f must return {accepted}")
    return raw


def _value(out: object) -> tuple[float, float]:
    """(f, the size its rounding scales with): (f, |f|) for a scalar; (Σ tᵢ, Σ |tᵢ|) for an array of terms tᵢ.

    Each term carries a rounding error of about eps·|tᵢ|, so a sum that cancels
    (f ≈ 0, terms large) is only known to eps·Σ|tᵢ|, not to eps·|f|; the sum is
    taken with math.fsum so that adding the terms rounds nothing more.
    """
    raw = _real_values("check_grad", out, "a real number (or an array of real terms)")
    terms = np.asarray(raw, dtype=np.float64)
    if terms.ndim == 0:
        return float(terms), abs(float(terms))
    if not np.all(np.isfinite(terms)):
        return float(np.sum(terms)), float(np.sum(np.abs(terms)))
    return math.fsum(terms.ravel()), math.fsum(np.abs(terms).ravel())


def check_grad(
    f: PointFunction,
    grad: PointFunction | Point,
    x: Point,
    *,
    mode: Literal["directions", "coordinates"] = "directions",
    directions: int = 20,
    seed: int = 0,
    richardson: bool = True,
    step: float | None = None,
    tolerance: Tolerance | None = None,
    kinks: np.ndarray | list[float] | Literal["integers", "half-integers"] | KinkDistance | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> GradCheckReport:
    """Compare ``grad(x)`` with central differences of the scalar function ``f`` at ``x``.

    ``mode="directions"`` checks ⟨g, u⟩ along ``directions`` seeded random unit
    vectors; ``mode="coordinates"`` checks every ∂f/∂x_i. The step defaults to
    eps^(1/5)·max(1, |x_i|) in each coordinate with Richardson extrapolation
    (eps^(1/3)·… without): the difference is taken along u ⊙ max(1, |x|)/max(1, ‖x‖∞),
    so a coordinate near 0 beside a large one is not stepped at the large one's
    scale (a given ``step`` is used as is, for every coordinate). The tolerance to ``TOLERANCES[x.dtype]``; ``rtol=``/``atol=`` replace
    either part of it (as in numpy.testing). Returns the worst case; see
    :func:`assert_grad_close` to raise instead.

    ``f`` returns a number, or an array of terms whose sum is the function:
    then the rounding floor uses Σ|terms| instead of |f|, which a sum that
    cancels (f ≈ 0 while its terms are large) needs not to fail on rounding.

    ``kinks`` declares points where f is not differentiable in each
    coordinate (e.g. ``[0.0]`` for ReLU units of x): every step is shortened so
    that no evaluation crosses one, and x must not sit on one (check the value
    there with :func:`assert_subgradient`). ``kinks="integers"`` declares every
    integer (f uses floor or ceil of coordinates of x), ``"half-integers"`` every
    n + 1/2 (round, half to even): infinitely many, measured as the distance to the nearest one.
    A callable ``kinks(x)`` returns a lower bound of the (Euclidean) distance from x to the nearest point where f is
    not differentiable, a number or an array whose minimum is taken: every step stays under half of it. For
    ``floor(g(x))`` in f, with ‖∇g‖ ≤ L near x: ``kinks=lambda x: abs(g(x) - np.rint(g(x))) / L``; for round,
    ``np.rint(g(x) - 0.5) + 0.5`` in place of ``np.rint(g(x))``. 0 is a point on a kink (a ValueError, as above).
    """
    extra = [kinks] if callable(kinks) else []
    x, (f, grad, *extra) = tensor_point("check_grad", x, f, grad, *extra)  # type: ignore[assignment]
    kinks = extra[0] if extra else kinks  # a torch user's kinks(x) gets tensors, as f does
    x = _checked_point("check_grad", x)
    tolerance = _tolerance("check_grad", x.dtype, tolerance, rtol, atol)
    if mode not in ("directions", "coordinates"):
        raise ValueError(f"check_grad: unknown mode {mode!r}; accepted: 'directions', 'coordinates'")
    if isinstance(directions, bool) or not isinstance(directions, numbers.Integral) or directions < 1:
        raise ValueError(f"check_grad: directions must be an integer ≥ 1, got {directions!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, numbers.Real) or not 0 < float(step) < float("inf")):
        raise ValueError(f"check_grad: step must be a finite number > 0, got {step!r}")
    if isinstance(kinks, str) and kinks not in _PERIODIC_KINKS:
        raise ValueError(f"check_grad: kinks must be finite numbers, 'integers' or 'half-integers', got {kinks!r}")
    if kinks is not None and not isinstance(kinks, str) and not callable(kinks) \
            and not np.all(np.isfinite(np.asarray(kinks, dtype=np.float64))):
        raise ValueError(f"check_grad: kinks must be finite numbers, got {kinks!r}")
    if not isinstance(richardson, (bool, np.bool_)):
        raise ValueError(f"check_grad: richardson must be True or False, got {richardson!r}")
    rng = generator(seed, "check_grad: seed")
    g = np.asarray(as_array(grad(x) if callable(grad) else grad), dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"check_grad: gradient has shape {g.shape}, x has shape {x.shape}")
    eps = float(np.finfo(x.dtype).eps)
    scale = max(1.0, float(np.max(np.abs(x))))
    h = step if step is not None else eps ** (1 / 5 if richardson else 1 / 3) * scale
    # Per-coordinate steps h·max(1, |x_i|)/scale ≤ h: truncation at x_i ≈ 0 stays at its own scale.
    relative = np.ones(x.shape) if step is not None else np.maximum(1.0, np.abs(x.astype(np.float64))) / scale
    if callable(kinks) or kinks is not None and np.size(kinks):
        distance = _kink_distance(x.astype(np.float64), kinks)
        if callable(kinks) and np.any(distance == 0):
            raise ValueError("check_grad: kinks(x) is 0: x sits on a declared kink; two-sided differences say "
                             "nothing there: check its value with assert_subgradient")
        if np.any(distance == 0):
            at = tuple(int(i) for i in np.argwhere(distance == 0)[0])
            raise ValueError(
                f"check_grad: x{list(at)} = {float(x[at])!r} sits on a declared kink; two-sided differences say "
                "nothing there: check its value with assert_subgradient"
            )
        # |u_i| ≤ 1 for a unit vector: a step below the nearest kink's distance crosses none.
        h = min(h, 0.5 * float(np.min(distance)))
    if mode == "coordinates":
        vectors = (("coordinate " + str(index), np.eye(1, x.size, i).reshape(x.shape)) for i, index in enumerate(np.ndindex(x.shape)))
        checked = x.size
    else:
        vectors = ((f"direction {k}", _unit(rng.standard_normal(x.shape))) for k in range(directions))
        checked = directions
    worst: GradCheckReport | None = None
    evaluations = 0
    for label, u in vectors:
        if mode == "coordinates":  # e_i at step h·relative_i: the report stays ∂f/∂x_i itself
            step_u = h * float(np.sum(u * relative))
        else:
            u, step_u = u * relative, h
        u = u.astype(x.dtype)
        numeric, estimate, floor, count = _directional(f, x, u, step_u, richardson)
        evaluations += count
        analytic = float(np.sum(g * u))
        abs_error = abs(numeric - analytic)
        rel_error = abs_error / max(abs(numeric), abs(analytic), np.finfo(np.float64).tiny)
        report = GradCheckReport(
            mode, label, analytic, numeric, abs_error, rel_error, estimate, floor, tolerance, step_u, 0, checked
        )
        if worst is None or _badness(report) > _badness(worst):
            worst = report
    assert worst is not None
    return GradCheckReport(**{**worst.__dict__, "evaluations": evaluations})


#: kinks= spellings for infinitely many kinks: the offset of the nearest one from an integer.
_PERIODIC_KINKS = {"integers": 0.0, "half-integers": 0.5}


#: kinks= as a function: x ↦ a lower bound of the distance from x to f's nearest kink (a number or an array).
KinkDistance = Callable[[np.ndarray], "float | np.ndarray"]


def _kink_distance(x: np.ndarray, kinks: np.ndarray | list[float] | str | KinkDistance) -> np.ndarray:
    """Each coordinate's distance to its nearest declared kink; what ``kinks(x)`` returns for a function, checked."""
    if callable(kinks):
        found = as_array(kinks(x))
        distance = np.asarray(found, dtype=np.float64) if found.dtype.kind in "iuf" else None
        if distance is None or distance.size == 0 or np.any(np.isnan(distance)) or np.any(distance < 0):
            shown = repr(found.item()) if found.ndim == 0 else f"an array of {found.dtype} and shape {found.shape}"
            raise ValueError(f"check_grad: kinks(x) must return distances ≥ 0 (a number or an array), got {shown}")
        return distance
    if isinstance(kinks, str):
        shifted = x - _PERIODIC_KINKS[kinks]
        return np.abs(shifted - np.rint(shifted))
    return np.min(np.abs(x[..., None] - np.asarray(kinks, dtype=np.float64)), axis=-1)


def _checked_point(caller: str, x: object) -> np.ndarray:
    """x as a float array of at least one element, all finite, else a TypeError or a ValueError (the first NaN or
    infinity named: a check there says nothing about a gradient)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{caller}: x must be a float array, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{caller}: x is empty; accepted: a float array of at least one element")
    if not np.all(np.isfinite(x)):
        at = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0]) if x.ndim else ()
        where = f"x[{', '.join(map(str, at))}]" if x.ndim else "x"
        raise ValueError(f"{caller}: {where} = {float(x[at])!r}; accepted: a point of finite numbers")
    return x


def _tolerance(
    caller: str, dtype: np.dtype, tolerance: Tolerance | None, rtol: float | None, atol: float | None
) -> Tolerance:
    """``tolerance``, else ``TOLERANCES[dtype]``, with ``rtol``/``atol`` replacing its parts."""
    if tolerance is not None and (rtol is not None or atol is not None):
        raise ValueError(f"{caller}: give tolerance= or rtol=/atol=, not both")
    if tolerance is not None and not isinstance(tolerance, Tolerance):
        raise TypeError(f"{caller}: tolerance must be a symdl.testing.Tolerance(rtol, atol), got {type(tolerance).__name__}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None:
            non_negative_number(value, f"{caller}: {name}")
    base = tolerance or TOLERANCES.get(np.dtype(dtype))
    if base is None and (rtol is None or atol is None):
        raise TypeError(f"{caller}: no tolerance for dtype {dtype}; accepted: float32, float64, or pass rtol= and atol=")
    return Tolerance(
        rtol=float(rtol) if rtol is not None else base.rtol,  # type: ignore[union-attr]
        atol=float(atol) if atol is not None else base.atol,  # type: ignore[union-attr]
    )


#: A failed directions check is re-run coordinate by coordinate to name the worst one, up to this many coordinates.
LOCATE_LIMIT = 2000


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _badness(report: GradCheckReport) -> float:
    """The error over its allowance; a NaN error is the worst (NaN > x is False, so it would never be picked)."""
    if math.isnan(report.abs_error):
        return float("inf")
    scale = max(abs(report.analytic), abs(report.numeric))
    return report.abs_error / (report.tolerance.atol + report.tolerance.rtol * scale + report.rounding_floor)


def assert_grad_close(
    f: PointFunction,
    grad: PointFunction | Point,
    x: Point,
    **options: object,
) -> GradCheckReport:
    """:func:`check_grad`, raising ``AssertionError`` with numpy.testing-style lines when the check fails.

    After a failed directions check (``x`` of at most :data:`LOCATE_LIMIT`
    elements) the coordinates are checked one by one and the worst is named.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    report = check_grad(f, grad, x, **options)  # type: ignore[arg-type]
    if not report.passed:
        located = None
        if report.mode == "directions" and as_array(x).size <= LOCATE_LIMIT:
            located = check_grad(f, grad, x, **{**options, "mode": "coordinates"})  # type: ignore[arg-type]
        raise AssertionError(report.failure_message(located))
    return report
