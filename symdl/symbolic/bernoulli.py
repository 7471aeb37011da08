"""B(u) = u/(eᵘ − 1), the Bernoulli function, and its derivative B'(u) = −B(u)·M(u/2)/2 without cancellation.

Printed as typed, u/expm1(u) overflows in expm1 for u ≳ 89 in float32 (710 in float64), and SymPy's derivative
1/(eᵘ − 1) − u·eᵘ/(eᵘ − 1)² subtracts two numbers of size 1/u: 0 in float32 at u = 1e-8 where B'(0) = −1/2, and
about ε/u relatively off beyond. The rewrite pass (``bernoulli``) turns u/(eᵘ − 1) into
:class:`~symdl.symbolic.special.bernoulli_fn`, whose derivative SymPy takes as the product

    B'(u) = −B(u)·M(u/2)/2,   M(x) = 1 + coth x − 1/x  (1 + the Langevin function),

of two positive factors computed without cancellation for every u:

* B prints as a·e⁻ᵃ/(−expm1(−a)) + max(−u, 0), a = |u| (B(−a) = B(a) + a; e⁻ᵃ ≤ 1 never overflows),
  B(0) = 1, the first term evaluated at a guarded a > 0 (no 0/0 in the branch a ``where`` discards);
* M(x) (:class:`~symdl.symbolic.special.one_plus_langevin`) prints as 1 + x·Q(x²), the Taylor series (coefficients 2²ⁿB₂ₙ/(2n)! from
  SymPy's Bernoulli numbers), for |x| < 1/2, where coth x − 1/x cancels; beyond, 2/(−expm1(−2x)) − 1/x for
  x > 0 and −2e²ˣ/(−expm1(2x)) − 1/x for x < 0 (1 + coth x without overflow; the two terms have one sign).

Both are exact functions to SymPy (u/(eᵘ − 1) and 1 + coth x − 1/x: the rule's proofs hold as for the typed text);
the printed forms are checked against mpmath (tests/test_bernoulli.py), as x − tanh x's series is.

>>> u = sp.Symbol("u", real=True)
>>> sp.diff(bernoulli_fn(u), u)
-bernoulli_fn(u)*one_plus_langevin(u/2)/2
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1

from .branches import GuardedInput
from .special import _horner, bernoulli_fn, one_plus_langevin

__all__ = ["PRINTED_FORMS", "bernoulli_form", "bernoulli_ratio", "bernoulli_ratio_form", "one_plus_langevin_form"]

#: |x| below which M(x) prints as its Taylor series; there the series' 12 terms are within 1e-17 relatively.
LANGEVIN_SERIES_END = sp.Rational(1, 2)
_TERMS = 12
#: coth x − 1/x = Σₙ cₙ x²ⁿ⁻¹, cₙ = 2²ⁿ B₂ₙ / (2n)!: x/3 − x³/45 + 2x⁵/945 − …
_LANGEVIN = tuple(2 ** (2 * n) * sp.bernoulli(2 * n) / sp.factorial(2 * n) for n in range(1, _TERMS + 1))


def one_plus_langevin_form(x: sp.Expr) -> sp.Expr:
    """M(x) as printed: 1 + x·Q(x²) for |x| < 1/2, the exponential forms beyond, each at a point of its own region."""
    end = LANGEVIN_SERIES_END
    near = sp.Max(-end, sp.Min(end, x))
    y = GuardedInput((x, sp.Abs(x) >= end), (end, True))
    q = -expm1(-2 * sp.Abs(y))
    far = sp.Piecewise((2 / q, x > 0), (-2 * sp.exp(-2 * sp.Abs(y)) / q, True)) - 1 / y
    return sp.Piecewise((1 + near * _horner(_LANGEVIN, near**2), sp.Abs(x) < end), (far, True))


def bernoulli_form(u: sp.Expr) -> sp.Expr:
    """B(u) as printed: a·e⁻ᵃ/(−expm1(−a)) + max(−u, 0), a = |u| evaluated at 1 where it is 0, and B(0) = 1."""
    a = GuardedInput((sp.Abs(u), sp.Abs(u) > 0), (1, True))
    return sp.Piecewise((1, sp.Eq(u, 0)), (a * sp.exp(-a) / -expm1(-a) + sp.Max(-u, 0), True))


#: The functions of this module by their printed forms, for the numpy, JAX and PyTorch printers.
PRINTED_FORMS = {bernoulli_fn: bernoulli_form, one_plus_langevin: one_plus_langevin_form}


def _exp_minus_one(base: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(c, u) when ``base`` is c·eᵘ − c (c a nonzero number), in whichever form SymPy left it; else None."""
    if not isinstance(base, sp.Add) or len(base.args) != 2:
        return None
    for term, other in (base.args, base.args[::-1]):
        c, rest = term.as_coeff_Mul()
        if isinstance(rest, sp.exp) and other == -c and c != 0:
            return c, rest.args[0]
    return None


def bernoulli_ratio(mul: sp.Mul) -> sp.Expr | None:
    """uⁿ·r/(c·(eᵘ − 1))ⁿ → Bⁿ(u)·r/cⁿ (n a positive integer, r with no u in its denominator), and u·eᵘ·r/(c·(eᵘ − 1))
    → B(−u)·r/c; else None."""
    factors = list(mul.args)
    for i, factor in enumerate(factors):
        if not (isinstance(factor, sp.Pow) and factor.exp.is_Integer and factor.exp < 0):
            continue
        found = _exp_minus_one(factor.base)
        if found is None:
            continue
        (c, u), n = found, -factor.exp
        rest = sp.Mul(*factors[:i], *factors[i + 1:]) / u**n
        if not u.free_symbols or sp.fraction(rest, exact=True)[1].free_symbols & u.free_symbols:
            continue
        if n == 1 and sp.exp(u) in sp.Mul.make_args(rest):
            # u·eᵘ/(eᵘ − 1) = B(−u): B(u)·eᵘ would be 0·inf for u ≫ 0
            return bernoulli_fn(-u) * rest / sp.exp(u) / c
        return bernoulli_fn(u) ** n * rest / c**n
    return None


def bernoulli_ratio_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    """The after side of the ``bernoulli`` rewrite's proof: v·u²/(3·(eᵘ − 1))² → v·B(u)²/9."""
    return v * bernoulli_fn(u) ** 2 / 9
