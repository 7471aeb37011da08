"""Real roots of a polynomial in exponentials Σ cⱼ·e^{kⱼ·z} (kⱼ, cⱼ rational numbers): eᶻ − 1 of z/(eᶻ − 1) at 0.

With q the common denominator of every kⱼ, u = e^{z/q} > 0 makes the expression a rational function of u; each
real positive root r of its numerator (after cancelling) is a root z = q·log r. Isolating a polynomial's real
roots always ends; SymPy's solveset on a sum of exponentials and sigmoids may not (it ran for minutes), so it is
never asked here, and an expression of another form (z·eᶻ − 1, eᶻ − a, sin z), or whose polynomial in u is of
degree above :data:`MAX_DEGREE`, has no roots listed.

:func:`sign_changes` also takes a sum of logs of positive expressions L: e^L − 1 has L's sign and is often
such a rational function (−log σ(2z) + log cosh z: (1 + e^{−2z})·cosh z − 1, with no positive root in u).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["MAX_DEGREE", "exp_polynomial_roots", "sign_changes"]

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


def sign_changes(edge: sp.Expr, var: sp.Symbol) -> list[sp.Expr] | None:
    """The real roots in ``var`` of ``edge`` (every point where it may change sign, poles apart) by
    :func:`exp_polynomial_roots`: of ``edge`` in exponentials (cosh, tanh rewritten), or of e^{edge} − 1 when every log
    in ``edge`` has a positive argument (then ``edge`` is real and e^{edge} − 1 has its sign); None where neither is
    a rational function of exponentials."""
    found = exp_polynomial_roots(edge.rewrite(sp.exp), var)
    logs = [f for f in edge.atoms(sp.log) if f.has(var)]
    if found is not None or not logs or not all(f.args[0].is_positive for f in logs) or not edge.is_extended_real:
        return found
    return exp_polynomial_roots((sp.exp(edge) - 1).rewrite(sp.exp), var)
