"""The vector rules: softmax, softmin, log softmax, sparsemax, softmax cross-entropy, maxout and RBF, in index notation.

Each builder returns a :class:`~symdl.rulebook.vector_rule.VectorDefinition`:
the forward expression with ``IndexedBase`` and ``Sum``, the vector-Jacobian
products to print, and the textbook Jacobian they are proven against.
"""

from __future__ import annotations

import sympy as sp

from ..codegen.index_kernels import Centered, FirstArgMax, LogSumExp, RowMax
from ..codegen.simplex import SUPPORT_INDEX, SparseThreshold, support
from ..symbolic.index_sums import contract_deltas
from .definition import TorchLoss
from .registry import register_vector
from .vector_rule import (
    COTANGENT,
    ROW_COTANGENT,
    VectorDefinition,
    VectorInput,
    fresh_index,
    i,
    j,
    k,
    m_units,
    n,
    q,
)

__all__ = ["log_softmax", "maxout", "rbf", "softmax", "softmax_cross_entropy", "softmin", "sparsemax"]

# --- the rules -------------------------------------------------------------

z = sp.IndexedBase("z", real=True)
a = sp.IndexedBase("a", real=True)
y = sp.IndexedBase("y", real=True)
x = sp.IndexedBase("x", real=True)
W = sp.IndexedBase("W", real=True)
sigma = sp.IndexedBase("sigma", positive=True)
v = COTANGENT
t = sp.Symbol("t", integer=True, nonnegative=True)
_SIZES_N = tuple({n: size} for size in (1, 2, 3, 4))


def _softmax(u: sp.IndexedBase, out: sp.Symbol) -> sp.Expr:
    return sp.exp(u[out]) / sp.Sum(sp.exp(u[j]), (j, 0, n - 1))


@register_vector("softmax", "activation")
def softmax() -> VectorDefinition:
    """s_i = e^{z_i} / Σ_j e^{z_j}; ∂s_i/∂z_k = s_i(δ_ik − s_k), VJP s ⊙ (v − ⟨v, s⟩)."""
    s_i_stable = sp.exp(z[i] - LogSumExp(z[j], j, n))
    s_k_stable = s_i_stable.subs(i, k)
    s_q_stable = s_i_stable.subs(i, q)
    return VectorDefinition(
        forward=_softmax(z, i),
        output=(i,),
        output_sizes=(n,),
        inputs=(VectorInput(z, (k,), (n,)),),
        slots={i: -1, j: -1},
        stable_forward=s_i_stable,
        vjps={z: s_k_stable * (v[k] - sp.Sum(v[q] * s_q_stable, (q, 0, n - 1)))},
        vjp_slots={z: {k: -1, j: -1, q: -1}},
        textbook_jacobian={z: _softmax(z, i) * (sp.KroneckerDelta(i, fresh_index(k)) - _softmax(z, fresh_index(k)))},
        concrete_sizes=_SIZES_N[:3],
        symbolic_proof=True,
    )


def _softmin(u: sp.IndexedBase, out: sp.Symbol) -> sp.Expr:
    return sp.exp(-u[out]) / sp.Sum(sp.exp(-u[j]), (j, 0, n - 1))


@register_vector("softmin", "activation")
def softmin() -> VectorDefinition:
    """s_i = e^{−z_i} / Σ_j e^{−z_j} = softmax(−z)_i (PyTorch's softmin); ∂s_i/∂z_k = −s_i(δ_ik − s_k)."""
    s_i_stable = sp.exp(-z[i] - LogSumExp(-z[j], j, n))
    s_k_stable = s_i_stable.subs(i, k)
    s_q_stable = s_i_stable.subs(i, q)
    return VectorDefinition(
        forward=_softmin(z, i),
        output=(i,),
        output_sizes=(n,),
        inputs=(VectorInput(z, (k,), (n,)),),
        slots={i: -1, j: -1},
        stable_forward=s_i_stable,
        vjps={z: -s_k_stable * (v[k] - sp.Sum(v[q] * s_q_stable, (q, 0, n - 1)))},
        vjp_slots={z: {k: -1, j: -1, q: -1}},
        textbook_jacobian={z: -_softmin(z, i) * (sp.KroneckerDelta(i, fresh_index(k)) - _softmin(z, fresh_index(k)))},
        concrete_sizes=_SIZES_N[:3],
        symbolic_proof=True,
    )


