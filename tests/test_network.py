"""symdl.Network: compiled forward, loss, gradients and training step, checked against finite differences."""

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
import symdl.network.model as network_module
from symdl.network import accepted_rules
from symdl.testing import assert_network_grad_close, check_network_grad, flatten_params
from symdl.testing.strategies import batches, network_specs

_COMPILED: dict = {}


def compiled(dtype="float64", **spec):
    """Compiled networks are cached: hypothesis draws the same specs many times."""
    key = (dtype, repr(sorted(spec.items())))
    if key not in _COMPILED:
        _COMPILED[key] = symdl.Network(**spec).compile(dtype)
    return _COMPILED[key]


def random_params(net, seed):
    """init's weights with random (non-zero) biases, so no pre-activation sits on a kink by construction."""
    params = net.init(seed)
    rng = np.random.default_rng(seed)
    for key in params:
        if key.startswith("b"):
            params[key] = (0.5 * rng.standard_normal(params[key].shape)).astype(net.dtype)
    return params


def test_doctest():
    assert doctest.testmod(network_module).failed == 0


@settings(deadline=None)
@given(spec=network_specs(), seed=st.integers(0, 2**16), data=st.data())
def test_loss_and_grad_agree_with_finite_differences(spec, seed, data):
    """Every activation, loss and penalty the library has, depth 1–4, widths 1–16: the generated gradient is ∇C."""
    net = compiled(**spec)
    X, Y = data.draw(batches(spec["layers"], loss=spec["loss"]))
    assert_network_grad_close(net, random_params(net, seed), X, Y)


@pytest.mark.parametrize("activation", accepted_rules("activation"))
def test_every_activation_in_a_three_layer_network(activation):
    """A fixed point per activation (including PReLU's learned α and softmax's VJP), so no rule depends on a draw."""
    net = compiled(layers=[3, 5, 4, 2], activation=activation, loss="huber")
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    report = assert_network_grad_close(net, random_params(net, 3), X, Y)
    assert report.passed


@pytest.mark.parametrize("loss", accepted_rules("loss"))
@pytest.mark.parametrize("penalty", [None, "l1", "l2"])
def test_every_loss_and_penalty(loss, penalty):
    net = compiled(layers=[4, 6, 3], activation="sigmoid", loss=loss, penalty=penalty)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((5, 4)), rng.uniform(0, 1, (5, 3))
    if loss == "softmax_cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)  # class probabilities
    assert_network_grad_close(net, random_params(net, 4), X, Y)


def test_prelu_learns_one_alpha_per_unit():
    net = compiled(layers=[2, 3, 1], activation="prelu", output_activation="prelu")
    params = net.init(0)
    assert net.param_names == ("W1", "b1", "alpha1", "W2", "b2", "alpha2")
    assert params["alpha1"].shape == (3,) and np.all(params["alpha1"] == 0.25)
    _, grads = net.loss_and_grad(params, np.ones((4, 2)) * -1.0, np.ones((4, 1)))
    assert grads["alpha1"].shape == (3,)


def _textbook_step(params, X, Y):
    """Hand-written reference (tests only): tanh hidden, identity output, ½‖a − y‖² averaged over the batch."""
    m = X.shape[0]
    a, activations, zs = X, [X], []
    for l in (1, 2):
        z = a @ params[f"W{l}"].T + params[f"b{l}"]
        zs.append(z)
        a = np.tanh(z) if l == 1 else z
        activations.append(a)
    delta = (a - Y) / m
    grads = {"W2": delta.T @ activations[1], "b2": delta.sum(0)}
    delta = (delta @ params["W2"]) * (1 - np.tanh(zs[0]) ** 2)
    grads.update({"W1": delta.T @ X, "b1": delta.sum(0)})
    return 0.5 * np.sum((a - Y) ** 2) / m, grads


