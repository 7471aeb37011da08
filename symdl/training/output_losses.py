"""Each output's own loss in a history, as Keras logs ``<output>_loss`` for a model with two or more losses.

The values are the model's printed code: ``output_losses(params, *data[, seed])``
(each output's loss without its weight, in training mode with the step's
masks) and ``inference_output_losses(params, *data)`` (for ``evaluate`` and
``val_``), each a dict by the keys ``output_loss_names`` — a compiled graph's
methods and a generated graph module's functions alike. This module is the
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
        printed = all(callable(getattr(model, name, None)) for name in ("output_losses", "inference_output_losses"))
        names = tuple(getattr(model, "output_loss_names", ())) if printed else ()
        self.model = model
        self.names = names if len(names) > 1 else ()
        for key in metric_keys:
            if key in self.names:
                raise ValueError(f"metrics: the log key {key!r} is an output's loss; give the metric another name")
        self.trackers = {name: tracker() for name in self.names}

    def __bool__(self) -> bool:
        return bool(self.names)

    def add(self, params: Any, data: tuple[Any, ...], size: int, seed: int | None = None, training: bool = True) -> None:
        """One batch of ``size`` rows: the model's ``output_losses(params, *data)`` (with ``seed=`` where the step
        draws masks), or ``inference_output_losses`` when not ``training``."""
        if not training:
            values: Mapping[str, Any] = self.model.inference_output_losses(params, *data)
        else:
            values = self.model.output_losses(params, *data) if seed is None else self.model.output_losses(params, *data, seed=seed)
        for name, tracker in self.trackers.items():
            tracker.add(float(values[name]), size)

    def logs(self) -> dict[str, float]:
        return {name: tracker.result() for name, tracker in self.trackers.items()}
