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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import sympy as sp

from ..symbolic.index_sums import (
    Ranges,
    contract_deltas,
    is_zero_index_expr,
    normal_form,
    rational_zero,
    sum_symbols,
)
from ..symbolic.proof import Proof

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

# --- names -----------------------------------------------------------------------

#: The mini-batch size m and the number of batches averaged in Algorithm 2.
m = sp.Symbol("m", integer=True, positive=True)
n_batches = sp.Symbol("n_batches", integer=True, positive=True)
#: Width of the layer before a folded linear layer (its number of inputs).
n_in = sp.Symbol("n_in", integer=True, positive=True)
_INDEX = {"integer": True, "nonnegative": True}
#: Row (batch) indices: i the output row, p the row a derivative is taken at, k, l, q summed.
i, k, l, q, p = sp.symbols("i k l q p", **_INDEX)
#: j the feature (unit), r an input unit of a folded linear layer, u a batch of Algorithm 2.
j, r, u = sp.symbols("j r u", **_INDEX)

x = sp.IndexedBase("x", real=True)
dy = sp.IndexedBase("dy", real=True)
gamma = sp.IndexedBase("gamma", real=True)
beta = sp.IndexedBase("beta", real=True)
epsilon = sp.Symbol("epsilon", positive=True)
#: Inference statistics (Algorithm 2's E[x] and Var[x]) and fixed statistics of the training-time question.
mean = sp.IndexedBase("mean", real=True)
var = sp.IndexedBase("var", real=True)
W = sp.IndexedBase("W", real=True)
b = sp.IndexedBase("b", real=True)
a = sp.IndexedBase("a", real=True)
batch_means = sp.IndexedBase("batch_means", real=True)
batch_vars = sp.IndexedBase("batch_vars", real=True)
momentum = sp.Symbol("momentum", real=True)

_ROW_RANGE = (sp.S.Zero, m - 1)


# --- Algorithm 1 in index notation ---------------------------------------------------


def batch_mean() -> sp.Expr:
    """μ_j = (1/m) Σ_k x_kj."""
    return sp.Sum(x[k, j], (k, 0, m - 1)) / m


def batch_variance() -> sp.Expr:
    """σ²_j = (1/m) Σ_l (x_lj − μ_j)²: the biased batch variance in its two-pass form (the mean inside)."""
    return sp.Sum((x[l, j] - batch_mean()) ** 2, (l, 0, m - 1)) / m


def normalized(row: sp.Symbol = i) -> sp.Expr:
    """x̂_row,j = (x_row,j − μ_j) / √(σ²_j + ε)."""
    return (x[row, j] - batch_mean()) / sp.sqrt(batch_variance() + epsilon)


def transform(row: sp.Symbol = i) -> sp.Expr:
    """y_row,j = γ_j x̂_row,j + β_j (Algorithm 1)."""
    return gamma[j] * normalized(row) + beta[j]


def loss() -> sp.Expr:
    """L = Σ_i dy_ij y_ij: its gradient is the vector-Jacobian product with cotangent dy."""
    return sp.Sum(dy[i, j] * transform(i), (i, 0, m - 1))


def vjp_closed_form(row: sp.Symbol = p) -> dict[str, sp.Expr]:
    """dx_row = γ/(m√(σ²+ε))·(m·dy_row − Σ_q dy_q − x̂_row Σ_q dy_q x̂_q), dγ = Σ_q dy_q x̂_q, dβ = Σ_q dy_q."""
    root = sp.sqrt(batch_variance() + epsilon)
    sum_dy = sp.Sum(dy[q, j], (q, 0, m - 1))
    sum_dy_xhat = sp.Sum(dy[q, j] * normalized(q), (q, 0, m - 1))
    dx = gamma[j] / (m * root) * (m * dy[row, j] - sum_dy - normalized(row) * sum_dy_xhat)
    return {"x": dx, "gamma": sum_dy_xhat, "beta": sum_dy}


def derived_vjp(row: sp.Symbol = p) -> dict[str, sp.Expr]:
    """∂L/∂x_row,j, ∂L/∂γ_j, ∂L/∂β_j as SymPy derives them (Kronecker deltas still inside the sums)."""
    L = loss()
    return {"x": sp.diff(L, x[row, j]), "gamma": sp.diff(L, gamma[j]), "beta": sp.diff(L, beta[j])}


# --- the same for concrete m: x_1 … x_m as plain symbols ------------------------------


