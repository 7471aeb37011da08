"""symdl.graph.BatchNorm against torch.nn.BatchNorm1d and autograd (training and inference), its moving statistics
(Keras' convention), finite differences, config, saving, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.export import graph_module_source
from symdl.graph import (
    BatchNorm,
    Dense,
    Input,
    Model,
    from_config,
    load_graph,
    save_graph,
    to_config,
)
from symdl.testing.gradcheck import assert_grad_close
from symdl.testing.network_check import flatten_params, unflatten_params

torch = pytest.importorskip("torch")


def _model(momentum: float = 0.99, epsilon: float = 1e-3, shared: bool = False) -> Model:
    """Dense(4, tanh) → BatchNorm → Dense(4) → (the same BatchNorm again, when shared) → Dense(2)."""
    x = Input(3)
    bn = BatchNorm(momentum=momentum, epsilon=epsilon)
    h = Dense(4)(bn(Dense(4, activation="tanh")(x)))
    if shared:
        h = bn(h)
    return Model(x, Dense(2)(h), losses="mse")


def _torch(params: dict, x: np.ndarray, y: np.ndarray, momentum: float, epsilon: float, shared: bool, training: bool):
    """The same model in torch with one torch.nn.BatchNorm1d (PyTorch momentum 1 − Keras'); loss, grads, running stats."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items() if k[0] in "Wb" and k[1:].isdigit()}
    bn = torch.nn.BatchNorm1d(4, momentum=1 - momentum, eps=epsilon).double().train(training)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(params["gamma2"]))
        bn.bias.copy_(torch.tensor(params["beta2"]))
        bn.running_mean.copy_(torch.tensor(params["moving_mean2"]))
        bn.running_var.copy_(torch.tensor(params["moving_variance2"]))
    seen = []  # what each call of the batch norm normalises: the rows of its input
    u = torch.tanh(torch.tensor(x) @ t["W1"].T + t["b1"])
    seen.append(u.detach().numpy())
    h = bn(u) @ t["W3"].T + t["b3"]
    if shared:
        seen.append(h.detach().numpy())
        h = bn(h)
    a = h @ t["W4"].T + t["b4"]
    loss = ((a - torch.tensor(y)) ** 2 / 2).sum() / len(x)
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in t.items()}
    grads["gamma2"], grads["beta2"] = bn.weight.grad.numpy(), bn.bias.grad.numpy()
    return a.detach().numpy(), loss.item(), grads, bn.running_mean.numpy(), seen


def _data(seed: int, scale: float, rows: int = 6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 3)) * scale, rng.normal(size=(rows, 2)), rng


def _params(c, rng) -> dict:
    params = c.init(int(rng.integers(0, 2**16)))
    params.update({k: rng.normal(size=v.shape) for k, v in params.items() if k.startswith(("b", "beta", "moving_mean"))})
    params["gamma2"] = rng.uniform(0.5, 2, size=4) * rng.choice([-1, 1], size=4)
    params["moving_variance2"] = rng.uniform(0.5, 3, size=4)
    return params


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([0.1, 1.0, 30.0]), shared=st.booleans(),
       momentum=st.sampled_from([0.99, 0.9, 0.0, 1.0]), epsilon=st.sampled_from([1e-3, 1e-5, 0.5]))
def test_batchnorm_training_matches_torch_batchnorm1d_and_autograd(seed, scale, shared, momentum, epsilon):
    c = _model(momentum, epsilon, shared).compile("float64")
    x, y, rng = _data(seed, scale)
    params = _params(c, rng)
    want_out, want_loss, want_grads, _, seen = _torch(params, x, y, momentum, epsilon, shared, training=True)
    loss, grads = c.loss_and_grad(params, x, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10)
    assert grads.keys() == want_grads.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-8, atol=1e-10, err_msg=k)
    # a step moves the buffers as Keras does: old·momentum + (1 − momentum)·(batch mean | biased batch variance),
    # each use in turn (a shared layer moves them twice)
    mean, var = params["moving_mean2"].copy(), params["moving_variance2"].copy()
    for u in seen:
        mean = momentum * mean + (1 - momentum) * u.mean(axis=0)
        var = momentum * var + (1 - momentum) * u.var(axis=0)
    before = {k: v.copy() for k, v in params.items()}
    assert c.train_step(params, x, y, 0.0) == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(params["moving_mean2"], mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(params["moving_variance2"], var, rtol=1e-12, atol=1e-14)
    for k in c.trained_names:  # lr = 0: the trained arrays stay
        np.testing.assert_array_equal(params[k], before[k])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), momentum=st.sampled_from([0.99, 0.5]))
def test_batchnorm_running_mean_is_torchs_with_momentum_one_minus_keras(seed, momentum):
    """PyTorch's running_mean after one training call equals moving_mean after one step (μ_torch = 1 − momentum);
    its running_var averages the unbiased m/(m − 1)·σ²_B instead."""
    c = _model(momentum).compile("float64")
    x, y, rng = _data(seed, 1.0)
    params = _params(c, rng)
    _, _, _, running_mean, _ = _torch(params, x, y, momentum, 1e-3, False, training=True)
    c.train_step(params, x, y, 0.01)
    np.testing.assert_allclose(params["moving_mean2"], running_mean, rtol=1e-12, atol=1e-14)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([0.1, 1.0, 30.0]), shared=st.booleans())
