"""Batch norm's SymPy expressions: every proof holds, and planted mistakes are refuted or left unproven."""

from __future__ import annotations

import pytest
import sympy as sp
import sympy.stats as stats

from symdl.layers import batchnorm_symbolic as bs
from symdl.symbolic.proof import Proof


@pytest.fixture(scope="module")
def proofs() -> dict[str, Proof]:
    return bs.prove_all()


def test_every_batchnorm_proof_holds(proofs):
    assert len(proofs) >= 30
    assert all(isinstance(p, Proof) for p in proofs.values())
    assert [label for label, p in proofs.items() if not p] == []


def test_the_proofs_cover_every_claim(proofs):
    labels = " | ".join(proofs)
    for size in range(1, 7):
        assert f"vjp = closed form (m={size})" in proofs
    for needle in ("vjp by x (symbolic m)", "vjp by gamma", "vjp by beta", "(symbolic m)", "linear fold without bias",
                   "inference = folded", "gap is not identically zero", "stage dx", "E[m/(m-1) var_B] = var (symbolic m)"):
        assert needle in labels


def test_prove_all_returns_a_fresh_dict(proofs):
    again = bs.prove_all()
    again.clear()
    assert bs.prove_all() == proofs


# --- the backward pass: wrong closed forms are refuted ------------------------------------


def _without_xhat_term(batch: bs.ConcreteBatch):
    size, root = batch.size, sp.sqrt(batch.radicand)
    dx = tuple(batch.gamma * (size * d - sp.Add(*batch.dy)) / (size * root) for d in batch.dy)
    _, dgamma, dbeta = batch.closed_form()
    return dx, dgamma, dbeta


def _dgamma_without_xhat(batch: bs.ConcreteBatch):
    dx, _, dbeta = batch.closed_form()
    return dx, sp.Add(*batch.dy), dbeta


@pytest.mark.parametrize("wrong", [_without_xhat_term, _dgamma_without_xhat])
def test_a_wrong_closed_form_is_refuted_at_a_concrete_size(wrong):
    proof = bs.prove_vjp_concrete(3, wrong)
    assert not proof
    assert "refuted" in proof.method


def test_at_batch_size_one_the_gradient_is_zero_and_the_proof_still_holds():
    batch = bs.concrete_batch(1)
    assert batch.normalized == (0,)
    assert batch.output == (batch.beta,)
    assert sp.diff(batch.loss, batch.x[0]) == 0
    assert bs.prove_vjp_concrete(1)


def test_the_symbolic_proof_does_not_accept_a_wrong_closed_form():
    closed = bs.vjp_closed_form()
    root = sp.sqrt(bs.batch_variance() + bs.epsilon)
    wrong = {**closed, "x": bs.gamma[bs.j] / (bs.m * root) * (bs.m * bs.dy[bs.p, bs.j] - sp.Sum(bs.dy[bs.q, bs.j], (bs.q, 0, bs.m - 1)))}
    results = bs.prove_vjp_symbolic(wrong)
    assert not results["vjp by x (symbolic m)"]
    assert results["vjp by gamma (symbolic m)"]


def test_the_derived_vjp_is_sympys_derivative_of_the_transform():
    derived = bs.derived_vjp()
    assert derived["x"] == sp.diff(bs.loss(), bs.x[bs.p, bs.j])
    assert derived["beta"].has(sp.Sum)


# --- why m/(m − 1) -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 4, None])
def test_the_batch_variance_is_biased_by_m_minus_one_over_m(size):
    expected = (bs.m - 1) / bs.m if size is None else sp.Rational(size - 1, size)
    assert sp.simplify(bs.expected_batch_variance(size) - expected * bs.sigma_pop**2) == 0


@pytest.mark.parametrize("size", [3, None])
@pytest.mark.parametrize("correction", [sp.S.One, bs.m / (bs.m + 1), (bs.m + 1) / bs.m])
def test_a_wrong_correction_factor_is_refuted(size, correction):
    proof = bs.prove_unbiased_variance(size, correction)
    assert not proof
    assert "refuted" in proof.method


def test_batch_size_one_has_no_unbiased_correction():
    proof = bs.prove_unbiased_variance(1)
    assert not proof
    assert "m − 1 = 0" in proof.method


