"""Keras' ``bias_constraint`` on a graph Dense layer: after each step b ← P(b), ν the 2-norm of the whole bias.

The reference is Keras' ``keras/src/constraints/constraints.py`` written out by hand in numpy on a bias (units,):
``ops.sum(ops.square(w), axis=0, keepdims=True)`` runs over all of it (its only axis); symdl's projection is printed
from its SymPy form into the compiled graph and the generated numpy / JAX / PyTorch modules.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_constraints import keras_projection, two_steps_agree

from symdl.graph import (
    Dense,
    Input,
    Model,
    from_config,
    load_graph,
    max_norm,
    save_graph,
    to_config,
    unit_norm,
)

LR = 0.1


def keras_bias_projection(name: str, bias: np.ndarray, **settings: float) -> np.ndarray:
    """Keras' constraint ``name`` applied to a 1-D bias: the kernel's formula at its default axis 0, all of the bias."""
    assert "axis" not in settings
    return keras_projection(name, bias, **settings)

CASES = [
    ("non_neg", {}),
    ("max_norm", {}),
    ("max_norm", {"max_value": 0.5}),
    ("unit_norm", {}),
    ("min_max_norm", {"min_value": 0.8, "max_value": 1.2, "rate": 0.5}),
    ("min_max_norm", {"min_value": 1.5, "max_value": 3.0}),
]
_COMPILED: dict = {}


def _compiled(case: int):
    if case not in _COMPILED:
        name, settings_ = CASES[case]
        x = Input(4)
        _COMPILED[case] = Model(x, Dense(3, bias_constraint={"name": name, **settings_})(x)).compile()
    return _COMPILED[case]


def test_the_reference_is_keras_arithmetic_on_a_bias():
    """A bias (3, 4, 0) has ‖b‖ = 5 over all of it: max_norm(2) scales it to (1.2, 1.6, 0), unit_norm to (0.6, 0.8, 0)."""
    bias = np.array([3.0, 4.0, 0.0])
    np.testing.assert_allclose(keras_bias_projection("max_norm", bias), [1.2, 1.6, 0.0], rtol=1e-7)
    np.testing.assert_allclose(keras_bias_projection("unit_norm", bias), [0.6, 0.8, 0.0], rtol=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, len(CASES) - 1), st.integers(0, 2**32 - 1), st.floats(0.05, 4.0))
def test_step_then_bias_projection_equals_keras(case, seed, scale):
    """train_step = Keras' bias constraint applied to b − lr·∂C/∂b, the kernel untouched."""
    name, settings_ = CASES[case]
    compiled = _compiled(case)
    rng = np.random.default_rng(seed)
    params = compiled.init(rng)
    params["b1"] = scale * rng.normal(size=3)
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    _, grads = compiled.loss_and_grad(params, X, Y)
    stepped = {k: params[k] - LR * grads[k] for k in params}
    compiled.train_step(params, X, Y, LR)
    np.testing.assert_allclose(params["b1"], keras_bias_projection(name, stepped["b1"], **settings_), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(params["W1"], stepped["W1"], rtol=1e-12, atol=1e-15)


def _model() -> Model:
    x = Input(4)
    h = Dense(5, activation="tanh", constraint=max_norm(1.0, axis=1), bias_constraint=max_norm(0.3))(x)
    return Model(x, Dense(2, bias_constraint=unit_norm())(Dense(3, bias_constraint="non_neg")(h)))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_generated_modules_project_the_bias_as_the_compiled_graph(tmp_path, backend):
    """The printed bias projection in each backend's module: two steps give the compiled graph's params."""
    model = _model()
    compiled = model.compile()
    rng = np.random.default_rng(2)
    params = {k: 3 * v for k, v in compiled.init(1).items()}
    params.update({k: 3 * rng.normal(size=v.shape) for k, v in params.items() if k.startswith("b")})
    X, Y = rng.normal(size=(7, 4)), rng.normal(size=(7, 2))
    two_steps_agree(model, compiled, params, X, Y, tmp_path, backend)
    assert np.linalg.norm(params["b1"]) == pytest.approx(0.3, abs=1e-6)  # 3·N(0, 1) entries: well over 0.3 before
    assert params["b2"].min() >= 0 and np.linalg.norm(params["b3"]) == pytest.approx(1.0, abs=1e-6)


def test_bias_constraints_survive_config_and_saving(tmp_path):
    model = _model()
    config = json.loads(json.dumps(to_config(model)))
    assert [layer["config"].get("bias_constraint") for layer in config["layers"]] == [
        {"name": "max_norm", "max_value": 0.3, "axis": 0}, "non_neg", {"name": "unit_norm", "axis": 0}]
    again = from_config(config)
    assert to_config(again) == config and again.compile().source() == model.compile().source()
    compiled = model.compile()
    params = compiled.init(0)
    save_graph(tmp_path / "m", compiled, params)
    graph, loaded, _, _ = load_graph(tmp_path / "m")
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    for _ in range(2):
        compiled.train_step(params, X, Y, LR)
        graph.train_step(loaded, X, Y, LR)
    for k in params:
        np.testing.assert_array_equal(loaded[k], params[k], err_msg=k)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bias_constraint": "max_nrm"}, "Dense: unknown constraint 'max_nrm'; accepted: non_neg, max_norm"),
        ({"bias_constraint": max_norm(2, axis=1)}, "Dense: bias_constraint: a bias is one vector (units,), its norm runs over axis 0; got axis=1"),
        ({"bias_constraint": "non_neg", "use_bias": False}, "Dense: bias_constraint needs a bias (use_bias=True)"),
    ],
)
def test_bad_bias_constraints_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError) as error:
        Dense(2, **kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_the_report_states_each_bias_projection():
    from symdl.report.graph_sections import graph_section

    titles = [step.title for step in graph_section(_model(), verify=False).steps]
    start = next(t for t in titles if t.startswith("Initial weights and constraints: "))
    assert "b1 ← P(w) after each step (max_norm(max_value=0.3, axis=0))" in start
    assert "b2 ← P(w) after each step (non_neg)" in start and "over a whole bias" in start
