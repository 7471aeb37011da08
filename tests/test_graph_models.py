"""The Keras notebook's models (sections 12.3.5–12.3.8) transcribed with symdl.graph: each trains on synthetic
data with its loss falling, and its gradient passes symdl.testing's finite-difference check."""

from __future__ import annotations

import numpy as np
import pytest

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
from symdl.testing.gradcheck import assert_grad_close
from symdl.testing.network_check import flatten_params, unflatten_params


def residual_block(n_layers: int, n_neurons: int):
    """The notebook's ResidualBlock: n dense ELU layers (He-normal) and the skip inputs + Z; one weight set per block."""
    hidden = [Dense(n_neurons, activation="elu", init="he_normal") for _ in range(n_layers)]

    def call(inputs):
        Z = inputs
        for layer in hidden:
            Z = layer(Z)
        return Add()([inputs, Z])

    return call


def residual_regressor(n_inputs: int, output_dim: int) -> Model:
    """ResidualRegressor: dense → the same block1 four times → block2 → dense output."""
    inputs = Input(n_inputs)
    block1, block2 = residual_block(2, 30), residual_block(2, 30)
    Z = Dense(30, activation="elu", init="he_normal")(inputs)
    for _ in range(1 + 3):
        Z = block1(Z)
    Z = block2(Z)
    return Model(inputs, Dense(output_dim)(Z), losses="mse")


def reconstructing_regressor(n_inputs: int, output_dim: int) -> Model:
    """ReconstructingRegressor: five SELU layers (LeCun-normal), output, and 0.05·mean((reconstruction − inputs)²).

    symdl's mse is ½(a − y)², so Keras' loss="mse", mean((a − y)²), is mse with reduction "mean" weighted 2, and
    Keras' mean((r − x)²) weighted 0.05 is mse with reduction "mean" weighted 0.1.
    """
    inputs = Input(n_inputs)
    Z = inputs
    for _ in range(5):
        Z = Dense(30, activation="selu", init="lecun_normal")(Z)
    model = Model(inputs, Dense(output_dim)(Z), losses="mse", loss_weights=[2.0], reduction="mean")
    model.add_loss(Dense(n_inputs)(Z), "mse", target=inputs, weight=0.1, reduction="mean")
    return model


def _data(n_inputs: int, m: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n_inputs))
    return X, np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]


def _trains_and_checks(model: Model, X, Y, steps: int = 60, lr: float = 0.01, optimizer: object = None) -> None:
    c = model.compile("float64", optimizer=optimizer)
    params = c.init(0)
    f = lambda theta: c.loss(unflatten_params(theta, params), X, Y)  # noqa: E731
    grad = lambda theta: flatten_params(c.loss_and_grad(unflatten_params(theta, params), X, Y)[1])  # noqa: E731
    # ELU and SELU are not twice differentiable at 0: a short step keeps the difference quotient accurate.
    assert_grad_close(f, grad, flatten_params(params), directions=8, step=1e-5)
    first = c.loss(params, X, Y)
    step = (c.init_state(params),) if optimizer is not None else (lr,)
    for _ in range(steps):
        c.train_step(params, X, Y, *step)
    assert c.loss(params, X, Y) < 0.7 * first


def test_residual_regressor_shares_block1_four_times_and_trains():
    model = residual_regressor(8, 1)
    # dense, block1 (2 layers), block2 (2 layers), output: 6 weight sets, block1's used 4 times
    assert sorted(model.parameter_shapes) == sorted(f"{s}{l}" for l in range(1, 7) for s in "Wb")
    labels = [label for label, _ in model.equations().backward if label.startswith(("dC/dW2", "dC/dW3"))]
    assert labels == ["dC/dW3: sum over 4 uses", "dC/dW2: sum over 4 uses"]
    _trains_and_checks(model, *_data(8), optimizer=symdl.optimizer("adam", lr=0.002))


def test_reconstructing_regressor_with_its_auxiliary_loss_trains():
    model = reconstructing_regressor(8, 1)
    X, Y = _data(8)
    _trains_and_checks(model, X, Y)
    for output_dim in (1, 3):
        c = reconstructing_regressor(8, output_dim).compile()
        params = c.init(0)
        Y = np.tanh(X[:, :output_dim] + X[:, 1:2])
        Z = X
        for l in range(1, 6):
            Z = Z @ params[f"W{l}"].T + params[f"b{l}"]
            Z = 1.0507009873554805 * np.where(Z > 0, Z, 1.6732632423543772 * np.expm1(Z))
        prediction, aux_head = Z @ params["W6"].T + params["b6"], Z @ params["W7"].T + params["b7"]
        # the notebook's objective: compile(loss="mse") plus add_loss(0.05 * mean((reconstruction − inputs)²))
        keras = np.mean((prediction - Y) ** 2) + 0.05 * np.mean((aux_head - X) ** 2)
        np.testing.assert_allclose(c.loss(params, X, Y), keras, rtol=1e-12)


