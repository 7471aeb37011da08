"""replace_shared = SymPy's replace (visiting shared subexpressions once), and the caches of the printing path."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symdl.codegen.kernel import compile_kernel
from symdl.symbolic.functions import Phi
from symdl.symbolic.shared_replace import replace_shared
from symdl.symbolic.special import expand_erf
from symdl.testing import mpmath_reference

z, w = sp.symbols("z w", real=True)

CASES = [
    (sp.erf(z / sp.sqrt(2)) * z + sp.erfc(-z / sp.sqrt(2)), lambda e: e.is_number and not e.is_Atom, lambda e: e.evalf(17)),
    (Phi(z) * z + Phi(w) ** 2, lambda e: isinstance(e, Phi), lambda e: type(e).stable(*e.args)),
    (sp.Max(0, sp.Min(z, 3)) + sp.Min(z, 3) ** 2, lambda e: isinstance(e, sp.Min), lambda e: sp.Min(*e.args, 2)),
    # A replacement that collapses its parent onto an argument: SymPy stops there.
    (sp.exp(z) + sp.exp(z) * w, lambda e: isinstance(e, sp.exp), lambda e: sp.Integer(1)),
    (sp.sin(z) + 1, lambda e: isinstance(e, sp.cos), lambda e: sp.Integer(0)),
]


@pytest.mark.parametrize("expr, query, value", CASES)
def test_same_as_sympy_replace(expr, query, value):
    assert replace_shared(expr, query, value) == expr.replace(query, value)


def test_same_as_sympy_on_the_erf_pieces():
    pieces = expand_erf(sp.erfc(-z / sp.sqrt(2)) * z)
    query, value = CASES[0][1], CASES[0][2]
    assert replace_shared(pieces, query, value) == pieces.replace(query, value)


def test_compile_kernel_reuses_the_printed_source_only_for_the_same_call():
    expr = sp.log(1 + sp.exp(z)) * w
    first, second = compile_kernel(expr, [z, w], "f"), compile_kernel(expr, [z, w], "f")
    assert first.source == second.source and first.function is not second.function
    assert "def g(" in compile_kernel(expr, [z, w], "g").source
    assert compile_kernel(expr, [w, z], "f").source.startswith("def f(w, z)")
    # 2.0 and 2 hash alike but are different expressions, printed differently.
    assert "2.0*z" in compile_kernel(sp.Float(2.0) * z, [z], "f").source
    assert "2*z" in compile_kernel(2 * z, [z], "f").source


def test_bad_input_is_refused_each_time():
    for _ in range(2):
        with pytest.raises(ValueError, match="no value"):
            compile_kernel(z * w, [z], "f")


def test_phi_reference_is_exact_far_left():
    # Φ(−37) = 5.7255712225239e-300: the definition's 1 + erf(−37/√2) cancels to 0 below ~300 digits.
    reference = mpmath_reference(Phi(z), [z], [np.array([-37.0, 0.0, 3.0])])
    with mpmath.workdps(50):
        expected = [float(mpmath.ncdf(x)) for x in (-37, 0, 3)]
    assert reference.tolist() == expected
    assert Phi.reference(z) == Phi.stable(z)
