"""symdl.codegen.kernel piece by piece: the printed numpy text of small expressions, the source compile_kernel
writes around it, its checks and messages (fast: the mutation-testing selection of tools/mutation.py)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1, log1p

from symdl.codegen.kernel import (
    _FLOAT32_MAX,
    _RESERVED,
    Kernel,
    KernelPrinter,
    SymdlNumpyPrinter,
    _bind_scalar_type,
    _kernel_source,
    _python_name,
    _unwrapped,
    compile_kernel,
    printable,
    use_expm1_log1p,
)
from symdl.symbolic.branches import GuardedInput
from symdl.symbolic.functions import Phi, sigmoid, softplus
from symdl.symbolic.special import x_minus_tanh
from symdl.symbolic.stop_gradient import stop_gradient

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)


def _printed(expr: sp.Basic) -> str:
    return KernelPrinter().doprint(expr)


def _run(code: str, **values: object) -> np.ndarray:
    """Evaluate printed numpy text (symdl's own output) with ``_t``/``_dtype`` bound as a kernel binds them."""
    namespace: dict[str, object] = {"numpy": np, "_dtype": np.dtype(np.float64), "_t": np.float64, **values}
    return eval(compile(code, "printed", "eval"), namespace)  # noqa: S307 (text the printer wrote, not user text)


# --- the printer ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        (sp.exp(x), "numpy.exp(x)"),
        (sp.Abs(x), "numpy.abs(x)"),
        (sp.sign(x), "numpy.sign(x)"),
        (sp.Min(x, y), "numpy.minimum(x, y)"),
        (sp.Max(x, y, 0), "numpy.maximum(numpy.maximum(0, x), y)"),
        (sp.Min(x, y, 1), "numpy.minimum(numpy.minimum(1, x), y)"),
        (sp.Or(x < 0, y < 0), "numpy.logical_or(numpy.less(x, 0), numpy.less(y, 0))"),
        (sp.And(x < 0, y < 0, x < y),
         "numpy.logical_and(numpy.logical_and(numpy.less(x, 0), numpy.less(x, y)), numpy.less(y, 0))"),
        (x * stop_gradient(x + y), "x*(x + y)"),
        (softplus(x), "numpy.log(1 + numpy.exp(-numpy.abs(x))) + numpy.maximum(0, x)"),
        (sp.Piecewise((x**2, x < 0), (x, y > 0), (y, True)),
         "numpy.where(numpy.less(x, 0), x**2, numpy.where(numpy.greater(y, 0), x, y))"),
        (sp.Piecewise((1, x < 0), (x, True)), "numpy.where(numpy.less(x, 0), _t(1), x)"),
        (sp.Piecewise((x, x < 0), (sp.Rational(1, 3), True)), "numpy.where(numpy.less(x, 0), x, _t(1/3))"),
        (GuardedInput((x, x > 0), (1, True)), "numpy.where(numpy.greater(x, 0), x, _t(1))"),
    ],
)
def test_each_node_prints_as_numpy(expr, code):
    assert _printed(expr) == code


def test_two_number_piecewise_prints_as_arithmetic_on_the_boolean():
    assert _printed(sp.Piecewise((1, x < 0), (0, True))) == "numpy.less(x, 0).astype(_dtype)"
    assert _printed(sp.Piecewise((0, x < 0), (1, True))) == "numpy.greater_equal(x, 0).astype(_dtype)"
    assert _printed(sp.Piecewise((3, x < 0), (0, True))) == "(_t(3)*numpy.less(x, 0))"
    assert _printed(sp.Piecewise((0, x < 0), (3, True))) == "(_t(3)*numpy.greater_equal(x, 0))"
    printer = KernelPrinter()
    two = sp.Piecewise((2, x < 0), (3, True))
    assert printer.doprint(two) == "(_t(2)*(_m1 := numpy.less(x, 0)) + _t(3)*~_m1)"
    assert printer.doprint(two) == "(_t(2)*(_m2 := numpy.less(x, 0)) + _t(3)*~_m2)"  # each mask its own name
    values = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(_run(_printed(two), x=values), [2.0, 3.0, 3.0])
    np.testing.assert_array_equal(_run(_printed(sp.Piecewise((0, x < 0), (3, True))), x=values), [0.0, 3.0, 3.0])


