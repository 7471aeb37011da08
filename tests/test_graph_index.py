"""Generalised backprop at symbolic widths (index notation): residual block, shared weight, auxiliary loss, a shared
residual block, two inputs, stacking, slicing and stop-gradient."""

from __future__ import annotations

from symdl.graph.index_proofs import prove_index_claims


def test_the_eight_claims_hold_for_every_width_and_every_rule():
    proofs = prove_index_claims()
    assert len(proofs) == 8 and all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}
    (sliced,) = [p for label, p in proofs.items() if label.startswith("slicing")]
    assert sliced.method.endswith("by 3 cases of the row index")


def test_each_classic_mistake_is_refuted_by_an_exact_counterexample():
    proofs = prove_index_claims(wrong=True)
    assert len(proofs) == 8 and not any(proofs.values())
    assert all(p.method.startswith("refuted: exactly ") for p in proofs.values())


def test_a_delta_outside_its_sums_range_contracts_to_zero_and_an_undecided_one_keeps_its_guard():
    import sympy as sp

    from symdl.symbolic.index_sums import contract_deltas

    k, p = sp.symbols("k p", integer=True)
    s, n = sp.symbols("s n", integer=True, positive=True)
    f = sp.IndexedBase("f")
    total = sp.Sum(sp.KroneckerDelta(p, s + k) * f[k], (k, 0, n - 1))
    assert contract_deltas(total, {p: (s, s + n - 1)}) == f[p - s]
    assert contract_deltas(total, {p: (0, s - 1)}) == 0 and contract_deltas(total, {p: (s + n, s + 2 * n)}) == 0
    assert contract_deltas(total, {p: (0, s + n - 1)}).has(sp.Piecewise)


def test_claims_are_chosen_by_key_and_an_unknown_key_is_one_line():
    import pytest

    from symdl.graph.index_proofs import CLAIMS

    assert list(prove_index_claims(only=["stop_gradient"])) == [label for key, label, _ in CLAIMS if key == "stop_gradient"]
    with pytest.raises(ValueError, match="unknown claim 'concat'; known: residual, shared"):
        prove_index_claims(only=["concat"])
