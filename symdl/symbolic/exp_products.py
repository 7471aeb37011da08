"""Rewrite-pass patterns for products where one factor overflows as another underflows.

Matchers as in :mod:`symdl.symbolic.rewrite_patterns` (one SymPy node in, its stable replacement or None out), named,
proven and applied by :data:`symdl.symbolic.rewrite.REWRITES`:

* a ratio t/(t + t′) of two terms of the kind :func:`~symdl.symbolic.exp_sums.exp_sum` reads (c·e^{u}·σ(v)ᵏ) is
  σ(log t − log t′): σ(z)/(σ(z) + e^{e^{z/2}}) is σ(−softplus(−z) − e^{z/2}), finite where e^{z/2} is inf;
* σ(s)ᵏ·(… + c·e^{w}·…), s holding e^{w}, distributes so that each e^{w}·σ(s)ᵏ merges into exp(w − k·softplus(−s)):
  where e^{w} overflows, σ(s) underflows with it, and their product is inf·0 as typed;
* a product of exponentials, one of them e^{±e^{v}}, is one exponential: e^{−z}·e^{−e^{−2z}} is inf·0 at z = −89 in
  float32 as typed (the derivative of e^{−erfc(e^{−z})}), e^{−z − e^{−2z}} = e^{−inf} = 0 here;
* a comparison of b·eᵘ with a positive number k is one of u with log(k/b): a branch condition of min(3, eᶻσ(z))
  overflows at z = 89 in float32 as typed (numpy evaluates every condition of a ``where``);
* a comparison of σ(u) with a number k in (0, 1) is one of u with log(k/(1 − k)): σ(1e-30) rounds to 1/2, so
  max(σ(z), 1/2) took the branch 1/2 (derivative 0, not 1/4) at z = 1e-30 as typed.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.relational import Relational

from .exp_sums import _term, scaled_exp
from .functions import sigmoid, softplus
from .rewrite_patterns import _exp_sigmoid, _sigmoid_power_of

__all__ = ["exp_comparison", "exp_of_exp_product", "exp_sigmoid_sum", "exp_sigmoid_sum_form", "sigmoid_comparison",
           "sigmoid_of_term_ratio", "sigmoid_term_ratio_form"]


def _log_term(term: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(c, u) when ``term`` is c·e^{u} as :func:`~symdl.symbolic.exp_sums._term` reads it (σ(v)ᵏ as
    e^{−k·softplus(−v)}), c a positive number, u not a number; else None."""
    found = _term(term, nested=False)
    if found is None or len(found[0]) != 1:
        return None
    ((c, u),) = found[0]
    return (c, u) if c.is_positive is True and not u.is_number else None


def sigmoid_of_term_ratio(mul: sp.Mul) -> sp.Expr | None:
    """t·(t + t′)⁻¹ → σ(log t − log t′) for two terms t = c·e^{u}, t′ = c′·e^{u′} (:func:`_log_term`), the factors of t
    among ``mul``'s: σ(u − u′ + log(c/c′)) (eᵘ/(eᵘ + eᵛ) alone is ``sigmoid_of_difference``'s)."""
    factors = list(mul.args)
    for f in factors:
        if not (isinstance(f, sp.Pow) and f.exp == -1 and isinstance(f.base, sp.Add) and len(f.base.args) == 2):
            continue
        for top, other in (f.base.args, f.base.args[::-1]):
            mine, theirs = _log_term(top), _log_term(other)
            rest = _without(top, [g for g in factors if g is not f])
            if mine is None or theirs is None or rest is None:
                continue
            (c, u), (d, w) = mine, theirs
            return sp.Mul(*rest) * sigmoid(u - w + sp.expand_log(sp.log(c / d), force=True))
    return None


def _without(term: sp.Expr, factors: list[sp.Expr]) -> list[sp.Expr] | None:
    """``factors`` less every factor of ``term`` and divided by its number; None where one is not among them."""
    left = list(factors)
    number = sp.S.One
    for g in sp.Mul.make_args(term):
        if g.is_number:
            number *= g
        elif g in left:
            left.remove(g)
        else:
            return None
    return [*left, 1 / number]


def sigmoid_term_ratio_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    """The table's instance: σ(u)/(σ(u) + eᵛ) = σ(−softplus(−u) − v)."""
    return sigmoid(-softplus(-u) - v)


