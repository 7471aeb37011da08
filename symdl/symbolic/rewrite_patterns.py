"""The patterns of the rewrite pass: each matcher takes one SymPy node and returns its stable replacement or None.

The table that names them, proves them and applies them is
:data:`symdl.symbolic.rewrite.REWRITES`; here only the matching: which
log, product, power or sum is an overflowing or cancelling form, and the
equal expression that replaces it.
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from .exp_sums import exp_sum, positive_number, scaled_exp, shift
from .functions import log_cosh, sigmoid, softplus
from .stop_gradient import stop_gradient


def _one_plus_exp(expr: sp.Expr) -> sp.Expr | None:
    """u when ``expr`` is 1 + eᵘ, else None."""
    if isinstance(expr, sp.Add) and len(expr.args) == 2 and sp.S.One in expr.args:
        (other,) = [t for t in expr.args if t != sp.S.One]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _softplus(log: sp.log) -> sp.Expr | None:
    u = _one_plus_exp(log.args[0])
    return None if u is None else softplus(u)


def _affine_exp(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(a, b, s) when ``expr`` is a + b·eᵘ with a, b positive numbers, s = u + log(b/a): then it is a·(1 + eˢ)."""
    if isinstance(expr, sp.Add) and len(expr.args) == 2:
        for a, term in (expr.args, expr.args[::-1]):
            if positive_number(a) and (scaled := scaled_exp(term)) is not None:
                b, u = scaled
                return a, b, u + sp.expand_log(sp.log(b / a), force=True)  # a, b > 0: log 3 − 1, not log(3/e)
    return None


def _softplus_scaled(log: sp.log) -> sp.Expr | None:
    # log(a + b·eᵘ) = log(a·(1 + eˢ)) = log a + softplus(s): E + eᶻ or 2 + eᶻ overflow as typed, as 1 + eᶻ does.
    found = _affine_exp(log.args[0])
    return None if found is None else sp.log(found[0]) + softplus(found[2])


def _softplus_scaled_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    return sp.log(2) + softplus(u + sp.log(sp.Rational(3, 2)))


def _negative_power(expr: sp.Expr) -> tuple[int, tuple[sp.Expr, sp.Expr, sp.Expr]] | None:
    """(n, (a, b, s)) when ``expr`` is (a + b·eᵘ)⁻ⁿ for a positive integer n."""
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp < 0:
        found = _affine_exp(expr.base)
        if found is not None:
            return int(-expr.exp), found
    return None


def _sigmoid_scaled(mul: sp.Mul) -> sp.Expr | None:
    # e^{mu}·(a + b·eᵘ)⁻ⁿ with eᵘ = (a/b)·eˢ is (a/b)ᵐ a⁻ⁿ·(eˢ/(1 + eˢ))ᵐ·(1/(1 + eˢ))ⁿ⁻ᵐ: each factor in [0, 1], where
    # the typed form divides two overflowing exponentials (eᶻ/(eᶻ + 2) is inf/inf at z = 1000).
    factors = list(mul.args)
    for f in factors:
        if (power := _negative_power(f)) is None:
            continue
        n, (a, b, s) = power
        u = s - sp.expand_log(sp.log(b / a), force=True)
        for g in factors:
            if isinstance(g, sp.exp) and g is not f:
                m = sp.cancel(g.args[0] / u)
                if m.is_Integer and 1 <= m <= n:
                    factors.remove(f)
                    factors.remove(g)
                    scale = (a / b) ** m * a ** (-n)
                    return sp.Mul(scale, sigmoid(s) ** m, sigmoid(-s) ** (n - m), *factors)
    return None


def _sigmoid_scaled_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    s = u + sp.log(sp.Rational(3, 2))
    return sp.Rational(2, 3) / 4 * sigmoid(s) * sigmoid(-s)


