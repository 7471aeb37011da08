"""A generated graph module's ``fit`` and ``evaluate`` log each output's loss as ``CompiledGraph.fit`` does (Keras 3's
``<output>_loss`` and ``val_<output>_loss``, without the loss weight): the same keys in the same order, the values of
the module's printed ``output_losses`` (training mode, the step's masks) and ``inference_output_losses``. numpy: bit for
bit the compiled graph's history; JAX and torch: to 1e-10 in float64 (other libraries' rounding), and with dropout
(their masks are other numbers) the total loss is Σ wₖ·Lₖ of the logged per-output losses, epoch by epoch."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from generated_modules import assert_ruff_clean, load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Add, Concatenate, Dense, Dropout, Input, Model
from symdl.training import evaluate


def _graph(weights: tuple[float, float], dropout: float = 0.0) -> Model:
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    if dropout:
        h = Add()([h, Dropout(dropout)(Dense(5, activation="tanh")(h))])
    main, aux = Dense(2, name="main")(h), Dense(1)(h)  # aux unnamed: logged by its target's name, Y2
    return Model([a, b], [main, aux], losses=["mse", "binary_cross_entropy"], loss_weights=list(weights))


def _data(m: int, seed: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    return (A, B), (np.tanh(A[:, :2] + B), (A.sum(axis=1, keepdims=True) > 0).astype(float))


@functools.lru_cache(maxsize=None)
def _module(backend: str, weights: tuple[float, float], dropout: float, folder: str):
    from pathlib import Path

    source = graph_module_source(_graph(weights, dropout), backend, optimizer="adam", metrics={"main": "mae"})
    return load_module(source, Path(folder), f"graph_{backend}_{int(dropout * 10)}_{abs(hash(weights))}")


def _arrays(backend: str, params: dict) -> dict:
    if backend == "jax":
        import jax.numpy as jnp

        return {k: jnp.asarray(v) for k, v in params.items()}
    if backend == "torch":
        import torch

        return {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    return {k: v.copy() for k, v in params.items()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("graph_output_losses"))


@settings(max_examples=6, deadline=None)
@given(m=st.integers(3, 15), batch_size=st.integers(1, 6), seed=st.integers(0, 2**16), dropout=st.sampled_from([0.0, 0.5]),
       weights=st.sampled_from([(1.0, 0.25), (0.5, 3.0)]))
def test_numpy_module_history_is_the_compiled_graphs_bit_for_bit(folder, m, batch_size, seed, dropout, weights):
    module = _module("numpy", weights, dropout, folder)
    graph = _graph(weights, dropout).compile(optimizer="adam")
    X, Y = _data(m, seed)
    Xv, Yv = _data(4, seed + 1)
    options = {"epochs": 2, "batch_size": batch_size, "seed": seed, "verbose": 0, "validation": (Xv, Yv)}
    compiled = graph.fit(graph.init(seed), X, Y, metrics={"main": "mae"}, **options)
    printed = module.fit(module.init_params(seed), X, Y, **options)
    keys = ["main_loss", "Y2_loss", "main_mean_absolute_error"]
    assert list(printed.history) == ["loss", *keys, "val_loss", *(f"val_{k}" for k in keys)] == list(compiled.history)
    assert printed.history == compiled.history
    assert printed.epoch == compiled.epoch
    params = module.init_params(seed)
    assert module.evaluate(params, X, Y) == evaluate(graph, params, X, Y, {"main": "mae"})


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_jax_and_torch_module_histories_equal_the_compiled_graphs(folder, backend):
    pytest.importorskip(backend)
    module = _module(backend, (1.0, 0.25), 0.0, folder)
    graph = _graph((1.0, 0.25)).compile(optimizer="adam")
    X, Y = _data(23, 4)
    options = {"epochs": 3, "batch_size": 5, "seed": 2, "verbose": 0, "validation": _data(6, 5)}
    compiled = graph.fit(graph.init(1), X, Y, metrics={"main": "mae"}, **options)
    printed = module.fit(_arrays(backend, graph.init(1)), X, Y, **options)
    assert list(printed.history) == list(compiled.history)
    for key, values in compiled.history.items():
        assert printed.history[key] == pytest.approx(values, rel=1e-10, abs=1e-12), key
    logs = module.evaluate(_arrays(backend, graph.init(1)), X, Y)
    assert logs == pytest.approx(evaluate(graph, graph.init(1), X, Y, {"main": "mae"}), rel=1e-10)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_with_dropout_each_step_logs_the_losses_of_its_own_masks(folder, backend):
    """loss = Σ wₖ·Lₖ epoch by epoch only if each Lₖ saw the step's masks (inference mode, or other masks, would not)."""
    pytest.importorskip(backend)
    weights = (0.5, 3.0)
    module = _module(backend, weights, 0.5, folder)
    X, Y = _data(23, 5)
    h = module.fit(_arrays(backend, _graph(weights, 0.5).compile().init(1)), X, Y, epochs=3, batch_size=5, verbose=0,
                   validation=(X, Y))
    for epoch in range(3):
        for prefix in ("", "val_"):
            total = weights[0] * h.history[f"{prefix}main_loss"][epoch] + weights[1] * h.history[f"{prefix}Y2_loss"][epoch]
            assert h.history[f"{prefix}loss"][epoch] == pytest.approx(total, rel=1e-12)


