"""Notebook display: LaTeX and HTML for rules, derivations, BP1–BP4 and check reports, in one place.

The classes (:class:`~symdl.Rule`, :class:`~symdl.VectorRule`,
:class:`~symdl.backprop.equations.BackpropEquations`, :class:`~symdl.RuleReport`,
:class:`~symdl.testing.GradCheckReport`) have thin ``_repr_latex_`` /
``_repr_html_`` / ``_repr_mimebundle_`` methods that call the functions here,
so Jupyter shows them typeset; nothing here imports IPython or matplotlib.

>>> import symdl
>>> bundle = symdl.rule("relu")._repr_mimebundle_()
>>> sorted(bundle)
['text/html', 'text/latex', 'text/plain']
>>> bundle["text/latex"].startswith("$$")
True

Trust boundary: mathematics is printed by SymPy's LaTeX printer only. Text
(a rule's name, which for a formula rule is the user's formula text; labels;
messages) goes into HTML through :func:`html.escape`, inside an element that
MathJax is told to skip, and never into LaTeX.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from ..numbers import format_number
from ..tables import text_table
from .plain_equations import derivation_text, equations_text

if TYPE_CHECKING:
    from ..backprop.equations import BackpropEquations
    from ..graph.equations import GraphEquations
    from ..rulebook.derivation import RuleLike
    from ..symbolic.proof import Proof
    from ..testing.gradcheck import GradCheckReport
    from ..verify.rules import RuleReport

__all__ = [
    "REPORT_HEADER",
    "CheckTable",
    "Derivation",
    "check_table",
    "derivation",
    "derivation_html",
    "derivation_mimebundle",
    "equations_html",
    "equations_latex",
    "equations_mimebundle",
    "failure_details",
    "gradcheck_html",
    "gradcheck_mimebundle",
    "proofs_html",
    "report_mimebundle",
    "report_row",
    "reports_html",
    "reports_text",
    "rule_html",
    "rule_latex",
    "rule_mimebundle",
    "select",
    "text_table",
]

#: The columns of ``symdl verify``'s table and of :class:`CheckTable`.
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

_PASS, _FAIL = "\N{CHECK MARK}", "\N{BALLOT X}"


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
        ("ok" if report.kinks_ok else "FAIL") if elementwise else "-",
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
        lines.append(f"{report.name}: a kink value is not a subgradient or not what the code returns")
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


# --- HTML helpers ---------------------------------------------------------------


def _text(value: object) -> str:
    """``value`` as escaped HTML text that MathJax leaves alone (a formula rule's name is the user's text)."""
    return f'<span class="tex2jax_ignore mathjax_ignore">{html.escape(str(value))}</span>'


def _math(latex: str, display: bool = False) -> str:
    """SymPy-printed ``latex`` for MathJax inside HTML (escaped: ``<`` in a condition is HTML's too)."""
    delimiter = "$$" if display else "$"
    return f"{delimiter}{html.escape(latex, quote=False)}{delimiter}"


def _table_html(header: Sequence[str], rows: Iterable[Sequence[str]], css: str, caption: str = "") -> str:
    """An HTML table; ``header`` is plain text (escaped here), the cells are HTML already."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="{css}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _verdict(passed: bool) -> str:
    return f'<span title="{"passed" if passed else "failed"}">{_PASS if passed else _FAIL}</span>'


def select(bundle: dict[str, str], include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
    """``bundle`` restricted to the MIME types in ``include`` (all if None) and not in ``exclude``."""
    keep = set(bundle) if include is None else set(include)
    drop = set(exclude or ())
    return {k: v for k, v in bundle.items() if k in keep and k not in drop}


# --- rules ----------------------------------------------------------------------


def _rule_lines(r: RuleLike) -> list[str]:
    """The rule's LaTeX lines from its derivation: definition, derivative, textbook form (when it differs), VJP."""
    lines = dict(r.derivation().latex)
    if lines.get("textbook") == lines.get("derivative"):
        del lines["textbook"]
    return list(lines.values())


def _kink_lines(r: RuleLike) -> list[str]:
    d = r.derivation()
    var = sp.latex(d.wrt)
    return [
        rf"\text{{kink at }} {var} = {sp.latex(k.at)}:\ \text{{left }} {sp.latex(k.left)},\ "
        rf"\text{{right }} {sp.latex(k.right)},\ \text{{returned }} {sp.latex(k.value)}"
        for k in d.kinks
    ]


def _aligned(lines: Sequence[str]) -> str:
    return r"\begin{aligned}" + r" \\ ".join(f"& {line}" for line in lines) + r"\end{aligned}"


def rule_latex(r: RuleLike) -> str:
    """``$$…$$``: the definition, derivative, textbook form and kinks of ``r``'s derivation, printed by SymPy."""
    return f"$${_aligned(_rule_lines(r) + _kink_lines(r))}$$"


def _params_html(r: RuleLike) -> str:
    values = r.derivation().params
    if not values:
        return ""
    cells = ", ".join(f"{html.escape(k)} = {'symbolic' if v is None else _math(sp.latex(v))}" for k, v in values.items())
    return f"<p>parameters: {cells}</p>"


def rule_html(r: RuleLike) -> str:
    """An HTML block for ``r``: its name and kind (escaped text), parameters, and its mathematics for MathJax."""
    summary = "" if r.kind == "formula" else f" — {_text(r.summary)}"
    head = f"<p><strong>{_text(r.name)}</strong> ({html.escape(r.kind)}){summary}</p>"
    maths = "".join(f"<div>{_math(line, display=True)}</div>" for line in _rule_lines(r))
    d = r.derivation()
    kinks = ""
    if d.kinks:
        var = sp.latex(d.wrt)
        rows = [[_math(f"{var} = {sp.latex(k.at)}"), *(_math(sp.latex(e)) for e in (k.left, k.right, k.value))] for k in d.kinks]
        kinks = _table_html(("kink", "left", "right", "returned"), rows, "symdl-kinks")
    return f'<div class="symdl-rule">{head}{_params_html(r)}{maths}{kinks}</div>'


def rule_mimebundle(r: RuleLike) -> dict[str, str]:
    """``text/plain``, ``text/latex`` and ``text/html`` representations of ``r``."""
    return {"text/plain": repr(r), "text/latex": rule_latex(r), "text/html": rule_html(r)}


@dataclass(frozen=True)
class Derivation:
    """A rule's derivation shown as one notebook block with its proofs' verdicts: what :func:`derivation` returns.

    The mathematics comes from the rule's :class:`symdl.rulebook.derivation.Derivation`;
    ``proofs`` is normally its proofs (a test may pass others to see a cross).
    """

    rule: RuleLike
    proofs: Mapping[str, Proof]

    @property
    def proven(self) -> bool:
        """Every identity proven (True when there is nothing to prove)."""
        return all(bool(p) for p in self.proofs.values())

    def _repr_latex_(self) -> str:
        return rule_latex(self.rule)

    def _repr_html_(self) -> str:
        return derivation_html(self)

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
        return select(derivation_mimebundle(self), include, exclude)


def rule_derivation_mimebundle(d: object) -> dict[str, str]:
    """A :class:`symdl.rulebook.derivation.Derivation`: Unicode text (``print(d)``), its LaTeX lines, and HTML."""
    lines = [line for key, line in d.latex.items() if not (key == "textbook" and line == d.latex.get("derivative"))]
    maths = "".join(f"<div>{_math(line, display=True)}</div>" for line in lines)
    return {"text/plain": derivation_text(d), "text/latex": f"$${_aligned(lines)}$$",
            "text/html": f'<div class="symdl-rule"><p><strong>{_text(d.rule.name)}</strong></p>{maths}</div>'}


def derivation(r: RuleLike) -> Derivation:
    """``r`` with the proofs of its cached :meth:`~symdl.Rule.derivation`, for display in a notebook."""
    return Derivation(r, r.derivation().proofs)


def proofs_html(proofs: Mapping[str, Proof]) -> str:
    """An HTML table of proofs: identity (escaped), ✓/✗, and the method that showed it."""
    rows = [[_text(label), _verdict(bool(p)), _text(getattr(p, "method", ""))] for label, p in proofs.items()]
    return _table_html(("identity", "proven", "method"), rows, "symdl-proofs")


def derivation_html(d: Derivation) -> str:
    """The rule's block followed by its proofs' table (or a note that there is nothing to prove)."""
    proofs = proofs_html(d.proofs) if d.proofs else "<p>nothing to prove (no textbook or stable form given)</p>"
    return rule_html(d.rule) + proofs


def derivation_mimebundle(d: Derivation) -> dict[str, str]:
    """``text/plain`` (the rule and its proofs, one per line), ``text/latex`` and ``text/html``."""
    lines = [repr(d.rule), *(f"  {label}: {'proven' if p else 'NOT PROVEN'}" for label, p in d.proofs.items())]
    return {"text/plain": "\n".join(lines), "text/latex": rule_latex(d.rule), "text/html": derivation_html(d)}


# --- BP1–BP4 --------------------------------------------------------------------


def _tex_label(label: str) -> str:
    """A library-written label (``BP2 (layer 1)``, ``dC/dalpha``) as ``\\text{…}`` with TeX's specials escaped."""
    specials = {c: "\\" + c for c in "#$%&_{}"} | {"\\": r"\backslash ", "^": r"\^{}", "~": r"\~{}"}
    return r"\text{" + "".join(specials.get(c, c) for c in label) + "}"


def equations_latex(eqs: BackpropEquations) -> str:
    """``$$…$$``: every equation of ``eqs`` (definitions, forward pass, ∇ₐC, BP1–BP4), each with its label."""
    rows = [rf"{_tex_label(label)} & {line}" for label, line in eqs.latex()]
    return r"$$\begin{array}{ll}" + r" \\ ".join(rows) + r"\end{array}$$"


def equations_html(eqs: BackpropEquations) -> str:
    """An HTML table of ``eqs``: label (escaped text) and equation (MathJax)."""
    rows = [[_text(label), _math(line)] for label, line in eqs.latex()]
    return _table_html(("", "equation"), rows, "symdl-equations")


def equations_mimebundle(eqs: BackpropEquations | GraphEquations) -> dict[str, str]:
    """``text/plain`` (:func:`equations_text`: Unicode, a labelled line per equation), ``text/latex`` and ``text/html``."""
    return {"text/plain": equations_text(eqs), "text/latex": equations_latex(eqs), "text/html": equations_html(eqs)}


# --- check reports --------------------------------------------------------------


def reports_html(reports: Sequence[RuleReport]) -> str:
    """One HTML table, a row per report (cells as in ``symdl verify``, verdict ✓/✗), then what failed and the tolerances."""
    rows = []
    for r in reports:
        cells = [_text(cell) for cell in report_row(r)]
        cells[-1] = _verdict(r.passed)
        rows.append(cells)
    table = _table_html(REPORT_HEADER, rows, "symdl-checks", caption=_summary(reports))
    details = [line for r in reports for line in failure_details(r)]
    failed = "<ul>" + "".join(f"<li>{_text(line)}</li>" for line in details) + "</ul>" if details else ""
    return f"{table}{failed}<p>{html.escape(_tolerances())}</p>"


def report_mimebundle(reports: Sequence[RuleReport]) -> dict[str, str]:
    """``text/plain`` (the verify table) and ``text/html`` (:func:`reports_html`)."""
    return {"text/plain": reports_text(reports), "text/html": reports_html(reports)}


class CheckTable(list):
    """A list of :class:`~symdl.RuleReport` that a notebook shows as one table; otherwise a plain ``list``."""

    @property
    def passed(self) -> bool:
        """Every report passed."""
        return all(r.passed for r in self)

    def _repr_html_(self) -> str:
        return reports_html(self)

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
        return select(report_mimebundle(self), include, exclude)


def check_table(reports: Iterable[RuleReport]) -> CheckTable:
    """``reports`` (e.g. from :func:`symdl.verify_rules`) as a :class:`CheckTable`."""
    return CheckTable(reports)


def gradcheck_html(report: GradCheckReport) -> str:
    """An HTML table of one :func:`symdl.testing.check_grad` run: verdict, the worst direction and its errors."""
    t = report.tolerance
    rows = [
        ("verdict", _verdict(report.passed)),
        ("mode", _text(f"{report.mode} ({report.checked} checked, {report.evaluations} evaluations)")),
        ("worst", _text(report.worst)),
        ("analytic", _text(f"{format_number(report.analytic, '.17g')}")),
        ("finite difference", _text(f"{format_number(report.numeric, '.17g')}")),
        ("abs / rel error", _text(f"{format_number(report.abs_error, '.3g')} / {format_number(report.rel_error, '.3g')}")),
        ("tolerance", _text(f"rtol={format_number(t.rtol, 'g')}, atol={format_number(t.atol, 'g')}; rounding floor {format_number(report.rounding_floor, '.3g')}")),
        ("step; FD error estimate", _text(f"{format_number(report.step, '.3g')}; {format_number(report.error_estimate, '.3g')}")),
    ]
    return _table_html(("gradient check", ""), [(html.escape(k), v) for k, v in rows], "symdl-gradcheck")


def gradcheck_mimebundle(report: GradCheckReport) -> dict[str, str]:
    """``text/plain`` (the report's one-line ``str``) and ``text/html`` (:func:`gradcheck_html`)."""
    return {"text/plain": str(report), "text/html": gradcheck_html(report)}



def _register() -> None:
    """Make rules, BP1–BP4 equations, check reports and gradient checks show themselves (see :mod:`symdl.display_hooks`)."""
    from ..backprop.equations import BackpropEquations
    from ..display_hooks import register_plotter, register_renderer
    from ..graph.equations import GraphEquations
    from ..rulebook.derivation import Derivation as RuleDerivation
    from ..rulebook.rule import Rule
    from ..rulebook.vector_rule import VectorRule
    from ..testing.gradcheck import GradCheckReport
    from ..verify.rules import RuleReport
    from .plots import plot_rule

    for rule_class in (Rule, VectorRule):
        register_renderer(rule_class, rule_mimebundle)
        register_plotter(rule_class, plot_rule)
    register_renderer(RuleDerivation, rule_derivation_mimebundle)
    for equations_class in (BackpropEquations, GraphEquations):
        register_renderer(equations_class, equations_mimebundle)
    register_renderer(GradCheckReport, gradcheck_mimebundle)
    register_renderer(RuleReport, lambda report: report_mimebundle([report]))


_register()
