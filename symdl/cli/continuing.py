"""``symdl train --from MODEL``: a saved network or graph trained on, as Keras' ``model.fit`` after ``load_model``.

What is read here and nowhere else: the saved model (:func:`symdl.load`, with its optimizer and optimizer state)
and its ``history.json`` (written by ``symdl train`` or ``symdl.save(..., history=)``), whose last epoch numbers the
next run on (Keras' ``initial_epoch``) and whose ``seed``, ``batch_size`` and ``validation_split`` are the defaults
of the run that continues it, so that N epochs, saved, then M more give the weights of N + M epochs in one run. A missing
``history.json`` starts the numbering at epoch 0; a malformed one is one error line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from ..excerpt import excerpt
from ..numbers import finite_float
from .common import UsageError

__all__ = ["Earlier", "earlier_history", "joined_history", "with_learning_rate"]

_MAX_HISTORY_BYTES = 64 << 20  # a history of many epochs and metrics; the file is read whole


class Earlier(NamedTuple):
    """What history.json says of the run that saved the model: its epochs, logs by key, seed, batch size and
    validation split (None where it says nothing)."""

    epoch: list[int]
    history: dict[str, list[float | None]]
    seed: int | None
    batch_size: int | None
    validation_split: float | None = None

    @property
    def initial_epoch(self) -> int:
        """The first epoch of the run that continues it: one after the last logged (0 with none)."""
        return self.epoch[-1] + 1 if self.epoch else 0


def _bad(path: Path, what: str) -> UsageError:
    return UsageError(f"{path}: {what}; history.json as symdl train writes it numbers the epochs that continue it "
                      "(remove the file to number them from 0)")


def _setting(params: dict[str, Any], key: str, path: Path, minimum: int) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 2**63 - 1:
        raise _bad(path, f"params.{key} is {excerpt(value)}, not an integer ≥ {minimum}")
    return value


def _split_setting(params: dict[str, Any], path: Path) -> float | None:
    value = params.get("validation_split")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise _bad(path, f"params.validation_split is {excerpt(value)}, not a number in [0, 1)")
    return float(value)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parsed(data: bytes) -> object:
    """history.json's bytes as JSON data (UTF-8, no NaN or Infinity), or a ValueError whose first line says why."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None


def earlier_history(folder: Path) -> Earlier:
    """The saved run's epochs, logs and settings from ``folder/history.json``, checked (never evaluated), or one line."""
    path = folder / "history.json"
    if not path.is_file():
        return Earlier([], {}, None, None, None)
    with open(path, "rb") as stream:
        data = stream.read(_MAX_HISTORY_BYTES + 1)
    if len(data) > _MAX_HISTORY_BYTES:
        raise _bad(path, f"larger than {_MAX_HISTORY_BYTES >> 20} MiB")
    try:
        record = _parsed(data)
    except ValueError as error:
        raise _bad(path, str(error).splitlines()[0][:200]) from None
    if not isinstance(record, dict):
        raise _bad(path, "not a JSON object")
    epoch, history, params = record.get("epoch"), record.get("history"), record.get("params", {})
    if not isinstance(epoch, list) or not all(isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in epoch):
        raise _bad(path, "'epoch' is not a list of epoch numbers")
    if any(b <= a for a, b in zip(epoch, epoch[1:])):
        raise _bad(path, "'epoch' does not increase")
    if not isinstance(history, dict) or not isinstance(params, dict):
        raise _bad(path, "'history' or 'params' is not an object")
    for key, values in history.items():
        if not isinstance(values, list) or len(values) != len(epoch) or not all(
                v is None or finite_float(v) is not None for v in values):  # 10**400: no float, not an OverflowError
            raise _bad(path, f"history[{excerpt(key)}] is not one number per epoch")
    return Earlier(epoch, history, _setting(params, "seed", path, 0), _setting(params, "batch_size", path, 1),
                   _split_setting(params, path))


def joined_history(earlier: Earlier, epoch: list[int], history: dict[str, list[float]], params: dict[str, Any]) -> dict[str, Any]:
    """history.json of the continued model: the earlier epochs, then this run's; a key logged in only one of the runs
    holds None (JSON null) in the other's epochs, so every list keeps one entry per epoch."""
    keys = [*earlier.history, *(k for k in history if k not in earlier.history)]
    before, after = [None] * len(earlier.epoch), [None] * len(epoch)
    joined = {k: [*earlier.history.get(k, before), *history.get(k, after)] for k in keys}
    return {"epoch": [*earlier.epoch, *epoch], "history": joined, "params": params}


def with_learning_rate(model: Any, lr: float | None, source: str) -> Any:
    """The saved ``model``, or with ``lr`` (``--lr``) the same model compiled with its optimizer at that learning rate,
    as Keras sets ``model.optimizer.learning_rate`` before fitting on: the state's slots are the same. A model saved
    with ``lr=None`` (the classic ``train_step(…, lr)``) trains only with ``--lr``: one line says so."""
    from ..saving.state import model_optimizer, rebuild_optimizer

    config = model_optimizer(model)
    if config is None:  # saved without an optimizer: symdl train refuses it before this
        return model
    hyper = dict(config["hyperparameters"])
    if lr is None:
        if "lr" in hyper and hyper["lr"] is None:
            raise UsageError(f"--from {source}: its optimizer {config['name']!r} was saved with lr=None (a learning "
                             "rate given to each train_step call); give the learning rate to train with, e.g. --lr 0.01")
        return model
    if "lr" not in hyper:
        raise UsageError(f"--lr and --from {source}: its optimizer {config['name']!r} has no learning rate")
    try:
        optimizer = rebuild_optimizer({**config, "hyperparameters": {**hyper, "lr": lr}})
    except ValueError as error:  # a SavedModelError: 'optimizer: lr: …'
        raise UsageError(f"--lr {lr:g}: {str(error).removeprefix('optimizer: ')}") from None
    if hasattr(model, "arrange_data"):  # a compiled graph
        return model.model.compile(model.dtype, optimizer, validate_targets=model.validate_targets)
    from ..network.fitting import with_optimizer

    return with_optimizer(model, optimizer)
