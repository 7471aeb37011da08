"""A generated module's own ``fit`` and ``evaluate`` take the data as ``symdl.fit`` does: dicts keyed by input and
target names (or their aliases) for a graph, and they refuse a binary metric's targets other than 0 and 1 in one line,
before any step changes the parameters."""

from __future__ import annotations

import pytest
from fit_helpers import copy, data, same_weights, two_input_data
from generated_modules import load_module

import symdl
from symdl.export import graph_module_source
from symdl.export.standalone import network_module
from symdl.graph import Concatenate, Dense, Input, Model
from symdl.metrics import BinaryAccuracy, Precision


def _model() -> Model:
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    return Model([a, b], [Dense(2, name="main")(h), Dense(1, activation="sigmoid")(h)],  # the second: target Y2
                 losses=["mse", "binary_cross_entropy"])


def _metrics() -> dict:
    return {"main": ["mae"], "Y2": [Precision(0.4), BinaryAccuracy()]}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    model = _model()
    module = load_module(graph_module_source(model, "numpy", optimizer="adam", metrics=_metrics()),
                         tmp_path_factory.mktemp("data"), "fit_data_graph")
    return model.compile(optimizer="adam"), module


def test_a_graph_module_fits_on_dicts_by_name_or_alias_as_on_tuples_and_as_the_compiled_graph(graph):
    compiled, module = graph
    (A, B), (Ym, Ya) = two_input_data()
    start = compiled.init(seed=2)
    inputs, targets = {"b": B, "a": A}, {"main": Ym, "Y2": Ya}  # the Inputs' names; an output layer's name or a key
    options = dict(epochs=2, batch_size=6, seed=5, verbose=0)
    by_name = module.fit(p := copy(start), inputs, targets, validation=({"X1": A, "X2": B}, {"Y1": Ym, "Y2": Ya}), **options)
    by_tuple = module.fit(q := copy(start), (A, B), (Ym, Ya), validation=((A, B), (Ym, Ya)), **options)
    reference = compiled.fit(r := copy(start), inputs, targets, validation=((A, B), (Ym, Ya)), metrics=_metrics(), **options)
    # each output's loss (main_loss, Y2_loss, and their val_) logged by the module's own fit as by the compiled graph
    assert {"main_loss", "Y2_loss", "val_main_loss", "val_Y2_loss"} <= set(reference.history)
    assert by_name.history == by_tuple.history == reference.history and same_weights(p, q) and same_weights(q, r)
    assert module.evaluate(p, inputs, targets) == module.evaluate(p, (A, B), (Ym, Ya))


@pytest.mark.parametrize(
    ("X", "Y", "message"),
    [
        ({"a": 1, "c": 2}, None, "X: unexpected key 'c'; this model takes X1 (or 'a'), X2 (or 'b')"),
        (None, {"main": 1}, "Y: no array for 'Y2'; this model takes Y1 (or 'main'), Y2"),
    ],
)
def test_a_bad_data_dict_is_the_compiled_graphs_line(graph, X, Y, message):
    compiled, module = graph
    (A, B), (Ym, Ya) = two_input_data()
    X, Y = X if X is not None else (A, B), Y if Y is not None else (Ym, Ya)
    with pytest.raises(ValueError) as ours:
        module.fit(compiled.init(0), X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError) as theirs:
        compiled.fit(compiled.init(0), X, Y, epochs=1, verbose=0)
    assert str(ours.value) == str(theirs.value) == message


