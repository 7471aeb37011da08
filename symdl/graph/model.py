"""A model as a graph of layers: inputs, outputs, the weighted loss terms, and what its parameters are called.

C = Σₜ cₜ Σⱼ ℓₜ(hᵗⱼ, yᵗⱼ) + Σ_θ Σ Ω(θ), per sample, averaged over the batch:
one term per output with a loss (``Model(..., losses=, loss_weights=)``) and
one per :meth:`Model.add_loss` (an auxiliary loss on any node, its target a
data array or an input of the model, as the notebook's reconstruction loss);
cₜ is the weight, divided by the node's width for ``reduction="mean"``
(Keras' ``mse`` averages over the features, symdl's ``Network`` sums).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..arguments import non_negative_number
from ..excerpt import excerpt
from ..network.rule_forms import resolve_rule, warn_logits_loss
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule
from .nodes import GraphLayer, Node, check_unique_names

if TYPE_CHECKING:
    from ..optim.base import Optimizer
    from .compiled import CompiledGraph
    from .equations import GraphEquations
    from .forms import Forms

__all__ = ["LossTerm", "Model"]


@dataclass(frozen=True)
class LossTerm:
    """cₜ Σⱼ ℓ(hⱼ, yⱼ) on ``node``; ``target`` an input node of the model, or None for a data target."""

    node: Node
    rule: Rule | VectorRule
    weight: float
    reduction: str
    target: Node | None
    auxiliary: bool = False

    @property
    def coefficient(self) -> sp.Expr:
        """cₜ: the weight, over the node's width for a mean; exact (the decimal the weight prints as)."""
        return sp.Rational(repr(self.weight)) * self.unweighted_coefficient

    @property
    def unweighted_coefficient(self) -> sp.Expr:
        """cₜ without the weight: 1/width for a mean (Keras' losses average over the features), else 1."""
        return sp.Rational(1, self.node.width) if self.reduction == "mean" else sp.Integer(1)


def _as_nodes(value: Node | Sequence[Node], what: str) -> tuple[Node, ...]:
    nodes = (value,) if isinstance(value, Node) else tuple(value) if isinstance(value, (list, tuple)) else None
    if not nodes or not all(isinstance(n, Node) for n in nodes):
        raise TypeError(f"Model: {what} must be a node or a list of nodes, got {excerpt(value)}")
    return nodes


