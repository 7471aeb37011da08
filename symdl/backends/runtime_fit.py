"""Runtime of the ``fit`` a generated module carries: the epoch loop, its history and early stopping.

These are real functions so that they can be read, linted and tested; symdl
copies their source into the generated modules (:mod:`symdl.export.module_fit`),
where the module's ``train_step`` and ``inference_loss`` and the copied helpers
are bound: the names of its inputs and targets (``_FIT_DATA``), the batches of :mod:`symdl.training.batches` (``_fit_check_data``,
``_fit_epoch_rng``, ``_fit_batch_slices``, ``_fit_take``, ``_fit_sample_count``), the status bar
of :mod:`symdl.training.progress` (``_FitProgressBar``, ``_fit_progress_mode``), the
loss mean printed from :class:`symdl.metrics.Mean` (``_fit_mean_init``,
``_fit_mean_update``, ``_fit_mean_result``), the streaming metrics printed when the
module was generated (``_FIT_METRICS``: rows of log key, metric name, output and
target index, the metric's printed init, update and result, and whether its targets must be 0 or 1; ``_FIT_ALIASES``),
the other keys of a data dict (``_FIT_KEYS``: a graph module's input and target aliases, read by the hook
``_FIT_ARRANGE``, the graph module's ``_arrange``; both None in a network module, which takes no dict), the outputs a
metrics dict names (``_FIT_OUTPUTS``: a graph module's ``metric_outputs``, None in a network module), each output's
loss (``_FIT_OUTPUT_LOSSES``: a graph module with two or more outputs with a loss binds their log keys and its printed
``output_losses`` and ``inference_output_losses``; empty elsewhere), whether a network has batch norm
(``_FIT_BATCH_NORM``, for :func:`check_batch_rows`),
and the backend's ``_fit_snapshot``, ``_fit_restore`` and ``_fit_target``. The loop is the one of :func:`symdl.training.fit`, step for step:
the same batches, the same mask seeds, the same loss mean, the metrics streamed
over the same predictions, so a numpy module trains bit for bit as the compiled network.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations

import numbers  # noqa: F401  (read by the copied source)
import sys  # noqa: F401

import numpy  # noqa: F401

from ..excerpt import excerpt  # _excerpt in a module: every value an error line shows

# --- what fit returns ---


class History:
    """What ``fit`` returns, as ``symdl.training.History``: ``history["loss"]`` (one value per epoch), ``epoch``,
    ``params`` (the run's settings), ``weights`` and ``state`` (after training), ``stopped_epoch``."""

    def __init__(self, params):
        self.history, self.epoch, self.params = {}, [], params
        self.weights, self.state, self.stopped_epoch = {}, None, None

    def record(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={self.epoch}, history={self.history})"


# --- the loop ---


def _fit_data_args(X, Y):
    """The data arguments of the module's entry points: one array each, or tuples spread (several inputs or targets)."""
    return (*(X if isinstance(X, tuple) else (X,)), *(Y if isinstance(Y, tuple) else (Y,)))


def _fit_arrange(X, Y, what):
    """(X, Y) as the entry points take them, checked by _fit_check_data; a wrong number of arrays is one ValueError line
    (symdl.backends.runtime_data.check_count, a graph module's _check_count: the compiled graph's words).

    _FIT_DATA names the module's inputs and targets: one array for one, a tuple (or a list, as CompiledGraph.fit takes
    it) of as many arrays for several; a single array may come as a 1-tuple. A graph module also takes a dict keyed by
    the names or their aliases (_FIT_KEYS), read by the module's _arrange as CompiledGraph.fit reads it.
    """
    out = []
    for label, value, names, keys in zip(what.split(", "), (X, Y), _FIT_DATA, _FIT_KEYS or (None, None)):
        if isinstance(value, dict):
            if keys is None:
                raise ValueError(f"{label}: this model takes {', '.join(names)} as an array (or a tuple), not a dict")
            arrays = _FIT_ARRANGE(value, tuple((name, 0) for name in names), keys, label)
        else:
            several = isinstance(value, tuple) or (len(names) > 1 and isinstance(value, list))
            arrays = list(value) if several else [value]
        _check_count(label, names, value, arrays)
        out.append(tuple(arrays) if len(names) > 1 else arrays[0])
    return _fit_check_data(out[0], out[1], what, _FIT_DATA)


def check_binary_targets(y, key, name):
    """y ∈ {0, 1} on every row, else one ValueError line: the targets of the binary metric logged as ``key``
    (accuracy, precision, recall, F1), checked before any step (symdl.metrics' objects check each batch only as it
    comes). The comparisons run in the arrays' own library (a torch tensor stays on its device)."""
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError(f"{name}: {key} takes targets of 0 or 1 only")


def _fit_check_labels(chosen, Y, label):
    """check_binary_targets for each binary metric chosen, on the target it reads (named as the module names it)."""
    for entry in chosen:
        if entry[7]:
            y = Y if entry[3] is None else Y[entry[3]]
            check_binary_targets(y, entry[0], label if entry[3] is None else f"{label} ({_FIT_DATA[1][entry[3]]})")


def _fit_loss_mean(losses, sizes):
    """Σ nᵦ·Cᵦ / Σ nᵦ by the printed code of symdl.metrics.Mean: the logged loss of an epoch."""
    state = _fit_mean_update(_fit_mean_init(), numpy.asarray(losses), sample_weight=numpy.asarray(sizes, dtype=numpy.float64))
    return float(_fit_mean_result(state))


def _fit_output_losses(params, X, Y, seed, training=True):
    """{<output>_loss: value} of one batch by the module's printed output_losses (training mode, the masks of the step
    with seed) or inference_output_losses, each a dict by those keys; {} in a module that prints none (one output
    with a loss)."""
    if not _FIT_OUTPUT_LOSSES:
        return {}
    keys, in_training, in_inference = _FIT_OUTPUT_LOSSES
    data = _fit_data_args(X, Y)
    if not training:
        values = in_inference(params, *data)
    else:
        values = in_training(params, *data) if seed is None else in_training(params, *data, seed=seed)
    return {key: float(values[key]) for key in keys}


def _fit_losses_kept():
    """Each output's (losses, sizes) of the batches so far, by log key: none yet."""
    return {key: ([], []) for key in (_FIT_OUTPUT_LOSSES[0] if _FIT_OUTPUT_LOSSES else ())}


def _fit_losses_add(kept, values, size):
    """Each output's loss of one batch and its size kept for the mean (kept: key → (losses, sizes)); kept."""
    for key, value in values.items():
        kept[key][0].append(value)
        kept[key][1].append(size)
    return kept


def _fit_losses_logs(kept):
    """{<output>_loss: Σ nᵦ·Lᵦ / Σ nᵦ}: each output's loss averaged over the batches as the total loss is."""
    return {key: _fit_loss_mean(losses, sizes) for key, (losses, sizes) in kept.items()}


def _fit_forward(params, X):
    """The module's forward (inference mode) on one batch: one array, or a tuple spread (several inputs)."""
    return forward(params, *(X if isinstance(X, tuple) else (X,)))


def _fit_chosen_metrics(metrics):
    """The printed metrics a run logs, in the module's order: every one (None), those named (a list: on every output),
    or by output as symdl.fit takes them (a dict: output name or alias → a name or a list, read by _fit_by_output
    against _FIT_OUTPUTS, a graph module's metric_outputs); else one ValueError line."""
    if metrics is None:
        return _FIT_METRICS
    spec = _fit_by_output(metrics, _FIT_OUTPUTS) if isinstance(metrics, dict) else {None: metrics}
    printed = list(dict.fromkeys(entry[1] for entry in _FIT_METRICS))
    chosen = []
    for output, names in spec.items():
        if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(m, str) for m in names):
            raise ValueError(f"metrics: expected a list of metric names, got {excerpt(metrics)}")
        where = [o for o in _FIT_OUTPUTS or () if o[0] == output]
        for name, given in {_FIT_ALIASES.get(m, m): m for m in names}.items():
            found = [entry for entry in _FIT_METRICS if entry[1] == name and (not where or (
                entry[2] in (None, where[0][2]) and entry[3] in (None, where[0][3])))]
            if not found:
                shown = ", ".join(printed) if printed else "none (generate the module with metrics=[...])"
                on = f" for the output {output!r}" if where else ""
                raise ValueError(f"metrics: {excerpt(given)} is not printed{on} in this module; printed: {shown}"
                                 + (f" (keys {', '.join(entry[0] for entry in _FIT_METRICS)})" if where else ""))
            chosen += found
    return tuple(entry for entry in _FIT_METRICS if any(entry is c for c in chosen))


