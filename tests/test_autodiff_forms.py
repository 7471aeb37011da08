"""Autodiff of the exported code is exact at ties: jax.grad / torch autograd of ``NAME_forward`` and of the backward pass.

The stable softplus max(z, 0) + log1p(e^{−|z|}) has kinks at z = 0 whose
library slopes do not add up to σ(0) = 1/2; the exports print branch forms
instead (``NamedFunction.differentiable``, ``one_sided_kinks``). Expected
values are symdl's own symbolic derivatives (numpy kernels), at 0, ±tiny,
±1000 and random points, and the first derivative also against a wrong
variant (the old stable form's autodiff), so the check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.codegen.kernel import compile_kernel
from symdl.export import to_jax, to_torch
from symdl.rulebook.continuity import boundary_properties

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)

POINTS = np.array([0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e-8, -1e-8, 1000.0, -1000.0, 0.37, -2.5, 30.0, -30.0])
RULES = ("softplus", "log_sigmoid", "mish", "silu", "sigmoid")


def _forward(name: str, backend: str):
    export = to_jax(name) if backend == "jax" else to_torch(name)
    module = {}
    exec(compile(export.__source__, f"<{name}>", "exec"), module)  # noqa: S102  (symdl's generated module text)
    return module[f"{name}_forward"]


def _jax_grad(f, z: np.ndarray) -> np.ndarray:
    return np.asarray(jax.vmap(jax.grad(f))(jax.numpy.asarray(z)))


def _torch_grad(f, z: np.ndarray) -> np.ndarray:
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


def _close(got: np.ndarray, want: np.ndarray) -> None:
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", RULES)
def test_autodiff_of_forward_is_the_symbolic_derivative(name):
    r = symdl.rule(name)
    want = r.numeric_derivative()(POINTS)
    _close(_jax_grad(_forward(name, "jax"), POINTS), want)
    _close(_torch_grad(_forward(name, "torch"), POINTS), want)


@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_bce_with_logits_autodiff_at_ties(y):
    r = symdl.rule("binary_cross_entropy")
    a = symdl.rule("binary_cross_entropy").inputs[0]
    want = r.numeric_derivative(a)(POINTS, np.full_like(POINTS, y))
    fj, ft = _forward("binary_cross_entropy", "jax"), _forward("binary_cross_entropy", "torch")
    _close(np.asarray(jax.vmap(jax.grad(fj), (0, None))(jax.numpy.asarray(POINTS), y)), want)
    _close(_torch_grad(lambda t: ft(t, torch.tensor(y, dtype=torch.float64)), POINTS), want)


@pytest.mark.parametrize("name", ["softplus", "mish", "log_sigmoid"])
def test_second_derivative_through_the_exported_backward(name):
    r = symdl.rule(name)
    (z,) = r.inputs
    second = compile_kernel(sp.diff(r.derivative(), z), [z], "second")(POINTS)
    f = to_jax(name)
    _close(np.asarray(jax.vmap(jax.grad(jax.grad(f)))(jax.numpy.asarray(POINTS))), second)
    cls = to_torch(name)
    t = torch.tensor(POINTS, requires_grad=True)
    (g,) = torch.autograd.grad(cls.apply(t).sum(), t, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), t)
    _close(h.numpy(), second)


def test_the_old_stable_form_is_refuted():
    # The check above can fail: autodiff of the plain stable form misses σ(0) at the tie.
    stable = lambda t: jax.numpy.maximum(t, 0) + jax.numpy.log1p(jax.numpy.exp(-jax.numpy.abs(t)))  # noqa: E731
    assert abs(float(jax.grad(stable)(0.0)) - 0.5) > 0.1
    assert float(_jax_grad(_forward("softplus", "jax"), np.zeros(1))[0]) == 0.5


@settings(max_examples=25, deadline=None)
@given(st.floats(-1000, 1000))
def test_softplus_autodiff_everywhere(x):
    z = np.array([x, -x])
    want = symdl.rule("softplus").numeric_derivative()(z)
    _close(_jax_grad(_forward("softplus", "jax"), z), want)
    _close(_torch_grad(_forward("softplus", "torch"), z), want)


#: Hypothesis' draws (tests/test_stability.py) whose comparison holds symdl's stable forms (Piecewise): the printed
#: derivative's one-sided kinks put a mask into that comparison, which SymPy folded into an if-then-else without end.
LOG_COMPARISONS = ("max(-(log(sigmoid(2*z))), -(log(cosh(z))))", "min(-(log(sigmoid(2*z))), -(log(cosh(z))))")


def _log_comparison_reference(text: str, t):
    """The text in torch by hand: −log σ(2z) and −log cosh z = −(|z| + log1p(e^{−2|z|}) − log 2), max or min."""
    a = -torch.nn.functional.logsigmoid(2 * t)
    b = -(t.abs() + torch.log1p(torch.exp(-2 * t.abs())) - np.log(2.0))
    return torch.maximum(a, b) if text.startswith("max") else torch.minimum(a, b)


@pytest.mark.parametrize("text", LOG_COMPARISONS)
def test_a_comparison_of_stable_forms_exports_with_torch_autograd_values(text):
    r = symdl.formula_rule(text)
    t = torch.tensor(POINTS, requires_grad=True)
    value = to_torch(r).apply(t)
    (grad,) = torch.autograd.grad(value.sum(), t)
    s = torch.tensor(POINTS, requires_grad=True)
    want = _log_comparison_reference(text, s)
    (want_grad,) = torch.autograd.grad(want.sum(), s)
    _close(value.detach().numpy(), want.detach().numpy())
    _close(grad.numpy(), want_grad.numpy())
    _close(r.numeric_derivative()(POINTS), want_grad.numpy())
    # σ(2z) < 1 ≤ cosh z: the two never meet, so no kinks (decided, not given up: symdl check lists no boundary)
    assert r.kinks == ()
    report = boundary_properties(r)
    assert report.undecided == "" and report.boundaries == [], report
    x = np.linspace(-5.0, 5.0, 41)
    step = 1e-6
    fd = (r.numeric()(x + step) - r.numeric()(x - step)) / (2 * step)
    np.testing.assert_allclose(r.numeric_derivative()(x), fd, rtol=1e-7, atol=1e-8)
