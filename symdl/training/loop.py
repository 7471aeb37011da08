"""``fit``: epochs of seeded mini-batches through a model's own ``train_step``, with history, metrics and progress.

The loop is bookkeeping only: the loss, the gradient, the optimizer update and
the metrics' arithmetic are the model's and the metrics' printed code. A model
is anything with ``train_step(params, X, Y, state[, seed])`` (in place,
returning the loss before the step; or functional, returning
``(loss, params, state)``), ``forward(params, X)`` and, for ``evaluate`` and the
validation loss, ``inference_loss(params, X, Y)`` (the loss in inference mode:
dropout and noise off, batch norm with its running statistics, as Keras'
``evaluate``): a :class:`symdl.CompiledNetwork` built with an optimizer, a
:class:`symdl.graph.CompiledGraph` (several inputs and targets given as
tuples or dicts keyed by name, arranged by its ``arrange_data``), a generated
module (several inputs and targets as tuples, spread into its arguments).
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from ..backends.runtime_fit import (
    check_batch_rows,
    check_finite_loss,
    check_history_keys,
    validation_pair,
)
from ..excerpt import excerpt
from .batches import (
    MASK_SEED_BOUND,
    Data,
    batch_slices,
    check_data,
    check_positive,
    epoch_rng,
    sample_count,
    take,
)
from .callbacks import Callback, EarlyStopping, History, TrainingRun
from .output_losses import OutputLosses
from .progress import ProgressBar, check_stream, progress_mode
from .tracked import TrackedMetrics, metric_name, metric_objects, track

__all__ = ["evaluate", "fit", "metric_name", "metric_objects"]



def _is_seeded(model: Any) -> bool:
    """Whether the model's training step draws random masks (dropout) and so takes a seed.

    A model says so (``seeded``, or its ``network.seeded``); a generated module's
    ``train_step`` says so by having a ``seed`` parameter.
    """
    seeded = getattr(model, "seeded", None)
    if seeded is None:
        seeded = getattr(getattr(model, "network", None), "seeded", None)
    if seeded is None:
        try:
            seeded = "seed" in inspect.signature(model.train_step).parameters
        except (TypeError, ValueError):
            seeded = False
    return bool(seeded)


def _data_args(model: Any, X: Data, Y: Data) -> tuple[Any, ...]:
    """The data arguments of the model's entry points: ``(X, Y)``, spread into ``X1, X2, …, Y1, …`` for a generated
    graph module with several inputs or targets (a compiled graph takes the tuples as they are)."""
    if callable(getattr(model, "arrange_data", None)) or not (isinstance(X, tuple) or isinstance(Y, tuple)):
        return X, Y
    return (*(X if isinstance(X, tuple) else (X,)), *(Y if isinstance(Y, tuple) else (Y,)))


def _step(model: Any, params: dict, X: Any, Y: Any, state: Any, seed: int | None) -> tuple[float, dict, Any]:
    data = _data_args(model, X, Y)
    result = model.train_step(params, *data, state) if seed is None else model.train_step(params, *data, state, seed=seed)
    if isinstance(result, tuple):
        loss, params, state = result
    else:
        loss = result
    return float(loss), params, state


class _LossTracker:
    """The logged loss: Σ nᵦ·Cᵦ / Σ nᵦ over the batches so far, by :class:`symdl.metrics.Mean`'s printed code.

    The losses are kept and handed to the metric when the value is read (the
    status bar, the epoch's end), not once per step: bookkeeping, not arithmetic.
    """

    def __init__(self) -> None:
        from ..metrics import Mean

        self.mean = Mean(name="loss")
        self.losses: list[float] = []
        self.sizes: list[int] = []

    def add(self, loss: float, size: int) -> None:
        self.losses.append(loss)
        self.sizes.append(size)

    def result(self) -> float:
        self.mean.reset_state()
        self.mean.update_state(np.asarray(self.losses), sample_weight=np.asarray(self.sizes, dtype=np.float64))
        return self.mean.result()


def _logs(loss: _LossTracker, metrics: TrackedMetrics, outputs: OutputLosses) -> dict[str, float]:
    return {"loss": loss.result(), **outputs.logs(), **metrics.logs()}


def _tracked(model: Any, Y: Data, metrics: object, what: str) -> TrackedMetrics:
    """The metrics of a run (:func:`symdl.training.tracked.track`): per output for a model with several."""
    return track(model, metrics, len(Y) if isinstance(Y, tuple) else 1, what)  # type: ignore[arg-type]


def _check_validation_row(model: Any, params: Any, X: Data, Y: Data, validation: tuple[Data, Data]) -> None:
    """The validation data's first row through the model's own checks (widths, dtype) before the first step: a bad set
    stopped fit after a whole epoch, its params already stepped, in a line naming X for X_val. The training data's
    first row goes first, so that an error of the params is not said to be the validation's."""
    first = slice(0, 1)
    model.inference_loss(params, *_data_args(model, take(X, first), take(Y, first)))
    try:
        model.inference_loss(params, *_data_args(model, take(validation[0], first), take(validation[1], first)))
    except ValueError as error:
        raise ValueError(f"validation, its first row: {error}") from None


def _check_model(model: Any, what: str, evaluating: bool) -> None:
    """``inference_loss`` where it is needed."""
    if evaluating and not callable(getattr(model, "inference_loss", None)):
        raise ValueError(f"{what}: the model has no inference_loss(params, X, Y), the loss in inference mode that "
                         "evaluate reports; compile the network or regenerate the module with this symdl")


def _batch_norm(model: Any) -> bool:
    """Whether the model is a network with batch norm, whose steps take batches of at least 2 rows: a compiled network
    with moving statistics (``buffer_names``) or a generated network module with them (its ``fit``'s ``_FIT_BATCH_NORM``)."""
    return bool(getattr(model, "buffer_names", None)) or getattr(model, "_FIT_BATCH_NORM", False) is True


def _check_optimizer(model: Any) -> None:
    """A compiled model's optimizer that leaves a hyperparameter to each call (``lr=None``: ``train_step(…, lr)``):
    fit passes none (a model of your own that passes it has no ``optimizer`` of its own)."""
    opt: Any = getattr(model, "optimizer", None)
    unbound = opt.unbound() if callable(getattr(opt, "unbound", None)) else ()
    if unbound:
        raise ValueError(f"fit: the optimizer {opt.name!r} leaves {', '.join(h.name for h in unbound)} to each "
                         f"train_step call, which fit does not pass; give a value, e.g. "
                         f"symdl.optimizer({opt.name!r}, {unbound[0].name}=0.01)")


def _spread(data: Any, label: str) -> Any:
    """A model without ``arrange_data`` (a generated module): several arrays in a list as a tuple, as a compiled graph
    and the module's own fit read them; a dict by name is one line (the names are the module's own)."""
    if isinstance(data, dict):
        raise ValueError(f"{label}: a dict of arrays by name is read by a compiled graph and by a generated module's own "
                         "fit; give symdl.fit the module's arrays as a tuple in its order")
    if isinstance(data, list) and len(data) > 1 and all(getattr(a, "ndim", None) == 2 for a in data):
        return tuple(data)
    return data


def _arranged(model: Any, X: Any, Y: Any, what: str) -> tuple[Data, Data]:
    """(X, Y) checked: a model with ``arrange_data`` (a graph) puts dicts and sequences in its order first."""
    arrange = getattr(model, "arrange_data", None)
    if not callable(arrange):
        labels = what.split(", ")
        return check_data(_spread(X, labels[0]), _spread(Y, labels[1]), what)
    X, Y = arrange(X, Y, what)
    return check_data(X, Y, what, (model.input_names, model.target_names))


def _forward(model: Any, params: Any, X: Data) -> Any:
    return model.forward(params, *X) if isinstance(X, tuple) else model.forward(params, X)


def _check_targets(model: Any, Y: Data, name: str) -> None:
    """The model's own check of the targets against its loss's domain (``check_targets``), on all rows at once:
    a bad row is named by its index in the data, before any step changed params."""
    check = getattr(model, "check_targets", None)
    if callable(check):
        check(Y, name)


def evaluate(model: Any, params: Mapping[str, Any], X: Any, Y: Any,
             metrics: Sequence[Any] | Mapping[str, Any] = (), batch_size: int = 1024) -> dict[str, float]:
    """``{"loss": C, <metric>: value, …}`` on (X, Y) in batches: the loss weighted by batch size, metrics streamed.

    Inference mode, as Keras' ``evaluate``: the loss is ``inference_loss``
    (dropout and noise off, batch norm with its running statistics), the
    metrics are reset first and read from ``forward``. ``metrics`` as in
    :func:`fit`: a list, or for several outputs a dict by output name (keys ``<output>_<metric>``).
    """
    return _evaluated(model, params, X, Y, metrics, batch_size, "evaluate")


def _evaluated(model: Any, params: Mapping[str, Any], X: Any, Y: Any, metrics: Any, batch_size: int,
               label: str) -> dict[str, float]:
    """:func:`evaluate`'s logs; a batch's non-finite loss is one line naming it, from ``label`` (evaluate, validation)."""
    _check_model(model, "evaluate", True)
    X, Y = _arranged(model, X, Y, "X, Y")
    tracked = _tracked(model, Y, metrics, "evaluate")
    batch_size = check_positive("batch_size", batch_size)
    _check_targets(model, Y, "Y")
    tracked.check_labels(Y, "Y", getattr(model, "target_names", None))
    tracked.reset()
    tracker = _LossTracker()
    outputs = OutputLosses(model, _LossTracker, tracked.keys)
    batches = -(-sample_count(X) // batch_size)
    for batch, rows in enumerate(batch_slices(sample_count(X), batch_size, None), 1):
        xb, yb = take(X, rows), take(Y, rows)
        loss = float(model.inference_loss(params, *_data_args(model, xb, yb)))
        if not np.isfinite(loss):  # the loss mean would refuse it after the last batch, naming none
            raise ValueError(f"{label}: the loss is {loss} on batch {batch} of {batches}: the model overflowed on these "
                             "inputs, or its parameters hold NaN or infinity")
        tracker.add(loss, sample_count(xb))
        if outputs:
            outputs.add(params, _data_args(model, xb, yb), sample_count(xb), training=False)
        if tracked:
            tracked.update(yb, _forward(model, params, xb))
    return _logs(tracker, tracked, outputs)


def fit(
    model: Any,
    params: dict[str, Any],
    X: Any,
    Y: Any,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    state: Any = None,
    metrics: Sequence[object] | Mapping[str, object] = (),
    validation: tuple[Any, Any] | list[Any] | None = None,
    seed: int = 0,
    shuffle: bool = True,
    verbose: int | str = "auto",
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callback] | None = (),
    initial_epoch: int = 0,
    stream: TextIO | None = None,
) -> History:
    """Train ``params`` for epochs ``initial_epoch … epochs − 1`` and return the :class:`History`.

    ``X`` and ``Y`` are arrays (samples, features); for a graph with several
    inputs or data targets, tuples of arrays in its order or dicts keyed by its
    ``input_names`` / ``target_names`` (Keras' convention), every array cut at
    the same rows. Each epoch shuffles the samples with ``numpy.random.default_rng((seed, epoch))``
    (so a run resumed at ``initial_epoch`` continues exactly) and cuts them into
    batches of ``batch_size``, the last one partial. ``state`` is the optimizer
    state (default ``model.init_state(params)``). The logged loss is the mean of
    the batches' losses before their steps, weighted by batch size (Keras'); the
    metrics stream over the batches' predictions by ``forward`` before each
    step; ``validation=(Xv, Yv)`` (or ``[Xv, Yv]``, as Keras takes) adds ``val_loss`` and ``val_<metric>`` in
    inference mode (:func:`evaluate`). With several outputs (a graph),
    ``metrics`` is a list for every output with a data target or a dict by
    output name (a metric or a list), logged as ``<output>_<metric>``
    (:mod:`symdl.training.tracked`). With two or more outputs with a loss,
    each output's loss without its weight is logged too, ``<output>_loss``
    (Keras'; :mod:`symdl.training.output_losses`). Same seed, same data → bit-identical
    history, params and state.
    """
    _check_model(model, "fit", validation is not None)
    _check_optimizer(model)
    X, Y = _arranged(model, X, Y, "X, Y")
    tracked = _tracked(model, Y, metrics, "fit")
    epochs = check_positive("epochs", epochs)
    initial_epoch = check_positive("initial_epoch", initial_epoch, 0)
    if initial_epoch >= epochs:
        raise ValueError(f"initial_epoch: {initial_epoch} leaves no epoch to run (epochs={epochs})")
    batch_size = check_positive("batch_size", batch_size)
    check_batch_rows(sample_count(X), batch_size, _batch_norm(model))
    _check_targets(model, Y, "Y")
    tracked.check_labels(Y, "Y", getattr(model, "target_names", None))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {excerpt(seed)}")
    if not isinstance(shuffle, (bool, np.bool_)):  # 1 or 'no' would count as true
        raise ValueError(f"shuffle: expected True or False, got {excerpt(shuffle)}")
    shuffle = bool(shuffle)
    if validation is not None:
        validation = _arranged(model, *validation_pair(validation), "X_val, Y_val")
        _check_targets(model, validation[1], "Y_val")
        tracked.check_labels(validation[1], "Y_val", getattr(model, "target_names", None))
        _check_validation_row(model, params, X, Y, validation)
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise ValueError(f"early_stopping: expected symdl.training.EarlyStopping, got {excerpt(early_stopping)}")
    if callbacks is None:  # Keras' default
        callbacks = ()
    if not isinstance(callbacks, (list, tuple)):  # one Callback, or a str whose letters would be iterated
        raise ValueError(f"callbacks: expected a list of symdl.training.Callback objects, got {excerpt(callbacks)}")
    hooks = [*callbacks, *([early_stopping] if early_stopping is not None else [])]
    for hook in hooks:
        if not isinstance(hook, Callback):
            raise ValueError(f"callbacks: expected symdl.training.Callback objects, got {excerpt(hook)}")
    logged = ["loss", *OutputLosses(model, _LossTracker, tracked.keys).names, *tracked.keys]
    logged += [f"val_{k}" for k in logged] if validation is not None else []
    check_history_keys(logged)  # an output named val: its val_loss is the validation's
    if early_stopping is not None and early_stopping.monitor not in logged:
        raise ValueError(f"early_stopping: monitor {early_stopping.monitor!r} is not logged; logged: {', '.join(logged)}")
    if state is None:
        init_state: Callable[[dict], Any] | None = getattr(model, "init_state", None)
        if init_state is None:
            raise ValueError("fit: this model has no optimizer state; give one with the optimizer (Network(..., optimizer=...))")
        state = init_state(params)
    stream = check_stream(stream)
    steps = -(-sample_count(X) // batch_size)
    bar = ProgressBar(epochs, steps, progress_mode(verbose, stream), stream)
    seeded = _is_seeded(model)
    run = TrainingRun(params, state)
    history = History(params={"epochs": epochs, "steps": steps, "batch_size": batch_size, "seed": int(seed),
                              "shuffle": shuffle, "initial_epoch": initial_epoch})
    for hook in hooks:
        hook.on_train_begin(run)
    for epoch in range(initial_epoch, epochs):
        rng = epoch_rng(int(seed), epoch)
        tracked.reset()
        tracker = _LossTracker()
        outputs = OutputLosses(model, _LossTracker, tracked.keys)
        for step, rows in enumerate(batch_slices(sample_count(X), batch_size, rng if shuffle else None), 1):
            xb, yb = take(X, rows), take(Y, rows)
            if tracked:
                tracked.update(yb, _forward(model, run.params, xb))
            mask_seed = int(rng.integers(MASK_SEED_BOUND)) if seeded else None
            if outputs:  # before the step, with its masks: the values its loss summed
                outputs.add(run.params, _data_args(model, xb, yb), sample_count(xb), mask_seed)
            given = run.params
            loss, run.params, run.state = _step(model, run.params, xb, yb, run.state, mask_seed)
            # the loss mean would refuse it at the epoch's end, naming no step; new params: the caller's are as given
            check_finite_loss(loss, epoch, step, steps, run.params is not given)
            tracker.add(loss, sample_count(xb))
            bar.batch(epoch, step, lambda: _logs(tracker, tracked, outputs))
        logs = _logs(tracker, tracked, outputs)
        if validation is not None:
            val = _evaluated(model, run.params, *validation, tracked, max(batch_size, 1024), "validation")
            logs.update({f"val_{k}": v for k, v in val.items()})
        history.record(epoch, logs)
        bar.epoch(epoch, logs)
        for hook in hooks:
            hook.on_epoch_end(epoch, logs, run)
        if run.stop_training:
            history.stopped_epoch = epoch
            break
    for hook in hooks:
        hook.on_train_end(run)
    history.weights, history.state = run.params, run.state
    return history
