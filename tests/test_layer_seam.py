"""The Layer seam: a layer type defined here plugs into a network with no edits elsewhere; dropout's p is the drop probability."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_types import Scale

import symdl
from symdl.layers.base import Layer, Parameter, Symbol
from symdl.layers.batchnorm_layer import BatchNorm
from symdl.layers.dense import Dense
from symdl.layers.dropout_layer import Dropout
from symdl.symbolic.array_nodes import Elementwise
from symdl.testing import assert_network_grad_close


class Shift(Layer):
    """zˡ = uˡ + tˡ before the activation, tˡ a learned shift that takes the bias's place."""

    position = "pre"
    replaces_bias = True

    def symbols(self) -> tuple[Symbol, ...]:
        return (Symbol("u", "u^{@}"), Symbol("gu", r"\frac{\partial C}{\partial u^{@}}"),
                Symbol("t", "t^{@}", batched=False), Symbol("gt", r"\frac{\partial C}{\partial t^{@}}", batched=False))

    def parameters(self) -> tuple[Parameter, ...]:
        return (Parameter("t", "shift", init=0.5),)

    def input_symbol(self, s):
        return s["u"]

    def input_gradient(self, s):
        return s["gu"]

    def forward(self, s):
        u, t = sp.symbols("u t", real=True)
        return [sp.Eq(s.z, Elementwise("shift", sp.Lambda((u, t), u + t), s["u"], s["t"]), evaluate=False)]

    def backward(self, s, upstream):
        return [("shift u", sp.Eq(s["gu"], upstream, evaluate=False)), ("shift t", sp.Eq(s["gt"], upstream, evaluate=False))], s["gu"]


@settings(max_examples=10, deadline=None)
@given(c=st.sampled_from([0.5, 2.0, -3.0]), seed=st.integers(0, 2**16))
def test_a_layer_type_defined_in_a_test_plugs_in_and_its_gradient_is_right(c, seed):
    net = symdl.Network.from_layers([3, Dense(5), Scale(c), Dense(4), Scale(c), Dense(2)], activation="tanh")
    compiled = net.compile()
    rng = np.random.default_rng(seed)
    params = compiled.init(seed)
    X, Y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    assert_network_grad_close(compiled, params, X, Y)
    # The layer does what it says: a¹ = c·tanh(z¹).
    trace = compiled.trace(params, X)
    np.testing.assert_allclose(trace["a1"], c * np.tanh(trace["z1"]), rtol=1e-14)
    assert "Scale(" in repr(net)  # no keyword spelling: the layer list


def test_a_pre_layer_with_a_parameter_plugs_in():
    net = symdl.Network([3, Dense(4), Shift(), Dense(2)], activation="sigmoid")
    compiled = net.compile()
    assert compiled.param_names == ("W1", "t1", "W2", "b2")
    assert compiled.param_kinds["t1"] == "shift"
    params = compiled.init(1)
    np.testing.assert_array_equal(params["t1"], np.full(4, 0.5))
    rng = np.random.default_rng(1)
    assert_network_grad_close(compiled, params, rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))


def test_keyword_shortcut_and_layer_list_print_the_same_source():
    keywords = symdl.Network([4, 6, 5, 3], activation="elu", batchnorm=True, dropout=0.2, bn_eps=1e-3)
    listed = symdl.Network.from_layers(
        [4, Dense(6), BatchNorm(eps=1e-3), Dropout(0.2), Dense(5), Dropout(0.2), BatchNorm(eps=1e-3), Dense(3)],
        activation="elu",
    )
    assert listed.layer_list() == keywords.layer_list()
    assert repr(listed) == repr(keywords)
    for dtype in ("float64", "float32"):
        assert listed.compile(dtype).source() == keywords.compile(dtype).source()


