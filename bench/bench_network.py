"""Time symdl's compiled network (forward + backward) against hand-written numpy, the bare GEMMs, PyTorch and JAX.

Run by hand from the repository root::

    python bench/bench_network.py            # full run (1.5–2 min wall on the shared 2-core VM)
    python bench/bench_network.py --quick    # fewer rounds (under a minute)
    python bench/bench_network.py --write    # also rewrite the networks section of docs/performance.md

One training-step computation — loss and every gradient of a tanh MLP with an
identity output and squared error, C = (1/m) Σ_samples Σ_j ½(aᴸ_j − y_j)² — is
timed for these candidates, in one run, on one thread:

* **textbook numpy** (the reference, ratio 1.00): BP1–BP4 written plainly, as in
  Nielsen's ``network.py`` adapted to a batch in rows — ``zs``/``activations``
  lists, ``z = a @ W.T + b``, ``a = σ(z)``, ``δᴸ = (aᴸ − Y)/m`` (σ_L is the
  identity, so its σ_L' = 1 factor is left out), ``δˡ = (δˡ⁺¹ @ Wˡ⁺¹) * σ'(zˡ)``
  with ``σ'(z) = 1 − tanh(z)²`` as the equations write it, ``∂C/∂Wˡ = δˡᵀ aˡ⁻¹``,
  ``∂C/∂bˡ = Σ_rows δˡ``; no δ for the input layer;
* **tuned numpy**: the same, written by someone who counts passes — σ' from the
  stored activations (``1 − a·a``), in-place bias add, tanh, scaling and product;
* **A/A**: the textbook step once more as its own candidate (its ratio is noise);
* **symdl**: ``symdl.Network(...).compile(dtype).loss_and_grad`` (argument checks included);
* **symdl standalone module**: the same network as ``symdl codegen`` writes it —
  ``symdl.export.standalone.network_module(network, dtype)``'s source written to a
  temporary directory and imported with ``importlib`` — calling the module's
  ``loss_and_grad`` (its own argument checks included). Goal (issue 6): its time
  is at most 1.05× the compiled network's (ratio to the *symdl* candidate in the
  same round, median over rounds), in every configuration;
* **GEMMs only**: the step's matrix products and nothing else (3 forward,
  L weight gradients, L − 1 back-propagations) — a floor for any numpy step;
* **PyTorch eager** (CPU): plain tensors with ``requires_grad``, ``loss.backward()``
  (``.grad`` set to None inside the timed call);
* **JAX**: ``jax.jit(jax.value_and_grad(loss))``, ``block_until_ready``, timed after warm-up.

PyTorch and JAX are optional: a missing one gives an empty column and a note.

Configurations: [784, 512, 512, 10] and [8, 16, 16, 1], batch 256, float64 and
float32. Before timing, every candidate's loss and gradients are compared with
the textbook step's (``np.allclose``, rtol 1e-10 in float64 / 1e-4 in float32,
atol = rtol · max|reference|), so every candidate computes the same numbers.
The standalone module is held to more: its ``init_params(0)`` must equal the
compiled network's ``init(seed=0)``, and its loss and gradients must equal the
compiled network's exactly (same keys, same dtypes, bit for bit).

Timing: the candidates take turns round by round, in a shuffled order; in its
turn a candidate is called once untimed and then a batch of calls (at least
``BATCH`` seconds) is timed. Times are the median over rounds; a ratio is the
median over rounds of the candidate's time divided by the textbook step's time
in the same round. The clock is process CPU time (time spent descheduled by
other users of a shared machine does not count; a library that ran extra threads
would be charged for them); ``--wall`` switches to wall-clock time. The CPU/wall
ratio of every candidate is reported as a check that it ran on one thread.

Everything runs on one thread: the BLAS thread variables and ``XLA_FLAGS`` are
set below, before numpy and jax are imported, and ``torch.set_num_threads(1)``.

Also measured: each statement of symdl's generated ``loss_and_grad`` on its own
(``profile_statements``), to show where the step's time goes; and derive +
compile of ``symdl.Network([4096] * 11, activation="tanh", loss="mse").compile()``
in a fresh Python process (after ``import symdl``).
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# OpenBLAS picks its kernels for the CPU unless OPENBLAS_CORETYPE names a family. A forced older family (the shared
# VMs' environment sets Haswell: AVX2 kernels on an AVX-512 CPU, 124 against 217 GFLOP/s single-threaded in float32)
# handicaps every numpy candidate against XLA's and MKL's own kernels, so the bench drops it unless told to keep it.
FORCED_CORETYPE = None if "--keep-coretype" in sys.argv else os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's symdl, not an installed copy

from doc_sections import replace_section  # noqa: E402

import symdl  # noqa: E402
from symdl.export import network_module_source  # noqa: E402
from symdl.export.standalone import network_module  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # pragma: no cover - optional
    torch = None
else:
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (e.g. by an earlier parallel call)
        pass

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
except ImportError:  # pragma: no cover - optional
    jax = jnp = None
else:
    jax.config.update("jax_enable_x64", True)  # float64 arrays stay float64; float32 arrays stay float32

try:
    with warnings.catch_warnings():  # "could not link to a BLAS installation": its products then call numpy's
        warnings.simplefilter("ignore")
        import pytensor  # noqa: E402
        import pytensor.tensor as pt  # noqa: E402
except ImportError:  # pragma: no cover - optional (pip install '.[bench]')
    pytensor = pt = None

DOC = ROOT / "docs" / "performance.md"
BATCH_ROWS = 256
CONFIGS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("big", (784, 512, 512, 10), "float64"),
    ("big", (784, 512, 512, 10), "float32"),
    ("small", (8, 16, 16, 1), "float64"),
    ("small", (8, 16, 16, 1), "float32"),
)
RTOL = {"float64": 1e-10, "float32": 1e-4}
COMPILE_LAYERS = [4096] * 11
GOAL_BIG, GOAL_SMALL, GOAL_COMPILE = 0.90, 1.00, 1.0
GOAL_STANDALONE = 1.05  # issue 6: generated numpy module time / compiled network time
GOAL_BACKEND = 1.10  # issue 6: generated JAX / torch module time / hand-written jit(value_and_grad) / torch eager
SHUFFLE = random.Random(20240607)
REFERENCE = "textbook"
LABELS = {
    "textbook": "hand-written numpy, textbook (reference)",
    "tuned": "hand-written numpy, tuned (σ′ = 1 − a², in place)",
    "again": "textbook again (A/A noise check)",
    "symdl": "**symdl `loss_and_grad`**",
    "symdl_unchecked": "**symdl `unchecked.loss_and_grad`** (no argument checks)",
    "standalone": "symdl standalone module (symdl codegen)",
    "gemm": "GEMMs only (floor)",
    "torch": "PyTorch eager",
    "torch_gemm": "PyTorch GEMMs only (its BLAS, no autograd)",
    "jax": "JAX `jit(value_and_grad)`",
    "pytensor": "PyTensor `function(trust_input=True)`",
    "symdl_torch": "symdl PyTorch module (`codegen --backend torch`)",
    "symdl_torch_unchecked": "symdl PyTorch module, `loss_and_grad_unchecked`",
    "symdl_jax": "symdl JAX module (`codegen --backend jax`)",
    "symdl_jax_unchecked": "symdl JAX module, `loss_and_grad_unchecked`",
}
PEERS = ("torch", "jax", "pytensor")  # issue 17: symdl against the best of these


# --- the hand-written references ---------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:  # the network's σ: tanh
    return np.tanh(z)


def sigmoid_prime(z: np.ndarray) -> np.ndarray:  # σ'(z) as the equations write it
    return 1 - np.tanh(z) ** 2


def textbook_step(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """BP1–BP4 the textbook way (Nielsen's ``backprop``, batch in rows): loss and every gradient."""
    L = len(params) // 2
    weights = [params[f"W{l}"] for l in range(1, L + 1)]
    biases = [params[f"b{l}"] for l in range(1, L + 1)]
    m = X.shape[0]
    # feedforward
    activation = X
    activations = [X]
    zs = []
    for l, (W, b) in enumerate(zip(weights, biases), start=1):
        z = activation @ W.T + b
        zs.append(z)
        activation = sigmoid(z) if l < L else z  # identity output layer
        activations.append(activation)
    loss = 0.5 * np.sum((activations[-1] - Y) ** 2) / m
    # backward pass
    nabla_b: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    nabla_w: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    delta = (activations[-1] - Y) / m  # BP1 (σ_L' = 1)
    nabla_b[-1] = delta.sum(0)  # BP3
    nabla_w[-1] = delta.T @ activations[-2]  # BP4
    for l in range(2, L + 1):
        z = zs[-l]
        sp = sigmoid_prime(z)
        delta = (delta @ weights[-l + 1]) * sp  # BP2
        nabla_b[-l] = delta.sum(0)
        nabla_w[-l] = delta.T @ activations[-l - 1]
    grads = {}
    for l in range(1, L + 1):
        grads[f"W{l}"] = nabla_w[l - 1]
        grads[f"b{l}"] = nabla_b[l - 1]
    return loss, grads


def tuned_step(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """The same step with σ' = 1 − a² from the stored activations and in-place element-wise work."""
    L = len(params) // 2
    m = X.shape[0]
    acts = [X]
    a = X
    for l in range(1, L):
        z = a @ params[f"W{l}"].T
        z += params[f"b{l}"]
        np.tanh(z, out=z)
        acts.append(z)
        a = z
    e = a @ params[f"W{L}"].T
    e += params[f"b{L}"]
    e -= Y  # e = aᴸ − Y
    loss = 0.5 * float(np.vdot(e, e)) / m
    e *= 1.0 / m
    delta = e
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = delta.T @ acts[l - 1]
        grads[f"b{l}"] = delta.sum(0)
        if l > 1:
            a = acts[l - 1]
            sp = a * a
            np.subtract(1, sp, out=sp)
            delta = delta @ params[f"W{l}"]
            delta *= sp
    return loss, grads


def gemm_only(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], None]:
    """A function doing the step's matrix products (on the step's own operands) and nothing else."""
    acts, deltas = _textbook_operands(params, X, Y)  # acts[0] = X; deltas[l - 1] = δˡ
    L = len(params) // 2
    Ws = [params[f"W{l}"] for l in range(1, L + 1)]

    def gemms() -> None:
        for l in range(1, L + 1):  # forward: zˡ = aˡ⁻¹ Wˡᵀ
            acts[l - 1] @ Ws[l - 1].T
        for l in range(L, 0, -1):  # backward: ∂C/∂Wˡ = δˡᵀ aˡ⁻¹ and δˡ⁻¹ ∝ δˡ Wˡ
            deltas[l - 1].T @ acts[l - 1]
            if l > 1:
                deltas[l - 1] @ Ws[l - 1]

    return gemms


def _textbook_operands(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> tuple[list, list]:
    """The operands of the textbook step's products (activations and deltas), for ``gemm_only``."""
    L = len(params) // 2
    m = X.shape[0]
    acts = [X]
    for l in range(1, L + 1):
        z = acts[-1] @ params[f"W{l}"].T + params[f"b{l}"]
        acts.append(np.tanh(z) if l < L else z)
    deltas = [None] * L
    deltas[L - 1] = (acts[-1] - Y) / m
    for l in range(L - 1, 0, -1):
        deltas[l - 1] = (deltas[l] @ params[f"W{l + 1}"]) * (1 - acts[l] ** 2)
    return acts, deltas


# --- PyTorch and JAX ---------------------------------------------------------------------


def torch_step_fn(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], tuple]:
    L = len(params) // 2
    tparams = [(torch.from_numpy(params[f"W{l}"].copy()).requires_grad_(),
                torch.from_numpy(params[f"b{l}"].copy()).requires_grad_()) for l in range(1, L + 1)]
    flat = [p for pair in tparams for p in pair]
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    m = X.shape[0]

    def step() -> tuple:
        for p in flat:
            p.grad = None
        a = tX
        for l, (W, b) in enumerate(tparams, start=1):
            z = a @ W.T + b
            a = torch.tanh(z) if l < L else z
        loss = ((a - tY) ** 2).sum() / (2 * m)
        loss.backward()
        return loss, [p.grad for p in flat]

    return step


def torch_gemm_fn(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], None]:
    """The same matrix products as ``gemm_only``, through PyTorch's BLAS (no autograd)."""
    acts, deltas = _textbook_operands(params, X, Y)
    acts = [torch.from_numpy(np.ascontiguousarray(a)) for a in acts]
    deltas = [torch.from_numpy(d) for d in deltas]
    L = len(params) // 2
    Ws = [torch.from_numpy(params[f"W{l}"]) for l in range(1, L + 1)]

    def gemms() -> None:
        with torch.no_grad():
            for l in range(1, L + 1):
                acts[l - 1] @ Ws[l - 1].T
            for l in range(L, 0, -1):
                deltas[l - 1].T @ acts[l - 1]
                if l > 1:
                    deltas[l - 1] @ Ws[l - 1]

    return gemms


