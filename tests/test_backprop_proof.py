"""BP1–BP4 proven for symbolic widths (depth 1–3), by induction and at concrete sizes; wrong variants refuted."""

from __future__ import annotations

import pytest
import sympy as sp

from symdl.backprop.index_form import cost_prime, delta, index_equations, sigma_prime
from symdl.backprop.index_proofs import (
    induction_step,
    prove_concrete_sizes,
    prove_induction_step,
    prove_symbolic_widths,
)

j, k = sp.symbols("j k", integer=True, nonnegative=True)


# --- wrong variants of the equations -------------------------------------------


def _is_delta(eq: sp.Eq) -> bool:
    return isinstance(eq.lhs, sp.Indexed)


def transposed_bp2(eq: sp.Eq) -> sp.Eq:
    """BP2 with w^{l+1}_{jk} instead of w^{l+1}_{kj}."""
    if not _is_delta(eq):
        return eq
    rhs = eq.rhs.replace(lambda e: isinstance(e, sp.Indexed) and e.indices == (k, j), lambda e: e.base[j, k])
    return sp.Eq(eq.lhs, rhs)


def _without_sigma_prime(eq: sp.Eq) -> sp.Eq:
    return sp.Eq(eq.lhs, eq.rhs.replace(lambda e: isinstance(e, sigma_prime), lambda e: sp.S.One))


def bp1_without_sigma_prime(eq: sp.Eq) -> sp.Eq:
    """BP1 δ^L_j = ∂C/∂a (the σ'(z^L_j) factor dropped)."""
    return _without_sigma_prime(eq) if _is_delta(eq) and eq.rhs.has(cost_prime) else eq


def bp2_without_sigma_prime(eq: sp.Eq) -> sp.Eq:
    """BP2 δ^l_j = Σ_k w^{l+1}_{kj} δ^{l+1}_k (the σ'(z^l_j) factor dropped)."""
    return _without_sigma_prime(eq) if _is_delta(eq) and eq.rhs.has(sp.Sum) else eq


def bp4_indices_swapped(eq: sp.Eq) -> sp.Eq:
    """BP4 ∂C/∂w^l_{jk} = a^{l−1}_j δ^l_k."""
    if isinstance(eq.lhs, sp.Derivative) and len(eq.lhs.variables[0].indices) == 2:
        return sp.Eq(eq.lhs, eq.rhs.xreplace({j: k, k: j}))
    return eq


def variant(depth: int, change) -> list[sp.Eq]:
    return [change(eq) for eq in index_equations(depth)]


# --- symbolic widths ---------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_symbolic_widths_prove_every_layer(depth):
    results = prove_symbolic_widths(depth)
    assert len(results) == 2 * depth
    for layer in range(1, depth + 1):
        w = f"layer {layer} of {depth}: dC/dw^{{{layer}}}_pq == a^{{{layer - 1}}}_q delta^{{{layer}}}_p"
        b = f"layer {layer} of {depth}: dC/db^{{{layer}}}_p == delta^{{{layer}}}_p"
        for label in (w, b):
            assert results[label].holds, (label, results[label].method)
            assert "deltasummation" in results[label].method


@pytest.mark.parametrize(
    ("depth", "change", "wrong_layers"),
    [
        (2, transposed_bp2, {1}),
        (3, transposed_bp2, {1, 2}),
        (2, bp1_without_sigma_prime, {1, 2}),
        (3, bp1_without_sigma_prime, {1, 2, 3}),
        (2, bp2_without_sigma_prime, {1}),
        (1, bp4_indices_swapped, {1}),
        (2, bp4_indices_swapped, {1, 2}),
    ],
)
def test_symbolic_widths_refute_wrong_equations(depth, change, wrong_layers):
    results = prove_symbolic_widths(depth, variant(depth, change))
    for label, proof in results.items():
        layer = int(label.split()[1])
        touched = change is not bp4_indices_swapped or "dC/dw" in label  # a BP4 swap leaves ∂C/∂b right
        if layer in wrong_layers and touched:
            assert not proof.holds, label
            assert proof.method.startswith("refuted by an exact counterexample"), proof.method
        else:
            assert proof.holds, (label, proof.method)


