"""Check reports as text and HTML: ``symdl verify``'s table, a notebook's check table, a gradient check.

The plain text is what the CLI prints and what a :class:`~symdl.verify.CheckTable`
prints in a terminal; the HTML is what a notebook shows (text escaped by
:func:`~symdl.report.display_html.text_html`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..numbers import format_number
from ..tables import text_table
from .display_html import table_html, text_html, verdict_html

if TYPE_CHECKING:
    from ..testing.gradcheck import GradCheckReport
    from ..verify.rules import CheckTable, RuleReport

__all__ = [
    "REPORT_HEADER",
    "check_table",
    "failure_details",
    "gradcheck_html",
    "gradcheck_mimebundle",
    "report_mimebundle",
    "report_row",
    "reports_html",
    "reports_text",
]

#: The columns of ``symdl verify``'s table and of :class:`~symdl.verify.CheckTable`.
REPORT_HEADER: tuple[str, ...] = (
    "rule",
    "proof",
    "kinks",
    "max FD error",
    "max error vs mpmath (f64 / f32)",
    "stable",
    "mutants caught",
    "verdict",
)


# --- plain text: the CLI's table ------------------------------------------------


def report_row(report: RuleReport) -> list[str]:
    """One row of the verify table for ``report``: the cells under :data:`REPORT_HEADER`, as text."""
    proofs = report.proofs
    proof = f"{sum(map(bool, proofs.values()))}/{len(proofs)}" if proofs else "-"
    if not report.proven:
        proof += " FAIL"
    # Backprop rows measure only some columns: "-" where nothing was measured.
    numeric = report.kind in ("rule", "network")
    elementwise = report.kind == "rule"
    return [
        report.name,
        proof,
        ("JUMPS" if report.value_jumps else "ok" if report.kinks_ok else "FAIL") if elementwise else "-",
        f"{format_number(report.fd_error, '.1e')}" if numeric else "-",
        f"{format_number(report.accuracy64, '.1e')} / {format_number(report.accuracy32, '.1e')}" if elementwise else "-",
        ("yes" if report.stable else "NO") if elementwise else "-",
        f"{report.mutants_killed}/{report.mutants_total}" if report.mutants_total else "-",
        "PASS" if report.passed else "FAIL",
    ]


def failure_details(report: RuleReport) -> list[str]:
    """One line per thing that failed in ``report`` (empty when it passed)."""
    lines = [f"{report.name}: not proven: {label}" for label, holds in report.proofs.items() if not holds]
    if not report.kinks_ok:
        lines.append(f"{report.name}: a kink value is not between its one-sided derivatives or not what the code returns")
    lines += [f"{report.name}: {jump}" for jump in report.value_jumps]
    lines += [f"{report.name}: unstable: {problem}" for problem in report.unstable]
    lines += [f"{report.name}: a planted mistake went unnoticed: {label}" for label in report.mutant_survivors]
    return lines


def _tolerances() -> str:
    import numpy as np

    from ..testing import ACCURACY_RTOL
    from ..verify.rules import FD_TOLERANCE

    f64, f32 = ACCURACY_RTOL[np.dtype(np.float64)], ACCURACY_RTOL[np.dtype(np.float32)]
    return f"tolerances: FD <= {format_number(FD_TOLERANCE, 'g')}, vs mpmath <= {format_number(f64, 'g')} (f64) / {format_number(f32, 'g')} (f32)"


def _summary(reports: Sequence[RuleReport]) -> str:
    passed = sum(1 for r in reports if r.passed)
    return f"{len(reports)} rows: {passed} passed, {len(reports) - passed} failed"


def reports_text(reports: Sequence[RuleReport]) -> str:
    """The verify table of ``reports`` as plain text: rows, what failed, tolerances and a summary line."""
    lines = text_table([report_row(r) for r in reports], REPORT_HEADER)
    details = [line for r in reports for line in failure_details(r)]
    if details:
        lines += ["", *details]
    return "\n".join([*lines, "", _tolerances(), _summary(reports)])



# --- HTML ---------------------------------------------------------------------------


def reports_html(reports: Sequence[RuleReport]) -> str:
    """One HTML table, a row per report (cells as in ``symdl verify``, verdict ✓/✗), then what failed and the tolerances."""
    rows = []
    for r in reports:
        cells = [text_html(cell) for cell in report_row(r)]
        cells[-1] = verdict_html(r.passed)
        rows.append(cells)
    table = table_html(REPORT_HEADER, rows, "symdl-checks", caption=_summary(reports))
    details = [line for r in reports for line in failure_details(r)]
    failed = "<ul>" + "".join(f"<li>{text_html(line)}</li>" for line in details) + "</ul>" if details else ""
    return f"{table}{failed}<p>{html.escape(_tolerances())}</p>"


def report_mimebundle(reports: Sequence[RuleReport]) -> dict[str, str]:
    """``text/plain`` (the verify table) and ``text/html`` (:func:`reports_html`)."""
    return {"text/plain": reports_text(reports), "text/html": reports_html(reports)}


def check_table(reports: Iterable[RuleReport]) -> CheckTable:
    """``reports`` (e.g. from :func:`symdl.verify_rules`) as a :class:`~symdl.verify.CheckTable`."""
    from ..verify.rules import CheckTable

    return CheckTable(reports)


def gradcheck_html(report: GradCheckReport) -> str:
    """An HTML table of one :func:`symdl.testing.check_grad` run: verdict, the worst direction and its errors."""
    t = report.tolerance
    rows = [
        ("verdict", verdict_html(report.passed)),
        ("mode", text_html(f"{report.mode} ({report.checked} checked, {report.evaluations} evaluations)")),
        ("worst", text_html(report.worst)),
        ("analytic", text_html(f"{format_number(report.analytic, '.17g')}")),
        ("finite difference", text_html(f"{format_number(report.numeric, '.17g')}")),
        ("abs / rel error", text_html(f"{format_number(report.abs_error, '.3g')} / {format_number(report.rel_error, '.3g')}")),
        ("tolerance", text_html(f"rtol={format_number(t.rtol, 'g')}, atol={format_number(t.atol, 'g')}; rounding floor {format_number(report.rounding_floor, '.3g')}")),
        ("step; FD error estimate", text_html(f"{format_number(report.step, '.3g')}; {format_number(report.error_estimate, '.3g')}")),
    ]
    return table_html(("gradient check", ""), [(html.escape(k), v) for k, v in rows], "symdl-gradcheck")


def gradcheck_mimebundle(report: GradCheckReport) -> dict[str, str]:
    """``text/plain`` (the report's one-line ``str``) and ``text/html`` (:func:`gradcheck_html`)."""
    return {"text/plain": str(report), "text/html": gradcheck_html(report)}
