"""Keras' weight constraints on a graph Dense layer: after each step θ ← P(θ), with Keras' numbers.

The reference below is Keras' ``keras/src/constraints/constraints.py`` written out by hand in numpy on a Keras
kernel (n_in, n_out), the transpose of symdl's W; symdl's projection is printed from its SymPy form into the
compiled graph and into generated numpy / JAX / PyTorch modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.export import graph_module_source
from symdl.graph import Dense, Input, Model, from_config, save_graph, to_config
from symdl.graph.constraints import constraint, max_norm, min_max_norm, unit_norm
from symdl.saving.schema import SavedModelError

EPSILON = 1e-7  # keras.backend.epsilon()
LR = 0.1


def keras_projection(name: str, kernel: np.ndarray, **settings: float) -> np.ndarray:
    """Keras' constraint ``name`` applied to a kernel (n_in, n_out), as Keras' constraints.py computes it."""
    if name == "non_neg":
        return np.maximum(kernel, 0)
    axis = int(settings.get("axis", 0))
    norms = np.sqrt(np.sum(np.square(kernel), axis=axis, keepdims=True))
    if name == "unit_norm":
        return kernel / (EPSILON + norms)
    if name == "max_norm":
        desired = np.clip(norms, 0, settings.get("max_value", 2))
    else:
        rate = settings.get("rate", 1.0)
        desired = rate * np.clip(norms, settings.get("min_value", 0.0), settings.get("max_value", 1.0)) + (1 - rate) * norms
    return kernel * (desired / (EPSILON + norms))


CASES = [
    ("non_neg", {}),
    ("max_norm", {}),
    ("max_norm", {"max_value": 0.5, "axis": 1}),
    ("unit_norm", {}),
    ("unit_norm", {"axis": 1}),
    ("min_max_norm", {"min_value": 0.8, "max_value": 1.2, "rate": 0.5}),
    ("min_max_norm", {"min_value": 1.5, "max_value": 3.0, "axis": 1}),
]
_COMPILED: dict = {}


def _compiled(case: int):
    if case not in _COMPILED:
        name, settings_ = CASES[case]
        x = Input(4)
        model = Model(x, Dense(3, constraint={"name": name, **settings_})(x))
        _COMPILED[case] = (model, model.compile())
    return _COMPILED[case]


def test_the_reference_is_keras_arithmetic():
    """A unit fed by inputs (3, 4) has ‖w‖ = 5: max_norm(2) scales it to (1.2, 1.6), unit_norm to (0.6, 0.8)."""
    kernel = np.array([[3.0, 0.1], [4.0, 0.0]])  # Keras: (n_in, n_out); column 0 is unit 0's weights
    np.testing.assert_allclose(keras_projection("max_norm", kernel)[:, 0], [1.2, 1.6], rtol=1e-7)
    np.testing.assert_allclose(keras_projection("max_norm", kernel)[:, 1], [0.1, 0.0], rtol=1e-6)  # norm 0.1 < 2: kept
    np.testing.assert_allclose(keras_projection("unit_norm", kernel)[:, 0], [0.6, 0.8], rtol=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, len(CASES) - 1), st.integers(0, 2**32 - 1), st.floats(0.05, 4.0))
def test_step_then_projection_equals_keras(case, seed, scale):
    """train_step = Keras' constraint applied to θ − lr·∂C/∂θ (projected gradient descent), the bias untouched."""
    name, settings_ = CASES[case]
    _, compiled = _compiled(case)
    rng = np.random.default_rng(seed)
    params = {k: v * scale for k, v in compiled.init(rng).items()}
    params["b1"] = rng.normal(size=3)
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    _, grads = compiled.loss_and_grad(params, X, Y)
    stepped = {k: params[k] - LR * grads[k] for k in params}
    expected = keras_projection(name, stepped["W1"].T, **settings_).T  # Keras' kernel is Wᵀ
    compiled.train_step(params, X, Y, LR)
    np.testing.assert_allclose(params["W1"], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(params["b1"], stepped["b1"], rtol=1e-12, atol=1e-15)


def test_the_norm_bound_holds_after_a_step():
    x = Input(4)
    compiled = Model(x, Dense(3, constraint=max_norm(0.5))(x)).compile()
    params = {k: 10 * v for k, v in compiled.init(0).items()}
    rng = np.random.default_rng(0)
    compiled.train_step(params, rng.normal(size=(6, 4)), rng.normal(size=(6, 3)), LR)
    norms = np.linalg.norm(params["W1"], axis=1)  # each unit's incoming weights (Keras' axis 0)
    assert norms.max() <= 0.5 and norms.min() > 0.49


def two_steps_agree(model: Model, compiled, params: dict, X: np.ndarray, Y: np.ndarray, tmp_path, backend: str) -> None:
    """Two train_steps on (X, Y) of ``backend``'s generated module from ``params`` give the compiled graph's params
    (updated in place), projections included."""
    library = None if backend == "numpy" else pytest.importorskip(backend)
    mod = load_module(graph_module_source(model, backend), tmp_path, f"constrained_{backend}")
    convert = {"numpy": np.array, "torch": lambda a: library.tensor(a), "jax": lambda a: library.numpy.asarray(a)}[backend]
    theirs = {k: convert(v.copy()) for k, v in params.items()}
    for _ in range(2):
        compiled.train_step(params, X, Y, LR)
        mod.train_step(theirs, convert(X), convert(Y), LR)
    for k, ours in params.items():
        np.testing.assert_allclose(np.asarray(theirs[k]), ours, rtol=1e-10, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_generated_modules_project_as_the_compiled_graph(tmp_path, backend):
    """The printed projection in each backend's module: two steps give the compiled graph's params."""
    x = Input(4)
    h = Dense(5, activation="tanh", constraint=min_max_norm(0.5, 0.9, rate=0.7, axis=1))(x)
    model = Model(x, Dense(2, constraint=unit_norm())(Dense(3, constraint="max_norm")(h)))
    compiled = model.compile()
    params = {k: 3 * v for k, v in compiled.init(1).items()}
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(7, 4)), rng.normal(size=(7, 2))
    two_steps_agree(model, compiled, params, X, Y, tmp_path, backend)
    assert max(np.linalg.norm(params["W3"], axis=1)) == pytest.approx(1.0, abs=1e-6)  # unit_norm: each unit's row


def test_config_round_trip_keeps_the_settings():
    x = Input(3)
    model = Model(x, Dense(2, constraint=max_norm(3, axis=1))(Dense(2, constraint="non_neg")(x)))
    config = json.loads(json.dumps(to_config(model)))
    assert {"name": "max_norm", "max_value": 3.0, "axis": 1} in [layer["config"].get("constraint") for layer in config["layers"]]
    again = from_config(config)
    assert to_config(again) == config and again.compile().source() == model.compile().source()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("max_nrm", "unknown constraint 'max_nrm'; accepted: non_neg, max_norm, unit_norm, min_max_norm"),
        (3, "unknown constraint int; accepted: non_neg"),
        ({"name": "max_norm", "axis": 2}, "max_norm: axis must be 0 (the inputs of each unit) or 1"),
        ({"name": "max_norm", "max_value": float("nan")}, "max_norm: max_value must be a finite number"),
        ({"name": "unit_norm", "max_value": 1}, "unit_norm: unknown setting 'max_value'; accepted: axis"),
        ({"name": "min_max_norm", "min_value": 2, "max_value": 1}, "0 <= min_value <= max_value"),
        ({"name": "min_max_norm", "rate": 1.5}, "rate must be in [0, 1]"),
        ({"name": "non_neg", "axis": 0}, "non_neg: unknown setting 'axis'; accepted: none"),
    ],
)
def test_bad_constraints_are_refused_in_one_line(spec, message):
    with pytest.raises(ValueError) as error:
        Dense(2, constraint=spec)
    assert message in str(error.value) and "\n" not in str(error.value) and str(error.value).startswith("Dense: ")


