"""Σ cᵢ·e^{uᵢ} recognised in a SymPy sum and shifted by its largest exponent, for the rewrite pass's log-sum-exp rewrites.

A term is a number c (c·e⁰), c·cosh(v) ((c/2)·eᵛ + (c/2)·e⁻ᵛ) or c times exponentials and integer powers of
sigmoids: c·e^{u}·σ(v)ᵏ = c·e^{u − k·softplus(−v)}, since log σ(v) = −softplus(−v). With every cᵢ positive the
shifted sum Σ cᵢ·e^{uᵢ − M} lies in [min cᵢ, Σ cᵢ]. A sum with negative coefficients (e^z + e^{−z} − 3/2) is taken
only where it is proven bounded away from 0 after the shift (:func:`bounded_below`): then it can neither overflow
nor cancel to 0, and its log is finite.

Read ``nested``, a factor Sᵏ (k a real number) of a term, S itself such a sum and so positive, is e^{k·log S}
(e^{±log S} of a sum arrives from SymPy as S^{±1}: 2 + eᶻ + 1/(eᶻ + 2 + e⁻ᶻ)); its exponent k·log S is shifted as
k·(M_S + log s_S), S's own shift, so that the term prints as s_Sᵏ·e^{k·M_S − M} with s_S in [min cⱼ, Σ cⱼ].
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sympy as sp

from .functions import sigmoid, softplus
from .stop_gradient import stop_gradient

__all__ = ["bounded_below", "exp_sum", "positive_exp_sum", "positive_number", "positive_sum", "scaled_exp", "shift"]


def positive_number(expr: sp.Expr) -> bool:
    """``expr`` is a number known to be positive."""
    return bool(expr.is_number) and expr.is_positive is True


def _nonzero_number(expr: sp.Expr) -> bool:
    return bool(expr.is_number) and expr.is_extended_real is True and expr.is_zero is False


def scaled_exp(term: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(b, u) when ``term`` is b·eᵘ with b a positive number, else None."""
    if isinstance(term, sp.exp):
        return sp.S.One, term.args[0]
    if isinstance(term, sp.Mul):
        exps = [f for f in term.args if isinstance(f, sp.exp)]
        if len(exps) == 1:
            b = sp.Mul(*[f for f in term.args if f is not exps[0]])
            if positive_number(b):
                return b, exps[0].args[0]
    return None


def _term(term: sp.Expr, nested: bool) -> tuple[list[tuple[sp.Expr, sp.Expr]], bool, bool] | None:
    """([(cᵢ, uᵢ)], bounded, deep) for one term of the sum, else None: c·cosh(v), or c times a product of exponentials,
    integer powers of sigmoids (c·e^{u}·σ(v)ᵏ is c·e^{u − k·softplus(−v)}) and, ``nested``, powers Sᵏ of positive
    sums (e^{k·log S}; deep: one is there); bounded: a number or a product of positive powers of σ alone, which lies
    in (0, |c|]."""
    factors = sp.Mul.make_args(term)
    c = sp.Mul(*[f for f in factors if f.is_number])
    rest = [f for f in factors if not f.is_number]
    if not _nonzero_number(c):
        return None
    if not rest:
        return [(c, sp.S.Zero)], True, False
    if len(rest) == 1 and isinstance(rest[0], sp.cosh):
        return [(c / 2, rest[0].args[0]), (c / 2, -rest[0].args[0])], False, False
    exponent, bounded, deep = sp.S.Zero, True, False
    for factor in rest:
        base, k = (factor.base, factor.exp) if isinstance(factor, sp.Pow) else (factor, sp.S.One)
        if isinstance(factor, sp.exp):
            exponent, bounded = exponent + factor.args[0], False
        elif isinstance(base, sigmoid) and k.is_Integer:
            exponent, bounded = exponent - k * softplus(-base.args[0]), bounded and bool(k > 0)
        elif nested and _nonzero_number(k) and positive_exp_sum(base) is not None:
            exponent, bounded, deep = exponent + k * sp.log(base), False, True
        else:
            return None
    return [(c, exponent)], bounded, deep