def _sigmoid_of_difference(mul: sp.Mul) -> sp.Expr | None:
    # eᵘ·(eᵘ + eᵛ)⁻¹ = σ(u − v): two classes' softmax, inf/inf at u = 1000 as typed.
    factors = list(mul.args)
    for f in factors:
        if isinstance(f, sp.Pow) and f.exp == -1 and isinstance(f.base, sp.Add) and len(f.base.args) == 2:
            if all(isinstance(t, sp.exp) for t in f.base.args):
                for top, other in (f.base.args, f.base.args[::-1]):
                    if top in factors:
                        factors.remove(f)
                        factors.remove(top)
                        return sp.Mul(sigmoid(top.args[0] - other.args[0]), *factors)
    return None

def _sigmoid_power(pow_: sp.Pow) -> sp.Expr | None:
    # (a + b·eᵘ)⁻ⁿ = a⁻ⁿ·σ(−s)ⁿ: (1 + eᶻ)⁻² is 1/inf² at z = 1000 as typed.
    power = _negative_power(pow_)
    if power is None:
        return None
    n, (a, _, s) = power
    return a ** (-n) * sigmoid(-s) ** n


def _positive_factor(expr: sp.Expr) -> bool:
    """A factor whose log splits off: a positive number, an exponential, a sigmoid, or an integer power of one."""
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        expr = expr.base
    return isinstance(expr, (sp.exp, sigmoid)) or positive_number(expr)


def _log_product(log: sp.log) -> sp.Expr | None:
    # log(Π fᵢ) = Σ log fᵢ for positive fᵢ: log(2·eᶻ) = log 2 + z, where 2·eᶻ overflows at z = 1000 as typed.
    arg = log.args[0]
    if isinstance(arg, sp.Mul) and all(_positive_factor(f) for f in arg.args) and not all(f.is_number for f in arg.args):
        return sp.Add(*[sp.expand_log(sp.log(f), force=True) if isinstance(f, sp.Pow) else sp.log(f) for f in arg.args])
    return None


def _log_sum_exp(log: sp.log) -> sp.Expr | None:
    # log(eᵘ + eᵛ) = (u + v)/2 + log(2 cosh((u − v)/2)): finite whatever the size of u and v, and its
    # derivative has tanh((u − v)/2) where v + softplus(u − v) would have 2σ(u − v) − 1, which cancels
    # near u = v (log(eᶻ + e⁻ᶻ)' = tanh z, not 0, at z = 1e-8 in float32).
    arg = log.args[0]
    if isinstance(arg, sp.Add) and len(arg.args) == 2 and all(isinstance(t, sp.exp) for t in arg.args):
        u, v = (t.args[0] for t in arg.args)
        return _log_sum_exp_form(u, v)
    return None


def _log_sum_exp_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    return (u + v) / 2 + sp.log(2) + log_cosh((u - v) / 2)


def _log_cosh(log: sp.log) -> sp.Expr | None:
    return log_cosh(log.args[0].args[0]) if isinstance(log.args[0], sp.cosh) else None


def _sigmoid(mul: sp.Mul) -> sp.Expr | None:
    # eᵘ · (1 + eᵘ)⁻¹ = σ(u)
    factors = list(mul.args)
    for f in factors:
        if isinstance(f, sp.Pow) and f.exp == -1 and (u := _one_plus_exp(f.base)) is not None and sp.exp(u) in factors:
            factors.remove(f)
            factors.remove(sp.exp(u))
            return sp.Mul(sigmoid(u), *factors)
    return None


def _sigmoid_reciprocal(pow_: sp.Pow) -> sp.Expr | None:
    # (1 + eᵛ)⁻¹ = σ(−v)
    u = _one_plus_exp(pow_.base)
    return sigmoid(-u) if pow_.exp == -1 and u is not None else None


def _log_sigmoid(log: sp.log) -> sp.Expr | None:
    arg = log.args[0]
    return -softplus(-arg.args[0]) if isinstance(arg, sigmoid) else None


