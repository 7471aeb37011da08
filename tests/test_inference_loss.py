"""inference_loss: the loss of forward's output (dropout off, batch norm with running statistics, noise off),
in compiled networks, graphs and the generated modules; what evaluate and fit's val_loss report."""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export.network_modules import network_module_source
from symdl.export.standalone import network_module
from symdl.graph import Add, Dense, Dropout, GaussianNoise, Input, Model
from symdl.training import evaluate, fit

_COMPILED: dict = {}


def compiled(**spec) -> symdl.CompiledNetwork:
    key = repr(sorted(spec.items()))
    if key not in _COMPILED:
        _COMPILED[key] = symdl.Network(**spec).compile("float64")
    return _COMPILED[key]


def random_params(net, seed: int) -> dict[str, np.ndarray]:
    """Initial params with every constant moved off its initial value (biases, γ, β, running statistics)."""
    params = net.init(seed)
    rng = np.random.default_rng(seed)
    for key, value in params.items():
        if key.startswith(("b", "beta", "running_mean")):
            params[key] = 0.5 * rng.standard_normal(value.shape)
        elif key.startswith(("gamma", "running_var")):
            params[key] = rng.uniform(0.5, 2.0, value.shape)
    return params


def data(m: int, n_in: int, n_out: int, seed: int, softmax: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n_in))
    if softmax:
        return X, np.eye(n_out)[rng.integers(n_out, size=m)]
    return X, rng.normal(size=(m, n_out))


def copy(params):
    return {k: v.copy() for k, v in params.items()}


PLAIN = [
    dict(layers=[3, 5, 2], activation="tanh", loss="huber", penalty="l2"),
    dict(layers=[4, 6, 3], activation="relu", output_activation="softmax", loss="softmax_cross_entropy", penalty="l1"),
    dict(layers=[3, 4, 4, 2], activation="prelu", output_activation="sigmoid", loss="binary_cross_entropy"),
]


# --- networks -----------------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(spec=st.sampled_from(PLAIN), seed=st.integers(0, 2**16), m=st.integers(1, 9))
def test_without_dropout_or_batchnorm_it_is_the_loss(spec, seed, m):
    net = compiled(**spec)
    params = random_params(net, seed)
    X, Y = data(m, net.network.layers[0], net.network.layers[-1], seed, spec["loss"] == "softmax_cross_entropy")
    if spec["loss"] == "binary_cross_entropy":
        Y = (Y > 0).astype(float)
    before = copy(params)
    value = net.inference_loss(params, X, Y)
    assert value == pytest.approx(net.loss(params, X, Y), rel=1e-13, abs=1e-15)
    assert net.unchecked.inference_loss(params, X, Y) == value
    assert all(np.array_equal(params[k], before[k]) for k in params)


@settings(max_examples=15, deadline=None)
@given(drop=st.sampled_from([0.2, 0.5, 0.8]), seed=st.integers(0, 2**16), activation=st.sampled_from(["tanh", "elu", "softplus"]))
def test_dropout_is_the_identity_the_network_without_dropout(drop, seed, activation):
    net = compiled(layers=[3, 8, 8, 2], activation=activation, loss="mse", penalty="l2", dropout=drop)
    plain = compiled(layers=[3, 8, 8, 2], activation=activation, loss="mse", penalty="l2")
    params = random_params(net, seed)
    X, Y = data(16, 3, 2, seed)
    value = net.inference_loss(params, X, Y)
    assert value == pytest.approx(plain.loss(params, X, Y), rel=1e-13)
    # the training loss draws masks: with 16 rows × 8 units dropped at p ≥ 0.2 it is another number
    assert all(abs(net.loss(params, X, Y, seed=s) - value) > 1e-9 * value for s in range(3))


def _batchnorm_reference(params, X, eps=1e-5):
    """Hand reference: linear, then γ(u − running mean)/√(running var + ε) + β, tanh; identity output; ½Σ(a − y)²."""
    a = X
    for l in (1, 2):
        u = a @ params[f"W{l}"].T
        z = params[f"gamma{l}"] * (u - params[f"running_mean{l}"]) / np.sqrt(params[f"running_var{l}"] + eps) + params[f"beta{l}"]
        a = np.tanh(z)
    return a @ params["W3"].T + params["b3"]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(2, 9), dropout=st.sampled_from([None, 0.3]))
