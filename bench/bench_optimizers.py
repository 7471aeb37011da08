"""Time a full Adam training step of symdl's compiled network against PyTorch eager + torch.optim.Adam, and the update alone.

Run by hand from the repository root::

    python bench/bench_optimizers.py            # full run (about 3 min wall on the shared 2-core VM)
    python bench/bench_optimizers.py --quick    # fewer rounds
    python bench/bench_optimizers.py --write    # also rewrite the optimizers section of docs/performance.md

The network is the tanh MLP [784, 512, 512, 10] with identity output and squared
error, C = (1/m) Σ ½‖aᴸ − y‖², batch m = 256 (as ``bench_network.py``). Candidates,
timed in one run, on one thread, taking turns in shuffled order round by round:

* **symdl Adam step**: ``Network(..., optimizer="adam").compile(dtype).train_step(params, X, Y, state)``
  — argument and state checks, forward, backward and the printed Adam update;
* **PyTorch eager + Adam**: ``zero_grad(set_to_none=True)``, forward, ``loss.backward()``,
  ``torch.optim.Adam(params).step()`` (its CPU default, the single-tensor loop);
* **symdl SGD step + bare update**: the classic ``train_step(params, X, Y, lr)``
  followed by the *bare update arithmetic* — Adam written by hand in numpy on
  preallocated buffers, in place, no allocation (``m *= β₁; m += (1−β₁)g``,
  ``v *= β₂; v += (1−β₂)g²``, ``w −= η/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε)``);
* **update alone**: the Adam update on fixed gradients, each call starting
  with a copy of the gradients into the buffers it reads (symdl's update
  consumes its gradient buffers, so every candidate pays that copy):
  symdl's printed update (the very lines of its ``train_step``, from
  :func:`symdl.codegen.optimizer.print_update`, in a function of their own),
  ``torch.optim.Adam(foreach=True).step()``, and the bare numpy update.

Before timing, symdl's Adam step is checked against torch's on the same
parameters and batch (float64: rtol 1e-10 after 3 steps; float32: 1e-4).

Timing: process CPU time; a candidate's time is the median over rounds of a
batch of calls (at least ``BATCH`` s), a ratio the median over rounds of the
ratio in the same round. Everything runs on one thread: the BLAS thread
variables are set below, before numpy is imported, and ``torch.set_num_threads(1)``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:  # already set
    pass

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's symdl, not an installed copy

from _machine import cpu_model  # noqa: E402
from doc_sections import replace_section  # noqa: E402

import symdl  # noqa: E402
from symdl.backends import get_backend  # noqa: E402
from symdl.codegen.optimizer import print_update, state_keys  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
LAYERS = (784, 512, 512, 10)
ROWS = 256
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
BATCH = 0.15


def torch_model(params: dict[str, np.ndarray], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()}


def torch_step(tensors: dict[str, torch.Tensor], opt: torch.optim.Optimizer, X: torch.Tensor, Y: torch.Tensor) -> float:
    opt.zero_grad(set_to_none=True)
    a = X
    n = len(LAYERS) - 1
    for l in range(1, n + 1):
        z = a @ tensors[f"W{l}"].T + tensors[f"b{l}"]
        a = torch.tanh(z) if l < n else z
    loss = 0.5 * ((a - Y) ** 2).sum() / X.shape[0]
    loss.backward()
    opt.step()
    return loss.item()


class BareAdam:
    """Adam by hand in numpy, in place on preallocated buffers (m, v, one scratch per parameter): the arithmetic floor."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.tmp = {k: np.empty_like(v) for k, v in params.items()}
        self.t = 0

    def __call__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = BETAS
        step = LR / (1 - b1**self.t)
        root = 1 / (1 - b2**self.t) ** 0.5
        for k, w in params.items():
            g, m, v, tmp = grads[k], self.m[k], self.v[k], self.tmp[k]
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= root
            tmp += EPS
            np.divide(m, tmp, out=tmp)
            tmp *= step
            w -= tmp


def symdl_update(net: symdl.CompiledNetwork) -> Callable[..., None]:
    """``update(params, grads, state)``: the Adam lines of ``net.train_step``, printed by print_update, as a function."""
    backend = get_backend("numpy")
    code = print_update(net.optimizer, net.param_names, backend.printer(), functional=False, backend=backend)
    names = ", ".join(net.param_names)
    grads = ", ".join(f"g{p}" for p in net.param_names)
    body = [f"{names} = (params[k] for k in {tuple(net.param_names)!r})",
            f"{grads} = (grads[k] for k in {tuple(net.param_names)!r})", *code.compute, *code.write]
    source = "def update(params, grads, state):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, object] = {"numpy": np}
    exec(compile(source, "<symdl update>", "exec"), namespace)  # noqa: S102 - printed by symdl from SymPy
    return namespace["update"]  # type: ignore[return-value]


