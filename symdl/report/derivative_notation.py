"""d or ∂ in a section: d/dz for a function of one variable, ∂/∂w where there are several or parameters held fixed.

SymPy decides expression by expression (∂ when the differentiated expression
has more than one free symbol), so one section could write d/dw Ω(w) =
∂/∂w λ|w|. A report section takes one convention for all its derivatives:
∂ when any of them differentiates an expression of several variables or
parameters (:func:`section_partial`), else d. A derivative by an array
element is always ∂ (:func:`~symdl.report.latex_printer.by_an_element`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sympy as sp

from .latex_printer import by_an_element
from .model import Math, Section
from .named_constants import NamedConstant

__all__ = ["needs_partial", "section_maths", "section_partial"]


def needs_partial(derivative: sp.Derivative) -> bool:
    """Whether ``derivative`` alone asks for ∂: by an array element, or of an expression with several non-integer symbols
    (a :class:`~symdl.report.named_constants.NamedConstant` not counted)."""
    if by_an_element(derivative):
        return True
    # A published constant shown by name (SELU's λ) is a number, not a parameter.
    return sum(not s.is_integer and not isinstance(s, NamedConstant) for s in derivative.expr.free_symbols) > 1


def section_maths(section: Section) -> Iterator[Math]:
    """Every displayed equation of ``section``: its definition, its steps' and its kinks' equations."""
    yield from section.definition
    for step in (*section.steps, *section.kinks):
        yield from step.math


def section_partial(section: Section) -> bool:
    """The section's convention, ∂ (True) or d (False): ∂ as soon as one of its derivatives needs it (:func:`needs_partial`)."""
    return _any_needs_partial(section_maths(section))


def _any_needs_partial(maths: Iterable[Math]) -> bool:
    for math in maths:
        for side in (math.lhs, math.rhs):
            if side is not None and any(needs_partial(d) for d in side.atoms(sp.Derivative)):
                return True
    return False
