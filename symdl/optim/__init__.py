"""Optimizers as SymPy update rules: state, update and learning-rate schedule (:mod:`symdl.optim.base`).

The catalogue (:mod:`~symdl.optim.catalogue`, :mod:`~symdl.optim.adaptive`)
follows ``torch.optim``'s names, defaults and update forms; schedules are in
:mod:`~symdl.optim.schedules`, exact proofs about the updates in
:mod:`~symdl.optim.proofs`.
"""

from .adaptive import adam, adamw, nadam
from .base import ETA, STEP, G, Hyperparameter, Optimizer, Slot, T, W
from .catalogue import adagrad, classic_momentum, rmsprop, sgd
from .registry import OPTIMIZERS, optimizer, optimizer_names
from .schedules import SCHEDULES, Schedule, constant, cosine, exponential, step

__all__ = [
    "ETA", "G", "OPTIMIZERS", "SCHEDULES", "STEP", "T", "W", "Hyperparameter", "Optimizer", "Schedule", "Slot",
    "adagrad", "adam", "adamw", "classic_momentum", "constant", "cosine", "exponential", "nadam", "optimizer",
    "optimizer_names", "rmsprop", "sgd", "step",
]