def torch_result(out: tuple, L: int) -> tuple[float, dict[str, np.ndarray]]:
    loss, grads = out
    names = [f"{k}{l}" for l in range(1, L + 1) for k in ("W", "b")]
    return float(loss.detach()), {n: g.numpy() for n, g in zip(names, grads)}


def jax_step_fn(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], tuple]:
    L = len(params) // 2
    m = X.shape[0]
    jparams = [(jnp.asarray(params[f"W{l}"]), jnp.asarray(params[f"b{l}"])) for l in range(1, L + 1)]
    jX, jY = jnp.asarray(X), jnp.asarray(Y)

    def loss_fn(ps, X, Y):
        a = X
        for l, (W, b) in enumerate(ps, start=1):
            z = a @ W.T + b
            a = jnp.tanh(z) if l < L else z
        return jnp.sum((a - Y) ** 2) / (2 * m)

    f = jax.jit(jax.value_and_grad(loss_fn))

    def step() -> tuple:
        return jax.block_until_ready(f(jparams, jX, jY))

    return step


def jax_result(out: tuple, L: int) -> tuple[float, dict[str, np.ndarray]]:
    loss, grads = out
    result = {}
    for l, (gW, gb) in enumerate(grads, start=1):
        result[f"W{l}"], result[f"b{l}"] = np.asarray(gW), np.asarray(gb)
    return float(loss), result


