"""Nodes and the :class:`GraphLayer` seam: hˢ = f(hᵘ¹, …, hᵘᵏ; θ) for one node s of a model's graph.

A node is a per-sample column vector (width n): an :func:`Input`, or a layer
called on nodes. Calling the *same* layer object on several nodes makes
several uses of one parameter set θ (weight sharing). A layer type says
what one use computes and what flows back through it, as SymPy matrix
expressions over MatrixSymbols (the same nodes as BP1–BP4):

* :meth:`GraphLayer.forward` — the equations from the inputs hᵘ to the output hˢ;
* :meth:`GraphLayer.backward` — given gˢ = ∂C/∂hˢ: its own labelled equations
  (Dense's δˢ = gˢ ⊙ φ′(zˢ)), the VJP Jᵢᵀgˢ for each input (None: nothing flows,
  StopGradient) and each parameter's contribution ∂C/∂θ from this use.

:mod:`symdl.graph.equations` sums the VJPs over a node's consumers and the
contributions over a parameter's uses; nothing else names a layer type, so a
new one (a custom layer written as a formula) is one subclass.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sympy as sp

from ..arguments import positive_int
from ..excerpt import excerpt

if TYPE_CHECKING:
    from ..rulebook.rule import Rule
    from ..rulebook.vector_rule import VectorRule
    from .constraints import Constraint
    from .forms import Forms

__all__ = ["Backward", "GraphLayer", "GraphParameter", "Input", "Mask", "Node", "Use", "check_name", "check_unique_names", "graph_layer_types"]

_NODE_IDS = itertools.count()
_GRAPH_LAYER_TYPES: dict[str, type[GraphLayer]] = {}


def graph_layer_types() -> dict[str, type[GraphLayer]]:
    """Every :class:`GraphLayer` subclass by class name: what a model's config may name (nothing else is built)."""
    return dict(_GRAPH_LAYER_TYPES)


@dataclass(frozen=True)
class GraphParameter:
    """A trained array of a layer: stem (``W`` → key ``W1``), shape, and its start (an init scheme name or a constant)."""

    stem: str
    shape: tuple[int, ...]
    init: str | float = 0.0


@dataclass(frozen=True)
class Mask:
    """A random array of one use, drawn from the seed in training and held fixed: ``"gaussian"`` (× stddev) or ``"bernoulli"`` (keep 1 − p)."""

    stem: str
    draw: str
    value: float


@dataclass
class Use:
    """One use of a layer in a graph: the symbols it reads and writes, its parameters', masks' and own intermediates'.

    ``own(stem, width)`` is a per-use symbol (Dense's zˢ: ``z^{s}``); ``forms``
    turns a rule into the SymPy functions the equations apply.
    """

    index: int
    inputs: tuple[sp.MatrixSymbol, ...]
    output: sp.MatrixSymbol
    params: Mapping[str, sp.MatrixSymbol]
    masks: Mapping[str, sp.MatrixSymbol]
    training: bool
    forms: Forms
    symbols: dict[str, sp.MatrixSymbol] = field(default_factory=dict)
    #: The layer's buffers (:meth:`GraphLayer.buffers`) by stem: state read at inference, updated by a training step.
    state: Mapping[str, sp.MatrixSymbol] = field(default_factory=dict)
    #: The own symbols that hold one value for the whole batch (batch norm's μ_B), not one per sample.
    per_batch: set[sp.MatrixSymbol] = field(default_factory=set)

    def own(self, stem: str, latex: str, width: int, per_batch: bool = False) -> sp.MatrixSymbol:
        """The per-use symbol ``latex`` with ``@`` → the use's index (``z^{@}`` → ``z^{3}``), keyed by ``stem``;
        ``per_batch``: one value for the whole batch (a statistic over its rows) rather than one per sample."""
        if stem not in self.symbols:
            self.symbols[stem] = sp.MatrixSymbol(latex.replace("@", str(self.index)), width, 1)
            if per_batch:
                self.per_batch.add(self.symbols[stem])
        return self.symbols[stem]


