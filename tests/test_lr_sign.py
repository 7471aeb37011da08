"""0 ≤ lr ≤ the largest number of the model's dtype, on every path that takes a learning rate, in one message.

PyTorch's optimizers refuse lr < 0 ("Invalid learning rate") and take lr = 0. A learning rate given at call time
(plain gradient descent, or an optimizer built with ``lr=None``) is checked as one baked into the optimizer: by the
library's compiled network and graph and by the checked ``train_step`` of generated numpy, PyTorch and JAX modules.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdl
from symdl.export.graph_modules import graph_module_source
from symdl.export.network_modules import network_module_source
from symdl.export.standalone import network_module
from symdl.graph import Dense, Input, Model

KINDS = ["compiled", "graph", "numpy", "numpy-graph", "torch", "torch-graph", "jax", "jax-graph"]
MODES = ["plain", "adam"]  # plain gradient descent's train_step(params, X, Y, lr); adam(lr=None)'s (…, state, lr)


def _message(lr: object, top: str = "1.8e308") -> str:
    shown = repr(lr) if len(repr(lr)) <= 60 else repr(lr)[:57] + "..."  # 10**309's 310 digits are cut
    return f"lr: expected a finite real number from 0 to {top}, got {shown}"


def _model() -> Model:
    x = Input(3)
    return Model([x], Dense(2, activation="tanh")(x), losses=["mse"])


@cache
def _built(kind: str, mode: str, dtype: str, folder: Path) -> object:
    """The compiled model or the loaded module of ``kind`` (cached: printing a module takes a second)."""
    opt = None if mode == "plain" else symdl.optimizer("adam", lr=None)
    backend, _, graph = kind.partition("-")
    if backend == "compiled":
        return symdl.Network([3, 2], activation="tanh", optimizer=opt).compile(dtype)
    if backend == "graph":
        return _model().compile(dtype, opt)
    pytest.importorskip("torch" if backend == "torch" else "jax" if backend == "jax" else "numpy")
    if graph:
        source = graph_module_source(_model(), backend, dtype, optimizer=opt)
    else:
        network = symdl.Network([3, 2], activation="tanh", optimizer=opt)
        source = network_module(network, dtype) if backend == "numpy" else network_module_source(network, backend, dtype)
    return load_module(source, folder, f"lr_{kind.replace('-', '_')}_{mode}_{dtype}")


def _host(value: object) -> np.ndarray:
    """A copy on the host of a numpy, torch or JAX array."""
    return np.array(value.detach().cpu().numpy() if hasattr(value, "detach") else value)  # type: ignore[attr-defined]


def _step(built: object, mode: str, lr: object) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(params before, params after) one train_step with ``lr``, as numpy arrays."""
    params = built.init(0) if hasattr(built, "init") else built.init_params(0)  # type: ignore[attr-defined]
    before = {k: _host(v) for k, v in params.items()}
    dtype = next(iter(before.values())).dtype
    X, Y = np.linspace(-1, 1, 12, dtype=dtype).reshape(4, 3), np.full((4, 2), 0.25, dtype=dtype)
    args = (lr,) if mode == "plain" else (built.init_state(params), lr)  # type: ignore[attr-defined]
    result = built.train_step(params, X, Y, *args)  # type: ignore[attr-defined]
    if isinstance(result, tuple) and len(result) == 3:  # a JAX module with an optimizer returns the new params
        params = result[1]
    return before, {k: _host(v) for k, v in params.items()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lr_sign")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lr=st.floats(max_value=-0.0, exclude_max=True, allow_infinity=False, allow_nan=False))
def test_a_negative_learning_rate_is_refused_and_zero_is_a_step_that_changes_nothing(folder, kind, mode, lr) -> None:
    built = _built(kind, mode, "float64", folder)
    with pytest.raises(ValueError) as info:
        _step(built, mode, lr)
    assert str(info.value) == _message(lr)
    before, after = _step(built, mode, 0.0)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_range_is_the_model_dtype(folder, kind, mode) -> None:
    """float32 refuses lr = 1e39 (it overflows there); float64 takes it, and refuses 1e309 (10**309 as an int)."""
    with pytest.raises(ValueError) as info:
        _step(_built(kind, mode, "float32", folder), mode, 1e39)
    assert str(info.value) == _message(1e39, "3.4e38")
    float64 = _built(kind, mode, "float64", folder)
    _step(float64, mode, 1e39)
    with pytest.raises(ValueError) as info:
        _step(float64, mode, 10**309)
    assert str(info.value) == _message(10**309)


@given(lr=st.floats(max_value=-0.0, exclude_max=True, allow_infinity=False, allow_nan=False))
def test_an_optimizer_and_a_schedule_refuse_it_in_the_same_words(lr: float) -> None:
    for build in (lambda: symdl.optimizer("adam", lr=lr), lambda: symdl.optim.sgd(lr),
                  lambda: symdl.optim.schedules.cosine(lr=lr, T_max=10)):
        with pytest.raises(ValueError) as info:
            build()
        assert str(info.value) == _message(lr)
    assert symdl.optimizer("adam", lr=0.0).config()["hyperparameters"]["lr"] == 0.0


def test_a_module_fit_refuses_it_before_a_step(folder) -> None:
    module = _built("numpy", "plain", "float64", folder)
    params = module.init_params(0)  # type: ignore[attr-defined]
    before = {k: v.copy() for k, v in params.items()}
    X, Y = np.ones((8, 3)), np.zeros((8, 2))
    with pytest.raises(ValueError) as info:
        module.fit(params, X, Y, lr=-0.1, epochs=1, verbose=0)  # type: ignore[attr-defined]
    assert str(info.value) == _message(-0.1)
    for key, value in before.items():
        np.testing.assert_array_equal(params[key], value, err_msg=key)
