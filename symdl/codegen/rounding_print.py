"""⌊(p/q)·u⌋ printed as ``floor((p*u)/q)``: in the argument of floor, ceil and round, a rational coefficient divides last.

``(7/10)*z`` rounds twice (7/10 is no float, then the product), so at z = 90 float64 gives 62.99999999999999 and
floor gives 62, not 63. ``(7*z)/10`` multiplies exactly while |7·z| ≤ 2⁵³ (float64; 2²⁴ in float32) and then
rounds once, correctly. At an integer z the exact quotient p·z/q is an integer or a half-integer (representable,
so kept exactly) or at least 1/(2q) from every one, more than the rounding error while the quotient's unit in
the last place is below 1/q: floor, ceil and round (half to even) then give the exact value. Only the arguments
of these three functions are printed so; everywhere else a rational coefficient stays one factor, as SymPy prints it.

numpy and PyTorch divide as IEEE 754 says. XLA (JAX) does not: it computes x/c as x·(1/c) and reassociates
(7·z)·(1/10) into z·(7·(1/10)), a rounding more than ``(7/10)*z``'s, so the JAX printer keeps SymPy's form.
"""

from __future__ import annotations

from typing import ClassVar

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

__all__ = ["RoundingPrinter"]


class RoundingPrinter(NumPyPrinter):
    """NumPyPrinter whose floor, ceil and round print each rational coefficient p/q of their argument as ``(p*u)/q``."""

    #: How many floor/ceil/round calls the printer is inside (their arguments nest: floor(round(z/3)/2)).
    _rounding_depth = 0
    #: Whether the array library divides by a number correctly rounded (XLA does not: see JaxPrinter).
    _divides_last: ClassVar[bool] = True

    def _fn(self, name: str) -> str:
        """The array module's function ``name``, as code."""
        return f"numpy.{name}"

    def _rounded(self, name: str, expr: sp.Function) -> str:
        self._rounding_depth += 1
        try:
            argument = self._print(expr.args[0])
        finally:
            self._rounding_depth -= 1
        return f"{self._fn(name)}({argument})"

    def _print_floor(self, expr: sp.floor) -> str:
        return self._rounded("floor", expr)

    def _print_ceiling(self, expr: sp.ceiling) -> str:
        return self._rounded("ceil", expr)

    def _print_round(self, expr: sp.Function) -> str:
        # symdl's round is half to even, as numpy.round, jnp.round and torch.round are (0.5 → 0, 1.5 → 2).
        return self._rounded("round", expr)

    def _print_Mul(self, expr: sp.Mul) -> str:
        coefficient, rest = expr.as_coeff_Mul()
        if not (self._rounding_depth and self._divides_last) or not coefficient.is_Rational or coefficient.q == 1 or not expr.is_commutative:
            return str(super()._print_Mul(expr))
        # (p/q)·u = (p·u)/q: one exact product, then one correctly rounded division
        numerator = sp.Mul(sp.Integer(coefficient.p), rest)
        code = self._print(numerator)
        return f"({code})/{coefficient.q}" if precedence(numerator) <= PRECEDENCE["Mul"] else f"{code}/{coefficient.q}"
