"""Hyperparameter checks: one clear ``ValueError`` line naming the keyword, as ``torch.optim`` refuses the same values."""

from __future__ import annotations

import sys

from ..backends.runtime_numbers import finite_real
from ..excerpt import excerpt
from ..numbers import finite_float

__all__ = ["check_betas", "check_flag", "check_learning_rate", "check_number"]


def check_learning_rate(lr: object) -> None:
    """0 ≤ lr ≤ float64's largest number, or None (given at call time), in the words of every later check of lr.

    Compiling in a dtype narrows the range to that dtype's (:func:`symdl.network.checks.check_optimizer_values`).
    """
    if lr is not None:
        finite_real("lr", lr, sys.float_info.max)


def check_number(name: str, value: object, *, low: float = 0.0, high: float | None = None, strict: bool = False,
                 allow_none: bool = False) -> None:
    """``value`` is a finite real with low ≤ value (low < value when ``strict``) and value < ``high``; None if allowed."""
    if value is None and allow_none:
        return
    x = finite_float(value)
    if x is None:
        raise ValueError(f"{name}: expected a finite real number, got {excerpt(value)}")
    if x < low or (strict and x == low):
        raise ValueError(f"{name}: expected a number {'>' if strict else '>='} {low:g}, got {excerpt(value)}")
    if high is not None and x >= high:
        raise ValueError(f"{name}: expected a number < {high:g}, got {excerpt(value)}")


def check_betas(betas: object) -> tuple[float | None, float | None]:
    """(β₁, β₂) with 0 ≤ β < 1 each (None: given at call time); a moving average with β > 1 weighs g² negatively."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas: expected a pair (beta1, beta2), got {excerpt(betas)}")
    check_number("beta1", betas[0], high=1.0, allow_none=True)
    check_number("beta2", betas[1], high=1.0, allow_none=True)
    return (None if betas[0] is None else float(betas[0])), (None if betas[1] is None else float(betas[1]))


def check_flag(name: str, value: object) -> bool:
    """``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {excerpt(value)}")
    return value
