"""``symdl.save`` and ``symdl.load``: one pair for networks and graphs, as Keras' ``model.save`` / ``load_model``.

``save`` writes a :class:`symdl.CompiledNetwork` through :mod:`symdl.saving.files`
and a :class:`symdl.graph.CompiledGraph` through :mod:`symdl.graph.files`;
``load`` reads model.json once and rebuilds what its ``format`` names. The
directory, the header checks and the arrays are one code path for both
(:mod:`symdl.saving.container`). :mod:`symdl.graph` is imported only for a
graph (a network's save and load do not pay for it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..network.compiled import CompiledNetwork
from .container import SavedModel, model_path, read_config
from .files import network_from_config, save_network
from .schema import SavedModelError

if TYPE_CHECKING:
    from ..graph.compiled import CompiledGraph

__all__ = ["load", "save"]


def save(path: str | os.PathLike[str], network: CompiledNetwork | CompiledGraph, params: dict[str, Any],
         state: dict[str, Any] | None = None, metrics: Sequence[Any] | Mapping[str, Any] = (), *,
         history: dict[str, Any] | None = None) -> Path:
    """Write a compiled network or graph (its architecture, optimizer), ``params``, the optimizer ``state`` and
    ``metrics`` to the directory ``path``; returns the path.

    ``state`` is the optimizer state of a ``fit`` (``history.state``) or of
    ``init_state``, checked against the model's optimizer; ``metrics`` names
    or metric objects (their configs are saved, not their running totals), for
    a graph with several outputs also a dict by output name as ``fit`` takes
    it. ``history`` (JSON-able, e.g. ``{"epoch": …, "history": …}`` of a fit)
    is written beside them as ``history.json``, for people; :func:`load` does
    not read it. An existing saved model at ``path`` is replaced as a whole;
    any other existing file or directory there is refused, and so is a saved model whose directory holds anything
    else (it would be deleted with it).
    """
    model_path(path)  # before any work: a bad path is the first error
    if not isinstance(network, CompiledNetwork):
        from ..graph.compiled import CompiledGraph
        from ..graph.files import write_graph

        if isinstance(network, CompiledGraph):
            return write_graph(path, network, params, state, metrics, history)
        raise SavedModelError("network: expected a compiled network or graph (symdl.Network(...).compile(), "
                              f"symdl.graph.Model(...).compile()), got {type(network).__name__}")
    if isinstance(metrics, Mapping):
        raise SavedModelError("metrics: a dict keys metrics by output name; a network has one output, give a list")
    return save_network(path, network, params, state, metrics, history=history)


def load(path: str | os.PathLike[str]) -> SavedModel:
    """The network or graph saved at ``path`` by :func:`save`, rebuilt and checked; :class:`SavedModelError`
    (a ValueError, one line) if not.

    A :class:`SavedModel` that unpacks as ``model, params, state, metrics``;
    its ``network`` is the compiled network or graph, with its optimizer.
    """
    folder, config = read_config(path)
    if config["format"] == "symdl-graph":
        from ..graph.files import graph_from_config

        return graph_from_config(folder, config)
    return network_from_config(folder, config)
