"""erf, erfc and Φ: the numpy pieces of symdl.symbolic.special against mpmath, the grammar, and the printers."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl import testing
from symdl.backends.printers import JaxPrinter, TorchPrinter
from symdl.codegen.kernel import compile_kernel, printable
from symdl.symbolic.functions import Phi
from symdl.symbolic.parse import parse
from symdl.symbolic.proof import prove_named_function, prove_zero

x = sp.Symbol("x", real=True)
FUNCTIONS = {"erf": sp.erf(x), "erfc": sp.erfc(x), "Phi": Phi(x)}
KERNELS = {name: compile_kernel(e, [x], name) for name, e in FUNCTIONS.items()}
EDGES = [0.0, 5e-324, -5e-324, 1e-300, 0.5, -0.5, 1.5, -1.5, 3.0, -3.0, 26.5, 27.9, 28.0, -37.0, 1000.0, -1000.0]
# erf/erfc: a few ulps. Φ(x) = erfc(−x/√2)/2: the rounding of x/√2 (1 ulp) becomes 2(x/√2)² ulps of erfc.
ULPS = {"erf": 4, "erfc": 4}


def _errors(name, v):
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        out = KERNELS[name](v)
    assert out.dtype == v.dtype
    reference = testing.mpmath_reference(FUNCTIONS[name], [x], [v])
    return testing.relative_error(out, reference)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["erf", "erfc"])
@settings(max_examples=20, deadline=None)
@given(points=st.lists(st.floats(-40, 40), min_size=30, max_size=30))
def test_erf_and_erfc_within_a_few_ulps_of_mpmath(name, dtype, points):
    v = np.concatenate([np.array(points), EDGES]).astype(dtype)
    assert np.max(_errors(name, v)) <= ULPS[name] * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_phi_as_accurate_as_its_argument_allows(dtype):
    v = np.concatenate([np.linspace(-40, 40, 801), EDGES]).astype(dtype)
    bound = (4 + 2 * (v.astype(np.float64) / np.sqrt(2)) ** 2) * np.finfo(dtype).eps
    assert np.all(_errors("Phi", v) <= bound)


def test_phi_far_left_keeps_its_digits_where_one_plus_erf_gives_zero():
    got = KERNELS["Phi"](np.array([-37.0]))[0]
    assert got == pytest.approx(5.7255712225239482e-300, rel=1e-12)


def test_phi_proofs_and_a_wrong_variant():
    assert all(prove_named_function(Phi).values())
    assert not prove_zero(sp.erfc(x / sp.sqrt(2)) / 2 - Phi(x).rewrite(sp.exp), x)


def test_grammar_accepts_erf_erfc_phi():
    z = sp.Symbol("z", real=True)
    assert parse("z*Phi(z) + erf(z) - erfc(z)") == z * Phi(z) + sp.erf(z) - sp.erfc(z)


def test_jax_and_torch_print_their_own_erf():
    assert JaxPrinter().doprint(printable(sp.erf(x), "f")) == "jax.lax.erf(x)"
    assert TorchPrinter().doprint(printable(sp.erfc(x), "f")) == "torch.special.erfc(x)"
    assert "erfc(-" in TorchPrinter().doprint(printable(Phi(x), "f"))  # not 1 − erfc/2: that cancels


def test_torch_erf_agrees():
    torch = pytest.importorskip("torch")
    v = np.linspace(-6, 6, 241)
    for name, fn in (("erf", torch.special.erf), ("erfc", torch.special.erfc)):
        np.testing.assert_allclose(KERNELS[name](v), fn(torch.tensor(v)).numpy(), rtol=1e-15, atol=0)
