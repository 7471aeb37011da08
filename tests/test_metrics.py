"""Streaming metrics: the notebook's precision batches, hand-written references, streaming = one-shot for every split,
the JAX and torch sources, the proofs, the registry and configs, and one-line errors for bad input."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl import metrics as M
from symdl.metrics import proofs
from tests.generated_modules import load_module

BATCH_1 = ([0, 1, 1, 1, 0, 1, 0, 1], [1, 1, 0, 1, 0, 1, 0, 1])
BATCH_2 = ([0, 1, 0, 0, 1, 0, 1, 1], [1, 0, 1, 1, 0, 0, 0, 0])


# --- hand-written references (tests only) ------------------------------------------------------------------------


def _wmean(values, w):
    values = np.asarray(values, dtype=np.float64)
    w = np.broadcast_to(np.reshape(w, np.shape(w) + (1,) * (values.ndim - np.ndim(w))), values.shape)
    return float(np.sum(w * values) / np.sum(w)) if np.sum(w) != 0 else 0.0


def _confusion(y, p, w, threshold):
    y, p = np.asarray(y, float), np.asarray(p, float)
    w = np.broadcast_to(np.reshape(w, np.shape(w) + (1,) * (y.ndim - np.ndim(w))), y.shape)
    positive = p > threshold
    return (float(np.sum(w[(y == 1) & positive])), float(np.sum(w[(y == 0) & positive])),
            float(np.sum(w[(y == 1) & ~positive])))


def _ratio(n, d):
    return n / d if d else 0.0


def _huber(e, delta):
    return np.where(np.abs(e) <= delta, 0.5 * e * e, delta * (np.abs(e) - 0.5 * delta))


REFERENCES = {
    "mean_absolute_error": lambda y, p, w: _wmean(np.abs(np.subtract(p, y)), w),
    "mean_squared_error": lambda y, p, w: _wmean(np.square(np.subtract(p, y)), w),
    "huber": lambda y, p, w: _wmean(_huber(np.subtract(p, y, dtype=float), 1.5), w),
    "binary_accuracy": lambda y, p, w: _wmean(np.equal(y, np.greater(p, 0.5)), w),
    "categorical_accuracy": lambda y, p, w: _wmean(np.equal(np.argmax(y, -1), np.argmax(p, -1)), w),
    "precision": lambda y, p, w: (lambda c: _ratio(c[0], c[0] + c[1]))(_confusion(y, p, w, 0.5)),
    "recall": lambda y, p, w: (lambda c: _ratio(c[0], c[0] + c[2]))(_confusion(y, p, w, 0.5)),
    "f1_score": lambda y, p, w: (lambda c: _ratio(2 * c[0], 2 * c[0] + c[1] + c[2]))(_confusion(y, p, w, 0.5)),
}


def _make(kind):
    return M.metric(kind, threshold=1.5) if kind == "huber" else M.metric(kind)


# --- the notebook ------------------------------------------------------------------------------------------------


def test_the_notebooks_two_precision_batches_give_0_8_then_0_5():
    m = M.Precision()
    assert m(*BATCH_1) == pytest.approx(0.8, abs=1e-15)
    assert m(*BATCH_2) == 0.5  # 4 true positives of 8 predicted positives
    assert m.state == {"true_positives": 4.0, "false_positives": 4.0}


def test_averaging_the_batch_precisions_is_wrong():
    per_batch = [M.Precision()(*BATCH_1), M.Precision()(*BATCH_2)]
    assert per_batch == [pytest.approx(0.8, abs=1e-15), 0.0]
    assert np.mean(per_batch) == pytest.approx(0.4, abs=1e-15)
    streamed = M.Precision()
    streamed.update_state(*BATCH_1)
    streamed.update_state(*BATCH_2)
    assert streamed.result() == 0.5 != np.mean(per_batch)


def test_reset_state_starts_again_and_an_empty_metric_is_0():
    m = M.Precision()
    assert m.result() == 0.0
    m.update_state(*BATCH_1)
    m.reset_state()
    assert m.result() == 0.0 and m.state == {"true_positives": 0.0, "false_positives": 0.0}
    assert m(*BATCH_2) == 0.0  # no true positive among 3 predicted positives
    mae = M.MeanAbsoluteError()
    mae.update_state(np.zeros(0), np.zeros(0))  # an empty batch: count stays 0, no division by zero
    assert mae.result() == 0.0


def test_keras_names_and_the_mean_of_a_value():
    m = M.Mean(name="loss")
    assert m.name == "loss" and M.MeanAbsoluteError().name == "mean_absolute_error"
    m.update_state([1.0, 2.0, 3.0])
    assert m([10.0], sample_weight=[3.0]) == pytest.approx((6 + 30) / 6)


def test_huber_metric_is_the_continuous_huber_rule_not_the_seeds_variant():
    m = M.HuberMetric(threshold=2.0)
    e = np.array([-3.0, -2.0, -1.0, 0.5, 2.0, 2.0 + 1e-9, 5.0])
    assert m(np.zeros_like(e), e) == pytest.approx(float(np.mean(_huber(e, 2.0))), rel=1e-15)
    # The seeds' δ|e| − δ·2·0.5 gives δ² − δ at |e| = δ against ½δ² inside: a jump of 0.5 for δ = 1. Ours is continuous.
    one = M.HuberMetric(threshold=1.0)
    below, above = one([0.0], [1.0]), M.HuberMetric(threshold=1.0)([0.0], [1.0 + 1e-12])
    assert abs(below - above) < 1e-11 and below == 0.5


def test_huber_metric_matches_torch_huber_loss():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(50, 3)) * 3, rng.normal(size=(50, 3)) * 3
    expected = torch.nn.functional.huber_loss(torch.tensor(p), torch.tensor(y), delta=1.5).item()
    assert M.HuberMetric(1.5)(y, p) == pytest.approx(expected, rel=1e-13)


# --- every metric: reference and streaming ---------------------------------------------------------------------


@st.composite
def _batches(draw, kind):
    n = draw(st.integers(0, 24))
    if kind == "categorical_accuracy":
        k = draw(st.integers(1, 4))
        labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
        y = np.eye(k)[labels].reshape(n, k)
        p = np.array(draw(st.lists(st.floats(0, 1), min_size=n * k, max_size=n * k))).reshape(n, k)
    elif kind in ("binary_accuracy", "precision", "recall", "f1_score"):
        y = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
        p = np.array(draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]) | st.floats(0, 1), min_size=n, max_size=n)))
    else:
        y = np.array(draw(st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n)))
        p = np.array(draw(st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.floats(0.0, 4.0), min_size=n, max_size=n)))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return y, p, w, cuts


@pytest.mark.parametrize("kind", sorted(REFERENCES))
@settings(max_examples=25)
@given(data=st.data())
def test_every_metric_equals_its_reference_and_streams_exactly_over_any_split(kind, data):
    y, p, w, cuts = data.draw(_batches(kind))
    for weights in (np.ones(len(y)), w):
        once = _make(kind)
        once.update_state(y, p, sample_weight=weights)
        assert once.result() == pytest.approx(REFERENCES[kind](y, p, weights), rel=1e-12, abs=1e-12)
        streamed = _make(kind)
        for lo, hi in zip([0, *cuts], [*cuts, len(y)]):
            streamed.update_state(y[lo:hi], p[lo:hi], sample_weight=weights[lo:hi])
        assert streamed.result() == pytest.approx(once.result(), rel=1e-12, abs=1e-12)


def _keras_mean_of(per_element, w):
    """Keras 3's MeanMetricWrapper as keras/src/metrics/reduction_metrics.py computes it: fn reduces each sample
    over its last axis by the mean, values · w, total += Σ, count += Σ w (the samples, not the elements)."""
    per_sample = np.mean(per_element, axis=-1)
    return float(np.sum(per_sample * w) / np.sum(w)) if np.sum(w) != 0 else 0.0


KERAS_TERMS = {"mean_absolute_error": lambda e: np.abs(e), "mean_squared_error": np.square, "huber": lambda e: _huber(e, 1.5)}


@pytest.mark.parametrize("kind", sorted(KERAS_TERMS))
@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 4)), seed=st.integers(0, 2**16), weighted=st.booleans())
def test_regression_metrics_of_rows_are_keras_means_of_per_sample_means(kind, shape, seed, weighted):
    """Several outputs per sample, one weight per row (or none): symdl's Σ w·f / Σ w over the elements equals Keras'
    mean over samples of each sample's mean over its outputs."""
    rng = np.random.default_rng(seed)
    y, p = rng.normal(size=shape) * 3, rng.normal(size=shape) * 3
    w = rng.uniform(0, 2, size=shape[0]) if weighted else np.ones(shape[0])
    m = _make(kind)
    m.update_state(y, p, sample_weight=w if weighted else None)
    assert m.result() == pytest.approx(_keras_mean_of(KERAS_TERMS[kind](p - y), w), rel=1e-12, abs=1e-14)


