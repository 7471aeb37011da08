"""The optimizers, each one function returning its :class:`~symdl.optim.base.Optimizer`: PyTorch's names, defaults and forms."""

from __future__ import annotations

import sympy as sp

from .base import ETA, G, Hyperparameter, Optimizer, Slot, T, W
from .schedules import Schedule, as_schedule

__all__ = ["adam", "sgd"]


def _with_schedule(name: str, lr: float | Schedule | None, hyper: tuple[Hyperparameter, ...], slots: tuple[Slot, ...],
                   update: tuple, global_update: tuple = (), **info: object) -> Optimizer:
    schedule = as_schedule(lr)
    return Optimizer(name, (*schedule.hyperparameters, *hyper), slots, update, global_update,
                     learning_rate=schedule.expr, schedule_name=schedule.name, **info)  # type: ignore[arg-type]


def sgd(lr: float | Schedule | None = None, weight_decay: float = 0.0) -> Optimizer:
    """w ← w − η·(g + λw): gradient descent (``torch.optim.SGD`` without momentum); ``lr=None`` takes η per call."""
    lam = sp.Symbol("lambda", nonnegative=True)
    update = ((G, G + lam * W), (W, W - ETA * G)) if weight_decay else ((W, W - ETA * G),)
    hyper = (Hyperparameter("weight_decay", lam, weight_decay),) if weight_decay else ()
    return _with_schedule("sgd", lr, hyper, (), update, title="gradient descent",
                          reference="Robbins & Monro (1951); torch.optim.SGD")


def adam(lr: float | Schedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Optimizer:
    """m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε): Adam (Kingma & Ba, 2015, Algorithm 1)."""
    b1, b2 = sp.symbols("beta_1 beta_2", positive=True)
    eps_ = sp.Symbol("epsilon", positive=True)
    m, v = sp.symbols("m v", real=True)
    update = (
        (m, b1 * m + (1 - b1) * G),
        (v, b2 * v + (1 - b2) * G**2),
        (W, W - ETA * (m / (1 - b1**T)) / (sp.sqrt(v / (1 - b2**T)) + eps_)),
    )
    hyper = (Hyperparameter("beta1", b1, betas[0]), Hyperparameter("beta2", b2, betas[1]), Hyperparameter("eps", eps_, eps))
    return _with_schedule("adam", lr, hyper, (Slot(m), Slot(v)), update, title="Adam",
                          reference="Kingma & Ba, Adam: A Method for Stochastic Optimization (ICLR 2015); torch.optim.Adam")
