"""Streaming metrics printed into generated modules: their ``fit`` and ``evaluate`` log what ``CompiledNetwork.fit`` logs.

The metrics are chosen when the module is generated and printed from their SymPy
state, update and result; a numpy module's history must equal the compiled
network's (or graph's) bit for bit, JAX's and torch's to rounding in float64.
``fit(metrics=[names])`` logs a subset; unknown names are one error line.
"""

from __future__ import annotations

import numpy as np
import pytest
from fit_helpers import copy, data, same_weights, two_input_data
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.export import graph_module_source, network_module_source
from symdl.export.standalone import network_module
from symdl.graph import Concatenate, Dense, Input, Model
from symdl.metrics import BinaryAccuracy, HuberMetric, Precision
from symdl.training import EarlyStopping


def metrics() -> list:
    """Fresh objects each time: a compiled fit streams into the objects it is given."""
    return ["mae", HuberMetric(0.1), "mse"]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """An Adam network with dropout, compiled, and its numpy module printing MAE, Huber(0.1) and MSE."""
    network = symdl.Network([3, 6, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01), dropout=0.25)
    module = load_module(network_module(network, metrics=metrics()), tmp_path_factory.mktemp("metrics"), "metrics_numpy")
    return network, network.compile(), module


def test_numpy_module_fit_logs_the_compiled_fits_metrics_bit_for_bit(net):
    _, compiled, module = net
    start = compiled.init(seed=1)
    X, Y = data(37, 3)
    options = dict(epochs=3, batch_size=8, seed=11, verbose=0, validation=data(9, 4))
    ours = module.fit(p := copy(start), X, Y, **options)
    reference = compiled.fit(q := copy(start), X, Y, metrics=metrics(), **options)
    assert set(ours.history) == {"loss", "mean_absolute_error", "huber", "mean_squared_error",
                                 "val_loss", "val_mean_absolute_error", "val_huber", "val_mean_squared_error"}
    assert ours.history == reference.history and same_weights(p, q)
    # a subset by name (Keras' alias "mae" too), and early stopping on a validation metric
    stop = dict(patience=1, min_delta=10.0, restore_best_weights=True, monitor="val_huber")
    ours = module.fit(copy(start), X, Y, metrics=["huber", "mae"], **options, **stop)
    reference = compiled.fit(copy(start), X, Y, metrics=["mae", HuberMetric(0.1)], early_stopping=EarlyStopping(**stop),
                             **options)
    assert set(ours.history) == {"loss", "mean_absolute_error", "huber", "val_loss", "val_mean_absolute_error", "val_huber"}
    assert ours.history == reference.history and ours.stopped_epoch == reference.stopped_epoch == 1
    assert module.fit(copy(start), X, Y, metrics=[], **options).history.keys() == {"loss", "val_loss"}


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_numpy_module_evaluate_is_symdl_evaluate(net, n, batch_size, seed):
    _, compiled, module = net
    params = compiled.init(seed=seed % 1000)
    X, Y = data(n, seed)
    ours = module.evaluate(params, X, Y, batch_size=batch_size)
    assert ours == symdl.training.evaluate(compiled, params, X, Y, metrics=metrics(), batch_size=batch_size)
    assert module.evaluate(params, X, Y, metrics=["huber"]).keys() == {"loss", "huber"}


def test_a_modules_early_stopping_on_an_accuracy_stops_when_it_stops_rising(tmp_path):
    # EarlyStopping(mode="auto")'s rule: an accuracy-like key is maximised, a loss minimised
    network = symdl.Network([2, 3, 1], activation="tanh", output_activation="sigmoid", loss="mse",
                            optimizer=symdl.optimizer("adam", lr=0.05))
    compiled = network.compile()
    module = load_module(network_module(network, metrics=[BinaryAccuracy()]), tmp_path, "accuracy_numpy")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    Y = (X[:, :1] + 0.3 * X[:, 1:] > 0).astype(float)
    start, options = compiled.init(seed=3), dict(epochs=12, batch_size=16, verbose=0)
    accuracy = module.fit(copy(start), X, Y, **options).history["binary_accuracy"]
    assert accuracy[1] > accuracy[0]  # rising at first: a minimised monitor would stop at epoch 1
    expected = next(e for e in range(1, len(accuracy)) if accuracy[e] <= max(accuracy[:e]))  # patience 1
    ours = module.fit(copy(start), X, Y, patience=1, monitor="binary_accuracy", **options)
    theirs = compiled.fit(copy(start), X, Y, metrics=[BinaryAccuracy()], **options,
                          early_stopping=EarlyStopping(monitor="binary_accuracy", patience=1))
    assert ours.stopped_epoch == theirs.stopped_epoch == expected > 1
    assert ours.history == theirs.history


