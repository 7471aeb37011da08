r"""The VJPs of a formula layer in index notation: x̄[p′] = Σ_out Σ_I v_out[I] ∂out[I]/∂x[p′], deltas contracted.

For each output ``out[I] = f(…)`` and each input or parameter ``x``,
SymPy differentiates f, in its stable form (:func:`symdl.symbolic.rewrite.stabilise`:
log(1 + eᵘ) is softplus(u), whose derivative is σ(u)), by the element ``x[p′]`` (p′ the primed indices of
``x``'s axes), which gives Kronecker deltas δ_{j p′} wherever f reads
``x[j]``; the sum over the output indices I weighted by the cotangent
``v_out[I]`` is then contracted (:func:`symdl.symbolic.index_sums.contract_deltas`,
every index in its axis' range). The result is the vector-Jacobian product
the generated code prints, for any sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from ..budget import check_size
from ..display_hooks import Displayed
from ..excerpt import excerpt
from ..rulebook.step import Math, Step
from ..symbolic.calculus import diff_away_from_jumps, fresh_index
from ..symbolic.index_parse import IndexEquation, dimension, index_symbol
from ..symbolic.index_sums import contract_deltas
from ..symbolic.rewrite import stabilise

__all__ = ["FormulaDerivation", "VJPTerm", "build_derivation", "cotangent", "derive_vjp", "element", "wrt_indices"]


def cotangent(equation: IndexEquation) -> sp.Expr:
    """The cotangent of an output: ``v_y[i]`` for ``y[i]``, the symbol ``v_y`` for a scalar output ``y``."""
    name = f"v_{equation.output}"
    if not equation.indices:
        return sp.Symbol(name, real=True)
    return sp.IndexedBase(name, real=True)[equation.indices]


def wrt_indices(name: str, axes: Sequence[str], equations: Sequence[IndexEquation]) -> tuple[sp.Symbol, ...]:
    """The VJP's free indices for ``name``: the letters of its first use, primed (W[i, j] → i′, j′).

    Among one equation's uses, the first in SymPy's canonical order (W[i, j] before W[j, i]), not a set's: the
    printed derivation must not depend on the hash seed.
    """
    for eq in equations:
        for e in sorted(eq.rhs.atoms(sp.Indexed), key=sp.default_sort_key):
            if str(e.base.label) == name:
                return tuple(fresh_index(index) for index in e.indices)
    return tuple(fresh_index(index_symbol(f"p{n}")) for n in range(len(axes)))


def element(name: str, indices: Sequence[sp.Expr]) -> sp.Expr:
    """``name[indices]`` as SymPy: an Indexed element, or the real Symbol of a scalar."""
    if not indices:
        return sp.Symbol(name, real=True)
    return sp.IndexedBase(name, real=True)[tuple(indices)]


def _ranges(indices: Sequence[sp.Symbol], axes: Sequence[str]) -> dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]:
    return {index: (sp.S.Zero, dimension(axis) - 1) for index, axis in zip(indices, axes)}


def _output_sum(equation: IndexEquation, body: sp.Expr) -> sp.Expr:
    """Σ over the output's own indices of ``body`` (nothing to sum for a scalar output).

    Indices that meet a Kronecker delta are summed innermost: the contraction
    takes a multiple sum's limits innermost first and cannot reach a delta
    through a sum over another index.
    """
    in_deltas = {s for d in body.atoms(sp.KroneckerDelta) for s in d.free_symbols}
    order = sorted(equation.indices, key=lambda index: index not in in_deltas)
    limits = [(index, 0, dimension(equation.dims[index]) - 1) for index in order]
    return sp.Sum(body, *limits) if limits else body


@dataclass(frozen=True)
class VJPTerm:
    """One output's share of a VJP: the element-wise derivative (with deltas) and its contracted Σ_I v·∂."""

    equation: IndexEquation
    partial: sp.Expr
    contracted: sp.Expr


