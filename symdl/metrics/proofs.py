"""Why streaming metrics stream: exact proofs, and the notebook's counterexample to averaging per-batch values.

* **Streaming is exact.** Every metric's update adds batch sums, so for two
  batches of symbolic sizes m and n the state after streaming them equals the
  state of their concatenation, Σ_{i=1}^{m} + Σ_{i=m+1}^{m+n} = Σ_{i=1}^{m+n}
  (:func:`prove_streaming_exact`); the result is a function of the state, so
  the streamed result is the one-shot result, for every split.
* **Averaging per-batch ratios is not.** For a ratio metric R = Σ num / Σ den
  (mean, MAE: den = count; precision: den = predicted positives) with batch
  values r₁, r₂ over d₁, d₂,

      R_stream − (r₁ + r₂)/2 = (r₁ − r₂)(d₁ − d₂) / (2(d₁ + d₂)),

  so the two agree exactly when the batches have equal denominators or equal
  values (:func:`averaging_gap`). The notebook's batches (section 12.3.4):
  precision 4/5 on 5 predicted positives, then 0/3 — the average is 2/5, the
  streamed value 4/8 = 1/2, the gap (4/5)(5 − 3)/(2·8) = 1/10.
* F1 = 2PR/(P + R) = 2tp/(2tp + fp + fn) for tp > 0, the form the metric keeps;
  the code form of a guarded ratio equals the ratio (:func:`symdl.metrics.definition.code_form`).

Each claim comes with a plausible wrong variant that the same check refutes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.simplify.simplify import sum_simplify

from ..symbolic.proof import Proof
from . import catalogue
from .definition import A, MetricSpec, Y, code_form

__all__ = [
    "NOTEBOOK_BATCHES", "Counterexample", "averaging_gap", "notebook_counterexample", "prove_all",
    "prove_streaming_exact",
]

#: Section 12.3.4 of the Keras notebook: (y_true, y_pred) of two batches given to ``Precision``.
NOTEBOOK_BATCHES: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((0, 1, 1, 1, 0, 1, 0, 1), (1, 1, 0, 1, 0, 1, 0, 1)),
    ((0, 1, 0, 0, 1, 0, 1, 1), (1, 0, 1, 1, 0, 0, 0, 0)),
)


def _zero(expr: sp.Expr, method: str = "simplify") -> Proof:
    return Proof(sp.simplify(expr) == 0, method)


def prove_streaming_exact(spec: MetricSpec) -> Proof:
    """State after batches 1..m and m+1..m+n (symbolic m, n ≥ 1, samples, weights and per-sample terms fₛ) − state
    of 1..m+n ≡ 0: the update s ← s + Σ w·fₛ makes every split give the one-shot state, whatever the terms."""
    return _streaming(spec, spec.step)


def _streaming(spec: MetricSpec, step: Callable[[Mapping[sp.Symbol, sp.Expr], Mapping[sp.Symbol, sp.Expr]],
                                              dict[sp.Symbol, sp.Expr]]) -> Proof:
    """:func:`prove_streaming_exact` with the update ``step`` (a wrong one in the refutation)."""
    i = sp.Symbol("i", integer=True)
    m, n = sp.symbols("m n", integer=True, positive=True)
    samples = {s: sp.IndexedBase(s.name, real=True)[i] for _, s in spec.inputs}
    w = sp.IndexedBase("w", real=True)[i]

    def sums(lo: sp.Expr, hi: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
        # f_s stands for the slot's term: the identity holds for any term, so for Huber's Piecewise as for |a − y|.
        return {acc.symbol: sp.Sum(w * sp.Function(f"f_{acc.name}", real=True)(*samples.values()), (i, lo, hi))
                for acc in spec.accumulators}

    streamed = step(step(spec.initial_state(), sums(1, m)), sums(m + 1, m + n))
    once = step(spec.initial_state(), sums(1, m + n))
    holds = all(sum_simplify(streamed[s] - once[s]) == 0 for s in spec.slots)
    return Proof(holds, "sums over adjacent ranges combine", cases=len(spec.slots))


def averaging_gap() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(streamed ratio, mean of the two batch ratios, their difference factored) for batch values r₁, r₂ over d₁, d₂ > 0."""
    r1, r2 = sp.symbols("r1 r2", real=True)
    d1, d2 = sp.symbols("d1 d2", positive=True)
    streamed = (r1 * d1 + r2 * d2) / (d1 + d2)
    averaged = (r1 + r2) / 2
    return streamed, averaged, sp.factor(streamed - averaged)


@dataclass(frozen=True)
class Counterexample:
    """The notebook's two precision batches, exactly: each batch's precision, their mean and the streamed value."""

    batch_values: tuple[sp.Rational, ...]
    averaged: sp.Rational
    streamed: tuple[sp.Rational, ...]  # the streamed value after each batch
    predicted_positives: tuple[sp.Integer, ...]


