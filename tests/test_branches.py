"""where(cond, a, b) printed so the branch not taken cannot overflow, warn, or poison a gradient (symdl.symbolic.branches)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symdl
from symdl.backends.printers import JaxPrinter, TorchPrinter
from symdl.codegen.kernel import compile_kernel, printable
from symdl.symbolic.branches import (
    GuardedInput,
    branch_regions,
    guard_branches,
    prove_guarded,
)
from symdl.symbolic.proof import prove_zero

z = sp.Symbol("z", real=True)
y = sp.Symbol("y", real=True)

ELU = sp.Piecewise((z, z > 0), (sp.exp(z) - 1, True))
LOG = sp.Piecewise((sp.log(z), z > 0), (0, True))
SHIFTED = sp.Piecewise((1 / (z - 1), z > 1), (sp.exp(z), True))
CIRCLE = sp.Piecewise((sp.sqrt(1 - z**2), (z > -1) & (z < 1)), (0, True))
TWO = sp.Piecewise((sp.log(z) + sp.exp(y), (z > 0) & (y < 2)), (sp.exp(-sp.Abs(y)), True))
CASES = [ELU, LOG, SHIFTED, CIRCLE, TWO]
GUARDED = [guard_branches(e) for e in CASES]
GRID = np.array([-1000.0, -100.0, -3.0, -1.0, -0.5, 0.0, 1e-30, 0.5, 1.0, 1.5, 3.0, 100.0, 1000.0])


def test_elu_as_users_write_it_prints_a_clamped_negative_branch():
    assert guard_branches(ELU) == sp.Piecewise((z, z > 0), (sp.exp(sp.Min(0, z)) - 1, True))
    # differentiable code gets the double where, whose gradient at the boundary is not split between max's arguments
    guarded = guard_branches(ELU, differentiable=True)
    assert guarded.atoms(GuardedInput) and not guarded.has(sp.Min, sp.Max)


def test_regions_follow_earlier_conditions_and_skip_nonlinear_ones():
    pw = sp.Piecewise((z, z > 2), (z**2, z > -1), (sp.exp(z), sp.Abs(y) < 1), (y, True))
    regions = branch_regions(pw)
    assert regions[0] == {z: sp.Interval.open(2, sp.oo)}
    assert regions[1] == {z: sp.Interval.Lopen(-1, 2)}
    assert regions[2] == {z: sp.Interval(-sp.oo, -1)}  # |y| < 1 says nothing usable about y
    assert regions[3] == {z: sp.Interval(-sp.oo, -1)}


def test_safe_branches_are_left_alone():
    for pw in (
        sp.Piecewise((z**2, z > 0), (3 * z, True)),
        sp.Piecewise((sp.Abs(z) * sp.tanh(z), z < 1), (sp.Integer(1), True)),
        sp.Piecewise((sp.Integer(0), z > 0), (sp.Integer(1), True)),
    ):
        assert guard_branches(pw) == pw


@pytest.mark.parametrize("expr", CASES, ids=["elu", "log", "shifted", "circle", "two"])
@pytest.mark.parametrize("differentiable", [False, True])
def test_guarded_equals_the_piecewise_on_every_branch(expr, differentiable):
    proofs = prove_guarded(expr, differentiable)
    assert proofs and all(proofs.values()), proofs


def test_a_wrong_guard_is_refuted():
    # clamping e^z's input at 1 instead of 0 changes ELU on (0, 1]: the proof must see it
    wrong = sp.Piecewise((z, z > 0), (sp.exp(sp.Min(1, z)) - 1, True))
    assert prove_zero(wrong - ELU, z)  # equal: the branch is never taken on (0, 1]...
    wrong = sp.Piecewise((z, z > 1), (sp.exp(sp.Min(0, z)) - 1, True))
    assert not prove_zero(wrong - sp.Piecewise((z, z > 1), (sp.exp(z) - 1, True)), z)  # ...but here it is


@pytest.mark.parametrize("expr", CASES, ids=["elu", "log", "shifted", "circle", "two"])
def test_kernels_never_warn_and_agree_with_the_unguarded_formula_where_it_is_finite(expr):
    args = sorted(expr.free_symbols, key=str)
    kernels = [compile_kernel(expr, args, "f"), compile_kernel(sp.diff(expr, z), args, "d")]
    naive = [sp.lambdify(args, e, "numpy") for e in (expr, sp.diff(expr, z))]
    points = np.meshgrid(*[GRID] * len(args), indexing="ij")
    for dtype in (np.float32, np.float64):
        inputs = [p.astype(dtype) for p in points]
        for kernel, reference in zip(kernels, naive):
            with np.errstate(over="raise", invalid="raise", divide="raise"):  # what numpy warns about
                got = kernel(*inputs)
            with np.errstate(all="ignore"):
                want = np.asarray(reference(*[p.astype(np.float64) for p in points]), dtype=np.float64)
            assert got.dtype == dtype
            finite = np.isfinite(want) & (np.abs(want) < np.finfo(dtype).max)
            assert np.isfinite(got[finite]).all()
            np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-30)


@given(st.floats(-1e4, 1e4, allow_nan=False), st.floats(-1e4, 1e4, allow_nan=False))
def test_guarding_changes_no_value(a, b):
    for expr, guarded in zip(CASES, GUARDED):
        args = sorted(expr.free_symbols, key=str)
        point = dict(zip(args, (sp.Float(a, 30), sp.Float(b, 30))))
        plain = expr.xreplace(point)
        if plain.is_finite:
            assert guarded.xreplace(point) == plain


def test_symdl_check_passes_elu_written_with_where(capsys):
    from symdl.cli.main import main

    assert main(["check", "where(z > 0, z, exp(z) - 1)"]) == 0
    assert "PASS" in capsys.readouterr().out
    r = symdl.formula_rule("where(z > 0, z, exp(z) - 1)")
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # what numpy warns about
        r.numeric()(np.float32([-1000, 1000]))
        r.numeric_derivative()(np.float32([-1000, 1000]))


def test_torch_and_jax_gradients_are_finite_in_the_branch_not_taken():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    for expr, at, slope in ((LOG, 0.0, 0.0), (LOG, -1.0, 0.0), (ELU, 1000.0, 1.0), (ELU, -1000.0, 0.0)):
        for printer, differentiable in ((TorchPrinter(), True), (TorchPrinter(), False)):
            code = printer.doprint(printable(expr, "f", differentiable=differentiable))
            t = torch.tensor(at, dtype=torch.float64, requires_grad=True)
            value = eval(code, {"torch": torch, "z": t, "_t": lambda v: torch.tensor(v, dtype=torch.float64)})  # noqa: S307  printed by symdl
            (grad,) = torch.autograd.grad(value, t)
            assert torch.isfinite(value) and float(grad) == pytest.approx(slope)
        code = JaxPrinter().doprint(printable(expr, "f", differentiable=True))

        def f(x, code=code):
            return eval(code, {"jnp": jnp, "jax": jax, "z": x, "_t": lambda v: jnp.asarray(v, x.dtype)})  # noqa: S307

        value, grad = jax.value_and_grad(f)(jnp.asarray(at))
        assert np.isfinite(float(value)) and float(grad) == pytest.approx(slope)
    # The same without guards: the thrown-away branch's inf turns the gradient into NaN (the pitfall guarded against).
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    naive = torch.where(t > 0, torch.log(t), torch.zeros_like(t))
    (grad,) = torch.autograd.grad(naive, t)
    assert torch.isnan(grad)


def test_exports_of_a_where_formula_have_finite_gradients():
    torch = pytest.importorskip("torch")
    from symdl.export import to_torch

    f = to_torch("where(z > 0, z, exp(z) - 1)")
    z64 = torch.tensor([1000.0, -1000.0, 0.5, -0.5], dtype=torch.float64, requires_grad=True)
    out = f.apply(z64)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(z64.grad).all()
    assert z64.grad.tolist() == pytest.approx([1.0, 0.0, 1.0, float(np.exp(-0.5))])