def test_sympy_stats_agrees_for_normal_samples():
    """An independent check through sympy.stats: E[σ²_B] = σ²/2 for two i.i.d. normal samples."""
    mu, sigma = bs.mu_pop, bs.sigma_pop
    X = [stats.Normal(f"X{n}", mu, sigma) for n in range(2)]
    mean = (X[0] + X[1]) / 2
    variance = sp.expand(((X[0] - mean) ** 2 + (X[1] - mean) ** 2) / 2)
    assert sp.simplify(stats.E(variance) - sigma**2 / 2) == 0


def test_sympy_stats_agrees_for_a_non_normal_distribution():
    """Only the first two moments matter: three fair dice, E[σ²_B] = (2/3)·35/12."""
    dice = [stats.Die(f"D{n}", 6) for n in range(3)]
    mean = sp.Add(*dice) / 3
    variance = sp.Add(*((d - mean) ** 2 for d in dice)) / 3
    assert stats.E(variance) == sp.Rational(2, 3) * sp.Rational(35, 12)


# --- inference and folding ------------------------------------------------------------------


def test_a_wrong_fold_is_refuted():
    scale, _, _ = bs.folded_inference()
    proof = bs.prove_inference_fold(scale * bs.x[bs.i, bs.j] + bs.beta[bs.j])  # the shift without −γE/√(Var+ε)
    assert not proof
    assert "refuted" in proof.method


@pytest.mark.parametrize("bias", [True, False])
def test_linear_fold_at_another_size(bias):
    assert bs.prove_linear_fold(3, 2, bias)


# --- fixed statistics ---------------------------------------------------------------------------


def test_fixed_statistics_gradient_is_gamma_dy_over_root():
    expected = bs.gamma[bs.j] * bs.dy[bs.p, bs.j] / sp.sqrt(bs.var[bs.j] + bs.epsilon)
    assert sp.expand(bs.fixed_statistics_gradient() - expected) == 0


def test_the_gap_is_a_sympy_expression_that_is_not_identically_zero():
    gap = bs.fixed_statistics_gradient_gap()
    assert isinstance(gap, sp.Expr)
    point = {bs.x[0, bs.j]: 1, bs.x[1, bs.j]: 4, bs.x[2, bs.j]: -2, bs.dy[0, bs.j]: 3, bs.dy[1, bs.j]: -1,
             bs.dy[2, bs.j]: 2, bs.gamma[bs.j]: 2, bs.epsilon: sp.Rational(1, 10)}
    value = gap.xreplace({bs.p: 1}).subs(bs.m, 3).doit().xreplace(point)
    assert abs(float(value)) > 0.1
    # The same gap, computed from scalars: closed form − γ·dy_1/√(σ² + ε).
    batch = bs.concrete_batch(3)
    numbers = {**dict(zip(batch.x, (1, 4, -2))), **dict(zip(batch.dy, (3, -1, 2))), batch.gamma: 2, bs.epsilon: sp.Rational(1, 10)}
    by_hand = batch.closed_form()[0][1] - batch.gamma * batch.dy[1] / sp.sqrt(batch.radicand)
    assert sp.N(value - by_hand.xreplace(numbers), 30) == 0


# --- the normal form and the stages -----------------------------------------------------------


def test_compose_refuses_to_capture_a_bound_index():
    mean_stage = next(s for s in bs.STAGES["train_forward"] if s.name == "mu_d")
    with pytest.raises(ValueError, match="capture"):
        bs.compose(mean_stage.base[bs.k], [mean_stage])  # μ_d,k = Σ_k d_kk / m would be wrong


def test_every_numeric_stage_is_an_expression_of_the_symbolic_module():
    groups = {"train_forward", "train_backward", "inference", "fold", "fold_linear", "population", "ema", "unbiased"}
    assert set(bs.STAGES) == groups
    for stages in bs.STAGES.values():
        for stage in stages:
            assert isinstance(stage.expr, sp.Expr)
            assert set(stage.indices) <= set(stage.slots)


def test_concrete_batch_refuses_a_bad_size():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="batch size"):
            bs.concrete_batch(bad)
