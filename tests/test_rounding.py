"""floor, ceil and round in formulas: parsed, derivative 0 away from their jumps, printed half to even everywhere.

The references are SymPy's exact floor/ceiling and Python's round of an exact Fraction (half to even), and the
frameworks' own numpy.round / jnp.round / torch.round, whose ties the printed code must share.
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
from symdl.symbolic.from_sympy import from_sympy
from symdl.symbolic.parse import FormulaError, parse
from symdl.symbolic.rounding import at_jump, ceiling, floor
from symdl.symbolic.rounding import round as round_half_even

z, y = sp.symbols("z y", real=True)
TIES = [k / 2 for k in range(-2001, 2002, 2)]  # every n + 1/2 with |n + 1/2| ≤ 1000.5: where round's rule shows
FUNCTIONS = {"floor": np.floor, "ceil": np.ceil, "round": None}


def exact(name: str, value: float) -> int:
    """The SymPy meaning at the exact binary value: ⌊q⌋, ⌈q⌉, or the nearest integer (even at a tie)."""
    q = Fraction(value)
    if name == "floor":
        return int(sp.floor(sp.Rational(q.numerator, q.denominator)))
    if name == "ceil":
        return int(sp.ceiling(sp.Rational(q.numerator, q.denominator)))
    return round(q)  # Python's round of a Fraction: half to even


def test_parsed_with_derivative_zero_and_sympy_spellings_round_trip():
    assert parse("floor(z)") == floor(z) and parse("ceil(z)") == ceiling(z) == parse("ceiling(z)")
    assert parse("round(z)") == round_half_even(z)
    for text in ("floor(2*z) + ceiling(z - y)", "z*round(z/3)", "round(floor(z)/2)"):
        expr = parse(text, ["z", "y"])
        assert parse(str(expr), ["z", "y"]) == expr  # str(expr) is formula text again
    assert sp.diff(parse("z*floor(z) + ceil(z**2) + round(3*z)"), z) == floor(z)
    assert from_sympy(sp.floor(z) + sp.ceiling(z)) == floor(z) + ceiling(z)  # SymPy's own classes are accepted
    assert sp.diff(from_sympy(sp.floor(2 * z)), z) == 0


def test_exact_values_round_half_to_even_as_python_and_sympy():
    halves = [sp.Rational(k, 2) for k in range(-9, 10, 2)]
    assert [round_half_even(h) for h in halves] == [round(h) for h in halves]  # SymPy's round(Rational) is half-even
    assert [int(round_half_even(h)) for h in halves] == [-4, -4, -2, -2, 0, 0, 2, 2, 4, 4]
    assert parse("round(2.5) + round(-0.5) + round(1.5)") == 4
    assert round_half_even(sp.Rational(7, 3)) == 2 and round_half_even(sp.pi) == 3 and round_half_even(z + 1).args
    assert parse("floor(-0.5)") == -1 and parse("ceil(-0.5)") == 0 and parse("floor(pi)") == 3
    # the floor form used by the mpmath references
    for h in [*halves, sp.Rational(1, 3), sp.Rational(-7, 4)]:
        assert round_half_even(z).rewrite(sp.floor).subs(z, h) == round_half_even(h)


@pytest.mark.parametrize("text", ["round(z, 2)", "floor()", "ceil(z, y)", "floor(z < 1)", "round"])
def test_bad_calls_are_one_line(text):
    with pytest.raises(FormulaError) as caught:
        parse(text, ["z", "y"])
    assert "\n" not in str(caught.value)


def test_printed_names():
    e = floor(z) + ceiling(z) + round_half_even(z)
    assert KernelPrinter().doprint(e) == "numpy.ceil(z) + numpy.floor(z) + numpy.round(z)"
    assert JaxPrinter().doprint(e) == "jnp.ceil(z) + jnp.floor(z) + jnp.round(z)"
    assert TorchPrinter().doprint(e) == "torch.ceil(z) + torch.floor(z) + torch.round(z)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_numpy_code_is_the_sympy_meaning_at_every_tie_and_on_a_grid(name, dtype):
    kernel = compile_kernel(parse(f"{name}(z)"), [z], f"test_{name}")
    grid = np.concatenate([np.array(TIES), np.linspace(-1000, 1000, 4001), [-0.0, 0.0]]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            out = np.asarray(kernel(grid))
    assert out.dtype == dtype and np.all(np.isfinite(out))
    assert [int(v) for v in out] == [exact(name, float(v)) for v in grid]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_jax_and_torch_exports_are_the_sympy_meaning(name, dtype):
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    import jax

    jax.config.update("jax_enable_x64", True)
    grid = np.concatenate([np.array(TIES), np.linspace(-1000, 1000, 2001)]).astype(dtype)
    expected = [exact(name, float(v)) for v in grid]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours_torch = to_torch(f"{name}(z)").apply(torch.tensor(grid))
        ours_jax = to_jax(f"{name}(z)")(jnp.asarray(grid))
    assert str(ours_torch.dtype) == f"torch.{dtype}" and str(ours_jax.dtype) == dtype
    assert [int(v) for v in ours_torch.tolist()] == expected
    assert [int(v) for v in np.asarray(ours_jax)] == expected
    if name == "round":  # the frameworks' own round agrees at the ties: all three are half to even
        assert torch.equal(ours_torch, torch.round(torch.tensor(grid)))
        assert np.array_equal(np.asarray(ours_jax), np.round(grid))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=1, max_size=8), st.sampled_from(sorted(FUNCTIONS)))
def test_numpy_code_agrees_with_sympy_at_random_floats(values, name):
    kernel = compile_kernel(parse(f"{name}(z)"), [z], f"test_{name}")
    grid = np.array(values, dtype=np.float64)
    assert [int(v) for v in np.asarray(kernel(grid))] == [exact(name, v) for v in values]


def test_at_jump():
    assert at_jump(floor(z), {z: sp.Integer(3)}) and not at_jump(floor(z), {z: sp.Rational(1, 2)})
    assert at_jump(round_half_even(z), {z: sp.Rational(1, 2)}) and not at_jump(round_half_even(z), {z: sp.Integer(1)})
    assert at_jump(ceiling(z * sp.sqrt(2)), {z: sp.sqrt(2)}) and not at_jump(ceiling(z * sp.sqrt(2)), {z: sp.Integer(1)})
