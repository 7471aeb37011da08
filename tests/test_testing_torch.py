"""symdl.testing as a PyTorch user calls it, like torch.autograd.gradcheck: x a tensor, f and its gradient torch code."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from symdl.testing import (
    assert_grad_close,
    assert_subgradient,
    check_grad,
    one_sided_differences,
)
from symdl.testing.strategies import finite_floats

torch = pytest.importorskip("torch")

A = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5]])


def f_torch(w):
    return torch.sum(torch.tanh(torch.as_tensor(A, dtype=w.dtype) @ w) ** 2)


def autograd_grad(w):
    """torch autograd's gradient of f_torch: what a PyTorch user checks their backward against."""
    w = w.detach().clone().requires_grad_()
    f_torch(w).backward()
    return w.grad


def f_numpy(w):
    return float(np.sum(np.tanh(A @ w) ** 2))


def grad_numpy(w):
    t = np.tanh(A @ w)
    return 2 * A.T @ (t * (1 - t**2))


class MyRelu(torch.autograd.Function):
    """A hand-written activation whose backward takes relu'(0) = slope_at_zero (set per test)."""

    slope_at_zero = 0.0

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * torch.where(z == 0, MyRelu.slope_at_zero, (z > 0).to(z.dtype))


@settings(deadline=None, max_examples=25)
@given(arrays(np.float64, 3, elements=finite_floats(np.float64, -3, 3)))
def test_a_tensor_point_is_checked_as_numpy_and_autograd_passes(x):
    by_torch = check_grad(f_torch, autograd_grad, torch.tensor(x))
    by_numpy = check_grad(f_numpy, grad_numpy, x)
    assert by_torch.passed and by_numpy.passed
    assert (by_torch.step, by_torch.evaluations, by_torch.tolerance) == (by_numpy.step, by_numpy.evaluations, by_numpy.tolerance)
    assert not check_grad(f_torch, lambda w: autograd_grad(w) + 1e-3, torch.tensor(x)).passed


def test_f_and_grad_receive_tensors_of_x_dtype_and_a_wrong_backward_fails():
    seen = []

    def f(w):
        seen.append((type(w), w.dtype, w.device))
        return f_torch(w)

    x = torch.tensor([0.3, -1.2, 0.8], dtype=torch.float64, requires_grad=True)
    assert check_grad(f, autograd_grad, x).passed
    assert set(seen) == {(torch.Tensor, torch.float64, torch.device("cpu"))}
    assert not check_grad(f_torch, lambda w: 1.01 * autograd_grad(w), x).passed
    assert not check_grad(f_torch, 1.01 * autograd_grad(x), x, mode="coordinates").passed  # a gradient tensor
    assert check_grad(f_torch, autograd_grad, x.float()).tolerance.rtol == 5e-2  # float32's smoke tolerance


def test_f_returning_a_tensor_that_requires_grad_and_a_failure_naming_the_coordinate():
    layer = torch.nn.Linear(3, 1, dtype=torch.float64)  # its parameters require grad, so f's value does

    def f(w):
        return layer(w).squeeze() ** 2

    def wrong(w):
        w = w.detach().clone().requires_grad_()
        f(w).backward()
        return w.grad * torch.tensor([1.0, 1.0, 1.1], dtype=torch.float64)

    x = torch.tensor([0.3, -1.2, 0.8], dtype=torch.float64)
    with pytest.raises(AssertionError, match=r"Worst coordinate \(2,\)"):
        assert_grad_close(f, wrong, x)


def test_kinks_of_a_hand_written_autograd_function():
    z = torch.tensor([0.0, 1.5, -0.5], dtype=torch.float64)
    left, right = one_sided_differences(MyRelu.apply, z)
    np.testing.assert_allclose(left, [0.0, 1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(right, [1.0, 1.0, 0.0], atol=1e-7)
    for slope, ok in ((0.0, True), (1.0, True), (2.0, False)):
        MyRelu.slope_at_zero = slope
        zz = z.clone().requires_grad_()
        MyRelu.apply(zz).sum().backward()
        if ok:
            assert_subgradient(MyRelu.apply, zz.grad, z)
        else:
            with pytest.raises(AssertionError, match=r"Worst element: x\[0\]"):
                assert_subgradient(MyRelu.apply, zz.grad, z)
    assert check_grad(lambda v: MyRelu.apply(v).sum(), lambda v: (v > 0).double(), z[1:], kinks=[0.0]).passed


def test_a_bfloat16_point_is_refused_in_one_line():
    x = torch.tensor([0.5, 1.0], dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"^check_grad: x is a torch.bfloat16 tensor; .*x.double\(\)") as info:
        check_grad(f_torch, autograd_grad, x)
    assert "\n" not in str(info.value)
