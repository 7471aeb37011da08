"""One-sided derivatives at a kink and the subgradient check: (f(x) − f(x − h))/h and (f(x + h) − f(x))/h, element-wise.

At a kink the two-sided difference of :mod:`.gradcheck` says nothing; a
derivative's value there (relu'(0) ∈ [0, 1]) is checked against the one-sided
derivatives instead, each with two-point Richardson extrapolation. ``f`` is
element-wise: one value per element of x.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from ..numbers import format_number
from .gradcheck import TOLERANCES, Tolerance, _checked_point, _real_values, _tolerance
from .tensors import Point, PointFunction, as_array, tensor_point

__all__ = ["assert_subgradient", "one_sided_differences"]

NumpyFunction = Callable[[np.ndarray], np.ndarray]


def _elementwise(caller: str, f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """f(x) as an array of x's shape, else a ValueError: a sum over x has one-sided slopes that are not any element's."""
    out = _real_values(caller, f(x), "real values, one per element of x")
    if out.shape != x.shape:
        raise ValueError(f"{caller}: f(x) has shape {out.shape}, x has shape {x.shape}; f must be element-wise (one value per element of x)")
    return out


def one_sided_differences(
    f: PointFunction, x: Point, h: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """((f(x) − f(x − h))/h, (f(x + h) − f(x))/h) element-wise, with two-point Richardson on each side.

    The one-sided derivatives at a kink; ``f`` is element-wise. h defaults to
    eps^(1/2)·max(1, |x|), the step that balances an O(h) error against rounding.
    """
    point, (on_arrays,) = tensor_point("one_sided_differences", x, f)
    return _one_sided(cast(NumpyFunction, on_arrays), _checked_point("one_sided_differences", point), h, "one_sided_differences")


def _one_sided(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: np.ndarray | None, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`one_sided_differences` at a checked point x (:func:`_checked_point`), its errors named after ``caller``."""
    step = np.sqrt(np.finfo(x.dtype).eps) * np.maximum(1, np.abs(x)) if h is None else np.asarray(h, x.dtype)
    if not np.all((step > 0) & np.isfinite(step)):  # h ≤ 0 would swap the sides or divide by 0
        raise ValueError(f"{caller}: h must be finite numbers > 0, got {h!r}")
    if step.ndim and step.shape != x.shape:
        raise ValueError(f"{caller}: h has shape {step.shape}, x has shape {x.shape}; accepted: one step or one per element")
    here = _elementwise(caller, f, x)

    def side(sign: int, width: np.ndarray) -> np.ndarray:
        there = x + sign * width
        return (_elementwise(caller, f, there) - here) / (there - x)

    # D(h) has error c·h; 2·D(h/2) − D(h) cancels it.
    left = 2 * side(-1, step / 2) - side(-1, step)
    right = 2 * side(1, step / 2) - side(1, step)
    return left, right


def assert_subgradient(
    f: PointFunction,
    value: Point,
    x: Point,
    *,
    tolerance: Tolerance | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Raise ``AssertionError`` unless each ``value`` lies between the one-sided derivatives of ``f`` at ``x``.

    min(left, right) − tol ≤ value ≤ max(left, right) + tol, element-wise: the
    check for a derivative's value at a kink (relu'(0) ∈ [0, 1]). The message
    names the worst element (the largest excess over its tolerance).
    """
    __tracebackhide__ = True
    point, (on_arrays,) = tensor_point("assert_subgradient", x, f)
    x = _checked_point("assert_subgradient", point)
    known = x.dtype if x.dtype in TOLERANCES else np.dtype(np.float64)
    tolerance = _tolerance("assert_subgradient", known, tolerance, rtol, atol)
    value = np.asarray(as_array(value), dtype=np.float64)
    try:
        value = np.broadcast_to(value, x.shape)
    except ValueError:
        raise ValueError(f"assert_subgradient: value has shape {value.shape}, x has shape {x.shape}; "
                         "accepted: a number or an array broadcastable to x's shape") from None
    left, right = _one_sided(cast(NumpyFunction, on_arrays), x, None, "assert_subgradient")
    low, high = np.minimum(left, right), np.maximum(left, right)
    slack = tolerance.atol + tolerance.rtol * np.maximum(np.abs(low), np.abs(high))
    bad = ~((value >= low - slack) & (value <= high + slack))  # NaN (in value or in f's differences) is outside
    if np.any(bad):
        excess = np.where(bad, np.maximum(low - slack - value, value - high - slack) / np.maximum(slack, np.finfo(np.float64).tiny), -np.inf)
        i = np.unravel_index(int(np.argmax(excess)), x.shape) if x.ndim else ()
        where = f"x[{', '.join(map(str, i))}]" if x.ndim else "x"
        raise AssertionError(
            f"not a subgradient at x = {float(x[i])!r}: value {float(value[i])!r} is outside the one-sided derivatives\n"
            f"Worst element: {where} ({int(np.sum(bad))} of {x.size} outside)\n"
            f" ACTUAL (value):                     {float(value[i])!r}\n"
            f" DESIRED (between the one-sided ones): [{float(low[i])!r}, {float(high[i])!r}]\n"
            f"Tolerance: rtol={format_number(tolerance.rtol, 'g')}, atol={format_number(tolerance.atol, 'g')}"
        )
