"""Kernel.listing: the generated function as a report shows it — the printed mathematics without the plumbing."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.codegen.kernel import _unwrapped, compile_kernel


@pytest.mark.parametrize("name", ["leaky_relu", "softplus", "relu6", "huber", "l2", "gelu", "elu", "hard_swish"])
def test_a_listing_has_no_plumbing_and_computes_what_the_kernel_computes(name):
    kernel = symdl.rule(name).numeric_derivative()
    listing = kernel.listing
    for plumbing in ("_as_float", "_finish", "_shape", "_dtype", "_t("):
        assert plumbing not in listing, plumbing
    namespace: dict = {"numpy": np}
    exec(compile(listing, "listing", "exec"), namespace)  # text symdl printed, run to compare
    args = [np.linspace(-7, 7, 57) + 0.01 * i for i in range(len(symdl.rule(name).inputs))]
    np.testing.assert_allclose(np.broadcast_to(namespace[kernel.name](*args), args[0].shape), kernel(*args),
                               rtol=1e-15, atol=0)


def test_a_summed_kernel_lists_its_sum():
    w = sp.Symbol("w", real=True)
    kernel = compile_kernel(3 * w**2, (w,), "pen", reduce_sum=True)
    assert kernel.listing.splitlines()[-1] == "    return 3*numpy.sum(w**2)"


def test_unwrapped_removes_nested_calls_but_not_longer_names():
    assert _unwrapped("a_t(1)+_t(_t(2)*x)+f(_t(3))", "_t(") == "a_t(1)+((2)*x)+f((3))"
