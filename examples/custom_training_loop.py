"""The Keras notebook's custom training loop (section 12.3.9) transcribed to symdl: Nadam, a mean loss, MAE, a status bar.

Keras builds ``Dense(30, activation="elu", kernel_initializer="he_normal",
kernel_regularizer=l2(0.05))`` and ``Dense(1, kernel_regularizer=l2(0.05))``,
trains with ``keras.optimizers.Nadam(lr=0.01)`` on random batches, tracks
``keras.metrics.Mean()`` of the loss and ``MeanAbsoluteError()``, and prints a
status bar. Here every number comes from code symdl printed from SymPy: the
loss and its gradient (BP1–BP4), the Nadam update and the metrics' updates.
The notebook's data (California housing) needs scikit-learn, which symdl does
not depend on: a synthetic regression with 8 features stands in for it.

Run: python examples/custom_training_loop.py
"""

import numpy as np

import symdl
from symdl.metrics import metric
from symdl.optim import optimizer

rng = np.random.default_rng(42)
X_train = rng.normal(size=(1024, 8))
y_train = (np.sin(X_train[:, :1]) + 0.5 * X_train[:, 1:2] * X_train[:, 2:3] + 0.1 * rng.normal(size=(1024, 1)))

# Keras' mean_squared_error is (y − ŷ)² averaged over the batch (one output): a formula loss, parsed safely.
mse = symdl.formula_rule("(a - y)**2", wrt="a", symbols=["y"])
# Keras 3's Nadam: μₜ = β₁(1 − ½·0.96ᵗ) (momentum_decay=1, where PyTorch's default is 0.004) and ε = 1e-7.
nadam = optimizer("nadam", lr=0.01, eps=1e-7, momentum_decay=1.0)
net = symdl.Network([8, 30, 1], activation="elu", loss=mse, penalty="l2", penalty_params={"lam": 0.05},
                    optimizer=nadam).compile()
params = net.init(seed=42, scheme="he_normal")
state = net.init_state(params)


def random_batch(X, y, batch_size=32):
    idx = rng.integers(len(X), size=batch_size)
    return X[idx], y[idx]


def print_status_bar(iteration, total, loss, metrics=None):
    metrics = " - ".join(f"{m.name}: {m.result():.4f}" for m in [loss] + (metrics or []))
    end = "" if iteration < total else "\n"
    print(f"\r{iteration}/{total} - " + metrics, end=end)


n_epochs = 5
batch_size = 32
n_steps = len(X_train) // batch_size
mean_loss = metric("mean")
metrics = [metric("mae")]
print(f"optimizer: {nadam!r}")
for epoch in range(1, n_epochs + 1):
    print(f"Epoch {epoch}/{n_epochs}")
    for step in range(1, n_steps + 1):
        X_batch, y_batch = random_batch(X_train, y_train)
        y_pred = net.forward(params, X_batch)                    # the model's prediction before the step
        loss = net.train_step(params, X_batch, y_batch, state)   # loss (with the L2 penalty), gradients, Nadam
        mean_loss.update_state(loss)
        for m in metrics:
            m.update_state(y_batch, y_pred)
        print_status_bar(step * batch_size, len(y_train), mean_loss, metrics)
    print_status_bar(len(y_train), len(y_train), mean_loss, metrics)
    for m in [mean_loss] + metrics:
        m.reset_state()

# The same training with symdl.fit: shuffled mini-batches instead of random draws, history, status bar on stderr.
params = net.init(seed=42, scheme="he_normal")
history = net.fit(params, X_train, y_train, epochs=n_epochs, batch_size=batch_size, metrics=["mae"], seed=42)
print("fit: loss per epoch", [round(v, 4) for v in history.history["loss"]])
