"""symdl.Network with batch norm, dropout and initialisation schemes: training-mode gradients, state, folding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.layers.init_schemes import SCHEMES
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
    drop=st.sampled_from([0.5, 0.2, 0.0]),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_dropout_gradient_with_the_masks_held_fixed(activation, drop, seed, data):
    if activation == "exponential":
        activation = "softplus"  # e^{e^z} overflows by mathematics; the rule is checked elsewhere
    layers = [3, 6, 5, 2]
    net = compiled(layers=layers, activation=activation, dropout=drop, loss="log_cosh")
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
    # A kept unit is scaled by 1/(1 − p): its activation in training is twice the inference one (p = 1/2).
    trace = net.trace(params, X, seed=3)["a1"]
    kept = trace != 0
    np.testing.assert_allclose(trace[kept], 2 * np.tanh(X @ params["W1"].T + params["b1"])[kept], rtol=1e-14)
    assert 0.3 < kept.mean() < 0.7


def test_drop_probability_zero_is_no_dropout():
    net, plain = compiled(layers=[3, 5, 2], dropout=0.0), compiled(layers=[3, 5, 2])
    params, rng = random_params(net, 1), np.random.default_rng(1)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    assert net.loss(params, X, Y, seed=9) == plain.loss(params, X, Y)


@pytest.mark.parametrize("drop", [1, 1.0, -0.5, 1.5, float("nan"), "0.5", True])
def test_bad_drop_probability(drop):
    with pytest.raises(ValueError, match=r"dropout: expected the drop probability p, a number in \[0, 1\)"):
        symdl.Network([3, 4, 2], dropout=drop)


def test_dropout_and_batchnorm_need_a_hidden_layer():
    with pytest.raises(ValueError, match="act on hidden layers; this network has none"):
        symdl.Network([3, 2], dropout=0.5)
    with pytest.raises(ValueError, match="act on hidden layers"):
        symdl.Network([3, 2], batchnorm=True)


def test_bad_dropout_seed():
    net = compiled(layers=[3, 5, 2], dropout=0.5)
    params = net.init(0)
    with pytest.raises(ValueError, match=r"seed: expected a non-negative integer \(it fixes the dropout masks\)"):
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


# --- batch norm -----------------------------------------------------------------


@settings(deadline=None)
@given(
    activation=st.sampled_from(accepted_rules("activation")),
    seed=st.integers(0, 1000),
    dropout=st.sampled_from([None, 0.25]),
    data=st.data(),
)
def test_batchnorm_gradient_flows_through_the_batch_statistics(activation, seed, dropout, data):
    """Training mode: the gradient of C through μ_B and σ²_B (not with fixed statistics) matches finite differences."""
    if activation == "exponential":
        activation = "elu"
    layers = [3, 5, 4, 2]
    net = compiled(layers=layers, activation=activation, batchnorm=True, dropout=dropout, loss="huber")
    X, Y = data.draw(batches(layers, max_batch=6))
    # Rows spread apart: with a batch variance near 0, x̂ = (u − μ)/√(σ² + ε) curves on the scale √ε, where a
    # finite difference (not the gradient) loses its digits. Identical rows are that case.
    # Eight more random rows: with two rows a unit's batch variance can come near ε by chance.
    rng = np.random.default_rng(seed)
    X = np.vstack([X, 2 * rng.standard_normal((8, X.shape[1]))])
    Y = np.vstack([Y, rng.standard_normal((8, Y.shape[1]))])
    assert_network_grad_close(net, random_params(net, seed), X, Y)


def _pytorch_style_running_stats(u, momentum, running_mean, running_var):
    """Reference (tests only): PyTorch's update, new = (1 − momentum)·old + momentum·batch, variance unbiased."""
    m = u.shape[0]
    return (1 - momentum) * running_mean + momentum * u.mean(0), (1 - momentum) * running_var + momentum * u.var(0) * m / (m - 1)


