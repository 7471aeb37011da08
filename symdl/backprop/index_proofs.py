r"""Proofs that BP1–BP4 in index notation are the derivative of C: symbolic widths, induction, concrete sizes.

Symbolic widths (:func:`prove_symbolic_widths`, depth 1–3): C of
:class:`~symdl.backprop.index_form.IndexNetwork` is differentiated directly by
w^l_{pq} and b^l_p (SymPy's chain rule through the nested sums yields
Kronecker deltas), the deltas are contracted (:func:`symdl.symbolic.index_sums.contract_deltas`,
for p, q in the ranges of their layers), and the result is compared with the
BP3/BP4 right-hand side after δ is unrolled through BP2 and BP1. The difference
is brought to the normal form of index sums using only identities valid for
finite sums; the claim holds when :func:`~symdl.symbolic.index_sums.is_zero_index_expr`
shows it is 0. Otherwise an exact counterexample is sought (small widths,
polynomial φ and C, rational weights) to refute the claim.

General depth follows by induction (:data:`INDUCTION_STEP`), whose step is
proven in index notation by :func:`prove_induction_step`.
:func:`prove_concrete_sizes` expands a small network to scalars instead and
checks every weight and bias, with generic or library rules.
"""
from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..symbolic.index_sums import Ranges, contract_deltas, is_zero_index_expr
from ..symbolic.proof import Proof
from .concrete_proofs import MAX_CONCRETE_PARAMETERS, prove_concrete_sizes
from .index_claims import (
    _counterexample,
    instantiate,
    p,
    q,
    sort_equations,
    unroll_deltas,
)
from .index_form import (
    IndexNetwork,
    bias,
    index_equations,
    j,
    k,
    sigma,
    sigma_prime,
    weight,
    width,
)

__all__ = [
    "INDUCTION_STEP",
    "MAX_CONCRETE_PARAMETERS",
    "SYMBOLIC_DEPTHS",
    "induction_step",
    "instantiate",
    "prove_concrete_sizes",
    "prove_induction_step",
    "prove_symbolic_widths",
    "sort_equations",
    "unit_ranges",
    "unroll_deltas",
]

SYMBOLIC_DEPTHS: tuple[int, ...] = (1, 2, 3)


# --- proofs for symbolic widths ----------------------------------------------


def unit_ranges(layer: int) -> Ranges:
    """0 ≤ p < n_l and 0 ≤ q < n_{l−1}: the range hypotheses of the unit w^l_{pq} a derivative is taken at."""
    return {p: (sp.S.Zero, width(layer) - 1), q: (sp.S.Zero, width(layer - 1) - 1)}


def _compare(derived: sp.Expr, claimed: sp.Expr, depth: int, free: Sequence[sp.Symbol], ranges: Ranges) -> Proof:
    difference = derived - claimed
    if is_zero_index_expr(difference, ranges):
        return Proof(
            True,
            "index notation, symbolic widths: dC differentiated directly, Kronecker deltas contracted "
            "(deltasummation), BP right side unrolled through BP1/BP2; canonical forms identical "
            f"(for 0 ≤ {', '.join(map(str, free))} < the layer widths)",
        )
    witness = _counterexample(difference, depth, free)
    if witness:
        return Proof(False, witness)
    return Proof(False, "not shown: the normal form is not 0 and no counterexample was found")


