"""A compiled graph on disk: ``model.json`` (the graph's config, dtype, optimizer, metrics) and ``arrays.npz`` (params, state).

The same layout and the same checks as a saved network (:mod:`symdl.saving`):
the optimizer and the metrics as their configs, the optimizer's state as
``state/…`` arrays beside ``params/…`` (:mod:`symdl.saving.state`), written as
a set (:func:`symdl.atomic.write_directory`). Loading rebuilds the config with
:func:`symdl.graph.config.from_config` (formulas through the safe parser),
the optimizer and metrics from their registered names, and checks every
array's name, shape and dtype against the rebuilt model before its data is
read (:func:`symdl.saving.arrays.read_arrays`), the state against the
optimizer's own ``init_state``. Version 1 files (config and params only) load
with no state.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..atomic import CannotWrite, write_directory
from ..saving.arrays import read_arrays
from ..saving.files import SavedModel, check_target, history_json, model_path
from ..saving.schema import (
    MAX_JSON_BYTES,
    SavedModelError,
    expect,
    fields,
    parse_json,
    string,
)
from ..saving.state import (
    check_described_params,
    check_loaded_state,
    describe_arrays,
    describe_metrics,
    model_optimizer,
    rebuild_metrics,
    rebuild_optimizer,
    state_entries,
    state_layout,
    state_values,
)
from ..version import __version__
from .compiled import CompiledGraph
from .config import from_config, to_config

__all__ = ["load_compiled_graph", "load_graph", "save_graph"]

FORMAT = "symdl-graph"
FORMAT_VERSION = 2
_KEYS = {1: ("format", "format_version", "symdl_version", "dtype", "graph"),
         2: ("format", "format_version", "symdl_version", "dtype", "graph", "optimizer", "metrics", "arrays")}


def save_graph(path: str | os.PathLike[str], graph: CompiledGraph, params: dict[str, np.ndarray],
               state: dict[str, Any] | None = None, metrics: Sequence[Any] | Mapping[str, Any] = (), *,
               history: dict[str, Any] | None = None) -> Path:
    """Write ``graph`` (config, dtype, optimizer), ``params``, the optimizer ``state`` and ``metrics`` to the directory ``path``.

    As :func:`symdl.save` for networks: ``state`` is the optimizer state of a
    ``fit`` (``history.state``) or of ``init_state``, checked against the
    graph's optimizer; ``metrics`` names or metric objects (their configs are
    saved, not their running totals), or for several outputs a dict by output
    name as ``fit`` takes it (saved by each output's name); ``history`` (JSON-able) goes to
    ``history.json`` for people. An existing saved model at ``path`` is
    replaced as a whole; any other existing file or directory is refused.
    """
    model_path(path)  # before any work: a bad path is the first error
    if not isinstance(graph, CompiledGraph):
        hint = "; save a network with symdl.save" if type(graph).__name__ == "CompiledNetwork" else ""
        raise SavedModelError(f"graph: expected a compiled graph (model.compile()), got {type(graph).__name__}{hint}")
    arrays = {f"params/{k}": v for k, v in zip(graph.param_names, graph._check_params(params))}
    if state is not None:
        if graph.optimizer is None:
            raise SavedModelError("state: this graph was compiled without an optimizer; compile(optimizer=...) "
                                  "the graph that trained, or save without state")
        entries, state_arrays = state_entries(state)
        values = state_values(state_layout(entries)[0], state_arrays)
        if values is not None:  # always: a given state is described (state_entries), so it has kinds
            check_loaded_state(graph.init_state(params), values)
        arrays.update(state_arrays)
    else:
        entries = None
    model = {"format": FORMAT, "format_version": FORMAT_VERSION, "symdl_version": __version__,
             "dtype": graph.dtype.name, "graph": to_config(graph.model), "optimizer": model_optimizer(graph),
             "metrics": _describe_metrics(graph, metrics),
             "arrays": {"params": describe_arrays({k: arrays[f"params/{k}"] for k in graph.param_names}), "state": entries}}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub checks the arrays against allow_pickle
    files = {"model.json": (json.dumps(model, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8"),
             "arrays.npz": buffer.getvalue()}
    if history is not None:
        files["history.json"] = history_json(history)
    target = check_target(path)
    try:
        return write_directory(target, files)
    except CannotWrite as error:
        raise SavedModelError(f"{target}: cannot write the model ({error.reason})") from None


def _describe_metrics(graph: CompiledGraph, metrics: Sequence[Any] | Mapping[str, Any]) -> object:
    """A list of metric configs, or for metrics by output ``{output name: [configs]}`` (names as ``fit`` logs them)."""
    if not isinstance(metrics, Mapping):
        return describe_metrics(metrics)
    from ..training.tracked import per_output_spec

    try:
        spec = per_output_spec(graph, metrics)
    except ValueError as error:
        raise SavedModelError(str(error)) from None
    return {name: describe_metrics(objects) for name, objects in spec.items()}


def _rebuild_metrics(graph: CompiledGraph, value: object) -> list[Any] | dict[str, list[Any]]:
    """The saved metrics: a list, or a dict keyed by the names of the graph's outputs with a data target."""
    if not isinstance(value, dict):
        return rebuild_metrics(value)
    names = [o.name for o in graph.metric_outputs]
    for key in value:
        if key not in names:
            raise SavedModelError(f"metrics: unexpected output {key[:60]!r}; outputs with a data target: {', '.join(names) or 'none'}")
    return {key: rebuild_metrics(configs, f"metrics.{key}") for key, configs in value.items()}


def load_compiled_graph(path: str | os.PathLike[str]) -> CompiledGraph:
    """The compiled graph saved at ``path`` (``load_graph(path).network``), or one :class:`SavedModelError` line."""
    return cast("CompiledGraph", load_graph(path).network)  # load_graph builds graphs only


def load_graph(path: str | os.PathLike[str]) -> SavedModel:
    """The graph saved at ``path`` by :func:`save_graph`, rebuilt and checked, or one :class:`SavedModelError` line.

    A :class:`symdl.SavedModel`: ``network`` is the compiled graph (with its
    optimizer); it unpacks as ``graph, params, state, metrics``.
    """
    folder = model_path(path)
    for name in ("model.json", "arrays.npz"):
        if not (folder / name).is_file():
            raise SavedModelError(f"{folder}: {name} is missing; not a saved graph")
    with open(folder / "model.json", "rb") as stream:
        spec = parse_json(stream.read(MAX_JSON_BYTES + 1))
    version = spec.get("format_version")
    if spec.get("format") == "symdl-model":
        raise SavedModelError(f"{folder}: a saved network; load it with symdl.load")
    if spec.get("format") != FORMAT or isinstance(version, bool) or not isinstance(version, int) or version not in _KEYS:
        raise SavedModelError(f"model.json: not a {FORMAT} file of version {' or '.join(map(str, _KEYS))} "
                              f"(format {str(spec.get('format'))[:40]!r}, version {str(version)[:20]}); this symdl is {__version__}")
    fields(spec, "model.json", _KEYS[version])
    string(spec["symdl_version"], "model.json.symdl_version", 40)
    dtype = string(spec["dtype"], "model.json.dtype", 10)
    if dtype not in ("float32", "float64"):
        raise SavedModelError(f"model.json.dtype: expected 'float32' or 'float64', got {dtype!r}")
    opt = rebuild_optimizer(spec.get("optimizer"))
    try:
        graph = from_config(expect(spec["graph"], dict, "model.json.graph")).compile(dtype, optimizer=opt)
    except SavedModelError:
        raise
    except (ValueError, TypeError) as error:
        raise SavedModelError(f"model.json.graph: {str(error).splitlines()[0][:300]}") from None
    metrics = _rebuild_metrics(graph, spec.get("metrics", []))
    if version == 1:
        layout = {k: (graph.param_shapes[k], graph.dtype) for k in graph.param_names}
        arrays = read_arrays(folder / "arrays.npz", layout)
        return SavedModel(graph, {k: np.array(arrays[k]) for k in graph.param_names}, None, metrics, spec)
    described = fields(expect(spec["arrays"], dict, "arrays"), "arrays", ("params", "state"))
    listed = fields(expect(described["params"], dict, "arrays.params"), "arrays.params", graph.param_names)
    # described from the shapes, nothing allocated: a hand-edited width of 2³¹ − 1 would be gigabytes here
    check_described_params(listed, {k: graph.param_shapes[k] for k in graph.param_names}, graph.dtype)
    kinds, layout = state_layout(described["state"])
    if kinds is not None and opt is None:
        raise SavedModelError("arrays.state: the file has an optimizer state but no optimizer")
    layout.update({f"params/{k}": (graph.param_shapes[k], graph.dtype) for k in graph.param_names})
    arrays = read_arrays(folder / "arrays.npz", layout)
    params = {k: np.array(arrays[f"params/{k}"], copy=True) for k in graph.param_names}
    state = state_values(kinds, arrays)
    if state is not None:
        check_loaded_state(graph.init_state(params), state)
    return SavedModel(graph, params, state, metrics, spec)
