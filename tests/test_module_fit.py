"""``fit`` inside generated modules: the module trains itself, without symdl, as ``CompiledNetwork.fit`` trains the network.

The numpy network and graph modules run the compiled code, so their ``fit`` must
give the same history, stopped epoch and weights bit for bit; the JAX and
PyTorch modules agree to rounding in float64. Also: plain gradient descent
(``lr=``) against :func:`symdl.fit` driving the same module, the status bar only
where asked, one-line errors, and a run where sympy and symdl cannot be imported.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys

import numpy as np
import pytest
from fit_helpers import copy, data, same_weights, two_input_data
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.excerpt import excerpt
from symdl.export import graph_module_source, network_module_source
from symdl.export.standalone import network_module
from symdl.graph import Concatenate, Dense, Dropout, Input, Model
from symdl.training import EarlyStopping, evaluate
from symdl.verify.codegen import SYMPY_FREE_PRELUDE


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """Adam networks with and without dropout: (network, compiled, numpy module) by name."""
    folder = tmp_path_factory.mktemp("module_fit")
    out = {}
    for name, dropout in (("plain", None), ("dropout", 0.25)):
        network = symdl.Network([3, 6, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01), dropout=dropout)
        out[name] = network, network.compile(), load_module(network_module(network), folder, f"fit_numpy_{name}")
    return out


def test_symdl_fit_runs_one_epoch_by_default_as_keras_and_the_modules_own_fit(nets):
    """symdl.fit required epochs= (a TypeError) where Keras' fit and the module's own fit run one epoch."""
    import inspect

    _, compiled, module = nets["plain"]
    assert inspect.signature(module.fit).parameters["epochs"].default == 1
    X, Y = data(40, 0)
    runs = [fit(copy(compiled.init(0)), X, Y, verbose=0, **epochs)
            for fit in (compiled.fit, module.fit, lambda *a, **k: symdl.fit(module, *a, **k)) for epochs in ({}, {"epochs": 1})]
    assert all(run.history == runs[0].history and run.epoch == [0] for run in runs)


@pytest.mark.parametrize("name", ["plain", "dropout"])
def test_numpy_module_fit_is_compiled_fit_bit_for_bit_with_early_stopping(nets, name):
    _, compiled, module = nets[name]
    start = compiled.init(seed=1)
    X, Y = data(37, 3)  # 37 = 4 full batches of 8 and one of 5
    options = dict(epochs=6, batch_size=8, seed=11, verbose=0, validation=data(9, 4))
    # min_delta so large that only the first epoch improves: stops at epoch 1 and puts epoch 0's weights back
    ours = module.fit(p := copy(start), X, Y, patience=1, min_delta=10.0, restore_best_weights=True, **options)
    stop = EarlyStopping(patience=1, min_delta=10.0, restore_best_weights=True)
    reference = compiled.fit(q := copy(start), X, Y, early_stopping=stop, **options)
    assert ours.history == reference.history and set(ours.history) == {"loss", "val_loss"}
    assert ours.epoch == reference.epoch == [0, 1] and ours.stopped_epoch == reference.stopped_epoch == 1
    assert ours.params == reference.params
    assert same_weights(p, q) and same_weights(ours.weights, reference.weights) and ours.weights is p
    assert same_weights(ours.state, reference.state)
    full = module.fit(copy(start), X, Y, **options)  # without early stopping: all six epochs, other weights
    assert full.epoch == list(range(6)) and full.stopped_epoch is None and not same_weights(full.weights, p)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 20), batch_size=st.integers(1, 9), seed=st.integers(0, 2**40), shuffle=st.booleans(),
       initial_epoch=st.integers(0, 1))
def test_numpy_module_fit_matches_compiled_fit_for_any_batching(nets, n, batch_size, seed, shuffle, initial_epoch):
    _, compiled, module = nets["dropout"]
    start = compiled.init(seed=2)
    X, Y = data(n, 5)
    options = dict(epochs=2, batch_size=batch_size, seed=seed, shuffle=shuffle, initial_epoch=initial_epoch, verbose=0)
    ours, reference = module.fit(copy(start), X, Y, **options), compiled.fit(copy(start), X, Y, **options)
    assert ours.history == reference.history and ours.epoch == reference.epoch
    assert same_weights(ours.weights, reference.weights) and same_weights(ours.state, reference.state)


def test_a_plain_gradient_descent_module_fits_with_lr_as_symdl_fit_drives_it(tmp_path):
    network = symdl.Network([3, 5, 2], activation="sigmoid", dropout=0.2)
    module = load_module(network_module(network), tmp_path, "fit_numpy_lr")
    start = network.compile().init(seed=3)
    X, Y = data(30, 6)
    options = dict(epochs=3, batch_size=7, seed=2, verbose=0, validation=data(5, 7))
    ours = module.fit(p := copy(start), X, Y, lr=0.3, **options)
    # symdl.fit passes its state after the data: the learning rate, for a module without an optimizer
    reference = symdl.fit(module, q := copy(start), X, Y, state=0.3, **options)
    assert ours.history == reference.history and same_weights(p, q)
    assert ours.history["loss"][-1] < ours.history["loss"][0]
    other = module.fit(copy(start), X, Y, lr=0.3, **{**options, "seed": 3})
    assert other.history["loss"] != ours.history["loss"]  # the seed orders the batches


def two_in_two_out() -> Model:
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dropout(0.2)(Dense(5, activation="tanh")(Concatenate()([a, b])))
    return Model([a, b], [Dense(2, name="main")(h), Dense(1, activation="sigmoid", name="aux")(h)],
                 losses=["mse", "binary_cross_entropy"], loss_weights=[1.0, 0.5])


def test_graph_module_fit_with_two_inputs_and_targets_is_compiled_fit_bit_for_bit(tmp_path):
    model = two_in_two_out()
    compiled = model.compile(optimizer="adam")
    module = load_module(graph_module_source(model, "numpy", optimizer="adam"), tmp_path, "fit_graph_numpy")
    Xs, Ys = two_input_data()
    start = compiled.init(seed=4)
    options = dict(epochs=2, batch_size=6, seed=9, verbose=0, validation=(Xs, Ys))
    ours = module.fit(p := copy(start), Xs, Ys, **options)
    reference = compiled.fit(q := copy(start), Xs, Ys, **options)
    # each output's loss (main_loss, val_aux_loss, …) too, in the compiled graph's order
    assert {f"{v}{o}_loss" for v in ("", "val_") for o in ("main", "aux")} <= set(ours.history)
    assert list(ours.history) == list(reference.history) and ours.history == reference.history
    assert same_weights(p, q) and same_weights(ours.state, reference.state)
    # Keras' validation_data takes a list as it takes a tuple; anything else is one line, in both fits
    listed = {**options, "validation": [Xs, Ys]}
    assert module.fit(copy(start), Xs, Ys, **listed).history == compiled.fit(copy(start), Xs, Ys, **listed).history == ours.history
    for fit in (module.fit, compiled.fit):
        with pytest.raises(ValueError, match=r"^validation: expected a pair \(X_val, Y_val\), got \[1, 2, 3\]$"):
            fit(copy(start), Xs, Ys, **{**options, "validation": [1, 2, 3]})


def test_graph_module_fit_and_evaluate_take_a_list_and_refuse_a_wrong_number_of_arrays_in_one_line(tmp_path):
    """As CompiledGraph.fit: a list of the inputs trains as the tuple does; too few or too many arrays (or one array
    for two inputs) are one ValueError line naming the model's arrays, where a TypeError from forward() came out."""
    model = two_in_two_out()
    module = load_module(graph_module_source(model, "numpy", optimizer="adam"), tmp_path, "fit_graph_arity")
    (A, B), (Y1, Y2) = two_input_data()
    start = model.compile(optimizer="adam").init(seed=4)
    options = dict(epochs=1, batch_size=6, verbose=0)
    assert module.fit(copy(start), [A, B], [Y1, Y2], **options).history == module.fit(copy(start), (A, B), (Y1, Y2), **options).history
    assert module.evaluate(start, [A, B], [Y1, Y2]) == module.evaluate(start, (A, B), (Y1, Y2))
    inputs, targets = ", ".join(n for n, _ in module._INPUTS), ", ".join(n for n, _ in module._TARGETS)
    for X, Y, message in (((A,), (Y1, Y2), f"X: this model takes 2 array(s) ({inputs}), got 1"),
                          (A, (Y1, Y2), f"X: this model takes 2 array(s) ({inputs}), got 1"),
                          ((A, B), (Y1, Y2, Y2), f"Y: this model takes 2 array(s) ({targets}), got 3")):
        for call in (lambda: module.fit(copy(start), X, Y, **options), lambda: module.evaluate(start, X, Y),
                     lambda: module.fit(copy(start), (A, B), (Y1, Y2), validation=(X, Y), **options)):
            with pytest.raises(ValueError) as error:
                call()
            assert str(error.value).replace("X_val", "X").replace("Y_val", "Y") == message


