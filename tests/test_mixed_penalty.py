"""The penalty of mixed-precision modules: its value Σ Ω(Wˡ) and its term Ω'∘Wˡ of BP4 in float32 on the float32 masters.

The data term δˡ(aˡ⁻¹)ᵀ is computed in bfloat16/float16 (float16: scaled by the loss scale, 2**10 by default); the
penalty joins it once it is unscaled, in float32 on the same masters as the float32 module, so that a large λ no
longer overflows float16 (every step was skipped for an L1 λ ≥ 64) and the penalty's share of the gradient is the
float32 module's to float32 rounding — much tighter than the data term's tolerance (test_mixed_precision.TOLERANCE).
The overflow skip is still decided on the data term, on the device.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
from generated_modules import network_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mixed_precision import array, data, numpy

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import jax.numpy as jnp

BACKENDS = ("torch", "jax")
LOW = ("bfloat16", "float16")
#: float32's unit roundoff: one rounding of the sum data + penalty, in each module
U32 = 2.0**-24
FLOAT16_MAX = 65504.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mixed_penalty")


def module(folder, backend: str, dtype: str, penalty: str | None = None, lam: float = 100.0, optimizer: str | None = None):
    """The module of [4, 16, 16, 2] tanh/mse, printed once per process (without a penalty or an optimizer: the
    test_mixed_precision "tanh-mse" module)."""
    options: dict[str, object] = {"penalty": penalty, "penalty_params": {"lam": lam}} if penalty else {}
    if optimizer:
        options["optimizer"] = optimizer
    return network_module([4, 16, 16, 2], backend, dtype, activation="tanh", loss="mse", **options)


def penalty_gradient(penalty: str, lam: float, W: np.ndarray) -> np.ndarray:
    """Ω'(W) by hand: λ·sign(W) (L1), 2λW (L2)."""
    return lam * np.sign(W) if penalty == "l1" else 2 * lam * W


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("penalty", ["l1", "l2"])
@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 1))
def test_large_penalty_is_float32_arithmetic_on_the_masters(folder, backend, dtype, penalty, seed):
    """λ = 100 (float16 at 2**10: s·|Ω'(w)| > 65504, which overflowed): the gradients are finite and the penalty's
    share, g(with Ω) − g(without), equals the float32 module's within one float32 rounding of each sum."""
    low, low_plain = module(folder, backend, dtype, penalty), module(folder, backend, dtype)
    full, full_plain = module(folder, backend, "float32", penalty), module(folder, backend, "float32")
    params = low.init_params(seed % 1000)
    kernels = ("W1", "W2", "W3")
    X, Y = (array(backend, v) for v in data("tanh-mse", 32, seed))
    if dtype == "float16":  # the case that overflowed float16 when the term was computed there, scaled
        assert max(low._LOSS_SCALE * np.abs(penalty_gradient(penalty, 100.0, numpy(params[w]))).max() for w in kernels) > FLOAT16_MAX
    penalty_share_is_float32_arithmetic(low, low_plain, full, full_plain, params, X, Y, kernels)


def penalty_share_is_float32_arithmetic(low, low_plain, full, full_plain, params, X, Y, kernels) -> None:
    """The penalty's share of ``low``'s gradients and loss, with Ω minus ``low_plain``'s without it, equals the float32
    modules' (``full``, ``full_plain``) within one float32 rounding of each sum: Ω'(θ) on the masters in float32, added
    after the unscaling, and Σ Ω(θ) over them; only the ``kernels`` carry the penalty."""
    (loss, grads), (loss_plain, grads_plain) = low.loss_and_grad(params, X, Y), low_plain.loss_and_grad(params, X, Y)
    (loss32, grads32), (loss32_plain, grads32_plain) = full.loss_and_grad(params, X, Y), full_plain.loss_and_grad(params, X, Y)
    assert all(str(g.dtype).endswith("float32") and np.isfinite(numpy(g)).all() for g in grads.values())
    for name in grads:
        g, g32 = numpy(grads[name]), numpy(grads32[name])
        share, share32 = g - numpy(grads_plain[name]), g32 - numpy(grads32_plain[name])
        if name not in kernels:  # no penalty on biases
            assert np.array_equal(share, np.zeros_like(share))
            continue
        # the term matters: it is most of the gradient, which the data term's tolerance alone would not pin down
        assert np.abs(share32).max() > 10 * np.abs(numpy(grads32_plain[name])).max()
        assert np.all(np.abs(share - share32) <= U32 * (np.abs(g) + np.abs(g32))), np.max(np.abs(share - share32) / (np.abs(g) + np.abs(g32)))
    # the value: Σ Ω(θ) over the masters in float32, one float32 addition per kernel to the data term in each module
    bound = 2 * len(kernels) * U32 * (abs(float(loss)) + abs(float(loss32)))
    share32 = float(loss32) - float(loss32_plain)
    assert abs((float(loss) - float(loss_plain)) - share32) <= bound
    for entry in (low.loss, low.inference_loss):  # the other entry points add the same float32 value
        assert abs((float(entry(params, X, Y)) - float(loss_plain)) - share32) <= bound


def _step(mod, backend: str, params: dict, X, Y, *extra):
    """One train_step: (params, extra) after it, whichever way the backend returns them."""
    out = mod.train_step(params, X, Y, *extra)
    if backend == "torch" or not isinstance(extra[0], dict):  # stored into params (and state)
        return params, extra
    return out[1], (out[2],)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float16_large_l1_steps_are_taken(folder, backend):
    large_l1_steps_are_taken(module(folder, backend, "float16", "l1"), module(folder, backend, "float16", "l1", optimizer="adam"),
                             backend, lambda v: array(backend, v))


