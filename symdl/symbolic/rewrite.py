"""The rewrite pass: value-preserving rewrites that turn overflowing or cancelling forms into stable ones.

Each :class:`Rewrite` replaces one pattern by an expression *equal* to it for
every real input (``before(u, v) = after(u, v)``, proven exactly by
:func:`prove_rewrites`), chosen so that the printed code stays finite and
accurate: log(1 + eᵘ) overflows at u ≈ 710 in float64, softplus(u) does not.

* ``softplus``: log(1 + eᵘ) → softplus(u)
* ``log_sum_exp``: log(eᵘ + eᵛ) → (u + v)/2 + log 2 + log_cosh((u − v)/2)
* ``log_cosh``: log(cosh u) → log_cosh(u)
* ``sigmoid``: eᵘ / (1 + eᵘ) → σ(u)
* ``sigmoid_reciprocal``: 1 / (1 + e⁻ᵘ) → σ(u)
* ``one_minus_sigmoid``: 1 − σ(u) → σ(−u) (so σ' = σ(1 − σ) prints as σ(u)σ(−u))
* ``log_sigmoid``: log σ(u) → −softplus(−u)
* ``one_plus_tanh``: k ± k·tanh(u) → 2k·σ(±2u)
* ``one_minus_tanh_squared``: k − k·tanh²(u) → 4k·σ(2u)σ(−2u) (so tanh' prints without cancelling)
* ``expm1``: eᵘ − 1 → expm1(u)
* ``log1p``: log(1 + u) → log1p(u)

:func:`stabilise` applies the table in order (the named-function rewrites
first, so that log(1 + eᵘ) becomes softplus rather than log1p(eᵘ));
formula rules keep the text as typed for display and proofs and print the
stabilised form (``Definition.stable_expr``) and the stabilised derivative of
it (``stable_derivative``, ``stable_partials``). ``expm1``/``log1p`` alone are
also applied when any expression is printed (:func:`stable_primitives`).

>>> z = sp.Symbol("z", real=True)
>>> stabilise(sp.log(sp.exp(z) + 1))
softplus(z)
>>> applied_rewrites(sp.log(1 / (1 + sp.exp(-z))))
('sigmoid_reciprocal', 'log_sigmoid')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from .functions import log_cosh, sigmoid, softplus
from .proof import Proof, prove_zero
from .shared_replace import replace_shared

__all__ = [
    "REWRITES",
    "Rewrite",
    "applied_rewrites",
    "describe_stable_form",
    "prove_rewrite",
    "prove_rewrites",
    "stabilise",
    "stable_primitives",
]

_U = sp.Symbol("u", real=True)
_V = sp.Symbol("v", real=True)


@dataclass(frozen=True)
class Rewrite:
    """before(u, v) → after(u, v): ``node`` is the SymPy class visited, ``match`` one node's replacement or None."""

    name: str
    node: type
    match: Callable[[sp.Expr], sp.Expr | None]
    before: Callable[[sp.Symbol, sp.Symbol], sp.Expr]
    after: Callable[[sp.Symbol, sp.Symbol], sp.Expr]

    def apply(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every match of this rewrite replaced (bottom-up)."""

        def replace(e: sp.Expr) -> sp.Expr:
            out = self.match(e)
            return e if out is None else out

        return replace_shared(expr, lambda e: isinstance(e, self.node), replace)


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
    # 1 − σ(u) = σ(−u): no cancellation where σ(u) rounds to 1 (σ' = σ(1 − σ) is 0 at u = 20 in float32).
    terms = list(add.args)
    if sp.S.One in terms:
        for term in terms:
            if isinstance(-term, sigmoid):
                terms.remove(sp.S.One)
                terms.remove(term)
                return sp.Add(sigmoid(-(-term).args[0]), *terms)
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


def _log1p(log: sp.log) -> sp.Expr | None:
    arg = log.args[0]
    return log1p(arg - 1) if isinstance(arg, sp.Add) and sp.S.One in arg.args else None


#: The rewrites in the order :func:`stabilise` applies them.
REWRITES: tuple[Rewrite, ...] = (
    Rewrite("softplus", sp.log, _softplus, lambda u, v: sp.log(1 + sp.exp(u)), lambda u, v: softplus(u)),
    Rewrite(
        "log_sum_exp", sp.log, _log_sum_exp,
        lambda u, v: sp.log(sp.exp(u) + sp.exp(v)), _log_sum_exp_form,
    ),
    Rewrite("log_cosh", sp.log, _log_cosh, lambda u, v: sp.log(sp.cosh(u)), lambda u, v: log_cosh(u)),
    Rewrite("sigmoid", sp.Mul, _sigmoid, lambda u, v: sp.exp(u) / (1 + sp.exp(u)), lambda u, v: sigmoid(u)),
    Rewrite("sigmoid_reciprocal", sp.Pow, _sigmoid_reciprocal, lambda u, v: 1 / (1 + sp.exp(-u)), lambda u, v: sigmoid(u)),
    Rewrite("one_minus_sigmoid", sp.Add, _one_minus_sigmoid, lambda u, v: 1 - sigmoid(u), lambda u, v: sigmoid(-u)),
    Rewrite("log_sigmoid", sp.log, _log_sigmoid, lambda u, v: sp.log(sigmoid(u)), lambda u, v: -softplus(-u)),
    Rewrite("one_plus_tanh", sp.Add, _one_plus_tanh, lambda u, v: 1 + sp.tanh(u), lambda u, v: 2 * sigmoid(2 * u)),
    Rewrite(
        "one_minus_tanh_squared", sp.Add, _one_minus_tanh_squared,
        lambda u, v: 1 - sp.tanh(u) ** 2, lambda u, v: 4 * sigmoid(2 * u) * sigmoid(-2 * u),
    ),
    Rewrite("expm1", sp.Add, _expm1, lambda u, v: sp.exp(u) - 1, lambda u, v: expm1(u)),
    Rewrite("log1p", sp.log, _log1p, lambda u, v: sp.log(1 + u), lambda u, v: log1p(u)),
)

_BY_NAME = {r.name: r for r in REWRITES}


def _run(expr: sp.Expr, names: Iterable[str]) -> tuple[sp.Expr, tuple[str, ...]]:
    used = []
    for name in names:
        rewritten = _BY_NAME[name].apply(expr)
        if rewritten != expr:
            used.append(name)
            expr = rewritten
    return expr, tuple(used)


def stabilise(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every rewrite of :data:`REWRITES` applied: the same function, printed without overflow.

    >>> z = sp.Symbol("z", real=True)
    >>> stabilise(sp.exp(z) / (sp.exp(z) + 1))
    sigmoid(z)
    """
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"stabilise: expected a SymPy expression, got {type(expr).__name__}")
    return _run(expr, _BY_NAME)[0]


