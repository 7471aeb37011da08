"""An optimizer's factory called with its config flattened back: ``beta1``/``beta2`` for ``betas``, ``schedule=…`` for ``lr``.

:meth:`~symdl.optim.base.Optimizer.config` keeps β₁ and β₂ apart and a
schedule's hyperparameters (``lr``, ``T_max``, …) beside the optimizer's, with
the schedule named by the option ``schedule``; :func:`call_factory` turns them
back into the factory's keywords (``betas=(β₁, β₂)``, ``lr=cosine(…)``) and
calls it. The registry (:func:`symdl.optim.registry.optimizer`) and
:meth:`~symdl.optim.base.Optimizer.with_values` both rebuild an optimizer this
way, so both refuse exactly what its constructor refuses.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

from .base import Optimizer
from .schedules import SCHEDULES

__all__ = ["call_factory"]


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


def call_factory(name: str, factory: Callable[..., Optimizer], **keywords: object) -> Optimizer:
    """factory(**keywords) with beta1/beta2 → betas and schedule=… → lr=<Schedule>; one ValueError line for a keyword
    the factory does not take (with the closest one it does), or for a value its checks refuse."""
    keywords = _unflatten(name, factory, keywords)
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
