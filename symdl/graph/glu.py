"""GLU: hˢ = α ⊙ σ(β), α and β the two halves of hᵘ (``torch.nn.functional.glu`` along the features).

The layer is a composition of nodes the graph already has, each a per-use
vector: the halves αˢ = hᵘ₁:ₘ and βˢ = hᵘₘ₊₁:₂ₘ (:class:`~symdl.graph.blocks.Slice`),
the gate σˢ = σ(βˢ) (the library's ``sigmoid`` rule, as :class:`~symdl.graph.layers.Activation`)
and hˢ = αˢ ⊙ σˢ (:class:`~symdl.graph.layers.Multiply`). What flows back is
those nodes' own VJPs chained: Multiply's partials (derived by SymPy from
u₁u₂), the sigmoid rule's derivative, and a slice's transpose, which stacks the
two halves' gradients back into one column (:class:`~symdl.graph.blocks.Concat`).
:func:`symdl.graph.proofs.prove_graph` checks the chain against ``sp.diff`` of C.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import sympy as sp

from .blocks import Concat, Slice
from .layers import Multiply, _activation_rule, _apply, _times_derivative
from .nodes import Backward, GraphLayer, Use

__all__ = ["GLU"]


class GLU(GraphLayer):
    """hˢ = α ⊙ σ(β) with [α; β] = hᵘ split in two halves of m entries (width 2m → m); no weights."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._gate = _activation_rule("sigmoid", "GLU")
        self._product = Multiply()

    def output_width(self, widths: tuple[int, ...]) -> int:
        (width,) = widths
        if width % 2:
            raise ValueError(f"GLU: splits its input in two halves, so its width must be even, got {width}")
        return width // 2

    def _nodes(self, use: Use) -> tuple[sp.MatrixSymbol, sp.MatrixSymbol, sp.MatrixSymbol]:
        m = use.output.shape[0]
        # Names of their own: a half called b³ (code "b3") would read as a bias.
        return use.own("glu_a", r"\alpha^{@}", m), use.own("glu_b", r"\beta^{@}", m), use.own("glu_s", r"\sigma^{@}", m)

    def forward(self, use: Use) -> list[sp.Eq]:
        (x,) = use.inputs
        a, b, s = self._nodes(use)
        m = a.shape[0]
        return [sp.Eq(a, Slice(x, 0, m), evaluate=False), sp.Eq(b, Slice(x, m, 2 * m), evaluate=False),
                sp.Eq(s, _apply(use, self._gate, b), evaluate=False),
                sp.Eq(use.output, self._product.matrix_form((a, s)), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        a, b, s = self._nodes(use)
        to_a, to_s = cast(tuple[sp.MatrixExpr, sp.MatrixExpr], self._product.backward(replace(use, inputs=(a, s)), upstream).vjps)
        to_b = _times_derivative(use, self._gate, to_s, b, s)
        return Backward((), (Concat(to_a, to_b),))
