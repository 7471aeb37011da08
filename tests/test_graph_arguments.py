"""The graph API takes numpy's numbers where it takes Python's, and refuses a loss_weights that is not a list in one line.

A width computed with numpy (``X.shape`` is Python's, ``np.prod`` or ``np.int64`` is not) was refused with a line
that contradicted itself (``units must be a positive integer, got np.int64(4)``); torch.nn.Linear and Keras' Dense
take it.
"""

import json

import numpy as np
import pytest

import symdl
from symdl.graph import (
    Add,
    Dense,
    Formula,
    GaussianNoise,
    Input,
    Model,
    save_graph,
    to_config,
)


def _dense_formula():
    return symdl.formula_layer("y[i] = tanh(sum(W[i, j] * x[j], j) + b[i])",
                               inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"})


def test_numpy_integers_are_widths_and_sizes_and_numpy_floats_are_weights_and_starts(tmp_path):
    x = Input(np.int64(3))
    h = Dense(np.int32(4), activation="tanh")(x)
    f = Formula(_dense_formula(), sizes={"out": np.int64(2)}, init={"b": np.float32(0.5)})(h)
    noisy = GaussianNoise(np.float32(0.25))(f)
    model = Model(x, noisy, loss_weights=[np.float64(0.5)])
    model.add_loss(h, weight=np.float32(2.0))
    assert model.parameter_shapes == {"W1": (4, 3), "b1": (4,), "W2": (2, 4), "b2": (2,)}
    config = to_config(model)
    assert json.loads(json.dumps(config)) == config  # Python numbers in the config, so it saves
    assert [type(v) for v in (config["inputs"][0], config["layers"][0]["config"]["units"])] == [int, int]
    assert [t.weight for t in model.terms] == [0.5, 2.0]
    graph = model.compile()
    params = graph.init(0)
    assert np.all(params["b2"] == 0.5)
    saved = save_graph(tmp_path / "m", graph, params)
    loaded, again, _, _ = symdl.graph.load_graph(saved)
    assert to_config(loaded.model) == config and all(np.array_equal(params[k], again[k]) for k in params)


@pytest.mark.parametrize(("weights", "message"), [
    (2.0, r"^Model: loss_weights must be a list of numbers, one per output \(1 here\), got 2\.0$"),
    ({"out": 2.0}, r"^Model: loss_weights must be a list of numbers, one per output \(1 here\), got \{'out': 2\.0\}$"),
    ("1", r"^Model: loss_weights must be a list of numbers, one per output \(1 here\), got '1'$"),
])
def test_loss_weights_that_are_not_a_list_are_one_line(weights, message):
    """2.0 was Python's "'float' object is not iterable"; a dict (Keras' form by output name) said "got 'a'",
    a weight named after the dict's key."""
    x = Input(3)
    with pytest.raises(ValueError, match=message):
        Model(x, Dense(2)(x), loss_weights=weights)


@pytest.mark.parametrize("losses", [{"out": "mse"}, {"mse"}])
def test_losses_that_are_neither_a_name_nor_a_list_are_one_line(losses):
    x = Input(3)
    with pytest.raises(ValueError, match=r"^Model: losses must be a loss name or rule, or a list with one per output "
                                         r"\(1 here\), got (dict|set)$"):
        Model(x, Dense(2)(x), losses=losses)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Input(np.float64(3.0)), r"^Input: width must be a positive integer, got np\.float64\(3\.0\)$"),
    (lambda: Dense(np.int64(0)), r"^Dense: units must be a positive integer, got np\.int64\(0\)$"),
    (lambda: Dense(np.bool_(True)), r"^Dense: units must be a positive integer, got np\.True_$"),
    (lambda: Formula(_dense_formula(), sizes={"out": np.int64(-2)}), r"size of 'out' must be a positive integer, got np\.int64\(-2\)$"),
    (lambda: Formula(_dense_formula(), sizes={"out": 2}, init={"b": np.float32("nan")}), r"init of 'b' must be a finite number, got np\.float32\(nan\)$"),
    (lambda: GaussianNoise(np.float64(-1)), r"^GaussianNoise: stddev must be a finite number ≥ 0, got np\.float64\(-1\.0\)$"),
    # beyond float's range: an OverflowError from float() before, and the 401 digits cut to 60 characters
    (lambda: GaussianNoise(10**400), r"^GaussianNoise: stddev must be a finite number ≥ 0, got 10{56}\.\.\.$"),
])
def test_numpy_numbers_out_of_range_are_still_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_weight_beside_an_output_without_a_loss_is_checked_too():
    """losses=[None, 'mse'], loss_weights=[-1.0, 1.0] was taken: the weight of an output without a loss was never read."""
    x = Input(3)
    h = Dense(2)(x)
    with pytest.raises(ValueError, match=r"^loss weight must be a finite number ≥ 0, got -1\.0$"):
        Model(x, [h, Dense(1)(h)], losses=[None, "mse"], loss_weights=[-1.0, 1.0])


