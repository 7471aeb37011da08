"""Learning-rate schedules η(t): expressions of the step t = 1, 2, … (PyTorch's schedulers count from 0: t − 1)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .base import ETA, Hyperparameter

__all__ = ["Schedule", "constant"]


@dataclass(frozen=True)
class Schedule:
    """η(t) as an expression of :data:`symdl.optim.base.T` and its own hyperparameters (``lr`` first)."""

    name: str
    expr: sp.Expr
    hyperparameters: tuple[Hyperparameter, ...]


def constant(lr: float | None) -> Schedule:
    """η(t) = η: the same learning rate at every step (``lr=None``: given at call time, ``train_step(…, lr)``)."""
    return Schedule("constant", ETA, (Hyperparameter("lr", ETA, lr),))


def as_schedule(lr: float | Schedule | None) -> Schedule:
    """``lr`` as a schedule: a number (or None) is :func:`constant`."""
    return lr if isinstance(lr, Schedule) else constant(lr)
