"""Batch norm in a generated network module: ``_bn_train_forward``, ``_bn_train_vjp``, ``_bn_inference``, ``_bn_update``.

Each function is assembled from the proven stages of
:data:`symdl.layers.batchnorm_symbolic.STAGES`: the numpy module calls the
stages' printed kernels (:func:`symdl.layers.batchnorm.kernel_sources`); the
JAX and torch modules print each stage inline as an expression on whole
arrays (:func:`inline_stage`). What differs by backend comes from the
:class:`symdl.backends.Backend`'s spellings (``batchnorm_scalars``, ``functional``,
``printer_class``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import sympy as sp

from ..codegen.module_text import function_source
from .batchnorm import kernel_sources, stage_kernel
from .batchnorm_symbolic import STAGES, j

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = ["batchnorm_blocks", "inline_stage"]


def _stage_calls(
    groups: Sequence[str],
    env: Mapping[str, str],
    wanted: Sequence[str],
    targets: Mapping[str, str] | None = None,
    inline: Callable[[object, Mapping[str, str]], str] | None = None,
) -> tuple[list[str], set[str]]:
    """Statements that compute the batch-norm stages ``wanted`` from ``env`` (stage or argument name → code).

    The stages needed are found from the kernels' arguments, in the order of
    ``STAGES``; each result is bound to its stage name (or ``targets[name]``),
    as a call of the stage's numpy kernel or, with ``inline(stage, names)``,
    as the expression it prints. Returns the statements and the kernel names
    they call.
    """
    stages = [(g, s.name) for g in groups for s in STAGES[g]]
    args = {name: stage_kernel(g, name)[1] for g, name in stages}
    needed: set[str] = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in needed or name in env:
            continue
        if name not in args:
            raise ValueError(f"batch-norm stage {name!r} has no value")
        needed.add(name)
        todo += args[name]
    known = dict(env)
    lines, called = [], set()
    for group, name in stages:
        if name in needed:
            target = (targets or {}).get(name, name)
            if inline is not None:
                (stage,) = [s for s in STAGES[group] if s.name == name]
                lines.append(f"{target} = {inline(stage, known)}")
            else:
                kernel = stage_kernel(group, name)[0]
                lines.append(f"{target} = {kernel.name}({', '.join(known[a] for a in args[name])})")
                called.add(kernel.name)
            known[name] = target
    return lines, called


def batchnorm_blocks(eps: float, momentum: float, backend: Backend, inline: Callable[[object, Mapping[str, str]], str] | None = None,
                     accumulate: str | None = None) -> list[str]:
    """``_bn_train_forward``, ``_bn_train_vjp``, ``_bn_inference``, ``_bn_update`` and the stage kernels they call.

    numpy calls the stages' printed kernels; the JAX and torch modules print
    each stage inline (``inline``), with m and ε as Python numbers (weak
    types: a float32 layer stays float32). numpy and torch update the running
    statistics in place; JAX (immutable arrays) returns them.

    ``accumulate`` (mixed precision, with an ``inline`` made with it): the
    batch sums accumulate in that dtype, so the statistics and the stages
    after them are float32; y and dx go back to the compute dtype ``_dtype``.
    """
    array = backend
    scalars, update_scalars = array.batchnorm_scalars(repr(float(eps)), repr(float(momentum)))
    functional = array.functional

    def low(name: str) -> str:  # a float32 result of the float32 statistics, back in the compute dtype
        return name if accumulate is None else array.cast(name, "_dtype")

    base = {"x": "x", "gamma": "gamma", "beta": "beta", "m": "m", "epsilon": "epsilon"}
    blocks, called = [], set()
    forward, used = _stage_calls(["train_forward"], base, ["y", "mu_B", "var_B"], inline=inline)
    called |= used
    blocks.append(function_source(
        "_bn_train_forward", "x, gamma, beta",
        "Batch norm in training: (y, batch mean, biased batch variance), from the proven stages.",
        [*scalars, *forward, f"return {low('y')}, mu_B, var_B"],
    ))  # fmt: skip
    vjp, used = _stage_calls(["train_forward", "train_backward"], {**base, "dy": "dy"}, ["dx", "dgamma", "dbeta"], inline=inline)
    called |= used
    blocks.append(function_source(
        "_bn_train_vjp", "x, gamma, beta, dy",
        "The vector-Jacobian product of batch norm in training with cotangent dy: (dx, dgamma, dbeta).",
        [*scalars, *vjp, f"return {low('dx')}, dgamma, dbeta"],
    ))  # fmt: skip
    inference, used = _stage_calls(["inference"], {**base, "mean": "mean", "var": "var"}, ["y"], inline=inline)
    called |= used
    blocks.append(function_source(
        "_bn_inference", "x, gamma, beta, mean, var",
        "Batch norm at inference, with the running statistics.",
        [scalars[1], *inference, "return y"],
    ))  # fmt: skip
    new_mean, new_var = ("new_mean", "new_var") if functional else ("running_mean[...]", "running_var[...]")
    unbiased, used_u = _stage_calls(["unbiased"], {"biased": "var", "m": "size"}, ["unbiased"], inline=inline)
    ema_mean, used_m = _stage_calls(
        ["ema"], {"running": "running_mean", "value": "mean", "momentum": "momentum"}, ["ema"], {"ema": new_mean}, inline
    )
    ema_var, used_v = _stage_calls(
        ["ema"], {"running": "running_var", "value": "unbiased", "momentum": "momentum"}, ["ema"], {"ema": new_var}, inline
    )
    called |= used_u | used_m | used_v
    blocks.append(function_source(
        "_bn_update", "running_mean, running_var, mean, var, m",
        "Running statistics as PyTorch keeps them: an average of the batch mean and the unbiased batch variance"
        + (" (returned: arrays are immutable)." if functional else "."),
        [*update_scalars, *ema_mean, *unbiased, *ema_var, *(["return new_mean, new_var"] if functional else [])],
    ))  # fmt: skip
    sources = {f"bn_{key.replace('.', '_')}": text for key, text in kernel_sources().items()} if called else {}
    return [sources[name] for name in sorted(called)] + blocks


def _stage_printer(backend: Backend, accumulate: str | None = None):
    """A printer of one batch-norm stage as an expression on whole arrays: rows on axis 0, features last."""
    base = backend.printer_class

    class StagePrinter(base):  # type: ignore[valid-type,misc]  # the backend's printer class, known at run time
        def __init__(self, names: Mapping[str, str]) -> None:
            super().__init__()
            self.names = names

        def _print_Indexed(self, expr: sp.Indexed) -> str:
            # x[i, j] is the (batch, features) array, gamma[j] the (features,) one: it broadcasts over the rows.
            return self.names[str(expr.base.label)]

        def _print_Symbol(self, expr: sp.Symbol) -> str:
            return self.names.get(expr.name, expr.name)

        def _print_Sum(self, expr: sp.Sum) -> str:
            (index, *_), = expr.limits
            if index in (j,):
                raise ValueError(f"batch-norm stage sums over the features: {expr}")
            dtype = "" if accumulate is None else f", dtype={accumulate}"
            return f"{self._module}.sum({self._print(expr.function)}, 0{dtype})"

    return StagePrinter


def inline_stage(backend: Backend, accumulate: str | None = None):
    """``inline(stage, names)`` for :func:`batchnorm_blocks`: the stage as one expression (sums in ``accumulate``)."""
    printer_class = _stage_printer(backend, accumulate)

    def inline(stage, names: Mapping[str, str]) -> str:
        slots = set(stage.slots.values())
        if not slots <= {-2, -1}:
            raise ValueError(f"batch-norm stage {stage.name} has axes other than rows and features")
        return printer_class(names).doprint(stage.expr)

    return inline