class Model:
    """A graph of layers from ``inputs`` to ``outputs`` (Keras' functional ``Model``), with its loss terms.

    ``losses`` names a loss rule per output (one name for all; None entries:
    an output without a loss), ``loss_weights`` their weights (default 1).
    """

    def __init__(self, inputs: Node | Sequence[Node], outputs: Node | Sequence[Node], losses: object = "mse",
                 loss_weights: Sequence[float] | None = None, reduction: str = "sum") -> None:
        self.inputs = _as_nodes(inputs, "inputs")
        self.outputs = _as_nodes(outputs, "outputs")
        if any(not n.is_input for n in self.inputs):
            raise ValueError("Model: inputs must be symdl.graph.Input(...) nodes")
        if len(set(map(id, self.inputs))) != len(self.inputs):
            raise ValueError("Model: an input is listed twice")
        n = len(self.outputs)
        if isinstance(losses, Collection) and not isinstance(losses, (str, list, tuple)):
            raise ValueError(f"Model: losses must be a loss name or rule, or a list with one per output ({n} here), "
                             f"got {type(losses).__name__}")
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, np.ndarray)):
            raise ValueError(f"Model: loss_weights must be a list of numbers, one per output ({n} here), got {excerpt(loss_weights)}")
        specs = list(losses) if isinstance(losses, (list, tuple)) else [losses] * n
        weights = [1.0] * n if loss_weights is None else list(loss_weights)
        if len(specs) != len(self.outputs) or len(weights) != len(self.outputs):
            raise ValueError(f"Model: {len(self.outputs)} outputs, {len(specs)} losses and {len(weights)} loss weights")
        self.terms: list[LossTerm] = []
        self._cache: dict[object, object] = {}
        for out, spec, w in zip(self.outputs, specs, weights):
            weight = non_negative_number(w, "loss weight")  # an output without a loss too: a weight there is still a number ≥ 0
            if spec is not None:
                self._add(out, spec, weight, reduction, None)
        self._check_names()

    def add_loss(self, node: Node, loss: object = "mse", target: Node | None = None, weight: float = 1.0,
                 reduction: str = "sum") -> Model:
        """Add cₜ Σⱼ ℓ(hⱼ, yⱼ) on any node (an auxiliary loss); ``target`` an input of the model or None (data)."""
        if not isinstance(node, Node):
            raise TypeError(f"add_loss: node must be a node of the graph, got {excerpt(node)}")
        if target is not None and not (isinstance(target, Node) and any(target is i for i in self.inputs)):
            raise ValueError("add_loss: target must be one of the model's inputs (or None for a data target)")
        self._add(node, loss, non_negative_number(weight, "loss weight"), reduction, target, auxiliary=True)
        self._cache.clear()
        return self

    def _add(self, node: Node, spec: object, weight: float, reduction: str, target: Node | None, auxiliary: bool = False) -> None:
        rule = resolve_rule(spec, "loss", ("loss",), None)
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction: expected 'sum' or 'mean', got {excerpt(reduction)}")
        if target is not None and target.width != node.width:
            raise ValueError(f"add_loss: the node has width {node.width}, its target {target.width}")
        self.terms.append(LossTerm(node, rule, non_negative_number(weight, "loss weight"), reduction, target, auxiliary))
        self._cache.clear()
        if auxiliary:  # the loss's node may reach layers the outputs do not
            try:
                self._check_names()
            except ValueError:
                self.terms.pop()
                self._cache.clear()
                raise
        if node.layer is not None:  # stacklevel: the caller of Model(...) or add_loss(...)
            warn_logits_loss(node.layer.output_activation(), rule, "add_loss" if auxiliary else "Model",
                             "no activation on that node (Dense(units) without activation=)", stacklevel=4)

    def _check_names(self) -> None:
        """One ValueError line for a name given to two inputs or layers (Keras refuses it when the model is built too);
        a shared layer is one layer, named once."""
        check_unique_names([n.name for n in self.inputs] + [l.name for l in self.layers], ValueError,
                           ["Model"] * (len(self.inputs) + len(self.layers)))

    # --- the graph ---------------------------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node the outputs and loss terms depend on, inputs first, each after the nodes it reads."""
        if "nodes" not in self._cache:
            order: list[Node] = list(self.inputs)
            seen = {n.uid for n in order}
            roots = [*self.outputs, *(t.node for t in self.terms)]
            for root in roots:
                stack = [(root, iter(root.inputs))]
                if root.uid in seen:
                    continue
                while stack:
                    node, pending = stack[-1]
                    child = next((c for c in pending if c.uid not in seen), None)
                    if child is None:
                        stack.pop()
                        if node.uid not in seen:
                            if node.is_input:
                                raise ValueError(f"Model: the graph reads {node!r}, which is not among the model's inputs")
                            seen.add(node.uid)
                            order.append(node)
                    else:
                        stack.append((child, iter(child.inputs)))
            self._cache["nodes"] = tuple(order)
        return self._cache["nodes"]  # type: ignore[return-value]

    @property
    def layers(self) -> tuple[GraphLayer, ...]:
        """The distinct layer objects, in order of first use (a shared layer once)."""
        out: list[GraphLayer] = []
        for n in self.nodes:
            if n.layer is not None and not any(n.layer is l for l in out):
                out.append(n.layer)
        return tuple(out)

    def parameter_index(self, layer: GraphLayer) -> int:
        """The number in a layer's parameter keys (W3, b3): its rank among the layers with parameters."""
        weighted = [l for l in self.layers if l.parameters()]
        return next(i for i, l in enumerate(weighted, 1) if l is layer)

    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every key of params (``W1``, ``b1``, …) with its shape: the trained ones, then the buffers (``moving_mean3``)."""
        weighted = [l for l in self.layers if l.parameters()]
        return {f"{p.stem}{self.parameter_index(l)}": p.shape for kind in ("parameters", "buffers") for l in weighted
                for p in getattr(l, kind)()}

    @property
    def data_targets(self) -> tuple[LossTerm, ...]:
        """The loss terms whose target is a data array (given to loss and train_step in this order)."""
        return tuple(t for t in self.terms if t.target is None)

    def equations(self, training: bool = True, forms: Forms | None = None, mutation: str | None = None) -> GraphEquations:
        """The graph's forward equations and generalised backprop (:func:`symdl.graph.equations.derive`)."""
        from .equations import derive
        from .forms import LibraryForms

        # LibraryForms holds nothing but output_form: its equations are cached as the default forms' (a module printed
        # for each backend and dtype derives the graph once)
        key = (("eqs", training, mutation) if forms is None
               else ("eqs", training, mutation, forms.output_form) if type(forms) is LibraryForms else None)
        if key is not None and key in self._cache:
            return self._cache[key]  # type: ignore[return-value]
        eqs = derive(self, training=training, forms=forms, mutation=mutation)
        if key is not None:
            self._cache[key] = eqs
        return eqs

    def compile(self, dtype: str | np.dtype | type = "float64", optimizer: str | Optimizer | None = None, *,
                validate_targets: bool = True) -> CompiledGraph:
        """The model as generated numpy code: init, forward, inference_loss, loss, loss_and_grad, train_step.

        ``validate_targets`` (default True): every loss term's target (a data array, or the input it
        reconstructs) must lie in its loss's domain — binary cross-entropy 0 ≤ y ≤ 1, softmax cross-entropy rows of
        non-negative numbers summing to 1 — else one ValueError; False computes the loss for any finite target.
        """
        from .compiled import CompiledGraph

        return CompiledGraph(self, dtype, optimizer, validate_targets)

    def __repr__(self) -> str:
        return f"Model({len(self.inputs)} input(s), {len(self.outputs)} output(s), {len(self.nodes) - len(self.inputs)} nodes, {len(self.terms)} loss term(s))"
