"""The streaming metrics as :class:`~symdl.metrics.definition.MetricSpec` s: Keras' state, update and result, in SymPy.

The per-sample terms of the regression metrics are symdl's loss rules
(:mod:`symdl.rulebook.losses`), not a second copy of their formulas: MAE's
term is ``rule("mae")`` = |ŷ − y|, MSE's is 2·``rule("mse")`` = (ŷ − y)² (the
loss has a ½, Keras' metric does not), and the notebook's ``HuberMetric`` is
``rule("huber", delta=threshold)``, the continuous Huber function.

Classification metrics threshold the prediction as Keras does: ŷ is positive
when ŷ > θ (θ = 0.5 by default), and y must be 0 or 1.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..excerpt import excerpt
from ..rulebook import rule
from .definition import A, Accumulator, MetricSpec, V, Y, ratio

__all__ = [
    "binary_accuracy", "categorical_accuracy", "f1_score", "huber", "mean", "mean_absolute_error",
    "mean_squared_error", "precision", "recall",
]

TOTAL = sp.Symbol("total", real=True)
COUNT = sp.Symbol("count", nonnegative=True)
CORRECT = sp.Symbol("correct", nonnegative=True)
TP = sp.Symbol("true_positives", nonnegative=True)
FP = sp.Symbol("false_positives", nonnegative=True)
FN = sp.Symbol("false_negatives", nonnegative=True)

_PAIR = (("y_true", Y), ("y_pred", A))


def _loss_term(name: str, **params: float) -> sp.Expr:
    """The loss rule ``name``'s L(a, y) with its parameters bound, in the metric's symbols ŷ = a and y."""
    r = rule(name, **dict[str, Any](params))
    assert r.element_wise  # the metrics' losses are element-wise rules
    a, y = r.inputs
    return r.bind(r.expr).xreplace({a: A, y: Y})


def _mean_of(kind: str, title: str, term: sp.Expr, params: dict[str, float] | None = None, note: str = "",
             inputs: tuple[tuple[str, sp.Symbol], ...] = _PAIR) -> MetricSpec:
    """total ← total + Σ w·term, count ← count + Σ w; R = total / count (0 for no samples)."""
    return MetricSpec(kind, title, inputs, (Accumulator(TOTAL, term), Accumulator(COUNT, sp.S.One)),
                      ratio(TOTAL, COUNT), params or {}, note=note)


def mean() -> MetricSpec:
    """The weighted mean of values v: total ← total + Σ w·v, count ← count + Σ w; R = total/count (Keras ``Mean``)."""
    return _mean_of("mean", "Mean", V, inputs=(("values", V),), note="the mean of a value, e.g. the loss of each batch")


def mean_absolute_error() -> MetricSpec:
    """Σ w·|ŷ − y| / Σ w over every element seen (Keras ``MeanAbsoluteError``); the term is ``rule("mae")``."""
    return _mean_of("mean_absolute_error", "Mean absolute error", _loss_term("mae"))


def mean_squared_error() -> MetricSpec:
    """Σ w·(ŷ − y)² / Σ w (Keras ``MeanSquaredError``, no ½); the term is 2·``rule("mse")``."""
    return _mean_of("mean_squared_error", "Mean squared error", 2 * _loss_term("mse"))


def huber(threshold: float = 1.0) -> MetricSpec:
    """Σ w·h_δ(ŷ − y) / Σ w with h_δ(e) = ½e² for |e| ≤ δ, δ(|e| − ½δ) otherwise (δ = threshold; the notebook's
    ``HuberMetric``, continuous at |e| = δ); the term is ``rule("huber", delta=threshold)``."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < float("inf"):
        raise ValueError(f"threshold: expected a positive number (the δ of the Huber function), got {excerpt(threshold)}")
    term = _loss_term("huber", delta=threshold)
    return _mean_of("huber", "Huber", term, {"threshold": threshold},
                    note="the continuous Huber function; the seeds' variant δ|e| − δ·2·0.5 jumps at |e| = δ")


def _threshold(threshold: float) -> sp.Expr:
    """θ as an exact number whose float is ``threshold`` (0.5 → 1/2): the printed comparison is the user's."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold: expected a number in [0, 1], got {excerpt(threshold)}")
    exact = sp.nsimplify(float(threshold))
    return exact if float(exact) == float(threshold) else sp.Rational(float(threshold))


def binary_accuracy(threshold: float = 0.5) -> MetricSpec:
    """The fraction of samples with y = [ŷ > θ]: correct ← correct + Σ w·(y if ŷ > θ else 1 − y), count ← count + Σ w."""
    theta = _threshold(threshold)
    term = sp.Piecewise((Y, A > theta), (1 - Y, True))
    return MetricSpec("binary_accuracy", "Binary accuracy", _PAIR,
                      (Accumulator(CORRECT, term), Accumulator(COUNT, sp.S.One)), ratio(CORRECT, COUNT),
                      {"threshold": threshold}, binary_labels=True)


def categorical_accuracy() -> MetricSpec:
    """The fraction of rows whose arg max of ŷ is the arg max of y: correct ← correct + Σ w·[argmax y = argmax ŷ]."""
    term = sp.Piecewise((1, sp.Eq(Y, A)), (0, True))
    return MetricSpec("categorical_accuracy", "Categorical accuracy", _PAIR,
                      (Accumulator(CORRECT, term), Accumulator(COUNT, sp.S.One)), ratio(CORRECT, COUNT),
                      argmax=True, note="y and ŷ are rows of class scores (one-hot targets); the first index wins ties")


def _confusion(threshold: float) -> dict[str, Accumulator]:
    """tp: Σ w·y·[ŷ > θ]; fp: Σ w·(1 − y)·[ŷ > θ]; fn: Σ w·y·[ŷ ≤ θ] (y ∈ {0, 1})."""
    theta = _threshold(threshold)
    return {
        "tp": Accumulator(TP, sp.Piecewise((Y, A > theta), (0, True))),
        "fp": Accumulator(FP, sp.Piecewise((1 - Y, A > theta), (0, True))),
        "fn": Accumulator(FN, sp.Piecewise((0, A > theta), (Y, True))),
    }


def precision(threshold: float = 0.5) -> MetricSpec:
    """tp / (tp + fp) over every sample seen (Keras ``Precision``); 0 when nothing was predicted positive."""
    c = _confusion(threshold)
    return MetricSpec("precision", "Precision", _PAIR, (c["tp"], c["fp"]), ratio(TP, TP + FP),
                      {"threshold": threshold}, binary_labels=True)


def recall(threshold: float = 0.5) -> MetricSpec:
    """tp / (tp + fn) over every sample seen (Keras ``Recall``); 0 when no target was positive."""
    c = _confusion(threshold)
    return MetricSpec("recall", "Recall", _PAIR, (c["tp"], c["fn"]), ratio(TP, TP + FN),
                      {"threshold": threshold}, binary_labels=True)


def f1_score(threshold: float = 0.5) -> MetricSpec:
    """2tp / (2tp + fp + fn) = 2PR/(P + R) (proven in :mod:`symdl.metrics.proofs`); 0 when tp + fp + fn = 0."""
    c = _confusion(threshold)
    return MetricSpec("f1_score", "F1 score", _PAIR, (c["tp"], c["fp"], c["fn"]), ratio(2 * TP, 2 * TP + FP + FN),
                      {"threshold": threshold}, binary_labels=True,
                      note="binary F1 of thresholded predictions; 0 where precision and recall are both 0")
