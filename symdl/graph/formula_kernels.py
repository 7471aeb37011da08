r"""The array node of a formula layer's pieces in a graph: its value for a batch, printed from its index expression.

A :class:`FormulaKernel` holds one expression in index notation (the
forward value, a sum hoisted out of it, a δ, a VJP) and its matrix arguments.
It follows the :class:`~symdl.graph.blocks.ArrayNode` protocol: its scalar
value at concrete sizes is the expression written out (for
:func:`symdl.graph.proofs.prove_graph`); its code (numpy, ``jnp`` or torch)
is inline where the expression has a dense layer's shape (an element-wise
expression of vectors, p Mᵀ, δᵀx, a sum over the rows), else a call of the
kernel printed from it — :func:`symdl.formula_layers.codegen.print_kernel`
for numpy, :func:`symdl.codegen.array_index_kernels.array_index_kernel_source`
for JAX and PyTorch, the same layout — whose source
:meth:`FormulaKernel.definitions` hands to the graph's module.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy as sp

from ..backends.base import Backend
from ..backends.registry import backend_names, get_backend
from ..codegen.array_index_kernels import array_index_kernel_source, place_source
from ..codegen.kernel import Kernel, printable
from ..formula_layers.codegen import index_slots, print_kernel
from ..formula_layers.layer import KERNEL_PRELUDE
from ..formula_layers.proofs import at_size
from ..symbolic.functions import NamedFunction
from ..symbolic.rewrite import stabilise
from ..symbolic.shared_cse import cse_basic
from .blocks import ArrayNode

__all__ = ["FormulaKernel", "FormulaParamKernel"]

_HELPERS = "_formula_kernel_helpers"
#: An argument the inline code may read as it is: a name, or a name cast (mixed precision: ``X.to(_acc_dtype)``).
_PRIMARY = re.compile(r"[A-Za-z_]\w*(\.(to|astype)\([A-Za-z_]\w*\))?")


class FormulaKernel(ArrayNode):
    """``expr`` (index notation) for a batch: output indices ``output``, each IndexedBase of ``expr`` one matrix argument.

    ``args``: a spec Tuple (kernel name, expr, array names, output indices, sizes, rows, cols, which arrays hold
    a batch in rows) and the matrix arguments, in the order of the names. The common shapes print inline
    (:func:`_inline`): an element-wise expression of vectors, Σₖ p[k]·M[k, j] as ``p @ M``, a parameter's δ[i]·x[j]
    summed over the batch as ``δ.T @ x``; anything else calls its kernel function.
    """

    def __new__(cls, spec: sp.Tuple, *arrays: sp.MatrixExpr) -> FormulaKernel:
        return sp.Basic.__new__(cls, spec, *arrays)

    @property
    def spec(self) -> sp.Tuple:
        return self.args[0]

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return tuple(self.args[1:])

    @property
    def kernel_name(self) -> str:
        return str(self.spec[0])

    @property
    def expr(self) -> sp.Expr:
        return self.spec[1]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(str(n) for n in self.spec[2])

    @property
    def output(self) -> tuple[sp.Symbol, ...]:
        return tuple(self.spec[3])

    @property
    def sizes(self) -> dict[sp.Symbol, int]:
        return {d: int(n) for d, n in self.spec[4]}

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return (self.spec[5], self.spec[6])

    @property
    def batched(self) -> frozenset[str]:
        return frozenset(n for n, b in zip(self.names, self.spec[7]) if b)

    @property
    def widened(self) -> tuple[bool, ...]:
        """The arrays a layer that computes in float32 reads widened (spec[8], absent for another layer)."""
        return tuple(bool(w) for w in self.spec[8]) if len(self.spec) > 8 else ()

    modules = ("numpy", "jnp", "torch")

    def kernel(self) -> Kernel:
        return _compiled(self.kernel_name, self.expr, self.names, self.output, self.reduced)

    def scalar_value(self, arrays: list[sp.Matrix]) -> sp.Matrix:
        """One sample: every output cell of ``expr`` written out at the concrete sizes, the arrays' entries read in."""
        table = dict(zip(self.names, arrays))

        def entry(e: sp.Indexed) -> sp.Expr:
            m = table[str(e.base.label)]
            return m[int(e.indices[0]), int(e.indices[1]) if len(e.indices) == 2 else 0]

        rows, cols = int(self.shape[0]), int(self.shape[1])
        out = sp.zeros(rows, cols)
        for r in range(rows):
            for c in range(cols):
                cell = dict(zip(self.output, (r, c)))
                value = at_size(self.expr, self.sizes, cell)
                value = value.replace(lambda e: isinstance(e, sp.Indexed), entry)
                # symdl's named functions (σ, softplus) by their definitions, as sp.diff of the forward writes them
                out[r, c] = value.replace(lambda e: isinstance(e, NamedFunction), lambda e: e.definition(e.args[0]))
        return out

    def array_code(self, args: list[str], module: str, accumulate: str | None = None) -> str:
        """The node's code: inline, or a call of its kernel; a reduced node's sum over the batch in ``accumulate`` if given."""
        inline = _inline(self, args, module, accumulate)
        return inline if inline is not None else f"{self.kernel_name}({', '.join(args)})"

    def definitions(self, module: str = "numpy", accumulate: str | None = None) -> tuple[tuple[str, str], ...]:
        """What the printed module must define before a call: the kernels' helpers, then this kernel (none when inline)."""
        if _inline(self, list(self.names), module, accumulate) is not None:
            return ()
        if module == "numpy":
            return ((_HELPERS, KERNEL_PRELUDE.rstrip() + "\n"), (self.kernel_name, self.kernel().source))
        backend = _backend(module)
        source = _array_source(self.kernel_name, self.expr, self.names, self.output, self.reduced, backend.name, accumulate)
        return ((f"{_HELPERS}_{module}", place_source(backend)), (self.kernel_name, source))

    def display_expr(self) -> sp.Expr:
        """``expr`` with each array read from its matrix argument (``W[i, j]`` → (W¹)ᵢⱼ): the node as a report shows it."""
        return self.expr.xreplace({sp.IndexedBase(n, real=True): sp.IndexedBase(a) for n, a in zip(self.names, self.arrays)})

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        rename = {sp.IndexedBase(n, real=True): sp.IndexedBase(sp.Symbol(printer._print(a))) for n, a in zip(self.names, self.arrays)}
        body = printer._print(self.expr.xreplace(rename))
        return rf"\left[{body}\right]_{{{' '.join(printer._print(i) for i in self.output)}}}"