@register_vector("log_softmax", "activation")
def log_softmax() -> VectorDefinition:
    """ℓ_i = z_i − log Σ_j e^{z_j}; ∂ℓ_i/∂z_k = δ_ik − s_k (s = softmax z), VJP v − s Σ_q v_q."""
    log_s_i = Centered(z[i], i, n) - LogSumExp(Centered(z[j], j, n), j, n)
    s_k = sp.exp(log_s_i.subs(i, k))
    return VectorDefinition(
        forward=z[i] - sp.log(sp.Sum(sp.exp(z[j]), (j, 0, n - 1))),
        output=(i,),
        output_sizes=(n,),
        inputs=(VectorInput(z, (k,), (n,)),),
        slots={i: -1, j: -1},
        # (z_i − max z) − log Σ_j e^{z_j − max z}: no overflow, and no cancellation of z_i against a large log-sum.
        stable_forward=log_s_i,
        vjps={z: v[k] - s_k * sp.Sum(v[q], (q, 0, n - 1))},
        vjp_slots={z: {k: -1, j: -1, q: -1}},
        textbook_jacobian={z: sp.KroneckerDelta(i, fresh_index(k)) - _softmax(z, fresh_index(k))},
        concrete_sizes=_SIZES_N[:3],
        symbolic_proof=True,
    )


@register_vector("sparsemax", "activation")
def sparsemax() -> VectorDefinition:
    """p_i = max(z_i − τ(z), 0) with Σ_j p_j = 1 (Keras' sparsemax); ∂p_i/∂z_k = s_i δ_ik − s_i s_k/|S|, s = [z > τ]."""
    tau = SparseThreshold(z[t], t, n)  # τ's own index t is bound inside it: no sum or output index may be t
    s_k, s_q = support(z[k], tau), support(z[q], tau)
    # the textbook Jacobian, with the support as SymPy's derivative of max writes it (Heaviside)
    s_i, s_kk = sp.Heaviside(z[i] - tau), sp.Heaviside(z[fresh_index(k)] - tau)
    size = sp.Sum(sp.Heaviside(z[SUPPORT_INDEX] - tau), (SUPPORT_INDEX, 0, n - 1))
    forward = sp.Max(z[i] - tau, 0)
    ranges = {i: (0, n - 1), fresh_index(k): (0, n - 1)}
    jacobian = contract_deltas(sp.expand(sp.diff(forward, z[fresh_index(k)])), ranges)  # through ∂τ/∂z_k = s_k/|S|
    # τ on its support: Σ_{j ∈ S} (z_j − τ) = 1 solved for τ
    tau_support = (sp.Sum(sp.Heaviside(z[SUPPORT_INDEX] - tau) * z[SUPPORT_INDEX], (SUPPORT_INDEX, 0, n - 1)) - 1) / size
    return VectorDefinition(
        forward=forward,
        output=(i,),
        output_sizes=(n,),
        inputs=(VectorInput(z, (k,), (n,)),),
        slots={i: -1, t: -1},
        # (z_i − max z) − τ(z − max z): τ(z + c) = τ(z) + c, and the difference of two numbers near 1000 is not taken
        stable_forward=sp.Max(Centered(z[i], i, n) - SparseThreshold(Centered(z[t], t, n), t, n), 0),
        vjps={z: s_k * (v[k] - sp.Sum(s_q * v[q], (q, 0, n - 1)) / sp.Sum(s_q, (q, 0, n - 1)))},
        vjp_slots={z: {k: -1, t: -1, q: -1}},
        textbook_jacobian={
            z: s_i * sp.KroneckerDelta(i, fresh_index(k))
            - s_i * s_kk / size
        },
        identities={
            "Σ_i p_i - 1 (p_i = s_i (z_i - τ), τ from its support)": sp.Sum(s_i * (z[i] - tau_support), (i, 0, n - 1)) - 1,
            "Σ_k J_ik (J·1 = 0)": sp.Sum(jacobian, (fresh_index(k), 0, n - 1)),
            "Σ_i J_ik (∂/∂z_k Σ_i p_i = 0: the declared ∂τ/∂z_k)": sp.Sum(jacobian, (i, 0, n - 1)),
        },
        symmetric_jacobian=True,
        check_range=(-2.0, 2.0),  # supports of every size at width 3 (from ±40 nearly all are one-hot, J = 0)
        concrete_sizes=_SIZES_N[:3],
        symbolic_proof=True,
        notes="Support S = {j : z_j > τ}; ties z_j = τ are kinks (p_j = 0 there, and the printed VJP counts j out of S). "
        "τ is printed sort-based: z sorted descending after subtracting max z, "
        "k = max{k : 1 + k z_(k) > Σ_{j ≤ k} z_(j)}, τ = (Σ_{j ≤ k} z_(j) − 1)/k.",
    )


