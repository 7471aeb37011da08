"""Saved models: ``save(path, model, params, state, metrics)`` writes a directory, ``load(path)`` reads it back bit for bit.

One pair for networks and graphs (:mod:`symdl.saving.models`). ``model.json``
holds the format version, the architecture (formulas as text, rule parameters
exact), the optimizer's and the metrics' configs; ``arrays.npz`` the
parameters and optimizer state. ``save`` and ``load`` are imported on first
use: they reach :mod:`symdl.graph`, which reads its configs with this
package's checks (:mod:`symdl.saving.schema`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .container import SavedModel, check_target
from .files import FORMAT_VERSION
from .schema import SavedModelError

if TYPE_CHECKING:
    from .models import load, save

__all__ = ["FORMAT_VERSION", "SavedModel", "SavedModelError", "check_target", "load", "save"]


def __getattr__(name: str) -> Any:
    """``save`` and ``load`` from :mod:`symdl.saving.models`, imported on first use and then kept."""
    if name not in ("load", "save"):
        raise AttributeError(f"module 'symdl.saving' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.models"), name)
    globals()[name] = value
    return value
