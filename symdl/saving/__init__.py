"""Saved models: ``save(path, network, params, state, metrics)`` writes a directory, ``load(path)`` reads it back bit for bit.

Downstream of :mod:`symdl.network`. ``model.json`` holds the format version,
the architecture (formulas as text, rule parameters exact), the optimizer's
and the metrics' configs; ``arrays.npz`` the parameters and optimizer state.
"""

from .files import FORMAT_VERSION, SavedModel, check_target, load, save
from .schema import SavedModelError

__all__ = ["FORMAT_VERSION", "SavedModel", "SavedModelError", "check_target", "load", "save"]
