"""Index-notation SymPy expressions (``IndexedBase``, ``Sum``) → numpy kernels over the last axes.

Each index symbol is given a *slot*: a trailing axis (−1, −2, …) of the
broadcast layout. ``x[k]`` prints as the array ``x`` with its axis moved to
slot(k); ``Sum(f, (j, 0, n − 1))`` prints as ``numpy.sum(f, axis=slot(j),
keepdims=True)``; ``log(Sum(exp(u), …))`` prints as the stable
``numpy.logaddexp.reduce``; :class:`RowMax` prints as ``numpy.max``. Indices
summed independently of the output index may share its slot (softmax needs
one slot, so its cost is linear in the width).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from ..symbolic.shared_cse import cse_basic
from .kernel import (
    Kernel,
    SymdlNumpyPrinter,
    _bind_scalar_type,
    use_expm1_log1p,
)
from .simplex import (
    SparseThreshold,
    hoist_thresholds,
    threshold_code,
    threshold_namespace,
)

__all__ = ["Centered", "FirstArgMax", "IndexPrinter", "LogSumExp", "RowMax", "ShiftMax", "compile_index_kernel", "index_cse"]


class RowMax(sp.Function):
    """max_{0 ≤ j < n} u(j): ``RowMax(u, j, n)``; at a concrete n, ``.doit()`` gives ``Max(u(0), …)``."""

    nargs = 3

    def doit(self, **hints):
        u, j, n = self.args
        if n.is_Integer:
            return sp.Max(*[u.subs(j, t) for t in range(int(n))])
        return self

    def _eval_derivative(self, s):
        # ∂/∂s max_j u(j) = Σ_m [m is the first arg-max] · ∂u(m)/∂s
        u, j, n = self.args
        m = sp.Dummy("m", integer=True, nonnegative=True)
        return sp.Sum(FirstArgMax(u, j, m, n) * sp.diff(u.subs(j, m), s), (m, 0, n - 1))

    def _latex(self, printer, exp=None):
        return rf"\max_{{{printer._print(self.args[1])}}} {printer._print(self.args[0])}"


class ShiftMax(RowMax):
    """A shift c = max_j u(j) that cancels in the math (e^{u − c}); proofs replace it by a free symbol."""


class Centered(sp.Function):
    """u(i) − max_i u(i): ``Centered(u, i, n)``, printed with the subtraction done first.

    Subtracting the max first is exact for the largest element (Sterbenz), so
    e.g. log softmax = Centered(a) − logsumexp(Centered(a)) keeps every digit
    where softmax ≈ 1; SymPy would otherwise reorder the sum.
    """

    nargs = 3

    def expand_shift(self) -> sp.Expr:
        u, i, n = self.args
        return u - ShiftMax(u, i, n)

    def doit(self, **hints):
        return self.expand_shift().doit(**hints)

    def shift_over_fresh_index(self) -> tuple[sp.Symbol, sp.Expr]:
        """(m, u(m)): the max's own bound index, a letter not in u, so that u(i) − max_m u(m) never reuses the free i."""
        u, i, _ = self.args
        taken = {s.name for s in u.free_symbols}
        name = next(c for c in ("m", "r", "s", "t", "u", "v", "w", "m'") if c not in taken)
        m = sp.Symbol(name, integer=True)
        return m, u.subs(i, m)

    def _latex(self, printer, exp=None):
        m, u_m = self.shift_over_fresh_index()
        return rf"\left({printer._print(self.args[0])} - \max_{{{printer._print(m)}}} {printer._print(u_m)}\right)"


class LogSumExp(sp.Function):
    """log Σ_{0 ≤ j < n} e^{u(j)}: ``LogSumExp(u, j, n)``; ``.doit()`` gives the plain log of the sum.

    A function of its own so that SymPy does not fold e^{z − LogSumExp} into a
    quotient (which overflows); it prints as ``numpy.logaddexp.reduce``.
    """

    nargs = 3

    def doit(self, **hints):
        u, j, n = self.args
        return sp.log(sp.Sum(sp.exp(u), (j, 0, n - 1)).doit(**hints))

    def _eval_derivative(self, s):
        u, j, n = self.args
        return sp.Sum(sp.exp(u - self) * sp.diff(u, s), (j, 0, n - 1))

    def _latex(self, printer, exp=None):
        u, j, n = (printer._print(a) for a in self.args)
        return rf"\log \sum_{{{j}=0}}^{{{n} - 1}} e^{{{u}}}"


