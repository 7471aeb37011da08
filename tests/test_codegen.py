"""compile_kernel and the generated numpy code: dtypes, shapes, input checks, printing, safe names."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp

from symdl.codegen.kernel import Kernel, compile_kernel
from symdl.rulebook.registry import rule, rules
from symdl.rulebook.rule import Rule
from symdl.symbolic.functions import log_cosh, sigmoid, softplus

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)


def _elementwise_rule_names() -> list[str]:
    names = []
    for name, kind in rules().items():
        if kind in ("activation", "loss", "penalty") and isinstance(rule(name), Rule):
            names.append(name)
    return names


ELEMENTWISE = _elementwise_rule_names()
LOSSES = [n for n in ELEMENTWISE if rules()[n] == "loss"]


@functools.lru_cache(maxsize=None)
def get_rule(name: str) -> Rule:
    return rule(name)


@functools.lru_cache(maxsize=None)
def kernels(name: str) -> tuple[Kernel, ...]:
    """The forward kernel and one derivative kernel per input."""
    r = get_rule(name)
    return (r.numeric(), *(r.numeric_derivative(s) for s in r.inputs))


def _inputs(name: str, dtype, shape=(5,)):
    r = get_rule(name)
    values = []
    for i, s in enumerate(r.inputs):
        lo, hi = r.definition.input_ranges.get(s, (-3.0, 3.0))
        grid = np.linspace(lo, hi, int(np.prod(shape)))
        values.append((grid if i % 2 == 0 else grid[::-1]).reshape(shape).astype(dtype))
    return values


# --- dtypes, shapes, scalars -------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(name, dtype):
    for k in kernels(name):
        out = k(*_inputs(name, dtype))
        assert np.asarray(out).dtype == dtype, f"{k.name}: {dtype.__name__} in, {np.asarray(out).dtype} out"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_scalar_in_gives_numpy_scalar_out(name):
    r = get_rule(name)
    for dtype in (np.float32, np.float64):
        args = [dtype(0.25) for _ in r.inputs]
        for k in kernels(name):
            out = k(*args)
            assert isinstance(out, np.generic), f"{k.name} returned {type(out)}"
            assert out.dtype == dtype
    # A plain Python float is float64.
    out = kernels(name)[0](*[0.25 for _ in r.inputs])
    assert isinstance(out, np.float64)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_integer_input_is_float64_and_equals_float_input(name):
    r = get_rule(name)
    ints = [np.array([-2, -1, 0, 1, 2]) if r.definition.input_ranges.get(s) is None else np.array([0, 1, 1, 0, 1])
            for s in r.inputs]
    for k in kernels(name):
        out = np.asarray(k(*ints))
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, k(*[v.astype(np.float64) for v in ints]))


@pytest.mark.parametrize("name", LOSSES)
def test_losses_broadcast(name):
    a = np.linspace(-2, 2, 3).reshape(3, 1)
    target = np.linspace(0, 1, 4)  # inside every loss' target range
    for k in kernels(name):
        out = k(a, target)
        assert out.shape == (3, 4)
        full_a, full_t = np.broadcast_arrays(a, target)
        np.testing.assert_array_equal(out, k(full_a.copy(), full_t.copy()))
        for i in range(3):
            for j in range(4):
                assert out[i, j] == k(a[i, 0], target[j])


def test_mse_broadcast_against_hand_formula():
    a = np.array([[0.5], [-1.0], [2.0]])
    target = np.array([0.0, 1.0, -3.0, 0.25])
    forward, d_a, d_y = kernels("mse")
    np.testing.assert_allclose(forward(a, target), 0.5 * (a - target) ** 2, rtol=1e-15)
    np.testing.assert_allclose(d_a(a, target), a - target, rtol=1e-15)
    np.testing.assert_allclose(d_y(a, target), target - a, rtol=1e-15)


def test_mixed_precision_gives_the_wider_dtype():
    forward = kernels("mse")[0]
    out = forward(np.ones(3, dtype=np.float32), np.zeros(3, dtype=np.float64))
    assert out.dtype == np.float64


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if rules()[n] == "penalty"])
def test_penalty_forward_is_a_scalar_sum(name):
    w = np.array([[-1.5, 0.0], [2.0, 0.25]], dtype=np.float32)
    out = kernels(name)[0](w)
    assert isinstance(out, np.generic) and out.dtype == np.float32
    elementwise = compile_kernel(get_rule(name).numeric_forward_expr(), get_rule(name).inputs, "each")
    assert out == pytest.approx(float(np.sum(elementwise(w.astype(np.float64)))), rel=1e-6)
    assert kernels(name)[1](w).shape == w.shape


# --- constants -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_result_is_a_full_writeable_array(dtype):
    k = compile_kernel(sp.Integer(3), [x], "three")
    inp = np.zeros((2, 3), dtype=dtype)
    out = k(inp)
    assert out.shape == (2, 3) and out.dtype == dtype
    assert out.flags.writeable
    out[0, 0] = 7.0
    assert np.count_nonzero(out == 7.0) == 1, "the constant array must not be a broadcast view"
    np.testing.assert_array_equal(inp, 0.0)


def test_constant_result_of_two_inputs_broadcasts():
    k = compile_kernel(sp.Rational(1, 2), [x, y], "half")
    out = k(np.zeros((3, 1)), np.zeros(4))
    assert out.shape == (3, 4)
    out[...] = 1.0  # writeable


@pytest.mark.parametrize("name", ["identity", "relu", "hard_tanh", "mae", "l2"])
def test_constant_derivatives_are_full_writeable_arrays(name):
    r = get_rule(name)
    args = _inputs(name, np.float32)
    out = r.numeric_derivative()(*args)
    assert out.shape == args[0].shape and out.dtype == np.float32
    out[...] = 0.0


def test_kernel_result_does_not_alias_its_input():
    """Modifying an activation's output in place must not modify the pre-activation z."""
    z = np.array([-1.0, 0.5, 2.0])
    out = get_rule("identity").numeric()(z)
    out *= 2.0
    np.testing.assert_array_equal(z, [-1.0, 0.5, 2.0])


