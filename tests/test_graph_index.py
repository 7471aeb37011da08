"""Generalised backprop at symbolic widths (index notation): residual block, shared weight, auxiliary loss."""

from __future__ import annotations

from symdl.graph.index_proofs import prove_index_claims


def test_the_three_claims_hold_for_every_width_and_every_rule():
    proofs = prove_index_claims()
    assert len(proofs) == 3 and all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}


def test_each_classic_mistake_is_refuted_by_an_exact_counterexample():
    proofs = prove_index_claims(wrong=True)
    assert len(proofs) == 3 and not any(proofs.values())
    assert all(p.method.startswith("refuted: exactly ") for p in proofs.values())
