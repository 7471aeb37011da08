"""Batch statistics in a graph: μ_j = (1/m) Σ_k u_kj as a node, and batch norm's proven stages lowered to graph equations.

A graph's equations are per-sample column vectors; a statistic over the rows
of the batch is one value per feature for the whole batch (a *per-batch*
symbol, :meth:`symdl.graph.nodes.Use.own`). :class:`BatchMean` is that
reduction, printed ``mean(·, axis=0)`` for each array module. :func:`lower`
turns a stage table of :data:`symdl.layers.batchnorm_symbolic.STAGES` (index
expressions, proven to compose to Ioffe & Szegedy's definitions by
``prove_stages``) into graph equations without writing its formulas again:
each sum (1/m)·Σ_k f(…)_kj becomes a :class:`BatchMean` of f applied entry by
entry, the rest an element-wise function of per-sample and per-batch arrays
(m cancelled exactly; a stage where m does not cancel is refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from ..backprop.equations import Elementwise
from ..layers.batchnorm_algebra import Stage, m
from .blocks import ArrayNode
from .nodes import Use

__all__ = ["BatchMean", "Lowered", "lower", "pointwise"]


class BatchMean(ArrayNode):
    """(1/m) Σ_k U_k: the mean over the rows of the batch of a per-sample array, one value per feature."""

    modules = ("numpy", "jnp", "torch")
    #: A statistic of the whole batch: a per-sample proof (one column) has no value for it.
    per_sample = False
    #: A sum over the batch: a mixed-precision module accumulates it in float32 (``_acc_dtype``), as torch's batch norm
    #: kernels and flax's ``BatchNorm`` compute their statistics.
    reduced = True

    def __new__(cls, array: sp.MatrixExpr) -> BatchMean:
        # The argument inside a Tuple: the statement printer then sees a per-feature value, not a batch to sum.
        return sp.Basic.__new__(cls, sp.Tuple(array))

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return tuple(self.args[0])

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.arrays[0].shape

    def array_code(self, args: list[str], module: str, accumulate: str | None = None) -> str:
        dtype = "" if accumulate is None else f", dtype={accumulate}"  # the rows cast to it, then summed
        if module == "torch":
            return f"torch.mean({args[0]}, dim=0{dtype})"
        return f"{module}.mean({args[0]}, axis=0{dtype})"

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{mean}}_{{B}}\left({printer._print(self.arrays[0])}\right)"


def pointwise(name: str, expr: sp.Expr, table: Mapping[str, sp.MatrixExpr]) -> sp.MatrixExpr:
    """``expr`` of indexed entries (x[i, j], γ[j]) applied entry by entry to the arrays ``table`` names; the array itself
    when ``expr`` is one entry."""
    entries = sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key)
    labels = list(dict.fromkeys(str(e.base.label) for e in entries))
    if isinstance(expr, sp.Indexed):
        return table[labels[0]]
    variables = {label: sp.Symbol(label, real=True) for label in labels}
    scalar = expr.xreplace({e: variables[str(e.base.label)] for e in entries})
    return Elementwise(name, sp.Lambda(tuple(variables.values()), scalar), *(table[label] for label in labels))


@dataclass(frozen=True)
class Lowered:
    """A stage table as graph equations: each stage's symbol by name, the equations in order."""

    symbols: dict[str, sp.MatrixExpr]
    equations: list[sp.Eq]


def lower(stages: Sequence[Stage], table: Mapping[str, sp.MatrixExpr], use: Use, constants: Mapping[sp.Symbol, sp.Expr],
          outputs: Mapping[str, sp.MatrixSymbol] = {}, latex: str = r"\mathrm{{{name}}}^{{@}}") -> Lowered:
    """Each stage name[indices] = expr as an equation of ``use``: per-batch when its only index is the feature,
    else per-sample; ``table`` gives the arrays the stages read, ``constants`` the scalars (ε, momentum), ``outputs``
    the symbols of stages that are not the use's own (the layer's output)."""
    symbols: dict[str, sp.MatrixExpr] = dict(table)
    equations: list[sp.Eq] = []
    width = use.output.shape[0]
    for stage in stages:
        expr = stage.expr.xreplace(constants)
        sums = sorted(expr.atoms(sp.Sum), key=sp.default_sort_key)
        means = [sp.IndexedBase(f"_mean_{stage.name}_{k}", real=True) for k in range(len(sums))]
        for total, mean in zip(sums, means):
            (index, low, high), = total.limits
            if (low, high) != (0, m - 1):
                raise ValueError(f"batch stage {stage.name}: a sum over {index} from {low} to {high}, not over the batch")
            expr = expr.xreplace({total: m * mean[stage.indices[-1]]})
        if m in expr.free_symbols:
            expr = sp.cancel(expr)
        if m in expr.free_symbols:
            raise ValueError(f"batch stage {stage.name}: the batch size m does not cancel from {expr}")
        per_batch = len(stage.indices) == 1

        def own(stem: str, tex: str, one: bool) -> sp.MatrixExpr:
            return outputs[stage.name] if stem == stage.name and stage.name in outputs else use.own(
                f"bn_{stem}_", latex.format(name=tex), width, per_batch=one)

        if len(sums) == 1 and expr == means[0][stage.indices[-1]]:  # the stage is a mean itself: one node
            target = own(stage.name, stage.name.replace("_", r"\_"), per_batch)
            equations.append(sp.Eq(target, BatchMean(pointwise(r"\cdot", sums[0].function, symbols)), evaluate=False))
            symbols[stage.name] = target
            continue
        for k, (total, mean) in enumerate(zip(sums, means)):
            symbol = own(f"{stage.name}_mean{k}", rf"{stage.name.replace('_', '')}\_mean{k}", True)
            equations.append(sp.Eq(symbol, BatchMean(pointwise(r"\cdot", total.function, symbols)), evaluate=False))
            symbols[str(mean.label)] = symbol
        target = own(stage.name, stage.name.replace("_", r"\_"), per_batch)
        equations.append(sp.Eq(target, pointwise(stage.name, expr, symbols), evaluate=False))
        symbols[stage.name] = target
    return Lowered(symbols, equations)
