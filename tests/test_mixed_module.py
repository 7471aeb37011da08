"""Mixed-precision torch modules' ``Module``: float32 master parameters, the printed bfloat16 gradient, torch.optim.

Where the loss is not scaled (bfloat16's default, or float16 with ``loss_scale=1``) a step never has to be skipped, so
the network and graph modules define ``Module`` as in full precision; its ``.grad`` is compared with the module's own
``loss_and_grad`` and with torch autograd of the same network under ``torch.autocast(dtype=torch.bfloat16)``.
"""

from __future__ import annotations

import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Add, Dense, Input, Model

torch = pytest.importorskip("torch")

NET = symdl.Network([4, 16, 2], activation="tanh", loss="mse")


@pytest.fixture(scope="module")
def bf16(tmp_path_factory):
    return load_module(network_module_source(NET, "torch", "bfloat16"), tmp_path_factory.mktemp("mixed_module"), "net_bf16")


def data(seed: int, rows: int = 32) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 4, generator=g), torch.randn(rows, 2, generator=g)


@settings(deadline=None, max_examples=10)
@given(st.integers(0, 2**16), st.integers(0, 2**16))
def test_grad_is_the_printed_bfloat16_gradient_close_to_autocasts(bf16, init_seed, data_seed):
    model = bf16.Module(bf16.init_params(init_seed))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the masters
    X, Y = data(data_seed)
    cost = model(X, Y)
    cost.backward()
    value, printed = bf16.loss_and_grad(bf16.init_params(init_seed), X, Y)
    assert cost.dtype == torch.float32 and torch.equal(cost.detach(), value)
    leaves = {k: v.detach().clone().requires_grad_() for k, v in bf16.init_params(init_seed).items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = torch.tanh(X @ leaves["W1"].T + leaves["b1"]) @ leaves["W2"].T + leaves["b2"]
    (0.5 * ((out.float() - Y) ** 2).sum(1).mean()).backward()
    for key, parameter in model.named_parameters():
        assert parameter.grad.dtype == torch.float32 and torch.equal(parameter.grad, printed[key]), key
        assert torch.linalg.norm(parameter.grad - leaves[key].grad) <= 0.1 * torch.linalg.norm(leaves[key].grad), key


def test_torch_optim_steps_the_float32_masters_as_train_step(bf16):
    X, Y = data(1)
    model, params = bf16.Module(bf16.init_params(0)), bf16.init_params(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(X, Y).backward()
        optimizer.step()
        bf16.train_step(params, X, Y, 0.1)
    for key in params:
        torch.testing.assert_close(getattr(model, key).detach(), params[key], rtol=1e-6, atol=1e-7, msg=key)


def test_a_scaled_loss_has_a_module_taking_its_scale_from_backward_and_a_graph_has_one(tmp_path):
    scaled = load_module(network_module_source(NET, "torch", "float16"), tmp_path, "net_f16")  # default scale 2**10
    unscaled = load_module(network_module_source(NET, "torch", "float16", loss_scale=1), tmp_path, "net_f16_1")
    assert hasattr(scaled, "Module") and hasattr(unscaled, "Module")
    # the scaled one's backward computes the gradient at its incoming gradient (tests/test_mixed_module_scaled.py)
    assert hasattr(scaled, "_ScaledGradient") and not hasattr(unscaled, "_ScaledGradient")
    assert hasattr(scaled, "_loss_and_grad_scaled") and not hasattr(unscaled, "_loss_and_grad_scaled")
    x = Input(4)
    h = Dense(8, activation="tanh")(x)
    graph = Model(x, Dense(2)(Add()([h, Dense(8, activation="tanh")(h)])), losses="mse")
    mod = load_module(graph_module_source(graph, "torch", "bfloat16"), tmp_path, "graph_bf16")
    model = mod.Module(mod.init_params(0))
    X, Y = data(2)
    model(X, Y).backward()
    _, printed = mod.loss_and_grad(mod.init_params(0), X, Y)
    for key, parameter in model.named_parameters():
        assert torch.equal(parameter.grad, printed[key]), key
