"""A torch graph module's ``Module``: a torch.nn.Module for torch.optim, state_dict and torch.func, its gradient printed.

The model is the PyTorch user's graph: two inputs concatenated, a residual block whose dense layer is shared, an
output with a squared error and an auxiliary reconstruction loss of the first input. ``.grad`` after
``Module(...)(X1, X2, Y).backward()`` is compared with torch autograd of the same model written by hand in torch.
"""

from __future__ import annotations

import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.export import graph_module_source
from symdl.graph import Add, Concatenate, Dense, Dropout, Input, Model

torch = pytest.importorskip("torch")


def residual_two_input_model() -> Model:
    x1, x2 = Input(4), Input(3)
    h = Dense(8, activation="tanh")(Concatenate()([x1, x2]))
    block = Dense(8, activation="tanh")
    h = Add()([h, block(h)])
    h = Add()([h, block(h)])  # the block's W2, b2 used twice
    model = Model([x1, x2], Dense(2)(h), losses="mse")
    model.add_loss(Dense(4)(h), "mse", target=x1, weight=0.1)
    return model


def dropout_model() -> Model:
    x = Input(4)
    return Model(x, Dense(2)(Dropout(0.3)(Dense(6, activation="relu")(x))), losses="mse")


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graph_torch_module")
    return {
        "residual": load_module(graph_module_source(residual_two_input_model(), "torch", "float64"), folder, "g_residual"),
        "dropout": load_module(graph_module_source(dropout_model(), "torch", "float64"), folder, "g_dropout"),
    }


def by_hand(p, X1, X2, Y):
    """The residual model in torch, as a PyTorch user writes it (symdl's mse is ½(a − y)², summed over units)."""
    h = torch.tanh(torch.cat((X1, X2), dim=1) @ p["W1"].T + p["b1"])
    for _ in range(2):
        h = h + torch.tanh(h @ p["W2"].T + p["b2"])
    out, reconstruction = h @ p["W3"].T + p["b3"], h @ p["W4"].T + p["b4"]
    per_sample = 0.5 * ((out - Y) ** 2).sum(1) + 0.1 * 0.5 * ((reconstruction - X1) ** 2).sum(1)
    return per_sample.mean()


def data(seed: int, rows: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(rows, width, generator=g, dtype=torch.float64) for width in (4, 3, 2))


@settings(deadline=None, max_examples=15)
@given(st.integers(0, 2**16), st.integers(0, 2**16), st.integers(1, 9))
def test_backward_fills_grad_with_torch_autograds_gradient(modules, init_seed, data_seed, rows):
    mod = modules["residual"]
    model = mod.Module(mod.init_params(init_seed))
    X1, X2, Y = data(data_seed, rows)
    cost = model(X1, X2, Y)
    cost.backward()
    leaves = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
    reference = by_hand(leaves, X1, X2, Y)
    reference.backward()
    torch.testing.assert_close(cost.detach(), reference.detach(), rtol=1e-12, atol=1e-15)
    for key, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, leaves[key].grad, rtol=1e-10, atol=1e-13, msg=key)


def test_torch_optim_trains_it_as_train_step_and_state_dict_round_trips(modules, tmp_path):
    mod = modules["residual"]
    X1, X2, Y = data(1, 16)
    model, params = mod.Module(mod.init_params(0)), mod.init_params(0)
    assert [k for k, _ in model.named_parameters()] == list(params) == list(model.state_dict())
    assert repr(model) == ("Module(W1: (8, 7), b1: (8,), W2: (8, 8), b2: (8,), W3: (2, 8), b3: (2,), W4: (4, 8), b4: (4,))")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(4):
        optimizer.zero_grad()
        model(X1, X2, Y).backward()
        optimizer.step()
        mod.train_step(params, X1, X2, Y, 0.05)
    for key in params:
        torch.testing.assert_close(getattr(model, key).detach(), params[key], rtol=1e-12, atol=1e-14, msg=key)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    again = mod.Module(mod.init_params(7))
    again.load_state_dict(torch.load(tmp_path / "model.pt"))
    assert torch.equal(again(X1, X2, Y), model(X1, X2, Y))
    torch.testing.assert_close(again.predict(X1, X2), mod.forward(params, X1, X2), rtol=1e-12, atol=1e-14)
    again.eval()
    value = again(X1, X2, Y)
    assert not value.requires_grad and torch.equal(value, mod.inference_loss(again.as_params(), X1, X2, Y))


def test_torch_func_grad_over_functional_call(modules):
    mod = modules["residual"]
    X1, X2, Y = data(2, 5)
    model = mod.Module(mod.init_params(3), checks=False)
    params = {k: v.detach() for k, v in model.named_parameters()}
    grads = torch.func.grad(lambda p: torch.func.functional_call(model, p, (X1, X2, Y)))(params)
    _, printed = mod.loss_and_grad(params, X1, X2, Y)
    for key in printed:
        assert torch.equal(grads[key], printed[key]), key


def test_dropout_masks_come_from_seed_or_torchs_generator(modules):
    mod = modules["dropout"]
    X, _, Y = data(3, 6)
    model = mod.Module(mod.init_params(0))
    model(X, Y[:, :2], seed=4).backward()
    _, printed = mod.loss_and_grad(mod.init_params(0), X, Y[:, :2], seed=4)
    for key, parameter in model.named_parameters():
        assert torch.equal(parameter.grad, printed[key]), key
    torch.manual_seed(1)
    first = model(X, Y[:, :2])
    torch.manual_seed(1)
    assert torch.equal(model(X, Y[:, :2]), first)


def test_what_the_graph_module_refuses_in_one_line(modules, tmp_path):
    """The float64 module's Module, and the float16 one whose backward takes its loss scale from the incoming gradient."""
    scaled = load_module(graph_module_source(residual_two_input_model(), "torch", "float16"), tmp_path, "g_scaled")
    for mod, dtype in ((modules["residual"], torch.float64), (scaled, torch.float32)):
        X1, X2, Y = (t.to(dtype) for t in data(4, 3))
        model = mod.Module(mod.init_params(0))
        cases = [
            (ValueError, "X1, X2 and Y must not require grad", lambda: model(X1, X2.clone().requires_grad_(), Y)),
            (ValueError, "this model draws no masks", lambda: model(X1, X2, Y, seed=1)),
            (TypeError, r"^Module.forward takes 3 positional arguments \(X1, X2, Y\) and seed by keyword only "
                        r"\(forward\(X1, X2, Y, seed=\.\.\.\)\), got 4$", lambda: model(X1, X2, Y, Y)),
            (ValueError, r"X2 has shape \(3, 4\); expected \(batch, 3\)", lambda: model(X1, X1, Y)),
            (RuntimeError, "no second derivatives",
             lambda: torch.autograd.grad(model(X1, X2, Y), model.W2, create_graph=True)[0].sum().backward()),
        ]
        for error, message, call in cases:
            with pytest.raises(error, match=message) as caught:
                call()
            assert "\n" not in str(caught.value)