def exp_sum(expr: sp.Expr, signed: bool = False, nested: bool = False) -> list[tuple[sp.Expr, sp.Expr]] | None:
    """[(cᵢ, uᵢ)] when ``expr`` is Σ cᵢ·e^{uᵢ} (terms as in the module docstring), two terms or more, one of them
    unbounded (an exponential or cosh) or none of them a number (σ(z) + σ(2z) underflows to 0), with every cᵢ
    positive, or, ``signed``, with a negative one and the sum proven bounded away from 0 once shifted; None
    otherwise, and for a sum already shifted by its maximum (holding a Max, or the stop_gradient left where SymPy
    evaluated the Max away: max(−softplus(−z), e^{z/2}) is e^{z/2}). log(1 + σ(z)) is left to log1p: it
    neither overflows nor underflows. ``nested``: only a sum with a term holding a power of a positive sum (uᵢ then
    holds k·log S); without it, no such sum."""
    if not isinstance(expr, sp.Add) or expr.has(sp.Max, stop_gradient):
        return None
    terms, bounded, number, deep = [], True, False, False
    for term in expr.args:
        found = _term(term, nested)
        if found is None:
            return None
        terms += found[0]
        bounded = bounded and found[1]
        number = number or term.is_number
        deep = deep or found[2]
    if (bounded and number) or all(u == 0 for _, u in terms) or deep != nested:
        return None
    if all(positive_number(c) for c, _ in terms):
        return None if signed else terms
    return terms if signed and bounded_below(tuple(terms)) else None


def shift(terms: Sequence[tuple[sp.Expr, sp.Expr]]) -> tuple[sp.Expr, sp.Expr]:
    """(M, Σ cᵢ·e^{uᵢ − M}) with M = sg(max uᵢ): every exponent ≤ 0 and one is 0, so a positive sum lies in [min cᵢ, Σ cᵢ]
    (with sigmoids, M is the max of :func:`_proxy`'s forms, within a few log 2 of it).

    The value is the same for any M, so M's gradient is stopped: the derivative is Σ cᵢ·uᵢ′·e^{uᵢ − M} / Σ cᵢ·e^{uᵢ − M}
    (JAX's logsumexp does the same), with no term M′·(1 − S/S) that would cancel and no Heaviside from Max′."""
    top = stop_gradient(sp.Max(*{_proxy(u) for _, u in terms}))
    return top, sp.Add(*[c * sp.exp(_shift_logs(u) - top) for c, u in terms])


@lru_cache(maxsize=1024)
def positive_exp_sum(expr: sp.Expr) -> tuple[tuple[sp.Expr, sp.Expr], ...] | None:
    """:func:`exp_sum`'s terms of ``expr`` when it is such a sum and positive for every input: positive coefficients
    (nested or not), or negative ones where the sum is proven bounded away from 0; else None."""
    found = exp_sum(expr) or exp_sum(expr, nested=True) or exp_sum(expr, signed=True)
    return None if found is None else tuple(found)


def _sum_logs(u: sp.Expr) -> tuple[sp.Expr, list[tuple[sp.Expr, tuple[tuple[sp.Expr, sp.Expr], ...]]]]:
    """(r, [(k, terms of S)]) for u = r + Σ k·log S, each S a :func:`positive_exp_sum` (a nested term's exponent)."""
    rest, logs = [], []
    for part in sp.Add.make_args(u):
        k, factor = part.as_coeff_Mul()
        if isinstance(factor, sp.log) and (inner := positive_exp_sum(factor.args[0])) is not None:
            logs.append((k, inner))
        else:
            rest.append(part)
    return sp.Add(*rest), logs


def _shift_logs(u: sp.Expr) -> sp.Expr:
    """u with each k·log S as k·(M_S + log s_S), S's own :func:`shift`: e^{… + k·log s_S} prints as s_Sᵏ·e^{…}."""
    rest, logs = _sum_logs(u)
    return rest + sp.Add(*[k * (top + sp.log(shifted)) for k, (top, shifted) in ((k, shift(inner)) for k, inner in logs)])


def _proxy(u: sp.Expr) -> sp.Expr:
    """u with each softplus(x) replaced by max(0, x), which is within log 2 of it: shifting by the max of these
    leaves exponents ≤ Σ|kⱼ|·log 2 and the largest ≥ −Σ|kⱼ|·log 2 (σ(v)ᵏ's −k·softplus(−v)), and its breakpoints are
    where the arguments cross, which the proof finds; max(z, −softplus(−z)) has one SymPy cannot solve for. Each
    k·log S of a nested term is k·max of S's exponents' proxies: log S lies within log(Σ cⱼ) and log(min cⱼ) of it."""
    rest, logs = _sum_logs(u)
    rest = rest.replace(lambda e: isinstance(e, softplus), lambda e: sp.Max(0, e.args[0]))
    return rest + sp.Add(*[k * sp.Max(*{_proxy(v) for _, v in inner}) for k, inner in logs])