def test_matches_a_hand_written_reference():
    net = compiled(layers=[5, 7, 3], activation="tanh")
    rng = np.random.default_rng(5)
    params, X, Y = random_params(net, 5), rng.standard_normal((9, 5)), rng.standard_normal((9, 3))
    loss, grads = net.loss_and_grad(params, X, Y)
    ref_loss, ref_grads = _textbook_step(params, X, Y)
    assert np.isclose(loss, ref_loss, rtol=1e-14)
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu", "softmax", "prelu"])
def test_float32_keeps_its_dtype_and_agrees_with_float64(activation):
    spec = {"layers": [4, 8, 3], "activation": activation, "loss": "log_cosh", "penalty": "l2"}
    net64, net32 = compiled("float64", **spec), compiled("float32", **spec)
    params32 = random_params(net32, 7)
    params64 = {k: v.astype(np.float64) for k, v in params32.items()}
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((16, 4)), rng.standard_normal((16, 3))
    loss32, grads32 = net32.loss_and_grad(params32, X.astype(np.float32), Y.astype(np.float32))
    loss64, grads64 = net64.loss_and_grad(params64, X, Y)
    assert loss32.dtype == np.float32 and all(g.dtype == np.float32 for g in grads32.values())
    assert net32.forward(params32, X.astype(np.float32)).dtype == np.float32
    assert np.isclose(loss32, loss64, rtol=1e-5)
    for key in grads64:
        np.testing.assert_allclose(grads32[key], grads64[key], rtol=2e-3, atol=1e-5)


def test_forward_trace_and_loss_agree():
    net = compiled(layers=[3, 4, 2], activation="relu", output_activation="sigmoid", loss="binary_cross_entropy")
    params, X = random_params(net, 1), np.random.default_rng(1).standard_normal((5, 3))
    Y = (X[:, :2] > 0).astype(np.float64)
    trace = net.trace(params, X)
    np.testing.assert_array_equal(net.forward(params, X), trace["a2"])
    assert set(trace) == {"z1", "a1", "z2", "a2"}
    assert net.loss(params, X, Y) == net.loss_and_grad(params, X, Y)[0]


def test_train_step_is_gradient_descent_in_place():
    net = compiled(layers=[3, 4, 1], activation="tanh", loss="huber")
    params, rng = random_params(net, 2), np.random.default_rng(2)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    before = {k: v.copy() for k, v in params.items()}
    loss, grads = net.loss_and_grad(params, X, Y)
    arrays = {k: id(v) for k, v in params.items()}
    assert net.train_step(params, X, Y, 0.1) == loss
    assert {k: id(v) for k, v in params.items()} == arrays
    for key in params:
        np.testing.assert_allclose(params[key], before[key] - 0.1 * grads[key], rtol=1e-15, atol=1e-17)


def test_training_lowers_the_loss():
    net = compiled(layers=[2, 8, 1], activation="tanh", loss="huber")
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (64, 2))
    Y = np.sin(2 * X[:, :1]) + X[:, 1:] ** 2
    params = net.init(0)
    first = net.loss(params, X, Y)
    for _ in range(300):
        net.train_step(params, X, Y, 0.5)
    assert net.loss(params, X, Y) < 0.5 * first


@pytest.mark.parametrize("activation", accepted_rules("activation"))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_inputs_stay_finite_without_warnings(activation, dtype):
    """|z| up to about 1000: every generated step is finite (numpy warnings raise in this suite)."""
    if activation == "exponential":
        pytest.skip("e^z overflows for z > log(max float) by mathematics (the rule library checks it up to there)")
    net = compiled(dtype, layers=[3, 4, 2], activation=activation, loss="softmax_cross_entropy", penalty="l1")
    params = net.init(3)
    params["W1"] *= np.asarray(300, dtype)
    X = np.array([[1000.0, -1000.0, 3.0], [-1000.0, 1000.0, -2.0]], dtype)
    Y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype)
    loss, grads = net.loss_and_grad(params, X, Y)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_the_code_is_printed_from_the_equations():
    net = compiled(layers=[3, 4, 2], activation="tanh")
    source = net.source()
    # σ'(z¹) = 1 − (a¹)², the rule's proven textbook form through the output, built in a¹'s dead buffer
    assert "numpy.square(a1, out=a1)\n    numpy.subtract(1, a1, out=a1)\n    d1 *= a1" in source
    assert "numpy.tanh(z1, out=z1)" in source
    assert "sympy" not in source and "symdl" not in source.split('"""')[2]
    assert symdl.Network([3, 4, 2], activation="tanh").compile().source() == source  # deterministic


