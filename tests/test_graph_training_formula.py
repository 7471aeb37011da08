"""A custom graph layer with a training and an inference formula (Keras' ``call(X, training)``), noise from the seed.

The references are hand-written here: the notebook's MyGaussianNoise in numpy, and the whole graph in torch
autograd on the masks symdl draws (the gradients symdl prints come from the formulas' SymPy VJPs).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.graph import Dense, Input, Model, TrainingFormula, from_config, to_config
from symdl.graph.proofs import prove_graph
from symdl.saving.schema import SavedModelError

NOISY = symdl.formula_layer("y[i] = x[i] + 0.1*eps[i]", inputs={"x": "n", "eps": "n"}, name="mynoise")
CLEAN = symdl.formula_layer("y[i] = x[i]", inputs={"x": "n"}, name="mynoise")
# a learned noise scale s and a dropout mask r in training; at inference the expectation, x
SCALED = symdl.formula_layer("y[i] = x[i]*r[i]/0.75 + s[i]*eps[i]*tanh(x[i])", inputs={"x": "n", "eps": "n", "r": "n"},
                             params={"s": "n"}, name="scaled")
SCALED_INFERENCE = symdl.formula_layer("y[i] = x[i]", inputs={"x": "n"}, name="scaled")


def notebook_noise() -> TrainingFormula:
    return TrainingFormula(NOISY, CLEAN, noise={"eps": "normal"})


def scaled_model() -> Model:
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    layer = TrainingFormula(SCALED, SCALED_INFERENCE, noise={"eps": "normal", "r": ("dropout", 0.25)}, init={"s": 0.3})
    return Model(x, Dense(2)(layer(h)), losses="mse")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 5))
def test_notebook_noise_adds_the_seeded_noise_in_training_only(seed, rows, width):
    """MyGaussianNoise: X + 0.1·N(0, 1) in training (the masks of the seed), X at inference."""
    x = Input(width)
    noisy = Model(x, notebook_noise()(x), losses="mse").compile()
    X = np.random.default_rng(seed).normal(size=(rows, width))
    Y = np.zeros((rows, width))
    (eps,) = noisy.masks(seed, rows).values()
    np.testing.assert_array_equal(noisy.forward({}, X), X)
    expected = np.sum((X + 0.1 * eps) ** 2) / 2 / rows  # symdl's mse ½(a − y)², summed over units, batch mean
    assert noisy.loss({}, X, Y, seed=seed) == pytest.approx(expected, rel=1e-12)
    assert noisy.inference_loss({}, X, Y) == pytest.approx(np.sum(X**2) / 2 / rows, rel=1e-12)
    again = np.random.default_rng(seed).standard_normal((rows, width))  # drawn as GaussianNoise draws its ε
    np.testing.assert_array_equal(eps, again)


def test_missing_inference_formula_is_one_clear_line():
    """The notebook's seed returned None at inference: here that is refused when the layer is built."""
    with pytest.raises(ValueError, match="no inference formula") as error:
        TrainingFormula(NOISY, None, noise={"eps": "normal"})
    assert "\n" not in str(error.value) and "returns None" in str(error.value)


@pytest.mark.parametrize(("inference", "noise", "message"), [
    (symdl.formula_layer("y[i] = 2*z[i]", inputs={"z": "n"}), {"eps": "normal"}, "without the noise"),
    (CLEAN, {"e": "normal"}, "'e' is not an input"),
    (CLEAN, {"eps": "uniform"}, "must be \"normal\" or"),
    (CLEAN, {"eps": ("dropout", 1.5)}, "drop probability"),
    (symdl.formula_layer("y[i] = x[i] + c[i]", inputs={"x": "n"}, params={"c": "n"}), {"eps": "normal"}, "param 'c'"),
    (CLEAN, {}, "without the noise"),
])
def test_mismatched_modes_are_refused(inference, noise, message):
    with pytest.raises(ValueError, match=message) as error:
        TrainingFormula(NOISY, inference, noise=noise)
    assert "\n" not in str(error.value)


def torch_loss(torch, params, masks, X, Y):
    """The scaled model written by hand in torch: Dense-tanh, the training formula, Dense, mse."""
    a1 = torch.tanh(X @ params["W1"].T + params["b1"])
    eps, r = masks["eps2"], masks["r2"]
    h2 = a1 * r / 0.75 + params["s2"] * eps * torch.tanh(a1)
    out = h2 @ params["W3"].T + params["b3"]
    return torch.sum((out - Y) ** 2) / 2 / X.shape[0]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 7))
