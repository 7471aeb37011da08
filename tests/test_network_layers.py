"""symdl.Network with batch norm, dropout and initialisation schemes: training-mode gradients, state, folding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.init_schemes import SCHEMES
from symdl.network import accepted_rules
from symdl.testing import assert_network_grad_close
from symdl.testing.strategies import batches

_COMPILED: dict = {}


def compiled(dtype="float64", **spec):
    key = (dtype, repr(sorted(spec.items())))
    if key not in _COMPILED:
        _COMPILED[key] = symdl.Network(**spec).compile(dtype)
    return _COMPILED[key]


def random_params(net, seed, scheme="glorot_uniform"):
    params = net.init(seed, scheme=scheme)
    rng = np.random.default_rng(seed)
    for key in params:
        if key.startswith(("b", "beta")) and not key.startswith("running"):
            params[key] = 0.5 * rng.standard_normal(params[key].shape).astype(net.dtype)
        if key.startswith("gamma"):
            params[key] = (1 + 0.3 * rng.standard_normal(params[key].shape)).astype(net.dtype)
    return params


# --- dropout ------------------------------------------------------------------


@settings(deadline=None)
@given(
    activation=st.sampled_from(accepted_rules("activation")),
    keep=st.sampled_from([0.5, 0.8, 1.0]),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_dropout_gradient_with_the_masks_held_fixed(activation, keep, seed, data):
    if activation == "exponential":
        activation = "softplus"  # e^{e^z} overflows by mathematics; the rule is checked elsewhere
    layers = [3, 6, 5, 2]
    net = compiled(layers=layers, activation=activation, dropout=keep, loss="log_cosh")
    X, Y = data.draw(batches(layers, max_batch=6))
    assert_network_grad_close(net, random_params(net, seed), X, Y)


def test_dropout_masks_are_seeded_and_evaluation_keeps_every_unit():
    net = compiled(layers=[4, 16, 3], activation="tanh", dropout=0.5)
    params, rng = random_params(net, 0), np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 4)), rng.standard_normal((32, 3))
    assert net.loss(params, X, Y, seed=3) == net.loss(params, X, Y, seed=3)
    assert net.loss(params, X, Y, seed=3) != net.loss(params, X, Y, seed=4)
    # forward is inference: inverted dropout is the identity there, so it equals a network without dropout.
    plain = compiled(layers=[4, 16, 3], activation="tanh")
    np.testing.assert_array_equal(net.forward(params, X), plain.forward(params, X))
    # A kept unit is scaled by 1/p: its activation in training is twice the inference one (p = 1/2).
    trace = net.trace(params, X, seed=3)["a1"]
    kept = trace != 0
    np.testing.assert_allclose(trace[kept], 2 * np.tanh(X @ params["W1"].T + params["b1"])[kept], rtol=1e-14)
    assert 0.3 < kept.mean() < 0.7


def test_keep_probability_one_is_no_dropout():
    net, plain = compiled(layers=[3, 5, 2], dropout=1.0), compiled(layers=[3, 5, 2])
    params, rng = random_params(net, 1), np.random.default_rng(1)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    assert net.loss(params, X, Y, seed=9) == plain.loss(params, X, Y)


@pytest.mark.parametrize("keep", [0, -0.5, 1.5, float("nan"), "0.5", True])
def test_bad_keep_probability(keep):
    with pytest.raises(ValueError, match=r"dropout \(keep probability p\): expected a number in \(0, 1\]"):
        symdl.Network([3, 4, 2], dropout=keep)


def test_dropout_and_batchnorm_need_a_hidden_layer():
    with pytest.raises(ValueError, match="act on hidden layers; this network has none"):
        symdl.Network([3, 2], dropout=0.5)
    with pytest.raises(ValueError, match="act on hidden layers"):
        symdl.Network([3, 2], batchnorm=True)


def test_bad_dropout_seed():
    net = compiled(layers=[3, 5, 2], dropout=0.5)
    params = net.init(0)
    with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
        net.loss(params, np.ones((2, 3)), np.ones((2, 2)), seed=-1)


# --- initialisation -----------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_init_scheme(scheme):
    net = compiled(layers=[50, 400, 30], activation="selu")
    params = net.init(0, scheme=scheme)
    assert params["W1"].shape == (400, 50) and params["W1"].dtype == np.float64
    assert np.all(params["b1"] == 0)
    target = {"glorot": 2 / (50 + 400), "he": 2 / 50, "lecun": 1 / 50}[scheme.split("_")[0]]
    # 20,000 draws: the sample variance is within a few percent of the proven variance.
    assert abs(params["W1"].var() / target - 1) < 0.06


def test_unknown_scheme():
    with pytest.raises(ValueError, match="scheme: unknown initialisation 'xavier'; accepted: "):
        compiled(layers=[3, 2]).init(0, scheme="xavier")