def test_cost_does_not_grow_with_width():
    """The equations hold symbolic widths: a 10-layer, 4096-wide network has the same equations as a small one."""
    big = symdl.Network([4096] * 11, activation="tanh").equations()
    small = symdl.Network([2] * 11, activation="tanh").equations()
    assert big.all() == small.all()
    assert len(big.backward) == 3 * 10


def test_equations_read_as_bp1_to_bp4():
    eqs = symdl.Network([3, 4, 4, 2], activation="sigmoid", loss="mse").equations()
    labels = [label for label, _ in eqs.backward]
    assert labels[0] == "BP1 (layer 3)" and "BP2 (layer 2)" in labels and "BP4 (layer 1)" in labels
    latex = dict(eqs.latex()[-3:])
    assert latex["BP4 (layer 1)"] == r"\frac{\partial C}{\partial W^{1}} = \delta^{1} x^{T}"
    bp2 = dict(eqs.latex())["BP2 (layer 2)"]
    assert bp2 == r"\delta^{2} = \left(\left(W^{3}\right)^{T} \delta^{3}\right) \odot \varphi'\left(z^{2}\right)"


def test_softmax_output_uses_the_jacobian_transpose():
    eqs = symdl.Network([3, 2], activation="tanh", output_activation="softmax", loss="mse").equations()
    assert r"J_{\operatorname{softmax}}\left(z^{1}\right)^{T} \nabla_{a} C" in dict(eqs.latex())["BP1 (layer 1)"]


# --- bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layers": [3, 0, 2]}, r"layers\[1\]: widths are integers from 1 to 2147483647, got 0"),
        ({"layers": [3, -1]}, r"layers\[1\]"),
        ({"layers": [3, 2.5]}, r"layers\[1\]"),
        ({"layers": [True, 2]}, r"layers\[0\]"),
        ({"layers": [3]}, "at least an input and an output width"),
        ({"layers": "3,2"}, "expected a list of widths"),
        ({"layers": [3, 2], "activation": "swishy"}, "activation: unknown rule 'swishy'; accepted: "),
        ({"layers": [3, 2], "activation": "maxout"}, "layer with weights of its own"),
        ({"layers": [3, 2], "activation": "mse"}, "activation: 'mse' is a loss, not an activation"),
        ({"layers": [3, 2], "loss": "relu"}, "loss: 'relu' is an activation, not a loss"),
        ({"layers": [3, 2], "loss": "l2"}, "loss: 'l2' is a penalty, not a loss"),
        ({"layers": [3, 2], "activation": symdl.rule("maxout")}, "layer with weights of its own"),
        ({"layers": [3, 2], "activation": symdl.rule("mse")}, r"rule\('mse'\) is a loss, not an activation"),
        ({"layers": [3, 2], "loss": "huber", "loss_params": {"beta": 1}}, "has no parameter 'beta'"),
        ({"layers": [3, 2], "loss": "huber", "loss_params": {"delta": -1}}, "must be > 0"),
        ({"layers": [3, 2], "penalty_params": {"lam": 1}}, "without a penalty"),
        ({"layers": [3, 2], "activation": 3}, "expected a rule name or a symdl rule"),
    ],
)
def test_bad_specs_get_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        symdl.Network(**kwargs)


def test_bad_dtype():
    with pytest.raises(ValueError, match="dtype: expected one of float64, float32, got 'int32'"):
        symdl.Network([2, 1]).compile("int32")


