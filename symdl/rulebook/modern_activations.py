"""Activations of transformers and mobile networks: GELU, SiLU/Swish, softsign, log-sigmoid, ReLU6.

Definitions and kink values follow ``torch.nn.functional`` (checked against it in
tests/test_activations_torch.py): gelu is x·Φ(x) (Hendrycks & Gimpel 2016, PyTorch's
``approximate='none'``); silu is x·σ(x) (Elfwing et al. 2018; Swish with β = 1,
Ramachandran et al. 2017); relu6'(0) = relu6'(6) = 0 as PyTorch's hardtanh backward.
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
