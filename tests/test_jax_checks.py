"""Where the generated JAX modules check their arguments: keys, shapes and dtypes when JAX traces, NaN on the host.

The checked entry points validate what is static under ``jax.jit`` (the keys of params, every shape and dtype)
inside the jitted function, so the Python checks run once per traced signature, not once per call; data that
comes from the host (numpy arrays, lists) is checked for NaN and infinity before it is transferred; device
arrays are read back only under JAX's own ``jax_debug_nans`` / ``jax_debug_infs``.
"""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module
from test_graph_modules import multi_io

import symdl
from symdl.export import graph_module_source
from symdl.export.network_modules import network_module_source

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    net = symdl.Network([3, 5, 2], activation="tanh")
    return load_module(network_module_source(net, "jax", "float32"), tmp_path_factory.mktemp("jaxchecks"), "checks_net")


def _data(m, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=(m, 3)), jnp.float32), jnp.asarray(rng.normal(size=(m, 2)), jnp.float32)


def test_the_array_checks_run_once_per_traced_signature_and_still_refuse_a_wrong_shape(module, monkeypatch):
    calls = []
    check = module._check
    monkeypatch.setattr(module, "_check", lambda *a: calls.append(a[1].shape) or check(*a))
    params = module.init_params(0)
    X, Y = _data(7)
    first = module.loss_and_grad(params, X, Y)
    for _ in range(3):
        again = module.loss_and_grad(params, X, Y)
    assert len(calls) == 1  # traced once: later calls with the same signature run no Python check
    assert float(again[0]) == float(first[0])
    module.loss_and_grad(params, *_data(4))
    assert len(calls) == 2  # a new batch size is a new signature: checked as it is traced
    with pytest.raises(ValueError, match=r"params\['W2'\]: expected a float32 array of shape \(2, 5\)"):
        module.loss_and_grad({**params, "W2": params["W2"][:, :3]}, X, Y)
    with pytest.raises(ValueError, match="X has dtype float64; this module computes in float32"):
        module.loss_and_grad(params, np.asarray(X, np.float64), Y)
    with pytest.raises(ValueError, match=r"Y has shape \(7, 3\); expected \(batch, 2\)"):
        module.loss_and_grad(params, X, jnp.ones((7, 3), jnp.float32))
    with pytest.raises(ValueError, match=r"^params: missing \['b1'\], unexpected none; expected W1 \(5, 3\), b1 \(5,\)"):
        module.loss_and_grad({k: v for k, v in params.items() if k != "b1"}, X, Y)


def test_host_data_and_other_mappings_take_the_python_checks_with_the_same_result(module):
    from types import MappingProxyType

    params = module.init_params(1)
    X, Y = _data(5, seed=3)
    want = module.loss_and_grad(params, X, Y)
    for p, x, y in ((MappingProxyType(params), X, Y), (params, np.asarray(X), np.asarray(Y)),
                    (params, np.asarray(X).tolist(), np.asarray(Y).tolist()),
                    ({k: np.asarray(v) for k, v in params.items()}, X, Y)):
        got = module.loss_and_grad(p, x, y)
        assert float(got[0]) == float(want[0])
        for k in want[1]:
            np.testing.assert_array_equal(np.asarray(got[1][k]), np.asarray(want[1][k]))
    with pytest.raises(ValueError, match="X: expected a 2-D array of numbers"):
        module.loss(params, [["a", "b", "c"]], Y[:1])
    with pytest.raises(ValueError, match="train_step stores the new arrays in params"):
        module.train_step(MappingProxyType(params), X, Y, 0.1)


def test_a_graph_module_checks_when_traced_and_refuses_host_nan_in_one_line(tmp_path):
    model = multi_io()
    mod = load_module(graph_module_source(model, "jax"), tmp_path, "graph_checks")
    params = {k: jnp.asarray(v) for k, v in model.compile().init(0).items()}
    x, y = jnp.ones((3, 2)), jnp.ones((3, 1))
    nan = np.full((3, 2), np.nan)
    cases = [
        (lambda: mod.loss({k: v for k, v in params.items() if k != "W1"}, x, x, y, y, y), "params"),
        (lambda: mod.loss(params, x, jnp.ones((3, 3)), y, y, y), "X2 has shape (3, 3)"),
        (lambda: mod.loss(params, x, jnp.ones((4, 2)), y, y, y), "different batch sizes [3, 4]"),
        (lambda: mod.loss(params, x, nan, y, y, y), "X2 contains NaN"),
        (lambda: mod.train_step(dict(params), x, x, y, y, y, -1.0), "lr: expected a finite real number from 0 to 1.8e308, got -1.0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value) and "\n" not in str(error.value)
    on_device = jnp.asarray(nan)
    assert np.isnan(float(mod.loss(params, x, on_device, y, y, y)))  # a device array: not read back
    with jax.debug_nans(True), pytest.raises(ValueError, match="X2 contains NaN or infinity"):
        mod.loss(params, x, on_device, y, y, y)


def test_traced_lists_key_arrays_masked_arrays_and_odd_keys_get_the_same_answers(module):
    params = module.init_params(2)
    X, Y = _data(3, seed=5)
    rows = np.asarray(X).tolist()
    # a list holding traced numbers (inside the caller's grad): taken as an array, as a list of floats is
    grad = jax.grad(lambda a: module.loss(params, [[a, *rows[0][1:]], *rows[1:]], Y))(rows[0][0])
    want = jax.grad(lambda a: module.loss(params, X.at[0, 0].set(a), Y))(rows[0][0])
    np.testing.assert_allclose(float(grad), float(want), rtol=1e-6)
    with pytest.raises(ValueError, match="X: expected a 2-D array of numbers .* got elements of dtype key"):
        module.loss(params, jax.random.split(jax.random.key(0), 3), Y)
    with pytest.raises(ValueError, match="masked arrays are not supported"):
        module.loss(params, np.ma.masked_array(np.asarray(X), mask=np.eye(3, dtype=bool)), Y)
    for odd in (0, None):  # keys jax.jit could not sort: refused by symdl's own check, not by the pytree code
        with pytest.raises(ValueError, match=rf"^params: missing none, unexpected \['{odd}'\]; expected W1"):
            module.loss({**params, odd: params["b1"]}, X, Y)


def test_a_step_count_beyond_jax_integers_is_one_value_error_not_an_overflow_in_jit(tmp_path):
    """jit takes a Python step count as JAX's default integer (int32 without jax_enable_x64): a larger count was
    an OverflowError from JAX's argument parsing; now it is the state check's one line, and a large valid one runs."""
    net = symdl.Network([3, 5, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01))
    mod = load_module(network_module_source(net, "jax", "float32"), tmp_path, "checks_count")
    params = mod.init_params(0)
    X, Y = _data(4)
    widest = 2**63 if jax.config.jax_enable_x64 else 2**31  # the canonical integer of this process
    for count in (2**70, widest, widest - 1):
        with pytest.raises(ValueError, match=r"^state\['t'\]: expected a non-negative integer \(the step count\) below"):
            mod.train_step(params, X, Y, {**mod.init_state(params), "t": count})
    loss, new, state = mod.train_step(params, X, Y, {**mod.init_state(params), "t": widest - 2})
    assert np.isfinite(float(loss)) and int(state["t"]) == widest - 1
    assert all(bool(jnp.isfinite(v).all()) for v in new.values())
