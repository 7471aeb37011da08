"""Identities with floor, ceiling or round: refuted at an exact point, proven with each jump function generalised.

Each of these functions jumps at infinitely many points (every integer, or
half-integer, of its argument), so the case analysis of
:func:`symdl.symbolic.proof.prove_zero` cannot cover the line. Two sound steps
remain, and otherwise the identity is undecided:

* **Refuted** at an exact point where the expression is not 0 (integers,
  half-integers and other simple rationals are tried: ⌊z⌋ + 1 ≡ ⌈z⌉ fails at
  z = 0 only). A derivative claim on a function f with jumps is not made where
  f jumps, nor at f's kinks between its jumps (:func:`kinks_between_jumps`,
  excluded as kinks are, whose value is a convention): no refutation there
  (:func:`off_jumps`).
* **Proven** when it is 0 with each floor/ceiling/round replaced by an
  independent real number (zero for all values implies zero for the values they
  take): (⌊z⌋ + 1)² − ⌊z⌋² − 2⌊z⌋ − 1 ≡ 0, or ∂(z·⌊z⌋)/∂z = ⌊z⌋.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import sympy as sp

from .regimes import Undecidable, _sample_values, allowed, breakpoints
from .rounding import at_jump, floor, jump_atoms
from .rounding import round as round_half_even
from .witnesses import _confirmed, _witness_points

__all__ = [
    "breakpoints_between_jumps", "generalised", "jump_counterexample", "kinks_at_jumps", "kinks_between_jumps", "off_jumps",
    "undecided_reason",
]

#: Values of the variable tried first: the jumps of floor/ceiling (integers) and of round (half-integers), and between.
_PROBES = tuple(sp.Rational(n, 4) for n in (0, 4, -4, 2, -2, 6, -6, 8, -8, 10, 1, -3, 5, -7, 12, -12))
#: Values of the other symbols tried beside their generic sample: integers and half-integers, where ⌊y⌋ + 1 ≠ ⌈y⌉.
_OTHER_VALUES = (sp.Integer(0), sp.Integer(1), sp.Rational(-1, 2), sp.Rational(3, 2))
#: Where floor and ceiling jump (an integer argument) and where round does (a half-integer), tried by :func:`_at_jumps`.
_INTEGERS = tuple(sp.Integer(n) for n in (0, 1, -1, 2, -2, 3))
_HALF_INTEGERS = tuple(sp.Rational(n, 2) for n in (1, -1, 3, -3, 5, -5))


def jump_counterexample(
    expr: sp.Expr, var: sp.Symbol, params: Mapping[sp.Symbol, object] | None, keep: Callable[[Mapping], bool],
) -> dict | None:
    """An exact point where ``expr`` is not 0 (confirmed at 30 and 50 digits) among integers, half-integers and other
    simple rationals of ``var`` (the other symbols at generic values and at jumps of their own), where ``keep``."""
    base = _sample_values(params, expr, var)
    others = [s for s in base if (params or {}).get(s) is None]
    # each other symbol at the value where it may jump, when its declared sign allows it (else at its generic sample)
    settings = [base, *({**base, **{s: v for s in others if allowed(s, v)}} for v in _OTHER_VALUES)]
    candidates = [{**setting, var: v} for setting in settings for v in _PROBES]
    candidates += [{**base, var: point[var]} for point in _witness_points(expr, var)]  # the others keep their sign
    candidates += _at_jumps(expr, var, base)
    return _confirmed(expr, [p for p in candidates if keep(p)])


def _at_jumps(expr: sp.Expr, var: sp.Symbol, base: Mapping[sp.Symbol, sp.Expr]) -> list[dict]:
    """Points where a floor or ceiling of ``expr`` jumps (its argument an integer) or a round does (a half-integer):
    each argument linear in a symbol s solved for s, the other symbols at ``base`` (``var`` at each of the probes).

    The ties that tell functions apart are not always at the probes: round(a) − ⌊a + 1/2⌋ is 0 at a = ±1/2, ±3/2
    (half to even: round(−1/2) = 0 = ⌊0⌋, round(3/2) = 2 = ⌊2⌋) but −1 at a = 1/2.
    """
    found: list[dict] = []
    for atom in sorted(jump_atoms(expr), key=sp.default_sort_key):
        targets = _HALF_INTEGERS if isinstance(atom, round_half_even) else _INTEGERS
        for s in sorted(atom.args[0].free_symbols, key=str):
            rest = [dict(base)] if s == var else [{**base, var: v} for v in _PROBES]
            for at in rest:
                line = atom.args[0].xreplace({o: v for o, v in at.items() if o != s})
                slope = sp.diff(line, s)
                if not (slope.is_number and slope != 0 and line.is_polynomial(s)):
                    continue  # not linear in s alone: its jumps are not solved for here
                offset = line.xreplace({s: 0})
                found += [{**at, s: (target - offset) / slope} for target in targets
                          if allowed(s, (target - offset) / slope)]
    return found


def kinks_between_jumps(f: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Where ``f`` or its derivative may switch branch in ``var`` apart from the jumps of its floor, ceiling and round
    (:func:`breakpoints_between_jumps`): there a derivative's value is a convention. Undecidable as breakpoints are."""
    found: list[sp.Expr] = []
    for e in (f, sp.diff(f, var)):
        found += [b for b in breakpoints_between_jumps(e, var) if b not in found]
    return found


