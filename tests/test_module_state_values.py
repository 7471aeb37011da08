"""A generated module's train_step refuses an optimizer state value in one ValueError line, the value cut by excerpt.

PyTorch's and JAX's ``_check_state`` raised Python's OverflowError for a state scalar of 10**400 (``float()``,
``jnp.asarray``), JAX's said "could not convert string to float" for a string, and every backend echoed a huge
step count whole.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import symdl
from symdl.excerpt import excerpt
from symdl.export.network_modules import network_module_source
from symdl.export.standalone import network_module

_NETWORK = symdl.Network([3, 4, 2], optimizer="nadam")
_BAD_SCALARS = [10**400, -(10**400), "x" * 200, float("nan")]


@pytest.fixture(scope="module", params=["numpy", "torch", "jax"])
def module(request, tmp_path_factory):
    if request.param != "numpy":
        pytest.importorskip(request.param)
    path = tmp_path_factory.mktemp("state") / f"nadam_{request.param}.py"
    source = network_module(_NETWORK, "float32") if request.param == "numpy" else network_module_source(_NETWORK, request.param, "float32")
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _refusal(module, key: str, value: object) -> str:
    params = module.init_params(0)
    state = module.init_state(params)
    assert key in state
    state[key] = value
    with pytest.raises(ValueError) as caught:
        module.train_step(params, np.ones((4, 3), np.float32), np.full((4, 2), 0.5, np.float32), state)
    return str(caught.value)


@pytest.mark.parametrize("value", _BAD_SCALARS, ids=["1e400", "-1e400", "long str", "nan"])
def test_a_state_scalar_that_is_no_finite_real_is_one_line_naming_it_cut(module, value):
    assert _refusal(module, "mu_product", value) == f"state['mu_product']: expected a finite real number, got {excerpt(value)}"


def test_a_huge_negative_step_count_is_shown_cut(module):
    message = _refusal(module, "t", -(10**400))
    assert message.startswith("state['t']: expected a non-negative integer (the step count")
    assert message.endswith(f", got {excerpt(-(10**400))}") and len(message) < 200