def test_batchnorm_inference_matches_torch_eval_mode(seed, scale, shared):
    c = _model(shared=shared).compile("float64")
    x, y, rng = _data(seed, scale)
    params = _params(c, rng)
    want_out, want_loss, _, _, _ = _torch(params, x, y, 0.99, 1e-3, shared, training=False)
    np.testing.assert_allclose(c.forward(params, x), want_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.inference_loss(params, x, y), want_loss, rtol=1e-10)
    one = c.forward(params, x[:1])  # inference normalises each row by itself: a batch of one is the same row
    np.testing.assert_allclose(one, want_out[:1], rtol=1e-10, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), shared=st.booleans())
def test_batchnorm_gradient_passes_finite_differences(seed, shared):
    c = _model(shared=shared).compile("float64")
    x, y, rng = _data(seed, 1.0)
    params = _params(c, rng)
    trained = {k: params[k] for k in c.trained_names}
    full = lambda theta: {**params, **unflatten_params(theta, trained)}  # noqa: E731 — the buffers held fixed
    f = lambda theta: c.loss(full(theta), x, y)  # noqa: E731
    grad = lambda theta: flatten_params(c.loss_and_grad(full(theta), x, y)[1])  # noqa: E731
    assert_grad_close(f, grad, flatten_params(trained), directions=8)


def test_batchnorm_keeps_moving_statistics_in_params_trained_by_nothing_but_the_step():
    model = _model()
    assert list(model.parameter_shapes)[-2:] == ["moving_mean2", "moving_variance2"]
    c = model.compile("float64", "adam")
    params = c.init(0)
    np.testing.assert_array_equal(params["gamma2"], np.ones(4))
    np.testing.assert_array_equal(params["moving_variance2"], np.ones(4))
    state = c.init_state(params)
    assert not any("moving" in key for key in state)  # no optimizer slot for a buffer
    x, y, _ = _data(0, 1.0, rows=32)
    _, grads = c.loss_and_grad(params, x, y)
    assert set(grads) == set(c.trained_names)
    first = c.loss(params, x, y)
    for _ in range(30):
        c.train_step(params, x, y, state)
    assert c.loss(params, x, y) < first
    assert not np.allclose(params["moving_mean2"], 0)


def test_batchnorm_survives_config_and_saving(tmp_path):
    model = _model(momentum=0.9, epsilon=1e-5)
    config = json.loads(json.dumps(to_config(model)))
    assert config["layers"][1] == {"type": "BatchNorm", "config": {"momentum": 0.9, "epsilon": 1e-5}}
    again = from_config(config)
    assert again.parameter_shapes == model.parameter_shapes
    c = model.compile("float64")
    params = c.init(0)
    x, y, _ = _data(1, 1.0)
    c.train_step(params, x, y, 0.1)
    save_graph(tmp_path / "m", c, params)
    graph, loaded, _, _ = load_graph(tmp_path / "m")
    for k in params:
        np.testing.assert_array_equal(loaded[k], params[k])
    np.testing.assert_array_equal(graph.forward(loaded, x), c.forward(params, x))


@pytest.mark.parametrize(("build", "message"), [
    (lambda: BatchNorm(momentum=1.5), r"^BatchNorm: momentum must be a number in \[0, 1\]"),
    (lambda: BatchNorm(momentum="0.9"), r"^BatchNorm: momentum must be a number in \[0, 1\]"),
    (lambda: BatchNorm(epsilon=0), r"^BatchNorm: epsilon: expected a finite number > 0"),
])
def test_batchnorm_refuses_bad_input_in_one_line(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("shared", [False, True])
def test_batchnorm_torch_module_keeps_buffers_in_state_dict_and_moves_them_in_training(tmp_path, shared):
    """The torch Module: γ, β and the weights as parameters with the printed gradient in .grad (torch autograd's of
    the same model), the moving statistics as buffers, moved by forward in training as train_step moves them, read
    in eval mode."""
    from generated_modules import load_module

    model = _model(momentum=0.9, shared=shared)
    mod = load_module(graph_module_source(model, "torch", "float64"), tmp_path, f"bn_torch_{shared}")
    c = model.compile("float64")
    x, y, rng = _data(5, 1.0)
    params = _params(c, rng)
    module = mod.Module({k: torch.tensor(v) for k, v in params.items()})
    assert list(module.state_dict()) == [*c.trained_names, "moving_mean2", "moving_variance2"]
    assert [name for name, _ in module.named_parameters()] == list(c.trained_names)
    module(torch.tensor(x), torch.tensor(y)).backward()
    _, _, want, _, _ = _torch(params, x, y, 0.9, 1e-3, shared, training=True)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), want[name], rtol=1e-9, atol=1e-11, err_msg=name)
    c.train_step(params, x, y, 0.0)  # moves the compiled graph's buffers the same way
    for name in ("moving_mean2", "moving_variance2"):
        np.testing.assert_allclose(module.get_buffer(name).numpy(), params[name], rtol=1e-13, atol=1e-15, err_msg=name)
    module.eval()
    np.testing.assert_allclose(module(torch.tensor(x), torch.tensor(y)).item(), c.inference_loss(params, x, y), rtol=1e-12)
    torch.optim.SGD(module.parameters(), lr=0.1).step()  # the buffers are no optimizer's business
    module.train()
    before = {name: b.clone() for name, b in module.named_buffers()}
    with pytest.raises(RuntimeError, match="vmap over a graph with batch norm is not supported"):
        torch.func.vmap(lambda xi, yi: module(xi[None], yi[None]))(torch.tensor(x), torch.tensor(y))
    assert all(torch.equal(b, before[name]) for name, b in module.named_buffers())


