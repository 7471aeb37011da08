"""Test configuration: hypothesis profiles and numpy errors as exceptions."""

import atexit
import hashlib
import os
import shutil
import tempfile

# One thread for OpenMP, OpenBLAS and MKL (torch's and numpy's kernels), set before either is imported (subprocesses
# inherit it): the tests' arrays are far too small to split, and with two threads torch's OpenMP workers spin-wait for
# each other — on a loaded 2-core machine, 60 train_steps of a [4, 16, 16, 2] module took 0.83 s of CPU, 0.04 s with one.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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
