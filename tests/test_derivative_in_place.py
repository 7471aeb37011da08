"""σ' built in the activation's dead buffer (``numpy.square(a, out=a)``, ``numpy.subtract(1, a, out=a)``, ``d *= a``):
the same bits as the expression printed whole, in numpy and torch, networks and graphs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import symdl
from symdl.backends.registry import get_backend
from symdl.codegen.inplace import exact_in_place
from symdl.codegen.statements import StatementPrinter
from symdl.export import network_module_source
from symdl.graph import Add, Dense, Input, Model

A = sp.Symbol("a", real=True)


def _printed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print σ' as one expression again (``d *= 1 - a**2``), as before the in-place form."""
    monkeypatch.setattr(StatementPrinter, "_factor", lambda self, factor, live, other: self._code(factor))


@settings(max_examples=30)
@given(arrays(np.float64, 7, elements=st.floats(-1e3, 1e3)), st.sampled_from(["float32", "float64"]))
def test_steps_equal_the_printed_expression(values, dtype):
    backend = get_backend("numpy")
    printer = backend.printer()
    for expr in (1 - A**2, A**2, 3 - A, sp.Rational(5, 2) + A, -2 * A, sp.Mul(2, 1 - A**2, evaluate=False)):
        steps = exact_in_place(expr, "a", backend.out_functions, printer.doprint)
        assert steps, expr
        a = values.astype(dtype)
        namespace = {"numpy": np, "a": a.copy(), "_t": a.dtype.type, "_dtype": a.dtype}
        expected = eval(printer.doprint(expr), dict(namespace))  # noqa: S307 - the printer's own output
        exec("\n".join(steps), namespace)  # noqa: S102
        assert namespace["a"].dtype == a.dtype
        np.testing.assert_array_equal(namespace["a"], expected)


def test_other_shapes_are_left_to_the_printed_form():
    functions = get_backend("numpy").out_functions
    b = sp.Symbol("b", real=True)
    for expr in (A * (1 - A), -A * (A - 1), sp.exp(A), A + b, A**3, A, 1 - A**2 * b):
        steps = exact_in_place(expr, "a", functions, str)
        assert steps in (None, []), (expr, steps)


def _data(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    return rng.standard_normal((9, 3)).astype(dtype), rng.standard_normal((9, 2)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_network_step_is_bit_for_bit_the_printed_form(dtype, monkeypatch):
    network = symdl.Network([3, 5, 4, 2], activation="tanh", output_activation="tanh", loss="mse")
    net = network.compile(dtype)
    assert net.source().count(", out=a") == 12  # a¹, a², a³: square and subtract, in loss_and_grad and train_step
    X, Y = _data(dtype)
    params = net.init(2)
    loss, grads = net.loss_and_grad(params, X, Y)
    _printed_whole(monkeypatch)
    whole = network.compile(dtype)
    assert "out=a" not in whole.source() and "1 - a2**2" in whole.source()
    loss0, grads0 = whole.loss_and_grad(params, X, Y)
    assert loss == loss0 and list(grads) == list(grads0)
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads0[k])
    stepped, stepped0 = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
    net.train_step(stepped, X, Y, 0.1)
    whole.train_step(stepped0, X, Y, 0.1)
    for k in stepped:
        np.testing.assert_array_equal(stepped[k], stepped0[k])


def test_torch_module_is_bit_for_bit_the_printed_form(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    network = symdl.Network([3, 5, 4, 2], activation="tanh", loss="mse")
    source = network_module_source(network, "torch", "float32")
    assert "torch.square(a1, out=a1)" in source and "torch.sub(1, a1, out=a1)" in source
    module = load_module(source, tmp_path, "inplace_torch")
    _printed_whole(monkeypatch)
    whole = load_module(network_module_source(network, "torch", "float32"), tmp_path, "whole_torch")
    params = {k: torch.from_numpy(v) for k, v in network.compile("float32").init(1).items()}
    X, Y = (torch.from_numpy(a) for a in _data("float32"))
    (loss, grads), (loss0, grads0) = module.loss_and_grad(params, X, Y), whole.loss_and_grad(params, X, Y)
    assert torch.equal(loss, loss0)
    for k in grads:
        assert torch.equal(grads[k], grads0[k]), k


def test_graph_step_is_bit_for_bit_the_printed_form(monkeypatch):
    """A residual graph: h is read by the skip connection's sum, so only dead activations are overwritten."""
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    out = Dense(2)(Add()([Dense(4, activation="tanh")(h), h]))
    model = Model(x, out, "mse")
    compiled = model.compile("float64")
    assert "out=" in compiled.source() and "numpy.subtract(1, " in compiled.source()
    X, Y = _data("float64")
    params = compiled.init(0)
    loss, grads = compiled.loss_and_grad(params, X, Y)
    _printed_whole(monkeypatch)
    loss0, grads0 = model.compile("float64").loss_and_grad(params, X, Y)
    assert loss == loss0
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads0[k])