@pytest.fixture(scope="module")
def two_outputs(tmp_path_factory):
    """two_in_two_out compiled with Adam, and its numpy module."""
    model = two_in_two_out()
    source = graph_module_source(model, "numpy", optimizer="adam")
    return model.compile(optimizer="adam"), load_module(source, tmp_path_factory.mktemp("by_output"), "by_output")


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**16), batch_size=st.integers(1, 8), aux_key=st.sampled_from(["aux", "Y2"]))
def test_symdl_fit_of_a_graph_module_takes_metrics_by_output_as_the_compiled_graph(two_outputs, seed, batch_size, aux_key):
    """The module prints metric_outputs and output_widths from the compiled graph's: symdl.fit(module) takes a dict by
    output name or target name (and a list for every output), where it refused both; history and weights are the
    compiled graph's bit for bit. An unknown output is the library's line."""
    compiled, module = two_outputs
    assert module.metric_outputs == (("main", ("Y1", "main"), 0, 0), ("aux", ("Y2", "aux"), 1, 1))
    assert module.output_widths == compiled.output_widths == (2, 1)
    Xs, Ys = two_input_data()
    start = compiled.init(seed=seed)
    options = dict(epochs=2, batch_size=batch_size, seed=seed, verbose=0, validation=(Xs, Ys))
    for metrics, logged in (({"main": "mae", aux_key: ["binary_accuracy", "mse"]}, "aux_binary_accuracy"),
                            (["mae"], "aux_mean_absolute_error")):
        ours = symdl.fit(module, p := copy(start), Xs, Ys, state=module.init_state(p), metrics=metrics, **options)
        reference = compiled.fit(q := copy(start), Xs, Ys, metrics=metrics, **options)
        assert list(ours.history) == list(reference.history) and ours.history == reference.history
        assert {logged, f"val_{logged}", "main_mean_absolute_error"} <= set(ours.history)
        assert same_weights(p, q)
    assert evaluate(module, p, Xs, Ys, metrics={"main": "mae"}) == evaluate(compiled, q, Xs, Ys, metrics={"main": "mae"})
    for model_ in (module, compiled):
        with pytest.raises(ValueError) as error:
            symdl.fit(model_, copy(start), Xs, Ys, state=compiled.init_state(start), metrics={"nope": "mae"}, epochs=1, verbose=0)
        assert str(error.value) == "metrics: unexpected output 'nope'; outputs with a data target: main, aux"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_jax_and_torch_module_fit_agree_with_compiled_fit_in_float64(nets, tmp_path, backend):
    lib = pytest.importorskip(backend)
    network, compiled, _ = nets["plain"]
    module = load_module(network_module_source(network, backend), tmp_path, f"fit_{backend}")
    start = compiled.init(seed=1)
    def arrays() -> dict:
        return {k: lib.numpy.asarray(v) if backend == "jax" else lib.tensor(v) for k, v in start.items()}

    X, Y = data(24, 3)
    options = dict(epochs=3, batch_size=8, seed=11, verbose=0, validation=data(6, 4))
    stop = dict(patience=1, min_delta=10.0, restore_best_weights=True)  # stops at epoch 1, epoch 0's weights put back
    for early in (False, True):
        ours = module.fit(arrays(), X, Y, **options, **(stop if early else {}))
        reference = compiled.fit(copy(start), X, Y, **options, early_stopping=EarlyStopping(**stop) if early else None)
        assert set(ours.history) == set(reference.history) == {"loss", "val_loss"}
        assert ours.epoch == reference.epoch == ([0, 1] if early else [0, 1, 2]) and ours.stopped_epoch == reference.stopped_epoch
        for key, values in reference.history.items():
            np.testing.assert_allclose(ours.history[key], values, rtol=1e-10, err_msg=key)
        for k in start:
            np.testing.assert_allclose(np.asarray(ours.weights[k]), reference.weights[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_fit_adds_no_name_a_module_already_defines(nets):
    """The copied helpers are prefixed (_fit_…): a JAX graph module has its own _check_data, for one."""
    network = nets["dropout"][0]
    for source in (network_module(network, metrics=["mae", "huber"]), network_module_source(network, "jax"),
                   network_module_source(network, "torch", metrics=["mse", "precision"]),
                   graph_module_source(two_in_two_out(), "jax", optimizer="adam", metrics={"aux": ["recall", "f1_score"]})):
        names = []
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        repeated = {n for n in names if names.count(n) > 1}
        assert not repeated and "fit" in names and "fit" in source.split("__all__ = [", 1)[1].split("]", 1)[0], repeated


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_bar_shows_on_a_terminal_or_when_asked_and_never_otherwise(nets):
    _, compiled, module = nets["plain"]
    X, Y = data(10, 1)
    shown = {}
    for verbose, stream in (("auto", io.StringIO()), ("auto", _Terminal()), (0, _Terminal()), (2, io.StringIO())):
        module.fit(compiled.init(0), X, Y, epochs=2, batch_size=4, verbose=verbose, stream=stream)
        shown[verbose, type(stream).__name__] = stream.getvalue()
    assert shown["auto", "StringIO"] == "" and shown[0, "_Terminal"] == ""
    assert "\r\x1b[K" + "epoch 1/2 - 1/3 - loss: " in shown["auto", "_Terminal"]
    assert shown[2, "StringIO"].count("\n") == 2 and shown[2, "StringIO"].startswith("epoch 1/2 - 3/3 - loss: ")


@pytest.mark.parametrize(("options", "message"), [
    ({"epochs": 0}, "epochs: expected an integer >= 1, got 0"),
    ({"batch_size": 2.5}, "batch_size: expected an integer >= 1, got 2.5"),
    ({"seed": -1}, "seed: expected a non-negative integer, got -1"),
    ({"shuffle": 1}, "shuffle: expected True or False, got 1"),
    ({"patience": 2}, "monitor: 'val_loss' is not logged; logged: loss"),
    ({"verbose": 3}, "verbose: expected 'auto', 0, 1 or 2, got 3"),
    ({"validation": [1, 2, 3]}, "validation: expected a pair (X_val, Y_val), got [1, 2, 3]"),
    ({"validation": "ab"}, "validation: expected a pair (X_val, Y_val), got 'ab'"),
    ({"initial_epoch": 1, "epochs": 1}, "initial_epoch: 1 leaves no epoch to run (epochs=1)"),
    ({"stream": 5}, "stream: expected None (stderr) or a text stream with write() and flush(), such as sys.stdout or io.StringIO(), got 5"),
    ({"restore_best_weights": "no"}, "restore_best_weights: expected True or False, got 'no'"),
    # a value is shown cut to 60 characters (symdl.excerpt, the module's _excerpt), never whole
    ({"epochs": -10**400}, f"epochs: expected an integer >= 1, got {excerpt(-10**400)}"),
    ({"seed": -10**400}, f"seed: expected a non-negative integer, got {excerpt(-10**400)}"),
    ({"shuffle": "y" * 10**4}, f"shuffle: expected True or False, got {excerpt('y' * 10**4)}"),
    ({"patience": 2, "monitor": "m" * 10**4}, f"monitor: {excerpt('m' * 10**4)} is not logged; logged: loss"),
    ({"patience": 2, "monitor": "loss", "min_delta": "d" * 10**4}, f"min_delta: expected a finite number, got {excerpt('d' * 10**4)}"),
    ({"verbose": "v" * 10**4}, f"verbose: expected 'auto', 0, 1 or 2, got {excerpt('v' * 10**4)}"),
    ({"stream": "s" * 10**4}, "stream: expected None (stderr) or a text stream with write() and flush(), such as sys.stdout or "
                              f"io.StringIO(), got {excerpt('s' * 10**4)}"),
    ({"metrics": ["x" * 10**4]}, f"metrics: {excerpt('x' * 10**4)} is not printed in this module; printed: none (generate the "
                                 "module with metrics=[...])"),
])
def test_bad_settings_are_one_error_line_before_any_step(nets, options, message):
    _, compiled, module = nets["plain"]
    params = compiled.init(0)
    before = copy(params)
    with pytest.raises(ValueError) as error:
        module.fit(params, *data(5, 1), **{"verbose": 0, **options})
    assert str(error.value) == message and same_weights(params, before)
    with pytest.raises(ValueError, match=r"^X, Y: 5 samples in X but 4 in Y$"):
        module.fit(params, data(5, 1)[0], data(4, 1)[1], verbose=0)


def test_restore_best_weights_takes_a_numpy_bool(nets):
    _, compiled, module = nets["plain"]
    X, Y = data(10, 1)
    ours = module.fit(compiled.init(0), X, Y, epochs=3, verbose=0, patience=0, monitor="loss", min_delta=1e9,
                      restore_best_weights=np.bool_(True))
    theirs = module.fit(compiled.init(0), X, Y, epochs=3, verbose=0, patience=0, monitor="loss", min_delta=1e9,
                        restore_best_weights=True)
    assert ours.history == theirs.history and same_weights(ours.weights, theirs.weights)


@pytest.mark.parametrize("shuffle", [np.bool_(True), np.bool_(False)])
def test_shuffle_takes_a_numpy_bool_as_the_library_fit_does(nets, shuffle):
    _, compiled, module = nets["plain"]
    X, Y = data(10, 1)
    ours = module.fit(compiled.init(0), X, Y, epochs=2, batch_size=3, verbose=0, shuffle=shuffle)
    theirs = compiled.fit(compiled.init(0), X, Y, epochs=2, batch_size=3, verbose=0, shuffle=bool(shuffle))
    assert ours.history == theirs.history
    with pytest.raises(ValueError, match=r"^shuffle: expected True or False, got 'no'$"):
        compiled.fit(compiled.init(0), X, Y, epochs=1, verbose=0, shuffle="no")


_RUN = SYMPY_FREE_PRELUDE + """
import numpy, fit_alone
X = numpy.random.default_rng(0).normal(size=(12, 3))
history = fit_alone.fit(fit_alone.init_params(0), X, numpy.tanh(X[:, :2]), epochs=2, batch_size=5, lr=0.1, verbose=0)
print(len(history.history["loss"]), len(history.history["mean_absolute_error"]))
"""


def test_module_fit_runs_where_sympy_and_symdl_cannot_be_imported(tmp_path):
    network = symdl.Network([3, 4, 2], activation="tanh", dropout=0.2)
    (tmp_path / "fit_alone.py").write_text(network_module(network, metrics=["mae"]))
    done = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "2 2", done.stderr[-2000:]