def two_outputs() -> Model:
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    return Model([a, b], [Dense(2, name="main")(h), Dense(1, activation="sigmoid", name="aux")(h)],
                 losses=["mse", "binary_cross_entropy"], loss_weights=[1.0, 0.5])


def graph_metrics() -> dict:
    return {"main": ["mae"], "aux": [Precision(0.4), BinaryAccuracy()]}


def test_graph_module_logs_per_output_metrics_as_the_compiled_graph(tmp_path):
    model = two_outputs()
    compiled = model.compile(optimizer="adam")
    module = load_module(graph_module_source(model, "numpy", optimizer="adam", metrics=graph_metrics()), tmp_path, "metrics_graph")
    Xs, Ys = two_input_data()
    start = compiled.init(seed=4)
    options = dict(epochs=2, batch_size=6, seed=9, verbose=0, validation=(Xs, Ys))
    ours = module.fit(p := copy(start), Xs, Ys, **options)
    reference = compiled.fit(q := copy(start), Xs, Ys, metrics=graph_metrics(), **options)
    assert {"main_mean_absolute_error", "aux_precision", "val_aux_binary_accuracy"} <= set(ours.history)
    # each output's loss (main_loss, aux_loss and their val_) logged by the module's own fit as by the compiled graph
    assert {"main_loss", "aux_loss", "val_main_loss", "val_aux_loss"} <= set(ours.history)
    assert ours.history == reference.history
    assert same_weights(p, q)
    assert module.evaluate(p, Xs, Ys, metrics=["precision"]).keys() == {"loss", "main_loss", "aux_loss", "aux_precision"}


def test_a_graph_modules_fit_and_evaluate_take_metrics_by_output_as_symdl_fit(tmp_path, net):
    """fit(metrics=...) of a module took a list only, while symdl.fit takes a dict by output name (or alias) → a name or
    a list: the module reads the dict with symdl.fit's own parser (copied), and logs what the compiled graph logs."""
    model = two_outputs()
    compiled = model.compile(optimizer="adam")
    module = load_module(graph_module_source(model, "numpy", optimizer="adam", metrics=graph_metrics()), tmp_path, "by_output")
    Xs, Ys = two_input_data()
    start = compiled.init(seed=4)
    options = dict(epochs=2, batch_size=6, seed=9, verbose=0, validation=(Xs, Ys))
    ours = module.fit(p := copy(start), Xs, Ys, metrics={"aux": ["precision"], "main": "mae"}, **options)
    reference = compiled.fit(q := copy(start), Xs, Ys, metrics={"main": "mae", "aux": [Precision(0.4)]}, **options)
    assert {"main_mean_absolute_error", "aux_precision", "val_aux_precision"} <= set(ours.history)
    assert "aux_binary_accuracy" not in ours.history and ours.history == reference.history and same_weights(p, q)
    assert module.evaluate(p, Xs, Ys, metrics={"aux": "binary_accuracy"}) == symdl.training.evaluate(
        compiled, q, Xs, Ys, metrics={"aux": BinaryAccuracy()})
    for metrics in ({"nope": "mae"}, {"main": "mae", "Y1": "mae"}):  # an unknown output; main by name and by its key
        with pytest.raises(ValueError) as expected:
            compiled.fit(copy(start), Xs, Ys, metrics=metrics, **options)
        with pytest.raises(ValueError) as error:
            module.fit(copy(start), Xs, Ys, metrics=metrics, **options)
        assert str(error.value) == str(expected.value)
    with pytest.raises(ValueError) as error:
        module.fit(copy(start), Xs, Ys, metrics={"main": ["precision"]}, **options)
    assert str(error.value) == ("metrics: 'precision' is not printed for the output 'main' in this module; printed: "
                                "mean_absolute_error, precision, binary_accuracy (keys main_mean_absolute_error, "
                                "aux_precision, aux_binary_accuracy)")
    _, network, network_module_ = net  # one output without a name: a dict is refused in the library's words
    with pytest.raises(ValueError) as expected:
        network.fit(network.init(0), *data(5, 1), metrics={"Y": "mae"}, epochs=1, verbose=0)
    with pytest.raises(ValueError) as error:
        network_module_.fit(network.init(0), *data(5, 1), metrics={"Y": "mae"}, verbose=0)
    assert str(error.value) == str(expected.value) == ("metrics: a dict keys metrics by output name; this model's "
                                                       "outputs have no names, give a list")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_jax_and_torch_module_metrics_agree_with_compiled_fit_in_float64(tmp_path, backend):
    lib = pytest.importorskip(backend)
    network = symdl.Network([3, 6, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01))
    compiled = network.compile()
    module = load_module(network_module_source(network, backend, metrics=metrics()), tmp_path, f"metrics_{backend}")
    start = compiled.init(seed=1)
    arrays = {k: lib.numpy.asarray(v) if backend == "jax" else lib.tensor(v) for k, v in start.items()}
    X, Y = data(24, 3)
    options = dict(epochs=2, batch_size=8, seed=11, verbose=0, validation=data(6, 4))
    ours = module.fit(arrays, X, Y, **options)
    reference = compiled.fit(copy(start), X, Y, metrics=metrics(), **options)
    assert set(ours.history) == set(reference.history) and len(reference.history) == 8
    for key, values in reference.history.items():
        np.testing.assert_allclose(ours.history[key], values, rtol=1e-10, err_msg=key)
    logs = module.evaluate(ours.weights, X, Y)
    expected = symdl.training.evaluate(compiled, {k: np.asarray(v) for k, v in ours.weights.items()}, X, Y, metrics=metrics())
    assert logs.keys() == expected.keys() and all(np.isclose(logs[k], expected[k], rtol=1e-10) for k in logs)


