"""Benchmark: random-direction gradient check of a [784, 512, 512, 10] MLP, and FD error against step size.

Run by hand: ``python bench/bench_gradcheck.py [--write]``. With ``--write`` the
results replace the section between the ``gradcheck`` markers of
docs/performance.md. The MLP and its backward pass below are a hand-written
reference that lives only in this benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from doc_sections import replace_section  # noqa: E402

from symdl.testing import check_grad  # noqa: E402

LAYERS = [784, 512, 512, 10]
BATCH = 32
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def make_mlp(seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = [(n_out, n_in) for n_in, n_out in zip(LAYERS[:-1], LAYERS[1:])]
    sizes = [a * b + a for a, b in shapes]
    X = rng.normal(size=(BATCH, LAYERS[0]))
    Y = rng.normal(size=(BATCH, LAYERS[-1]))

    def unpack(theta):
        params, offset = [], 0
        for (n_out, n_in), size in zip(shapes, sizes):
            W = theta[offset : offset + n_out * n_in].reshape(n_out, n_in)
            b = theta[offset + n_out * n_in : offset + size]
            params.append((W, b))
            offset += size
        return params

    def loss(theta):
        a = X
        params = unpack(theta)
        for i, (W, b) in enumerate(params):
            z = a @ W.T + b
            a = np.tanh(z) if i < len(params) - 1 else z
        return 0.5 * float(np.sum((a - Y) ** 2)) / BATCH

    def grad(theta):
        params = unpack(theta)
        activations, a = [X], X
        for i, (W, b) in enumerate(params):
            z = a @ W.T + b
            a = np.tanh(z) if i < len(params) - 1 else z
            activations.append(a)
        delta = (activations[-1] - Y) / BATCH
        grads = []
        for i in range(len(params) - 1, -1, -1):
            W, _ = params[i]
            grads.append(np.concatenate([(delta.T @ activations[i]).ravel(), delta.sum(axis=0)]))
            if i:
                delta = (delta @ W) * (1 - activations[i] ** 2)
        return np.concatenate(grads[::-1])

    theta = np.concatenate([rng.normal(scale=1 / np.sqrt(n_in), size=n_out * n_in + n_out) for n_out, n_in in shapes])
    return loss, grad, theta


def directional_errors(loss, grad, theta, directions: int, richardson: bool) -> list[float]:
    return [check_grad(loss, grad, theta, directions=1, seed=k, richardson=richardson).rel_error for k in range(directions)]


def step_table(dtype) -> list[tuple[float, float]]:
    """Worst relative error of the central difference of a smooth function over a step sweep."""
    x = np.linspace(-3, 3, 41).astype(dtype)
    f = lambda v: np.tanh(v) * np.exp(v / 4)  # noqa: E731
    exact = (1 - np.tanh(x.astype(np.float64)) ** 2) * np.exp(x / 4) + np.tanh(x.astype(np.float64)) * np.exp(x / 4) / 4
    rows = []
    for h in [10.0**-k for k in range(1, 11)]:
        step = np.asarray(h, dtype=dtype)
        width = (x + step) - (x - step)
        if np.any(width == 0):  # the step vanishes next to some x: no difference to take
            rows.append((h, float("nan")))
            continue
        fd = (f(x + step) - f(x - step)) / width
        rows.append((h, float(np.max(np.abs(fd - exact) / np.maximum(np.abs(exact), 1e-3)))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the results into docs/performance.md")
    args = parser.parse_args()
    loss, grad, theta = make_mlp()
    n = theta.size
    loss(theta), grad(theta)
    start = time.perf_counter()
    for _ in range(5):
        loss(theta)
    per_eval = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    report = check_grad(loss, grad, theta, directions=20)
    seconds = time.perf_counter() - start
    errors = directional_errors(loss, grad, theta, 20, richardson=True)
    plain = directional_errors(loss, grad, theta, 20, richardson=False)
    coordinate_seconds = 2 * n * per_eval
    lines = [
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, numpy {np.__version__}, one BLAS thread; "
        f"measured {time.strftime('%Y-%m-%d')}.",
        "",
        f"[784, 512, 512, 10] tanh MLP, squared error, batch {BATCH}: {n:,} parameters, one loss evaluation "
        f"{per_eval * 1e3:.1f} ms.",
        "",
        "| check | evaluations | time | median rel. error | worst rel. error |",
        "| --- | --- | --- | --- | --- |",
        f"| `check_grad`, 20 random directions, Richardson | {report.evaluations} | {seconds:.2f} s | "
        f"{np.median(errors):.1e} | {max(errors):.1e} |",
        f"| 20 random directions, plain central differences | 40 | ≈ {40 * per_eval:.2f} s | "
        f"{np.median(plain):.1e} | {max(plain):.1e} |",
        f"| every coordinate, plain central differences (estimated: 2 × {n:,} evaluations) | {2 * n:,} | "
        f"≈ {coordinate_seconds / 3600:.1f} h | | |",
        "",
        f"Ratio: the coordinate-by-coordinate check would take ≈ {coordinate_seconds / seconds:,.0f}× as long. "
        f"Goal (issue 3): under 2 s with median relative error ≤ 1e-8 — "
        f"{'met' if seconds < 2 and np.median(errors) <= 1e-8 else 'not met'}.",
        "",
        "Central-difference error against step size (worst relative error of d/dx tanh(x)·e^{x/4} on [−3, 3]):",
        "",
        "| step h | float64 | float32 |",
        "| --- | --- | --- |",
    ]
    for (h, e64), (_, e32) in zip(step_table(np.float64), step_table(np.float32)):
        cells = [f"{e:.1e}" if e == e else "step below the dtype's resolution" for e in (e64, e32)]
        lines.append(f"| 1e-{round(-np.log10(h))} | {cells[0]} | {cells[1]} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(DOC, "gradcheck", text)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