@dataclass(frozen=True)
class ConcreteBatch:
    """Algorithm 1 for one feature at a concrete batch size, with x_1 … x_m and dy_1 … dy_m plain symbols."""

    size: int
    x: tuple[sp.Symbol, ...]
    dy: tuple[sp.Symbol, ...]
    gamma: sp.Symbol
    beta: sp.Symbol
    epsilon: sp.Symbol
    mean: sp.Expr
    variance: sp.Expr
    normalized: tuple[sp.Expr, ...]
    output: tuple[sp.Expr, ...]

    @property
    def radicand(self) -> sp.Expr:
        """σ² + ε, the expression under the square root."""
        return self.variance + self.epsilon

    @property
    def loss(self) -> sp.Expr:
        return sp.Add(*(d * y_i for d, y_i in zip(self.dy, self.output)))

    def closed_form(self) -> tuple[tuple[sp.Expr, ...], sp.Expr, sp.Expr]:
        """(dx_1 … dx_m, dγ, dβ) in the closed form."""
        size, root = self.size, sp.sqrt(self.radicand)
        sum_dy = sp.Add(*self.dy)
        sum_dy_xhat = sp.Add(*(d * h for d, h in zip(self.dy, self.normalized)))
        dx = tuple(self.gamma * (size * d - sum_dy - h * sum_dy_xhat) / (size * root) for d, h in zip(self.dy, self.normalized))
        return dx, sum_dy_xhat, sum_dy


@cache
def concrete_batch(size: int) -> ConcreteBatch:
    """Algorithm 1 at batch size ``size`` ≥ 1: μ = (1/m)Σx_i, σ² = (1/m)Σ(x_i − μ)², x̂_i, y_i = γx̂_i + β."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"batch size must be an integer ≥ 1, got {size!r}")
    xs = sp.symbols(f"x_1:{size + 1}", real=True)
    dys = sp.symbols(f"dy_1:{size + 1}", real=True)
    g, be = sp.symbols("gamma beta", real=True)
    mu = sp.Add(*xs) / size
    variance = sp.Add(*((xi - mu) ** 2 for xi in xs)) / size
    root = sp.sqrt(variance + epsilon)
    xhat = tuple((xi - mu) / root for xi in xs)
    return ConcreteBatch(size, xs, dys, g, be, epsilon, mu, variance, xhat, tuple(g * h + be for h in xhat))


# --- Algorithm 2, inference and folding -----------------------------------------------


def population_mean() -> sp.Expr:
    """E[x]_j = (1/N) Σ_u μ_B(u)_j over N training batches (Algorithm 2, line 10)."""
    return sp.Sum(batch_means[u, j], (u, 0, n_batches - 1)) / n_batches


def population_variance() -> sp.Expr:
    """Var[x]_j = m/(m − 1) · (1/N) Σ_u σ²_B(u)_j: the unbiased estimate from biased batch variances."""
    return m / (m - 1) * sp.Sum(batch_vars[u, j], (u, 0, n_batches - 1)) / n_batches


def inference_transform(row: sp.Symbol = i) -> sp.Expr:
    """y = γ_j (x_row,j − E[x]_j) / √(Var[x]_j + ε) + β_j."""
    return gamma[j] * (x[row, j] - mean[j]) / sp.sqrt(var[j] + epsilon) + beta[j]


def folded_inference(row: sp.Symbol = i) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(scale_j, shift_j, y) with scale = γ/√(Var + ε), shift = β − γE[x]/√(Var + ε), y = scale·x + shift."""
    scale = gamma[j] / sp.sqrt(var[j] + epsilon)
    shift = beta[j] - gamma[j] * mean[j] / sp.sqrt(var[j] + epsilon)
    return scale, shift, scale * x[row, j] + shift


def linear_fold(bias: bool = True) -> tuple[sp.Expr, sp.Expr]:
    """(W'_jr, b'_j): W' = diag(γ/√(Var + ε))·W, b' = γ(b − E[x])/√(Var + ε) + β (b = 0 without bias)."""
    root = sp.sqrt(var[j] + epsilon)
    bias_j = b[j] if bias else sp.S.Zero
    return gamma[j] / root * W[j, r], gamma[j] * (bias_j - mean[j]) / root + beta[j]


def _linear(weights: sp.Expr, bias_j: sp.Expr) -> sp.Expr:
    """z_j = Σ_r W_jr a_r + b_j for the given W_jr, b_j."""
    return sp.Sum(weights * a[r], (r, 0, n_in - 1)) + bias_j


# --- stages: the expressions the numeric code is printed from ---------------------------


@dataclass(frozen=True)
class Stage:
    """One array of the numeric computation: ``name[indices] = expr``, printed by ``compile_index_kernel``.

    ``expr`` refers to inputs and earlier stages as ``IndexedBase`` arrays;
    ``slots`` gives each index its trailing axis.
    """

    name: str
    indices: tuple[sp.Symbol, ...]
    expr: sp.Expr
    slots: Mapping[sp.Symbol, int]

    @property
    def base(self) -> sp.IndexedBase:
        return sp.IndexedBase(self.name, real=True)


_ROWS = {i: -2, k: -2, l: -2, q: -2, j: -1}


def _stage(name: str, indices: tuple[sp.Symbol, ...], expr: sp.Expr, slots: Mapping[sp.Symbol, int] = _ROWS) -> Stage:
    return Stage(name, indices, expr, dict(slots))


