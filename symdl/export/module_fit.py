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
rounding. Logged: ``loss`` and, with ``validation=(Xv, Yv)``, ``val_loss``
(inference mode); early stopping on either (``patience=``). Streaming metrics
are not printed into modules: ``metrics=`` is :func:`symdl.fit`'s alone.
"""

from __future__ import annotations

import re

from ..backends import Backend
from ..backends.base import emit_functions
from ..backends.runtime_fit import LOOP
from ..codegen.module_text import function_source, unannotated_source
from ..training import batches, progress

__all__ = ["fit_blocks"]

_BATCH_NAMES = {
    "check_positive": "_fit_check_positive", "_array": "_fit_array", "check_data": "_fit_check_data",
    "sample_count": "_fit_sample_count", "take": "_fit_take", "epoch_rng": "_fit_epoch_rng", "batch_slices": "_fit_batch_slices",
}
_PROGRESS_NAMES = {"format_logs": "_fit_format_logs", "progress_mode": "_fit_progress_mode", "ProgressBar": "_FitProgressBar"}

_OPTIONS = ("validation=None, seed=0, shuffle=True, verbose='auto', patience=None, monitor='val_loss', min_delta=0.0, "
            "restore_best_weights=False, initial_epoch=0, stream=None")
_PASSED = ("epochs, batch_size, validation, seed, shuffle, verbose, patience, monitor, min_delta, restore_best_weights, "
           "initial_epoch, stream")


def _mean_source() -> str:
    """``_fit_mean_init``, ``_fit_mean_update`` and ``_fit_mean_result``: the numpy code of :class:`symdl.metrics.Mean`."""
    from ..metrics import Mean
    from ..metrics.printing import metric_source

    return re.sub(r"\bmean_(init|update|result)\b", r"_fit_mean_\1", metric_source(Mean(), "numpy", prefix="mean"))


def fit_blocks(backend: Backend, seeded: bool, train_arguments: tuple[str, ...]) -> list[str]:
    """The blocks of ``fit(params, X, Y, *, epochs=1, batch_size=32, <train_arguments>, validation=None, seed=0, …)``.

    ``train_arguments`` follow the data in the module's ``train_step``: ``("lr",)``, or ``("state", *hyperparameters)``;
    ``seeded``: ``train_step`` takes ``seed=`` (dropout or noise), drawn per batch as :func:`symdl.training.fit` draws it.
    No blocks (and no ``fit``) for a backend without :meth:`~symdl.backends.Backend.fit_runtime`.
    """
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
    doc = f"Train params by train_step ({how}) on seeded mini-batches, epoch by epoch; returns the History (loss, val_loss)."
    return [
        f"_FIT_SEEDED = {bool(seeded)!r}\n_FIT_SEED_BOUND = {batches.MASK_SEED_BOUND!r}\n",
        _mean_source(),
        *(unannotated_source(getattr(batches, name), _BATCH_NAMES) for name in _BATCH_NAMES),
        *(unannotated_source(getattr(progress, name), _PROGRESS_NAMES) for name in _PROGRESS_NAMES),
        emit_functions(*LOOP),
        *copies,
        function_source("fit", f"params, X, Y, *, epochs=1, batch_size=32, {', '.join(given)}, {_OPTIONS}", doc, body),
    ]
