"""A hand-derived derivative checked against the rule's: claimed − ∂f/∂x ≡ 0, proven, or refuted at an exact point.

>>> from symdl.rulebook.rule import formula_rule
>>> r = formula_rule("log(1 + exp(z))")
>>> z = r.wrt
>>> bool(check_derivative(r, 1 / (1 + sp.exp(-z))))
True
>>> check_derivative(r, 1 / (1 + sp.exp(z))).counterexample
{z: -7/13}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from ..symbolic.branch_at import resolve_branches
from ..symbolic.parse import parse
from ..symbolic.proof import Proof, excluded_note, prove_zero
from ..symbolic.removable import (
    kinks_of_limit,
    limit_text,
    moving_removable_points,
    removable_points,
)
from .rule import Rule
from .rule_kinks import claimed_against

__all__ = ["DerivativeCheck", "check_derivative", "parse_derivative"]


@dataclass(frozen=True)
class DerivativeCheck:
    """claimed vs ∂f/∂wrt: the proof of their difference ≡ 0 (away from the kinks) and, where it fails, both values.

    ``derivative`` is :meth:`~symdl.rulebook.rule.Rule.derivative` but SymPy's own expression at the removable points
    that move or sit at a pole, where the rule's derivative is the limit of ``removable``: the claim is compared with
    that limit there (and one that, as SymPy's, has no value at a pole is accepted)."""

    wrt: sp.Symbol
    claimed: sp.Expr
    derivative: sp.Expr
    proof: Proof
    kinks: tuple[sp.Expr, ...] = ()
    #: Boundaries of f where f' is continuous, as (point, its limit from both sides, what f''s expression gives
    #: there): the limit is the derivative; a different value at the point is an artefact of the expression's form.
    removable: tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...] = ()

    def __bool__(self) -> bool:
        return self.proof.holds

    @property
    def counterexample(self) -> dict[sp.Symbol, sp.Expr] | None:
        """A point where the claim and the derivative differ (exact numbers), or None."""
        point = self.proof.counterexample
        return None if point is None else dict(point)

    def values_at_counterexample(self, digits: int = 17) -> tuple[sp.Expr, sp.Expr] | None:
        """(claimed, true derivative) at the counterexample, evaluated with ``digits`` significant digits."""
        point = self.counterexample
        if point is None:
            return None
        true = _value_at(self.derivative, point)
        for at, limit, _ in self.removable:  # there the derivative is the limit, not the expression's value
            if sp.simplify(at.xreplace(point) - point[self.wrt]) == 0:
                true = limit.xreplace(point)
        return sp.N(_value_at(self.claimed, point), digits), sp.N(true, digits)


