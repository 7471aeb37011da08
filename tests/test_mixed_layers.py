"""Dropout, optimizers and batch norm in mixed-precision torch and JAX modules.

Dropout masks in the low dtype, float32 optimizer state, batch statistics accumulated in float32 and float32
running statistics.

Each low-precision module is compared with the float32 module of the same network on the same float32 params, data
and seed (the masks are drawn from the same generator: the same Bernoulli draws whatever the compute dtype), within
test_mixed_precision's documented tolerance; training makes the loss fall with float32 params and state throughout.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from generated_modules import load_module, network_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mixed_precision import TOLERANCE, array, data, numpy

import symdl
from symdl.export.network_modules import network_module_source

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import jax.numpy as jnp

BACKENDS = ("torch", "jax")
LOW = ("bfloat16", "float16")
OPTIMIZERS = {"adam": {"lr": 0.01}, "classic_momentum": {"lr": 0.1}, "nadam": {"lr": 0.01}, "rmsprop": {"lr": 0.003}}
_CACHE: dict[tuple, object] = {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mixed_layers")


def module(folder, backend: str, dtype: str, **options):
    """The module of [4, 16, 16, 2] tanh/mse with ``options``, printed once per process (without options: the
    test_mixed_precision "tanh-mse" module)."""
    if "optimizer" in options:
        options = {**options, "optimizer": symdl.optimizer(options["optimizer"], **OPTIMIZERS[options["optimizer"]])}
    return network_module([4, 16, 16, 2], backend, dtype, activation="tanh", loss="mse", **options)


def whole(grads: dict) -> np.ndarray:
    return np.concatenate([numpy(grads[name]).ravel() for name in sorted(grads)])


def step(mod, backend: str, params: dict, X, Y, *extra, seed: int | None = None):
    """One train_step; (loss, params, rest) with the new params (and state) whichever way the backend returns them."""
    seeded = {} if seed is None else {"seed": seed}
    out = mod.train_step(params, X, Y, *extra, **seeded)
    if backend == "torch" or not extra or not isinstance(extra[0], dict):
        return (out, params, extra) if backend == "torch" or not isinstance(out, tuple) else (out[0], out[1], ())
    return out[0], out[1], (out[2],)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 2))  # seed + 1 below is a seed too
def test_dropout_gradients_within_tolerance_of_float32(folder, backend, dtype, seed):
    low, full = module(folder, backend, dtype, dropout=0.2), module(folder, backend, "float32", dropout=0.2)
    masks = low._masks(seed, 8) if backend == "torch" else low._masks(jax.random.PRNGKey(seed), 8)
    assert len(masks) == 2 and all(str(mask.dtype).endswith(dtype) for mask in masks)
    params = low.init_params(seed % 1000)
    X, Y = (array(backend, v) for v in data("tanh-mse", 32, seed))
    loss_full, grads_full = full.loss_and_grad(params, X, Y, seed=seed)
    loss_low, grads_low = low.loss_and_grad(params, X, Y, seed=seed)
    assert str(loss_low.dtype).endswith("float32") and all(str(g.dtype).endswith("float32") for g in grads_low.values())
    assert abs(float(loss_low) - float(loss_full)) <= TOLERANCE[dtype] * abs(float(loss_full))
    reference = whole(grads_full)
    assert np.linalg.norm(whole(grads_low) - reference) <= TOLERANCE[dtype] * np.linalg.norm(reference)
    other = whole(full.loss_and_grad(params, X, Y, seed=seed + 1)[1])  # the masks matter: another seed, other gradients
    assert np.linalg.norm(other - reference) > TOLERANCE[dtype] * np.linalg.norm(reference)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_dropout_training_makes_the_loss_fall(folder, backend, dtype):
    low = module(folder, backend, dtype, dropout=0.1)
    params = low.init_params(3)
    X, Y = (array(backend, v) for v in data("tanh-mse", 128, 1))
    before = float(low.inference_loss(params, X, Y))
    for k in range(60):
        _, params, _ = step(low, backend, params, X, Y, 0.2, seed=k)
    assert float(low.inference_loss(params, X, Y)) < 0.75 * before
    assert all(str(p.dtype).endswith("float32") and np.isfinite(numpy(p)).all() for p in params.values())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("optimizer", "dtype"), [("adam", "bfloat16"), ("adam", "float16"), ("classic_momentum", "bfloat16"),
                                                 ("rmsprop", "float16")])
def test_optimizer_trains_with_float32_state(folder, backend, dtype, optimizer):
    low = module(folder, backend, dtype, optimizer=optimizer)
    params = low.init_params(3)
    state = low.init_state(params)
    slots = [v for v in state.values() if hasattr(v, "shape") and v.shape != ()]
    assert slots and all(str(v.dtype).endswith("float32") for v in slots)
    X, Y = (array(backend, v) for v in data("tanh-mse", 128, 1))
    before = float(low.loss(params, X, Y))
    for _ in range(60):
        _, params, (state,) = step(low, backend, params, X, Y, state)
    assert float(low.loss(params, X, Y)) < 0.75 * before
    assert all(str(v.dtype).endswith("float32") and np.isfinite(numpy(v)).all() for v in [*params.values(), *slots])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_adam_steps_follow_the_float32_module(folder, backend, dtype):
    """Adam's first steps, state and params, within the gradient tolerance of float32's: its constants (β₂ = 0.999,
    1 − β₂, the bias corrections) are not rounded to the low dtype (bfloat16 would make β₂ = 1 and divide by 0)."""
    low, full = module(folder, backend, dtype, optimizer="adam"), module(folder, backend, "float32", optimizer="adam")
    params = low.init_params(5)
    start = whole(params)
    ours, theirs = copy.deepcopy(params) if backend == "torch" else dict(params), params
    state_low, state_full = low.init_state(ours), full.init_state(theirs)
    X, Y = (array(backend, v) for v in data("tanh-mse", 64, 2))
    for _ in range(3):
        _, ours, (state_low,) = step(low, backend, ours, X, Y, state_low)
        _, theirs, (state_full,) = step(full, backend, theirs, X, Y, state_full)
    for key in (k for k, v in state_full.items() if getattr(v, "shape", ()) != ()):
        reference = numpy(state_full[key])
        assert state_low[key].dtype == state_full[key].dtype
        assert np.linalg.norm(numpy(state_low[key]) - reference) <= 2 * TOLERANCE[dtype] * np.linalg.norm(reference), key
    moved = whole(theirs) - start
    assert np.linalg.norm(whole(ours) - whole(theirs)) <= TOLERANCE[dtype] * np.linalg.norm(moved)


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimizer_state_checks_say_float32(folder, backend):
    low = module(folder, backend, "bfloat16", optimizer="adam")
    params = low.init_params(0)
    cast = (lambda v: v.to(torch.bfloat16)) if backend == "torch" else (lambda v: v.astype(jnp.bfloat16))
    with pytest.raises(ValueError, match="float32"):
        low.init_state({k: cast(v) for k, v in params.items()})
    state = low.init_state(params)
    state["m_W1"] = cast(state["m_W1"])
    X, Y = (array(backend, v) for v in data("tanh-mse", 8, 0))
    with pytest.raises(ValueError, match=r"state\['m_W1'\].*float32"):
        low.train_step(params, X, Y, state)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 1))
def test_batchnorm_gradients_within_tolerance_of_float32(folder, backend, dtype, seed):
    low, full = module(folder, backend, dtype, batchnorm=True), module(folder, backend, "float32", batchnorm=True)
    params = low.init_params(seed % 1000)
    X, Y = (array(backend, v) for v in data("tanh-mse", 32, seed))
    loss_full, grads_full = full.loss_and_grad(params, X, Y)
    loss_low, grads_low = low.loss_and_grad(params, X, Y)
    assert str(loss_low.dtype).endswith("float32") and all(str(g.dtype).endswith("float32") for g in grads_low.values())
    assert abs(float(loss_low) - float(loss_full)) <= TOLERANCE[dtype] * abs(float(loss_full))
    reference = whole(grads_full)
    assert np.linalg.norm(whole(grads_low) - reference) <= TOLERANCE[dtype] * np.linalg.norm(reference)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_batchnorm_trains_with_float32_running_statistics(folder, backend, dtype):
    low, full = module(folder, backend, dtype, batchnorm=True), module(folder, backend, "float32", batchnorm=True)
    params = low.init_params(3)
    reference = copy.deepcopy(params) if backend == "torch" else dict(params)
    X, Y = (array(backend, v) for v in data("tanh-mse", 128, 1))
    before = float(low.inference_loss(params, X, Y))
    for _ in range(60):
        _, params, _ = step(low, backend, params, X, Y, 0.1)
        _, reference, _ = step(full, backend, reference, X, Y, 0.1)
    assert float(low.inference_loss(params, X, Y)) < 0.75 * before
    assert all(str(p.dtype).endswith("float32") and np.isfinite(numpy(p)).all() for p in params.values())
    for name in ("running_mean1", "running_var1"):  # buffers the steps moved, as the float32 module's
        assert np.linalg.norm(numpy(params[name]) - numpy(reference[name])) <= TOLERANCE[dtype] * np.linalg.norm(numpy(reference[name]))
    if backend == "torch":
        snapshot = copy.deepcopy(params)
        assert torch.equal(low.train_step_unchecked(snapshot, X, Y, 0.1), low.train_step(params, X, Y, 0.1))
        assert all(torch.equal(snapshot[k], params[k]) for k in params)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_batch_statistics_accumulate_in_float32(tmp_path, backend, dtype):
    """u = x₁ over 4096 rows, 1 except k rows of 2: the batch mean (m + k)/m, not a bfloat16 (float16) number, reaches
    the float32 running mean (momentum 0.1 from 0) to float32 rounding."""
    net = symdl.Network([2, 1, 1], activation="identity", loss="mse", batchnorm=True)
    source = network_module_source(net, backend, dtype)
    assert f"{'torch' if backend == 'torch' else 'jnp'}.sum(x, 0, dtype=_acc_dtype)" in source
    low = load_module(source, tmp_path, f"bn_sums_{backend}_{dtype}")
    m, k = 4096, {"bfloat16": 16, "float16": 1}[dtype]
    X = np.ones((m, 2))
    X[:k, 0] = 2
    params = low.init_params(0)
    params["W1"] = array(backend, [[1.0, 0.0]])
    params["running_mean1"] = array(backend, [0.0])
    _, params, _ = step(low, backend, params, array(backend, X), array(backend, np.zeros((m, 1))), 1e-9)
    exact = (m + k) / m
    assert float(torch.tensor(exact, dtype=getattr(torch, dtype))) != exact  # what a mean in the low dtype would give
    assert str(params["running_mean1"].dtype).endswith("float32")
    assert float(numpy(params["running_mean1"])[0]) == pytest.approx(0.1 * exact, rel=1e-6)


def _copy(backend: str, values: dict) -> dict:
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in values.items()} if backend == "torch" else dict(values)


def _same(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(np.array_equal(numpy(first[k]), numpy(second[k])) for k in first)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", sorted(symdl.optim.OPTIMIZERS))
def test_float16_overflow_skips_the_whole_optimizer_step(tmp_path, backend, optimizer):
    """With a loss scale, an overflowing step leaves params, every slot and the step count as they were (zeroed
    gradients would not: momentum and Adam's moments decay, t counts); a finite step moves them all."""
    net = symdl.Network([2, 3, 2], activation="tanh", loss="mse", optimizer=optimizer)
    low = load_module(network_module_source(net, backend, "float16"), tmp_path, f"skip_{backend}_{optimizer}")
    params = low.init_params(0)
    state = low.init_state(params)
    if backend == "torch":  # counters are 0-d tensors with the params, so that the step is kept or dropped there
        assert all(isinstance(v, torch.Tensor) and v.device == params["W1"].device for v in state.values())
        assert state["t"].dtype == torch.int64
    X, Y = (array(backend, v) for v in data("tanh-mse", 8, 3))
    X, Y = X[:, :2], Y
    for _ in range(2):  # moments away from their initial values, so that a skipped step would show
        _, params, (state,) = step(low, backend, params, X, Y, state)
    assert int(numpy(state["t"])) == 2
    before, state_before = _copy(backend, params), _copy(backend, state)
    huge = array(backend, np.full((8, 2), 3e4))  # (a − y)/m · 2**10 ≈ 4e6: overflows float16
    _, grads = low.loss_and_grad(params, X, huge)
    assert not all(np.isfinite(numpy(g)).all() for g in grads.values())
    _, params, (state,) = step(low, backend, params, X, huge, state)
    assert _same(params, before) and _same(state, state_before)
    _, params, (state,) = step(low, backend, params, X, Y, state)
    assert int(numpy(state["t"])) == 3 and not _same(params, before)
    assert all(not np.array_equal(numpy(state[k]), numpy(state_before[k])) for k in state if k != "t")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 1), penalty=st.sampled_from(["l1", "l2"]))
