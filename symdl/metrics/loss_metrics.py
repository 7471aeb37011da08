"""A loss as a metric: R = Σᵢⱼ wᵢ·L(ŷᵢⱼ, yᵢⱼ) / Σᵢⱼ wᵢ, Keras' ``MeanMetricWrapper`` of a loss.

Keras streams a loss function given as a metric (``metrics=[create_huber(2.0)]``,
``keras.losses.huber``) through ``MeanMetricWrapper``: the mean of the
loss's per-sample values over every sample seen, weighted by the sample
weights. (A ``keras.losses.Huber(2.)`` object returns its batch mean, which
``Mean`` counts as one value per batch: an average of batch means, which
differs where the batches differ in size; symdl's is the per-sample mean.) Here a loss rule (``symdl.rule("huber", delta=2.0)``, or its name) or
a typed formula of the prediction and the target (the same rules ``loss=``
takes) becomes the mean spec of :mod:`symdl.metrics.catalogue` with the
rule's own expression as its per-sample term, so its numpy, JAX and torch code
is printed from SymPy like every other metric's and can be printed into a
generated module. The mean over a row's elements of the per-sample values
Keras takes first gives the same result as the element-wise mean here: rows
have equal widths and a row's weight is every one of its elements' weight.

A plain Python callable ``fn(y_true, y_pred)`` returning per-sample values
(rows first) cannot be printed; :class:`FunctionMetric` runs it and streams its
values through :class:`symdl.metrics.Mean`'s printed code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..excerpt import excerpt
from ..rulebook.derivation import Derives
from ..rulebook.registry import rule, rules
from .catalogue import _mean_of
from .definition import A, MetricSpec, Y
from .streaming import Mean, Metric

__all__ = ["FunctionMetric", "LossMetric", "keras_name", "loss_mean", "loss_metric_kinds"]

_SUFFIX = "_loss"


def _element_wise_losses() -> list[str]:
    """The built-in element-wise loss rules (a vector loss such as softmax cross-entropy is not one)."""
    return [name for name, kind in rules().items() if kind == "loss" and rule(name).element_wise]


def loss_metric_kinds() -> list[str]:
    """The kinds of the built-in loss metrics: ``<rule>_loss`` for every element-wise loss rule, sorted."""
    return sorted(f"{name}{_SUFFIX}" for name in _element_wise_losses())


def _accepted() -> str:
    return (f"a loss rule ({', '.join(_element_wise_losses())}), a formula of the prediction and the target "
            "(symdl.formula_rule(text, wrt='a', symbols=['y'])) or a Python function (y_true, y_pred) -> per-sample values")


def _checked(loss: object) -> Any:
    """``loss`` as an element-wise rule of (prediction, target) with every parameter valued; else one ValueError line."""
    if isinstance(loss, str):
        if loss not in _element_wise_losses():
            raise ValueError(f"metrics: {loss!r} is not an element-wise loss rule; accepted: {_accepted()}")
        loss = rule(loss)
    if not isinstance(loss, Derives):
        raise ValueError(f"metrics: expected {_accepted()}; got {type(loss).__name__}")
    found: Any = loss
    if not found.element_wise or found.kind not in ("loss", "formula"):
        what = "a vector loss" if not found.element_wise else f"a{'n' if found.kind[0] in 'aeiou' else ''} {found.kind}"
        raise ValueError(f"metrics: {found!r} is {what}; accepted: {_accepted()}")
    if len(found.inputs) != 2:
        raise ValueError(f"metrics: {found!r} takes {len(found.inputs)} input(s); a loss metric takes 2, the prediction "
                         "(wrt) and the target (symbols=[...])")
    missing = sorted(s.name for s in found.param_symbols.values() if s.name not in found.params)
    if missing:
        raise ValueError(f"metrics: parameter(s) {', '.join(missing)} of {found!r} have no value")
    return found


def loss_mean(loss: object) -> MetricSpec:
    """total ← total + Σ w·L(ŷ, y), count ← count + Σ w; R = total/count, L the loss rule's stable (printed) form.

    ``loss``: an element-wise loss rule, its name, or a formula rule of (prediction, target) with its parameters
    valued. The kind is ``<rule>_loss`` (``huber_loss``), ``formula_loss`` for a formula.
    """
    found = _checked(loss)
    a, y = found.inputs
    term = found.numeric_forward_expr().xreplace({a: A, y: Y})
    if found.kind == "formula":
        kind, title, params = f"formula{_SUFFIX}", f"Mean of {found.name}", {}
    else:
        kind, title = f"{found.name}{_SUFFIX}", f"Mean {found.name.replace('_', ' ')} loss"
        params = {k: float(v) for k, v in found.params.items()}
    return _mean_of(kind, title, term, params, note=f"Keras' MeanMetricWrapper of the loss {found!r}")


class LossMetric(Metric):
    """The weighted mean of a loss rule's or formula's values over every element seen (Keras' ``MeanMetricWrapper``).

    ``LossMetric(symdl.rule("huber", delta=2.0))`` streams Σ w·h₂(ŷ − y) / Σ w; the default ``name`` is the
    rule's (a formula's is its text). A formula metric is not saved with a model (its config has no text).
    """

    def __init__(self, loss: object, name: str | None = None) -> None:
        found = _checked(loss)
        super().__init__(loss_mean(found), found.name if name is None else name)
        self.loss = found

    def config(self) -> dict[str, object]:
        """``{"metric": "<rule>_loss", "name": name, "params": {…}}``; a formula's text has no place in it."""
        if self.loss.kind == "formula":
            raise ValueError(f"metrics: the formula metric {self.name!r} cannot be saved (a metric config holds a "
                             "kind and numbers, not formula text); save the model without it or use a loss rule")
        return super().config()

    def __repr__(self) -> str:
        return f"symdl.metrics.LossMetric({self.loss!r}, name={self.name!r})"