def test_piecewise_constant_branch_keeps_float32():
    k = compile_kernel(sp.Piecewise((sp.Rational(1, 3), x < 0), (x, True)), [x], "pw")
    out = k(np.array([-1.0, 1.0], dtype=np.float32))
    assert out.dtype == np.float32
    assert out[0] == np.float32(1) / np.float32(3)


def test_irrational_constants_keep_float32():
    k = compile_kernel(x + sp.log(2) + sp.pi + sp.sqrt(2), [x], "consts")
    out = k(np.array([1.0], dtype=np.float32))
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(1 + np.log(2) + np.pi + np.sqrt(2), rel=1e-6)


# --- bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "dtype_text"),
    [
        (np.array([1.0 + 2.0j]), "complex"),
        (np.array([1.0, None], dtype=object), "object"),
        ("1.5", "<U"),
        (np.array(["1.0", "2.0"]), "<U"),
        (1.0 + 0.5j, "complex"),
    ],
)
def test_non_real_input_is_refused(bad, dtype_text):
    k = kernels("sigmoid")[0]
    with pytest.raises(TypeError) as info:
        k(bad)
    message = str(info.value)
    assert "z" in message and dtype_text in message
    assert "\n" not in message


def test_non_real_second_input_is_named():
    with pytest.raises(TypeError, match=r"\by\b.*complex"):
        kernels("mse")[0](np.array([1.0]), np.array([1j]))


def test_free_symbol_without_value_is_refused():
    with pytest.raises(ValueError, match="y"):
        compile_kernel(x + y, [x], "needs_y")


def test_piecewise_without_otherwise_branch_is_refused():
    with pytest.raises(ValueError, match="otherwise"):
        compile_kernel(sp.Piecewise((x, x > 0)), [x], "partial")


# --- printing ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["relu", "hard_tanh", "huber", "elu", "leaky_relu", "abs", "mae", "l1"])
def test_rule_kernels_never_use_select(name):
    for k in kernels(name)[:2]:
        assert "select" not in k.source


