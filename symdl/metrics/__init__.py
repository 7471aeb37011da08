"""Streaming metrics (mean, MAE, MSE, Huber, accuracy, precision, recall, F1): state, update and result in SymPy.

The mathematics is :mod:`symdl.metrics.definition` and :mod:`symdl.metrics.catalogue`;
:func:`metric_source` prints it as numpy, JAX or torch functions; the classes
(``Precision()`` …) are Keras-style streaming objects on numpy arrays; and
:mod:`symdl.metrics.proofs` proves streaming exact and averaging per-batch values wrong. A loss rule, a formula or
a Python function is a metric too, the mean of its values (:mod:`symdl.metrics.loss_metrics`, Keras' ``MeanMetricWrapper``).
"""

from .definition import Accumulator, MetricSpec, ratio
from .loss_metrics import FunctionMetric, LossMetric, loss_mean
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
    "ALIASES", "METRICS", "Accumulator", "BinaryAccuracy", "CategoricalAccuracy", "F1Score", "FunctionMetric",
    "HuberMetric", "LossMetric", "Mean",
    "MeanAbsoluteError", "MeanSquaredError", "Metric", "MetricSpec", "Precision", "Recall", "metric",
    "loss_mean", "metric_from_config", "metric_module_source", "metric_names", "metric_source", "ratio",
]
