"""Generated JAX modules on a device: ``init_params(seed, device)`` and the ``_unchecked`` hot path.

Network modules, graph modules and modules with an optimizer: parameters placed with ``jax.device_put``, and
``loss_and_grad_unchecked`` / ``train_step_unchecked`` run under ``jax.transfer_guard("disallow")`` once every
input is on the device (a Python float ``lr`` would be a host-to-device transfer: it is passed as a 0-d array),
inside the user's own ``jax.jit``, and in an optax training loop.
Gradients are compared with ``jax.grad`` of the module's own loss.
"""

from __future__ import annotations

import numpy as np
import pytest
from formula_graphs import formula_graph
from generated_modules import load_module
from test_graph_modules import normed

import symdl
from symdl.export import graph_module_source
from symdl.export.network_modules import network_module_source
from symdl.graph import Dense, Dropout, Input, Model

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

M = 8


def _graph() -> Model:
    x = Input(3)
    return Model(x, Dense(2)(Dropout(0.25)(Dense(4, activation="tanh")(x))), losses="mse")


#: name → (source of a float32 JAX module, takes a key, has an optimizer)
CASES = {
    "network": (lambda: network_module_source(symdl.Network([3, 4, 2], activation="tanh"), "jax", "float32"), False, False),
    "network_dropout": (lambda: network_module_source(symdl.Network([3, 4, 2], activation="tanh", dropout=0.25), "jax", "float32"),
                        True, False),
    "network_adam": (lambda: network_module_source(symdl.Network([3, 4, 2], activation="tanh", optimizer="adam"), "jax", "float32"),
                     False, True),
    "graph_dropout": (lambda: graph_module_source(_graph(), "jax", "float32"), True, False),
    "graph_adam": (lambda: graph_module_source(_graph(), "jax", "float32", "adam"), True, True),
    "graph_formula": (lambda: graph_module_source(formula_graph(), "jax", "float32"), False, False),
    "graph_batchnorm": (lambda: graph_module_source(normed(), "jax", "float32"), False, False),
}


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jaxdevice")
    return {name: load_module(make(), folder, f"dev_{name}") for name, (make, _, _) in CASES.items()}


def _inputs(mod, name: str, device):
    """Everything an unchecked call takes, put on ``device`` before the guard: params, X, Y, then lr or the state, then the key."""
    _, keyed, stateful = CASES[name]
    rng = np.random.default_rng(0)
    params = mod.init_params(0, device=device)
    X = jax.device_put(rng.normal(size=(M, 3)).astype(np.float32), device)
    Y = jax.device_put(rng.normal(size=(M, 2)).astype(np.float32), device)
    step = mod.init_state(params) if stateful else jax.device_put(np.float32(0.05), device)
    key = [jax.device_put(jax.random.PRNGKey(3), device)] if keyed else []
    return jax.block_until_ready((params, X, Y, step, key))


@pytest.mark.parametrize("name", CASES)
def test_init_params_places_the_same_numbers_on_the_device(modules, name):
    mod = modules[name]
    device = jax.devices()[-1]
    default, placed = mod.init_params(0), mod.init_params(0, device=device)
    assert set(default) == set(placed)
    for key in default:
        assert placed[key].devices() == {device}
        np.testing.assert_array_equal(np.asarray(placed[key]), np.asarray(default[key]))
    with pytest.raises(TypeError, match="device: expected a jax.Device"):
        mod.init_params(0, device="cuda")


@pytest.mark.parametrize("name", CASES)
def test_unchecked_entry_points_transfer_nothing(modules, name):
    mod = modules[name]
    params, X, Y, step, key = _inputs(mod, name, jax.devices()[0])
    with jax.transfer_guard("disallow"):
        loss, grads = mod.loss_and_grad_unchecked(params, X, Y, *key)
        first = result = mod.train_step_unchecked(params, X, Y, step, *key)
        for _ in range(2):  # the new params and state (the step count included) go straight back in
            result = mod.train_step_unchecked(result[1], X, Y, result[2] if CASES[name][2] else step, *key)
        jax.block_until_ready((loss, grads, result))
    expected = jax.grad(lambda p: mod.loss_unchecked(p, X, Y, *key))(params)
    for k in grads:  # the trained arrays (batch norm's moving statistics have no gradient)
        np.testing.assert_allclose(np.asarray(grads[k]), np.asarray(expected[k]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(first[0]), float(loss), rtol=1e-6)
    assert float(result[0]) < float(loss)


@pytest.mark.parametrize("name", CASES)
def test_train_step_unchecked_inside_the_users_jit(modules, name):
    mod = modules[name]
    params, X, Y, step, key = _inputs(mod, name, jax.devices()[0])

    @jax.jit
    def two_steps(params, step, *key):
        first = mod.train_step_unchecked(params, X, Y, step, *key)
        return mod.train_step_unchecked(first[1], X, Y, first[2] if CASES[name][2] else step, *key)

    jitted = two_steps(params, step, *key)
    first = mod.train_step_unchecked(params, X, Y, step, *key)
    eager = mod.train_step_unchecked(first[1], X, Y, first[2] if CASES[name][2] else step, *key)
    for k in params:
        np.testing.assert_allclose(np.asarray(jitted[1][k]), np.asarray(eager[1][k]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["network", "network_dropout", "graph_dropout", "graph_formula"])
def test_an_optax_style_loop_under_the_transfer_guard(modules, name):
    mod = modules[name]
    optax = pytest.importorskip("optax")
    params, X, Y, _, key = _inputs(mod, name, jax.devices()[0])
    optimizer = optax.sgd(0.1, momentum=0.9)

    @jax.jit
    def step(params, opt_state):
        loss, grads = mod.loss_and_grad_unchecked(params, X, Y, *key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return loss, optax.apply_updates(params, updates), opt_state

    opt_state = jax.block_until_ready(optimizer.init(params))
    losses = []
    with jax.transfer_guard("disallow"):
        for _ in range(30):
            loss, params, opt_state = step(params, opt_state)
            losses.append(loss)
    losses = np.asarray(jax.device_get(losses))
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0]
