"""``save`` and ``load``: a model as a directory of ``model.json`` (what it is) and ``arrays.npz`` (its numbers).

A directory rather than one file: both parts stay readable with ordinary tools
(a JSON viewer, ``numpy.load``) and each uses its own standard format, with no
container of ours around them. The directory is written as a set: built in a
temporary sibling directory and renamed into place, so a reader sees the old
model or the new one, never half of each. Loading trusts nothing: the JSON is
checked key by key, formulas go through the safe parser, arrays are read with
``allow_pickle=False`` and must have the shapes and dtypes the model implies.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import CannotWrite, write_directory
from ..network.compiled import CompiledNetwork
from ..version import __version__
from .arrays import read_arrays
from .describe import describe_network, rebuild_network
from .schema import MAX_JSON_BYTES, SavedModelError, expect, fields, parse_json, string
from .state import (
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

if TYPE_CHECKING:
    from ..graph.compiled import CompiledGraph

__all__ = ["FORMAT", "FORMAT_VERSION", "SavedModel", "check_target", "history_json", "load", "model_path", "save"]

FORMAT = "symdl-model"
FORMAT_VERSION = 1
_KEYS = ("format", "format_version", "symdl_version", "dtype", "network", "optimizer", "metrics", "arrays")


@dataclass
class SavedModel:
    """What :func:`load` returns: the compiled network (with its optimizer), params, optimizer state and metrics.

    Unpacks as ``network, params, state, metrics = symdl.load(path)``;
    ``config`` is model.json as read. :func:`symdl.graph.load_graph` returns
    one too, with the compiled graph as ``network``.
    """

    network: CompiledNetwork | CompiledGraph
    params: dict[str, np.ndarray]
    state: dict[str, Any] | None
    metrics: list[Any] | dict[str, list[Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.network, self.params, self.state, self.metrics))


def _check_params(network: CompiledNetwork, params: object) -> dict[str, np.ndarray]:
    arrays: dict = expect(params, dict, "params")
    names = (*network.param_names, *network.buffer_names)
    if set(arrays) != set(names):
        raise SavedModelError(f"params: expected the keys {list(names)}, got {list(arrays)}")
    out = {}
    for name in names:
        value = np.asarray(arrays[name])
        if value.shape != network.param_shapes[name] or value.dtype != network.dtype:
            raise SavedModelError(f"params[{name!r}]: expected {network.dtype.name} of shape {network.param_shapes[name]}, "
                                  f"got {value.dtype.name} of shape {value.shape}")
        out[f"params/{name}"] = value
    return out


def save(path: str | os.PathLike[str], network: CompiledNetwork, params: dict[str, np.ndarray],
         state: dict[str, Any] | None = None, metrics: Sequence[Any] = (), *,
         history: dict[str, Any] | None = None) -> Path:
    """Write ``network`` (architecture, optimizer), ``params``, the optimizer ``state`` and ``metrics`` to the directory ``path``.

    ``history`` (JSON-able, e.g. ``{"epoch": …, "history": …}`` of a fit) is
    written beside them as ``history.json``, for people; :func:`load` does not
    read it. An existing saved model at ``path`` is replaced as a whole; any other
    existing file or directory there is refused. Returns the path.
    """
    model_path(path)  # before any work: a bad path is the first error
    if not isinstance(network, CompiledNetwork):
        hint = "; save a graph with symdl.graph.save_graph" if type(network).__name__ == "CompiledGraph" else ""
        raise SavedModelError(f"network: expected a compiled network (symdl.Network(...).compile()), got {type(network).__name__}{hint}")
    arrays = _check_params(network, params)
    entries, state_arrays = state_entries(state)
    arrays.update(state_arrays)
    model = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "symdl_version": __version__,
        "dtype": network.dtype.name, "network": describe_network(network.network),
        "optimizer": model_optimizer(network), "metrics": describe_metrics(metrics),
        "arrays": {"params": describe_arrays({k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("params/")}),
                   "state": entries},
    }
    text = json.dumps(model, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub checks the arrays against allow_pickle
    files = {"model.json": text.encode("utf-8"), "arrays.npz": buffer.getvalue()}
    if history is not None:
        files["history.json"] = history_json(history)
    _write_directory(Path(path), files)
    return Path(path)


def history_json(history: object) -> bytes:
    """history.json's bytes (standard JSON: no NaN), else one :class:`SavedModelError` line naming ``history``."""
    try:
        return (json.dumps(history, indent=1, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as error:  # json's words for a NaN, an object, a circular reference
        raise SavedModelError(f"history: not JSON ({str(error).splitlines()[0][:200]}); "
                              "history.json takes finite numbers, strings, lists and dicts") from None


def model_path(path: object) -> Path:
    """``path`` as a Path: a TypeError line unless it is a str or os.PathLike (of a str), a SavedModelError if empty."""
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(name, str):
        raise TypeError(f"path: expected a str or os.PathLike (a model directory), got {type(path).__name__}")
    if not name:  # Path('') is the working directory: a slip, as `symdl report -o ''` is
        raise SavedModelError("path '': an empty path; give the model's directory, e.g. 'model'")
    return Path(name)


def check_target(path: str | os.PathLike[str]) -> Path:
    """``path`` if a model can be saved there: a new name in an existing directory, or an older saved model."""
    target = model_path(path)
    if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or (target / "model.json").is_file())):
        raise SavedModelError(f"{target}: exists and is not a saved model; choose another path")
    if not target.parent.is_dir():
        raise SavedModelError(f"{target}: the directory {target.parent} does not exist")
    return target


