"""The candidates of bench/bench_gpu.py: one step of a tanh MLP with squared error, each way a GPU user may run it.

A step is ``loss_and_grad`` (C and every ∂C/∂W, ∂C/∂b) or ``train_step`` (the same plus W ← W − η ∂C/∂W).
The hand-written references (PyTorch eager autograd, ``torch.compile`` of it, ``jax.jit(jax.value_and_grad)``)
live here only, as the things to compare with. bfloat16 references compute as GPU users do: matrix products
in bfloat16 with float32 parameters (``torch.autocast``; casts inside the loss for JAX), the loss in float32.

Each factory returns ``(run, result)``: ``run()`` does one step on the device (and returns something to wait on);
``result`` is (C, {name: ∂C/∂name}) as float64 numpy of a first step from the initial parameters — for
``train_step`` the gradient is read back from the update, (new − old) / (−η). A factory raises :class:`Skip`
with a reason where the candidate cannot run here (no CUDA, a module without the entry point, a refused dtype).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import symdl
from symdl.export.network_modules import network_module_source


class Skip(Exception):
    """The candidate cannot run here; the message says why."""


@dataclass
class Setup:
    """One configuration: sizes, dtype ("float32" or "bfloat16"), devices, and float32 numpy initial values."""

    layers: list[int]
    batch: int
    dtype: str
    device: str
    jax_device: object
    lr: float
    params: dict[str, np.ndarray]
    X: np.ndarray
    Y: np.ndarray

    @property
    def names(self) -> list[str]:
        return list(self.params)


def make_setup(layers: list[int], batch: int, dtype: str, device: str, jax_device: object, lr: float) -> Setup:
    """symdl's float32 initial parameters for ``layers`` and standard normal X, Y (seed 0)."""
    rng = np.random.default_rng(0)
    params = symdl.Network(layers, activation="tanh", loss="mse").compile("float32").init(0)
    X = rng.standard_normal((batch, layers[0])).astype(np.float32)
    Y = rng.standard_normal((batch, layers[-1])).astype(np.float32)
    return Setup(layers, batch, dtype, device, jax_device, lr, params, X, Y)


def _torch():
    import torch

    return torch


def torch_sync(device: str) -> Callable[[object], None]:
    torch = _torch()
    return (lambda _: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda _: None)


def _np(value) -> np.ndarray:
    return value.detach().double().cpu().numpy() if hasattr(value, "detach") else np.asarray(value, np.float64)


def _numpy(loss, grads: dict) -> tuple[float, dict[str, np.ndarray]]:
    return float(_np(loss)), {k: _np(v) for k, v in grads.items()}


def _from_update(loss, old: dict, new: dict, lr: float) -> tuple[float, dict[str, np.ndarray]]:
    """(C, the gradient read back from a step's update: (new − old) / (−η))."""
    return float(_np(loss)), {k: (_np(new[k]) - _np(old[k])) / -lr for k in old}


# --- references ---------------------------------------------------------------------------------------------------


def torch_loss(params: dict, X, Y, low: bool):
    """C = ½ Σ (Y − a^L)² / m of a tanh MLP (identity output); ``low``: products under torch.autocast(bfloat16)."""
    torch = _torch()
    a, n = X, len(params) // 2
    with torch.autocast(X.device.type, dtype=torch.bfloat16, enabled=low):
        for l in range(1, n + 1):
            z = a @ params[f"W{l}"].T + params[f"b{l}"]
            a = torch.tanh(z) if l < n else z
    return 0.5 * torch.sum((Y - a.float()) ** 2) / X.shape[0]


def truth(s: Setup) -> tuple[float, dict[str, np.ndarray]]:
    """C and its gradient by PyTorch autograd in float64 on the setup's device: what every candidate is compared with."""
    torch = _torch()
    params, X, Y = _torch_arrays(s, torch.float64, torch.float64, grad=True)
    loss = torch_loss(params, X, Y, False)
    grads = torch.autograd.grad(loss, list(params.values()))
    return _numpy(loss, dict(zip(params, grads)))


def _torch_arrays(s: Setup, params_dtype, data_dtype, grad: bool = False):
    torch = _torch()
    params = {k: torch.tensor(v, device=s.device, dtype=params_dtype, requires_grad=grad) for k, v in s.params.items()}
    return params, torch.tensor(s.X, device=s.device, dtype=data_dtype), torch.tensor(s.Y, device=s.device, dtype=data_dtype)


