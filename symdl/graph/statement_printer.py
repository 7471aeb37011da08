"""One equation of a graph → one statement: :class:`StatementPrinter` plus sums of bare vectors, stacking and slicing.

A sum of bare vectors is printed as a fresh array, never into an operand's buffer; a product U ⊙ V goes into U's
buffer only when U is a temporary nothing later reads; a node of :mod:`symdl.graph.blocks` prints its own code.
:mod:`symdl.graph.printing` prints the entry points from these statements.
"""

from __future__ import annotations

import sympy as sp

from ..backprop.equations import Elementwise
from ..codegen.statements import StatementPrinter
from .blocks import ArrayNode, Narrowed, Stopped
from .select_printer import one_call

__all__ = ["GraphStatementPrinter"]


class GraphStatementPrinter(StatementPrinter):
    """:class:`StatementPrinter` plus a graph's statements: sums of bare vectors, stacking and slicing."""

    def _emit(self, eq: sp.Eq, live: set[sp.MatrixSymbol]) -> None:
        rhs = eq.rhs
        reducing = eq.lhs not in self.scope.batched and self.scope.is_batched(rhs)
        accumulating = eq.lhs in rhs.args  # g = g + Ω'(θ): the statement printer's g += Ω'(θ)
        if isinstance(rhs, sp.MatAdd) and not reducing and not accumulating and not any(isinstance(a, sp.MatMul) for a in rhs.args):
            # x + y into a fresh array: `T = x; T += y` would write into x's buffer.
            self.lines.append(f"{self.scope.names[eq.lhs]} = {self._code(rhs)}")
            return
        super()._emit(eq, live)

    def _emit_product(self, target: str, rhs: sp.HadamardProduct, live: set[sp.MatrixSymbol]) -> None:
        """U ⊙ V: into U's buffer when U is a temporary that neither V nor a later statement reads, else a fresh array."""
        left, right = sorted(rhs.args, key=lambda a: isinstance(a, Elementwise))
        if isinstance(left, sp.MatrixSymbol) and self.busy(self.scope.name(left), live | right.atoms(sp.MatrixSymbol)):
            factor = self._code(right)
            if _selected(factor):  # the selection's own new array times U in place (u·v = v·u exactly): no temporary
                self.lines += [f"{target} = {factor}", f"{target} *= {self.scope.name(left)}"]
                return
            self.lines.append(f"{target} = {self.scope.name(left)} * ({factor})")
            return
        super()._emit_product(target, rhs, live)

    def _code(self, expr: sp.MatrixExpr) -> str:
        backend = self.scope.backend
        module = backend.module
        if isinstance(expr, sp.ZeroMatrix):  # a zero block: 0 broadcasts in a sum or product; Concat sizes its own
            return "0"
        if isinstance(expr, Stopped):
            return backend.stop_gradient(self._code(expr.arrays[0]))
        if isinstance(expr, Narrowed):  # mixed precision: a float32 value back in the compute dtype
            return backend.cast(self._parenthesized(expr.arrays[0]), "_dtype")
        if isinstance(expr, ArrayNode):
            if module not in expr.modules:
                raise ValueError(f"{type(expr).__name__} nodes have no {backend.title} spelling; they print for "
                                 f"{', '.join(expr.modules)} only")
            args = [self._parenthesized(a) for a in expr.arrays]
            if self.scope.accumulate is not None and any(expr.widened):  # a float32 layer's compute-dtype arrays
                args = [backend.cast(a, self.scope.accumulate) if wide else a for a, wide in zip(args, expr.widened)]
            if expr.reduced and self.scope.accumulate is not None:  # mixed precision: its Σ over the batch in _acc_dtype
                return expr.array_code(args, module, self.scope.accumulate)
            return expr.array_code(args, module)
        if isinstance(expr, sp.MatMul):
            coeff, matrices = expr.as_coeff_matrices()
            if coeff != 1 and len(matrices) == 1:  # c·X: a scalar times one array
                return f"({self.scope.printer.doprint(coeff)}) * {self._parenthesized(matrices[0])}"
        return super()._code(expr)


def _selected(code: str) -> bool:
    """Whether ``code`` is one call of ``_where`` / ``_where_into``: an array made by the call, named nowhere else."""
    return code.startswith(("_where(", "_where_into(")) and one_call(code)
