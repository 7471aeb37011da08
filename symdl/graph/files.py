"""A compiled graph and its params on disk: ``model.json`` (the graph's config, the dtype) and ``arrays.npz``.

Written as a set (:func:`symdl.atomic.write_directory`); read back with the
config rebuilt by :func:`symdl.graph.config.from_config` (formulas through the
safe parser) and every array's name, shape and dtype checked against the
rebuilt model before its data is read (:func:`symdl.saving.arrays.read_arrays`).
The optimizer's state is not saved yet.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import CannotWrite, write_directory
from ..saving.arrays import read_arrays
from ..saving.schema import (
    MAX_JSON_BYTES,
    SavedModelError,
    expect,
    fields,
    parse_json,
    string,
)
from ..version import __version__
from .config import from_config, to_config

if TYPE_CHECKING:
    from .compiled import CompiledGraph

__all__ = ["load_graph", "save_graph"]

FORMAT = "symdl-graph"
FORMAT_VERSION = 1


def save_graph(path: str | os.PathLike[str], graph: CompiledGraph, params: dict[str, np.ndarray]) -> Path:
    """Write ``graph`` (its model's config and dtype) and ``params`` to the directory ``path`` (replaced as a whole)."""
    arrays = dict(zip(graph.param_names, graph._check_params(params)))
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "symdl_version": __version__,
              "dtype": graph.dtype.name, "graph": to_config(graph.model)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub checks the arrays against allow_pickle
    files = {"model.json": (json.dumps(config, indent=1, allow_nan=False) + "\n").encode("utf-8"), "arrays.npz": buffer.getvalue()}
    target = Path(path)
    if target.exists() and not (target.is_dir() and (target / "model.json").is_file()):
        raise SavedModelError(f"{target}: exists and is not a saved model; choose another path")
    try:
        return write_directory(target, files)
    except CannotWrite as error:
        raise SavedModelError(f"{target}: cannot write the model ({error.reason})") from None


def load_graph(path: str | os.PathLike[str]) -> tuple[CompiledGraph, dict[str, np.ndarray]]:
    """(the compiled graph, its params) from a directory :func:`save_graph` wrote, or one :class:`SavedModelError`."""
    folder = Path(path)
    for name in ("model.json", "arrays.npz"):
        if not (folder / name).is_file():
            raise SavedModelError(f"{folder}: {name} is missing; not a saved graph")
    with open(folder / "model.json", "rb") as stream:
        spec = fields(parse_json(stream.read(MAX_JSON_BYTES + 1)), "model.json",
                      ("format", "format_version", "symdl_version", "dtype", "graph"))
    if spec["format"] != FORMAT or spec["format_version"] != FORMAT_VERSION:
        raise SavedModelError(f"model.json: not a {FORMAT} version {FORMAT_VERSION} file")
    dtype = string(spec["dtype"], "model.json.dtype", 10)
    if dtype not in ("float32", "float64"):
        raise SavedModelError(f"model.json.dtype: expected 'float32' or 'float64', got {dtype!r}")
    graph = from_config(expect(spec["graph"], dict, "model.json.graph")).compile(dtype)
    layout = {k: (graph.param_shapes[k], graph.dtype) for k in graph.param_names}
    params = read_arrays(folder / "arrays.npz", layout)
    return graph, {k: np.array(params[k]) for k in graph.param_names}
