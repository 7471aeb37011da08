"""MathML for notebook display: the equations a rule, a derivation or BP1–BP4 shows, as SymPy objects and as MathML.

A notebook's ``text/html`` output shows mathematics as presentation MathML
(:func:`~symdl.report.mathml_printer.mathml_math`), which browsers render
natively: offline, in exported HTML and in any front-end, where MathJax
source (``$…$``) stays raw text. ``text/latex`` keeps SymPy's LaTeX for
LaTeX front-ends; ``application/mathml+xml`` (:data:`MATHML_MIME`) holds one
``<math>`` element of every equation. The equations here are the same SymPy
objects the LaTeX and the report print: nothing is derived twice.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import sympy as sp

from ..excerpt import excerpt
from ..rulebook.step import Math
from ..symbolic.calculus import fresh_index
from .display_html import text_html
from .mathml_printer import mathml_math

if TYPE_CHECKING:
    from ..backprop.equations import BackpropEquations
    from ..formula_layers.derivation import FormulaDerivation
    from ..graph.equations import GraphEquations
    from ..rulebook.derivation import Derivation
    from ..rulebook.vector_rule import VectorRule

__all__ = [
    "MATHML_MIME",
    "equation_rows",
    "formula_layer_maths",
    "inline_mathml_expr",
    "kink_maths",
    "mathml_document",
    "maths_of_rows",
    "row_html",
    "rule_maths",
]

#: The MIME type of MathML (RFC 3023 / W3C), under which a display bundle carries its MathML document.
MATHML_MIME = "application/mathml+xml"

_NAMED = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]*);")
_BLOCK = re.compile(r'\A<math display="block">(.*)</math>\Z', re.S)


def _derivative_target(d: Derivation) -> Any:
    """What the derivative is taken by: the symbol, or for a vector rule one element of its input (fresh indices)."""
    if isinstance(d.wrt, sp.IndexedBase):
        definition = cast("VectorRule", d.rule).definition  # an IndexedBase input: a vector rule
        inp = next(i for i in definition.inputs if i.base == d.wrt)
        return inp.base[tuple(fresh_index(s) for s in inp.indices)]
    return d.wrt


def rule_maths(d: Derivation) -> tuple[Math, ...]:
    """A rule's displayed equations, those of its LaTeX: the definition, the derivative, the textbook form, the VJP.

    The textbook form appears only where it differs from the derivative; a
    vector rule adds its vector-Jacobian product by the derived input.
    """
    r = d.rule
    derivative = sp.Derivative(r.head(), _derivative_target(d))
    maths = [d.definition[0], Math(derivative, d.derivative)]
    if d.textbook is not None:
        maths.append(Math(derivative, d.textbook))
    if isinstance(d.wrt, sp.IndexedBase):
        definition = cast("VectorRule", r).definition  # an IndexedBase input: a vector rule
        inp = next(i for i in definition.inputs if i.base == d.wrt)
        vjp = definition.vjps.get(inp.base)
        if vjp is not None:
            maths.append(Math(sp.IndexedBase(f"{inp.base.label}bar")[inp.indices], vjp))
    return tuple(maths)


def formula_layer_maths(d: FormulaDerivation) -> tuple[Math, ...]:
    """A formula layer's forward equations, then each VJP with its head x̄ spelled ``xbar`` (how the printers write accents)."""
    maths = list(d.forward)
    for name, vjp in d.vjps.items():
        head: Any = sp.Symbol(f"{name}bar", real=True)
        if isinstance(vjp.lhs, sp.Indexed):
            head = sp.IndexedBase(head)[vjp.lhs.indices]
        maths.append(Math(head, vjp.rhs))
    return tuple(maths)


def kink_maths(d: Derivation) -> tuple[Math, ...]:
    """Each kink's one-sided limits and the value returned there, as the report's kink steps state them."""
    return tuple(m for step in d.kink_steps for m in step.math)


def equation_rows(eqs: BackpropEquations | GraphEquations) -> list[tuple[str, Math | tuple[Math, str]]]:
    """(label, equation) for every equation of ``eqs``, in the order of ``eqs.latex()``.

    A definition whose right-hand side exists only as Unicode text comes as
    (its head as :class:`Math`, that text).
    """
    rows: list[tuple[str, Math | tuple[Math, str]]] = []
    for label, name, args, rhs in getattr(eqs, "definition_forms", ()):
        head = sp.Function(name)(*args) if args else sp.Symbol(name)
        rows.append((label, (Math(head), rhs) if isinstance(rhs, str) else Math(head, rhs)))
    rows += [("forward", Math(eq.lhs, eq.rhs)) for eq in eqs.forward]
    if hasattr(eqs, "loss_gradient"):
        rows.append(("loss gradient", Math(eqs.loss_gradient.lhs, eqs.loss_gradient.rhs)))
    else:
        rows += [(f"loss term {k + 1}", Math(t.equation.lhs, t.equation.rhs)) for k, t in enumerate(eqs.losses)]
    rows += [(label, Math(eq.lhs, eq.rhs)) for label, eq in eqs.backward]
    return rows


def row_html(equation: Math | tuple[Math, str]) -> str:
    """One row's equation as HTML: block MathML, or MathML of the head then ``= text`` (escaped)."""
    if isinstance(equation, Math):
        return mathml_math(equation)
    head, text = equation
    return f"{mathml_math(head, display='inline')} = {text_html(text)}"


def inline_mathml_expr(expr: sp.Basic) -> str:
    """``expr`` as an inline ``<math>`` element (a parameter's value, a kink's limit)."""
    return mathml_math(Math(expr), display="inline")


def _block(math: str) -> str:
    """The rows inside one ``<math display="block">`` element."""
    found = _BLOCK.match(math)
    if found is None:
        raise ValueError(f"not one block <math> element: {excerpt(math)}")
    return found[1]


def mathml_document(maths: Iterable[Math]) -> str:
    """One ``<math display="block">`` element holding each equation as a row of an ``mtable``: the MIME bundle's MathML.

    Well-formed XML: HTML's named entities (``&dd;``, ``&InvisibleTimes;``) become numeric references.
    """
    rows = "".join(f"<mtr><mtd>{_block(mathml_math(m))}</mtd></mtr>" for m in maths)
    rows = _NAMED.sub(lambda match: "".join(f"&#x{ord(c):x};" for c in html.entities.html5[match[1] + ";"]), rows)
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"><mtable>{rows}</mtable></math>'


def maths_of_rows(rows: Sequence[tuple[str, Math | tuple[Math, str]]]) -> list[Math]:
    """The :class:`Math` of each row (a definition given only as text contributes its head)."""
    return [eq if isinstance(eq, Math) else eq[0] for _, eq in rows]
