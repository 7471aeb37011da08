r"""A formula layer's numpy code over a batch, printed from its SymPy expressions, and its singularities.

Each index letter gets a trailing axis (its *slot*) of a broadcast layout;
a sum of a product prints as ``numpy.einsum`` (a contraction), any other
``Sum`` as ``numpy.sum(…, axis=slot, keepdims=True)``
(:func:`symdl.codegen.index_kernels.compile_index_kernel`); inputs and
cotangents carry leading batch axes, parameters do not, and a parameter's VJP
is summed over the batch. Before printing, the rewrite pass
(:func:`symdl.symbolic.rewrite.stabilise`, each rewrite proven value-preserving)
turns overflowing forms such as log(1 + eᵘ) into stable ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from ..codegen.index_kernels import compile_index_kernel
from ..codegen.kernel import Kernel, printable
from ..symbolic.rewrite import stabilise

__all__ = ["Singularity", "find_singularities", "index_slots", "print_kernel"]


def _index_letters(expr: sp.Expr) -> set[sp.Symbol]:
    letters = {i for e in expr.atoms(sp.Indexed) for i in e.indices if isinstance(i, sp.Symbol)}
    return letters | {lim[0] for s in expr.atoms(sp.Sum) for lim in s.limits}


def index_slots(expr: sp.Expr, output: Sequence[sp.Symbol]) -> dict[sp.Symbol, int]:
    """Slot of each index: the output's in order at −len(output) … −1, every other index before them."""
    slots = {index: n - len(output) for n, index in enumerate(output)}
    others = sorted(_index_letters(expr) - set(output), key=sp.default_sort_key)
    for n, index in enumerate(others):
        slots[index] = -len(output) - n - 1
    if not slots:  # no axis at all: one dummy axis keeps the layout non-empty
        slots[sp.Dummy("row", integer=True)] = -1
    return slots


def print_kernel(
    expr: sp.Expr,
    arrays: Sequence[sp.IndexedBase | sp.Symbol],
    output: Sequence[sp.Symbol],
    name: str,
    *,
    shared: bool = False,
    sizes: Mapping[sp.Symbol, str] | None = None,
) -> Kernel:
    """``expr`` (stabilised, then printed) as a numpy kernel of ``arrays`` over leading batch axes.

    ``shared``: the result is summed over the batch (the VJP of a parameter). ``sizes``: each dimension ``expr``
    reads as a value (the n of a mean) ↦ the code that reads it from an argument's shape.
    """
    reads = {d: code for d, code in (sizes or {}).items() if d in expr.free_symbols}
    local = {d: sp.Symbol(f"_size_{d.name}", integer=True, positive=True) for d in reads}
    stable = printable(stabilise(expr.xreplace(local)), name)
    slots = index_slots(stable, output)
    return compile_index_kernel(stable, arrays, slots, output, name, reduce_leading=shared, einsum=True,
                                sizes={local[d]: code for d, code in reads.items()})


@dataclass(frozen=True)
class Singularity:
    """Where an output or VJP is undefined: a division by, log of, or root of a value that can be 0 or negative."""

    where: str
    kind: str
    at: sp.Expr

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.at}"


def find_singularities(expr: sp.Expr, where: str) -> list[Singularity]:
    """Every 1/u with u not known nonzero, log u with u not known positive, and root of u not known ≥ 0 in ``expr``.

    Known signs are SymPy's assumptions: e^u > 0, 1 + u² > 0, … are never reported.
    """
    found: list[Singularity] = []
    for sub in sp.preorder_traversal(expr):
        if isinstance(sub, sp.Pow) and sub.exp.is_number:
            base = sub.base
            if sub.exp.is_negative and base.is_zero is not False:
                found.append(Singularity(where, "division by a value that can be 0:", base))
            elif not sub.exp.is_integer and base.is_nonnegative is not True:
                found.append(Singularity(where, "root of a value that can be negative:", base))
        elif isinstance(sub, sp.log) and sub.args[0].is_positive is not True:
            found.append(Singularity(where, "log of a value that can be 0 or negative:", sub.args[0]))
    unique: dict[tuple[str, sp.Expr], Singularity] = {}
    for s in found:
        unique.setdefault((s.kind, s.at), s)
    return list(unique.values())
