"""symdl.graph.Slice against x[:, a:b] in torch autograd, finite differences, its proof, every backend, config and saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.export import graph_module_source
from symdl.graph import (
    Add,
    Dense,
    Input,
    Model,
    Slice,
    from_config,
    load_graph,
    save_graph,
    to_config,
)
from symdl.graph.proofs import prove_graph
from symdl.report.graph_sections import graph_section
from symdl.report.markdown import render_markdown
from symdl.report.model import Report
from symdl.saving.schema import SavedModelError
from symdl.testing.gradcheck import assert_grad_close
from symdl.testing.network_check import flatten_params, unflatten_params

torch = pytest.importorskip("torch")
WIDTH = 6


@st.composite
def slices(draw) -> tuple[int | None, int | None]:
    """A non-empty Python slice of WIDTH features: each end an index from -WIDTH to WIDTH or None."""
    end = st.one_of(st.none(), st.integers(-WIDTH, WIDTH))
    start, stop = draw(end), draw(end)
    a, b, _ = slice(start, stop).indices(WIDTH)
    if b <= a:
        start, stop = None, None
    return start, stop


def _model(start: int | None, stop: int | None) -> Model:
    x = Input(3)
    return Model(x, Dense(2)(Slice(start, stop)(Dense(WIDTH, activation="tanh")(x))), losses="mse", reduction="sum")


def _torch_loss(params: dict, x: np.ndarray, y: np.ndarray, start: int | None, stop: int | None):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tanh(torch.tensor(x) @ t["W1"].T + t["b1"])
    a = h[:, start:stop] @ t["W2"].T + t["b2"]
    loss = ((a - torch.tensor(y)) ** 2 / 2).sum() / len(x)
    loss.backward()
    return a.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@settings(max_examples=25, deadline=None)
@given(bounds=slices(), seed=st.integers(0, 2**16))
def test_slice_matches_torch_indexing_and_autograd(bounds, seed):
    c = _model(*bounds).compile("float64")
    rng = np.random.default_rng(seed)
    params = c.init(seed)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    want_out, want_loss, want_grads = _torch_loss(params, x, y, *bounds)
    np.testing.assert_allclose(c.forward(params, x), want_out, rtol=1e-12, atol=1e-14)
    loss, grads = c.loss_and_grad(params, [x], [y])
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    assert grads.keys() == want_grads.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-10, atol=1e-13, err_msg=k)


def _shared_model(first: tuple[int | None, int | None], second: tuple[int | None, int | None]) -> Model:
    """Two slices of one node merged: its gradient sums two signals placed into zeros."""
    x = Input(3)
    h = Dense(WIDTH, activation="tanh")(x)
    s1, s2 = Slice(*first)(h), Slice(*second)(h)
    return Model(x, [Dense(2)(s1), Dense(1)(Add()([Dense(2)(s2), Dense(2)(x)]))], losses="mse")


@settings(max_examples=10, deadline=None)
@given(first=slices(), second=slices(), seed=st.integers(0, 2**16))
def test_two_slices_of_one_node_pass_finite_differences(first, second, seed):
    c = _shared_model(first, second).compile("float64")
    rng = np.random.default_rng(seed)
    params = c.init(seed)
    x, y1, y2 = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    f = lambda theta: c.loss(unflatten_params(theta, params), [x], [y1, y2])  # noqa: E731
    grad = lambda theta: flatten_params(c.loss_and_grad(unflatten_params(theta, params), [x], [y1, y2])[1])  # noqa: E731
    assert_grad_close(f, grad, flatten_params(params), directions=8)


def test_slice_backprop_is_proven_and_its_rule_stated():
    model = _shared_model((1, -2), (-3, None))
    proofs = prove_graph(model)
    assert all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}
    tex = dict((eq, label) for label, eq in model.equations().latex())
    assert r"h^{2} = a^{1}_{2:4}" in tex and r"h^{4} = a^{1}_{4:6}" in tex  # rows from 1, both ends included
    markdown, _ = render_markdown(Report("slices", (graph_section(model),)))
    assert "{h}^{2} = {{a}^{1}}_{2:4}" in markdown and "proof: slicing: the error signal placed into zeros, node h4 from a1" in markdown


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_generated_modules_train_as_the_compiled_graph(tmp_path, backend):
    if backend != "numpy":
        library = pytest.importorskip(backend)
    model = _shared_model((0, 2), (-4, -1))
    compiled = model.compile()
    params = compiled.init(1)
    rng = np.random.default_rng(2)
    X, Y1, Y2 = rng.normal(size=(7, 3)), rng.normal(size=(7, 2)), rng.normal(size=(7, 1))
    mod = load_module(graph_module_source(model, backend), tmp_path, f"slice_{backend}")
    convert = {"numpy": np.array, "torch": lambda a: library.tensor(a), "jax": lambda a: library.numpy.asarray(a)}[backend]
    theirs = {k: convert(v.copy()) for k, v in params.items()}
    for _ in range(2):
        compiled.train_step(params, X, [Y1, Y2], 0.1)
        mod.train_step(theirs, convert(X), [convert(Y1), convert(Y2)], 0.1)
    for k, ours in params.items():
        np.testing.assert_allclose(np.asarray(theirs[k]), ours, rtol=1e-10, atol=1e-13, err_msg=k)


def test_slice_survives_config_and_saving(tmp_path):
    model = _shared_model((1, -2), (None, 3))
    config = json.loads(json.dumps(to_config(model)))
    assert [layer["config"] for layer in config["layers"] if layer["type"] == "Slice"] == [
        {"start": 1, "stop": -2}, {"start": None, "stop": 3}]
    again = from_config(config)
    assert to_config(again) == config and again.equations().latex() == model.equations().latex()
    c = model.compile("float64")
    params = c.init(0)
    save_graph(tmp_path / "m", c, params)
    graph, loaded, _, _ = load_graph(tmp_path / "m")
    x = np.random.default_rng(2).normal(size=(5, 3))
    for ours, theirs in zip(c.forward(params, x), graph.forward(loaded, x)):
        np.testing.assert_array_equal(theirs, ours)


@pytest.mark.parametrize(
    ("start", "stop", "message"),
    [
        (3, 3, "Slice: [3:3] of an input of width 6 is empty"),
        (-1, 2, "Slice: [-1:2] of an input of width 6 is empty"),
        (0, 7, "Slice: [0:7] is out of range for an input of width 6 (indices -6 … 6)"),
        (-7, None, "Slice: [-7:] is out of range for an input of width 6"),
        (1.5, 3, "Slice: start must be an integer or None, got 1.5"),
        (0, True, "Slice: stop must be an integer or None, got True"),
        (np.float64(1.0), 3, "Slice: start must be an integer or None, got np.float64(1.0)"),
        (0, np.bool_(True), "Slice: stop must be an integer or None, got np.True_"),
    ],
)
def test_bad_slices_are_one_value_error_line(start, stop, message):
    with pytest.raises(ValueError) as error:
        Slice(start, stop)(Input(WIDTH))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_numpy_integers_are_indices_as_in_numpy_slicing():
    """np.int64(1) and a 0-d integer array index as 1 does (operator.index); the config holds Python ints."""
    ours, theirs = Slice(np.int64(1), np.array(-2)), Slice(1, -2)
    assert ours.config() == theirs.config() and all(type(v) is int for v in ours.config().values())
    json.dumps(ours.config())
    x = Input(WIDTH)
    assert Model(x, ours(x)).equations().latex() == Model(x, theirs(x)).equations().latex()


def test_a_hostile_slice_config_is_one_saved_model_error():
    config = json.loads(json.dumps(to_config(_model(1, 3))))
    config["layers"][1]["config"]["stop"] = "__import__('os')"
    with pytest.raises(SavedModelError, match=r"^layers\[1\]: Slice: stop must be an integer or None"):
        from_config(config)
