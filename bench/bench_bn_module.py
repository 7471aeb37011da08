"""One training call of a generated torch ``Module`` of a graph with batch norm: forward (loss, moving statistics) and backward.

    python bench/bench_bn_module.py [--rounds 15] [--baseline DIR]
    python bench/bench_bn_module.py --emit DIR      # write the modules this checkout generates, to be a baseline

The graph: x → Dense(w, tanh) → BatchNorm → Dense(w, tanh) → BatchNorm → Dense(1), squared error, float32, widths
30 and 512, batch 256, on one thread. Candidates, timed in interleaved rounds (thread CPU time, best round per call):

* ``Module``: ``module(X, Y).backward()`` in training mode (the loss, its gradient into ``.grad`` and the moving
  statistics moved, as ``torch.nn.BatchNorm1d`` moves its own), checked and ``checks=False``;
* ``loss_and_grad_unchecked``: the module's training forward and backward once, without moving anything: the floor
  of a training call;
* with ``--baseline DIR``: the ``Module`` of the modules another checkout wrote with ``--emit DIR``, side by side in
  this run (the same graph, parameters and data).

Before timing, each candidate's loss and gradients are compared with ``loss_and_grad`` and each Module's moving
statistics with those of ``train_step`` at lr = 0.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import datetime  # noqa: E402
import importlib.util  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WIDTHS = (30, 512)
BATCH = 256


def source(width: int) -> str:
    from symdl.export import graph_module_source
    from symdl.graph import BatchNorm, Dense, Input, Model

    x = Input(8)
    h = BatchNorm()(Dense(width, activation="tanh")(x))
    h = BatchNorm()(Dense(width, activation="tanh")(h))
    return graph_module_source(Model(x, Dense(1)(h), losses="mse"), "torch", "float32")


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_call(f, number: int) -> float:
    start = time.thread_time()
    for _ in range(number):
        f()
    return (time.thread_time() - start) / number


def module_call(module, X, Y):
    def call():
        for p in module.parameters():
            p.grad = None
        module(X, Y).backward()
    return call


def check(label: str, mod, module, params: dict, X, Y) -> None:
    """The Module's loss, .grad and moved statistics against loss_and_grad and train_step(lr=0) on the same numbers."""
    import torch

    loss, grads = mod.loss_and_grad(params, X, Y)
    got = module(X, Y)
    got.backward()
    stepped = copy.deepcopy(params)
    mod.train_step(stepped, X, Y, 0.0)
    assert torch.allclose(got, loss, rtol=1e-6), label
    for name, p in module.named_parameters():
        assert torch.allclose(p.grad, grads[name], rtol=1e-5, atol=1e-7), (label, name)
    for name, b in module.named_buffers():
        assert torch.allclose(b, stepped[name], rtol=1e-6, atol=1e-7), (label, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="a folder another checkout wrote with --emit")
    parser.add_argument("--emit", type=Path, help="write bn_<width>.py for each width here and stop")
    args = parser.parse_args()
    if args.emit is not None:
        args.emit.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS:
            (args.emit / f"bn_{width}.py").write_text(source(width))
        return
    import tempfile

    import torch

    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"load average {load_before:.1f}; best of {args.rounds} interleaved rounds, thread CPU time per call, one thread")
    print("| width | candidate | µs per call | / loss_and_grad_unchecked |")
    print("| ---: | --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for width in WIDTHS:
            path = Path(folder) / f"bn_{width}.py"
            path.write_text(source(width))
            mod = load(path, f"bench_bn_{width}")
            rng = np.random.default_rng(0)
            X = torch.tensor(rng.standard_normal((BATCH, 8)), dtype=torch.float32)
            Y = torch.tensor(rng.standard_normal((BATCH, 1)), dtype=torch.float32)
            params = mod.init_params(0)
            candidates = {}
            for label, checks in (("Module", True), ("Module, checks=False", False)):
                module = mod.Module(params, checks=checks)
                check(label, mod, mod.Module(params, checks=checks), params, X, Y)
                candidates[label] = module_call(module, X, Y)
            if args.baseline is not None:
                before = load(args.baseline / f"bn_{width}.py", f"bench_bn_before_{width}")
                for label, checks in (("baseline Module", True), ("baseline Module, checks=False", False)):
                    check(label, mod, before.Module(params, checks=checks), params, X, Y)
                    candidates[label] = module_call(before.Module(params, checks=checks), X, Y)
            candidates["loss_and_grad_unchecked"] = lambda: mod.loss_and_grad_unchecked(params, X, Y)  # noqa: B023
            number = 200 if width < 100 else 10
            best = dict.fromkeys(candidates, float("inf"))
            for _ in range(args.rounds):
                for label, f in candidates.items():
                    f()
                    best[label] = min(best[label], per_call(f, number))
            floor = best["loss_and_grad_unchecked"]
            for label, seconds in best.items():
                print(f"| {width} | {label} | {seconds * 1e6:.0f} | {seconds / floor:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
