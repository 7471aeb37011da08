"""Time one training step of symdl.graph models against PyTorch eager and a hand-written numpy step, one thread.

Run by hand from the repository root::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/bench_graph.py [--quick]

Models (batch 256): the Keras notebook's ResidualRegressor (input 8, widths 30, a
dense ELU layer, one residual block of two ELU layers applied four times, a
second block, a dense output) and a wide residual MLP (input 64, width 512, six
blocks of one ELU layer with a skip, output 1). One step is C and every gradient,
then W ← W − η·∂C/∂W, for

* **numpy by hand** (ratio 1.00): the same graph's backprop written out with the
  ELU derivative from the stored activations (f + 1 for z ≤ 0), gradients of a
  shared block accumulated in place;
* **symdl**: ``Model.compile(dtype).train_step(params, X, Y, lr)`` (argument checks included);
* **PyTorch eager**: tensors with ``requires_grad``, ``loss.backward()``, the
  update under ``torch.no_grad()``.

Every candidate's loss after one step is compared first (rtol 1e-9 in float64,
1e-4 in float32). Printed: the median time of each candidate and its ratio to
numpy by hand, per model and dtype, all in one run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symdl.graph import Add, Dense, Input, Model  # noqa: E402


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


def median_time(step, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 10 if quick else 40
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        torch = None
    print(f"{'model':<22} {'dtype':<8} {'numpy by hand':>14} {'symdl':>14} {'torch eager':>14}")
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
            mine, hand = {k: v.copy() for k, v in start.items()}, {k: v.copy() for k, v in start.items()}
            net.train_step(mine, X, Y, lr)
            numpy_step(hand, X, Y, lr, program, last)
            rtol = 1e-9 if dtype == "float64" else 1e-4
            assert np.isclose(net.loss(mine, X, Y), numpy_step({k: v.copy() for k, v in hand.items()}, X, Y, 0.0, program, last), rtol=rtol)
            t_hand = median_time(lambda: numpy_step(hand, X, Y, lr, program, last), rounds)
            t_mine = median_time(lambda: net.train_step(mine, X, Y, lr), rounds)
            cells = [f"{t_hand * 1e3:8.2f} ms 1.00", f"{t_mine * 1e3:8.2f} ms {t_mine / t_hand:.2f}"]
            if torch is not None:
                tp = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
                tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
                t_torch = median_time(lambda: torch_step(torch, tp, tX, tY, lr, program, last), rounds)
                cells.append(f"{t_torch * 1e3:8.2f} ms {t_torch / t_hand:.2f}")
            print(f"{name:<22} {dtype:<8} " + " ".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()
