"""``symdl.fit`` trains generated modules (numpy standalone, JAX, PyTorch) as it trains the compiled network.

A generated module is a plain Python module of functions: ``fit`` finds its
``train_step``, ``forward``, ``inference_loss`` and ``init_state`` (and the ``seed``
parameter of a network with dropout) the way it finds a compiled network's.
The numpy module is the compiled network's code, so the runs agree bit for bit;
JAX and PyTorch agree to rounding in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module

import symdl
from symdl.export.network_modules import network_module_source
from symdl.export.standalone import network_module
from symdl.metrics import metric


def data(n: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.tanh(X[:, :2] - X[:, 2:])


def convert(params: dict, backend: str) -> dict:
    if backend == "torch":
        import torch

        return {k: torch.tensor(v) for k, v in params.items()}
    if backend == "jax":
        import jax.numpy as jnp

        return {k: jnp.asarray(v) for k, v in params.items()}
    return {k: v.copy() for k, v in params.items()}


def train(model, params, **options):
    X, Y = data()
    return symdl.fit(model, params, X, Y, epochs=3, batch_size=8, seed=5, verbose=0, metrics=[metric("mae")],
                     validation=data(12, 4), **options)


@pytest.mark.parametrize("dropout", [None, 0.25], ids=["plain", "dropout"])
def test_the_numpy_module_trains_bit_for_bit_like_the_compiled_network(tmp_path, dropout):
    network = symdl.Network([3, 6, 2], activation="tanh", optimizer="adam", dropout=dropout)
    compiled = network.compile()
    start = compiled.init(seed=1)
    module = load_module(network_module(network), tmp_path, "net_fit_numpy")
    ours = train(module, convert(start, "numpy"))
    reference = train(compiled, convert(start, "numpy"))
    assert ours.history == reference.history
    assert all(np.array_equal(ours.weights[k], reference.weights[k]) for k in start)
    assert ours.history["loss"][-1] < ours.history["loss"][0]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_jax_and_torch_modules_train_like_the_compiled_network(tmp_path, backend):
    lib = pytest.importorskip(backend)
    network = symdl.Network([3, 6, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.01))
    compiled = network.compile()
    start = compiled.init(seed=1)
    module = load_module(network_module_source(network, backend), tmp_path, f"net_fit_{backend}")
    if backend == "jax":
        with lib.enable_x64(True):
            ours = train(module, convert(start, backend))
    else:
        ours = train(module, convert(start, backend))
    reference = train(compiled, convert(start, "numpy"))
    assert set(ours.history) == set(reference.history) == {"loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"}
    for key, values in reference.history.items():
        np.testing.assert_allclose(ours.history[key], values, rtol=1e-10, err_msg=key)
    for k in start:
        np.testing.assert_allclose(np.asarray(ours.weights[k]), reference.weights[k], rtol=1e-10, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_restored_best_weights_stay_the_modules_arrays(tmp_path, backend):
    """EarlyStopping(restore_best_weights=True) puts back the best epoch's params as the module's own arrays
    (torch: into the caller's tensors; JAX: jax arrays), float64 kept, equal to the compiled network's."""
    lib = pytest.importorskip(backend)
    network = symdl.Network([3, 4, 2], activation="tanh", optimizer=symdl.optimizer("adam", lr=0.05))
    compiled = network.compile()
    start = compiled.init(seed=1)
    module = load_module(network_module_source(network, backend), tmp_path, f"net_restore_{backend}")
    X, Y = data()

    def run(model, params, epochs, stop):
        # min_delta 1e9: epoch 0 is the best and the only improvement; epoch 1 stops and restores epoch 0's params
        early = symdl.training.EarlyStopping(monitor="loss", patience=0, min_delta=1e9, restore_best_weights=True)
        return symdl.fit(model, params, X, Y, epochs=epochs, batch_size=8, seed=5, verbose=0,
                         early_stopping=early if stop else None)

    params = convert(start, backend)
    if backend == "jax":
        with lib.enable_x64(True):
            ours = run(module, params, 3, True)
    else:
        ours = run(module, params, 3, True)
    best = run(compiled, convert(start, "numpy"), 1, False).weights  # the params after epoch 0
    assert ours.stopped_epoch == 1
    for k in start:
        got = ours.weights[k]
        if backend == "torch":
            assert isinstance(got, lib.Tensor) and got.dtype == lib.float64, k
            assert got is params[k]  # written into the caller's tensor, as train_step updates it
        else:
            assert isinstance(got, lib.Array) and got.dtype == np.float64, k
        np.testing.assert_allclose(np.asarray(got), best[k], rtol=1e-10, atol=1e-13, err_msg=k)
