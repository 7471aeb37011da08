"""Matrix-expression nodes for stacking vectors: [h¹; …; hᵏ] and the rows start…stop − 1 of a vector."""

from __future__ import annotations

import sympy as sp

__all__ = ["Concat", "Slice"]


class Concat(sp.MatrixExpr):
    """[X₁; …; X_k]: column vectors stacked (their widths add up)."""

    def __new__(cls, *arrays: sp.MatrixExpr) -> Concat:
        return sp.Basic.__new__(cls, *arrays)

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return self.args

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return (sp.Add(*(a.shape[0] for a in self.args)), self.args[0].shape[1])

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(printer._print(a) for a in self.args) + r"\end{bmatrix}"


class Slice(sp.MatrixExpr):
    """X[start:stop]: the rows start, …, stop − 1 of a column vector."""

    def __new__(cls, array: sp.MatrixExpr, start: int, stop: int) -> Slice:
        return sp.Basic.__new__(cls, array, sp.Integer(start), sp.Integer(stop))

    @property
    def array(self) -> sp.MatrixExpr:
        return self.args[0]

    @property
    def bounds(self) -> tuple[int, int]:
        return int(self.args[1]), int(self.args[2])

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        start, stop = self.bounds
        return (sp.Integer(stop - start), self.array.shape[1])

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        start, stop = self.bounds
        return rf"{printer._print(self.array)}_{{{start + 1}:{stop}}}"
