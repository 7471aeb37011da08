"""floor, ceil and round of (p/q)·z print ``(p*z)/q``: exact at every integer |z| ≤ 1000 where p·z is exact.

``(7/10)*z`` rounded 7/10 and then the product: floor(7*z/10) was 62 at z = 90 in float64 (16 integers of
[−1000, 1000] were wrong). The references are exact integer arithmetic on p·z and q (Python's round of a Fraction
is half to even, as symdl's round).
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.backends.printers import JaxPrinter, TorchPrinter
from symdl.codegen.kernel import KernelPrinter, compile_kernel
from symdl.export import to_jax, to_torch
from symdl.symbolic.parse import parse
from symdl.symbolic.rounding import ceiling, floor
from symdl.symbolic.rounding import round as round_half_even

z, y = sp.symbols("z y", real=True)
INTEGERS = np.arange(-1000, 1001)
NAMES = ("floor", "ceil", "round")
# 7/10 is the documented case; 12345/9999 is exact in float64 only (its quotient's float32 ulp exceeds 1/q)
RATIONALS = [(7, 10), (-7, 10), (1, 3), (2, 3), (5, 7), (13, 100), (1, 10), (999, 1000), (-1, 7), (3, 2), (12345, 9999)]


def exact(name: str, p: int, q: int) -> list[int]:
    """⌊p·z/q⌋, ⌈p·z/q⌉ or p·z/q to the nearest integer (even at a tie), for every z of INTEGERS, exactly."""
    if name == "floor":
        return [p * int(k) // q for k in INTEGERS]
    if name == "ceil":
        return [-(-p * int(k) // q) for k in INTEGERS]
    return [round(Fraction(p * int(k), q)) for k in INTEGERS]


def exact_in(dtype: type, p: int, q: int) -> bool:
    """p·z is exact for every z of INTEGERS and the quotient's ulp is below 1/q (its gap to a jump is ≥ 1/(2q))."""
    largest = abs(p) * 1000
    return largest <= 2 ** np.finfo(dtype).nmant + 1 and float(np.spacing(dtype(largest / q))) < 1 / q


def _text(name: str, p: int, q: int) -> str:
    return f"{name}({p}*z/{q})"


def test_the_argument_divides_last_and_nothing_else_changes():
    e = floor(sp.Rational(7, 10) * z) + sp.Rational(7, 10) * z
    assert KernelPrinter().doprint(e) == "(7/10)*z + numpy.floor((7*z)/10)"
    assert KernelPrinter().doprint(ceiling(-z / 3)) == "numpy.ceil((-z)/3)"
    # XLA divides by a scalar as a product with its reciprocal, reassociated: JAX keeps the one-factor form
    assert JaxPrinter().doprint(ceiling(-z / 3) + floor(sp.Rational(7, 10) * z)) == "jnp.ceil(-1/3*z) + jnp.floor((7/10)*z)"
    assert TorchPrinter().doprint(round_half_even(sp.Rational(7, 10) * z * y + z / 3)) == "torch.round((7*y*z)/10 + z/3)"
    assert KernelPrinter().doprint(floor(z / 2) * sp.Rational(3, 4)) == "(3/4)*numpy.floor(z/2)"  # outside: as before
    assert KernelPrinter().doprint(floor(sp.exp(z / 3) / 2)) == "numpy.floor(numpy.exp(z/3)/2)"


def test_the_float32_guard_holds_where_it_should():
    assert exact_in(np.float32, 7, 10) and exact_in(np.float64, 12345, 9999) and not exact_in(np.float32, 12345, 9999)


@pytest.mark.parametrize(("p", "q"), RATIONALS, ids=[f"{p}_{q}" for p, q in RATIONALS])
@pytest.mark.parametrize("name", NAMES)
def test_numpy_code_is_exact_at_every_integer(name, p, q):
    kernel = compile_kernel(parse(_text(name, p, q)), [z], f"test_{name}")
    for dtype in (np.float64, np.float32):
        if not exact_in(dtype, p, q):
            assert dtype is np.float32
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = np.asarray(kernel(INTEGERS.astype(dtype)))
        assert out.dtype == dtype
        assert [int(v) for v in out] == exact(name, p, q), (dtype, p, q)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_the_torch_export_is_exact_at_every_integer(name, dtype):
    torch = pytest.importorskip("torch")
    grid = INTEGERS.astype(dtype)
    for p, q in RATIONALS:
        if not exact_in(np.dtype(dtype).type, p, q):
            continue
        ours = to_torch(_text(name, p, q)).apply(torch.tensor(grid))
        assert str(ours.dtype) == f"torch.{dtype}"
        assert [int(v) for v in ours.tolist()] == exact(name, p, q), (p, q)


def test_the_jax_export_keeps_the_product_form():
    """XLA's division by a number is no IEEE division (x·(1/c)): JAX prints (7/10)*z, as numpy did before."""
    jnp = pytest.importorskip("jax.numpy")
    import jax

    jax.config.update("jax_enable_x64", True)
    grid = INTEGERS.astype("float64")
    ours = np.asarray(to_jax("floor(7*z/10)")(jnp.asarray(grid)))
    assert np.array_equal(ours, np.floor((7 / 10) * grid))


@settings(max_examples=40, deadline=None)
@given(st.integers(-2000, 2000).filter(bool), st.integers(2, 5000), st.sampled_from(NAMES), st.sampled_from(["float32", "float64"]))
def test_any_rational_is_exact_where_the_guard_holds(p, q, name, dtype):
    ratio = sp.Rational(p, q)
    if ratio.q == 1 or not exact_in(np.dtype(dtype).type, int(ratio.p), int(ratio.q)):
        return
    function = {"floor": floor, "ceil": ceiling, "round": round_half_even}[name]
    kernel = compile_kernel(function(ratio * z), [z], f"test_{name}")
    out = np.asarray(kernel(INTEGERS.astype(dtype)))
    assert [int(v) for v in out] == exact(name, int(ratio.p), int(ratio.q))