def _one_minus_sigmoid(add: sp.Add) -> sp.Expr | None:
    # k − k·σ(u) = k·σ(−u): no cancellation where σ(u) rounds to 1 (σ' = σ(1 − σ) is 0 at u = 20 in float32), for
    # any k ((σ(−z)²)' prints as (2σ(−z) − 2)·σ(−z)², which is 0 at z = −30 in float32, not −1.9e-13).
    terms = list(add.args)
    for k in (t for t in terms if t.is_Number and t != 0):
        for term in terms:
            coeff, rest = term.as_coeff_Mul()
            if isinstance(rest, sigmoid) and coeff == -k:
                terms.remove(k)
                terms.remove(term)
                return sp.Add(k * sigmoid(-rest.args[0]), *terms)
    return None


def _sigmoid_difference(add: sp.Add) -> sp.Expr | None:
    # k·σ(u) − k·σ(−u) = k·tanh(u/2): σ(−z) − σ(z) is 0 at z = 1e-30, not −5e-31 (the derivative of log σ(z)σ(−z)).
    # Also inside a common factor: (σ(z)σ(−z))' = σ(−z)²σ(z) − σ(−z)σ(z)² = σ(z)σ(−z)·(σ(−z) − σ(z)).
    direct = _sigmoid_difference_terms(add)
    if direct is not None or sum(t.has(sigmoid) for t in add.args) < 2:
        return direct
    common = sp.factor_terms(add)
    if isinstance(common, sp.Mul):
        for f in common.args:
            if isinstance(f, sp.Add) and (inner := _sigmoid_difference_terms(f)) is not None:
                return common.xreplace({f: inner})
    return None


def _sigmoid_difference_terms(add: sp.Add) -> sp.Expr | None:
    terms = list(add.args)
    for term in terms:
        coeff, rest = term.as_coeff_Mul()
        if isinstance(rest, sigmoid) and (other := -coeff * sigmoid(-rest.args[0])) in terms:
            terms.remove(term)
            terms.remove(other)
            return sp.Add(coeff * sp.tanh(rest.args[0] / 2), *terms)
    return None


def _one_plus_tanh(add: sp.Add) -> sp.Expr | None:
    # k + c·tanh(u) = 2k·σ(2(c/k)u) for c/k = ±1: no cancellation where tanh(u) rounds to ∓1 (1 + tanh(−20) is 0 in
    # float64, not 8.5e-18). Any k, in whichever form SymPy left it ((1 + tanh u)/2 arrives as tanh(u)/2 + 1/2).
    terms = list(add.args)
    for k in (t for t in terms if t.is_Number and t != 0):
        for term in terms:
            coeff, rest = term.as_coeff_Mul()
            if isinstance(rest, sp.tanh) and coeff / k in (1, -1):
                terms.remove(k)
                terms.remove(term)
                return sp.Add(2 * k * sigmoid(2 * (coeff / k) * rest.args[0]), *terms)
    return None


def _one_minus_tanh_squared(add: sp.Add) -> sp.Expr | None:
    # k − k·tanh²(u) = k·sech²(u) = 4k·σ(2u)σ(−2u): 1 − tanh²(20) is 0 in float64, not 1.7e-17.
    terms = list(add.args)
    for k in (t for t in terms if t.is_Number and t != 0):
        for term in terms:
            coeff, rest = term.as_coeff_Mul()
            if isinstance(rest, sp.Pow) and rest.exp == 2 and isinstance(rest.base, sp.tanh) and coeff == -k:
                u = rest.base.args[0]
                terms.remove(k)
                terms.remove(term)
                return sp.Add(4 * k * sigmoid(2 * u) * sigmoid(-2 * u), *terms)
    return None


def _expm1(add: sp.Add) -> sp.Expr | None:
    # c·eᵘ − c, in whichever form SymPy left it (it distributes float coefficients).
    terms = list(add.args)
    for term in terms:
        coeff, rest = term.as_coeff_Mul()
        if isinstance(rest, sp.exp) and -coeff in terms:
            terms.remove(term)
            terms.remove(-coeff)
            return sp.Add(coeff * expm1(rest.args[0]), *terms)
    return None


def _even_power(expr: sp.Expr) -> bool:
    """u²ᵏ (k a nonzero integer) of a real u."""
    return isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp.is_even and expr.exp != 0 and expr.base.is_real is True