@pytest.mark.parametrize("depth", [0, 4, -1, True, 2.0, "2"])
def test_symbolic_widths_refuse_other_depths(depth):
    with pytest.raises(ValueError, match="1–3"):
        prove_symbolic_widths(depth)


def test_unrecognised_equation_is_refused():
    with pytest.raises(ValueError, match="defines neither"):
        prove_symbolic_widths(1, [*index_equations(1), sp.Eq(sp.Symbol("t"), 1)])


def test_missing_delta_equation_is_refused():
    eqs = [eq for eq in index_equations(2) if eq.lhs != delta(2)[j]]
    with pytest.raises(ValueError, match="delta\\^2"):
        prove_symbolic_widths(2, eqs)


# --- the induction step -------------------------------------------------------------


def test_induction_step_is_proven():
    proof = prove_induction_step()
    assert proof.holds and proof.cases == 3
    assert "chain rule" in proof.method


def test_induction_step_statement():
    from symdl.report.inline_math import prose_text

    text = prose_text(induction_step())  # the statement as a reader sees it, its $…$ mathematics typeset
    for part in ("BP1", "BP2", "BP3", "BP4", "base case", "∂C/∂zₖˡ⁺¹ = δₖˡ⁺¹", "∂C/∂bₚˡ = Σₘ δₘˡ δₘₚ = δₚˡ"):
        assert part.lower() in text.lower()
    assert "$" not in text and "\\" not in text


# --- concrete sizes -------------------------------------------------------------------


def _assert_all_hold(results: dict, count: int) -> None:
    assert all(proof.holds for proof in results.values()), {label: v.method for label, v in results.items() if not v}
    assert sum(proof.cases for proof in results.values()) == count


def test_concrete_sizes_generic_functions():
    results = prove_concrete_sizes((2, 3, 2))
    _assert_all_hold(results, 6 + 3 + 6 + 2)
    assert "layer 2 of 2: dC/dw^{2}_jk == a^{1}_k delta^{2}_j" in results


def test_concrete_sizes_deeper_generic_network():
    _assert_all_hold(prove_concrete_sizes((1, 2, 2, 1)), 4 + 6 + 3)


@pytest.mark.parametrize(
    ("activation", "loss"),
    [("tanh", "mse"), ("sigmoid", "binary_cross_entropy"), ("softplus", "log_cosh"), ("identity", "mse"), ("tanh", None)],
)
def test_concrete_sizes_library_rules(activation, loss):
    _assert_all_hold(prove_concrete_sizes((2, 3, 2), activation, loss), 17)


@pytest.mark.parametrize(
    ("change", "activation", "loss"),
    [
        (transposed_bp2, None, None),
        (bp1_without_sigma_prime, None, None),
        (bp2_without_sigma_prime, "tanh", "mse"),
        (bp4_indices_swapped, "sigmoid", "binary_cross_entropy"),
    ],
)
def test_concrete_sizes_refute_wrong_equations(change, activation, loss):
    results = prove_concrete_sizes((2, 2, 2), activation, loss, equations=variant(2, change))
    assert not results["layer 1 of 2: dC/dw^{1}_jk == a^{0}_k delta^{1}_j"].holds
    assert all(proof.method.startswith("refuted") for proof in results.values() if not proof.holds)


def test_concrete_sizes_refute_a_transposed_weight_outside_its_shape():
    results = prove_concrete_sizes((2, 3, 2), equations=variant(2, transposed_bp2))
    proof = results["layer 1 of 2: dC/db^{1}_j == delta^{1}_j"]
    assert not proof.holds and "outside" in proof.method


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation": "relu"}, "piecewise"),
        ({"loss": "huber"}, "piecewise"),
        ({"activation": "nope"}, "unknown activation 'nope'.*accepted: .*tanh"),
        ({"activation": "mse"}, "unknown activation"),
        ({"loss": "softmax_cross_entropy"}, "not element-wise"),
        ({"activation": "softmax"}, "not element-wise"),
        ({"activation": "tanh", "alpha": 0.5}, "no chosen rule takes parameter 'alpha'"),
        ({"layers": (2,)}, "at least two"),
        ({"layers": (2, 0, 1)}, "positive integer"),
        ({"layers": "232"}, "sequence"),
        ({"layers": (8, 16, 16, 1)}, "at most"),
    ],
)
def test_concrete_sizes_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prove_concrete_sizes(**kwargs)
