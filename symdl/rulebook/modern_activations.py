"""Activations of transformers and mobile networks: GELU, SiLU/Swish, Mish, softsign, log-sigmoid, ReLU6, hard sigmoid/swish, CELU.

Definitions and kink values follow ``torch.nn.functional`` (checked against it in
tests/test_activations_torch.py): gelu is x·Φ(x) (Hendrycks & Gimpel 2016, PyTorch's
``approximate='none'``); silu is x·σ(x) (Elfwing et al. 2018; Swish with β = 1,
Ramachandran et al. 2017); relu6'(0) = relu6'(6) = 0 and hard_sigmoid'(±3) = 0 as PyTorch's backward;
hard_swish'(−3) = 0 and hard_swish'(3) = 1 as PyTorch.
"""

from __future__ import annotations

import sympy as sp

from ..symbolic.functions import Phi, sigmoid, softplus
from .definition import Definition, Param
from .registry import register

z = sp.Symbol("z", real=True)


@register("gelu", "activation")
def gelu() -> Definition:
    """g(z) = z·Φ(z), Φ the standard normal CDF; g' = Φ(z) + z·φ(z), φ(z) = e^{−z²/2}/√(2π)."""
    return Definition(
        expr=z * Phi(z),
        inputs=(z,),
        textbook=Phi(z) + z * sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi),
        notes="Φ is printed as erfc(−z/√2)/2, which keeps its digits for z ≪ 0 where 1 + erf(z/√2) cancels "
        "(PyTorch's gelu returns 0 from z ≈ −8.3 in float64).",
    )


@register("silu", "activation")
def silu() -> Definition:
    """g(z) = z·σ(z) (swish with β = 1); g' = σ(z)(1 + z(1 − σ(z)))."""
    return Definition(expr=z * sigmoid(z), inputs=(z,), textbook=sigmoid(z) * (1 + z * sigmoid(-z)))


@register("swish", "activation", (Param("beta", 1.0, "slope inside the sigmoid"),))
def swish(beta: sp.Symbol) -> Definition:
    """g(z; β) = z·σ(βz); g' = σ(βz)(1 + βz(1 − σ(βz)))."""
    return Definition(expr=z * sigmoid(beta * z), inputs=(z,),
                      textbook=sigmoid(beta * z) * (1 + beta * z * sigmoid(-beta * z)))


@register("softsign", "activation")
def softsign() -> Definition:
    """g(z) = z/(1 + |z|); g' = 1/(1 + |z|)²."""
    return Definition(expr=z / (1 + sp.Abs(z)), inputs=(z,), textbook=1 / (1 + sp.Abs(z)) ** 2)


@register("log_sigmoid", "activation")
def log_sigmoid() -> Definition:
    """g(z) = log σ(z) = −softplus(−z); g' = σ(−z) = 1 − σ(z)."""
    return Definition(expr=-softplus(-z), inputs=(z,), textbook=sigmoid(-z))


@register("relu6", "activation")
def relu6() -> Definition:
    """g(z) = min(max(0, z), 6); g'(z) = 1 for 0 < z < 6, else 0 (g'(0) = g'(6) = 0)."""
    clipped = sp.Max(0, sp.Min(6, z))
    inside = sp.Piecewise((1, (z > 0) & (z < 6)), (0, True))
    return Definition(
        expr=sp.Piecewise((0, z <= 0), (6, z >= 6), (z, True)),
        inputs=(z,),
        textbook=inside,
        seed_form=clipped,
        stable_expr=clipped,  # printed as numpy.clip
        stable_derivative=inside,
        pytorch_kinks={sp.Integer(0): sp.Integer(0), sp.Integer(6): sp.Integer(0)},
    )


@register("mish", "activation")
def mish() -> Definition:
    """g(z) = z·tanh(softplus(z)) (Misra 2019); g' = tanh(softplus z) + z·σ(z)·(1 − tanh²(softplus z))."""
    t = sp.tanh(softplus(z))
    return Definition(expr=z * t, inputs=(z,), textbook=t + z * sigmoid(z) * (1 - t**2))


@register("hard_sigmoid", "activation")
def hard_sigmoid() -> Definition:
    """g(z) = relu6(z + 3)/6 (PyTorch's hardsigmoid); g' = 1/6 for −3 < z < 3, else 0 (g'(±3) = 0)."""
    clipped = sp.Max(0, sp.Min(1, z / 6 + sp.Rational(1, 2)))
    inside = sp.Piecewise((sp.Rational(1, 6), (z > -3) & (z < 3)), (0, True))
    return Definition(
        expr=sp.Piecewise((0, z <= -3), (1, z >= 3), (z / 6 + sp.Rational(1, 2), True)),
        inputs=(z,),
        textbook=inside,
        seed_form=clipped,
        stable_expr=clipped,
        stable_derivative=inside,
        pytorch_kinks={sp.Integer(-3): sp.Integer(0), sp.Integer(3): sp.Integer(0)},
    )


@register("hard_swish", "activation")
def hard_swish() -> Definition:
    """g(z) = z·relu6(z + 3)/6 (Howard et al. 2019, PyTorch's hardswish); g' = 0, (2z + 3)/6, 1 below −3, between, above 3."""
    return Definition(
        expr=sp.Piecewise((0, z <= -3), (z, z >= 3), (z * (z + 3) / 6, True)),
        inputs=(z,),
        textbook=sp.Piecewise((0, z < -3), (1, z > 3), ((2 * z + 3) / 6, True)),
        # PyTorch 2.x returns the outer slopes at both kinks: 0 at −3, 1 at 3 (measured in the torch cross-check).
        pytorch_kinks={sp.Integer(-3): sp.Integer(0), sp.Integer(3): sp.Integer(1)},
    )


@register("celu", "activation", (Param("alpha", 1.0, "scale of the negative part", positive=True),))
def celu(alpha: sp.Symbol) -> Definition:
    """g(z; α) = max(0, z) + min(0, α(e^{z/α} − 1)) (Barron 2017); g' = 1 for z > 0, e^{z/α} for z ≤ 0."""
    negative = sp.Min(z, 0)  # e^{z/α} is used only for z ≤ 0: clamped, it stays finite elsewhere
    return Definition(
        expr=sp.Piecewise((alpha * (sp.exp(z / alpha) - 1), z <= 0), (z, True)),
        inputs=(z,),
        textbook=sp.Piecewise((sp.exp(z / alpha), z <= 0), (1, True)),
        stable_expr=sp.Piecewise((alpha * (sp.exp(negative / alpha) - 1), z <= 0), (z, True)),
        stable_derivative=sp.Piecewise((sp.exp(negative / alpha), z <= 0), (1, True)),
    )
