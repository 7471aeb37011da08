"""Each output's own loss in a graph's history, as Keras 3 logs it (trainers/compile_utils.py, CompileLoss): with two
or more outputs with a loss, ``<output>_loss`` beside ``loss``, the output's loss *without* its weight, a mean over the
batches weighted by their sizes, in training mode (the step's own masks) and as ``val_<output>_loss`` in inference
mode; one output with a loss (``add_loss`` terms are no output's) logs ``loss`` alone. Values against a loop by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.graph import Add, Concatenate, Dense, Dropout, Input, Model
from symdl.training import EarlyStopping, evaluate
from symdl.training.batches import batch_slices


def _graph(weights=(1.0, 1.0), dropout=0.0):
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    if dropout:
        h = Add()([h, Dropout(dropout)(Dense(5, activation="tanh")(h))])
    main, aux = Dense(2, name="main")(h), Dense(1)(h)  # aux unnamed: its target's name, Y2; its value a logit
    return Model([a, b], [main, aux], losses=["mse", "binary_cross_entropy"], loss_weights=list(weights))


GRAPH = _graph((1.0, 0.25)).compile(optimizer="adam")


def _data(m: int, seed: int):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    return (A, B), (np.tanh(A[:, :2] + B), (A.sum(axis=1, keepdims=True) > 0).astype(float))


def _by_hand(params, A, B, Ym, Ya):
    """Each output's loss by hand, unweighted, mean over rows: mse ½Σⱼ(h − y)², binary cross-entropy from the logit a,
    −y log σ(a) − (1 − y) log(1 − σ(a))."""
    main, logit = GRAPH.forward(params, A, B)
    p = 1 / (1 + np.exp(-logit))
    return (0.5 * ((main - Ym) ** 2).sum(axis=1).mean(), -(Ya * np.log(p) + (1 - Ya) * np.log(1 - p)).sum(axis=1).mean())


@settings(max_examples=4, deadline=None)
@given(m=st.integers(3, 14), batch_size=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_keras_keys_and_the_unweighted_losses_of_a_loop_by_hand(m, batch_size, seed):
    (A, B), (Ym, Ya) = _data(m, seed)
    params, by_hand = GRAPH.init(seed), GRAPH.init(seed)
    h = GRAPH.fit(params, (A, B), (Ym, Ya), epochs=1, batch_size=batch_size, shuffle=False, verbose=0,
                  metrics={"main": "mae"}, validation=((A, B), (Ym, Ya)))
    keys = ["main_loss", "Y2_loss", "main_mean_absolute_error"]
    assert list(h.history) == ["loss", *keys, "val_loss", *(f"val_{k}" for k in keys)]
    state, seen, sizes = GRAPH.init_state(by_hand), [], []
    for rows in batch_slices(m, batch_size, None):
        seen.append(_by_hand(by_hand, A[rows], B[rows], Ym[rows], Ya[rows]))  # before the step, as its loss
        sizes.append(len(A[rows]))
        GRAPH.train_step(by_hand, (A[rows], B[rows]), (Ym[rows], Ya[rows]), state, seed=0)
    expected = np.average(np.array(seen), axis=0, weights=sizes)  # Keras' Mean, each batch weighted by its size
    assert [h.history["main_loss"][0], h.history["Y2_loss"][0]] == pytest.approx(expected, rel=1e-12)
    # the total weights them (1 and 0.25); the logged ones are not weighted
    assert h.history["loss"][0] == pytest.approx(expected[0] + 0.25 * expected[1], rel=1e-12)
    after = _by_hand(by_hand, A, B, Ym, Ya)
    assert [h.history["val_main_loss"][0], h.history["val_Y2_loss"][0]] == pytest.approx(after, rel=1e-12)


@pytest.mark.parametrize("weights", [(1.0, 1.0), (0.5, 3.0), (1.0, 0.0)])
def test_with_dropout_each_step_logs_the_losses_its_own_masks_gave(weights):
    """Training mode: loss = Σ wₖ·Lₖ holds batch by batch only if Lₖ saw the step's masks (inference mode would not)."""
    graph = _graph(weights, dropout=0.5).compile(optimizer="adam")
    (A, B), (Ym, Ya) = _data(23, 5)
    h = graph.fit(graph.init(1), (A, B), (Ym, Ya), epochs=3, batch_size=5, verbose=0)
    for epoch in range(3):
        total = weights[0] * h.history["main_loss"][epoch] + weights[1] * h.history["Y2_loss"][epoch]
        assert h.history["loss"][epoch] == pytest.approx(total, rel=1e-12)
    params = graph.init(1)
    inference = graph.output_losses(params, (A, B), (Ym, Ya), training=False)
    assert graph.output_losses(params, (A, B), (Ym, Ya), seed=7) != inference  # the masks change them


def test_evaluate_early_stopping_and_one_output_with_an_added_loss():
    (A, B), (Ym, Ya) = _data(12, 1)
    params = GRAPH.init(0)
    logs = evaluate(GRAPH, params, {"a": A, "b": B}, {"main": Ym, "Y2": Ya}, metrics=["mse"])
    assert list(logs) == ["loss", "main_loss", "Y2_loss", "main_mean_squared_error", "Y2_mean_squared_error"]
    assert [logs["main_loss"], logs["Y2_loss"]] == pytest.approx(_by_hand(params, A, B, Ym, Ya), rel=1e-12)
    stop = EarlyStopping("val_Y2_loss", patience=0)
    h = GRAPH.fit(params, (A, B), (Ym, Ya), epochs=3, verbose=0, validation=((A, B), (Ym, Ya)), early_stopping=stop)
    assert len(h.history["val_Y2_loss"]) == len(h.epoch) >= 1
    x = Input(3)
    hidden = Dense(4, activation="tanh")(x)
    single = Model(x, Dense(2, name="main")(hidden)).add_loss(Dense(3)(hidden), "mse", target=x, weight=0.1)
    compiled = single.compile(optimizer="adam")
    assert compiled.output_loss_names == ("main_loss",) and compiled.output_losses(compiled.init(0), A, Ym) == {}
    assert list(compiled.fit(compiled.init(0), A, Ym, epochs=1, verbose=0).history) == ["loss"]