def test_penalty_gradients_within_tolerance_of_float32(folder, backend, dtype, seed, penalty):
    """The data term (float16: scaled by 2**10, unscaled in float32) plus the penalty's term Ω'∘W, added in float32 on
    the masters (test_mixed_penalty checks that term to float32 rounding)."""
    options = {"penalty": penalty, "penalty_params": {"lam": 0.1}}
    low, full = (module(folder, backend, d, **options) for d in (dtype, "float32"))
    plain = module(folder, backend, "float32")
    params = low.init_params(seed % 1000)
    X, Y = (array(backend, v) for v in data("tanh-mse", 32, seed))
    reference, without = whole(full.loss_and_grad(params, X, Y)[1]), whole(plain.loss_and_grad(params, X, Y)[1])
    # the term matters: a module that dropped it (or scaled it by 2**10) would be outside the tolerance
    assert np.linalg.norm(reference - without) > 2 * TOLERANCE[dtype] * np.linalg.norm(reference)
    assert np.linalg.norm(whole(low.loss_and_grad(params, X, Y)[1]) - reference) <= TOLERANCE[dtype] * np.linalg.norm(reference)


@pytest.mark.parametrize("value", [-1, 1.5, "t", [1]])
def test_torch_step_count_tensor_checked(folder, value):
    low = module(folder, "torch", "float16", optimizer="adam")
    params = low.init_params(0)
    state = low.init_state(params)
    state["t"] = torch.tensor(value) if not isinstance(value, str) else value
    X, Y = (array("torch", v) for v in data("tanh-mse", 8, 0))
    with pytest.raises(ValueError, match=r"state\['t'\]: expected a non-negative integer") as error:
        low.train_step(params, X, Y, state)
    assert "\n" not in str(error.value)
    state["t"] = 4  # a Python count is still taken, and comes back as a tensor
    low.train_step(params, X, Y, state)
    assert isinstance(state["t"], torch.Tensor) and int(state["t"]) == 5


