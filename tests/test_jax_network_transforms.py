"""Generated JAX network modules inside the user's own jax.jit / vmap / grad: the way JAX users train (an optax step)."""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module

import symdl
from symdl.export.network_modules import network_module_source

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
optax = pytest.importorskip("optax")


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    net = symdl.Network([3, 5, 2], activation="tanh")
    return load_module(network_module_source(net, "jax", "float32"), tmp_path_factory.mktemp("jaxnet"), "jit_net")


def _data(seed=0, m=8):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=(m, 3)), jnp.float32), jnp.asarray(rng.normal(size=(m, 2)), jnp.float32)


def test_a_jitted_optax_step_calls_loss_and_grad(module):
    opt = optax.adam(0.01)
    X, Y = _data()

    def step(params, opt_state, X, Y):
        loss, grads = module.loss_and_grad(params, X, Y)
        updates, opt_state = opt.update(grads, opt_state)
        return loss, optax.apply_updates(params, updates), opt_state

    jitted = jax.jit(step)
    params_jit = params_eager = module.init_params(0)
    state_jit = state_eager = opt.init(params_jit)
    for _ in range(3):  # eager (op by op) and jitted agree
        loss, params_jit, state_jit = jitted(params_jit, state_jit, X, Y)
        loss_eager, params_eager, state_eager = step(params_eager, state_eager, X, Y)
        np.testing.assert_allclose(float(loss), float(loss_eager), rtol=1e-5)
    for k in params_jit:
        np.testing.assert_allclose(np.asarray(params_jit[k]), np.asarray(params_eager[k]), rtol=1e-4, atol=1e-6)
    losses = []
    for _ in range(30):
        loss, params_jit, state_jit = jitted(params_jit, state_jit, X, Y)
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0]  # it trains


def test_grad_vmap_and_jit_of_the_entry_points(module):
    params = module.init_params(1)
    X, Y = _data(1)
    loss, grads = module.loss_and_grad(params, X, Y)
    autodiff = jax.jit(jax.grad(module.loss))(params, X, Y)  # JAX's autodiff of the printed loss agrees with BP1-BP4
    for k in grads:
        np.testing.assert_allclose(np.asarray(autodiff[k]), np.asarray(grads[k]), rtol=1e-4, atol=1e-6)
    batches = jnp.stack([X, X[::-1] * 2]), jnp.stack([Y, Y * 0.5])
    per_batch = jax.vmap(module.loss, in_axes=(None, 0, 0))(params, *batches)
    expected = [float(module.loss(params, x, y)) for x, y in zip(*batches)]
    np.testing.assert_allclose(np.asarray(per_batch), expected, rtol=1e-5)
    np.testing.assert_allclose(float(jax.jit(module.loss)(params, X, Y)), float(loss), rtol=1e-6)
    out = jax.jit(module.forward)(params, X)
    np.testing.assert_allclose(np.asarray(out), np.asarray(module.forward(params, X)), rtol=1e-6)


def test_host_data_is_checked_for_nan_device_arrays_only_under_jax_debug_nans_and_traced_calls_never(module):
    params = module.init_params(2)
    X, Y = _data(2)
    bad = X.at[0, 0].set(jnp.nan)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):  # numpy data: checked on the host, no read-back
        module.loss(params, np.asarray(bad), Y)
    with pytest.raises(ValueError, match="Y contains NaN or infinity"):
        module.loss_and_grad(params, X, np.asarray(Y.at[1, 0].set(-jnp.inf)).tolist())
    assert np.isnan(float(module.loss(params, bad, Y)))  # a device array is not read back by default, as in JAX
    with jax.debug_nans(True), pytest.raises(ValueError, match="X contains NaN or infinity"):
        module.loss(params, bad, Y)
    infinite = Y.at[1, 0].set(jnp.inf)
    with jax.debug_infs(True), pytest.raises(ValueError, match="Y contains NaN or infinity"):
        module.train_step(dict(params), X, infinite, 0.1)
    assert np.isnan(float(jax.jit(module.loss)(params, bad, Y)))  # no value to test inside the trace
    with pytest.raises(ValueError, match=r"params\['W1'\]"):  # shapes are static: still checked under jit
        jax.jit(module.loss)({**params, "W1": params["W1"][:, :2]}, X, Y)


def test_optimizer_train_step_is_pure_and_jits(tmp_path):
    net = symdl.Network([3, 4, 2], optimizer="adam")
    module = load_module(network_module_source(net, "jax", "float32"), tmp_path, "jit_adam")
    params = module.init_params(0)
    X, Y = _data(3)
    state = module.init_state(params)
    eager = module.train_step(params, X, Y, state)
    jitted = jax.jit(module.train_step)(params, X, Y, state)
    np.testing.assert_allclose(float(jitted[0]), float(eager[0]), rtol=1e-6)
    for k in params:
        np.testing.assert_allclose(np.asarray(jitted[1][k]), np.asarray(eager[1][k]), rtol=1e-5, atol=1e-7)
    for k in state:
        np.testing.assert_allclose(np.asarray(jitted[2][k]), np.asarray(eager[2][k]), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="non-negative integer"):
        module.train_step(params, X, Y, {**state, "t": -1})
