"""Batch norm's generated numpy code: finite differences, folds, Algorithm 2, float32 stability, PyTorch, bad input.

The hand-written numpy formulas below are test references only; the code
under test is printed from symdl.layers.batchnorm_symbolic.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from symdl import batchnorm as bn
from symdl.layers.batchnorm_symbolic import STAGES
from symdl.testing import assert_grad_close
from symdl.testing.strategies import float_arrays

DOC = Path(__file__).resolve().parent.parent / "docs" / "batchnorm.md"


# --- references (tests only) -----------------------------------------------------------------


def reference_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, mean, var


def reference_inference(x, gamma, beta, mean, var, eps=1e-5):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


# --- strategies -----------------------------------------------------------------------------------


@st.composite
def spread_batches(draw, low=-1.0, high=1.0):
    """(x, gamma, beta, dy) in float64, each column of x spread out (std ≥ 0.3) so that finite differences resolve it."""
    size = draw(st.integers(2, 6))
    features = draw(st.integers(1, 3))
    noise = draw(float_arrays(np.float64, (size, features), low, high))
    pattern = np.linspace(-2.0, 2.0, size)[:, None] * np.linspace(1.0, 1.5, features)
    x = pattern + noise
    gamma = draw(float_arrays(np.float64, (features,), -2.0, 2.0))
    beta = draw(float_arrays(np.float64, (features,), -2.0, 2.0))
    dy = draw(float_arrays(np.float64, (size, features), -2.0, 2.0))
    return x, gamma, beta, dy


def statistics(features: int, dtype=np.float64):
    """(gamma, beta, mean, var ≥ 0) of one width."""
    return st.tuples(
        float_arrays(dtype, (features,), -3.0, 3.0),
        float_arrays(dtype, (features,), -3.0, 3.0),
        float_arrays(dtype, (features,), -100.0, 100.0),
        float_arrays(dtype, (features,), 0.0, 50.0),
    )


@st.composite
def inference_inputs(draw, dtype=np.float64):
    size, features = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    x = draw(float_arrays(dtype, (size, features), -1000.0, 1000.0))
    return (x, *draw(statistics(features, dtype)), draw(st.sampled_from([1e-5, 1e-3, 0.1])))


# --- the backward pass against finite differences -----------------------------------------------


@given(spread_batches())
def test_train_vjp_matches_finite_differences_of_the_loss(batch):
    x, gamma, beta, dy = batch
    size, features = x.shape

    def split(theta):
        return theta[: x.size].reshape(x.shape), theta[x.size : x.size + features], theta[x.size + features :]

    def loss(theta):
        y, _, _ = bn.train_forward(*split(theta))
        return float(np.sum(dy * y))

    def gradient(theta):
        dx, dgamma, dbeta = bn.train_vjp(*split(theta), dy)
        return np.concatenate([dx.ravel(), dgamma, dbeta])

    theta = np.concatenate([x.ravel(), gamma, beta])
    assert_grad_close(loss, gradient, theta, directions=8)


@given(spread_batches())
def test_train_vjp_checked_coordinate_by_coordinate_on_x(batch):
    x, gamma, beta, dy = batch
    dx, _, _ = bn.train_vjp(x, gamma, beta, dy)
    loss = lambda flat: float(np.sum(dy * bn.train_forward(flat.reshape(x.shape), gamma, beta)[0]))
    assert_grad_close(loss, dx.ravel(), x.ravel(), mode="coordinates")


@given(spread_batches())
def test_the_batch_gradient_neither_shifts_the_batch_nor_depends_on_a_shift(batch):
    x, gamma, beta, dy = batch
    dx, dgamma, dbeta = bn.train_vjp(x, gamma, beta, dy)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-10)
    shifted = bn.train_vjp(x + 3.0, gamma, beta, dy)
    for got, want in zip(shifted, (dx, dgamma, dbeta)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@given(spread_batches())
def test_train_forward_matches_the_reference(batch):
    x, gamma, beta, _ = batch
    for got, want in zip(bn.train_forward(x, gamma, beta, eps=1e-3), reference_forward(x, gamma, beta, eps=1e-3)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_batch_of_one_row_maps_every_input_to_beta_and_has_zero_gradient():
    x, gamma, beta = np.array([[3.0, -7.0]]), np.array([2.0, 0.5]), np.array([0.25, -1.0])
    y, mean, var = bn.train_forward(x, gamma, beta)
    np.testing.assert_array_equal(y, beta[None, :])
    np.testing.assert_array_equal(mean, x[0])
    np.testing.assert_array_equal(var, 0.0)
    dx, dgamma, dbeta = bn.train_vjp(x, gamma, beta, np.array([[1.5, -2.0]]))
    np.testing.assert_array_equal(dx, 0.0)
    np.testing.assert_array_equal(dgamma, 0.0)
    np.testing.assert_array_equal(dbeta, [1.5, -2.0])


# --- inference, folds, Algorithm 2, running statistics ---------------------------------------------


@given(inference_inputs())
def test_inference_forward_matches_its_definition(inputs):
    x, gamma, beta, mean, var, eps = inputs
    np.testing.assert_allclose(
        bn.inference_forward(x, gamma, beta, mean, var, eps), reference_inference(x, gamma, beta, mean, var, eps),
        rtol=1e-12, atol=1e-9,
    )


@given(inference_inputs())
def test_fold_matches_inference_forward(inputs):
    x, gamma, beta, mean, var, eps = inputs
    scale, shift = bn.fold(gamma, beta, mean, var, eps)
    y = bn.inference_forward(x, gamma, beta, mean, var, eps)
    bound = 1e-12 * (np.abs(scale) * (np.abs(x) + np.abs(mean)) + np.abs(beta))
    assert np.all(np.abs(scale * x + shift - y) <= 8 * bound + 1e-12)


@st.composite
def linear_layers(draw):
    size, inputs, features = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = draw(float_arrays(np.float64, (size, inputs), -10.0, 10.0))
    W = draw(float_arrays(np.float64, (features, inputs), -3.0, 3.0))
    b = draw(st.one_of(st.none(), float_arrays(np.float64, (features,), -3.0, 3.0)))
    return (a, W, b, *draw(statistics(features)))


@given(linear_layers())
def test_fold_linear_matches_linear_then_inference(layer):
    a, W, b, gamma, beta, mean, var = layer
    z = a @ W.T + (0.0 if b is None else b)
    expected = bn.inference_forward(z, gamma, beta, mean, var)
    W_folded, b_folded = bn.fold_linear(W, b, gamma, beta, mean, var)
    assert W_folded.shape == W.shape and b_folded.shape == (W.shape[0],)
    scale = np.abs(gamma) / np.sqrt(var + 1e-5)
    bound = 1e-12 * (scale * (np.abs(a) @ np.abs(W.T) + np.abs(mean) + (0 if b is None else np.abs(b))) + np.abs(beta))
    assert np.all(np.abs(a @ W_folded.T + b_folded - expected) <= 16 * bound + 1e-12)


@given(st.integers(1, 5), st.integers(1, 4), st.integers(2, 64), st.data())
def test_population_stats_matches_the_definition(batches, features, size, data):
    means = data.draw(float_arrays(np.float64, (batches, features), -100.0, 100.0))
    variances = data.draw(float_arrays(np.float64, (batches, features), 0.0, 100.0))
    mean, var = bn.population_stats(means, variances, size)
    np.testing.assert_allclose(mean, means.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, size / (size - 1) * variances.mean(axis=0), rtol=1e-12, atol=1e-12)


@given(float_arrays(np.float64, 4, -100.0, 100.0), float_arrays(np.float64, 4, -100.0, 100.0), st.floats(0.0, 1.0))
def test_ema_update_weights_the_new_value_by_momentum(running, value, momentum):
    np.testing.assert_allclose(
        bn.ema_update(running, value, momentum), (1 - momentum) * running + momentum * value, rtol=1e-12, atol=1e-12
    )


def test_ema_update_does_not_modify_running_and_keeps_its_shape():
    running = np.ones((2, 3))
    out = bn.ema_update(running, np.zeros((2, 3)), 0.25)
    np.testing.assert_array_equal(running, 1.0)
    np.testing.assert_allclose(out, 0.75)
    np.testing.assert_allclose(bn.unbiased(np.array([[2.0], [4.0]]), 5), [[2.5], [5.0]])


def test_averaging_unbiased_batch_variances_is_algorithm_2():
    rng = np.random.default_rng(3)
    stats = [bn.train_forward(rng.normal(5.0, 2.0, (8, 3)), np.ones(3), np.zeros(3))[1:] for _ in range(6)]
    means, variances = np.array([s[0] for s in stats]), np.array([s[1] for s in stats])
    mean, var = bn.population_stats(means, variances, 8)
    running_mean, running_var = np.zeros(3), np.zeros(3)
    for n, (mu, sigma2) in enumerate(stats, start=1):  # a cumulative average: momentum 1/n
        running_mean = bn.ema_update(running_mean, mu, 1 / n)
        running_var = bn.ema_update(running_var, bn.unbiased(sigma2, 8), 1 / n)
    np.testing.assert_allclose(running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(running_var, var, rtol=1e-12)


# --- float32: stability and dtypes --------------------------------------------------------------------


@pytest.mark.parametrize("std", [1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("size", [8, 512])
def test_float32_keeps_a_tiny_variance_under_a_large_mean(std, size):
    rng = np.random.default_rng(int(std * 1e4) + size)
    x = (1e4 + std * rng.standard_normal((size, 3))).astype(np.float32)
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    y, mean, var = bn.train_forward(x, gamma, beta)
    y64, mean64, var64 = reference_forward(x.astype(np.float64), 1.0, 0.0)
    assert y.dtype == mean.dtype == var.dtype == np.float32
    assert np.all(var >= 0)
    assert np.all(np.abs(var - var64) <= 1e-4 * var64 + 1e-10)
    assert np.all(np.abs(mean - mean64) <= 1e-3)  # within one float32 spacing at 1e4 (9.8e-4)
    assert np.all(np.abs(y - y64) <= 1e-3)  # the plain two-pass is off by ~0.1 here (std 1e-2)
    dx, _, _ = bn.train_vjp(x, gamma, beta, np.ones_like(x))
    assert dx.dtype == np.float32 and np.all(np.isfinite(dx))


def test_tiny_variance_1e_minus_8_in_float32_is_finite_and_nonnegative():
    rng = np.random.default_rng(0)
    x = (1e4 + 1e-4 * rng.standard_normal((64, 2))).astype(np.float32)  # variance 1e-8 (below float32's spacing)
    y, mean, var = bn.train_forward(x, np.ones(2, np.float32), np.zeros(2, np.float32))
    assert np.all(np.isfinite(y)) and np.all(var >= 0) and np.all(var < 1e-6)


@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 6), st.integers(1, 3), st.data())
def test_large_inputs_stay_finite_without_warnings_and_keep_the_dtype(dtype, size, features, data):
    x = data.draw(float_arrays(dtype, (size, features), -1000.0, 1000.0))
    gamma = data.draw(float_arrays(dtype, (features,), -1000.0, 1000.0))
    beta = data.draw(float_arrays(dtype, (features,), -1000.0, 1000.0))
    dy = data.draw(float_arrays(dtype, (size, features), -1000.0, 1000.0))
    outputs = [*bn.train_forward(x, gamma, beta), *bn.train_vjp(x, gamma, beta, dy)]
    for out in outputs:
        assert out.dtype == dtype and np.all(np.isfinite(out))
    y, mean, var = outputs[:3]
    y64, mean64, var64 = reference_forward(x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64))
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(var, var64, rtol=tol, atol=tol * float(np.max(np.abs(x))) ** 2 + 1e-30)
    # A backward-stable x̂ is exact for x perturbed by a few ulps, so its error carries x̂'s condition number
    # max|x| / √(σ² + ε): a constant column of 683.6 has σ² = 0, and one ulp of 683.6 in the mean moves x̂ by 3.6e-11.
    condition = np.max(np.abs(x), axis=0) / np.sqrt(var64 + 1e-5)
    assert np.all(np.abs(y - y64) <= tol * (np.abs(gamma) * (np.sqrt(size) + condition) + np.abs(beta) + 1))


def test_every_function_keeps_float32():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    g, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    results = [
        *bn.train_forward(x, g, b),
        *bn.train_vjp(x, g, b, x),
        bn.inference_forward(x, g, b, mean, var),
        *bn.population_stats(x, x, 4),
        bn.ema_update(mean, var),
        bn.unbiased(var, 4),
        *bn.fold(g, b, mean, var),
        *bn.fold_linear(np.ones((3, 2), np.float32), None, g, b, mean, var),
        *bn.fold_linear(np.ones((3, 2), np.float32), b, g, b, mean, var),
    ]
    assert [r.dtype for r in results] == [np.dtype(np.float32)] * len(results)


def test_integers_become_float64_and_python_lists_follow_x():
    y, mean, var = bn.train_forward(np.array([[1, 2], [3, 5]]), [1, 1], [0, 0])
    assert y.dtype == np.float64
    y32, _, _ = bn.train_forward(np.array([[1, 2], [3, 5]], np.float32), [1.0, 1.0], np.array([0, 0]))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y, rtol=1e-6)


# --- PyTorch ----------------------------------------------------------------------------------------------


def test_matches_pytorch_batchnorm1d_training_backward_running_stats_and_eval():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, (6, 4))
    dy = rng.normal(size=(6, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    layer = torch.nn.BatchNorm1d(4, momentum=0.1, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = layer(tx)
    ty.backward(torch.from_numpy(dy))

    y, mean, var = bn.train_forward(x, gamma, beta)
    dx, dgamma, dbeta = bn.train_vjp(x, gamma, beta, dy)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, layer.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dbeta, layer.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    running_mean = bn.ema_update(np.zeros(4), mean, 0.1)
    running_var = bn.ema_update(np.ones(4), bn.unbiased(var, 6), 0.1)  # PyTorch stores the unbiased variance
    np.testing.assert_allclose(running_mean, layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(running_var, layer.running_var.numpy(), rtol=1e-12)

    layer.eval()
    x_test = rng.normal(size=(3, 4))
    expected = layer(torch.from_numpy(x_test)).detach().numpy()
    got = bn.inference_forward(x_test, gamma, beta, running_mean, running_var)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_pytorch_cumulative_average_is_population_stats():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    layer = torch.nn.BatchNorm1d(2, momentum=None, dtype=torch.float64)  # momentum=None: cumulative average
    means, variances = [], []
    for _ in range(5):
        x = rng.normal(1.0, 3.0, (8, 2))
        layer(torch.from_numpy(x))
        _, mean, var = bn.train_forward(x, np.ones(2), np.zeros(2))
        means.append(mean)
        variances.append(var)
    mean, var = bn.population_stats(np.array(means), np.array(variances), 8)
    np.testing.assert_allclose(mean, layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var, layer.running_var.numpy(), rtol=1e-12)


# --- bad input ------------------------------------------------------------------------------------------


X = np.ones((4, 3))
G = np.ones(3)
V = np.ones(3)

BAD_CALLS = [
    ("x has shape", lambda: bn.train_forward(np.ones(3), G, G)),
    ("x has shape", lambda: bn.train_forward(np.ones((0, 3)), G, G)),
    ("x has shape", lambda: bn.train_forward(np.ones((2, 2, 3)), G, G)),
    ("gamma has shape", lambda: bn.train_forward(X, np.ones(4), G)),
    ("beta has shape", lambda: bn.train_forward(X, G, np.ones((1, 3)))),
    ("dy has shape", lambda: bn.train_vjp(X, G, G, np.ones((3, 3)))),
    ("eps must be positive", lambda: bn.train_forward(X, G, G, eps=0.0)),
    ("eps must be positive", lambda: bn.train_forward(X, G, G, eps=-1e-5)),
    ("eps must be positive", lambda: bn.train_forward(X.astype(np.float32), G.astype(np.float32), G.astype(np.float32), eps=1e-60)),
    ("eps must be a positive real", lambda: bn.train_forward(X, G, G, eps="1e-5")),
    ("x has dtype complex128", lambda: bn.train_forward(X.astype(complex), G, G)),
    ("x has dtype bool", lambda: bn.train_forward(X.astype(bool), G, G)),
    ("x has dtype float16", lambda: bn.train_forward(X.astype(np.float16), G, G)),
    ("x has dtype <U", lambda: bn.train_forward(np.array([["a"]]), ["1"], ["0"])),
    ("gamma has dtype float64 but x has dtype float32", lambda: bn.train_forward(X.astype(np.float32), G, G)),
    ("dy has dtype float32 but x has dtype float64", lambda: bn.train_vjp(X, G, G, X.astype(np.float32))),
    ("x contains NaN", lambda: bn.train_forward(np.full((2, 3), np.nan), G, G)),
    ("gamma contains NaN or infinity", lambda: bn.train_forward(X.astype(np.float32), [1e300, 1.0, 1.0], G.astype(np.float32))),
    ("var has a negative entry", lambda: bn.inference_forward(X, G, G, G, -V)),
    ("mean has shape", lambda: bn.inference_forward(X, G, G, np.ones(2), V)),
    ("needs a batch size m ≥ 2", lambda: bn.population_stats(np.ones((2, 3)), np.ones((2, 3)), 1)),
    ("m must be an integer", lambda: bn.population_stats(np.ones((2, 3)), np.ones((2, 3)), 4.0)),
    ("m must be an integer", lambda: bn.unbiased(V, True)),
    ("needs a batch size m ≥ 2", lambda: bn.unbiased(V, 1)),
    ("var has a negative entry", lambda: bn.unbiased(-V, 4)),
    ("batch_vars has a negative entry", lambda: bn.population_stats(np.ones((2, 3)), -np.ones((2, 3)), 4)),
    ("batch_vars has shape", lambda: bn.population_stats(np.ones((2, 3)), np.ones((3, 3)), 4)),
    ("batch_means has shape", lambda: bn.population_stats(np.ones(3), np.ones(3), 4)),
    ("momentum must be a real number in", lambda: bn.ema_update(V, V, 1.5)),
    ("momentum must be a real number in", lambda: bn.ema_update(V, V, -0.1)),
    ("batch_value has shape", lambda: bn.ema_update(V, np.ones(2))),
    ("W has shape", lambda: bn.fold_linear(np.ones(3), None, G, G, G, V)),
    ("b has shape", lambda: bn.fold_linear(np.ones((3, 2)), np.ones(2), G, G, G, V)),
    ("gamma has shape", lambda: bn.fold(np.ones((3, 1)), G, G, V)),
    ("var has a negative entry", lambda: bn.fold(G, G, G, -V)),
]


@pytest.mark.parametrize("message, call", BAD_CALLS, ids=[f"{n}:{m}" for n, (m, _) in enumerate(BAD_CALLS)])
def test_bad_input_gets_one_clear_value_error(message, call):
    with pytest.raises(ValueError) as info:
        call()
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert any(word in text for word in ("expected", "accepted", "must", "needs", "pass"))


# --- generated, documented ------------------------------------------------------------------------------


def test_every_stage_has_a_generated_kernel():
    sources = bn.kernel_sources()
    assert set(sources) == {f"{g}.{s.name}" for g, stages in STAGES.items() for s in stages}
    assert all(source.startswith("def bn_") for source in sources.values())


def test_the_batchnorm_page_runs_as_written():
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6
    assert result.failed == 0