def test_gradients_match_torch_autograd(seed, rows):
    torch = pytest.importorskip("torch")
    net = scaled_model().compile()
    params = net.init(seed % 1000)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(rows, 3)), rng.normal(size=(rows, 2))
    loss, grads = net.loss_and_grad(params, X, Y, seed=seed)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    masks = {k: torch.from_numpy(v) for k, v in net.masks(seed, rows).items()}
    expected = torch_loss(torch, tparams, masks, torch.from_numpy(X), torch.from_numpy(Y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    for k, g in grads.items():
        np.testing.assert_allclose(g, tparams[k].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_the_gradients_are_proven_and_training_lowers_the_loss():
    model = scaled_model()
    assert all(prove_graph(model).values())
    net = model.compile()
    params = net.init(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3))
    Y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)
    before = net.inference_loss(params, X, Y)
    for step in range(200):
        net.train_step(params, X, Y, 0.05, seed=step)
    assert net.inference_loss(params, X, Y) < 0.8 * before
    assert "s2" in params and not np.array_equal(params["s2"], np.full(4, 0.3))  # the noise scale is trained


def test_config_round_trip_and_a_saved_none_inference():
    model = scaled_model()
    config = json.loads(json.dumps(to_config(model)))
    again = from_config(config)
    assert to_config(again) == config and again.compile().source() == model.compile().source()
    (layer,) = [item for item in config["layers"] if item["type"] == "TrainingFormula"]
    layer["config"]["inference"] = None
    with pytest.raises(SavedModelError, match="no inference formula") as error:
        from_config(config)
    assert "\n" not in str(error.value)
    layer["config"]["inference"] = dict(to_config(model)["layers"][1]["config"]["inference"], formula="y[i] = __import__('os')")
    with pytest.raises(SavedModelError, match="unknown function '__import__'"):
        from_config(config)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_generated_modules_give_the_hand_written_gradients(tmp_path, backend):
    """Each module's loss_and_grad on its own masks equals torch autograd of the hand-written model on them."""
    torch = pytest.importorskip("torch")
    if backend == "jax":
        library = pytest.importorskip("jax")
        library.config.update("jax_enable_x64", True)
    from symdl.export import graph_module_source

    model = scaled_model()
    net = model.compile()
    params = net.init(3)
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    mod = load_module(graph_module_source(model, backend), tmp_path, f"training_formula_{backend}")
    convert = {"numpy": np.array, "torch": torch.tensor, "jax": lambda a: library.numpy.asarray(a)}[backend]
    loss, grads = mod.loss_and_grad({k: convert(v) for k, v in params.items()}, convert(X), convert(Y), seed=7)
    masks = {k: torch.tensor(np.asarray(v)) for k, v in mod.masks(7, 5).items()}
    if backend == "numpy":
        for k, v in net.masks(7, 5).items():
            np.testing.assert_array_equal(masks[k].numpy(), v)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    expected = torch_loss(torch, tparams, masks, torch.from_numpy(X), torch.from_numpy(Y))
    expected.backward()
    assert float(loss) == pytest.approx(expected.item(), rel=1e-10)
    for k in params:
        np.testing.assert_allclose(np.asarray(grads[k]), tparams[k].grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(mod.forward({k: convert(v) for k, v in params.items()}, convert(X))),
                               net.forward(params, X), rtol=1e-12)


def test_report_shows_the_inference_forward():
    from symdl.report.graph_sections import graph_section

    section = graph_section(scaled_model(), verify=False)
    (step,) = [s for s in section.steps if s.title.startswith("Inference mode")]
    assert [str(m.rhs) for m in step.math][-2:] == ["a^{1}", "W^{3}*h^{2} + b^{3}"]
    assert all(c.passed for c in section.checks)


def test_save_graph_and_load_graph_keep_both_modes(tmp_path):
    from symdl.graph import load_graph, save_graph

    net = scaled_model().compile()
    params = net.init(0)
    params["s2"] = np.array([0.5, -0.2, 0.1, 0.3])
    save_graph(tmp_path / "saved", net, params)
    graph, loaded, _, _ = load_graph(tmp_path / "saved")
    X, Y = np.random.default_rng(5).normal(size=(4, 3)), np.zeros((4, 2))
    assert graph.loss(loaded, X, Y, seed=2) == net.loss(params, X, Y, seed=2)
    np.testing.assert_array_equal(graph.forward(loaded, X), net.forward(params, X))
