"""The data layout of a compiled graph: its arrays' names, widths and aliases, arranged and checked.

:class:`GraphData` is the part of :class:`symdl.graph.compiled.CompiledGraph` that knows which arrays a call
takes and gives, from the model alone: the inputs and data targets by name (``X1``, ``Y2``) and alias (an
``Input``'s or an output layer's own name), each output's metric name (:attr:`GraphData.metric_outputs`, which
``fit``'s metrics and a generated graph module's ``metric_outputs`` read), the arrangement of data given as one
array, a sequence or a dict (:meth:`GraphData.arrange_data`), and the checks of the arrays' shapes and of the
targets against their losses' domains.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arguments import float_dtype
from ..backends.runtime_data import arrange
from ..excerpt import excerpt
from ..network.checks import (
    TARGETS_OFF,
    check_batch,
    check_optimizer_values,
    check_targets,
)
from ..network.rule_forms import TargetDomain, target_domain
from ..optim.base import Optimizer
from ..optim.registry import optimizer as named_optimizer

if TYPE_CHECKING:
    from ..training.tracked import MetricOutput
    from .model import Model

__all__ = ["GraphData"]


class GraphData:
    """The names, widths and aliases of a compiled graph's inputs, targets and outputs, and the arrangement and
    checks of its data arrays, from the model, the dtype and the optimizer alone (no code generated: what
    :func:`symdl.export.graph_modules.graph_module_source` reads; :class:`~symdl.graph.compiled.CompiledGraph`
    adds the generated numpy functions)."""

    def __init__(self, model: Model, dtype: object = "float64", optimizer: str | Optimizer | None = None,
                 validate_targets: bool = True) -> None:
        if not isinstance(validate_targets, bool):
            raise ValueError(f"validate_targets: expected True or False, got {excerpt(validate_targets)}")
        self.model = model
        self.dtype = float_dtype(dtype)
        self.validate_targets = validate_targets
        if isinstance(optimizer, str):
            optimizer = named_optimizer(optimizer)
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer: expected a name, a symdl.optim.Optimizer or None, got {type(optimizer).__name__}")
        if optimizer is not None:
            check_optimizer_values(optimizer, self.dtype)
        self.optimizer = optimizer
        if not model.terms:
            raise ValueError("Model: no loss term (give losses= or add_loss)")
        from .forms import LibraryForms

        train = model.equations(training=True, forms=LibraryForms(output_form=True))
        self.equations = train
        self.param_shapes = model.parameter_shapes
        self.param_names = (*train.params, *train.buffers)  # the trained arrays, then the buffers (moving statistics)
        self.trained_names = tuple(train.params)
        self._specs = tuple((k, self.param_shapes[k]) for k in self.param_names)
        self._inputs: tuple[tuple[str, int], ...] = tuple((train.names[x], x.shape[0]) for x in train.inputs)
        self._targets: tuple[tuple[str, int], ...] = tuple((train.names[y], y.shape[0]) for y in train.targets)
        self._domains: tuple[tuple[int, str, TargetDomain], ...] = self._target_domains() if validate_targets else ()
        self._masks_spec = tuple((symbol.shape[0], mask) for symbol, mask in train.masks.values())

    @property
    def input_names(self) -> tuple[str, ...]:
        """The name of each input array in generated code and data dicts (``X``, or ``X1``, ``X2``, …)."""
        return tuple(name for name, _ in self._inputs)

    @property
    def target_names(self) -> tuple[str, ...]:
        """The name of each data target in generated code and data dicts (``Y``, or ``Y1``, ``Y2``, …)."""
        return tuple(name for name, _ in self._targets)

    @property
    def input_aliases(self) -> tuple[str | None, ...]:
        """Each input's other key in data dicts: its ``Input``'s own name (None where it has none), as :attr:`input_names`."""
        return tuple(node.name for node in self.model.inputs)

    @property
    def target_aliases(self) -> tuple[str | None, ...]:
        """Each data target's other key in data dicts: its output layer's name (None where it has none), as :attr:`target_names`."""
        return tuple(getattr(term.node.layer, "name", None) for term in self.model.data_targets)

    @property
    def input_widths(self) -> tuple[int, ...]:
        """The width of each input array, in the order of ``model.inputs``."""
        return tuple(width for _, width in self._inputs)

    @property
    def target_widths(self) -> tuple[int, ...]:
        """The width of each target array, in the order of the data-target loss terms."""
        return tuple(width for _, width in self._targets)

    @property
    def output_widths(self) -> tuple[int, ...]:
        """The width of each output of ``forward``, in the order of ``model.outputs``."""
        return tuple(node.width for node in self.model.outputs)

    @property
    def metric_outputs(self) -> tuple[MetricOutput, ...]:
        """Each output of ``forward`` with a data target, as ``fit``'s metrics see it: its name (its layer's where
        that names one output only, else its target's: ``Y2``), the keys a metrics dict may use, the two indices."""
        from ..training.tracked import MetricOutput

        terms = self.model.data_targets
        found: list[tuple[int, int]] = []  # (output, its target): an output listed twice has a loss each time
        for k, node in enumerate(self.model.outputs):
            free = [j for j, t in enumerate(terms) if t.node is node and not t.auxiliary and j not in {i for _, i in found}]
            found += [(k, free[0])] if free else []
        layer_names = [getattr(self.model.outputs[k].layer, "name", None) for k, _ in found]  # an input as output: none
        out = []
        for (k, j), own in zip(found, layer_names):
            target = self._targets[j][0]
            name = own if own is not None and layer_names.count(own) == 1 else target
            out.append(MetricOutput(name, frozenset({name, target}), k, j))
        return tuple(out)

    @cached_property
    def output_loss_names(self) -> tuple[str, ...]:
        """``<output>_loss`` for each output with a loss of ``Model(losses=)``, named as its metrics are."""
        names = {o.target: o.name for o in self.metric_outputs}
        return tuple(f"{names[self.model.data_targets.index(t)]}_loss" for t in self.model.terms if not t.auxiliary)

    def arrange_data(self, inputs: object, targets: object, what: str = "X, Y") -> tuple[Any, Any]:
        """(inputs, targets) in the model's order: one array each where the model takes one, else tuples.

        Each side is one array, a sequence of arrays (in the order of
        ``model.inputs`` / the data-target loss terms) or a dict keyed by
        :attr:`input_names` / :attr:`target_names` (Keras' convention; an
        ``Input``'s own name and a target's output-layer name are taken too).
        The arrays are not checked here; ``what`` names the two sides in errors.
        """
        x_label, y_label = what.split(", ")
        xs = arrange(inputs, self._inputs, self.input_aliases, x_label)
        ys = arrange(targets, self._targets, self.target_aliases, y_label)
        return (xs[0] if len(xs) == 1 else tuple(xs)), (ys[0] if len(ys) == 1 else tuple(ys))

    def _data(self, inputs: object, targets: object) -> list[object]:
        xs = arrange(inputs, self._inputs, self.input_aliases, "inputs")
        ys = arrange(targets, self._targets, self.target_aliases, "targets")
        return [*xs, *ys]

    def _batch(self, arrays: Sequence[object], specs: tuple[tuple[str, int], ...], first: Any = None) -> list[np.ndarray]:
        out = [check_batch(a, name, width, self.dtype) for a, (name, width) in zip(arrays, specs)]
        rows = {a.shape[0] for a in out} | ({np.shape(first)[0]} if first is not None else set())
        if len(rows) > 1:
            raise ValueError(f"the arrays have different batch sizes {sorted(rows)}")
        return out

    def _target_domains(self) -> tuple[tuple[int, str, TargetDomain], ...]:
        """(index among inputs then data targets, its name, the domain) for every loss term whose loss has one."""
        model = self.model
        found = []
        for term in model.terms:
            domain = target_domain(term.rule)
            if domain is None:
                continue
            if term.target is None:
                k = model.data_targets.index(term)
                found.append((len(self._inputs) + k, self._targets[k][0], domain))
            else:
                k = model.inputs.index(term.target)
                found.append((k, self._inputs[k][0], domain))  # an input the term reconstructs
        return tuple(found)

    def _check_domains(self, arrays: Sequence[np.ndarray]) -> None:
        for index, name, domain in self._domains:
            check_targets(arrays[index], name, *domain.as_tuple())

    def check_targets(self, targets: object, name: str = "Y", *, allow: str = TARGETS_OFF) -> None:
        """A ValueError if a data target lies outside its loss's domain (BCE: 0 ≤ y ≤ 1; softmax CE: y ≥ 0, Σⱼ yⱼ = 1).

        ``targets`` is one array, a sequence in the order of the data-target loss terms (:attr:`Model.data_targets`)
        or a dict keyed by :attr:`target_names`. ``allow``: how the caller turns the check off, the line's tail
        (default ``compile(..., validate_targets=False)``; "" where the caller cannot, as on the command line).
        """
        ys = arrange(targets, self._targets, self.target_aliases, "targets")
        n = len(self._inputs)
        for index, label, domain in self._domains:
            if index >= n:
                spec_name, width = self._targets[index - n]
                shown = name if len(ys) == 1 else spec_name
                y = check_batch(ys[index - n], shown, width, self.dtype)
                check_targets(y, shown, *domain.as_tuple(), allow=allow)
