"""The Keras notebook's custom models (sections 12.3.5–12.3.8) as symdl graphs: derived, proven, compiled, trained.

ResidualRegressor (one residual block shared four times), ReconstructingRegressor (an auxiliary
reconstruction loss), MyMultiLayer (two inputs, three outputs) and a model with Lambda(exp),
Gaussian noise, an L1 regulariser and a positive-weights constraint. Each trains on synthetic data.

Run: python examples/keras_notebook_models.py
"""

import numpy as np

import symdl
from symdl.graph import (
    Add,
    Dense,
    Divide,
    GaussianNoise,
    Input,
    Lambda,
    Model,
    Multiply,
)
from symdl.graph.proofs import prove_graph


def residual_block(n_layers, n_neurons):
    """ResidualBlock: n dense ELU layers (He-normal) and the skip inputs + Z. Calling it again shares its weights."""
    hidden = [Dense(n_neurons, activation="elu", init="he_normal") for _ in range(n_layers)]

    def call(inputs):
        Z = inputs
        for layer in hidden:
            Z = layer(Z)
        return Add()([inputs, Z])

    return call


def residual_regressor(n_inputs, output_dim):
    inputs = Input(n_inputs)
    block1, block2 = residual_block(2, 30), residual_block(2, 30)
    Z = Dense(30, activation="elu", init="he_normal")(inputs)
    for _ in range(1 + 3):
        Z = block1(Z)
    return Model(inputs, Dense(output_dim)(block2(Z)), losses="mse")


def reconstructing_regressor(n_inputs, output_dim):
    inputs = Input(n_inputs)
    Z = inputs
    for _ in range(5):
        Z = Dense(30, activation="selu", init="lecun_normal")(Z)
    # Keras: compile(loss="mse") and add_loss(0.05 * mean((reconstruction - inputs)²)); symdl's mse is ½(a − y)²,
    # hence weights 2 and 0.1 with reduction="mean" (with weight 1 the reconstruction would count twice as much).
    model = Model(inputs, Dense(output_dim)(Z), losses="mse", loss_weights=[2.0], reduction="mean")
    return model.add_loss(Dense(n_inputs)(Z), "mse", target=inputs, weight=0.1, reduction="mean")


def train(name, model, X, Y, steps=200, optimizer="adam"):
    net = model.compile("float64", optimizer=symdl.optimizer(optimizer, lr=0.003))
    params = net.init(seed=0)
    state = net.init_state(params)
    first = net.train_step(params, X, Y, state)
    for step in range(steps):
        last = net.train_step(params, X, Y, state, seed=step)
    print(f"{name}: loss {first:.4f} -> {last:.4f} in {steps} Adam steps")
    return net, params


rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8))
Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]

train("ResidualRegressor", residual_regressor(8, 1), X, Y)
train("ReconstructingRegressor", reconstructing_regressor(8, 1), X, Y)

# MyMultiLayer: two inputs, three outputs X1 + X2, X1 * X2, X1 / X2, each read by a dense head.
X1, X2 = Input(2), Input(2)
heads = [Dense(1)(node) for node in (Add()([X1, X2]), Multiply()([X1, X2]), Divide()([X1, X2]))]
multi = Model([X1, X2], heads, losses="mse", loss_weights=[1.0, 1.0, 0.5])
A, B = rng.normal(size=(256, 2)), rng.uniform(1, 2, size=(256, 2))
targets = [A.sum(1, keepdims=True), (A * B).sum(1, keepdims=True), (A / B).sum(1, keepdims=True)]
train("MyMultiLayer heads", multi, [A, B], targets)

# Lambda(exp), noise in training only, an L1 regulariser and negative weights set to 0 after each step.
x = Input(8)
h = GaussianNoise(0.1)(Lambda("exponential")(Dense(16, activation="tanh")(x)))
out = Dense(1, activation="selu", regularizer=symdl.rule("l1", lam=0.001), constraint="non_neg")(h)
net, params = train("noise + L1 + positive weights", Model(x, out), X, Y + 2)
print(f"  smallest output weight after training: {params['W2'].min():.3g} (projected onto W >= 0)")

# The generalised backprop of a small residual graph with a shared block, proven at concrete sizes.
x = Input(2)
h = Dense(2, activation="tanh")(x)
block = Dense(2, activation="sigmoid")
small = Model(x, Dense(1)(block(Add()([h, block(h)]))), losses="mse")
proofs = prove_graph(small)
print(f"proof at concrete sizes: {sum(map(bool, proofs.values()))}/{len(proofs)} parameter gradients equal sp.diff(C)")
wrong = prove_graph(small, mutation="last_use_only")
print(f"only the last use of the shared block: refuted for {[k.split()[0] for k, p in wrong.items() if not p]}")