def test_a_piecewise_of_one_number_and_an_expression_is_a_where():
    assert _printed(sp.Piecewise((2, x < 0), (x, True))) == "numpy.where(numpy.less(x, 0), _t(2), x)"
    assert _printed(sp.Piecewise((x, x < 0), (2, True))) == "numpy.where(numpy.less(x, 0), x, _t(2))"


def test_a_piecewise_without_otherwise_is_one_clear_error():
    with pytest.raises(ValueError, match=r"^cannot print a Piecewise without an 'otherwise' branch: Piecewise\(\(x, x > 0\)\)$"):
        _printed(sp.Piecewise((x, x > 0)))


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        (sp.Max(-2, sp.Min(3, x)), "numpy.clip(x, -2, 3)"),
        (sp.Max(sp.Min(x, 3), -2), "numpy.clip(x, -2, 3)"),
        (sp.Max(-2, sp.Min(3, x, y)), "numpy.maximum(-2, numpy.minimum(numpy.minimum(3, x), y))"),
        (sp.Max(-2, sp.Min(x, y)), "numpy.maximum(-2, numpy.minimum(x, y))"),
        (sp.Max(y, sp.Min(3, x)), "numpy.maximum(y, numpy.minimum(3, x))"),
        (sp.Max(-2, sp.Min(3, x), y), "numpy.maximum(numpy.maximum(-2, y), numpy.minimum(3, x))"),
        (sp.Max(-2, y + sp.Min(3, x)), "numpy.maximum(-2, y + numpy.minimum(3, x))"),
    ],
)
def test_max_of_a_min_with_number_bounds_is_one_clip_and_anything_else_is_nested(expr, code):
    assert _printed(expr) == code


def test_a_clip_needs_its_lower_bound_below_its_upper_bound():
    # Max(3, Min(-2, x)) is the constant 3 (SymPy folds it); built unevaluated, a clip would be wrong.
    expr = sp.Max(3, sp.Min(-2, x, evaluate=False), evaluate=False)
    assert _printed(expr) == "numpy.maximum(3, numpy.minimum(-2, x))"
    np.testing.assert_array_equal(_run(_printed(expr), x=np.array([-5.0, 0.0, 5.0])), [3.0, 3.0, 3.0])
    equal = sp.Max(2, sp.Min(2, x, evaluate=False), evaluate=False)
    assert _printed(equal) == "numpy.maximum(2, numpy.minimum(2, x))"
    # A number inside the Min where x should be is no clip either.
    assert _printed(sp.Max(-2, sp.Min(3, sp.pi, evaluate=False), evaluate=False)) == "numpy.maximum(-2, numpy.minimum(3, numpy.pi))"


def test_named_functions_print_their_stable_form_and_unknown_functions_are_refused():
    assert _printed(sigmoid(x)) == (
        "numpy.maximum(numpy.exp(-numpy.abs(x)), numpy.greater_equal(x, 0).astype(_dtype))/(1 + numpy.exp(-numpy.abs(x)))")
    with pytest.raises(ValueError, match=r"^cannot print f\(x\) as numpy code: Unsupported by .*KernelPrinter.*: f$"):
        _printed(sp.Function("f")(x))
    with pytest.raises(ValueError, match="as numpy code"):
        _printed(sp.Function("g")(x) + sp.exp(x))


