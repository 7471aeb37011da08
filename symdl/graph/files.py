"""A compiled graph as a saved model: its config and per-output metrics in model.json, rebuilt from it.

The directory, the header and the arrays are :mod:`symdl.saving.container`'s,
shared with networks: the optimizer and the metrics as their configs, the
optimizer's state as ``state/…`` arrays beside ``params/…``, written as a set.
:func:`symdl.save` and :func:`symdl.load` call these for a graph. The
graph is described by :func:`symdl.graph.config.to_config` and rebuilt by
:func:`symdl.graph.config.from_config` (formulas through the safe parser);
metrics may be a dict by output name. Format ``symdl-graph``; version 1 files
(config and params only) load with no state. ``save_graph`` / ``load_graph``
are :func:`symdl.save` / :func:`symdl.load` for graphs only (their names
before the two kinds shared one pair).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from ..excerpt import excerpt
from ..saving.container import (
    SavedModel,
    model_path,
    read_config,
    read_header,
    read_params,
    write_model,
)
from ..saving.schema import SavedModelError, expect
from ..saving.state import describe_metrics, rebuild_metrics
from .compiled import CompiledGraph
from .config import from_config, to_config

__all__ = ["graph_from_config", "load_compiled_graph", "load_graph", "save_graph", "write_graph"]

FORMAT = "symdl-graph"


def write_graph(path: str | os.PathLike[str], graph: CompiledGraph, params: dict[str, Any],
                state: dict[str, Any] | None = None, metrics: Sequence[Any] | Mapping[str, Any] = (),
                history: dict[str, Any] | None = None) -> Path:
    """Write ``graph`` (config, dtype, optimizer), ``params``, the optimizer ``state`` and ``metrics`` to ``path``."""
    return write_model(path, graph, to_config(graph.model), _describe_metrics(graph, metrics), params, state, history, FORMAT)


def save_graph(path: str | os.PathLike[str], graph: CompiledGraph, params: dict[str, Any],
               state: dict[str, Any] | None = None, metrics: Sequence[Any] | Mapping[str, Any] = (), *,
               history: dict[str, Any] | None = None) -> Path:
    """:func:`symdl.save` for a compiled graph only (any other model is one :class:`SavedModelError` line)."""
    model_path(path)  # before any work: a bad path is the first error
    if not isinstance(graph, CompiledGraph):
        raise SavedModelError(f"graph: expected a compiled graph (model.compile()), got {type(graph).__name__}"
                              f"{'; symdl.save takes both kinds' if type(graph).__name__ == 'CompiledNetwork' else ''}")
    return write_graph(path, graph, params, state, metrics, history)


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
            raise SavedModelError(f"metrics: unexpected output {excerpt(key)}; outputs with a data target: {', '.join(names) or 'none'}")
    return {key: rebuild_metrics(configs, f"metrics.{key}") for key, configs in value.items()}


def graph_from_config(folder: Path, config: dict[str, Any]) -> SavedModel:
    """The graph saved in ``folder`` with the checked model.json ``config``, rebuilt, its arrays read and checked."""
    dtype, opt = read_header(config)
    try:
        graph = from_config(expect(config["graph"], dict, "graph")).compile(dtype, optimizer=opt)
    except SavedModelError:
        raise
    except (ValueError, TypeError) as error:
        raise SavedModelError(f"graph: {str(error).splitlines()[0][:300]}") from None
    metrics = _rebuild_metrics(graph, config.get("metrics", []))
    params, state = read_params(folder, config, graph)
    return SavedModel(graph, params, state, metrics, config)


def load_graph(path: str | os.PathLike[str]) -> SavedModel:
    """:func:`symdl.load` for a saved graph only (a saved network is one :class:`SavedModelError` line).

    A :class:`symdl.SavedModel`: ``network`` is the compiled graph (with its
    optimizer); it unpacks as ``graph, params, state, metrics``.
    """
    folder, config = read_config(path)
    if config["format"] != FORMAT:
        raise SavedModelError(f"{folder}: a saved network, not a graph; symdl.load takes both kinds")
    return graph_from_config(folder, config)


def load_compiled_graph(path: str | os.PathLike[str]) -> CompiledGraph:
    """The compiled graph saved at ``path`` (``load_graph(path).network``), or one :class:`SavedModelError` line."""
    return cast("CompiledGraph", load_graph(path).network)  # load_graph builds graphs only
