"""Regression: a node multiplied by itself (``Multiply()([h, h])``) was printed as ``h *= h``, overwriting the buffer
the product still reads, which breaks torch autograd of the generated loss. The product must go into a fresh array
in every backend's code, with the value and the gradient unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest
from generated_modules import load_module

from symdl.export import graph_module_source
from symdl.graph import Add, Dense, Input, Model, Multiply

torch = pytest.importorskip("torch")

_IN_PLACE = re.compile(r"^\s*(\w+) \*= (.*)$", re.MULTILINE)


def _square(reused: bool, activation: str | None = None) -> Model:
    """x → h = Dense(x) → h ⊙ h (→ + h when ``reused``) → Dense → mse."""
    x = Input(3)
    h = Dense(4, activation=activation)(x)
    square = Multiply()([h, h])
    return Model(x, Dense(2)(Add()([square, h]) if reused else square), losses="mse")


def _self_products(source: str) -> list[str]:
    """Every ``A *= …`` statement whose right side reads A itself."""
    return [m.group(0).strip() for m in _IN_PLACE.finditer(source) if re.search(rf"\b{m.group(1)}\b", m.group(2))]


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_no_backend_multiplies_a_buffer_by_itself_in_place(activation):
    for backend in ("numpy", "torch", "jax"):  # printing needs no jax
        source = graph_module_source(_square(False, activation), backend)
        assert _self_products(source) == [], backend
    assert _self_products("    z1 *= (z1)\n    g1 *= 1 - a1**2\n") == ["z1 *= (z1)"]  # the check finds the old statement


@pytest.mark.parametrize("reused", [False, True])
def test_torch_module_loss_under_plain_autograd_matches_its_gradient_and_torch(tmp_path, reused):
    """torch.func.grad of the module's own loss (no functionalize: in-place writes on saved tensors raise), against
    the module's printed loss_and_grad, the compiled numpy graph and the same graph written in torch."""
    from test_graph_torch import torch_loss

    model = _square(reused)
    c = model.compile("float64")
    mod = load_module(graph_module_source(model, "torch"), tmp_path, f"square_{reused}")
    params = c.init(1)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    tparams = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    auto = torch.func.grad(lambda p: mod.loss.__wrapped__(p, tx, ty))(tparams)
    value, printed = mod.loss_and_grad(tparams, tx, ty)
    want, want_grads = c.loss_and_grad(params, x, y)
    reference = {k: v.clone().requires_grad_() for k, v in tparams.items()}
    expected = torch_loss(model, reference, {}, [tx], [ty])
    expected.backward()
    np.testing.assert_allclose(float(value), want, rtol=1e-12)
    np.testing.assert_allclose(float(expected.detach()), want, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(auto[k].numpy(), printed[k].numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(printed[k].numpy(), want_grads[k], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(reference[k].grad.numpy(), want_grads[k], rtol=1e-10, atol=1e-14)