def test_an_auxiliary_loss_weight_is_checked_and_a_refused_term_is_not_added():
    x = Input(3)
    h = Dense(2)(x)
    model = Model(x, Dense(1)(h))
    for weight in (-1.0, float("nan"), "2", 10**400):
        with pytest.raises(ValueError, match=r"^loss weight must be a finite number ≥ 0, got "):
            model.add_loss(h, "mse", weight=weight)
    assert len(model.terms) == 1
    model.add_loss(h, weight=np.float32(0.5))
    assert [type(t.weight) for t in model.terms] == [float, float] and model.terms[1].weight == 0.5


def test_a_data_key_that_names_two_inputs_is_refused_not_given_to_both():
    """An Input named 'X2' beside an unnamed second input (whose key is X2): {'X2': A} fed A to both inputs and
    computed a loss; {'X1': A, 'X2': B} said "two arrays for 'X1'". A key that names two arrays is one line now."""
    a, b = Input(2, name="X2"), Input(2)
    graph = Model([a, b], Dense(1)(Add()([a, b]))).compile()
    params, A, B, Y = graph.init(0), np.ones((3, 2)), np.zeros((3, 2)), np.ones((3, 1))
    message = r"^inputs: the key 'X2' names 2 arrays \(X1, X2\); give a list in the model's order instead$"
    for data in ({"X2": A}, {"X1": A, "X2": B}):
        with pytest.raises(ValueError, match=message):
            graph.loss(params, data, Y)
    assert np.isfinite(graph.loss(params, [A, B], Y))  # a list in the model's order is unambiguous


def test_a_layer_name_that_keys_two_targets_is_refused():
    """Two outputs of one named layer share its name as a key: {'d': Y} fed Y to both targets."""
    x = Input(3)
    h = Dense(2, name="d")(x)
    graph = Model(x, [h, h]).compile()
    params, X, Y = graph.init(0), np.ones((4, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match=r"^targets: the key 'd' names 2 arrays \(Y1, Y2\); give a list in the model's order instead$"):
        graph.loss(params, X, {"d": Y})


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True])
def test_a_bad_seed_is_refused_whether_or_not_the_graph_draws_masks(seed):
    """A graph without dropout or noise ignored its seed unread, so seed=-1 passed there and failed beside a Dropout."""
    x = Input(3)
    plain = Model(x, Dense(1)(x), losses="mse").compile()
    noisy = Model(x, Dense(1)(GaussianNoise(0.1)(Dense(2)(x))), losses="mse").compile()
    X, Y = np.ones((4, 3)), np.zeros((4, 1))
    for graph in (plain, noisy):
        params = graph.init(0)
        calls = (lambda: graph.loss(params, X, Y, seed=seed), lambda: graph.loss_and_grad(params, X, Y, seed=seed),
                 lambda: graph.train_step(params, X, Y, 0.1, seed=seed))
        for call in calls:
            with pytest.raises(ValueError, match=r"^seed: expected a non-negative integer, got "):
                call()
    assert plain.loss(plain.init(0), X, Y, seed=2**70) == plain.loss(plain.init(0), X, Y)  # any integer ≥ 0, unused
