r"""Batch normalisation (Ioffe & Szegedy, Algorithms 1 and 2) as SymPy expressions, and their proofs.

Index notation for one mini-batch: row (batch) indices run over 0 … m − 1 with
``m`` a positive integer symbol, ``j`` is the feature. Algorithm 1:

    μ_j = (1/m) Σ_k x_kj,   σ²_j = (1/m) Σ_l (x_lj − μ_j)²,
    x̂_ij = (x_ij − μ_j) / √(σ²_j + ε),   y_ij = γ_j x̂_ij + β_j.

The backward pass (VJP of L = Σ_i dy_ij y_ij) is derived by SymPy and proven
equal to the closed form

    dx_ij = γ_j / (m √(σ²_j + ε)) · (m dy_ij − Σ_k dy_kj − x̂_ij Σ_k dy_kj x̂_kj),
    dγ_j = Σ_k dy_kj x̂_kj,   dβ_j = Σ_k dy_kj

at concrete m = 1 … 6 (plain symbols x_1 … x_m) and for symbolic m. Also
proven: E[σ²_B] = (m − 1)/m · σ² (hence the m/(m − 1) of Algorithm 2), the
folded inference transform, folding into a preceding linear layer, and that
normalising with fixed statistics changes the gradient.

How the proofs decide "≡ 0": the root √(σ² + ε) is named 1/w with w > 0
(the radicand replaced by w⁻²), after which every difference here is a
polynomial, shown to be the zero polynomial by exact sparse arithmetic (over
ℚ, or ℚ(m) for symbolic m). For symbolic m, the normal form of index sums
(:func:`symdl.symbolic.index_sums.normal_form`) first contracts Kronecker
deltas (Σ_k δ_kp f_k = f_p for 0 ≤ p < m), splits sums over ``+``, pulls out
factors free of the index, counts Σ_k c = m·c and renames every bound index
canonically; each remaining sum (Σ_t x_t, Σ_t x_t², Σ_t dy_t, Σ_t dy_t x_t)
then becomes an independent symbol — if the difference vanishes for all
values of those symbols it vanishes for the real sums. Where ε also appears outside the root, ε = s² − σ² with s = √(σ² + ε)
and ``cancel`` decide instead. Every step is an identity; SymPy's
``simplify`` is never called on a sum.

The numeric code (:mod:`symdl.layers.batchnorm`) is printed from :data:`STAGES`:
the same expressions split into array-valued stages (a mean, the residuals,
their mean, the centred values, …) so that each is computed once and in a
numerically stable order; :func:`prove_stages` shows the stages compose to
the definitions above.

This module is the one users import; the work lives in three modules below it:
:mod:`symdl.layers.batchnorm_algebra` (the definitions and the stage table),
:mod:`symdl.layers.batchnorm_backward` (the backward pass and its proofs) and
:mod:`symdl.layers.batchnorm_proofs` (the other proofs and :func:`prove_all`).
"""

from __future__ import annotations

from . import batchnorm_algebra as _algebra
from . import batchnorm_backward as _backward
from . import batchnorm_proofs as _proofs
from .batchnorm_algebra import (
    STAGES,
    ConcreteBatch,
    Stage,
    batch_mean,
    batch_variance,
    compose,
    concrete_batch,
    derived_vjp,
    folded_inference,
    inference_transform,
    linear_fold,
    loss,
    normalized,
    population_mean,
    population_variance,
    transform,
    vjp_closed_form,
)
from .batchnorm_backward import (
    BackwardStep,
    backward_steps,
    prove_backward_steps,
    prove_vjp_concrete,
    prove_vjp_symbolic,
)
from .batchnorm_proofs import (
    expected_batch_variance,
    fixed_statistics_gradient,
    fixed_statistics_gradient_gap,
    prove_all,
    prove_fixed_statistics_gap,
    prove_inference_fold,
    prove_linear_fold,
    prove_stages,
    prove_unbiased_variance,
)

# the symbols the expressions are written in, for users and tests (``bs.j``, ``bs.m``, …)
m = _algebra.m
n_batches = _algebra.n_batches
n_in = _algebra.n_in
i = _algebra.i
k = _algebra.k
l = _algebra.l
q = _algebra.q
p = _algebra.p
j = _algebra.j
r = _algebra.r
u = _algebra.u
x = _algebra.x
dy = _algebra.dy
gamma = _algebra.gamma
beta = _algebra.beta
epsilon = _algebra.epsilon
mean = _algebra.mean
var = _algebra.var
W = _algebra.W
b = _algebra.b
a = _algebra.a
batch_means = _algebra.batch_means
batch_vars = _algebra.batch_vars
momentum = _algebra.momentum
stage_mean = _backward.stage_mean
stage_variance = _backward.stage_variance
stage_normalized = _backward.stage_normalized
L_symbol = _backward.L_symbol
mu_pop = _proofs.mu_pop
sigma_pop = _proofs.sigma_pop

__all__ = [
    "STAGES",
    "BackwardStep",
    "ConcreteBatch",
    "Stage",
    "backward_steps",
    "batch_mean",
    "batch_variance",
    "compose",
    "concrete_batch",
    "derived_vjp",
    "expected_batch_variance",
    "fixed_statistics_gradient",
    "fixed_statistics_gradient_gap",
    "folded_inference",
    "inference_transform",
    "linear_fold",
    "loss",
    "normalized",
    "population_mean",
    "population_variance",
    "prove_all",
    "prove_backward_steps",
    "prove_fixed_statistics_gap",
    "prove_inference_fold",
    "prove_linear_fold",
    "prove_stages",
    "prove_unbiased_variance",
    "prove_vjp_concrete",
    "prove_vjp_symbolic",
    "transform",
    "vjp_closed_form",
]