class FirstArgMax(sp.Function):
    """[k is the first index where u(j) is largest]: ``FirstArgMax(u, j, k, n)`` ∈ {0, 1}.

    At a concrete n and k, ``.doit()`` gives the Piecewise of strict
    comparisons with earlier indices and non-strict ones with later indices.
    """

    nargs = 4

    def doit(self, **hints):
        u, j, k, n = self.args
        if not (n.is_Integer and k.is_Integer):
            return self
        here = u.subs(j, k)
        wins = [here > u.subs(j, t) for t in range(int(k))] + [here >= u.subs(j, t) for t in range(int(k) + 1, int(n))]
        return sp.Piecewise((1, sp.And(*wins)), (0, True))

    def _latex(self, printer, exp=None):
        u, j, k, _ = (printer._print(a) for a in self.args)
        return rf"[{k} = \operatorname{{argmax}}_{{{j}}} {u}]"


class IndexPrinter(SymdlNumpyPrinter):
    """Index notation on a broadcast layout: each index letter at its slot (a trailing axis), sums as reductions or einsum."""

    def __init__(
        self, slots: Mapping[sp.Symbol, int], depth: int, row_scalars: Sequence[sp.Symbol], einsum: bool = False
    ) -> None:
        super().__init__()
        self.slots = slots
        self.depth = depth
        self.row_scalars = set(row_scalars)
        self.einsum = einsum

    def labels(self) -> str:
        """One einsum label per trailing axis of the layout."""
        return "abcdefghijklmnopqrstuvwxyz"[: self.depth]

    def _operand(self, factor: sp.Expr) -> tuple[str, str]:
        """(code, einsum labels) of one factor: an array by its own axes, anything else over the whole layout."""
        letters = self.labels()
        if isinstance(factor, sp.Indexed) and all(i in self.slots for i in factor.indices):
            return str(factor.base.label), "".join(letters[self.slots[i] + self.depth] for i in factor.indices)
        if isinstance(factor, sp.Symbol) and factor in self.row_scalars:
            return factor.name, ""
        return self._print(factor), letters

    def einsum_product(self, factors: Sequence[sp.Expr], summed: Sequence[int], leading: bool = True) -> str:
        """Π factors summed over the slots ``summed`` (and the batch axes unless ``leading``), in the whole layout.

        Arrays enter by their own axes, so numpy contracts them with BLAS; axes
        the result lacks come back as size 1.
        """
        operands = [self._operand(f) for f in factors]
        present = {c for _, labels in operands for c in labels}
        letters = self.labels()
        kept = [c for k, c in enumerate(letters) if c in present and k - self.depth not in summed]
        missing = tuple(k - self.depth for k, c in enumerate(letters) if c not in kept)
        spec = ",".join("..." + labels for _, labels in operands) + "->" + ("..." if leading else "") + "".join(kept)
        text = self._contract(spec, [code for code, _ in operands])
        return self._expand(text, missing, len(kept)) if missing else text

    # --- the array module's spellings (numpy here; symdl.codegen.array_index_kernels for jnp and torch) ----------

    def _contract(self, spec: str, operands: Sequence[str]) -> str:
        return f"numpy.einsum('{spec}', {', '.join(operands)}, optimize=True)"

    def _expand(self, text: str, missing: tuple[int, ...], kept: int) -> str:
        return f"numpy.expand_dims({text}, {missing!r})"

    def _reduce(self, function: str, text: str, slot: int) -> str:
        """``function`` (sum, max) of ``text`` over the axis at ``slot``, kept as size 1."""
        return f"numpy.{function}({text}, axis={slot}, keepdims=True)"

    def _logsumexp_at(self, text: str, slot: int) -> str:
        return f"numpy.logaddexp.reduce({text}, axis={slot}, keepdims=True)"

    def _einsum_sum(self, expr: sp.Sum) -> str | None:
        """Σ_{j…} Π f as numpy.einsum (a BLAS contraction, no broadcast product in memory), when ≥ 2 factors use j…."""
        indices = [limit[0] for limit in expr.limits]
        inside = [f for f in sp.Mul.make_args(expr.function) if f.has(*indices)]
        outside = [f for f in sp.Mul.make_args(expr.function) if not f.has(*indices)]
        if len(inside) < 2:
            return None
        summed = self.einsum_product(inside, sorted({self._slot(index) for index in indices}))
        return f"{self._print(sp.Mul(*outside))}*{summed}" if outside else summed

    def _slot(self, index: sp.Expr) -> int:
        if index not in self.slots:
            raise ValueError(f"index {index} has no slot; give one in `slots`")
        return self.slots[index]

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr in self.row_scalars:
            return f"_place({expr.name}, (), {self.depth})"
        return super()._print_Symbol(expr)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        slots = tuple(self._slot(i) for i in expr.indices)
        return f"_place({expr.base.label}, {slots!r}, {self.depth})"

    def _print_Sum(self, expr: sp.Sum) -> str:
        function, limits = expr.function, []
        for index, low, high in expr.limits:
            if function.has(index):
                limits.append((index, low, high))
            elif (high - low).is_Integer:  # a summand free of its index (at a concrete size): that many equal terms
                function = function * (high - low + 1)
            else:
                raise ValueError(f"summand of {expr} does not depend on {index}")
        if not limits:
            return self._print(function)
        expr = sp.Sum(function, *limits)
        if self.einsum and (contracted := self._einsum_sum(expr)) is not None:
            return contracted
        # Innermost limit first; SymPy would merge a nested Sum(Sum(f, a), b) back into one Sum.
        text = self._print(expr.function)
        for index, *_ in expr.limits:
            text = self._reduce("sum", text, self._slot(index))
        return text

    def _print_log(self, expr: sp.log) -> str:
        arg = expr.args[0]
        if isinstance(arg, sp.Sum) and isinstance(arg.function, sp.exp) and len(arg.limits) == 1:
            index = arg.limits[0][0]
            return self._logsumexp_at(self._print(arg.function.args[0]), self._slot(index))
        return super()._print_log(expr)

    def _print_LogSumExp(self, expr: LogSumExp) -> str:
        u, j, _ = expr.args
        return self._logsumexp_at(self._print(u), self._slot(j))

    def _print_Centered(self, expr: Centered) -> str:
        u, i, _ = expr.args
        values = self._print(u)
        return f"({values} - {self._reduce('max', values, self._slot(i))})"

    def _print_SparseThreshold(self, expr: SparseThreshold) -> str:
        u, j, _ = expr.args
        # numpy here; the jnp/torch subclasses get ``_module`` from the array-module printer later in their MRO
        return threshold_code(getattr(self, "_module", "numpy"), self._print(u), self._slot(j))

    def _print_ShiftMax(self, expr: ShiftMax) -> str:
        return self._print_RowMax(expr)

    def _print_RowMax(self, expr: RowMax) -> str:
        return self._reduce("max", self._print(expr.args[0]), self._slot(expr.args[1]))

    def _print_FirstArgMax(self, expr: FirstArgMax) -> str:
        u, j, k, _ = expr.args
        axis = self._slot(j)
        if self._slot(k) != axis:
            raise ValueError("FirstArgMax needs its two indices in one slot")
        values = self._print(u)
        # numpy.argmax returns the first maximum: ties go to the lowest index.
        return (
            f"_t(numpy.arange({values}.shape[{axis}]).reshape((-1,) + (1,) * ({-axis} - 1)) "
            f"== numpy.expand_dims(numpy.argmax({values}, axis={axis}), {axis}))"
        )


