"""Element-wise activations g(z) with their textbook derivatives, stable forms and kinks.

Kink values follow PyTorch by default: relu'(0) = 0; leaky_relu, prelu, elu
and selu take the negative-side slope at 0; abs'(0) = 0; hard_tanh'(±1) = 0.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..symbolic.functions import sigmoid, softplus
from .definition import Definition, Param
from .registry import register

z = sp.Symbol("z", real=True)
_g = sp.Symbol("g", real=True)  # the activation's output, for derivatives written in terms of it

# SELU constants (Klambauer et al. 2017), to 30 significant digits.
SELU_LAMBDA = sp.Float("1.05070098735548049341933498529", 30)
SELU_ALPHA = sp.Float("1.67326324235437728481704299167", 30)


def rectifier(alpha: sp.Expr, *, at_zero: sp.Expr) -> Definition:
    """g(z; α) = max(0, z) + α·min(0, z), the ReLU family; g'(0) = ``at_zero`` under PyTorch's convention."""
    seed_form = sp.Max(0, z) + alpha * sp.Min(0, z)
    return Definition(
        expr=sp.Piecewise((alpha * z, z <= 0), (z, True)),
        inputs=(z,),
        textbook=sp.Piecewise((alpha, z < 0), (1, True)),
        seed_form=seed_form,
        # numpy.maximum/minimum: a few times faster than numpy.where on a mask that varies.
        stable_expr=seed_form,
        pytorch_kinks={sp.Integer(0): at_zero},
    )


@register("identity", "activation")
def identity() -> Definition:
    """g(z) = z (linear); g'(z) = 1."""
    return Definition(expr=z, inputs=(z,), textbook=sp.Integer(1))


@register("relu", "activation")
def relu() -> Definition:
    """g(z) = max(0, z); g'(z) = [z > 0], g'(0) = 0."""
    return rectifier(sp.Integer(0), at_zero=sp.Integer(0))


@register("abs", "activation")
def absolute() -> Definition:
    """g(z) = |z| = max(0, z) − min(0, z) (leaky_relu with α = −1); g'(z) = sign z, g'(0) = 0."""
    base = rectifier(sp.Integer(-1), at_zero=sp.Integer(0))
    return replace(base, stable_expr=sp.Abs(z), stable_derivative=sp.sign(z))


@register("leaky_relu", "activation", (Param("alpha", 0.01, "slope for z < 0"),))
def leaky_relu(alpha: sp.Symbol) -> Definition:
    """g(z) = max(0, z) + α·min(0, z); g'(z) = α for z ≤ 0, 1 for z > 0."""
    return rectifier(alpha, at_zero=alpha)


@register("prelu", "activation")
def prelu() -> Definition:
    """g(z, α) = max(0, z) + α·min(0, z) with α learned; ∂g/∂α = min(0, z)."""
    alpha = sp.Symbol("alpha", real=True)
    base = rectifier(alpha, at_zero=alpha)
    return Definition(
        expr=base.expr,
        inputs=(z, alpha),
        textbook=base.textbook,
        seed_form=base.seed_form,
        stable_expr=base.stable_expr,
        pytorch_kinks=base.pytorch_kinks,
        other_textbooks={alpha: sp.Min(0, z)},
    )


@register("sigmoid", "activation")
def sigmoid_rule() -> Definition:
    """g(z) = 1/(1 + e^{−z}); g' = g(1 − g)."""
    return Definition(
        expr=sigmoid(z),
        inputs=(z,),
        textbook=_g * (1 - _g),
        output=_g,
        # g(1 − g) is 0 in floating point for z > 37; σ(z)σ(−z) = e/(1 + e)², e = e^{−|z|}, keeps every digit.
        stable_derivative=sp.exp(-sp.Abs(z)) / (1 + sp.exp(-sp.Abs(z))) ** 2,
    )


@register("tanh", "activation")
def tanh() -> Definition:
    """g(z) = tanh z; g' = 1 − g²."""
    decay = sp.exp(-2 * sp.Abs(z))
    return Definition(
        expr=sp.tanh(z),
        inputs=(z,),
        textbook=1 - _g**2,
        output=_g,
        # 1 − tanh² is 0 for |z| > 19; sech² z = 4e^{−2|z|}/(1 + e^{−2|z|})² neither cancels nor overflows.
        stable_derivative=4 * decay / (1 + decay) ** 2,
    )


@register("softplus", "activation")
def softplus_rule() -> Definition:
    """g(z) = log(1 + e^{z}); g' = σ(z)."""
    return Definition(expr=softplus(z), inputs=(z,), textbook=sigmoid(z))


@register("hard_tanh", "activation")
def hard_tanh() -> Definition:
    """g(z) = max(−1, min(1, z)); g'(z) = 1 for |z| < 1, else 0 (g'(±1) = 0)."""
    clipped = sp.Max(-1, sp.Min(1, z))
    inside = sp.Piecewise((1, sp.Abs(z) < 1), (0, True))
    return Definition(
        expr=sp.Piecewise((-1, z <= -1), (1, z >= 1), (z, True)),
        inputs=(z,),
        textbook=inside,
        seed_form=clipped,
        stable_expr=clipped,  # printed as numpy.clip
        stable_derivative=inside,  # one comparison, where SymPy's derivative makes two
        pytorch_kinks={sp.Integer(-1): sp.Integer(0), sp.Integer(1): sp.Integer(0)},
    )


def _elu(alpha: sp.Expr, scale: sp.Expr) -> Definition:
    """λ·(z for z > 0, α(e^z − 1) for z ≤ 0); g' = λ for z > 0, g + λα for z ≤ 0."""
    negative = sp.Min(z, 0)  # the branch is used only for z ≤ 0; clamping keeps e^z finite elsewhere
    return Definition(
        expr=scale * sp.Piecewise((alpha * (sp.exp(z) - 1), z <= 0), (z, True)),
        inputs=(z,),
        textbook=sp.Piecewise((_g + scale * alpha, z <= 0), (scale, True)),
        output=_g,
        stable_expr=scale * sp.Piecewise((alpha * (sp.exp(negative) - 1), z <= 0), (z, True)),
        stable_derivative=scale * sp.Piecewise((alpha * sp.exp(negative), z <= 0), (1, True)),
        pytorch_kinks={sp.Integer(0): scale * alpha},
    )


@register("elu", "activation", (Param("alpha", 1.0, "scale of the negative part"),))
def elu(alpha: sp.Symbol) -> Definition:
    """g(z) = z for z > 0, α(e^z − 1) for z ≤ 0; g' = 1 for z > 0, g + α for z ≤ 0."""
    return _elu(alpha, sp.Integer(1))


@register("selu", "activation")
def selu() -> Definition:
    """g(z) = λ·elu(z; α) with λ ≈ 1.0507, α ≈ 1.6733 (self-normalising constants)."""
    return _elu(SELU_ALPHA, SELU_LAMBDA)


@register("exponential", "activation")
def exponential() -> Definition:
    """g(z) = e^z; g' = g."""
    return Definition(
        expr=sp.exp(z),
        inputs=(z,),
        textbook=_g,
        output=_g,
        notes="e^z exceeds the largest float for z > log(max float) (709.78 in float64, 88.72 in float32); "
        "the stability check covers z up to there.",
        exp_growth=1.0,
    )
