"""A step count kept on the device with a user's schedule: its Min, Max, Piecewise and functions read nothing back.

A torch module whose ``state['t']`` is a 0-d tensor computes the step's scalars (bias corrections, η(t)) from it
with torch: a schedule's ``Min``/``Max``/``Piecewise`` as ``torch.minimum``/``torch.clamp``/``torch.where`` (Python's
``min`` or conditional would call ``bool()`` on the tensor), in the params' dtype (torch's default float32 would put a
float64 module's step off). Checked: on ``meta`` (no values to read back), under ``torch.compile(fullgraph=True)``
(one frame for every count), and the numbers of the Python count's module.
"""

from __future__ import annotations

import copy
import math
import sys

import numpy as np
import pytest
import sympy as sp
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.codegen.step_scalars import ScalarPrinter
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Add, Dense, Input, Model, Multiply
from symdl.optim import ETA, Hyperparameter, Schedule, T

torch = pytest.importorskip("torch")

W = sp.Symbol("warmup", positive=True)
# η(t) of a user's own: each crosses its branches within the 8 steps below (warmup = 3).
EXPRESSIONS = {
    "warmup_rsqrt": sp.Piecewise((ETA * T / W, T < W), (ETA * sp.sqrt(W / T), True)),
    "min_max": sp.Max(ETA / 100, sp.Min(ETA * T / W, ETA * sp.exp(-(T - W) / 20))),
    # a quarter: exact in binary (a floor of t/3 − 1/3 may land one step early where XLA fuses the multiply-add)
    "floor_ceiling": ETA * sp.Rational(1, 2) ** sp.floor((T - 1) / 4) + ETA * sp.ceiling(T / 4) / (10 * sp.log(T + 1)),
    "abs_sign": ETA * (1 + sp.Abs(T - 2 * W) / (10 * W)) * (3 + sp.sign(T - 2 * W)) / 4,
    "heaviside": ETA * (1 - sp.Heaviside(T - W) / 2),
    "numbers": sp.Piecewise((ETA, T <= W), (ETA / 10, (T > W) & (T <= 2 * W)), (ETA / 100, True)),
}
STEPS = 8


def _schedule(name: str, lr: float | None = 0.01) -> Schedule:
    return Schedule(name, EXPRESSIONS[name], (Hyperparameter("lr", ETA, lr), Hyperparameter("warmup", W, 3)))


def _two_inputs() -> Model:
    x1, x2 = Input(2), Input(2)
    heads = [Dense(1, activation="softplus")(n) for n in (Add()([x1, x2]), Multiply()([x1, x2]))]
    return Model([x1, x2], heads, losses=["mse", "mae"])


def _module(folder, name: str, optimizer, kind: str = "net", dtype: str = "float64"):
    if kind == "graph":
        text = graph_module_source(_two_inputs(), "torch", dtype, optimizer=optimizer)
    else:
        net = symdl.Network([3, 4, 2], activation="tanh", loss="log_cosh", optimizer=optimizer)
        text = network_module_source(net, "torch", dtype)
    return load_module(text, folder, name)


_SCHEDULED: dict[tuple[str, str], object] = {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("device_schedules")


def _scheduled(folder, name: str, kind: str = "net"):
    """The float64 torch module with Adam on schedule ``name`` (lr at call time for min_max), printed once for the
    meta, torch.compile and JAX tests."""
    if (name, kind) not in _SCHEDULED:
        optimizer = symdl.optim.adam(lr=_schedule(name, None if name == "min_max" else 0.01))
        _SCHEDULED[name, kind] = _module(folder, f"scheduled_{name}_{kind}", optimizer, kind)
    return _SCHEDULED[name, kind]


def _data(kind: str, dtype=torch.float64, device="cpu") -> list:
    rng = np.random.default_rng(4)
    widths = (2, 2, 1, 1) if kind == "graph" else (3, 2)  # inputs, then targets
    return [torch.tensor(rng.uniform(-1, 1, (6, n)), dtype=dtype, device=device) for n in widths]


def _on_device(state: dict, device="cpu") -> dict:
    """The state with its count (int64) and any real global scalar (Nadam's μ-product, float64 as the params) as 0-d
    tensors, as torch.optim's capturable Adam keeps its step."""
    return {k: torch.tensor(v, dtype=torch.int64 if isinstance(v, int) else torch.float64, device=device)
            if isinstance(v, (int, float)) else v.clone() for k, v in state.items()}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_a_custom_schedule_steps_on_meta_with_a_device_count(folder, name):
    """No values on meta: a printed min(), max() or conditional of the count would fail reading it back."""
    lr = None if name == "min_max" else 0.01  # lr given at call time: a Python number beside the count's tensors
    mod = _scheduled(folder, name)
    params = mod.init_params(0, device="meta")
    state = _on_device(mod.init_state(params), "meta")
    held = state["t"]
    mod.train_step_unchecked(params, *_data("net", device="meta"), state, *([0.01] if lr is None else []))
    assert state["t"] is held and held.device.type == "meta" and held.dtype == torch.int64
    assert all(p.device.type == "meta" for p in params.values())


@pytest.mark.parametrize(("name", "kind"), [*((n, "net") for n in sorted(EXPRESSIONS)), ("warmup_rsqrt", "graph"), ("numbers", "graph")])
def test_a_custom_schedule_with_a_device_count_compiles_once_with_the_python_counts_numbers(folder, name, kind, monkeypatch):
    import torch._dynamo.testing

    lr = None if name == "min_max" else 0.01
    mod = _scheduled(folder, name, kind)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    params = mod.init_params(0)
    state = mod.init_state(params)
    mine, device_state = copy.deepcopy(params), _on_device(state)
    extra = [0.01] if lr is None else []
    data = _data(kind)
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend=counter)
    for _ in range(STEPS):
        want = mod.train_step(params, *data, state, *extra)
        torch.testing.assert_close(step(mine, *data, device_state, *extra), want, rtol=1e-13, atol=1e-15)
    assert counter.frame_count == 1 and int(device_state["t"]) == state["t"] == STEPS
    for key in params:
        torch.testing.assert_close(mine[key], params[key], rtol=1e-13, atol=1e-15)
    for key, value in state.items():
        torch.testing.assert_close(device_state[key], torch.as_tensor(value), rtol=1e-13, atol=1e-15, check_dtype=False)


