"""The one algebra of index sums: the Kronecker-delta contraction, the normal form and the zero test."""

from __future__ import annotations

import importlib
import inspect

import pytest
import sympy as sp

from symdl.symbolic import index_sums
from symdl.symbolic.index_sums import (
    bound_index,
    contract_deltas,
    is_zero_index_expr,
    normal_form,
    rational_zero,
)

k, l, p, q = sp.symbols("k l p q", integer=True, nonnegative=True)
n = sp.Symbol("n", integer=True, positive=True)
m = sp.Symbol("m", integer=True, positive=True)
f, g, x, y = (sp.IndexedBase(name, real=True) for name in ("f", "g", "x", "y"))


# --- the contraction and its range hypotheses -----------------------------------------------


def test_contraction_uses_a_stated_range_hypothesis():
    summed = sp.Sum(sp.KroneckerDelta(k, q) * f[k], (k, 0, n - 1))
    assert contract_deltas(summed, {q: (0, n - 1)}) == f[q]
    assert contract_deltas(summed, {q: (1, n - 2)}) == f[q]  # a narrower range implies the guard


@pytest.mark.parametrize("ranges", [None, {}, {q: (0, n)}, {p: (0, n - 1)}])
def test_contraction_keeps_the_guard_without_a_hypothesis_that_implies_it(ranges):
    summed = sp.Sum(sp.KroneckerDelta(k, q) * f[k], (k, 0, n - 1))
    contracted = contract_deltas(summed, ranges)
    assert isinstance(contracted, sp.Piecewise)
    assert contracted.args[0][0] == f[q]
    assert contracted.subs(n, 3).subs(q, 3) == 0  # q outside 0 … n − 1: the sum is 0, not f[q]


def test_a_wrong_contraction_is_refuted_and_the_guarded_one_proven():
    summed = sp.Sum(sp.KroneckerDelta(k, q) * f[k], (k, 0, n - 1))
    # With q only known to lie in 0 … n, Σ_k δ_kq f_k = f_q is not shown (it is false at q = n) …
    assert not is_zero_index_expr(summed - f[q], {q: (0, n)})
    # … and with no hypothesis it is not shown either; with 0 ≤ q < n it is proven.
    assert not is_zero_index_expr(summed - f[q])
    assert is_zero_index_expr(summed - f[q], {q: (0, n - 1)})


def test_the_index_of_an_enclosing_sum_is_in_range_inside_it():
    inner = sp.Sum(sp.KroneckerDelta(k, l) * f[k], (k, 0, n - 1))
    outer = sp.Sum(g[l] * inner, (l, 0, n - 1))
    contracted = contract_deltas(outer)
    assert not contracted.has(sp.Piecewise, sp.KroneckerDelta)
    assert is_zero_index_expr(outer - sp.Sum(g[q] * f[q], (q, 0, n - 1)))


def test_ranges_must_map_an_index_to_its_bounds():
    summed = sp.Sum(sp.KroneckerDelta(k, q) * f[k], (k, 0, n - 1))
    with pytest.raises(TypeError, match="ranges must map"):
        contract_deltas(summed, [q >= 0, q <= n - 1])
    with pytest.raises(TypeError, match="ranges must map"):
        contract_deltas(summed, {q: n - 1})


# --- the normal form --------------------------------------------------------------------------


def test_the_normal_form_renames_bound_indices_and_counts_constants():
    one = sp.Sum(f[k] + 2, (k, 0, m - 1))
    other = sp.Sum(f[l], (l, 0, m - 1)) + 2 * m
    assert normal_form(one - other) == 0
    assert normal_form(one) == sp.Sum(f[bound_index(1)], (bound_index(1), 0, m - 1)) + 2 * m


def test_the_normal_form_commutes_sums_with_constant_bounds():
    n1, n2 = sp.symbols("n_1 n_2", integer=True, positive=True)
    one = sp.Sum(f[k] * sp.Sum(g[k, l] * f[l], (l, 0, n2 - 1)), (k, 0, n1 - 1))
    other = sp.Sum(f[q] * sp.Sum(g[p, q] * f[p], (p, 0, n1 - 1)), (q, 0, n2 - 1))
    assert normal_form(one - other) == 0
    swapped = sp.Sum(f[q] * sp.Sum(g[q, p] * f[p], (p, 0, n1 - 1)), (q, 0, n2 - 1))
    assert normal_form(one - swapped) != 0


def test_the_normal_form_keeps_a_product_of_independent_sums_a_product():
    variance = sp.Sum((x[k] - sp.Sum(x[l], (l, 0, m - 1)) / m) ** 2, (k, 0, m - 1)) / m
    t = bound_index(1)
    expected = sp.Sum(x[t] ** 2, (t, 0, m - 1)) / m - sp.Sum(x[t], (t, 0, m - 1)) ** 2 / m**2
    assert sp.expand(normal_form(variance) - expected) == 0


def test_the_normal_form_does_not_capture_a_free_index_named_like_its_own():
    t1 = bound_index(1)
    with pytest.raises(ValueError, match="capture"):
        normal_form(sp.Sum(g[k, t1], (k, 0, n - 1)))
    assert normal_form(sp.Sum(f[k] * g[t1], (k, 0, n - 1))) == g[t1] * sp.Sum(f[t1], (t1, 0, n - 1))  # g[t1] pulled out


# --- the zero test ------------------------------------------------------------------------------


