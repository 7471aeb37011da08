"""An initialiser written as a formula (``init="uniform: sqrt(6/(fan_in + fan_out))"``): read safely, validated,
drawn like the named schemes (same seed, same numbers), printed into generated modules, kept by configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source
from symdl.graph import Dense, Formula, Input, Model, from_config, to_config
from symdl.layers.init_schemes import (
    N_IN,
    N_OUT,
    get_scheme,
    init_weight,
    prove_variance,
)
from symdl.saving.schema import SavedModelError

# A formula and the named scheme it is written to equal (Keras' and PyTorch's own formulas, in fan_in and fan_out).
SAME = [
    ("uniform: sqrt(6/(fan_in + fan_out))", "glorot_uniform"),
    ("normal: sqrt(2/(fan_in + fan_out))", "glorot_normal"),
    ("uniform: sqrt(6/fan_in)", "he_uniform"),
    ("normal: sqrt(2) / sqrt(fan_in)", "he_normal"),
    ("uniform: sqrt(3/fan_in)", "lecun_uniform"),
    ("normal: fan_in**(-1/2)", "lecun_normal"),
]


@pytest.mark.parametrize(("text", "name"), SAME)
def test_a_formula_is_the_scheme_it_writes(text, name):
    formula, scheme = get_scheme(text), get_scheme(name)
    assert formula.family == scheme.family and sp.simplify(formula.parameter - scheme.parameter) == 0
    assert sp.simplify(formula.target - scheme.target) == 0 and prove_variance(formula)
    assert formula.name == text and get_scheme(formula.name) == formula  # the text is the name: configs keep it


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SAME), st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_same_seed_same_numbers_as_the_named_scheme(pair, n_out, n_in, seed):
    text, name = pair
    ours, theirs = init_weight(text, (n_out, n_in), seed), init_weight(name, (n_out, n_in), seed)
    np.testing.assert_allclose(ours, theirs, rtol=4e-16, atol=0)
    np.testing.assert_array_equal(ours, init_weight(text, (n_out, n_in), seed))  # reproducible


def test_sampled_variance_is_the_formulas():
    """W ~ N(0, s²) with s = 0.5/sqrt(fan_in): 60,000 draws have variance 0.25/fan_in within 3 %."""
    W = init_weight("normal: 0.5/sqrt(fan_in)", (200, 300), 0)
    assert abs(W.var() / (0.25 / 300) - 1) < 0.03 and abs(W.mean()) < 5 * np.sqrt(0.25 / 300 / W.size)
    U = init_weight("uniform: 1/fan_out", (200, 300), 1)  # U(-a, a), a = 1/200
    assert np.abs(U).max() < 1 / 200 and abs(U.var() / ((1 / 200) ** 2 / 3) - 1) < 0.03


def test_graph_dense_network_and_formula_layer_take_a_formula(tmp_path):
    x = Input(3)
    model = Model(x, Dense(2, init="normal: sqrt(2/fan_in)")(Dense(4, init="uniform:sqrt(6/(fan_in+fan_out))")(x)))
    named = Model(x, Dense(2, init="he_normal")(Dense(4, init="glorot_uniform")(x)))
    ours, theirs = model.compile().init(5), named.compile().init(5)
    for k in theirs:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=4e-16, atol=0)
    source = graph_module_source(model, "numpy")
    assert "# uniform: sqrt(6/(fan_in+fan_out)): limit = sqrt(6)/sqrt(n_in + n_out) = 0.9258200997725513 at n_in = 3, n_out = 4" in source
    drawn = load_module(source, tmp_path, "formula_init").init_params(5)
    for k in ours:
        np.testing.assert_allclose(drawn[k], ours[k], rtol=4e-16, atol=0)
    net = symdl.Network(layers=[3, 4, 2], activation="tanh").compile()
    np.testing.assert_allclose(net.init(2, scheme="normal: sqrt(1/fan_in)")["W1"], net.init(2, scheme="lecun_normal")["W1"],
                               rtol=4e-16, atol=0)
    layer = symdl.formula_layer("y[i] = sum(W[i, j] * x[j], j)", inputs={"x": "in"}, params={"W": ("out", "in")}, name="lin")
    u = Input(3)
    W = Model(u, Formula(layer, sizes={"out": 2}, init={"W": "uniform: 0.125"})(u)).compile().init(0)["W1"]
    np.testing.assert_array_equal(W, init_weight("uniform: 1/8", (2, 3), 0))


def test_config_round_trip_keeps_the_formula():
    x = Input(3)
    model = Model(x, Dense(2, init="normal: 0.1 / sqrt(fan_in + fan_out)")(x))
    config = json.loads(json.dumps(to_config(model)))
    assert config["layers"][0]["config"]["init"] == "normal: 0.1 / sqrt(fan_in + fan_out)"
    again = from_config(config)
    np.testing.assert_array_equal(again.compile().init(3)["W1"], model.compile().init(3)["W1"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("normal: 1 - 2/fan_in", "the std is -1 at fan_in = 1, fan_out = 1; it must be positive for every fan_in, fan_out >= 1"),
        ("uniform: sqrt(1 - 3/fan_out)", "the limit is not a finite real number at fan_in = 1, fan_out = 1"),
        ("uniform: 1/(fan_in - 1)", "the limit is not a finite real number at fan_in = 1, fan_out = 1"),
        ("normal: 0", "the std is 0 at fan_in = 300"),
        ("normal: 2/fan_in - 1/(fan_in + fan_out)", "SymPy cannot show that the std is positive and finite"),
        ("normal: n_in", "unknown name 'n_in'"),
        ("normal: k/fan_in", "unknown name 'k'"),
        ("gauss: 1/fan_in", "unknown family 'gauss'; accepted: 'uniform: <limit>' or 'normal: <std>'"),
        ("normal: __import__('os').system('true')", "call of something other than a function name"),
        ("normal: __import__('os')", "unknown function '__import__'"),
        ("uniform: fan_in.__class__", "init 'uniform: fan_in.__class__': "),
        ("he_normall", "unknown initialisation scheme 'he_normall'; accepted: glorot_uniform"),
    ],
)
def test_bad_formulas_are_one_line(text, message):
    for build in (lambda: get_scheme(text), lambda: Dense(2, init=text)):
        with pytest.raises(ValueError) as error:
            build()
        assert message in str(error.value) and "\n" not in str(error.value)


def test_a_parameter_too_large_for_a_double_is_refused_at_the_draw():
    assert get_scheme("normal: exp(fan_in)").parameter == sp.exp(N_IN)  # finite for every fan_in: SymPy accepts it
    with pytest.raises(ValueError, match=r"the std is inf at n_in = 800, n_out = 2; it must be a positive finite number"):
        init_weight("normal: exp(fan_in)", (2, 800), 0)
    assert N_OUT not in get_scheme("normal: exp(fan_in)").parameter.free_symbols
    x = Input(800)
    huge = Model(x, Dense(2, init="normal: exp(fan_in)")(x))
    for build in (lambda: huge.compile().init(0), lambda: graph_module_source(huge, "numpy")):
        with pytest.raises(ValueError, match=r"the std is inf at n_in = 800, n_out = 2"):
            build()


@pytest.mark.parametrize("scheme", ["normal: 10**40", "uniform: 10**39"])
def test_a_parameter_beyond_float32_is_one_line_not_an_overflow(scheme):
    # finite as a double, but weights of std 1e40 are no float32: one ValueError line, not an overflow or inf weights
    message = r"draws weights beyond the float32 range \(largest finite 3\.40282e\+38\); give a smaller one or compile in float64"
    x = Input(4)
    builds = [lambda: init_weight(scheme, (5, 4), 0, "float32"),
              lambda: symdl.Network([4, 5, 3]).compile("float32").init(0, scheme=scheme),
              lambda: Model(x, Dense(2, init=scheme)(x)).compile("float32").init(0)]
    for build in builds:
        with pytest.raises(ValueError, match=message) as error:
            build()
        assert "\n" not in str(error.value)
    assert np.isfinite(init_weight(scheme, (5, 4), 0, "float64")).all()


@pytest.mark.parametrize("scheme", ["normal: 10**40", "uniform: 10**39"])
def test_a_module_is_not_printed_with_an_init_params_beyond_its_dtype(scheme):
    # init's line at print time: the module's init_params would draw inf weights
    x = Input(4)
    model = Model(x, Dense(2, init=scheme)(x), losses="mse")
    with pytest.raises(ValueError) as by_init:
        model.compile("float32").init(0)
    for backend, dtype in (("numpy", "float32"), ("torch", "float32"), ("jax", "float32"), ("torch", "bfloat16")):
        with pytest.raises(ValueError) as printing:
            graph_module_source(model, backend, dtype)
        assert str(printing.value) == str(by_init.value)  # bfloat16: its float32 masters
    assert "init_params" in graph_module_source(model, "numpy", "float64")


def test_a_hostile_config_init_is_one_saved_model_error():
    x = Input(2)
    config = json.loads(json.dumps(to_config(Model(x, Dense(1)(x)))))
    config["layers"][0]["config"]["init"] = "normal: __import__('os')"
    with pytest.raises(SavedModelError, match=r"^layers\[0\]: init \"normal: __import__\('os'\)\": unknown function '__import__'"):
        from_config(config)