def test_batchnorm_uses_the_running_statistics(seed, m, dropout):
    net = compiled(layers=[3, 5, 4, 2], activation="tanh", loss="mse", batchnorm=True, dropout=dropout)
    params = random_params(net, seed)
    X, Y = data(m, 3, 2, seed)
    before = copy(params)
    value = net.inference_loss(params, X, Y)
    expected = 0.5 * np.sum((_batchnorm_reference(params, X) - Y) ** 2) / m
    assert value == pytest.approx(expected, rel=1e-12)
    assert all(np.array_equal(params[k], before[k]) for k in params)  # the running statistics are read, not updated
    folded, folded_params = net.fold(params)
    assert folded.loss(folded_params, X, Y) == pytest.approx(value, rel=1e-12)
    # moving the running statistics moves the inference loss, not the training loss (batch statistics)
    shifted = copy(params)
    shifted["running_mean1"] = shifted["running_mean1"] + 1.0
    assert net.inference_loss(shifted, X, Y) != pytest.approx(value, rel=1e-6)
    assert net.loss(shifted, X, Y) == net.loss(params, X, Y)


# --- PyTorch eval mode -----------------------------------------------------------------------------------------


def _torch_model(torch, params, activation, softmax):
    """The network as torch.nn layers: Linear (no bias before batch norm), BatchNorm1d, activation, Dropout; eval mode."""
    nn = torch.nn
    act = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}[activation]
    layers = []
    for l in (1, 2):
        W = torch.from_numpy(params[f"W{l}"])
        linear = nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=torch.float64)
        norm = nn.BatchNorm1d(W.shape[0], eps=1e-5, momentum=0.1, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(W)
            norm.weight.copy_(torch.from_numpy(params[f"gamma{l}"]))
            norm.bias.copy_(torch.from_numpy(params[f"beta{l}"]))
            norm.running_mean.copy_(torch.from_numpy(params[f"running_mean{l}"]))
            norm.running_var.copy_(torch.from_numpy(params[f"running_var{l}"]))
        layers += [linear, norm, act(), nn.Dropout(0.4)]
    out = nn.Linear(params["W3"].shape[1], params["W3"].shape[0], dtype=torch.float64)
    with torch.no_grad():
        out.weight.copy_(torch.from_numpy(params["W3"]))
        out.bias.copy_(torch.from_numpy(params["b3"]))
    model = nn.Sequential(*layers, out)
    model.eval()
    return model


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu"])
@pytest.mark.parametrize("softmax", [False, True])
def test_matches_pytorch_eval_mode(tmp_path, activation, softmax):
    torch = pytest.importorskip("torch")
    spec = dict(layers=[4, 6, 5, 3], activation=activation, batchnorm=True, dropout=0.4,
                loss="softmax_cross_entropy" if softmax else "mse")  # softmax_cross_entropy takes logits
    net = compiled(**spec)
    params = random_params(net, 5)
    X, Y = data(12, 4, 3, 6, softmax)
    model = _torch_model(torch, params, activation, softmax)
    with torch.no_grad():
        z = model(torch.from_numpy(X))
        Yt = torch.from_numpy(Y)
        # symdl's losses: per-sample sums over the outputs, averaged over the batch (½ for the squared error)
        if softmax:
            expected = float(-(Yt * torch.log_softmax(z, dim=1)).sum(dim=1).mean())
        else:
            expected = float(0.5 * ((z - Yt) ** 2).sum(dim=1).mean())
    assert net.inference_loss(params, X, Y) == pytest.approx(expected, rel=1e-12)
    module = load_module(network_module_source(net.network, "torch"), tmp_path, f"torch_eval_{activation}_{softmax}")
    tensors = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    assert float(module.inference_loss(tensors, torch.from_numpy(X), Yt)) == pytest.approx(expected, rel=1e-12)
    assert float(module.loss(tensors, torch.from_numpy(X), Yt)) != pytest.approx(expected, rel=1e-6)


# --- generated modules ------------------------------------------------------------------------------------------

MODULE_SPECS = [
    dict(layers=[3, 5, 2], activation="tanh", loss="huber", penalty="l2"),
    dict(layers=[4, 8, 8, 3], activation="elu", loss="mse", batchnorm=True, dropout=0.5),
    dict(layers=[4, 6, 3], activation="relu", output_activation="softmax", loss="softmax_cross_entropy", dropout=0.3),
]


@pytest.mark.parametrize("index", range(len(MODULE_SPECS)))
def test_standalone_numpy_module_agrees_bit_for_bit(tmp_path, index):
    spec = MODULE_SPECS[index]
    net = compiled(**spec)
    module = load_module(network_module(net.network), tmp_path, f"numpy_eval_{index}")
    assert "inference_loss" in module.__all__
    for seed in range(3):
        params = random_params(net, seed)
        X, Y = data(7, spec["layers"][0], spec["layers"][-1], seed, spec["loss"] == "softmax_cross_entropy")
        assert module.inference_loss(params, X, Y) == net.inference_loss(params, X, Y)
    with pytest.raises(ValueError, match="Y"):
        module.inference_loss(params, X, Y[:, :1])


@pytest.mark.parametrize("index", range(len(MODULE_SPECS)))
def test_jax_module_agrees(tmp_path, index):
    pytest.importorskip("jax")
    import jax.numpy as jnp

    spec = MODULE_SPECS[index]
    net = compiled(**spec)
    module = load_module(network_module_source(net.network, "jax"), tmp_path, f"jax_eval_{index}")
    for seed in range(3):
        params = random_params(net, seed)
        X, Y = data(7, spec["layers"][0], spec["layers"][-1], seed, spec["loss"] == "softmax_cross_entropy")
        arrays = {k: jnp.asarray(v) for k, v in params.items()}
        expected = net.inference_loss(params, X, Y)
        assert float(module.inference_loss(arrays, X, Y)) == pytest.approx(expected, rel=1e-12)
        assert float(module.inference_loss_unchecked(arrays, jnp.asarray(X), jnp.asarray(Y))) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="Y"):
        module.inference_loss(arrays, X, Y[:, :1])


