"""sparsemax (Keras' ``sparsemax``, Martins & Astudillo 2016): proofs through τ's declared derivative, wrong variants
refuted, numeric code against a sort-based reference, finite differences, PyTorch and JAX autodiff, the graph prover."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import symdl
from symdl.codegen.simplex import SUPPORT_INDEX, SparseThreshold
from symdl.rulebook.vector_rule import VectorRule, fresh_index, i, k, n
from symdl.rulebook.vector_rules import t, z
from symdl.symbolic.index_sums import contract_deltas, is_zero_index_expr
from symdl.testing.gradcheck import assert_grad_close


@lru_cache(maxsize=None)
def kernels():
    r = symdl.rule("sparsemax")
    return r.numeric(), r.numeric_derivative()


def reference(zz: np.ndarray) -> np.ndarray:
    """Hand-written sparsemax (Martins & Astudillo, Algorithm 1): sort, cumulative sums, the support size k(z)."""
    ordered = -np.sort(-zz, axis=-1)
    ranks = np.arange(1, zz.shape[-1] + 1)
    cumulative = np.cumsum(ordered, axis=-1)
    size = np.sum(1 + ranks * ordered > cumulative, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumulative, size - 1, axis=-1) - 1) / size
    return np.maximum(zz - tau, 0)


def away_from_kinks(zz: np.ndarray, gap: float = 1e-3) -> bool:
    """No z_j within ``gap`` of τ (where the support changes): p_j = z_j − τ is either 0 or > gap for each j."""
    p = reference(zz)
    tau = np.max(zz - p, axis=-1, keepdims=True)  # z − p = τ on the support
    return bool(np.all(np.abs(zz - tau) > gap))


rows_of = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=st.floats(-3, 3))


def test_every_identity_is_proven_through_the_declared_threshold_derivative():
    proofs = symdl.rule("sparsemax").prove()
    assert all(proofs.values()), [key for key, p in proofs.items() if not p]
    labels = " ".join(proofs)
    for claim in ("Σ_i p_i - 1", "J·1 = 0", "declared ∂τ/∂z_k", "textbook (symbolic width)", "its transpose (n=3)"):
        assert claim in labels


def test_a_threshold_derivative_of_one_over_n_and_a_jacobian_without_the_support_size_are_refuted():
    tau = SparseThreshold(z[t], t, n)
    kk = fresh_index(k)
    ranges = {i: (0, n - 1), kk: (0, n - 1)}
    s_i = sp.Heaviside(z[i] - tau)
    # ∂τ/∂z_k = 1/n (the mean's derivative): Σ_i J_ik = s_k − |S|/n ≠ 0, so Σ p = 1 would not be kept
    wrong_tau = s_i * (sp.KroneckerDelta(i, kk) - 1 / n)
    assert not is_zero_index_expr(sp.Sum(wrong_tau, (i, 0, n - 1)), ranges)
    # diag(s) − s sᵀ (the 1/|S| dropped): J·1 = s_i (1 − |S|) ≠ 0
    wrong_jacobian = s_i * sp.KroneckerDelta(i, kk) - s_i * sp.Heaviside(z[kk] - tau)
    assert not is_zero_index_expr(sp.Sum(wrong_jacobian, (kk, 0, n - 1)), ranges)
    # and the right one, derived by SymPy through the declared derivative, is 0 both ways
    right = contract_deltas(sp.expand(sp.diff(sp.Max(z[i] - tau, 0), z[kk])), ranges)
    assert is_zero_index_expr(sp.Sum(right, (kk, 0, n - 1)), ranges)
    assert right.has(sp.Sum(sp.Heaviside(z[SUPPORT_INDEX] - tau), (SUPPORT_INDEX, 0, n - 1)))


def test_a_vjp_that_holds_tau_constant_is_refuted():
    r = symdl.rule("sparsemax")
    s_k = sp.Heaviside(z[k] - SparseThreshold(z[t], t, n), 0)
    from symdl.rulebook.vector_rule import COTANGENT

    wrong = VectorRule(r.name, r.kind, replace(r.definition, vjps={z: s_k * COTANGENT[k]}), r.summary)  # s ⊙ v
    proofs = wrong.prove()
    assert not proofs["vjp by z - vᵀJ (n=2)"] and not proofs["vjp by z - vᵀJ (n=3)"]
    assert proofs["jacobian by z - textbook (n=3)"]  # the forward and its Jacobian are untouched


@settings(max_examples=30)
@given(rows_of)
def test_values_match_the_sort_based_reference_and_lie_on_the_simplex(zz):
    forward, _ = kernels()
    p = forward(zz)
    np.testing.assert_allclose(p, reference(zz), rtol=1e-12, atol=1e-12)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


@settings(max_examples=20)
@given(arrays(np.float64, st.integers(2, 5), elements=st.floats(-2, 2)), st.integers(0, 2**31 - 1))
def test_the_vjp_matches_finite_differences_off_the_kinks(zz, seed):
    forward, vjp = kernels()
    if not away_from_kinks(zz):
        return  # the support changes within the difference step: the kinks (measure zero) are not claimed
    cotangent = np.random.default_rng(seed).uniform(-1, 1, zz.shape)
    assert_grad_close(lambda u: float(np.sum(forward(u) * cotangent)), lambda u: vjp(u, cotangent), zz,
                      step=1e-6, richardson=False)


def test_the_vjp_is_the_projection_onto_the_support_minus_its_mean():
    """z = (1, 1.1, 0.9, −5): S = {0, 1, 2}, VJP of v = v_S − mean(v_S) on S, 0 off it."""
    _, vjp = kernels()
    zz, v = np.array([1.0, 1.1, 0.9, -5.0]), np.array([1.0, 2.0, 4.0, 7.0])
    np.testing.assert_allclose(vjp(zz, v), [1 - 7 / 3, 2 - 7 / 3, 4 - 7 / 3, 0.0], rtol=1e-14, atol=1e-15)


def test_stable_and_warning_free_up_to_1000_in_float32_and_float64():
    forward, vjp = kernels()
    rng = np.random.default_rng(0)
    zz = rng.uniform(-1000, 1000, (64, 5))
    zz[:8] = [1000, 999.5, -1000, 999.9, 1000]  # ties at the top, the extremes
    zz[8:16] = -1000
    for dtype in (np.float32, np.float64):
        with np.errstate(all="raise"):
            p, g = forward(zz.astype(dtype)), vjp(zz.astype(dtype), np.ones_like(zz, dtype=dtype))
        assert p.dtype == dtype and np.all(np.isfinite(p)) and np.all(np.isfinite(g))
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=8 * np.finfo(dtype).eps * 5)
        np.testing.assert_allclose(p, reference(zz.astype(dtype)), atol=16 * np.finfo(dtype).eps * 1000)


def test_verify_passes_without_crying_wolf_and_its_draws_reach_every_support_size():
    from symdl.verify.vector_rules import check_vector_rule

    r = symdl.rule("sparsemax")
    for seed in (0, 1):
        report = check_vector_rule(r, rows=12, seed=seed)
        assert report["fd_error"] <= 1e-6 and report["accuracy64"] <= 1e-13 and report["accuracy32"] <= 1e-5
        assert report["unstable"] == []
    low, high = r.definition.check_range
    draws = np.random.default_rng(0).uniform(low, high, (200, 3))
    assert set(np.count_nonzero(reference(draws), axis=-1)) == {1, 2, 3}


def test_torch_export_and_autograd_match_a_torch_reference():
    torch = pytest.importorskip("torch")
    from symdl.export import to_torch

    def torch_reference(u):  # the same algorithm in torch, differentiated by autograd
        ordered = torch.sort(u, dim=-1, descending=True).values
        ranks = torch.arange(1, u.shape[-1] + 1, dtype=u.dtype)
        cumulative = torch.cumsum(ordered, dim=-1)
        size = torch.sum(1 + ranks * ordered > cumulative, dim=-1, keepdim=True)
        tau = (torch.gather(cumulative, -1, size - 1) - 1) / size
        return torch.clamp(u - tau, min=0)

    sparsemax = to_torch("sparsemax").apply
    zz = torch.tensor([[1.0, 1.1, 0.9, -5.0], [1000.0, -1000.0, 999.5, 0.0], [0.3, -0.2, 0.1, 0.05]],
                      dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[1.0, 2.0, 4.0, 7.0], [0.5, -1.0, 2.0, 3.0], [1.0, -1.0, 0.5, 0.25]], dtype=torch.float64)
    ours, theirs = sparsemax(zz), torch_reference(zz)
    torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=1e-13)
    (g_ours,), (g_theirs,) = torch.autograd.grad(ours, zz, v), torch.autograd.grad(theirs, zz, v)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-13, atol=1e-13)
    assert sparsemax(zz.detach().float()).dtype == torch.float32


def test_jax_export_matches_its_reference_value_and_vjp():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    from symdl.export import to_jax

    sparsemax = jax.jit(to_jax("sparsemax"))
    zz = np.array([[1.0, 1.1, 0.9, -5.0], [0.3, -0.2, 0.1, 0.05]], dtype=np.float32)
    v = np.array([[1.0, 2.0, 4.0, 7.0], [1.0, -1.0, 0.5, 0.25]], dtype=np.float32)
    out, pullback = jax.vjp(sparsemax, jnp.asarray(zz))
    np.testing.assert_allclose(np.asarray(out), reference(zz), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pullback(jnp.asarray(v))[0]), kernels()[1](zz, v), rtol=1e-6, atol=1e-6)


def test_the_graph_prover_differentiates_through_tau_and_refutes_a_dropped_skip():
    from symdl.backprop.equations import VectorRuleCall
    from symdl.graph import Add, Dense, Input, Model
    from symdl.graph.proofs import _vector_rule, prove_graph

    x = Input(1)
    h = Dense(3, activation="sparsemax")(x)
    model = Model(x, Dense(1)(Add()([h, Dense(3)(h)])), losses="mse")
    assert all(prove_graph(model).values())
    assert not all(prove_graph(model, mutation="drop_skip").values())
    # The VJP the prover builds from the index form is J^T v with J through τ, not diag(s) v (τ held constant).
    zs, vs = sp.symbols("z0:3", real=True), sp.symbols("v0:3", real=True)
    column = _vector_rule(VectorRuleCall("sparsemax", "vjp", sp.MatrixSymbol("Z", 3, 1), sp.MatrixSymbol("V", 3, 1)),
                          [sp.Matrix(zs), sp.Matrix(vs)])
    point = {**dict(zip(zs, (1.0, 1.1, 0.9))), **dict(zip(vs, (1.0, 2.0, 4.0)))}
    value = sp.lambdify([*zs, *vs], column, "numpy")(*point.values())
    np.testing.assert_allclose(np.ravel(value), kernels()[1](np.array([1.0, 1.1, 0.9]), np.array([1.0, 2.0, 4.0])))
    assert not np.allclose(np.ravel(value), [1.0, 2.0, 4.0])


def test_the_cli_derives_and_lists_it(capsys):
    from symdl.cli.main import main

    assert main(["list"]) == 0
    assert "sparsemax" in capsys.readouterr().out
    assert main(["derive", "sparsemax"]) == 0
    out = capsys.readouterr().out
    assert "sparsemax (activation)" in out and "SparseThreshold" in out and "not proven" not in out
    assert out.count("proven") >= 16