def prove_symbolic_widths(depth: int, equations: Sequence[sp.Eq] | None = None) -> dict[str, Proof]:
    r"""∂C/∂w^l_{pq} = a^{l−1}_q δ^l_p and ∂C/∂b^l_p = δ^l_p for every layer l, widths n_0 … n_L symbolic.

    ``equations`` defaults to :func:`index_equations` (BP1–BP4); pass altered
    ones to see them refuted. ``depth`` must be 1, 2 or 3.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth not in SYMBOLIC_DEPTHS:
        raise ValueError(f"prove_symbolic_widths: depth must be 1, 2 or 3 (1–3), got {depth!r}")
    network = IndexNetwork(depth)
    claims = sort_equations(index_equations(depth) if equations is None else equations, depth)
    total = network.total_cost()
    results: dict[str, Proof] = {}
    for layer in range(1, depth + 1):
        ranges = unit_ranges(layer)
        targets = (
            ("w", weight(layer)[p, q], (p, q), claims.weights, f"a^{{{layer - 1}}}_q delta^{{{layer}}}_p"),
            ("b", bias(layer)[p], (p,), claims.biases, f"delta^{{{layer}}}_p"),
        )
        for name, target, free, table, rhs_text in targets:
            label = f"layer {layer} of {depth}: dC/d{name}^{{{layer}}}_{''.join(map(str, free))} == {rhs_text}"
            if layer not in table:
                results[label] = Proof(False, f"no equation gives dC/d{name}^{layer}")
                continue
            derived = contract_deltas(sp.diff(total, target), ranges)
            indices, rhs = table[layer]
            claimed = network.unroll(unroll_deltas(instantiate(indices, rhs, free), claims, depth))
            results[label] = _compare(derived, claimed, depth, free, ranges)
    return results


# --- the induction step ------------------------------------------------------

INDUCTION_STEP = (
    r"General depth follows by induction on $l$ from $L$ down to 1, with the claim "
    r"$\frac{\partial C}{\partial z^{l}_{j}} = \delta^{l}_{j}$. "
    r"Base case: $C$ depends on $z^{L}_{j}$ only through $a^{L}_{j} = \varphi(z^{L}_{j})$, so "
    r"$\frac{\partial C}{\partial z^{L}_{j}} = \frac{\partial C}{\partial a^{L}_{j}} \varphi'(z^{L}_{j}) = \delta^{L}_{j}$ (BP1). "
    r"Step: BP2 expresses $\delta^{l}$ through $\delta^{l+1}$ using only layer $l+1$'s map "
    r"$z^{l+1}_{k} = \Sigma_{m} w^{l+1}_{km} \varphi(z^{l}_{m}) + b^{l+1}_{k}$; if "
    r"$\frac{\partial C}{\partial z^{l+1}_{k}} = \delta^{l+1}_{k}$, then "
    r"$\frac{\partial C}{\partial z^{l}_{j}} = \Sigma_{k} \frac{\partial C}{\partial z^{l+1}_{k}} "
    r"\frac{\partial z^{l+1}_{k}}{\partial z^{l}_{j}}$ $= \Sigma_{k} \delta^{l+1}_{k} w^{l+1}_{kj} "
    r"\varphi'(z^{l}_{j}) = \delta^{l}_{j}$. "
    r"BP3 and BP4 then follow from $\frac{\partial z^{l}_{m}}{\partial b^{l}_{p}} = \delta_{mp}$ and "
    r"$\frac{\partial z^{l}_{m}}{\partial w^{l}_{pq}} = \delta_{mp} a^{l-1}_{q}$: "
    r"$\frac{\partial C}{\partial b^{l}_{p}} = \Sigma_{m} \delta^{l}_{m} \delta_{mp} = \delta^{l}_{p}$ and "
    r"$\frac{\partial C}{\partial w^{l}_{pq}} = \Sigma_{m} \delta^{l}_{m} \delta_{mp} a^{l-1}_{q} = a^{l-1}_{q} \delta^{l}_{p}$."
)


def induction_step() -> str:
    """The statement that BP1–BP4 hold at every depth: BP1 base case, BP2 step, BP3/BP4 from ∂z/∂b and ∂z/∂w."""
    return INDUCTION_STEP


def prove_induction_step() -> Proof:
    r"""Σ_k D_k ∂z^{l+1}_k/∂z^l_j = (Σ_k w^{l+1}_{kj} D_k) φ′(z^l_j), Σ_m Δ_m ∂z^l_m/∂b^l_p = Δ_p, and
    Σ_m Δ_m ∂z^l_m/∂w^l_{pq} = a^{l−1}_q Δ_p: the induction step of :data:`INDUCTION_STEP`, for symbolic l.

    Layer l is symbolic: z^l, a^{l−1}, D = ∂C/∂z^{l+1} and Δ = ∂C/∂z^l are
    generic arrays over symbolic widths. Each identity is derived by
    differentiation and delta contraction and compared in the normal form of index sums; the
    multivariable chain rule that links them to ∂C is the one step taken as
    known (see :data:`INDUCTION_STEP`).
    """
    n_below, n_here, n_above = (sp.Symbol(name, integer=True, positive=True) for name in ("n_{l-1}", "n_l", "n_{l+1}"))
    m, r = sp.symbols("m r", integer=True, nonnegative=True)
    z_here = sp.IndexedBase("z^l", real=True)
    a_below = sp.IndexedBase("a^{l-1}", real=True)
    w_here, b_here = sp.IndexedBase("w^l", real=True), sp.IndexedBase("b^l", real=True)
    w_above, b_above = sp.IndexedBase("w^{l+1}", real=True), sp.IndexedBase("b^{l+1}", real=True)
    upstream = sp.IndexedBase("D", real=True)  # D_k = ∂C/∂z^{l+1}_k, assumed by the induction hypothesis
    error = sp.IndexedBase("Delta", real=True)  # Δ_m = ∂C/∂z^l_m, just shown to be δ^l_m

    def z_above(unit: sp.Expr) -> sp.Expr:
        return sp.Sum(w_above[unit, m] * sigma(z_here[m]), (m, 0, n_here - 1)) + b_above[unit]

    def z_layer(unit: sp.Expr) -> sp.Expr:
        return sp.Sum(w_here[unit, r] * a_below[r], (r, 0, n_below - 1)) + b_here[unit]

    # Σ_k D_k z^{l+1}_k is linear in the D_k, so its derivative is Σ_k D_k ∂z^{l+1}_k/∂(·).
    pulled_back = sp.Sum(upstream[k] * z_above(k), (k, 0, n_above - 1))
    through_layer = sp.Sum(error[k] * z_layer(k), (k, 0, n_here - 1))
    ranges = {j: (0, n_here - 1), p: (0, n_here - 1), q: (0, n_below - 1)}
    identities = {
        "BP2 step": (
            sp.diff(pulled_back, z_here[j]),
            sp.Sum(w_above[k, j] * upstream[k], (k, 0, n_above - 1)) * sigma_prime(z_here[j]),
        ),
        "BP3": (sp.diff(through_layer, b_here[p]), error[p]),
        "BP4": (sp.diff(through_layer, w_here[p, q]), a_below[q] * error[p]),
    }
    failed = [
        name
        for name, (derived, claimed) in identities.items()
        if not is_zero_index_expr(contract_deltas(derived, ranges) - claimed, ranges)
    ]
    if failed:
        return Proof(False, f"not shown: the normal form is not 0 for {', '.join(failed)}", len(identities))
    return Proof(
        True,
        "index notation, symbolic layer l and widths: d/dz^l_j of Σ_k D_k z^{l+1}_k and d/db^l, d/dw^l of "
        "Σ_m Δ_m z^l_m derived, deltas contracted, canonical forms identical to BP2, BP3, BP4; "
        "the multivariable chain rule is taken as known",
        len(identities),
    )