def _fit_metrics_update(chosen, states, Y, predictions):
    """Each metric's printed update on its target and output (of several, by index): the new states."""
    out = []
    for (_, _, output, target, _, update, _, _), state in zip(chosen, states):
        prediction = predictions if output is None else predictions[output]
        out.append(update(state, _fit_target(Y if target is None else Y[target], prediction), prediction))
    return out


def _fit_metrics_logs(chosen, states):
    """``{log key: the printed result}`` of each metric's state."""
    return {entry[0]: float(entry[6](state)) for entry, state in zip(chosen, states)}


def _fit_evaluate(params, X, Y, batch_size, chosen=(), label="Y"):
    """Inference mode on (X, Y), batch by batch in order (Keras' evaluate): the loss weighted by batch size and the
    chosen metrics streamed over forward's predictions."""
    _fit_check_labels(chosen, Y, label)
    losses, sizes, outputs = [], [], _fit_losses_kept()
    states = [entry[4]() for entry in chosen]
    for rows in _fit_batch_slices(_fit_sample_count(X), batch_size, None):
        xb, yb = _fit_take(X, rows), _fit_take(Y, rows)
        losses.append(float(inference_loss(params, *_fit_data_args(xb, yb))))
        sizes.append(_fit_sample_count(xb))
        outputs = _fit_losses_add(outputs, _fit_output_losses(params, xb, yb, None, False), sizes[-1])
        if chosen:
            states = _fit_metrics_update(chosen, states, yb, _fit_forward(params, xb))
    return {"loss": _fit_loss_mean(losses, sizes), **_fit_losses_logs(outputs), **_fit_metrics_logs(chosen, states)}


