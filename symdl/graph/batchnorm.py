r"""BatchNorm in a graph (Keras' ``BatchNormalization``): hˢ = γ ⊙ (hᵘ − μ_B)/√(σ²_B + ε) + β, moving statistics kept.

Training normalises with the batch's mean μ_B and *biased* variance σ²_B
and, after each step, moves the buffers as Keras does:
moving_mean ← momentum·moving_mean + (1 − momentum)·μ_B, and moving_variance
likewise with σ²_B; inference normalises with the buffers. Every formula is
a stage of :data:`symdl.layers.batchnorm_symbolic.STAGES` (the network's batch
norm: the corrected two-pass forward, the closed-form VJP, the inference
transform, the moving average; each proven there), lowered to graph
equations by :func:`symdl.graph.batch_stages.lower`. The backward pass at
inference, where the statistics are constants, is ``sp.diff`` of the
inference stage.

Momentum: Keras' ``momentum`` weighs the old value (default 0.99); PyTorch's
``BatchNorm1d(momentum=μ)`` weighs the batch's, so μ = 1 − momentum, and
PyTorch's ``running_var`` averages the *unbiased* m/(m − 1)·σ²_B where Keras
(and this layer) average σ²_B. Keras' ε is 1e-3, PyTorch's 1e-5.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..arguments import finite_float, number_in_range
from ..excerpt import excerpt
from ..layers.batchnorm_algebra import STAGES, compose, epsilon, momentum
from .batch_stages import lower, pointwise
from .nodes import Backward, GraphLayer, GraphParameter, Use

__all__ = ["BatchNorm"]


def _momentum(value: object) -> float:
    x = finite_float(value)
    if x is None or not 0 <= x <= 1:
        raise ValueError(f"BatchNorm: momentum must be a number in [0, 1] (the weight of the old moving value; Keras' "
                         f"default 0.99, PyTorch's momentum μ is 1 − this), got {excerpt(value)}")
    return x


class BatchNorm(GraphLayer):
    """Keras' ``BatchNormalization(momentum=0.99, epsilon=1e-3)`` over the features of a node: γ (from 1) and β (from 0)
    trained, ``moving_mean`` (from 0) and ``moving_variance`` (from 1) kept in params as buffers."""

    computes_in_float32 = True

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None) -> None:
        super().__init__(name)
        self.momentum = _momentum(momentum)
        self.epsilon = number_in_range("BatchNorm: epsilon", epsilon, 0.0, None)

    def parameters(self) -> tuple[GraphParameter, ...]:
        (n,) = self.input_widths
        return (GraphParameter("gamma", (n,), 1.0), GraphParameter("beta", (n,), 0.0))

    def buffers(self) -> tuple[GraphParameter, ...]:
        (n,) = self.input_widths
        return (GraphParameter("moving_mean", (n,), 0.0), GraphParameter("moving_variance", (n,), 1.0))

    def _constants(self) -> dict[sp.Symbol, sp.Expr]:
        # the stages' momentum is PyTorch's (the batch value's weight): 1 − Keras' momentum
        return {epsilon: sp.Rational(repr(self.epsilon)), momentum: 1 - sp.Rational(repr(self.momentum))}

    def _inference_table(self, use: Use) -> dict[str, sp.MatrixExpr]:
        return {"x": use.inputs[0], "gamma": use.params["gamma"], "beta": use.params["beta"],
                "mean": use.state["moving_mean"], "var": use.state["moving_variance"]}

    def forward(self, use: Use) -> list[sp.Eq]:
        if not use.training:
            return lower(STAGES["inference"], self._inference_table(use), use, self._constants(), {"y": use.output}).equations
        table = {"x": use.inputs[0], "gamma": use.params["gamma"], "beta": use.params["beta"]}
        return lower(STAGES["train_forward"], table, use, self._constants(), {"y": use.output}).equations

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        if not use.training:  # fixed statistics: y = f(x, γ, β) entry by entry, its partials by sp.diff
            (stage,) = STAGES["inference"]
            expr = stage.expr.xreplace(self._constants())
            table = {**self._inference_table(use), "dy": upstream}
            dy = sp.IndexedBase("dy", real=True)[stage.indices]

            def partial(name: str) -> sp.MatrixExpr:
                entry = next(e for e in expr.atoms(sp.Indexed) if str(e.base.label) == name)
                return pointwise(rf"\partial_{{{name}}}y", dy * sp.diff(expr, entry), table)

            return Backward((), (partial("x"),), {"gamma": partial("gamma"), "beta": partial("beta")})
        table = {"dy": upstream, "gamma": use.params["gamma"], "inv_std": use.symbols["bn_inv_std_"],
                 "xhat": use.symbols["bn_xhat_"]}
        stages = {s.name: s for s in STAGES["train_backward"]}
        # γ/(m√(σ²+ε)) inlined into dx, where its 1/m cancels the m of m·dy − Σ dy − x̂ Σ dy x̂
        dx = replace(stages["dx"], expr=compose(stages["dx"].expr, [stages["gain_B"]]))
        lowered = lower([dx], table, use, self._constants())
        labelled = tuple((f"batch norm backward (node {use.index})", eq) for eq in lowered.equations)
        params = {}
        for name, stem in (("dgamma", "gamma"), ("dbeta", "beta")):  # Σ over the batch of one entry each: the printer sums
            (total,) = stages[name].expr.atoms(sp.Sum)
            params[stem] = pointwise(rf"\partial_{{{stem}}}", total.function, table)
        return Backward(labelled, (lowered.symbols["dx"],), params)

    def updates(self, use: Use) -> list[sp.Eq]:
        (ema,) = STAGES["ema"]
        out = []
        for buffer, value in (("moving_mean", "bn_mu_B_"), ("moving_variance", "bn_var_B_")):
            table = {"running": use.state[buffer], "value": use.symbols[value]}
            out += lower([ema], table, use, self._constants(), {"ema": use.state[buffer]}).equations
        return out

    def config(self) -> dict[str, object]:
        return {"momentum": self.momentum, "epsilon": self.epsilon}
