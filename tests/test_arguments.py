"""symdl.arguments' checks of plain arguments: what each takes, and the one-line ValueError for the rest."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from symdl.arguments import non_negative_number, number_in_range, positive_int


@given(st.integers(1, 2**80), st.booleans())
def test_positive_int_takes_positive_integers_python_or_numpy(n, as_numpy):
    value = np.int64(min(n, 2**62)) if as_numpy else n
    out = positive_int(value, "what")
    assert type(out) is int and out == value


@given(st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.just(np.bool_(True)),
                 st.text(max_size=5), st.just(np.float64(3.0))))
def test_positive_int_refuses_the_rest_in_one_line(value):
    with pytest.raises(ValueError, match=r"^Dense: units must be a positive integer, got .+$") as error:
        positive_int(value, "Dense: units")
    assert "\n" not in str(error.value)


@given(st.one_of(st.floats(0.0, allow_infinity=False), st.integers(0, 10**300), st.floats(0.0, 1e6).map(np.float32)))
def test_non_negative_number_takes_finite_numbers_from_zero(value):
    out = non_negative_number(value, "what")
    assert type(out) is float and out == float(value) and out >= 0


@given(st.one_of(st.floats(max_value=-1e-300), st.just(math.nan), st.just(math.inf), st.booleans(), st.just("1.0"),
                 st.integers(min_value=10**309), st.just(None)))
def test_non_negative_number_refuses_the_rest_in_one_line(value):
    with pytest.raises(ValueError, match=r"^loss weight must be a finite number ≥ 0, got .+$"):
        non_negative_number(value, "loss weight")


@pytest.mark.parametrize("check", [
    lambda v: positive_int(v, "n"),
    lambda v: non_negative_number(v, "x"),
    lambda v: number_in_range("lr", v, 0.0, None),
])
def test_a_long_value_is_cut_to_60_characters(check):
    with pytest.raises(ValueError) as error:
        check("a" * 10_000)
    shown = str(error.value).split("got ", 1)[1]
    assert shown == "'" + "a" * 56 + "..."


def test_a_number_beyond_float_range_is_refused_in_one_line_not_an_overflow():
    with pytest.raises(ValueError, match=r"^lr: expected a finite number > 0, got 1000+\.\.\.$"):
        number_in_range("lr", 10**400, 0.0, None)
