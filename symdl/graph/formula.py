r"""A custom layer written as a formula, used in a graph: hˢ = f(hᵘ¹, …, hᵘᵏ; θ) from :func:`symdl.formula_layer`.

>>> import symdl
>>> from symdl.graph import Formula, Input, Model
>>> dense = symdl.formula_layer("y[i] = tanh(sum(W[i, j] * x[j], j) + b[i])",
...                             inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"})
>>> x = Input(3)
>>> model = Model(x, Formula(dense, sizes={"out": 2})(x))
>>> sorted(model.parameter_shapes.items())
[('W1', (2, 3)), ('b1', (2,))]

The forward map and every VJP come from the formula layer, where they are
derived in index notation and proven (:mod:`symdl.formula_layers`); here they
are only rewritten exactly, so that the printed code does the work of a
built-in layer once:

* every sum whose one free index is the output's (Σⱼ W[i, j] x[j]) is a
  per-use vector uˢ of the forward pass, printed as one contraction (x Wᵀ);
* in each VJP, the forward's value is read back (tanh(b[i] + u[i]) → y[i]),
  and each term Σₖ (Π factors) is split into δ[k] — the factors that read
  the output's index k alone, v_y[k]·(1 − y[k]²) — times the rest: δˢ is
  one per-use vector the VJPs share, so x's VJP prints as δ W and W's as
  δᵀx summed over the batch (both one BLAS product), as Dense's BP2 and BP4.

Each piece is a :class:`~symdl.graph.formula_kernels.FormulaKernel`, printed
from its SymPy expression, whose scalar value at concrete sizes is the
expression written out, so :func:`symdl.graph.proofs.prove_graph` checks the
rewritten VJPs against ``sp.diff`` of the whole loss.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from ..arguments import finite_float, positive_int
from ..formula_layers.layer import FormulaLayer
from ..layers.init_schemes import get_scheme
from ..symbolic.index_parse import dimension
from .formula_kernels import FormulaKernel, FormulaParamKernel
from .nodes import Backward, GraphLayer, GraphParameter, Use

__all__ = ["Formula"]


def _arrays_in(expr: sp.Expr) -> list[str]:
    return sorted({str(e.base.label) for e in expr.atoms(sp.Indexed)})


def _reads_a_size(expr: sp.Basic, dims: frozenset[sp.Symbol]) -> bool:
    """Whether ``expr`` reads a dimension as a value, outside the limits of its sums."""
    if isinstance(expr, sp.Sum):
        return _reads_a_size(expr.function, dims)
    return expr in dims or any(_reads_a_size(a, dims) for a in expr.args)


# --- the symbolic rewriting, once per layer -------------------------------------------------------------------------


def _free_letters(expr: sp.Expr) -> set[sp.Symbol]:
    """Index letters of ``expr`` not bound by a sum inside it."""
    letters = {i for e in expr.atoms(sp.Indexed) for i in e.indices if isinstance(i, sp.Symbol)}
    bound = {limit[0] for s in expr.atoms(sp.Sum) for limit in s.limits}
    return letters - bound


def _all_letters(expr: sp.Expr) -> set[sp.Symbol]:
    letters = {i for e in expr.atoms(sp.Indexed) for i in e.indices if isinstance(i, sp.Symbol)}
    return letters | {limit[0] for s in expr.atoms(sp.Sum) for limit in s.limits}


@dataclass(frozen=True)
class _Lowered:
    """A formula layer as per-use pieces, each in the output index ``o``: sums, the output, deltas and the VJPs."""

    o: sp.Symbol
    hoisted: tuple[tuple[str, sp.Expr], ...]
    value: sp.Expr
    deltas: tuple[tuple[str, sp.Expr], ...]
    vjps: Mapping[str, tuple[sp.Expr, tuple[sp.Symbol, ...]]]


def _lower(layer: FormulaLayer) -> _Lowered:
    (eq,) = layer.equations
    (o,) = eq.indices
    out, v = sp.IndexedBase(eq.output, real=True), sp.IndexedBase(f"v_{eq.output}", real=True)
    inputs = set(layer.inputs)
    hoisted: list[tuple[str, sp.Expr]] = []

    def hoist(e: sp.Basic) -> None:
        if isinstance(e, sp.Sum) and e is not eq.rhs and _free_letters(e) == {o} and inputs & set(_arrays_in(e)):
            if e not in (h for _, h in hoisted):
                hoisted.append((f"_u{len(hoisted)}", e))
            return
        for a in e.args:
            hoist(a)

    hoist(eq.rhs)
    value = eq.rhs.xreplace({s: sp.IndexedBase(n, real=True)[o] for n, s in hoisted})
    bound = {limit[0] for s in eq.rhs.atoms(sp.Sum) for limit in s.limits}
    deltas: list[tuple[str, sp.Expr]] = []
    vjps = {}
    for wrt in layer.arrays:
        expr = layer.vjp(wrt)
        letters = sorted(_all_letters(expr) - bound, key=sp.default_sort_key)
        # the forward's value, then its sums, read back wherever the VJP recomputes them (at any index k)
        expr = expr.xreplace({eq.rhs.xreplace({o: k}): out[k] for k in letters})
        expr = expr.xreplace({s.xreplace({o: k}): sp.IndexedBase(n, real=True)[k] for n, s in hoisted for k in letters})
        expr = _factored(expr, v, o, deltas)
        vjps[wrt] = (expr, layer.vjp_indices(wrt))
    return _Lowered(o, tuple(hoisted), value, tuple(deltas), vjps)


@dataclass(frozen=True)
class _Part:
    """One term of a VJP as outer · Σₖ δ[k]·rest (``limits`` None: k free, no sum); δ written in the output index."""

    outer: sp.Expr
    delta: sp.Expr
    rest: sp.Expr
    k: sp.Symbol
    limits: tuple | None


def _common_out(pw: sp.Piecewise) -> list[sp.Expr]:
    """A Piecewise as [common factors…, Piecewise of the rest]: the factors every nonzero branch has."""
    nonzero = [value for value, _ in pw.args if value != 0]
    if not nonzero:
        return [pw]
    common = set.intersection(*(set(sp.Mul.make_args(value)) for value in nonzero))
    if not common:
        return [pw]
    factor = sp.Mul(*common)
    return [*common, sp.Piecewise(*((value / factor, cond) for value, cond in pw.args))]


def _parts(term: sp.Expr, v: sp.IndexedBase) -> list[_Part | sp.Expr]:
    """``term`` as :class:`_Part` s (a sum of a sum split term by term), or ``[term]`` when it has no such form."""
    factors = sp.Mul.make_args(term)
    sums = [f for f in factors if isinstance(f, sp.Sum) and f.has(v)]
    if len(sums) != 1 or len(sums[0].limits) != 1 or any(f.has(v) for f in factors if f is not sums[0]):
        if sums or not term.has(v):
            return [term]
        body, limits, outer = term, None, sp.S.One
    else:
        (s,) = sums
        outer = sp.Mul(*(f for f in factors if f is not s))
        if isinstance(s.function, sp.Add):
            out: list[_Part | sp.Expr] = []
            for t in sp.Add.make_args(s.function):
                out += [_Part(outer * p.outer, p.delta, p.rest, p.k, p.limits) if isinstance(p, _Part) else outer * p
                        for p in _parts(sp.Sum(t, *s.limits), v)]
            return out
        body, limits = s.function, s.limits
    pieces = []
    for f in sp.Mul.make_args(body):
        pieces += _common_out(f) if isinstance(f, sp.Piecewise) and f.has(v) else [f]
    uses = [e for f in pieces for e in f.atoms(sp.Indexed) if e.base == v]
    if len(uses) != 1 or not isinstance(uses[0].indices[0], sp.Symbol):
        return [term]
    k = uses[0].indices[0]
    if limits is not None and limits[0][0] != k:
        return [term]
    inside = [f for f in pieces if _free_letters(f) <= {k}]
    if not any(f.has(v) for f in inside):
        return [term]
    rest = sp.Mul(*(f for f in pieces if f not in inside))
    return [_Part(outer, sp.Mul(*inside), rest, k, limits)]


def _factored(expr: sp.Expr, v: sp.IndexedBase, o: sp.Symbol, deltas: list[tuple[str, sp.Expr]]) -> sp.Expr:
    """``expr`` = Σ outer · Σₖ δ[k]·rest, terms with the same outer, rest and sum merged into one δ (named in ``deltas``)."""
    groups: dict[tuple, sp.Expr] = {}
    raw = []
    for term in sp.Add.make_args(expr):
        for part in _parts(term, v):
            if isinstance(part, _Part):
                key = (part.outer, part.rest, part.k, part.limits)
                groups[key] = groups.get(key, sp.S.Zero) + part.delta.xreplace({part.k: o})
            else:
                raw.append(part)
    out = list(raw)
    for (outer, rest, k, limits), delta in groups.items():
        if delta.has(sp.Piecewise):
            delta = sp.piecewise_fold(delta)
        if delta == v[o]:
            symbol = v
        else:
            names = [n for n, d in deltas if d == delta]
            if not names:
                names = [f"_d{len(deltas)}"]
                deltas.append((names[0], delta))
            symbol = sp.IndexedBase(names[0], real=True)
        new = symbol[k] * rest
        out.append(outer * (sp.Sum(new, *limits) if limits is not None else new))
    return sp.Add(*out)


def _reduces(layer: FormulaLayer) -> bool:
    """Whether the forward sums over an index no parameter carries (a mean, a variance, a softmax's denominator): a
    reduction, which PyTorch's autocast runs in float32 (sum, layer_norm, softmax), not a contraction Σⱼ W[i, j]·x[j]
    (matmul, einsum: the compute dtype)."""
    (eq,) = layer.equations
    for s in eq.rhs.atoms(sp.Sum):
        bound = {limit[0] for limit in s.limits}
        if not any(str(e.base.label) in layer.params and bound & set(e.indices) for e in s.function.atoms(sp.Indexed)):
            return True
    return False


# --- the graph layer ----------------------------------------------------------------------------------------------


def _stem(prefix: str, k: int) -> str:
    return prefix if k == 0 else prefix + "bcdefghijklmnopqrstuvwxyz"[k - 1]


class Formula(GraphLayer):
    """hˢ = f(hᵘ¹, …; θ) written in index notation (a :func:`symdl.formula_layer`): one vector output, vector inputs.

    ``sizes`` gives every dimension the inputs' widths do not (``{"out": 30}``);
    ``init`` each parameter's start: a scheme name for a matrix (default
    ``"glorot_uniform"``; its shape is (rows, columns) = (fan-out, fan-in)) or a
    number (default 0 for a vector). Called on several nodes, it is one
    parameter set used at each (weight sharing), as a built-in layer.
    """

    def __init__(self, layer: FormulaLayer, sizes: Mapping[str, int] | None = None,
                 init: Mapping[str, str | float] | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if not isinstance(layer, FormulaLayer):
            raise TypeError(f"Formula: expected a symdl.formula_layer(...), got {type(layer).__name__}")
        what = f"Formula {layer.name!r}"
        if len(layer.outputs) != 1 or len(next(iter(layer.outputs.values()))) != 1:
            raise ValueError(f"{what}: a graph node is one vector; the formula must have one output with one index, "
                             f"got outputs {layer.outputs}")
        for n, axes in layer.inputs.items():
            if len(axes) != 1:
                raise ValueError(f"{what}: input {n!r} has axes {axes}; a graph node is a vector (one axis)")
        for n, axes in layer.params.items():
            if not 1 <= len(axes) <= 2:
                raise ValueError(f"{what}: param {n!r} has axes {axes}; graph parameters are vectors or matrices (one or two axes)")
            if not (n.isascii() and n.isalpha()):
                raise ValueError(f"{what}: param {n!r}: graph parameters are named by letters only (the key adds the layer's number: W3)")
        sizes = {} if sizes is None else sizes
        if not isinstance(sizes, Mapping):
            raise TypeError(f"{what}: sizes must map a dimension name to its size, e.g. {{'out': 4}}")
        for d, size in sizes.items():
            if d not in layer.dims:
                raise ValueError(f"{what}: unknown dimension {d!r} in sizes; its dimensions: {', '.join(layer.dims)}")
            positive_int(size, f"{what}: size of {d!r}")
        init = {} if init is None else init
        if not isinstance(init, Mapping):
            raise TypeError(f"{what}: init must map a param name to a scheme name or a number")
        starts: dict[str, str | float] = {}
        for n, axes in layer.params.items():
            start = init.get(n, "glorot_uniform" if len(axes) == 2 else 0.0)
            if isinstance(start, str) and len(axes) == 2:
                start = get_scheme(start).name
            elif finite_float(start) is None:
                raise ValueError(f"{what}: init of {n!r} must be {'a scheme name or ' if len(axes) == 2 else ''}a finite number, got {start!r}")
            starts[n] = start if isinstance(start, str) else float(start)
        unknown = sorted(set(init) - set(layer.params))
        if unknown:
            raise ValueError(f"{what}: init names {unknown[0]!r}, which is not a param; params: {', '.join(layer.params) or 'none'}")
        self.layer, self.sizes, self.init = layer, {d: int(n) for d, n in sizes.items()}, starts
        self.arity = len(layer.inputs)
        self._lowered = _lower(layer)
        self._resolved: dict[str, int] = {}
        # mixed precision: a layer with a reduction computes in float32, its inputs widened, what leaves it narrowed
        self.computes_in_float32 = _reduces(layer)

    #: Inputs of the formula that are a use's noise masks, not nodes (:class:`symdl.graph.TrainingFormula`).
    _noise: frozenset[str] = frozenset()

    def _mode(self, training: bool) -> tuple[FormulaLayer, _Lowered]:
        """The formula layer a use in ``training``'s mode computes, and its lowered pieces (one for both modes here)."""
        return self.layer, self._lowered

    @property
    def _output_axis(self) -> str:
        return next(iter(self.layer.outputs.values()))[0]

    def output_width(self, widths: tuple[int, ...]) -> int:
        resolved = dict(self.sizes)
        nodes = [(n, axes) for n, axes in self.layer.inputs.items() if n not in self._noise]
        for (n, (axis,)), w in zip(nodes, widths):
            if resolved.setdefault(axis, w) != w:
                raise ValueError(f"Formula {self.layer.name!r}: input {n!r} has width {w}, but its dimension {axis!r} is {resolved[axis]}")
        missing = [d for d in self.layer.dims if d not in resolved]
        if missing:
            raise ValueError(f"Formula {self.layer.name!r}: no size for dimension {missing[0]!r}; give sizes={{{missing[0]!r}: …}}")
        self._resolved = resolved
        return resolved[self._output_axis]

    def parameters(self) -> tuple[GraphParameter, ...]:
        if not self.built:
            raise ValueError(f"{self!r} has not been called on a node yet: its parameters' shapes follow from its inputs")
        return tuple(GraphParameter(n, tuple(self._resolved[a] for a in axes), self.init[n]) for n, axes in self.layer.params.items())

    # --- equations ------------------------------------------------------------------------------------------------

    def _node(self, use: Use, table: Mapping[str, sp.MatrixExpr], role: str, expr: sp.Expr,
              output: tuple[sp.Symbol, ...], shape: tuple[int, int], reduced: bool = False) -> sp.MatrixExpr:
        sized = {dimension(d): sp.Integer(n) for d, n in self._resolved.items()}
        if _reads_a_size(expr, frozenset(sized)):  # the n of a mean: the printed code holds the resolved number
            expr = expr.xreplace(sized)
        names = tuple(_arrays_in(expr))
        if not reduced and len(output) == 1 and isinstance(expr, sp.Indexed) and expr.indices == output:
            return table[names[0]]  # the value is an array itself: no kernel, no copy
        sizes = sp.Tuple(*(sp.Tuple(dimension(d), n) for d, n in sorted(self._resolved.items())))
        key = sp.srepr((expr, names, output, reduced)).encode()
        kernel = f"_{self.layer.name}_{role}_{hashlib.sha1(key).hexdigest()[:8]}"  # noqa: S324 — a name, not security
        batched = sp.Tuple(*(sp.true if n not in self.layer.params else sp.false for n in names))
        spec = sp.Tuple(sp.Symbol(kernel), expr, sp.Tuple(*map(sp.Symbol, names)), sp.Tuple(*output), sizes, *shape, batched)
        if self.computes_in_float32:  # the arrays a mixed module holds in the compute dtype: read widened to float32
            low = self._mode(use.training)[1]
            own = {n for n, _ in (*low.hoisted, *low.deltas)}  # computed here, in float32; the params are float32 masters
            spec = sp.Tuple(*spec, sp.Tuple(*(sp.true if n not in self.layer.params and n not in own else sp.false for n in names)))
        cls = FormulaParamKernel if reduced else FormulaKernel
        return cls(spec, *(table[n] for n in names))

    def _table(self, use: Use) -> dict[str, sp.MatrixExpr]:
        layer, low = self._mode(use.training)
        table: dict[str, sp.MatrixExpr] = dict(zip((n for n in layer.inputs if n not in self._noise), use.inputs))
        table.update({n: use.masks[n] for n in layer.inputs if n in self._noise})
        table.update({n: use.params[n] for n in layer.params})
        width = self._resolved[self._output_axis]
        for k, (n, _) in enumerate(low.hoisted):
            table[n] = use.own(_stem("u", k), "u^{@}" if k == 0 else f"u_{{{k + 1}}}^{{@}}", width)
        (out,) = layer.outputs
        table[out] = use.output
        return table

    def forward(self, use: Use) -> list[sp.Eq]:
        (_, low), table = self._mode(use.training), self._table(use)
        width = self._resolved[self._output_axis]
        eqs = [sp.Eq(table[n], self._node(use, table, "sum", s, (low.o,), (width, 1)), evaluate=False) for n, s in low.hoisted]
        eqs.append(sp.Eq(use.output, self._node(use, table, "forward", low.value, (low.o,), (width, 1)), evaluate=False))
        return eqs

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        (layer, low), table = self._mode(use.training), self._table(use)
        (out,) = layer.outputs
        table[f"v_{out}"] = upstream
        width = self._resolved[self._output_axis]
        equations = []
        for k, (n, delta) in enumerate(low.deltas):
            table[n] = use.own(_stem("d", k), r"\delta^{@}" if k == 0 else rf"\delta_{{{k + 1}}}^{{@}}", width)
            label = f"delta (node {use.index})" + (f", {k + 1}" if k else "")
            equations.append((label, sp.Eq(table[n], self._node(use, table, "delta", delta, (low.o,), (width, 1)), evaluate=False)))
        vjps = []
        for n in layer.inputs:
            if n in self._noise:
                continue  # a mask is drawn, not trained: nothing flows back to it
            expr, indices = low.vjps[n]
            vjp = self._node(use, table, f"vjp_{n}", expr, indices, (self._resolved[layer.inputs[n][0]], 1))
            if self.computes_in_float32 and not isinstance(vjp, sp.MatrixSymbol):  # named: a mixed module narrows it
                symbol = use.own(f"vjp_{n}_", rf"\overline{{{n}}}^{{@}}", self._resolved[layer.inputs[n][0]])
                equations.append((f"vjp by {n} (node {use.index})", sp.Eq(symbol, vjp, evaluate=False)))
                vjp = symbol
            vjps.append(vjp)
        params = {}
        for n, axes in layer.params.items():
            expr, indices = low.vjps[n]
            shape = (self._resolved[axes[0]], self._resolved[axes[1]] if len(axes) == 2 else 1)
            params[n] = self._node(use, table, f"vjp_{n}", expr, indices, shape, reduced=True)
        return Backward(tuple(equations), tuple(vjps), params)

    # --- config ---------------------------------------------------------------------------------------------------

    def config(self) -> dict[str, object]:
        return {"layer": self.layer.name, "sizes": self.sizes, "init": self.init}

    def to_config(self) -> dict[str, object]:
        return {"layer": self.layer.to_config(), "sizes": dict(self.sizes), "init": dict(self.init)}

    @classmethod
    def from_config(cls, config: dict[str, object]) -> Formula:
        extra = sorted(set(config) - {"layer", "sizes", "init"})
        if extra:
            raise ValueError(f"Formula: unknown key {extra[0]!r}; keys: layer, sizes, init")
        layer = FormulaLayer.from_config(config.get("layer"))  # type: ignore[arg-type]
        return cls(layer, config.get("sizes"), config.get("init"))  # type: ignore[arg-type]