@pytest.fixture
def default_float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("given", ["init_state", "python numbers"])
def test_torch_loss_scaled_state_keeps_its_dtypes_under_a_float64_default(folder, default_float64, given):
    """Nadam's μ-product is computed from t in torch's default dtype (float64 here), but kept as the float32 (and t the
    int64) 0-d tensor that init_state gives and _check_state asks for, however the state's scalars were given."""
    low, full = module(folder, "torch", "float16", optimizer="nadam"), module(folder, "torch", "float32", optimizer="nadam")
    params = low.init_params(0)
    reference = copy.deepcopy(params)
    state, state_full = low.init_state(params), full.init_state(reference)
    if given == "python numbers":
        state["t"], state["mu_product"] = 0, 1.0
    X, Y = (array("torch", v) for v in data("tanh-mse", 16, 0))
    for _ in range(3):
        low.train_step(params, X, Y, state)
        full.train_step(reference, X, Y, state_full)
    assert state["t"].dtype == torch.int64 and int(state["t"]) == 3
    assert state["mu_product"].dtype == torch.float32 and state["mu_product"].shape == ()
    assert float(state["mu_product"]) == pytest.approx(state_full["mu_product"], rel=1e-6)
    moved = whole(reference) - whole(low.init_params(0))
    assert np.linalg.norm(whole(params) - whole(reference)) <= TOLERANCE["float16"] * np.linalg.norm(moved)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32"])