def test_parameter_kinds_come_from_the_layers():
    compiled = symdl.Network([3, 4, 4, 2], activation="prelu", batchnorm=True).compile()
    assert compiled.param_kinds == {
        "W1": "weight", "alpha1": "activation", "gamma1": "scale", "beta1": "shift",
        "W2": "weight", "alpha2": "activation", "gamma2": "scale", "beta2": "shift",
        "W3": "weight", "b3": "bias",
    }
    assert compiled.buffer_names == ("running_mean1", "running_var1", "running_mean2", "running_var2")


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([3, Dropout(0.1), Dense(2)], "follows no Dense block"),
        ([3, Dense(4), Dense(2), Dropout(0.1)], "hidden layers only"),
        ([3, Dense(4), Dropout(0.1), Dense(4), Dropout(0.3), Dense(2)], "every hidden block alike"),
        ([3, Dense(4), Dropout(0.1), Dense(4), Dense(2)], "every hidden block alike"),
        ([Dense(3), Dense(2)], "starts with the input width"),
        ([3, Dense(4), "relu", Dense(2)], r"expected Dense\(width\) or a symdl.layers.base.Layer"),
    ],
)
def test_bad_layer_lists(layers, message):
    with pytest.raises(ValueError, match=message):
        symdl.Network(layers)


def test_layers_and_keywords_do_not_mix():
    with pytest.raises(ValueError, match="give them as layers in the list, or as keywords"):
        symdl.Network([3, Dense(4), Dense(2)], dropout=0.2)
    with pytest.raises(ValueError, match="give them as layers in the list"):
        symdl.Network([3, Dense(4), BatchNorm(), Dense(2)], bn_eps=1e-3)


@settings(max_examples=12, deadline=None)
@given(p=st.sampled_from([0.1, 0.2, 0.5, 0.8]), seed=st.integers(0, 2**16))
def test_dropout_drops_the_fraction_p(p, seed):
    compiled = symdl.Network([2, 400, 2], activation="sigmoid", dropout=p).compile()
    params = compiled.init(seed)
    X = np.random.default_rng(seed).standard_normal((50, 2))
    a1 = compiled.trace(params, X, seed=seed)["a1"]  # σ > 0, so a zero is a dropped unit
    dropped = float(np.mean(a1 == 0))
    n = a1.size
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)  # 5 standard errors of a Bernoulli(p) mean
    kept = a1 != 0
    h1 = 1 / (1 + np.exp(-(X @ params["W1"].T + params["b1"])))  # inverted dropout: a kept unit is h/(1 − p)
    np.testing.assert_allclose(a1[kept], (h1 / (1 - p))[kept], rtol=1e-12)


def test_dropout_zero_is_the_identity():
    net, plain = symdl.Network([3, 6, 2], dropout=0.0).compile(), symdl.Network([3, 6, 2]).compile()
    params = plain.init(3)
    X, Y = np.random.default_rng(3).standard_normal((7, 3)), np.zeros((7, 2))
    np.testing.assert_array_equal(net.trace(params, X, seed=5)["a1"], plain.trace(params, X)["a1"])
    assert net.loss(params, X, Y, seed=5) == plain.loss(params, X, Y)


@pytest.mark.parametrize("p", [1, 1.0, 1.5, -0.1, float("inf"), float("nan"), "0.2", True, None])
def test_bad_drop_probability_is_one_error_naming_the_range(p):
    with pytest.raises(ValueError, match=r"^dropout: expected the drop probability p, a number in \[0, 1\)"):
        Dropout(p)
    if p is not None:
        with pytest.raises(ValueError, match=r"^dropout: expected the drop probability p, a number in \[0, 1\)"):
            symdl.Network([3, 4, 2], dropout=p)


def test_keep_probability_is_one_minus_p():
    net = symdl.Network([3, 4, 2], dropout=0.2)
    assert net.dropout == 0.2 and net.keep_probability == 0.8
    expr = Dropout(0.2).expression()
    h, r = expr.variables
    assert sp.simplify(expr.expr - h * r * sp.Rational(5, 4)) == 0
