"""Optimizers as SymPy update rules: state, update and learning-rate schedule (:mod:`symdl.optim.base`)."""

from .base import ETA, STEP, G, Hyperparameter, Optimizer, Slot, T, W
from .catalogue import adam, sgd
from .registry import OPTIMIZERS, optimizer, optimizer_names
from .schedules import Schedule, constant

__all__ = [
    "ETA", "G", "OPTIMIZERS", "STEP", "T", "W", "Hyperparameter", "Optimizer", "Schedule", "Slot",
    "adam", "constant", "optimizer", "optimizer_names", "sgd",
]
