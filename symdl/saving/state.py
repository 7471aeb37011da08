"""The optimizer, its state and the metrics of a saved model: configs to JSON, arrays to ``arrays.npz``, and back.

An optimizer is rebuilt from its registered name and hyperparameters
(:func:`symdl.optim.optimizer`), a metric from its name and parameters
(:func:`symdl.metrics.metric`); the rebuilt object's ``config()`` must equal the
saved one, so what was saved is what comes back. State values are arrays
(per-parameter slots), Python ints (the step t) or floats (a global slot).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..excerpt import excerpt
from .schema import SavedModelError, expect, fields, string

__all__ = ["check_described_params", "check_loaded_state", "describe_array", "describe_arrays", "describe_metrics", "model_optimizer",
           "rebuild_metrics", "rebuild_optimizer", "state_entries", "state_layout", "state_values"]

_ARRAY_DTYPES = ("float64", "float32")


def describe_array(shape: Sequence[int], dtype: np.dtype) -> dict[str, Any]:
    """{"shape", "dtype"}: what model.json says an array is, from its shape and dtype alone (nothing allocated)."""
    return {"shape": list(shape), "dtype": dtype.name}


def describe_arrays(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """name → {"shape", "dtype"}: what model.json says each array is."""
    return {k: describe_array(v.shape, v.dtype) for k, v in arrays.items()}


def check_described_params(listed: Mapping[str, object], shapes: Mapping[str, tuple[int, ...]], dtype: np.dtype) -> None:
    """A SavedModelError unless model.json describes each parameter as the model has it (its shape, the model's dtype)."""
    for name, shape in shapes.items():
        if listed[name] != describe_array(shape, dtype):
            raise SavedModelError(f"arrays.params.{name}: expected {dtype.name} of shape {shape}, got {excerpt(listed[name])}")


def state_entries(state: object) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """(model.json's description of the state, its arrays for the npz): ints and floats as 0-d arrays."""
    if state is None:
        return None, {}
    expect(state, dict, "state")
    entries: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():  # type: ignore[attr-defined]
        if not isinstance(key, str) or not key.isidentifier():
            raise SavedModelError(f"state: key {key!r} is not an identifier")
        if isinstance(value, bool):
            raise SavedModelError(f"state[{key!r}]: expected an array or a number, got a bool")
        if isinstance(value, numbers.Integral):
            entries[key], arrays[f"state/{key}"] = {"kind": "int"}, np.asarray(int(value), dtype=np.int64)
        elif isinstance(value, numbers.Real):
            entries[key], arrays[f"state/{key}"] = {"kind": "float"}, np.asarray(float(value), dtype=np.float64)
        else:
            array = np.asarray(value)
            if array.dtype.name not in _ARRAY_DTYPES:
                raise SavedModelError(f"state[{key!r}]: expected a float64 or float32 array, got {array.dtype.name}")
            entries[key] = {"kind": "array", **describe_array(array.shape, array.dtype)}
            arrays[f"state/{key}"] = array
    return entries, arrays


def state_layout(value: object) -> tuple[dict[str, str] | None, dict[str, tuple[tuple[int, ...], np.dtype]]]:
    """(each state key's kind, the npz layout of the state) from model.json's description, every entry checked."""
    if value is None:
        return None, {}
    kinds: dict[str, str] = {}
    layout: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for key, entry in expect(value, dict, "arrays.state").items():
        where = f"arrays.state.{key[:40]}"
        if not key.isidentifier():
            raise SavedModelError(f"{where}: not an identifier")
        kind = expect(entry, dict, where).get("kind")
        if kind in ("int", "float"):
            fields(entry, where, ("kind",))
            layout[f"state/{key}"] = ((), np.dtype(np.int64 if kind == "int" else np.float64))
        elif kind == "array":
            fields(entry, where, ("kind", "shape", "dtype"))
            shape = expect(entry["shape"], list, f"{where}.shape")
            if len(shape) > 8 or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in shape):
                raise SavedModelError(f"{where}.shape: expected a list of sizes, got {excerpt(shape)}")
            if entry["dtype"] not in _ARRAY_DTYPES:
                raise SavedModelError(f"{where}.dtype: expected 'float64' or 'float32', got {excerpt(entry['dtype'])}")
            layout[f"state/{key}"] = (tuple(shape), np.dtype(entry["dtype"]))
        else:
            raise SavedModelError(f"{where}.kind: expected 'int', 'float' or 'array', got {excerpt(kind)}")
        kinds[key] = kind
    return kinds, layout


