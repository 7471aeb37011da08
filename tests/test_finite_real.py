"""finite_real: the check behind every hyperparameter and learning rate, |value| ≤ top (0 ≤ lr ≤ top), in one line.

In process only: the generated modules carry a copy of its source (tests/test_lr_sign.py runs those).
"""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from symdl.backends.runtime_numbers import finite_real
from symdl.network.checks import check_hyperparameter, check_learning_rate
from symdl.optim.checks import check_learning_rate as check_optimizer_lr

TOP64, TOP32 = sys.float_info.max, float(np.finfo(np.float32).max)


@given(st.floats(-TOP64, TOP64))
def test_every_finite_float_is_taken_as_itself(value):
    assert finite_real("beta1", value, TOP64) == value


@given(st.floats(0.0, TOP64))
def test_every_finite_float_from_0_is_a_learning_rate(value):
    assert finite_real("lr", value, TOP64) == value


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), (np.int64(-3), -3.0), (np.float32(0.5), 0.5),
                                                 (Fraction(1, 4), 0.25), (-0.0, 0.0)])
def test_any_real_number_is_returned_as_a_float(value, expected):
    got = finite_real("beta1", value, TOP64)
    assert type(got) is float and got == expected


def test_both_ends_are_inclusive_and_a_learning_rate_starts_at_0():
    assert finite_real("beta1", -TOP32, TOP32) == -TOP32 and finite_real("beta1", TOP32, TOP32) == TOP32
    assert finite_real("lr", 0, TOP32) == 0.0 and finite_real("lr", TOP32, TOP32) == TOP32
    assert finite_real("alpha", -1e-300, TOP64) == -1e-300


@pytest.mark.parametrize(("name", "value", "top", "span"), [
    ("lr", -1e-300, TOP64, "0 to 1.8e308"),
    ("lr", float("nan"), TOP64, "0 to 1.8e308"),
    ("lr", True, TOP64, "0 to 1.8e308"),
    ("beta1", float("inf"), TOP64, "-1.8e308 to 1.8e308"),
    ("beta1", -float("inf"), TOP64, "-1.8e308 to 1.8e308"),
    ("beta1", False, TOP64, "-1.8e308 to 1.8e308"),
    ("beta1", "0.9", TOP64, "-1.8e308 to 1.8e308"),
    ("beta1", None, TOP64, "-1.8e308 to 1.8e308"),
    ("beta1", 1 + 0j, TOP64, "-1.8e308 to 1.8e308"),
    ("eps", 1e39, TOP32, "-3.4e38 to 3.4e38"),
    ("eps", -1e39, TOP32, "-3.4e38 to 3.4e38"),
    ("lr", 10**400, TOP64, "0 to 1.8e308"),  # float() overflows: refused, not an OverflowError
    ("lr", -(10**400), TOP32, "0 to 3.4e38"),
])
def test_anything_else_is_one_value_error_naming_the_accepted_span(name, value, top, span):
    with pytest.raises(ValueError) as caught:
        finite_real(name, value, top)
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    assert str(caught.value) == f"{name}: expected a finite real number from {span}, got {shown}"


@pytest.mark.parametrize("value", [10**400, -(10**59), Fraction(-(10**70), 3), "9" * 200])
def test_a_long_value_is_cut_to_60_characters_in_the_error(value):
    with pytest.raises(ValueError) as caught:
        finite_real("lr", value, TOP64)
    message = str(caught.value)
    got = message.split(", got ", 1)[1]
    assert len(got) == 60 and got == repr(value)[:57] + "..." and "\n" not in message


def test_a_value_of_60_characters_is_shown_whole():
    value = "x" * 58  # repr adds the two quotes: 60 characters
    with pytest.raises(ValueError) as caught:
        finite_real("lr", value, TOP64)
    assert str(caught.value).endswith(f", got {value!r}")


def test_the_library_checks_say_it_in_the_same_words_for_their_dtype():
    assert check_learning_rate(0.5, np.dtype(np.float32)) == 0.5 and check_optimizer_lr(0.5) is None
    with pytest.raises(ValueError, match=r"^lr: expected a finite real number from 0 to 3\.4e38, got -0\.5$"):
        check_learning_rate(-0.5, np.dtype(np.float32))
    with pytest.raises(ValueError, match=r"^lr: expected a finite real number from 0 to 1\.8e308, got -0\.5$"):
        check_optimizer_lr(-0.5)
    with pytest.raises(ValueError, match=r"^beta1: expected a finite real number from -3\.4e38 to 3\.4e38, got 1e\+300$"):
        check_hyperparameter("beta1", 1e300, np.dtype(np.float32))