def keras_name(fn: object) -> str:
    """A callable's log key as Keras' ``get_object_name``: its ``name``, else its ``__name__`` or class name in snake case."""
    name = getattr(fn, "name", None)
    if isinstance(name, str) and name:
        return name
    raw = getattr(fn, "__name__", None)
    raw = raw if isinstance(raw, str) else type(fn).__name__
    raw = re.sub(r"\W+", "", raw)
    raw = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", raw)
    return re.sub("([a-z])([A-Z])", r"\1_\2", raw).lower()


def _rows(x: Any) -> tuple[int, ...]:
    """The shape of an array of any library (a torch tensor's too), or of a list by numpy."""
    shape = getattr(x, "shape", None)
    return tuple(int(n) for n in (shape if shape is not None else np.shape(x)))


class FunctionMetric:
    """The weighted mean of a Python function's per-sample values: Σ wᵢ·vᵢ / Σ wᵢ with v = fn(y_true, y_pred).

    The values stream through :class:`symdl.metrics.Mean`'s printed code; an array of values per sample (one
    row per sample, more axes averaged within the row) gives Keras' ``MeanMetricWrapper(fn)`` result. The
    function runs in Python: it is not printed into a generated module and not saved with a model.
    """

    def __init__(self, fn: Callable[[Any, Any], Any], name: str | None = None) -> None:
        if not callable(fn) or isinstance(fn, (Derives, Metric, type)):
            raise ValueError(f"metrics: expected a function (y_true, y_pred) -> per-sample values, got {excerpt(fn)}")
        self.fn = fn
        self.name = keras_name(fn) if name is None else name
        if not (isinstance(self.name, str) and self.name):
            raise ValueError(f"metrics: the name of {fn!r} must be a non-empty str, got {self.name!r}")
        self.mean = Mean(name=self.name)

    def update_state(self, y_true: object, y_pred: object, sample_weight: object = None) -> None:
        """v = fn(y_true, y_pred), then total ← total + Σ w·v, count ← count + Σ w (Mean's update, float64)."""
        values = self.fn(y_true, y_pred)
        rows, shape = _rows(y_pred)[:1], _rows(values)
        if not rows or shape[:1] != rows:
            raise ValueError(f"metrics: {self.name} returned values of shape {shape}; expected per-sample values, "
                             f"an array with the batch's {rows[0] if rows else 'rows'} rows first")
        self.mean.update_state(values, sample_weight=sample_weight)

    def result(self) -> float:
        """Σ w·v / Σ w over every sample seen (0.0 before the first)."""
        return self.mean.result()

    def reset_state(self) -> None:
        self.mean.reset_state()

    def __call__(self, y_true: object, y_pred: object, sample_weight: object = None) -> float:
        """``update_state`` then ``result``."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    @property
    def state(self) -> dict[str, float]:
        return self.mean.state

    def __repr__(self) -> str:
        return f"symdl.metrics.FunctionMetric({getattr(self.fn, '__qualname__', self.fn)!r}, name={self.name!r})"
