"""Time a formula layer's printed numpy kernels (forward and every VJP) against hand-written numpy and PyTorch eager.

Run by hand from the repository root::

    python bench/bench_formula_layer.py            # widths 30 and 512, batch 256, float64 and float32
    python bench/bench_formula_layer.py --quick    # fewer rounds

The layer is the dense layer written as a formula,
``y[i] = sum(W[i, j] * x[j], j) + b[i]``. Candidates, on one thread, taking
turns in shuffled order round by round:

* **symdl kernels**: the four printed kernels (forward, VJP by x, W, b) called directly;
* **symdl apply+backward**: ``layer.apply`` and ``layer.backward`` (argument handling, singularity guard);
* **hand numpy**: ``x @ W.T + b``, ``v @ W``, ``v.T @ x``, ``v.sum(0)``;
* **torch eager**: forward ``x @ W.T + b`` and ``torch.autograd.grad`` of ⟨v, y⟩ (when torch is installed).

A candidate's time is the median over rounds of a batch of calls (process CPU time).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from symdl import formula_layer  # noqa: E402

DENSE = "y[i] = sum(W[i, j] * x[j], j) + b[i]"


def candidates(width: int, batch: int, dtype: type) -> dict[str, object]:
    layer = formula_layer(DENSE, inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"})
    rng = np.random.default_rng(0)
    x, v = (rng.standard_normal((batch, width)).astype(dtype) for _ in range(2))
    W, b = rng.standard_normal((width, width)).astype(dtype), rng.standard_normal(width).astype(dtype)
    forward, vjps = layer.forward_kernels["y"], layer.vjp_kernels

    def kernels():
        forward(x, W, b)
        for name in ("x", "W", "b"):
            vjps[name](x, W, b, v)

    def api():
        layer.apply({"x": x}, {"W": W, "b": b})
        layer.backward({"x": x}, {"W": W, "b": b}, {"y": v})

    def hand():
        x @ W.T + b
        v @ W
        v.T @ x
        v.sum(0)

    out = {"symdl kernels": kernels, "symdl apply+backward": api, "hand numpy": hand}
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(1)
    tx, tW, tb, tv = (torch.tensor(a, requires_grad=True) for a in (x, W, b, v))

    def eager():
        y = tx @ tW.T + tb
        torch.autograd.grad((y * tv).sum(), (tx, tW, tb))

    out["torch eager"] = eager
    return out


def timed(function, seconds: float) -> float:
    calls, start = 0, time.process_time()
    while (spent := time.process_time() - start) < seconds:
        function()
        calls += 1
    return spent / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, seconds = (3, 0.05) if args.quick else (9, 0.2)
    print("| dtype | width | batch | " + " | ".join(["symdl kernels", "symdl apply+backward", "hand numpy", "torch eager"])
          + " | kernels / hand |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for dtype in (np.float64, np.float32):
        for width in (30, 512):
            funcs = candidates(width, 256, dtype)
            times: dict[str, list[float]] = {name: [] for name in funcs}
            for _ in range(rounds):
                order = list(funcs)
                random.shuffle(order)
                for name in order:
                    funcs[name]()
                    times[name].append(timed(funcs[name], seconds))
            med = {name: statistics.median(values) for name, values in times.items()}
            cells = [f"{med[n] * 1e3:.3f} ms" if n in med else "–" for n in
                     ("symdl kernels", "symdl apply+backward", "hand numpy", "torch eager")]
            ratio = med["symdl kernels"] / med["hand numpy"]
            print(f"| {np.dtype(dtype).name} | {width} | 256 | " + " | ".join(cells) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