def test_a_float32_jax_module_streams_its_metrics_without_asking_for_float64(tmp_path):
    """A float32 JAX module leaves jax_enable_x64 off: its metrics accumulate in float32 (JAX's widest float there)
    with no warning. They asked for float64, which JAX answers with a UserWarning at each fit and evaluate. A fresh
    process: a float64 module imported in this one would have switched x64 on for good."""
    import json
    import subprocess
    import sys

    pytest.importorskip("jax")
    network = symdl.Network([3, 6, 2], activation="tanh", optimizer=symdl.optimizer("sgd", lr=0.05))
    (tmp_path / "metrics_jax32.py").write_text(network_module_source(network, "jax", "float32", metrics=metrics()))
    compiled = network.compile("float32")
    start = compiled.init(seed=1)
    X, Y = (a.astype(np.float32) for a in data(24, 3))
    np.savez(tmp_path / "run.npz", X=X, Y=Y, **start)
    script = (
        "import json, sys, numpy as np, jax\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import metrics_jax32 as m\n"
        "assert not jax.config.jax_enable_x64\n"
        f"d = np.load({str(tmp_path / 'run.npz')!r})\n"
        "params = {k: jax.numpy.asarray(d[k]) for k in m._KEYS}\n"
        "h = m.fit(params, d['X'], d['Y'], epochs=2, batch_size=8, seed=11, verbose=0)\n"
        "print(json.dumps({'fit': h.history, 'evaluate': m.evaluate(h.weights, d['X'], d['Y'])}))\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    ours = json.loads(done.stdout)
    reference = compiled.fit(copy(start), X, Y, epochs=2, batch_size=8, seed=11, verbose=0, metrics=metrics())
    assert ours["fit"].keys() == reference.history.keys() and len(reference.history) == 4
    for key, values in reference.history.items():
        np.testing.assert_allclose(ours["fit"][key], values, rtol=1e-4, err_msg=key)
    assert ours["evaluate"].keys() == {"loss", "mean_absolute_error", "huber", "mean_squared_error"}


def test_unknown_metric_names_are_one_error_line_listing_the_printed_ones(net, tmp_path):
    _, compiled, module = net
    params = compiled.init(0)
    with pytest.raises(ValueError) as error:
        module.fit(params, *data(5, 1), metrics=["mae", "precision"], verbose=0)
    assert str(error.value) == ("metrics: 'precision' is not printed in this module; "
                                "printed: mean_absolute_error, huber, mean_squared_error")
    with pytest.raises(ValueError, match=r"^metrics: expected a list of metric names, got 'mae'$"):
        module.evaluate(params, *data(5, 1), metrics="mae")
    plain = load_module(network_module(symdl.Network([3, 2])), tmp_path, "metrics_none")
    with pytest.raises(ValueError, match=r"printed: none \(generate the module with metrics=\[\.\.\.\]\)$"):
        plain.fit(plain.init_params(0), *data(5, 1), lr=0.1, metrics=["mae"], verbose=0)
    with pytest.raises(ValueError, match=r"^unknown metric 'maee'; did you mean 'mae'\?"):
        network_module_source(symdl.Network([3, 2]), "torch", metrics=["maee"])
    with pytest.raises(ValueError, match=r"^metrics: .* has no update_state\(\)"):
        network_module(symdl.Network([3, 2]), metrics=[object()])


def test_codegen_metrics_flag_prints_them_and_refuses_unknown_ones(tmp_path, capsys):
    out = tmp_path / "cli_metrics.py"
    assert main(["codegen", "--layers", "3,4,2", "--metrics", "mae,mse", "-o", str(out)]) == 0
    module = load_module(out.read_text(), tmp_path, "cli_metrics_module")
    logs = module.evaluate(module.init_params(0), *data(6, 2))
    assert logs.keys() == {"loss", "mean_absolute_error", "mean_squared_error"}
    capsys.readouterr()
    assert main(["codegen", "--layers", "3,4,2", "--metrics", "mae,nope", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--metrics: unknown metric 'nope'" in err and "Traceback" not in err