def _arr(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(name, real=True)


_mu0, _d, _delta, _c = _arr("mu0"), _arr("d"), _arr("delta"), _arr("c")
_var_B, _inv_std, _scale_B, _gain_B, _xhat = _arr("var_B"), _arr("inv_std"), _arr("scale_B"), _arr("gain_B"), _arr("xhat")

#: The numeric computation, stage by stage. Training forward: the corrected two-pass variance
#: (residuals d = x − μ⁰ are exact where x ≈ μ⁰; their mean δ restores the digits μ⁰ lost);
#: per-feature factors (1/√(σ²+ε), γ/√(σ²+ε), γ/(m√(σ²+ε))) are computed once, not per element.
STAGES: dict[str, tuple[Stage, ...]] = {
    "train_forward": (
        _stage("mu0", (j,), sp.Sum(x[k, j], (k, 0, m - 1)) / m),
        _stage("d", (i, j), x[i, j] - _mu0[j]),
        _stage("delta", (j,), sp.Sum(_d[k, j], (k, 0, m - 1)) / m),
        _stage("c", (i, j), _d[i, j] - _delta[j]),
        _stage("var_B", (j,), sp.Sum(_c[k, j] ** 2, (k, 0, m - 1)) / m),
        _stage("mu_B", (j,), _mu0[j] + _delta[j]),
        _stage("inv_std", (j,), 1 / sp.sqrt(_var_B[j] + epsilon)),
        _stage("scale_B", (j,), gamma[j] * _inv_std[j]),
        _stage("y", (i, j), _scale_B[j] * _c[i, j] + beta[j]),
        _stage("xhat", (i, j), _c[i, j] * _inv_std[j]),
    ),
    "train_backward": (
        _stage("gain_B", (j,), gamma[j] * _inv_std[j] / m),
        _stage("dx", (i, j), _gain_B[j] * (
            m * dy[i, j] - sp.Sum(dy[k, j], (k, 0, m - 1)) - _xhat[i, j] * sp.Sum(dy[k, j] * _xhat[k, j], (k, 0, m - 1))
        )),
        _stage("dgamma", (j,), sp.Sum(dy[k, j] * _xhat[k, j], (k, 0, m - 1))),
        _stage("dbeta", (j,), sp.Sum(dy[k, j], (k, 0, m - 1))),
    ),
    "inference": (_stage("y", (i, j), inference_transform(i)),),
    "fold": (
        _stage("scale", (j,), folded_inference()[0], {j: -1}),
        _stage("shift", (j,), folded_inference()[1], {j: -1}),
    ),
    "fold_linear": (
        _stage("W_folded", (j, r), linear_fold()[0], {j: -2, r: -1}),
        _stage("b_folded", (j,), linear_fold(bias=True)[1], {j: -1}),
        _stage("b_folded_nobias", (j,), linear_fold(bias=False)[1], {j: -1}),
    ),
    "population": (
        _stage("pop_mean", (j,), population_mean(), {u: -2, j: -1}),
        _stage("pop_var", (j,), population_variance(), {u: -2, j: -1}),
    ),
    "ema": (_stage("ema", (j,), (1 - momentum) * _arr("running")[j] + momentum * _arr("value")[j], {j: -1}),),
    "unbiased": (_stage("unbiased", (j,), m / (m - 1) * _arr("biased")[j], {j: -1}),),
}


def compose(expr: sp.Expr, stages: Iterable[Stage]) -> sp.Expr:
    """``expr`` with every stage array replaced by its definition, recursively (the stages inlined)."""
    table = {s.base: s for s in stages}

    def inline(e: sp.Indexed) -> sp.Expr:
        stage = table[e.base]
        bound = {v for s in stage.expr.atoms(sp.Sum) for v in s.variables}
        if bound & set(e.indices):
            raise ValueError(f"inlining {stage.name} at {e.indices} would capture a bound index")
        return stage.expr.xreplace(dict(zip(stage.indices, e.indices)))

    for _ in range(len(table) + 1):
        found = [e for e in expr.atoms(sp.Indexed) if e.base in table]
        if not found:
            return expr
        expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base in table, inline)
    raise ValueError("stages refer to each other in a cycle")


#: w = 1/√(σ² + ε) > 0: the proofs name the root, so that what is left is a polynomial.
_W = sp.Symbol("w", positive=True)


def _prove_index_identity(difference: sp.Expr, in_range: Ranges, label: str) -> Proof:
    """difference ≡ 0 for symbolic m.

    √(σ² + ε) named 1/w, index normal form, each sum an independent symbol,
    then the zero polynomial over ℚ(m). Where the root is not literally
    √(σ² + ε) (composed stages), ε = s² − σ² after the normal form and cancel.
    """
    named = difference.xreplace({batch_variance() + epsilon: _W**-2})
    if not named.has(epsilon):
        normal = normal_form(named, in_range)
        if normal == 0:
            return Proof(True, f"{label}: √(σ²+ε) = 1/w, index normal form is 0")
        names = sum_symbols(normal)
        if rational_zero(normal.xreplace(names), (m,)):
            return Proof(True, f"{label}: √(σ²+ε) = 1/w, index normal form, {len(names)} sums as symbols, zero polynomial")
    root_symbol = sp.Symbol("s", positive=True)
    normal = normal_form(difference, in_range)
    radicand = normal_form(batch_variance() + epsilon)
    names = {**sum_symbols(normal), **sum_symbols(radicand)}
    plain = normal.xreplace(names)
    if plain.has(epsilon):
        (eps_value,) = sp.solve(radicand.xreplace(names) - root_symbol**2, epsilon)
        plain = plain.subs(epsilon, eps_value)
    if sp.cancel(sp.together(plain)) == 0:
        return Proof(True, f"{label}: index normal form, {len(names)} sums as symbols, ε = s² − σ², cancel")
    return Proof(False, f"{label}: not shown (the normal forms differ)")


