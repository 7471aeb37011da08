"""symdl.graph.PReLU against torch.nn.PReLU and autograd, finite differences, its proof, config and saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.graph import (
    Add,
    Dense,
    Input,
    Model,
    PReLU,
    from_config,
    load_graph,
    save_graph,
    to_config,
)
from symdl.graph.proofs import prove_graph
from symdl.testing.gradcheck import assert_grad_close
from symdl.testing.network_check import flatten_params, unflatten_params

torch = pytest.importorskip("torch")


def _model(alpha_init: float = 0.25) -> Model:
    """Dense → PReLU → Dense → the same PReLU (one α, two uses) → a skip → Dense."""
    x = Input(3)
    act = PReLU(alpha_init)
    h = act(Dense(4)(x))
    h2 = act(Dense(4)(h))
    return Model(x, Dense(2)(Add()([h, h2])), losses="mse")


def _torch_loss(params: dict, x: np.ndarray, y: np.ndarray):
    """The same model written in torch, α in one torch.nn.PReLU(4) module used twice; its autograd."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items() if not k.startswith("alpha")}
    prelu = torch.nn.PReLU(4).double()
    with torch.no_grad():
        prelu.weight.copy_(torch.tensor(params["alpha2"]))
    h = prelu(torch.tensor(x) @ t["W1"].T + t["b1"])
    h2 = prelu(h @ t["W3"].T + t["b3"])
    a = (h + h2) @ t["W4"].T + t["b4"]
    loss = ((a - torch.tensor(y)) ** 2 / 2).sum() / len(x)
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in t.items()}
    grads["alpha2"] = prelu.weight.grad.numpy()
    return a.detach().numpy(), loss.item(), grads


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([0.1, 1.0, 30.0]), alpha=st.floats(-2, 2, allow_nan=False))
def test_prelu_graph_matches_torch_prelu_and_autograd(seed, scale, alpha):
    c = _model().compile("float64")
    rng = np.random.default_rng(seed)
    params = c.init(seed)
    params["alpha2"] = alpha + rng.normal(size=4)  # slopes of either sign, not all equal
    x = rng.normal(size=(7, 3)) * scale
    y = rng.normal(size=(7, 2))
    want_out, want_loss, want_grads = _torch_loss(params, x, y)
    np.testing.assert_allclose(c.forward(params, x), want_out, rtol=1e-10, atol=1e-12 * scale)
    loss, grads = c.loss_and_grad(params, x, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10)
    assert grads.keys() == want_grads.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-9, atol=1e-11 * max(scale, 1) ** 2, err_msg=k)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), alpha=st.floats(-1, 1.5, allow_nan=False))
def test_prelu_gradient_passes_finite_differences(seed, alpha):
    c = _model(alpha).compile("float64")
    rng = np.random.default_rng(seed)
    params = c.init(seed)
    # biases drawn too: with zero biases and α = 0 a row whose units are all negative puts the next z exactly on the kink
    params.update({k: rng.normal(size=v.shape) for k, v in params.items() if k.startswith("b")})
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    f = lambda theta: c.loss(unflatten_params(theta, params), x, y)  # noqa: E731
    grad = lambda theta: flatten_params(c.loss_and_grad(unflatten_params(theta, params), x, y)[1])  # noqa: E731
    # the kink at 0: a short step; random data and biases keep every z a distance from it
    assert_grad_close(f, grad, flatten_params(params), directions=8, step=1e-6)


def test_prelu_backprop_is_proven_and_a_missing_use_refuted():
    model = _model()
    proofs = prove_graph(model)
    assert "dC/dalpha2 == the backprop equations' value" in proofs
    assert all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}
    wrong = prove_graph(model, mutation="last_use_only")  # α shared by two uses: its gradient from one is refuted
    assert not wrong["dC/dalpha2 == the backprop equations' value"]


def test_prelu_equations_apply_the_prelu_rule_to_the_input_and_alpha():
    forward = [tex for label, tex in _model().equations(training=False).latex() if label == "forward"]
    assert r"a^{2} = prelu\left(z^{1}, \alpha^{2}\right)" in forward
    assert r"a^{4} = prelu\left(z^{3}, \alpha^{2}\right)" in forward
    backward = dict(_model().equations().latex())
    assert "sum over 2 uses" in next(label for label in backward if label.startswith("dC/dalpha2"))


def test_prelu_starts_at_alpha_init_and_trains_its_slopes():
    model = _model(0.0)
    assert model.parameter_shapes["alpha2"] == (4,)
    c = model.compile("float64")
    params = c.init(0)
    np.testing.assert_array_equal(params["alpha2"], np.zeros(4))  # Keras' default: a ReLU at the start
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3))
    y = np.where(x[:, :2] < 0, 0.5 * x[:, :2], x[:, :2])  # a leaky target: α must leave 0
    first = c.loss(params, x, y)
    for _ in range(200):
        c.train_step(params, x, y, 0.05)
    assert c.loss(params, x, y) < 0.5 * first
    assert np.abs(params["alpha2"]).max() > 0


@pytest.mark.parametrize("bad", [float("nan"), "0.25", True, float("inf")])
def test_prelu_refuses_a_bad_alpha_init_in_one_line(bad):
    with pytest.raises(ValueError, match=r"^PReLU: alpha_init must be a finite number"):
        PReLU(bad)


def test_prelu_survives_config_and_saving(tmp_path):
    model = _model(0.25)
    config = json.loads(json.dumps(to_config(model)))
    assert [layer["type"] for layer in config["layers"]] == ["Dense", "PReLU", "Dense", "Add", "Dense"]
    again = from_config(config)
    assert again.parameter_shapes == model.parameter_shapes
    assert again.equations().latex() == model.equations().latex()
    c = model.compile("float64")
    params = c.init(0)
    params["alpha2"] = np.array([0.1, -0.2, 0.3, 1.5])
    save_graph(tmp_path / "m", c, params)
    graph, loaded, _, _ = load_graph(tmp_path / "m")
    np.testing.assert_array_equal(loaded["alpha2"], params["alpha2"])
    x = np.random.default_rng(2).normal(size=(5, 3))
    np.testing.assert_array_equal(graph.forward(loaded, x), c.forward(params, x))


def test_prelu_torch_module_holds_alpha_and_its_grad_is_autograds(tmp_path):
    from generated_modules import load_module

    from symdl.export import graph_module_source

    model = _model(0.25)
    mod = load_module(graph_module_source(model, "torch", "float64"), tmp_path, "prelu_torch")
    params = model.compile("float64").init(0)
    rng = np.random.default_rng(3)
    params["alpha2"] = rng.normal(size=4)
    module = mod.Module(mod.init_params(seed=0))
    assert list(module.state_dict()) == list(params)
    module.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    module(torch.tensor(x), torch.tensor(y)).backward()
    _, _, want = _torch_loss(params, x, y)
    for k, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), want[k], rtol=1e-10, atol=1e-12, err_msg=k)