class FormulaParamKernel(FormulaKernel):
    """A parameter's VJP: ``expr`` summed over the batch (a parameter-shaped array, as Dense's δ aᵀ)."""

    reduced = True

    def __new__(cls, spec: sp.Tuple, *arrays: sp.MatrixExpr) -> FormulaParamKernel:
        # The arguments inside a Tuple: the statement printer then sees a parameter-shaped value, not a batch to sum.
        return sp.Basic.__new__(cls, spec, sp.Tuple(*arrays))

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return tuple(self.args[1])


def _backend(module: str) -> Backend:
    """The registered backend whose array module is ``module`` (``jnp`` → JAX)."""
    return next(b for b in map(get_backend, backend_names()) if b.module == module)


@lru_cache(maxsize=512)
def _array_source(name: str, expr: sp.Expr, names: tuple[str, ...], output: tuple[sp.Symbol, ...], reduced: bool,
                  backend: str, accumulate: str | None = None) -> str:
    """The kernel of :meth:`FormulaKernel.kernel` printed for a JAX or torch module: the same stable form, the same layout."""
    stable = printable(stabilise(expr), name)
    return array_index_kernel_source(stable, names, index_slots(stable, output), output, name, get_backend(backend),
                                     reduce_leading=reduced, accumulate=accumulate)


