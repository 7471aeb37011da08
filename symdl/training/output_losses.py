"""Each output's own loss in a history, as Keras logs ``<output>_loss`` for a model with two or more losses.

The values are the model's printed code (a compiled graph's ``output_losses``:
each output's loss without its weight, in training mode with the step's masks,
or in inference mode for ``evaluate`` and ``val_``); this module is the
bookkeeping: per output, the mean over the batches weighted by their sizes,
as the total loss is logged (Keras: a ``Mean`` updated with each batch's
value and its size).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["OutputLosses"]


class OutputLosses:
    """The ``<output>_loss`` entries of one run: one tracker per output (``tracker()`` makes one), or none."""

    def __init__(self, model: Any, tracker: Callable[[], Any], metric_keys: list[str]) -> None:
        names = tuple(getattr(model, "output_loss_names", ())) if callable(getattr(model, "output_losses", None)) else ()
        self.names = names if len(names) > 1 else ()
        for key in metric_keys:
            if key in self.names:
                raise ValueError(f"metrics: the log key {key!r} is an output's loss; give the metric another name")
        self.trackers = {name: tracker() for name in self.names}

    def __bool__(self) -> bool:
        return bool(self.names)

    def add(self, values: Mapping[str, float], size: int) -> None:
        for name, tracker in self.trackers.items():
            tracker.add(values[name], size)

    def logs(self) -> dict[str, float]:
        return {name: tracker.result() for name, tracker in self.trackers.items()}
