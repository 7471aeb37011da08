"""The rewrite pass: value-preserving rewrites that turn overflowing or cancelling forms into stable ones.

Each :class:`Rewrite` replaces one pattern by an expression *equal* to it for
every real input (``before(u, v) = after(u, v)``, proven exactly by
:func:`prove_rewrites`), chosen so that the printed code stays finite and
accurate: log(1 + eᵘ) overflows at u ≈ 710 in float64, softplus(u) does not.

* ``log_even_power``: log(c·u²ᵏ) → log c + 2k·log|u| (k a nonzero integer, c a positive number, u real; neither
  side finite at u = 0, compared there by :func:`~symdl.symbolic.poles.prove_equal`)
* ``softplus``: log(1 + eᵘ) → softplus(u)
* ``softplus_scaled``: log(a + b·eᵘ) → log a + softplus(u + log(b/a)) (a, b positive numbers)
* ``log_sum_exp``: log(eᵘ + eᵛ) → (u + v)/2 + log 2 + log_cosh((u − v)/2)
* ``log_cosh``: log(cosh u) → log_cosh(u)
* ``sigmoid``: eᵘ / (1 + eᵘ) → σ(u)
* ``sigmoid_scaled``: e^{mu} / (a + b·eᵘ)ⁿ → (a/b)ᵐ a⁻ⁿ σ(s)ᵐ σ(−s)ⁿ⁻ᵐ, s = u + log(b/a) (1 ≤ m ≤ n integers)
* ``sigmoid_of_difference``: eᵘ / (eᵘ + eᵛ) → σ(u − v)
* ``sigmoid_of_term_ratio``: t / (t + t′) → σ(log t − log t′) for terms c·e^{u}·σ(v)ᵏ (σ(u)/(σ(u) + eᵛ) →
  σ(−softplus(−u) − v): finite where v is inf, :mod:`~symdl.symbolic.exp_products`)
* ``sigmoid_reciprocal``: 1 / (1 + e⁻ᵘ) → σ(u)
* ``sigmoid_power``: (a + b·eᵘ)⁻ⁿ → a⁻ⁿ σ(−s)ⁿ, s as above
* ``one_minus_sigmoid``: k − k·σ(u) → k·σ(−u) (so σ' = σ(1 − σ) prints as σ(u)σ(−u))
* ``log_product``: log(c·eᵘ·σ(v)⋯) → log c + u + log σ(v) + ⋯ (factors positive numbers, exponentials, sigmoids)
* ``sigmoid_difference``: k·σ(u) − k·σ(−u) → k·tanh(u/2) (no cancellation near u = 0)
* ``log_sigmoid``: log σ(u) → −softplus(−u)
* ``one_plus_tanh``: k ± k·tanh(u) → 2k·σ(±2u)
* ``one_minus_tanh_squared``: k − k·tanh²(u) → 4k·σ(2u)σ(−2u) (so tanh' prints without cancelling)
* ``log_sum_exp_max``: log Σ cᵢe^{uᵢ} → M + log Σ cᵢe^{uᵢ − M}, M = sg(max uᵢ) (cᵢ positive numbers, a number
  alone is c·e⁰, c·σ(v)ᵏ is c·e^{−k·softplus(−v)}; any number of terms: log(eᶻ + e²ᶻ + 1), log(eᶻ + σ(z)))
* ``log_sum_exp_signed``: the same with negative cᵢ where Σ cᵢe^{uᵢ − M} is proven bounded away from 0 (one real
  input, polynomial exponents: log(eᶻ + e⁻ᶻ − 3/2); not log(eᶻ − 1) or log(eᶻ − 2))
* ``log_sum_exp_nested``: the same where a term holds a power Sᵏ of a positive such sum S, read as e^{k·log S} and
  shifted as k·(M_S + log s_S) (log(eᶻ + 2 + 1/(eᶻ + e⁻ᶻ + 1)): SymPy's form of e^{−log S})
* ``exp_sum_ratio``: e^w·(Σ cᵢe^{uᵢ})ᵖ → e^{w + pM}·(Σ cᵢe^{uᵢ − M})ᵖ (p < 0: eᶻ/(eᶻ + e⁻ᶻ + 1))
* ``exp_sum_reciprocal``: (Σ cᵢe^{uᵢ})ᵖ → e^{pM}·(Σ cᵢe^{uᵢ − M})ᵖ (1/(eᶻ + e⁻ᶻ))
* ``exp_sum_signed_ratio``, ``exp_sum_signed_reciprocal``: the same two with negative cᵢ where Σ cᵢe^{uᵢ − M} is
  proven bounded away from 0, as for ``log_sum_exp_signed`` (eᶻ/(eᶻ + e⁻ᶻ − 3/2), 1/(eᶻ + e⁻ᶻ − 3/2))
* ``exp_sigmoid_sum``: σ(s)ᵏ·(… + c·e^{w} + …) → … + c·exp(w − k·softplus(−s)) + … where s = −a·e^{w} + … (σ(s)
  underflows as e^{w} overflows: (eᵘ − v)·σ(−eᵘ) → exp(u − softplus(eᵘ)) − v·σ(−eᵘ))
* ``exp_sigmoid``: e^w·Π σ(vⱼ)^{kⱼ} → exp(w − Σ kⱼ·softplus(−vⱼ)) (eᶻ·σ(−z) = σ(z))
* ``exp_of_exp_product``: eᵘ·e^{−e^{v}} → e^{u − e^{v}} (any product of exponentials, one exponent holding an
  exponential: e^{−z}·e^{−e^{−2z}} is inf·0 at z = −89 in float32)
* ``exp_comparison``: b·eᵘ ⋈ k → u ⋈ log(k/b) in a condition (b, k positive numbers: e^{x} increases); applied when
  printing (:func:`stable_conditions`), not by :func:`stabilise`
* ``sigmoid_comparison``: σ(u) ⋈ k → u ⋈ log(k/(1 − k)) in a condition (0 < k < 1: σ(1e-30) rounds to 1/2); applied
  when printing, as ``exp_comparison``
* ``bernoulli``: uⁿ·r/(c·(eᵘ − 1))ⁿ → Bⁿ(u)·r/cⁿ, B(u) = u/(eᵘ − 1) (:mod:`~symdl.symbolic.bernoulli`: no overflow
  for u ≫ 0, and B'(u) = −B(u)·M(u/2)/2 without the cancellation of SymPy's derivative near u = 0)
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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.core.relational import Relational

from .bernoulli import bernoulli_ratio, bernoulli_ratio_form
from .exp_products import (
    exp_comparison,
    exp_of_exp_product,
    exp_sigmoid_sum,
    exp_sigmoid_sum_form,
    sigmoid_comparison,
    sigmoid_of_term_ratio,
    sigmoid_term_ratio_form,
)
from .functions import log_cosh, sigmoid, softplus
from .poles import prove_equal
from .proof import Proof
from .rewrite_patterns import (
    _exp_sigmoid,
    _exp_sum_ratio,
    _exp_sum_ratio_form,
    _exp_sum_reciprocal,
    _exp_sum_signed_ratio,
    _exp_sum_signed_ratio_form,
    _exp_sum_signed_reciprocal,
    _exp_sum_signed_reciprocal_form,
    _expm1,
    _log1p,
    _log_cosh,
    _log_even_power,
    _log_product,
    _log_sigmoid,
    _log_sum_exp,
    _log_sum_exp_form,
    _log_sum_exp_max,
    _log_sum_exp_max_form,
    _log_sum_exp_nested,
    _log_sum_exp_nested_form,
    _log_sum_exp_signed,
    _log_sum_exp_signed_form,
    _one_minus_sigmoid,
    _one_minus_tanh_squared,
    _one_plus_tanh,
    _sigmoid,
    _sigmoid_difference,
    _sigmoid_of_difference,
    _sigmoid_power,
    _sigmoid_reciprocal,
    _sigmoid_scaled,
    _sigmoid_scaled_form,
    _softplus,
    _softplus_scaled,
    _softplus_scaled_form,
)
from .shared_replace import replace_shared
from .stop_gradient import stop_gradient

__all__ = [
    "REWRITES",
    "Rewrite",
    "applied_rewrites",
    "describe_stable_form",
    "prove_rewrite",
    "prove_rewrites",
    "stabilise",
    "stable_at_values",
    "stable_conditions",
    "stable_primitives",
]

_U = sp.Symbol("u", real=True)
_V = sp.Symbol("v", real=True)


def _top(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    return stop_gradient(sp.Max(u, v))


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


REWRITES: tuple[Rewrite, ...] = (
    Rewrite("log_even_power", sp.log, _log_even_power, lambda u, v: sp.log(u**4), lambda u, v: 4 * sp.log(sp.Abs(u))),
    Rewrite("softplus", sp.log, _softplus, lambda u, v: sp.log(1 + sp.exp(u)), lambda u, v: softplus(u)),
    Rewrite(
        "softplus_scaled", sp.log, _softplus_scaled, lambda u, v: sp.log(2 + 3 * sp.exp(u)), _softplus_scaled_form,
    ),
    Rewrite(
        "log_sum_exp", sp.log, _log_sum_exp,
        lambda u, v: sp.log(sp.exp(u) + sp.exp(v)), _log_sum_exp_form,
    ),
    Rewrite("log_cosh", sp.log, _log_cosh, lambda u, v: sp.log(sp.cosh(u)), lambda u, v: log_cosh(u)),
    Rewrite("sigmoid", sp.Mul, _sigmoid, lambda u, v: sp.exp(u) / (1 + sp.exp(u)), lambda u, v: sigmoid(u)),
    Rewrite(
        "sigmoid_scaled", sp.Mul, _sigmoid_scaled,
        lambda u, v: sp.exp(u) / (2 + 3 * sp.exp(u)) ** 2, _sigmoid_scaled_form,
    ),
    Rewrite(
        "sigmoid_of_difference", sp.Mul, _sigmoid_of_difference,
        lambda u, v: sp.exp(u) / (sp.exp(u) + sp.exp(v)), lambda u, v: sigmoid(u - v),
    ),
    Rewrite(
        "sigmoid_of_term_ratio", sp.Mul, sigmoid_of_term_ratio,
        lambda u, v: sigmoid(u) / (sigmoid(u) + sp.exp(v)), sigmoid_term_ratio_form,
    ),
    Rewrite("sigmoid_reciprocal", sp.Pow, _sigmoid_reciprocal, lambda u, v: 1 / (1 + sp.exp(-u)), lambda u, v: sigmoid(u)),
    Rewrite(
        "sigmoid_power", sp.Pow, _sigmoid_power,
        lambda u, v: (2 + 3 * sp.exp(u)) ** -2, lambda u, v: sigmoid(-u - sp.log(sp.Rational(3, 2))) ** 2 / 4,
    ),
    Rewrite("one_minus_sigmoid", sp.Add, _one_minus_sigmoid, lambda u, v: 1 - sigmoid(u), lambda u, v: sigmoid(-u)),
    Rewrite(
        "log_product", sp.log, _log_product,
        lambda u, v: sp.log(2 * sp.exp(u) * sigmoid(v)), lambda u, v: sp.log(2) + u + sp.log(sigmoid(v)),
    ),
    Rewrite(
        "sigmoid_difference", sp.Add, _sigmoid_difference,
        lambda u, v: sigmoid(u) - sigmoid(-u), lambda u, v: sp.tanh(u / 2),
    ),
    Rewrite("log_sigmoid", sp.log, _log_sigmoid, lambda u, v: sp.log(sigmoid(u)), lambda u, v: -softplus(-u)),
    Rewrite("one_plus_tanh", sp.Add, _one_plus_tanh, lambda u, v: 1 + sp.tanh(u), lambda u, v: 2 * sigmoid(2 * u)),
    Rewrite(
        "one_minus_tanh_squared", sp.Add, _one_minus_tanh_squared,
        lambda u, v: 1 - sp.tanh(u) ** 2, lambda u, v: 4 * sigmoid(2 * u) * sigmoid(-2 * u),
    ),
    Rewrite(
        "log_sum_exp_max", sp.log, _log_sum_exp_max,
        lambda u, v: sp.log(sp.exp(u) + sp.exp(v) + 2), _log_sum_exp_max_form,
    ),
    Rewrite(
        "log_sum_exp_signed", sp.log, _log_sum_exp_signed,
        lambda u, v: sp.log(sp.exp(u) + sp.exp(-u) - sp.Rational(3, 2)), _log_sum_exp_signed_form,
    ),
    Rewrite(
        "log_sum_exp_nested", sp.log, _log_sum_exp_nested,
        lambda u, v: sp.log(sp.exp(u) + 1 / (sp.exp(u) + sp.exp(-u) + 1)), _log_sum_exp_nested_form,
    ),
    Rewrite(
        "exp_sum_ratio", sp.Mul, _exp_sum_ratio,
        lambda u, v: sp.exp(u) / (sp.exp(u) + 3 * sp.exp(v) + 1) ** 2, _exp_sum_ratio_form,
    ),
    Rewrite(
        "exp_sum_reciprocal", sp.Pow, _exp_sum_reciprocal,
        lambda u, v: 1 / (sp.exp(u) + sp.exp(v)), lambda u, v: sp.exp(-_top(u, v)) / (sp.exp(u - _top(u, v)) + sp.exp(v - _top(u, v))),
    ),
    Rewrite(
        "exp_sum_signed_ratio", sp.Mul, _exp_sum_signed_ratio,
        lambda u, v: sp.exp(u) / (sp.exp(u) + sp.exp(-u) - sp.Rational(3, 2)), _exp_sum_signed_ratio_form,
    ),
    Rewrite(
        "exp_sum_signed_reciprocal", sp.Pow, _exp_sum_signed_reciprocal,
        lambda u, v: 1 / (sp.exp(u) + sp.exp(-u) - sp.Rational(3, 2)), _exp_sum_signed_reciprocal_form,
    ),
    Rewrite(
        "exp_sigmoid_sum", sp.Mul, exp_sigmoid_sum,
        lambda u, v: (sp.exp(u) - v) * sigmoid(-sp.exp(u)), exp_sigmoid_sum_form,
    ),
    Rewrite(
        "exp_sigmoid", sp.Mul, _exp_sigmoid,
        lambda u, v: sp.exp(u) * sigmoid(-u) * sigmoid(v) ** 2, lambda u, v: sp.exp(u - softplus(u) - 2 * softplus(-v)),
    ),
    Rewrite(
        "exp_of_exp_product", sp.Mul, exp_of_exp_product,
        lambda u, v: sp.exp(u) * sp.exp(-sp.exp(v)), lambda u, v: sp.exp(u - sp.exp(v)),
    ),
    Rewrite(
        "exp_comparison", Relational, exp_comparison,
        lambda u, v: sp.Piecewise((v, sp.exp(u) >= 3), (u, True)), lambda u, v: sp.Piecewise((v, u >= sp.log(3)), (u, True)),
    ),
    Rewrite(
        "sigmoid_comparison", Relational, sigmoid_comparison,
        lambda u, v: sp.Piecewise((v, sigmoid(u) >= sp.Rational(1, 3)), (u, True)),
        lambda u, v: sp.Piecewise((v, u >= -sp.log(2)), (u, True)),
    ),
    Rewrite(
        "bernoulli", sp.Mul, bernoulli_ratio,
        lambda u, v: v * u**2 / (3 * sp.exp(u) - 3) ** 2, bernoulli_ratio_form,
    ),
    Rewrite("expm1", sp.Add, _expm1, lambda u, v: sp.exp(u) - 1, lambda u, v: expm1(u)),
    Rewrite("log1p", sp.log, _log1p, lambda u, v: sp.log(1 + u), lambda u, v: log1p(u)),
)

_BY_NAME = {r.name: r for r in REWRITES}
#: Applied when printing only (:func:`stable_conditions`), not by :func:`stabilise`: a rule's forms keep b·eᵘ ⋈ k,
#: whose breakpoints the proof engine finds (eᶻσ(z) = 3 is a quadratic in eᶻ; z − softplus(−z) = log 3 is not).
_PRINT_ONLY = ("exp_comparison", "sigmoid_comparison")
_PASS = tuple(name for name in _BY_NAME if name not in _PRINT_ONLY)


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
    return _run(expr, _PASS)[0]


def stable_at_values(typed: sp.Expr, stable: sp.Expr, values: Mapping[sp.Symbol, sp.Expr]) -> tuple[sp.Expr, bool]:
    """(the stable form at the parameters' ``values``, True) where the pass finds more once they are in, else (stable, False).

    A pattern may need a value (log(d + eᶻ) is log(a + b·eᶻ) only for d > 0), and a rewrite valid for every value can
    hide one: log(1 + d·eᶻ) is log1p(d·eᶻ), which the pass leaves, where log(1 + 2·eᶻ) is softplus(z + log 2); so the
    ``typed`` text, bound, is tried too. The caller proves the bound form equal at those values only.
    """
    bound = stable.xreplace(dict(values))
    if bound == stable:
        return stable, False
    for candidate in (bound, typed.xreplace(dict(values))):
        found = stabilise(candidate)
        if found not in (candidate, bound):
            return found, True
    return stable, False


def applied_rewrites(expr: sp.Expr) -> tuple[str, ...]:
    """The names of the rewrites :func:`stabilise` applies to ``expr``, in the order applied."""
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"applied_rewrites: expected a SymPy expression, got {type(expr).__name__}")
    return _run(expr, _PASS)[1]


def describe_stable_form(expr: sp.Expr) -> str | None:
    """One line naming the stable form code prints for ``expr`` and the rewrites used; None when none applies.

    >>> describe_stable_form(sp.log(sp.exp(sp.Symbol("z", real=True)) + 1))
    'generated code uses softplus(z), proven equal (rewrite softplus)'
    """
    stable, used = _run(expr, _PASS)
    if not used:
        return None
    return f"generated code uses {stable}, proven equal (rewrite{'s' if len(used) > 1 else ''} {', '.join(used)})"


def stable_conditions(expr: sp.Expr) -> sp.Expr:
    """b·eᵘ ⋈ k → u ⋈ log(k/b) and σ(u) ⋈ k → u ⋈ log(k/(1 − k)) only (``exp_comparison``, ``sigmoid_comparison``):
    what printing applies to every expression's conditions, before the named functions become their stable forms
    (e^{z − softplus(−z)} is then no longer one exponential)."""
    return _run(expr, _PRINT_ONLY)[0]


def stable_primitives(expr: sp.Expr) -> sp.Expr:
    """eᵘ − 1 → expm1(u) and log(1 + u) → log1p(u) only: what printing applies to every expression.

    (SymPy's ``optimize`` does this too but also rearranges the rest, e.g. it
    turns e^{−2|z|} into e^{2|z|}, which overflows.)
    """
    return _run(expr, ("expm1", "log1p"))[0]


def prove_rewrite(rewrite: Rewrite) -> Proof:
    """after(u, v) = before(u, v) for all real u (v a real parameter), shown by :func:`prove_equal`: where neither
    side is finite (log(u²) at u = 0) both are compared there too."""
    return prove_equal(rewrite.after(_U, _V), rewrite.before(_U, _V), _U)


def prove_rewrites() -> dict[str, Proof]:
    """Each rewrite of :data:`REWRITES` proven equal to what it replaces, by name."""
    return {r.name: prove_rewrite(r) for r in REWRITES}