def _write_directory(target: Path, files: dict[str, bytes]) -> None:
    """Build the directory beside ``target`` and rename it into place as a set (replacing an older saved model)."""
    check_target(target)
    try:
        write_directory(target, files)
    except CannotWrite as error:
        raise SavedModelError(f"{target}: cannot write the model ({error.reason})") from None


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise SavedModelError(f"{path}: not a saved model directory (expected model.json and arrays.npz in it)")
    for name in ("model.json", "arrays.npz"):
        if not (path / name).is_file():
            raise SavedModelError(f"{path}: {name} is missing; not a saved model directory")
    with open(path / "model.json", "rb") as stream:
        return parse_json(stream.read(MAX_JSON_BYTES + 1))


def load(path: str | os.PathLike[str]) -> SavedModel:
    """The model saved at ``path`` by :func:`save`, rebuilt and checked; :class:`SavedModelError` (a ValueError) if not."""
    path = model_path(path)
    config = _read_config(path)
    version = config.get("format_version")
    if config.get("format") == "symdl-graph":
        raise SavedModelError(f"{path}: a saved graph model; load it with symdl.graph.load_graph")
    if config.get("format") != FORMAT:
        raise SavedModelError(f"{path}: not a symdl saved model (format {str(config.get('format'))[:40]!r})")
    if version != FORMAT_VERSION:
        raise SavedModelError(f"{path}: saved in format version {str(version)[:20]}; this symdl ({__version__}) reads version {FORMAT_VERSION}")
    fields(config, "model.json", _KEYS)
    string(config["symdl_version"], "symdl_version", 40)
    dtype = config["dtype"]
    if dtype not in ("float64", "float32"):
        raise SavedModelError(f"dtype: expected 'float64' or 'float32', got {str(dtype)[:40]!r}")
    opt = rebuild_optimizer(config["optimizer"])
    try:
        network = rebuild_network(config["network"], **({"optimizer": opt} if opt is not None else {})).compile(dtype)
    except SavedModelError:
        raise
    except (ValueError, TypeError) as error:
        raise SavedModelError(f"network: {str(error).splitlines()[0]}") from None
    metrics = rebuild_metrics(config["metrics"])
    described = fields(expect(config["arrays"], dict, "arrays"), "arrays", ("params", "state"))
    params, state = _arrays(network, described, path / "arrays.npz")
    return SavedModel(network, params, state, metrics, config)


def _arrays(network: CompiledNetwork, described: dict[str, Any], npz: Path) -> tuple[dict, dict | None]:
    names = (*network.param_names, *network.buffer_names)
    listed = fields(expect(described["params"], dict, "arrays.params"), "arrays.params", names)
    check_described_params(listed, {n: network.param_shapes[n] for n in names}, network.dtype)
    kinds, layout = state_layout(described["state"])
    layout.update({f"params/{n}": (network.param_shapes[n], network.dtype) for n in names})
    arrays = read_arrays(npz, layout)
    params = {n: np.array(arrays[f"params/{n}"], copy=True) for n in names}
    state = state_values(kinds, arrays)
    if state is not None and model_optimizer(network) is not None:
        check_loaded_state(network.init_state(params), state)
    return params, state
