"""Checks of a report section: a proof as a check, and :func:`symdl.verify_rule`'s measurements as checks.

Each :class:`~symdl.report.model.Check` states what was checked, whether it
held, and the measured detail (the method of a proof, a worst error and its
tolerance).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..numbers import format_number
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule
from ..symbolic.proof import Proof
from ..verify.rules import FD_TOLERANCE, RuleReport, verify_rule
from .model import Check

__all__ = ["proof_check", "rule_checks", "verify_checks"]

#: Seeded points at which a rule's generated code is measured.
POINTS = 200


def proof_check(label: str, proof: Proof | bool, detail: str = "") -> Check:
    """A proof as a check: "proof: <label>" (with "≡ 0" for a difference), whether it holds, and its method."""
    holds = bool(proof)
    method = getattr(proof, "method", "") or detail
    return Check(f"proof: {label} ≡ 0" if " - " in label and "==" not in label else f"proof: {label}", holds, method)


def verify_checks(
    report: RuleReport, proofs: Mapping[str, Proof], element_wise: bool, points: int, kinks: bool = False
) -> list[Check]:
    """The checks of :func:`symdl.verify_rule`'s ``report``: proofs, kinks, finite differences, accuracy, stability, mutants."""
    from ..testing import ACCURACY_RTOL, STABILITY_LIMIT

    checks = [proof_check(label, proofs.get(label, report.proofs[label])) for label in report.proofs]
    if element_wise and report.kinks_ok is not None and kinks:
        checks.append(Check("kink values lie between the one-sided derivatives and the generated derivative returns them", report.kinks_ok,
                            "each declared kink checked exactly (SymPy) and in the generated float64 code"))
    if report.value_jumps:  # listed only when one fails: every registered rule is continuous or declares its jumps
        checks.append(Check("the value does not jump at a boundary the rule does not declare", False, "; ".join(report.value_jumps)))
    checks.append(
        Check(
            "generated derivative against central finite differences (float64)",
            report.fd_error <= FD_TOLERANCE,
            f"worst |fd − d|/max(1, |d|) = {format_number(report.fd_error, '.3g')} over {points} seeded points away from kinks "
            f"(tolerance {format_number(FD_TOLERANCE, 'g')})",
        )
    )
    for attr, dtype in (("accuracy64", np.float64), ("accuracy32", np.float32)):
        rtol = ACCURACY_RTOL[np.dtype(dtype)]
        worst = getattr(report, attr)
        checks.append(
            Check(
                f"value and derivative against a 50-digit mpmath reference ({np.dtype(dtype).name})",
                worst <= rtol,
                f"worst relative error {format_number(worst, '.3g')} (tolerance {format_number(rtol, 'g')})",
            )
        )
    checks.append(
        Check(
            f"finite and warning-free for inputs up to ±{format_number(STABILITY_LIMIT, 'g')} (float32 and float64)",
            report.stable,
            "no overflow, NaN or numpy warning" if report.stable else "; ".join(report.unstable),
        )
    )
    if report.mutants_total:
        survivors = f"; survivors: {', '.join(report.mutant_survivors)}" if report.mutant_survivors else ""
        checks.append(
            Check(
                "planted mistakes in the derivative are caught",
                report.mutants_killed == report.mutants_total,
                f"{report.mutants_killed} of {report.mutants_total} mutants killed{survivors}",
            )
        )
    return checks


def rule_checks(r: Rule | VectorRule, proofs: Mapping[str, Proof], verify: bool) -> list[Check]:
    """The checks of a rule's section: none without ``verify``; the proofs alone while a parameter has no value."""
    if not verify:
        return []
    if r.symbolic_params:
        checks = [proof_check(label, proof) for label, proof in proofs.items()]
        return checks + [Check("generated code checked numerically", False,
                               f"not run: parameter(s) {', '.join(r.symbolic_params)} have no value")]
    report = verify_rule(r, points=POINTS, proofs=proofs)
    return verify_checks(report, proofs, r.element_wise, POINTS, bool(r.kinks))
