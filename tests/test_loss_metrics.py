"""A loss as a metric (Keras' ``MeanMetricWrapper``): a loss rule, a typed formula or a Python function in fit/evaluate.

The reference is Keras 3's arithmetic written out by hand from keras/src/metrics/reduction_metrics.py
(``reduce_to_samplewise_values`` and ``Mean.update_state``): values reduced to the weights' rank by the mean, times
the weights, then to one value per sample; total += Σ values, count += Σ weights (or the number of samples).
"""

from __future__ import annotations

import numpy as np
import pytest
from fit_helpers import copy, data, same_weights
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export.standalone import network_module
from symdl.graph import Concatenate, Dense, Input, Model
from symdl.metrics import (
    FunctionMetric,
    HuberMetric,
    LossMetric,
    metric,
    metric_from_config,
)
from symdl.saving.schema import SavedModelError
from symdl.training import evaluate


class KerasMeanMetricWrapper:
    """Keras 3's MeanMetricWrapper(fn) on numpy arrays, by hand (no mask, float64)."""

    def __init__(self, fn):
        self.fn, self.total, self.count = fn, 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self.fn(y_true, y_pred), dtype=np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if values.ndim > w.ndim:  # reduce_fn = mean over the axes the weights do not have
                values = np.mean(values, axis=tuple(range(w.ndim, values.ndim)))
            w = np.broadcast_to(w, values.shape)
            values = values * w
            if w.ndim > 1:
                w = np.mean(w, axis=tuple(range(1, w.ndim)))
        if values.ndim > 1:
            values = np.mean(values, axis=tuple(range(1, values.ndim)))
        self.total += float(np.sum(values))
        if sample_weight is not None:
            self.count += float(np.sum(w))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self):
        return self.total / self.count if self.count != 0 else 0.0


def huber_fn(y_true, y_pred):
    """The notebook's create_huber(2.0): tf.where(|e| < 2, e²/2, 2|e| − 2), written with numpy."""
    error = y_true - y_pred
    return np.where(np.abs(error) < 2.0, error**2 / 2, 2.0 * np.abs(error) - 2.0)


HUBER_FORMULA = "where(abs(a - y) < d, (a - y)**2/2, d*abs(a - y) - d**2/2)"

# Each loss rule by hand (the rules' L(a, y), a the prediction), for the Keras reference.
LOSSES = {
    "mse": lambda y, a: (a - y) ** 2 / 2,
    "mae": lambda y, a: np.abs(a - y),
    "huber": lambda y, a: np.where(np.abs(a - y) <= 1.0, (a - y) ** 2 / 2, np.abs(a - y) - 0.5),
    "log_cosh": lambda y, a: np.log(np.cosh(a - y)),
    "binary_cross_entropy": lambda y, a: -y * np.log(1 / (1 + np.exp(-a))) - (1 - y) * np.log(1 - 1 / (1 + np.exp(-a))),
}


def _loss_metrics():
    """Four ways to say the notebook's Huber(2) metric: the rule, its kind by name, the typed formula, the function."""
    return [LossMetric(symdl.rule("huber", delta=2.0)), metric("huber_loss", delta=2.0),
            metric(symdl.formula_rule(HUBER_FORMULA, wrt="a", symbols=["y"], params={"d": 2.0})), FunctionMetric(huber_fn)]


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 9), width=st.integers(1, 3), seed=st.integers(0, 2**16),
       weights=st.sampled_from(["none", "rows", "elements"]), cuts=st.lists(st.integers(0, 9), max_size=3))
def test_a_rule_a_formula_and_a_function_stream_keras_mean_metric_wrappers_numbers(rows, width, seed, weights, cuts):
    rng = np.random.default_rng(seed)
    y, p = rng.normal(size=(rows, width)) * 3, rng.normal(size=(rows, width)) * 3
    w = {"none": None, "rows": rng.uniform(0, 2, rows), "elements": rng.uniform(0, 2, (rows, width))}[weights]
    cuts = sorted(min(c, rows) for c in cuts)
    reference, ours = KerasMeanMetricWrapper(huber_fn), _loss_metrics()
    for lo, hi in zip([0, *cuts], [*cuts, rows]):
        if hi == lo:
            continue
        wb = None if w is None else w[lo:hi]
        reference.update_state(y[lo:hi], p[lo:hi], sample_weight=wb)
        for m in ours:
            m.update_state(y[lo:hi], p[lo:hi], sample_weight=wb)
    for m in ours:
        assert m.result() == pytest.approx(reference.result(), rel=1e-12, abs=1e-14), m