def pytensor_step_fn(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], list]:
    """The same loss written in PyTensor, differentiated by ``pytensor.grad`` and compiled (default mode, trust_input)."""
    L = len(params) // 2
    m = X.shape[0]
    dtype = str(X.dtype)
    Ws = [pt.matrix(f"W{l}", dtype=dtype) for l in range(1, L + 1)]
    bs = [pt.vector(f"b{l}", dtype=dtype) for l in range(1, L + 1)]
    x, y = pt.matrix("X", dtype=dtype), pt.matrix("Y", dtype=dtype)
    a = x
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        z = a @ W.T + b
        a = pt.tanh(z) if l < L else z
    loss = pt.sum((a - y) ** 2) / (2 * m)
    flat = [p for pair in zip(Ws, bs) for p in pair]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = pytensor.function([*flat, x, y], [loss, *pytensor.grad(loss, flat)], trust_input=True)
    args = [params[f"{k}{l}"] for l in range(1, L + 1) for k in ("W", "b")] + [X, Y]

    def step() -> list:
        return f(*args)

    return step


def pytensor_result(out: list, L: int) -> tuple[float, dict[str, np.ndarray]]:
    names = [f"{k}{l}" for l in range(1, L + 1) for k in ("W", "b")]
    return float(out[0]), {n: np.asarray(g) for n, g in zip(names, out[1:])}


# --- symdl's generated standalone module --------------------------------------------------


def import_standalone(network: symdl.Network, dtype: str, name: str, backend: str = "numpy") -> object:
    """The generated module for ``backend`` written to a temporary directory and imported with importlib."""
    source = network_module(network, dtype) if backend == "numpy" else network_module_source(network, backend, dtype)
    with tempfile.TemporaryDirectory(prefix="symdl_bench_") as tmp:
        path = Path(tmp) / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # the module's code is in memory once executed
    return module


