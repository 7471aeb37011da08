"""symdl.graph.LayerNorm against torch.nn.functional.layer_norm and autograd (compiled graph, numpy / JAX / torch
modules), finite differences, its proofs (the graph's and the textbook backward), stability, config and saving."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.graph import (
    Add,
    Dense,
    Input,
    LayerNorm,
    Model,
    from_config,
    load_graph,
    save_graph,
    to_config,
)
from symdl.graph.layernorm import layer_norm_formula, prove_textbook
from symdl.graph.proofs import prove_graph
from symdl.testing.gradcheck import assert_grad_close
from symdl.testing.network_check import flatten_params, unflatten_params

torch = pytest.importorskip("torch")


def _model(width: int, epsilon: float = 1e-5, center: bool = True, scale: bool = True) -> Model:
    """Dense → LayerNorm → Dense, with a skip around the norm."""
    x = Input(3)
    h = Dense(width)(x)
    return Model(x, Dense(2)(Add()([h, LayerNorm(epsilon, center, scale)(h)])), losses="mse")


def _torch(params: dict, x: np.ndarray, y: np.ndarray, width: int, epsilon: float):
    """The same model in torch, the norm torch.nn.functional.layer_norm; output, loss and autograd's gradients."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    last = max(k for k in t if k.startswith("W"))[1:]  # W3, or W2 when the norm has no parameters
    h = torch.tensor(x) @ t["W1"].T + t["b1"]
    normed = torch.nn.functional.layer_norm(h, (width,), t.get("gamma2"), t.get("beta2"), eps=epsilon)
    a = (h + normed) @ t["W" + last].T + t["b" + last]
    loss = ((a - torch.tensor(y)) ** 2 / 2).sum() / len(x)
    loss.backward()
    return a.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def _data(seed: int, width: int, batch: int, scale: float, params: dict):
    rng = np.random.default_rng(seed)
    for k in params:
        params[k] = rng.normal(size=params[k].shape)  # γ, β away from 1 and 0
    return rng.normal(size=(batch, 3)) * scale, rng.normal(size=(batch, 2))


@settings(max_examples=10, deadline=None)  # each example compiles a graph (~1 s)
@given(seed=st.integers(0, 2**16), width=st.integers(2, 6), batch=st.integers(1, 7), scale=st.sampled_from([0.01, 1.0, 30.0]),
       flags=st.sampled_from([(True, True), (False, True), (True, False), (False, False)]))
def test_layernorm_graph_matches_torch_layer_norm_and_autograd(seed, width, batch, scale, flags):
    c = _model(width, 1e-5, *flags).compile("float64")
    params = c.init(seed)
    x, y = _data(seed, width, batch, scale, params)
    want_out, want_loss, want = _torch(params, x, y, width, 1e-5)
    np.testing.assert_allclose(c.forward(params, x), want_out, rtol=1e-9, atol=1e-11 * scale)
    loss, grads = c.loss_and_grad(params, x, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-9)
    assert grads.keys() == want.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-8, atol=1e-10 * max(scale, 1) ** 2, err_msg=k)


@pytest.mark.parametrize("width", [1, 2])
def test_layernorm_of_one_or_two_features_matches_torch(width):
    # at n = 2 the VJP holds Σₖ (xₖ − μ), whose summand the printer meets free of k: two equal terms
    c = _model(width).compile("float64")
    params = c.init(0)
    x, y = _data(0, width, 4, 1.0, params)
    want_out, want_loss, want = _torch(params, x, y, width, 1e-5)
    np.testing.assert_allclose(c.forward(params, x), want_out, rtol=1e-10)
    loss, grads = c.loss_and_grad(params, x, y)
    for k in want:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_layernorm_graph_modules_match_torch_layer_norm_and_autograd(backend, tmp_path):
    if backend == "jax":
        pytest.importorskip("jax").config.update("jax_enable_x64", True)
    from symdl.export import graph_module_source

    width = 4
    model = _model(width, 1e-5)
    mod = load_module(graph_module_source(model, backend, "float64"), tmp_path, f"layernorm_{backend}")
    params = model.compile("float64").init(0)
    x, y = _data(1, width, 5, 3.0, params)
    want_out, want_loss, want = _torch(params, x, y, width, 1e-5)
    as_module = {k: (torch.tensor(v) if backend == "torch" else v) for k, v in params.items()}
    args = (torch.tensor(x), torch.tensor(y)) if backend == "torch" else (x, y)
    np.testing.assert_allclose(np.asarray(mod.forward(as_module, args[0])), want_out, rtol=1e-10)
    loss, grads = mod.loss_and_grad(as_module, *args)
    np.testing.assert_allclose(float(loss), want_loss, rtol=1e-10)
    for k in want:
        np.testing.assert_allclose(np.asarray(grads[k]), want[k], rtol=1e-9, atol=1e-12, err_msg=k)