def derive_vjp(
    equations: Sequence[IndexEquation], name: str, axes: Sequence[str], indices: Sequence[sp.Symbol]
) -> tuple[tuple[VJPTerm, ...], sp.Expr]:
    """The terms Σ_I v_out[I] ∂out[I]/∂name[indices], one per output that uses ``name``, and their sum."""
    target = element(name, indices)
    ranges = _ranges(indices, axes)
    terms = []
    for eq in equations:
        partial = diff_away_from_jumps(stabilise(eq.rhs), target, str(eq.output))
        if partial == 0:
            continue
        partial = partial.replace(lambda e: isinstance(e, sp.Piecewise) and e.has(sp.KroneckerDelta), _deltas_out)
        # Opaque before the output sum is built: Sum() folds factors into a Piecewise, deltas included.
        opaque, table = _opaque(cotangent(eq) * partial)
        contracted = _restore(contract_deltas(_deltas_innermost(_output_sum(eq, opaque)), ranges), table)
        check_size(contracted, f"the VJP of {eq.output} by {name}")
        if contracted.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
            raise ValueError(
                f"formula layer: the derivative of {eq.output} by {name} is not a finite real expression "
                f"({excerpt(contracted)}); rewrite the equation (e.g. no 0**u)"
            )
        if contracted.has(sp.KroneckerDelta):
            raise ValueError(
                f"formula layer: the VJP of {eq.output} by {name} keeps a Kronecker delta after contraction "
                f"({excerpt(contracted)}); write the equation with one sum per index"
            )
        terms.append(VJPTerm(eq, partial, contracted))
    return tuple(terms), sp.Add(*(t.contracted for t in terms))


def _deltas_out(pw: sp.Piecewise) -> sp.Expr:
    """A Piecewise with Kronecker deltas in its branches, rewritten so that the deltas are outside it.

    δ·Piecewise((a, c), (b, True)) when every nonzero branch has the factor δ;
    otherwise Σ_k [branch k holds]·value_k, each indicator a Piecewise of 0 and 1.
    """
    values = [value for value, _ in pw.args]
    nonzero = [v for v in values if v != 0]
    common = set.intersection(*(set(f for f in sp.Mul.make_args(v) if isinstance(f, sp.KroneckerDelta)) for v in nonzero))
    if common:
        factor = sp.Mul(*common)
        return factor * sp.Piecewise(*((value / factor, cond) for value, cond in pw.args))
    terms = []
    for k, (value, cond) in enumerate(pw.args):
        earlier = [(sp.S.Zero, c) for _, c in pw.args[:k]]
        terms.append(sp.Piecewise(*earlier, (sp.S.One, cond), (sp.S.Zero, True)) * value)
    return sp.Add(*terms)


def _deltas_innermost(expr: sp.Expr) -> sp.Expr:
    """Every sum split over its terms, and each term's indices that meet a Kronecker delta summed innermost.

    Σ(f + g) = Σf + Σg, and sums over constant ranges commute; the contraction
    takes a multiple sum's limits innermost first and cannot reach a delta
    through a sum over another index.
    """
    def split(s: sp.Sum) -> sp.Expr:
        terms = []
        for term in sp.Add.make_args(sp.expand(s.function)):
            met = {x for d in term.atoms(sp.KroneckerDelta) for x in d.free_symbols}
            limits = sorted(s.limits, key=lambda limit: limit[0] not in met)
            terms.append(sp.Sum(term, *limits))
        return sp.Add(*terms)

    return expr.replace(lambda e: isinstance(e, sp.Sum), split)


