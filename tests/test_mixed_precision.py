"""Mixed precision: torch and JAX network modules computing in bfloat16/float16 with float32 masters and sums.

Each low-precision module is compared with the float32 module of the same network on the same float32 params
and data (itself checked against the compiled network and autograd in test_network_backends); the tolerances
are the ones docs/codegen.md states.
"""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module, network_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.export.network_modules import network_module_source

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
import jax.numpy as jnp

BACKENDS = ("torch", "jax")
LOW = ("bfloat16", "float16")
# ‖g_low − g_float32‖ / ‖g_float32‖ over the whole gradient (every parameter's), smooth activations, as docs/codegen.md
# "Mixed precision" states: about 25 (bfloat16) and 40 (float16) units of roundoff; the median is about one.
TOLERANCE = {"bfloat16": 0.1, "float16": 0.02}
#: symdl.Network(layers, **options) of each name
NETWORKS: dict[str, tuple[list[int], dict[str, str]]] = {
    "tanh-mse": ([4, 16, 16, 2], {"activation": "tanh", "loss": "mse"}),
    "tanh-ce": ([4, 16, 3], {"activation": "tanh", "loss": "softmax_cross_entropy"}),
    "relu-ce": ([4, 16, 3], {"activation": "relu", "loss": "softmax_cross_entropy"}),
    "identity-mse": ([2, 2], {"activation": "identity", "loss": "mse"}),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mixed")


def module(folder, net: str, backend: str, dtype: str):
    """The module of NETWORKS[net], printed once per process (test_mixed_layers and test_mixed_penalty share it)."""
    layers, options = NETWORKS[net]
    return network_module(layers, backend, dtype, **options)


def array(backend: str, values: np.ndarray):
    return torch.from_numpy(np.array(values, dtype=np.float32)) if backend == "torch" else jnp.asarray(values, dtype=jnp.float32)


def numpy(value) -> np.ndarray:
    return np.asarray(value.float() if isinstance(value, torch.Tensor) else value.astype(jnp.float32), dtype=np.float64)


def losses_at_every_entry_point(low, backend: str, params: dict, X, Y, bias: str, bias_grad: np.ndarray) -> dict:
    """The loss each of a mixed module's seven entry points returns on (X, Y) (a step on a copy of params), the two
    loss_and_grad's gradient of ``bias`` checked against ``bias_grad`` on the way."""
    copy = lambda: {k: v.clone() for k, v in params.items()} if backend == "torch" else dict(params)  # noqa: E731
    first = lambda result: result[0] if isinstance(result, tuple) else result  # noqa: E731
    values = {"loss": low.loss(params, X, Y), "inference_loss": low.inference_loss(params, X, Y),
              "loss_unchecked": low.loss_unchecked(params, X, Y),
              "train_step": first(low.train_step(copy(), X, Y, 0.1)),
              "train_step_unchecked": first(low.train_step_unchecked(copy(), X, Y, 0.1))}
    for name, entry in (("loss_and_grad", low.loss_and_grad), ("loss_and_grad_unchecked", low.loss_and_grad_unchecked)):
        values[name], grads = entry(params, X, Y)
        assert numpy(grads[bias]) == pytest.approx(bias_grad, rel=1e-6, abs=1e-12), name
    return values


def data(net: str, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A regression set (targets a smooth function of X) or a 3-class set (classes by the sign pattern of X)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(rows, 4))
    if net.endswith("mse"):
        return X, np.stack([np.sin(2 * X[:, 0]) * X[:, 1], X[:, 2] ** 2 - X[:, 3]], axis=1) / 2
    return X, np.eye(3)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3).astype(int)]


