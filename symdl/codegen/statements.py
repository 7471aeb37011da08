"""Statements of a generated network function: one equation → one line of array code, buffers reused where safe.

:class:`StatementPrinter` prints a list of equations (:mod:`symdl.backprop.equations`)
as the statements of one entry point for a batch in rows (``W v → V @ W.T``),
in the backend's spelling; it tracks liveness so that a buffer is written in
place (``numpy.tanh(Z, out=Z)``, ``D *= σ'(A)``) only when no later
statement reads the value it holds. :mod:`symdl.codegen.network` assembles
the entry points from these statements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..backprop.equations import Elementwise, KernelCall, VectorRuleCall
from ..symbolic.shared_cse import cse_basic
from .inplace import exact_in_place
from .kernel import KernelPrinter, printable

__all__ = ["Scope", "StatementPrinter", "kernel_function_name"]


def _ufunc_call(backend: Backend) -> re.Pattern[str]:
    """``module.f(args)`` with no call inside: a candidate for ``module.f(args, out=Z)``."""
    return re.compile(rf"{backend.module}\.(\w+)\(([^()]*)\)")


@dataclass
class Scope:
    """Python names of the matrix symbols, which ones hold a batch in rows, and which are inputs."""

    names: dict[sp.MatrixSymbol, str]
    batched: set[sp.MatrixSymbol]
    inputs: set[str]
    backend: Backend = field(default_factory=lambda: get_backend("numpy"))
    printer: KernelPrinter = field(default_factory=KernelPrinter)
    temps: Iterable[sp.Symbol] = field(default_factory=lambda: sp.numbered_symbols("_e"))
    aliases: dict[sp.MatrixSymbol, str] = field(default_factory=dict)
    widths: Mapping[sp.Expr, int] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    #: The dtype a sum over the batch accumulates in when it is not the compute dtype (mixed precision: ``_acc_dtype``).
    accumulate: str | None = None

    def name(self, symbol: sp.MatrixSymbol) -> str:
        return self.aliases.get(symbol, self.names[symbol])

    def is_batched(self, expr: sp.MatrixExpr) -> bool:
        """Whether ``expr`` holds one row per sample (an outer product d aᵀ is summed over them)."""
        if isinstance(expr, sp.MatrixSymbol):
            return expr in self.batched
        if _is_outer(expr, self):
            return False
        return any(self.is_batched(a) for a in expr.args if isinstance(a, sp.MatrixExpr))


def _is_outer(expr: sp.MatrixExpr, scope: Scope) -> bool:
    """d aᵀ of two per-sample vectors: a parameter-shaped sum over the batch."""
    if isinstance(expr, sp.MatMul) and len(expr.args) == 2 and isinstance(expr.args[1], sp.Transpose):
        return expr.args[0] in scope.batched and expr.args[1].arg in scope.batched
    return False


class StatementPrinter:
    """Statements of one generated function, with liveness: which symbols later statements read."""

    def __init__(self, scope: Scope, equations: Sequence[sp.Eq], keep: Iterable[sp.MatrixSymbol]) -> None:
        self.scope = scope
        self.equations = list(equations)
        self.lines: list[str] = []
        # Symbols read by equation k or later, and the ones returned at the end.
        reads: list[set[sp.MatrixSymbol]] = [set() for _ in range(len(self.equations) + 1)]
        reads[-1] = set(keep)
        for k in range(len(self.equations) - 1, -1, -1):
            reads[k] = reads[k + 1] | self.equations[k].rhs.atoms(sp.MatrixSymbol)
        self.reads_after = reads[1:]

    def emit_all(self) -> list[str]:
        for k, eq in enumerate(self.equations):
            self._emit(eq, self.reads_after[k])
        return self.lines

    def busy(self, name: str, reads: set[sp.MatrixSymbol]) -> bool:
        """Whether the buffer ``name`` must not be written: an input's, or held by a symbol in ``reads`` (one a later
        statement reads, or one this statement reads besides the buffer it writes: ``Z *= Z`` overwrites what
        torch autograd saved for the product) under its own name or an alias (``A = Z``)."""
        scope = self.scope
        return name in scope.inputs or any(scope.aliases.get(s, scope.names.get(s)) == name for s in reads)

    # --- statements ----------------------------------------------------------

    def _emit(self, eq: sp.Eq, live: set[sp.MatrixSymbol]) -> None:
        lhs, rhs = eq.lhs, eq.rhs
        scope = self.scope
        if isinstance(lhs, sp.Tuple):  # a kernel with several results (batch norm's forward and VJP)
            self.lines.append(f"{', '.join(scope.names[t] for t in lhs)} = {self._code(rhs)}")
            return
        target = scope.names[lhs]
        reducing = lhs not in scope.batched and scope.is_batched(rhs)
        if reducing and scope.accumulate is not None:  # mixed precision: Σ over the batch in float32, not the compute dtype
            self.lines.append(f"{target} = {scope.backend.module}.sum({self._code(rhs)}, axis=0, dtype={scope.accumulate})")
            return
        if reducing:  # BP3 and the learned inputs' gradients: a sum over the batch
            if "_ones" not in self.scope.defined:
                self.lines.append(f"_ones = {scope.backend.tensor_factory('ones', 'X.shape[0]', 'X')}")
                self.scope.defined.add("_ones")
            # 1ᵀD: one BLAS matrix-vector product, about 2× numpy.sum(D, axis=0) for a batch of 256 (bench_network).
            self.lines.append(f"{target} = _ones @ {self._parenthesized(rhs)}")
            return
        if isinstance(rhs, sp.MatAdd) and len(rhs.args) == 2 and lhs in rhs.args:  # g = g + t: t added into g's buffer
            self.lines.append(f"{target} += {self._code(rhs.args[1] if rhs.args[0] == lhs else rhs.args[0])}")
            return
        if isinstance(rhs, sp.MatAdd) and len(rhs.args) == 2:
            first, second = _order_add(rhs.args, scope)
            self.lines.append(f"{target} = {self._code(first)}")
            self.lines.append(f"{target} += {self._code(second)}")
            return
        if isinstance(rhs, sp.HadamardProduct) and len(rhs.args) == 2:
            self._emit_product(target, rhs, live)
            return
        if isinstance(rhs, Elementwise) and self._emit_elementwise(lhs, rhs, live):
            return
        self.lines.append(f"{target} = {self._code(rhs)}")

    def _emit_product(self, target: str, rhs: sp.HadamardProduct, live: set[sp.MatrixSymbol]) -> None:
        """U ⊙ f(…) as ``T = U; T *= f(…)``, writing into U's buffer when U is a dead temporary."""
        scope = self.scope
        left, right = sorted(rhs.args, key=lambda a: isinstance(a, Elementwise))
        if isinstance(right, Elementwise) and right.scalar() == 1:
            self.lines.append(f"{target} = {self._code(left)}")
            return
        if isinstance(left, sp.MatrixSymbol):
            name = scope.name(left)
            if self.busy(name, live | right.atoms(sp.MatrixSymbol)):
                self.lines.append(f"{target} = {name} * {self._factor(right, live, left)}")
                return
            self.lines.append(f"{name} *= {self._factor(right, live, left)}")
            self.lines.append(f"{target} = {name}")
            return
        self.lines.append(f"{target} = {self._code(left)}")
        self.lines.append(f"{target} *= {self._factor(right, live, left)}")

    def _factor(self, factor: sp.MatrixExpr, live: set[sp.MatrixSymbol], other: sp.MatrixExpr) -> str:
        """σ'(A) as a product's factor: built in A's own buffer when nothing reads A afterwards (the name), else printed.

        ``d *= 1 - a**2`` becomes ``numpy.square(a, out=a)``, ``numpy.subtract(1, a, out=a)``, ``d *= a``
        (:func:`symdl.codegen.inplace.exact_in_place`: the same operations, the same bits, no temporaries).
        """
        functions = self.scope.backend.out_functions
        if not (functions and "subtract" in functions and isinstance(factor, Elementwise) and len(factor.arrays) == 1):
            return self._code(factor)
        (arg,) = factor.arrays
        scope = self.scope
        if not isinstance(arg, sp.MatrixSymbol) or arg in other.atoms(sp.MatrixSymbol):
            return self._code(factor)
        name = scope.name(arg)
        if self.busy(name, live):
            return self._code(factor)
        (var,) = factor.function.variables
        intermediates, final = _prepared(factor.function, factor.name)
        if intermediates:
            return self._code(factor)
        steps = exact_in_place(_renamed(final, {var: sp.Symbol(name, real=True)}), name, functions, scope.printer.doprint)
        if not steps:  # another shape, or σ' = A itself
            return self._code(factor)
        self.lines += steps
        return name

    def _emit_elementwise(self, lhs: sp.MatrixSymbol, rhs: Elementwise, live: set[sp.MatrixSymbol]) -> bool:
        """f(Z), into Z's own buffer when Z is a temporary no later statement reads (``numpy.tanh(Z, out=Z)``)."""
        target = self.scope.names[lhs]
        arg = rhs.arrays[0]
        name = self.scope.name(arg) if isinstance(arg, sp.MatrixSymbol) else None
        reusable = len(rhs.arrays) == 1 and name is not None and not self.busy(name, live)
        if reusable and name is not None and rhs.scalar() == rhs.function.variables[0]:  # the identity: the output is the input
            self.scope.aliases[lhs] = name
            self.lines.append(f"{target} = {name}")
            return True
        code = self._code(rhs)
        backend = self.scope.backend
        match = _ufunc_call(backend).fullmatch(code) if backend.out_param else None
        function = match.group(1) if match else ""
        # where and friends take no out=; ufuncs and clip/clamp do.
        if (
            reusable
            and match
            and name in (a.strip() for a in match.group(2).split(","))
            and (isinstance(getattr(np, function, None), np.ufunc) or function in ("clip", "clamp"))
        ):
            self.lines.append(f"{backend.module}.{function}({match.group(2)}, out={name})")
            self.lines.append(f"{target} = {name}")
        else:
            self.lines.append(f"{target} = {code}")
        return True

    # --- expressions ---------------------------------------------------------

    def _code(self, expr: sp.MatrixExpr) -> str:
        scope = self.scope
        if isinstance(expr, sp.MatrixSymbol):
            return scope.name(expr)
        if isinstance(expr, sp.MatMul):
            return self._matmul(expr)
        if isinstance(expr, sp.MatAdd):
            return " + ".join(self._code(a) for a in expr.args)
        if isinstance(expr, sp.HadamardProduct):
            return " * ".join(f"({self._code(a)})" for a in expr.args)
        if isinstance(expr, Elementwise):
            return self._elementwise(expr)
        if isinstance(expr, KernelCall):
            return f"_{expr.kernel}({', '.join(self._code(a) for a in expr.arrays)})"
        if isinstance(expr, VectorRuleCall):
            args = ", ".join(self._code(a) for a in expr.arrays)
            return f"{kernel_function_name(expr.rule, expr.role)}({args})"
        raise ValueError(f"cannot print {type(expr).__name__} as network code: {expr}")

    def _parenthesized(self, expr: sp.MatrixExpr) -> str:
        code = self._code(expr)
        return code if code.isidentifier() else f"({code})"

    def _matmul(self, expr: sp.MatMul) -> str:
        if len(expr.args) != 2:
            raise ValueError(f"network code multiplies two factors at a time, got {expr}")
        left, right = expr.args
        if _is_outer(expr, self.scope):
            return f"{self._code(left)}.T @ {self._code(right.arg)}"
        if isinstance(left, sp.Transpose):  # (Wᵀ d)ᵀ = dᵀ W
            if self.scope.widths.get(left.arg.shape[0]) == 1:
                # W has one row: D @ W is the outer product of a column and a row, a broadcast multiply.
                return f"{self._parenthesized(right)} * {self._code(left.arg)}"
            return f"{self._code(right)} @ {self._code(left.arg)}"
        return f"{self._code(right)} @ {self._code(left)}.T"  # (W v)ᵀ = vᵀ Wᵀ

    def _elementwise(self, expr: Elementwise) -> str:
        """f(X₁, …) printed inline: CSE temporaries become statements, the result an expression."""
        scope = self.scope
        names = [self._code(a) for a in expr.arrays]
        if not all(n.isidentifier() for n in names):
            raise ValueError(f"element-wise function of a compound expression: {expr}")
        intermediates, final = _prepared(expr.function, expr.name)
        mapping: dict[sp.Basic, sp.Basic] = {v: sp.Symbol(n, real=True) for v, n in zip(expr.function.variables, names)}
        if not final.free_symbols:  # a constant derivative: broadcast to the argument's shape
            return scope.backend.tensor_factory("full", f"{names[0]}.shape, {scope.printer.doprint(final)}", names[0])
        if not intermediates and not final.free_symbols & set(expr.function.variables):
            # one value for every entry that reads no array (a graph's seed c·ℓ'/m of a linear loss, times a loss scale
            # that may be a 0-d tensor): ones times it, no fill value read back to the host, rounded once to _dtype
            ones = scope.backend.tensor_factory("ones", f"{names[0]}.shape", names[0])
            return f"{ones} * ({scope.printer.doprint(final)})"
        for symbol, value in intermediates:
            temp = next(iter(scope.temps))
            self.lines.append(f"{temp} = {scope.printer.doprint(_renamed(value, mapping))}")
            mapping[symbol] = temp
        return scope.printer.doprint(_renamed(final, mapping))