def _fit_step(params, X, Y, state, extra, seed):
    """One train_step: (the loss before it, params, state); a functional module returns the new params and state."""
    arguments = (*_fit_data_args(X, Y), *(() if state is None else (state,)), *extra)
    result = train_step(params, *arguments) if seed is None else train_step(params, *arguments, seed=seed)
    if isinstance(result, tuple):
        loss, params, state = result
    else:
        loss = result
    return float(loss), params, state


def check_finite_loss(loss, epoch, step, steps, functional=False):
    """Nothing when the loss of step ``step`` (of ``steps``, counted from 1) of epoch ``epoch`` (0-based) is finite, else
    one ValueError line naming them: a diverged run stops there (Keras' TerminateOnNaN), not at the epoch's loss mean.
    What the caller's params hold then: the steps up to it where train_step updates them in place (numpy, torch); the
    arrays given where it returns new ones (``functional``: JAX's arrays are immutable)."""
    if not numpy.isfinite(loss):
        kept = ("the params and state given to fit are unchanged (train_step returns new arrays, as JAX's are immutable)"
                if functional else "params and state hold the steps up to it")
        raise ValueError(f"fit: the loss is {loss} at epoch {epoch + 1}, step {step} of {steps}: training diverged (a "
                         f"smaller learning rate?) or the data hold NaN; {kept}")


def check_batch_rows(samples, batch_size, batch_norm):
    """Nothing unless a network with batch norm would step on a batch of 1 row (its last, ``samples`` mod
    ``batch_size``): one ValueError line before the first step, as its ``train_step`` and PyTorch's ``BatchNorm1d``
    need at least 2."""
    if batch_norm and (samples % batch_size or batch_size) < 2:
        raise ValueError(f"fit: {samples} samples in batches of {batch_size} leave a batch of 1 row, and batch norm "
                         "trains on at least 2 (its running variance is m/(m−1)·σ²_B); choose another batch size")


def check_history_keys(logged):
    """Nothing when every history key in ``logged`` (training keys, then val_ ones) is distinct, else one ValueError line.

    An output named val logs val_loss, as the validation does; val_a beside a, or a metric named val_loss, clash too.
    """
    twice = next((k for k in logged if logged.count(k) > 1), None)
    if twice is not None:
        raise ValueError(f"fit: the history key {excerpt(twice)} would hold two values (a training entry and a validation entry "
                         f"val_…); rename the output or the metric it comes from")


