r"""Batch norm's backward pass proven: dx_ij = γ_j/(m√(σ²_j+ε)) · (m dy_ij − Σ_k dy_kj − x̂_ij Σ_k dy_kj x̂_kj).

The VJP of L = Σ_i dy_ij y_ij derived by SymPy equals that closed form (and
dγ_j = Σ_k dy_kj x̂_kj, dβ_j = Σ_k dy_kj) at concrete m = 1 … 6 and for
symbolic m; the stage-by-stage steps a report shows compose to it.

How the proofs decide "≡ 0": the root √(σ² + ε) is named 1/w with w > 0
(the radicand replaced by w⁻²), after which every difference here is a
polynomial, shown to be the zero polynomial by exact sparse arithmetic (over
ℚ, or ℚ(m) for symbolic m), after the normal form of index sums
(:func:`symdl.symbolic.index_sums.normal_form`) for symbolic m.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import sympy as sp

from ..numbers import format_number
from ..symbolic.index_sums import (
    Ranges,
    contract_deltas,
    normal_form,
    rational_zero,
    sum_symbols,
)
from ..symbolic.proof import Proof
from .batchnorm_algebra import (
    _INDEX,
    _ROW_RANGE,
    ConcreteBatch,
    batch_mean,
    batch_variance,
    beta,
    concrete_batch,
    derived_vjp,
    epsilon,
    gamma,
    i,
    j,
    loss,
    m,
    normalized,
    p,
    transform,
    vjp_closed_form,
    x,
)

__all__ = [
    "backward_steps",
    "BackwardStep",
    "prove_backward_steps",
    "prove_vjp_concrete",
    "prove_vjp_symbolic",
]

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
            return f"{format_number(sp.N(value, 6))} at {where}"
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
        BackwardStep(r"Backward into $\sigma^{2}_{B}$ (x̂ depends on it through the root)", ((sp.Derivative(L, var[j]), st["var"]),)),
        BackwardStep(r"Backward into $\mu_{B}$ (through x̂ and through $\sigma^{2}_{B}$)", ((sp.Derivative(L, mu[j]), st["mu"]),)),
        BackwardStep(
            r"The partials of the statistics and of x̂ by $x_{p}$",
            ((sp.Derivative(st["var_stage"], x[p, j]), st["dvar_dx"]), (sp.Derivative(batch_mean(), x[p, j]), st["dmu_dx"]),
             (sp.Derivative(xhat[p, j], x[p, j]), st["dxhat_dx"])),
            r"each by sympy.diff, deltas contracted; $\mu_{B}$ and $\sigma^{2}_{B}$ held fixed where they are variables",
        ),
        BackwardStep(r"Backward into $x_{p}$: the three paths added", ((sp.Derivative(L, x[p, j]), st["x"]),)),
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
