"""symdl.backends.printers piece by piece: the JAX and PyTorch text of small expressions, and the generic parts
(argmax indicator, centred log-sum-exp) run through numpy (fast: the mutation-testing selection of tools/mutation.py)."""

from __future__ import annotations

from typing import ClassVar

import mpmath
import numpy as np
import pytest
import sympy as sp
from sympy.core.relational import Relational
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from symdl.backends.printers import (
    ArrayModulePrinter,
    JaxIndexPrinter,
    JaxPrinter,
    LastAxisIndexPrinter,
    TorchIndexPrinter,
    TorchPrinter,
)
from symdl.codegen.index_kernels import (
    Centered,
    FirstArgMax,
    LogSumExp,
    RowMax,
    ShiftMax,
)
from symdl.codegen.kernel import printable
from symdl.codegen.simplex import SparseThreshold
from symdl.symbolic.functions import softplus
from symdl.symbolic.stop_gradient import stop_gradient

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
z = sp.IndexedBase("z")
j, k = sp.symbols("j k", integer=True)
n = sp.Symbol("n", integer=True, positive=True)


class NumpyIndexPrinter(LastAxisIndexPrinter):
    """The last-axis printer spelt for numpy, so that its generic code runs here without JAX or torch."""

    _module = "numpy"

    def _logsumexp(self, u: str) -> str:
        return f"numpy.logaddexp.reduce({u}, {self._axis})"


def _run(code: str, **values: object) -> np.ndarray:
    """Evaluate printed numpy text (symdl's own output)."""
    return eval(compile(code, "printed", "eval"), {"numpy": np, **values})  # noqa: S307 (printer output, not user text)


# --- element-wise printers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "jax", "torch"),
    [
        (sp.exp(x) + sp.pi, "jnp.exp(x) + jnp.pi", "torch.exp(x) + torch.pi"),
        (sp.Abs(x) * sp.sign(y), "jnp.abs(x)*jnp.sign(y)", "torch.abs(x)*torch.sign(y)"),
        (x * stop_gradient(x + y), "x*jax.lax.stop_gradient(x + y)", "x*(x + y).detach()"),
        (sp.erf(x), "jax.lax.erf(x)", "torch.special.erf(x)"),
        (sp.erfc(2 * x), "jax.lax.erfc(2*x)", "torch.special.erfc(2*x)"),
        (sp.Max(-2, sp.Min(3, x)), "jnp.clip(x, -2, 3)", "torch.clamp(x, -2, 3)"),
        (sp.Max(x, 0), "jnp.maximum(0, x)", "torch.clamp(x, min=0)"),
        (sp.Min(x, 1), "jnp.minimum(1, x)", "torch.clamp(x, max=1)"),
        (sp.Max(x, y), "jnp.maximum(x, y)", "torch.maximum(x, y)"),
        (sp.Min(x, y), "jnp.minimum(x, y)", "torch.minimum(x, y)"),
        (sp.Max(x, y, 0), "jnp.maximum(jnp.maximum(0, x), y)", "torch.clamp(torch.maximum(x, y), min=0)"),
        (sp.Min(x, y, 2, z[j]), "jnp.minimum(jnp.minimum(jnp.minimum(2, x), y), z[j])",
         "torch.clamp(torch.minimum(torch.minimum(x, y), z[j]), max=2)"),
        (sp.Or(x < 0, y < 0), "jnp.logical_or(jnp.less(x, 0), jnp.less(y, 0))",
         "torch.logical_or(torch.lt(x, 0), torch.lt(y, 0))"),
        (sp.And(x < 0, y < 0), "jnp.logical_and(jnp.less(x, 0), jnp.less(y, 0))",
         "torch.logical_and(torch.lt(x, 0), torch.lt(y, 0))"),
        (sp.Piecewise((x**2, x < 0), (x, True)), "jnp.where(jnp.less(x, 0), x**2, x)", "torch.where(torch.lt(x, 0), x**2, x)"),
        (sp.Piecewise((1, x < 0), (0, True)), "jnp.less(x, 0).astype(_dtype)", "torch.lt(x, 0).to(_dtype)"),
        (sp.Piecewise((2, x < 0), (3, True)), "(_t(2)*(_m1 := jnp.less(x, 0)) + _t(3)*~_m1)",
         "(_t(2)*(_m1 := torch.lt(x, 0)) + _t(3)*~_m1)"),
    ],
)
def test_elementwise_expressions_in_jax_and_torch(expr, jax, torch):
    assert JaxPrinter().doprint(expr) == jax
    assert TorchPrinter().doprint(expr) == torch