@pytest.fixture
def small():
    net = compiled(layers=[3, 2], activation="tanh")
    return net, net.init(0), np.ones((4, 3)), np.zeros((4, 2))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, X, Y: ({**p, "W1": p["W1"].T}, X, Y), r"params\['W1'\] has shape \(3, 2\); expected \(2, 3\)"),
        (lambda p, X, Y: ({**p, "W1": p["W1"].astype(np.float32)}, X, Y), "compiled for float64"),
        (lambda p, X, Y: ({"W1": p["W1"]}, X, Y), r"missing \['b1'\]"),
        (lambda p, X, Y: ({**p, "W9": p["W1"]}, X, Y), r"unexpected \['W9'\]"),
        (lambda p, X, Y: ({**p, "W1": p["W1"].tolist()}, X, Y), r"expected a plain numpy array \(numpy.ndarray\), got list"),
        (lambda p, X, Y: ([1, 2], X, Y), "expected a dict of arrays"),
        (lambda p, X, Y: (p, X[:, :2], Y), r"X has shape \(4, 2\); expected \(batch, 3\)"),
        (lambda p, X, Y: (p, X, Y[:3]), "X has 4 rows but Y has 3"),
        (lambda p, X, Y: (p, X.astype(np.float32), Y), "X has dtype float32; this network was compiled for float64"),
        (lambda p, X, Y: (p, X[0], Y), r"X has shape \(3,\)"),
        (lambda p, X, Y: (p, X.astype(complex), Y), "X has dtype complex128"),
    ],
)
def test_bad_arrays_get_a_clear_error(small, change, message):
    net, params, X, Y = small
    p, X, Y = change(params, X, Y)
    with pytest.raises(ValueError, match=message):
        net.loss_and_grad(p, X, Y)


def test_integer_inputs_are_converted(small):
    net, params, X, Y = small
    assert net.loss(params, X.astype(int), Y.astype(int)) == net.loss(params, X, Y)


@pytest.mark.parametrize("lr", [-1e-300, -0.1, float("nan"), True, "0.1", None])
def test_bad_learning_rate(small, lr):
    net, params, X, Y = small
    with pytest.raises(ValueError, match="^lr: expected a finite real number from 0 to 1.8e308, got "):
        net.train_step(params, X, Y, lr)


def test_read_only_params_are_refused_by_train_step(small):
    net, params, X, Y = small
    params["W1"].flags.writeable = False
    net.loss_and_grad(params, X, Y)  # reading is fine
    with pytest.raises(ValueError, match="read-only; train_step updates params in place"):
        net.train_step(params, X, Y, 0.1)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(small, seed):
    net = small[0]
    with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
        net.init(seed)


def test_a_point_on_a_kink_is_refused_by_the_check():
    net = compiled(layers=[1, 1], activation="relu", output_activation="relu")
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    X, Y = np.array([[0.0]]), np.array([[1.0]])
    with pytest.raises(ValueError, match="breakpoint"):
        check_network_grad(net, params, X, Y)


def test_a_wrong_gradient_is_caught():
    """The check can fail: a network whose gradient is scaled by 1.01 does not pass."""
    net = compiled(layers=[3, 4, 2], activation="tanh")

    class Scaled:
        network, trace, loss = net.network, net.trace, net.loss

        @staticmethod
        def loss_and_grad(params, X, Y):
            loss, grads = net.loss_and_grad(params, X, Y)
            return loss, {k: 1.01 * g for k, g in grads.items()}

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    params = random_params(net, 0)
    assert check_network_grad(net, params, X, Y).passed
    assert not check_network_grad(Scaled, params, X, Y).passed
    assert flatten_params(params).size == 3 * 4 + 4 + 4 * 2 + 2


def test_user_formulas_as_activation_and_loss():
    """swish = z·σ(z) and a quartic loss, parsed from text, compile into a network whose gradient checks."""
    swish = symdl.formula_rule("z*sigmoid(z)")
    quartic = symdl.formula_rule("(a-y)**4/4", wrt="a", symbols=["y"])
    net = symdl.Network([3, 5, 2], activation=swish, loss=quartic).compile()
    rng = np.random.default_rng(0)
    assert_network_grad_close(net, random_params(net, 0), rng.standard_normal((4, 3)), rng.standard_normal((4, 2)))


def test_a_formula_with_an_unbound_parameter_is_refused():
    with pytest.raises(ValueError, match="activation: parameter"):
        symdl.Network([3, 2], activation=symdl.formula_rule("k*z", params={"k": None}))


