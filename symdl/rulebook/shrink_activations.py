"""More of ``torch.nn.functional``'s element-wise activations: GELU-tanh, soft- and hardshrink, tanhshrink, threshold, RReLU.

Definitions, parameter names and defaults follow PyTorch (cross-checked in
tests/test_activations_torch.py): ``gelu_tanh`` is ``F.gelu(x, approximate='tanh')``;
``softshrink`` takes ``lambd`` (0.5); ``threshold`` returns z above
``threshold`` and ``value`` at or below it; ``rrelu`` is ``F.rrelu(x, lower, upper,
training=False)``, a leaky ReLU of slope (lower + upper)/2. Kink values are
PyTorch's backward, measured: 0 at ±λ for softshrink, 0 at the threshold, the
negative slope at 0 for rrelu, 0 at ±λ for hardshrink. threshold jumps in value
at θ when v ≠ θ and hardshrink (z for |z| > λ, else 0) jumps by ±λ at ±λ: both
declare those jumps (``Definition.declared_jumps``), so ``symdl check`` reports
them as the function's own, while a jump anywhere else still fails.
"""

from __future__ import annotations

import sympy as sp

from ..symbolic.functions import sigmoid
from ..symbolic.special import x_minus_tanh
from .activations import rectifier
from .definition import Definition, Param
from .registry import register

z = sp.Symbol("z", real=True)

#: GELU-tanh's cubic coefficient (Hendrycks & Gimpel 2016), exactly as PyTorch writes it.
GELU_TANH_CUBIC = sp.Rational(44715, 1000000)


@register("gelu_tanh", "activation")
def gelu_tanh() -> Definition:
    """g(z) = z/2·(1 + tanh u), u = √(2/π)(z + 0.044715z³); g' = (1 + tanh u)/2 + z/2·(1 − tanh² u)·u'."""
    c = sp.sqrt(2 / sp.pi)
    u = c * (z + GELU_TANH_CUBIC * z**3)
    du = c * (1 + 3 * GELU_TANH_CUBIC * z**2)
    return Definition(
        expr=z / 2 * (1 + sp.tanh(u)),
        inputs=(z,),
        textbook=(1 + sp.tanh(u)) / 2 + z / 2 * (1 - sp.tanh(u) ** 2) * du,
        # 1 + tanh u = 2σ(2u): no cancellation where tanh u rounds to −1 (PyTorch returns −0.0 from z ≈ −9).
        stable_expr=z * sigmoid(2 * u),
        stable_derivative=sigmoid(2 * u) + 2 * z * sigmoid(2 * u) * sigmoid(-2 * u) * du,
        reference_from_stable=True,
        notes="Printed as z·σ(2u): exact where PyTorch's 1 + tanh u cancels to 0 (z ≪ 0).",
    )


_LAMBD = (Param("lambd", 0.5, "half-width of the dead zone", positive=True),)


@register("softshrink", "activation", _LAMBD)
def softshrink(lambd: sp.Symbol) -> Definition:
    """g(z) = z − λ for z > λ, z + λ for z < −λ, else 0; g' = 1 for |z| > λ, else 0 (g'(±λ) = 0)."""
    outside = sp.Piecewise((1, sp.Abs(z) > lambd), (0, True))
    return Definition(
        expr=sp.Piecewise((z - lambd, z > lambd), (z + lambd, z < -lambd), (0, True)),
        inputs=(z,),
        textbook=outside,
        stable_derivative=outside,
        pytorch_kinks={lambd: sp.Integer(0), -lambd: sp.Integer(0)},
    )


@register("hardshrink", "activation", _LAMBD)
def hardshrink(lambd: sp.Symbol) -> Definition:
    """g(z) = z for |z| > λ, else 0 (jumps by ±λ at ±λ); g' = 1 for |z| > λ, else 0 (g'(±λ) = 0)."""
    outside = sp.Piecewise((1, sp.Abs(z) > lambd), (0, True))
    return Definition(
        expr=sp.Piecewise((z, sp.Abs(z) > lambd), (0, True)),
        inputs=(z,),
        textbook=outside,
        stable_derivative=outside,
        pytorch_kinks={lambd: sp.Integer(0), -lambd: sp.Integer(0)},
        declared_jumps=(lambd, -lambd),
        notes="Discontinuous by definition: the value jumps from 0 to ±λ at ±λ (PyTorch's hardshrink, Keras' hard_shrink).",
    )


@register("tanhshrink", "activation")
def tanhshrink() -> Definition:
    """g(z) = z − tanh z; g' = tanh² z."""
    return Definition(
        expr=z - sp.tanh(z),
        inputs=(z,),
        textbook=sp.tanh(z) ** 2,
        # Printed as the Taylor series z³/3 − 2z⁵/15 + … for |z| < 1/2, where z − tanh z cancels (PyTorch: 0 at 1e-8).
        stable_expr=x_minus_tanh(z),
        stable_derivative=sp.tanh(z) ** 2,
    )


@register(
    "threshold",
    "activation",
    (Param("threshold", 0.0, "inputs above it pass"), Param("value", 0.0, "returned at or below the threshold")),
)
def threshold(threshold: sp.Symbol, value: sp.Symbol) -> Definition:
    """g(z) = z for z > θ, else v (jumps by θ − v at θ unless v = θ); g' = 1 for z > θ, else 0 (g'(θ) = 0)."""
    above = sp.Piecewise((1, z > threshold), (0, True))
    return Definition(
        expr=sp.Piecewise((z, z > threshold), (value, True)),
        inputs=(z,),
        textbook=above,
        stable_derivative=above,
        pytorch_kinks={threshold: sp.Integer(0)},
        declared_jumps=(threshold,),
    )


@register(
    "rrelu",
    "activation",
    (Param("lower", 0.125, "lower bound of the random slope"), Param("upper", 1 / 3, "upper bound of the random slope")),
)
def rrelu(lower: sp.Symbol, upper: sp.Symbol) -> Definition:
    """g(z) = max(0, z) + (l + u)/2·min(0, z), RReLU at inference; g' = (l + u)/2 for z ≤ 0, 1 for z > 0."""
    return rectifier((lower + upper) / 2, at_zero=(lower + upper) / 2)
