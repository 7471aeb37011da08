"""Hyperparameter checks: one clear ``ValueError`` line naming the keyword, as ``torch.optim`` refuses the same values."""

from __future__ import annotations

import sys

from ..backends.runtime_numbers import finite_real
from ..excerpt import excerpt
from ..numbers import finite_float

__all__ = ["check_betas", "check_flag", "check_hyperparameter_range", "check_learning_rate", "check_number"]


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


#: The decay rates, each 0 ≤ β < 1: a moving average v ← βv + (1 − β)g² with β > 1 weighs g² negatively, and √v is NaN.
_BELOW_ONE = ("beta1", "beta2", "alpha")


def check_hyperparameter_range(name: str, value: object) -> None:
    """A built-in optimizer's hyperparameter ``name`` has a value its constructor accepts (None: bound at call time).

    lr as :func:`check_learning_rate`; the decay rates β₁, β₂ and RMSProp's α in [0, 1); every other (ε, momentum,
    weight decay, …) ≥ 0. A name no built-in optimizer uses is left to its own optimizer.
    """
    if name == "lr":
        check_learning_rate(value)
    elif name in _BELOW_ONE:
        check_number(name, value, high=1.0, allow_none=True)
    elif name in ("eps", "momentum", "dampening", "weight_decay", "momentum_decay", "lr_decay"):
        check_number(name, value, allow_none=True)


def check_betas(betas: object) -> tuple[float, float]:
    """(β₁, β₂) with 0 ≤ β < 1 each."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas: expected a pair (beta1, beta2), got {excerpt(betas)}")
    check_number("beta1", betas[0], high=1.0)
    check_number("beta2", betas[1], high=1.0)
    return float(betas[0]), float(betas[1])


def check_flag(name: str, value: object) -> bool:
    """``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {excerpt(value)}")
    return value
