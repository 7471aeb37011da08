"""Time one training step of symdl.graph models against PyTorch eager and a hand-written numpy step, one thread.

Run by hand from the repository root::

    python bench/bench_graph.py [--quick] [--rounds N] [--before]
    python bench/bench_graph.py --compile [--processes N]

Models (batch 256): the Keras notebook's ResidualRegressor (input 8, widths 30, a
dense ELU layer, one residual block of two ELU layers applied four times, a
second block, a dense output) and a wide residual MLP (input 64, width 512, six
blocks of one ELU layer with a skip, output 1). One step is C and every gradient,
then W ← W − η·∂C/∂W, for

* **numpy by hand** (ratio 1.00): the same graph's backprop written out with the
  ELU derivative from the stored activations (f + 1 for z ≤ 0), gradients of a
  shared block accumulated in place;
* **symdl**: ``Model.compile(dtype).train_step(params, X, Y, lr)`` (argument checks included);
* **symdl unchecked**: ``compiled.unchecked.train_step`` (no argument checks);
* **PyTorch eager**: tensors with ``requires_grad``, ``loss.backward()``, the
  update under ``torch.no_grad()``;
* with ``--before``, **numpy.where form**: the unchecked step printed with
  ``numpy.where`` and U ⊙ σ' into a new array (``print_graph(select=False)``,
  the form before :mod:`symdl.graph.select`), for a before/after in one run.

Every candidate's loss after one step is compared first (rtol 1e-9 in float64,
1e-4 in float32). Timing is interleaved: in every round each candidate, in an
order shuffled per round, is called once untimed and then a batch of calls is
timed on the thread's CPU clock (``time.thread_time``), so time spent
descheduled on a loaded machine counts for none of them and a slow phase of
the machine falls on all alike. Printed: the median time per step of each
candidate and the median over rounds of its time over the hand step's time in
the same round, per model and dtype.

``--compile`` times derive + compile (``Model(...).compile()``) of a residual
graph of 50 nodes at widths 16 and 1024, each in fresh Python processes after
``import symdl`` (median of ``--processes``): the equations hold symbolic
widths, so the cost should not depend on them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symdl.graph import Add, Dense, Input, Model  # noqa: E402

COMPILE_NODES = 50
COMPILE_WIDTHS = (16, 1024)
SHUFFLE = random.Random(20261206)


def residual_regressor() -> tuple[Model, list[tuple[int, ...]]]:
    """The model and its "program": which dense keys each use reads, in order (for the hand-written references)."""
    x = Input(8)
    first = Dense(30, activation="elu", init="he_normal")
    block1 = [Dense(30, activation="elu", init="he_normal") for _ in range(2)]
    block2 = [Dense(30, activation="elu", init="he_normal") for _ in range(2)]
    Z = first(x)
    for block in [block1] * 4 + [block2]:
        h = Z
        for layer in block:
            h = layer(h)
        Z = Add()([Z, h])
    return Model(x, Dense(1)(Z), losses="mse"), [(2, 3)] * 4 + [(4, 5)]


def wide_residual() -> tuple[Model, list[tuple[int, ...]]]:
    x = Input(64)
    Z = Dense(512, activation="elu", init="he_normal")(x)
    for _ in range(6):
        Z = Add()([Z, Dense(512, activation="elu", init="he_normal")(Z)])
    return Model(x, Dense(1)(Z), losses="mse"), [(l,) for l in range(2, 8)]


def _elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def numpy_step(P, X, Y, lr, program, last):
    """The graph's forward pass and backprop by hand (ELU' from the output: f + 1 where z ≤ 0)."""
    grads = {k: np.zeros_like(v) for k, v in P.items()}
    z0 = X @ P["W1"].T + P["b1"]
    a0 = _elu(z0)
    Z, cache = a0, []
    for keys in program:
        h, seen = Z, []
        for l in keys:
            z = h @ P[f"W{l}"].T + P[f"b{l}"]
            a = _elu(z)
            seen.append((l, h, z, a))
            h = a
        cache.append(seen)
        Z = Z + h
    out = Z @ P[f"W{last}"].T + P[f"b{last}"]
    m = X.shape[0]
    diff = out - Y
    loss = 0.5 * np.sum(diff * diff) / m
    g = diff / m
    grads[f"W{last}"] += g.T @ Z
    grads[f"b{last}"] += g.sum(0)
    gZ = g @ P[f"W{last}"]
    for seen in reversed(cache):
        gh = gZ
        for l, h, z, a in reversed(seen):
            d = gh * np.where(z > 0, 1.0, a + 1.0)
            grads[f"W{l}"] += d.T @ h
            grads[f"b{l}"] += d.sum(0)
            gh = d @ P[f"W{l}"]
        gZ = gZ + gh
    d0 = gZ * np.where(z0 > 0, 1.0, a0 + 1.0)
    grads["W1"] += d0.T @ X
    grads["b1"] += d0.sum(0)
    for k in P:
        P[k] -= lr * grads[k]
    return loss


def torch_step(torch, P, X, Y, lr, program, last):
    F = torch.nn.functional
    Z = F.elu(X @ P["W1"].T + P["b1"])
    for keys in program:
        h = Z
        for l in keys:
            h = F.elu(h @ P[f"W{l}"].T + P[f"b{l}"])
        Z = Z + h
    out = Z @ P[f"W{last}"].T + P[f"b{last}"]
    loss = 0.5 * ((out - Y) ** 2).sum() / X.shape[0]
    loss.backward()
    with torch.no_grad():
        for p in P.values():
            p -= lr * p.grad
            p.grad = None
    return loss.item()


def before_step(model: Model, net: object) -> Callable[..., object]:
    """The unchecked train_step as printed before symdl.graph.select: numpy.where, U * (σ') into a new array."""
    from symdl.graph.forms import LibraryForms
    from symdl.graph.printing import print_graph

    forms = LibraryForms(output_form=True)
    source = print_graph(model.equations(training=True, forms=forms), model.equations(training=False, forms=forms))
    namespace = dict(net.unchecked.train_step.__globals__)  # type: ignore[attr-defined]  # the unchecked namespace
    exec(compile(source, "<numpy.where form>", "exec"), namespace)  # noqa: S102
    return namespace["train_step"]


def interleaved(candidates: dict[str, Callable[[], object]], rounds: int, batch: float) -> dict[str, list[float]]:
    """Per-call thread CPU time of each candidate, one entry per round; candidates take turns in a shuffled order."""
    numbers = {}
    for name, fn in candidates.items():
        fn()
        t = time.thread_time()
        fn()
        numbers[name] = max(1, min(500, round(batch / max(time.thread_time() - t, 1e-6))))
    times: dict[str, list[float]] = {name: [] for name in candidates}
    order = list(candidates)
    for _ in range(rounds):
        SHUFFLE.shuffle(order)
        for name in order:
            fn, n = candidates[name], numbers[name]
            fn()  # untimed: the timed calls follow a call of the same candidate
            t = time.thread_time()
            for _ in range(n):
                fn()
            times[name].append((time.thread_time() - t) / n)
    return times


def ratio(times: dict[str, list[float]], name: str, ref: str) -> float:
    """Median over rounds of time(name) / time(ref) in the same round."""
    return statistics.median(a / b for a, b in zip(times[name], times[ref]))


def compile_graph(nodes: int, width: int) -> Model:
    """A residual chain of ``nodes`` nodes (even, ≥ 4): input, a dense ELU layer, (dense ELU, add) blocks, a dense
    ELU layer, a dense output."""
    x = Input(8)
    Z = Dense(width, activation="elu")(x)
    for _ in range((nodes - 4) // 2):
        Z = Add()([Z, Dense(width, activation="elu")(Z)])
    return Model(x, Dense(1)(Dense(width, activation="elu")(Z)), losses="mse")


def derive_compile(processes: int) -> None:
    """Derive + compile of the 50-node graph at each width in fresh processes: median wall and CPU seconds."""
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
        "import symdl\n"
        "from bench_graph import compile_graph\n"
        "model = compile_graph(int(sys.argv[1]), int(sys.argv[2]))\n"
        "t, c = time.perf_counter(), time.process_time()\n"
        "model.compile('float64')\n"
        "t1, c1 = time.perf_counter(), time.process_time()\n"
        "compile_graph(int(sys.argv[1]), int(sys.argv[2])).compile('float64')\n"
        "print(json.dumps({'nodes': len(model.nodes), 'wall': t1 - t, 'cpu': c1 - c, 'again': time.perf_counter() - t1}))\n"
    )
    print(f"load average {os.getloadavg()[0]:.1f}; derive + compile, median of {processes} fresh processes")
    print("| graph | width | nodes | wall (s) | CPU (s) | a second model in the same process (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for width in COMPILE_WIDTHS:
        runs = [json.loads(subprocess.run([sys.executable, "-c", code, str(COMPILE_NODES), str(width)], check=True,
                                          capture_output=True, text=True).stdout.strip().splitlines()[-1])
                for _ in range(processes)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "again")}
        print(f"| residual ELU chain | {width} | {runs[0]['nodes']} | {med['wall']:.2f} | {med['cpu']:.2f} | {med['again']:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, help="rounds of turns (default 30, --quick 8)")
    parser.add_argument("--before", action="store_true", help="also time the numpy.where form printed before")
    parser.add_argument("--compile", action="store_true", help="time derive + compile of a 50-node graph instead")
    parser.add_argument("--processes", type=int, default=5, help="fresh processes per width with --compile")
    args = parser.parse_args()
    if args.compile:
        derive_compile(args.processes)
        return
    rounds = args.rounds or (8 if args.quick else 30)
    batch = 0.01 if args.quick else 0.03
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        torch = None
    print(f"load average {os.getloadavg()[0]:.1f}; {rounds} interleaved rounds, thread CPU time, median per step")
    print("| model | dtype | numpy by hand (ms) | symdl (ms, ratio) | symdl unchecked | PyTorch eager | symdl / torch | unchecked / torch |" + (" numpy.where form (ms; ratio) |" if args.before else ""))
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if args.before else ""))
    for name, build in (("ResidualRegressor", residual_regressor), ("wide residual 512x6", wide_residual)):
        model, program = build()
        last = len(model.parameter_shapes) // 2
        for dtype in ("float64", "float32"):
            net = model.compile(dtype)
            rng = np.random.default_rng(0)
            X = rng.normal(size=(256, model.inputs[0].width)).astype(dtype)
            Y = np.sin(X[:, :1]).astype(dtype)
            start = net.init(0)
            lr = 1e-12  # parameters stay where init put them: every round times the same numbers
            mine, fast, hand = ({k: v.copy() for k, v in start.items()} for _ in range(3))
            net.train_step(mine, X, Y, lr)
            net.unchecked.train_step(fast, X, Y, lr)
            numpy_step(hand, X, Y, lr, program, last)
            rtol = 1e-9 if dtype == "float64" else 1e-4
            expected = numpy_step({k: v.copy() for k, v in hand.items()}, X, Y, 0.0, program, last)
            assert np.isclose(net.loss(mine, X, Y), expected, rtol=rtol)
            assert np.isclose(net.loss(fast, X, Y), expected, rtol=rtol)
            candidates: dict[str, Callable[[], object]] = {
                "hand": lambda: numpy_step(hand, X, Y, lr, program, last),
                "symdl": lambda: net.train_step(mine, X, Y, lr),
                "unchecked": lambda: net.unchecked.train_step(fast, X, Y, lr),
            }
            if args.before:
                slow = {k: v.copy() for k, v in start.items()}
                step = before_step(model, net)
                step(slow, X, Y, lr)
                assert np.isclose(net.loss(slow, X, Y), expected, rtol=rtol)
                candidates["before"] = lambda: step(slow, X, Y, lr)
            if torch is not None:
                tp = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
                tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
                at_start = numpy_step({k: v.copy() for k, v in start.items()}, X, Y, 0.0, program, last)
                assert np.isclose(torch_step(torch, {k: torch.tensor(v, requires_grad=True) for k, v in start.items()},
                                             tX, tY, 0.0, program, last), at_start, rtol=rtol)
                candidates["torch"] = lambda: torch_step(torch, tp, tX, tY, lr, program, last)
            times = interleaved(candidates, rounds, batch)
            cells = [f"{statistics.median(times['hand']) * 1e3:.3f}"]
            cells += [f"{statistics.median(times[c]) * 1e3:.3f} ({ratio(times, c, 'hand'):.2f})" for c in ("symdl", "unchecked")]
            if torch is not None:
                cells.append(f"{statistics.median(times['torch']) * 1e3:.3f} ({ratio(times, 'torch', 'hand'):.2f})")
                cells += [f"{ratio(times, 'symdl', 'torch'):.2f}", f"{ratio(times, 'unchecked', 'torch'):.2f}"]
            else:
                cells += ["not installed", "–", "–"]
            if args.before:
                cells.append(f"{statistics.median(times['before']) * 1e3:.3f}; unchecked / it {ratio(times, 'unchecked', 'before'):.2f}")
            print(f"| {name} | {dtype} | " + " | ".join(cells) + " |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
