"""Time ``fit`` of a graph with two outputs with a loss, with and without logging each output's loss, one thread.

Run by hand from the repository root::

    python bench/bench_output_losses.py [--rounds N] [--width W] [--module]

The model: inputs of width 16, a residual tanh trunk of width ``W``, two heads
(``main``: mse on 4 outputs; ``aux``: binary cross-entropy on 1), Adam.
One epoch of ``fit`` over 2048 rows at batch sizes 32 and 256, for

* **with**: the compiled graph as it is (``loss``, ``main_loss``, ``aux_loss``:
  one more training-mode forward pass per step, ``output_losses``);
* **without**: the same compiled graph behind a proxy that hides ``output_losses``
  (``loss`` alone, as before per-output losses were logged).

With ``--module`` the candidates are the generated numpy module's own ``fit``
(``graph_module_source(model, "numpy", optimizer="adam")``): **with** as printed
(``output_losses`` before each step), **without** the module's ``_FIT_OUTPUT_LOSSES``
set to ``()`` for the run (``loss`` alone).

Interleaved rounds: each candidate, in an order shuffled per round, runs one
epoch untimed then one timed on the thread's CPU clock (``time.thread_time``).
Printed: the median seconds per epoch of each and the median over rounds of
with / without.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402


class _Hidden:
    """The compiled graph with ``output_losses`` hidden: fit logs ``loss`` alone."""

    output_losses = None

    def __init__(self, graph: Any) -> None:
        self._graph = graph

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--module", action="store_true", help="time the generated numpy module's fit")
    args = parser.parse_args()
    from symdl.graph import Add, Dense, Input, Model

    x = Input(16)
    h = Dense(args.width, activation="tanh")(x)
    h = Add()([h, Dense(args.width, activation="tanh")(h)])
    model = Model(x, [Dense(4, name="main")(h), Dense(1, name="aux")(h)], losses=["mse", "binary_cross_entropy"],
                  loss_weights=[1.0, 0.2])
    graph = model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2048, 16))
    Y = (np.tanh(X[:, :4]), (X[:, :1] > 0).astype(float))
    print(f"width {args.width}, 2048 rows, {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    if args.module:
        _module_rounds(model, X, Y, args.rounds)
        return
    for batch in (32, 256):
        candidates = {"with": graph, "without": _Hidden(graph)}
        times: dict[str, list[float]] = {k: [] for k in candidates}
        for _ in range(args.rounds):
            for name in random.sample(list(candidates), len(candidates)):
                params = graph.init(0)
                candidates[name].fit(params, X, Y, epochs=1, batch_size=batch, verbose=0) if name == "with" else \
                    _fit(candidates[name], params, X, Y, batch)
                params = graph.init(0)
                start = time.thread_time()
                h = graph.fit(params, X, Y, epochs=1, batch_size=batch, verbose=0) if name == "with" else \
                    _fit(candidates[name], params, X, Y, batch)
                times[name].append(time.thread_time() - start)
                assert ("main_loss" in h.history) == (name == "with")
        ratio = statistics.median(a / b for a, b in zip(times["with"], times["without"]))
        print(f"batch {batch}: with {statistics.median(times['with']):.4f} s, "
              f"without {statistics.median(times['without']):.4f} s, with / without {ratio:.2f}")
    print(f"load {os.getloadavg()[0]:.1f}")


def _module_rounds(model: Any, X: Any, Y: Any, rounds: int) -> None:
    """The generated numpy module's fit, its per-output losses on (as printed) and off (``_FIT_OUTPUT_LOSSES = ()``)."""
    import importlib.util
    import tempfile
    from pathlib import Path

    from symdl.export import graph_module_source

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench_graph_module.py"
        path.write_text(graph_module_source(model, "numpy", optimizer="adam"))
        spec = importlib.util.spec_from_file_location("bench_graph_module", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    printed = module._FIT_OUTPUT_LOSSES
    for batch in (32, 256):
        times: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(rounds):
            for name in random.sample(list(times), 2):
                module._FIT_OUTPUT_LOSSES = printed if name == "with" else ()
                module.fit(module.init_params(0), X, Y, epochs=1, batch_size=batch, verbose=0)
                start = time.thread_time()
                h = module.fit(module.init_params(0), X, Y, epochs=1, batch_size=batch, verbose=0)
                times[name].append(time.thread_time() - start)
                assert ("main_loss" in h.history) == (name == "with")
        ratio = statistics.median(a / b for a, b in zip(times["with"], times["without"]))
        print(f"module, batch {batch}: with {statistics.median(times['with']):.4f} s, "
              f"without {statistics.median(times['without']):.4f} s, with / without {ratio:.2f}")
    print(f"load {os.getloadavg()[0]:.1f}")


def _fit(model: Any, params: dict, X: Any, Y: Any, batch: int) -> Any:
    from symdl.training import fit

    return fit(model, params, X, Y, epochs=1, batch_size=batch, verbose=0)


if __name__ == "__main__":
    main()
