"""The ``symdl verify`` row of the optimizer proofs, with a planted wrong update that must be caught.

The row proves every claim of :func:`symdl.optim.proofs.prove_all` (each with
its wrong variant refuted) on the catalogue's own update assignments. The
planted mistake is Adam without its bias correction
(:func:`~symdl.optim.proofs.adam_without_bias_correction`, entry :data:`~symdl.optim.proofs.PLANTED`): the bias-correction
proof must fail for it, with an exact counterexample.
"""

from __future__ import annotations

from ..optim.proofs import PLANTED, prove_all
from .rules import RuleReport

__all__ = ["verify_optimizer_proofs"]


def verify_optimizer_proofs() -> RuleReport:
    """One proof row: the optimizer proofs and refutations, and the planted missing bias correction (1 mutant)."""
    report = RuleReport("optimizer proofs", kind="proof")
    results = prove_all()
    report.proofs = {label: bool(p) for label, p in results.items() if label != PLANTED}
    report.mutants_total = 1
    if results[PLANTED].holds:  # the bias-correction proof failed for the planted update
        report.mutants_killed = 1
    else:
        report.mutant_survivors.append("Adam without bias correction")
    return report
