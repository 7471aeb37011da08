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
from symdl.export.standalone import network_module
from symdl.graph import Add, BatchNorm, Concatenate, Dense, Dropout, Input, Model
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
def _source(backend: str, weights: tuple[float, float], dropout: float, dtype: str = "float64", metrics: bool = True) -> str:
    """The printed graph module, once per key for every test of the file (the ruff test's and the imported ones)."""
    return graph_module_source(_graph(weights, dropout), backend, dtype, optimizer="adam",
                               metrics={"main": "mae"} if metrics else ())


@functools.lru_cache(maxsize=None)
def _module(backend: str, weights: tuple[float, float], dropout: float, folder: str, dtype: str = "float64",
            metrics: bool = True):
    from pathlib import Path

    name = f"graph_{backend}_{dtype}_{int(dropout * 10)}_{abs(hash(weights))}_{int(metrics)}"
    return load_module(_source(backend, weights, dropout, dtype, metrics), Path(folder), name)


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
    module = _module(backend, weights, 0.5, folder, metrics=False)  # test_symdl_fit_of_a_jax_or_torch_module's module
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


def _auxiliary_head() -> Model:
    """Two outputs with a loss and an add_loss term on a head of its own (with dropout): the outputs' losses read
    neither the head's weights nor its mask."""
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    model = Model([x], [Dense(2, name="main")(h), Dense(1)(h)], losses=["mse", "mse"])
    return model.add_loss(Dense(3)(Dropout(0.5)(Dense(4, activation="tanh")(h))), "mse", target=x)


@functools.lru_cache(maxsize=None)
def _auxiliary_source(backend: str, dtype: str = "float64") -> str:
    return graph_module_source(_auxiliary_head(), backend, dtype, optimizer="sgd")


def _normed_heads() -> Model:
    """Two heads with a loss behind batch norm: training mode reads the batch statistics, inference the moving ones."""
    x = Input(3)
    h = BatchNorm()(Dense(4, activation="tanh")(x))
    return Model(x, [Dense(2, name="main")(h), Dense(1)(h)], losses=["mse", "mse"], loss_weights=[1.0, 0.5])


def test_the_modules_with_per_output_losses_pass_ruff(tmp_path):
    """Every backend, with and without dropout, mixed precision, batch norm and an auxiliary head: the output losses print only
    the forward pass they read, and unpack what they never read as _name (ruff's RUF059)."""
    dtypes = {"numpy": ("float64",), "jax": ("float64", "bfloat16", "float16"), "torch": ("float64", "bfloat16", "float16")}
    for backend, kinds in dtypes.items():
        for dtype in kinds:
            for dropout in (0.0, 0.5):
                source = _source(backend, (1.0, 0.25), dropout, dtype)
                assert "def output_losses" in source and "def inference_output_losses" in source
                (tmp_path / f"graph_{backend}_{dtype}_{int(dropout * 10)}.py").write_text(source)
            source = _auxiliary_source(backend, dtype)
            assert "output_loss_names = ('main_loss', 'Y2_loss')" in source
            (tmp_path / f"auxiliary_{backend}_{dtype}.py").write_text(source)
            source = graph_module_source(_normed_heads(), backend, dtype, optimizer="adam")  # moving statistics: read in inference only
            assert "def output_losses" in source and "def inference_output_losses" in source
            (tmp_path / f"normed_{backend}_{dtype}.py").write_text(source)
    assert_ruff_clean(tmp_path, extend_select=["RUF059"])


