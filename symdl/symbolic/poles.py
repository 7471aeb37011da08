"""lhs = rhs where both are finite, and at a pole, where neither is: an identity between forms with a singularity.

log(u⁴) and 4·log|u| are equal for every u ≠ 0; at u = 0 both are infinite, so
their difference is SymPy's nan there and :func:`~symdl.symbolic.proof.prove_zero`
refutes it at that breakpoint. A *pole* here is a breakpoint of lhs − rhs where
neither side has a finite value (SymPy's zoo, nan, ∞ or −∞, for every
parameter value) and their common limit from each side is infinite (±∞ or
zoo, in every parameter regime): SymPy has no value for exp(−1/z²) or
tanh(1/z) at 0 either (1/0 is zoo), yet both are bounded there, and a float's
exp(−1/0.0²) is 0; such a point is no pole, and its value is checked. The case analysis proves lhs = rhs on every open interval
between breakpoints, so both sides have the same one-sided limits at every
point; what is left at a pole is its value, which is compared, never skipped:
a breakpoint where only one side is finite is no pole, and its value is checked
like any other (a stable form giving 0 at log(z²)'s pole is refuted there), and
a signed infinity on one side must be the same signed infinity on the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from .proof import (
    Proof,
    Undecidable,
    breakpoints,
    excluded_note,
    prove_zero,
    resolve_branches,
)
from .regimes import _parameter_regimes, _sample_values, probes_beside

__all__ = ["poles", "prove_equal"]

_NOT_FINITE = (sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity)


def _not_finite(value: sp.Expr) -> bool:
    """True only when ``value`` is exactly zoo, nan, ∞ or −∞: no finite value for any parameter value."""
    return any(value == v for v in _NOT_FINITE)


def poles(lhs: sp.Expr, rhs: sp.Expr, var: sp.Symbol, params: Mapping[sp.Symbol, object] | None = None) -> list[sp.Expr]:
    """The breakpoints of lhs − rhs in ``var`` where neither side has a finite value and lhs tends to an infinity from
    both sides (in every parameter regime, ``params`` as for prove_zero); none when they cannot be found."""
    try:
        points = breakpoints(lhs - rhs, var)
        undefined = [p for p in points if _not_finite(lhs.subs(var, p)) and _not_finite(rhs.subs(var, p))]
        samples = _parameter_regimes(lhs - rhs, var, points, _sample_values(params, lhs - rhs, var)) if undefined else []
    except Undecidable:
        return []
    return [p for p in undefined if all(_infinite_on_both_sides(lhs, var, p, points, sample) for sample in samples)]


def _infinite_on_both_sides(expr: sp.Expr, var: sp.Symbol, pole: sp.Expr, points: Sequence[sp.Expr],
                            sample: Mapping[sp.Symbol, sp.Expr]) -> bool:
    """lim expr as ``var`` → pole from below and from above are ±∞ or zoo with the parameters at ``sample``: the
    branch on each side (read off between the pole and the nearest other breakpoint), its limit by SymPy. A limit
    SymPy cannot take, a finite one or none (oscillation) is no infinity."""
    at = pole.subs(sample)
    for probe, direction in zip(probes_beside(at, [p.subs(sample) for p in points]), ("-", "+")):
        try:
            branch = resolve_branches(expr, {**sample, var: probe}).subs(sample)
            limit = sp.limit(branch, var, at, direction)
        except (ValueError, TypeError, NotImplementedError, ZeroDivisionError, RecursionError):
            return False
        if limit not in (sp.oo, sp.S.NegativeInfinity, sp.zoo):
            return False
    return True


def prove_equal(lhs: sp.Expr, rhs: sp.Expr, var: sp.Symbol, params: Mapping[sp.Symbol, object] | None = None,
                exclude: Sequence[sp.Expr] = (), exclude_label: str = "kink", jumps_of: sp.Expr | None = None) -> Proof:
    """lhs − rhs ≡ 0 for every real ``var`` (:func:`~symdl.symbolic.proof.prove_zero`), at a pole neither finite.

    At a pole (see the module docstring) both sides are infinite or undefined:
    there they agree when they are the same signed infinity, or neither is a
    signed one; their one-sided limits agree because the sides are proven equal
    on both sides of it. ``exclude`` (named ``exclude_label``) and ``jumps_of`` as for ``prove_zero``.
    """
    found = [p for p in poles(lhs, rhs, var, params) if p not in exclude]
    if not found:
        return prove_zero(lhs - rhs, var, params, exclude=exclude, exclude_label=exclude_label, jumps_of=jumps_of)
    proof = prove_zero(lhs - rhs, var, params, exclude=(*exclude, *found), exclude_label=None, jumps_of=jumps_of)
    if not proof:
        return proof
    for pole in found:
        left, right = lhs.subs(var, pole), rhs.subs(var, pole)
        signed = {v for v in (left, right) if v in (sp.oo, sp.S.NegativeInfinity)}
        if signed and left != right:
            return Proof(False, f"at the pole {var} = {pole} one side is {left}, the other {right}", proof.cases)
    where = ", ".join(map(str, found))
    note = f"; at the pole{'s' if len(found) > 1 else ''} {where} neither side is finite (equal on both sides of it)"
    return Proof(True, proof.method + excluded_note(exclude, exclude_label) + note, proof.cases)
