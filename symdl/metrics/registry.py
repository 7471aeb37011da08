"""Metrics by name (``fit(metrics=["mae"])``, saved models): one table, name → class; ``metric`` builds one.

Beside the table, a loss is a metric (Keras' ``MeanMetricWrapper``): ``"<rule>_loss"`` (``"huber_loss"``), an
element-wise loss rule's name that is no metric's (``"log_cosh"``), a rule or formula object, or a Python function
(:mod:`symdl.metrics.loss_metrics`).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from ..excerpt import excerpt
from ..rulebook.derivation import Derives
from .loss_metrics import FunctionMetric, LossMetric, loss_metric_kinds
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


def _loss_metric(kind: object, params: dict[str, object]) -> Any:
    """A loss as a metric: ``"<rule>_loss"`` or a loss rule's name (with its parameters), a rule, a formula or a function."""
    name = params.pop("name", None)
    if name is not None and not (isinstance(name, str) and name):
        raise ValueError(f"metric {kind!r}: name must be a non-empty str, got {excerpt(name)}")
    if isinstance(kind, str):
        from ..rulebook.registry import rule

        rule_name = kind[: -len("_loss")] if kind in loss_metric_kinds() else kind
        try:
            found = rule(rule_name, **params)  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            raise ValueError(f"metric {kind!r}: {str(error).splitlines()[0]}") from None
        return LossMetric(found, name if name is not None or kind == rule_name else kind)
    if params:
        raise ValueError(f"metric {kind!r}: give a rule's parameters to symdl.rule(...), not here (got {', '.join(params)})")
    if isinstance(kind, Derives):
        return LossMetric(kind, name)
    return FunctionMetric(kind, name)  # type: ignore[arg-type]


def metric(kind: str | Metric | object, /, **params: object) -> Any:
    """A fresh metric of ``kind`` (``metric("precision", threshold=0.3, name="val_precision")``); "mae"/"mse" work too.

    A Metric passes through when no parameters are given; otherwise a new one of its kind is built. A loss is
    a metric too: ``"huber_loss"`` (with ``delta=``) or ``"log_cosh"``, a loss rule or formula
    (:class:`~symdl.metrics.loss_metrics.LossMetric`) or a Python function ``fn(y_true, y_pred)`` of per-sample
    values (:class:`~symdl.metrics.loss_metrics.FunctionMetric`).
    """
    if isinstance(kind, type) and issubclass(kind, Metric):  # keras.metrics.MeanAbsoluteError without its ()
        names = [name for name, cls in METRICS.items() if cls is kind]
        raise ValueError(f"metric: {kind.__name__} is a class; give an instance, {kind.__name__}()"
                         + (f", or its name {names[0]!r}" if names else ""))
    if isinstance(kind, Metric):
        if not params:
            return kind
        if isinstance(kind, LossMetric) and kind.loss.kind == "formula":
            return _loss_metric(kind.loss, {"name": kind.name, **params})
        return metric(kind.spec.kind, **{**kind.params, "name": kind.name, **params})
    if isinstance(kind, FunctionMetric):
        return kind if not params else _loss_metric(kind.fn, {"name": kind.name, **params})
    kind = ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if not isinstance(kind, str) or kind not in METRICS:
        if isinstance(kind, str) and kind in _loss_names():
            return _loss_metric(kind, dict(params))
        if not isinstance(kind, str) and (isinstance(kind, Derives) or callable(kind)):
            return _loss_metric(kind, dict(params))
        close = difflib.get_close_matches(str(kind), [*METRICS, *ALIASES, *_loss_names()], n=1)
        hint = f"; did you mean {close[0]!r}? " if close else "; "
        raise ValueError(f"unknown metric {excerpt(kind)}{hint}accepted: {', '.join(metric_names())}; a loss as a "
                         f"metric: {', '.join(loss_metric_kinds())}, a loss rule, a formula or a function (y_true, y_pred)")
    accepted = list(inspect.signature(METRICS[kind]).parameters)
    unknown = [key for key in params if key not in accepted]
    if unknown:  # as optimizer() names a misspelt hyperparameter (Precision(treshold=…), HuberMetric's threshold as delta)
        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise ValueError(f"metric {kind!r}: no parameter {excerpt(unknown[0])}{hint} accepted: {', '.join(accepted)}")
    try:
        return METRICS[kind](**params)  # type: ignore[arg-type]
    except TypeError as error:  # a name that is no str
        raise ValueError(f"metric {kind!r}: {error}") from None


def _loss_names() -> list[str]:
    """The names :func:`metric` reads as losses: ``<rule>_loss``, and the loss rules' own names that are no metric's."""
    from ..rulebook.registry import rules

    losses = [name for name, kind in rules().items() if kind == "loss" and name not in METRICS | ALIASES]
    return [*loss_metric_kinds(), *losses]


def metric_from_config(config: Mapping[str, object]) -> Metric:
    """The metric :meth:`Metric.config` describes: ``{"metric": kind, "name": name, "params": {…}}``."""
    if not isinstance(config, Mapping) or set(config) != {"metric", "name", "params"}:
        raise ValueError('a metric config is {"metric": kind, "name": name, "params": {...}}')
    params = config["params"]
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ValueError(f"metric config: params must be a mapping of names to numbers, got {excerpt(params)}")
    return metric(config["metric"], name=config["name"], **params)