def check_identical(name: str, got: tuple[float, dict[str, np.ndarray]], ref: tuple[float, dict[str, np.ndarray]],
                    dtype: str) -> None:
    """Raise unless ``got`` equals ``ref`` exactly: loss value and type, gradient keys (in order), dtypes, bits."""
    if type(got[0]) is not type(ref[0]) or not np.array_equal(got[0], ref[0]):
        raise SystemExit(f"{name} {dtype}: loss {got[0]!r} ({type(got[0]).__name__}) != compiled network's "
                         f"{ref[0]!r} ({type(ref[0]).__name__})")
    if list(got[1]) != list(ref[1]):
        raise SystemExit(f"{name} {dtype}: gradient keys {list(got[1])} != compiled network's {list(ref[1])}")
    for k, r in ref[1].items():
        g = got[1][k]
        if g.dtype != r.dtype or g.shape != r.shape or not np.array_equal(g, r):
            raise SystemExit(f"{name} {dtype}: gradient {k} ({g.dtype}, {g.shape}) differs from the compiled "
                             f"network's ({r.dtype}, {r.shape})")


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Config:
    size: str
    layers: tuple[int, ...]
    dtype: str
    candidates: dict[str, Callable[[], object]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # candidate -> max |x − ref| / max|ref| over the loss and the gradients
    agreement: dict[str, float] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)  # per-call time, one per round
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)
    source: str = ""  # symdl's generated code
    inputs: tuple = ()  # (compiled network, params, X, Y), for the per-statement profile
    profile: list[tuple[str, float]] = field(default_factory=list)  # (statement, median seconds)

    @property
    def key(self) -> str:
        return f"{self.size} {self.dtype}"

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, name: str, ref: str = REFERENCE) -> float:
        """Median over rounds of time(name) / time(ref) in the same round."""
        return statistics.median(a / b for a, b in zip(self.times[name], self.times[ref]))

    def best_peer(self, name: str) -> tuple[float, str]:
        """Median over rounds of time(name) / the fastest peer's time in the same round, and the peer fastest most often."""
        peers = [p for p in PEERS if p in self.times]
        rounds = list(zip(*(self.times[p] for p in peers)))
        fastest = [peers[r.index(min(r))] for r in rounds]
        return (statistics.median(t / min(r) for t, r in zip(self.times[name], rounds)),
                max(set(fastest), key=fastest.count))

    def cpu_per_wall(self, name: str) -> float:
        return sum(self.cpus[name]) / sum(self.walls[name])


def check(name: str, got: tuple[float, dict[str, np.ndarray]], ref: tuple[float, dict[str, np.ndarray]],
          dtype: str) -> float:
    """max |got − ref| / max|ref| over the loss and each gradient; raises if np.allclose fails."""
    rtol = RTOL[dtype]
    worst = 0.0
    pairs = [("loss", np.asarray(got[0], np.float64), np.asarray(ref[0], np.float64))]
    pairs += [(k, np.asarray(got[1][k], np.float64), np.asarray(v, np.float64)) for k, v in ref[1].items()]
    if set(got[1]) != set(ref[1]):
        raise SystemExit(f"{name}: gradient keys {sorted(got[1])} != {sorted(ref[1])}")
    for k, g, r in pairs:
        scale = float(np.max(np.abs(r))) or 1.0
        if g.shape != r.shape or not np.allclose(g, r, rtol=rtol, atol=rtol * scale):
            raise SystemExit(f"{name} {dtype}: {k} differs from the textbook reference "
                             f"(max abs diff {np.max(np.abs(g - r)) if g.shape == r.shape else 'shape'})")
        worst = max(worst, float(np.max(np.abs(g - r))) / scale)
    return worst


def build(size: str, layers: tuple[int, ...], dtype: str) -> Config:
    cfg = Config(size, layers, dtype)
    network = symdl.Network(list(layers), activation="tanh", output_activation="identity", loss="mse")
    net = network.compile(dtype=dtype)
    params = net.init(seed=0)
    module = import_standalone(network, dtype, f"symdl_bench_net_{size}_{dtype}")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((BATCH_ROWS, layers[0])).astype(dtype)
    Y = rng.standard_normal((BATCH_ROWS, layers[-1])).astype(dtype)
    L = len(layers) - 1
    ref = textbook_step(params, X, Y)
    cfg.candidates = {
        "textbook": lambda: textbook_step(params, X, Y),
        "tuned": lambda: tuned_step(params, X, Y),
        "again": lambda: textbook_step(params, X, Y),
        "symdl": lambda: net.loss_and_grad(params, X, Y),
        "symdl_unchecked": lambda: net.unchecked.loss_and_grad(params, X, Y),
        "standalone": lambda: module.loss_and_grad(params, X, Y),
        "gemm": gemm_only(params, X, Y),
    }
    cfg.agreement["tuned"] = check("tuned", tuned_step(params, X, Y), ref, dtype)
    cfg.agreement["symdl"] = check("symdl", net.loss_and_grad(params, X, Y), ref, dtype)
    check_identical("symdl_unchecked", net.unchecked.loss_and_grad(params, X, Y), net.loss_and_grad(params, X, Y), dtype)
    cfg.agreement["symdl_unchecked"] = cfg.agreement["symdl"]
    # The standalone module: same initial parameters and the compiled network's numbers exactly.
    init = module.init_params(0)
    if list(init) != list(params) or any(init[k].dtype != v.dtype or not np.array_equal(init[k], v)
                                         for k, v in params.items()):
        raise SystemExit(f"standalone {dtype}: init_params(0) differs from the compiled network's init(seed=0)")
    check_identical("standalone", module.loss_and_grad(params, X, Y), net.loss_and_grad(params, X, Y), dtype)
    cfg.agreement["standalone"] = check("standalone", module.loss_and_grad(params, X, Y), ref, dtype)
    if torch is None:
        cfg.notes.append("PyTorch not installed: column skipped")
    else:
        step = torch_step_fn(params, X, Y)
        cfg.agreement["torch"] = check("torch", torch_result(step(), L), ref, dtype)
        cfg.candidates["torch"] = step
        cfg.candidates["torch_gemm"] = torch_gemm_fn(params, X, Y)
        torch_module = import_standalone(network, dtype, f"symdl_bench_torch_{size}_{dtype}", "torch")
        tparams = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
        tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
        loss, grads = torch_module.loss_and_grad(tparams, tX, tY)
        cfg.agreement["symdl_torch"] = check("symdl_torch", (float(loss), {k: g.numpy() for k, g in grads.items()}), ref, dtype)
        cfg.candidates["symdl_torch"] = lambda: torch_module.loss_and_grad(tparams, tX, tY)
        loss, grads = torch_module.loss_and_grad_unchecked(tparams, tX, tY)
        cfg.agreement["symdl_torch_unchecked"] = check("symdl_torch_unchecked", (float(loss), {k: g.numpy() for k, g in grads.items()}), ref, dtype)
        cfg.candidates["symdl_torch_unchecked"] = lambda: torch_module.loss_and_grad_unchecked(tparams, tX, tY)
    if jax is None:
        cfg.notes.append("JAX not installed: column skipped")
    else:
        step = jax_step_fn(params, X, Y)
        out = step()  # compiles
        cfg.agreement["jax"] = check("jax", jax_result(out, L), ref, dtype)
        cfg.candidates["jax"] = step
        jax_module = import_standalone(network, dtype, f"symdl_bench_jax_{size}_{dtype}", "jax")
        jparams = {k: jnp.asarray(v) for k, v in params.items()}
        jX, jY = jnp.asarray(X), jnp.asarray(Y)
        loss, grads = jax.block_until_ready(jax_module.loss_and_grad(jparams, jX, jY))
        cfg.agreement["symdl_jax"] = check("symdl_jax", (float(loss), {k: np.asarray(g) for k, g in grads.items()}), ref, dtype)
        cfg.candidates["symdl_jax"] = lambda: jax.block_until_ready(jax_module.loss_and_grad(jparams, jX, jY))
        loss, grads = jax.block_until_ready(jax_module.loss_and_grad_unchecked(jparams, jX, jY))
        cfg.agreement["symdl_jax_unchecked"] = check("symdl_jax_unchecked", (float(loss), {k: np.asarray(g) for k, g in grads.items()}), ref, dtype)
        cfg.candidates["symdl_jax_unchecked"] = lambda: jax.block_until_ready(jax_module.loss_and_grad_unchecked(jparams, jX, jY))
    if pytensor is None:
        cfg.notes.append("PyTensor not installed (pip install '.[bench]'): column skipped")
    else:
        step = pytensor_step_fn(params, X, Y)
        cfg.agreement["pytensor"] = check("pytensor", pytensor_result(step(), L), ref, dtype)
        cfg.candidates["pytensor"] = step
    # Float32 inputs must stay float32 everywhere (a silent upcast would time other work).
    for name, arr in (("symdl", net.loss_and_grad(params, X, Y)[1]["W1"]), ("tuned", tuned_step(params, X, Y)[1]["W1"]),
                      ("standalone", module.loss_and_grad(params, X, Y)[1]["W1"]), ("textbook", ref[1]["W1"])):
        if arr.dtype != np.dtype(dtype):
            raise SystemExit(f"{name} {dtype}: gradient has dtype {arr.dtype}")
    cfg.source = net.source()
    cfg.inputs = (net, params, X, Y)
    return cfg