def test_torch_step_count_tensor_is_int64(folder, dtype):
    """A narrower integer count would wrap (uint8: 255 + 1 = 0, a bias correction 1/(1 − β⁰)): refused in one line."""
    low = module(folder, "torch", "float16", optimizer="adam")
    params = low.init_params(0)
    state = low.init_state(params)
    state["t"] = torch.tensor(5, dtype=getattr(torch, dtype))
    X, Y = (array("torch", v) for v in data("tanh-mse", 8, 0))
    before = _copy("torch", params)
    with pytest.raises(ValueError, match=r"state\['t'\]: expected a non-negative integer") as error:
        low.train_step(params, X, Y, state)
    assert "\n" not in str(error.value) and _same(params, before)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize(("key", "state_device", "params_device"), [("t", "meta", "cpu"), ("t", "cpu", "meta"), ("mu_product", "meta", "cpu"),
                                                                  ("m_W1", "meta", "cpu"), ("m_W1", "cpu", "meta")])
def test_torch_state_on_another_device_than_the_params_refused(folder, dtype, key, state_device, params_device):
    """The state's tensors (0-d counters and scalars, and the slots) on the device of params and X, or one clear line."""
    low = module(folder, "torch", dtype, optimizer="nadam")
    params = low.init_params(0, device=params_device)
    state = low.init_state(params)
    state[key] = torch.zeros_like(torch.as_tensor(state[key]), device=state_device)
    X, Y = (array("torch", v).to(params_device) for v in data("tanh-mse", 8, 0))
    with pytest.raises(ValueError, match=rf"state\['{key}'\] is on {state_device}, params and the data on {params_device}") as error:
        low.train_step(params, X, Y, state)
    assert "\n" not in str(error.value)


