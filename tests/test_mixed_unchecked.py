"""The ``<entry>_unchecked`` entry points of mixed-precision modules: the checked ones' cast without their checks.

They equal the checked entry points bit for bit on the CPU, run with every tensor on PyTorch's ``meta`` device
(nothing read back), compile with ``torch.compile(fullgraph=True)``, and JAX's step runs under
``jax.transfer_guard("disallow")`` with the float32 masters it returns fed straight back.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export.network_modules import network_module_source

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import jax.numpy as jnp

LOW = ("bfloat16", "float16")
_CACHE: dict[tuple[str, str], object] = {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mixed_unchecked")


def module(folder, backend: str, dtype: str):
    if (backend, dtype) not in _CACHE:
        source = network_module_source(symdl.Network([4, 8, 8, 2], activation="tanh", loss="mse"), backend, dtype)
        _CACHE[backend, dtype] = load_module(source, folder, f"unchecked_{backend}_{dtype}")
    return _CACHE[backend, dtype]


def data(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (rows, 4)), rng.uniform(-1, 1, (rows, 2))


def as_torch(values: np.ndarray, dtype: str = "float32"):
    return torch.tensor(values, dtype=getattr(torch, dtype))


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("data_dtype", ["float32", "low"])
@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 1), rows=st.integers(1, 9))
def test_torch_unchecked_equals_checked(folder, dtype, data_dtype, seed, rows):
    mod = module(folder, "torch", dtype)
    X, Y = (as_torch(v, dtype if data_dtype == "low" else "float32") for v in data(seed, rows))
    params = mod.init_params(seed % 100)
    assert torch.equal(mod.forward_unchecked(params, X), mod.forward(params, X))
    assert mod.forward_unchecked(params, X).dtype == getattr(torch, dtype)
    loss, grads = mod.loss_and_grad(params, X, Y)
    loss_u, grads_u = mod.loss_and_grad_unchecked(params, X, Y)
    assert loss_u.dtype == torch.float32 and torch.equal(loss_u, loss)
    assert all(grads_u[k].dtype == torch.float32 and torch.equal(grads_u[k], grads[k]) for k in grads)
    checked, unchecked = copy.deepcopy(params), copy.deepcopy(params)
    for _ in range(2):
        assert torch.equal(mod.train_step_unchecked(unchecked, X, Y, 0.1), mod.train_step(checked, X, Y, 0.1))
    assert all(unchecked[k].dtype == torch.float32 and torch.equal(unchecked[k], checked[k]) for k in params)
    assert not all(torch.equal(unchecked[k], params[k]) for k in params)


@pytest.mark.parametrize("dtype", LOW)
def test_torch_unchecked_on_the_meta_device(folder, dtype):
    mod = module(folder, "torch", dtype)
    params = mod.init_params(0, device="meta")
    X, Y = (torch.empty((5, n), dtype=getattr(torch, dtype), device="meta") for n in (4, 2))
    assert mod.forward_unchecked(params, X).device.type == "meta"
    loss, grads = mod.loss_and_grad_unchecked(params, X, Y)
    assert loss.device.type == "meta" and loss.dtype == torch.float32
    assert all(g.device.type == "meta" and g.dtype == torch.float32 for g in grads.values())
    step = mod.train_step_unchecked(params, X, Y, torch.tensor(0.1, device="meta"))
    assert step.device.type == "meta" and all(p.device.type == "meta" and p.dtype == torch.float32 for p in params.values())


@pytest.mark.parametrize("dtype", LOW)
def test_torch_unchecked_step_compiles_without_graph_breaks(folder, dtype, monkeypatch):
    mod = module(folder, "torch", dtype)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)  # Dynamo looks the module's globals up by its name
    X, Y = (as_torch(v, dtype) for v in data(4, 6))
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    compiled, eager = mod.init_params(1), mod.init_params(1)
    lr = torch.tensor(0.1)
    for _ in range(2):
        torch.testing.assert_close(step(compiled, X, Y, lr), mod.train_step_unchecked(eager, X, Y, lr), rtol=1e-6, atol=1e-7)
    for name in eager:
        assert compiled[name].dtype == torch.float32
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", LOW)
def test_jax_unchecked_step_transfers_nothing(folder, dtype):
    mod = module(folder, "jax", dtype)
    device = jax.devices()[0]
    params = mod.init_params(2, device=device)
    X, Y = (jax.device_put(jnp.asarray(v, dtype=dtype if k == 0 else jnp.float32), device) for k, v in enumerate(data(5, 16)))
    lr = jax.device_put(np.float32(0.2), device)
    before = float(mod.loss(params, X, Y))
    with jax.transfer_guard("disallow"):
        loss, grads = mod.loss_and_grad_unchecked(params, X, Y)
        new = params
        for _ in range(5):  # the float32 masters go straight back in
            first, new = mod.train_step_unchecked(new, X, Y, lr)
        jax.block_until_ready((loss, grads, new))
    assert all(new[k].dtype == jnp.float32 and grads[k].dtype == jnp.float32 for k in params)
    checked_loss, checked_grads = mod.loss_and_grad(params, X, Y)
    assert float(loss) == float(checked_loss) == before
    assert all(np.array_equal(np.asarray(grads[k]), np.asarray(checked_grads[k])) for k in grads)
    assert float(mod.loss(new, X, Y)) < before


def _layered(folder, backend: str, dropout: float):
    """A bfloat16 module with batch norm, an optimizer and (dropout > 0) dropout."""
    key = (backend, f"layered{dropout}")
    if key not in _CACHE:
        masks = {"dropout": dropout} if dropout else {}  # torch.compile cannot trace a torch.Generator (the masks' draw)
        net = symdl.Network([4, 8, 8, 2], activation="tanh", loss="mse", batchnorm=True, optimizer="adam", **masks)
        _CACHE[key] = load_module(network_module_source(net, backend, "bfloat16"), folder, f"layered_{backend}_{int(dropout * 100)}")
    return _CACHE[key]


def test_torch_layered_module_makes_tensors_on_the_data_device_and_runs_on_meta(folder):
    from test_torch_device import _FACTORY, _FROM_INPUT, _printed_functions

    mod = _layered(folder, "torch", 0.25)
    with open(mod.__file__) as handle:
        functions = _printed_functions(handle.read())
    made = [line for _, body in functions for line in body.splitlines() if _FACTORY.search(line.split("#")[0])]
    assert made and all(_FROM_INPUT.search(line) for line in made), made
    params = mod.init_params(0, device="meta")
    state = mod.init_state(params)
    X, Y = (torch.empty((5, n), dtype=torch.bfloat16, device="meta") for n in (4, 2))
    loss, grads = mod.loss_and_grad_unchecked(params, X, Y, seed=3)
    assert loss.device.type == "meta" and all(g.device.type == "meta" and g.dtype == torch.float32 for g in grads.values())
    assert mod.train_step_unchecked(params, X, Y, state, seed=3).device.type == "meta"
    assert all(v.device.type == "meta" and v.dtype == torch.float32 for v in [*params.values(), *state.values()] if hasattr(v, "device"))


def test_jax_layered_step_transfers_nothing(folder):
    mod = _layered(folder, "jax", 0.25)
    device = jax.devices()[0]
    params = mod.init_params(2, device=device)
    state = mod.init_state(params)
    X, Y = (jax.device_put(jnp.asarray(v, dtype=jnp.bfloat16), device) for v in data(7, 16))
    key = jax.device_put(jax.random.PRNGKey(0), device)
    before = float(mod.loss(params, X, Y))
    with jax.transfer_guard("disallow"):
        for _ in range(5):  # float32 params, running statistics and state go straight back in
            _, params, state = mod.train_step_unchecked(params, X, Y, state, key)
        jax.block_until_ready((params, state))
    assert all(params[k].dtype == jnp.float32 for k in params) and params["running_var1"].dtype == jnp.float32
    assert all(v.dtype == jnp.float32 for k, v in state.items() if k != "t")
    assert float(mod.loss(params, X, Y)) < before


def _scaled(folder, backend: str):
    """A float16 module with a loss scale (2**10), Adam and an L2 penalty: its step is kept or dropped on the device."""
    key = (backend, "scaled")
    if key not in _CACHE:
        net = symdl.Network([4, 8, 8, 2], activation="tanh", loss="mse", optimizer="adam", penalty="l2", penalty_params={"lam": 0.01})
        _CACHE[key] = load_module(network_module_source(net, backend, "float16"), folder, f"scaled_{backend}")
    return _CACHE[key]


def test_torch_loss_scaled_optimizer_step_runs_on_meta(folder):
    mod = _scaled(folder, "torch")
    params = mod.init_params(0, device="meta")
    state = mod.init_state(params)
    assert state["t"].device.type == "meta" and state["t"].dtype == torch.int64
    X, Y = (torch.empty((5, n), dtype=torch.float16, device="meta") for n in (4, 2))
    for entry in (mod.train_step_unchecked, mod.train_step):  # neither reads the overflow flag back
        assert entry(params, X, Y, state).device.type == "meta"
    assert all(v.device.type == "meta" for v in [*params.values(), *state.values()])
    assert all(v.dtype == torch.float32 for k, v in [*params.items(), *state.items()] if k != "t")


@pytest.mark.parametrize("kind", ["layered", "scaled"])
def test_torch_optimizer_step_compiles_without_graph_breaks(folder, monkeypatch, kind):
    """torch.compile(fullgraph=True) of train_step_unchecked with state: bfloat16 with batch norm, and float16 with a
    loss scale, where an overflowing step between two finite ones is dropped inside the graph as in eager."""
    mod, dtype = (_layered(folder, "torch", 0.0), "bfloat16") if kind == "layered" else (_scaled(folder, "torch"), "float16")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)  # Dynamo looks the module's globals up by its name
    X, Y = (as_torch(v, dtype) for v in data(6, 8))
    targets = [Y, Y] if kind == "layered" else [Y, torch.full((8, 2), 3e4, dtype=torch.float16), Y]
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    compiled, eager = mod.init_params(1), mod.init_params(1)
    compiled_state, eager_state = mod.init_state(compiled), mod.init_state(eager)
    for target in targets:
        torch.testing.assert_close(step(compiled, X, target, compiled_state),
                                   mod.train_step_unchecked(eager, X, target, eager_state), rtol=1e-6, atol=1e-7)
    assert int(eager_state["t"]) == int(compiled_state["t"]) == 2
    for name in eager:
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-6, atol=1e-7)
    for name in eager_state:
        torch.testing.assert_close(compiled_state[name], eager_state[name], rtol=1e-6, atol=1e-7)


def test_jax_loss_scaled_optimizer_step_transfers_nothing(folder):
    mod = _scaled(folder, "jax")
    device = jax.devices()[0]
    params = mod.init_params(2, device=device)
    state = mod.init_state(params)
    X, Y = (jax.device_put(jnp.asarray(v, dtype=jnp.float16), device) for v in data(9, 16))
    huge = jax.device_put(jnp.full((16, 2), 3e4, dtype=jnp.float16), device)
    before = float(mod.loss(params, X, Y))
    with jax.transfer_guard("disallow"):
        for targets in (Y, huge, Y, Y, huge, Y):
            _, params, state = mod.train_step_unchecked(params, X, targets, state)
        jax.block_until_ready((params, state))
    assert int(state["t"]) == 4  # the two overflowing steps dropped
    assert all(params[k].dtype == jnp.float32 for k in params)
    assert float(mod.loss(params, X, Y)) < before
