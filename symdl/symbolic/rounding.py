r"""⌊x⌋, ⌈x⌉ and round(x) (half to even) in a formula, each with derivative 0 away from its jumps.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> sp.diff(x * floor(x), x)
floor(x)
>>> [round(sp.Rational(k, 2)) for k in (-3, -1, 1, 3, 5)]
[-2, 0, 0, 2, 2]

``floor`` and ``ceiling`` are SymPy's, with derivative 0 instead of SymPy's
unevaluated ``Derivative(floor(x), x)``: they jump at every integer of their
argument, and their derivative is 0 everywhere else (the straight-through
estimator, a gradient of one's own, is declared with ``gradient=``).
``round`` rounds half to even, as ``numpy.round``, ``jnp.round``,
``torch.round`` and Python's and SymPy's ``round(Rational)`` do (0.5 → 0,
1.5 → 2, −2.5 → −2); SymPy has no symbolic round, so this is one. It jumps at
every half-integer of its argument. Jumps are infinitely many: the proof engine
and the kink listings treat these functions apart (:data:`JUMPS`,
:func:`at_jump`).
"""

from __future__ import annotations

import builtins

import sympy as sp

__all__ = ["JUMPS", "at_jump", "ceiling", "floor", "has_jumps", "in_floors", "jump_atoms", "round"]


class floor(sp.floor):  # noqa: N801  (the name a formula calls, as SymPy prints it)
    r"""⌊x⌋, the greatest integer ≤ x;  d⌊x⌋/dx = 0 away from the integers (where it jumps by 1)."""

    def fdiff(self, argindex=1):
        return sp.S.Zero


class ceiling(sp.ceiling):  # noqa: N801  (the name SymPy prints; ``ceil`` in a formula too)
    r"""⌈x⌉, the least integer ≥ x;  d⌈x⌉/dx = 0 away from the integers (where it jumps by 1)."""

    def fdiff(self, argindex=1):
        return sp.S.Zero


def _half_even(x: sp.Rational) -> sp.Integer:
    """The integer nearest to the exact rational ``x``, the even one of two at a tie."""
    below = sp.floor(x)
    rest = x - below
    if rest < sp.S.Half or (rest == sp.S.Half and below % 2 == 0):
        return below
    return below + 1


class round(sp.Function):  # noqa: N801, A001  (the name a formula calls, as numpy.round / torch.round)
    r"""round(x): the integer nearest to x, the even one at a tie (half to even);  d round(x)/dx = 0 away from
    the half-integers, where it jumps by 1.

    In floors: 2⌊x/2 + 1/4⌋ where x − ⌊x⌋ = 1/2 (the even neighbour), ⌊x + 1/2⌋ elsewhere.
    """

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.S.Zero

    @classmethod
    def eval(cls, x):  # SymPy's hook for automatic evaluation, not Python's eval
        if x.is_integer:
            return x
        if x.is_Rational:
            return _half_even(x)
        if x.is_Float:  # a binary float is an exact rational: its tie is exact too
            return _half_even(sp.Rational(x))
        if x.is_number and x.is_real and x.is_rational is False:  # irrational: never a tie
            return floor(x + sp.S.Half)
        return None

    def _eval_is_integer(self):
        return self.args[0].is_real

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_finite(self):
        return self.args[0].is_finite

    def _eval_evalf(self, prec):
        value = self.args[0].evalf(prec)
        if value.is_Number:
            return sp.Float(_half_even(sp.Rational(value)), prec)
        return None

    def _eval_rewrite_as_floor(self, x, **kwargs):
        return sp.Piecewise((2 * floor(x / 2 + sp.Rational(1, 4)), sp.Eq(x - floor(x), sp.S.Half)), (floor(x + sp.S.Half), True))

    def _latex(self, printer, exp=None):
        base = rf"\operatorname{{round}}\left({printer._print(self.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


#: The functions that jump: floor and ceiling at the integers of their argument, round at the half-integers.
JUMPS: tuple[type[sp.Function], ...] = (sp.floor, sp.ceiling, round)


def jump_atoms(expr: sp.Basic) -> set[sp.Expr]:
    """Every floor, ceiling and round in ``expr``."""
    return set(expr.atoms(*JUMPS)) if isinstance(expr, sp.Basic) else set()


def has_jumps(expr: sp.Basic, var: sp.Symbol | None = None) -> bool:
    """Whether ``expr`` holds a floor, ceiling or round (of ``var``, when given)."""
    return any(var is None or a.has(var) for a in jump_atoms(expr))


def in_floors(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each round written in floors (:class:`round`), for evaluators without a half-even round (mpmath)."""
    return expr.replace(lambda e: isinstance(e, round), lambda e: e.rewrite(sp.floor)) if expr.has(round) else expr


def at_jump(atom: sp.Expr, point: dict, digits: int = 30) -> bool:
    """Whether ``atom`` (a floor, ceiling or round) jumps at ``point``: its argument an integer (half-integer for
    round) there, or within 10⁻²⁰ of one at ``digits`` digits (undecidable closer: counted as a jump)."""
    arg = atom.args[0].xreplace(point)
    if isinstance(atom, round):
        arg = arg - sp.S.Half
    if arg.is_integer:
        return True
    if arg.is_Rational:
        return False
    try:
        value = sp.N(arg, digits)
    except (TypeError, ValueError, ZeroDivisionError):
        return True
    if not value.is_Number:
        return True  # something left free or not a number: not known to be away from a jump
    return bool(abs(value - builtins.round(value)) < sp.Float(10) ** -20)