def run_rounds(cfg: Config, rounds: int, batch: float, wall: bool) -> None:
    clock = time.perf_counter if wall else time.process_time
    numbers = {}
    for name, fn in cfg.candidates.items():
        fn()
        fn()  # warm-up
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        numbers[name] = max(1, min(2000, round(batch / max(once, 1e-7))))
        cfg.times[name], cfg.walls[name], cfg.cpus[name] = [], [], []
    order = list(cfg.candidates)
    for _ in range(rounds):
        SHUFFLE.shuffle(order)
        for name in order:
            fn, n = cfg.candidates[name], numbers[name]
            fn()  # untimed: the timed calls follow a call of the same candidate
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                fn()
            w1, c1 = time.perf_counter(), time.process_time()
            cfg.walls[name].append((w1 - w0) / n)
            cfg.cpus[name].append((c1 - c0) / n)
            cfg.times[name].append(((w1 - w0) if clock is time.perf_counter else (c1 - c0)) / n)


def derive_compile(repeats: int) -> dict[str, float]:
    """Cold derive + compile of Network([4096] * 11) in fresh processes (best and median), plus import time and warm."""
    code = (
        "import time, json\n"
        "t0 = time.perf_counter()\n"
        "import symdl\n"
        "t1 = time.perf_counter(); c1 = time.process_time()\n"
        f"symdl.Network({COMPILE_LAYERS!r}, activation='tanh', loss='mse').compile()\n"
        "t2 = time.perf_counter(); c2 = time.process_time()\n"
        f"symdl.Network({COMPILE_LAYERS!r}, activation='tanh', loss='mse').compile()\n"
        "t3 = time.perf_counter()\n"
        "print(json.dumps({'import': t1 - t0, 'cold': t2 - t1, 'cold_cpu': c2 - c1, 'warm': t3 - t2}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "cold": statistics.median(r["cold"] for r in runs),
        "cold_best": min(r["cold"] for r in runs),
        "cold_cpu": statistics.median(r["cold_cpu"] for r in runs),
        "warm": statistics.median(r["warm"] for r in runs),
        "import": statistics.median(r["import"] for r in runs),
        "runs": len(runs),
    }


