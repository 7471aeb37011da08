"""A generated JAX module's train_step compiles once for a run of steps: the state init_state makes has the
commitment of the parameters it is made for, as the steps' outputs do (a committed count beside uncommitted
parameters is a second jit signature, and a second XLA compile on the second step)."""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Dense, Input, Model

jax = pytest.importorskip("jax")
import jax.numpy as jnp


def network_module(folder, optimizer: str):
    net = symdl.Network([3, 4, 2], activation="tanh", loss="mse", optimizer=symdl.optimizer(optimizer))
    return load_module(network_module_source(net, "jax", "float32"), folder, f"net_{optimizer}")


def graph_module(folder, optimizer: str):
    x = Input(3)
    model = Model(x, Dense(2)(Dense(4, activation="tanh")(x)), losses="mse")
    return load_module(graph_module_source(model, "jax", "float32", optimizer=optimizer), folder, f"graph_{optimizer}")


@pytest.mark.parametrize("build", [network_module, graph_module])
@pytest.mark.parametrize("optimizer", ["adam", "nadam"])
@pytest.mark.parametrize("placed", [False, True])
def test_train_step_compiles_once_over_several_steps(tmp_path, build, optimizer, placed):
    mod = build(tmp_path, optimizer)
    params = mod.init_params(0, device=jax.devices()[0] if placed else None)
    state = mod.init_state(params)
    assert {v.committed for v in (*params.values(), *state.values())} == {placed}
    rng = np.random.default_rng(0)
    X, Y = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32), jnp.asarray(rng.normal(size=(5, 2)), jnp.float32)
    losses = []
    for _ in range(3):
        loss, params, state = mod.train_step(params, X, Y, state)
        losses.append(float(loss))
    assert mod._train_step._cache_size() == 1
    assert int(state["t"]) == 3 and losses[-1] < losses[0]
