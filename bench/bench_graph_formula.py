"""Time one training step of a graph whose hidden layer is a formula layer against the same graph with built-in Dense.

Run by hand from the repository root::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_graph_formula.py [--quick]

Models (batch 256): input → hidden tanh dense layer → Dense(1), MSE, with the
hidden layer either ``symdl.graph.Dense(width, activation="tanh")`` or
``symdl.graph.Formula(formula_layer("y[i] = tanh(sum(W[i, j] * x[j], j) + b[i])"))``,
widths 30 (input 8) and 512 (input 64). A second hidden layer of the same kind
follows the first, so that the formula layer's input VJP (δ W) is timed too.
Both steps' losses and updated parameters are compared first (rtol 1e-9 in
float64). Printed: the median time of each and the ratio formula / built-in,
per width and dtype, all in one run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symdl  # noqa: E402
from symdl.graph import Dense, Formula, Input, Model  # noqa: E402

TEXT = "y[i] = tanh(sum(W[i, j] * x[j], j) + b[i])"


def build(n_in: int, width: int, formula: bool) -> Model:
    x = Input(n_in)
    h = x
    for _ in range(2):
        if formula:
            layer = symdl.formula_layer(TEXT, inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"}, name="mydense")
            h = Formula(layer, sizes={"out": width})(h)
        else:
            h = Dense(width, activation="tanh")(h)
    return Model(x, Dense(1)(h), losses="mse")


def median_time(step, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    for n_in, width in [(8, 30), (64, 512)]:
        for dtype in ("float64", "float32"):
            mine, ref = build(n_in, width, True).compile(dtype), build(n_in, width, False).compile(dtype)
            rng = np.random.default_rng(0)
            X = rng.normal(size=(256, n_in)).astype(dtype)
            Y = rng.normal(size=(256, 1)).astype(dtype)
            P = ref.init(0)
            a, b = {k: v.copy() for k, v in P.items()}, {k: v.copy() for k, v in P.items()}
            la, lb = mine.train_step(a, X, Y, 0.01), ref.train_step(b, X, Y, 0.01)
            rtol = 1e-9 if dtype == "float64" else 1e-4
            assert np.isclose(la, lb, rtol=rtol), (la, lb)
            for k in P:
                np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=rtol)
            rounds = (30 if quick else 200) if width < 100 else (5 if quick else 30)
            t_formula = median_time(lambda: mine.train_step(a, X, Y, 1e-6), rounds)
            t_builtin = median_time(lambda: ref.train_step(b, X, Y, 1e-6), rounds)
            rows.append((width, dtype, t_builtin, t_formula))
    print("| hidden layers (2, tanh) | dtype | built-in Dense | Formula (index notation) |")
    print("| --- | --- | ---: | ---: |")
    for width, dtype, t_builtin, t_formula in rows:
        print(f"| width {width} | {dtype} | {t_builtin * 1e3:.3f} ms (1.00) | {t_formula * 1e3:.3f} ms ({t_formula / t_builtin:.2f}) |")


if __name__ == "__main__":
    main()