def applied_rewrites(expr: sp.Expr) -> tuple[str, ...]:
    """The names of the rewrites :func:`stabilise` applies to ``expr``, in the order applied."""
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"applied_rewrites: expected a SymPy expression, got {type(expr).__name__}")
    return _run(expr, _BY_NAME)[1]


def describe_stable_form(expr: sp.Expr) -> str | None:
    """One line naming the stable form code prints for ``expr`` and the rewrites used; None when none applies.

    >>> describe_stable_form(sp.log(sp.exp(sp.Symbol("z", real=True)) + 1))
    'generated code uses softplus(z), proven equal (rewrite softplus)'
    """
    stable, used = _run(expr, _BY_NAME)
    if not used:
        return None
    return f"generated code uses {stable}, proven equal (rewrite{'s' if len(used) > 1 else ''} {', '.join(used)})"


def stable_primitives(expr: sp.Expr) -> sp.Expr:
    """eᵘ − 1 → expm1(u) and log(1 + u) → log1p(u) only: what printing applies to every expression.

    (SymPy's ``optimize`` does this too but also rearranges the rest, e.g. it
    turns e^{−2|z|} into e^{2|z|}, which overflows.)
    """
    return _run(expr, ("expm1", "log1p"))[0]


def prove_rewrite(rewrite: Rewrite) -> Proof:
    """after(u, v) − before(u, v) ≡ 0 for all real u (v a real parameter), shown by :func:`prove_zero`."""
    return prove_zero(rewrite.after(_U, _V) - rewrite.before(_U, _V), _U)


def prove_rewrites() -> dict[str, Proof]:
    """Each rewrite of :data:`REWRITES` proven equal to what it replaces, by name."""
    return {r.name: prove_rewrite(r) for r in REWRITES}
