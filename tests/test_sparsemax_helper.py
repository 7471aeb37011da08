"""sparsemax's τ in generated code: one named helper per array module, defined once, called once per kernel;
its values against the exact sort-based τ of symdl.codegen.simplex on any axis."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import symdl
from symdl.codegen.module_text import module_source
from symdl.codegen.simplex import threshold_name, threshold_namespace, threshold_value
from symdl.export.standalone import rule_module


def _module_text(backend: str) -> str:
    if backend == "numpy":
        return rule_module(symdl.rule("sparsemax"))
    from symdl.export.custom_gradient import rule_module_source

    return rule_module_source("sparsemax", backend)


@pytest.mark.parametrize(("backend", "module"), [("numpy", "numpy"), ("jax", "jnp"), ("torch", "torch")])
def test_tau_is_one_helper_defined_once_and_called_once_per_kernel(backend, module):
    if backend != "numpy":
        pytest.importorskip(backend)
    text = _module_text(backend)
    name = threshold_name(module)
    assert text.count(f"def {name}(") == 1
    assert "lambda" not in text
    forward = "sparsemax" if backend == "numpy" else "sparsemax_forward"
    kernels = [block for block in re.split(r"\n(?=def )", text) if block.startswith((f"def {forward}(", "def sparsemax_vjp_z("))]
    assert len(kernels) == 2 and all(block.count(f"{name}(") == 1 for block in kernels), kernels


def test_a_module_gets_the_helper_only_where_a_block_calls_it():
    call = f"def f(z):\n    return {threshold_name('numpy')}(z, -1)\n"
    assert f"def {threshold_name('numpy')}(" in module_source('"""m."""\n', ["import numpy"], ["f"], [call])
    plain = module_source('"""m."""\n', ["import numpy"], ["f"], ["def f(z):\n    return z\n"])
    assert "_simplex_threshold" not in plain


@settings(max_examples=40)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
              elements=st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)), st.sampled_from([0, 1, -1, -2]))
def test_the_numpy_helper_is_the_exact_tau_on_any_axis(zz, axis):
    helper = threshold_namespace(f"{threshold_name('numpy')}(")[threshold_name("numpy")]
    with np.errstate(all="raise"):
        got = helper(zz, axis)
    rows = np.moveaxis(zz, axis, -1)
    exact = [float(threshold_value([Fraction(x) for x in row])) for row in rows]
    np.testing.assert_allclose(np.moveaxis(got, axis, -1)[..., 0], exact, rtol=1e-12, atol=1e-9)