@settings(max_examples=25)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30), st.lists(st.integers(0, 30), max_size=4))
def test_mean_streams_exactly_over_any_split(values, cuts):
    cuts = sorted(min(c, len(values)) for c in cuts)
    m = M.Mean()
    for lo, hi in zip([0, *cuts], [*cuts, len(values)]):
        m.update_state(values[lo:hi])
    assert m.result() == pytest.approx(float(np.mean(values)), rel=1e-12, abs=1e-9)


def test_state_is_float64_whatever_the_input_dtype():
    m = M.MeanSquaredError()
    m.update_state(np.zeros(3, np.float32), np.full(3, 1e20, np.float32))  # (1e20)² overflows float32
    assert m.result() == pytest.approx(1e40, rel=1e-6)


# --- generated sources ---------------------------------------------------------------------------------------------


def _random_batches(kind, rng):
    out = []
    for n in (5, 0, 7):
        if kind == "categorical_accuracy":
            y, p = np.eye(3)[rng.integers(0, 3, n)].reshape(n, 3), rng.random((n, 3))
        elif kind in ("binary_accuracy", "precision", "recall", "f1_score"):
            y, p = rng.integers(0, 2, n).astype(float), rng.random(n)
        else:
            y, p = rng.normal(size=n), rng.normal(size=n) * 2
        out.append((y, p, rng.random(n)))
    return out


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_torch_and_jax_sources_give_the_numpy_numbers(backend, tmp_path):
    pytest.importorskip(backend)
    kinds = sorted(REFERENCES)
    module = load_module(M.metric_module_source([_make(k) for k in kinds], backend), tmp_path, f"metrics_{backend}")
    rng = np.random.default_rng(1)
    for kind in kinds:
        init, update, result = (getattr(module, f"{kind}_{f}") for f in ("init", "update", "result"))
        if backend == "jax":
            import jax
            update, result = jax.jit(update), jax.jit(result)
        reference, state = _make(kind), init()
        for y, p, w in _random_batches(kind, rng):
            reference.update_state(y, p, sample_weight=w)
            state = update(state, y, p, sample_weight=w)
            got = float(result(state))
            assert str(result(state).dtype).endswith("float64")
            assert got == pytest.approx(reference.result(), rel=1e-13, abs=1e-15), kind


