"""A sweep of two formula families near the ones found unstable: ratios with eᵘ − 1 (the rewrite ``bernoulli``) and
max/min of a bounded squash and a constant (the printer's guards, ``sigmoid_comparison``). Value and derivative,
printed through the rewrite pass as a formula rule's code is, are finite, warning-free (numpy errors raise,
tests/conftest.py; warnings are errors here) and within 10·rtol of mpmath for |z| ≤ 1000 in float32 and float64, by
the numpy kernels and the PyTorch printer.

Left out, known: max/min of z/sqrt(1 + z²), whose printed derivative 1/√(1 + z²) − z²/(1 + z²)^{3/2} cancels at
|z| ≫ 1 (1e-2 relatively at z = 1000 in float32); u/(eᵘ − 1) + u/2 and 1/(eᵘ − 1) − 1/u, differences that cancel
as typed; (eᵘ − 1)/u, whose expm1 overflows (e^{89}/89 is a float32).
"""

from __future__ import annotations

import functools
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.backends.printers import TorchPrinter
from symdl.codegen.kernel import compile_kernel, printable
from symdl.symbolic.parse import parse
from symdl.symbolic.piecewise_forms import minmax_piecewise
from symdl.symbolic.proof import elementary
from symdl.symbolic.rewrite import stabilise
from symdl.testing import relative_error, stability_grid, unstable_points

z = sp.Symbol("z", real=True)
RATIOS = ("{u}/(exp({u}) - 1)", "3*({u})**2/(exp({u}) - 1)", "{u}*exp({u})/(1 - exp({u}))")
ARGUMENTS = ("z", "2*z", "-z/2")
SQUASHES = ("z/(1 + abs(z))", "sigmoid(z)", "tanh(z)", "atan(z)")
CONSTANTS = ("-27", "0", "0.5", "27")
FORMULAS = st.one_of(
    st.builds(lambda form, u: form.format(u=f"({u})"), st.sampled_from(RATIOS), st.sampled_from(ARGUMENTS)),
    st.builds(lambda m, s, c: f"{m}({s}, {c})", st.sampled_from(("max", "min")), st.sampled_from(SQUASHES),
              st.sampled_from(CONSTANTS)),
)
#: ±1000, the exp overflow edges, the removable point 0, tiny values, σ(z)'s rounding to 1/2, the ends of M's series.
GRID = np.array([0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-4, -1e-4, 1e-3, -1e-3, 0.3, -0.3, 1.0, -1.0, 2.0, -2.0, 20.0, -20.0,
                 88.0, -88.0, 89.0, -89.0, 100.0, -100.0, 709.0, -709.0, 710.0, -710.0, 1000.0, -1000.0])


@functools.lru_cache(maxsize=64)
def _forms(text: str) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(typed value, typed derivative, printed value, printed derivative) as formula_rule forms them."""
    typed = parse(text, symbols=["z"]).xreplace({sp.Symbol("z", real=True): z})
    typed = typed.replace(lambda e: isinstance(e, (sp.Max, sp.Min)), minmax_piecewise)
    stable = stabilise(typed)
    return typed, sp.diff(typed, z), stable, stabilise(sp.diff(stable, z))


@functools.lru_cache(maxsize=256)
def _reference(expr: sp.Expr, dtype: type) -> np.ndarray:
    """``expr`` in 200-digit mpmath at GRID (the typed derivative cancels by 2·|log₁₀ z| digits); NaN where it has
    no value (0/0 at z = 0, a kink)."""
    func = sp.lambdify([z], elementary(expr), modules="mpmath")
    out = []
    with mpmath.workdps(200):
        for v in GRID.astype(dtype):
            try:
                out.append(float(mpmath.re(func(mpmath.mpf(float(v))))))
            except (ZeroDivisionError, ValueError, OverflowError):
                out.append(np.nan)
    return np.array(out)


@functools.lru_cache(maxsize=256)
def _numpy_kernel(expr: sp.Expr):
    return compile_kernel(expr, (z,), "f").function


@functools.lru_cache(maxsize=256)
def _torch_code(expr: sp.Expr) -> str:
    return TorchPrinter().doprint(printable(expr, "f"))


def _numpy(expr: sp.Expr, x: np.ndarray) -> np.ndarray:
    return np.asarray(_numpy_kernel(expr)(x))


def _torch(expr: sp.Expr, x: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, x.dtype.name)
    names = {"torch": torch, "_dtype": dtype, "_t": lambda v: torch.tensor(v, dtype=dtype)}
    # generated code, printed from SymPy (as the export modules are): no formula text reaches it
    f = eval(f"lambda z: {_torch_code(expr)}", names)  # noqa: S307
    return torch.as_tensor(f(torch.tensor(x)), dtype=dtype).numpy() * np.ones_like(x)


@settings(max_examples=12, deadline=None)
@given(FORMULAS, st.sampled_from([np.float32, np.float64]), st.sampled_from([_numpy, _torch]))
def test_ratios_with_expm1_and_clamped_squashes_are_finite_and_accurate(text, dtype, backend):
    typed_value, typed_derivative, value, derivative = _forms(text)
    x = GRID.astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    for exact, printed in ((typed_value, value), (typed_derivative, derivative)):
        want = _reference(exact, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = backend(printed, x)
        known = np.isfinite(want) & (np.abs(want) <= np.finfo(dtype).max)
        assert np.isfinite(got[known]).all(), (text, backend.__name__, x[known & ~np.isfinite(got)])
        normal = known & (np.abs(want) >= np.finfo(dtype).tiny / np.finfo(dtype).eps)
        errors = relative_error(got.astype(np.float64), want)[normal]
        assert errors.max(initial=0.0) <= 10 * rtol, (text, backend.__name__, printed, x[normal][np.argmax(errors)])


def test_sigmoid_at_its_clamp_takes_the_side_of_z_not_of_the_rounded_value():
    # σ(1e-30) rounds to 1/2: max(σ(z), 1/2) took the branch 1/2 (derivative 0) at z = 1e-30; z ≤ 0 decides exactly.
    _, _, _, derivative = _forms("max(sigmoid(z), 0.5)")
    for dtype in (np.float32, np.float64):
        x = np.array([1e-30, -1e-30, 1e-8], dtype=dtype)
        np.testing.assert_array_equal(_numpy(derivative, x), np.array([0.25, 0.0, 0.25], dtype=dtype))


@pytest.mark.parametrize("text", ["max(z/(1+abs(z)), 27)", "min(z/(1+abs(z)), -27)"])
def test_a_clamp_no_squash_reaches_warns_nowhere(text):
    # The float32 derivative once divided by zero at z = 1 in the branch a where discards (the max's |z| rewritten
    # inside its condition); the rule's own kernels, as `symdl check` runs them, over the stability grid.
    r = symdl.formula_rule(text)
    for dtype in (np.float32, np.float64):
        grid = np.concatenate([stability_grid(np.dtype(dtype)), np.array([-1.0, 1.0, -27 / 26, 27 / 28], dtype=dtype)])
        for kernel in (r.numeric(), r.numeric_derivative()):
            assert unstable_points(kernel, [grid]) == (0, ""), (text, kernel.name, dtype)
            np.testing.assert_array_equal(kernel(grid), np.full_like(grid, 27.0 if kernel.name == "f" else 0.0)
                                          * np.sign(27 if "max" in text else -27))