def test_the_zero_test_proves_a_true_identity():
    # Σ_k (x_k − μ)² = Σ_k x_k² − m μ² with μ = (1/m) Σ_k x_k: rational in m, sums as symbols.
    mu = sp.Sum(x[l], (l, 0, m - 1)) / m
    lhs = sp.Sum((x[k] - mu) ** 2, (k, 0, m - 1))
    assert is_zero_index_expr(lhs - (sp.Sum(x[k] ** 2, (k, 0, m - 1)) - m * mu**2), params=(m,))


def test_the_zero_test_refutes_a_false_identity():
    mu = sp.Sum(x[l], (l, 0, m - 1)) / m
    lhs = sp.Sum((x[k] - mu) ** 2, (k, 0, m - 1))
    assert not is_zero_index_expr(lhs - (sp.Sum(x[k] ** 2, (k, 0, m - 1)) - mu**2), params=(m,))
    assert not is_zero_index_expr(sp.Sum(x[k] * y[k], (k, 0, m - 1)) - sp.Sum(x[k], (k, 0, m - 1)) * sp.Sum(y[k], (k, 0, m - 1)))


def test_the_zero_test_handles_quotients_of_sums():
    # softmax: e^{z_i}/S · (δ_ik − e^{z_k}/S) = e^{z_i}δ_ik/S − e^{z_i + z_k}/S² with S = Σ_j e^{z_j}
    z, i = sp.IndexedBase("z", real=True), sp.Symbol("i", integer=True, nonnegative=True)
    total = sp.Sum(sp.exp(z[l]), (l, 0, n - 1))
    textbook = sp.exp(z[i]) / total * (sp.KroneckerDelta(i, k) - sp.exp(z[k]) / total)
    expanded = sp.exp(z[i]) * sp.KroneckerDelta(i, k) / total - sp.exp(z[i]) * sp.exp(z[k]) / total**2
    assert is_zero_index_expr(textbook - expanded)
    assert not is_zero_index_expr(textbook - expanded + sp.exp(z[k]) / total**3)


def test_rational_zero_is_exact_over_the_parameters():
    assert rational_zero(1 / m + (m - 1) / m - 1, (m,))
    assert not rational_zero(1 / m + (m - 1) / m - 1 + x[0] / m**5, (m,))
    assert rational_zero(sp.sqrt(2) * x[0] - x[0] * sp.sqrt(2))


# --- one algebra: every prover uses it ---------------------------------------------------------


@pytest.mark.parametrize(
    "module, names",
    [
        ("symdl.backprop.index_proofs", ("contract_deltas", "is_zero_index_expr")),
        ("symdl.rulebook.vector_rule", ("contract_deltas", "is_zero_index_expr")),
        ("symdl.layers.batchnorm_backward", ("contract_deltas", "normal_form", "rational_zero")),
        ("symdl.layers.batchnorm_proofs", ("normal_form", "is_zero_index_expr")),
    ],
)
def test_every_index_prover_uses_the_one_algebra(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is getattr(index_sums, name), (module, name)
    source = inspect.getsource(mod)
    assert "deltasummation(" not in source
    assert "from sympy.concrete.delta" not in source


@pytest.mark.parametrize(
    "module, old",
    [
        ("symdl.symbolic.index_sums", ("canonical", "structurally_zero")),
        ("symdl.rulebook.vector_rule", ("contract", "_symbolic_zero")),
        ("symdl.layers.batchnorm_symbolic", ("index_normal_form", "_polynomial_zero", "_sum_symbols", "_to_ring")),
        ("symdl.layers.batchnorm_backward", ("index_normal_form", "_polynomial_zero", "_sum_symbols", "_to_ring")),
        ("symdl.layers.batchnorm_proofs", ("index_normal_form", "_polynomial_zero", "_sum_symbols", "_to_ring")),
    ],
)
def test_the_duplicate_algebras_are_gone(module, old):
    mod = importlib.import_module(module)
    for name in old:
        assert not hasattr(mod, name), (module, name)


def test_the_report_shows_the_batch_norm_steps_that_are_proven():
    from symdl.layers import batchnorm_symbolic as bn
    from symdl.report.sections import batchnorm_section

    proven = bn.backward_steps()
    shown = batchnorm_section(verify=False).steps[: len(proven)]
    assert [s.title for s in shown] == [s.title for s in proven]
    assert [tuple((mth.lhs, mth.rhs) for mth in s.math) for s in shown] == [s.equations for s in proven]
    assert bn.prove_backward_steps()


def test_the_batch_norm_steps_refute_a_wrong_closed_form():
    from symdl.layers import batchnorm_symbolic as bn

    closed = bn.vjp_closed_form()
    root = sp.sqrt(bn.batch_variance() + bn.epsilon)
    sum_dy = sp.Sum(bn.dy[bn.q, bn.j], (bn.q, 0, bn.m - 1))
    sum_dy_xhat = sp.Sum(bn.dy[bn.q, bn.j] * bn.normalized(bn.q), (bn.q, 0, bn.m - 1))
    right = bn.gamma[bn.j] / (bn.m * root) * (bn.m * bn.dy[bn.p, bn.j] - sum_dy - bn.normalized(bn.p) * sum_dy_xhat)
    wrong = bn.gamma[bn.j] / (bn.m * root) * (bn.m * bn.dy[bn.p, bn.j] - sum_dy + bn.normalized(bn.p) * sum_dy_xhat)
    assert right == closed["x"]
    assert bn.prove_backward_steps(right)
    assert not bn.prove_backward_steps(wrong)
