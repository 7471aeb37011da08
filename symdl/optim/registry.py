"""Optimizers by name (``symdl train --optimizer adam``, saved models): one table, name → factory."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from .base import Optimizer
from .catalogue import adam, sgd

__all__ = ["OPTIMIZERS", "optimizer", "optimizer_names"]

#: name → the factory of :mod:`symdl.optim.catalogue` (its keywords are the hyperparameters).
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {"sgd": sgd, "adam": adam}


def optimizer_names() -> list[str]:
    """Every optimizer name :func:`optimizer` accepts, sorted."""
    return sorted(OPTIMIZERS)


def optimizer(name: str | Optimizer, **hyperparameters: object) -> Optimizer:
    """The optimizer ``name`` with ``hyperparameters`` (``optimizer("adam", lr=1e-3)``); an Optimizer passes through."""
    if isinstance(name, Optimizer):
        return name.with_values(**hyperparameters) if hyperparameters else name  # type: ignore[arg-type]
    if not isinstance(name, str) or name not in OPTIMIZERS:
        close = difflib.get_close_matches(str(name), OPTIMIZERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown optimizer {name!r}{hint} accepted: {', '.join(optimizer_names())}")
    try:
        return OPTIMIZERS[name](**hyperparameters)
    except TypeError as error:
        raise ValueError(f"optimizer {name!r}: {error}") from None