SCHEDULES = {"step": {"step_size": 2, "gamma": 0.5}, "cosine": {"T_max": 3}, "exponential": {"gamma": 0.8}}


def _scheduled(folder, backend: str, schedule: str, dtype: str):
    """One module (and so one set of jitted functions) per (backend, schedule, dtype), shared by both counts."""
    key = ("schedule", backend, schedule, dtype)
    if key not in _CACHE:
        opt = symdl.optimizer("adam", lr=0.01, schedule=schedule, **SCHEDULES[schedule])
        net = symdl.Network([4, 8, 2], activation="tanh", loss="mse", optimizer=opt)
        _CACHE[key] = load_module(network_module_source(net, backend, dtype), folder, f"schedule_{backend}_{schedule}_{dtype}")
    return _CACHE[key]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("count", ["init_state", "python int"])
def test_loss_scaled_step_with_a_schedule_follows_float32(folder, backend, schedule, count):
    """η(t) of a schedule computed from the step count on the device (a remainder, a cosine of t), or from a Python
    count the step takes too: the float16 steps stay within the gradient tolerance of float32's."""
    low, full = (_scheduled(folder, backend, schedule, d) for d in ("float16", "float32"))
    params = low.init_params(4)
    start, theirs = whole(params), _copy(backend, params)
    state, state_full = low.init_state(params), full.init_state(theirs)
    if count == "python int":
        state["t"] = 0
    X, Y = (array(backend, v) for v in data("tanh-mse", 32, 3))
    for k in range(5):
        if backend == "torch" and k % 2 == 0:  # the unchecked step first: it too takes a Python count
            low.train_step_unchecked(params, X, Y, state)
        else:
            _, params, (state,) = step(low, backend, params, X, Y, state)
        _, theirs, (state_full,) = step(full, backend, theirs, X, Y, state_full)
    assert int(numpy(state["t"])) == 5
    moved = whole(theirs) - start
    assert np.linalg.norm(whole(params) - whole(theirs)) <= TOLERANCE["float16"] * np.linalg.norm(moved)
