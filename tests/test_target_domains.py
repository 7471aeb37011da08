"""Targets outside a loss's domain (BCE's y ∉ [0, 1], softmax CE rows that are not probability vectors) are refused
with one ValueError line by compiled networks, fit/evaluate, graph models and ``symdl train``/``evaluate``;
``compile(validate_targets=False)`` computes the formula for them on purpose."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.graph import Dense, Input, Model
from symdl.network.checks import SIMPLEX_TOLERANCE, check_targets
from symdl.network.rule_forms import TargetDomain, target_domain
from symdl.testing.strategies import batches

_NETS: dict = {}


def net(loss, validate=True, optimizer=None):
    key = (loss, validate, optimizer)
    if key not in _NETS:
        _NETS[key] = symdl.Network([3, 4, 3], activation="tanh", loss=loss, optimizer=optimizer).compile(
            validate_targets=validate
        )
    return _NETS[key]


def onehot(rows, width=3):
    return np.eye(width)[np.arange(rows) % width]


def test_the_domains_are_read_from_the_loss_rules():
    assert target_domain(symdl.rule("binary_cross_entropy")) == TargetDomain("binary_cross_entropy", 0.0, 1.0)
    assert target_domain(symdl.rule("softmax_cross_entropy")) == TargetDomain("softmax_cross_entropy", 0.0, None, True)
    for name in ("mse", "mae", "huber", "log_cosh"):
        assert target_domain(symdl.rule(name)) is None
    assert target_domain(symdl.formula_rule("(a - y)**2", wrt="a", symbols=["y"])) is None


@pytest.mark.parametrize("entry", ["loss", "loss_and_grad", "train_step"])
@pytest.mark.parametrize(
    ("loss", "Y", "message"),
    [
        ("binary_cross_entropy", np.full((4, 3), 2.0), r"Y\[0, 0\] = 2: binary_cross_entropy takes targets in \[0, 1\]"),
        ("binary_cross_entropy", -onehot(4), r"Y\[0, 0\] = -1: binary_cross_entropy takes targets in \[0, 1\]"),
        ("softmax_cross_entropy", 2 * onehot(4), "Y row 0 sums to 2: softmax_cross_entropy takes rows of non-negative"),
        ("softmax_cross_entropy", np.zeros((4, 3)), "Y row 0 sums to 0: "),
        ("softmax_cross_entropy", np.array([[1.5, -0.5, 0.0]] * 4), r"Y\[0, 1\] = -0.5: softmax_cross_entropy"),
        ("softmax_cross_entropy", np.array([[0, 1, 2, 0]]).T @ np.ones((1, 3)), "Y row 0 sums to 0"),
    ],
)
def test_targets_outside_the_domain_are_one_clear_error(entry, loss, Y, message):
    compiled = net(loss)
    params = compiled.init(0)
    before = {k: v.copy() for k, v in params.items()}
    X = np.ones((Y.shape[0], 3))
    args = (params, X, Y, 0.1) if entry == "train_step" else (params, X, Y)
    with pytest.raises(ValueError, match=message) as error:
        getattr(compiled, entry)(*args)
    assert "\n" not in str(error.value) and "validate_targets=False" in str(error.value)
    assert all(np.array_equal(before[k], params[k]) for k in params)  # nothing was changed


def test_the_error_names_the_first_bad_row():
    Y = onehot(6)
    Y[4] = [0.5, 0.6, 0.0]
    with pytest.raises(ValueError, match="Y row 4 sums to 1.1"):
        net("softmax_cross_entropy").loss(net("softmax_cross_entropy").init(0), np.ones((6, 3)), Y)


@settings(deadline=None, max_examples=40)
@given(data=st.data(), loss=st.sampled_from(["binary_cross_entropy", "softmax_cross_entropy"]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_targets_in_the_domain_pass_in_both_dtypes(data, loss, dtype):
    """Hard labels, soft labels, label smoothing and rows normalised in float32: all accepted."""
    X, Y = data.draw(batches([3, 3], dtype=np.dtype(dtype), loss=loss))
    compiled = symdl.Network([3, 3], loss=loss).compile(dtype)
    assert np.isfinite(compiled.loss(compiled.init(0), X, Y))
    smoothed = (0.9 * onehot(len(X)) + 0.1 / 3).astype(dtype)  # label smoothing: still probability rows
    assert np.isfinite(compiled.loss(compiled.init(0), X, smoothed))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_simplex_tolerance_is_rounding_not_more(dtype):
    Y = np.full((1, 10), 0.1, dtype)
    check_targets(Y, "Y", "softmax_cross_entropy", 0.0, None, True)  # 10 × 0.1 rounded: accepted
    Y[0, 0] += 10 * 10 * SIMPLEX_TOLERANCE
    with pytest.raises(ValueError, match="sums to"):
        check_targets(Y, "Y", "softmax_cross_entropy", 0.0, None, True)


def test_validate_targets_false_computes_the_formula():
    """Unnormalised softmax targets: C = Σⱼ yⱼ(log Σ e^a − aⱼ) and its gradient s·Σy − y, as the rule proves for any y."""
    loose, strict = net("softmax_cross_entropy", validate=False), net("softmax_cross_entropy")
    params = strict.init(1)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 3)), rng.uniform(0, 2, (5, 3))
    a = loose.forward(params, X)
    lse = np.log(np.exp(a).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loose.loss(params, X, Y), (Y * (lse - a)).sum(axis=1).mean(), rtol=1e-12)
    symdl.testing.assert_network_grad_close(loose, params, X, Y)
    with pytest.raises(ValueError):
        strict.loss(params, X, Y)
    assert "validate_targets=False" in repr(loose) and "validate_targets" not in repr(strict)
    with pytest.raises(ValueError, match="validate_targets: expected True or False"):
        symdl.Network([3, 3]).compile(validate_targets="no")


def test_fit_and_evaluate_check_every_row_before_the_first_step():
    compiled = net("binary_cross_entropy", optimizer="adam")
    params = compiled.init(0)
    before = {k: v.copy() for k, v in params.items()}
    X, Y = np.ones((40, 3)), np.zeros((40, 3))
    Y[37, 2] = 3.0  # in the last batch
    with pytest.raises(ValueError, match=r"Y\[37, 2\] = 3"):
        compiled.fit(params, X, Y, epochs=1, batch_size=8, verbose=0)
    assert all(np.array_equal(before[k], params[k]) for k in params)
    with pytest.raises(ValueError, match=r"Y_val\[1, 0\] = -1"):
        compiled.fit(params, X, np.zeros((40, 3)), epochs=1, verbose=0, validation=(X[:2], np.array([[0, 0, 0], [-1, 0, 0]])))
    with pytest.raises(ValueError, match=r"Y\[37, 2\] = 3"):
        symdl.training.evaluate(compiled, params, X, Y)
    assert set(symdl.training.evaluate(compiled, params, X, np.zeros((40, 3)))) == {"loss"}


def test_a_recompiled_optimizer_keeps_the_choice():
    compiled = symdl.Network([3, 3], loss="binary_cross_entropy").compile(validate_targets=False)
    history = compiled.fit(compiled.init(0), np.ones((4, 3)), np.full((4, 3), 2.0), epochs=1, optimizer="sgd", verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _graph():
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    model = Model(x, Dense(2)(h), losses="softmax_cross_entropy")
    model.add_loss(Dense(3)(h), "binary_cross_entropy", target=x)  # reconstructs the input: x must be in [0, 1]
    return model


def test_graph_models_check_data_targets_and_reconstructed_inputs():
    compiled = _graph().compile()
    params = compiled.init(0)
    X, Y = np.full((4, 3), 0.5), onehot(4, 2)
    assert np.isfinite(compiled.loss(params, X, Y))
    with pytest.raises(ValueError, match="row 0 sums to 2: softmax_cross_entropy"):
        compiled.loss_and_grad(params, X, 2 * Y)
    with pytest.raises(ValueError, match=r"X\[0, 0\] = 1.5: binary_cross_entropy"):
        compiled.train_step(params, X + 1, Y, 0.1)
    with pytest.raises(ValueError, match="sums to 2"):
        compiled.check_targets(2 * Y)
    loose = _graph().compile(validate_targets=False)
    assert np.isfinite(loose.loss(loose.init(0), X + 1, 2 * Y))
    assert "validate_targets=False" in repr(loose)