# --- proofs: the backward pass ------------------------------------------------------------


def _witness(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> str | None:
    """A rational point where ``expr`` is clearly nonzero, as text; None if none of a few points shows it."""
    for trial in range(4):
        point = {s: sp.Rational(3 + 2 * n + trial, 7 + (n * trial) % 5) * (-1) ** (n + trial) for n, s in enumerate(symbols)}
        point = {s: abs(v) if s.is_positive else v for s, v in point.items()}
        value = sp.N(expr.xreplace(point), 30)
        if value.is_number and value.is_finite and abs(value) > 1e-20:
            where = ", ".join(f"{s}={v}" for s, v in point.items())
            return f"{sp.N(value, 6)} at {where}"
    return None


def _prove_radical_zero(difference: sp.Expr, batch: ConcreteBatch, label: str) -> Proof:
    """difference ≡ 0: √(σ² + ε) named 1/w (w > 0), then the zero polynomial; else ε = s² − σ² and cancel."""
    named = difference.xreplace({batch.radicand: _W**-2})
    if not named.has(batch.epsilon) and rational_zero(named):
        return Proof(True, f"{label}: √(σ²+ε) = 1/w, zero polynomial")
    s = sp.Symbol("s", positive=True)
    if sp.cancel(sp.together(difference.subs(batch.epsilon, s**2 - batch.variance))) == 0:
        return Proof(True, f"{label}: ε = s² − σ², cancelled")
    symbols = sorted(difference.free_symbols, key=str)
    found = _witness(difference, symbols)
    return Proof(False, f"{label}: refuted, {found}" if found else f"{label}: not shown")


def prove_vjp_concrete(size: int, closed_form: Callable[[ConcreteBatch], tuple] | None = None) -> Proof:
    """∂L/∂x_p, ∂L/∂γ, ∂L/∂β by ``sympy.diff`` of Algorithm 1 at batch size ``size`` equal the closed form, exactly.

    ``closed_form(batch) -> (dx tuple, dγ, dβ)`` replaces the claim (to see a
    wrong one refuted). At m = 1, x̂ = 0 and y = β whatever x: both sides are 0.
    """
    batch = concrete_batch(size)
    dx, dgamma, dbeta = (closed_form or ConcreteBatch.closed_form)(batch)
    claims = [(sp.diff(batch.loss, xi), c, f"dL/d{xi}") for xi, c in zip(batch.x, dx)]
    claims += [(sp.diff(batch.loss, batch.gamma), dgamma, "dL/dgamma"), (sp.diff(batch.loss, batch.beta), dbeta, "dL/dbeta")]
    for derived, claim, label in claims:
        proof = _prove_radical_zero(derived - claim, batch, label)
        if not proof:
            return Proof(False, f"m={size}: {proof.method}", len(claims))
    return Proof(True, f"m={size}: sympy.diff − closed form ≡ 0 for every x_p, γ, β (√(σ²+ε) = 1/w, zero polynomial)", len(claims))


def prove_vjp_symbolic(closed_form: Mapping[str, sp.Expr] | None = None) -> dict[str, Proof]:
    """For symbolic m: the derived VJP (deltas contracted) minus the closed form is 0, for x, γ and β.

    Also: L_j does not depend on another feature's inputs (∂L_j/∂x_pq = 0 for q ≠ j).
    """
    claims = closed_form or vjp_closed_form()
    derived = derived_vjp()
    in_range = {p: _ROW_RANGE}
    results = {
        f"vjp by {name} (symbolic m)": _prove_index_identity(derived[name] - claims[name], in_range, f"d{name}")
        for name in ("x", "gamma", "beta")
    }
    other = sp.Symbol("q_feature", **_INDEX)
    cross = sp.diff(loss(), x[p, other]).xreplace({sp.KroneckerDelta(j, other): 0, sp.KroneckerDelta(other, j): 0})
    results["features independent: dL_j/dx_pq = 0 for q != j (symbolic m)"] = _prove_index_identity(
        cross, in_range, "cross-feature"
    )
    return results


# --- the backward pass stage by stage: the steps a report shows, and their proof -----------------


@dataclass(frozen=True)
class BackwardStep:
    """One step of the stage-by-stage backward pass: a title, its equations (lhs, rhs) and how they were obtained."""

    title: str
    equations: tuple[tuple[sp.Expr, sp.Expr], ...]
    note: str = ""


#: μ_B, σ²_B and x̂ as variables of their own (Ioffe & Szegedy's stage-by-stage backward pass).
stage_mean, stage_variance, stage_normalized = (sp.IndexedBase(n, real=True) for n in ("mu_B", "sigma_B^2", "xhat"))
#: The loss whose partials the backward steps name: ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ.
L_symbol = sp.Symbol("L", real=True)


@cache
def _backward_stages() -> dict[str, sp.Expr]:
    """Every partial of the stage-by-stage backward pass, by sympy.diff and :func:`contract_deltas` (0 ≤ p < m)."""
    mu, var, xhat = stage_mean, stage_variance, stage_normalized
    ranges = {p: _ROW_RANGE}
    xhat_i = normalized(i).subs(batch_variance(), var[j]).subs(batch_mean(), mu[j])
    var_stage = batch_variance().subs(batch_mean(), mu[j])
    loss_of_xhat = loss().xreplace({transform(i): transform(i).subs(normalized(i), xhat[i, j])})
    d_xhat = contract_deltas(sp.diff(loss_of_xhat, xhat[p, j]), ranges)
    d_var = sp.Sum(d_xhat.xreplace({p: i}) * sp.diff(xhat_i, var[j]), (i, 0, m - 1))
    d_mu = sp.Sum(d_xhat.xreplace({p: i}) * sp.diff(xhat_i, mu[j]), (i, 0, m - 1)) + sp.Derivative(
        L_symbol, var[j]
    ) * sp.diff(var_stage, mu[j])
    dvar_dx = contract_deltas(sp.diff(var_stage, x[p, j]), ranges)
    dmu_dx = contract_deltas(sp.diff(batch_mean(), x[p, j]), ranges)
    dxhat_dx = sp.diff(xhat_i.xreplace({i: p}), x[p, j])
    d_x = (
        sp.Derivative(L_symbol, xhat[p, j]) * dxhat_dx
        + sp.Derivative(L_symbol, var[j]) * dvar_dx
        + sp.Derivative(L_symbol, mu[j]) * dmu_dx
    )
    return {"xhat": d_xhat, "var": d_var, "mu": d_mu, "var_stage": var_stage, "dvar_dx": dvar_dx, "dmu_dx": dmu_dx,
            "dxhat_dx": dxhat_dx, "x": d_x}


def backward_steps() -> tuple[BackwardStep, ...]:
    """∂L/∂x̂, ∂L/∂σ², ∂L/∂μ, the partials of the statistics, ∂L/∂x_p, the closed form: proven by :func:`prove_backward_steps`."""
    st, mu, var, xhat, L = _backward_stages(), stage_mean, stage_variance, stage_normalized, L_symbol
    closed = vjp_closed_form()
    return (
        BackwardStep("Backward through y = γx̂ + β", ((sp.Derivative(L, xhat[p, j]), st["xhat"]),),
                     "L = Σ_i dy_ij y_ij (the VJP with cotangent dy); deltas contracted"),
        BackwardStep("Backward into σ²_B (x̂ depends on it through the root)", ((sp.Derivative(L, var[j]), st["var"]),)),
        BackwardStep("Backward into μ_B (through x̂ and through σ²_B)", ((sp.Derivative(L, mu[j]), st["mu"]),)),
        BackwardStep(
            "The partials of the statistics and of x̂ by x_p",
            ((sp.Derivative(st["var_stage"], x[p, j]), st["dvar_dx"]), (sp.Derivative(batch_mean(), x[p, j]), st["dmu_dx"]),
             (sp.Derivative(xhat[p, j], x[p, j]), st["dxhat_dx"])),
            "each by sympy.diff, deltas contracted; μ_B and σ²_B held fixed where they are variables",
        ),
        BackwardStep("Backward into x_p: the three paths added", ((sp.Derivative(L, x[p, j]), st["x"]),)),
        BackwardStep(
            "The closed form",
            ((sp.Derivative(L, x[p, j]), closed["x"]), (sp.Derivative(L, gamma[j]), closed["gamma"]),
             (sp.Derivative(L, beta[j]), closed["beta"])),
            "sympy.diff of L through every stage at once, deltas contracted, equals this for m = 1 … 6 and for symbolic m (see the checks)",
        ),
    )


def prove_backward_steps(closed_form: sp.Expr | None = None) -> Proof:
    """The steps of :func:`backward_steps` compose to the closed-form dx_p (symbolic m), by the chain rule.

    ∂L/∂σ² and ∂L/∂x̂ are substituted into ∂L/∂μ and all three into ∂L/∂x_p,
    then μ_B, σ²_B by their definitions; the difference from ``closed_form``
    (default :func:`vjp_closed_form`'s dx_p) is shown ≡ 0 in the normal form of index sums.
    """
    st, mu, var, xhat, L = _backward_stages(), stage_mean, stage_variance, stage_normalized, L_symbol
    d_var = st["var"]
    d_mu = st["mu"].xreplace({sp.Derivative(L, var[j]): d_var})
    d_x = st["x"].xreplace({sp.Derivative(L, xhat[p, j]): st["xhat"], sp.Derivative(L, var[j]): d_var,
                            sp.Derivative(L, mu[j]): d_mu})
    composed = d_x.xreplace({var[j]: batch_variance()}).xreplace({mu[j]: batch_mean()})
    claim = vjp_closed_form()["x"] if closed_form is None else closed_form
    return _prove_index_identity(composed - claim, {p: _ROW_RANGE}, "backward steps composed − closed form")


# --- proofs: why m/(m − 1) ------------------------------------------------------------------

mu_pop = sp.Symbol("mu", real=True)
sigma_pop = sp.Symbol("sigma", positive=True)


def _moment(monomial: dict[int, int]) -> sp.Expr:
    """E[Π x_a^e_a] for i.i.d. x with E[x] = μ, E[x²] = σ² + μ², up to degree 2."""
    degree = sum(monomial.values())
    if degree == 0:
        return sp.S.One
    if degree == 1:
        return mu_pop
    if degree == 2:
        return sigma_pop**2 + mu_pop**2 if len(monomial) == 1 else mu_pop**2
    raise ValueError(f"only moments up to degree 2 are known, got degree {degree}")


def expected_batch_variance(size: int | None = None, correction: sp.Expr = sp.S.One) -> sp.Expr:
    """E[correction · σ²_B] for m i.i.d. samples (E x = μ, Var x = σ²), by linearity and independence.

    Concrete ``size``: σ²_B expanded in x_1 … x_m, each monomial replaced by its
    moment. Symbolic m (``size=None``): σ²_B in index normal form
    (Σ_t x_t² / m − (Σ_t x_t)² / m²), each product of sums written as a double
    sum and E[x_t x_v] = μ² + σ² δ_tv applied inside it.
    """
    if size is not None:
        batch = concrete_batch(size)
        poly = sp.Poly(sp.expand(batch.variance), *batch.x)
        expectation = sum(
            (coeff * _moment({n: e for n, e in enumerate(monom) if e}) for monom, coeff in poly.terms()), sp.S.Zero
        )
        return sp.expand(correction.subs(m, size) * expectation)
    normal = normal_form(batch_variance())
    total = sp.S.Zero
    for term in sp.Add.make_args(normal):
        total += _expect_sum_monomial(term)
    return sp.factor(sp.expand(correction * total))


def _expect_sum_monomial(term: sp.Expr) -> sp.Expr:
    """E of coefficient · Π (Σ_t x_tj)^e…: the sums become one nested sum over fresh indices, moments inside."""
    coeff, sums, fresh = sp.S.One, [], iter(sp.symbols("v0:8", **_INDEX))
    for factor in sp.Mul.make_args(term):
        base, power = factor.as_base_exp()
        if isinstance(base, sp.Sum):
            sums += [base] * int(power)
        else:
            coeff *= factor
    body, limits = sp.S.One, []
    for s in sums:
        v = next(fresh)
        body *= s.function.xreplace({s.variables[0]: v})
        limits.append((v, 0, m - 1))
    # body is a product of x[v, j] powers: replace it by its moment (δ where two indices may coincide).
    powers = {}
    for factor in sp.Mul.make_args(body):
        base, power = factor.as_base_exp()
        powers[base.indices[0]] = powers.get(base.indices[0], 0) + int(power)
    if len(powers) == 2:
        v1, v2 = powers
        moment = mu_pop**2 + sigma_pop**2 * sp.KroneckerDelta(v1, v2)
    else:
        moment = _moment({n: e for n, e in enumerate(powers.values())})
    return coeff * normal_form(sp.Sum(moment, *reversed(limits)) if limits else moment)


def prove_unbiased_variance(size: int | None = None, correction: sp.Expr | None = None) -> Proof:
    """E[m/(m − 1) · σ²_B] = σ² (i.i.d. samples), at concrete ``size`` or symbolic m; ``correction`` replaces m/(m − 1)."""
    factor = m / (m - 1) if correction is None else correction
    where = f"m={size}" if size is not None else "symbolic m"
    if size == 1:
        return Proof(False, "m=1: σ²_B = 0 whatever the data; no factor makes it unbiased (m − 1 = 0)")
    biased = expected_batch_variance(size)
    scale = (m - 1) / m if size is None else sp.Rational(size - 1, size)
    if sp.simplify(biased - scale * sigma_pop**2) != 0:
        return Proof(False, f"{where}: E[σ²_B] = {biased}, not (m − 1)/m·σ²")
    gap = sp.simplify(expected_batch_variance(size, factor) - sigma_pop**2)
    if gap != 0:
        return Proof(False, f"{where}: refuted, E[{factor}·σ²_B] − σ² = {gap}")
    return Proof(True, f"{where}: E[σ²_B] = (m−1)/m·σ² and E[{factor}·σ²_B] = σ² (moments by linearity, independence)")


# --- proofs: inference, folding -------------------------------------------------------------------


def _expanded_zero(difference: sp.Expr, label: str) -> Proof:
    if sp.expand(difference) == 0:
        return Proof(True, f"{label}: expanded")
    symbols = sorted(difference.free_symbols, key=str)
    found = _witness(difference, symbols)
    return Proof(False, f"{label}: refuted, {found}" if found else f"{label}: not shown")


def _scalar(expr: sp.Expr) -> sp.Expr:
    """Index-notation expression for one feature and row with plain symbols (x[i, j] → x, gamma[j] → gamma, …)."""
    return expr.replace(lambda e: isinstance(e, sp.Indexed), lambda e: sp.Symbol(str(e.base), **e.base.assumptions0))


def prove_inference_fold(folded: sp.Expr | None = None) -> Proof:
    """γ(x − E)/√(Var + ε) + β ≡ scale·x + shift with scale = γ/√(Var+ε), shift = β − γE/√(Var+ε).

    ``folded`` replaces the claimed folded form (index notation, row i, feature j).
    """
    claim = folded_inference()[2] if folded is None else folded
    return _expanded_zero(_scalar(inference_transform() - claim), "inference fold")


def prove_linear_fold(rows: int | None = 2, cols: int = 3, bias: bool = True) -> Proof:
    """BN_inference(W a + b) ≡ W' a + b' with W', b' of :func:`linear_fold`; at rows × cols symbols or symbolic width."""
    folded_w, folded_b = linear_fold(bias)
    bias_j = b[j] if bias else sp.S.Zero
    label = f"linear fold {'with' if bias else 'without'} bias"
    if rows is None:  # symbolic input width n_in, one output unit j
        bn = inference_transform().xreplace({x[i, j]: _linear(W[j, r], bias_j)})
        difference = bn - _linear(folded_w, folded_b)
        ok = is_zero_index_expr(difference)
        return Proof(ok, f"{label} (symbolic width n_in): {'index normal form' if ok else 'not shown'}")
    cells = []
    for row in range(rows):
        at = {j: row, n_in: cols}
        bn = inference_transform().xreplace({x[i, j]: _linear(W[j, r], bias_j)}).xreplace(at).doit()
        folded = _linear(folded_w, folded_b).xreplace(at).doit()
        cells.append(bn - folded)
    proofs = [_expanded_zero(c, f"{label}, row {n}") for n, c in enumerate(cells)]
    bad = [pr for pr in proofs if not pr]
    if bad:
        return Proof(False, f"{label} ({rows}×{cols}): {bad[0].method}", len(proofs))
    return Proof(True, f"{label} ({rows}×{cols} symbols): every output expanded to 0", len(proofs))


# --- the training-time question: fixed statistics ------------------------------------------------


def fixed_statistics_gradient(row: sp.Symbol = p) -> sp.Expr:
    """∂L/∂x_row when μ and σ² are constants (moving averages ``mean``, ``var``): SymPy gives γ dy_row/√(var + ε)."""
    fixed = sp.Sum(dy[i, j] * inference_transform(i), (i, 0, m - 1))
    return normal_form(sp.diff(fixed, x[row, j]), {row: _ROW_RANGE})


def fixed_statistics_gradient_gap(row: sp.Symbol = p) -> sp.Expr:
    """dx_batch − dx_fixed at the same statistics (mean = μ_B, var = σ²_B): what backpropagating through μ_B, σ²_B adds.

    Equals −γ/(m√(σ²+ε))·(Σ_q dy_q + x̂_row Σ_q dy_q x̂_q) (proven in :func:`prove_fixed_statistics_gap`).
    """
    same_statistics = {mean[j]: batch_mean(), var[j]: batch_variance()}
    return vjp_closed_form(row)["x"] - fixed_statistics_gradient(row).xreplace(same_statistics)


def prove_fixed_statistics_gap() -> dict[str, Proof]:
    """The batch gradient differs from the fixed-statistics one, and it cannot shift or rescale the batch.

    * fixed-statistics gradient = γ dy_p/√(var + ε) (derived by SymPy, symbolic m);
    * gap = −γ/(m√(σ²+ε))(Σ dy + x̂_p Σ dy x̂) (symbolic m) and it is not
      identically zero (a point at m = 2 where it is not);
    * Σ_p dx_p = 0 and Σ_p x̂_p dx_p = γεΣdy x̂/(σ²+ε)^{3/2} (symbolic m): a
      batch-statistics gradient never shifts the batch and rescales it only
      through ε — the directions normalisation would cancel; with fixed
      statistics Σ_p dx_p = γΣdy/√(var + ε) ≠ 0 in general, the drift the
      paper describes (a bias growing without reducing L).
    """
    in_range = {p: _ROW_RANGE}
    results: dict[str, Proof] = {}
    fixed = fixed_statistics_gradient()
    expected_fixed = gamma[j] * dy[p, j] / sp.sqrt(var[j] + epsilon)
    results["fixed statistics: dx = gamma*dy/sqrt(var+eps) (symbolic m)"] = Proof(
        sp.expand(fixed - expected_fixed) == 0, "sympy.diff with μ, σ² constant, deltas contracted"
    )
    root = sp.sqrt(batch_variance() + epsilon)
    expected_gap = -gamma[j] / (m * root) * (
        sp.Sum(dy[q, j], (q, 0, m - 1)) + normalized(p) * sp.Sum(dy[q, j] * normalized(q), (q, 0, m - 1))
    )
    gap = fixed_statistics_gradient_gap()
    results["gap = -gamma/(m sqrt(var+eps))(sum dy + xhat_p sum dy xhat) (symbolic m)"] = _prove_index_identity(
        gap - expected_gap, in_range, "gap"
    )
    point = {x[0, j]: 0, x[1, j]: 2, dy[0, j]: 1, dy[1, j]: 0, gamma[j]: 1, epsilon: 1}
    value = sp.nsimplify(gap.xreplace({p: 0}).subs(m, 2).doit().xreplace(point))
    results["gap is not identically zero (m=2, x=(0,2), dy=(1,0), gamma=1, eps=1)"] = Proof(
        value != 0, f"gap = {value}"
    )
    dx = vjp_closed_form(p)["x"]
    results["sum_p dx_p = 0 (symbolic m)"] = _prove_index_identity(sp.Sum(dx, (p, 0, m - 1)), {}, "sum dx")
    # Scaling: Σ_p x̂_p dx_p = γ ε Σ_q dy_q x̂_q / (σ² + ε)^{3/2}, 0 but for ε.
    scaling = gamma[j] * epsilon * sp.Sum(dy[q, j] * normalized(q), (q, 0, m - 1)) / root**3
    results["sum_p xhat_p dx_p = gamma eps sum dy xhat / (var+eps)^(3/2) (symbolic m)"] = _prove_index_identity(
        sp.Sum(normalized(p) * dx, (p, 0, m - 1)) - scaling, {}, "sum xhat dx"
    )
    drift = sp.Sum(expected_fixed, (p, 0, m - 1)).subs(m, 2).doit().xreplace(
        {dy[0, j]: 1, dy[1, j]: 0, gamma[j]: 1, var[j]: 1, epsilon: 1}
    )
    results["fixed statistics: sum_p dx_p != 0 (m=2, dy=(1,0), gamma=var=eps=1)"] = Proof(
        sp.nsimplify(drift) != 0, f"sum dx = {sp.nsimplify(drift)}"
    )
    return results


# --- stages -------------------------------------------------------------------------------------------


def prove_stages() -> dict[str, Proof]:
    """The numeric stages composed equal the definitions (symbolic m): μ_B, σ²_B, then x̂, y, dx, dγ, dβ; the fold.

    Once the stage σ²_B is shown equal to the two-pass definition, it is
    replaced by that definition in the later claims (substituting equals).
    """
    everything = STAGES["train_forward"] + STAGES["train_backward"]
    in_range = {i: _ROW_RANGE}
    closed = vjp_closed_form(i)
    results: dict[str, Proof] = {}
    for name, definition in (("mu_B", batch_mean()), ("var_B", batch_variance())):
        staged = compose(_arr(name)[j], everything)
        results[f"stage {name} = definition (symbolic m)"] = _prove_index_identity(staged - definition, in_range, name)
    if results["stage var_B = definition (symbolic m)"]:
        everything = tuple(
            Stage(st.name, st.indices, batch_variance(), st.slots) if st.name == "var_B" else st for st in everything
        )
    claims = {
        "xhat": (_xhat[i, j], normalized(i)),
        "y": (_arr("y")[i, j], transform(i)),
        "dx": (_arr("dx")[i, j], closed["x"]),
        "dgamma": (_arr("dgamma")[j], closed["gamma"]),
        "dbeta": (_arr("dbeta")[j], closed["beta"]),
    }
    for name, (staged, definition) in claims.items():
        results[f"stage {name} = definition (symbolic m)"] = _prove_index_identity(
            compose(staged, everything) - definition, in_range, name
        )
    scale, shift = (st.expr for st in STAGES["fold"])
    results["stage fold: scale*x + shift = inference"] = _expanded_zero(
        _scalar(scale * x[i, j] + shift - inference_transform()), "fold stage"
    )
    return results


def prove_all() -> dict[str, Proof]:
    """Every batch-norm proof: VJP at m = 1 … 6 and symbolic m, m/(m−1), inference and linear folds, fixed statistics, stages.

    The results are computed once per process (about 3–5 s) and copied on each call.
    """
    return dict(_prove_all())


@cache
def _prove_all() -> dict[str, Proof]:
    results: dict[str, Proof] = {}
    for size in range(1, 7):
        results[f"vjp = closed form (m={size})"] = prove_vjp_concrete(size)
    results.update(prove_vjp_symbolic())
    results["backward steps compose to the closed form (symbolic m)"] = prove_backward_steps()
    for size in range(2, 7):
        results[f"E[m/(m-1) var_B] = var (m={size})"] = prove_unbiased_variance(size)
    results["E[m/(m-1) var_B] = var (symbolic m)"] = prove_unbiased_variance()
    results["inference = folded inference"] = prove_inference_fold()
    for bias in (True, False):
        which = "with bias" if bias else "without bias"
        results[f"linear fold {which} (2x3)"] = prove_linear_fold(2, 3, bias)
        results[f"linear fold {which} (symbolic width)"] = prove_linear_fold(None, bias=bias)
    results.update(prove_fixed_statistics_gap())
    results.update(prove_stages())
    return results
