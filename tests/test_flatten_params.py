"""flatten_params / unflatten_params: θ of another length than the params is one ValueError line; no params is θ = []."""

import numpy as np
import pytest

from symdl.testing import flatten_params, unflatten_params

LIKE = {"W1": np.zeros((2, 3)), "b1": np.zeros(2, dtype=np.float32)}


def test_a_theta_of_another_length_is_refused():
    """A longer θ was cut silently (its tail ignored); a shorter one was numpy's "cannot reshape array of size 7"."""
    for size in (7, 9):
        with pytest.raises(ValueError, match=rf"^unflatten_params: theta has {size} entries; like holds 8 \(W1 \(2, 3\), b1 \(2,\)\)$"):
            unflatten_params(np.arange(size, dtype=float), LIKE)


def test_the_round_trip_keeps_shapes_and_dtypes_and_no_params_is_an_empty_theta():
    theta = np.arange(8, dtype=float)
    back = unflatten_params(theta, LIKE)
    assert [(v.shape, v.dtype) for v in back.values()] == [((2, 3), np.float64), ((2,), np.float32)]
    assert np.array_equal(flatten_params(back), theta)
    assert flatten_params({}).shape == (0,)  # was numpy's "need at least one array to concatenate"
    assert unflatten_params(np.zeros(0), {}) == {}


def test_a_theta_of_two_dimensions_and_params_without_names_are_one_line():
    """A (1, 8) θ of the right size was numpy's "cannot reshape array of size 8 into shape (2,3)"; a list for params
    an IndexError (flatten_params) or an AttributeError (unflatten_params), and None an empty θ."""
    with pytest.raises(ValueError, match=r"^unflatten_params: theta has shape \(1, 8\); expected a 1-D array of 8 entries \(W1 \(2, 3\), b1 \(2,\)\)$"):
        unflatten_params(np.zeros((1, 8)), LIKE)
    for call, message in ((lambda: flatten_params([1.0, 2.0]), "flatten_params: params must be a dict of arrays (name → array), got list"),
                          (lambda: flatten_params(None), "flatten_params: params must be a dict of arrays (name → array), got NoneType"),
                          (lambda: unflatten_params(np.zeros(2), [np.zeros(2)]), "unflatten_params: like must be a dict of arrays (name → array), got list")):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == message
    # a dict of lists flattens, so it unflattens too (its shapes and dtype read as numpy reads them)
    assert np.array_equal(unflatten_params(np.array([3.0, 4.0]), {"a": [1.0, 2.0]})["a"], [3.0, 4.0])