def test_piecewise_with_varying_branches_prints_as_numpy_where():
    k = compile_kernel(sp.Piecewise((x**2, x < 0), (x, True)), [x], "pw")
    assert "numpy.where(" in k.source and "select" not in k.source
    np.testing.assert_array_equal(k(np.array([-3.0, 0.0, 2.0])), [9.0, 0.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_functions_print_as_exact_boolean_arithmetic(dtype):
    third = sp.Rational(1, 3)
    k = compile_kernel(sp.Piecewise((third, x < 0), (sp.Rational(7, 5), True)), [x], "step")
    assert "numpy.where(" not in k.source
    out = k(np.array([-2.0, 0.0, 5.0], dtype=dtype))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.array([1 / 3, 7 / 5, 7 / 5], dtype=dtype))
    unit = compile_kernel(sp.Piecewise((0, x <= 0), (1, True)), [x], "unit")
    np.testing.assert_array_equal(unit(np.array([-1.0, 0.0, 1e-300])), [0.0, 0.0, 1.0])


def test_clip_pattern_prints_as_numpy_clip():
    k = compile_kernel(sp.Max(-2, sp.Min(3, x)), [x], "clipped")
    assert "numpy.clip(" in k.source
    np.testing.assert_array_equal(k(np.array([-9.0, 0.5, 9.0])), [-2.0, 0.5, 3.0])


def test_min_max_print_as_numpy_minimum_maximum():
    k = compile_kernel(sp.Max(0, x) + sp.Min(x, 1), [x], "mm")
    assert "numpy.maximum(" in k.source and "numpy.minimum(" in k.source
    np.testing.assert_array_equal(k(np.array([-2.0, 0.5, 3.0])), [-2.0, 1.0, 4.0])


def test_elu_uses_expm1():
    assert "expm1" in get_rule("elu").numeric().source


def test_selu_uses_expm1():
    """SELU's negative branch λα(eᶻ − 1) must not be printed as the cancelling λαeᶻ − λα."""
    assert "expm1" in get_rule("selu").numeric().source


def test_log_cosh_uses_log1p():
    assert "log1p" in compile_kernel(log_cosh(x), [x], "lc").source


@pytest.mark.parametrize("func", [softplus, sigmoid])
def test_named_functions_print_their_stable_forms(func):
    source = compile_kernel(func(x), [x], "named").source
    assert "numpy.exp(-numpy.abs(x))" in source  # e^{−|x|} never overflows
    assert "numpy.exp(x)" not in source and "numpy.exp(-x)" not in source


@pytest.mark.parametrize(
    ("expr", "func"),
    [
        (sp.exp(x) - 1, "expm1"),
        (sp.log(1 + x), "log1p"),
        (sp.log(x + 1) + sp.exp(x) - 1, "log1p"),
    ],
)
def test_expm1_log1p_are_used_and_exact_for_tiny_inputs(expr, func):
    k = compile_kernel(expr, [x], "small")
    assert func in k.source
    tiny = np.array([1e-20, -3e-17, 1e-300])
    expected = np.array([1e-20, -3e-17, 1e-300]) * (2 if expr.has(sp.log) and expr.has(sp.exp) else 1)
    np.testing.assert_allclose(k(tiny), expected, rtol=1e-15)


@pytest.mark.parametrize("scale", [sp.Integer(2), sp.Rational(3, 2), sp.Float("1.7580993408473766")])
def test_expm1_survives_a_constant_factor(scale):
    """c·(eˣ − 1) near 0: SymPy distributes c over the sum; the printed code must still not cancel."""
    k = compile_kernel(scale * (sp.exp(x) - 1), [x], "scaled")
    tiny = np.array([1e-20, -1e-10, 1e-6])
    expected = float(scale) * np.expm1(tiny)
    np.testing.assert_allclose(k(tiny), expected, rtol=1e-14)


# --- generated names ------------------------------------------------------------


@pytest.mark.parametrize("name", ["__import__('os')", "lambda", "_t", "numpy", "_finish", "_as_float", "_dtype", "True",
                                  "x y", "a.b", "1x"])
def test_unsafe_symbol_names_are_renamed(name):
    s = sp.Symbol(name, real=True)
    k = compile_kernel(s**2 + 1, [s], "safe")
    header = k.source.splitlines()[0]
    assert name not in header
    assert "__import__" not in k.source
    np.testing.assert_array_equal(k(np.array([3.0, -1.0])), [10.0, 2.0])


@pytest.mark.parametrize(
    "names",
    [
        ("x1", "lambda"),  # the renamed 'lambda' must not take the name of the existing x1
        ("x0", "_t"),
        ("abs", "a"),  # a parameter called abs must not shadow the builtin abs the printer uses
        ("x", "𝑥"),  # two distinct symbols whose names Python's NFKC normalisation makes equal
    ],
)
def test_distinct_symbols_stay_distinct(names):
    first, second = (sp.Symbol(n, real=True) for n in names)
    k = compile_kernel(sp.Abs(first) - 2 * second, [first, second], "two")
    np.testing.assert_array_equal(k(np.array([-3.0]), np.array([1.0])), [1.0])
    np.testing.assert_array_equal(k(np.array([1.0]), np.array([-3.0])), [7.0])


@pytest.mark.parametrize("name", ["log(exp(z) + 1)", "huber d=1", "class", "1st", "f():\n    import os\ndef g"])
def test_kernel_name_must_be_an_identifier(name):
    with pytest.raises(ValueError, match="identifier"):
        compile_kernel(x**2, [x], name)


@pytest.mark.parametrize("name", ["numpy", "_finish", "_as_float", "abs", "_t", "_dtype", "x"])
def test_kernel_names_that_the_generated_code_uses_itself(name):
    """A valid identifier that clashes with the generated code's own names must work, or be refused up front."""
    try:
        k = compile_kernel(sp.Abs(x) + x**2, [x], name)
    except ValueError:
        return
    np.testing.assert_array_equal(k(np.array([-3.0, 2.0])), [12.0, 6.0])


def test_kernel_carries_its_source_and_name():
    k = compile_kernel(x**2, [x], "square")
    assert isinstance(k, Kernel)
    assert k.name == "square"
    assert k.source.startswith("def square(")
    compile(k.source, "<check>", "exec")  # the source is valid Python on its own
    assert k(np.float64(3.0)) == k.function(np.float64(3.0)) == 9.0
    assert "symdl kernel" in k.function.__code__.co_filename
