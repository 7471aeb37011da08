"""A generated module's own ``fit`` stops where :func:`symdl.fit` stops, in the same line: at the step whose loss is not
finite, and before the first step when batch norm would train on a batch of 1 row (one check in
:mod:`symdl.backends.runtime_fit`, copied into the modules and called by the library)."""

from __future__ import annotations

import numpy as np
import pytest
from fit_helpers import copy, data, same_weights
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.export.standalone import network_module
from symdl.graph import BatchNorm, Dense, Input, Model

_BACKENDS = ("numpy", "torch", "jax")


def _source(network: symdl.Network, backend: str) -> str:
    return network_module(network) if backend == "numpy" else network_module_source(network, backend)


def _arrays(params: dict, backend: str) -> dict:
    """params as the backend's arrays (float64 copies)."""
    if backend == "torch":
        import torch

        return {k: torch.tensor(v) for k, v in params.items()}
    if backend == "jax":
        import jax.numpy as jnp

        return {k: jnp.asarray(v) for k, v in params.items()}
    return copy(params)


def _message(run) -> str:
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):  # the weights blow up
        run()
    return str(error.value)


@pytest.fixture(scope="module")
def diverging(tmp_path_factory):
    """Plain SGD at lr 1000: (network, compiled, modules by backend)."""
    folder = tmp_path_factory.mktemp("diverging")
    network = symdl.Network([3, 8, 2], optimizer=symdl.optimizer("sgd", lr=1e3))
    modules = {}
    for backend in _BACKENDS:
        pytest.importorskip(backend)
        modules[backend] = load_module(_source(network, backend), folder, f"diverging_{backend}")
    return network, network.compile(), modules


