"""Streaming metrics: state, update and result as SymPy (:mod:`symdl.metrics.definition`), printed into numpy, JAX
and torch code; Keras-style objects on numpy arrays; the proof that averaging per-batch values is wrong."""

from .definition import Accumulator, MetricSpec, ratio
from .printing import metric_module_source, metric_source
from .registry import ALIASES, METRICS, metric, metric_from_config, metric_names
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

__all__ = [
    "ALIASES", "METRICS", "Accumulator", "BinaryAccuracy", "CategoricalAccuracy", "F1Score", "HuberMetric", "Mean",
    "MeanAbsoluteError", "MeanSquaredError", "Metric", "MetricSpec", "Precision", "Recall", "metric",
    "metric_from_config", "metric_module_source", "metric_names", "metric_source", "ratio",
]
