"""The modern activations against torch.nn.functional: values and gradients, float64 and float32.

The grid holds ±1000, the kinks, tiny values and a sweep; the tolerance is tied to the dtype: rtol 8ε, and an
absolute 8ε·|z| where PyTorch's own formula cancels (gelu's 1 + erf(z/√2) for z ≪ 0, which symdl's
erfc form keeps; accuracy there is checked against mpmath by symdl verify).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdl

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH = {
    "gelu": F.gelu,
    "silu": F.silu,
    "swish": F.silu,  # β = 1
    "softsign": F.softsign,
    "log_sigmoid": F.logsigmoid,
    "relu6": F.relu6,
    "mish": F.mish,
    "hard_sigmoid": F.hardsigmoid,
    "hard_swish": F.hardswish,
    "celu": F.celu,
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "softshrink": F.softshrink,  # λ = 0.5
    "hardshrink": F.hardshrink,  # λ = 0.5
    "tanhshrink": F.tanhshrink,
    "threshold": lambda t: F.threshold(t, 0.0, 0.0),
    "rrelu": lambda t: F.rrelu(t, training=False),  # slope (1/8 + 1/3)/2
}
# torch's float64 hardsigmoid backward returns 1/6 rounded to float32 (0.16666667163…): 5e-9 off, measured.
GRADIENT_RTOL = {"hard_sigmoid": 4e-8}
# torch's tanhshrink backward cancels for small z (1.11e-16 at z = 1e-8 where tanh² z = 1e-16, measured): an
# absolute ε there; symdl's tanh² z is checked against mpmath below.
GRADIENT_ATOL_EPS = {"tanhshrink": 2.0}
GRID = np.unique(np.concatenate([
    np.linspace(-12, 12, 97), [0.0, 6.0, 3.0, -3.0, 0.5, -0.5, 0.4999, 0.5001, 1e-3, -0.3, -1e-300, 1e-300, 1e-30, -1e-8, 5.999, 6.001, 40.0, -40.0, 1000.0, -1000.0],
]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(TORCH))
def test_values_and_gradients_match_torch(name, dtype):
    r = symdl.rule(name)
    z = GRID.astype(dtype)
    t = torch.tensor(z, requires_grad=True)
    expected = TORCH[name](t)
    (grad,) = torch.autograd.grad(expected.sum(), t)
    eps = float(np.finfo(dtype).eps)
    atol = 8 * eps * np.maximum(np.abs(z.astype(np.float64)), np.finfo(dtype).tiny)
    rtol_grad = max(8 * eps, GRADIENT_RTOL.get(name, 0.0))
    atol_grad = np.maximum(atol, GRADIENT_ATOL_EPS.get(name, 0.0) * eps)
    for got, want, rtol, floor in ((r.numeric()(z), expected.detach().numpy(), 8 * eps, atol),
                                   (r.numeric_derivative()(z), grad.numpy(), rtol_grad, atol_grad)):
        assert got.dtype == dtype
        assert np.all(np.abs(got.astype(np.float64) - want) <= rtol * np.abs(want) + floor), name


def test_gelu_keeps_digits_where_torch_gives_zero():
    got = symdl.rule("gelu").numeric()(np.array([-10.0]))[0]
    assert F.gelu(torch.tensor([-10.0], dtype=torch.float64)).item() == 0.0
    assert got == pytest.approx(-7.619853024160527e-23, rel=1e-13)


def test_celu_at_another_alpha_matches_torch():
    z = GRID
    t = torch.tensor(z, requires_grad=True)
    expected = F.celu(t, alpha=2.5)
    (grad,) = torch.autograd.grad(expected.sum(), t)
    r = symdl.rule("celu", alpha=2.5)
    np.testing.assert_allclose(r.numeric()(z), expected.detach().numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(r.numeric_derivative()(z), grad.numpy(), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize(
    ("name", "params", "torch_fn"),
    [
        ("threshold", {"threshold": 1.0, "value": -2.0}, lambda t: F.threshold(t, 1.0, -2.0)),
        ("softshrink", {"lambd": 1.5}, lambda t: F.softshrink(t, 1.5)),
        ("hardshrink", {"lambd": 1.5}, lambda t: F.hardshrink(t, 1.5)),
        ("rrelu", {"lower": 0.1, "upper": 0.3}, lambda t: F.rrelu(t, 0.1, 0.3, training=False)),
    ],
)
def test_parameterised_rules_match_torch_at_their_kinks(name, params, torch_fn):
    z = np.unique(np.concatenate([GRID, [1.0, 1.5, -1.5, 1.4999, 1.5001]]))
    t = torch.tensor(z, requires_grad=True)
    expected = torch_fn(t)
    (grad,) = torch.autograd.grad(expected.sum(), t)
    r = symdl.rule(name, **params)
    np.testing.assert_allclose(r.numeric()(z), expected.detach().numpy(), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(r.numeric_derivative()(z), grad.numpy(), rtol=1e-15, atol=1e-300)


def test_gelu_tanh_and_tanhshrink_keep_digits_where_torch_cancels():
    import mpmath

    got = symdl.rule("gelu_tanh").numeric()(np.array([-12.0]))[0]
    assert F.gelu(torch.tensor([-12.0], dtype=torch.float64), approximate="tanh").item() == 0.0
    u = mpmath.sqrt(2 / mpmath.pi) * (-12 + mpmath.mpf(0.044715) * (-12) ** 3)
    assert got == pytest.approx(float(-12 / (1 + mpmath.exp(-2 * u))), rel=1e-13)
    small = symdl.rule("tanhshrink").numeric()(np.array([1e-8, 0.3, -0.49]))
    with mpmath.workdps(50):
        want = [float(mpmath.mpf(x) - mpmath.tanh(mpmath.mpf(x))) for x in (1e-8, 0.3, -0.49)]
    assert F.tanhshrink(torch.tensor([1e-8], dtype=torch.float64)).item() == 0.0
    np.testing.assert_allclose(small, want, rtol=1e-15)
    slope = symdl.rule("tanhshrink").numeric_derivative()(np.array([1e-8]))[0]
    assert slope == pytest.approx(1e-16, rel=1e-15)


# --- softmin and log_softmax (vector rules): values and VJP against torch, a wrong VJP refuted --------------------------------


ZZ = np.array([[1.0, 2.0, 3.0], [1000.0, -1000.0, 0.0], [-3.5, 0.25, 40.0], [0.0, 0.0, 0.0]])
VV = np.array([[0.5, -1.0, 2.0], [1.0, 2.0, 3.0], [-0.3, 0.7, 0.1], [1.0, 0.0, -1.0]])


@pytest.mark.parametrize(("name", "torch_fn", "value_atol"), [
    ("softmin", lambda t: F.softmin(t, dim=-1), 1e-3),
    ("log_softmax", lambda t: F.log_softmax(t, dim=-1), 1.0),
])
def test_vector_rules_and_their_vjps_match_torch(name, torch_fn, value_atol):
    """Values to 8ε (absolute 8ε·value_atol) and VJPs to 16ε, in float64 and float32, rows up to ±1000."""
    r = symdl.rule(name)
    for dtype in (np.float64, np.float32):
        t = torch.tensor(ZZ.astype(dtype), requires_grad=True)
        expected = torch_fn(t)
        (vjp,) = torch.autograd.grad(expected, t, torch.tensor(VV.astype(dtype)))
        eps = float(np.finfo(dtype).eps)
        got = r.numeric()(ZZ.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=8 * eps, atol=8 * eps * value_atol)
        np.testing.assert_allclose(r.numeric_derivative()(ZZ.astype(dtype), VV.astype(dtype)), vjp.numpy(),
                                   rtol=16 * eps, atol=16 * eps)


def test_softmin_is_proven_and_a_wrong_vjp_is_refuted():
    from dataclasses import replace

    from symdl.rulebook.vector_rule import VectorRule
    from symdl.rulebook.vector_rules import z
    from symdl.verify.vector_rules import check_vector_rule

    r = symdl.rule("softmin")
    assert all(r.prove().values())
    report = check_vector_rule(r, rows=8)
    assert report["fd_error"] <= 1e-6 and report["accuracy64"] <= 1e-13 and report["unstable"] == []
    wrong = VectorRule(r.name, r.kind, replace(r.definition, vjps={z: -r.definition.vjps[z]}), r.summary)  # softmax's sign
    assert not all(wrong.prove().values())


def test_log_softmax_keeps_the_tiny_logs():
    """log softmax of the winner at [-3.5, 0.25, 40] is −(e^{−43.5} + e^{−39.75}) + …, not the 0 torch returns."""
    winner = symdl.rule("log_softmax").numeric()(ZZ[2:3])[0, 2]
    assert F.log_softmax(torch.tensor(ZZ[2:3]), dim=-1)[0, 2].item() == 0.0
    assert winner == pytest.approx(-(np.exp(-43.5) + np.exp(-39.75)), rel=1e-12)


def test_log_softmax_is_proven_and_a_wrong_vjp_is_refuted():
    """v_k − s_k·v_k (the sum over q dropped) is not the VJP: the concrete-size proof refutes it."""
    from dataclasses import replace

    from symdl.rulebook.vector_rule import COTANGENT, VectorRule, k
    from symdl.rulebook.vector_rules import z
    from symdl.verify.vector_rules import check_vector_rule

    r = symdl.rule("log_softmax")
    assert all(r.prove().values())
    report = check_vector_rule(r, rows=8)
    assert report["fd_error"] <= 1e-6 and report["accuracy64"] <= 1e-13 and report["unstable"] == []
    right = r.definition.vjps[z]
    wrong_vjp = right.replace(lambda e: isinstance(e, sp.Sum), lambda e: COTANGENT[k])
    wrong = VectorRule(r.name, r.kind, replace(r.definition, vjps={z: wrong_vjp}), r.summary)
    assert not all(wrong.prove().values())