def test_a_metric_logged_under_an_output_loss_key_is_one_line():
    (A, B), (Ym, Ya) = _data(6, 2)
    with pytest.raises(ValueError, match="^metrics: the log key 'main_loss' is an output's loss; give the metric another name$"):
        GRAPH.fit(GRAPH.init(0), (A, B), (Ym, Ya), epochs=1, verbose=0, metrics={"main": symdl.metric("mae", name="loss")})


def test_an_input_as_an_output_compiles_logs_its_loss_and_saves(tmp_path):
    """Model(x, [Dense(1)(x), x]) was accepted, then compile stopped with "'NoneType' object has no attribute 'name'"
    (an input has no layer to name its output) and a saved one did not load ("outputs: expected an integer from 1")."""
    x = Input(3)
    model = Model(x, [Dense(1, name="d")(x), x], losses=["mse", "mse"], loss_weights=[1.0, 0.5])
    graph = model.compile(optimizer=symdl.optimizer("sgd", lr=0.1))
    params = graph.init(0)
    rng = np.random.default_rng(0)
    X, Y1, Y2 = rng.normal(size=(6, 3)), rng.normal(size=(6, 1)), rng.normal(size=(6, 3))
    assert graph.target_names == ("Y1", "Y2") and [o.name for o in graph.metric_outputs] == ["d", "Y2"]
    logs = evaluate(graph, params, X, (Y1, Y2))
    assert logs["Y2_loss"] == pytest.approx(((X - Y2) ** 2).sum(axis=1).mean() / 2, rel=1e-12)  # mse: ½ Σ (h − y)²
    assert logs["loss"] == pytest.approx(logs["d_loss"] + 0.5 * logs["Y2_loss"], rel=1e-12)
    symdl.save(tmp_path / "m", graph, params)
    loaded = symdl.load(tmp_path / "m")
    assert evaluate(loaded.network, loaded.params, X, (Y1, Y2)) == logs


def test_one_node_listed_twice_as_an_output_pairs_each_place_with_its_own_loss_and_saves(tmp_path):
    """Model(x, [o, o], losses=["mse", "mae"]) (Keras takes one tensor as two outputs): metric_outputs paired each
    place with both losses (four entries for two outputs), and a saved one did not load ("a loss of Model(losses=) is
    one per output")."""
    x = Input(2)
    o = Dense(1, name="d")(x)
    graph = Model(x, [o, o], losses=["mse", "mae"]).compile(optimizer=symdl.optimizer("sgd", lr=0.1))
    assert [(m.name, m.output, m.target) for m in graph.metric_outputs] == [("Y1", 0, 0), ("Y2", 1, 1)]
    params = graph.init(0)
    X, Y = np.ones((3, 2)), (np.zeros((3, 1)), np.ones((3, 1)))
    logs = evaluate(graph, params, X, Y, metrics=["mae"])
    h = graph.forward(params, X)[0]
    assert logs["Y1_loss"] == pytest.approx((h**2).mean() / 2, rel=1e-12)  # mse on Y1 = 0: ½ h²
    assert logs["Y2_loss"] == pytest.approx(np.abs(h - 1).mean(), rel=1e-12)  # mae on Y2 = 1
    symdl.save(tmp_path / "m", graph, params)
    loaded = symdl.load(tmp_path / "m")
    assert evaluate(loaded.network, loaded.params, X, Y, metrics=["mae"]) == logs


@pytest.mark.parametrize(("names", "key"), [(("val", "b"), "val_loss"), (("a", "val_a"), "val_a_loss")])
def test_an_output_loss_key_that_a_validation_key_repeats_is_one_line(names, key):
    """An output named val logs val_loss, which validation's total loss overwrote in the history (and val_a_loss,
    the validation loss of output a): one value silently lost."""
    x = Input(2)
    graph = Model(x, [Dense(1, name=names[0])(x), Dense(1, name=names[1])(x)], losses=["mse", "mse"]).compile(optimizer="adam")
    X, Y = np.ones((4, 2)), (np.zeros((4, 1)), np.ones((4, 1)))
    with pytest.raises(ValueError, match=f"^fit: the history key '{key}' would hold two values"):
        graph.fit(graph.init(0), X, Y, epochs=1, verbose=0, validation=(X, Y))
    assert list(graph.fit(graph.init(0), X, Y, epochs=1, verbose=0).history) == ["loss", f"{names[0]}_loss", f"{names[1]}_loss"]


def test_a_metric_named_as_a_validation_key_is_one_line():
    net = symdl.Network([2, 3, 1], optimizer="adam").compile()
    X, Y = np.ones((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="^fit: the history key 'val_loss' would hold two values"):
        net.fit(net.init(0), X, Y, epochs=1, verbose=0, metrics=[symdl.metric("mae", name="val_loss")], validation=(X, Y))
