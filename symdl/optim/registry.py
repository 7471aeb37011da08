"""Optimizers by name (``symdl train --optimizer adam``, saved models): one table, name → factory.

:func:`optimizer` also takes an optimizer's :meth:`~symdl.optim.base.Optimizer.config`
flattened back — ``optimizer(name, **config["options"], **config["hyperparameters"])``
— so ``beta1``/``beta2`` stand for ``betas`` and ``schedule="cosine"`` with
the schedule's keywords (``lr``, ``T_max``, ``eta_min``) for ``lr=cosine(…)``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

from .adaptive import adam, adamw, nadam
from .base import Optimizer
from .catalogue import adagrad, classic_momentum, rmsprop, sgd
from .schedules import SCHEDULES

__all__ = ["OPTIMIZERS", "optimizer", "optimizer_names"]

#: name → the factory of :mod:`symdl.optim.catalogue` (its keywords are the hyperparameters).
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd, "classic_momentum": classic_momentum, "adagrad": adagrad, "rmsprop": rmsprop,
    "adam": adam, "adamw": adamw, "nadam": nadam,
}


def optimizer_names() -> list[str]:
    """Every optimizer name :func:`optimizer` accepts, sorted."""
    return sorted(OPTIMIZERS)


def _unflatten(name: str, factory: Callable[..., Optimizer], keywords: dict[str, object]) -> dict[str, object]:
    """beta1/beta2 → betas; schedule=<name> and its keywords → lr=<Schedule>."""
    kw = dict(keywords)
    if "beta1" in kw or "beta2" in kw:
        betas = inspect.signature(factory).parameters.get("betas")
        if betas is None or "betas" in kw:
            raise ValueError(f"optimizer {name!r}: beta1/beta2 {'repeat betas' if betas else 'are not among its keywords'}")
        kw["betas"] = (kw.pop("beta1", betas.default[0]), kw.pop("beta2", betas.default[1]))
    schedule = kw.pop("schedule", "constant")
    if schedule != "constant":
        if not isinstance(schedule, str) or schedule not in SCHEDULES:
            raise ValueError(f"optimizer {name!r}: unknown schedule {schedule!r}; accepted: {', '.join(sorted(SCHEDULES))}")
        taken = inspect.signature(SCHEDULES[schedule]).parameters
        try:
            kw["lr"] = SCHEDULES[schedule](**{k: kw.pop(k) for k in list(kw) if k in taken})
        except TypeError as error:
            raise ValueError(f"optimizer {name!r}, schedule {schedule!r}: {error}") from None
    return kw


def optimizer(name: str | Optimizer, **hyperparameters: object) -> Optimizer:
    """The optimizer ``name`` with ``hyperparameters`` (``optimizer("adam", lr=1e-3)``); an Optimizer passes through."""
    if isinstance(name, Optimizer):
        return name.with_values(**hyperparameters) if hyperparameters else name  # type: ignore[arg-type]
    if not isinstance(name, str) or name not in OPTIMIZERS:
        close = difflib.get_close_matches(str(name), OPTIMIZERS, n=1)
        hint = f"; did you mean {close[0]!r}? " if close else "; "
        raise ValueError(f"unknown optimizer {name!r}{hint}accepted: {', '.join(optimizer_names())}")
    factory = OPTIMIZERS[name]
    keywords = _unflatten(name, factory, hyperparameters)
    taken = inspect.signature(factory).parameters
    unknown = [k for k in keywords if k not in taken]
    if unknown:
        accepted = [*taken, *(("beta1", "beta2") if "betas" in taken else ()), "schedule"]
        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f"; did you mean {close[0]!r}? " if close else "; "
        raise ValueError(f"optimizer {name!r}: no hyperparameter {unknown[0]!r}{hint}accepted: {', '.join(accepted)}")
    try:
        return factory(**keywords)
    except TypeError as error:
        raise ValueError(f"optimizer {name!r}: {error}") from None