def test_a_binary_metrics_targets_must_be_0_or_1_before_any_step(graph):
    compiled, module = graph
    (A, B), (Ym, Ya) = two_input_data()
    soft = Ya * 0.9  # 0.9 for the positives: a valid cross-entropy target, not a label of precision
    params = compiled.init(seed=1)
    before = copy(params)
    with pytest.raises(ValueError, match=r"^Y \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        module.fit(params, (A, B), (Ym, soft), epochs=1, verbose=0)
    assert same_weights(params, before)
    with pytest.raises(ValueError, match=r"^Y_val \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        module.fit(params, (A, B), (Ym, Ya), epochs=1, verbose=0, validation=((A, B), (Ym, soft)))
    with pytest.raises(ValueError, match=r"^Y \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        module.evaluate(params, (A, B), (Ym, soft))
    # symdl.fit and evaluate refuse the same targets in the same line, before any step (the metric objects' own
    # check of each batch came after the steps of the batches before it, or after a whole epoch for Y_val)
    start = compiled.init(seed=1)
    before = copy(start)
    with pytest.raises(ValueError, match=r"^Y \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        compiled.fit(start, (A, B), (Ym, soft), epochs=1, verbose=0, metrics=_metrics())
    late = soft.copy()
    late[:-1] = Ya[:-1]  # only the last row's 0.9: in the last batch
    with pytest.raises(ValueError, match=r"^Y \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        compiled.fit(start, (A, B), (Ym, late), epochs=1, batch_size=2, shuffle=False, verbose=0, metrics=_metrics())
    with pytest.raises(ValueError, match=r"^Y_val \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        compiled.fit(start, (A, B), (Ym, Ya), epochs=1, verbose=0, metrics=_metrics(), validation=((A, B), (Ym, soft)))
    assert same_weights(start, before)
    with pytest.raises(ValueError, match=r"^Y \(Y2\): Y2_precision takes targets of 0 or 1 only$"):
        symdl.training.evaluate(compiled, start, (A, B), (Ym, soft), metrics=_metrics())
    with pytest.raises(ValueError, match=r"^Y_val \(Y2\): Y2_precision takes targets of 0 or 1 only$"):  # a module
        symdl.fit(module, start, (A, B), (Ym, Ya), epochs=1, verbose=0, metrics=_metrics(), validation=((A, B), (Ym, soft)))
    assert same_weights(start, before)
    # without the binary metrics, soft targets train
    trained = module.fit(params, (A, B), (Ym, soft), epochs=1, verbose=0, metrics=["mae"])
    assert trained.history.keys() == {"loss", "main_loss", "Y2_loss", "main_mean_absolute_error"}


def test_a_network_modules_fit_checks_binary_targets_and_refuses_a_dict_in_one_line(tmp_path):
    network = symdl.Network([3, 4, 1], activation="tanh", output_activation="sigmoid", optimizer="adam")
    module = load_module(network_module(network, metrics=["binary_accuracy"]), tmp_path, "fit_data_net")
    X, _ = data(12, 1)
    Y = (X[:, :1] > 0).astype(float)
    params = network.compile().init(seed=0)
    with pytest.raises(ValueError, match=r"^Y: binary_accuracy takes targets of 0 or 1 only$"):
        module.fit(params, X, Y + 0.5, epochs=1, verbose=0)
    compiled, before = network.compile(), copy(params)
    with pytest.raises(ValueError, match=r"^Y_val: binary_accuracy takes targets of 0 or 1 only$"):
        compiled.fit(params, X, Y, epochs=1, batch_size=4, verbose=0, metrics=["binary_accuracy"], validation=(X, Y + 0.5))
    assert same_weights(params, before)
    with pytest.raises(ValueError, match=r"^X: this model takes X as an array \(or a tuple\), not a dict$"):
        module.fit(params, {"X": X}, Y, epochs=1, verbose=0)
    assert module.fit(params, X, Y, epochs=1, verbose=0).history.keys() == {"loss", "binary_accuracy"}


def test_a_network_modules_fit_names_rows_given_as_a_tuple_as_the_compiled_graph_does(tmp_path):
    network = symdl.Network([3, 4, 1], optimizer="adam")
    module = load_module(network_module(network), tmp_path, "fit_rows_net")
    X, Y = data(5, 2)
    params = network.compile().init(seed=0)
    with pytest.raises(ValueError, match=r"^X: this model takes 1 array\(s\) \(X\), got 5; a tuple is read as a tuple of "
                                         r"arrays: give the rows as one array \(numpy\.asarray\(rows\)\)$"):
        module.fit(params, tuple(X.tolist()), Y[:, :1], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^Y: this model takes 1 array\(s\) \(Y\), got 2$"):  # arrays: no hint
        module.evaluate(params, X, (Y[:, :1], Y[:, 1:]))


def test_symdl_fit_takes_a_modules_arrays_in_lists_as_in_tuples_and_refuses_a_dict_in_one_line(graph):
    """A list of arrays was given to numpy as one array: 'setting an array element with a sequence' (inputs of other
    widths) or 'expected a 2-d array …, got shape (2, 21, 3)'."""
    compiled, module = graph
    (A, B), (Ym, Ya) = two_input_data()
    start = compiled.init(seed=4)
    options = dict(epochs=2, batch_size=6, seed=1, verbose=0)
    by_list = symdl.fit(module, p := copy(start), [A, B], [Ym, Ya], validation=([A, B], [Ym, Ya]), **options)
    by_tuple = symdl.fit(module, q := copy(start), (A, B), (Ym, Ya), validation=((A, B), (Ym, Ya)), **options)
    assert by_list.history == by_tuple.history and same_weights(p, q)
    assert symdl.training.evaluate(module, p, [A, B], [Ym, Ya]) == symdl.training.evaluate(module, p, (A, B), (Ym, Ya))
    with pytest.raises(ValueError, match=r"^X: a dict of arrays by name is read by a compiled graph and by a generated "
                                         r"module's own fit; give symdl.fit the module's arrays as a tuple in its order$"):
        symdl.fit(module, copy(start), {"a": A, "b": B}, (Ym, Ya), **options)