def _log_even_power(log: sp.log) -> sp.Expr | None:
    # log(c·u²ᵏ) = log c + 2k·log|u| (c > 0, u real): u² underflows to 0 in float32 at |u| ≤ 1e-23 (log gives −inf),
    # |u| does not.
    factors = sp.Mul.make_args(log.args[0])
    if any(_even_power(f) for f in factors) and all(_even_power(f) or positive_number(f) for f in factors):
        return sp.Add(*[f.exp * sp.log(sp.Abs(f.base)) if _even_power(f) else sp.log(f) for f in factors])
    return None


def _log1p(log: sp.log) -> sp.Expr | None:
    arg = log.args[0]
    return log1p(arg - 1) if isinstance(arg, sp.Add) and sp.S.One in arg.args else None


def _shifted_log(log: sp.log, signed: bool = False, nested: bool = False) -> sp.Expr | None:
    """M + log Σ cᵢe^{uᵢ − M} for log Σ cᵢe^{uᵢ} of the kind :func:`exp_sum` reads with these flags, else None."""
    terms = exp_sum(log.args[0], signed=signed, nested=nested)
    if terms is None:
        return None
    top, shifted = shift(terms)
    return top + sp.log(shifted)


def _log_sum_exp_max(log: sp.log) -> sp.Expr | None:
    # log Σ cᵢe^{uᵢ} = M + log Σ cᵢe^{uᵢ − M}: log(eᶻ + e²ᶻ + 1) is log(inf) at z = 1000 as typed, 2000 here.
    return _shifted_log(log)


def _log_sum_exp_signed(log: sp.log) -> sp.Expr | None:
    # The same with negative coefficients where the shifted sum is proven bounded away from 0: log(eᶻ + e⁻ᶻ − 3/2) is
    # log(inf) at z = 1000 as typed, 1000 here; log(eᶻ − 1) (0 near z = 0) and log(eᶻ − 2) (negative) are left alone.
    return _shifted_log(log, signed=True)


def _log_sum_exp_nested(log: sp.log) -> sp.Expr | None:
    # The same where a term holds a power Sᵏ of a positive sum, e^{k·log S}: log(eᶻ + 2 + 1/(eᶻ + e⁻ᶻ + 1)) (SymPy's
    # form of log(eᶻ + 2 + e^{−log S})) is log(inf) at z = 1000 as typed; S is shifted by its own maximum inside.
    return _shifted_log(log, nested=True)


def _log_sum_exp_nested_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    inner = stop_gradient(sp.Max(u, -u, 0))
    top = stop_gradient(sp.Max(u, -sp.Max(u, -u, 0)))
    return top + sp.log(sp.exp(u - top) + sp.exp(-inner - top) / (sp.exp(u - inner) + sp.exp(-u - inner) + sp.exp(-inner)))


def _log_sum_exp_signed_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    top = stop_gradient(sp.Max(u, -u, 0))
    return top + sp.log(sp.exp(u - top) + sp.exp(-u - top) - sp.Rational(3, 2) * sp.exp(-top))


def _log_sum_exp_max_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    top = stop_gradient(sp.Max(u, v, 0))
    return top + sp.log(sp.exp(u - top) + sp.exp(v - top) + 2 * sp.exp(-top))


def _exp_sum_power(expr: sp.Expr, signed: bool = False) -> tuple[sp.Expr, list[tuple[sp.Expr, sp.Expr]]] | None:
    """(p, terms) when ``expr`` is (Σ cᵢ·e^{uᵢ})ᵖ with p a negative number (see :func:`exp_sum`; ``signed``: with a
    negative cᵢ, the shifted sum proven bounded away from 0)."""
    if isinstance(expr, sp.Pow) and expr.exp.is_number and expr.exp.is_negative:
        terms = exp_sum(expr.base, signed=signed)
        if terms:
            return expr.exp, terms
    return None


