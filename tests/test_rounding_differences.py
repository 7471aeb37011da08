"""Finite differences of code with floor, ceil and round: a window over a jump is not a derivative.

A central difference whose window [x − h, x + h] holds a jump of ⌊g(x)⌋ is about ±1/(2h), whatever the derivative:
those windows are left out (symdl's own checks) or kept clear of the jumps (``check_grad(kinks="integers")``), and a
wrong derivative still fails everywhere else.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli.main import main
from symdl.codegen.kernel import compile_kernel
from symdl.symbolic.parse import parse
from symdl.testing import central_difference, check_grad, fd_step
from symdl.testing.differences import jump_free
from symdl.verify.measures import FD_TOLERANCE, fd_error

z, y = sp.symbols("z y", real=True)


def test_jump_free_marks_exactly_the_windows_over_a_jump():
    expr = parse("z*floor(z) + round(2*z)")
    x = np.array([1.0, 1.0 + 1e-9, 2.5, 0.25, 0.3, -0.75, 0.7])
    free = jump_free(expr, [z], [x])
    h = fd_step(x)
    # the generated floor(x ± h) and round(2(x ± h)) say where the window holds a jump
    crosses = (np.floor(x - h) != np.floor(x + h)) | (np.round(2 * (x - h)) != np.round(2 * (x + h)))
    assert np.array_equal(free, ~crosses) and list(free) == [False, False, True, False, True, False, True]
    assert jump_free(parse("z**2"), [z], [x]).all()  # nothing to jump
    assert jump_free(parse("y*floor(y) + z", ["z", "y"]), [z, y], [x, x], index=0).all()  # jumps in y, not z


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=1, max_size=10))
def test_outside_the_flagged_windows_the_difference_is_the_derivative(values):
    expr = parse("z*floor(z) + round(z)")  # derivative ⌊z⌋ away from the jumps
    x = np.array(values)
    forward = compile_kernel(expr, [z], "f")
    with np.errstate(all="ignore"):
        fd = central_difference(forward, [x])
    free = jump_free(expr, [z], [x])
    assert np.allclose(fd[free], np.floor(x[free]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("text", ["z*floor(z)", "round(z)*z**2", "ceil(3*z) + z", "where(z > 0.3, floor(z)*z, z**2)"])
def test_symdl_measures_pass_correct_formulas_with_jumps_and_fail_a_wrong_derivative(text):
    r = symdl.formula_rule(text)
    assert 0 <= fd_error(r, points=400) < FD_TOLERANCE
    wrong = symdl.formula_rule(text)
    right = r.numeric_derivative()
    wrong.numeric_derivative = lambda wrt=None: (lambda v: np.asarray(right(v)) + 2)  # a planted mistake
    assert fd_error(wrong, points=400) > 0.5


def test_check_grad_with_integer_kinks_never_steps_over_one():
    def f(x):
        return float(np.sum(x * np.floor(x)))

    def g(x):
        return np.floor(x)

    x = np.array([1.0 + 1e-7, 2.0 - 3e-7, -0.5 + 1e-8, 0.3])
    assert not check_grad(f, g, x).passed  # the default window crosses 1, 2 and 0: a false failure
    assert check_grad(f, g, x, kinks="integers").passed
    assert not check_grad(f, lambda v: np.floor(v) + 1, x, kinks="integers").passed  # a wrong gradient still fails
    # round jumps at the half-integers
    assert check_grad(lambda v: float(np.sum(v * np.round(v))), np.round, np.array([0.5 + 1e-9, 1.2]),
                      kinks="half-integers").passed
    with pytest.raises(ValueError, match="sits on a declared kink"):
        check_grad(f, g, np.array([2.0]), kinks="integers")
    with pytest.raises(ValueError, match="'integers' or 'half-integers'"):
        check_grad(f, g, x, kinks="odd")


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def test_cli_check_with_jumps():
    code, out, _ = _cli("check", "z*floor(z)", "--json")
    report = json.loads(out)
    assert code == 0, out
    assert "infinitely many" in json.dumps(report)
    code, out, _ = _cli("check", "z*floor(z)", "--derivative", "ceil(z)")
    assert code == 1 and "REFUTED at z = 1/2" in out
    code, out, _ = _cli("check", "z*floor(z)", "--derivative", "ceil(z) - 1")  # equal off the integers: not refuted
    assert code == 1 and "NOT PROVEN" in out and "infinitely many jumps" in out
    code, out, err = _cli("check", "round(z, 2)")
    assert code == 2 and err.count("\n") == 1 and "round() at column 1 takes 1 argument, got 2" in err