def index_cse(expr: sp.Expr) -> tuple[list[tuple[sp.Symbol, sp.Expr]], sp.Expr]:
    """``expr`` (expm1/log1p forms) as sparsemax's τ ``_tau0, …``, common subexpressions ``_c0, …`` and the body; nothing leaves the sum it is bound in."""
    bound = {sym for s in expr.atoms(sp.Sum) for lim in s.limits for sym in sp.Tuple(*lim).free_symbols}
    bound |= {
        sym for f in expr.atoms(RowMax, LogSumExp, FirstArgMax, Centered) for sym in sp.Tuple(*f.args[1:]).free_symbols
    }
    thresholds, expr = hoist_thresholds(expr)
    intermediates, (body,) = cse_basic(use_expm1_log1p(expr), symbols=sp.numbered_symbols("_c"), ignore=tuple(bound))
    # cse's factor_terms can pull an irrational constant out of a root (√(S/4 + 10⁻⁵) → √10·√(25000 S + 1)/1000):
    # a literal again, as printable made every constant (torch.sqrt takes no Python number)
    intermediates = [(sym, _literal_constants(value)) for sym, value in intermediates]
    return [*thresholds, *intermediates], _literal_constants(body)


def _literal_constants(expr: sp.Expr) -> sp.Expr:
    return expr.replace(lambda e: e.is_number and not e.is_Atom and not e.is_Rational and e.is_real, lambda e: e.evalf(17))


