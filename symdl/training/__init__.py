"""Training: ``fit`` runs epochs of seeded mini-batches through a model's printed ``train_step``; history, metrics, early stopping.

Upstream of :mod:`symdl.network` (a compiled network's ``fit`` calls it); the
loop is bookkeeping, every number it reports comes from printed code.
"""

from .callbacks import Callback, EarlyStopping, History, TrainingRun
from .loop import evaluate, fit

__all__ = ["Callback", "EarlyStopping", "History", "TrainingRun", "evaluate", "fit"]