@settings(max_examples=6, deadline=None)  # each example compiles a graph (~1 s)
@given(seed=st.integers(0, 2**16), width=st.integers(2, 5), epsilon=st.sampled_from([1e-3, 1e-5, 0.5]))
def test_layernorm_gradient_passes_finite_differences(seed, width, epsilon):
    c = _model(width, epsilon).compile("float64")
    params = c.init(seed)
    x, y = _data(seed, width, 6, 1.0, params)
    f = lambda theta: c.loss(unflatten_params(theta, params), x, y)  # noqa: E731
    grad = lambda theta: flatten_params(c.loss_and_grad(unflatten_params(theta, params), x, y)[1])  # noqa: E731
    # x̂ bends on the scale √(σ² + ε) ≥ √ε (at width 2 a row's σ can be ~0): steps well inside it, else the finite
    # difference, not the gradient, is what is off (seed 2, width 2, ε = 1e-5 at the default step)
    assert_grad_close(f, grad, flatten_params(params), directions=8, step=min(1e-3, 0.05 * epsilon**0.5))


def test_layernorm_graph_backprop_is_proven():
    # the smallest graph where the norm's input VJP reaches a parameter: every scalar written out (~4 s); a wrong
    # backward is refuted by the textbook test below
    x = Input(2)
    model = Model(x, LayerNorm()(Dense(2, use_bias=False)(x)), losses="mse")
    proofs = prove_graph(model)
    assert set(proofs) == {f"dC/d{k} == the backprop equations' value" for k in ("W1", "gamma2", "beta2")}
    assert all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}


@pytest.mark.parametrize("width", [2, 3])
def test_the_textbook_backward_is_proven_and_without_its_xhat_term_refuted(width):
    # exact at n = 2 and 3 (n = 4 holds too, in ~6 s: left to symdl's own runs)
    assert prove_textbook(width).holds
    wrong = prove_textbook(width, variant="no_xhat_term")
    assert not wrong.holds and "refuted at x[0]" in wrong.method
    assert prove_textbook(width, epsilon=1e-5, scale=False).holds


def test_the_formula_layers_own_vjps_are_proven():
    proofs = layer_norm_formula(1e-3).prove({"n": 3})
    assert len(proofs) == 3 and all(proofs.values()), proofs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layernorm_is_finite_without_warnings_to_1000_and_on_a_constant_row(dtype):
    c = _model(4, 1e-3).compile(dtype)
    params = c.init(0)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1000, 1000, size=(6, 3)), np.zeros((1, 3)), np.full((1, 3), 1000.0)]).astype(dtype)
    params["W1"][:] = 0
    params["W1"][:, 0] = 1.0  # h = (x₀, x₀, x₀, x₀) + b: with b = 0, every row constant (σ² = 0)
    params["b1"][:] = 0
    y = rng.normal(size=(len(x), 2)).astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = c.forward(params, x)
        loss, grads = c.loss_and_grad(params, x, y)
    assert np.isfinite(out).all() and np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    params["W1"] = rng.uniform(-1, 1, size=params["W1"].shape).astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss, grads = c.loss_and_grad(params, x, y)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())


def test_layernorm_starts_at_gamma_one_beta_zero_and_trains():
    c = _model(4).compile("float64")
    params = c.init(0)
    np.testing.assert_array_equal(params["gamma2"], np.ones(4))
    np.testing.assert_array_equal(params["beta2"], np.zeros(4))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3))
    y = np.tanh(x[:, :2])
    first = c.loss(params, x, y)
    for _ in range(100):
        c.train_step(params, x, y, 0.05)
    assert c.loss(params, x, y) < 0.5 * first
    assert np.abs(params["gamma2"] - 1).max() > 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epsilon": 0.0}, r"^LayerNorm: epsilon: expected a finite number > 0, got 0\.0$"),
    ({"epsilon": float("nan")}, r"^LayerNorm: epsilon: expected a finite number > 0"),
    ({"epsilon": "1e-3"}, r"^LayerNorm: epsilon: expected a finite number > 0"),
    ({"center": 1}, r"^LayerNorm: center must be True or False, got 1$"),
    ({"scale": "yes"}, r"^LayerNorm: scale must be True or False"),
])
def test_layernorm_refuses_bad_arguments_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LayerNorm(**kwargs)


def test_layernorm_survives_config_and_saving(tmp_path):
    model = _model(4, 1e-5, center=False)
    config = json.loads(json.dumps(to_config(model)))
    assert config["layers"][1] == {"type": "LayerNorm", "config": {"epsilon": 1e-5, "center": False, "scale": True}}
    again = from_config(config)
    assert again.parameter_shapes == model.parameter_shapes
    assert again.equations().latex() == model.equations().latex()
    c = model.compile("float64")
    params = c.init(0)
    params["gamma2"] = np.array([0.5, -1.0, 2.0, 1.5])
    save_graph(tmp_path / "m", c, params)
    graph, loaded, _, _ = load_graph(tmp_path / "m")
    x = np.random.default_rng(2).normal(size=(5, 3))
    np.testing.assert_array_equal(graph.forward(loaded, x), c.forward(params, x))
    from symdl.cli import main
    from symdl.export import graph_module_source

    assert main(["codegen", "--graph", str(tmp_path / "m"), "-o", str(tmp_path / "m.py")]) == 0
    assert (tmp_path / "m.py").read_text() == graph_module_source(model, "numpy", "float64")
    config["layers"][1]["config"]["momentum"] = 0.9
    with pytest.raises(ValueError, match=r"^layers\[1\]: LayerNorm: unknown key 'momentum'"):
        from_config(config)