def exp_sigmoid_sum(mul: sp.Mul) -> sp.Expr | None:
    """σ(s)ᵏ·(Σ tᵢ) → Σ tᵢ·σ(s)ᵏ where s falls as an exponential e^{w} that is a factor of a term tᵢ grows
    (:func:`_falls_with`), each such term merged
    by ``exp_sigmoid`` into exp(w − k·softplus(−s)): (e^{z/2}/2 − σ(−z))·σ(−softplus(e^{z/2} + softplus(−z))) is inf·0
    at z = 709 in float32 as typed, −exp(z/2 − softplus(softplus(e^{z/2} + softplus(−z))))/2 + … here."""
    factors = list(mul.args)
    for total in (f for f in factors if isinstance(f, sp.Add)):
        exps = {g for t in total.args for g in sp.Mul.make_args(t) if isinstance(g, sp.exp)}
        tied = [f for f in factors if _falls_with(f, exps)]
        if not tied:
            continue
        rest = [f for f in factors if f is not total and f not in tied]
        terms = [sp.Mul(t, *tied) for t in total.args]
        return sp.Mul(sp.Add(*[_exp_sigmoid(t) if isinstance(t, sp.Mul) and _exp_sigmoid(t) is not None else t
                               for t in terms]), *rest)
    return None


def _falls_with(factor: sp.Expr, exps: set[sp.Expr]) -> bool:
    """``factor`` is σ(s)ᵏ (k > 0) with s = −a·e^{w} + … (a a positive number) for an e^{w} of ``exps``: it underflows
    where e^{w} overflows. (σ(−s)ᵏ, which tends to 1 there, stays a factor: merged, its softplus(s) would be
    softplus(−inf), NaN in the exports' masked form.)"""
    found = _sigmoid_power_of(factor)
    if found is None or not found[1] > 0:
        return False
    s = found[0]
    return any((a := s.coeff(e)).is_number and a.is_negative for e in exps)


def exp_sigmoid_sum_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    """The table's instance: (e^{u} − v)·σ(−e^{u}) = exp(u − softplus(e^{u})) − v·σ(−e^{u})."""
    return sp.exp(u - softplus(sp.exp(u))) - v * sigmoid(-sp.exp(u))


def exp_of_exp_product(mul: sp.Mul) -> sp.Expr | None:
    """e^{a}·e^{b}⋯ → e^{a + b + ⋯} where one exponent holds an exponential (e^{b} = e^{±e^{v}} under- or overflows
    where e^{a} does the opposite); None for any other product (SymPy keeps e^{a}·e^{b} as two factors)."""
    exps = [f for f in mul.args if isinstance(f, sp.exp)]
    if len(exps) < 2 or not any(f.args[0].has(sp.exp) for f in exps):
        return None
    rest = [f for f in mul.args if not isinstance(f, sp.exp)]
    return sp.Mul(sp.exp(sp.Add(*[f.args[0] for f in exps])), *rest)


def exp_comparison(rel: Relational) -> sp.Basic | None:
    """b·eᵘ ⋈ k → u ⋈ log(k/b) (b, k positive numbers, ⋈ one of <, ≤, >, ≥, either side): e^{x} is increasing."""
    if rel.rel_op in ("==", "!="):
        return None
    for side, other, flip in ((rel.lhs, rel.rhs, False), (rel.rhs, rel.lhs, True)):
        found = scaled_exp(side)
        if found is not None and other.is_number and other.is_positive is True:
            b, u = found
            bound = sp.expand_log(sp.log(other / b), force=True)
            return rel.func(bound, u) if flip else rel.func(u, bound)
    return None


def sigmoid_comparison(rel: Relational) -> sp.Basic | None:
    """σ(u) ⋈ k → u ⋈ log(k/(1 − k)) (k a number in (0, 1), ⋈ one of <, ≤, >, ≥, either side): σ is increasing."""
    if rel.rel_op in ("==", "!="):
        return None
    for side, other, flip in ((rel.lhs, rel.rhs, False), (rel.rhs, rel.lhs, True)):
        if isinstance(side, sigmoid) and other.is_number and other.is_positive is True and (1 - other).is_positive is True:
            bound = sp.log(other / (1 - other))
            return rel.func(bound, side.args[0]) if flip else rel.func(side.args[0], bound)
    return None
