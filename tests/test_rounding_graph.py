"""The rounding straight-through estimator as a custom formula layer inside a graph (quantisation-aware training).

``y[i] = x[i] + stop_gradient(round(x[i]) - x[i])`` between two Dense layers: the compiled graph, the generated
PyTorch module (its ``Module`` under ``backward``) and the JAX module against the same network written by hand with
PyTorch's ``x + (x.round() - x).detach()`` and JAX's ``stop_gradient``, under each framework's autodiff.
"""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source
from symdl.graph import Dense, Formula, Input, Model
from symdl.graph.proofs import prove_graph

torch = pytest.importorskip("torch")

STE = "y[i] = x[i] + stop_gradient(round(x[i]) - x[i])"


def ste_model() -> Model:
    x = Input(3)
    layer = symdl.formula_layer(STE, inputs={"x": "n"}, name="ste")
    return Model(x, Dense(1)(Formula(layer)(Dense(4)(x))), losses="mse")


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rounding_graph")
    return {backend: load_module(graph_module_source(ste_model(), backend, "float64"), folder, f"g_ste_{backend}")
            for backend in ("torch", "jax")}


def by_hand_torch(p, X, Y):
    """The network as a PyTorch user writes it (symdl's mse is ½(a − y)², mean over the batch)."""
    z = X @ p["W1"].T + p["b1"]
    h = z + (z.round() - z).detach()
    out = h @ p["W2"].T + p["b2"]
    return (0.5 * ((out - Y) ** 2).sum(1)).mean()


def _draw(seed: int, rows: int):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(4, 3)) * 2, "b1": rng.normal(size=4), "W2": rng.normal(size=(1, 4)), "b2": rng.normal(size=1)}
    return params, rng.normal(size=(rows, 3)) * 3, rng.normal(size=(rows, 1))


def test_the_graph_is_proven_and_prints_the_detach_pattern(modules):
    assert all(prove_graph(ste_model()).values())
    source = graph_module_source(ste_model(), "torch", "float64")
    assert "(-z1 + torch.round(z1)).detach()" in source


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**16), st.integers(1, 9))
def test_compiled_graph_and_torch_module_equal_torch_autograd_of_the_detach_trick(modules, seed, rows):
    params, X, Y = _draw(seed, rows)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    reference = by_hand_torch(leaves, torch.tensor(X), torch.tensor(Y))
    reference.backward()
    loss, grads = ste_model().compile().loss_and_grad(params, X, Y)
    expected = float(reference.detach())
    assert abs(loss - expected) <= 1e-12 * max(1.0, abs(expected))
    for key, leaf in leaves.items():
        np.testing.assert_allclose(grads[key], leaf.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
    mod = modules["torch"]
    model = mod.Module({k: torch.tensor(v) for k, v in params.items()})
    cost = model(torch.tensor(X), torch.tensor(Y))
    cost.backward()
    torch.testing.assert_close(cost.detach(), reference.detach(), rtol=1e-12, atol=1e-15)
    for key, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, leaves[key].grad, rtol=1e-10, atol=1e-13, msg=key)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**16), st.integers(1, 9))
def test_jax_module_equals_jax_grad_of_the_stop_gradient_trick(modules, seed, rows):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    jax.config.update("jax_enable_x64", True)
    params, X, Y = _draw(seed, rows)

    def by_hand(p):
        z = X @ p["W1"].T + p["b1"]
        h = z + jax.lax.stop_gradient(jnp.round(z) - z)
        return jnp.mean(0.5 * jnp.sum((h @ p["W2"].T + p["b2"] - Y) ** 2, axis=1))

    expected_loss, expected = jax.value_and_grad(by_hand)({k: jnp.asarray(v) for k, v in params.items()})
    loss, grads = modules["jax"].loss_and_grad({k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(X), jnp.asarray(Y))
    assert abs(float(loss) - float(expected_loss)) <= 1e-12 * max(1.0, abs(float(expected_loss)))
    for key in params:
        np.testing.assert_allclose(np.asarray(grads[key]), np.asarray(expected[key]), rtol=1e-10, atol=1e-12, err_msg=key)