def test_batchnorm_torch_module_moves_its_buffers_from_the_checked_inputs(tmp_path):
    """Integer data (an int64 tensor): forward converts it for the moving statistics as for the loss, so the buffers
    are train_step's on the same numbers as floats."""
    from generated_modules import load_module

    model = _model(momentum=0.9)
    mod = load_module(graph_module_source(model, "torch", "float64"), tmp_path, "bn_torch_int")
    c = model.compile("float64")
    x, y, rng = _data(7, 3.0)
    x = np.round(x)
    params = _params(c, rng)
    module = mod.Module({k: torch.tensor(v) for k, v in params.items()})
    loss = module(torch.tensor(x, dtype=torch.int64), torch.tensor(y))
    assert loss.item() == pytest.approx(c.train_step(params, x, y, 0.0), rel=1e-12)
    for name in ("moving_mean2", "moving_variance2"):
        np.testing.assert_allclose(module.get_buffer(name).numpy(), params[name], rtol=1e-13, atol=1e-15, err_msg=name)


def test_batchnorm_backprop_is_proven_over_a_batch_and_a_fixed_statistics_gradient_is_not():
    """prove_graph writes C out for BATCH_ROWS samples (a batch mean has no per-sample value); the gradient of the
    inference transform (statistics held fixed), used in training, is not shown."""
    from symdl.backprop.equations import Elementwise
    from symdl.graph.nodes import Backward
    from symdl.graph.proofs import prove_graph

    x = Input(2)
    model = Model(x, Dense(1)(BatchNorm()(Dense(2, activation="tanh")(x))), losses="mse")
    proofs = prove_graph(model)
    assert len(proofs) == 6 and all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}

    class FixedStatistics(BatchNorm):
        def backward(self, use, upstream):
            part = super().backward(use, upstream)
            g, gamma, r = sp.symbols("g gamma r", real=True)
            scaled = Elementwise("fixed", sp.Lambda((g, gamma, r), g * gamma * r), upstream, use.params["gamma"],
                                 use.symbols["bn_inv_std_"])
            return Backward(part.equations, (scaled,), part.params)

    wrong = Model(x, Dense(1)(FixedStatistics()(Dense(2, activation="tanh")(x))), losses="mse")
    proofs = prove_graph(wrong)
    assert not proofs["dC/dW1 == the backprop equations' value"] and proofs["dC/dgamma2 == the backprop equations' value"]


def test_batchnorm_graph_fits_and_moves_its_statistics():
    x = Input(3)
    model = Model(x, Dense(1)(BatchNorm()(Dense(3, activation="tanh")(BatchNorm()(x)))), losses="mse")
    c = model.compile("float64", "adam")
    params = c.init(0)
    X = np.random.default_rng(0).normal(size=(64, 3)) * 3 + 1
    history = c.fit(params, X, X[:, :1], epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert (params["moving_mean1"] > 0).all()  # on its way from 0 to the inputs' mean 1


def test_batchnorm_on_an_input_computes_no_input_gradient():
    """Its input gradient (the batch means of the closed-form VJP) is printed only where something reads it."""
    x = Input(3)
    on_input = Model(x, Dense(1)(BatchNorm()(x)), losses="mse").compile().source()
    after_dense = Model(x, Dense(1)(BatchNorm()(Dense(3)(x))), losses="mse").compile().source()
    assert "bn_dx" not in on_input and "bn_dx" in after_dense


@pytest.mark.parametrize("shared", [False, True])
def test_batchnorm_graph_modules_pass_ruff(tmp_path, shared):
    """loss and loss_and_grad print only the statistics they read: the batch mean μ_B is read by train_step's update
    of the moving mean only, x̂ by the backward pass only (both were assigned and never used, ruff's F841); the moving
    statistics, read by train_step only, are unpacked as _name elsewhere (ruff's RUF059)."""
    from generated_modules import assert_ruff_clean

    for backend in ("numpy", "jax", "torch"):
        for optimizer in (None, "adam"):
            source = graph_module_source(_model(shared=shared), backend, "float64", optimizer=optimizer)
            (tmp_path / f"bn_{backend}_{optimizer}.py").write_text(source)
    assert_ruff_clean(tmp_path)
