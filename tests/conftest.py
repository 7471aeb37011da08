"""Test configuration: hypothesis profiles and numpy errors as exceptions."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _numpy_errors_raise():
    """Overflow, invalid and divide-by-zero raise inside every test (underflow to 0 is exact enough)."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield
