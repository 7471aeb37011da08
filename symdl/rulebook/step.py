"""A derivation step: what is done (plain text), the equations ``lhs = rhs`` it yields (SymPy objects), and code.

Derivations (:mod:`symdl.rulebook.derivation_steps`) produce them; the report's
document model (:mod:`symdl.report.model`) carries them to every renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy as sp

__all__ = ["Math", "Step"]


@dataclass(frozen=True)
class Math:
    """One displayed equation ``lhs = rhs`` (or a lone expression when ``rhs`` is None).

    ``lhs`` and ``rhs`` are SymPy objects (expressions, matrix expressions,
    ``Piecewise`` …). ``relation`` is one of ``"="``, ``"≠"``, ``"≤"``, ``"≈"``;
    each renderer spells it in its own notation.
    """

    lhs: sp.Basic
    rhs: sp.Basic | None = None
    relation: Literal["=", "≠", "≤", "≈"] = "="


@dataclass(frozen=True)
class Step:
    """One step of a derivation: what is done (plain text), the equations it yields, and code symdl generated.

    ``code`` is source text printed by symdl (never user text), shown verbatim
    in a code block.
    """

    title: str
    math: tuple[Math, ...] = ()
    note: str = ""
    code: str = ""