def validation_pair(validation):
    """(X_val, Y_val) from a tuple or a list of two (Keras' ``validation_data``, which takes both), else one error line."""
    if type(validation) not in (tuple, list) or len(validation) != 2:
        raise ValueError(f"validation: expected a pair (X_val, Y_val), got {excerpt(validation)}")
    return tuple(validation)


def monitor_mode(monitor):
    """"max" for an accuracy-like log key (acc, precision, recall, f1, auc in it), "min" for every other, and for every
    key ending in ``loss`` whatever its output is named (val_accel_loss, precision_head_loss): the side early stopping
    improves towards, Keras' ``mode="auto"`` (:class:`symdl.training.EarlyStopping` and a module's ``fit``)."""
    maximised = any(word in monitor for word in ("acc", "precision", "recall", "f1", "auc"))
    return "max" if maximised and not monitor.endswith("loss") else "min"


def _check_fit(epochs, batch_size, seed, shuffle, initial_epoch, patience, monitor, min_delta, restore_best_weights, validation,
               keys):
    """The settings of a run, or one ValueError line naming the first wrong one."""
    epochs = _fit_check_positive("epochs", epochs)
    initial_epoch = _fit_check_positive("initial_epoch", initial_epoch, 0)
    if initial_epoch >= epochs:
        raise ValueError(f"initial_epoch: {initial_epoch} leaves no epoch to run (epochs={epochs})")
    batch_size = _fit_check_positive("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {excerpt(seed)}")
    if type(shuffle) not in (bool, numpy.bool_):  # 1 or 'no' would count as true
        raise ValueError(f"shuffle: expected True or False, got {excerpt(shuffle)}")
    if type(restore_best_weights) not in (bool, numpy.bool_):  # 'no' would count as true
        raise ValueError(f"restore_best_weights: expected True or False, got {excerpt(restore_best_weights)}")
    if validation is not None:
        validation_pair(validation)
    logged = ["loss", *(_FIT_OUTPUT_LOSSES[0] if _FIT_OUTPUT_LOSSES else ()), *keys]
    logged += [f"val_{k}" for k in logged] if validation is not None else []
    check_history_keys(logged)
    if patience is not None:
        _fit_check_positive("patience", patience, 0)
        if monitor not in logged:
            raise ValueError(f"monitor: {excerpt(monitor)} is not logged; logged: {', '.join(logged)}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not abs(float(min_delta)) < float("inf"):
            raise ValueError(f"min_delta: expected a finite number, got {excerpt(min_delta)}")
    return epochs, batch_size, initial_epoch


def _fit_loop(params, X, Y, state, extra, epochs, batch_size, metrics, validation, seed, shuffle, verbose, patience,
              monitor, min_delta, restore_best_weights, initial_epoch, stream):
    """The loop of symdl.training.fit: epoch e shuffles with numpy.random.default_rng((seed, e)) and steps batch by batch;
    the metrics stream over forward's predictions of each batch before its step."""
    chosen = _fit_chosen_metrics(metrics)
    epochs, batch_size, initial_epoch = _check_fit(epochs, batch_size, seed, shuffle, initial_epoch, patience, monitor,
                                                   min_delta, restore_best_weights, validation, [entry[0] for entry in chosen])
    X, Y = _fit_arrange(X, Y, "X, Y")
    _fit_check_batch_rows(_fit_sample_count(X), batch_size, _FIT_BATCH_NORM)
    _fit_check_labels(chosen, Y, "Y")
    if validation is not None:
        Xv, Yv = validation_pair(validation)
        Xv, Yv = _fit_arrange(Xv, Yv, "X_val, Y_val")
        _fit_check_labels(chosen, Yv, "Y_val")
    stream = _fit_check_stream(stream)
    steps = -(-_fit_sample_count(X) // batch_size)
    bar = _FitProgressBar(epochs, steps, _fit_progress_mode(verbose, stream), stream)
    history = History({"epochs": epochs, "steps": steps, "batch_size": batch_size, "seed": int(seed),
                       "shuffle": shuffle, "initial_epoch": initial_epoch})
    # early stopping, Keras' rule: an improvement is current + |min_delta| < best (or current − |min_delta| > best for an
    # accuracy-like monitor); stop after patience epochs without
    sign = 1.0 if patience is None or _fit_monitor_mode(monitor) == "min" else -1.0
    best, wait, best_weights = float("inf"), 0, None
    for epoch in range(initial_epoch, epochs):
        rng = _fit_epoch_rng(int(seed), epoch)
        losses, sizes, outputs = [], [], _fit_losses_kept()
        states = [entry[4]() for entry in chosen]
        for step, rows in enumerate(_fit_batch_slices(_fit_sample_count(X), batch_size, rng if shuffle else None), 1):
            xb, yb = _fit_take(X, rows), _fit_take(Y, rows)
            if chosen:
                states = _fit_metrics_update(chosen, states, yb, _fit_forward(params, xb))
            mask_seed = int(rng.integers(_FIT_SEED_BOUND)) if _FIT_SEEDED else None
            # before the step, with its masks: the values its loss summed
            outputs = _fit_losses_add(outputs, _fit_output_losses(params, xb, yb, mask_seed), _fit_sample_count(xb))
            loss, stepped, state = _fit_step(params, xb, yb, state, extra, mask_seed)
            _fit_check_finite_loss(loss, epoch, step, steps, stepped is not params)  # new arrays: the caller's are as given
            params = stepped
            losses.append(loss)
            sizes.append(_fit_sample_count(xb))
            bar.batch(epoch, step, lambda losses=losses, sizes=sizes, states=states, outputs=outputs:
                      {"loss": _fit_loss_mean(losses, sizes), **_fit_losses_logs(outputs), **_fit_metrics_logs(chosen, states)})
        logs = {"loss": _fit_loss_mean(losses, sizes), **_fit_losses_logs(outputs), **_fit_metrics_logs(chosen, states)}
        if validation is not None:
            val = _fit_evaluate(params, Xv, Yv, max(batch_size, 1024), chosen, "Y_val")
            logs.update({f"val_{k}": v for k, v in val.items()})
        history.record(epoch, logs)
        bar.epoch(epoch, logs)
        if patience is None:
            continue
        wait += 1
        if sign * logs[monitor] + abs(min_delta) < best:  # best: sign · the best value so far
            best, wait = sign * logs[monitor], 0
            if restore_best_weights:
                best_weights = _fit_snapshot(params)
        elif wait >= patience and epoch > 0:
            history.stopped_epoch = epoch
            if best_weights is not None:
                params = _fit_restore(params, best_weights)
            break
    history.weights, history.state = params, state
    return history


#: What symdl.export.module_fit copies into a module, in this order (the backend's copies come after).
LOOP = (History, _fit_data_args, _fit_arrange, check_binary_targets, _fit_check_labels, _fit_loss_mean, _fit_output_losses, _fit_losses_kept, _fit_losses_add,
        _fit_losses_logs, _fit_forward, _fit_chosen_metrics, _fit_metrics_update, _fit_metrics_logs,
        _fit_evaluate, _fit_step, check_finite_loss, check_batch_rows, check_history_keys, validation_pair, monitor_mode, _check_fit, _fit_loop)


# --- the backends' parameter copies (restore_best_weights) ---


def _snapshot_numpy(params):
    """A copy of every array of params."""
    return {k: numpy.array(v, copy=True) for k, v in params.items()}


def _target_host(y, prediction):
    """The target as it is: numpy and JAX arrays live where the printed update reads them."""
    return y


def _target_torch(y, prediction):
    """The target as a tensor on the prediction's device (the printed update computes there)."""
    return torch.as_tensor(y, device=prediction.device)


def _restore_numpy(params, saved):
    """The saved arrays written into params' own arrays (the caller's arrays hold the best weights); params."""
    for k, v in saved.items():
        params[k][...] = v
    return params


def _snapshot_torch(params):
    """A copy of every tensor of params, on its device."""
    return {k: v.detach().clone() for k, v in params.items()}


def _restore_torch(params, saved):
    """The saved tensors copied into params' own tensors; params."""
    for k, v in saved.items():
        params[k].copy_(v)
    return params


def _snapshot_jax(params):
    """The arrays of params (JAX arrays are immutable: no copy needed)."""
    return dict(params)


def _restore_jax(params, saved):
    """The saved arrays stored in the dict params; params."""
    params.update(saved)
    return params
