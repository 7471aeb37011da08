"""Layer l of a network as the symbols it owns, and the :class:`Layer` seam: what a layer type contributes.

A network is a stack of dense blocks, zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = φ(zˡ). A layer
type acts at one of two places of a block:

* ``"pre"``, between the linear map and the activation: uˡ = Wˡaˡ⁻¹ (the
  layer may take the bias's place), then zˡ = f(uˡ, …) — batch norm;
* ``"post"``, after the activation: hˡ = φ(zˡ), then aˡ = f(hˡ, …) — dropout.

A layer contributes its :class:`Parameter` s (with their kind and initial
value), :class:`Buffer` s (state that is not trained), :class:`Mask` s
(random draws held fixed through one call), :class:`StateUpdate` s (what
``train_step`` writes besides the gradient step), its forward and backward
equations (SymPy, in the node classes of :mod:`symdl.symbolic.array_nodes`),
the numeric kernels those equations call, its proofs and the report section
that derives it. The network and the printers ask their layers; nothing
else names a layer type, so a new one is one module (see docs/architecture.md).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import sympy as sp

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..rulebook.step import Math, Step
    from ..symbolic.proof import Proof

__all__ = [
    "Buffer",
    "Layer",
    "LayerReport",
    "LayerSymbols",
    "Mask",
    "Parameter",
    "ParameterKind",
    "StateUpdate",
    "Symbol",
    "layer_types",
]

ParameterKind = Literal["weight", "bias", "scale", "shift", "activation"]
#: Where a layer acts in its block: before the activation (on uˡ) or after it (on hˡ = φ(zˡ)).
Position = Literal["pre", "post"]


@dataclass(frozen=True)
class Symbol:
    """One symbol of layer l: its code stem (``u`` → ``u1``), its LaTeX with ``@`` for l (``u^{@}`` → ``u^{1}``), and whether it holds rows."""

    stem: str
    latex: str
    batched: bool = True

    def matrix(self, l: int, width: sp.Symbol) -> sp.MatrixSymbol:
        """The (width × 1) matrix symbol of this quantity in layer ``l``."""
        return sp.MatrixSymbol(self.latex.replace("@", str(l)), width, 1)


@dataclass(frozen=True)
class Parameter:
    """A trained array of layer l, key ``{name}{l}``: its shape in widths (``("out", "in")`` is (nₗ, nₗ₋₁)), kind and start.

    ``init`` is the constant it starts at; a ``"weight"`` is drawn from the
    initialisation scheme instead (:mod:`symdl.layers.init_schemes`).
    """

    name: str
    kind: ParameterKind
    shape: tuple[Literal["out", "in"], ...] = ("out",)
    init: float | None = 0.0
    latex: str | None = None

    def concrete_shape(self, n_out: int, n_in: int) -> tuple[int, ...]:
        return tuple(n_out if d == "out" else n_in for d in self.shape)


@dataclass(frozen=True)
class Buffer:
    """State of layer l that is not trained (batch norm's running mean), key ``{name}{l}``, shape (nₗ,), starting at ``init``."""

    name: str
    init: float
    latex: str


@dataclass(frozen=True)
class Mask:
    """A random 0/1 array of layer l, drawn once per call from the seed and held fixed (dropout's rˡ)."""

    name: str
    latex: str


@dataclass(frozen=True)
class StateUpdate:
    """What ``train_step`` does to buffers after the gradient step: ``buffers = kernel(buffers…, inputs…, X.shape[0])``."""

    kernel: str
    buffers: tuple[str, ...]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class LayerSymbols:
    """The matrix symbols of dense block l (one sample, column vectors): Wˡ, bˡ, zˡ, aˡ, δˡ and the gradients.

    ``extra`` are learned activation inputs (PReLU's α). ``pre`` and ``post``
    are the layers acting in this block (None where none does, or where the
    layer is the identity in this mode, as dropout at inference); ``own``
    maps each of their symbols' stems to the symbol.
    """

    index: int
    width: sp.Symbol
    W: sp.MatrixSymbol
    b: sp.MatrixSymbol
    z: sp.MatrixSymbol
    a: sp.MatrixSymbol
    delta: sp.MatrixSymbol
    grad_W: sp.MatrixSymbol
    grad_b: sp.MatrixSymbol
    grad_a: sp.MatrixSymbol
    extra: tuple[sp.MatrixSymbol, ...] = ()
    grad_extra: tuple[sp.MatrixSymbol, ...] = ()
    pre: Layer | None = None
    post: Layer | None = None
    training: bool = True
    own: Mapping[str, sp.MatrixSymbol] = field(default_factory=dict)

    def __getitem__(self, stem: str) -> sp.MatrixSymbol:
        """The symbol a layer of this block named ``stem`` (``layer["u"]`` is uˡ)."""
        return self.own[stem]

    @property
    def parts(self) -> tuple[Layer, ...]:
        return tuple(p for p in (self.pre, self.post) if p is not None)

    @property
    def has_bias(self) -> bool:
        return not any(p.replaces_bias for p in self.parts)

    @property
    def activation_output(self) -> sp.MatrixSymbol:
        """φ(zˡ) itself: hˡ when a post layer follows the activation, else aˡ."""
        return self.post.input_symbol(self) if self.post is not None else self.a

    @property
    def linear_output(self) -> sp.MatrixSymbol:
        """What the linear map writes: uˡ when a pre layer follows it, else zˡ."""
        return self.pre.input_symbol(self) if self.pre is not None else self.z

    @property
    def flowing(self) -> sp.MatrixSymbol:
        """∂C/∂(linear map's output): the pre layer's input gradient, else δˡ (BP2 and BP4 use it)."""
        return self.pre.input_gradient(self) if self.pre is not None else self.delta


@dataclass(frozen=True)
class LayerReport:
    """What the derivation report shows of a layer type: its definition, derivation steps and proofs (SymPy objects).

    The report (:func:`symdl.report.layer_sections.layer_section`) turns it
    into a section keyed :attr:`Layer.report_section`; ``proofs`` is empty
    when the report is built without verification.
    """

    title: str
    summary: str
    definition: tuple[Math, ...]
    steps: tuple[Step, ...]
    proofs: Mapping[str, Proof | bool] = field(default_factory=dict)


_LAYER_TYPES: list[type[Layer]] = []


def layer_types() -> tuple[type[Layer], ...]:
    """Every :class:`Layer` subclass, in the order their modules defined them (dense, batch norm, dropout, …)."""
    return tuple(_LAYER_TYPES)


class Layer(abc.ABC):
    """A layer type acting at ``position`` in each block it is attached to; subclasses fill in the contributions.

    Equations are built for one block's :class:`LayerSymbols` ``s``; a
    layer's own symbols are ``s[stem]`` for the stems of :attr:`symbols`.
    """

    #: "pre" (on the linear map's output, before φ) or "post" (on φ's output).
    position: Position = "post"
    #: A pre layer that carries its own shift takes the place of the block's bias (batch norm's β).
    replaces_bias: bool = False
    #: The key of the report section that derives this layer type (from :meth:`report`), if any.
    report_section: str | None = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _LAYER_TYPES.append(cls)

    # --- what the layer owns -------------------------------------------------------------------------------------

    def symbols(self) -> tuple[Symbol, ...]:
        """Every symbol of the layer in a block (parameters, their gradients, intermediates, buffers, masks)."""
        return ()

    def parameters(self) -> tuple[Parameter, ...]:
        """Trained arrays, in the order they follow the block's W (and b) in params."""
        return ()

    def buffers(self) -> tuple[Buffer, ...]:
        return ()

    def masks(self) -> tuple[Mask, ...]:
        return ()

    def state_updates(self) -> tuple[StateUpdate, ...]:
        return ()

    def kept_for_backward(self, s: LayerSymbols) -> tuple[sp.MatrixSymbol, ...]:
        """Forward values the backward pass or a state update reads besides the equations' own (batch statistics)."""
        return ()

    def active(self, training: bool) -> bool:
        """Whether the layer does anything in this mode (dropout is the identity at inference)."""
        return True

    # --- equations ------------------------------------------------------------------------------------------------

    def input_symbol(self, s: LayerSymbols) -> sp.MatrixSymbol:
        """The symbol this layer reads: uˡ (pre) or hˡ (post)."""
        raise NotImplementedError(f"{type(self).__name__} names no input symbol")

    def input_gradient(self, s: LayerSymbols) -> sp.MatrixSymbol:
        """∂C/∂(input), for a pre layer: BP2 and BP4 read it in place of δˡ."""
        raise NotImplementedError(f"{type(self).__name__} gives no input gradient")

    @abc.abstractmethod
    def forward(self, s: LayerSymbols) -> list[sp.Eq]:
        """Equations from :meth:`input_symbol` to zˡ (pre) or to aˡ (post), in ``s.training``'s mode."""

    @abc.abstractmethod
    def backward(self, s: LayerSymbols, upstream: sp.MatrixExpr) -> tuple[list[tuple[str, sp.Eq]], sp.MatrixExpr]:
        """(labelled equations, upstream gradient after this layer).

        A post layer maps ∂C/∂aˡ to ∂C/∂hˡ (usually an expression, no
        equation); a pre layer is given δˡ = ∂C/∂zˡ and writes its input's
        and parameters' gradients.
        """

    # --- numbers, proofs, report ----------------------------------------------------------------------------------

    def numeric_kernels(self, layers: tuple[tuple[int, int], ...], dtype: np.dtype) -> dict[str, Callable[..., object]]:
        """The functions the equations call by name (KernelCall, state updates, mask draws), for the numpy network.

        ``layers`` holds (l, nₗ) of every block this layer type is attached to.
        """
        return {}

    def module_blocks(self, widths: tuple[int, ...], backend: Backend, *, inline: bool, accumulate: str | None = None) -> list[str]:
        """The source blocks a generated network module needs for this layer: the functions its equations call by name.

        The generated counterpart of :meth:`numeric_kernels` (kernels, state
        updates, mask draws), spelt for ``backend`` through its hooks;
        ``widths`` holds nₗ of every block the layer is attached to.
        ``inline=True`` (the JAX/torch modules) asks for array expressions in
        place of calls of printed numpy kernels; ``accumulate`` (mixed
        precision: ``"_acc_dtype"``) is the dtype its sums over the batch
        accumulate in. A layer whose equations call nothing by name adds nothing.
        """
        return []

    def proofs(self) -> Mapping[str, object]:
        """The proofs that make this layer's equations right (``prove_all`` of its symbolic module)."""
        return {}

    @classmethod
    def report(cls, *, verify: bool = True) -> LayerReport | None:
        """The layer type's derivation for the report section :attr:`report_section` (proofs only with ``verify``)."""
        return None

    def shortcut_repr(self) -> str | None:
        """How :class:`symdl.Network`'s keyword form spells this layer on every hidden block (``", dropout=0.2"``), if it can."""
        return None

    def fold(self, arrays: Mapping[str, np.ndarray], l: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(Wˡ, bˡ) of a plain dense block equal to this block at inference, for a pre layer that can be folded."""
        return None