def compile_index_kernel(
    expr: sp.Expr,
    arrays: Sequence[sp.IndexedBase | sp.Symbol],
    slots: Mapping[sp.Symbol, int],
    output: Sequence[sp.Symbol],
    name: str,
    *,
    reduce_leading: bool = False,
    einsum: bool = False,
    sizes: Mapping[sp.Symbol, str] | None = None,
) -> Kernel:
    """f(*arrays) = expr with output indices ``output`` as a numpy kernel.

    An ``IndexedBase`` argument is an array whose last axes are its indices;
    a plain ``Symbol`` argument holds one value per row (leading axes only).

    Axes at slots of non-output indices must have been summed (size 1); they
    are dropped. With ``reduce_leading`` the result is summed over all
    leading (batch) axes — the VJP of a parameter shared across the batch.

    With ``einsum``, a sum of a product Σ_j Π f prints as ``numpy.einsum``
    (and so does a product summed over the batch with ``reduce_leading``):
    a contraction instead of the broadcast product held in memory.

    ``sizes`` maps a symbol of ``expr`` that is an axis length (the n of a
    mean) to the code that reads it from an argument's shape (``x.shape[-1]``).
    """
    depth = max(-s for s in slots.values())
    printer = IndexPrinter(slots, depth, [a for a in arrays if isinstance(a, sp.Symbol)], einsum)
    names = [a.name if isinstance(a, sp.Symbol) else str(a.label) for a in arrays]
    out_slots = [slots[i] for i in output]
    take = ", ".join(":" if -k in out_slots else "0" for k in range(depth, 0, -1))
    lines = [f"def {name}({', '.join(names)}):"]
    # An array needs the axes its indices sit on: a 0-d input to softmax is refused, not an AxisError of numpy.
    axes = {str(a.base.label): len(a.indices) for a in sorted(expr.atoms(sp.Indexed), key=lambda a: len(a.indices))}
    lines += [f"    {n} = _as_float({n}, {n!r}{f', {axes[n]}, {name!r}' if axes.get(n) else ''})"
              for n in names]
    lines.append(f"    _dtype = numpy.result_type({', '.join(names)})")
    lines += [f"    {symbol.name} = {code}" for symbol, code in (sizes or {}).items()]
    intermediates, body = index_cse(expr)
    lines += [f"    {sym} = {printer.doprint(value)}" for sym, value in intermediates]
    factors = sp.Mul.make_args(body)
    if einsum and reduce_leading and len(factors) > 1 and not any(f.is_number for f in factors):
        # Σ over the batch of a product: one contraction, the batch axes summed by einsum itself.
        lines.append(f"    _out = {printer.einsum_product(factors, (), leading=False)}")
        lines.append(f"    _out = _out[{take}]")
        reduce_leading = False
    else:
        lines.append(f"    _out = numpy.asarray({printer.doprint(body)})")
        lines.append(f"    _out = _out[..., {take}]")
    if reduce_leading:
        lines.append(f"    _out = numpy.sum(_out, axis=tuple(range(_out.ndim - {len(output)})))")
    lines.append("    return _out.astype(_dtype, copy=False)")
    lines = _bind_scalar_type(lines, len(names) + 2)
    source = "\n".join(lines) + "\n"
    import numpy as np  # here, not at the top: printing needs no numpy

    from .arrays import as_array, place

    namespace: dict[str, object] = {"numpy": np, "_as_float": as_array, "_place": place, **threshold_namespace(source)}
    # Generated code only: printed from a SymPy tree whose array names are checked identifiers.
    exec(compile(source, f"<symdl kernel {name}>", "exec"), namespace)  # noqa: S102
    return Kernel(name=name, source=source, function=namespace[name])  # type: ignore[arg-type]
