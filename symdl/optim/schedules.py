"""Learning-rate schedules η(t): SymPy expressions of the optimizer step t = 1, 2, … (torch.optim.lr_scheduler's forms).

The mapping to PyTorch: step t of the optimizer uses the learning rate a
scheduler gives at ``last_epoch = t − 1`` when ``scheduler.step()`` is called
once after every ``optimizer.step()`` (the first step runs at epoch 0, the
base learning rate). So η(t) here is the scheduler's value at epoch t − 1:

* :func:`constant` — η(t) = η;
* :func:`step` — η(t) = η·γ^⌊(t−1)/s⌋ (``StepLR(step_size=s, gamma=γ)``);
* :func:`exponential` — η(t) = η·γ^(t−1) (``ExponentialLR(gamma=γ)``);
* :func:`cosine` — η(t) = η_min + (η − η_min)(1 + cos(π(t−1)/T_max))/2
  (``CosineAnnealingLR(T_max, eta_min)``, its closed form; past T_max the
  cosine rises again, as PyTorch's does).

Every optimizer of :mod:`symdl.optim.catalogue` takes ``lr=<Schedule>``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..excerpt import excerpt
from .base import ETA, Hyperparameter, T
from .checks import check_learning_rate, check_number

__all__ = ["SCHEDULES", "Schedule", "as_schedule", "constant", "cosine", "exponential", "step"]

GAMMA = sp.Symbol("gamma", positive=True)
STEP_SIZE = sp.Symbol("s", positive=True)
T_MAX = sp.Symbol("T_max", positive=True)
ETA_MIN = sp.Symbol("eta_min", nonnegative=True)


@dataclass(frozen=True)
class Schedule:
    """η(t) as an expression of :data:`symdl.optim.base.T` and its own hyperparameters (``lr`` first)."""

    name: str
    expr: sp.Expr
    hyperparameters: tuple[Hyperparameter, ...]

    def at(self, t: int) -> float:
        """η(t) as a float, for a step t ≥ 1 (every hyperparameter must have a value)."""
        step: object = t
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step < 1:
            raise ValueError(f"{self.name} schedule: t must be a whole step number ≥ 1 (the first step is 1), got {excerpt(t)}")
        values = {h.symbol: sp.Float(h.value, 17) for h in self.hyperparameters if h.value is not None}
        value = self.expr.xreplace(values).xreplace({T: sp.Integer(int(step))})
        if value.free_symbols:
            raise ValueError(f"{self.name} schedule: no value for {sorted(map(str, value.free_symbols))}")
        return float(value)


def constant(lr: float | None) -> Schedule:
    """η(t) = η: the same learning rate at every step (``lr=None``: given at call time, ``train_step(…, lr)``)."""
    check_learning_rate(lr)
    return Schedule("constant", ETA, (Hyperparameter("lr", ETA, lr),))


def step(lr: float | None, step_size: int | None, gamma: float | None = 0.1) -> Schedule:
    """η(t) = η·γ^⌊(t−1)/s⌋: ``StepLR``. The exponent is written (t − 1 − ((t − 1) mod s))/s, exact for whole t and s:
    a printed floor of the rounded quotient (t − 1)·(1/s) could land one step early. None: given at call time."""
    check_learning_rate(lr)
    given: object = step_size
    if given is not None and (isinstance(given, (bool, np.bool_)) or not isinstance(given, numbers.Real)
                              or not float(given).is_integer() or given < 1):
        raise ValueError(f"step_size: expected a positive whole number of steps, got {excerpt(step_size)}")
    check_number("gamma", gamma, strict=True, allow_none=True)
    k = T - 1
    expr = ETA * GAMMA ** ((k - sp.Mod(k, STEP_SIZE)) / STEP_SIZE)
    hyper = (Hyperparameter("lr", ETA, lr), Hyperparameter("step_size", STEP_SIZE, step_size), Hyperparameter("gamma", GAMMA, gamma))
    return Schedule("step", expr, hyper)


def exponential(lr: float | None, gamma: float | None) -> Schedule:
    """η(t) = η·γ^(t−1): ``ExponentialLR``. None: given at call time."""
    check_learning_rate(lr)
    check_number("gamma", gamma, strict=True, allow_none=True)
    return Schedule("exponential", ETA * GAMMA ** (T - 1), (Hyperparameter("lr", ETA, lr), Hyperparameter("gamma", GAMMA, gamma)))


def cosine(lr: float | None, T_max: int | None, eta_min: float | None = 0.0) -> Schedule:  # noqa: N803 (PyTorch's keyword)
    """η(t) = η_min + (η − η_min)(1 + cos(π(t−1)/T_max))/2: ``CosineAnnealingLR`` (its closed form). None: given at
    call time."""
    check_learning_rate(lr)
    check_number("T_max", T_max, strict=True, allow_none=True)
    check_number("eta_min", eta_min, allow_none=True)
    expr = ETA_MIN + (ETA - ETA_MIN) * (1 + sp.cos(sp.pi * (T - 1) / T_MAX)) / 2
    hyper = (Hyperparameter("lr", ETA, lr), Hyperparameter("T_max", T_MAX, T_max), Hyperparameter("eta_min", ETA_MIN, eta_min))
    return Schedule("cosine", expr, hyper)


#: name → schedule factory (``optimizer("adam", schedule="cosine", lr=…, T_max=…)``).
SCHEDULES: dict[str, Callable[..., Schedule]] = {"constant": constant, "step": step, "exponential": exponential, "cosine": cosine}


def as_schedule(lr: float | Schedule | None) -> Schedule:
    """``lr`` as a schedule: a number (or None) is :func:`constant`."""
    return lr if isinstance(lr, Schedule) else constant(lr)
