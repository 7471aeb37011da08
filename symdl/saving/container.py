"""What every saved model shares: the directory, model.json's header, and the arrays of params and optimizer state.

A saved model is a directory of ``model.json`` (what it is) and ``arrays.npz``
(its numbers), with an optional ``history.json`` for people. Networks
(:mod:`symdl.saving.files`) and graphs (:mod:`symdl.graph.files`) describe
their own architecture and metrics; the rest is here, one code path for
both: the header ``format``, ``format_version``, ``symdl_version``,
``dtype``, then the architecture under the kind's own key, ``optimizer``,
``metrics`` and ``arrays``; params as ``params/<name>``, the optimizer's
state as ``state/<key>`` (:mod:`symdl.saving.state`), checked against the
optimizer's own ``init_state`` when saving and when loading. The directory is
built beside its place and renamed into it (:func:`symdl.atomic.write_directory`),
so a reader sees the old model or the new one, never half of each. Loading
trusts nothing: the JSON is checked key by key, arrays are read with
``allow_pickle=False`` and must have the shapes and dtypes the rebuilt model
implies (:func:`symdl.saving.arrays.read_arrays`).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..atomic import CannotWrite, write_directory
from ..excerpt import excerpt
from ..version import __version__
from .arrays import read_arrays
from .schema import MAX_JSON_BYTES, SavedModelError, expect, fields, parse_json, string
from .state import (
    check_described_params,
    check_loaded_state,
    describe_arrays,
    model_optimizer,
    rebuild_optimizer,
    state_entries,
    state_layout,
    state_values,
)

if TYPE_CHECKING:
    from ..graph.compiled import CompiledGraph
    from ..network.compiled import CompiledNetwork

__all__ = ["FORMATS", "SavedModel", "check_target", "history_json", "model_path", "read_config", "read_header",
           "read_params", "write_model"]



class Format(NamedTuple):
    """A kind of saved model: the architecture's key in model.json, the versions this symdl reads (it writes the
    last), those that hold the architecture and params only (no optimizer, metrics or state: a graph's version 1),
    and whether a model without an optimizer may keep a state (a network's custom training loop keeps its own,
    saved unchecked, as it always was; a graph's state is its optimizer's, so none without one)."""

    key: str
    versions: tuple[int, ...]
    untrained: tuple[int, ...]
    free_state: bool


FORMATS: dict[str, Format] = {"symdl-model": Format("network", (1,), (), True),
                              "symdl-graph": Format("graph", (1, 2), (1,), False)}
_HEADER = ("format", "format_version", "symdl_version", "dtype")
_SAVED_FILES = frozenset({"model.json", "arrays.npz", "history.json"})  # what save writes into the directory
_TRAINING = ("optimizer", "metrics", "arrays")


@dataclass
class SavedModel:
    """What :func:`symdl.load` returns: the compiled model (with its optimizer), params, optimizer state and metrics.

    Unpacks as ``model, params, state, metrics = symdl.load(path)``;
    ``network`` is the compiled network or graph, ``config`` model.json as read.
    """

    network: CompiledNetwork | CompiledGraph
    params: dict[str, np.ndarray]
    state: dict[str, Any] | None
    metrics: list[Any] | dict[str, list[Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.network, self.params, self.state, self.metrics))


def model_path(path: object) -> Path:
    """``path`` as a Path: a TypeError line unless it is a str or os.PathLike (of a str), a SavedModelError if empty."""
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(name, str):
        raise TypeError(f"path: expected a str or os.PathLike (a model directory), got {type(path).__name__}")
    if not name:  # Path('') is the working directory: a slip, as `symdl report -o ''` is
        raise SavedModelError("path '': an empty path; give the model's directory, e.g. 'model'")
    if "\0" in name:  # the file system's own word would be Python's "embedded null byte", naming no path
        raise SavedModelError(f"path {name[:200]!r}: a NUL byte in the name, which no file or directory can have")
    return Path(name)


def check_target(path: str | os.PathLike[str]) -> Path:
    """``path`` if a model can be saved there: a new name in an existing directory, or an older saved model."""
    target = model_path(path)
    try:
        if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or (target / "model.json").is_file())):
            raise SavedModelError(f"{target}: exists and is not a saved model; choose another path")
        others = sorted(p.name for p in target.iterdir() if p.name not in _SAVED_FILES) if target.is_dir() else []
        if others:  # the directory is replaced whole: anything else in it would be deleted with the old model
            more = f" and {len(others) - 1} more" if len(others) > 1 else ""
            raise SavedModelError(f"{target}: a saved model that also holds {excerpt(others[0])}{more}, which saving over it "
                                  "would delete (the directory is replaced whole); move that out or choose another path")
        if target.parent.exists() and not target.parent.is_dir():
            raise SavedModelError(f"{target}: {target.parent} is not a directory")
        if not target.parent.is_dir():
            raise SavedModelError(f"{target}: the directory {target.parent} does not exist")
    except OSError as error:  # a name too long, a directory it may not list
        raise SavedModelError(f"{target}: cannot save a model there ({error.strerror or error})") from None
    return target


def history_json(history: object) -> bytes:
    """history.json's bytes (standard JSON: no NaN), else one :class:`SavedModelError` line naming ``history``."""
    try:
        return (json.dumps(history, indent=1, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as error:  # json's words for a NaN, an object, a circular reference
        raise SavedModelError(f"history: not JSON ({str(error).splitlines()[0][:200]}); "
                              "history.json takes finite numbers, strings, lists and dicts") from None


def _shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Every array of params (a network's batch-norm buffers too) with its shape, in the model's order."""
    return {n: model.param_shapes[n] for n in (*model.param_names, *getattr(model, "buffer_names", ()))}


def _param_arrays(model: Any, params: object) -> dict[str, np.ndarray]:
    arrays: dict = expect(params, dict, "params")
    shapes = _shapes(model)
    if set(arrays) != set(shapes):
        raise SavedModelError(f"params: expected the keys {list(shapes)}, got {list(arrays)}")
    out = {}
    for name, shape in shapes.items():
        value = np.asarray(arrays[name])
        if value.shape != shape or value.dtype != model.dtype:
            raise SavedModelError(f"params[{name!r}]: expected {model.dtype.name} of shape {shape}, "
                                  f"got {value.dtype.name} of shape {value.shape}")
        out[f"params/{name}"] = value
    return out


def _state_arrays(model: Any, params: dict[str, Any], state: object,
                  free: bool) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """(model.json's description of the state, its arrays), the state checked against the optimizer's fresh one."""
    if state is None:
        return None, {}
    if model_optimizer(model) is None:
        if free:
            return state_entries(state)
        raise SavedModelError("state: this model was compiled without an optimizer; compile it with the optimizer "
                              "that trained, or save without state")
    entries, arrays = state_entries(state)
    values = state_values(state_layout(entries)[0], arrays)
    if values is not None:  # always: a given state is described (state_entries), so it has kinds
        check_loaded_state(model.init_state(params), values)
    return entries, arrays


def write_model(path: str | os.PathLike[str], model: Any, architecture: object, metrics: object,
                params: object, state: object, history: object | None, format_name: str) -> Path:
    """Write the directory ``path``: model.json (header, ``architecture`` under the format's key, optimizer,
    ``metrics`` as described, arrays) and arrays.npz (``params``, the optimizer ``state``), history.json if given."""
    arrays = _param_arrays(model, params)
    key, versions, _, free = FORMATS[format_name]
    entries, extra = _state_arrays(model, params, state, free)  # type: ignore[arg-type]  # a dict: _param_arrays checked
    arrays.update(extra)
    config = {"format": format_name, "format_version": versions[-1], "symdl_version": __version__,
              "dtype": model.dtype.name, key: architecture, "optimizer": model_optimizer(model), "metrics": metrics,
              "arrays": {"params": describe_arrays({n: arrays[f"params/{n}"] for n in _shapes(model)}), "state": entries}}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub checks the arrays against allow_pickle
    files = {"model.json": (json.dumps(config, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8"),
             "arrays.npz": buffer.getvalue()}
    if history is not None:
        files["history.json"] = history_json(history)
    target = check_target(path)
    try:
        return write_directory(target, files)
    except CannotWrite as error:
        raise SavedModelError(f"{target}: cannot write the model ({error.reason})") from None


def read_config(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """(the directory, model.json parsed and its header checked), or one :class:`SavedModelError` line."""
    folder = model_path(path)
    try:
        if not folder.is_dir():
            raise SavedModelError(f"{folder}: not a saved model directory (expected model.json and arrays.npz in it)")
        for name in ("model.json", "arrays.npz"):
            if not (folder / name).is_file():
                raise SavedModelError(f"{folder}: {name} is missing; not a saved model directory")
        with open(folder / "model.json", "rb") as stream:
            text = stream.read(MAX_JSON_BYTES + 1)
    except OSError as error:  # a name too long, a file this user may not read
        raise SavedModelError(f"{folder}: cannot read the saved model ({error.strerror or error})") from None
    config = parse_json(text)
    format_name, version = config.get("format"), config.get("format_version")
    if not isinstance(format_name, str) or format_name not in FORMATS:
        raise SavedModelError(f"{folder}: not a symdl saved model (format {excerpt(format_name)})")
    key, versions, untrained, _ = FORMATS[format_name]
    if isinstance(version, bool) or version not in versions:  # a list or an object is no version (nor unhashable here)
        raise SavedModelError(f"{folder}: {format_name} saved in format version {excerpt(version)}; this symdl "
                              f"({__version__}) reads version {' or '.join(map(str, versions))}")
    fields(config, "model.json", (*_HEADER, key, *(() if version in untrained else _TRAINING)))
    string(config["symdl_version"], "symdl_version", 40)
    if config["dtype"] not in ("float64", "float32"):
        raise SavedModelError(f"dtype: expected 'float64' or 'float32', got {excerpt(config['dtype'])}")
    return folder, config


def read_header(config: Mapping[str, Any]) -> tuple[str, Any]:
    """(the dtype, the rebuilt optimizer or None) of a checked model.json (:func:`read_config`)."""
    return config["dtype"], rebuild_optimizer(config.get("optimizer"))


def read_params(folder: Path, config: Mapping[str, Any], model: Any) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """(params, optimizer state or None) from arrays.npz, every array's name, shape and dtype checked against the
    rebuilt ``model`` before its data is read, the state against the optimizer's fresh one."""
    shapes = _shapes(model)
    if config["format_version"] in FORMATS[config["format"]].untrained:  # config and params only, no "params/" prefix
        arrays = read_arrays(folder / "arrays.npz", {n: (s, model.dtype) for n, s in shapes.items()})
        return {n: np.array(arrays[n], copy=True) for n in shapes}, None
    described = fields(expect(config["arrays"], dict, "arrays"), "arrays", ("params", "state"))
    listed = fields(expect(described["params"], dict, "arrays.params"), "arrays.params", tuple(shapes))
    # described from the shapes, nothing allocated: a hand-edited width of 2³¹ − 1 would be gigabytes here
    check_described_params(listed, shapes, model.dtype)
    kinds, layout = state_layout(described["state"])
    has_optimizer = model_optimizer(model) is not None
    if kinds is not None and not has_optimizer and not FORMATS[config["format"]].free_state:
        raise SavedModelError("arrays.state: the file has an optimizer state but no optimizer")
    layout.update({f"params/{n}": (s, model.dtype) for n, s in shapes.items()})
    arrays = read_arrays(folder / "arrays.npz", layout)
    params = {n: np.array(arrays[f"params/{n}"], copy=True) for n in shapes}
    state = state_values(kinds, arrays)
    if state is not None and has_optimizer:
        check_loaded_state(model.init_state(params), state)
    return params, state
