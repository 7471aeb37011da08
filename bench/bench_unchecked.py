"""One `loss_and_grad` of a compiled network, checked against `CompiledNetwork.unchecked` (no argument checks).

    python bench/bench_unchecked.py [--repeats 25] [--number N]

Sizes [8, 16, 16, 1] and [784, 512, 512, 10] (tanh, MSE), batch 256, float64 and
float32, on one thread (OMP/OpenBLAS/MKL set to 1 before numpy is imported).
Each repeat times `number` calls of each candidate in turn (thread CPU time);
the best repeat per call is reported, with the saving per call.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import symdl  # noqa: E402


def per_call(f, args, number: int) -> float:
    start = time.thread_time()
    for _ in range(number):
        f(*args)
    return (time.thread_time() - start) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--number", type=int, default=0, help="calls per repeat (default: by size)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; best of {args.repeats} repeats, thread CPU time per call")
    print("| network | dtype | checked (µs) | unchecked (µs) | saved (µs) | unchecked / checked |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for layers in ([8, 16, 16, 1], [784, 512, 512, 10]):
        for dtype in ("float64", "float32"):
            net = symdl.Network(layers, activation="tanh", loss="mse").compile(dtype)
            rng = np.random.default_rng(0)
            params = net.init(0)
            X = rng.standard_normal((256, layers[0])).astype(dtype)
            Y = rng.standard_normal((256, layers[-1])).astype(dtype)
            number = args.number or (2000 if layers[0] < 100 else 20)
            best = {"checked": float("inf"), "unchecked": float("inf")}
            for _ in range(args.repeats):
                for label, f in (("checked", net.loss_and_grad), ("unchecked", net.unchecked.loss_and_grad)):
                    f(params, X, Y)
                    best[label] = min(best[label], per_call(f, (params, X, Y), number))
            c, u = best["checked"] * 1e6, best["unchecked"] * 1e6
            print(f"| {layers} | {dtype} | {c:.1f} | {u:.1f} | {c - u:.1f} | {u / c:.3f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
