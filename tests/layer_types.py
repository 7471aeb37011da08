"""Layer types written only for the tests: they plug into symdl through the Layer seam alone."""

from __future__ import annotations

import sympy as sp

from symdl.layers.base import Layer, LayerSymbols, Symbol
from symdl.symbolic.array_nodes import Elementwise

__all__ = ["Scale"]


class Scale(Layer):
    """aˡ = c·hˡ after the activation, as an element-wise expression: the printers inline it, no module blocks."""

    position = "post"

    def __init__(self, c: float) -> None:
        self.c = c

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.c == self.c

    def __hash__(self) -> int:
        return hash((type(self), self.c))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.c})"

    def _expr(self) -> sp.Lambda:
        h = sp.Symbol("h", real=True)
        return sp.Lambda((h,), sp.Rational(self.c) * h)

    def symbols(self) -> tuple[Symbol, ...]:
        return (Symbol("h", "h^{@}"),)

    def input_symbol(self, s: LayerSymbols) -> sp.MatrixSymbol:
        return s["h"]

    def forward(self, s: LayerSymbols) -> list[sp.Eq]:
        return [sp.Eq(s.a, Elementwise("scale", self._expr(), s["h"]), evaluate=False)]

    def backward(self, s, upstream):
        (h,) = self._expr().variables
        derivative = sp.Lambda((h,), sp.diff(self._expr().expr, h))
        return [], sp.HadamardProduct(upstream, Elementwise("scale'", derivative, s["h"]))
