"""Metrics by name (``fit(metrics=["mae"])``, saved models): one table, name → class; ``metric`` builds one."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from .streaming import (
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    HuberMetric,
    Mean,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    Precision,
    Recall,
)

__all__ = ["ALIASES", "METRICS", "metric", "metric_from_config", "metric_names"]

#: kind (the ``"metric"`` of a config) → class; its keywords are the parameters and ``name``.
METRICS: dict[str, type[Metric]] = {
    "mean": Mean,
    "mean_absolute_error": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError,
    "huber": HuberMetric,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "f1_score": F1Score,
}

#: Keras' short names.
ALIASES: dict[str, str] = {"mae": "mean_absolute_error", "mse": "mean_squared_error"}


def metric_names() -> list[str]:
    """Every metric kind :func:`metric` accepts (aliases left out), sorted."""
    return sorted(METRICS)


def metric(kind: str | Metric, /, **params: object) -> Metric:
    """A fresh metric of ``kind`` (``metric("precision", threshold=0.3, name="val_precision")``); "mae"/"mse" work too.

    A Metric passes through when no parameters are given; otherwise a new one of its kind is built.
    """
    if isinstance(kind, Metric):
        if not params:
            return kind
        return metric(kind.spec.kind, **{**kind.params, "name": kind.name, **params})
    kind = ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if not isinstance(kind, str) or kind not in METRICS:
        close = difflib.get_close_matches(str(kind), [*METRICS, *ALIASES], n=1)
        hint = f"; did you mean {close[0]!r}? " if close else "; "
        raise ValueError(f"unknown metric {kind!r}{hint}accepted: {', '.join(metric_names())}")
    try:
        return METRICS[kind](**params)  # type: ignore[arg-type]
    except TypeError as error:
        raise ValueError(f"metric {kind!r}: {error}") from None


def metric_from_config(config: Mapping[str, object]) -> Metric:
    """The metric :meth:`Metric.config` describes: ``{"metric": kind, "name": name, "params": {…}}``."""
    if not isinstance(config, Mapping) or set(config) != {"metric", "name", "params"}:
        raise ValueError('a metric config is {"metric": kind, "name": name, "params": {...}}')
    params = config["params"]
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ValueError(f"metric config: params must be a mapping of names to numbers, got {params!r}")
    return metric(config["metric"], name=config["name"], **params)  # type: ignore[arg-type]