def off_jumps(f: sp.Expr, var: sp.Symbol, kinks: Sequence[sp.Expr]) -> Callable[[Mapping], bool]:
    """point ↦ whether ``f`` is differentiable in ``var`` there as far as the case analysis sees: no floor, ceiling or
    round of ``f`` jumps there, and ``var`` is at none of ``kinks`` nor of the kinks that move with the jump functions'
    values (:func:`kinks_at_jumps`), read at the point's values (unknown: at one)."""
    atoms = jump_atoms(f)
    try:
        moving = kinks_at_jumps(f, var)
    except Undecidable:
        return lambda point: False  # f's kinks unknown: no point is known to be off them

    def keep(point: Mapping) -> bool:
        at = dict(point)
        if any(at_jump(a, at) for a in atoms):
            return False
        gaps = [(k - var).xreplace(at) for k in (*kinks, *moving)]
        return all(g.is_number and g.is_zero is False for g in gaps)

    return keep


def generalised(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each outermost floor, ceiling and round a fresh real symbol (one per distinct call), after
    ⌈x⌉ = −⌊−x⌋ (so that ⌈z⌉ + ⌊−z⌋ is 0 before any symbol is fresh)."""
    return _generalised_by(expr)[0]


def _generalised_by(expr: sp.Expr) -> tuple[sp.Expr, dict[sp.Expr, sp.Dummy]]:
    """:func:`generalised` and its fresh symbols by the floor or round each stands for."""
    expr = expr.replace(lambda e: isinstance(e, sp.ceiling), lambda e: -floor(-e.args[0]))
    fresh = {a: sp.Dummy(f"n{k}", real=True) for k, a in enumerate(sorted(jump_atoms(expr), key=sp.default_sort_key))}
    return expr.xreplace(fresh), fresh


def kinks_at_jumps(f: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Where ``f`` or its derivative switches branch at a place that moves with the values of its floor, ceiling and
    round (infinitely many places, never listed), in those functions: |z − ⌊z⌋ − 1/2| → [⌊z⌋ + 1/2]."""
    found: list[sp.Expr] = []
    for e in (f, sp.diff(f, var)):
        general, fresh = _generalised_by(e)
        back = {s: a for a, s in fresh.items()}
        found += [p.xreplace(back) for p in breakpoints(general, var) if p.free_symbols & set(back)]
    return found


def undecided_reason(expr: sp.Expr, jumps_of: sp.Expr | None = None) -> str:
    """The one line of an undecided identity: which jump functions (of ``expr`` or of the function ``jumps_of`` whose
    derivative is claimed), and why no case analysis covers them."""
    atoms = jump_atoms(expr) | (jump_atoms(jumps_of) if jumps_of is not None else set())
    names = sorted({"round" if type(a).__name__ == "round" else type(a).__name__ for a in atoms})
    return (
        f"undecided: cannot prove identities with {' and '.join(names)}: infinitely many jumps "
        "(no exact counterexample found, and not an identity with each of them an independent number)"
    )



def breakpoints_between_jumps(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """The breakpoints of ``expr`` in ``var`` (:func:`~symdl.symbolic.regimes.breakpoints`) other than the jumps of
    its floor, ceiling and round, and those that do not move with their values: where(z > 0, ⌊z⌋, z²) → [0]."""
    general = generalised(expr)
    fresh = general.free_symbols - expr.free_symbols
    return [p for p in breakpoints(general, var) if not p.free_symbols & fresh]
