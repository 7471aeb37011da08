"""Which output each metric of ``fit`` / ``evaluate`` reads, and the log key it writes (Keras' keys).

A model with one output: ``metrics=["mae"]`` compares its output with Y and
logs ``mean_absolute_error``. A model with several outputs (a compiled graph
or a generated graph module, through its ``metric_outputs``): a list applies every metric to every output
with a data target, a dict maps an output's name to a metric or a list of
them; each is logged as ``<output>_<metric>`` (``main_mean_absolute_error``).
An output is named by its layer's name, else by its target's (``Y2``); a dict
may use either. The arithmetic is the metrics' own printed code; this module
is bookkeeping only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..backends.runtime_data import by_output
from ..backends.runtime_fit import check_binary_targets
from ..excerpt import excerpt

__all__ = ["MetricOutput", "Tracked", "TrackedMetrics", "metric_name", "metric_objects", "per_output_spec", "track"]


class MetricOutput(NamedTuple):
    """An output a metric may read: its log ``name``, the ``keys`` a dict may give it by, its index among
    ``forward``'s outputs and its target's among the data targets."""

    name: str
    keys: frozenset[str]
    output: int
    target: int


def metric_objects(metrics: Sequence[object]) -> list[Any]:
    """Metric objects from names (``"mae"``, through :func:`symdl.metrics.metric`), objects given as such, and losses
    as metrics (a loss rule, a formula or a Python function, wrapped by :func:`symdl.metrics.metric`)."""
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Sequence):
        raise ValueError(f"metrics: expected a list of metric names or objects, got {excerpt(metrics)}")
    out = []
    for m in metrics:
        if isinstance(m, str) or not _is_metric(m) and callable(m) or _is_rule(m):
            from ..metrics import metric

            m = metric(m)
        for attr in ("update_state", "result", "reset_state"):
            if not callable(getattr(m, attr, None)):
                raise ValueError(f"metrics: {m!r} has no {attr}(); expected a symdl metric, a metric name, a loss rule, "
                                 "a formula or a function (y_true, y_pred) -> per-sample values")
        out.append(m)
    names = [metric_name(m) for m in out]
    for k, name in enumerate(names):
        if name in names[:k]:
            first = names.index(name)
            raise ValueError(f"metrics: names repeat: {metrics[first]!r} and {metrics[k]!r} both log {name!r}; give each metric once")
    return out


def _is_metric(m: object) -> bool:  # a Metric class has these too, as unbound functions: symdl.metric names it
    return not isinstance(m, type) and all(callable(getattr(m, attr, None)) for attr in ("update_state", "result", "reset_state"))


def _is_rule(m: object) -> bool:
    from ..rulebook.derivation import Derives

    return isinstance(m, Derives)


def metric_name(m: Any) -> str:
    """The log key of a metric: its ``name`` (Keras' convention), else its config's ``name``."""
    name = getattr(m, "name", None)
    if not isinstance(name, str):
        config = m.config() if callable(getattr(m, "config", None)) else {}
        name = config.get("name") if isinstance(config, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError(f"metrics: {m!r} has no name")
    return name


@dataclass(frozen=True)
class Tracked:
    """One metric of a run: its log ``key``, the object, and which output and target it compares (None: the only one)."""

    key: str
    metric: Any
    output: int | None = None
    target: int | None = None


class TrackedMetrics:
    """The metrics of one run: reset, updated per batch from (targets, predictions), read as ``{key: value}``."""

    def __init__(self, entries: Sequence[Tracked] = ()) -> None:
        self.entries = tuple(entries)
        keys = [e.key for e in self.entries]
        repeated = sorted({k for k in keys if keys.count(k) > 1} | ({"loss"} & set(keys)))
        if repeated:
            raise ValueError(f"metrics: the log key {repeated[0]!r} repeats (or is the loss's); give the metrics other names")

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    def __bool__(self) -> bool:
        return bool(self.entries)

    def reset(self) -> None:
        for e in self.entries:
            e.metric.reset_state()

    def update(self, Y: Any, predictions: Any) -> None:
        """Each metric on its target (``Y`` or ``Y[target]``) and output (``predictions`` or ``predictions[output]``)."""
        for e in self.entries:
            e.metric.update_state(Y if e.target is None else Y[e.target],
                                  predictions if e.output is None else predictions[e.output])

    def logs(self) -> dict[str, float]:
        return {e.key: float(e.metric.result()) for e in self.entries}

    def check_labels(self, Y: Any, label: str, target_names: Sequence[str] | None = None) -> None:
        """Each binary metric's targets (accuracy, precision, recall, F1: ``spec.binary_labels``) are 0 or 1 on every
        row, before any step: :func:`~symdl.backends.runtime_fit.check_binary_targets`, the one line generated modules'
        fit gives too. The metric objects check each batch only as it comes, after the steps of the batches before it."""
        for e in self.entries:
            if getattr(getattr(e.metric, "spec", None), "binary_labels", False) is not True:
                continue
            y = Y if e.target is None else Y[e.target]
            # a module has no target_names: several targets are Y1, Y2, … as everywhere (its own fit's words)
            target = None if e.target is None else (
                target_names[e.target] if target_names is not None else f"Y{e.target + 1}")
            check_binary_targets(y, e.key, label if target is None else f"{label} ({target})")


def _outputs(model: Any) -> tuple[MetricOutput, ...] | None:
    """The model's ``metric_outputs``; a generated graph module prints each as a plain tuple (name, keys, output, target)."""
    outputs = getattr(model, "metric_outputs", None)
    if outputs is None:
        return None
    return tuple(o if isinstance(o, MetricOutput) else MetricOutput(o[0], frozenset(o[1]), o[2], o[3]) for o in outputs)


def per_output_spec(model: Any, metrics: Mapping[Any, object]) -> dict[str, list[Any]]:
    """A dict of metrics keyed by output names or aliases → ``{output name: [metric objects]}`` in the model's order
    (:func:`symdl.backends.runtime_data.by_output`, which a generated module's own ``fit`` copies)."""
    return {name: metric_objects(values) for name, values in by_output(metrics, _outputs(model)).items()}


def track(model: Any, metrics: Sequence[object] | Mapping[Any, object], targets: int, what: str) -> TrackedMetrics:
    """The metrics ``metrics`` of ``fit`` / ``evaluate`` on ``model``, with ``targets`` data targets, as tracked entries.

    One output and one target: the metrics as given, keys their names. Several outputs: one entry per (output,
    metric), keys ``<output>_<metric>``, an object used at two outputs copied so each streams its own state.
    """
    if isinstance(metrics, TrackedMetrics):
        return metrics
    outputs = _outputs(model)
    width = len(getattr(model, "output_widths", ())) or 1
    if isinstance(metrics, Mapping):
        spec = per_output_spec(model, metrics)
    else:
        objects = metric_objects(metrics)
        if not objects:
            return TrackedMetrics()
        if width == 1 and targets == 1:
            return TrackedMetrics([Tracked(metric_name(m), m) for m in objects])
        if outputs is None:
            shown = f"{width} outputs and " if width > 1 else ""
            raise ValueError(f"{what}: metrics compare one output with one target; this model has {shown}{targets} data "
                             "targets (its loss and val_loss are logged without metrics=)")
        spec = {o.name: objects for o in outputs}
    assert outputs is not None  # per_output_spec refuses a model without outputs' names
    by_name = {o.name: o for o in outputs}
    entries, used = [], set()
    for name, objects in spec.items():
        o = by_name[name]
        for m in objects:
            if id(m) in used:  # one object streams one output's state: a copy for the next
                m = copy.deepcopy(m)
                m.reset_state()
            used.add(id(m))
            if width == 1 and targets == 1:
                entries.append(Tracked(metric_name(m), m))
            else:  # forward gives a tuple only for several outputs, Y is a tuple only for several targets
                entries.append(Tracked(f"{name}_{metric_name(m)}", m, o.output if width > 1 else None,
                                       o.target if targets > 1 else None))
    return TrackedMetrics(entries)
