"""The modern activations against torch.nn.functional: values and gradients, float64 and float32.

The grid holds ±1000, the kinks, tiny values and a sweep; the tolerance is tied to the dtype: rtol 8ε, and an
absolute 8ε·|z| where PyTorch's own formula cancels (gelu's 1 + erf(z/√2) for z ≪ 0, which symdl's
erfc form keeps; accuracy there is checked against mpmath by symdl verify).
"""

from __future__ import annotations

import numpy as np
import pytest

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
}
# torch's float64 hardsigmoid backward returns 1/6 rounded to float32 (0.16666667163…): 5e-9 off, measured.
GRADIENT_RTOL = {"hard_sigmoid": 4e-8}
GRID = np.unique(np.concatenate([
    np.linspace(-12, 12, 97), [0.0, 6.0, 3.0, -3.0, -1e-300, 1e-300, 1e-30, -1e-8, 5.999, 6.001, 40.0, -40.0, 1000.0, -1000.0],
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
    for got, want, rtol in ((r.numeric()(z), expected.detach().numpy(), 8 * eps),
                            (r.numeric_derivative()(z), grad.numpy(), rtol_grad)):
        assert got.dtype == dtype
        assert np.all(np.abs(got.astype(np.float64) - want) <= rtol * np.abs(want) + atol), name


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
