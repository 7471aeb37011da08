"""The Adam family as SymPy updates: Adam, AdamW and Nadam, in ``torch.optim``'s forms and with its defaults.

All three keep the moments m ← β₁m + (1−β₁)g and v ← β₂v + (1−β₂)g² and
correct v's bias by 1 − β₂ᵗ; they differ in how m is corrected and where
weight decay enters (see :mod:`symdl.optim.catalogue` for the conventions).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .base import ETA, G, Hyperparameter, Optimizer, Slot, T, W
from .catalogue import EPSILON, LAMBDA, M, V, build, check_lr, l2_decay
from .checks import check_betas, check_flag, check_number
from .schedules import Schedule

__all__ = ["BETA1", "BETA2", "MU_PRODUCT", "PSI", "adam", "adam_step", "adamw", "momentum_schedule", "nadam"]

BETA1, BETA2 = sp.symbols("beta_1 beta_2", positive=True)
#: Nadam's momentum decay ψ and its global slot Π μ (the product of μ₁ … μₜ).
PSI = sp.Symbol("psi", nonnegative=True)
MU_PRODUCT = sp.Symbol("mu_product", real=True)


def _moments() -> tuple[tuple[sp.Symbol, sp.Expr], tuple[sp.Symbol, sp.Expr]]:
    return (M, BETA1 * M + (1 - BETA1) * G), (V, BETA2 * V + (1 - BETA2) * G**2)


def _betas_eps(betas: tuple[float | None, float | None], eps: float | None) -> tuple[Hyperparameter, ...]:
    b1, b2 = check_betas(betas)
    check_number("eps", eps, allow_none=True)
    return (Hyperparameter("beta1", BETA1, b1), Hyperparameter("beta2", BETA2, b2), Hyperparameter("eps", EPSILON, eps))


def adam_step(m: sp.Expr = M, v: sp.Expr = V) -> sp.Expr:
    """η·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ): the bias-corrected step (Kingma & Ba, Algorithm 1)."""
    return ETA * (m / (1 - BETA1**T)) / (sp.sqrt(v / (1 - BETA2**T)) + EPSILON)


def adam(lr: float | Schedule | None = 1e-3, betas: tuple[float | None, float | None] = (0.9, 0.999),
         eps: float | None = 1e-8, weight_decay: float | None = 0.0) -> Optimizer:
    """g ← g + λw, m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε): Adam.

    Kingma & Ba (2015), Algorithm 1, with ``torch.optim.Adam``'s L2-style
    ``weight_decay`` (added to g, so it is scaled by the adaptive
    denominator — not weight decay in AdamW's sense; see
    :func:`symdl.optim.proofs.prove_weight_decay`).
    """
    check_lr(lr)
    decay, update = l2_decay(weight_decay)
    update += (*_moments(), (W, W - adam_step()))
    return build("adam", lr, (*_betas_eps(betas, eps), *decay), (Slot(M), Slot(V)), update, factory=adam, title="Adam",
                 reference="Kingma & Ba, Adam: A Method for Stochastic Optimization (ICLR 2015); torch.optim.Adam")


def adamw(lr: float | Schedule | None = 1e-3, betas: tuple[float | None, float | None] = (0.9, 0.999),
          eps: float | None = 1e-8, weight_decay: float | None = 1e-2) -> Optimizer:
    """m, v as Adam; w ← w(1 − ηλ) − η·m̂/(√v̂ + ε): AdamW, decoupled weight decay (Loshchilov & Hutter, ICLR 2019).

    The decay multiplies w by 1 − ηλ (η of this step, as ``torch.optim.AdamW``)
    before the Adam step, instead of adding λw to the gradient.
    """
    check_lr(lr)
    check_number("weight_decay", weight_decay, allow_none=True)
    update = (*_moments(), (W, W * (1 - ETA * LAMBDA) - adam_step()))
    hyper = (*_betas_eps(betas, eps), Hyperparameter("weight_decay", LAMBDA, weight_decay))
    return build("adamw", lr, hyper, (Slot(M), Slot(V)), update, factory=adamw, title="AdamW",
                 reference="Loshchilov & Hutter, Decoupled Weight Decay Regularization (ICLR 2019); torch.optim.AdamW")


def momentum_schedule(t: sp.Expr) -> sp.Expr:
    """μₜ = β₁(1 − ½·0.96^(tψ)): Nadam's warming momentum (Dozat 2016, with Keras' and PyTorch's ψ = 0.004 default)."""
    return BETA1 * (1 - sp.Rational(1, 2) * sp.Rational(24, 25) ** (t * PSI))


def nadam(lr: float | Schedule | None = 2e-3, betas: tuple[float | None, float | None] = (0.9, 0.999),
          eps: float | None = 1e-8, weight_decay: float | None = 0.0, momentum_decay: float | None = 4e-3,
          decoupled_weight_decay: bool = False) -> Optimizer:
    """Πμ ← Πμ·μₜ; m, v as Adam; w ← w − η(1−μₜ)/(1−Πμ)·g/d − ημₜ₊₁/(1−Πμ·μₜ₊₁)·m/d, d = √(v/(1−β₂ᵗ)) + ε.

    Nadam: Dozat, *Incorporating Nesterov Momentum into Adam* (ICLR 2016
    workshop), in the form ``torch.optim.NAdam`` implements — the momentum
    μₜ = β₁(1 − ½·0.96^(tψ)) warms up with ψ = ``momentum_decay`` (Keras 3's
    ``Nadam`` has no ψ: it is ``momentum_decay=1``, ``eps=1e-7``),
    and the products Πμ = μ₁⋯μₜ correct m's bias; Πμ is one global slot
    (``mu_product``, 1 before the first step), as PyTorch's per-parameter
    ``mu_product`` is the same for every parameter. ``weight_decay`` is
    L2-style (g + λw), or w(1 − ηλ) with ``decoupled_weight_decay`` (NAdamW).
    """
    check_lr(lr)
    check_number("momentum_decay", momentum_decay, allow_none=True)
    check_flag("decoupled_weight_decay", decoupled_weight_decay)
    hyper = (*_betas_eps(betas, eps), Hyperparameter("momentum_decay", PSI, momentum_decay))
    kept = W
    decay: tuple[Hyperparameter, ...]
    update: tuple[tuple[Any, Any], ...]
    if decoupled_weight_decay:
        check_number("weight_decay", weight_decay, allow_none=True)
        decay, update = ((Hyperparameter("weight_decay", LAMBDA, weight_decay),), ())
        kept = W * (1 - ETA * LAMBDA)
    else:
        decay, update = l2_decay(weight_decay)
    mu_t, mu_next = momentum_schedule(T), momentum_schedule(T + 1)
    d = sp.sqrt(V / (1 - BETA2**T)) + EPSILON
    step = ETA * (1 - mu_t) / (1 - MU_PRODUCT) * G / d + ETA * mu_next / (1 - MU_PRODUCT * mu_next) * M / d
    update += (*_moments(), (W, kept - step))
    slots = (Slot(MU_PRODUCT, sp.S.One, per_parameter=False), Slot(M), Slot(V))
    return build("nadam", lr, (*hyper, *decay), slots, update, ((MU_PRODUCT, MU_PRODUCT * mu_t),), factory=nadam,
                 options={"decoupled_weight_decay": True} if decoupled_weight_decay else None, title="Nadam",
                 reference="Dozat, Incorporating Nesterov Momentum into Adam (ICLR 2016 workshop); keras.optimizers.Nadam; torch.optim.NAdam")