def test_early_stopping_may_monitor_an_outputs_loss_and_a_wrong_key_is_one_line(folder):
    module = _module("numpy", (1.0, 0.25), 0.0, folder)
    graph = _graph((1.0, 0.25)).compile(optimizer="adam")
    X, Y = _data(20, 6)
    options = {"epochs": 6, "batch_size": 4, "verbose": 0}
    printed = module.fit(module.init_params(0), X, Y, patience=0, monitor="Y2_loss", min_delta=10.0, **options)
    compiled = graph.fit(graph.init(0), X, Y, metrics={"main": "mae"}, early_stopping=symdl.training.EarlyStopping("Y2_loss", patience=0,
                                                                                             min_delta=10.0), **options)
    assert printed.history == compiled.history and printed.stopped_epoch == compiled.stopped_epoch == 1
    with pytest.raises(ValueError, match=r"^monitor: 'aux_loss' is not logged; logged: loss, main_loss, Y2_loss, main_mean"):
        module.fit(module.init_params(0), X, Y, patience=1, monitor="aux_loss", **options)


def test_one_output_with_a_loss_logs_the_total_alone_and_modules_look_up_nothing_by_name(tmp_path):
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    model = Model([x], [Dense(2)(h)], losses=["mse"])
    model.add_loss(h, "mse", target=None)  # an auxiliary term is no output's: Keras logs no <output>_loss for it
    sources = {"graph": graph_module_source(model, "numpy", optimizer="adam"),
               "network_jax": network_module_source(symdl.Network([3, 4, 2]), "jax"),
               "network_torch": network_module_source(symdl.Network([3, 4, 2]), "torch")}
    for name, source in sources.items():
        assert "globals()" not in source
        assert "_FIT_OUTPUT_LOSSES = ()" in source and "def output_losses(" not in source
        (tmp_path / f"{name}.py").write_text(source)
    assert "_FIT_ARRANGE = _arrange" in sources["graph"]
    assert "_FIT_ARRANGE = None" in sources["network_jax"] and "_FIT_ARRANGE = None" in sources["network_torch"]
    assert_ruff_clean(tmp_path)
    module = load_module(sources["graph"], tmp_path, "one_output")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 3))
    h = module.fit(module.init_params(0), X, (np.tanh(X[:, :2]), np.zeros((9, 4))), epochs=1, verbose=0)
    assert list(h.history) == ["loss"]


def test_a_metric_logged_as_an_outputs_loss_is_refused_as_the_compiled_graph_refuses_it():
    from symdl.metrics import MeanSquaredError

    graph = _graph((1.0, 1.0)).compile(optimizer="adam")
    X, Y = _data(5, 0)
    message = r"^metrics: the log key 'main_loss' is an output's loss; give the metric another name$"
    with pytest.raises(ValueError, match=message):
        graph.fit(graph.init(0), X, Y, epochs=1, verbose=0, metrics={"main": MeanSquaredError(name="loss")})
    with pytest.raises(ValueError, match=message):
        graph_module_source(_graph((1.0, 1.0)), "numpy", optimizer="adam", metrics={"main": MeanSquaredError(name="loss")})


def test_the_modules_with_per_output_losses_pass_ruff(tmp_path):
    for backend in ("numpy", "jax", "torch"):
        for dropout in (0.0, 0.5):
            source = graph_module_source(_graph((1.0, 0.25), dropout), backend, optimizer="adam", metrics={"main": "mae"})
            assert "def output_losses" in source and "def inference_output_losses" in source
            (tmp_path / f"graph_{backend}_{int(dropout * 10)}.py").write_text(source)
    assert_ruff_clean(tmp_path)
