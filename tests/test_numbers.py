"""symdl.numbers.format_number: format()'s text wherever format works, and text (never an exception) elsewhere."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symdl.cli.main import main
from symdl.numbers import format_number

SPECS = ["", "g", ".3g", ".17g", ".1e", ".6g", "+.3E", ".2f"]


@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECS))
def test_python_and_numpy_floats_are_formatted_as_format_does(x, spec):
    assert format_number(x, spec) == format(x, spec)
    assert format_number(np.float64(x), spec) == format(np.float64(x), spec)


@given(st.integers(min_value=-10**30, max_value=10**30), st.sampled_from(SPECS))
def test_integers_that_fit_a_float_are_formatted_as_format_does(n, spec):
    assert format_number(n, spec) == format(n, spec)
    assert format_number(sp.Integer(n), spec) == format(n, spec)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300), st.sampled_from(SPECS))
def test_sympy_floats_in_decimal_range_keep_sympys_own_text(x, spec):
    number = sp.Float(x, 10)
    assert format_number(number, spec) == format(number, spec)


@pytest.mark.parametrize("value, spec, text", [
    (sp.exp(-sp.Float(1e300)), "", "10**(-4.34294e+299)"),
    (-sp.exp(sp.Float(1e300)), ".3g", "-10**(4.34294e+299)"),
    (sp.Float(mpmath.mpf(10) ** -(10**17)), ".3g", "1.00e-100000000000000000"),
    (sp.Float(mpmath.mpf(-2.5) * mpmath.mpf(10) ** (10**17)), ".1e", "-2.5e+100000000000000000"),
    (sp.Integer(10) ** 400, ".3g", "1e+400"),
    (10**400, ".3g", "1e+400"),
    (sp.S.Zero, ".3g", "0"),
    (sp.nan, ".3g", "nan"),
    (sp.oo, "", "inf"),
    (-sp.oo, ".1e", "-inf"),
    (sp.zoo, "", "zoo"),
    (2 + 3j, ".3g", "2+3j"),
    (sp.Float(2) - 3 * sp.I, "g", "2-3j"),
    (sp.exp(-sp.Float(1e300)) * sp.I + 1, ".3g", "1+10**(-4.34294e+299)j"),
    (sp.Rational(1, 3), "", "1/3"),
    (sp.Rational(1, 3), ".3g", "0.333"),
    (sp.pi, ".5g", "3.1416"),
    (sp.Symbol("x") + 1, ".3g", "x + 1"),
])
def test_numbers_format_cannot_print(value, spec, text):
    assert format_number(value, spec) == text


@given(st.integers(min_value=-(10**22), max_value=10**22), st.floats(min_value=1, max_value=9.99),
       st.sampled_from(["", "g", ".3g", ".1e", "+.4E"]))
def test_any_exponent_reads_back(exponent, mantissa, spec):
    value = sp.Float(mpmath.mpf(mantissa) * mpmath.mpf(10) ** exponent)
    text = format_number(value, spec)
    expected = exponent + math.log10(mantissa)
    if text.lstrip("+").startswith("10**("):
        assert abs(exponent) >= 10**17
        assert math.isclose(float(text.lstrip("+")[5:-1]), expected, rel_tol=1e-5)
    else:
        with mpmath.workdps(40):  # exponents beyond 2**53: compare in 40 digits, not in float64
            assert abs(mpmath.log10(mpmath.mpf(text)) - exponent - mpmath.log10(mantissa)) < 0.05


@pytest.mark.parametrize("argv", [
    ["check", "exp(-1e300)*z"],
    ["codegen", "exp(-1e300)*z", "-o", "{tmp}/f.py"],
    ["report", "--formula", "exp(-1e300)*z", "-o", "{tmp}/d", "--no-plots"],
    ["derive", "exp(-1e300)*z"],
])
def test_a_constant_beyond_decimal_is_one_line_not_a_traceback(capsys, tmp_path, argv):
    code = main([a.format(tmp=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("symdl: error: ") and "10**(-4.34294e+299)" in err
    assert list(tmp_path.iterdir()) == []
