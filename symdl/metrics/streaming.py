"""Streaming metrics on numpy arrays, Keras-style: ``update_state``, ``result``, ``reset_state``, ``__call__``.

Each object holds a :class:`~symdl.metrics.definition.MetricSpec` (the
mathematics) and runs the numpy code :func:`~symdl.metrics.printing.metric_source`
prints from it; the state is float64 whatever the inputs' dtype.

>>> import symdl
>>> m = symdl.metrics.Precision()
>>> m([0, 1, 1, 1, 0, 1, 0, 1], [1, 1, 0, 1, 0, 1, 0, 1])
0.8
>>> m([0, 1, 0, 0, 1, 0, 1, 1], [1, 0, 1, 1, 0, 0, 0, 0])    # 4 true positives of 8 predicted positives
0.5
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..excerpt import excerpt
from . import catalogue
from .definition import MetricSpec
from .printing import metric_source

__all__ = [
    "BinaryAccuracy", "CategoricalAccuracy", "F1Score", "HuberMetric", "Mean", "MeanAbsoluteError",
    "MeanSquaredError", "Metric", "Precision", "Recall",
]


@functools.lru_cache(maxsize=64)
def _compiled(spec: MetricSpec) -> tuple[Any, Any, Any]:
    """(init, update, result): the numpy functions printed from ``spec``, compiled once per kind and parameters."""
    source = metric_source(spec, "numpy", prefix="metric")
    namespace: dict[str, object] = {"numpy": np, "functools": functools}
    # Generated code only: printed from SymPy expressions; parameters are checked finite numbers, never text.
    exec(compile(source, f"<symdl metric {spec.kind}>", "exec"), namespace)  # noqa: S102
    return namespace["metric_init"], namespace["metric_update"], namespace["metric_result"]


def _real_array(x: object, what: str) -> np.ndarray:
    """``x`` as a finite real array; anything else is one TypeError / ValueError naming ``what``."""
    try:
        arr = np.asarray(x)
    except ValueError as why:  # ragged nested lists
        raise ValueError(f"{what}: not an array of numbers ({str(why).splitlines()[0]})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{what}: contains NaN or infinity (a streaming metric would keep it in every later result)")
    return arr


class Metric:
    """A streaming metric: state slots, an update by batch sums and a result, from one :class:`MetricSpec`.

    ``update_state(*inputs, sample_weight=None)`` adds a batch, ``result()``
    reads the value (0.0 before any sample), ``reset_state()`` starts again;
    calling the metric does both (Keras' ``__call__``). ``sample_weight`` has
    the inputs' shape or a prefix of it (one weight per row).
    """

    def __init__(self, spec: MetricSpec, name: str | None = None) -> None:
        if not isinstance(spec, MetricSpec):
            raise TypeError(f"Metric: expected a MetricSpec, got {type(spec).__name__}")
        if name is not None and not (isinstance(name, str) and name):
            raise TypeError(f"{spec.kind}: name must be a non-empty str, got {excerpt(name)}")
        self.spec = spec
        self.name = spec.kind if name is None else name
        self._init, self._update, self._result = _compiled(spec)
        self._state: dict[str, np.ndarray] = self._init()

    # --- Keras' API ----------------------------------------------------------------------------------------------

    def update_state(self, *inputs: object, sample_weight: object = None) -> None:
        """Add one batch: every slot s ← s + Σᵢ wᵢ·fₛ(yᵢ, ŷᵢ) (in float64)."""
        names = self.spec.input_names
        if len(inputs) != len(names):
            raise TypeError(f"{self.name}.update_state takes {', '.join(names)} (and sample_weight), got {len(inputs)} arrays")
        arrays = [_real_array(x, f"{self.name}: {n}") for x, n in zip(inputs, names)]
        for arr, n in zip(arrays[1:], names[1:]):
            if arr.shape != arrays[0].shape:
                raise ValueError(f"{self.name}: {names[0]} has shape {arrays[0].shape} but {n} has {arr.shape}")
        if self.spec.argmax and arrays[0].ndim == 0:
            raise ValueError(f"{self.name}: expected rows of class scores (at least 1-d), got a scalar")
        if self.spec.binary_labels and not np.isin(arrays[0], (0, 1)).all():
            raise ValueError(f"{self.name}: {names[0]} must be 0 or 1")
        weights = None
        if sample_weight is not None:
            weights = _real_array(sample_weight, f"{self.name}: sample_weight")
            rows = arrays[0].shape[:-1] if self.spec.argmax else arrays[0].shape
            if weights.shape != rows[: weights.ndim]:
                raise ValueError(f"{self.name}: sample_weight has shape {weights.shape}, expected {rows} or a prefix of it")
        self._state = self._update(self._state, *arrays, sample_weight=weights)

    def result(self) -> float:
        """The metric's value for every sample since the last reset (0.0 before the first)."""
        return float(self._result(self._state))

    def reset_state(self) -> None:
        """Every slot back to its initial value."""
        self._state = self._init()

    def __call__(self, *inputs: object, sample_weight: object = None) -> float:
        """``update_state`` then ``result``: the streamed value so far, this batch included."""
        self.update_state(*inputs, sample_weight=sample_weight)
        return self.result()

    @property
    def state(self) -> dict[str, float]:
        """The slots' current values (a copy)."""
        return {k: float(v) for k, v in self._state.items()}

    @property
    def params(self) -> dict[str, float]:
        return dict(self.spec.params)

    def config(self) -> dict[str, object]:
        """``{"metric": kind, "name": name, "params": {…}}``: what a saved model stores (``metric_from_config`` reads it)."""
        return {"metric": self.spec.kind, "name": self.name, "params": self.params}

    def get_config(self) -> dict[str, object]:
        """Keras' form: ``{"name": name, **params}``."""
        return {"name": self.name, **self.params}

    def __repr__(self) -> str:
        shown = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"symdl.metrics.{type(self).__name__}(name={self.name!r}{shown})"


class Mean(Metric):
    """The weighted mean of values v: Σ w·v / Σ w (e.g. of each batch's loss); ``update_state(values, sample_weight=None)``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(catalogue.mean(), name)


class MeanAbsoluteError(Metric):
    """Σ w·|ŷ − y| / Σ w over every element seen; ``update_state(y_true, y_pred, sample_weight=None)``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(catalogue.mean_absolute_error(), name)


class MeanSquaredError(Metric):
    """Σ w·(ŷ − y)² / Σ w over every element seen (no ½, as Keras)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(catalogue.mean_squared_error(), name)


class HuberMetric(Metric):
    """Σ w·h_δ(ŷ − y) / Σ w with the continuous Huber function h_δ, δ = ``threshold`` (the notebook's ``HuberMetric``)."""

    def __init__(self, threshold: float = 1.0, name: str | None = None) -> None:
        super().__init__(catalogue.huber(threshold), name)


class BinaryAccuracy(Metric):
    """The fraction of samples with y = [ŷ > threshold] (y ∈ {0, 1}), as Keras' ``BinaryAccuracy``."""

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        super().__init__(catalogue.binary_accuracy(threshold), name)


class CategoricalAccuracy(Metric):
    """The fraction of rows with argmax ŷ = argmax y (one-hot or score rows), as Keras' ``CategoricalAccuracy``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(catalogue.categorical_accuracy(), name)


class Precision(Metric):
    """tp / (tp + fp) with ŷ positive when ŷ > threshold, over every sample seen (Keras' ``Precision``)."""

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        super().__init__(catalogue.precision(threshold), name)


class Recall(Metric):
    """tp / (tp + fn) with ŷ positive when ŷ > threshold, over every sample seen (Keras' ``Recall``)."""

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        super().__init__(catalogue.recall(threshold), name)


class F1Score(Metric):
    """2tp / (2tp + fp + fn) = 2PR/(P + R) of thresholded predictions, over every sample seen."""

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        super().__init__(catalogue.f1_score(threshold), name)