def _opaque(expr: sp.Expr) -> tuple[sp.Expr, dict[sp.Function, sp.Lambda]]:
    """``expr`` with each largest part free of Kronecker deltas replaced by F_n(its indices).

    The contraction expands the sums' bodies; an opaque part is not expanded
    (the expansion of (x + b)^20 has millions of terms, e^{a+b} would split
    into e^a e^b) but still has the summed index substituted in its arguments.
    """
    table: dict[sp.Function, sp.Lambda] = {}

    def walk(e: sp.Basic) -> sp.Basic:
        if e.is_Atom or isinstance(e, (sp.Indexed, sp.KroneckerDelta)) or not isinstance(e, sp.Expr):
            return e
        if not e.has(sp.KroneckerDelta) and not isinstance(e, sp.Sum):
            indices = sorted((s for s in e.free_symbols if s.is_integer), key=sp.default_sort_key)
            head = sp.Function(f"Opaque{len(table)}")
            table[head] = sp.Lambda(tuple(indices), e)
            return head(*indices)
        return e.func(*(walk(arg) for arg in e.args))

    return walk(expr), table


def _restore(expr: sp.Expr, table: Mapping[sp.Function, sp.Lambda]) -> sp.Expr:
    return expr.replace(lambda e: type(e) in table, lambda e: table[type(e)](*e.args))


def _head(equation: IndexEquation) -> sp.Expr:
    return element(equation.output, equation.indices)


@dataclass(frozen=True)
class FormulaDerivation(Displayed):
    """A formula layer's forward equations and every VJP, as steps (for reports), LaTeX and (in a notebook) MathML."""

    name: str
    forward: tuple[Math, ...]
    vjps: Mapping[str, Math]
    steps: tuple[Step, ...]

    def latex(self) -> dict[str, str]:
        """``{"forward y": "y_{i} = …", "vjp W": "\\bar{W}_{i' j'} = …"}``, one entry per equation."""
        out = {f"forward {sp.latex(m.lhs)}": _latex(m) for m in self.forward}
        for name, math in self.vjps.items():
            out[f"vjp {name}"] = _latex(math)
        return out

    @property
    def equations(self) -> tuple[Math, ...]:
        """The forward equations, then each VJP: what a notebook shows."""
        return (*self.forward, *self.vjps.values())

    def _repr_latex_(self) -> str:
        return "$$\\begin{aligned}" + r"\\ ".join(_latex(m, "&=") for m in self.equations) + r"\end{aligned}$$"


def _latex(math: Math, relation: str = "=") -> str:
    return f"{sp.latex(math.lhs)} {relation} {sp.latex(math.rhs)}"


def build_derivation(
    name: str,
    equations: Sequence[IndexEquation],
    wrts: Mapping[str, tuple[tuple[sp.Symbol, ...], tuple[VJPTerm, ...], sp.Expr]],
) -> FormulaDerivation:
    """Steps: the forward map; per input/parameter, each output's partial (deltas) and the contracted VJP."""
    forward = tuple(Math(_head(eq), eq.rhs) for eq in equations)
    steps = [Step("Forward map, in index notation", forward)]
    stable = tuple(Math(_head(eq), stabilise(eq.rhs)) for eq in equations if stabilise(eq.rhs) != eq.rhs)
    if stable:
        steps.append(Step(
            "Stable form (the rewrite pass, each rewrite proven equal): what is differentiated and printed", stable
        ))
    vjps = {}
    for wrt, (indices, terms, vjp) in wrts.items():
        target = element(wrt, indices)
        partials = tuple(Math(sp.Derivative(_head(t.equation), target), t.partial) for t in terms)
        vjps[wrt] = Math(_overline(wrt, indices), vjp)
        steps.append(Step(
            f"VJP by {wrt}: differentiate each output by {target}, weight by its cotangent, contract the deltas",
            (*partials, vjps[wrt]),
            note="v_y is the cotangent of output y (the error signal arriving from the consumers of y).",
        ))
    return FormulaDerivation(name, forward, vjps, tuple(steps))


def _overline(name: str, indices: Sequence[sp.Symbol]) -> sp.Expr:
    symbol = sp.Symbol(rf"\bar{{{name}}}", real=True)
    if not indices:
        return symbol
    return sp.IndexedBase(symbol)[tuple(indices)]