@dataclass(frozen=True)
class Backward:
    """What flows back through one use: labelled equations, a VJP per input (None: no gradient), ∂C/∂θ per stem."""

    equations: tuple[tuple[str, sp.Eq], ...] = ()
    vjps: tuple[sp.MatrixExpr | None, ...] = ()
    params: Mapping[str, sp.MatrixExpr] = field(default_factory=dict)


class GraphLayer(abc.ABC):
    """A layer type of a graph: called on nodes it returns a new node; called again it shares its parameters."""

    #: How many inputs a call takes (None: two or more, as a merge).
    arity: int | None = 1
    #: Whether gradients flow through the layer to its inputs (False for StopGradient).
    passes_gradient: bool = True
    #: The LaTeX stem of a use's output (``h`` → hˢ); Dense names its own (zˢ or aˢ).
    value_stem: str = "h"
    #: Mixed precision: the layer computes in float32 (its parameters and buffers float32 masters never cast, its batch
    #: statistics accumulated in float32) and casts what leaves it, its output and its inputs' error signals, back to
    #: the compute dtype (batch norm, as torch's batch norm kernels and flax's ``BatchNorm`` do).
    computes_in_float32: bool = False

    #: The name a config gives this type (its class name; module-qualified when another type took that name first).
    config_name: str = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        taken = cls.__name__ in _GRAPH_LAYER_TYPES and _GRAPH_LAYER_TYPES[cls.__name__].__qualname__ != cls.__qualname__
        cls.config_name = f"{cls.__module__}.{cls.__qualname__}" if taken else cls.__name__
        _GRAPH_LAYER_TYPES[cls.config_name] = cls

    def __init__(self, name: str | None = None) -> None:
        self.name = check_name(name, type(self).__name__)
        self._widths: tuple[int, ...] | None = None

    def __call__(self, *inputs: Node | Sequence[Node]) -> Node:
        given = tuple(inputs[0]) if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) else inputs
        nodes = tuple(n for n in given if isinstance(n, Node))
        if not nodes or len(nodes) != len(given):
            wrong = next((n for n in given if not isinstance(n, Node)), inputs)  # an array's repr spans lines: excerpt
            raise TypeError(f"{type(self).__name__}: call it on nodes (symdl.graph.Input(...) or a layer's output), "
                            f"got {excerpt(wrong)}")
        if self.arity is not None and len(nodes) != self.arity:
            raise ValueError(f"{type(self).__name__} takes {self.arity} input(s), got {len(nodes)}")
        if self.arity is None and len(nodes) < 2:
            raise ValueError(f"{type(self).__name__} merges two or more nodes, got {len(nodes)}")
        widths = tuple(n.width for n in nodes)
        if self._widths is None:
            width = self.output_width(widths)
            self._widths = widths
            self._out = width
        elif widths != self._widths:
            raise ValueError(f"{self!r} was built for inputs of widths {self._widths}; a shared layer needs the same widths, got {widths}")
        return Node(self, nodes, self._out)

    @property
    def built(self) -> bool:
        return self._widths is not None

    @property
    def input_widths(self) -> tuple[int, ...]:
        if self._widths is None:
            raise ValueError(f"{self!r} has not been called on a node yet")
        return self._widths

    def output_width(self, widths: tuple[int, ...]) -> int:
        """The output's width for inputs of ``widths`` (checks them): by default the common width of the inputs."""
        if len(set(widths)) != 1:
            raise ValueError(f"{type(self).__name__}: inputs of different widths {widths}")
        return widths[0]

    def value_latex(self) -> str:
        """The LaTeX of a use's output with ``@`` for the use's index."""
        return f"{self.value_stem}^{{@}}"

    def parameters(self) -> tuple[GraphParameter, ...]:
        return ()

    def masks(self) -> tuple[Mask, ...]:
        """Random arrays a use draws in training (none at inference)."""
        return ()

    def buffers(self) -> tuple[GraphParameter, ...]:
        """Arrays kept in params but not trained (batch norm's moving statistics): read at inference, updated by
        :meth:`updates` after each training step; keys ``<stem><layer number>`` as parameters'."""
        return ()

    def updates(self, use: Use) -> list[sp.Eq]:
        """In training, each buffer's new value after a step: ``Eq(buffer, expression)`` (read before the step's update)."""
        return []

    def output_activation(self) -> Rule | VectorRule | None:
        """The activation rule the layer's output is the value of (Dense's φ, Activation's rule); None for any other output."""
        return None

    def penalties(self) -> Mapping[str, Rule]:
        """Parameter stem → the penalty rule Ω added to C (Σ Ω(θ)) once per parameter, not per use."""
        return {}

    def constraints(self) -> Mapping[str, Constraint]:
        """Parameter stem → the projection θ ← P(θ) applied after each step (projected gradient descent)."""
        return {}

    @abc.abstractmethod
    def forward(self, use: Use) -> list[sp.Eq]:
        """Equations from ``use.inputs`` to ``use.output`` in ``use.training``'s mode."""

    @abc.abstractmethod
    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        """Given gˢ = ∂C/∂hˢ (``upstream``): own equations, a VJP per input, ∂C/∂θ from this use."""

    def config(self) -> dict[str, object]:
        """The constructor's arguments, for ``repr`` (rules by name)."""
        return {}

    def to_config(self) -> dict[str, object]:
        """The constructor's arguments as JSON values (rules described by :func:`symdl.saving.describe.describe_rule`)."""
        return self.config()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GraphLayer:
        """The layer :meth:`to_config` describes."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class Node:
    """A per-sample vector in a graph: an input of the model, or ``layer(*inputs)``; ``width`` entries."""

    def __init__(self, layer: GraphLayer | None, inputs: tuple[Node, ...], width: int, name: str | None = None) -> None:
        self.layer = layer
        self.inputs = inputs
        self.width = width
        self.name = name
        self.uid = next(_NODE_IDS)

    @property
    def is_input(self) -> bool:
        return self.layer is None

    @property
    def computed_by(self) -> GraphLayer:
        """The layer whose output this node is; a ValueError for an input, which no layer computes."""
        if self.layer is None:
            raise ValueError(f"{self!r} is an input of the model; no layer computes it")
        return self.layer
    def __repr__(self) -> str:
        if self.layer is None:
            return f"Input({self.width}{', name=' + repr(self.name) if self.name else ''})"
        return f"<node {type(self.layer).__name__} width {self.width}>"


def check_name(name: object, what: str) -> str | None:
    """``name`` if it is None or identifier-like (letters, digits and ``_``, not first a digit; at most 100 characters)."""
    if name is not None and not (isinstance(name, str) and name.isidentifier() and len(name) <= 100):
        raise ValueError(f"{what}: name must be an identifier (letters, digits and _, not starting with a digit, "
                         f"at most 100 characters), got {excerpt(name)}")
    return name


def check_unique_names(names: Sequence[str | None], error: type[ValueError] = ValueError, where: Sequence[str] | None = None) -> None:
    """Names of inputs and layers appear once each (they key data dicts, metrics and saved layers), else one ``error`` line."""
    seen: set[str] = set()
    for k, name in enumerate(names):
        if name is not None and name in seen:
            place = f"{where[k]}: " if where else ""
            raise error(f"{place}the name {name!r} is given twice; names of inputs and layers must be unique")
        if name is not None:
            seen.add(name)


def Input(width: int, name: str | None = None) -> Node:
    """An input of the model: a batch of rows of ``width`` numbers (Keras' ``Input(shape=[width])``)."""
    if isinstance(width, (list, tuple)) and len(width) == 1:
        width = width[0]
    return Node(None, (), positive_int(width, "Input: width"), check_name(name, "Input"))