@pytest.mark.parametrize("error", [NotImplementedError, TypeError, KeyError])
def test_a_printer_failure_is_one_value_error_line_naming_the_expression(monkeypatch, error):
    def fail(self, expr):
        raise error("first line\nsecond line")

    monkeypatch.setattr(SymdlNumpyPrinter, "_print_Abs", fail)
    with pytest.raises(ValueError) as info:
        _printed(sp.Abs(x) + 1)
    text = str(info.value)
    assert text.startswith("cannot print Abs(x) + 1 as numpy code: ") and "first line" in text and "\n" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_printer_settings():
    printer = SymdlNumpyPrinter()
    assert printer._settings["fully_qualified_modules"] is True
    assert printer._settings["inline"] is True
    assert printer._settings["allow_unknown_functions"] is False
    assert printer._masks == 0
    assert printer.doprint(sp.exp(x) + sp.sin(y)) == "numpy.exp(x) + numpy.sin(y)"


def test_the_printer_prints_an_assignment():
    assert KernelPrinter().doprint(x**2, "out") == "out = x**2"


def test_hooks_of_the_numpy_printer():
    printer = SymdlNumpyPrinter()
    assert printer._fn("where") == "numpy.where"
    assert printer._cast_mask("m") == "m.astype(_dtype)"
    assert printer._clip("a", "b", "c") == "numpy.clip(a, b, c)"


@pytest.mark.parametrize("value", [-3.0, -1.0, -0.75, -0.5, -0.3, -1e-3, 0.0, 1e-3, 0.3, 0.5, 0.75, 1.0, 3.0, 7.5])
def test_erf_and_erfc_print_as_numpy_pieces_of_the_right_value(value):
    erf_code, erfc_code = _printed(sp.erf(x)), _printed(sp.erfc(x))
    with mpmath.workdps(50):
        erf, erfc = float(mpmath.erf(value)), float(mpmath.erfc(value))
    assert _run(erf_code, x=np.float64(value)) == pytest.approx(erf, rel=1e-14, abs=0)
    assert _run(erfc_code, x=np.float64(value)) == pytest.approx(erfc, rel=1e-14, abs=0)
    assert _run(_printed(sp.erfc(2 * x)), x=np.float64(value / 2)) == pytest.approx(erfc, rel=1e-14, abs=0)


def test_erfc_binds_its_far_value_once_and_reuses_it_below_zero():
    printer = KernelPrinter()
    code = printer.doprint(sp.erfc(x))
    assert code.startswith("numpy.where(numpy.less(numpy.abs(x), 1/2), ")
    assert code.count("(_e1 := ") == 1 and code.endswith(", 2 - _e1))") and "numpy.where(numpy.greater(x, 0), (_e1 := " in code
    assert "(_e2 := " in printer.doprint(sp.erfc(y)) and printer._masks == 2


def test_x_minus_tanh_prints_its_series_near_zero():
    code = _printed(x_minus_tanh(x))
    assert code.startswith("numpy.where(numpy.less(numpy.abs(x), 1/2), ") and code.endswith(", x - numpy.tanh(x))")
    for value in (1e-3, 0.1, 0.49, 0.5, 2.0, -0.3):
        with mpmath.workdps(50):
            want = float(value - mpmath.tanh(value))
        assert _run(code, x=np.float64(value)) == pytest.approx(want, rel=1e-14, abs=0)


# --- printable -------------------------------------------------------------------------------------------------------


def test_printable_guards_branches_unless_told_they_are_guarded():
    log_branch = sp.Piecewise((sp.log(x), x > 0), (0, True))
    guarded = sp.Piecewise((sp.log(GuardedInput((x, x > 0), (1, True))), x > 0), (0, True))
    assert printable(log_branch, "f") == guarded
    assert printable(log_branch, "f", guard=False) == log_branch
    assert printable(log_branch, "f", differentiable=True) == guarded
    # On a closed region the guard is a clamp, or for code autodiff differentiates a where (exact slope at the end).
    root = sp.Piecewise((sp.sqrt(x), x >= 0), (0, True))
    assert printable(root, "f") == sp.Piecewise((sp.sqrt(sp.Max(0, x)), x >= 0), (0, True))
    assert printable(root, "f", differentiable=True) == sp.Piecewise(
        (sp.sqrt(GuardedInput((x, x >= 0), (0, True))), x >= 0), (0, True))