def test_train_step_updates_the_running_statistics_as_pytorch_does():
    net = compiled(layers=[3, 4, 2], activation="tanh", batchnorm=True)
    params, rng = random_params(net, 2), np.random.default_rng(2)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    u = X @ params["W1"].T
    expected = _pytorch_style_running_stats(u, 0.1, params["running_mean1"].copy(), params["running_var1"].copy())
    _, grads = net.loss_and_grad(params, X, Y)
    assert "running_mean1" not in grads and set(grads) == set(net.param_names)
    before = {k: v.copy() for k, v in params.items()}
    net.loss_and_grad(params, X, Y)
    assert all(np.array_equal(before[k], params[k]) for k in params)  # loss_and_grad is pure
    net.train_step(params, X, Y, 0.05)
    np.testing.assert_allclose(params["running_mean1"], expected[0], rtol=1e-13)
    np.testing.assert_allclose(params["running_var1"], expected[1], rtol=1e-13)


def test_forward_is_inference_mode_with_the_running_statistics():
    from symdl import batchnorm

    net = compiled(layers=[3, 4, 2], activation="sigmoid", batchnorm=True)
    params, rng = random_params(net, 3), np.random.default_rng(3)
    params["running_mean1"] = rng.standard_normal(4)
    params["running_var1"] = rng.uniform(0.5, 2, 4)
    X = rng.standard_normal((5, 3))
    stats = [params[k] for k in ("gamma1", "beta1", "running_mean1", "running_var1")]
    hidden = 1 / (1 + np.exp(-batchnorm.inference_forward(X @ params["W1"].T, *stats)))
    np.testing.assert_allclose(net.forward(params, X), hidden @ params["W2"].T + params["b2"], rtol=1e-13)
    # One row is fine at inference.
    assert net.forward(params, X[:1]).shape == (1, 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "prelu"])
def test_fold_gives_the_same_outputs(dtype, activation):
    net = compiled(dtype, layers=[4, 6, 5, 3], activation=activation, batchnorm=True, dropout=0.1, penalty="l2")
    params, rng = random_params(net, 4), np.random.default_rng(4)
    X, Y = rng.standard_normal((16, 4)).astype(dtype), rng.standard_normal((16, 3)).astype(dtype)
    for step in range(3):
        net.train_step(params, X, Y, 0.05, seed=step)
    plain, folded = net.fold(params)
    assert "gamma1" not in folded and folded["b1"].shape == (6,) and folded["W1"].dtype == np.dtype(dtype)
    tolerance = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(plain.forward(folded, X), net.forward(params, X), rtol=tolerance, atol=tolerance)


def test_batchnorm_bad_input():
    net = compiled(layers=[3, 4, 2], batchnorm=True)
    params = net.init(0)
    with pytest.raises(ValueError, match="needs a batch of at least 2 rows"):
        net.train_step(params, np.ones((1, 3)), np.ones((1, 2)), 0.1)
    with pytest.raises(ValueError, match="fold: this network has no batch norm"):
        compiled(layers=[3, 4, 2]).fold(compiled(layers=[3, 4, 2]).init(0))
    with pytest.raises(ValueError, match="bn_eps: expected a finite number > 0"):
        symdl.Network([3, 4, 2], batchnorm=True, bn_eps=0)
    with pytest.raises(ValueError, match=r"bn_momentum: expected a number in \(0, 1\]"):
        symdl.Network([3, 4, 2], batchnorm=True, bn_momentum=1.5)
    with pytest.raises(ValueError, match="batchnorm: expected True or False"):
        symdl.Network([3, 4, 2], batchnorm="yes")
    # batch norm's settings without batch norm did nothing, silently (penalty_params without a penalty is refused)
    for options, named in (({"bn_momentum": 0.5}, "bn_momentum=0.5"), ({"bn_eps": 1e-3, "bn_momentum": 0.2}, "bn_eps=0.001 and bn_momentum=0.2")):
        with pytest.raises(ValueError, match=rf"^{named} given without batchnorm=True; batch norm's settings do nothing in a network without it$"):
            symdl.Network([3, 4, 2], **options)
    assert symdl.Network([3, 4, 2], bn_eps=1e-5, bn_momentum=0.1).parts == ((), ())  # the defaults, spelt out
    with pytest.raises(ValueError, match=r"params: missing \['running_mean1'"):
        net.loss(params={k: v for k, v in params.items() if k != "running_mean1"}, X=np.ones((2, 3)), Y=np.ones((2, 2)))
