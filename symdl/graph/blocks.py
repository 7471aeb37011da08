"""Matrix-expression nodes of graph equations beyond SymPy's own, and the protocol they follow.

A node class a layer's equations use (here: stacking vectors and slicing
one; a custom layer may add its own) says what it is in the two places the
equations go, so neither the proof nor the printer names it:

* ``scalar_value(arrays)`` — its value as an explicit SymPy matrix, given its
  matrix arguments as explicit matrices (:func:`symdl.graph.proofs.evaluate`);
* ``array_code(args, module)`` — its numpy source for a batch in rows, given
  its matrix arguments' code (:class:`symdl.graph.statement_printer.GraphStatementPrinter`);
  the result must be a fresh array (the statement may be updated in place);
  ``modules`` lists the array modules it spells (a printer refuses the node for
  any other, rather than print numpy code into a JAX or torch module);
* ``definitions(module)`` — (name, source) of what the printed module of that
  array module must define before the code runs (a kernel function); none by default.
"""

from __future__ import annotations

from typing import ClassVar

import sympy as sp

__all__ = ["ArrayNode", "Concat", "Narrowed", "Slice", "Stopped", "padded"]


class ArrayNode(sp.MatrixExpr):
    """A node following the protocol above; ``arrays`` are its matrix arguments."""

    #: The array modules (``Backend.module``) whose code ``array_code`` writes.
    modules: ClassVar[tuple[str, ...]] = ("numpy",)
    #: Whether the value is a sum over the batch (a parameter's VJP): then ``array_code`` and ``definitions`` take
    #: ``accumulate``, the dtype a mixed-precision module sums in (``_acc_dtype``).
    reduced: ClassVar[bool] = False

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return tuple(a for a in self.args if isinstance(a, sp.MatrixExpr))

    @property
    def widened(self) -> tuple[bool, ...]:
        """Per array: read cast to ``_acc_dtype`` in a mixed-precision module (a layer that computes in float32 reading
        a compute-dtype array); () for none."""
        return ()

    def scalar_value(self, arrays: list[sp.Matrix]) -> sp.Matrix:
        raise NotImplementedError

    def array_code(self, args: list[str], module: str, accumulate: str | None = None) -> str:
        raise NotImplementedError

    def definitions(self, module: str = "numpy", accumulate: str | None = None) -> tuple[tuple[str, str], ...]:
        return ()


class Concat(ArrayNode):
    """[X₁; …; X_k]: column vectors stacked (their widths add up)."""

    modules = ("numpy", "jnp", "torch")

    def __new__(cls, *arrays: sp.MatrixExpr) -> Concat:
        return sp.Basic.__new__(cls, *arrays)

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return (sp.Add(*(a.shape[0] for a in self.args)), self.args[0].shape[1])

    def scalar_value(self, arrays: list[sp.Matrix]) -> sp.Matrix:
        return sp.Matrix.vstack(*arrays)

    def array_code(self, args: list[str], module: str, accumulate: str | None = None) -> str:
        zeros = [isinstance(a, sp.ZeroMatrix) for a in self.args]
        if any(zeros):  # [0; X; 0] (a slice's transpose, :func:`padded`): X with zero columns either side of the batch
            if zeros.count(False) != 1:
                raise ValueError("Concat: zero blocks print around one array only ([0; X; 0])")
            k = zeros.index(False)
            before = sum(int(a.shape[0]) for a in self.args[:k])
            after = sum(int(a.shape[0]) for a in self.args[k + 1:])
            if module == "torch":
                return f"torch.nn.functional.pad({args[k]}, ({before}, {after}))"
            return f"{module}.pad({args[k]}, ((0, 0), ({before}, {after})))"
        if module == "torch":
            return f"torch.cat(({', '.join(args)},), dim=1)"
        return f"{module}.concatenate(({', '.join(args)}), axis=1)"

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(printer._print(a) for a in self.args) + r"\end{bmatrix}"


class Slice(ArrayNode):
    """X[start:stop]: the rows start, …, stop − 1 of a column vector."""

    modules = ("numpy", "jnp", "torch")

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

    def scalar_value(self, arrays: list[sp.Matrix]) -> sp.Matrix:
        start, stop = self.bounds
        return arrays[0][start:stop, :]

    def array_code(self, args: list[str], module: str, accumulate: str | None = None) -> str:
        start, stop = self.bounds
        # A copy: the statement may later be updated in place, and the gradient it views is still read.
        return f"{args[0]}[:, {start}:{stop}].{'clone' if module == 'torch' else 'copy'}()"

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        start, stop = self.bounds
        return rf"{printer._print(self.array)}_{{{start + 1}:{stop}}}"


class _Marked(ArrayNode):
    """X's value, marked for the printer (its subclass says how): the same shape and the same scalar value as X."""

    modules = ()

    def __new__(cls, array: sp.MatrixExpr) -> _Marked:
        return sp.Basic.__new__(cls, array)

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.args[0].shape

    def scalar_value(self, arrays: list[sp.Matrix]) -> sp.Matrix:
        return arrays[0]


class Stopped(_Marked):
    """stop_gradient(X): X's value, no derivative through it (printed by the backend's ``stop_gradient``)."""

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{sg}}\left({printer._print(self.args[0])}\right)"


class Narrowed(_Marked):
    """X in the compute dtype: X's value, cast back from float32 (a mixed-precision module's ``_dtype``).

    Printer-level only, as :class:`Stopped`: :func:`symdl.graph.printing.print_graph` wraps the right side of what
    leaves a layer that computes in float32 (:attr:`symdl.graph.nodes.GraphLayer.computes_in_float32`: batch norm's
    output and its input's error signal)."""

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return printer._print(self.args[0])


def padded(g: sp.MatrixExpr, start: int, stop: int, width: int) -> sp.MatrixExpr:
    """[0; g; 0]: g placed into zeros at the rows start … stop − 1 of a column of ``width`` (a slice's transpose)."""
    blocks = [b for b in (sp.ZeroMatrix(start, 1), g, sp.ZeroMatrix(width - stop, 1)) if b.shape[0] != 0]
    return blocks[0] if len(blocks) == 1 else Concat(*blocks)
