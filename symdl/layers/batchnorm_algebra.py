r"""Batch normalisation (Ioffe & Szegedy, Algorithms 1 and 2) in index notation, and the stages its numeric code is printed from.

    μ_j = (1/m) Σ_k x_kj,   σ²_j = (1/m) Σ_l (x_lj − μ_j)²,
    x̂_ij = (x_ij − μ_j) / √(σ²_j + ε),   y_ij = γ_j x̂_ij + β_j.

Row (batch) indices run over 0 … m − 1 with ``m`` a positive integer symbol,
``j`` is the feature. :data:`STAGES` splits the same expressions into
array-valued stages (a mean, the residuals, their mean, the centred values, …)
so that each is computed once and in a numerically stable order; the proofs
(:mod:`symdl.layers.batchnorm_backward`, :mod:`symdl.layers.batchnorm_proofs`)
show they compose to the definitions. Users import these names from
:mod:`symdl.layers.batchnorm_symbolic`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import sympy as sp

__all__ = [
    "STAGES",
    "batch_mean",
    "batch_variance",
    "compose",
    "concrete_batch",
    "ConcreteBatch",
    "derived_vjp",
    "folded_inference",
    "inference_transform",
    "linear_fold",
    "loss",
    "normalized",
    "population_mean",
    "population_variance",
    "Stage",
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


_mu0, _d, _mu_d, _c = _arr("mu0"), _arr("d"), _arr("mu_d"), _arr("c")
_var_B, _inv_std, _scale_B, _gain_B, _xhat = _arr("var_B"), _arr("inv_std"), _arr("scale_B"), _arr("gain_B"), _arr("xhat")

#: The numeric computation, stage by stage. Training forward: the corrected two-pass variance
#: (residuals d = x − μ⁰ are exact where x ≈ μ⁰; their mean μ_d restores the digits μ⁰ lost);
#: per-feature factors (1/√(σ²+ε), γ/√(σ²+ε), γ/(m√(σ²+ε))) are computed once, not per element.
STAGES: dict[str, tuple[Stage, ...]] = {
    "train_forward": (
        _stage("mu0", (j,), sp.Sum(x[k, j], (k, 0, m - 1)) / m),
        _stage("d", (i, j), x[i, j] - _mu0[j]),
        _stage("mu_d", (j,), sp.Sum(_d[k, j], (k, 0, m - 1)) / m),
        _stage("c", (i, j), _d[i, j] - _mu_d[j]),
        _stage("var_B", (j,), sp.Sum(_c[k, j] ** 2, (k, 0, m - 1)) / m),
        _stage("mu_B", (j,), _mu0[j] + _mu_d[j]),
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
