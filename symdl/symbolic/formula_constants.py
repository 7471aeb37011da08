"""Checks on the objects a formula builds: a constant's float64 value is finite and real, numbers stay small.

:class:`ConstantChecks` is the part of :class:`~symdl.symbolic.formula_builder.FormulaBuilder`
that evaluates constants bottom-up with Floats (each distinct subexpression
once) and rejects nan, ∞, non-real values, numbers over the digit limits and
constants nested too deep.
"""

from __future__ import annotations

import ast

import sympy as sp

from .grammar import (
    _APPROX_DIGITS,
    _FLOAT_MAX,
    _LOG10_2,
    _NAMED,
    _NAMED_FUNCTION_DEPTH,
    _SPECIAL,
    MAX_CONSTANT_DEPTH,
    MAX_NUMBER_DIGITS,
    MAX_ROOT_DIGITS,
    FormulaError,
    _one_line,
)

__all__ = ["ConstantChecks"]


class _Unfit(Exception):
    """A constant whose value is not a finite real float64 number (message: what is wrong)."""


def _digits(expr: sp.Basic) -> int:
    """Most decimal digits of a numerator or denominator among the rationals in ``expr``."""
    bits = max((max(abs(r.p), r.q).bit_length() for r in expr.atoms(sp.Rational)), default=0)
    return int(bits * _LOG10_2) + 1


class ConstantChecks:
    """Checks on built objects; mixed into ``FormulaBuilder``, which provides ``error`` and the memo tables."""

    depths: dict[sp.Basic, int]
    approximations: dict[sp.Basic, sp.Basic]
    checked: set[sp.Basic]
    constants: dict[sp.Basic, bool]

    def error(self, node: ast.AST, message: str) -> FormulaError:  # pragma: no cover - FormulaBuilder's
        raise NotImplementedError

    # -- checks on built objects ----------------------------------------------

    def number(self, expr: sp.Expr, node: ast.AST) -> float:
        """The float value of a constant; reject it unless it is shallow, real, finite and in float range."""
        depth = self._depth(expr)
        if depth > MAX_CONSTANT_DEPTH:
            raise self.error(
                node, f"is a constant nested {depth} levels deep; at most {MAX_CONSTANT_DEPTH} are accepted "
                "(pass it as a param value instead)"
            )
        try:
            return float(self._approx(expr))
        except _Unfit as exc:
            raise self.error(node, f"{exc}; constants must be finite real float64 numbers") from None

    def _depth(self, expr: sp.Basic) -> int:
        depth = self.depths.get(expr)
        if depth is None:
            weight = _NAMED_FUNCTION_DEPTH if isinstance(expr, _NAMED) else 1
            depth = weight + max((self._depth(arg) for arg in expr.args), default=0)
            self.depths[expr] = depth
        return depth

    def _approx(self, expr: sp.Basic) -> sp.Basic:
        """A constant evaluated bottom-up with Floats, each distinct subexpression once.

        SymPy's own evalf re-evaluates nested sums at rising precision, which takes
        time exponential in the nesting; here each node costs one Float operation.
        Conditions evaluate to true/false the same way.
        """
        value = self.approximations.get(expr)
        if value is not None:
            return value
        if not expr.args:
            value = expr.evalf(_APPROX_DIGITS) if isinstance(expr, sp.Expr) else expr
        else:
            value = expr.func(*(self._approx(arg) for arg in expr.args))
            if isinstance(value, sp.Expr) and not value.is_Number:
                value = value.evalf(_APPROX_DIGITS)
        if isinstance(value, sp.Expr):
            if value.has(sp.I):
                raise _Unfit(f"has the non-real value {_one_line(value, 40)}")
            if not value.is_Number or value in _SPECIAL:
                raise _Unfit(f"has the value {_one_line(value, 40)}")
            if abs(value) > _FLOAT_MAX:
                raise _Unfit(f"reaches about {sp.Float(value, 3)}, beyond the float range (about 1.8e308)")
        self.approximations[expr] = value
        return value

    def _check_result(self, expr: sp.Basic, node: ast.AST) -> None:
        """Reject nan/zoo/oo/I in a freshly built object, oversized exact numbers, and unfit constants."""
        # Parts checked before are skipped: re-walking every subtree would make long chains quadratic.
        stack = [expr]
        while stack:
            sub = stack.pop()
            if sub in self.checked:
                continue
            self.checked.add(sub)
            stack.extend(sub.args)
            if sub in _SPECIAL:
                raise self.error(node, f"gives {_SPECIAL[sub]}; only finite real values are accepted")
            if sub.is_Rational and max(abs(sub.p), sub.q).bit_length() * _LOG10_2 > MAX_NUMBER_DIGITS:
                raise self.error(node, f"builds a number with more than {MAX_NUMBER_DIGITS} digits")
            if sub.is_Pow and sub.base.is_Rational and sub.exp.is_Rational and not sub.exp.is_Integer:
                if _digits(sub.base) > MAX_ROOT_DIGITS:
                    raise self.error(
                        node, f"takes a root of a number with more than {MAX_ROOT_DIGITS} digits, which is not accepted"
                    )
        if isinstance(expr, sp.Expr) and self.constant(expr):
            self.number(expr, node)

    def constant(self, expr: sp.Basic) -> bool:
        """Whether ``expr`` has no symbols (memoized, unlike SymPy's free_symbols)."""
        known = self.constants.get(expr)
        if known is None:
            known = not isinstance(expr, sp.Symbol) and all(self.constant(arg) for arg in expr.args)
            self.constants[expr] = known
        return known
