r"""Batch norm's other proofs: E[σ²_B] = (m − 1)/m · σ², the folded inference transform, folding into a linear layer.

Also: normalising with fixed statistics changes the gradient, the numeric
stages compose to the definitions, and :func:`prove_all` (every batch-norm
proof, cached) — see :mod:`symdl.layers.batchnorm_symbolic`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ..symbolic.index_sums import (
    is_zero_index_expr,
    normal_form,
)
from ..symbolic.proof import Proof
from .batchnorm_algebra import (
    _INDEX,
    _ROW_RANGE,
    STAGES,
    Stage,
    W,
    _arr,
    _linear,
    _xhat,
    b,
    batch_mean,
    batch_variance,
    compose,
    concrete_batch,
    dy,
    epsilon,
    folded_inference,
    gamma,
    i,
    inference_transform,
    j,
    linear_fold,
    m,
    mean,
    n_in,
    normalized,
    p,
    q,
    r,
    transform,
    var,
    vjp_closed_form,
    x,
)
from .batchnorm_backward import (
    _prove_index_identity,
    _witness,
    prove_backward_steps,
    prove_vjp_concrete,
    prove_vjp_symbolic,
)

__all__ = [
    "expected_batch_variance",
    "fixed_statistics_gradient",
    "fixed_statistics_gradient_gap",
    "prove_all",
    "prove_fixed_statistics_gap",
    "prove_inference_fold",
    "prove_linear_fold",
    "prove_stages",
    "prove_unbiased_variance",
]

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
    powers: dict = {}
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
