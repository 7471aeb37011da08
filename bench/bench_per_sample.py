"""Time per-sample gradients of a generated torch ``Module`` against a loop and against torch's own layers.

Run by hand from the repository root::

    python bench/bench_per_sample.py [--quick]

Network [32, 64, 64, 10], tanh, MSE, float32 and float64, batch 64, one thread. Candidates, each giving every
sample's gradient of every parameter:

* ``Module vmap``: ``torch.func.vmap(grad(functional_call(Module, ...)))``, torch's recipe, over symdl's generated
  ``Module`` (its vmap rule calls the printed ``loss_and_grad`` once per sample);
* ``loss_and_grad loop``: a Python loop of the module's ``loss_and_grad_unchecked`` on one row at a time;
* ``torch vmap``: the same recipe over ``torch.nn.Sequential`` of ``Linear``/``Tanh`` (torch's batched autograd);
* ``torch loop``: a loop of ``torch.func.grad`` on one sample at a time over that model.

All four are checked against each other first (rtol 1e-9 in float64, 1e-4 in float32). Printed: the median of
interleaved rounds (wall time) and the ratio to ``torch vmap``, all in one run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import importlib.util  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symdl  # noqa: E402
from symdl.export import network_module_source  # noqa: E402

LAYERS = [32, 64, 64, 10]
BATCH = 64


def load(dtype: str, folder: str):
    path = Path(folder) / f"per_sample_{dtype}.py"
    path.write_text(network_module_source(symdl.Network(LAYERS, activation="tanh", loss="mse"), "torch", dtype))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_model(params: dict, dtype: torch.dtype) -> torch.nn.Sequential:
    """The same network in torch layers, with the module's parameters (W is (out, in) in both)."""
    layers: list[torch.nn.Module] = []
    for k in range(1, len(LAYERS)):
        linear = torch.nn.Linear(LAYERS[k - 1], LAYERS[k], dtype=dtype)
        linear.weight.data.copy_(params[f"W{k}"])
        linear.bias.data.copy_(params[f"b{k}"])
        layers += [linear, torch.nn.Tanh()] if k < len(LAYERS) - 1 else [linear]
    return torch.nn.Sequential(*layers)


def candidates(mod, dtype: torch.dtype, X: torch.Tensor, Y: torch.Tensor) -> dict:
    from torch.func import functional_call, grad, vmap

    params = mod.init_params(0)
    model = mod.Module(params, checks=False)
    ours = {k: v.detach() for k, v in model.named_parameters()}
    net = torch_model(params, dtype)
    theirs = {k: v.detach() for k, v in net.named_parameters()}
    names = {f"{2 * (k - 1)}.weight": f"W{k}" for k in range(1, len(LAYERS))}
    names |= {f"{2 * (k - 1)}.bias": f"b{k}" for k in range(1, len(LAYERS))}

    def ours_one(p, x, y):
        return functional_call(model, p, (x[None], y[None]))

    def theirs_one(p, x, y):  # symdl's mse: ½ Σ over the outputs of (a − y)², mean over the rows
        return 0.5 * ((functional_call(net, p, (x[None],)) - y[None]) ** 2).sum()

    def renamed(g: dict) -> dict:
        return {names[k]: v for k, v in g.items()}

    def loop_printed():
        grads = [mod.loss_and_grad_unchecked(params, X[i:i + 1], Y[i:i + 1])[1] for i in range(len(X))]
        return {k: torch.stack([g[k] for g in grads]) for k in params}

    def loop_torch():
        grads = [grad(theirs_one)(theirs, X[i], Y[i]) for i in range(len(X))]
        return renamed({k: torch.stack([g[k] for g in grads]) for k in theirs})

    return {
        "Module vmap": lambda: vmap(grad(ours_one), in_dims=(None, 0, 0))(ours, X, Y),
        "loss_and_grad loop": loop_printed,
        "torch vmap": lambda: renamed(vmap(grad(theirs_one), in_dims=(None, 0, 0))(theirs, X, Y)),
        "torch loop": loop_torch,
    }


def main() -> None:
    quick = "--quick" in sys.argv
    torch.set_num_threads(1)
    rounds = 5 if quick else 31
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            mod = load(name, folder)
            rng = np.random.default_rng(0)
            X = torch.from_numpy(rng.standard_normal((BATCH, LAYERS[0]))).to(dtype)
            Y = torch.from_numpy(rng.standard_normal((BATCH, LAYERS[-1]))).to(dtype)
            runs = candidates(mod, dtype, X, Y)
            reference = runs["torch vmap"]()
            rtol = 1e-9 if dtype == torch.float64 else 1e-4
            for label, run in runs.items():
                got = run()
                for key in reference:
                    torch.testing.assert_close(got[key], reference[key], rtol=rtol, atol=rtol, msg=f"{label} {key}")
            times: dict[str, list[float]] = {label: [] for label in runs}
            for _ in range(rounds):  # interleaved: each round times every candidate once
                for label, run in runs.items():
                    start = time.perf_counter()
                    run()
                    times[label].append(time.perf_counter() - start)
            rows.append((name, {label: float(np.median(t)) for label, t in times.items()}))
    labels = list(rows[0][1])
    print("| dtype | " + " | ".join(labels) + " |")
    print("| --- | " + " | ".join("---:" for _ in labels) + " |")
    for name, medians in rows:
        base = medians["torch vmap"]
        print(f"| {name} | " + " | ".join(f"{medians[k] * 1e3:.2f} ms ({medians[k] / base:.2f})" for k in labels) + " |")


if __name__ == "__main__":
    main()