# --- evaluate and fit ------------------------------------------------------------------------------------------


def test_evaluate_and_val_loss_are_inference_mode():
    net = symdl.Network([3, 8, 8, 2], activation="tanh", loss="mse", batchnorm=True, dropout=0.5, optimizer="adam").compile()
    X, Y = data(40, 3, 2, 1)
    Xv, Yv = data(15, 3, 2, 2)
    params = net.init(0)
    h = net.fit(params, X, Y, epochs=2, batch_size=8, validation=(Xv, Yv), metrics=["mae"], verbose=0)
    val = h.history["val_loss"][-1]
    assert val == net.inference_loss(h.weights, Xv, Yv)
    # training mode (any masks, batch statistics) is another number: a val_loss from `loss` would fail here
    assert all(abs(net.loss(h.weights, Xv, Yv, seed=s) - val) > 1e-6 for s in range(5))
    logs = evaluate(net, h.weights, Xv, Yv, batch_size=4)
    sizes = [4, 4, 4, 3]
    per_batch = [net.inference_loss(h.weights, Xv[i:i + n], Yv[i:i + n]) for i, n in zip(range(0, 15, 4), sizes)]
    assert logs["loss"] == pytest.approx(np.dot(per_batch, sizes) / 15, rel=1e-13)


def test_evaluate_refuses_a_model_without_inference_loss():
    class Old:  # a module generated before inference_loss existed
        @staticmethod
        def init_state(params):
            return {}

        @staticmethod
        def train_step(params, X, Y, state):
            return 0.0

        @staticmethod
        def forward(params, X):
            return X

        @staticmethod
        def loss(params, X, Y):
            return 0.0

    X = np.ones((4, 1))
    with pytest.raises(ValueError, match="no inference_loss") as caught:
        evaluate(Old, {}, X, X)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="no inference_loss"):
        fit(Old, {}, X, X, epochs=1, verbose=0, validation=(X, X))
    fit(Old, {}, X, X, epochs=1, verbose=0)  # no validation: no inference loss needed