def test_printable_uses_the_stable_or_the_differentiable_form_and_one_sided_kinks():
    assert printable(softplus(x), "f") == log1p(sp.exp(-sp.Abs(x))) + sp.Max(0, x)
    m = sp.Piecewise((1, x > 0), (0, True))
    assert printable(softplus(x), "f", differentiable=True) == x * m + log1p(sp.exp(x * (1 - 2 * m)))
    assert printable(sp.Abs(x), "f") == sp.Abs(x)
    assert printable(sp.Abs(x), "f", differentiable=True) == x * (2 * m - 1)


def test_use_expm1_log1p():
    assert use_expm1_log1p(sp.exp(x) - 1 + sp.log(1 + y)) == expm1(x) + log1p(y)


def test_printable_turns_number_expressions_into_17_digit_floats():
    assert printable(x + sp.log(2), "f") == x + sp.Float("0.69314718055994531", 17)
    assert str(printable(sp.sqrt(2) * x, "f")) == "1.414213562373095*x"
    assert printable(sp.Rational(1, 3) * x + sp.pi, "f") == x / 3 + sp.pi  # rationals and atoms stay exact


@pytest.mark.parametrize(
    ("expr", "shown"),
    [
        (x * sp.Float("1e400"), "1.0000E+400"),
        (x + sp.Float("1e-400"), "1.0000E-400"),
        (x * sp.Integer(10) ** 400, "1.0000E+400"),
        (x + sp.exp(-800), "3.6679E-348"),
    ],
)
def test_printable_refuses_a_constant_outside_float64(expr, shown):
    with pytest.raises(ValueError) as info:
        printable(expr, "penalty")
    assert str(info.value) == f"penalty: the constant {shown} does not fit a float64 (about ±1.8e308, ≥ 2.2e-308)"


def test_printable_accepts_the_extreme_float64_constants():
    for value in ("1.7976931348623157e308", "2.2250738585072014e-308", "5e-324"):
        assert printable(x * sp.Float(value), "f") == x * sp.Float(value)
    assert printable(x + 0 * y, "f") == x


# --- names ------------------------------------------------------------------------------------------------------------