def statements(source: str, function: str = "loss_and_grad") -> list[str]:
    """The body of ``function`` in the generated source, one statement per line (``return x`` → ``_ret = x``)."""
    body = source.split(f"\ndef {function}(", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    out = []
    for line in body:
        line = line.strip()
        if line.startswith("return "):
            line = "_ret = " + line[len("return "):]
        out.append(line)
    return out


def profile_statements(cfg: Config, repeats: int, wall: bool) -> None:
    """Median time of each statement of symdl's ``loss_and_grad``, executed one by one on the run's inputs.

    Each statement is ``exec``-ed on its own in a namespace holding the function's globals and arguments,
    so each carries the cost of one ``exec`` (the ``pass`` row measures it); a fresh namespace every repeat,
    so in-place statements see the same values as in the function.
    """
    net, params, X, Y = cfg.inputs
    lines = statements(cfg.source)
    codes = [compile(line, "<statement>", "exec") for line in ["pass", *lines]]
    g = net._generated["loss_and_grad"].__globals__  # the generated function, not the method that calls it
    times: list[list[float]] = [[] for _ in codes]
    clock = time.perf_counter if wall else time.process_time
    for _ in range(repeats):
        ns = {**g, "params": params, "X": X, "Y": Y}
        for i, code in enumerate(codes):
            t0 = clock()
            exec(code, ns)  # noqa: S102  (symdl's generated code, as the network runs it)
            times[i].append(clock() - t0)
    cfg.profile = [(line, statistics.median(t)) for line, t in zip(["pass", *lines], times)]


# --- reporting ---------------------------------------------------------------------------


def fmt_ms(t: float) -> str:
    ms = t * 1e3
    return f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}"


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else "met" if ok else "**not met**"


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "symdl")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (" (symdl/ has uncommitted changes)" if dirty else "")


def numpy_blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas['name']} {blas['version']}"
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
    core = openblas_core()
    if core is None:
        return name
    forced = os.environ.get("OPENBLAS_CORETYPE")
    how = (f"forced by OPENBLAS_CORETYPE={forced}" if forced else "chosen for this CPU"
           + (f"; the environment's OPENBLAS_CORETYPE={FORCED_CORETYPE} removed" if FORCED_CORETYPE else ""))
    return f"{name}, {core} kernels, {how}"


