r"""The vector-Jacobian products of stacking, slicing and stop-gradient, written out node by node for a reader.

A graph's backward equations use these rules without naming them (a
consumer's term in gᵘ is its VJP Jᵀgˢ); here each is stated at its node, in
the symbols of the graph's equations:

* stacking hˢ = [hᵘ¹; …; hᵘᵏ]: (∂hˢ/∂hᵘⁱ)ᵀ gˢ = gˢ_{a:b}, the rows of block i
  (the error signal splits by blocks);
* slicing hˢ = hᵘ_{a:b}: (∂hˢ/∂hᵘ)ᵀ gˢ = [0; gˢ; 0], gˢ placed into zeros at rows
  a … b (two slices of one node, GLU's halves, add up to their signals stacked);
* stop-gradient hˢ = sg(hᵘ): (∂hˢ/∂hᵘ)ᵀ gˢ = 0 (the identity forward, a
  constant to the derivative).

Rows are counted from 1 with both ends included, as a textbook writes x_{a:b}.
:func:`symdl.graph.proofs.prove_graph` proves the graph's equations that use
them; :func:`symdl.graph.index_proofs.prove_index_claims` proves each rule at
symbolic widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..symbolic.proof import Proof
from .blocks import Concat, Slice, Stopped, padded
from .equations import GraphEquations
from .proofs import evaluate

__all__ = ["BlockRule", "block_rules", "prove_block_rules"]

#: (label, the forward equation hˢ = f(hᵘ), its source hᵘ, Jᵀgˢ, the value the rule gives it)
BlockRule = tuple[str, sp.Eq, sp.MatrixSymbol, sp.MatrixExpr, sp.MatrixExpr]


def _gradient(value: sp.MatrixSymbol) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial {value.name}}}", value.shape[0], 1)


def _vjp(out: sp.MatrixSymbol, source: sp.MatrixSymbol) -> sp.MatrixExpr:
    jacobian = sp.MatrixSymbol(rf"\frac{{\partial {out.name}}}{{\partial {source.name}}}", out.shape[0], source.shape[0])
    return sp.MatMul(sp.Transpose(jacobian), _gradient(out), evaluate=False)


def block_rules(eqs: GraphEquations) -> tuple[BlockRule, ...]:
    """A :data:`BlockRule` for every input of every stacking, slicing and stop-gradient node of ``eqs``' forward pass."""
    out: list[BlockRule] = []
    for eq in eqs.shown_forward:
        h, rhs = eq.lhs, eq.rhs
        if isinstance(rhs, Concat):
            start = 0
            for block in rhs.args:
                width = int(block.shape[0])
                out.append(("stacking: the error signal splits by blocks", eq, block, _vjp(h, block), Slice(_gradient(h), start, start + width)))
                start += width
        elif isinstance(rhs, Slice):
            start, stop = rhs.bounds
            out.append(("slicing: the error signal placed into zeros", eq, rhs.array, _vjp(h, rhs.array),
                        padded(_gradient(h), start, stop, int(rhs.array.shape[0]))))
        elif isinstance(rhs, Stopped):
            source = rhs.args[0]
            out.append(("stop-gradient: nothing flows back", eq, source, _vjp(h, source), sp.ZeroMatrix(source.shape[0], 1)))
    return tuple(out)


def _column(stem: str, rows: int) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{stem}_{r}", real=True) for r in range(rows)])


def prove_block_rule(rule: BlockRule) -> Proof:
    """Jᵀgˢ from ``sp.diff`` of the node's forward map, entry by entry, minus the rule's value, is 0 exactly.

    The arrays are columns of scalar symbols; a stop-gradient's value is a fresh column while it is
    differentiated (a constant to the derivative, as :func:`symdl.graph.proofs.prove_graph` treats it).
    """
    _, eq, source, vjp, value = rule
    sources = sorted(eq.rhs.atoms(sp.MatrixSymbol), key=sp.default_sort_key)
    env = {a: _column(f"u{k}", int(a.shape[0])) for k, a in enumerate(sources)}
    out = _column("h", int(eq.lhs.shape[0])) if isinstance(eq.rhs, Stopped) else evaluate(eq.rhs, env)
    g = _column("g", int(eq.lhs.shape[0]))
    derived = sp.Matrix([sum(g[r] * sp.diff(out[r], u) for r in range(out.rows)) for u in env[source]])
    gradient = next(a for a in vjp.atoms(sp.MatrixSymbol) if a.name.startswith(r"\frac{\partial C}"))
    claimed = evaluate(value, {**env, gradient: g})
    gap = (derived - claimed).applyfunc(sp.expand)
    if gap == sp.zeros(*gap.shape):
        return Proof(True, "Jᵀg from sp.diff of the forward map equals the rule, every entry exactly", gap.rows)
    row = next(r for r in range(gap.rows) if gap[r] != 0)
    return Proof(False, f"refuted: entry {row + 1} of Jᵀg minus the rule is {gap[row]}, not 0", gap.rows)


def prove_block_rules(eqs: GraphEquations, rules: Sequence[BlockRule] | None = None) -> dict[str, Proof]:
    """Each of ``rules`` (default: :func:`block_rules` of ``eqs``) proven by :func:`prove_block_rule`, by a label naming its node."""
    name = lambda symbol: eqs.names.get(symbol, symbol.name)  # noqa: E731
    return {f"{rule[0]}, node {name(rule[1].lhs)} from {name(rule[2])}": prove_block_rule(rule)
            for rule in (block_rules(eqs) if rules is None else rules)}