# --- graphs ----------------------------------------------------------------------------------------------------


def _graph(noisy: bool) -> Model:
    x = Input(3)
    h = Dense(6, activation="tanh")(x)
    if noisy:
        h = Dropout(0.4)(GaussianNoise(0.3)(h))
    model = Model(x, Dense(2)(h), losses="mse")
    return model.add_loss(Dense(3)(h), "mse", target=x, weight=0.1, reduction="mean")


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(1, 9))
def test_graph_inference_loss_turns_noise_and_dropout_off(seed, m):
    noisy, plain = _graph(True).compile(), _graph(False).compile()
    params = noisy.init(seed)
    assert set(params) == set(plain.init(seed))
    X, Y = data(m, 3, 2, seed)
    value = noisy.inference_loss(params, X, Y)
    assert value == pytest.approx(plain.loss(params, X, Y), rel=1e-13)
    assert plain.inference_loss(params, X, Y) == pytest.approx(plain.loss(params, X, Y), rel=1e-13)
    assert all(abs(noisy.loss(params, X, Y, seed=s) - value) > 1e-9 * value for s in range(3))
    assert (noisy.input_widths, noisy.target_widths) == ((3,), (2,))


def test_graph_fit_validates_in_inference_mode():
    graph = _graph(True).compile(optimizer="adam")
    X, Y = data(32, 3, 2, 3)
    Xv, Yv = data(10, 3, 2, 4)
    h = fit(graph, graph.init(0), X, Y, epochs=2, batch_size=8, validation=(Xv, Yv), verbose=0)
    assert h.history["val_loss"][-1] == graph.inference_loss(h.weights, Xv, Yv)
    assert evaluate(graph, h.weights, Xv, Yv)["loss"] == graph.inference_loss(h.weights, Xv, Yv)


def test_fit_and_evaluate_refuse_one_array_for_a_graph_with_two_inputs():
    x1, x2 = Input(2), Input(2)
    graph = Model([x1, x2], Dense(1)(Add()([x1, x2])), losses="mse").compile(optimizer="adam")
    assert graph.input_widths == (2, 2) and graph.target_widths == (1,)
    X, Y = np.ones((4, 2)), np.ones((4, 1))
    assert graph.inference_loss(graph.init(0), [X, X], Y) == pytest.approx(graph.loss(graph.init(0), [X, X], Y))
    for call in (lambda: fit(graph, graph.init(0), X, Y, epochs=1, verbose=0), lambda: evaluate(graph, graph.init(0), X, Y)):
        with pytest.raises(ValueError, match="X: this model takes 2 array\\(s\\) \\(X1, X2\\), got 1") as caught:
            call()
        assert "\n" not in str(caught.value)


def test_compiled_graph_fit_is_symdl_fit_and_takes_an_optimizer():
    X, Y = data(24, 3, 2, 5)
    Xv, Yv = data(9, 3, 2, 6)
    adam = _graph(True).compile(optimizer="adam")
    a, b = adam.init(0), adam.init(0)
    h = adam.fit(a, X, Y, epochs=2, batch_size=8, validation=(Xv, Yv), verbose=0, seed=4)
    g = fit(adam, b, X, Y, epochs=2, batch_size=8, validation=(Xv, Yv), verbose=0, seed=4)
    assert h.history == g.history and all(np.array_equal(a[k], b[k]) for k in a)
    plain = _graph(True).compile()
    with pytest.raises(ValueError, match="compiled without an optimizer"):
        plain.fit(plain.init(0), X, Y, epochs=1, verbose=0)
    c = plain.init(0)
    h2 = plain.fit(c, X, Y, epochs=2, batch_size=8, validation=(Xv, Yv), verbose=0, seed=4, optimizer="adam")
    assert h2.history == h.history and all(np.array_equal(a[k], c[k]) for k in a)