def eager_autograd(s: Setup, kind: str, compiled: bool = False):
    """PyTorch eager autograd (float32 parameters; bfloat16 under autocast), or with the loss ``torch.compile``d."""
    torch = _torch()
    low = s.dtype == "bfloat16"
    params, X, Y = _torch_arrays(s, torch.float32, torch.float32, grad=True)
    loss_fn = _compile(torch_loss) if compiled else torch_loss

    def loss_and_grad():
        loss = loss_fn(params, X, Y, low)
        return loss, dict(zip(params, torch.autograd.grad(loss, list(params.values()))))

    def train_step():
        loss, grads = loss_and_grad()
        with torch.no_grad():
            for k, g in grads.items():
                params[k].sub_(s.lr * g)
        return loss

    if kind == "loss_and_grad":
        return loss_and_grad, _numpy(*loss_and_grad())
    old = {k: v.detach().clone() for k, v in params.items()}
    loss = train_step()
    return train_step, _from_update(loss, old, params, s.lr)


def jax_value_and_grad(s: Setup, kind: str):
    """``jax.jit(jax.value_and_grad(loss))`` (bfloat16: products in bfloat16 inside the loss, float32 parameters)."""
    jax, jnp = _jax(s)
    low = jnp.bfloat16 if s.dtype == "bfloat16" else jnp.float32

    def loss(params, X, Y):
        a, n = X, len(params) // 2
        for l in range(1, n + 1):
            z = (a.astype(low) @ params[f"W{l}"].astype(low).T).astype(jnp.float32) + params[f"b{l}"]
            a = jnp.tanh(z) if l < n else z
        return 0.5 * jnp.sum((Y - a) ** 2) / X.shape[0]

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    step = jax.jit(lambda p, X, Y: (lambda lg: (lg[0], jax.tree.map(lambda w, g: w - s.lr * g, p, lg[1])))(value_and_grad(p, X, Y)))
    params, X, Y = (jax.device_put(a, s.jax_device) for a in (s.params, s.X, s.Y))
    if kind == "loss_and_grad":
        return (lambda: value_and_grad(params, X, Y)), _numpy(*value_and_grad(params, X, Y))
    state = {"params": params}

    def train_step():
        loss, state["params"] = step(state["params"], X, Y)
        return loss

    first = step(params, X, Y)
    return train_step, _from_update(first[0], params, first[1], s.lr)


#: The backend of the torch.compile candidates: inductor, as users compile (tests swap in a counting one).
COMPILE_BACKEND: object = "inductor"


def _compile(fn, **options):
    """``torch.compile(fn)`` from a fresh Dynamo: the compile caches are per code object, so without the reset the
    same function on the next network (``torch_loss``) would be recompiled with dynamic shapes, or past the
    recompile limit run eagerly, and be timed as compiled."""
    torch = _torch()
    torch._dynamo.reset()
    return torch.compile(fn, backend=COMPILE_BACKEND, **options)


# --- symdl's generated modules ------------------------------------------------------------------------------------

_MODULES: dict[tuple, object] = {}


def symdl_module(layers: list[int], backend: str, dtype: str):
    """The generated network module (tanh, MSE) in ``dtype``, imported from a temporary file; Skip where it is refused."""
    key = (tuple(layers), backend, dtype)
    if key not in _MODULES:
        try:
            source = network_module_source(symdl.Network(layers, activation="tanh", loss="mse"), backend, dtype)
        except (ValueError, TypeError) as why:
            raise Skip(f"the {backend} module refuses {dtype}: {why}") from None
        path = Path(tempfile.mkdtemp()) / f"bench_{backend}_{dtype}_{'_'.join(map(str, layers))}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # torch.compile looks the module's globals up by its name
        spec.loader.exec_module(module)
        _MODULES[key] = module
    return _MODULES[key]


def _entry(module, name: str):
    if not hasattr(module, name):
        raise Skip(f"the module has no {name} (this symdl predates it)")
    return getattr(module, name)


def _torch_module_arrays(s: Setup):
    """params, X, Y as the module takes them: float32 params (a bfloat16 module's are float32 masters), X and Y in
    the step's dtype (a bfloat16 module takes float32 or bfloat16 data and casts it once; bfloat16 halves the reads)."""
    torch = _torch()
    return _torch_arrays(s, torch.float32, getattr(torch, s.dtype))


def symdl_torch(s: Setup, kind: str, mode: str):
    """symdl's torch module: ``mode`` checked, unchecked, compiled (torch.compile(fullgraph=True) of the unchecked
    step) or cudagraph (the unchecked step captured in a torch.cuda.CUDAGraph with static inputs)."""
    torch = _torch()
    if mode == "cudagraph" and not s.device.startswith("cuda"):
        raise Skip("CUDA graphs need a CUDA device")
    module = symdl_module(s.layers, "torch", s.dtype)
    unchecked = mode != "checked"
    name = f"{kind}_unchecked" if unchecked else kind
    fn = _entry(module, name)
    params, X, Y = _torch_module_arrays(s)
    if mode == "compiled":
        fn = _compile(fn, fullgraph=True)
    args = (params, X, Y) if kind == "loss_and_grad" else (params, X, Y, s.lr)
    old = {k: v.clone() for k, v in params.items()}
    if mode == "cudagraph":
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                fn(*args)
        torch.cuda.current_stream().wait_stream(side)
        for k in params:  # warm-up steps moved them: back to the start
            params[k].copy_(old[k])
        graph = torch.cuda.CUDAGraph()
        # thread_local: only this thread's unsafe calls end the capture, not a CUDA call of JAX's runtime threads
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            out = fn(*args)
        for k in params:  # capture does not run the kernels, but be exact about the start
            params[k].copy_(old[k])
        graph.replay()
        torch.cuda.synchronize()
        run = graph.replay
    else:
        out = fn(*args)
        run = lambda: fn(*args)  # noqa: E731
    if kind == "loss_and_grad":
        return run, _numpy(*out)
    loss = out[0] if isinstance(out, tuple) else out
    return run, _from_update(loss, old, params, s.lr)


