"""Schedules take numpy's numbers as PyTorch's schedulers do; a value out of range is still one ValueError line."""

import numpy as np
import pytest

import symdl
from symdl.optim import cosine, sgd, step


def test_a_numpy_step_size_is_a_step_size():
    """step_size=np.int64(3) said "expected a positive whole number of steps, got np.int64(3)" (StepLR takes it)."""
    assert step(0.1, step_size=np.int64(3)) == step(0.1, step_size=3)
    assert symdl.optimizer("sgd", lr=step(0.1, step_size=np.int32(2), gamma=np.float32(0.5))) == sgd(lr=step(0.1, 2, 0.5))
    assert cosine(0.1, T_max=np.int64(10)) == cosine(0.1, T_max=10)


@pytest.mark.parametrize("size", [np.int64(0), np.float64(2.5), np.bool_(True), True, "3"])
def test_a_step_size_that_is_not_a_positive_whole_number_is_refused(size):
    with pytest.raises(ValueError, match=r"^step_size: expected a positive whole number of steps, got "):
        step(0.1, step_size=size)
