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