def machine() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return (f"{platform.platform()}, {cpus} CPUs ({cpu_model()}), load average {load} at the start, numpy {np.__version__}, "
            f"torch {torch.__version__}, symdl at {commit}; measured {datetime.datetime.now():%Y-%m-%d %H:%M}")


def check(dtype: str) -> float:
    """symdl's Adam steps against torch eager + torch.optim.Adam from the same start: the largest relative difference."""
    net = symdl.Network(list(LAYERS), activation="tanh", loss="mse", optimizer="adam").compile(dtype)
    rng = np.random.default_rng(0)
    params = net.init(seed=0)
    tensors = torch_model(params, getattr(torch, dtype))
    opt = torch.optim.Adam(tensors.values(), lr=LR, betas=BETAS, eps=EPS)
    state = net.init_state(params)
    for _ in range(3):
        X = rng.normal(size=(ROWS, LAYERS[0])).astype(dtype)
        Y = rng.normal(size=(ROWS, LAYERS[-1])).astype(dtype)
        net.train_step(params, X, Y, state)
        torch_step(tensors, opt, torch.from_numpy(X), torch.from_numpy(Y))
    diffs = {k: np.abs(params[k] - t.detach().numpy()) / np.max(np.abs(params[k])) for k, t in tensors.items()}
    worst = max(float(d.max()) for d in diffs.values())
    # float32: where a gradient element is near 0, Adam's g/√(g²) amplifies the GEMMs' rounding up to ±η per step.
    off = sum(int((d > 1e-5).sum()) for d in diffs.values()) / sum(d.size for d in diffs.values())
    if (dtype == "float64" and worst > 1e-10) or (dtype == "float32" and off > 1e-3):
        raise SystemExit(f"{dtype}: symdl's Adam step differs from torch's by {worst:.1e} ({off:.1e} of the elements)")
    return worst if dtype == "float64" else off


def candidates(dtype: str) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(ROWS, LAYERS[0])).astype(dtype)
    Y = rng.normal(size=(ROWS, LAYERS[-1])).astype(dtype)
    adam = symdl.Network(list(LAYERS), activation="tanh", loss="mse", optimizer="adam").compile(dtype)
    plain = symdl.Network(list(LAYERS), activation="tanh", loss="mse").compile(dtype)
    p_adam, p_sgd, p_update, p_bare = (adam.init(seed=0) for _ in range(4))
    s_adam, s_update = adam.init_state(p_adam), adam.init_state(p_update)
    bare_step, bare_alone = BareAdam(p_sgd), BareAdam(p_bare)
    tensors = torch_model(adam.init(seed=0), getattr(torch, dtype))
    t_opt = torch.optim.Adam(tensors.values(), lr=LR, betas=BETAS, eps=EPS)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    fixed = adam.loss_and_grad(adam.init(seed=0), X, Y)[1]
    buffers = {k: np.empty_like(v) for k, v in fixed.items()}
    update = symdl_update(adam)
    f_tensors = {k: torch.tensor(v) for k, v in adam.init(seed=0).items()}
    for k, t in f_tensors.items():
        t.grad = torch.empty_like(t)
    f_opt = torch.optim.Adam(f_tensors.values(), lr=LR, betas=BETAS, eps=EPS, foreach=True)
    t_fixed = {k: torch.from_numpy(v) for k, v in fixed.items()}

    def sgd_plus_bare() -> None:
        plain.train_step(p_sgd, X, Y, 1e-3)
        bare_step(p_sgd, fixed)

    def symdl_alone() -> None:
        for k, g in fixed.items():
            np.copyto(buffers[k], g)
        update(p_update, buffers, s_update)

    def torch_alone() -> None:
        for k, t in f_tensors.items():
            t.grad.copy_(t_fixed[k])
        f_opt.step()

    def bare_update_alone() -> None:
        for k, g in fixed.items():
            np.copyto(buffers[k], g)
        bare_alone(p_bare, buffers)

    assert list(s_adam) == state_keys(adam.optimizer, adam.param_names)
    return {
        "symdl_adam": lambda: adam.train_step(p_adam, X, Y, s_adam),
        "torch_adam": lambda: torch_step(tensors, t_opt, tX, tY),
        "sgd_bare": sgd_plus_bare,
        "sgd": lambda: plain.train_step(p_sgd, X, Y, 1e-3),
        "update_symdl": symdl_alone,
        "update_torch_foreach": torch_alone,
        "update_bare": bare_update_alone,
    }


