"""Properties of a rule or formula at its piecewise boundaries: continuity of the value and of the derivative.

At each boundary p of a piecewise expression f (in the variable x), the jump
f(p⁺) − f(p⁻) is computed exactly, branch by branch, as an expression in the
parameters; f is continuous there for every parameter value when the jump
simplifies to 0, and otherwise the parameter values where it happens to
vanish are solved for. The same is done for f'. This is what catches the
Keras notebook's second Huber variant, ``where(abs(e) < d, e**2/2,
d*abs(e) - d*2*0.5)``: its jump at |e| = d is d(d − 2)/2, zero only for
d = 0 and d = 2 — a numeric test at the notebook's own d = 2 would miss it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.proof import Undecidable, breakpoints, one_sided_values
from ..symbolic.readable import approximately, readable
from .rule import Rule

__all__ = ["BoundaryJump", "PropertyReport", "boundary_properties", "jump_lines", "value_jumps"]


@dataclass(frozen=True)
class BoundaryJump:
    """f(at⁺) − f(at⁻) for one boundary: the jump (its shortest form, :func:`~symdl.symbolic.readable.readable`) and the parameter values that remove it."""

    what: str
    at: sp.Expr
    left: sp.Expr
    right: sp.Expr
    jump: sp.Expr
    vanishes_for: dict[str, list[sp.Expr]]
    declared: bool = False  # a value jump the rule's definition has on purpose (hardshrink at ±λ)

    @property
    def continuous(self) -> bool:
        return self.jump == 0


@dataclass
class PropertyReport:
    """Continuity of the value and of the first derivative at every boundary of a rule's expression."""

    name: str
    wrt: sp.Symbol
    boundaries: list[BoundaryJump] = field(default_factory=list)
    undecided: str = ""

    @property
    def continuous(self) -> bool:
        """No value jump other than the ones the rule declares."""
        return all(b.continuous or b.declared for b in self.boundaries if b.what == "value")

    @property
    def derivative_continuous(self) -> bool:
        return all(b.continuous for b in self.boundaries if b.what == "derivative")


def _jumps(what: str, expr: sp.Expr, var: sp.Symbol, declared: tuple[sp.Expr, ...] = ()) -> list[BoundaryJump]:
    found = []
    for point in breakpoints(expr, var):
        left, right = one_sided_values(expr, var, point)
        jump = readable(sp.simplify(right - left))  # 1/(1 + exp(20)), not factor's product over exp(4)
        vanishes: dict[str, list[sp.Expr]] = {}
        if jump != 0:
            for s in sorted(jump.free_symbols, key=str):
                roots = sp.solveset(jump, s, sp.S.Reals)
                if isinstance(roots, sp.FiniteSet):
                    vanishes[s.name] = sorted(roots, key=sp.default_sort_key)
        on_purpose = jump != 0 and any(sp.simplify(point - at) == 0 for at in declared)
        found.append(BoundaryJump(what, point, left, right, jump, vanishes, on_purpose))
    return found


def boundary_properties(rule: Rule) -> PropertyReport:
    """Jumps of the rule's expression and of its derivative at every piecewise boundary, exactly.

    Parameters that have values are substituted; parameters left symbolic stay
    in the jump, and the values that make it vanish are listed.
    """
    expr = rule.bind(rule.expr)
    report = PropertyReport(rule.name, rule.wrt)
    try:
        declared = tuple(rule.bind(at) for at in rule.definition.declared_jumps)
        report.boundaries += _jumps("value", expr, rule.wrt, declared)
        report.boundaries += _jumps("derivative", rule.bind(diff_away_from_jumps(rule.expr, rule.wrt)), rule.wrt)
    except Undecidable as why:
        report.undecided = str(why)
    return report


def value_jumps(rule: Rule) -> list[BoundaryJump]:
    """The boundaries p where f(p⁺) − f(p⁻) ≠ 0 exactly and the rule does not declare the jump (parameters bound).

    Empty when the boundaries cannot be found (:class:`Undecidable`): this
    refutes continuity, it never proves it.
    """
    try:
        declared = tuple(rule.bind(at) for at in rule.definition.declared_jumps)
        jumps = _jumps("value", rule.bind(rule.expr), rule.wrt, declared)
    except (Undecidable, NotImplementedError):  # SymPy could not find or solve a boundary: nothing refuted
        return []
    return [b for b in jumps if not (b.continuous or b.declared)]


#: Why an undeclared value jump fails verification, by the rule's kind.
_WHY = {
    "loss": "a loss must be continuous: its gradient never sees a jump",
    "penalty": "a penalty must be continuous: its gradient never sees a jump",
    "activation": "its gradient never sees the jump; a rule that jumps on purpose declares it "
                  "(Definition.declared_jumps, as hardshrink does)",
}


def jump_lines(rule: Rule) -> list[str]:
    """One line per undeclared value jump (:func:`value_jumps`): the point, lim f(x) from the left and the right, why.

    A formula's line says what a Network does with it: refuses it as a loss or
    penalty; as an activation, training follows a derivative that never sees
    the jump.
    """
    why = _WHY.get(rule.kind, "a Network refuses it as a loss or penalty, and as an activation its gradient never sees the jump")
    x = rule.wrt
    lines = []
    for b in value_jumps(rule):
        left, right = readable(b.left), readable(b.right)
        # 12 digits for the sides: log(1 + e²⁰) and 20 differ in the ninth
        lines.append(f"value jumps at {x} = {b.at}: {left}{approximately(left, 12)} from the left, "
                     f"{right}{approximately(right, 12)} from the right (jump {b.jump}{approximately(b.jump)}); {why}")
    return lines
