"""The dense block a network is a stack of: zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = φ(zˡ), with BP3 ∂C/∂bˡ = δˡ and BP4 ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ.

:class:`Dense` gives the block's width and its parameters; the layers of
:mod:`symdl.layers.base` attached to it act before or after its activation.
"""

from __future__ import annotations

import numbers

import sympy as sp

from ..symbolic.array_nodes import Elementwise
from .base import LayerSymbols, Parameter

__all__ = ["MAX_WIDTH", "PENALTY_GRADIENT", "Dense", "check_width", "linear_forward", "bias_gradient", "weight_gradient"]

#: The name of the penalty's term Ω'∘Wˡ in BP4 (an :class:`Elementwise`), as LaTeX shows it.
PENALTY_GRADIENT = r"\Omega'"
#: The widest layer accepted: numpy's index limit on the sizes arrays of this program will have (2³¹ − 1).
MAX_WIDTH = 2**31 - 1

WEIGHT = Parameter("W", "weight", ("out", "in"), init=None)
BIAS = Parameter("b", "bias", ("out",), init=0.0)


def check_width(n: object, where: str) -> int:
    """``n`` as a layer width, an integer from 1 to :data:`MAX_WIDTH`, else a ValueError."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= int(n) <= MAX_WIDTH:
        raise ValueError(f"{where}: widths are integers from 1 to {MAX_WIDTH}, got {n!r}")
    return int(n)


class Dense:
    """A dense block of ``width`` units: Wˡ (weight, from the initialisation scheme) and bˡ (bias, 0)."""

    def __init__(self, width: int) -> None:
        self.width = check_width(width, "Dense")

    def __repr__(self) -> str:
        return f"Dense({self.width})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dense) and self.width == other.width

    def __hash__(self) -> int:
        return hash((Dense, self.width))

    @staticmethod
    def parameters(with_bias: bool = True) -> tuple[Parameter, ...]:
        """(Wˡ, bˡ), or (Wˡ,) when a layer before the activation takes the bias's place."""
        return (WEIGHT, BIAS) if with_bias else (WEIGHT,)


def linear_forward(s: LayerSymbols, previous: sp.MatrixExpr) -> sp.Eq:
    """zˡ = Wˡaˡ⁻¹ + bˡ, or uˡ = Wˡaˡ⁻¹ when a pre layer takes the bias's place."""
    if s.has_bias:
        return sp.Eq(s.linear_output, s.W * previous + s.b, evaluate=False)
    return sp.Eq(s.linear_output, s.W * previous, evaluate=False)


def bias_gradient(s: LayerSymbols) -> tuple[str, sp.Eq]:
    """BP3: ∂C/∂bˡ = δˡ."""
    return (f"BP3 (layer {s.index})", sp.Eq(s.grad_b, s.delta, evaluate=False))


def weight_gradient(s: LayerSymbols, a_prev: sp.MatrixExpr, penalty: sp.Lambda | None) -> tuple[str, sp.Eq]:
    """BP4: ∂C/∂Wˡ = (∂C/∂ linear output)(aˡ⁻¹)ᵀ, plus Ω'∘Wˡ with a penalty."""
    grad_W = s.flowing * a_prev.T
    if penalty is not None:
        grad_W = sp.MatAdd(grad_W, Elementwise(PENALTY_GRADIENT, penalty, s.W), evaluate=False)
    return (f"BP4 (layer {s.index})", sp.Eq(s.grad_W, grad_W, evaluate=False))