def test_my_multi_layer_two_inputs_three_outputs():
    X1, X2 = Input(2), Input(2)
    outputs = [Add()([X1, X2]), Multiply()([X1, X2]), Divide()([X1, X2])]
    model = Model([X1, X2], outputs, losses=None)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 2)), rng.uniform(1, 2, size=(5, 2))
    with pytest.raises(ValueError, match="no loss"):
        model.compile()
    model.add_loss(outputs[0], "mse")
    s, p, q = model.compile().forward({}, a, b)
    np.testing.assert_array_equal(s, a + b)
    np.testing.assert_array_equal(p, a * b)
    np.testing.assert_array_equal(q, a / b)


def test_gaussian_noise_in_training_identity_in_inference():
    x = Input(3)
    model = Model(x, Dense(1)(GaussianNoise(0.5)(Dense(4, activation="tanh")(x))))
    X, Y = _data(3)
    c = model.compile()
    params = c.init(0)
    clean = Model(x, Dense(1)(Dense(4, activation="tanh")(x))).compile()
    np.testing.assert_allclose(c.forward(params, X), clean.forward(params, X), rtol=0, atol=0)
    assert c.loss(params, X, Y, seed=1) != clean.loss(params, X, Y)  # noise in training
    assert c.loss(params, X, Y, seed=1) == c.loss(params, X, Y, seed=1)  # seeded
    first = c.loss(params, X, Y, seed=0)
    for step in range(60):
        c.train_step(params, X, Y, 0.05, seed=step)
    assert c.loss(params, X, Y, seed=0) < 0.7 * first


def test_lambda_exp_my_dense_regulariser_and_positive_weights():
    x = Input(3)
    Z = Lambda("exponential")(Dense(4, activation="tanh")(x))
    out = Dense(1, activation="selu", regularizer=symdl.rule("l1", lam=0.01), constraint="non_neg")(Z)
    model = Model(x, out)
    X, Y = _data(3)
    Y = Y + 3.0
    c = model.compile()
    params = c.init(0)
    _trains_and_checks(model, X, Y, lr=0.02)
    for _ in range(5):
        c.train_step(params, X, Y, 0.05)
    assert (params["W2"] >= 0).all()


def test_symdl_fit_trains_a_one_input_graph():
    x = Input(3)
    block = Dense(8, activation="tanh")
    h = Dense(8, activation="tanh")(x)
    model = Model(x, Dense(1)(block(Add()([h, block(h)]))))
    graph = model.compile(optimizer=symdl.optimizer("adam", lr=0.01))
    params = graph.init(0)
    X, Y = _data(3, m=128)
    history = symdl.fit(graph, params, X, Y, epochs=5, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 5 and losses[-1] < 0.8 * losses[0]


def test_a_loss_with_a_constant_derivative_seeds_one_value_per_output():
    """ℓ(a, y) = a − y has ℓ' = 1: the seed c·ℓ'/m is an array of the output's shape (it was a scalar, and
    loss_and_grad failed), next to an mse head; central differences agree with the printed gradient."""
    linear = symdl.formula_rule("a - y", wrt="a", symbols=["y"])
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    model = Model(x, [Dense(2)(h), Dense(1)(h)], losses=[linear, "mse"], loss_weights=[0.5, 1.0])
    c = model.compile("float64")
    params = c.init(0)
    rng = np.random.default_rng(1)
    X, Y1, Y2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    f = lambda theta: c.loss(unflatten_params(theta, params), X, [Y1, Y2])  # noqa: E731
    grad = lambda theta: flatten_params(c.loss_and_grad(unflatten_params(theta, params), X, [Y1, Y2])[1])  # noqa: E731
    assert_grad_close(f, grad, flatten_params(params), directions=8, step=1e-5)
    _, grads = c.loss_and_grad(params, X, [Y1, Y2])
    np.testing.assert_allclose(grads["b2"], [0.5, 0.5])  # ∂C/∂b = c·Σ ℓ'/m = 0.5 for each output of the linear head
