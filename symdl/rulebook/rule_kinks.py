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

from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.jumps import breakpoints_between_jumps, kinks_at_jumps
from ..symbolic.proof import Undecidable, breakpoints, resolve_branches
from ..symbolic.removable import branch_limits, branch_value, removable_points
from ..symbolic.rounding import jump_atoms, round
from .definition import Jumps, Kink

if TYPE_CHECKING:
    from .rule import Rule

__all__ = ["rule_jumps", "rule_kinks", "with_kink_values"]


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
        if not (left.is_finite and right.is_finite):
            continue  # a singularity (|z|^½ at 0), not a kink: no finite value would be a subgradient
        if _simplified(left - right) == 0:  # e.g. elu with α = 1 is smooth at 0
            continue
        found.append(Kink(point, left, right, _kink_value(rule, point, left, right)))
    return tuple(found)


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


def with_kink_values(rule: Rule, derived: sp.Expr) -> sp.Expr:
    """``derived`` returning the convention's value at each kink, and the limit at each removable point
    (:func:`~symdl.symbolic.removable.removable_points`); a branch only where it differs."""
    for kink in rule.kinks:
        # Kinks and their values are those of the bound parameters (softshrink's ±λ moves with λ), so the
        # derivative is compared there: leaky_relu's α at 0 is the z ≤ 0 branch's own value, not a new branch.
        if _simplified(kink.value - _natural_value(rule, rule.bind(derived), kink.at)) != 0:
            derived = sp.Piecewise((kink.value, sp.Eq(rule.wrt, kink.at)), (derived, True))
    for at, limit, _ in _removable(rule):
        if _simplified(limit - _natural_value(rule, rule.bind(derived), at)) != 0:
            derived = sp.Piecewise((limit, sp.Eq(rule.wrt, at)), (derived, True))
    return derived


def _removable(rule: Rule) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]:
    """Where f' is continuous but SymPy's f' gives another value at the point (0 for max(0, z) + log(1 + e^(−|z|))).

    Found on the unbound derivative: a point or limit that moves with a parameter is left alone (the branch is
    added to the unbound expression, so a point read at the bound value would be wrong at any other)."""
    try:
        derived = diff_away_from_jumps(rule.expr, rule.wrt)
    except Undecidable:
        return ()
    return removable_points(derived, rule.wrt, tuple(k.at for k in rule.kinks))


def _natural_value(rule: Rule, derived: sp.Expr, at: sp.Expr) -> sp.Expr:
    sample = {s: sp.Rational(13, 11) for s in derived.free_symbols if s != rule.wrt}
    try:
        return resolve_branches(derived.subs(rule.wrt, at), sample)
    except TypeError:
        # SymPy orders both arms of an if-then-else when substituting (abs rewritten as ITE(z ≥ 0, z ≥ √z,
        # z ≥ √−z) orders √−1 at z = 1): pick the branches at the point first, then substitute.
        return resolve_branches(derived, {**sample, rule.wrt: at}).subs(rule.wrt, at)
