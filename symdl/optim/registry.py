"""Optimizers by name (``symdl train --optimizer adam``, saved models): one table, name → factory.

:func:`optimizer` also takes an optimizer's :meth:`~symdl.optim.base.Optimizer.config`
flattened back — ``optimizer(name, **config["options"], **config["hyperparameters"])``
— so ``beta1``/``beta2`` stand for ``betas`` and ``schedule="cosine"`` with
the schedule's keywords (``lr``, ``T_max``, ``eta_min``) for ``lr=cosine(…)``
(:func:`symdl.optim.flat.call_factory`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from .adaptive import adam, adamw, nadam
from .base import Optimizer
from .catalogue import adagrad, classic_momentum, rmsprop, sgd
from .flat import call_factory

__all__ = ["OPTIMIZERS", "optimizer", "optimizer_names"]

#: name → the factory of :mod:`symdl.optim.catalogue` (its keywords are the hyperparameters).
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd, "classic_momentum": classic_momentum, "adagrad": adagrad, "rmsprop": rmsprop,
    "adam": adam, "adamw": adamw, "nadam": nadam,
}


def optimizer_names() -> list[str]:
    """Every optimizer name :func:`optimizer` accepts, sorted."""
    return sorted(OPTIMIZERS)


def optimizer(name: str | Optimizer, **hyperparameters: object) -> Optimizer:
    """The optimizer ``name`` with ``hyperparameters`` (``optimizer("adam", lr=1e-3)``); an Optimizer passes through."""
    if isinstance(name, Optimizer):
        return name.with_values(**hyperparameters) if hyperparameters else name  # type: ignore[arg-type]
    if not isinstance(name, str) or name not in OPTIMIZERS:
        close = difflib.get_close_matches(str(name), OPTIMIZERS, n=1)
        hint = f"; did you mean {close[0]!r}? " if close else "; "
        raise ValueError(f"unknown optimizer {name!r}{hint}accepted: {', '.join(optimizer_names())}")
    return call_factory(name, OPTIMIZERS[name], **hyperparameters)