def state_values(kinds: dict[str, str] | None, arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """The state from its arrays: 0-d arrays back to a Python int or float, the rest copied."""
    if kinds is None:
        return None
    values = {key: arrays[f"state/{key}"] for key in kinds}
    return {key: int(v) if kinds[key] == "int" else float(v) if kinds[key] == "float" else np.array(v, copy=True)
            for key, v in values.items()}


def model_optimizer(network: object) -> dict[str, Any] | None:
    """The optimizer config of a compiled network (None for the classic ``train_step(…, lr)``)."""
    opt = getattr(network, "optimizer", None)
    if opt is None:
        opt = getattr(getattr(network, "network", None), "optimizer", None)
    return None if opt is None else opt.config()


def _check_numbers(values: object, where: str) -> dict[str, Any]:
    """A dict of plain settings: each value None, a bool, a finite number or a short string."""
    out = expect(values, dict, where)
    for key, v in out.items():
        plain = v is None or isinstance(v, bool) or (isinstance(v, str) and len(v) <= 100) or (
            isinstance(v, numbers.Real) and math.isfinite(v))
        if not plain or not key.isidentifier():
            raise SavedModelError(f"{where}.{key[:40]}: expected a finite number, got {excerpt(v)}")
    return out


def rebuild_optimizer(value: object) -> Any:
    """The optimizer of a saved config, or :class:`SavedModelError` when it cannot be rebuilt exactly."""
    if value is None:
        return None
    from ..optim.registry import optimizer, optimizer_names

    config = expect(value, dict, "optimizer")
    name = string(config.get("name"), "optimizer.name", 40)
    if name not in optimizer_names():
        raise SavedModelError(f"optimizer.name: unknown optimizer {name!r}; known: {', '.join(optimizer_names())}")
    hyper = _check_numbers(config.get("hyperparameters"), "optimizer.hyperparameters")
    options = _check_numbers(config.get("options", {}), "optimizer.options")
    try:
        # the registry takes a config flattened back (beta1/beta2 for betas, a schedule's keywords beside its name),
        # so an option that constrains a hyperparameter (Nesterov needs momentum > 0) sees its saved value
        rebuilt = optimizer(name, **options, **hyper)
    except (ValueError, TypeError) as error:
        raise SavedModelError(f"optimizer: {str(error).splitlines()[0]}") from None
    if rebuilt.config() != config:
        raise SavedModelError(f"optimizer: {name!r} with this config cannot be rebuilt exactly (schedule or options differ)")
    return rebuilt


def _metric_object(m: object) -> Any:
    from ..metrics import Metric, metric
    from ..rulebook.derivation import Derives

    if isinstance(m, (str, Derives)):
        m = metric(m)
    if not isinstance(m, Metric):
        raise SavedModelError(f"metrics: {m!r} is not a symdl metric; give symdl.metric(...) objects, names or loss "
                              "rules (a Python function is not saved)")
    return m


def _config(m: Any) -> dict[str, Any]:
    try:
        return m.config()
    except ValueError as error:  # a formula metric: its text has no place in a config
        raise SavedModelError(str(error).splitlines()[0]) from None


def describe_metrics(metrics: Sequence[Any]) -> list[dict[str, Any]]:
    """Each metric's ``config()``: ``{"metric": kind, "name": name, "params": {…}}``."""
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Sequence):
        raise SavedModelError(f"metrics: expected a list of metrics, got {excerpt(metrics)}")
    return [_config(_metric_object(m)) for m in metrics]


def rebuild_metrics(value: object, where: str = "metrics") -> list[Any]:
    """Fresh metric objects from their saved configs (:func:`symdl.metrics.metric_from_config`), each checked."""
    configs = expect(value, list, where)
    key = where
    if not configs:
        return []
    from ..metrics import metric_from_config

    out = []
    for k, config in enumerate(configs):
        where = f"{key}[{k}]"
        config = fields(expect(config, dict, where), where, ("metric", "name", "params"))
        string(config["metric"], f"{where}.metric", 60)
        string(config["name"], f"{where}.name", 100)
        _check_numbers(config["params"], f"{where}.params")
        try:
            rebuilt = metric_from_config(config)
        except (ValueError, TypeError) as error:
            raise SavedModelError(f"{where}: {str(error).splitlines()[0]}") from None
        if rebuilt.config() != config:
            raise SavedModelError(f"{where}: the metric {config['metric']!r} cannot be rebuilt exactly from this config")
        out.append(rebuilt)
    return out


def check_loaded_state(reference: dict[str, Any], state: dict[str, Any]) -> None:
    """The loaded optimizer ``state`` has the keys, kinds, shapes and dtypes of ``reference`` (the optimizer's fresh state)."""
    if set(reference) != set(state):
        raise SavedModelError(f"arrays.state: expected the keys {sorted(reference)}, got {sorted(state)}")
    for key, ref in reference.items():
        if type(ref) is not type(state[key]) and not (isinstance(ref, np.ndarray) and isinstance(state[key], np.ndarray)):
            raise SavedModelError(f"arrays.state.{key}: the optimizer keeps a {type(ref).__name__} here")
        if isinstance(ref, np.ndarray) and (ref.shape, ref.dtype) != (state[key].shape, state[key].dtype):
            raise SavedModelError(f"arrays.state.{key}: the optimizer keeps {ref.dtype} of shape {ref.shape}, "
                                  f"the file {state[key].dtype} of shape {state[key].shape}")