@settings(max_examples=4, deadline=None)
@given(m=st.integers(3, 15), batch_size=st.integers(1, 6), seed=st.integers(0, 2**16), dropout=st.sampled_from([0.0, 0.5]))
def test_symdl_fit_of_a_numpy_module_logs_the_modules_and_the_compiled_graphs_history(folder, m, batch_size, seed, dropout):
    """symdl.fit(module) reads the module's output_loss_names and the dicts its output_losses and
    inference_output_losses return (it logged no per-output loss when they returned lists): the three histories are
    one, bit for bit, and symdl.evaluate(module) is the module's evaluate."""
    weights = (0.5, 3.0)
    module = _module("numpy", weights, dropout, folder, metrics=False)
    graph = _graph(weights, dropout).compile(optimizer="adam")
    X, Y = _data(m, seed)
    options = {"epochs": 2, "batch_size": batch_size, "seed": seed, "verbose": 0, "validation": _data(4, seed + 1)}
    compiled = graph.fit(graph.init(seed), X, Y, **options)
    params = module.init_params(seed)
    library = symdl.fit(module, params, X, Y, state=module.init_state(params), **options)
    printed = module.fit(module.init_params(seed), X, Y, **options)
    keys = ["loss", "main_loss", "Y2_loss"]
    assert list(library.history) == [*keys, *(f"val_{k}" for k in keys)] == list(printed.history) == list(compiled.history)
    assert library.history == printed.history == compiled.history
    assert module.output_loss_names == graph.output_loss_names == ("main_loss", "Y2_loss")
    trained = library.weights
    assert evaluate(module, trained, X, Y) == module.evaluate(trained, X, Y) == evaluate(graph, trained, X, Y)
    for training in (True, False):  # the printed entry points return the compiled graph's dict
        masks = {"seed": seed} if dropout else {}  # the module's output_losses takes a seed where it draws masks
        by_module = module.output_losses(trained, *X, *Y, **masks) if training else module.inference_output_losses(trained, X, Y)
        assert {k: float(v) for k, v in by_module.items()} == graph.output_losses(trained, X, Y, seed, training=training)
    assert graph.inference_output_losses(trained, X, Y) == graph.output_losses(trained, X, Y, training=False)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_symdl_fit_of_a_jax_or_torch_module_logs_the_modules_history(folder, backend):
    """With dropout (JAX's and torch's masks are other numbers than the compiled graph's): symdl.fit and the module's
    own fit run the same printed code on the same batches and seeds, so their histories are equal."""
    pytest.importorskip(backend)
    module = _module(backend, (0.5, 3.0), 0.5, folder, metrics=False)  # the dropout test's module, and its batch shapes
    X, Y = _data(23, 8)
    options = {"epochs": 2, "batch_size": 5, "seed": 4, "verbose": 0, "validation": _data(23, 9)}
    params = _graph((0.5, 3.0), 0.5).compile().init(2)
    library = symdl.fit(module, _arrays(backend, params), X, Y, state=module.init_state(_arrays(backend, params)), **options)
    printed = module.fit(_arrays(backend, params), X, Y, **options)
    assert list(library.history) == list(printed.history)
    assert library.history == printed.history
    assert {"main_loss", "Y2_loss", "val_main_loss", "val_Y2_loss"} <= set(library.history)


@pytest.fixture(scope="module")
def tolerance() -> dict[str, float]:
    """The documented mixed-precision tolerance by low dtype (test_mixed_precision's, which needs torch and JAX)."""
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    from test_mixed_precision import TOLERANCE

    return TOLERANCE


@pytest.mark.parametrize("backend", ["jax", "torch"])
@settings(max_examples=3, deadline=None)
@given(m=st.integers(2, 12), seed=st.integers(0, 2**16), dropout=st.sampled_from([0.0, 0.5]))
def test_mixed_precision_modules_log_each_outputs_loss_within_the_documented_tolerance(folder, tolerance, backend, m, seed,
                                                                                       dropout):
    """A bfloat16 / float16 module logs the float32 module's keys, the per-output losses float32 sums of the low
    outputs: within the mixed-precision tolerance of the float32 module's on the same params, data and masks
    (|L − L₃₂| ≤ 0.1·|L₃₂| in bfloat16, 0.02·|L₃₂| in float16, + 1e-6), and in fit the step's own values (their weighted
    sum is the logged loss to float32 rounding). Both low dtypes are checked on each example against one float32
    module's values (JAX compiles the float32 module once per example, not once per dtype)."""
    weights = (0.5, 3.0)
    full = _module(backend, weights, dropout, folder, "float32", metrics=False)
    X, Y = (tuple(a.astype(np.float32) for a in arrays) for arrays in _data(m, seed))
    options = {"epochs": 2, "batch_size": m, "seed": seed, "verbose": 0, "validation": (X, Y)}
    init = _graph(weights, dropout).compile("float32").init(seed % 1000)  # float32 masters, as numpy arrays
    params = _arrays(backend, init)
    arrays = list(_arrays(backend, dict(enumerate((*X, *Y)))).values())  # the backend's arrays, in the module's order
    masks = {"seed": 7} if dropout else {}
    expected = (full.output_losses(params, *arrays, **masks), full.inference_output_losses(params, *arrays),
                full.evaluate(params, X, Y))
    reference = full.fit(_arrays(backend, init), X, Y, **options).history
    for dtype in ("bfloat16", "float16"):
        low = _module(backend, weights, dropout, folder, dtype, metrics=False)

        def close(values: dict, reference: dict) -> None:
            assert list(values) == list(reference)
            for key, value in reference.items():
                assert abs(float(values[key]) - float(value)) <= tolerance[dtype] * abs(float(value)) + 1e-6, (dtype, key)

        close(low.output_losses(params, *arrays, **masks), expected[0])
        close(low.inference_output_losses(params, *arrays), expected[1])
        close(low.evaluate(params, X, Y), expected[2])
        history = low.fit(_arrays(backend, init), X, Y, **options).history
        assert list(history) == list(reference) == ["loss", "main_loss", "Y2_loss", "val_loss", "val_main_loss", "val_Y2_loss"]
        close({k: v[0] for k, v in history.items() if not k.startswith("val_")},  # one batch: before the first step
              {k: v[0] for k, v in reference.items() if not k.startswith("val_")})
        for epoch in range(2):
            for prefix in ("", "val_"):
                total = weights[0] * history[f"{prefix}main_loss"][epoch] + weights[1] * history[f"{prefix}Y2_loss"][epoch]
                assert history[f"{prefix}loss"][epoch] == pytest.approx(total, rel=1e-5), dtype
        assert low.output_loss_names == full.output_loss_names == ("main_loss", "Y2_loss")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_an_auxiliary_heads_arrays_are_not_read_by_the_outputs_losses(tmp_path, backend):
    """The outputs' losses print the forward pass to the outputs only: with an add_loss head behind dropout, training
    and inference mode give the same values, ½ Σ (y − ŷ)² / m of forward's outputs (by hand), whatever the head's
    weights."""
    pytest.importorskip(backend)
    module = load_module(_auxiliary_source(backend), tmp_path, f"auxiliary_{backend}")
    rng = np.random.default_rng(3)
    X, Y1, Y2 = rng.normal(size=(7, 3)), rng.normal(size=(7, 2)), rng.normal(size=(7, 1))
    params = _auxiliary_head().compile().init(1)
    arrays = [*_arrays(backend, {"X": X, "Y1": Y1, "Y2": Y2}).values()]
    outputs = module.forward(_arrays(backend, params), arrays[0])
    by_hand = {key: 0.5 * float(((np.asarray(out) - Y) ** 2).sum()) / 7 for key, out, Y in zip(("main_loss", "Y2_loss"), outputs, (Y1, Y2))}
    far = {k: v + 100.0 * k.endswith(("4", "5")) for k, v in params.items()}  # the auxiliary head's W4, b4, W5, b5
    for weights in (params, far):
        for values in (module.output_losses(_arrays(backend, weights), *arrays, seed=5),
                       module.inference_output_losses(_arrays(backend, weights), *arrays)):
            assert list(values) == ["main_loss", "Y2_loss"]
            assert {k: float(v) for k, v in values.items()} == pytest.approx(by_hand, rel=1e-12)


