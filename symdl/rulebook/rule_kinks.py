"""A rule's kinks: where its derivative jumps, the one-sided values there, and the value its derivative returns.

At a kink p of f (f'(p⁻) ≠ f'(p⁺), both finite) the derivative returns the
rule's kink convention: the left or right value, their average, or the
value PyTorch returns. At a removable point (f'(p⁻) = f'(p⁺) but SymPy's f'
gives another value at p) it returns the common limit.

Kinks are finitely many. A floor, ceiling or round of the variable jumps at
infinitely many points, where f or f' jumps (z·⌊z⌋ − ⌊z⌋(⌊z⌋ + 1)/2 has
f' = ⌊z⌋: a kink at every integer): those are the rule's :class:`Jumps`,
never kinks, and a kink is listed only between them (|z − 1/3| + z·⌊z⌋ has
one, at 1/3; |z| + z·⌊z⌋ none, its 0 being a jump of ⌊z⌋).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import sympy as sp

from ..budget import shown
from ..symbolic.branch_at import value_at
from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.jumps import breakpoints_between_jumps, kinks_at_jumps
from ..symbolic.proof import Undecidable, breakpoints, resolve_branches
from ..symbolic.removable import (
    branch_limits,
    branch_value,
    moving_removable_points,
    removable_points,
)
from ..symbolic.rounding import jump_atoms, round
from .definition import Jumps, Kink

if TYPE_CHECKING:
    from .rule import Rule

__all__ = ["claimed_against", "removable", "rule_jumps", "rule_kinks", "with_kink_values"]


@lru_cache(maxsize=1024)
def _simplified(expr: sp.Expr) -> sp.Expr:
    """``sp.simplify(expr)``, once per process for each expression: every derivative, and every mutant of the
    rule, asks again whether its kink values differ."""
    return sp.simplify(expr)


def rule_kinks(rule: Rule) -> tuple[Kink, ...]:
    """Points where the derivative jumps (at the bound parameter values), with one-sided values and the value returned.

    Found where conditions switch finitely often; a formula whose
    conditions are periodic (sin z > 0) reports none. With a floor, ceiling or
    round of the variable, the kinks between their jumps (:func:`rule_jumps`).
    """
    try:
        return _kinks_of(rule, rule.bind(diff_away_from_jumps(rule.expr, rule.wrt)))
    except Undecidable:
        return ()


def rule_jumps(rule: Rule) -> Jumps:
    """The floor, ceiling and round of the rule's variable (parameters bound), and the kinks that move with their
    values (:func:`~symdl.symbolic.jumps.kinks_at_jumps`; none where those cannot be found)."""
    expr = rule.bind(rule.expr)
    functions = tuple(sorted((a for a in jump_atoms(expr) if a.has(rule.wrt)), key=sp.default_sort_key))
    if not functions:
        return Jumps()
    try:
        moving = kinks_at_jumps(expr, rule.wrt)
    except Undecidable:
        moving = []
    return Jumps(functions, tuple(dict.fromkeys(moving)))


def _kinks_of(rule: Rule, derived: sp.Expr) -> tuple[Kink, ...]:
    found = []
    functions = rule.jumps.functions
    points = breakpoints_between_jumps(derived, rule.wrt) if functions else breakpoints(derived, rule.wrt)
    for point in points:
        if any(_jumps_at(f, rule.wrt, point) for f in functions):
            continue  # one of the jumps, not a kink: the jump function's own sides are not the branches' values there
        # between its jumps each floor/ceiling/round is its value at the point: no jump is left to probe beside
        near = derived.xreplace({f: f.xreplace({rule.wrt: point}) for f in functions}) if functions else derived
        left, right = branch_limits(near, rule.wrt, point)  # a limit where a branch has no value at the point
        if not (_finite(left) and _finite(right)):
            continue  # a singularity (|z|^½ at 0), not a kink: no finite value would be a subgradient
        if _simplified(left - right) == 0:  # e.g. elu with α = 1 is smooth at 0
            continue
        found.append(Kink(point, left, right, _kink_value(rule, point, left, right)))
    return tuple(found)


def _finite(value: sp.Expr) -> bool:
    """``value`` is finite, or with other symbols a finite number at :data:`_SAMPLE` (generic values): relu's kink
    beside sin(z − a)/(z − a) has the sides (sin a − a·cos a)/a² and 1 + …, infinite at a = 0 only, where the pole
    meets the kink (:func:`~symdl.symbolic.removable.regime_limit`); SymPy cannot call them finite for every a."""
    if value.is_finite is not None or not value.free_symbols:
        return bool(value.is_finite)
    sample = {s: _SAMPLE[k % len(_SAMPLE)] for k, s in enumerate(sorted(value.free_symbols, key=str))}
    at = sp.N(value.xreplace(sample), 30)
    return bool(at.is_number and at.is_finite)


def _jumps_at(function: sp.Expr, var: sp.Symbol, point: sp.Expr) -> bool:
    """Whether floor/ceiling(u) jumps (u an integer) or round(u) does (u − 1/2 an integer) at var = point, for sure:
    a point that moves with another symbol is taken where it does not (a kink at z = y, y generic)."""
    crossing = function.args[0].xreplace({var: point}) - (sp.S.Half if isinstance(function, round) else 0)
    return bool(crossing.is_integer)


def _kink_value(rule: Rule, point: sp.Expr, left: sp.Expr, right: sp.Expr) -> sp.Expr:
    if rule.kink_convention == "left":
        return left
    if rule.kink_convention == "right":
        return right
    if rule.kink_convention == "average":
        return _simplified((left + right) / 2)
    for at, value in rule.definition.pytorch_kinks.items():
        if _simplified(rule.bind(at) - point) == 0:
            return rule.bind(value)
    # No declared value (user formulas): keep the one SymPy's derivative gives, a one-sided value or sign(0) = 0.
    # At the bound parameter values, as the point is: |z − c| at c = 1/2 is sign(0) = 0 there, not sign(1/2 − c) at
    # another c. Its branch's limit where it has no value (sin(z)/z at 0).
    derived = rule.bind(diff_away_from_jumps(rule.expr, rule.wrt))
    return branch_value(derived, rule.wrt, point, _natural_value(rule, derived, point))


def with_kink_values(rule: Rule, derived: sp.Expr, moving: bool = True, var: sp.Symbol | None = None) -> sp.Expr:
    """``derived`` (∂f/∂``var``, the rule's variable unless given) returning the convention's value at each kink, and
    the limit at each removable point (:func:`removable`; with ``moving`` False only at those that neither move nor sit
    at a pole); a branch only where it differs. By another input there are no kinks (they are the variable's), but
    removable points (∂/∂a of sin(z − a)/(z − a) at a = z is the limit 0, not nan)."""
    var = rule.wrt if var is None else var
    for kink in rule.kinks if var == rule.wrt else ():
        # Kinks and their values are those of the bound parameters (softshrink's ±λ moves with λ), so the
        # derivative is compared there: leaky_relu's α at 0 is the z ≤ 0 branch's own value, not a new branch.
        if _simplified(kink.value - _natural_value(rule, rule.bind(derived), kink.at, var)) != 0:
            derived = sp.Piecewise((kink.value, sp.Eq(var, kink.at)), (derived, True))
    for at, limit, value in rule.removable if var == rule.wrt else removable(rule, var):
        if not moving and _moves(at, value):
            continue
        # where the limit is nan the point meets a kink as the other symbol varies (sin(z − a)/(z − a) + relu(z) at
        # a = 0, regime_limit): the derivative there is the kink's value, already in ``derived``
        limit = limit.xreplace({sp.nan: derived})
        # compared at the bound values; the branch is the unbound one, which holds for every value (see removable)
        if _simplified(rule.bind(limit) - _natural_value(rule, rule.bind(derived), rule.bind(at), var)) != 0:
            derived = sp.Piecewise((limit, sp.Eq(var, at)), (derived, True))
    return derived


def removable(rule: Rule, var: sp.Symbol | None = None) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]:
    """(p, lim f'(p±), f'(p) as SymPy's expression gives it) where f' (∂f/∂``var``, the rule's variable unless given)
    is continuous but its expression gives another value at p, or none (0 for max(0, z) + log(1 + e^(−|z|)) at 0,
    where the limit is 1/2), kinks excepted.

    Found on the unbound derivative, as :func:`~symdl.rulebook.claims.check_derivative` finds them: at fixed
    boundaries (:func:`~symdl.symbolic.removable.removable_points`), and at boundaries that move with a parameter
    or another input and at poles of the expression (sin(z − a)/(z − a) at a), where the limits hold for every value
    of the others (:func:`~symdl.symbolic.removable.moving_removable_points`): the branch added at the unbound point
    is right at every parameter value. Where such a limit is not found (softplus(y·(z − c)) at c) SymPy's value
    stays, and check_derivative calls a claim there undecided."""
    var = rule.wrt if var is None else var
    try:
        derived = diff_away_from_jumps(rule.expr, var)
    except Undecidable:
        return ()
    kinks = tuple(k.at for k in rule.kinks) if var == rule.wrt else ()
    fixed = removable_points(derived, var, kinks)
    try:
        # Not asked (each costs SymPy limits): a moving boundary that is a kink at the bound values (softshrink's ±λ),
        # which has no common limit for every value, and one where f' is plainly continuous with the expression's own
        # value at a sample of the others (huber's a = y ± δ), which could then be removable only where the gap
        # between that value and the limit vanishes at the sample but not for every value.
        skipped = [p for p in breakpoints(derived, var) if p.free_symbols and (
            any(_simplified(rule.bind(p) - k) == 0 for k in kinks) or _plainly_continuous(rule, derived, p, var))]
    except Undecidable:
        skipped = []
    return fixed + _moving(derived, var, (*kinks, *skipped), tuple(f[0] for f in fixed))


#: Values of the symbols other than the variable in :func:`_plainly_continuous`: distinct, none a simple breakpoint.
_SAMPLE = (sp.Rational(13, 11), sp.Rational(-17, 13), sp.Rational(19, 7), sp.Rational(-23, 19))
_BESIDE = sp.Rational(1, 10**30)


def _plainly_continuous(rule: Rule, derived: sp.Expr, at: sp.Expr, var: sp.Symbol) -> bool:
    """f'(p − 10⁻³⁰), f'(p) and f'(p + 10⁻³⁰) agree to 20 digits, at 50, with the parameters bound and the other
    symbols at :data:`_SAMPLE`; False where any is not a finite number."""
    others = sorted((rule.bind(derived).free_symbols | rule.bind(at).free_symbols) - {var}, key=str)
    sample = {s: _SAMPLE[k % len(_SAMPLE)] for k, s in enumerate(others)}
    point, expr = rule.bind(at).xreplace(sample), rule.bind(derived).xreplace(sample)
    try:
        values = [sp.N(expr.xreplace({var: point + step}), 50) for step in (0, -_BESIDE, _BESIDE)]
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    if not all(v.is_number and v.is_finite for v in values):
        return False
    return all(abs(v - values[0]) < sp.Float(10, 50) ** -20 * max(1, abs(values[0])) for v in values[1:])


@lru_cache(maxsize=1024)
def _moving(derived: sp.Expr, var: sp.Symbol, kinks: tuple[sp.Expr, ...], fixed: tuple[sp.Expr, ...]
            ) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]:
    """:func:`~symdl.symbolic.removable.moving_removable_points` not at ``fixed``, once per process for each
    derivative (each ``symdl.rule(name)`` is a new Rule, and its limits cost SymPy a tenth of a second or more)."""
    moving, _ = moving_removable_points(derived, var, kinks)
    return tuple(m for m in moving if all(sp.simplify(m[0] - at) != 0 for at in fixed))


def _moves(at: sp.Expr, value: sp.Expr) -> bool:
    """Whether a removable point moves with another symbol, or is a pole of SymPy's f' (no finite value there)."""
    return bool(at.free_symbols) or value.is_finite is not True


def claimed_against(rule: Rule, var: sp.Symbol) -> sp.Expr:
    """∂f/∂var as :func:`~symdl.rulebook.claims.check_derivative` compares a claim with it: the kink values and the
    limits at fixed boundaries, as :meth:`~symdl.rulebook.rule.Rule.derivative`, but SymPy's own expression at the
    removable points that move or sit at a pole; there check_derivative compares the claim with the same limit itself
    and also accepts a claim that, as SymPy's f', has no value at the pole."""
    derived = diff_away_from_jumps(rule.expr, var, shown(rule.name))
    return with_kink_values(rule, derived, moving=False) if var == rule.wrt else derived


def _natural_value(rule: Rule, derived: sp.Expr, at: sp.Expr, var: sp.Symbol | None = None) -> sp.Expr:
    """∂f/∂``var`` (the rule's variable unless given) at ``at`` as SymPy's expression gives it, each branch left on
    another symbol taken at a sample of it (:func:`~symdl.symbolic.branch_at.value_at`)."""
    var = rule.wrt if var is None else var
    sample = {s: sp.Rational(13, 11) for s in derived.free_symbols if s != var}
    return resolve_branches(value_at(derived, var, at, sample), sample)
