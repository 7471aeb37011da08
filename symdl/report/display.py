"""Notebook display: MathML, LaTeX and HTML for rules, derivations and BP1–BP4, in one place (check reports: :mod:`symdl.report.check_display`).

The classes (:class:`~symdl.Rule`, :class:`~symdl.VectorRule`,
:class:`~symdl.backprop.equations.BackpropEquations`, :class:`~symdl.RuleReport`,
:class:`~symdl.testing.GradCheckReport`, :class:`~symdl.verify.CheckTable`) show
themselves through the renderers registered here (:mod:`symdl.display_hooks`),
so Jupyter shows them typeset; nothing here imports IPython or matplotlib.
Mathematics goes into ``text/html`` as presentation MathML, which browsers
render offline and in exported HTML (:mod:`symdl.report.notebook_mathml`),
into ``text/latex`` as SymPy's LaTeX, and into ``application/mathml+xml`` as
one MathML document.

>>> import symdl
>>> bundle = symdl.rule("relu")._repr_mimebundle_()
>>> sorted(bundle)
['application/mathml+xml', 'text/html', 'text/latex', 'text/plain']
>>> bundle["text/latex"].startswith("$$"), "<math" in bundle["text/html"]
(True, True)

Trust boundary: mathematics is printed by SymPy's LaTeX and (escaping)
MathML printers only. Text (a rule's name, which for a formula rule is the
user's formula text; labels; messages) goes into HTML through
:func:`html.escape`, inside an element that MathJax is told to skip, and
never into LaTeX or MathML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from ..tables import text_table
from ..verify.rules import CheckTable
from .check_display import (
    REPORT_HEADER,
    check_table,
    failure_details,
    gradcheck_html,
    gradcheck_mimebundle,
    report_mimebundle,
    report_row,
    reports_html,
    reports_text,
)
from .display_html import select, table_html, text_html, verdict_html
from .mathml_printer import mathml_math
from .notebook_mathml import (
    MATHML_MIME,
    equation_rows,
    formula_layer_maths,
    inline_mathml_expr,
    kink_maths,
    mathml_document,
    maths_of_rows,
    row_html,
    rule_maths,
)
from .plain_equations import derivation_text, equations_text
from .unicode_math import unicode_equation

if TYPE_CHECKING:
    from ..backprop.equations import BackpropEquations
    from ..formula_layers.derivation import FormulaDerivation
    from ..graph.equations import GraphEquations
    from ..rulebook.derivation import Derivation as RuleDerivation
    from ..rulebook.derivation import RuleLike
    from ..symbolic.proof import Proof

__all__ = [
    "MATHML_MIME",
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
    "formula_derivation_mimebundle",
    "gradcheck_html",
    "gradcheck_mimebundle",
    "proofs_html",
    "report_mimebundle",
    "report_row",
    "reports_html",
    "reports_text",
    "rule_html",
    "rule_latex",
    "rule_mathml",
    "rule_mimebundle",
    "select",
    "text_table",
]


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
    cells = ", ".join(f"{html.escape(k)} = {'symbolic' if v is None else inline_mathml_expr(v)}" for k, v in values.items())
    return f"<p>parameters: {cells}</p>"


def _maths_html(d: RuleDerivation) -> str:
    return "".join(f"<div>{mathml_math(m)}</div>" for m in rule_maths(d))


def rule_html(r: RuleLike) -> str:
    """An HTML block for ``r``: its name and kind (escaped text), parameters, and its mathematics as MathML."""
    summary = "" if r.kind == "formula" else f" — {text_html(r.summary)}"
    head = f"<p><strong>{text_html(r.name)}</strong> ({html.escape(r.kind)}){summary}</p>"
    d = r.derivation()
    kinks = ""
    if d.kinks:
        rows = [[inline_mathml_expr(sp.Eq(d.wrt, k.at, evaluate=False)), *(inline_mathml_expr(e) for e in (k.left, k.right, k.value))]
                for k in d.kinks]
        kinks = table_html(("kink", "left", "right", "returned"), rows, "symdl-kinks")
    return f'<div class="symdl-rule">{head}{_params_html(r)}{_maths_html(d)}{kinks}</div>'


def rule_mathml(d: RuleDerivation) -> str:
    """One MathML document of what :func:`rule_latex` shows: definition, derivative, textbook form, VJP, kinks."""
    return mathml_document((*rule_maths(d), *kink_maths(d)))


def rule_mimebundle(r: RuleLike) -> dict[str, str]:
    """``text/plain``, ``text/latex``, ``text/html`` (MathML inside) and ``application/mathml+xml`` of ``r``."""
    return {"text/plain": repr(r), "text/latex": rule_latex(r), "text/html": rule_html(r),
            MATHML_MIME: rule_mathml(r.derivation())}


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

    def __str__(self) -> str:
        return derivation_mimebundle(self)["text/plain"]

    def _repr_latex_(self) -> str:
        return rule_latex(self.rule)

    def _repr_html_(self) -> str:
        return derivation_html(self)

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
        return select(derivation_mimebundle(self), include, exclude)


def rule_derivation_mimebundle(d: RuleDerivation) -> dict[str, str]:
    """A :class:`symdl.rulebook.derivation.Derivation`: Unicode text (``print(d)``), its LaTeX lines, HTML and MathML."""
    lines = [line for key, line in d.latex.items() if not (key == "textbook" and line == d.latex.get("derivative"))]
    return {"text/plain": derivation_text(d), "text/latex": f"$${_aligned(lines)}$$",
            "text/html": f'<div class="symdl-rule"><p><strong>{text_html(d.rule.name)}</strong></p>{_maths_html(d)}</div>',
            MATHML_MIME: mathml_document(rule_maths(d))}


def derivation(r: RuleLike) -> Derivation:
    """``r`` with the proofs of its cached :meth:`~symdl.Rule.derivation`, for display in a notebook."""
    return Derivation(r, r.derivation().proofs)


def proofs_html(proofs: Mapping[str, Proof]) -> str:
    """An HTML table of proofs: identity (escaped), ✓/✗, and the method that showed it."""
    rows = [[text_html(label), verdict_html(bool(p)), text_html(getattr(p, "method", ""))] for label, p in proofs.items()]
    return table_html(("identity", "proven", "method"), rows, "symdl-proofs")


def derivation_html(d: Derivation) -> str:
    """The rule's block followed by its proofs' table (or a note that there is nothing to prove)."""
    proofs = proofs_html(d.proofs) if d.proofs else "<p>nothing to prove (no textbook or stable form given)</p>"
    return rule_html(d.rule) + proofs


def derivation_mimebundle(d: Derivation) -> dict[str, str]:
    """``text/plain`` (the rule and its proofs, one per line), ``text/latex``, ``text/html`` and MathML."""
    lines = [repr(d.rule), *(f"  {label}: {'proven' if p else 'NOT PROVEN'}" for label, p in d.proofs.items())]
    return {"text/plain": "\n".join(lines), "text/latex": rule_latex(d.rule), "text/html": derivation_html(d),
            MATHML_MIME: rule_mathml(d.rule.derivation())}


# --- BP1–BP4 --------------------------------------------------------------------


def _tex_label(label: str) -> str:
    """A library-written label (``BP2 (layer 1)``, ``dC/dalpha``) as ``\\text{…}`` with TeX's specials escaped."""
    specials = {c: "\\" + c for c in "#$%&_{}"} | {"\\": r"\backslash ", "^": r"\^{}", "~": r"\~{}"}
    return r"\text{" + "".join(specials.get(c, c) for c in label) + "}"