def _refusal(call) -> str:
    with pytest.raises(ValueError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize(("names", "key"), [(("val", "b"), "val_loss"), (("a", "val_a"), "val_a_loss")])
def test_a_modules_fit_refuses_an_output_loss_key_that_a_validation_key_repeats_as_the_library_does(tmp_path, backend, names,
                                                                                                      key):
    """An output named val logs val_loss, which the validation's total loss overwrote in the module's history too."""
    pytest.importorskip(backend)
    x = Input(2)
    model = Model(x, [Dense(1, name=names[0])(x), Dense(1, name=names[1])(x)], losses=["mse", "mse"])
    module = load_module(graph_module_source(model, backend, optimizer="adam"), tmp_path, f"val_{backend}_{names[1]}")
    graph = model.compile(optimizer="adam")
    X, Y = np.ones((4, 2)), (np.zeros((4, 1)), np.ones((4, 1)))
    message = _refusal(lambda: module.fit(_arrays(backend, graph.init(0)), X, Y, epochs=1, verbose=0, validation=(X, Y)))
    assert message.startswith(f"fit: the history key '{key}' would hold two values") and "\n" not in message
    assert message == _refusal(lambda: graph.fit(graph.init(0), X, Y, epochs=1, verbose=0, validation=(X, Y)))
    history = module.fit(_arrays(backend, graph.init(0)), X, Y, epochs=1, verbose=0).history  # no validation: no clash
    assert list(history) == ["loss", f"{names[0]}_loss", f"{names[1]}_loss"]


def test_a_modules_fit_refuses_a_metric_named_as_a_validation_key(tmp_path):
    metric = symdl.metric("mae", name="val_loss")
    net = symdl.Network([2, 3, 1], optimizer="adam")
    module = load_module(network_module(net, metrics=[metric]), tmp_path, "val_metric")
    compiled = net.compile()
    X, Y = np.ones((4, 2)), np.zeros((4, 1))
    message = _refusal(lambda: module.fit(compiled.init(0), X, Y, epochs=1, verbose=0, validation=(X, Y)))
    assert message.startswith("fit: the history key 'val_loss' would hold two values") and "\n" not in message
    assert message == _refusal(lambda: compiled.fit(compiled.init(0), X, Y, epochs=1, verbose=0, metrics=[metric],
                                                    validation=(X, Y)))
    assert list(module.fit(compiled.init(0), X, Y, epochs=1, verbose=0).history) == ["loss", "val_loss"]