@pytest.mark.parametrize("kind", ["net", "graph"])
@pytest.mark.parametrize(("optimizer", "start"), [("adam", 0), ("nadam", 0), ("step", 999_990)])
def test_a_float64_modules_device_count_gives_its_python_counts_step(tmp_path, kind, optimizer, start):
    """The scalars in float64, not torch's default float32: 1/(1 − β₂ᵗ) at t = 1 (float32: ~1e-5 off) and the step
    schedule's exponent ⌊(t − 1)/s⌋ near t = 10⁶ (float32: up to 0.016 off)."""
    built = {"adam": symdl.optim.adam(lr=0.01), "nadam": symdl.optim.nadam(lr=0.01),
             "step": symdl.optim.adam(lr=symdl.optim.step(0.01, 7, 0.9999))}[optimizer]
    mod = _module(tmp_path, f"float64_{optimizer}_{kind}", built, kind)
    params = mod.init_params(1)
    state = mod.init_state(params)
    state["t"] = start
    mine, device_state = copy.deepcopy(params), _on_device(state)
    data = _data(kind)
    for _ in range(3):
        mod.train_step(params, *data, state)
        mod.train_step_unchecked(mine, *data, device_state)
    assert int(device_state["t"]) == state["t"] == start + 3
    for key in params:
        torch.testing.assert_close(mine[key], params[key], rtol=1e-13, atol=1e-15)


_t = sp.Symbol("t", real=True)


@settings(max_examples=60, deadline=None)
@given(t=st.integers(1, 10**6), warmup=st.integers(1, 10**4))  # exp((warmup − t)/20) stays a float
def test_the_device_spelling_of_a_schedule_is_its_python_value(t, warmup):
    """Every schedule above printed for a float64 count tensor gives, in float64, the value Python's print gives."""
    for name, expr in EXPRESSIONS.items():
        value = expr.xreplace({T: _t, W: sp.Integer(warmup), ETA: sp.Float(0.01)})
        tensors = {_t}
        device = ScalarPrinter("torch", tensors, like="t").doprint(value)
        python = ScalarPrinter().doprint(value)
        assert "min(" not in device and "max(" not in device and " if " not in device, (name, device)
        got = eval(device, {"torch": torch, "math": math, "t": torch.tensor(float(t), dtype=torch.float64)})  # noqa: S307 (printed here)
        want = eval(python, {"math": math, "t": t})  # noqa: S307
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float64, (name, device)
        assert math.isclose(float(got), float(want), rel_tol=1e-14, abs_tol=0.0), (name, t, warmup, float(got), want)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_a_jitted_jax_step_traces_the_count_through_the_schedule_with_the_torch_python_counts_numbers(tmp_path, folder, name):
    """JAX traces the count under jax.jit: its Min/Max/Piecewise print as jnp.minimum/maximum/where (no Python branch
    on a tracer); float64 steps equal the torch module's with a Python count."""
    jax = pytest.importorskip("jax")
    lr = None if name == "min_max" else 0.01
    optimizer = symdl.optim.adam(lr=_schedule(name, lr))
    reference = _scheduled(folder, name)
    extra = [0.01] if lr is None else []
    params = reference.init_params(0)
    state = reference.init_state(params)
    data = _data("net")
    with jax.enable_x64(True):
        net = symdl.Network([3, 4, 2], activation="tanh", loss="log_cosh", optimizer=optimizer)
        mod = load_module(network_module_source(net, "jax", "float64"), tmp_path, f"jax_{name}")
        arrays = {k: jax.numpy.asarray(v.numpy()) for k, v in params.items()}
        jax_state = mod.init_state(arrays)
        X, Y = (jax.numpy.asarray(d.numpy()) for d in data)
        for _ in range(STEPS):
            reference.train_step(params, *data, state, *extra)
            _, arrays, jax_state = mod.train_step_unchecked(arrays, X, Y, jax_state, *extra)
        assert int(jax_state["t"]) == state["t"] == STEPS
        for key in params:
            np.testing.assert_allclose(np.asarray(arrays[key]), params[key].numpy(), rtol=1e-12, atol=1e-14)


def test_a_scalar_spelled_alike_for_both_counts_is_printed_once_before_the_device_test():
    # Adam's bias corrections 1/(1 − βᵗ) read the same with a tensor count or a Python one; the cosine schedule does not.
    optimizer = symdl.optimizer("adam", lr=symdl.optim.schedules.cosine(0.01, 100))
    source = network_module_source(symdl.Network([3, 4, 2], activation="tanh", optimizer=optimizer), "torch", "float64")
    step = source[source.index("def train_step"):]
    step = step[:step.index("\n\n\n")]
    lines = step.splitlines()
    test = next(i for i, line in enumerate(lines) if line.strip().startswith("if isinstance(t, torch.Tensor)"))
    for name in ("_step0", "_step1"):
        defined = [i for i, line in enumerate(lines) if line.strip().startswith(f"{name} = ")]
        assert len(defined) == 1 and defined[0] < test, name
    cosine = [line.strip() for line in lines if line.strip().startswith("_step2 = ")]
    assert len(cosine) == 2 and "torch.cos" in cosine[0] and "math.cos" in cosine[1]
