"""A printed numpy kernel called with Python numbers computes as it does with 0-d arrays.

sin(z − a)/(z − a)' at z = a is the branch 0 of a numpy.where; the other branch, (a − z)^−1·…, is computed and
discarded. With Python floats that power raised ZeroDivisionError (Python's float arithmetic), with arrays it is inf
(numpy's warning) and the where picks 0.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl

_SINC = symdl.formula_rule("sin(z - a)/(z - a)", symbols=["a"])
_KERNELS = (_SINC.numeric(), _SINC.numeric_derivative(), _SINC.numeric_derivative("a"))

_numbers = st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))


def _same(got: object, want: object) -> bool:
    """Equal values (nan where nan), dtype and type: a numpy float64 scalar from both."""
    return type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype and np.array_equal(
        got, want, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(a=_numbers, at_pole=st.booleans(), z=_numbers)
def test_python_numbers_give_what_0d_arrays_give_also_at_the_pole(a, at_pole, z):
    z = a if at_pole else z  # the discarded branch has its pole at z = a
    for kernel in _KERNELS:
        with np.errstate(all="ignore"):  # the discarded branch warns for arrays and now for numbers alike
            want = kernel(np.asarray(float(z)), np.asarray(float(a)))
            got = kernel(z, a)
        assert _same(got, want), (kernel.name, z, a, got, want)
    if at_pole:
        with np.errstate(all="ignore"):
            assert _KERNELS[1](z, a) == 0.0  # the limit there, as arrays give


@settings(max_examples=30, deadline=None)
@given(a=_numbers, at_pole=st.booleans(), z=_numbers)
def test_a_python_number_beside_a_float32_array_keeps_float32(a, at_pole, z):
    # The Python number stays weak for the dtype (NEP 50), then computes as a float32 0-d array.
    z = a if at_pole else z
    arrays = np.array([a, a + 1], dtype=np.float32)
    for kernel in _KERNELS:
        with np.errstate(all="ignore"):
            got = kernel(z, arrays)
            want = kernel(np.asarray(z, dtype=np.float32), arrays)
        assert got.dtype == np.float32 and _same(got, want), (kernel.name, z, a)