def _value_at(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``expr`` at ``point``; where SymPy orders the sides of a condition in an if-then-else's arm not taken
    (z/(z + 1) ≤ 27 at z = −1 is zoo ≤ 27, a TypeError), the branch that holds there is picked first. Not
    :func:`~symdl.symbolic.branch_at.value_at`, which puts one variable in and leaves the others symbolic: here every
    symbol of the point goes in at once, so the TypeError of a parameter's value (zoo at z = −1, c = 1 in
    z/(z + c) ≤ 27) is caught as well."""
    try:
        return expr.xreplace(point)
    except TypeError:
        return resolve_branches(expr, point).xreplace(point)


def parse_derivative(r: Rule, text: str) -> sp.Expr:
    """``text`` in the rule's inputs and parameters (symdl's formula grammar, never eval); FormulaError if it is not one."""
    names = [s.name for s in r.inputs]
    params = [name for name in r.param_symbols if name not in names]
    parsed = parse(text, symbols=names, params=params)
    own = {sp.Symbol(s.name, real=True): s for s in r.inputs}
    own.update({sp.Symbol(name, real=True): symbol for name, symbol in r.param_symbols.items()})
    return parsed.xreplace(own)


def check_derivative(r: Rule, claimed: sp.Expr, wrt: sp.Symbol | str | None = None) -> DerivativeCheck:
    """claimed − ∂r/∂wrt ≡ 0 for every real input (other inputs and unbound parameters arbitrary), kinks excepted.

    At a kink the derivative's value is a convention (``symdl check`` lists
    them), so the claim is compared on both sides of it, not at it. At a
    boundary where f' is continuous the derivative there is its limit: the
    notebook's softplus log(1 + e^(−|z|)) + max(0, z) has f' → 1/2 from both
    sides of 0, while its expression's value at 0 (max' and sign(0) = 0) is 0;
    the claim is compared with the limit. So at a point that moves with another input or a parameter (z = c), or a
    pole of f''s expression (sin(z − a)/(z − a) at z = a), where the limits hold for every value of the others
    (:func:`~symdl.symbolic.removable.moving_removable_points`); where they are not found, the claim is undecided there.
    """
    if not isinstance(r, Rule):
        raise TypeError(f"check_derivative takes an element-wise rule or formula, got {type(r).__name__}")
    if not isinstance(claimed, sp.Expr):
        raise TypeError(f"claimed derivative must be a SymPy expression, got {type(claimed).__name__}")
    var = r.variable(wrt)
    derivative = r.bind(claimed_against(r, var))  # r.derivative(var) but SymPy's value at moving removable points
    claimed = r.bind(claimed)
    kinks = tuple(k.at for k in r.kinks) if var == r.wrt else ()
    moving, undecided = moving_removable_points(derivative, var, kinks)
    removable = removable_points(derivative, var, kinks) + moving
    no_value = []
    for at, limit, value in removable:
        at_claim = claimed.subs(var, at)
        if at_claim.has(sp.nan, sp.zoo) and value.has(sp.nan, sp.zoo):  # no value there, as f''s own form: equal on both sides
            no_value.append(at)
            continue
        if not at_claim.has(sp.Piecewise) and sp.simplify(at_claim - limit) != 0 and not at.free_symbols:
            proof = Proof(False, f"the claim is {at_claim} at {var} = {at}, where the derivative's limit from both sides is {limit}",
                          counterexample={var: at})
            return DerivativeCheck(var, claimed, derivative, proof, kinks, removable)
        if at_claim.has(sp.Piecewise) or at.free_symbols:  # a branch on another input or a parameter is left
            there = _equal_at_removable_point(at_claim, limit)
            if not there:
                point = _moved_point(var, at, there.counterexample or {}, claimed)
                proof = Proof(False, f"at {var} = {at} the claim is not the derivative's limit {limit_text(limit)} from both sides: "
                                     f"{there.method}", there.cases, point)
                return DerivativeCheck(var, claimed, derivative, proof, kinks, removable)
    # where f jumps (floor, ceiling, round) it has no derivative: no claim is refuted there
    jumps_of = r.bind(r.expr)
    proof = prove_zero(claimed - derivative, var, exclude=(*kinks, *(at for at, _, _ in removable)), exclude_label=None,
                       jumps_of=jumps_of)
    # Where f''s limits were not found, its value may be the expression's or a limit: right or wrong there, the claim
    # is undecided (a claim equal to the expression there was proven, though f' → y/2 at z = c for y·softplus(z − c)).
    elsewhere = proof if proof.holds or not undecided else prove_zero(
        claimed - derivative, var, exclude=(*kinks, *(at for at, _, _ in removable), *undecided), exclude_label=None,
        jumps_of=jumps_of)
    if undecided and elsewhere.holds:
        where = ", ".join(f"{var} = {at}" for at in undecided)
        return DerivativeCheck(var, claimed, derivative, Proof(False, f"undecided at {where}: the claim equals the "
                               "derivative elsewhere; whether the derivative there is its limit was not decided",
                               elsewhere.cases), kinks, removable)
    if proof.counterexample is not None:
        proof = dataclasses.replace(proof, counterexample=_pinned(proof.counterexample, claimed, derivative))
    if proof.holds:  # name the kinks as kinks, and the removable points by what was compared there
        method = proof.method + excluded_note(kinks, "kink")
        method += "".join(f"; at {var} = {at} equal to the derivative's limit {limit_text(limit)} from both sides"
                          if at not in no_value
                          else f"; at {var} = {at} without a value, its limit from both sides the derivative's, {limit_text(limit)}"
                          for at, limit, _ in removable)
        proof = dataclasses.replace(proof, method=method)
    return DerivativeCheck(var, claimed, derivative, proof, kinks, removable)


def _equal_at_removable_point(at_claim: sp.Expr, limit: sp.Expr) -> Proof:
    """claim(p) − lim f'(p±) ≡ 0 in the other inputs and parameters (the first by name the variable of
    :func:`~symdl.symbolic.proof.prove_zero`, the rest its parameters): a claim with branches left at p. Where the
    limit is a kink (sin(z − a)/(z − a) + relu(z) at z = a = 0), its value is a convention: not compared."""
    difference = at_claim - limit
    free = sorted(difference.free_symbols, key=str)
    if not free:
        return Proof(sp.simplify(difference) == 0, f"the claim is {at_claim}")
    return prove_zero(difference, free[0], exclude=kinks_of_limit(limit))


def _moved_point(var: sp.Symbol, at: sp.Expr, found: Mapping[sp.Symbol, sp.Expr], claimed: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    """``found`` (values of the other symbols), the symbols ``at`` still needs given values of :data:`_PINS`, and
    ``var`` at the removable point there: the point moves with them."""
    point = dict(found)
    for k, s in enumerate(sorted(at.free_symbols - set(point), key=str)):
        point[s] = _PINS[k % len(_PINS)]
    point[var] = at.xreplace(point)
    for k, s in enumerate(sorted(claimed.free_symbols - set(point), key=str)):
        point[s] = _PINS[k % len(_PINS)]
    return point


#: Values tried, in order, for a symbol that the difference lost (both signs, none an integer: rarely a pole).
_PINS = (sp.Rational(7, 13), sp.Rational(-8, 11), sp.Rational(13, 7), sp.Rational(-11, 5))


def _pinned(point: Mapping[sp.Symbol, sp.Expr], claimed: sp.Expr, derivative: sp.Expr) -> dict[sp.Symbol, sp.Expr] | None:
    """``point`` with a value for each symbol of the claim or the derivative that it lacks, where both are finite.

    a + 1 − a is 1 whatever a is, so the difference's counterexample leaves a free, yet both sides must be numbers
    there; any value does where both are finite. None when no tried value makes them finite.
    """
    missing = sorted((claimed.free_symbols | derivative.free_symbols) - set(point), key=str)
    if not missing:
        return dict(point)
    for shift in range(len(_PINS)):
        full = {**point, **{s: _PINS[(k + shift) % len(_PINS)] for k, s in enumerate(missing)}}
        values = [sp.N(e.xreplace(full), 30) for e in (claimed, derivative)]
        if all(v.is_number and v.is_finite and not v.has(sp.nan, sp.zoo) for v in values):
            return full
    return None
