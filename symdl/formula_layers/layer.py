r"""A custom layer written as formulas: ``y[i] = sum(W[i, j] * x[j], j) + b[i]`` with its parameters' shapes.

>>> dense = formula_layer("y[i] = sum(W[i, j] * x[j], j) + b[i]", inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"})
>>> dense.vjp("W")
v_y[i']*x[j']
>>> dense.vjp("x")
Sum(W[i, j']*v_y[i], (i, 0, out - 1))

The text is read by the safe index parser
(:func:`symdl.symbolic.index_parse.parse_index_equations`: no ``eval``),
every VJP is derived in index notation (:mod:`.derivation`), proven at
concrete sizes (:mod:`.proofs`) and printed as numpy code over a leading
batch axis (:mod:`.codegen`). A graph node needs: :attr:`FormulaLayer.inputs`,
:attr:`~FormulaLayer.params` and :attr:`~FormulaLayer.outputs` (name ↦ axes,
the dimension names), :meth:`~FormulaLayer.param_shapes`,
:meth:`~FormulaLayer.apply` (forward) and :meth:`~FormulaLayer.backward`
(every VJP), or the kernels' source (:meth:`~FormulaLayer.source`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from ..codegen.arrays import as_array, as_float_array, place
from ..codegen.kernel import Kernel
from ..symbolic.grammar import FormulaError
from ..symbolic.index_parse import IndexEquation, dimension, parse_index_equations
from ..symbolic.proof import Proof
from .codegen import Singularity, find_singularities, print_kernel
from .derivation import (
    FormulaDerivation,
    VJPTerm,
    build_derivation,
    cotangent,
    derive_vjp,
    wrt_indices,
)
from .proofs import default_sizes, prove_vjps

__all__ = ["FormulaLayer", "formula_layer"]

Axes = tuple[str, ...]
_RESERVED = frozenset({"numpy"})
CONFIG_KIND = "formula_layer"

# The helpers the kernels call, from their one definition, so that source() is a module of its own.
KERNEL_PRELUDE = (
    "import numpy\nimport numpy as np\n\n\n"
    + inspect.getsource(as_float_array)
    + "\n\n"
    + inspect.getsource(place)
    + "\n\n"
    + inspect.getsource(as_array)
    + "\n\n_place = place\n_as_float = as_array\n\n\n"
)


def _axes_table(table: object, what: str) -> dict[str, Axes]:
    """name ↦ axes, each axes a dimension name or a sequence of them (``()`` for a scalar)."""
    if not isinstance(table, Mapping):
        raise TypeError(f"formula_layer: {what} must map a name to its axes, e.g. {{'x': 'in'}}; got {type(table).__name__}")
    out = {}
    for name, axes in table.items():
        if isinstance(axes, str):
            axes = (axes,)
        if not isinstance(axes, (tuple, list)) or not all(isinstance(a, str) for a in axes):
            raise TypeError(f"formula_layer: axes of {what} {name!r} must be a dimension name or a tuple of them")
        out[name] = tuple(axes)
    return out


class FormulaLayer:
    """A layer given by equations in index notation; inputs carry a leading batch axis, parameters do not."""

    def __init__(self, text: str, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None, name: str = "formula") -> None:
        if not (isinstance(name, str) and name.isascii() and name.isidentifier() and not name.startswith("_")):
            raise FormulaError(f"formula: layer name {name!r} must be an ASCII identifier not starting with '_'")
        self.name = name
        self.text = text
        self.inputs: dict[str, Axes] = _axes_table(inputs, "inputs")
        self.params: dict[str, Axes] = _axes_table({} if params is None else params, "params")
        if not self.inputs:
            raise FormulaError("formula: a layer needs at least one input, e.g. inputs={'x': 'in'}")
        both = sorted(set(self.inputs) & set(self.params))
        if both:
            raise FormulaError(f"formula: {both[0]!r} is declared both as an input and as a param")
        self.arrays: dict[str, Axes] = {**self.inputs, **self.params}
        reserved = sorted(set(self.arrays) & _RESERVED)
        if reserved:
            raise FormulaError(f"formula: name {reserved[0]!r} is reserved by the generated code; choose another")
        self.equations: tuple[IndexEquation, ...] = parse_index_equations(text, self.arrays)
        for eq in self.equations:
            if f"v_{eq.output}" in self.arrays:
                raise FormulaError(f"formula: name 'v_{eq.output}' is taken by the cotangent of output {eq.output!r}")
        used = {str(e.base.label) for eq in self.equations for e in eq.rhs.atoms(sp.Indexed)}
        used |= {s.name for eq in self.equations for s in eq.rhs.free_symbols}
        unused = [n for n in self.arrays if n not in used]
        if unused:
            raise FormulaError(f"formula: {unused[0]!r} is declared but no equation uses it")
        self.outputs: dict[str, Axes] = {eq.output: tuple(eq.dims[i] for i in eq.indices) for eq in self.equations}
        # Derived now: a layer whose derivative cannot be printed is refused when it is built.
        self._vjps = self._derive()

    def __repr__(self) -> str:
        return f"formula_layer({self.text!r}, inputs={self.inputs!r}, params={self.params!r}, name={self.name!r})"

    # --- shapes ---------------------------------------------------------------

    @property
    def dims(self) -> tuple[str, ...]:
        """Every dimension name the layer's arrays use, sorted."""
        return tuple(sorted({d for axes in (*self.arrays.values(), *self.outputs.values()) for d in axes}))

    def param_shapes(self, sizes: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
        """Each parameter's array shape at ``sizes`` (dimension name ↦ size)."""
        missing = sorted(set(self.dims) - set(sizes))
        if missing:
            raise ValueError(f"layer {self.name!r}: no size for dimension {missing[0]!r}; dimensions: {', '.join(self.dims)}")
        return {p: tuple(int(sizes[a]) for a in axes) for p, axes in self.params.items()}

    # --- symbolic ---------------------------------------------------------------

    def forward_expr(self, output: str | None = None) -> sp.Expr:
        """The right side of ``output``'s equation (default: the first), in index notation."""
        return self._equation(output).rhs

    def _equation(self, output: str | None) -> IndexEquation:
        for eq in self.equations:
            if output is None or eq.output == output:
                return eq
        raise ValueError(f"layer {self.name!r} has no output {output!r}; outputs: {', '.join(self.outputs)}")

    def _derive(self) -> dict[str, tuple[tuple[sp.Symbol, ...], tuple[VJPTerm, ...], sp.Expr]]:
        out = {}
        for name, axes in self.arrays.items():
            indices = wrt_indices(name, axes, self.equations)
            terms, vjp = derive_vjp(self.equations, name, axes, indices)
            out[name] = (indices, terms, vjp)
        return out

    def _wrt(self, wrt: str) -> str:
        if wrt not in self.arrays:
            raise ValueError(f"layer {self.name!r} has no input or param {wrt!r}; they are: {', '.join(self.arrays)}")
        return wrt

    def vjp(self, wrt: str) -> sp.Expr:
        """x̄[p′] = Σ_out Σ_I v_out[I] ∂out[I]/∂x[p′], deltas contracted; free indices :meth:`vjp_indices`."""
        return self._vjps[self._wrt(wrt)][2]

    def vjp_indices(self, wrt: str) -> tuple[sp.Symbol, ...]:
        """The free indices of :meth:`vjp` (``wrt``'s axes, in order)."""
        return self._vjps[self._wrt(wrt)][0]

    def derivation(self) -> FormulaDerivation:
        """The forward equations, each output's partial derivative (with deltas) and every VJP, with LaTeX."""
        return build_derivation(self.name, self.equations, self._vjps)

    def prove(self, sizes: Mapping[str, int] | None = None, claims: Mapping[str, sp.Expr] | None = None) -> dict[str, Proof]:
        """Every VJP (or the ``claims`` given instead, same free indices) checked exactly at concrete sizes.

        Default sizes: 2 and 3 in turn over the sorted dimension names.
        """
        sizes = default_sizes(self.dims) if sizes is None else dict(sizes)
        stated = {name: (indices, vjp) for name, (indices, _, vjp) in self._vjps.items()}
        for name, claim in (claims or {}).items():
            if not isinstance(claim, sp.Expr) or isinstance(claim, str):
                raise TypeError(f"prove: the claim for {name!r} must be a SymPy expression, got {type(claim).__name__}")
            wrt = self._wrt(name)
            stated[wrt] = (stated[wrt][0], claim)
        return prove_vjps(self.equations, self.arrays, stated, sizes)

    # --- singularities ----------------------------------------------------------

    def singularities(self) -> tuple[Singularity, ...]:
        """Divisions by, logs of and roots of values that can be 0 (or negative), in the outputs and VJPs."""
        found = []
        for eq in self.equations:
            found += find_singularities(eq.rhs, f"output {eq.output}")
        for name in self.arrays:
            found += find_singularities(self.vjp(name), f"VJP by {name}")
        return tuple(found)

    # --- numeric ----------------------------------------------------------------

    def _array_symbols(self, names: Sequence[str]) -> list[sp.IndexedBase | sp.Symbol]:
        return [sp.IndexedBase(n, real=True) if self.arrays[n] else sp.Symbol(n, real=True) for n in names]

    def _cotangents(self) -> list[sp.IndexedBase | sp.Symbol]:
        return [c.base if isinstance(c, sp.Indexed) else c for c in map(cotangent, self.equations)]

    def _size_reads(self) -> dict[sp.Symbol, str]:
        """Each dimension ↦ the code reading its size off the first input or param that has it (its axis from the end)."""
        reads: dict[sp.Symbol, str] = {}
        for name, axes in self.arrays.items():
            for k, axis in enumerate(axes):
                reads.setdefault(dimension(axis), f"{name}.shape[{k - len(axes)}]")
        return reads

    @cached_property
    def forward_kernels(self) -> dict[str, Kernel]:
        """output ↦ numpy kernel ``(*inputs, *params) → output`` over leading batch axes."""
        args = self._array_symbols([*self.inputs, *self.params])
        return {
            eq.output: print_kernel(eq.rhs, args, eq.indices, f"{self.name}_{eq.output}", sizes=self._size_reads())
            for eq in self.equations
        }

    @cached_property
    def vjp_kernels(self) -> dict[str, Kernel]:
        """input or param ↦ numpy kernel ``(*inputs, *params, *cotangents) → VJP`` (a param's summed over the batch)."""
        args = [*self._array_symbols([*self.inputs, *self.params]), *self._cotangents()]
        return {
            name: print_kernel(self.vjp(name), args, self.vjp_indices(name), f"{self.name}_vjp_{name}",
                               shared=name in self.params, sizes=self._size_reads())
            for name in self.arrays
        }

    def source(self) -> str:
        """The generated numpy source of every forward and VJP kernel, with the two helpers they call: a module."""
        kernels = [*self.forward_kernels.values(), *self.vjp_kernels.values()]
        return KERNEL_PRELUDE + "\n\n".join(k.source for k in kernels)

    def _arguments(self, values: Mapping[str, Any], names: Sequence[str], what: str) -> list[np.ndarray]:
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"layer {self.name!r}: missing {what} {missing[0]!r}; expected {', '.join(names)}")
        return [np.asarray(values[n]) for n in names]

    def _run(self, kernel: Kernel, args: list[np.ndarray], what: str) -> np.ndarray:
        with np.errstate(divide="raise", invalid="raise"):
            try:
                return kernel(*args)
            except FloatingPointError as why:
                if not any(word in str(why) for word in ("divide", "invalid")):
                    raise
                known = "; ".join(map(str, self.singularities())) or "none found symbolically"
                raise ValueError(
                    f"layer {self.name!r}: {what} hit a singularity ({why}); singularities: {known}"
                ) from None

    def apply(self, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Forward: output ↦ array (batch axes first); a singular value raises ValueError instead of giving NaN."""
        args = self._arguments(inputs, list(self.inputs), "input") + self._arguments(params or {}, list(self.params), "param")
        batch = np.broadcast_shapes(*(a.shape[: a.ndim - len(self.inputs[n])] for a, n in zip(args, self.inputs)))
        out = {}
        for eq in self.equations:
            value = self._run(self.forward_kernels[eq.output], args, f"output {eq.output}")
            shape = batch + value.shape[value.ndim - len(eq.indices):]
            out[eq.output] = value if value.shape == shape else np.broadcast_to(value, shape).copy()
        return out

    def backward(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any] | None, cotangents: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """Every VJP: input or param ↦ Σ_out v_out·∂out/∂(it); ``cotangents`` maps each output to its v."""
        args = self._arguments(inputs, list(self.inputs), "input") + self._arguments(params or {}, list(self.params), "param")
        args += self._arguments(cotangents, list(self.outputs), "cotangent of output")
        return {name: self._run(self.vjp_kernels[name], args, f"VJP by {name}") for name in self.arrays}

    # --- config -------------------------------------------------------------------

    def to_config(self) -> dict[str, Any]:
        """JSON-ready description; :func:`FormulaLayer.from_config` re-parses the text with the safe parser."""
        return {
            "kind": CONFIG_KIND,
            "name": self.name,
            "formula": self.text,
            "inputs": {n: list(a) for n, a in self.inputs.items()},
            "params": {n: list(a) for n, a in self.params.items()},
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FormulaLayer:
        """The layer a :meth:`to_config` dict describes; hostile or malformed configs raise one-line errors."""
        if not isinstance(config, Mapping) or config.get("kind") != CONFIG_KIND:
            raise ValueError(f"formula layer config: expected a mapping with kind {CONFIG_KIND!r}")
        extra = sorted(set(config) - {"kind", "name", "formula", "inputs", "params"})
        if extra:
            raise ValueError(f"formula layer config: unknown key {extra[0]!r}; keys: kind, name, formula, inputs, params")
        if not isinstance(config.get("formula"), str):
            raise ValueError("formula layer config: 'formula' must be the layer's text")
        try:
            return cls(config["formula"], config.get("inputs", {}), config.get("params", {}), config.get("name", "formula"))
        except TypeError as error:  # a malformed declaration is a bad file, like any other
            raise ValueError(f"formula layer config: {error}") from None


def formula_layer(
    text: str,
    *,
    inputs: Mapping[str, str | Sequence[str]],
    params: Mapping[str, str | Sequence[str]] | None = None,
    name: str = "formula",
) -> FormulaLayer:
    """A layer from equations in index notation, one per output; see ``docs/custom_layers.md``.

    ``inputs`` and ``params`` map each name to its axes: a dimension name,
    a tuple of them, or ``()`` for a scalar. Inputs carry leading batch axes
    at run time, parameters do not. Raises FormulaError (one line) for text
    outside the grammar.
    """
    return FormulaLayer(text, inputs, params, name)