def test_mod_in_torch_is_remainder_with_the_divisors_sign():
    """SymPy's Mod takes the divisor's sign (Python's %): torch.remainder; torch has no torch.mod, torch.fmod is C's."""
    import torch as torch_module

    printed = TorchPrinter().doprint(sp.Mod(x - 1, 3))
    assert printed == "torch.remainder(x + 2, 3)"  # SymPy writes Mod(x - 1, 3) as Mod(x + 2, 3)
    values = torch_module.tensor([-4.0, -1.0, 0.0, 2.5, 7.0])
    got = eval(printed, {"torch": torch_module, "x": values})  # the printer's own text
    want = [float(sp.Mod(v - 1, 3)) for v in values.tolist()]
    assert got.tolist() == want


def test_softplus_in_its_stable_form():
    assert JaxPrinter().doprint(printable(softplus(x), "f")) == "jnp.log1p(jnp.exp(-jnp.abs(x))) + jnp.maximum(0, x)"
    assert TorchPrinter().doprint(printable(softplus(x), "f")) == "torch.log1p(torch.exp(-torch.abs(x))) + torch.clamp(x, min=0)"


@pytest.mark.parametrize(
    ("relation", "torch"),
    [
        (sp.Eq(x, y), "torch.eq(x, y)"),
        (sp.Ne(x, y), "torch.ne(x, y)"),
        (x < y, "torch.lt(x, y)"),
        (x <= y, "torch.le(x, y)"),
        (x > y, "torch.gt(x, y)"),
        (x >= y, "torch.ge(x, y)"),
        (sp.Eq(2, x, evaluate=False), "torch.eq(x, 2)"),
        (sp.Ne(2, x, evaluate=False), "torch.ne(x, 2)"),
        (sp.Lt(0, x, evaluate=False), "torch.gt(x, 0)"),
        (sp.Le(0, x, evaluate=False), "torch.ge(x, 0)"),
        (sp.Gt(0, x, evaluate=False), "torch.lt(x, 0)"),
        (sp.Ge(0, x, evaluate=False), "torch.le(x, 0)"),
        (sp.Lt(x, 0), "torch.lt(x, 0)"),
        (sp.Lt(x + 1, y, evaluate=False), "torch.lt(x + 1, y)"),
    ],
)
def test_torch_relations_are_elementwise_calls_with_the_tensor_first(relation, torch):
    assert TorchPrinter().doprint(relation) == torch


def test_a_relation_torch_has_no_call_for_goes_to_sympys_printer():
    class Odd(Relational):
        rel_op = "~"
        __slots__ = ()

    odd = sp.Basic.__new__(Odd, x, y)
    with pytest.raises(PrintMethodNotImplementedError, match=r"^Unsupported by .*TorchPrinter'>: .*Odd'>"):
        TorchPrinter().doprint(odd)


def test_the_printers_spell_their_module():
    for printer, module, cast in ((JaxPrinter(), "jnp", "astype"), (TorchPrinter(), "torch", "to")):
        assert printer.language == f"Python with {module}"
        assert printer._fn("where") == f"{module}.where" and printer._cast == cast
        assert printer._kf["exp"] == f"{module}.exp" and printer._kc["Pi"] == f"{module}.pi"
    assert TorchPrinter()._cast_mask("m") == "m.to(_dtype)" and JaxPrinter()._cast_mask("m") == "m.astype(_dtype)"
    assert TorchPrinter()._clip("a", "b", "c") == "torch.clamp(a, b, c)" and JaxPrinter()._clip("a", "b", "c") == "jnp.clip(a, b, c)"
    assert ArrayModulePrinter._module == "numpy" and ArrayModulePrinter._cast == "astype" and ArrayModulePrinter._renamed == {}


def test_a_subclass_renames_numpy_functions_in_both_tables():
    class Renamed(ArrayModulePrinter):
        _module = "xp"
        _renamed: ClassVar[dict[str, str]] = {"exp": "exponential", "where": "select_where"}

    printer = Renamed()
    assert printer._kf["exp"] == "xp.exponential" and printer._kf["sin"] == "xp.sin" and printer._kc["Pi"] == "xp.pi"
    assert printer.doprint(sp.exp(x) + sp.sin(x)) == "xp.exponential(x) + xp.sin(x)"
    assert printer.doprint(sp.Piecewise((x**2, x < 0), (x, True))) == "xp.select_where(xp.less(x, 0), x**2, x)"
    assert printer._fn("abs") == "xp.abs" and printer.language == "Python with xp"


