"""Real roots of a polynomial in exponentials Σ cⱼ·e^{kⱼ·z} (kⱼ, cⱼ rational numbers): eᶻ − 1 of z/(eᶻ − 1) at 0.

With q the common denominator of every kⱼ, u = e^{z/q} > 0 makes the expression a rational function of u; each
real positive root r of its numerator (after cancelling) is a root z = q·log r. Isolating a polynomial's real
roots always ends; SymPy's solveset on a sum of exponentials and sigmoids may not (it ran for minutes), so it is
never asked here, and an expression of another form (z·eᶻ − 1, eᶻ − a, sin z), or whose polynomial in u is of
degree above :data:`MAX_DEGREE`, has no roots listed.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["MAX_DEGREE", "exp_polynomial_roots"]

#: The highest degree in u = e^{z/q} solved: e^{z/100} − eᶻ would be of degree 100.
MAX_DEGREE = 12


def exp_polynomial_roots(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr] | None:
    """The real roots in ``var`` of ``expr``, a rational function of exponentials e^{k·var} with rational k and
    number coefficients, in increasing order; None where ``expr`` is not one (or of too high a degree)."""
    exps = [e for e in expr.atoms(sp.exp) if e.has(var)]
    rates = [e.args[0].as_coefficient(var) for e in exps]
    if not exps or any(k is None or not k.is_Rational for k in rates):
        return None
    q = sp.ilcm(*(k.q for k in rates)) if len(rates) > 1 else rates[0].q
    u = sp.Dummy("u", positive=True)
    in_u = expr.xreplace({e: u ** (k * q) for e, k in zip(exps, rates)})
    in_u = in_u.xreplace({f: sp.Rational(f) for f in in_u.atoms(sp.Float)})  # the binary value a float holds
    if in_u.free_symbols - {u}:
        return None  # var outside an exponential (z·eᶻ − 1), or another symbol (eᶻ − a)
    numerator, _ = sp.fraction(sp.cancel(in_u))
    try:
        poly = sp.Poly(numerator, u)
    except sp.PolynomialError:
        return None
    if not poly.domain.is_QQ and not poly.domain.is_ZZ or poly.degree() > MAX_DEGREE:
        return None
    return [q * sp.log(r) for r in dict.fromkeys(poly.real_roots()) if r.is_positive]