def test_python_names_keep_safe_names_and_number_the_others():
    taken = {"numpy"}
    assert _python_name(sp.Symbol("w"), 0, taken) == "w" and "w" in taken
    assert _python_name(sp.Symbol("w"), 1, taken) == "x1"
    assert _python_name(sp.Symbol("lambda"), 2, taken) == "x2"
    assert _python_name(sp.Symbol("_hidden"), 3, taken) == "x3"
    assert _python_name(sp.Symbol("a b"), 4, taken) == "x4"
    assert _python_name(sp.Symbol("𝑥"), 5, taken) == "x5"
    assert _python_name(sp.Symbol("abs"), 6, taken) == "x6"
    assert _python_name(sp.Symbol("numpy"), 7, taken) == "x7"
    taken |= {"x8", "x8_1"}
    assert _python_name(sp.Symbol("if"), 8, taken) == "x8_2"
    assert _python_name(sp.Symbol("x8_2"), 9, taken) == "x9"
    assert taken == {"numpy", "w", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x8_1", "x8_2", "x9"}
    taken = {"x0"}
    assert _python_name(sp.Symbol("x0"), 0, taken) == "x0_1"  # the first free suffix
    assert "numpy" in _RESERVED and "abs" in _RESERVED and "print" in _RESERVED and "x" not in _RESERVED


def test_scalar_type_is_bound_only_when_a_later_line_calls_it():
    lines = ["a", "b = _t(1)", "c"]
    assert _bind_scalar_type(lines, 1) == ["a", "    _t = _dtype.type", "b = _t(1)", "c"]
    assert _bind_scalar_type(lines, 2) == lines
    assert _bind_scalar_type(["_t(1)", "c"], 1) == ["_t(1)", "c"]
    assert _bind_scalar_type(["a", "b_t(1)"], 1) == ["a", "    _t = _dtype.type", "b_t(1)"]
    assert _bind_scalar_type(["a", "_t"], 1) == ["a", "_t"]


def test_unwrapped_keeps_text_without_the_call_and_longer_names():
    assert _unwrapped("x + y", "_t(") == "x + y"
    assert _unwrapped("_t(1)", "_t(") == "(1)"
    assert _unwrapped("a._t(1) + b_t(2) + _t(3)", "_t(") == "a._t(1) + b_t(2) + (3)"
    assert _unwrapped("_t((1 + 2)*(3))*x", "_t(") == "((1 + 2)*(3))*x"
    assert _unwrapped("f(_t(1), _t(2))", "_t(") == "f((1), (2))"
    assert _unwrapped("_t(", "_t(") == "()"


# --- compile_kernel's source --------------------------------------------------------------------------------------------


def test_the_source_of_a_one_input_kernel():
    k = compile_kernel(x**2, [x], "sq")
    assert k.source == (
        "def sq(x):\n"
        "    x = _as_float(x, 'x')\n"
        "    _dtype = numpy.result_type(x)\n"
        "    x = numpy.asarray(x, _dtype) if type(x) is float else x\n"
        "    _shape = numpy.shape(x)\n"
        "    return _finish(x**2, _shape, _dtype, False, (x, ))\n"
    )
    assert k.listing == "def sq(x):\n    return x**2\n"
    assert k.name == "sq" and k.largest == 2.0
    assert k.function.__name__ == "sq" and k.function.__code__.co_filename == "<symdl kernel sq>"
    assert k(np.float64(3.0)) == 9.0


def test_the_source_of_a_two_input_kernel_with_common_subexpressions():
    k = compile_kernel(sp.sin(x * y) ** 2 + sp.cos(sp.sin(x * y) ** 2) + sp.exp(x) - 1, [x, y], "two")
    assert k.source == (
        "def two(x, y):\n"
        "    x = _as_float(x, 'x')\n"
        "    y = _as_float(y, 'y')\n"
        "    _dtype = numpy.result_type(x, y)\n"
        "    x = numpy.asarray(x, _dtype) if type(x) is float else x\n"
        "    y = numpy.asarray(y, _dtype) if type(y) is float else y\n"
        "    _shape = numpy.broadcast_shapes(numpy.shape(x), numpy.shape(y))\n"
        "    _c0 = numpy.sin(x*y)**2\n"
        "    return _finish(_c0 + numpy.cos(_c0) + numpy.expm1(x), _shape, _dtype, False, (x, y, ))\n"
    )
    assert k.listing == "def two(x, y):\n    _c0 = numpy.sin(x*y)**2\n    return _c0 + numpy.cos(_c0) + numpy.expm1(x)\n"
    assert k.largest == 2.0
    out = k(np.array([[0.5], [1.0]]), np.array([1.0, -2.0, 0.25]))
    assert out.shape == (2, 3)
    assert out[1, 1] == pytest.approx(math.sin(-2.0) ** 2 + math.cos(math.sin(-2.0) ** 2) + math.expm1(1.0), rel=1e-15, abs=0)


def test_the_source_of_a_kernel_with_a_step_binds_the_scalar_type_after_the_shape():
    k = compile_kernel(sp.Piecewise((sp.Rational(1, 3), x < 0), (sp.Rational(7, 5), True)), [x], "step")
    assert k.source == (
        "def step(x):\n"
        "    x = _as_float(x, 'x')\n"
        "    _dtype = numpy.result_type(x)\n"
        "    x = numpy.asarray(x, _dtype) if type(x) is float else x\n"
        "    _shape = numpy.shape(x)\n"
        "    _t = _dtype.type\n"
        "    return _finish((_t(1/3)*(_m2 := numpy.less(x, 0)) + _t(7/5)*~_m2), _shape, _dtype, False, (x, ))\n"
    )
    assert k.listing == "def step(x):\n    return ((1/3)*(_m1 := numpy.less(x, 0)) + (7/5)*~_m1)\n"
    assert k.largest == pytest.approx(1.4)
    out = k(np.array([-1.0, 2.0], dtype=np.float32))
    assert out.dtype == np.float32 and out.tolist() == [np.float32(1) / np.float32(3), np.float32(1.4)]


def test_a_unit_step_lists_its_mask_as_float():
    k = compile_kernel(sp.Piecewise((1, x < 0), (0, True)), [x], "unit")
    assert k.listing == "def unit(x):\n    return numpy.less(x, 0).astype(float)\n"
    assert "numpy.less(x, 0).astype(_dtype), _shape" in k.source and "_t = " not in k.source


def test_a_summed_kernel_multiplies_the_sum_by_its_coefficient_once():
    k = compile_kernel(3 * x**2, [x], "pen", reduce_sum=True)
    assert k.source == (
        "def pen(x):\n"
        "    x = _as_float(x, 'x')\n"
        "    _dtype = numpy.result_type(x)\n"
        "    x = numpy.asarray(x, _dtype) if type(x) is float else x\n"
        "    _shape = numpy.shape(x)\n"
        "    _t = _dtype.type\n"
        "    return _t(3)*_finish(x**2, _shape, _dtype, True, (x, ))\n"
    )
    assert k.listing == "def pen(x):\n    return 3*numpy.sum(x**2)\n"
    out = k(np.array([1.0, -2.0], dtype=np.float32))
    assert out == 15.0 and out.dtype == np.float32
    plain = compile_kernel(x**2 + x, [x], "pen2", reduce_sum=True)
    assert plain.source.splitlines()[-1] == "    return _finish(x*(x + 1), _shape, _dtype, True, (x, ))"
    assert plain.listing == "def pen2(x):\n    return numpy.sum(x*(x + 1))\n"
    assert plain(np.array([1.0, 2.0])) == 8.0
    assert compile_kernel(x**2, [x], "one", reduce_sum=False)(np.array([1.0, 2.0])).tolist() == [1.0, 4.0]


def test_a_constant_kernel():
    k = compile_kernel(sp.Integer(3), [x], "three")
    assert k.source.splitlines()[-1] == "    return _finish(3, _shape, _dtype, False, (x, ))"
    assert k.largest == 3.0 and k.listing == "def three(x):\n    return 3\n"
    assert compile_kernel(x, [x], "ident").largest == 0.0
    assert compile_kernel(x - 5, [x], "shift").largest == 5.0


def test_unsafe_symbols_get_numbered_names_in_the_source():
    lam, hidden = sp.Symbol("lambda", real=True), sp.Symbol("_t", real=True)
    k = compile_kernel(lam - 2 * hidden, [lam, hidden], "safe")
    assert k.source.splitlines()[0] == "def safe(x0, x1):"
    assert k(np.array([5.0]), np.array([1.0])).tolist() == [3.0]
    for reserved in ("numpy", "_t", "_as_float", "_finish"):
        s = sp.Symbol(reserved, real=True)
        assert compile_kernel(s + 1, [s], "k").source.splitlines()[0] == "def k(x0):", reserved
    taken = sp.Symbol("x0", real=True)
    assert compile_kernel(taken + lam, [taken, lam], "k").source.splitlines()[0] == "def k(x0, x1):"
    assert compile_kernel(lam + taken, [lam, taken], "k").source.splitlines()[0] == "def k(x0, x1):"


def test_inputs_are_real_whatever_their_symbols_assume():
    plain = sp.Symbol("z")  # no assumptions: |z|² is z² only for a real z
    k = compile_kernel(sp.Abs(plain) ** 2, [plain], "k")
    assert k.source.splitlines()[-1] == "    return _finish(z**2, _shape, _dtype, False, (z, ))"
    k = compile_kernel(sp.sqrt(plain**2), [plain], "k")
    assert k.source.splitlines()[-1] == "    return _finish(numpy.abs(z), _shape, _dtype, False, (z, ))"


def test_phi_keeps_its_exact_one_over_root_two_in_the_far_tail():
    # Φ(x) = erfc(−x/√2)/2: its stable form becomes erf pieces while 1/√2 is exact, so e^{−x²/2} splits exactly.
    k = compile_kernel(Phi(x), [x], "phi")
    with mpmath.workdps(50):
        for value in (-5.0, -20.0, -30.0, -37.0):
            assert k(np.float64(value)) == pytest.approx(float(mpmath.ncdf(value)), rel=2e-15, abs=0), value


def test_the_erf_pieces_are_printed_without_guards():
    # guard_branches runs before erf becomes its pieces (their clamps keep them finite): |x| < 1/2, the sign,
    # and two of erfc|x|'s three intervals are all the where's; guarding the pieces again doubles the source.
    source = compile_kernel(sp.erfc(x), [x], "k").source
    assert source.count("numpy.where(") == 4


def test_the_symbolic_work_is_cached_by_its_arguments():
    _kernel_source.cache_clear()
    compile_kernel(x**3, [x], "cube")
    compile_kernel(x**3, [x], "cube")
    assert _kernel_source.cache_info().hits == 1
    assert _kernel_source.cache_info().maxsize == 256


def test_kernels_of_one_expression_under_other_names_share_the_symbolic_work():
    # symdl verify's "function for derivative" mutant prints gelu's function again as gelu_d_z.
    _kernel_source.cache_clear()
    first = compile_kernel(sp.exp(x) - x**3, [x], "first")
    second = compile_kernel(sp.exp(x) - x**3, [x], "second")
    assert _kernel_source.cache_info().hits == 1
    assert second.source == first.source.replace("def first(", "def second(") != first.source
    assert second.listing == first.listing.replace("def first(", "def second(") != first.listing
    assert second(np.float64(0.5)) == first(np.float64(0.5)) and second.function.__name__ == "second"
    for name in ("f", "g"):  # an error names the kernel asked for, whichever name came first
        with pytest.raises(ValueError, match=f"^{name}: the constant"):
            compile_kernel(sp.Integer(10**400) * x, [x], name)


# --- checks -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: compile_kernel(x, [x], 3), TypeError, "kernel name must be a str, got int"),
        (lambda: compile_kernel(x > 0, [x], "k"), TypeError, "k: expr must be a SymPy expression, got StrictGreaterThan"),
        (lambda: compile_kernel(x, [x], "k", reduce_sum=1), TypeError, "k: reduce_sum must be True or False, got 1"),
        (lambda: compile_kernel(x, [], "k"), ValueError, "k: a kernel needs at least one input symbol"),
        (lambda: compile_kernel(x, [x, x], "k"), TypeError, "k: args must be distinct SymPy symbols, got [x, x]"),
        (lambda: compile_kernel(x, [x, 2 * y], "k"), TypeError, "k: args must be distinct SymPy symbols, got [x, 2*y]"),
        (lambda: compile_kernel(x + sp.I, [x], "k"), ValueError, "k: the expression is complex or infinite somewhere: x + I"),
        (lambda: compile_kernel(x + sp.zoo, [x], "k"), ValueError, "k: the expression is complex or infinite somewhere: zoo"),
        (lambda: compile_kernel(sp.Max(x, sp.oo), [x], "k"), ValueError, "k: the expression is complex or infinite somewhere: oo"),
        (lambda: compile_kernel(sp.Min(x, -sp.oo), [x], "k"), ValueError, "k: the expression is complex or infinite somewhere: -oo"),
        (lambda: compile_kernel(sp.Mul(x, sp.nan, evaluate=False), [x], "k"), ValueError,
         "k: the expression is complex or infinite somewhere: x*nan"),
        (lambda: compile_kernel(x, [x], "1k"), ValueError, "kernel name '1k' is not a Python identifier"),
        (lambda: compile_kernel(x, [x], "kö"), ValueError, "kernel name 'kö' is not a Python identifier"),
        (lambda: compile_kernel(x, [x], "class"), ValueError, "kernel name 'class' is not a Python identifier"),
        (lambda: compile_kernel(x, [x], "_k"), ValueError,
         "kernel name '_k' is taken by the generated code; use another identifier"),
        (lambda: compile_kernel(x, [x], "numpy"), ValueError,
         "kernel name 'numpy' is taken by the generated code; use another identifier"),
        (lambda: compile_kernel(x * sp.Float("1e400"), [x], "huge"), ValueError,
         "huge: the constant 1.0000E+400 does not fit a float64 (about ±1.8e308, ≥ 2.2e-308)"),
        (lambda: compile_kernel(x + y + sp.Symbol("a"), [x], "k"), ValueError,
         "k: symbols ['a', 'y'] have no value; give them as parameters"),
    ],
)
def test_bad_arguments_are_one_clear_error(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_a_kernel_name_may_contain_numpy():
    assert compile_kernel(x + 1, [x], "numpy2")(np.float64(1.0)) == 2.0


def test_a_constant_beyond_float32_refuses_float32_inputs():
    k = compile_kernel(x * sp.Float(1e300), [x], "big")
    assert k.largest == 1e300
    assert k(np.float64(2.0)) == 2e300
    with pytest.raises(ValueError) as info:
        k(np.float32(1.0))
    assert str(info.value) == (
        "big: the constant 1e+300 it holds does not fit float32 (largest finite value 3.40282e+38); "
        "call it with float64 inputs or give a smaller parameter value")
    with pytest.raises(TypeError, match="^argument 1: expected real numbers"):
        k(np.array([1j]))
    two = compile_kernel(x * y * sp.Float(1e300), [x, y], "big2")
    with pytest.raises(TypeError, match="^argument 2: expected real numbers"):
        two(np.float64(1.0), np.array([1j]))
    with pytest.raises(ValueError, match="does not fit float32"):
        two(np.float32(1.0), np.float32(2.0))


def test_the_largest_constants_that_fit():
    assert _FLOAT32_MAX == float(np.finfo(np.float32).max)
    at_float32 = compile_kernel(x * sp.Float(_FLOAT32_MAX), [x], "f32")
    assert at_float32(np.float32(0.5)) == np.float32(_FLOAT32_MAX / 2)
    top = float(np.finfo(np.float64).max)
    at_float64 = compile_kernel(x * sp.Float(top, 17), [x], "f64")  # 17 digits, as symdl makes parameter values
    assert at_float64.largest == top and at_float64(np.float64(0.5)) == top / 2


def test_a_kernel_is_a_frozen_record_calling_its_function():
    k = Kernel(name="k", source="", function=lambda a: a + 1)
    assert k.largest == 0.0 and k.listing == "" and k(1) == 2
    with pytest.raises(AttributeError):
        k.name = "other"  # type: ignore[misc]


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_double_precision_float_prints_as_that_double(value):
    """A Float of a double's 53 bits (SymPy's default) is printed as the double itself, not rounded to 15 digits."""
    x = sp.Symbol("x", real=True)
    constant = sp.Float(value)
    text = SymdlNumpyPrinter().doprint(constant)
    assert float(text.strip("()")) == value
    if value != 0 and abs(value) >= np.finfo(np.float64).tiny:
        kernel = compile_kernel(x * constant, [x], "scaled")
        assert kernel.function(np.array([1.0]))[0] == value


def test_a_wider_float_keeps_sympys_printing_and_its_value():
    """Past 53 bits SymPy's printer writes the digits the Float holds: 0.1 at 30 digits is 0.1 to the double."""
    text = SymdlNumpyPrinter().doprint(sp.Float("0.1", 30))
    assert float(text) == 0.1
    assert SymdlNumpyPrinter().doprint(sp.Float(1 / 3)) == "0.3333333333333333"
    assert SymdlNumpyPrinter().doprint(sp.Float(1.7976931348623157e308)) == "1.7976931348623157e+308"
