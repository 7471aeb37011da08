"""VectorRule: a rule over whole vectors (softmax, maxout, …), in index notation for any width.

A vector rule is held as an index-notation SymPy expression (``IndexedBase``,
``Sum``), so one expression serves every width. Its derivative is taken by
SymPy index by index and the Kronecker deltas contracted
(:func:`symdl.symbolic.index_sums.contract_deltas`, each index in its axis'
range). Proofs run at concrete sizes,
expanded to scalars (exact), and for softmax also for symbolic width n.
Numeric code is the vector-Jacobian product (VJP) ``(*inputs, v) ↦ vᵀJ``,
printed from a compact index form that the proofs show equal to vᵀJ.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp

from ..codegen.index_kernels import (
    Centered,
    ShiftMax,
    compile_index_kernel,
)
from ..codegen.kernel import Kernel
from ..display_hooks import Displayed, Plottable
from ..symbolic.calculus import fresh_index
from ..symbolic.index_sums import Ranges, contract_deltas, is_zero_index_expr
from ..symbolic.proof import Proof, prove_zero
from .definition import Kind, TorchLoss
from .derivation import Derives
from .derivation_steps import vector_head, vector_steps
from .step import Step

__all__ = ["COTANGENT", "ROW_COTANGENT", "VectorDefinition", "VectorInput", "VectorRule", "at_size", "fresh_index", "prove_over_orderings"]

n = sp.Symbol("n", integer=True, positive=True)
m_units = sp.Symbol("m", integer=True, positive=True)
i, j, k, q = sp.symbols("i j k q", integer=True, nonnegative=True)


@dataclass(frozen=True)
class VectorInput:
    """An input array: its IndexedBase, the index naming each of its own axes, and the sizes of those axes."""

    base: sp.IndexedBase
    indices: tuple[sp.Symbol, ...]
    sizes: tuple[sp.Symbol, ...]
    shared: bool = False  # a parameter shared across the batch: its VJP sums over batch axes


@dataclass(frozen=True)
class VectorDefinition:
    """Forward expression with free output indices, textbook Jacobians and compact VJPs (cotangent ``v``)."""

    forward: sp.Expr
    output: tuple[sp.Symbol, ...]
    output_sizes: tuple[sp.Symbol, ...]
    inputs: tuple[VectorInput, ...]
    slots: Mapping[sp.Symbol, int]
    vjps: Mapping[sp.IndexedBase, sp.Expr]
    vjp_slots: Mapping[sp.IndexedBase, Mapping[sp.Symbol, int]]
    concrete_sizes: tuple[Mapping[sp.Symbol, int], ...]
    textbook_jacobian: Mapping[sp.IndexedBase, sp.Expr] = field(default_factory=dict)
    stable_forward: sp.Expr | None = None
    label_inputs: tuple[sp.IndexedBase, ...] = ()
    textbook_vjps: Mapping[sp.IndexedBase, sp.Expr] = field(default_factory=dict)
    simplex_inputs: tuple[sp.IndexedBase, ...] = ()  # textbook VJPs assume these sum to 1
    input_ranges: Mapping[sp.IndexedBase, tuple[float, float]] = field(default_factory=dict)
    check_sizes: Mapping[sp.Symbol, int] = field(default_factory=lambda: {n: 3})
    check_range: tuple[float, float] = (-40.0, 40.0)  # the draws of the numeric checks (stability: ±1000 regardless)
    symbolic_proof: bool = False
    identities: Mapping[str, sp.Expr] = field(default_factory=dict)  # index-form claims ≡ 0 at any width (output and k′ in range)
    symmetric_jacobian: bool = False  # J = Jᵀ, proven at each concrete size
    notes: str = ""
    torch_loss: TorchLoss | None = None  # a loss's torch.nn.functional counterpart, per sample (element: None)


COTANGENT = sp.IndexedBase("v", real=True)
ROW_COTANGENT = sp.Symbol("v", real=True)  # the cotangent of a rule with one output per row (maxout)


class VectorRule(Derives, Displayed, Plottable):
    """A rule on arrays: forward, Jacobian (index form), proofs, LaTeX, numeric forward and VJPs."""

    def __init__(self, name: str, kind: Kind, definition: VectorDefinition, summary: str) -> None:
        self.name = name
        self.kind = kind
        self.definition = definition
        self.summary = summary
        self.params: dict[str, sp.Expr] = {}
        self.kink_convention = "pytorch"

    def __repr__(self) -> str:
        return f"rule({self.name!r})"


    #: Index-form arrays, no isolated kinks, a VJP per input (see :class:`~symdl.rulebook.derivation.RuleLike`).
    element_wise: Literal[False] = False
    #: Vector rules take no parameters.
    symbolic_params: tuple[str, ...] = ()

    @property
    def param_symbols(self) -> dict[str, sp.Symbol]:
        """Vector rules take no parameters: empty."""
        return {}

    @property
    def notes(self) -> str:
        """What the definition says beyond its formulas (maxout's ties), or empty."""
        return self.definition.notes

    def head(self) -> sp.Expr:
        """The rule's output as an indexed symbol: g[i] (activations) or L (losses)."""
        return vector_head(self)

    def variable(self, wrt: sp.IndexedBase | str | None = None) -> sp.IndexedBase:
        """The input array named ``wrt`` (default: the first); ValueError naming the inputs when there is none."""
        return self._input(wrt).base

    def derivation_steps(self, proofs: Mapping[str, Proof]) -> list[Step]:
        """Element-wise derivative, deltas contracted, textbook Jacobian and VJP per input."""
        return vector_steps(self, proofs)

    def kink_steps(self) -> list[Step]:
        return []

    @property
    def inputs(self) -> tuple[sp.IndexedBase, ...]:
        return tuple(inp.base for inp in self.definition.inputs)

    @property
    def wrt(self) -> sp.IndexedBase:
        return self.inputs[0]

    @property
    def expr(self) -> sp.Expr:
        """The forward expression in index notation (free output indices)."""
        return self.definition.forward

    @property
    def kinks(self) -> tuple:
        """Vector rules declare no isolated kinks; maxout's ties are described in its notes."""
        return ()

    def _input(self, wrt: sp.IndexedBase | str | None) -> VectorInput:
        for inp in self.definition.inputs:
            if wrt is None or inp.base == wrt or str(inp.base.label) == str(wrt):
                return inp
        names = ", ".join(str(b.label) for b in self.inputs)
        raise ValueError(f"rule {self.name!r} has no input {wrt!s}; its inputs: {names}")

    def derivative(self, wrt: sp.IndexedBase | str | None = None) -> sp.Expr:
        """∂ output[out] / ∂ wrt[idx] in index form, Kronecker deltas contracted."""
        inp = self._input(wrt)
        target = inp.base[tuple(fresh_index(s) for s in inp.indices)]
        return contract_deltas(sp.expand(sp.diff(self.expr, target)), self.index_ranges(inp.base))

    def index_ranges(self, wrt: sp.IndexedBase | str | None = None) -> Ranges:
        """0 ≤ i < size for each output index and each index of the derivative's target wrt[i′, …]."""
        inp, d = self._input(wrt), self.definition
        pairs = [*zip(d.output, d.output_sizes), *((fresh_index(s), size) for s, size in zip(inp.indices, inp.sizes))]
        return {index: (sp.S.Zero, size - 1) for index, size in pairs}

    def textbook(self, wrt: sp.IndexedBase | str | None = None, in_output: bool = False) -> sp.Expr:
        """The textbook Jacobian (softmax: s_i(δ_ik − s_k)) or gradient (cross-entropy: s − y), else the derived one."""
        inp = self._input(wrt)
        d = self.definition
        for table in (d.textbook_jacobian, d.textbook_vjps):
            if inp.base in table:
                return table[inp.base]
        return self.derivative(inp.base)

    def vjp(self, wrt: sp.IndexedBase | str | None = None) -> sp.Expr:
        """The compact VJP (cotangent ``v``) printed as numeric code."""
        return self.definition.vjps[self._input(wrt).base]

    def latex(self) -> dict[str, str]:
        out = ", ".join(sp.latex(o) for o in self.definition.output)
        name = "g" if self.kind == "activation" else "L"
        head = f"{name}_{{{out}}}" if out else name
        inp = self.definition.inputs[0]
        target = sp.latex(inp.base[tuple(fresh_index(s) for s in inp.indices)])
        return {
            "definition": f"{head} = {sp.latex(self.expr)}",
            "derivative": rf"\frac{{\partial {head}}}{{\partial {target}}} = {sp.latex(self.derivative())}",
            "textbook": rf"\frac{{\partial {head}}}{{\partial {target}}} = {sp.latex(self.textbook())}",
            "vjp": rf"\bar{{{sp.latex(inp.base)}}} = {sp.latex(self.vjp())}",
        }

    # --- proofs --------------------------------------------------------------

    def prove(self) -> dict[str, Proof]:
        """Exact identities at each concrete size (expanded to scalars), and symbolic width where stated."""
        d = self.definition
        results: dict[str, Proof] = {}
        if d.symbolic_proof:
            for base, textbook in d.textbook_jacobian.items():
                holds = is_zero_index_expr(self.derivative(base) - textbook, self.index_ranges(base))
                results[f"jacobian by {base} - textbook (symbolic width)"] = Proof(holds, "delta contraction")
        for label, claim in d.identities.items():
            holds = is_zero_index_expr(claim, self.index_ranges())
            results[f"{label} (symbolic width)"] = Proof(holds, "delta contraction")
        proven: dict[sp.Expr, bool] = {}  # the same scalar identity recurs (log_softmax's shift, once per output)
        for sizes in d.concrete_sizes:
            label = ", ".join(f"{s}={v}" for s, v in sizes.items())
            for check, zeros in self._concrete_identities(sizes).items():
                for z in zeros:
                    if z not in proven:
                        proven[z] = _prove_scalar_zero(z)
                proofs = [proven[z] for z in zeros]
                results[f"{check} ({label})"] = Proof(all(proofs), "expanded to scalars", len(zeros))
        return results

    def _concrete_identities(self, sizes: Mapping[sp.Symbol, int]) -> dict[str, list[sp.Expr]]:
        d = self.definition
        outputs = _index_values(d.output, d.output_sizes, sizes)
        forward = [at_size(d.forward, sizes, o) for o in outputs]
        checks: dict[str, list[sp.Expr]] = {}
        if d.stable_forward is not None:
            checks["stable forward - forward (any shift)"] = [
                at_size(d.stable_forward, sizes, o) - f for o, f in zip(outputs, forward)
            ]
        for inp in d.inputs:
            vjp_zeros, jac_zeros = [], []
            for c in _index_values(inp.indices, inp.sizes, sizes):
                element = inp.base[tuple(c.values())]
                derived = [sp.diff(f, element) for f in forward]
                weights = [self._cotangent(o) for o in outputs]
                vjp_zeros.append(at_size(d.vjps[inp.base], sizes, c) - sum(w * g for w, g in zip(weights, derived)))
                if inp.base in d.textbook_jacobian:
                    jac = d.textbook_jacobian[inp.base]
                    jac_zeros += [at_size(jac, sizes, {**o, **_fresh_map(c)}) - g for o, g in zip(outputs, derived)]
            checks[f"vjp by {inp.base} - vᵀJ"] = vjp_zeros
            if d.symmetric_jacobian:  # one output per entry of a one-axis input: J_ab − J_ba for a < b
                width = len(outputs)
                checks[f"jacobian by {inp.base} - its transpose"] = [
                    sp.diff(forward[a], inp.base[b]) - sp.diff(forward[b], inp.base[a])
                    for a in range(width) for b in range(a + 1, width)
                ]
            if inp.base in d.textbook_vjps:
                on_simplex = self._simplex_substitution(sizes)
                checks[f"vjp by {inp.base} - textbook{' (Σ = 1)' if on_simplex else ''}"] = [
                    (at_size(d.textbook_vjps[inp.base], sizes, c) - at_size(d.vjps[inp.base], sizes, c)).subs(on_simplex)
                    for c in _index_values(inp.indices, inp.sizes, sizes)
                ]
            if jac_zeros:
                checks[f"jacobian by {inp.base} - textbook"] = jac_zeros
        return checks

    def _simplex_substitution(self, sizes: Mapping[sp.Symbol, int]) -> dict[sp.Expr, sp.Expr]:
        """Last element = 1 − the others, for each input constrained to sum to 1."""
        subs = {}
        for inp in self.definition.inputs:
            if inp.base in self.definition.simplex_inputs:
                last = sizes[inp.sizes[-1]] - 1
                subs[inp.base[last]] = 1 - sum(inp.base[t] for t in range(last))
        return subs

    def _cotangent(self, output_index: Mapping[sp.Symbol, int]) -> sp.Expr:
        if output_index:
            return COTANGENT[tuple(output_index.values())]
        return ROW_COTANGENT if self.kind == "activation" else sp.S.One

    # --- numeric code --------------------------------------------------------

    def numeric(self) -> Kernel:
        """The forward pass: arrays with the rule's axes last, any leading batch axes."""
        d = self.definition
        expr = d.stable_forward if d.stable_forward is not None else d.forward
        return compile_index_kernel(expr, self.inputs, d.slots, d.output, self.name)

    def numeric_derivative(self, wrt: sp.IndexedBase | str | None = None) -> Kernel:
        """The VJP by ``wrt`` as a kernel ``(*inputs, v) ↦ vᵀ ∂output/∂wrt``."""
        inp = self._input(wrt)
        d = self.definition
        cotangent = (COTANGENT,) if d.output else (ROW_COTANGENT,) if self.kind == "activation" else ()
        args = (*self.inputs, *cotangent)
        return compile_index_kernel(
            d.vjps[inp.base], args, d.vjp_slots[inp.base], inp.indices,
            f"{self.name}_vjp_{inp.base.label}", reduce_leading=inp.shared,
        )



def _fresh_map(values: Mapping[sp.Symbol, int]) -> dict[sp.Symbol, int]:
    return {fresh_index(s): v for s, v in values.items()}


def _index_values(indices: Sequence[sp.Symbol], sizes: Sequence[sp.Symbol], concrete: Mapping[sp.Symbol, int]) -> list[dict]:
    ranges = [range(concrete[s]) for s in sizes]
    return [dict(zip(indices, combo)) for combo in itertools.product(*ranges)]


SHIFT = sp.Symbol("shift", real=True)


def at_size(
    expr: sp.Expr, sizes: Mapping[sp.Symbol, int], indices: Mapping[sp.Symbol, int], shift: sp.Expr | None = SHIFT
) -> sp.Expr:
    """``expr`` at concrete sizes and index values, sums expanded, each ShiftMax replaced by ``shift``.

    The identities hold for every value of a shift, so proofs leave it a free
    symbol; ``shift=None`` keeps the max itself (for numeric references).
    """
    expr = expr.subs({**sizes, **indices})
    expr = expr.replace(lambda e: isinstance(e, Centered), lambda e: e.expand_shift())
    if shift is not None:
        expr = expr.replace(lambda e: isinstance(e, ShiftMax), lambda e: shift)
    return expr.doit()


def _prove_scalar_zero(expr: sp.Expr) -> bool:
    # [u > 0] (Heaviside(u, 0)) and SymPy's Heaviside(u) differ only at u = 0, a kink: identities hold off the kinks.
    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside) and len(e.args) == 2, lambda e: sp.Heaviside(e.args[0]))
    if expr.has(sp.Heaviside):  # support indicators (sparsemax) as free symbols: 0 for every value of them
        opaque = expr.xreplace({h: sp.Dummy("s") for h in expr.atoms(sp.Heaviside)})
        if not opaque.has(sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside):
            return bool(prove_zero(opaque, sp.Symbol("unused")))
    if not expr.has(sp.Piecewise, sp.Max, sp.Min, sp.Abs):
        return bool(prove_zero(expr, sp.Symbol("unused")))
    return prove_over_orderings(expr)


def prove_over_orderings(expr: sp.Expr) -> bool:
    """expr ≡ 0 where its conditions compare its variables pairwise: each strict ordering is one region.

    Ties (orderings with equal values) are where maxout is not differentiable:
    they are its kinks and are excluded.
    """
    variables = sorted(expr.free_symbols | expr.atoms(sp.Indexed), key=str)
    variables = [v for v in variables if not any(v in w.free_symbols for w in variables if w != v and isinstance(w, sp.Indexed))]
    from ..symbolic.proof import resolve_branches

    for order in itertools.permutations(range(len(variables))):
        sample = {v: sp.Integer(rank) for v, rank in zip(variables, order)}
        if not bool(prove_zero(resolve_branches(expr, sample), sp.Symbol("unused"))):
            return False
    return True