def test_a_hostile_config_constraint_is_one_saved_model_error():
    x = Input(2)
    config = json.loads(json.dumps(to_config(Model(x, Dense(1, constraint="unit_norm")(x)))))
    config["layers"][0]["config"]["constraint"] = {"name": "unit_norm", "axis": "__import__('os')"}
    with pytest.raises(SavedModelError, match="axis must be a finite number"):
        from_config(config)


def test_constraint_objects_and_names_agree():
    assert constraint("max_norm") == max_norm() and constraint({"name": "unit_norm", "axis": 1}) == unit_norm(1)
    assert constraint("non_neg").config() == "non_neg"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("constraint", {"name": "max_norm", "axis": 3}, "max_norm: axis must be 0"),
        ("constraint", "maxnorm", "unknown constraint 'maxnorm'; accepted: non_neg, max_norm"),
        ("init", "normal: 1 - fan_in", "the std is -299 at fan_in = 300, fan_out = 100"),
    ],
)
def test_cli_refuses_a_saved_graph_with_a_bad_constraint_or_init_in_one_line(tmp_path, key, value, message):
    x = Input(2)
    compiled = Model(x, Dense(1, constraint=max_norm(2))(x)).compile()
    save_graph(tmp_path / "saved", compiled, compiled.init(0))
    saved = json.loads((tmp_path / "saved" / "model.json").read_text())
    saved["graph"]["layers"][0]["config"][key] = value
    (tmp_path / "saved" / "model.json").write_text(json.dumps(saved))
    done = subprocess.run([sys.executable, "-m", "symdl", "codegen", "--graph", str(tmp_path / "saved"), "-o",
                           str(tmp_path / "out.py")], capture_output=True, text=True)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out.py").exists()
