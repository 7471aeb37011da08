"""Published constants shown by name in a report: SELU's λ and α, not their 30 digits at every occurrence.

λ = 1.0507009873…, α = 1.6732632423… (Klambauer et al. 2017, "Self-Normalizing
Neural Networks"). The rule, its derivation, its proofs and the generated code
keep the exact 30-digit values (:mod:`symdl.rulebook.activations`); only the
report's equations write the name, and a section that uses one lists it with
its value to :data:`DIGITS` significant digits and its source.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

from ..rulebook.activations import SELU_ALPHA, SELU_LAMBDA
from .model import Math, Section, Step

__all__ = ["CONSTANTS", "DIGITS", "NamedConstant", "name_constants"]

#: Significant digits of a constant's value where the report defines it.
DIGITS = 10


class NamedConstant(sp.Symbol):
    """A published constant shown by its name: a symbol of its own class, never equal to a parameter of that name."""


@dataclass(frozen=True)
class Constant:
    """A constant's symbol, its letter in prose, its exact value (as the rules use it) and where it comes from (plain text)."""

    symbol: NamedConstant
    letter: str
    value: sp.Float
    source: str


_SELU = "the self-normalising constants of Klambauer et al. 2017, Self-Normalizing Neural Networks"
CONSTANTS = (
    Constant(NamedConstant("lambda", positive=True), "λ", SELU_LAMBDA, _SELU),
    Constant(NamedConstant("alpha", positive=True), "α", SELU_ALPHA, _SELU),
)
# The values as the derivations meet them: each constant, and the product λα of SELU's textbook derivative, of either sign.
_NAMES: dict[sp.Float, sp.Expr] = {}
for _form in (*(c.symbol for c in CONSTANTS), CONSTANTS[0].symbol * CONSTANTS[1].symbol):
    _value = _form.xreplace({c.symbol: c.value for c in CONSTANTS})
    _NAMES[_value], _NAMES[-_value] = _form, -_form


def _named(expr: sp.Basic) -> sp.Basic:
    floats = {f: _NAMES[f] for f in expr.atoms(sp.Float) if f in _NAMES}
    return expr.xreplace(floats) if floats else expr


def _math(math: Math) -> Math:
    return dataclasses.replace(math, lhs=_named(math.lhs), rhs=None if math.rhs is None else _named(math.rhs))


def _step(step: Step) -> Step:
    return dataclasses.replace(step, math=tuple(_math(m) for m in step.math))


def name_constants(section: Section) -> Section:
    """``section`` with each constant of :data:`CONSTANTS` written by name in its equations, defined after its
    definition (λ ≈ 1.050700987) and its source added to the summary; unchanged when it uses none."""
    named = dataclasses.replace(section, definition=tuple(_math(m) for m in section.definition),
                                steps=tuple(_step(s) for s in section.steps), kinks=tuple(_step(s) for s in section.kinks))
    if named == section:
        return section
    used = [c for c in CONSTANTS if any(c.symbol in _symbols(m) for m in _maths(named))]
    definitions = tuple(Math(c.symbol, sp.Float(c.value, DIGITS), "≈") for c in used)
    sources = dict.fromkeys(c.source for c in used)
    note = (f"{' and '.join(c.letter for c in used)} are {'; '.join(sources)}, shown to {DIGITS} digits; "
            "the rule and its generated code use them to 30.")
    summary = section.summary + (" " if section.summary.endswith(".") else "; ") + note if section.summary else note
    return dataclasses.replace(named, definition=named.definition + definitions, summary=summary)


def _maths(section: Section) -> list[Math]:
    return [*section.definition, *(m for s in (*section.steps, *section.kinks) for m in s.math)]


def _symbols(math: Math) -> set[sp.Basic]:
    return math.lhs.free_symbols | (set() if math.rhs is None else math.rhs.free_symbols)