#: (f, name) → f's body made printable (:func:`symdl.codegen.kernel.printable`) and its common subexpressions, in f's
#: own variables: prepared once per function, each use only renames (the graph of 50 nodes prints ELU' 25 times).
_PREPARED: dict[tuple[sp.Lambda, str], tuple[tuple[tuple[sp.Symbol, sp.Expr], ...], sp.Expr]] = {}


def _renamed(expr: sp.Expr, mapping: Mapping[sp.Basic, sp.Basic]) -> sp.Expr:
    """``expr`` with its symbols renamed and nothing re-evaluated: (z + 3)/6 stays itself, not z/6 + 1/2 (other bits)."""
    with sp.evaluate(False):
        return expr.xreplace(mapping)


def _prepared(function: sp.Lambda, name: str) -> tuple[tuple[tuple[sp.Symbol, sp.Expr], ...], sp.Expr]:
    """The CSE temporaries (placeholder symbols → values) and the final expression of ``function`` printed as ``name``."""
    key = (function, name)
    if key not in _PREPARED:
        body = printable(function.expr, name)
        if not body.free_symbols:
            _PREPARED[key] = ((), body)
        else:
            intermediates, (final,) = cse_basic(body, symbols=sp.numbered_symbols("_cse", cls=sp.Dummy))
            _PREPARED[key] = (tuple(intermediates), final)
    return _PREPARED[key]


def _order_add(args: Sequence[sp.MatrixExpr], scope: Scope) -> tuple[sp.MatrixExpr, sp.MatrixExpr]:
    """The term that makes a fresh array first (a product), the one added in place second (a bias, Ω')."""
    first = next((a for a in args if isinstance(a, sp.MatMul)), args[0])
    second = args[1] if first is args[0] else args[0]
    return first, second


def kernel_function_name(rule: str, role: str) -> str:
    """The name of a vector rule's kernel in the generated namespace: ``_{rule}_{role}`` (``_softmax_vjp``)."""
    return f"_{rule}_{role}"