@pytest.mark.parametrize("net", ["tanh-mse", "tanh-ce"])  # relu: a z within rounding of 0 may take the other branch
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=4)
@given(seed=st.integers(0, 2**31 - 1))
def test_gradients_within_tolerance_of_float32(folder, net, backend, dtype, seed):
    low, full = module(folder, net, backend, dtype), module(folder, net, backend, "float32")
    params = low.init_params(seed % 1000)
    X, Y = (array(backend, v) for v in data(net, 32, seed))
    loss_full, grads_full = full.loss_and_grad(params, X, Y)
    loss_low, grads_low = low.loss_and_grad(params, X, Y)
    assert str(loss_low.dtype).endswith("float32")
    assert abs(float(loss_low) - float(loss_full)) <= TOLERANCE[dtype] * max(abs(float(loss_full)), 1e-3)
    assert all(str(g.dtype).endswith("float32") for g in grads_low.values())
    reference = np.concatenate([numpy(grads_full[name]).ravel() for name in sorted(grads_full)])
    error = np.linalg.norm(np.concatenate([numpy(grads_low[name]).ravel() for name in sorted(grads_full)]) - reference)
    assert error <= TOLERANCE[dtype] * np.linalg.norm(reference), (error, np.linalg.norm(reference))


@pytest.mark.parametrize("net", ["tanh-mse", "relu-ce"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_train_step_makes_the_loss_fall_and_keeps_float32_masters(folder, net, backend, dtype):
    low = module(folder, net, backend, dtype)
    params = low.init_params(3)
    X, Y = (array(backend, v) for v in data(net, 128, 1))
    before = float(low.loss(params, X, Y))
    losses = [float(low.train_step(params, X, Y, 0.2)) for _ in range(60)]
    after = float(low.loss(params, X, Y))
    assert after < 0.75 * before and losses[-1] < losses[0]
    assert all(str(p.dtype).endswith("float32") for p in params.values())
    assert all(np.isfinite(numpy(p)).all() for p in params.values())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_loss_and_bias_sums_accumulate_in_float32(tmp_path, backend, dtype):
    """4096 rows, a = 0, Y = 1 except k rows of 2: C = ½(m + 3k)/m and ∂C/∂b = −(m + k)/m hold only in float32."""
    source = network_module_source(symdl.Network([2, 1], activation="identity", loss="mse"), backend, dtype)
    module_name = {"torch": "torch", "jax": "jnp"}[backend]
    assert f"{module_name}.sum(d1, axis=0, dtype=_acc_dtype)" in source and "_ones @" not in source
    assert "dtype=_acc_dtype) * (1/2 * _inv_m)" in source
    assert f"_param_dtype = _acc_dtype = {'torch.float32' if backend == 'torch' else 'jnp.dtype(' + repr('float32') + ')'}" in source
    low = load_module(source, tmp_path, f"sums_{backend}_{dtype}")
    m, k = 4096, {"bfloat16": 16, "float16": 1}[dtype]  # 1 + k/m is not a bfloat16 (float16) number, and a float32 one
    Y = np.ones((m, 1))
    Y[:k] = 2
    params = {name: array(backend, np.zeros(shape)) for name, shape in low._SPECS}
    loss, grads = low.loss_and_grad(params, array(backend, np.ones((m, 2))), array(backend, Y))
    exact_loss, exact_bias = 0.5 * (m + 3 * k) / m, -(m + k) / m
    low_bias = float(torch.tensor(exact_bias, dtype=getattr(torch, dtype)))
    assert low_bias != exact_bias  # what a sum rounded to the low dtype would give
    assert float(loss) == pytest.approx(exact_loss, rel=1e-6)
    assert float(numpy(grads["b1"])[0]) == pytest.approx(exact_bias, rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("net", ["tanh-ce", "relu-ce"])
@settings(max_examples=5)
@given(z=st.lists(st.floats(-1000, 1000), min_size=8, max_size=8))
def test_stable_for_large_inputs(folder, backend, dtype, net, z):
    """Pre-activations and logits with |z| ≤ 1000 in the low dtype: activations and softmax cross-entropy stay finite.

    bfloat16 gradients too; float16 gradients of such logits may overflow the loss scale (test_float16_overflow_…).
    """
    low = module(folder, net, backend, dtype)
    W1, W2 = np.zeros((16, 4)), np.zeros((3, 16))
    W1[:4, :4], W2[:3, :3] = np.eye(4), np.eye(3)  # z¹ = x, z² = the first three units of a¹
    params = {"W1": array(backend, W1), "b1": array(backend, np.zeros(16)), "W2": array(backend, W2), "b2": array(backend, np.zeros(3))}
    X, Y = array(backend, np.reshape(z, (2, 4))), array(backend, np.eye(3)[:2])
    assert np.isfinite(numpy(low.forward(params, X))).all()
    loss, grads = low.loss_and_grad(params, X, Y)
    assert np.isfinite(float(loss))
    if dtype == "bfloat16":
        assert all(np.isfinite(numpy(g)).all() for g in grads.values())


@pytest.mark.parametrize("backend", BACKENDS)
def test_float16_overflow_skips_the_step(tmp_path, backend):
    """A loss scale that overflows float16: loss_and_grad returns the non-finite gradients, train_step leaves params."""
    net = symdl.Network([2, 2], activation="identity", loss="mse")
    low = load_module(network_module_source(net, backend, "float16", loss_scale=2**15), tmp_path, f"overflow_{backend}")
    assert low._LOSS_SCALE == 2**15
    params = {name: array(backend, np.full(shape, 0.5)) for name, shape in low._SPECS}
    X, Y = array(backend, np.full((4, 2), 100.0)), array(backend, np.zeros((4, 2)))  # (a − y)/m · 2**15 ≈ 1.6e6 > 65504
    _, grads = low.loss_and_grad(params, X, Y)
    assert not all(np.isfinite(numpy(g)).all() for g in grads.values())
    before = {k: numpy(v) for k, v in params.items()}
    low.train_step(params, X, Y, 0.1)
    assert all(np.array_equal(numpy(params[k]), before[k]) for k in before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_data_in_the_low_dtype_is_taken_and_others_refused(folder, backend):
    low = module(folder, "tanh-mse", backend, "bfloat16")
    params = low.init_params(0)
    X, Y = data("tanh-mse", 8, 0)
    as_low = (lambda a: torch.tensor(a, dtype=torch.bfloat16)) if backend == "torch" else (lambda a: jnp.asarray(a, dtype=jnp.bfloat16))
    rounded = [array(backend, numpy(as_low(v))) for v in (X, Y)]
    assert float(low.loss(params, as_low(X), as_low(Y))) == float(low.loss(params, *rounded))
    wide = torch.tensor(X) if backend == "torch" else np.asarray(X)
    with pytest.raises(ValueError, match="takes float32 or bfloat16 data"):
        low.loss(params, wide, array(backend, Y))
    half = {k: (v.to(torch.bfloat16) if backend == "torch" else v.astype(jnp.bfloat16)) for k, v in params.items()}
    with pytest.raises(ValueError, match="float32"):
        low.loss_and_grad(half, array(backend, X), array(backend, Y))


@pytest.mark.parametrize(
    ("kwargs", "backend", "message"),
    [
        ({}, "numpy", "torch and jax"),
        ({"optimizer": "adam"}, "numpy", "torch and jax"),
    ],
)
def test_unsupported_is_one_clear_line(kwargs, backend, message):
    with pytest.raises(ValueError, match=message) as error:
        network_module_source(symdl.Network([3, 4, 2], **kwargs), backend, "float16")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("dtype", ["int32", "half_", "complex64", "float8"])
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_wrong_dtype_lists_the_mixed_precision_dtypes_too(backend, dtype):
    """torch and jax modules also take bfloat16 and float16: the line said only 'expected one of float64, float32'."""
    with pytest.raises(ValueError, match=r"^dtype: expected one of float64, float32, bfloat16, float16 \(mixed precision\), got "):
        network_module_source(symdl.Network([3, 2]), backend, dtype)
    with pytest.raises(ValueError, match=r"^dtype: expected one of float64, float32, got "):
        network_module_source(symdl.Network([3, 2]), "numpy", dtype)


@pytest.mark.parametrize("scale", [3, 0.5, 2.0**16, True, float("inf")])
def test_loss_scale_is_a_power_of_two(scale):
    with pytest.raises(ValueError, match="power of two"):
        network_module_source(symdl.Network([3, 2]), "torch", "float16", loss_scale=scale)
    with pytest.raises(ValueError, match="loss_scale applies"):
        network_module_source(symdl.Network([3, 2]), "torch", "float32", loss_scale=2)


def test_cli_codegen_dtype(tmp_path, capsys):
    target = tmp_path / "mlp_bf16.py"
    argv = ["codegen", "--layers", "3,4,2", "--backend", "torch", "--dtype", "bfloat16", "-o", str(target)]
    assert main(argv) == 0
    assert target.read_text() == network_module_source(symdl.Network([3, 4, 2]), "torch", "bfloat16")
    generated = load_module(target.read_text(), tmp_path, "mlp_bf16_loaded")
    assert (generated._dtype, generated._param_dtype, generated._LOSS_SCALE) == (torch.bfloat16, torch.float32, 1.0)
    assert all(p.dtype == torch.float32 for p in generated.init_params(0).values())
    capsys.readouterr()
    for argv, words in [(["--backend", "numpy", "--dtype", "bfloat16"], "needs --backend torch or jax"),
                        (["--backend", "jax", "--dtype", "float32", "--loss-scale", "8"], "--loss-scale applies"),
                        (["--backend", "jax", "--dtype", "float16", "--loss-scale", "3"], "power of two")]:
        assert main(["codegen", "--layers", "3,2", *argv, "-o", "-"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert main(["codegen", "--layers", "3,2", "--backend", "jax", "--dtype", "float16", "--loss-scale", "256", "-o", "-"]) == 0
    assert "_LOSS_SCALE = 256.0" in capsys.readouterr().out


def test_jax_unchecked_entry_points_cast_as_the_checked_ones(folder):
    low = module(folder, "tanh-mse", "jax", "bfloat16")
    params = low.init_params(2)
    X, Y = (array("jax", v) for v in data("tanh-mse", 16, 2))
    loss, grads = low.loss_and_grad(params, X, Y)
    loss_u, grads_u = low.loss_and_grad_unchecked(params, X, Y)
    assert float(loss_u) == float(loss) and all(np.array_equal(numpy(grads_u[k]), numpy(grads[k])) for k in grads)
    _, new = low.train_step_unchecked(params, X, Y, 0.1)
    low.train_step(params, X, Y, 0.1)
    assert all(new[k].dtype == jnp.float32 and np.array_equal(numpy(new[k]), numpy(params[k])) for k in params)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_float16_loss_of_a_residual_of_1000_is_the_float32_modules(folder, backend, seed):
    """Y − a ≈ 1000: (Y − a)² ≈ 1e6 overflows float16 (65504); the loss, from aᴸ and Y cast to float32, is the float32
    module's within 5e-6 (relative; measured ≤ 7e-7 over 100 draws: aᴸ's float16 rounding, |δa| ≤ 2⁻¹¹|a|, over a
    residual of 1000)
    at every entry point; the seed s·(a − y)/m overflows float16, so train_step leaves params as they were."""
    low, full = module(folder, "identity-mse", backend, "float16"), module(folder, "identity-mse", backend, "float32")
    rng = np.random.default_rng(seed)
    params = {name: array(backend, rng.uniform(-1, 1, shape)) for name, shape in low._SPECS}
    X = array(backend, rng.uniform(-1, 1, (8, 2)))
    Y = array(backend, rng.integers(990, 1010, (8, 2)).astype(np.float64))  # float16 numbers: Y is exact in both modules
    expected = float(full.loss(params, X, Y))
    before = {k: numpy(v) for k, v in params.items()}
    values = {"loss": low.loss(params, X, Y), "inference_loss": low.inference_loss(params, X, Y),
              "loss_and_grad": low.loss_and_grad(params, X, Y)[0], "loss_unchecked": low.loss_unchecked(params, X, Y),
              "loss_and_grad_unchecked": low.loss_and_grad_unchecked(params, X, Y)[0]}
    if backend == "torch":
        values["train_step"] = low.train_step(params, X, Y, 0.1)
        values["train_step_unchecked"] = low.train_step_unchecked(params, X, Y, 0.1)
    else:
        values["train_step"] = low.train_step(params, X, Y, 0.1)
        values["train_step_unchecked"], new = low.train_step_unchecked(params, X, Y, 0.1)
        assert all(np.array_equal(numpy(new[k]), before[k]) for k in before)
    for name, value in values.items():
        assert str(value.dtype).endswith("float32"), name
        assert float(value) == pytest.approx(expected, rel=5e-6), name
    assert all(np.array_equal(numpy(params[k]), before[k]) for k in before)  # the float16 seed overflowed: step skipped


def _reference_loss(net: str, output: np.ndarray, Y: np.ndarray) -> float:
    """The loss of the module's own low-precision output aᴸ, in float64 (hand-written: the test's reference)."""
    if net.endswith("mse"):
        return float(0.5 * np.sum((output - Y) ** 2) / len(Y))
    shifted = output - output.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.sum(Y * log_softmax) / len(Y))


@pytest.mark.parametrize("net", ["tanh-mse", "tanh-ce"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_loss_is_float32_arithmetic_on_the_low_output(folder, net, backend, dtype, seed):
    """The loss of the low-precision output aᴸ (as forward returns it) is computed in float32: within 1e-6 of its float64
    value (measured ≤ 2e-7 over 50 draws), where softmax cross-entropy's log-sum-exp in bfloat16 was off by about 1e-3."""
    low = module(folder, net, backend, dtype)
    params = low.init_params(seed % 1000)
    X, Y = data(net, 32, seed)
    X, Y = array(backend, X), array(backend, Y)
    expected = _reference_loss(net, numpy(low.forward(params, X)), numpy(Y))  # Y as given: float32, unrounded
    assert float(low.loss(params, X, Y)) == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert float(low.loss_and_grad(params, X, Y)[0]) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def targets_off_the_low_grid(low, backend: str, dtype: str, seed: int) -> None:
    """float32 targets reach the loss unrounded, as torch.autocast's loss reads them: Y = aᴸ + k·2⁻¹³ (k = ±1, ±3, aᴸ
    the low output of forward, in [0.25, 1.25]) is a float32 number that neither low dtype holds (bfloat16 rounds most of
    it back to aᴸ); the loss at every entry point is ½Σ(aᴸ − Y)²/m of the unrounded Y (its float64 value, within 1e-6)
    and the bias gradient, the seed (aᴸ − Y)/m summed over the 8 rows, too (each (aᴸ − Y)/m exact in float32 and in the
    low dtype). A Y given in the low dtype is widened exactly at the unchecked entry points as at the checked ones.
    ``low``: a mixed module of one 2 → 2 affine layer with the squared error (network or graph)."""
    rng = np.random.default_rng(seed)
    # W on a 1/4 grid, X on 1/16, b on 1/16: aᴸ = XWᵀ + b is a multiple of 1/64 in [0.25, 1.25], exact in either low
    # dtype, so every program (XLA fuses each entry point its own way) computes the same aᴸ as forward
    params = {name: array(backend, rng.integers(-4, 5, shape) / 4 if len(shape) > 1 else rng.integers(8, 17, shape) / 16)
              for name, shape in low._SPECS}
    (bias,) = (name for name, shape in low._SPECS if len(shape) == 1)
    X = array(backend, rng.integers(-2, 3, (8, 2)) / 16)
    output = numpy(low.forward(params, X))
    targets = output + rng.choice([-3.0, -1.0, 1.0, 3.0], size=output.shape) * 2.0**-13
    Y = array(backend, targets)
    rounded = numpy(Y.to(getattr(torch, dtype)) if backend == "torch" else Y.astype(dtype))
    assert np.array_equal(numpy(Y), targets) and not np.any(rounded == targets)  # float32 numbers, none in the low dtype
    expected = float(0.5 * np.sum((output - targets) ** 2) / len(targets))
    seed_sum = (output - targets).sum(axis=0) / len(targets)
    values = losses_at_every_entry_point(low, backend, params, X, Y, bias, seed_sum)
    for name, value in values.items():
        assert str(value.dtype).endswith("float32"), name
        assert float(value) == pytest.approx(expected, rel=1e-6), name
    as_low = Y.to(getattr(torch, dtype)) if backend == "torch" else Y.astype(dtype)
    widened = array(backend, rounded)
    assert float(low.loss_unchecked(params, X, as_low)) == float(low.loss(params, X, as_low)) == float(low.loss(params, X, widened))
    low_grads, grads = low.loss_and_grad_unchecked(params, X, as_low)[1], low.loss_and_grad(params, X, widened)[1]
    assert all(np.array_equal(numpy(low_grads[k]), numpy(grads[k])) for k in grads)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_float32_targets_reach_the_loss_unrounded(folder, backend, dtype, seed):
    """Y = aᴸ + k·2⁻¹³, off the low dtype's grid: the loss and the seed of the unrounded float32 Y (targets_off_the_low_grid)."""
    targets_off_the_low_grid(module(folder, "identity-mse", backend, dtype), backend, dtype, seed)
