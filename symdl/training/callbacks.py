"""What a training run records and who may stop it: :class:`History`, :class:`Callback`, :class:`EarlyStopping`.

Keras' semantics (``keras.callbacks.EarlyStopping``, ``History``), so code and
habits carry over: ``history.history["val_loss"]`` is one value per epoch.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backends.runtime_fit import monitor_mode
from ..excerpt import excerpt

__all__ = ["Callback", "EarlyStopping", "History", "TrainingRun"]


@dataclass
class TrainingRun:
    """The run a callback sees: the live ``params`` and optimizer ``state``; set ``stop_training`` to end it."""

    params: dict[str, Any]
    state: Any
    stop_training: bool = False


@dataclass
class History:
    """Per-epoch logs of one ``fit``: ``history["loss"]``, ``history["val_loss"]``, ``history["mae"]``, …

    ``epoch`` lists the epochs run (0-based, from ``initial_epoch``); ``params``
    the settings of the run (Keras' ``History.params``); ``weights`` and
    ``state`` the parameters and optimizer state after training (the same
    objects as the caller's for in-place models).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    stopped_epoch: int | None = None

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


class Callback:
    """Called by ``fit`` at the start and after every epoch; subclass and override what you need."""

    def on_train_begin(self, run: TrainingRun) -> None:
        """Before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float], run: TrainingRun) -> None:
        """After epoch ``epoch`` (0-based) with its logs (loss, metrics, val_*)."""

    def on_train_end(self, run: TrainingRun) -> None:
        """After the last epoch."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs (Keras' rule).

    Improvement is ``current + |min_delta| < best`` (mode "min"; "max" mirrors
    it; "auto" maximises accuracy-like names, and minimises every loss). With ``restore_best_weights``
    the parameters of the best epoch are put back when training stops early.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor: expected a log name such as 'val_loss', got {excerpt(monitor)}")
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"patience: expected an integer >= 0, got {excerpt(patience)}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not math.isfinite(min_delta):
            raise ValueError(f"min_delta: expected a finite number, got {excerpt(min_delta)}")
        if type(restore_best_weights) not in (bool, np.bool_):  # 'no' would count as true
            raise ValueError(f"restore_best_weights: expected True or False, got {excerpt(restore_best_weights)}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {excerpt(mode)}")
        if mode == "auto":  # the rule a generated module's fit follows too
            mode = monitor_mode(monitor)
        self.monitor: str = monitor
        self.patience: int = int(patience)
        self.mode: str = mode
        self.min_delta: float = abs(float(min_delta)) * (-1 if mode == "min" else 1)  # Keras: current + |δ| < best (min)
        self.restore_best_weights: bool = bool(restore_best_weights)
        self.on_train_begin(None)

    def on_train_begin(self, run: TrainingRun | None) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None
        self.stopped_epoch: int | None = None

    def _improves(self, current: float) -> bool:
        if self.mode == "min":
            return current - self.min_delta < self.best
        return current - self.min_delta > self.best

    def on_epoch_end(self, epoch: int, logs: dict[str, float], run: TrainingRun) -> None:
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not logged; logged: {', '.join(logs)}")
        current = logs[self.monitor]
        self.wait += 1
        if self._improves(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: _snapshot(v) for k, v in run.params.items()}
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            run.stop_training = True
            if self.best_weights is not None:
                for k, v in self.best_weights.items():
                    _restore(run.params, k, v)


def _library(value: object) -> str:
    """The array library of ``value``: "torch", "jax" or "numpy", read from its type (neither library is imported here)."""
    root = type(value).__module__.split(".")[0]
    return "jax" if root in ("jax", "jaxlib") else "torch" if root == "torch" else "numpy"


def _snapshot(value: Any) -> Any:
    """A copy of one parameter in its own library, dtype and device (a generated module's arrays stay its arrays)."""
    library = _library(value)
    if library == "torch":
        return value.detach().clone()
    if library == "jax":
        return value  # immutable: train_step makes new arrays
    return np.array(value, copy=True)


def _restore(params: dict[str, Any], key: str, saved: Any) -> None:
    """``params[key]`` holds ``saved``: written into the caller's own array where it is updated in place (numpy, torch)."""
    current = params[key]
    if isinstance(current, np.ndarray) and current.flags.writeable:
        current[...] = saved
    elif _library(current) == "torch":
        current.detach().copy_(saved)
    else:
        params[key] = saved
