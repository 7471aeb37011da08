"""PReLU: hˢ = max(0, hᵘ) + α ⊙ min(0, hᵘ) with α learned, one slope per unit (Keras' ``PReLU``).

The layer applies the library's ``prelu`` rule g(z, α) to (hᵘ, α), its second
input a parameter of the layer: hˢ = g∘(hᵘ, α). What flows back is the rule's
own partials, as a network's learned activation input does
(:func:`symdl.backprop.equations.bp_equations`): the input receives
gˢ ⊙ ∂g/∂z(hᵘ, α) and α gets gˢ ⊙ ∂g/∂α(hᵘ, α) = gˢ ⊙ min(0, hᵘ) from this use,
summed over the batch (and over the uses of a shared layer). The kink at 0
follows the rule's PyTorch convention (∂g/∂z = α there).
"""

from __future__ import annotations

import sympy as sp

from ..backprop.equations import Elementwise
from ..excerpt import excerpt
from ..network.rule_forms import resolve_rule
from ..numbers import finite_float
from ..rulebook.rule import Rule
from .nodes import Backward, GraphLayer, GraphParameter, Use

__all__ = ["PReLU"]


def _start(value: object) -> float:
    x = finite_float(value)
    if x is None:
        raise ValueError(f"PReLU: alpha_init must be a finite number (every slope starts there), got {excerpt(value)}")
    return x


class PReLU(GraphLayer):
    """hˢ = max(0, hᵘ) + α ⊙ min(0, hᵘ), α of the input's width starting at ``alpha_init``
    (Keras' default 0, a ReLU at the start; PyTorch's ``nn.PReLU(num_parameters=n)`` starts at 0.25)."""

    value_stem = "a"

    def __init__(self, alpha_init: float = 0.0, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha_init = _start(alpha_init)
        self.rule: Rule = resolve_rule("prelu", "PReLU", ("activation",), None)  # type: ignore[assignment]

    def parameters(self) -> tuple[GraphParameter, ...]:
        (n,) = self.input_widths
        return (GraphParameter("alpha", (n,), self.alpha_init),)

    def forward(self, use: Use) -> list[sp.Eq]:
        act = use.forms.activation(self.rule)
        assert act.forward is not None  # an element-wise rule
        (x,) = use.inputs
        return [sp.Eq(use.output, Elementwise(act.name, act.forward, x, use.params["alpha"]), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        act = use.forms.activation(self.rule)
        assert act.derivative is not None and len(act.extra_partials) == 1
        (x,) = use.inputs
        alpha = use.params["alpha"]
        to_input = sp.HadamardProduct(upstream, Elementwise(act.name + "'", act.derivative, x, alpha))
        to_alpha = sp.HadamardProduct(upstream, Elementwise(rf"\partial_{{\alpha}}{act.name}", act.extra_partials[0], x, alpha))
        return Backward((), (to_input,), {"alpha": to_alpha})

    def config(self) -> dict[str, object]:
        return {"alpha_init": self.alpha_init} if self.alpha_init else {}
