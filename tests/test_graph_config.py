"""A graph model is data: to_config → JSON → from_config gives the same model; a hostile config runs no code."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symdl
from symdl.graph import (
    Add,
    Concatenate,
    Dense,
    Dropout,
    GaussianNoise,
    Input,
    Lambda,
    Model,
    StopGradient,
    from_config,
    to_config,
)
from symdl.saving.schema import SavedModelError


def _model() -> Model:
    x1, x2 = Input(3), Input(2)
    block = Dense(3, activation=symdl.formula_rule("z*tanh(z)"), regularizer=symdl.rule("l1", lam=0.02), constraint="non_neg")
    h = Dense(3, activation=symdl.rule("elu", alpha=0.5), init="he_normal")(x1)
    h = block(Add()([h, block(h)]))
    c = Concatenate()([GaussianNoise(0.1)(h), StopGradient()(Lambda("exponential")(x2))])
    model = Model([x1, x2], [Dense(2, activation="softmax")(Dropout(0.2)(c)), h], losses=["softmax_cross_entropy", None])
    return model.add_loss(Dense(3)(h), "mse", target=x1, weight=0.1, reduction="mean")


def test_round_trip_through_json_gives_the_same_model():
    model = _model()
    config = json.loads(json.dumps(to_config(model)))
    again = from_config(config)
    assert to_config(again) == config
    assert again.parameter_shapes == model.parameter_shapes
    a, b = model.compile(), again.compile()
    assert a.source() == b.source()
    params = a.init(0)
    rng = np.random.default_rng(0)
    data, Y = [rng.normal(size=(5, 3)), rng.normal(size=(5, 2))], rng.dirichlet([1, 1], size=5)  # class probabilities
    loss, grads = a.loss_and_grad(params, data, Y, seed=3)
    loss2, grads2 = b.loss_and_grad(params, data, Y, seed=3)
    assert loss == loss2 and all(np.array_equal(grads[k], grads2[k]) for k in grads)


def _hostile(path: list, value: object) -> dict:
    config = json.loads(json.dumps(to_config(_model())))
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["layers", 0, "type"], "os.system", "unknown graph layer"),
        (["layers", 1, "config", "activation", "formula"], "__import__('os').system('echo hi')", "layers\\[1\\]: Dense.activation"),
        (["layers", 0, "config", "activation", "name"], "no_such_rule", "layers\\[0\\]: .*unknown rule"),
        (["layers", 0, "config", "units"], -3, "layers\\[0\\]: Dense: units"),
        (["nodes", 0, "inputs"], [7], "nodes\\[0\\].inputs"),
        (["nodes", 1, "inputs"], [0, 1], "nodes\\[1\\]"),
        (["losses", 0, "reduction"], "median", "reduction"),
        (["inputs"], [0, 2], "inputs\\[0\\]"),
    ],
)
def test_a_bad_config_is_one_clear_error(path, value, message):
    with pytest.raises(SavedModelError, match=message):
        from_config(_hostile(path, value))


def test_a_users_layer_type_of_a_built_in_name_does_not_replace_the_built_in():
    from symdl.graph import nodes

    class Dense(nodes.GraphLayer):  # noqa: F811 — a user's own layer that happens to share the name
        def forward(self, use):
            return []

        def backward(self, use, upstream):
            return nodes.Backward()

    assert Dense.config_name.endswith("test_a_users_layer_type_of_a_built_in_name_does_not_replace_the_built_in.<locals>.Dense")
    assert nodes.graph_layer_types()["Dense"] is not Dense
    config = to_config(_model())
    assert from_config(config).parameter_shapes == _model().parameter_shapes


def test_save_and_load_a_trained_graph(tmp_path):
    from symdl.graph import load_graph, save_graph

    model = _model()
    graph = model.compile("float32")
    params = graph.init(1)
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")]
    Y = rng.dirichlet([1, 1], size=6).astype("float32")  # class probabilities (softmax cross-entropy's targets)
    graph.train_step(params, data, Y, 0.01)
    save_graph(tmp_path / "model", graph, params)
    again, loaded, state, metrics = load_graph(tmp_path / "model")
    assert state is None and metrics == []
    assert again.dtype == np.float32 and again.source() == graph.source()
    assert all(np.array_equal(loaded[k], params[k]) for k in params)
    assert again.loss(loaded, data, Y, seed=4) == graph.loss(params, data, Y, seed=4)
    (tmp_path / "model" / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(SavedModelError):
        load_graph(tmp_path / "model")
    (tmp_path / "other").write_text("x")
    with pytest.raises(SavedModelError, match="not a saved model"):
        save_graph(tmp_path / "other", graph, params)
