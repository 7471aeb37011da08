"""Building conditions and max/min without SymPy's costly evaluation: lifted where()s, constants compared by Floats.

:class:`StructuralChecks` is the part of :class:`~symdl.symbolic.formula_builder.FormulaBuilder`
that keeps the parser in milliseconds: SymPy decides a comparison with a constant
such as exp(-1e300) by evalf (tens of milliseconds each time) and folds a
where() inside a condition into sets and inequalities to solve (seconds to
minutes when nested). Here constants are compared through the builder's own
Float approximations and a where() inside a comparison is lifted out once,
structurally; what cannot be decided that way is left to SymPy as before.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

import sympy as sp
from sympy.logic.boolalg import Boolean

from .grammar import _COMPARE, MAX_PIECE_CONDITIONS, FormulaError

__all__ = ["MAX_LIFTED", "StructuralChecks"]

#: Comparisons a condition may expand into once a where() inside one is lifted out (:meth:`FormulaBuilder._lift`).
MAX_LIFTED = 64


_FLOAT_COMPARE = {sp.Lt: operator.lt, sp.Le: operator.le, sp.Gt: operator.gt, sp.Ge: operator.ge, sp.Eq: operator.eq,
                  sp.Ne: operator.ne}


def _comparisons(condition: sp.Basic, seen: dict[sp.Basic, int]) -> int:
    """How many comparisons ``condition`` holds, shared parts counted each time (memoized, so linear in its size)."""
    if isinstance(condition, sp.core.relational.Relational):
        return 1
    if condition not in seen:
        seen[condition] = sum(_comparisons(arg, seen) for arg in condition.args)
    return seen[condition]


class StructuralChecks:
    """Comparisons, lifted conditions and max/min of constants; mixed into ``FormulaBuilder``."""

    def error(self, node: ast.AST, message: str) -> FormulaError:  # pragma: no cover - FormulaBuilder's
        raise NotImplementedError

    def constant(self, expr: sp.Basic) -> bool:  # pragma: no cover - ConstantChecks'
        raise NotImplementedError

    def _approx(self, expr: sp.Basic) -> sp.Basic:  # pragma: no cover - ConstantChecks'
        raise NotImplementedError

    def value(self, node: ast.expr) -> sp.Expr:  # pragma: no cover - FormulaBuilder's
        raise NotImplementedError

    def condition(self, node: ast.expr) -> Boolean:  # pragma: no cover - FormulaBuilder's
        raise NotImplementedError

    def _piecewise_call(self, node: ast.Call) -> sp.Expr:
        """``Piecewise((a, c), …, (b, True))`` as SymPy prints it: the first piece whose condition holds.

        Every piece but the last has a condition; the last one's is ``True``, so the value is defined everywhere.
        """
        pieces = []
        for index, piece in enumerate(node.args):
            value, condition = piece.elts  # type: ignore[attr-defined]  # check_tree let through (value, cond) tuples only
            last = index == len(node.args) - 1
            is_true = isinstance(condition, ast.Constant) and condition.value is True
            if is_true != last:
                raise self.error(
                    piece, "is a piece of Piecewise; " + ("the last piece's condition must be True (a value everywhere)"
                                                         if last else "only the last piece may have the condition True")
                )
            built = sp.true if is_true else self.condition(condition)
            if built.has(sp.Piecewise):
                built = self._lift(built, node)
            pieces.append((self.value(value), built))
        count = sum(_comparisons(condition, {}) for _, condition in pieces)  # see MAX_PIECE_CONDITIONS
        if count > MAX_PIECE_CONDITIONS:
            raise self.error(
                node, f"has {count} comparisons in its pieces' conditions (a where() inside one counts once per "
                f"branch); at most {MAX_PIECE_CONDITIONS} are accepted: split the formula"
            )
        return sp.Piecewise(*pieces)

    def _compare(self, op: type, left: sp.Expr, right: sp.Expr, node: ast.AST) -> Boolean:
        """``left op right``; a constant side is compared through its float approximation, not SymPy's evalf.

        SymPy decides a comparison with a constant by evaluating it (exp(-1e300) costs tens of ms each time);
        the builder has each constant's value already. Two constants clearly apart give true or false; a
        comparison of a symbol with a non-numeric constant is kept as written (SymPy could not decide it).
        """
        return self._relate(_COMPARE[op], left, right, node)

    def _relate(self, relation: Callable[..., Boolean], left: sp.Expr, right: sp.Expr, node: ast.AST) -> Boolean:
        """``relation(left, right)`` (sp.Lt, sp.Eq, …) built as :meth:`_compare` says."""
        constant = self.constant(left), self.constant(right)
        if all(constant):
            a, b = self._approx(left), self._approx(right)  # Floats of 30 digits and any exponent
            if bool(abs(a - b) > 1e-20 * max(abs(a), abs(b))):
                return sp.true if bool(_FLOAT_COMPARE[relation](a, b)) else sp.false
            if left != right:  # equal to 20 digits: SymPy would try to prove it, which can take minutes
                raise self.error(
                    node, "compares two different constants equal to at least 20 digits; symdl does not decide such "
                    "a comparison (it could take SymPy minutes): write the constants as numbers"
                )
        elif (constant[0] and not left.is_Number) or (constant[1] and not right.is_Number):
            return relation(left, right, evaluate=False)
        return relation(left, right)

    def _extreme_constant(self, args: list[sp.Expr], largest: bool) -> list[sp.Expr]:
        """``args`` with the constants among them reduced to the one max (or min) would keep, by their Floats.

        SymPy would compare the constants by evalf, tens of milliseconds each for one like exp(-1e300).
        Constants whose values are not clearly apart are all kept, for SymPy to decide.
        """
        constants = [a for a in args if self.constant(a) and not a.is_Number]
        if not constants:
            return args
        numbers = [a for a in args if self.constant(a)]
        values = {a: self._approx(a) for a in numbers}
        best = max(numbers, key=values.__getitem__) if largest else min(numbers, key=values.__getitem__)
        apart = all(bool(abs(values[a] - values[best]) > 1e-20 * max(abs(values[a]), abs(values[best])))
                    for a in numbers if a is not best)
        if not apart:
            return args
        return [a for a in args if not self.constant(a) or a is best]

    def _lift(self, condition: Boolean, node: ast.expr) -> Boolean:
        """``condition`` without a where() inside a comparison: a < where(c, x, y) is (c ∧ a < x) ∨ (¬c ∧ a < y).

        SymPy folds such a condition itself whenever a Piecewise is (re)built, turning it into sets and
        inequalities to solve: seconds to minutes when nested. Lifted here once, structurally, it costs nothing
        later; a lifted condition of more than MAX_LIFTED comparisons is refused (each nesting doubles it).
        """
        lifted: dict[sp.Basic, Boolean] = {}
        for relation in condition.atoms(sp.core.relational.Relational):
            if relation.has(sp.Piecewise):
                lifted[relation] = self._lift_relation(relation, node)
        result = condition.xreplace(lifted)
        count = _comparisons(result, {})
        if count > MAX_LIFTED:
            raise self.error(
                node, f"compares with a where()/if that expands into {count} comparisons; at most {MAX_LIFTED} "
                "are accepted (each nested one doubles them); split the formula"
            )
        return result

    def _lift_relation(self, relation: Boolean, node: ast.AST) -> Boolean:
        piece = min(relation.atoms(sp.Piecewise), key=sp.count_ops)  # an innermost one: its parts hold none
        cases: list = []
        before: list = []
        for expr, cond in piece.args:
            left, right = (side.xreplace({piece: expr}) for side in relation.args)
            branch = self._relate(type(relation), left, right, node)
            if isinstance(branch, sp.core.relational.Relational) and branch.has(sp.Piecewise):
                branch = self._lift_relation(branch, node)
            cases.append(sp.And(cond, *[sp.Not(c) for c in before], branch))
            before.append(cond)
        return sp.Or(*cases)
