"""Runtime of the ``fit`` a generated module carries: the epoch loop, its history and early stopping.

These are real functions so that they can be read, linted and tested; symdl
copies their source into the generated modules (:mod:`symdl.export.module_fit`),
where the module's ``train_step`` and ``inference_loss`` and the copied helpers
are bound: the batches of :mod:`symdl.training.batches` (``_fit_check_data``,
``_fit_epoch_rng``, ``_fit_batch_slices``, ``_fit_take``, ``_fit_sample_count``), the status bar
of :mod:`symdl.training.progress` (``_FitProgressBar``, ``_fit_progress_mode``), the
loss mean printed from :class:`symdl.metrics.Mean` (``_fit_mean_init``,
``_fit_mean_update``, ``_fit_mean_result``), and the backend's ``_fit_snapshot`` and
``_fit_restore``. The loop is the one of :func:`symdl.training.fit`, step for step:
the same batches, the same mask seeds, the same loss mean, so a numpy module
trains bit for bit as the compiled network.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations

import numbers  # noqa: F401  (read by the copied source)
import sys  # noqa: F401

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


def _fit_loss_mean(losses, sizes):
    """Σ nᵦ·Cᵦ / Σ nᵦ by the printed code of symdl.metrics.Mean: the logged loss of an epoch."""
    state = _fit_mean_update(_fit_mean_init(), numpy.asarray(losses), sample_weight=numpy.asarray(sizes, dtype=numpy.float64))
    return float(_fit_mean_result(state))


def _fit_evaluate(params, X, Y, batch_size):
    """The loss of inference mode on (X, Y), batch by batch in order, weighted by batch size (Keras' evaluate)."""
    losses, sizes = [], []
    for rows in _fit_batch_slices(_fit_sample_count(X), batch_size, None):
        xb, yb = _fit_take(X, rows), _fit_take(Y, rows)
        losses.append(float(inference_loss(params, *_fit_data_args(xb, yb))))
        sizes.append(_fit_sample_count(xb))
    return _fit_loss_mean(losses, sizes)


def _fit_step(params, X, Y, state, extra, seed):
    """One train_step: (the loss before it, params, state); a functional module returns the new params and state."""
    arguments = (*_fit_data_args(X, Y), *(() if state is None else (state,)), *extra)
    result = train_step(params, *arguments) if seed is None else train_step(params, *arguments, seed=seed)
    if isinstance(result, tuple):
        loss, params, state = result
    else:
        loss = result
    return float(loss), params, state


def _check_fit(epochs, batch_size, seed, shuffle, initial_epoch, patience, monitor, min_delta, validation):
    """The settings of a run, or one ValueError line naming the first wrong one."""
    epochs = _fit_check_positive("epochs", epochs)
    initial_epoch = _fit_check_positive("initial_epoch", initial_epoch, 0)
    if initial_epoch >= epochs:
        raise ValueError(f"initial_epoch: {initial_epoch} leaves no epoch to run (epochs={epochs})")
    batch_size = _fit_check_positive("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if type(shuffle) is not bool:
        raise ValueError(f"shuffle: expected True or False, got {shuffle!r}")
    if validation is not None and (type(validation) is not tuple or len(validation) != 2):
        raise ValueError("validation: expected a pair (X_val, Y_val)")
    if patience is not None:
        _fit_check_positive("patience", patience, 0)
        logged = ("loss", "val_loss") if validation is not None else ("loss",)
        if monitor not in logged:
            raise ValueError(f"monitor: {monitor!r} is not logged; logged: {', '.join(logged)}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not abs(float(min_delta)) < float("inf"):
            raise ValueError(f"min_delta: expected a finite number, got {min_delta!r}")
    return epochs, batch_size, initial_epoch


def _fit_loop(params, X, Y, state, extra, epochs, batch_size, validation, seed, shuffle, verbose, patience, monitor,
         min_delta, restore_best_weights, initial_epoch, stream):
    """The loop of symdl.training.fit: epoch e shuffles with numpy.random.default_rng((seed, e)) and steps batch by batch."""
    epochs, batch_size, initial_epoch = _check_fit(epochs, batch_size, seed, shuffle, initial_epoch, patience, monitor,
                                                   min_delta, validation)
    X, Y = _fit_check_data(X, Y, "X, Y")
    if validation is not None:
        Xv, Yv = _fit_check_data(*validation, "X_val, Y_val")
    stream = sys.stderr if stream is None else stream
    steps = -(-_fit_sample_count(X) // batch_size)
    bar = _FitProgressBar(epochs, steps, _fit_progress_mode(verbose, stream), stream)
    history = History({"epochs": epochs, "steps": steps, "batch_size": batch_size, "seed": int(seed),
                       "shuffle": shuffle, "initial_epoch": initial_epoch})
    # early stopping, Keras' rule: an improvement is current + |min_delta| < best; stop after patience epochs without
    best, wait, best_weights = float("inf"), 0, None
    for epoch in range(initial_epoch, epochs):
        rng = _fit_epoch_rng(int(seed), epoch)
        losses, sizes = [], []
        for step, rows in enumerate(_fit_batch_slices(_fit_sample_count(X), batch_size, rng if shuffle else None), 1):
            xb, yb = _fit_take(X, rows), _fit_take(Y, rows)
            mask_seed = int(rng.integers(_FIT_SEED_BOUND)) if _FIT_SEEDED else None
            loss, params, state = _fit_step(params, xb, yb, state, extra, mask_seed)
            losses.append(loss)
            sizes.append(_fit_sample_count(xb))
            bar.batch(epoch, step, lambda losses=losses, sizes=sizes: {"loss": _fit_loss_mean(losses, sizes)})
        logs = {"loss": _fit_loss_mean(losses, sizes)}
        if validation is not None:
            logs["val_loss"] = _fit_evaluate(params, Xv, Yv, max(batch_size, 1024))
        history.record(epoch, logs)
        bar.epoch(epoch, logs)
        if patience is None:
            continue
        wait += 1
        if logs[monitor] + abs(min_delta) < best:
            best, wait = logs[monitor], 0
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
LOOP = (History, _fit_data_args, _fit_loss_mean, _fit_evaluate, _fit_step, _check_fit, _fit_loop)


# --- the backends' parameter copies (restore_best_weights) ---


def _snapshot_numpy(params):
    """A copy of every array of params."""
    return {k: numpy.array(v, copy=True) for k, v in params.items()}


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