def test_first_arg_max_spelling():
    jax, torch = JaxPrinter(), TorchPrinter()
    assert jax._first_arg_max("v", -1) == (
        "(jnp.arange((_a1 := v).shape[-1]) == jnp.expand_dims(jnp.argmax(_a1, axis=-1), -1)).astype(_a1.dtype)")
    assert jax._first_arg_max("w", -3) == (
        "(jnp.arange((_a2 := w).shape[-3]).reshape((-1,) + (1,) * 2) == jnp.expand_dims(jnp.argmax(_a2, axis=-3), -3))"
        ".astype(_a2.dtype)")
    assert torch._first_arg_max("v", -2) == (
        "(torch.arange((_a1 := v).shape[-2], device=_a1.device).reshape((-1,) + (1,) * 1) == "
        "torch.argmax(_a1, dim=-2, keepdim=True)).to(_a1.dtype)")
    assert ArrayModulePrinter()._arange_device("v") == "" and torch._arange_device("v") == ", device=v.device"
    assert torch._argmax("v", -1) == "torch.argmax(v, dim=-1, keepdim=True)"
    assert jax._argmax("v", -2) == "jnp.expand_dims(jnp.argmax(v, axis=-2), -2)"


@pytest.mark.parametrize("axis", [-1, -2, -3])
def test_first_arg_max_marks_the_first_largest_element_along_its_axis(axis):
    values = np.array([[[1.0, 3.0, 3.0], [2.0, -1.0, 2.0]], [[0.0, 0.0, 5.0], [4.0, 4.0, 4.0]]], dtype=np.float32)
    out = _run(NumpyIndexPrinter()._first_arg_max("v", axis), v=values)
    first = np.argmax(values, axis=axis)
    want = (np.arange(values.shape[axis]).reshape((-1,) + (1,) * (-axis - 1)) == np.expand_dims(first, axis))
    assert out.dtype == np.float32 and out.shape == values.shape
    np.testing.assert_array_equal(out, want.astype(np.float32))
    assert out.sum() == values.size // values.shape[axis]


# --- index notation on the last axis --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "jax", "torch"),
    [
        (z[j], "z", "z"),
        (sp.Sum(sp.exp(z[j]), (j, 0, n - 1)), "jnp.sum(jnp.exp(z), axis=-1, keepdims=True)",
         "torch.sum(torch.exp(z), dim=-1, keepdim=True)"),
        (sp.log(sp.Sum(sp.exp(z[j]), (j, 0, n - 1))), "jax.nn.logsumexp(z, axis=-1, keepdims=True)",
         "torch.logsumexp(z, dim=-1, keepdim=True)"),
        (sp.log(sp.Sum(z[j], (j, 0, n - 1))), "jnp.log(jnp.sum(z, axis=-1, keepdims=True))",
         "torch.log(torch.sum(z, dim=-1, keepdim=True))"),
        (sp.log(sp.Sum(sp.exp(z[j]) + 1, (j, 0, n - 1))), "jnp.log(jnp.sum(jnp.exp(z) + 1, axis=-1, keepdims=True))",
         "torch.log(torch.sum(torch.exp(z) + 1, dim=-1, keepdim=True))"),
        (sp.log(z[j]), "jnp.log(z)", "torch.log(z)"),
        (LogSumExp(z[j], j, n), "jax.nn.logsumexp(z, axis=-1, keepdims=True)", "torch.logsumexp(z, dim=-1, keepdim=True)"),
        (Centered(z[j], j, n), "(z - jnp.max(z, axis=-1, keepdims=True))", "(z - torch.amax(z, dim=-1, keepdim=True))"),
        (RowMax(z[j], j, n), "jnp.max(z, axis=-1, keepdims=True)", "torch.amax(z, dim=-1, keepdim=True)"),
        (ShiftMax(2 * z[j], j, n), "jnp.max(2*z, axis=-1, keepdims=True)", "torch.amax(2*z, dim=-1, keepdim=True)"),
        (FirstArgMax(z[j], j, k, n),
         "(jnp.arange((_a1 := z).shape[-1]) == jnp.expand_dims(jnp.argmax(_a1, axis=-1), -1)).astype(_a1.dtype)",
         "(torch.arange((_a1 := z).shape[-1], device=_a1.device) == torch.argmax(_a1, dim=-1, keepdim=True)).to(_a1.dtype)"),
        (SparseThreshold(2 * z[j], j, n), "_simplex_threshold_jnp(2*z, -1)", "_simplex_threshold_torch(2*z, -1)"),
        (sp.Piecewise((1, z[j] > 0), (0, True)), "jnp.greater(z, 0).astype(_dtype)", "torch.gt(z, 0).to(_dtype)"),
    ],
)
def test_last_axis_index_notation_in_jax_and_torch(expr, jax, torch):
    assert JaxIndexPrinter().doprint(expr) == jax
    assert TorchIndexPrinter().doprint(expr) == torch


