"""The hypothesis strategies refuse, when they are made, what would make them draw outside their promise.

``away_from_kinks`` with low > high or a negative margin drew the kink itself (relu's 0.0); a margin that leaves
no room, a wrong number of ``others`` or a rule name failed only when drawing, with hypothesis' or Python's words.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import symdl
from symdl.testing.formula_strategies import formula_texts
from symdl.testing.strategies import (
    away_from_kinks,
    batches,
    finite_floats,
    floats_away_from_kinks,
    network_specs,
)

RELU = symdl.rule("relu")


def drawn(strategy, n=30):
    out = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        out.append(value)

    collect()
    return out


@pytest.mark.parametrize("make", [away_from_kinks, floats_away_from_kinks])
@pytest.mark.parametrize(("options", "message"), [
    ({"low": 5.0, "high": -5.0}, r": expected finite low < high, got low=5\.0, high=-5\.0$"),
    ({"low": float("nan")}, r": expected finite low < high, got low=nan, high=40\.0$"),
    ({"low": -np.inf}, r": expected finite low < high, got low=-inf, high=40\.0$"),
    ({"margin": -1.0}, r": margin must be a finite number ≥ 0, got -1\.0$"),
    ({"margin": float("nan")}, r": margin must be a finite number ≥ 0, got nan$"),
])
def test_a_range_or_margin_that_would_draw_the_kink_is_refused(make, options, message):
    with pytest.raises(ValueError, match="^" + make.__name__ + message):
        make(RELU, **options)


def test_the_points_stay_in_the_range_and_off_the_kink():
    values = [v[0] for v in drawn(away_from_kinks(RELU, low=-5.0, high=5.0))] + drawn(floats_away_from_kinks(RELU, low=-5.0, high=5.0))
    assert all(-5.0 <= v <= 5.0 and abs(v) >= 1e-3 for v in values)


def test_a_margin_that_leaves_no_room_is_one_value_error_when_drawing():
    """It was hypothesis' InvalidArgument "Cannot sample from a length-zero sequence" (hypothesis adds its own lines)."""
    with pytest.raises(ValueError) as caught:
        drawn(away_from_kinks(RELU, margin=1e6))
    assert str(caught.value).splitlines()[0] == (
        "away_from_kinks: no point of [-40.0, 40.0] is 1000000.0·max(1, |p|) from every breakpoint p")


@pytest.mark.parametrize(("others", "message"), [
    ([1.0], r"^away_from_kinks: others: expected 0 value\(s\) for 'relu', got 1$"),
])
def test_others_of_the_wrong_length_are_refused_when_made(others, message):
    """It was the generated kernel's TypeError ("breakpoint_0() takes 1 positional argument but 2 were given")."""
    with pytest.raises(ValueError, match=message):
        away_from_kinks(RELU, others=others)
    with pytest.raises(ValueError, match=r"^away_from_kinks: others: expected 1 value\(s\) for 'huber', got 0$"):
        away_from_kinks(symdl.rule("huber"), others=[])


def test_a_rule_name_is_a_rule_and_a_vector_rule_is_refused_in_one_line():
    """'relu' was AttributeError: 'str' object has no attribute 'bind' (batches takes a loss by name already)."""
    assert all(abs(v[0]) >= 1e-3 for v in drawn(away_from_kinks("relu")))
    assert all(abs(v) >= 1e-3 for v in drawn(floats_away_from_kinks("relu")))
    with pytest.raises(TypeError, match=r"^away_from_kinks: expected an element-wise rule or its name, got VectorRule 'softmax'$"):
        away_from_kinks(symdl.rule("softmax"))


@pytest.mark.parametrize(("options", "message"), [
    ({"max_depth": 0}, r"^network_specs: max_depth must be a positive integer, got 0$"),
    ({"max_width": 0}, r"^network_specs: max_width must be a positive integer, got 0$"),
    ({"activations": ["nope"]}, r"^network_specs: activations: unknown or not accepted 'nope'; accepted: "),
    ({"activations": ["mse"]}, r"^network_specs: activations: unknown or not accepted 'mse'; accepted: "),
    ({"losses": ["relu"]}, r"^network_specs: losses: unknown or not accepted 'relu'; accepted: "),
    ({"penalties": []}, r"^network_specs: penalties must be a non-empty list of penalty names or None, got \[\]$"),
])
def test_network_specs_refuse_what_no_network_takes(options, message):
    """max_depth=0 was hypothesis' "Cannot have max_size=1 < min_size=2"; an unknown activation was drawn into specs
    that no Network accepts."""
    with pytest.raises(ValueError, match=message):
        network_specs(**options)


@pytest.mark.parametrize(("layers", "options", "message"), [
    ([], {}, r"^batches: layers must be at least two positive integer widths, got \[\]$"),
    ([0, 2], {}, r"^batches: layers must be at least two positive integer widths, got \[0, 2\]$"),
    ([2, 2], {"max_batch": 0}, r"^batches: max_batch must be a positive integer, got 0$"),
])
def test_batches_refuse_layers_or_a_batch_size_no_network_has(layers, options, message):
    """[] was IndexError, [0, 2] drew X of width 0, max_batch=0 was hypothesis' InvalidArgument."""
    with pytest.raises(ValueError, match=message):
        drawn(batches(layers, **options), 1)


def test_float32_bounds_beyond_float32_are_clipped_without_warnings():
    """finite_floats(np.float32, -1e39, 1e39) warned "overflow encountered in cast" while making the strategy."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = drawn(finite_floats(np.float32, -1e39, 1e39))
    assert all(abs(v) <= float(np.finfo(np.float32).max) for v in values)


def test_formula_symbols_as_one_string_are_refused():
    """symbols='za' drew formulas in z and a, one letter each; the message already asked for a tuple of names."""
    with pytest.raises(ValueError, match=r"^formula_texts: symbols must be a non-empty tuple of names, got 'za'$"):
        formula_texts(symbols="za")


def test_numpy_widths_are_widths():
    """np.array([3, 4]) (a Network takes it) was hypothesis' "Array shape must be integer in each dimension"."""
    assert all(X.shape[1] == 3 and Y.shape[1] == 4 for X, Y in drawn(batches(np.array([3, 4]), max_batch=np.int64(2)), 5))
