"""The generated JAX network module's `loss_and_grad`, its `loss_and_grad_unchecked`, and JAX's own `jit(value_and_grad)`.

Each is timed with X and Y as JAX arrays (on the device) and, for the checked function and JAX's own, as numpy
arrays (host data: the checked function tests them for NaN on the host; jit transfers them).

    python bench/bench_jax_unchecked.py [--repeats 15]

[8, 16, 16, 1] and [784, 512, 512, 10], tanh and MSE, batch 256, float64 and
float32, on the CPU with one thread. JAX's own candidate is a hand-written
loss (here only, as a reference) differentiated by `jax.value_and_grad` and
jitted. Each call is followed by `block_until_ready`; the best repeat per call
(wall-clock) is reported.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import symdl  # noqa: E402
from symdl.export import network_module_source  # noqa: E402


def reference_loss(params, X, Y):
    """The hand-written reference: tanh hidden layers, identity output, MSE (½·mean over rows of Σ squares)."""
    a = X
    n = len(params) // 2
    for l in range(1, n + 1):
        z = a @ params[f"W{l}"].T + params[f"b{l}"]
        a = jax.numpy.tanh(z) if l < n else z
    return 0.5 * jax.numpy.sum((Y - a) ** 2) / X.shape[0]


def timed(f, args, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        jax.block_until_ready(f(*args))
    return (time.perf_counter() - start) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    reference = jax.jit(jax.value_and_grad(reference_loss))
    print(f"load average {os.getloadavg()[0]:.1f}; best of {args.repeats} repeats, wall-clock per call")
    print("| network | dtype | module (µs) | module unchecked (µs) | JAX jit(value_and_grad) (µs) | module / JAX | unchecked / JAX "
          "| module, numpy X, Y (µs) | JAX, numpy X, Y (µs) | module / JAX, numpy X, Y |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for layers in ([8, 16, 16, 1], [784, 512, 512, 10]):
            for dtype in ("float64", "float32"):
                network = symdl.Network(layers, activation="tanh", loss="mse")
                path = Path(tmp) / f"net_{layers[0]}_{dtype}.py"
                path.write_text(network_module_source(network, "jax", dtype))
                spec = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                rng = np.random.default_rng(0)
                params = {k: jax.numpy.asarray(v) for k, v in network.compile(dtype).init(0).items()}
                X = jax.numpy.asarray(rng.standard_normal((256, layers[0])).astype(dtype))
                Y = jax.numpy.asarray(rng.standard_normal((256, layers[-1])).astype(dtype))
                candidates = {"module": module.loss_and_grad, "unchecked": module.loss_and_grad_unchecked,
                              "jax": reference}
                host = (np.asarray(X), np.asarray(Y))
                on_host = {"module_host": module.loss_and_grad, "jax_host": reference}
                number = 200 if layers[0] < 100 else 10
                best = dict.fromkeys([*candidates, *on_host], float("inf"))
                for _ in range(args.repeats):
                    for label, f in [*candidates.items(), *on_host.items()]:
                        arguments = (params, *host) if label in on_host else (params, X, Y)
                        jax.block_until_ready(f(*arguments))
                        best[label] = min(best[label], timed(f, arguments, number))
                m, u, j, mh, jh = (best[k] * 1e6 for k in ("module", "unchecked", "jax", "module_host", "jax_host"))
                print(f"| {layers} | {dtype} | {m:.1f} | {u:.1f} | {j:.1f} | {m / j:.2f} | {u / j:.2f} "
                      f"| {mh:.1f} | {jh:.1f} | {mh / jh:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
