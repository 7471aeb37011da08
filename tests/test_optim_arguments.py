"""Schedules take numpy's numbers as PyTorch's schedulers do; a value out of range is still one ValueError line."""

import re

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


@pytest.mark.parametrize("t", [0, -1, 1.5, "3", True, None])
@pytest.mark.parametrize("make", [lambda: step(0.1, 3), lambda: cosine(0.1, 10), lambda: symdl.optim.exponential(0.1, 0.5)])
def test_a_schedule_is_read_at_whole_steps_from_one(make, t):
    """at(0) gave η/γ (step's 1.0 for lr 0.1, exponential's 0.2) though step 1 is the first; at(1.5) truncated to
    step 1, at('3') parsed the text, at(True) was step 1 and at(None) SymPy's TypeError."""
    with pytest.raises(ValueError, match=r"^(step|cosine|exponential) schedule: t must be a whole step number ≥ 1 "
                                         rf"\(the first step is 1\), got {re.escape(repr(t))}$"):
        make().at(t)


def test_a_numpy_step_number_is_a_step():
    assert step(0.1, 3, 0.5).at(np.int64(4)) == step(0.1, 3, 0.5).at(4) == 0.05