def test_torch_source_checks_shapes_in_one_line(tmp_path):
    pytest.importorskip("torch")
    module = load_module(M.metric_module_source([M.Recall()], "torch"), tmp_path, "recall_torch")
    with pytest.raises(ValueError, match=r"^recall_update: y_true has shape \(3,\) but y_pred has \(2,\)$"):
        module.recall_update(module.recall_init(), [0, 1, 1], [0.5, 0.2])


def test_metric_source_prints_the_rules_terms_and_a_guarded_result():
    source = M.metric_source(M.MeanAbsoluteError(), "numpy", prefix="val_mae")
    assert "numpy.sum(w * numpy.abs(a - y))" in source
    assert "def val_mae_init():" in source and "def val_mae_result(state):" in source
    assert "total/numpy.where(numpy.equal(count, 0), _t(1), count)" in source
    with pytest.raises(ValueError, match="prefix"):
        M.metric_source(M.Mean(), "numpy", prefix="_private")
    with pytest.raises(ValueError, match="unknown backend"):
        M.metric_source(M.Mean(), "tensorflow")
    with pytest.raises(TypeError, match="expected a symdl metric"):
        M.metric_source("mae", "numpy")


def test_a_metric_spec_states_update_and_result_as_sympy():
    spec = M.Precision().spec
    assert [str(e) for e in spec.update()] == ["(true_positives, S_true_positives + true_positives)",
                                               "(false_positives, S_false_positives + false_positives)"]
    assert len(spec.equations()) == 3


# --- proofs ----------------------------------------------------------------------------------------------------


def test_the_proofs_hold_and_their_wrong_variants_are_refuted():
    results = proofs.prove_all()
    assert all(results.values()), [k for k, v in results.items() if not v]
    assert sum(k.startswith("refuted") for k in results) >= 4
    assert sum("streamed state = one-shot state" in k for k in results) == len(M.metric_names())


def test_the_notebook_counterexample_is_exact():
    ce = proofs.notebook_counterexample()
    assert [str(v) for v in (*ce.batch_values, ce.averaged, *ce.streamed)] == ["4/5", "0", "2/5", "4/5", "1/2"]
    *_, gap = proofs.averaging_gap()
    assert str(gap) == "(d1 - d2)*(r1 - r2)/(2*(d1 + d2))"


# --- registry, config ------------------------------------------------------------------------------------------