def symdl_jax(s: Setup, kind: str, mode: str):
    """symdl's JAX module: ``mode`` checked (argument checks, finiteness read back) or unchecked (the jitted body)."""
    jax, jnp = _jax(s)
    module = symdl_module(s.layers, "jax", s.dtype)
    fn = _entry(module, f"{kind}_unchecked" if mode == "unchecked" else kind)
    # symdl's numbers (the module's init_params draws others)
    def arrays(params_dtype, data_dtype):
        put = lambda a, dtype: jax.device_put(a, s.jax_device).astype(dtype)  # noqa: E731
        return {k: put(v, params_dtype) for k, v in s.params.items()}, put(s.X, data_dtype), put(s.Y, data_dtype)

    params, X, Y = arrays(jnp.float32, getattr(jnp, s.dtype))  # float32 (master) params, data in the step's dtype
    if kind == "loss_and_grad":
        return (lambda: fn(params, X, Y)), _numpy(*fn(params, X, Y))
    lr = jax.device_put(np.float32(s.lr), s.jax_device)  # a Python float would be a host transfer per call
    if mode == "checked":
        state = dict(params)
        run = lambda: fn(state, X, Y, s.lr)  # noqa: E731  (stores the new arrays in state)
        loss = run()
        return run, _from_update(loss, params, state, s.lr)
    box = {"params": params}

    def run():
        loss, box["params"] = fn(box["params"], X, Y, lr)
        return loss

    loss, new = fn(params, X, Y, lr)
    return run, _from_update(loss, params, new, s.lr)


def _jax(s: Setup):
    if s.jax_device is None:
        raise Skip("JAX has no device of this kind here (a GPU needs JAX with its CUDA plugin, such as jax[cuda13])")
    import jax
    import jax.numpy as jnp

    return jax, jnp


#: name → factory(setup, kind); the order of the table's rows.
CANDIDATES: dict[str, Callable] = {
    "PyTorch eager autograd": eager_autograd,
    "torch.compile(autograd)": lambda s, kind: eager_autograd(s, kind, compiled=True),
    "jax.jit(value_and_grad)": jax_value_and_grad,
    "symdl torch checked": lambda s, kind: symdl_torch(s, kind, "checked"),
    "symdl torch unchecked": lambda s, kind: symdl_torch(s, kind, "unchecked"),
    "symdl torch unchecked, torch.compile": lambda s, kind: symdl_torch(s, kind, "compiled"),
    "symdl torch unchecked, CUDA graph": lambda s, kind: symdl_torch(s, kind, "cudagraph"),
    "symdl JAX checked": lambda s, kind: symdl_jax(s, kind, "checked"),
    "symdl JAX unchecked": lambda s, kind: symdl_jax(s, kind, "unchecked"),
}
COMPILED = ("torch.compile(autograd)", "symdl torch unchecked, torch.compile")


def matmul_flops(layers: list[int], batch: int) -> int:
    """The products' FLOPs of a step: z = a Wᵀ per layer, ∂C/∂W = Dᵀ a per layer, D W below the last (2 m n_in n_out each)."""
    return sum(2 * batch * n_in * n_out * (2 if l == 0 else 3) for l, (n_in, n_out) in enumerate(zip(layers, layers[1:])))


def matmul_floor(s: Setup):
    """The same matrix products alone on random tensors in the step's product dtype: the floor of a step."""
    torch = _torch()
    dtype = torch.bfloat16 if s.dtype == "bfloat16" else torch.float32
    gen = torch.Generator(device=s.device).manual_seed(0)  # drawn where they are used: no host copy of [4096]*4's
    pairs = []
    for l, (n_in, n_out) in enumerate(zip(s.layers, s.layers[1:])):
        a, d = (torch.randn(s.batch, n, generator=gen, device=s.device).to(dtype) for n in (n_in, n_out))
        w = torch.randn(n_out, n_in, generator=gen, device=s.device).to(dtype)
        pairs.append((a, d, w, l > 0))

    def run():
        for a, d, w, below in pairs:
            a @ w.T
            d.T @ a
            if below:
                d @ w

    return run