def _exp_sum_ratio(mul: sp.Mul, signed: bool = False) -> sp.Expr | None:
    # e^w·(Σ cᵢe^{uᵢ})ᵖ = e^{w + pM}·(Σ cᵢe^{uᵢ − M})ᵖ: the second factor lies between (min c)ᵖ and (Σ c)ᵖ, so the first is
    # finite wherever the value is. 1/(eᶻ + e⁻ᶻ) is 1/inf and eᶻ/(eᶻ + e⁻ᶻ + 1) inf/inf at z = 1000 as typed. Signed, the
    # shifted sum lies in [δ, Σ|c|] (δ > 0 proven): eᶻ/(eᶻ + e⁻ᶻ − 3/2).
    factors = list(mul.args)
    for f in factors:
        if (found := _exp_sum_power(f, signed)) is not None:
            p, terms = found
            exps = [g for g in factors if isinstance(g, sp.exp)]
            rest = [g for g in factors if g is not f and not isinstance(g, sp.exp)]
            top, shifted = shift(terms)
            return sp.Mul(sp.exp(sp.Add(*[g.args[0] for g in exps]) + p * top), shifted ** p, *rest)
    return None


def _exp_sum_reciprocal(pow_: sp.Pow, signed: bool = False) -> sp.Expr | None:
    # (Σ cᵢe^{uᵢ})ᵖ alone: a product holding one is _exp_sum_ratio's. Signed: 1/(eᶻ + e⁻ᶻ − 3/2) is 1/inf, with an
    # overflow warning, at z = 1000 as typed; e^{pM}·(shifted)ᵖ divides through by the largest exponential.
    found = _exp_sum_power(pow_, signed)
    if found is None:
        return None
    p, terms = found
    top, shifted = shift(terms)
    return sp.exp(p * top) * shifted ** p


def _exp_sum_signed_ratio(mul: sp.Mul) -> sp.Expr | None:
    return _exp_sum_ratio(mul, signed=True)


def _exp_sum_signed_reciprocal(pow_: sp.Pow) -> sp.Expr | None:
    return _exp_sum_reciprocal(pow_, signed=True)


def _exp_sum_signed_ratio_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    top = stop_gradient(sp.Max(u, -u, 0))
    return sp.exp(u - top) / (sp.exp(u - top) + sp.exp(-u - top) - sp.Rational(3, 2) * sp.exp(-top))


def _exp_sum_signed_reciprocal_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    top = stop_gradient(sp.Max(u, -u, 0))
    return sp.exp(-top) / (sp.exp(u - top) + sp.exp(-u - top) - sp.Rational(3, 2) * sp.exp(-top))


def _exp_sum_ratio_form(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    top = stop_gradient(sp.Max(u, v, 0))
    return sp.exp(u - 2 * top) * (sp.exp(u - top) + 3 * sp.exp(v - top) + sp.exp(-top)) ** -2


def _exp_sigmoid(mul: sp.Mul) -> sp.Expr | None:
    # e^w·Π σ(vⱼ)^{kⱼ} = exp(w − Σ kⱼ·softplus(−vⱼ)) (log σ(v) = −softplus(−v)): eᶻ·σ(−z) is inf·0 at z = 1000 as
    # typed, e^{z − softplus(z)} = σ(z) here.
    factors = list(mul.args)
    exps = [f for f in factors if isinstance(f, sp.exp)]
    sigmoids = [f for f in factors if _sigmoid_power_of(f) is not None]
    if not exps or not sigmoids:
        return None
    exponent = sp.Add(*[f.args[0] for f in exps])
    for f in sigmoids:
        v, k = _sigmoid_power_of(f)  # type: ignore[misc]
        exponent -= k * softplus(-v)
    rest = [f for f in factors if f not in exps and f not in sigmoids]
    return sp.Mul(sp.exp(exponent), *rest)


def _sigmoid_power_of(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(v, k) when ``expr`` is σ(v)ᵏ with k an integer (σ(v) itself: k = 1)."""
    if isinstance(expr, sigmoid):
        return expr.args[0], sp.S.One
    if isinstance(expr, sp.Pow) and isinstance(expr.base, sigmoid) and expr.exp.is_Integer:
        return expr.base.args[0], expr.exp
    return None