@register_vector("softmax_cross_entropy", "loss")
def softmax_cross_entropy() -> VectorDefinition:
    """L = −Σ_j y_j log softmax_j(a) from logits a; ∂L/∂a_k = s_k Σ_j y_j − y_k."""
    log_softmax_k = Centered(a[k], k, n) - LogSumExp(Centered(a[q], q, n), q, n)
    lse = LogSumExp(a[j], j, n)
    return VectorDefinition(
        torch_loss=TorchLoss("cross_entropy"),  # with class-probability targets
        forward=-sp.Sum(y[j] * (a[j] - sp.log(sp.Sum(sp.exp(a[q]), (q, 0, n - 1)))), (j, 0, n - 1)),
        output=(),
        output_sizes=(),
        inputs=(VectorInput(a, (k,), (n,)), VectorInput(y, (k,), (n,))),
        slots={j: -1, q: -1},
        # Σ_j y_j (shift − a_j) + Σ_j y_j · log Σ_i e^{a_i − shift}: with shift = max a every term is ≥ 0.
        stable_forward=-sp.Sum(y[j] * Centered(a[j], j, n), (j, 0, n - 1))
        + sp.Sum(y[j], (j, 0, n - 1)) * LogSumExp(Centered(a[q], q, n), q, n),
        vjps={
            # s_k Σy − y_k = s_k (Σy − y_k) + y_k (s_k − 1); s_k − 1 = expm1(log s_k) keeps every digit
            # where s_k ≈ 1 (a confident correct class), which s_k − y_k does not.
            a: sp.exp(log_softmax_k) * (sp.Sum(y[j], (j, 0, n - 1)) - y[k]) + y[k] * (sp.exp(log_softmax_k) - 1),
            y: lse - a[k],
        },
        vjp_slots={a: {k: -1, j: -1, q: -1}, y: {k: -1, j: -1, q: -1}},
        textbook_jacobian={},
        concrete_sizes=_SIZES_N[:3],
        label_inputs=(y,),
        textbook_vjps={a: _softmax(a, k) - y[k]},
        simplex_inputs=(y,),
        notes="With Σ y = 1 (one-hot or probability targets) the gradient is the textbook s − y.",
    )


@register_vector("maxout", "activation")
def maxout() -> VectorDefinition:
    """h = max_j z_j over the n affine pieces z_j = w_j·x + b_j; ∂h/∂z_j = 1 for the arg-max piece, else 0."""
    return VectorDefinition(
        forward=RowMax(z[j], j, n),
        output=(),
        output_sizes=(),
        inputs=(VectorInput(z, (k,), (n,)),),
        slots={j: -1},
        vjps={z: ROW_COTANGENT * FirstArgMax(z[j], j, k, n)},
        vjp_slots={z: {j: -1, k: -1}},
        concrete_sizes=_SIZES_N[:3],
        notes="Ties: the gradient goes to the first of the tied pieces (numpy.argmax, torch.max(dim)); "
        "any convex combination of the tied pieces is a subgradient.",
    )


@register_vector("rbf", "activation")
def rbf() -> VectorDefinition:
    """h_i = exp(−‖W_{:,i} − x‖² / σ_i²); gradients by x, W and σ."""
    distance = sp.Sum((W[j, i] - x[j]) ** 2, (j, 0, n - 1))  # bound j, so that a VJP's free k is never reused
    h_i = sp.exp(-distance / sigma[i] ** 2)
    h_q = h_i.subs(i, q)
    return VectorDefinition(
        forward=h_i,
        output=(i,),
        output_sizes=(m_units,),
        inputs=(
            VectorInput(x, (k,), (n,)),
            VectorInput(W, (k, i), (n, m_units), shared=True),
            VectorInput(sigma, (i,), (m_units,), shared=True),
        ),
        slots={j: -2, i: -1},
        vjps={
            x: sp.Sum(v[q] * h_q * 2 * (W[k, q] - x[k]) / sigma[q] ** 2, (q, 0, m_units - 1)),
            W: -v[i] * h_i * 2 * (W[k, i] - x[k]) / sigma[i] ** 2,
            sigma: v[i] * h_i * 2 * distance / sigma[i] ** 3,
        },
        vjp_slots={x: {k: -2, j: -2, q: -1}, W: {k: -2, j: -2, i: -1}, sigma: {j: -2, i: -1}},
        concrete_sizes=({n: 1, m_units: 1}, {n: 2, m_units: 2}, {n: 3, m_units: 2}),
        input_ranges={sigma: (0.5, 5.0)},
        check_sizes={n: 3, m_units: 2},
    )