def _exact(spec: MetricSpec, batches: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]) -> Counterexample:
    """Run ``spec`` exactly (SymPy integers) over ``batches``, streamed and one batch at a time."""
    state, streamed, alone, counts = spec.initial_state(), [], [], []
    for y_true, y_pred in batches:
        samples = [{Y: sp.Integer(y), A: sp.Integer(a)} for y, a in zip(y_true, y_pred)]
        sums = spec.batch_sums(samples)
        state = spec.step(state, sums)
        streamed.append(spec.value(state))
        batch_state = spec.step(spec.initial_state(), sums)
        alone.append(spec.value(batch_state))
        counts.append(sum(batch_state[s] for s in spec.slots))  # tp + fp: what precision divides by
    return Counterexample(tuple(alone), sp.Add(*alone) / len(alone), tuple(streamed), tuple(counts))


def notebook_counterexample() -> Counterexample:
    """Precision on the notebook's batches: batch values (4/5, 0), mean 2/5, streamed (4/5, 1/2), predicted positives (5, 3)."""
    return _exact(catalogue.precision(), NOTEBOOK_BATCHES)


def prove_all() -> dict[str, Proof]:
    """Every claim of this module (True) and its wrong variant refuted (the entry holds when the wrong one fails)."""
    out: dict[str, Proof] = {}
    code_forms: dict[sp.Expr, Proof] = {}
    for make in (catalogue.mean, catalogue.mean_absolute_error, catalogue.mean_squared_error, catalogue.huber,
                 catalogue.binary_accuracy, catalogue.categorical_accuracy, catalogue.precision, catalogue.recall,
                 catalogue.f1_score):
        spec = make()
        out[f"{spec.kind}: streamed state = one-shot state (two batches of symbolic sizes)"] = prove_streaming_exact(spec)
        if spec.result not in code_forms:  # mean, MAE, MSE and Huber share total/count
            code_forms[spec.result] = _zero(code_form(spec.result) - spec.result)
        out[f"{spec.kind}: code form of the result = the result"] = code_forms[spec.result]
    forgetful = _streaming(catalogue.mean(), lambda state, sums: dict(sums))
    out["refuted: an update that keeps only the last batch (s ← S) streams exactly"] = Proof(not forgetful, forgetful.method)
    streamed, averaged, gap = averaging_gap()
    r1, r2 = sp.symbols("r1 r2", real=True)  # the same symbols as averaging_gap's
    d1, d2 = sp.symbols("d1 d2", positive=True)
    expected = (r1 - r2) * (d1 - d2) / (2 * (d1 + d2))
    out["R_stream − mean of batch values = (r₁ − r₂)(d₁ − d₂)/(2(d₁ + d₂))"] = _zero(streamed - averaged - expected)
    out["refuted: the gap without the ½"] = Proof(sp.simplify(streamed - averaged - 2 * expected) != 0, "simplify")
    out["refuted: mean of batch values = streamed value in general"] = Proof(sp.simplify(streamed - averaged) != 0, "simplify")
    out["equal denominators d₁ = d₂ ⇒ equal"] = _zero((streamed - averaged).xreplace({d2: d1}))
    out["equal batch values r₁ = r₂ ⇒ equal"] = _zero((streamed - averaged).xreplace({r2: r1}))
    ce = notebook_counterexample()
    exact = (ce.batch_values == (sp.Rational(4, 5), 0) and ce.averaged == sp.Rational(2, 5)
             and ce.streamed == (sp.Rational(4, 5), sp.Rational(1, 2)) and ce.predicted_positives == (5, 3))
    out["notebook: batch precisions 4/5, 0; mean 2/5; streamed 4/5 then 1/2"] = Proof(exact, "exact arithmetic")
    at_notebook = gap.xreplace({r1: ce.batch_values[0], r2: ce.batch_values[1],
                                d1: ce.predicted_positives[0], d2: ce.predicted_positives[1]})
    out["notebook: the gap formula gives 1/2 − 2/5 = 1/10"] = Proof(at_notebook == ce.streamed[-1] - ce.averaged, "exact")
    tp, fp, fn = sp.symbols("tp fp fn", positive=True)
    p, r = tp / (tp + fp), tp / (tp + fn)
    out["F1: 2PR/(P + R) = 2tp/(2tp + fp + fn)"] = _zero(2 * p * r / (p + r) - 2 * tp / (2 * tp + fp + fn))
    out["refuted: F1 = (P + R)/2"] = Proof(sp.simplify((p + r) / 2 - 2 * tp / (2 * tp + fp + fn)) != 0, "simplify")
    d = sp.Symbol("d", nonnegative=True)
    num = sp.Symbol("n", real=True)
    smoothed = sp.Piecewise((0, sp.Eq(d, 0)), (num / (d + 1), True))
    out["refuted: the code form n/(d + 1) (smoothing) = the ratio"] = Proof(
        sp.simplify(smoothed - sp.Piecewise((0, sp.Eq(d, 0)), (num / d, True))) != 0, "simplify")
    return out