@lru_cache(maxsize=256)
def bounded_below(terms: tuple[tuple[sp.Expr, sp.Expr], ...]) -> bool:
    """Σ cᵢ·e^{uᵢ − M} ≥ δ for some δ > 0 and every real z, shown for one real symbol z and polynomial exponents uᵢ.

    Shown as: S = Σ cᵢ·e^{uᵢ} has a positive infimum over the reals (:func:`positive_sum`), so the shifted sum
    S·e^{−M} is positive and continuous; and at z → ±∞ it tends to the sum of the cᵢ whose exponent grows fastest
    there, which must be positive (e^z + e^{−z} − 3/2: 1 at both ends, S ≥ 1/2). Then its infimum is positive: it is
    attained on a bounded interval or approached at an end. Anything else (a sum that changes sign, e^z − 1 near 0,
    several symbols, SymPy unable to find the critical points) is False.
    """
    total = sp.Add(*[c * sp.exp(u) for c, u in terms])
    if not positive_sum(total):
        return False
    (z,) = total.free_symbols
    for end in (1, -1):
        polys = [(c, sp.Poly(u.subs(z, end * z), z)) for c, u in terms]
        fastest = polys[0][1]
        for _, p in polys[1:]:
            if (p - fastest).LC() > 0:
                fastest = p
        if not sum(c for c, p in polys if p == fastest) > 0:
            return False
    return True


@lru_cache(maxsize=1024)
def positive_sum(expr: sp.Expr) -> bool:
    """``expr`` = Σ cᵢ·e^{pᵢ(z)} (numbers cᵢ, polynomials pᵢ in one real symbol z) is positive for every real z: e^z +
    e^{−z} − 3/2 (≥ 1/2). False where it cannot be shown (another form, e^z − 2, several symbols).

    With rational slopes aᵢ (pᵢ = aᵢz + bᵢ), t = e^{z/q} (q the slopes' common denominator) makes t^d·expr a polynomial
    P(t) with P(0) ≠ 0, positive for every t > 0 exactly when it has no root in [0, ∞) (Sturm's count, any degree) and
    P(1) > 0. Otherwise SymPy's ``minimum`` (critical points and limits at ±∞) must be positive.
    """
    if not isinstance(expr, sp.Add) or len(expr.free_symbols) != 1:
        return False
    (z,) = expr.free_symbols
    if z.is_real is not True:
        return False
    terms = []
    for term in expr.args:
        exps = [f for f in sp.Mul.make_args(term) if not f.is_number]
        if len(exps) > 1 or (exps and not (isinstance(exps[0], sp.exp) and exps[0].args[0].is_polynomial(z))):
            return False
        terms.append((term / exps[0], exps[0].args[0]) if exps else (term, sp.S.Zero))
    by_sturm = _positive_polynomial(terms, z)
    if by_sturm is not None:
        return by_sturm
    try:
        low = sp.minimum(expr, z, sp.Reals)
    except (NotImplementedError, ValueError, TypeError):
        return False
    return low.is_positive is True


def _positive_polynomial(terms: list[tuple[sp.Expr, sp.Expr]], z: sp.Symbol) -> bool | None:
    """Σ cᵢ·e^{aᵢz + bᵢ} > 0 for every real z, by Sturm's count on P(t) (see :func:`positive_sum`); None where the
    slopes are not rational or the coefficients cᵢ·e^{bᵢ} not rational either."""
    t = sp.Dummy("t", positive=True)
    lines = []
    for c, u in terms:
        if sp.degree(u, z) > 1 or not (a := u.coeff(z, 1)).is_Rational:
            return None
        lines.append((c * sp.exp(u.coeff(z, 0)), a))
    q = sp.ilcm(1, *[a.q for _, a in lines])
    low = min(a * q for _, a in lines)
    poly = sp.Poly(sp.Add(*[c * t ** int(a * q - low) for c, a in lines]), t)
    if not (poly.domain.is_ZZ or poly.domain.is_QQ):
        return None
    # poly(1) is P(1), SymPy's evaluation of a Poly built here from the terms (no text reaches it)
    return poly.count_roots(0) == 0 and poly(1) > 0


def real_with_positive_logs(expr: sp.Expr) -> bool:
    """``expr`` is real because each log's argument is positive, by SymPy's signs or as a sum of exponentials with a
    positive infimum (log(eᶻ + e⁻ᶻ − 3/2), whose sign SymPy cannot tell), and the rest is real."""
    logs = expr.atoms(sp.log)
    if not all(log.args[0].is_positive is True or positive_sum(log.args[0]) for log in logs):
        return False
    return expr.xreplace({log: sp.Dummy(real=True) for log in logs}).is_real is True
