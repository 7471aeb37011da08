"""``fit`` inside a generated module: epochs of seeded mini-batches through the module's own ``train_step``.

:func:`fit_blocks` assembles, from source symdl itself runs, the blocks a
network or graph module appends: the batch helpers of
:mod:`symdl.training.batches`, the status bar of :mod:`symdl.training.progress`,
the loss mean printed from :class:`symdl.metrics.Mean`'s SymPy definition, the
loop of :mod:`symdl.backends.runtime_fit` and the backend's parameter copies
(:meth:`symdl.backends.Backend.fit_runtime`), then the module's ``fit``, whose
signature follows its ``train_step``: ``lr`` for plain gradient descent, or
``state`` (default ``init_state(params)``) and the optimizer's hyperparameters
that have no value. The module still imports no SymPy and no symdl.

Epoch e's batches come from ``numpy.random.default_rng((seed, e))`` in every
backend, as in :func:`symdl.training.fit`: a numpy module's ``fit`` gives the
compiled network's history and weights bit for bit, JAX's and torch's agree to
rounding. Logged: ``loss``, a graph module's ``<output>_loss`` for two or more outputs with a loss (its printed
``output_losses`` before each step, with the step's masks; ``inference_output_losses`` for ``val_``), the streaming metrics chosen when the module was
generated (:func:`module_metrics`: each printed from its SymPy state, update
and result by :func:`symdl.metrics.metric_source` for the module's backend,
streamed over ``forward``'s predictions before each step, keys as
:func:`symdl.fit` logs them) and, with ``validation=(Xv, Yv)``, ``val_loss``
and ``val_<metric>`` (inference mode); early stopping on any (``patience=``).
``fit(..., metrics=[names])`` logs a subset (a graph module's also ``metrics={output: names}``, as :func:`symdl.fit`). ``evaluate(params, X, Y)`` gives
the loss and metrics in inference mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..backends import Backend
from ..backends.base import emit_functions
from ..backends.runtime_data import by_output, check_count
from ..backends.runtime_fit import LOOP
from ..codegen.module_text import function_source, unannotated_source
from ..training import batches, progress

__all__ = ["ModuleMetric", "fit_blocks", "module_metrics"]

_BATCH_NAMES = {
    "check_positive": "_fit_check_positive", "_array": "_fit_array", "check_data": "_fit_check_data",
    "sample_count": "_fit_sample_count", "take": "_fit_take", "epoch_rng": "_fit_epoch_rng", "batch_slices": "_fit_batch_slices",
}
_PROGRESS_NAMES = {"check_stream": "_fit_check_stream", "format_logs": "_fit_format_logs", "progress_mode": "_fit_progress_mode", "ProgressBar": "_FitProgressBar"}

_OPTIONS = ("metrics=None, validation=None, seed=0, shuffle=True, verbose='auto', patience=None, monitor='val_loss', min_delta=0.0, "
            "restore_best_weights=False, initial_epoch=0, stream=None")
_PASSED = ("epochs, batch_size, metrics, validation, seed, shuffle, verbose, patience, monitor, min_delta, restore_best_weights, "
           "initial_epoch, stream")


class ModuleMetric(NamedTuple):
    """A metric a module prints: its log ``key``, its ``name`` (fit's metrics= selects by it), the output and target
    it compares (indices; None: the only one) and its SymPy ``spec``."""

    key: str
    name: str
    output: int | None
    target: int | None
    spec: Any


def module_metrics(model: Any, metrics: Sequence[object] | Mapping[str, object], targets: int) -> tuple[ModuleMetric, ...]:
    """The metrics of a module for the compiled ``model`` with ``targets`` data targets, keyed as :func:`symdl.fit` logs
    them (:func:`symdl.training.tracked.track`: ``<output>_<metric>`` for several outputs); one ValueError line if wrong."""
    from ..metrics.printing import as_spec
    from ..training.tracked import metric_name, track

    out = []
    for entry in track(model, metrics, targets, "metrics").entries:
        try:
            spec = as_spec(entry.metric)
        except TypeError:
            raise ValueError(f"metrics: {entry.metric!r} is not a symdl metric; a module prints symdl.metrics, loss rules and "
                             "formulas from SymPy, not Python functions") from None
        out.append(ModuleMetric(entry.key, metric_name(entry.metric), entry.output, entry.target, spec))
    return tuple(out)


def _printed(spec: Any, backend: Backend | str, name: str) -> str:
    """``<name>_init``, ``<name>_update`` and ``<name>_result``: the code of ``spec`` printed for ``backend``."""
    from ..metrics.printing import metric_source

    return re.sub(r"\bmetric_(init|update|result)\b", rf"{name}_\1", metric_source(spec, backend, prefix="metric"))


def _metrics_source(backend: Backend, metrics: Sequence[ModuleMetric]) -> list[str]:
    """Each distinct spec printed once (``_fit_metric<i>_…``), then ``_FIT_METRICS`` and ``_FIT_ALIASES``."""
    from ..metrics.registry import ALIASES

    specs = list(dict.fromkeys(m.spec for m in metrics))
    rows = "".join(f"    ({m.key!r}, {m.name!r}, {m.output!r}, {m.target!r}, "
                   + ", ".join(f"_fit_metric{specs.index(m.spec)}_{f}" for f in ("init", "update", "result"))
                   + f", {bool(m.spec.binary_labels)!r}),\n"
                   for m in metrics)
    names = {m.name for m in metrics}
    aliases = {alias: kind for alias, kind in ALIASES.items() if kind in names}
    table = f"_FIT_METRICS = (\n{rows})\n_FIT_ALIASES = {aliases!r}\n" if rows else "_FIT_METRICS = ()\n_FIT_ALIASES = {}\n"
    return [*(_printed(spec, backend, f"_fit_metric{i}") for i, spec in enumerate(specs)), table]


def fit_blocks(backend: Backend, seeded: bool, train_arguments: tuple[str, ...],
               metrics: Sequence[ModuleMetric] = (), data: tuple[Sequence[str], Sequence[str]] = (("X",), ("Y",)),
               keys: tuple[Sequence[str | None], Sequence[str | None]] | None = None, arrange: str | None = None,
               output_losses: Sequence[str] = (), batch_norm: bool = False) -> list[str]:
    """The blocks of ``fit(params, X, Y, *, epochs=1, batch_size=32, <train_arguments>, metrics=None, validation=None, …)``
    and ``evaluate(params, X, Y, *, metrics=None, batch_size=1024)``.

    ``train_arguments`` follow the data in the module's ``train_step``: ``("lr",)``, or ``("state", *hyperparameters)``;
    ``seeded``: ``train_step`` takes ``seed=`` (dropout or noise), drawn per batch as :func:`symdl.training.fit` draws it.
    ``metrics``: from :func:`module_metrics`, printed for ``backend``. ``data``: the names of the entry points' inputs
    and targets (``fit`` and ``evaluate`` take a tuple of arrays where there are several). ``keys``: a graph module's
    input and target aliases, read with the name ``arrange`` (the graph module's ``_arrange``: a data dict by name or
    alias); None for both: no dicts (a network module). ``output_losses``: the log keys ``<output>_loss`` of a graph
    module whose printed ``output_losses`` and ``inference_output_losses`` give each output's unweighted loss, logged as
    :func:`symdl.fit` logs them (``val_<output>_loss`` too); empty: the total loss alone. ``batch_norm``: a network's
    batch norm (running variance m/(m−1)·σ²_B), whose batches of 1 row ``fit`` refuses before the first step.
    No blocks (and no ``fit``) for a backend without :meth:`~symdl.backends.Backend.fit_runtime`.
    """
    if (keys is None) != (arrange is None):
        raise ValueError("fit_blocks: a data dict's keys and the function that reads them come together")
    try:
        copies = backend.fit_runtime()
    except NotImplementedError:  # a registered backend without the hook: its modules have no fit
        return []
    stateful = "state" in train_arguments
    extra = [a for a in train_arguments if a != "state"]
    given = ["state=None" if a == "state" else a for a in train_arguments]
    body = (["if state is None:", "    state = init_state(params)"] if stateful else [])
    passed = "(" + ", ".join(extra) + ("," if len(extra) == 1 else "") + ")"
    body.append(f"return _fit_loop(params, X, Y, {'state' if stateful else 'None'}, {passed}, {_PASSED})")
    how = "the optimizer, from state or init_state(params)" if stateful else "plain gradient descent at lr"
    doc = (f"Train params by train_step ({how}) on seeded mini-batches, epoch by epoch; returns the History (loss, the "
           "printed metrics or those named in metrics, and with validation their val_ values).")
    from ..metrics.catalogue import mean

    evaluate = ["X, Y = _fit_arrange(X, Y, 'X, Y')", "batch_size = _fit_check_positive('batch_size', batch_size)",
                "return _fit_evaluate(params, X, Y, batch_size, _fit_chosen_metrics(metrics))"]
    return [
        f"_FIT_SEEDED = {bool(seeded)!r}\n_FIT_SEED_BOUND = {batches.MASK_SEED_BOUND!r}\n"
        f"_FIT_DATA = {tuple(tuple(names) for names in data)!r}\n"
        f"_FIT_KEYS = {None if keys is None else tuple(tuple(k) for k in keys)!r}\n"
        f"_FIT_ARRANGE = {arrange or 'None'}\n"
        # a graph module (it reads data dicts) names its outputs for a metrics dict, as CompiledGraph.metric_outputs
        f"_FIT_OUTPUTS = {'None' if keys is None else 'metric_outputs'}\n"
        f"_FIT_BATCH_NORM = {bool(batch_norm)!r}\n"
        f"_FIT_OUTPUT_LOSSES = {f'({tuple(output_losses)!r}, output_losses, inference_output_losses)' if output_losses else ()}\n",
        _printed(mean(), "numpy", "_fit_mean"),
        *_metrics_source(backend, metrics),
        unannotated_source(by_output, {"by_output": "_fit_by_output", "excerpt": "_excerpt"}),
        # a graph module has it already: its _arrange (the arrange given) calls it
        *([unannotated_source(check_count, {"check_count": "_check_count"})] if arrange is None else []),
        *(unannotated_source(getattr(batches, name), {**_BATCH_NAMES, "excerpt": "_excerpt"}) for name in _BATCH_NAMES),
        *(unannotated_source(getattr(progress, name), {**_PROGRESS_NAMES, "excerpt": "_excerpt"}) for name in _PROGRESS_NAMES),
        emit_functions(*LOOP, names={"excerpt": "_excerpt", **{name: f"_fit_{name}" for name in (
            "check_finite_loss", "check_batch_rows", "check_history_keys", "check_binary_targets", "monitor_mode", "validation_pair")}}),
        *copies,
        function_source("fit", f"params, X, Y, *, epochs=1, batch_size=32, {', '.join(given)}, {_OPTIONS}", doc, body),
        function_source("evaluate", "params, X, Y, *, metrics=None, batch_size=1024",
                        "{'loss': the inference loss, <metric>: value}: on (X, Y) batch by batch, in inference mode.", evaluate),
    ]
