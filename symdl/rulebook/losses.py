"""Element-wise losses L(a, y) of a prediction a against a target y, derivative by a.

Each rule gives the per-element loss; reducing it (sum over outputs, mean over
the batch, …) is the caller's choice, documented in ``docs/rules.md``.
"""

from __future__ import annotations

import sympy as sp

from ..symbolic.functions import log_cosh, sigmoid, softplus
from .definition import Definition, Param, TorchLoss
from .registry import register

a = sp.Symbol("a", real=True)
y = sp.Symbol("y", real=True)
_error = a - y


@register("mse", "loss")
def mse() -> Definition:
    """L(a, y) = ½(a − y)²; ∂L/∂a = a − y (the ½ cancels the 2; PyTorch's mse_loss, without the ½, has 2(a − y))."""
    return Definition(expr=_error**2 / 2, inputs=(a, y), textbook=_error, torch_loss=TorchLoss("mse_loss", _error**2))


@register("mae", "loss")
def mae() -> Definition:
    """L(a, y) = |a − y|; ∂L/∂a = sign(a − y), 0 at a = y."""
    return Definition(
        expr=sp.Abs(_error),
        inputs=(a, y),
        textbook=sp.Piecewise((-1, a < y), (0, sp.Eq(a, y)), (1, True)),
        pytorch_kinks={y: sp.Integer(0)},
        torch_loss=TorchLoss("l1_loss"),
    )


@register("huber", "loss", (Param("delta", 1.0, "threshold between the quadratic and linear parts", positive=True),))
def huber(delta: sp.Symbol) -> Definition:
    """L(a, y) = ½e² for |e| ≤ δ, δ(|e| − ½δ) otherwise (e = a − y); ∂L/∂a = clip(e, −δ, δ)."""
    clipped = sp.Max(-delta, sp.Min(delta, _error))
    return Definition(
        expr=sp.Piecewise((_error**2 / 2, sp.Abs(_error) <= delta), (delta * (sp.Abs(_error) - delta / 2), True)),
        inputs=(a, y),
        textbook=clipped,
        stable_derivative=clipped,  # printed as numpy.clip
        torch_loss=TorchLoss("huber_loss"),
        notes="Continuous with a continuous first derivative at |e| = δ (the same as PyTorch's huber_loss "
        "and Keras' Huber); the second derivative jumps there.",
    )


@register("log_cosh", "loss")
def log_cosh_loss() -> Definition:
    """L(a, y) = log cosh(a − y); ∂L/∂a = tanh(a − y)."""
    return Definition(expr=log_cosh(_error), inputs=(a, y), textbook=sp.tanh(_error))


@register("binary_cross_entropy", "loss")
def binary_cross_entropy() -> Definition:
    """L(a, y) = −y log σ(a) − (1 − y) log(1 − σ(a)) from the logit a; ∂L/∂a = σ(a) − y."""
    definition = -y * sp.log(sigmoid(a)) - (1 - y) * sp.log(1 - sigmoid(a))
    return Definition(
        expr=softplus(a) - y * a,
        inputs=(a, y),
        textbook=sigmoid(a) - y,
        seed_form=definition,
        # softplus(a) − y·a cancels for hard labels (y = 1, a ≫ 0); here the first two terms are exactly 0 then.
        stable_expr=(1 - y) * sp.Max(a, 0) - y * sp.Min(a, 0) + softplus(-sp.Abs(a)),
        # σ(a) − y = (1 − y)σ(a) − yσ(−a): exact zero-free terms for y ∈ {0, 1}.
        stable_derivative=(1 - y) * sigmoid(a) - y * sigmoid(-a),
        label_values={y: (0.0, 1.0)},
        input_ranges={y: (0.0, 1.0)},
        torch_loss=TorchLoss("binary_cross_entropy_with_logits"),
    )