def test_the_centred_log_sum_exp_spelling():
    expr = LogSumExp(Centered(z[j], j, n), j, n)
    assert JaxIndexPrinter().doprint(expr) == (
        "jnp.log1p(jnp.sum(jnp.where((_u1 := (z - jnp.max(z, axis=-1, keepdims=True))) < 0, jnp.exp(_u1), 0), "
        "axis=-1, keepdims=True) + (jnp.sum(_u1 == 0, axis=-1, keepdims=True).astype(_u1.dtype) - 1))")
    assert TorchIndexPrinter().doprint(expr) == (
        "torch.log1p(torch.sum(torch.where((_u1 := (z - torch.amax(z, dim=-1, keepdim=True))) < 0, torch.exp(_u1), 0), "
        "dim=-1, keepdim=True) + (torch.sum(_u1 == 0, dim=-1, keepdim=True).to(_u1.dtype) - 1))")
    printer = JaxIndexPrinter()
    printer.doprint(expr)
    assert "(_u2 := " in printer.doprint(expr)  # each its own name


@pytest.mark.parametrize(
    "row",
    [[1.0, 2.0, 3.0], [0.0, -40.0, -50.0], [5.0, 5.0, -1.0], [7.0, 7.0, 7.0], [-1e3, 0.0, -1e3], [2.0]],
)
def test_the_centred_log_sum_exp_computes_log_sum_exp_with_the_digits_of_a_small_sum(row):
    values = np.array([row, [r - 3.0 for r in row]])
    printer = NumpyIndexPrinter()
    out = _run(printer.doprint(LogSumExp(Centered(z[j], j, n), j, n)), z=values)
    for got, r in zip(out[:, 0], values):
        with mpmath.workdps(50):  # log Σ e^{v − max}, which is log1p of a tiny sum for a confident row
            want = float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v) - max(r)) for v in r)))
        assert got == pytest.approx(want, rel=1e-14, abs=1e-300)
    assert out.shape == (2, 1)


def test_numpy_spelling_of_the_other_index_nodes_runs():
    printer = NumpyIndexPrinter()
    values = np.array([[1.0, 4.0, 2.0], [0.5, -1.0, 0.5]])
    np.testing.assert_array_equal(_run(printer.doprint(RowMax(z[j], j, n)), z=values), [[4.0], [0.5]])
    np.testing.assert_array_equal(_run(printer.doprint(Centered(z[j], j, n)), z=values), values - [[4.0], [0.5]])
    np.testing.assert_array_equal(_run(printer.doprint(FirstArgMax(z[j], j, k, n)), z=values), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(_run(printer.doprint(LogSumExp(z[j], j, n)), z=values),
                               np.log(np.exp(values).sum(axis=-1, keepdims=True)), rtol=1e-15)
    np.testing.assert_allclose(_run(printer.doprint(sp.Sum(z[j] ** 2, (j, 0, n - 1))), z=values), [[21.0], [1.5]])


def test_a_sum_over_two_indices_is_refused():
    expr = sp.Sum(z[j] * z[k], (j, 0, n - 1), (k, 0, n - 1))
    for printer in (JaxIndexPrinter(), TorchIndexPrinter()):
        with pytest.raises(ValueError) as info:
            printer.doprint(expr)
        assert str(info.value) == f"only sums over one index print on the last axis, got {expr}"
    # log of such a sum is no log-sum-exp either
    with pytest.raises(ValueError, match="only sums over one index"):
        JaxIndexPrinter().doprint(sp.log(sp.Sum(sp.exp(z[j] + z[k]), (j, 0, n - 1), (k, 0, n - 1))))


def test_the_last_axis_printer_leaves_log_sum_exp_to_its_subclasses():
    with pytest.raises(NotImplementedError):
        LastAxisIndexPrinter()._logsumexp("u")
    assert LastAxisIndexPrinter._axis == "axis=-1, keepdims=True" and TorchIndexPrinter._axis == "dim=-1, keepdim=True"
    assert LastAxisIndexPrinter()._row_max("u") == "numpy.max(u, axis=-1, keepdims=True)"
    assert JaxIndexPrinter._module == "jnp" and TorchIndexPrinter._module == "torch"
