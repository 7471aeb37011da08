"""Per-output metrics of a graph with several outputs (Keras' keys ``<output>_<metric>``): a list for every output, a
dict by output name; values against a hand-rolled loop over the same batches; the spec saved and loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.graph import Concatenate, Dense, Input, Model, load_graph, save_graph
from symdl.saving.schema import SavedModelError
from symdl.training import EarlyStopping, evaluate
from symdl.training.batches import batch_slices


def _graph():
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    main, aux = Dense(2, name="main")(h), Dense(1, activation="sigmoid")(h)  # aux unnamed: its target's name, Y2
    return Model([a, b], [main, aux], losses=["mse", "binary_cross_entropy"]).compile(optimizer="adam")


GRAPH = _graph()


def _data(m: int, seed: int):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    return (A, B), (np.tanh(A[:, :2] + B), (A.sum(axis=1, keepdims=True) > 0).astype(float))


@settings(max_examples=4, deadline=None)
@given(m=st.integers(3, 14), batch_size=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_a_list_applies_to_every_output_with_keras_keys_and_the_values_of_a_loop_by_hand(m, batch_size, seed):
    (A, B), (Ym, Ya) = _data(m, seed)
    params, by_hand = GRAPH.init(seed), GRAPH.init(seed)
    h = GRAPH.fit(params, (A, B), (Ym, Ya), epochs=1, batch_size=batch_size, shuffle=False, verbose=0,
                  metrics=["mae"], validation=((A, B), (Ym, Ya)))
    keys = ["main_loss", "Y2_loss", "main_mean_absolute_error", "Y2_mean_absolute_error"]  # Keras': losses first
    assert list(h.history) == ["loss", *keys, "val_loss", *(f"val_{k}" for k in keys)]
    keys = keys[2:]
    state, errors = GRAPH.init_state(by_hand), [[], []]
    for rows in batch_slices(m, batch_size, None):
        for k, (pred, y) in enumerate(zip(GRAPH.forward(by_hand, A[rows], B[rows]), (Ym[rows], Ya[rows]))):
            errors[k].append(np.abs(pred - y).ravel())  # the metric by hand: mean |ŷ − y| over every entry seen
        GRAPH.train_step(by_hand, (A[rows], B[rows]), (Ym[rows], Ya[rows]), state, seed=0)
    for key, seen in zip(keys, errors):
        assert h.history[key][0] == pytest.approx(np.concatenate(seen).mean(), rel=1e-12)
    after = [np.abs(p - y).mean() for p, y in zip(GRAPH.forward(by_hand, A, B), (Ym, Ya))]
    assert [h.history[f"val_{k}"][0] for k in keys] == pytest.approx(after, rel=1e-12)


def test_a_dict_by_output_name_or_target_name_and_evaluate_and_early_stopping():
    (A, B), (Ym, Ya) = _data(12, 1)
    params = GRAPH.init(0)
    spec = {"main": "mse", "Y2": [symdl.metric("binary_accuracy"), symdl.metric("precision", threshold=0.3)]}
    logs = evaluate(GRAPH, params, {"a": A, "b": B}, {"main": Ym, "Y2": Ya}, metrics=spec)
    assert list(logs) == ["loss", "main_loss", "Y2_loss", "main_mean_squared_error", "Y2_binary_accuracy", "Y2_precision"]
    main, aux = GRAPH.forward(params, A, B)
    assert logs["main_mean_squared_error"] == pytest.approx(((main - Ym) ** 2).mean(), rel=1e-12)
    assert logs["Y2_binary_accuracy"] == pytest.approx(((aux > 0.5) == Ya).mean(), rel=1e-12)
    assert evaluate(GRAPH, params, (A, B), (Ym, Ya), metrics={"Y1": "mse"}) == {k: logs[k] for k in list(logs)[:4]}
    stop = EarlyStopping("val_main_mean_squared_error", patience=0, mode="min")
    h = GRAPH.fit(params, (A, B), (Ym, Ya), epochs=3, verbose=0, metrics={"main": "mse"}, validation=((A, B), (Ym, Ya)),
                  early_stopping=stop)
    assert len(h.history["val_main_mean_squared_error"]) == len(h.epoch) >= 1


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"nope": "mae"}, "metrics: unexpected output 'nope'; outputs with a data target: main, Y2"),
        ({"main": "mae", "Y1": "mse"}, "two entries for the output 'main'"),
        ({"main": ["mae", "mae"]}, "names repeat"),
        ({"main": "no_such_metric"}, "unknown metric"),
    ],
)
def test_a_bad_metrics_dict_is_one_error_line(metrics, message):
    (A, B), (Ym, Ya) = _data(4, 2)
    with pytest.raises(ValueError, match=message) as caught:
        GRAPH.fit(GRAPH.init(0), (A, B), (Ym, Ya), epochs=1, verbose=0, metrics=metrics)
    assert "\n" not in str(caught.value)


def test_one_output_keeps_todays_keys_and_a_network_refuses_a_dict():
    x = Input(3)
    single = Model(x, Dense(2, name="out")(x)).compile(optimizer="adam")
    (A, _), (Ym, _) = _data(6, 3)
    assert list(evaluate(single, single.init(0), A, Ym, metrics={"out": "mae"})) == ["loss", "mean_absolute_error"]
    net = symdl.Network([3, 2], activation="tanh", loss="mse", optimizer="adam").compile()
    with pytest.raises(ValueError, match="a dict keys metrics by output name"):
        evaluate(net, net.init(0), A, Ym, metrics={"out": "mae"})


def test_the_per_output_spec_round_trips_through_save_and_load(tmp_path):
    (A, B), (Ym, Ya) = _data(8, 4)
    params = GRAPH.init(0)
    spec = {"Y1": "mae", "Y2": [symdl.metric("precision", threshold=0.3)]}
    save_graph(tmp_path / "g", GRAPH, params, metrics=spec)
    saved = json.loads((tmp_path / "g" / "model.json").read_text())["metrics"]
    assert list(saved) == ["main", "Y2"]  # saved by the outputs' own names
    graph, loaded, _, metrics = load_graph(tmp_path / "g")
    assert {k: [m.config() for m in v] for k, v in metrics.items()} == saved
    assert evaluate(graph, loaded, (A, B), (Ym, Ya), metrics=metrics) == evaluate(GRAPH, params, (A, B), (Ym, Ya), metrics=spec)
    config = json.loads((tmp_path / "g" / "model.json").read_text())
    config["metrics"]["__import__('os')"] = config["metrics"].pop("Y2")
    (tmp_path / "g" / "model.json").write_text(json.dumps(config))
    with pytest.raises(SavedModelError, match="metrics: unexpected output \"__import__\\('os'\\)\""):
        load_graph(tmp_path / "g")