def equations_latex(eqs: BackpropEquations | GraphEquations) -> str:
    """``$$…$$``: every equation of ``eqs`` (definitions, forward pass, ∇ₐC, BP1–BP4), each with its label."""
    rows = [rf"{_tex_label(label)} & {line}" for label, line in eqs.latex()]
    return r"$$\begin{array}{ll}" + r" \\ ".join(rows) + r"\end{array}$$"


def equations_html(eqs: BackpropEquations | GraphEquations) -> str:
    """An HTML table of ``eqs``: label (escaped text) and equation (MathML)."""
    rows = [[text_html(label), row_html(equation)] for label, equation in equation_rows(eqs)]
    return table_html(("", "equation"), rows, "symdl-equations")


def equations_mimebundle(eqs: BackpropEquations | GraphEquations) -> dict[str, str]:
    """``text/plain`` (:func:`equations_text`: Unicode, a labelled line per equation), ``text/latex``, ``text/html``, MathML."""
    return {"text/plain": equations_text(eqs), "text/latex": equations_latex(eqs), "text/html": equations_html(eqs),
            MATHML_MIME: mathml_document(maths_of_rows(equation_rows(eqs)))}




def formula_derivation_mimebundle(d: FormulaDerivation) -> dict[str, str]:
    """A formula layer's derivation: Unicode lines (``print``), its LaTeX, and its equations as MathML."""
    equations = formula_layer_maths(d)
    text = "\n".join([d.name, *(f"  {unicode_equation(m.lhs, m.rhs)}" for m in equations)])
    maths = "".join(f"<div>{mathml_math(m)}</div>" for m in equations)
    return {"text/plain": text, "text/latex": d._repr_latex_(), MATHML_MIME: mathml_document(equations),
            "text/html": f'<div class="symdl-rule"><p><strong>{text_html(d.name)}</strong></p>{maths}</div>'}


def _register() -> None:
    """Make rules, BP1–BP4 equations, check reports and gradient checks show themselves (see :mod:`symdl.display_hooks`)."""
    from ..backprop.equations import BackpropEquations
    from ..display_hooks import register_plotter, register_renderer
    from ..formula_layers.derivation import FormulaDerivation
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
    register_renderer(CheckTable, report_mimebundle)
    register_renderer(FormulaDerivation, formula_derivation_mimebundle)


_register()
