"""Quantisation-aware training's rounding straight-through estimator (Bengio et al. 2013) as a formula layer.

``round(x)`` with ``gradient="1"``, compiled to torch and JAX, against what PyTorch users write by hand,
``x + (x.round() - x).detach()`` (and JAX's ``x + stop_gradient(round(x) - x)``): the same values (ties to even
included) and the same gradients under each framework's autodiff.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli.main import main
from symdl.export import rule_module_source, to_jax, to_torch

torch = pytest.importorskip("torch")

# integers and half-integers (the ties) as often as anything else
values = st.one_of(st.floats(-1000, 1000, allow_nan=False), st.integers(-2001, 2001).map(lambda k: k / 2))
weights = st.lists(st.floats(-3, 3, allow_nan=False, allow_subnormal=False), min_size=8, max_size=8)  # XLA flushes subnormals


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=8), weights, st.sampled_from([torch.float32, torch.float64]))
def test_torch_export_is_the_detach_trick(xs, w, dtype):
    Ste = to_torch("round(x)", wrt="x", gradient="1")
    weight = torch.tensor(w[: len(xs)], dtype=dtype)
    x = torch.tensor(xs, dtype=dtype, requires_grad=True)
    ours = Ste.apply(x)
    (ours * weight).sum().backward()
    ours_grad, x.grad = x.grad.clone(), None
    theirs = x + (x.round() - x).detach()
    (theirs * weight).sum().backward()
    assert ours.dtype == dtype and torch.equal(ours, x.round().detach())
    assert torch.allclose(ours, theirs.detach(), rtol=0, atol=float(torch.finfo(dtype).eps) * 1000)  # x + (r − x) rounds
    assert torch.equal(ours_grad, x.grad) and torch.equal(ours_grad, weight)


@settings(max_examples=40, deadline=None)
@given(st.lists(values, min_size=1, max_size=8), weights)
def test_jax_export_is_the_stop_gradient_trick_and_torch_agrees(xs, w):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    jax.config.update("jax_enable_x64", True)
    ste = to_jax("round(x)", wrt="x", gradient="1")
    weight = jnp.asarray(w[: len(xs)], dtype=jnp.float64)
    x = jnp.asarray(xs, dtype=jnp.float64)
    ours, ours_grad = jax.value_and_grad(lambda v: jnp.sum(ste(v) * weight))(x)
    theirs, theirs_grad = jax.value_and_grad(lambda v: jnp.sum((v + jax.lax.stop_gradient(jnp.round(v) - v)) * weight))(x)
    assert np.array_equal(np.asarray(ste(x)), np.round(np.asarray(xs)))
    assert np.array_equal(np.asarray(ours_grad), np.asarray(theirs_grad)) and np.array_equal(np.asarray(ours_grad), w[: len(xs)])
    assert abs(float(ours) - float(theirs)) <= 1e-9 * max(1.0, abs(float(theirs)))
    # the torch export of the same formula agrees with the JAX one, value and gradient
    xt = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    (to_torch("round(x)", wrt="x", gradient="1").apply(xt) * torch.tensor(w[: len(xs)], dtype=torch.float64)).sum().backward()
    assert np.array_equal(xt.grad.numpy(), np.asarray(ours_grad))


def test_the_declared_gradient_is_reported_as_declared_and_the_module_prints_it(tmp_path):
    Ste = to_torch("round(x)", wrt="x", gradient="1")
    summary = Ste.__declared_gradient__.summary()
    assert summary.startswith("declared gradient, not proven equal to the derivative") and "∂/∂x is 0, declared 1" in summary
    source = rule_module_source("round(x)", "torch", wrt="x", gradient="1")
    assert "torch.round(x)" in source and "the gradient is the declared gradient (gradient=)" in source
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["codegen", "round(x)", "--wrt", "x", "--backend", "jax", "--gradient", "1", "-o", str(tmp_path / "ste.py")])
    assert code in (0, None), err.getvalue()
    assert "jnp.round(x)" in (tmp_path / "ste.py").read_text(encoding="utf-8")


@settings(max_examples=30, deadline=None)
@given(st.lists(values, min_size=1, max_size=8), weights)
def test_the_detach_trick_written_as_a_formula_derives_the_same_estimator(xs, w):
    """x + stop_gradient(round(x) − x) in symdl's grammar: its derivative is 1 (derived, not declared), and the torch
    module prints PyTorch's pattern itself, so values and gradients are the hand-written ones bit for bit."""
    r = symdl.formula_rule("x + stop_gradient(round(x) - x)", wrt="x")
    assert r.derivative() == 1
    Layer = to_torch(r, module=True)
    assert issubclass(Layer, torch.nn.Module)
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    weight = torch.tensor(w[: len(xs)], dtype=torch.float64)
    ours = Layer()(x)
    (ours * weight).sum().backward()
    ours_grad, x.grad = x.grad.clone(), None
    theirs = x + (x.round() - x).detach()
    (theirs * weight).sum().backward()
    assert torch.equal(ours, theirs.detach()) and torch.equal(ours_grad, x.grad)
