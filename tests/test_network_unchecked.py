"""CompiledNetwork.unchecked: the same generated code without the argument checks gives the checked results bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl

SPECS = [
    {"layers": [4, 6, 3], "activation": "tanh", "loss": "mse", "penalty": "l2"},
    {"layers": [3, 5, 4], "activation": "relu", "output_activation": "softmax", "loss": "softmax_cross_entropy"},
    {"layers": [4, 6, 6, 2], "activation": "prelu", "loss": "huber", "batchnorm": True, "dropout": 0.25},
    {"layers": [3, 4, 2], "activation": "selu", "loss": "mse", "optimizer": "adam", "batchnorm": True},
]
NETS = {(k, dtype): symdl.Network(**spec).compile(dtype) for k, spec in enumerate(SPECS) for dtype in ("float64", "float32")}


def same(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b)) and np.asarray(a).dtype == np.asarray(b).dtype


@settings(max_examples=12, deadline=None)
@given(key=st.sampled_from(sorted(NETS)), seed=st.integers(0, 2**16), rows=st.integers(2, 9))
def test_every_entry_point_equals_the_checked_one(key, seed, rows):
    net = NETS[key]
    rng = np.random.default_rng(seed)
    n_in, n_out = net.network.layers[0], net.network.layers[-1]
    X = rng.standard_normal((rows, n_in)).astype(net.dtype)
    Y = rng.uniform(0.1, 0.9, (rows, n_out)).astype(net.dtype)
    Y /= Y.sum(axis=1, keepdims=True)
    params = net.init(seed % 100)
    fast = net.unchecked
    assert same(net.forward(params, X), fast.forward(params, X))
    assert same(net.trace(params, X), fast.trace(params, X))
    assert same(net.loss(params, X, Y), fast.loss(params, X, Y))
    assert same(net.loss_and_grad(params, X, Y), fast.loss_and_grad(params, X, Y))
    checked, unchecked = copy.deepcopy(params), copy.deepcopy(params)
    if net.optimizer is None:
        step = (net.train_step(checked, X, Y, 0.05), fast.train_step(unchecked, X, Y, 0.05))
    else:
        state_a, state_b = net.init_state(checked), net.init_state(unchecked)
        step = tuple(f(p, X, Y, s) for f, p, s in ((net.train_step, checked, state_a), (fast.train_step, unchecked, state_b)))
        step += tuple(f(p, X, Y, s) for f, p, s in ((net.train_step, checked, state_a), (fast.train_step, unchecked, state_b)))
        assert same(state_a, state_b)
    assert same(step[0::2], step[1::2]) and same(checked, unchecked)  # (checked, unchecked) per step


def test_the_checked_entry_points_still_check_and_the_unchecked_do_not():
    net = NETS[(0, "float64")]
    params, X = net.init(0), np.ones((2, 4))
    with pytest.raises(ValueError, match="dtype"):
        net.loss_and_grad(params, X.astype(np.float32), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        net.loss_and_grad(params, np.full((2, 4), np.nan), np.zeros((2, 3)))
    loss, _ = net.unchecked.loss_and_grad(params, np.full((2, 4), np.nan), np.zeros((2, 3)))  # no check: NaN out
    assert np.isnan(loss)
    assert net.unchecked is net.unchecked  # built once


JAX_SPECS = [SPECS[0], {"layers": [3, 5, 2], "activation": "tanh", "loss": "mse", "dropout": 0.25},
             {"layers": [3, 4, 2], "activation": "relu", "loss": "mse", "optimizer": "adam"}]


@pytest.mark.parametrize("spec", JAX_SPECS, ids=["plain", "dropout", "adam"])
def test_the_jax_module_unchecked_entry_points_equal_the_checked_ones(spec, tmp_path):
    jax = pytest.importorskip("jax")
    import importlib.util

    from symdl.export import network_module_source

    path = tmp_path / "net.py"
    path.write_text(network_module_source(symdl.Network(**spec), "jax", "float32"))
    found = importlib.util.spec_from_file_location("unchecked_net", path)
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    net = NETS[(0, "float32")] if spec is SPECS[0] else symdl.Network(**spec).compile("float32")
    rng = np.random.default_rng(1)
    params = {k: jax.numpy.asarray(v) for k, v in net.init(0).items()}
    X = jax.numpy.asarray(rng.standard_normal((6, spec["layers"][0])), dtype="float32")
    Y = jax.numpy.asarray(rng.uniform(0, 1, (6, spec["layers"][-1])), dtype="float32")
    seeded = "dropout" in spec
    key = (jax.random.PRNGKey(3),) if seeded else ()
    seed = {"seed": 3} if seeded else {}
    close = lambda a, b: jax.tree_util.tree_all(jax.tree_util.tree_map(  # noqa: E731
        lambda x, y: np.allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7), a, b))
    assert close(module.forward(params, X), module.forward_unchecked(params, X))
    assert close(module.loss_and_grad(params, X, Y, **seed), module.loss_and_grad_unchecked(params, X, Y, *key))
    assert close(module.loss(params, X, Y, **seed), module.loss_unchecked(params, X, Y, *key))
    if "optimizer" in spec:
        state = module.init_state(params)
        assert close(module.train_step(params, X, Y, state), module.train_step_unchecked(params, X, Y, state))
    else:
        mine = dict(params)
        value = module.train_step(mine, X, Y, 0.1, **seed)
        assert close((value, mine), module.train_step_unchecked(params, X, Y, 0.1, *key))
    bad = X.at[0, 0].set(np.nan)
    with pytest.raises(ValueError, match="NaN"):  # host data: checked before the transfer
        module.loss(params, np.asarray(bad), Y, **seed)
    with jax.debug_nans(True), pytest.raises(ValueError, match="NaN"):  # device arrays: only when asked
        module.loss(params, bad, Y, **seed)
    assert np.isnan(float(module.loss_unchecked(params, bad, Y, *key)))  # no check, no read-back


def test_the_jax_unchecked_dropout_entry_points_take_a_key_defaulting_to_seed_0s_and_refuse_a_seed(tmp_path):
    jax = pytest.importorskip("jax")
    from generated_modules import load_module

    from symdl.export import network_module_source

    module = load_module(network_module_source(symdl.Network(**JAX_SPECS[1]), "jax", "float32"), tmp_path, "dropout_keys")
    rng = np.random.default_rng(2)
    params = module.init_params(1)
    X = jax.numpy.asarray(rng.standard_normal((8, 3)), dtype="float32")
    Y = jax.numpy.asarray(rng.uniform(0, 1, (8, 2)), dtype="float32")
    # no key: the masks of the checked functions' default seed=0, not another seed's
    assert float(module.loss_unchecked(params, X, Y)) == float(module.loss(params, X, Y))
    assert float(module.loss_unchecked(params, X, Y)) != float(module.loss(params, X, Y, seed=3))
    typed = module.loss_and_grad_unchecked(params, X, Y, jax.random.key(3))[0]  # a new-style typed key works too
    assert float(typed) == float(module.loss(params, X, Y, seed=3))
    assert float(module.train_step_unchecked(params, X, Y, 0.1)[0]) == float(module.loss(params, X, Y))
    for wrong in (3, np.zeros(3, np.float32)):
        with pytest.raises(ValueError, match=r"^key: expected a jax.random.PRNGKey\(seed\)") as caught:
            module.trace_unchecked(params, X, wrong)
        assert "\n" not in str(caught.value)
