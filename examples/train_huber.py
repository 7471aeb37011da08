"""Train a small network with the Huber loss using symdl's generated train_step, then check its gradient once.

Run: python examples/train_huber.py
"""

import sys

import numpy as np

import symdl
from symdl.testing import assert_network_grad_close

# Synthetic regression data: y = sin(2x₁) + x₂² plus a few outliers (what the Huber loss is for).
rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (256, 2))
Y = np.sin(2 * X[:, :1]) + X[:, 1:] ** 2 + 0.05 * rng.standard_normal((256, 1))
Y[::32] += 3.0

net = symdl.Network([2, 16, 16, 1], activation="tanh", loss="huber", loss_params={"delta": 0.5}).compile()
params = net.init(seed=0)

# One gradient check before training: random directions in parameter space against finite differences.
report = assert_network_grad_close(net, params, X[:32], Y[:32])
print(f"gradient check: {report.checked} directions, worst relative error {report.rel_error:.1e}")


def progress(step: int, total: int, loss: float, width: int = 30) -> None:
    done = width * step // total
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] step {step}/{total} loss {loss:.4f}")
    if step == total:
        sys.stderr.write("\n")


steps = 400
for step in range(1, steps + 1):
    loss = net.train_step(params, X, Y, lr=0.3)
    progress(step, steps, float(loss))
    if step == 1 or step % 100 == 0:
        print(f"step {step:4d}  loss {float(loss):.5f}")
print(f"final loss {float(net.loss(params, X, Y)):.5f}")
