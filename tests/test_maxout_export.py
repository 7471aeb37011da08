"""maxout's arg-max indicator in JAX and PyTorch: exports against torch autograd of a hand-written maxout (float64).

Inputs are small integers, so rows have tied maxima: the gradient must go to
the first of them (``torch.max(dim)``, ``numpy.argmax``, ``jnp.argmax``). The
index kernels' printer (formula graphs) is checked against the numpy kernel
on an axis other than the last.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from symdl.backends import get_backend
from symdl.codegen.array_index_kernels import array_index_kernel_source, place_source
from symdl.codegen.index_kernels import FirstArgMax, compile_index_kernel
from symdl.export import rule_module_source, to_jax, to_torch

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)

TIED = st.integers(1, 3).flatmap(lambda rows: hnp.arrays(np.float64, (rows, 4), elements=st.integers(-2, 2).map(float)))


def _reference(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand-written maxout and its torch autograd gradient (torch.max(dim) gives the first maximum's index)."""
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    value = torch.max(t, dim=-1).values
    value.sum().backward()
    return value.detach().numpy(), t.grad.numpy()


@settings(max_examples=10, deadline=None)
@given(TIED, st.floats(-3, 3))
def test_exports_match_torch_autograd_with_ties(z, scale):
    weights = np.linspace(1.0, 2.0, z.shape[0]) * scale  # cotangent per row
    value, _ = _reference(z)
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    (torch.max(t, dim=-1).values * torch.tensor(weights)).sum().backward()
    want = t.grad.numpy()

    f = to_jax("maxout")
    np.testing.assert_array_equal(np.asarray(f(z)), value)
    got = jax.grad(lambda x: (f(x) * weights).sum())(jax.numpy.asarray(z))
    np.testing.assert_array_equal(np.asarray(got), want)

    cls = to_torch("maxout")
    u = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = cls.apply(u)
    np.testing.assert_array_equal(out.detach().numpy(), value)
    (out * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(u.grad.numpy(), want)


def test_ties_go_to_the_first_maximum_and_forward_mode_agrees():
    z = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [-1.0, 0.0, -2.0, 0.0]])
    first = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float64)
    assert not np.array_equal(first, _reference(z[:, ::-1].copy())[1][:, ::-1])  # the last-of-ties variant differs
    np.testing.assert_array_equal(_reference(z)[1], first)
    tangent = np.arange(12.0).reshape(3, 4)
    _, jvp = jax.jvp(to_jax("maxout"), (jax.numpy.asarray(z),), (jax.numpy.asarray(tangent),))
    np.testing.assert_array_equal(np.asarray(jvp), (first * tangent).sum(-1))
    assert "argmax" in rule_module_source("maxout", "jax") and "argmax" in rule_module_source("maxout", "torch")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_index_kernel_indicator_on_an_inner_axis(backend):
    x = sp.IndexedBase("x", real=True)
    i, j, k = sp.symbols("i j k", integer=True)
    n = sp.Symbol("n", integer=True, positive=True)
    expr = FirstArgMax(x[j, i], j, k, n)  # along axis −2: rows j, columns i
    slots = {j: -2, k: -2, i: -1}
    rng = np.random.default_rng(0)
    data = rng.integers(-1, 2, size=(3, 4, 5)).astype(np.float64)
    want = compile_index_kernel(expr, [x], slots, (k, i), "indicator").function(data)
    b = get_backend(backend)
    namespace: dict[str, object] = {"jax": jax, "jnp": jax.numpy, "torch": torch}
    source = place_source(b) + "\n" + array_index_kernel_source(expr, ["x"], slots, (k, i), "indicator", b)
    exec(compile(source, "<indicator>", "exec"), namespace)  # noqa: S102  (symdl's generated kernel)
    arr = jax.numpy.asarray(data) if backend == "jax" else torch.tensor(data)
    got = np.asarray(namespace["indicator"](arr))
    np.testing.assert_array_equal(got, want)
    assert got.sum() == data.shape[0] * data.shape[2]  # one winner per column, ties included