@pytest.mark.parametrize("name", sorted(LOSSES))
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), weighted=st.booleans())
def test_every_element_wise_loss_rule_is_keras_mean_of_its_values(name, seed, weighted):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (7, 2)).astype(float) if name == "binary_cross_entropy" else rng.normal(size=(7, 2))
    p = rng.normal(size=(7, 2)) * 2
    w = rng.uniform(0, 2, 7) if weighted else None
    reference = KerasMeanMetricWrapper(LOSSES[name])
    reference.update_state(y, p, sample_weight=w)
    for m in (metric(symdl.rule(name)), metric(f"{name}_loss")):
        m.update_state(y, p, sample_weight=w)
        assert m.result() == pytest.approx(reference.result(), rel=1e-12, abs=1e-14)


def test_names_are_keras_keys_and_configs_round_trip():
    assert [m.name for m in _loss_metrics()] == ["huber", "huber_loss", HUBER_FORMULA, "huber_fn"]
    assert metric("log_cosh").name == "log_cosh" and metric(symdl.rule("huber"), name="h").name == "h"
    assert FunctionMetric(lambda y_true, y_pred: y_true).name == "lambda"

    class MyHuber:
        def __call__(self, y_true, y_pred):
            return huber_fn(y_true, y_pred)

    assert FunctionMetric(MyHuber()).name == "my_huber"  # Keras' get_object_name: the class in snake case
    m = metric(symdl.rule("huber", delta=2.0), name="val_h")
    assert m.config() == {"metric": "huber_loss", "name": "val_h", "params": {"delta": 2.0}}
    rebuilt = metric_from_config(m.config())
    assert rebuilt.config() == m.config() and rebuilt.spec == m.spec
    # the rule's term is the HuberMetric's: the same SymPy expression, so the same printed code
    assert m.spec.accumulators == HuberMetric(threshold=2.0).spec.accumulators


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("softmax_cross_entropy", "is a vector loss; accepted: a loss rule (mse, mae, huber, log_cosh, binary_cross_entropy)"),
        (symdl.rule("tanh"), "is an activation; accepted: a loss rule"),
        (symdl.formula_rule("e**2", wrt="e"), "takes 1 input(s); a loss metric takes 2"),
        (symdl.formula_rule("d*(a - y)**2", wrt="a", symbols=["y"], params={"d": None}), "parameter(s) d of"),
        ("hubr_loss", "unknown metric 'hubr_loss'; did you mean 'huber_loss'?"),
    ],
)
def test_a_bad_loss_metric_is_one_line(given, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        metric(given)
    assert "\n" not in str(info.value)


def test_a_function_must_give_per_sample_values():
    m = FunctionMetric(lambda y_true, y_pred: float(np.mean(y_true - y_pred)), name="scalar")
    with pytest.raises(ValueError, match=r"^metrics: scalar returned values of shape \(\); expected per-sample values, "
                                         r"an array with the batch's 4 rows first$"):
        m.update_state(np.zeros((4, 1)), np.ones((4, 1)))


@pytest.fixture(scope="module")
def net():
    return symdl.Network([3, 5, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01)).compile()


def test_fit_logs_each_way_under_its_keras_key_with_the_huber_metrics_values(net):
    X, Y = data(37, 3)
    Y = Y * 6  # errors on both sides of δ = 2
    options = dict(epochs=3, batch_size=8, seed=4, verbose=0, validation=data(9, 5))
    ours = net.fit(p := net.init(seed=1), X, Y, metrics=_loss_metrics(), **options)
    reference = net.fit(q := net.init(seed=1), X, Y, metrics=[HuberMetric(2.0)], **options)
    assert same_weights(p, q) and list(ours.history) == [
        "loss", "huber", "huber_loss", HUBER_FORMULA, "huber_fn",
        "val_loss", "val_huber", "val_huber_loss", f"val_{HUBER_FORMULA}", "val_huber_fn"]
    for key in ("huber", "huber_loss", HUBER_FORMULA, "huber_fn"):
        for prefix in ("", "val_"):
            assert ours.history[prefix + key] == pytest.approx(reference.history[prefix + "huber"], rel=1e-12)
    logs = evaluate(net, p, X, Y, metrics=[huber_fn, "log_cosh"], batch_size=10)
    keras = KerasMeanMetricWrapper(huber_fn)
    keras.update_state(Y, net.forward(p, X))
    assert logs["huber_fn"] == pytest.approx(keras.result(), rel=1e-12)
    assert logs["log_cosh"] == pytest.approx(float(np.mean(np.log(np.cosh(net.forward(p, X) - Y)))), rel=1e-12)


def test_a_graph_takes_losses_as_metrics_per_output():
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(4, activation="tanh")(Concatenate()([a, b]))
    graph = Model([a, b], [Dense(2, name="main")(h), Dense(1, name="aux")(h)]).compile(optimizer="adam")
    rng = np.random.default_rng(0)
    A, B, Ym, Ya = rng.normal(size=(11, 3)), rng.normal(size=(11, 2)), rng.normal(size=(11, 2)), rng.normal(size=(11, 1))
    params = graph.init(0)
    logs = evaluate(graph, params, (A, B), (Ym, Ya), metrics={"main": [huber_fn], "aux": symdl.rule("log_cosh")})
    assert list(logs) == ["loss", "main_loss", "aux_loss", "main_huber_fn", "aux_log_cosh"]  # each output's loss first
    main, aux = graph.forward(params, A, B)
    keras = KerasMeanMetricWrapper(huber_fn)
    keras.update_state(Ym, main)
    assert logs["main_huber_fn"] == pytest.approx(keras.result(), rel=1e-12)
    assert logs["aux_log_cosh"] == pytest.approx(float(np.mean(np.log(np.cosh(aux - Ya)))), rel=1e-12)


def test_a_generated_module_prints_rule_and_formula_metrics_and_refuses_a_function(net, tmp_path):
    network = symdl.Network([3, 5, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01))
    chosen = _loss_metrics()[:3]
    module = load_module(network_module(network, metrics=chosen), tmp_path, "loss_metrics_numpy")
    X, Y = data(29, 2)
    options = dict(epochs=2, batch_size=8, seed=3, verbose=0, validation=data(9, 4))
    start = net.init(seed=2)
    ours = module.fit(p := copy(start), X, Y, **options)
    reference = net.fit(q := copy(start), X, Y, metrics=_loss_metrics()[:3], **options)
    assert ours.history == reference.history and same_weights(p, q)
    assert list(module.fit(copy(start), X, Y, metrics=["huber_loss"], **options).history) == ["loss", "huber_loss",
                                                                                              "val_loss", "val_huber_loss"]
    with pytest.raises(ValueError, match="^metrics: symdl.metrics.FunctionMetric.*not Python functions$"):
        network_module(network, metrics=[huber_fn])


def test_save_keeps_a_loss_rule_metric_and_refuses_a_formula_or_function_in_one_line(net, tmp_path):
    params = net.init(0)
    symdl.save(tmp_path / "m", net, params, metrics=[symdl.rule("huber", delta=2.0), "log_cosh"])
    loaded = symdl.load(tmp_path / "m")
    assert [m.config() for m in loaded.metrics] == [
        {"metric": "huber_loss", "name": "huber", "params": {"delta": 2.0}},
        {"metric": "log_cosh_loss", "name": "log_cosh", "params": {}}]
    formula = symdl.formula_rule(HUBER_FORMULA, wrt="a", symbols=["y"], params={"d": 2.0})
    for bad, message in ((formula, "cannot be saved"), (huber_fn, "is not a symdl metric")):
        with pytest.raises(SavedModelError, match=message) as info:
            symdl.save(tmp_path / "bad", net, params, metrics=[bad])
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_torch_and_jax_print_loss_metrics_with_the_numpy_numbers(backend, tmp_path):
    pytest.importorskip(backend)
    chosen = [metric("binary_cross_entropy"), metric("log_cosh"), _loss_metrics()[2]]
    module = load_module(symdl.metrics.metric_module_source(chosen, backend, prefixes=["bce", "lc", "huber"]), tmp_path,
                         f"loss_metrics_{backend}")
    rng = np.random.default_rng(3)
    y, p, w = rng.integers(0, 2, (6, 2)).astype(float), rng.normal(size=(6, 2)) * 3, rng.uniform(0, 2, 6)
    for m, prefix in zip(chosen, ["bce", "lc", "huber"]):
        m.update_state(y, p, sample_weight=w)
        state = getattr(module, f"{prefix}_update")(getattr(module, f"{prefix}_init")(), y, p, sample_weight=w)
        assert float(getattr(module, f"{prefix}_result")(state)) == pytest.approx(m.result(), rel=1e-12)


def test_a_formula_that_jumps_is_a_metric_though_not_a_loss():
    """The seeds' d·|e| − d·2·0.5 jumps at |e| = d (by d(1 − d/2)): refused as a loss, averaged as a metric, as Keras does."""
    text = "where(abs(a - y) < d, (a - y)**2/2, d*abs(a - y) - d*2*0.5)"
    jumping = symdl.formula_rule(text, wrt="a", symbols=["y"], params={"d": 1.0})
    with pytest.raises(ValueError, match="a loss must be continuous"):
        symdl.Network([2, 1], loss=jumping)
    y, p = np.array([0.0, 0.0, 0.0]), np.array([0.5, 3.0, -1.0])
    assert metric(jumping)(y, p) == pytest.approx((0.125 + (3.0 - 1.0) + (1.0 - 1.0)) / 3, rel=1e-15)
