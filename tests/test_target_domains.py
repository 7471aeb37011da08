"""Targets outside a loss's domain (BCE's y ∉ [0, 1], softmax CE rows that are not probability vectors) are refused
with one ValueError line by compiled networks, fit/evaluate, graph models and ``symdl train``/``evaluate``;
``compile(validate_targets=False)`` computes the formula for them on purpose."""

import importlib.util

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import network_module_source
from symdl.export.standalone import network_module
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


# --- bool targets (Keras' and numpy's labels for binary losses): 0.0 and 1.0 in the arrays' dtype everywhere ---

_BOOL_LOSSES = {"binary_cross_entropy": 2, "softmax_cross_entropy": 3}


def _backend_arrays(params, backend):
    if backend == "torch":
        import torch

        return {k: torch.tensor(v) for k, v in params.items()}
    if backend == "jax":
        import jax.numpy as jnp

        return {k: jnp.asarray(v) for k, v in params.items()}
    return {k: np.array(v, copy=True) for k, v in params.items()}


def _as_bytes(result):
    """A (loss, grads) result as bytes, each array's own: bit-for-bit comparison in any backend."""
    loss, grads = result
    return np.asarray(loss).tobytes(), {k: np.asarray(v).tobytes() for k, v in grads.items()}


@pytest.fixture(scope="module")
def bool_models(tmp_path_factory):
    """By loss: the compiled network in each dtype, the compiled graph, and the network's modules by backend."""
    folder, out = tmp_path_factory.mktemp("bool_targets"), {}
    for loss, width in _BOOL_LOSSES.items():
        network = symdl.Network([3, 4, width], activation="tanh", loss=loss, optimizer="adam")
        x = Input(3, name="X")
        graph = Model(x, Dense(width)(Dense(4, activation="tanh")(x)), losses=loss).compile(optimizer="adam")
        metrics = ["binary_accuracy"] if loss == "binary_cross_entropy" else []
        modules = {"numpy": load_module(network_module(network, metrics=metrics), folder, f"bool_{loss}_numpy")}
        for backend in ("torch", "jax"):
            if importlib.util.find_spec(backend) is not None:
                modules[backend] = load_module(network_module_source(network, backend), folder, f"bool_{loss}_{backend}")
        out[loss] = ({d: network.compile(d) for d in ("float64", "float32")}, graph, modules)
    return out


def _labels(loss, rows, draw):
    """Bool targets of ``loss``: any labels for binary cross-entropy, one-hot rows for softmax cross-entropy."""
    width = _BOOL_LOSSES[loss]
    if loss == "binary_cross_entropy":
        return np.array(draw(st.lists(st.lists(st.booleans(), min_size=width, max_size=width), min_size=rows,
                                      max_size=rows)), dtype=bool)
    return np.eye(width, dtype=bool)[draw(st.lists(st.integers(0, width - 1), min_size=rows, max_size=rows))]


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), loss=st.sampled_from(sorted(_BOOL_LOSSES)), rows=st.integers(1, 6), seed=st.integers(0, 99),
       dtype=st.sampled_from(["float64", "float32"]))
def test_bool_targets_give_exactly_the_loss_and_gradients_of_their_0_1_floats(bool_models, data, loss, rows, seed, dtype):
    """The compiled network (both dtypes), the compiled graph and the numpy, JAX and torch modules read bool labels as
    0.0 and 1.0 in the arrays' dtype: the same loss and gradients, bit for bit."""
    compiled, graph, modules = bool_models[loss]
    Y = _labels(loss, rows, data.draw)
    X = np.random.default_rng(seed).normal(size=(rows, 3))
    net = compiled[dtype]
    params = net.init(seed)
    Xd, Yd = X.astype(dtype), Y.astype(dtype)
    assert _as_bytes(net.loss_and_grad(params, Xd, Y)) == _as_bytes(net.loss_and_grad(params, Xd, Yd))
    assert graph.loss(graph.init(seed), X, Y) == graph.loss(graph.init(seed), X, Y.astype(float))
    gp = graph.init(seed)
    assert _as_bytes(graph.loss_and_grad(gp, X, Y)) == _as_bytes(graph.loss_and_grad(gp, X, Y.astype(float)))
    for backend, module in modules.items():
        p = _backend_arrays(compiled["float64"].init(seed), backend)
        ours, floats = module.loss_and_grad(p, X, Y), module.loss_and_grad(p, X, Y.astype(float))
        assert _as_bytes(ours) == _as_bytes(floats), backend


def test_bool_targets_train_and_evaluate_as_their_0_1_floats_with_binary_metrics(bool_models):
    """fit (metrics checked for 0/1 targets, validation) and evaluate, in the library and in a module's own fit."""
    compiled, _, modules = bool_models["binary_cross_entropy"]
    net, module = compiled["float64"], modules["numpy"]
    rng = np.random.default_rng(5)
    X = rng.normal(size=(24, 3))
    Y = X[:, :2] > 0
    options = dict(epochs=2, batch_size=8, verbose=0)
    runs = []
    for targets in (Y, Y.astype(float)):
        library = net.fit(net.init(1), X, targets, metrics=["binary_accuracy"], validation=(X, targets), **options)
        own = module.fit(net.init(1), X, targets, metrics=["binary_accuracy"], validation=(X, targets), **options)
        runs.append((library.history, own.history, symdl.training.evaluate(net, library.weights, X, targets),
                     {k: v.tobytes() for k, v in library.weights.items()}))
    assert runs[0] == runs[1]
    assert "val_binary_accuracy" in runs[0][0]