def large_l1_steps_are_taken(low, adam, backend: str, as_array) -> None:
    """float16, L1 λ = 100, the default loss scale: plain SGD (``low``) moves θ by −lr·g with loss_and_grad's float32 g,
    and Adam (``adam``) counts its step (both were skipped: the float16 term 2**10·100 overflowed). The modules take
    4 inputs and 2 targets; ``as_array`` makes the backend's array."""
    assert low._LOSS_SCALE == 2.0**10
    params = low.init_params(4)
    X, Y = (as_array(v) for v in data("tanh-mse", 32, 4))
    _, grads = low.loss_and_grad(params, X, Y)
    before = {k: numpy(v) for k, v in params.items()}
    lr = 2.0**-10  # lr·g exact in float32: the step's one rounding is θ − lr·g's
    params, _ = _step(low, backend, params, X, Y, lr)
    for name in before:
        expected = before[name] - lr * numpy(grads[name])
        np.testing.assert_allclose(numpy(params[name]), expected, rtol=U32, atol=0)
        assert np.isfinite(numpy(params[name])).all() and not np.array_equal(numpy(params[name]), before[name])
    params = adam.init_params(4)
    state = adam.init_state(params)
    params, (state,) = _step(adam, backend, params, X, Y, state)
    assert int(numpy(state["t"])) == 1 and all(np.isfinite(numpy(p)).all() for p in params.values())


@pytest.mark.parametrize("backend", BACKENDS)
def test_float16_data_overflow_still_skips_a_penalized_step(folder, backend):
    data_overflow_still_skips_a_penalized_step(module(folder, backend, "float16", "l1", lam=0.01), backend,
                                               lambda v: array(backend, v))


def data_overflow_still_skips_a_penalized_step(low, backend: str, as_array) -> None:
    """An overflowing data term drops the whole plain step of ``low`` (float16, a penalty, 4 inputs, 2 targets): the
    finite float32 penalty does not move θ on its own."""
    params = low.init_params(5)
    X, _ = (as_array(v) for v in data("tanh-mse", 8, 5))
    huge = as_array(np.full((8, 2), 3e4))  # (a − y)/m · 2**10 ≈ 4e6: overflows float16
    _, grads = low.loss_and_grad(params, X, huge)
    assert not all(np.isfinite(numpy(g)).all() for g in grads.values())
    before = {k: numpy(v) for k, v in params.items()}
    params, _ = _step(low, backend, params, X, huge, 0.1)
    assert all(np.array_equal(numpy(params[k]), before[k]) for k in before)


def test_torch_penalized_plain_step_on_meta_and_compiled(folder, monkeypatch):
    penalized_plain_step_on_meta_and_compiled(module(folder, "torch", "float16", "l1", lam=0.01), monkeypatch)


def penalized_plain_step_on_meta_and_compiled(mod, monkeypatch):
    """The float32 penalty and the zeroed overflowing step read nothing back: ``mod``'s (a float16 torch module with a
    penalty, 4 inputs, 2 outputs) train_step_unchecked runs on ``meta`` and compiles to one graph (torch.compile
    fullgraph), dropping an overflowing step between two finite ones as eager does."""
    meta = mod.init_params(0, device="meta")
    X, Y = (torch.empty((5, n), dtype=torch.float16, device="meta") for n in (4, 2))
    loss, grads = mod.loss_and_grad_unchecked(meta, X, Y)
    assert loss.device.type == "meta" and all(g.device.type == "meta" and g.dtype == torch.float32 for g in grads.values())
    assert mod.train_step_unchecked(meta, X, Y, torch.tensor(0.1, device="meta")).device.type == "meta"
    monkeypatch.setitem(sys.modules, mod.__name__, mod)  # Dynamo looks the module's globals up by its name
    X, Y = (torch.tensor(v, dtype=torch.float16) for v in data("tanh-mse", 8, 6))
    huge = torch.full((8, 2), 3e4, dtype=torch.float16)
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    compiled, eager = mod.init_params(1), mod.init_params(1)
    lr = torch.tensor(0.1)
    for target in (Y, huge, Y):
        kept = copy.deepcopy(eager)
        torch.testing.assert_close(step(compiled, X, target, lr), mod.train_step_unchecked(eager, X, target, lr), rtol=1e-6, atol=1e-7)
        assert all(torch.equal(eager[k], kept[k]) for k in eager) == (target is huge)
    for name in eager:
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-6, atol=1e-7)


def test_jax_penalized_plain_step_transfers_nothing(folder):
    penalized_plain_step_transfers_nothing(module(folder, "jax", "float16", "l1", lam=0.01))


def penalized_plain_step_transfers_nothing(mod):
    """``mod``'s (a float16 JAX module with a penalty) unchecked steps under jax.transfer_guard("disallow"): an
    overflowing step between two finite ones is dropped, nothing is read back."""
    device = jax.devices()[0]
    params = mod.init_params(2, device=device)
    X, Y = (jax.device_put(jnp.asarray(v, dtype=jnp.float16), device) for v in data("tanh-mse", 16, 7))
    huge = jax.device_put(jnp.full((16, 2), 3e4, dtype=jnp.float16), device)
    lr = jax.device_put(np.float32(0.1), device)
    history = [params]
    with jax.transfer_guard("disallow"):
        for target in (Y, huge, Y):
            _, new = mod.train_step_unchecked(history[-1], X, target, lr)
            history.append(new)
        jax.block_until_ready(history)
    same = [all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a) for a, b in zip(history, history[1:])]
    assert same == [False, True, False]  # the overflowing step dropped, the finite ones (with the penalty) taken