def timed(f: Callable[[], object]) -> float:
    f()
    n, start = 0, time.process_time()
    while True:
        f()
        n += 1
        spent = time.process_time() - start
        if spent >= BATCH:
            return spent / n


def run(dtype: str, rounds: int) -> dict[str, list[float]]:
    cands = candidates(dtype)
    times: dict[str, list[float]] = {k: [] for k in cands}
    order = list(cands)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            times[name].append(timed(cands[name]))
    return times


RATIOS = (
    ("symdl Adam step / PyTorch eager + Adam", "symdl_adam", ("torch_adam",), 1.0),
    ("symdl Adam step / (symdl SGD step + bare update)", "symdl_adam", ("sgd_bare",), 1.05),
    ("symdl update alone / torch.optim.Adam(foreach=True) alone", "update_symdl", ("update_torch_foreach",), 1.0),
    ("symdl update alone / bare numpy update alone", "update_symdl", ("update_bare",), None),
)

LABELS = {
    "symdl_adam": "**symdl Adam step** (`train_step(params, X, Y, state)`)",
    "torch_adam": "PyTorch eager + `torch.optim.Adam`",
    "sgd_bare": "symdl SGD step + bare numpy Adam update",
    "sgd": "symdl SGD step alone (`train_step(params, X, Y, lr)`)",
    "update_symdl": "**symdl Adam update alone** (the printed lines)",
    "update_torch_foreach": "`torch.optim.Adam(foreach=True).step()` alone",
    "update_bare": "bare numpy Adam update alone (in place, no allocation)",
}


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def report(results: dict[str, dict[str, list[float]]], checks: dict[str, float], rounds: int, where: str) -> str:
    dtypes = list(results)
    lines = [
        f"Machine: {where}.",
        "",
        f"One step of the tanh MLP {list(LAYERS)}, identity output, squared error, batch {ROWS}; Adam with lr = {LR}, "
        f"betas = {BETAS}, eps = {EPS}. One thread (BLAS thread variables = 1 before numpy is imported, "
        "`torch.set_num_threads(1)`). The candidates take turns in shuffled order for "
        f"{rounds} rounds; each cell is the median time per call (process CPU time) in ms. The update-alone rows copy "
        "the fixed gradients into the buffers the update reads at the start of every call (symdl's update uses its "
        "gradient buffers as scratch), the same copy for every candidate. Before timing, symdl's Adam step was checked "
        "against PyTorch's from the same start over 3 steps: float64, the largest difference relative to max |w| "
        "(must be ≤ 1e-10); float32, the share of elements that differ by more than 1e-5 · max |w| (must be ≤ 1e-3; "
        "where a gradient element is near 0, Adam's m/√v amplifies the two libraries' different GEMM rounding): "
        + ", ".join(f"{checks[d]:.0e} ({d})" for d in dtypes) + ".",
        "",
        "| candidate | " + " | ".join(f"{list(LAYERS)} {d}" for d in dtypes) + " |",
        "| --- |" + " --- |" * len(dtypes),
    ]
    for key, label in LABELS.items():
        lines.append(f"| {label} | " + " | ".join(f"{statistics.median(results[d][key]) * 1e3:.2f}" for d in dtypes) + " |")
    lines += ["", "| ratio (median over rounds of the ratio in the same round) | " + " | ".join(dtypes) + " | goal |",
              "| --- |" + " --- |" * len(dtypes) + " --- |"]
    for label, a, (b,), goal in RATIOS:
        cells = []
        for d in dtypes:
            r = ratio(results[d], a, b)
            cells.append(f"{r:.2f}" + ("" if goal is None else (" (met)" if r <= goal else " (**not met**)")))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'—' if goal is None else f'≤ {goal:.2f}'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--write", action="store_true", help="rewrite the optimizers section of docs/performance.md")
    parser.add_argument("--dtype", action="append", choices=("float32", "float64"), help="dtypes (default: both)")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    dtypes = args.dtype or ["float32", "float64"]
    where = machine()
    checks = {d: check(d) for d in dtypes}
    results = {d: run(d, rounds) for d in dtypes}
    text = report(results, checks, rounds, where)
    print(text)
    if args.write:
        replace_section(DOC, "optimizers", text)


if __name__ == "__main__":
    main()