def test_registry_and_config_round_trip_through_json():
    assert M.metric_names() == sorted(M.METRICS) and "f1_score" in M.metric_names()
    assert isinstance(M.metric("mae"), M.MeanAbsoluteError) and isinstance(symdl.metrics.metric("mse"), M.MeanSquaredError)
    m = M.metric("precision", threshold=0.25, name="val_precision")
    config = json.loads(json.dumps(m.config()))
    assert config == {"metric": "precision", "name": "val_precision", "params": {"threshold": 0.25}}
    again = M.metric_from_config(config)
    assert type(again) is M.Precision and again.name == "val_precision" and again.params == {"threshold": 0.25}
    assert again([1, 0], [0.3, 0.3]) == 0.5  # 0.3 > 0.25: one true and one false positive
    assert m.get_config() == {"name": "val_precision", "threshold": 0.25}
    assert M.metric(m) is m and M.metric(m, threshold=0.5).params == {"threshold": 0.5}


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: M.MeanAbsoluteError().update_state([1.0, 2.0], [1.0]), ValueError, r"y_true has shape \(2,\) but y_pred has \(1,\)"),
    (lambda: M.MeanAbsoluteError().update_state(["a"], ["b"]), TypeError, "expected real numbers, got dtype <U1"),
    (lambda: M.MeanAbsoluteError().update_state([1.0], [float("nan")]), ValueError, "y_pred: contains NaN or infinity"),
    (lambda: M.Precision().update_state([2, 0], [0.1, 0.9]), ValueError, "y_true must be 0 or 1"),
    (lambda: M.Mean().update_state([1.0], [2.0]), TypeError, "takes values"),
    (lambda: M.Mean().update_state([1.0, 2.0], sample_weight=[1.0, 2.0, 3.0]), ValueError, "sample_weight has shape"),
    (lambda: M.Mean().update_state([[1.0], [2]], sample_weight=[[1.0, 2.0]]), ValueError, "sample_weight has shape"),
    (lambda: M.CategoricalAccuracy().update_state(1.0, 1.0), ValueError, "rows of class scores"),
    (lambda: M.Precision(threshold=2), ValueError, r"threshold: expected a number in \[0, 1\]"),
    (lambda: M.HuberMetric(threshold=-1.0), ValueError, r"threshold: expected a positive number"),
    (lambda: M.HuberMetric(threshold=float("inf")), ValueError, r"threshold: expected a positive number"),
    (lambda: M.metric("accuracy"), ValueError, "unknown metric 'accuracy'"),
    (lambda: M.metric("precision", alpha=1), ValueError, "^metric 'precision': no parameter 'alpha'; accepted: threshold, name$"),
    # the keywords are named, and a near miss is suggested, as optimizer() does (not Python's bare unexpected keyword)
    (lambda: M.metric("precision", treshold=0.3), ValueError, "^metric 'precision': no parameter 'treshold'; did you mean 'threshold'\\? accepted"),
    (lambda: M.metric("huber", delta=2.0), ValueError, "^metric 'huber': no parameter 'delta'; accepted: threshold, name$"),
    (lambda: M.metric_from_config({"metric": "mae"}), ValueError, "a metric config is"),
    # the class without its (): Keras users write keras.metrics.MeanAbsoluteError() as well
    (lambda: M.metric(M.MeanAbsoluteError), ValueError,
     r"^metric: MeanAbsoluteError is a class; give an instance, MeanAbsoluteError\(\), or its name 'mean_absolute_error'$"),
    (lambda: M.metric(M.Metric), ValueError, r"^metric: Metric is a class; give an instance, Metric\(\)$"),
    (lambda: M.Mean(name=""), TypeError, "name must be a non-empty str"),
])
def test_bad_input_is_one_line(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert "\n" not in str(info.value)


# --- the guide ------------------------------------------------------------------------------------------------------


def test_the_metrics_guide_and_module_examples_run_as_written():
    guide = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
    result = doctest.testfile(str(guide), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 12 and result.failed == 0
    assert doctest.testmod(M.streaming).failed == 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_a_term_that_is_a_sum_is_weighted_whole(seed):
    """Σ w·(t₁ + t₂), not Σ (w·t₁ + t₂): the printed update parenthesises a sum (a loss rule's stable form is one)."""
    from symdl.metrics.definition import A, Y

    spec = M.MetricSpec("sum_term", "Sum term", (("y_true", Y), ("y_pred", A)),
                        (M.Accumulator(sympy.Symbol("total"), (A - Y) ** 2 + A), M.Accumulator(sympy.Symbol("count"), sympy.S.One)),
                        M.ratio(sympy.Symbol("total"), sympy.Symbol("count")))
    rng = np.random.default_rng(seed)
    y, p, w = rng.normal(size=6), rng.normal(size=6), rng.uniform(0, 2, 6)
    m = M.Metric(spec)
    m.update_state(y, p, sample_weight=w)
    assert m.result() == pytest.approx(float(np.sum(w * ((p - y) ** 2 + p)) / np.sum(w)), rel=1e-12)