def test_params_may_be_any_mapping_and_layers_a_numpy_array():
    from collections import OrderedDict

    net = symdl.Network(np.array([3, 4, 2])).compile()
    params, X, Y = net.init(0), np.ones((2, 3)), np.zeros((2, 2))
    assert net.loss(OrderedDict(params), X, Y) == net.loss(params, X, Y)


def test_a_loss_with_a_constant_gradient():
    """ℓ(a, y) = a − y has ∂ℓ/∂a = 1: ∇ₐC must still be one value per output (it was a scalar once)."""
    linear = symdl.formula_rule("a - y", wrt="a", symbols=["y"])
    for output in ("identity", "softmax", "tanh"):
        net = symdl.Network([3, 4, 2], output_activation=output, loss=linear).compile()
        rng = np.random.default_rng(0)
        assert_network_grad_close(net, random_params(net, 0), rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))


@pytest.mark.parametrize(
    ("X", "Y", "message"),
    [
        (np.ma.masked_array(np.ones((2, 3)), mask=[[1, 0, 0], [0, 0, 0]]), np.ones((2, 2)), "X: a masked array"),
        (np.array([[np.nan, 0, 0], [0, 0, 0]]), np.ones((2, 2)), "X contains NaN or infinity"),
        (np.ones((2, 3)), np.array([[np.inf, 0], [0, 0]]), "Y contains NaN or infinity"),
        (np.ones((2, 3)), None, r"Y: expected a \(batch, 2\) array, got None"),
        ([[1, 2, 3], [1, 2]], np.ones((2, 2)), "X: expected a 2-D array of numbers"),
    ],
)
def test_bad_batches(small, X, Y, message):
    net, params = small[0], small[1]
    with pytest.raises(ValueError, match=message):
        net.loss_and_grad(params, X, Y)


@pytest.mark.parametrize("lr", [10**400, 1e309])
def test_learning_rates_outside_float64(small, lr):
    net, params, X, Y = small
    with pytest.raises(ValueError, match="^lr: expected a finite real number from 0 to 1.8e308, got "):
        net.train_step(params, X, Y, lr)


def test_an_overflowing_step_leaves_params_untouched():
    net = symdl.Network([1, 1], activation="identity").compile()
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    with pytest.raises(FloatingPointError):
        net.train_step(params, np.array([[1e300]]), np.array([[-1e300]]), 1e30)
    assert params["W1"][0, 0] == 1.0 and params["b1"][0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "huber", "loss_params": 5}, "loss_params: expected a dict of parameter name → value"),
        ({"activation": "leaky_relu", "activation_params": [("alpha", 1)]}, "activation_params: expected a dict"),
        ({"penalty": "l2", "penalty_params": {1: 2}}, "penalty_params: expected a dict"),
    ],
)
def test_rule_parameters_must_be_a_dict(kwargs, message):
    with pytest.raises(ValueError, match=message):
        symdl.Network([3, 2], **kwargs)


def test_big_endian_dtype_compiles_as_native():
    net = symdl.Network([3, 2]).compile(">f8")
    assert net.dtype == np.dtype("float64") and net.dtype.isnative
    params = net.init(0)
    assert net.forward(params, np.ones((2, 3))).dtype == np.float64


def test_params_entries_must_be_plain_arrays(small):
    net, params, X, Y = small
    with pytest.raises(ValueError, match=r"params\['W1'\]: expected a plain numpy array \(numpy.ndarray\), got MaskedArray"):
        net.loss({**params, "W1": np.ma.masked_array(params["W1"])}, X, Y)
    with pytest.raises(ValueError, match=r"convert with .astype\('float64'\)\)$"):
        net.loss({**params, "W1": params["W1"].astype(np.int64)}, X, Y)


def test_check_network_grad_reports_bad_arguments(small):
    net, params, X, Y = small
    with pytest.raises(ValueError, match="expected a compiled network"):
        check_network_grad(symdl.Network([3, 2]), params, X, Y)
    with pytest.raises(ValueError, match=r"params: missing \['b1'\]"):
        check_network_grad(net, {"W1": params["W1"]}, X, Y)