def openblas_core() -> str | None:
    """The kernel family numpy's OpenBLAS runs (``openblas_get_corename``), or None where it cannot be asked."""
    import ctypes
    import glob

    for path in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*.so*")):
        library = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            function = getattr(library, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None


def torch_blas() -> str:
    if torch is None:
        return "n/a"
    config = torch.__config__.show()
    return "MKL" if "BLAS_INFO=mkl" in config else next(
        (part.split("=", 1)[1] for part in config.split(", ") if part.startswith("BLAS_INFO=")), "unknown")


def markdown(configs: list[Config], comp: dict[str, float], meta: dict[str, str], rounds: int, wall: bool) -> str:
    heads = [f"[{', '.join(map(str, c.layers))}] {c.dtype}" for c in configs]
    clock = "wall-clock time" if wall else "process CPU time"
    lines = [
        f"Machine: {meta['platform']}, {meta['cpus']} CPUs (2 cores, shared, noisy; ratios from one run), "
        f"numpy {meta['numpy']} ({meta['blas']}), torch {meta['torch']} ({meta['torch_blas']}), jax {meta['jax']}, "
        f"pytensor {meta['pytensor']}, load average at start {meta['load']}, "
        f"symdl at {meta['symdl']}; "
        f"measured {meta['date']}.",
        "",
        "One step = loss and every gradient of a tanh MLP with identity output and squared error, "
        f"C = (1/m) Σ ½‖aᴸ − y‖², batch m = {BATCH_ROWS}. The reference (ratio 1.00) is BP1–BP4 written "
        "plainly, the textbook way (Nielsen's `network.py` with the batch in rows): `z = a @ W.T + b`, "
        "`a = np.tanh(z)`, `delta = (delta @ W) * sigma_prime(z)` with `sigma_prime(z) = 1 - np.tanh(z)**2`, "
        "`dW = delta.T @ a_prev`, `db = delta.sum(0)`. The *tuned* hand-written step takes σ′ = 1 − a² from the "
        "stored activations and works in place; *GEMMs only* runs just the step's matrix products, a floor for "
        "any numpy step. The *standalone module* is the same network as `symdl codegen` writes it "
        "(`symdl.export.standalone.network_module(network, dtype)`, written to a temporary directory and imported with "
        "`importlib`), calling the module's own `loss_and_grad`. Everything runs on one thread "
        "(`OPENBLAS/OMP/MKL_NUM_THREADS=1` before numpy is "
        "imported, `torch.set_num_threads(1)`, `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false "
        "intra_op_parallelism_threads=1`). The candidates take turns in shuffled order for "
        f"{rounds} rounds; each cell is the median time per step ({clock}) in ms and, in parentheses, the "
        "median over rounds of the time divided by the reference's time in the same round. Before timing, every "
        "candidate's loss and gradients were checked against the reference (`np.allclose`, rtol 1e-10 in "
        "float64 / 1e-4 in float32, atol = rtol · max|reference|), and the standalone module's loss and gradients "
        "against the compiled network's: equal bit for bit (same keys, dtypes and values; its `init_params(0)` "
        "equal to the network's `init(seed=0)`).",
        "",
        "| candidate | " + " | ".join(heads) + " |",
        "| --- | " + " | ".join("---" for _ in configs) + " |",
    ]
    for name in LABELS:
        cells = []
        for c in configs:
            if name in c.times:
                cells.append(f"{fmt_ms(c.median(name))} ({c.ratio(name):.2f})")
            else:
                cells.append("skipped (not installed)")
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    cells = []
    for c in configs:
        cells.append(f"{c.ratio('symdl', 'gemm'):.2f}")
    lines.append("| symdl / GEMMs only | " + " | ".join(cells) + " |")
    if any("torch" in c.times for c in configs):
        lines.append("| symdl / PyTorch eager | " + " | ".join(
            f"{c.ratio('symdl', 'torch'):.2f}" if "torch" in c.times else "–" for c in configs) + " |")
    if any(p in c.times for c in configs for p in PEERS):
        for mine in ("symdl", "symdl_unchecked"):
            lines.append(f"| {LABELS[mine]} / best peer (fastest of {', '.join(LABELS[p] for p in PEERS)}) | " + " | ".join(
                "{:.2f} ({})".format(*c.best_peer(mine)) for c in configs) + " |")
    lines.append("| symdl / tuned numpy | " + " | ".join(f"{c.ratio('symdl', 'tuned'):.2f}" for c in configs) + " |")
    lines.append("| standalone module / symdl `loss_and_grad` | "
                 + " | ".join(f"{c.ratio('standalone', 'symdl'):.2f}" for c in configs) + " |")
    for mine, theirs in (("symdl_torch", "torch"), ("symdl_jax", "jax")):
        if any(mine in c.times for c in configs):
            lines.append(f"| {LABELS[mine]} / {LABELS[theirs]} | " + " | ".join(
                f"{c.ratio(mine, theirs):.2f}" if mine in c.times else "–" for c in configs) + " |")

    big = [c for c in configs if c.size == "big"]
    small = [c for c in configs if c.size == "small"]
    goals = []

    def ok(r: float, limit: float) -> bool:
        return round(r, 2) <= limit  # judged as printed, so that a cell showing the limit never reads "not met"

    for c in big:
        r = c.ratio("symdl")
        goals.append((f"symdl ≤ {GOAL_BIG:.2f}× textbook, [{', '.join(map(str, c.layers))}] {c.dtype}",
                      f"{r:.2f}× (GEMMs alone: {c.ratio('gemm'):.2f}×)", ok(r, GOAL_BIG)))
    for c in big:
        name = f"symdl ≤ PyTorch eager, [{', '.join(map(str, c.layers))}] {c.dtype}"
        if "torch" in c.times:
            r = c.ratio("symdl", "torch")
            goals.append((name, f"symdl/torch {r:.2f}", ok(r, 1.0)))
        else:
            goals.append((name, "PyTorch not installed", None))
    for c in small:
        r = c.ratio("symdl")
        goals.append((f"symdl ≤ {GOAL_SMALL:.2f}× textbook, [{', '.join(map(str, c.layers))}] {c.dtype}",
                      f"{r:.2f}×", ok(r, GOAL_SMALL)))
    for c in configs:  # issue 6
        r = c.ratio("standalone", "symdl")
        layers = ", ".join(map(str, c.layers))
        name = f"standalone module ≤ {GOAL_STANDALONE:.2f}× compiled network, [{layers}] {c.dtype}"
        goals.append((name,
                      f"{r:.2f}× ({fmt_ms(c.median('standalone'))} vs {fmt_ms(c.median('symdl'))} ms)",
                      ok(r, GOAL_STANDALONE)))
    for c in configs:  # issue 6: the generated JAX and PyTorch modules against the libraries' own autodiff
        layers = ", ".join(map(str, c.layers))
        for mine, theirs, what in (("symdl_jax", "jax", "JAX `jit(value_and_grad)`"), ("symdl_torch", "torch", "PyTorch eager")):
            name = f"{LABELS[mine].split(' (')[0]} ≤ {GOAL_BACKEND:.2f}× {what}, [{layers}] {c.dtype}"
            if mine in c.times:
                r = c.ratio(mine, theirs)
                goals.append((name, f"{r:.2f}× ({fmt_ms(c.median(mine))} vs {fmt_ms(c.median(theirs))} ms)", ok(r, GOAL_BACKEND)))
            else:
                goals.append((name, "library not installed", None))
    for c in configs:  # issue 17: ahead of every peer, the unchecked entry point (the checked one shown beside)
        layers = ", ".join(map(str, c.layers))
        name = f"symdl unchecked ≤ 1.00× best of PyTensor, JAX, PyTorch eager, [{layers}] {c.dtype}"
        if any(p in c.times for p in PEERS):
            r, peer = c.best_peer("symdl_unchecked")
            checked, _ = c.best_peer("symdl")
            goals.append((name, f"{r:.2f}× {peer} (checked entry point {checked:.2f}×)", ok(r, 1.0)))
        else:
            goals.append((name, "no peer installed", None))
    for c in configs:  # issue 17: the JAX module's fast path against JAX's own
        layers = ", ".join(map(str, c.layers))
        name = f"symdl JAX module unchecked ≤ {GOAL_BACKEND:.2f}× JAX `jit(value_and_grad)`, [{layers}] {c.dtype}"
        if "symdl_jax_unchecked" in c.times:
            r = c.ratio("symdl_jax_unchecked", "jax")
            goals.append((name, f"{r:.2f}× (checked {c.ratio('symdl_jax', 'jax'):.2f}×)", ok(r, GOAL_BACKEND)))
        else:
            goals.append((name, "JAX not installed", None))
    goals.append((f"derive + compile `Network([4096] * 11)` < {GOAL_COMPILE:g} s",
                  f"{comp['cold']:.2f} s", comp["cold"] < GOAL_COMPILE))
    lines += [
        "",
        "| goal | measured | |",
        "| --- | --- | --- |",
        *[f"| {g} | {m} | {verdict(met)} |" for g, m, met in goals],
        "",
        f"Derive + compile of `Network([4096] * 11, activation=\"tanh\", loss=\"mse\").compile()`: "
        f"{comp['cold']:.2f} s wall ({comp['cold_cpu']:.2f} s CPU) in a fresh process after `import symdl` "
        f"(median of {comp['runs']} processes; best {comp['cold_best']:.2f} s); the same network again in that "
        f"process {comp['warm'] * 1e3:.0f} ms (rule kernels cached); `import symdl` itself {comp['import']:.2f} s.",
        "",
        "Checks: largest difference from the reference, relative to the largest reference value "
        "(loss and gradients): "
        + "; ".join(f"{c.key}: " + ", ".join(f"{k} {v:.0e}" for k, v in c.agreement.items()) for c in configs)
        + f". Noise: the A/A row's ratios differ from 1.00 by at most "
        f"{100 * max(abs(c.ratio('again') - 1) for c in configs):.0f} %"
        + ". CPU time / wall time per candidate (at most 1 if it ran on one thread; well below 1 when other "
        "processes had the CPU): "
        + ", ".join(f"{min(c.cpu_per_wall(n) for c in configs if n in c.cpus):.2f}–"
                    f"{max(c.cpu_per_wall(n) for c in configs if n in c.cpus):.2f} {n}"
                    for n in LABELS if any(n in c.cpus for c in configs))
        + ".",
    ]
    if any("symdl_jax" in c.times for c in configs):
        lines += [
            "",
            "The generated JAX and PyTorch modules do what a library function must and the hand-written candidates "
            "skip: every call checks params, X and Y (keys, shapes, dtypes) and refuses NaN or infinity in data "
            "from the host. The PyTorch module checks in Python on every call (about 15 µs). The JAX module checks "
            "keys, shapes and dtypes inside its jitted function, when JAX traces a new signature, and reads nothing "
            "back from the device (device arrays are checked for NaN only under `jax_debug_nans`), so a call with "
            "the same signature costs a few µs of Python above JAX's own. On the "
            "[784, 512, 512, 10] network the constant costs vanish in a 15–45 ms step; on the [8, 16, 16, 1] "
            "network, whose whole step is about 0.1 ms, they are the "
            "difference. The PyTorch module is faster than PyTorch eager there, having no autograd graph to build.",
        ]
    groups: dict[str, list[Config]] = {}  # one profile table per distinct generated code
    for c in configs:
        if c.profile:
            groups.setdefault(c.source.split("\n", 1)[1], []).append(c)
    for group in groups.values():
        lines += ["", *profile_markdown(group, clock)]
    notes = sorted({n for c in configs for n in c.notes})
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


def fmt_us(t: float) -> str:
    us = t * 1e6
    return f"{us:.0f}" if us >= 100 else f"{us:.1f}"


def profile_markdown(configs: list[Config], clock: str) -> list[str]:
    """A table of per-statement times for configurations whose generated code is the same."""
    heads = [f"[{', '.join(map(str, c.layers))}] {c.dtype}" for c in configs]
    lines = [
        "Where symdl's step spends its time: each statement of the generated `loss_and_grad` run on its own "
        f"(`exec` in the function's namespace, median over repeats, {clock}), in µs. The `pass` row is the "
        "cost of one `exec`, included in every other row.",
        "",
        "| statement | " + " | ".join(heads) + " |",
        "| --- | " + " | ".join("---:" for _ in configs) + " |",
    ]
    rows = [line for line, _ in configs[0].profile]
    for i, line in enumerate(rows):
        code = line if len(line) <= 60 else line[:57] + "…"
        lines.append(f"| `{code}` | " + " | ".join(fmt_us(c.profile[i][1]) for c in configs) + " |")

    def share(c: Config, pred: Callable[[str], bool]) -> float:  # net of the exec overhead (the pass row)
        base = c.profile[0][1]
        return sum(max(t - base, 0.0) for line, t in c.profile[1:] if pred(line))

    def is_gemm(line: str) -> bool:
        return "@" in line

    def is_check(line: str) -> bool:
        return "_check(" in line

    def is_ew(line: str) -> bool:
        return not (is_gemm(line) or is_check(line))

    totals = [fmt_us(sum(t for _, t in c.profile[1:])) for c in configs]
    lines.append("| **sum of statements** | " + " | ".join(totals) + " |")
    lines.append("| **the function, timed above** | " + " | ".join(fmt_us(c.median("symdl")) for c in configs) + " |")
    lines += [
        "",
        "Shares of the sum, each row less the `pass` row: "
        + "; ".join(
            f"{h}: GEMMs {100 * share(c, is_gemm) / share(c, lambda _: True):.0f} %, "
            f"element-wise and reductions {100 * share(c, is_ew) / share(c, lambda _: True):.0f} %, "
            f"`_check` {100 * share(c, is_check) / share(c, lambda _: True):.0f} %"
            for h, c in zip(heads, configs)
        )
        + ".",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and shorter batches (under a minute)")
    parser.add_argument("--write", action="store_true", help=f"rewrite the networks section of {DOC.relative_to(ROOT)}")
    parser.add_argument("--wall", action="store_true", help="time wall-clock instead of process CPU time")
    parser.add_argument("--rounds", type=int, help="rounds of turns per configuration (default 40, --quick 8)")
    parser.add_argument("--source", action="store_true", help="print symdl's generated source of each configuration")
    parser.add_argument("--keep-coretype", action="store_true",
                        help="keep OPENBLAS_CORETYPE from the environment (by default the bench removes it: OpenBLAS picks its kernels)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (8 if args.quick else 40)
    batch = 0.01 if args.quick else 0.03
    t_start = time.perf_counter()
    load_at_start = os.getloadavg()
    configs = []
    for size, layers, dtype in CONFIGS:
        cfg = build(size, layers, dtype)
        if args.source:
            print(cfg.source)
        run_rounds(cfg, rounds, batch, args.wall)
        profile_statements(cfg, 10 if args.quick else 40, args.wall)
        configs.append(cfg)
        print(f"{cfg.key}: " + ", ".join(f"{n} {fmt_ms(cfg.median(n))} ms ({cfg.ratio(n):.2f})" for n in cfg.times),
              file=sys.stderr)
    comp = derive_compile(1 if args.quick else 3)
    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else "not installed",
        "jax": jax.__version__ if jax is not None else "not installed",
        "pytensor": pytensor.__version__ if pytensor is not None else "not installed",
        "load": ", ".join(f"{x:.1f}" for x in load_at_start),
        "symdl": git_state(),
        "blas": numpy_blas(),
        "torch_blas": torch_blas(),
    }
    text = markdown(configs, comp, meta, rounds, args.wall)
    print(text)
    print(f"({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)
    if args.write:
        replace_section(DOC, "networks", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