def test_a_diverging_run_stops_at_the_same_step_in_the_same_line_in_every_module_and_the_library(diverging):
    """The module's fit logged inf/NaN and trained on; now each stops where symdl.fit stops, with its line (a JAX
    module's saying that the caller's params are unchanged: it said they held the steps up to it)."""
    _, compiled, modules = diverging
    X, Y = data(50, 1)
    options = dict(epochs=50, batch_size=8, verbose=0)
    expected = _message(lambda: compiled.fit(compiled.init(0), X, Y, **options))
    assert expected.startswith("fit: the loss is ") and " at epoch " in expected and ", step " in expected
    assert expected.endswith(": training diverged (a smaller learning rate?) or the data hold NaN; params and state "
                             "hold the steps up to it")
    # JAX's arrays are immutable: its train_step returns new ones, and the caller's params are the ones given
    functional = expected.replace("params and state hold the steps up to it", "the params and state given to fit are "
                                  "unchanged (train_step returns new arrays, as JAX's are immutable)")
    assert functional != expected
    for backend, module in modules.items():
        given = _arrays(compiled.init(0), backend)
        before = {k: np.asarray(v).copy() for k, v in given.items()}
        said = _message(lambda m=module, p=given: m.fit(p, X, Y, **options))
        assert said == (functional if backend == "jax" else expected), backend
        assert same_weights(given, before) == (backend == "jax"), backend  # numpy and torch stepped in place
    # symdl.fit driving a module says it in the same words
    for backend, module in modules.items():
        given = _arrays(compiled.init(0), backend)
        said = _message(lambda m=module, p=given: symdl.fit(m, p, X, Y, state=m.init_state(p), **options))
        assert said == (functional if backend == "jax" else expected), backend


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A plain gradient descent numpy module (its fit takes lr=; symdl.fit passes the lr as its state)."""
    network = symdl.Network([3, 8, 2])
    return network.compile(), load_module(network_module(network), tmp_path_factory.mktemp("plain"), "diverging_plain")


@settings(max_examples=10, deadline=None)
@given(lr=st.floats(1.0, 1e4), batch_size=st.integers(1, 12), seed=st.integers(0, 2**32), init=st.integers(0, 99))
def test_the_module_fit_stops_as_symdl_fit_driving_it_with_the_same_params(plain, lr, batch_size, seed, init):
    """Bit for bit: the same line, and params hold the same steps up to it (the step on the non-finite loss too);
    a draw that does not diverge trains to the same history in both."""
    compiled, module = plain
    X, Y = data(30, 2)
    start = compiled.init(init)
    options = dict(epochs=40, batch_size=batch_size, seed=seed, verbose=0)
    p, q = copy(start), copy(start)
    with np.errstate(all="ignore"):
        try:
            reference = symdl.fit(module, q, X, Y, state=lr, **options)
        except ValueError as error:
            expected = str(error)
        else:
            assert module.fit(p, X, Y, lr=lr, **options).history == reference.history and same_weights(p, q)
            return
    assert expected.startswith("fit: the loss is ")
    assert _message(lambda: module.fit(p, X, Y, lr=lr, **options)) == expected
    assert same_weights(p, q)


@pytest.mark.parametrize(("samples", "batch_size"), [(13, 4), (9, 1), (1, 32)])
def test_batch_norm_with_a_batch_of_one_row_is_refused_before_the_first_step_in_every_module(tmp_path, samples, batch_size):
    """The modules' train_step refused it mid-run, after the steps before it; now fit refuses the run first, as
    symdl.fit refuses it for the compiled network and for the module."""
    network = symdl.Network([3, 4, 2], batchnorm=True, optimizer="adam")
    compiled = network.compile()
    X, Y = data(samples, 3)
    expected = (f"fit: {samples} samples in batches of {batch_size} leave a batch of 1 row, and batch norm trains on at "
                "least 2 (its running variance is m/(m−1)·σ²_B); choose another batch size")
    assert _message(lambda: compiled.fit(compiled.init(0), X, Y, epochs=2, batch_size=batch_size, verbose=0)) == expected
    for backend in _BACKENDS:
        pytest.importorskip(backend)
        module = load_module(_source(network, backend), tmp_path, f"bn_{backend}_{samples}_{batch_size}")
        params = _arrays(compiled.init(0), backend)
        before = {k: np.asarray(v).copy() for k, v in params.items()}
        assert _message(lambda m=module, p=params: m.fit(p, X, Y, epochs=2, batch_size=batch_size, verbose=0)) == expected
        assert same_weights(params, before), backend  # no step was taken
        start = module.init_state(params)
        assert _message(lambda m=module, p=params, s=start: symdl.fit(m, p, X, Y, state=s, epochs=2,
                                                                    batch_size=batch_size, verbose=0)) == expected
    if samples > 1:  # batches of 2 rows or more train
        module = load_module(_source(network, "numpy"), tmp_path, f"bn_ok_{samples}_{batch_size}")
        fine = next(b for b in range(2, samples + 1) if samples % b != 1)  # every batch of 2 rows or more
        assert len(module.fit(compiled.init(0), X, Y, epochs=2, batch_size=fine, verbose=0).history["loss"]) == 2


def test_a_graph_module_with_keras_batch_norm_trains_on_a_batch_of_one_row(tmp_path):
    """Keras' BatchNormalization moves its variance by the biased σ²_B, defined for 1 row: no refusal, as the compiled
    graph's fit has none."""
    x = Input(3, name="X")
    model = Model(x, Dense(2)(BatchNorm()(Dense(4, activation="tanh")(x))), losses="mse")
    compiled = model.compile(optimizer="adam")
    module = load_module(graph_module_source(model, "numpy", optimizer="adam"), tmp_path, "graph_bn")
    X, Y = data(9, 4)
    ours = module.fit(compiled.init(0), X, Y, epochs=2, batch_size=4, verbose=0)
    reference = compiled.fit(compiled.init(0), X, Y, epochs=2, batch_size=4, verbose=0)
    assert ours.history == reference.history and len(ours.history["loss"]) == 2


def test_evaluate_and_the_validation_name_the_batch_whose_loss_overflows():
    """Weights ×1e200 give a finite loss on rows of zeros and an overflow elsewhere: the loss mean refused it after
    the last batch ('loss: values: contains NaN or infinity …'), naming no batch, as fit's own loop once did."""
    compiled = symdl.Network([3, 8, 2], optimizer=symdl.optimizer("sgd", lr=0.0)).compile()
    huge = {k: v * 1e200 for k, v in compiled.init(0).items()}
    X, Y = data(30, 1)
    X[:10] = 0.0  # batch 1 (10 rows): the output is the biases' (zeros)
    expected = ": the loss is inf on batch 2 of 3: the model overflowed on these inputs, or its parameters hold NaN or infinity"
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):
        symdl.training.evaluate(compiled, huge, X, Y, batch_size=10)
    assert str(error.value) == "evaluate" + expected
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):  # lr 0: the training rows stay finite
        compiled.fit(huge, X[:10], Y[:10], epochs=1, batch_size=5, validation=(X, Y), verbose=0)
    assert str(error.value) == "validation" + expected.replace("2 of 3", "1 of 1")  # batches of 1024 rows
    assert symdl.training.evaluate(compiled, huge, X[:10], Y[:10], batch_size=10)["loss"] < np.inf
