"""Test configuration: hypothesis profiles and numpy errors as exceptions."""

import atexit
import hashlib
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# XLA's CPU compiles are most of the JAX tests' time; LLVM's optimisation level changes how fast the compiled code runs,
# not what it computes (no fast-math either way): -O0 takes a fifth off test_graph_mixed's CPU time. Set before any
# test imports jax; subprocesses inherit it, and a test that sets XLA_FLAGS itself keeps its own.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

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


# `symdl verify`'s disk cache: every test starts with its own empty one, never the user's (subprocesses inherit it).
_CACHE_ROOT = tempfile.mkdtemp(prefix="symdl-test-cache-")
atexit.register(shutil.rmtree, _CACHE_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def _own_verify_cache(monkeypatch, request):
    name = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    monkeypatch.setenv("SYMDL_CACHE_DIR", os.path.join(_CACHE_ROOT, name))


@pytest.fixture
def solveset_calls(monkeypatch):
    """Every expression symdl.symbolic.regimes hands SymPy's solveset in this test, in order (the call still runs)."""
    import sympy as sp

    import symdl.symbolic.regimes as regimes

    asked: list = []
    solveset = sp.solveset

    def recording(expr, *args, **kwargs):
        asked.append(expr)
        return solveset(expr, *args, **kwargs)

    monkeypatch.setattr(regimes.sp, "solveset", recording)
    return asked