@lru_cache(maxsize=512)
def _compiled(name: str, expr: sp.Expr, names: tuple[str, ...], output: tuple[sp.Symbol, ...], reduced: bool) -> Kernel:
    arrays = [sp.IndexedBase(n, real=True) for n in names]
    return print_kernel(expr, arrays, output, name, shared=reduced)


def _inline(node: FormulaKernel, args: list[str], module: str, accumulate: str | None = None) -> str | None:
    return _inline_text(node, tuple(args), module, accumulate)


@lru_cache(maxsize=4096)  # a graph prints each node several times (each entry point, each backend's check)
def _inline_text(node: FormulaKernel, args: tuple[str, ...], module: str, accumulate: str | None = None) -> str | None:
    """The node's value as one expression of the array module of its arguments' names, for the shapes a dense layer makes; else None.

    Each result is a fresh array (an arithmetic expression, a matrix product, or a sum of them), as an array
    node's code must be; a sum of such terms prints term by term (x's VJP of x + W x is ``v + v @ W``).
    """
    if not all(_PRIMARY.fullmatch(a) for a in args):
        return None
    code = dict(zip(node.names, args))
    terms = sp.Add.make_args(node.expr)
    printed = [p for p in (_inline_term(t, node, code, module, accumulate) for t in terms) if p is not None]
    if len(printed) < len(terms) or (len(terms) == 1 and isinstance(terms[0], sp.Indexed) and not node.reduced):
        return None  # a bare array would be no fresh array
    return " + ".join(p if len(terms) == 1 or p.isidentifier() else f"({p})" for p in printed)


def _inline_term(expr: sp.Expr, node: FormulaKernel, code: dict[str, str], module: str, accumulate: str | None = None) -> str | None:
    output, vectors = node.output, node.batched
    if node.reduced:
        factors = sp.Mul.make_args(expr)
        if all(isinstance(f, sp.Indexed) and str(f.base.label) in vectors and len(f.indices) == 1 for f in factors):
            if len(factors) == 1 and factors[0].indices == output:  # Σ over the batch of p[i]
                return f"{module}.sum({code[str(factors[0].base.label)]}, axis=0{'' if accumulate is None else ', dtype=' + accumulate})"
            if len(factors) == 2 and len(output) == 2:  # Σ over the batch of p[i]·q[j]: pᵀq
                by_index = {f.indices[0]: code[str(f.base.label)] for f in factors}
                if set(by_index) == set(output):
                    return f"{by_index[output[0]]}.T @ {by_index[output[1]]}"
        return None
    if isinstance(expr, sp.Sum) and len(expr.limits) == 1 and len(output) == 1:
        (k, _, _), factors = expr.limits[0], sp.Mul.make_args(expr.function)
        vector = [f for f in factors if isinstance(f, sp.Indexed) and str(f.base.label) in vectors and f.indices == (k,)]
        matrix = [f for f in factors if isinstance(f, sp.Indexed) and str(f.base.label) not in vectors and len(f.indices) == 2]
        if len(factors) == 2 and len(vector) == 1 and len(matrix) == 1:
            p, m = code[str(vector[0].base.label)], code[str(matrix[0].base.label)]
            if matrix[0].indices == (k, output[0]):  # Σₖ p[k]·M[k, j]: p M
                return f"{p} @ {m}"
            if matrix[0].indices == (output[0], k):  # Σₖ M[i, k]·p[k]: p Mᵀ
                return f"{p} @ {m}.T"
        return None
    cells = expr.atoms(sp.Indexed)
    if len(output) != 1 or expr.has(sp.Sum) or not cells or any(e.indices != output for e in cells):
        return None
    # element-wise in the output index: each array read at it is its name (a parameter vector broadcasts over rows)
    body = printable(stabilise(expr), node.kernel_name).xreplace({e: sp.Symbol(code[str(e.base.label)], real=True) for e in cells})
    intermediates, _ = cse_basic(body)
    if intermediates:
        return None
    return _backend(module).printer().doprint(body)
