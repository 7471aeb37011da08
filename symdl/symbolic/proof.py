"""Exact identities: show that a SymPy expression is zero for every real value of a variable.

Smooth expressions are rewritten to exp/log and simplified. Piecewise
expressions (``Piecewise``, ``Abs``, ``sign``, ``Min``/``Max``) are proven by
case analysis: the breakpoints in the variable are found by solving every
condition and every ``Abs``/``sign`` argument for it; on each open interval
between breakpoints one branch holds throughout, so the expression there is a
single smooth formula, which must simplify to 0 identically (in the variable
and all parameters); at each breakpoint the exact value must be 0.
Which branch holds on an interval is read off at one point of it; that is
valid because conditions change only at breakpoints. Parameters are sampled
once in each *regime*: between the values where two breakpoints swap order, a
condition on parameters alone switches, or a parameter of unknown sign
crosses 0. Conditions with infinitely many switch points (periodic ones) are
refused as undecided rather than truncated; floor, ceiling and round, which
jump infinitely often, are refuted only at exact points or proven with each
one an independent number (:mod:`symdl.symbolic.jumps`), else undecided.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp

from .branch_at import PIECEWISE_ATOMS, branch_and_value_at, resolve_branches
from .exp_sums import real_with_positive_logs
from .functions import NamedFunction
from .jumps import (
    generalised,
    jump_counterexample,
    kinks_between_jumps,
    off_jumps,
    undecided_reason,
)
from .real_conditions import substituted
from .regimes import (
    Undecidable,
    _parameter_regimes,
    _sample_values,
    beyond_end,
    breakpoints,
    elementary,
    generic_samples,
    is_degenerate,
    probes_beside,
    separating_digits,
)
from .rounding import has_jumps
from .witnesses import (
    _confirmed,
    _numeric_witness,
    _off,
    _rationals_inside,
    _witness_points,
)

__all__ = [
    "Undecidable", "Proof", "prove_named_function", "elementary", "breakpoints", "excluded_note", "prove_zero",
    "resolve_branches", "one_sided_values",
]

@dataclass(frozen=True)
class Proof:
    """The outcome of :func:`prove_zero`: whether ``expr`` ≡ 0, and how it was shown."""

    holds: bool
    method: str
    cases: int = 1
    #: When the identity fails: a point (the variable and every free symbol → an exact number, rational where one
    #: serves) where the expression is nonzero, confirmed with 50-digit arithmetic; None when it holds or no such
    #: point was found.
    counterexample: Mapping[sp.Symbol, sp.Expr] | None = field(default=None, compare=False, hash=False)

    def __bool__(self) -> bool:
        return self.holds


def _generalised(expr: sp.Expr) -> sp.Expr | None:
    """``expr`` with each compound argument b of exp/tanh/… (up to a rational factor: 2b, −b) a fresh symbol; None if none.

    Zero for independent symbols implies zero on the curve where they equal
    their arguments, and SymPy simplifies tanh(w) far faster than tanh(√(2/π)(z + 0.044715z³)).
    """
    bases: dict[sp.Expr, sp.Symbol] = {}
    for f in expr.atoms(sp.exp, sp.tanh, sp.sinh, sp.cosh, sp.log, sp.erf):
        _, base = f.args[0].as_coeff_Mul()
        if not base.is_Symbol and base.free_symbols and base not in bases:
            bases[base] = sp.Dummy(f"w{len(bases)}", real=True)
    if not bases:
        return None

    def swap(f: sp.Expr) -> sp.Expr:
        coeff, base = f.args[0].as_coeff_Mul()
        return f.func(coeff * bases[base]) if base in bases else f

    out = expr.replace(lambda e: isinstance(e, (sp.exp, sp.tanh, sp.sinh, sp.cosh, sp.log, sp.erf)), swap)
    return out


def _is_zero_by(step: Callable[[sp.Expr], sp.Expr], expr: sp.Expr) -> bool:
    """``step(expr) == 0`` (an exact rewriting), False where SymPy's step fails on the expression."""
    try:
        return bool(step(expr) == 0)
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        return False


@functools.lru_cache(maxsize=2048)
def _logs_of_together(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each log's argument over one factored denominator: the same value, and SymPy sees more signs.

    log((1 − σ(z))·σ(z)) is real, but SymPy cannot tell the sign of 1 − 1/(1 + e⁻ᶻ); of e⁻ᶻ/(1 + e⁻ᶻ)² it can.
    """
    return expr.replace(lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.factor(sp.together(e.args[0]))))


@functools.lru_cache(maxsize=2048)
def _is_zero_smooth(expr: sp.Expr) -> bool:
    """``expr`` (no branches) ≡ 0, shown by exact rewriting; once per process for each expression (a pure function
    of it: a rule's proofs, its mutants and the intervals of a case analysis meet the same branch again)."""
    expr = elementary(expr)
    # erfc u = 1 − erf u exactly (for proofs only: numerically it cancels); erf(−u) = −erf u then simplifies.
    expr = expr.replace(lambda e: isinstance(e, sp.erfc), lambda e: 1 - sp.erf(e.args[0]))
    if expr == 0:
        return True
    # An exact step that shows 0 needs no search for a counterexample first (that costs 4 evaluations at 30 digits).
    if _is_zero_by(sp.expand, expr) or _is_zero_by(sp.cancel, expr):
        return True
    if _numeric_witness(expr):
        return False
    general = _generalised(expr)
    if general == 0:
        return True
    rewritten = expr.rewrite(sp.exp)
    generalised = [general.rewrite(sp.exp)] if general is not None else []
    # Cheap exact steps on every form before any simplify: a rational function of exponentials is 0 iff it cancels
    # to 0 (softmax's VJPs: expand or cancel in milliseconds, where simplify took a tenth of a second to seconds).
    for step in (sp.expand, sp.cancel):
        if any(_is_zero_by(step, form) for form in (expr, rewritten, *generalised)):
            return True
    real_logs = expr.has(sp.log) and (expr.is_real is True or _logs_of_together(expr).is_real is True
                                      or real_with_positive_logs(expr))
    if real_logs and _is_zero_by(_exponentiated_minus_one, rewritten):
        return True  # the exponential step below, cancelled instead of simplified: milliseconds (log_cosh's far branch)
    if any(_is_zero_by(sp.simplify, form) for form in (*generalised, expr, rewritten)):
        return True
    if real_logs:
        # A real e is 0 iff e^e = 1; exponentiating turns sums of logs into products SymPy can cancel.
        return sp.simplify(sp.powsimp(sp.exp(rewritten), force=True) - 1) == 0
    return False


def _exponentiated_minus_one(expr: sp.Expr) -> sp.Expr:
    """e^expr − 1 with the powers combined and cancelled: 0 shows a real ``expr`` is 0 (e^e = 1 iff e = 0)."""
    return sp.cancel(sp.powsimp(sp.exp(expr), force=True) - 1)


def prove_zero(expr: sp.Expr, var: sp.Symbol, params: Mapping[sp.Symbol, object] | None = None,
               exclude: Sequence[sp.Expr] = (), exclude_label: str | None = "kink", jumps_of: sp.Expr | None = None) -> Proof:
    """Show ``expr`` ≡ 0 for every real ``var`` (and all parameter values of their declared sign).

    ``params`` may give sample values used only to decide which branch holds.
    ``exclude`` lists points where equality is not claimed (kinks, whose
    value is a convention checked separately); a proof's method names them
    with ``exclude_label`` (:func:`excluded_note`), or not at all when it is
    None (a caller that names what it excluded itself). ``jumps_of``: equality
    is not claimed where a floor, ceiling or round of this expression jumps
    either (a derivative's claim, where the function has no derivative). An
    expression with floor, ceiling or round is refuted only at an exact point,
    proven only with each of them an independent number
    (:func:`symdl.symbolic.jumps.prove_with_jumps`), and undecided otherwise.
    """
    if not isinstance(var, sp.Symbol):
        raise TypeError(f"prove_zero: var must be a SymPy Symbol, got {type(var).__name__}")
    if isinstance(expr, str) or not isinstance(sp.sympify(expr, strict=True), sp.Expr):  # strict: never parses text
        raise TypeError("prove_zero: expr must be a SymPy expression (parse text with symdl.symbolic.parse first)")
    expr = elementary(sp.sympify(expr, strict=True))  # strict: never parses text
    if has_jumps(expr) or (jumps_of is not None and has_jumps(jumps_of, var)):
        return _with_jumps(expr, var, params, exclude, exclude_label, jumps_of)
    if not expr.has(*PIECEWISE_ATOMS):
        if _is_zero_smooth(expr):
            return Proof(True, "simplify")
        return Proof(False, "simplify", counterexample=_confirmed(expr, _off(_witness_points(expr, var), var, exclude)))
    try:
        points = breakpoints(expr, var)
        regimes = _parameter_regimes(expr, var, points, _sample_values(params, expr, var))
    except Undecidable as why:
        return Proof(False, f"undecided: {why}")
    cases = 0
    checked: set[frozenset] = set()  # each sample's (symbol, value) pairs: a list's `in` compared thousands of dicts
    for sample in regimes:  # in order, the generic samples beside a degenerate one appended as it goes
        if frozenset(sample.items()) in checked:
            continue
        checked.add(frozenset(sample.items()))
        try:
            if sample and is_degenerate(expr, var, points, sample):
                outcome = _prove_at_parameters(expr, var, sample, exclude)
                regimes += generic_samples(expr, var, points, sample)
            else:
                outcome = _prove_in_regime(expr, var, points, sample, exclude)
        except Undecidable as why:
            return Proof(False, f"undecided: {why}", cases)
        cases += outcome.cases
        if not outcome:
            return Proof(False, outcome.method, cases, outcome.counterexample)
    skipped = excluded_note(exclude, exclude_label) if exclude_label is not None else ""
    regime_note = f" in {len(checked)} parameter regimes" if len(checked) > 1 else ""
    return Proof(True, f"case analysis on {_intervals(len(points))}{regime_note}{skipped}", cases)


def _with_jumps(expr: sp.Expr, var: sp.Symbol, params: Mapping[sp.Symbol, object] | None, exclude: Sequence[sp.Expr],
                exclude_label: str | None, jumps_of: sp.Expr | None) -> Proof:
    """:func:`prove_zero` where floor, ceiling or round jump infinitely often (in ``expr``, or in ``jumps_of``, a function
    whose derivative is claimed): see :mod:`symdl.symbolic.jumps`."""
    try:  # a derivative's claim is not made where f jumps, nor at f's kinks between its jumps (their value is a convention)
        kinks = kinks_between_jumps(jumps_of, var) if jumps_of is not None else []
    except Undecidable as why:
        return Proof(False, f"undecided: {why}")
    differentiable = off_jumps(jumps_of, var, kinks) if jumps_of is not None else (lambda point: True)
    off = exclude if not kinks else (*exclude, *kinks)

    def allowed(point: Mapping) -> bool:
        return bool(_off([point], var, off)) and differentiable(point)

    point = jump_counterexample(expr, var, params, allowed)
    if point is not None:
        return Proof(False, f"nonzero at {', '.join(f'{s} = {v}' for s, v in point.items())}", counterexample=point)
    general = generalised(expr)
    fresh = {s: None for s in general.free_symbols - expr.free_symbols}
    proof = prove_zero(general, var, {**(params or {}), **fresh}, off, exclude_label)
    if proof:
        note = ", each floor, ceiling and round an independent number" if fresh else ""
        where = excluded_note(kinks, "kink between the jumps") if jumps_of is not None else ""
        return dataclasses.replace(proof, method=f"{proof.method}{note}{where}")
    if not fresh and proof.counterexample is not None and allowed(proof.counterexample):  # a point of expr itself
        return proof
    return Proof(False, undecided_reason(expr, jumps_of))


def excluded_note(points: Sequence[sp.Expr], label: str) -> str:
    """How a proof's method names the points it excluded: ', the kinks 0, 1 excluded' ('' for none)."""
    if not points:
        return ""
    return f", the {label}{'s' if len(points) > 1 else ''} {', '.join(map(str, points))} excluded"


def _intervals(count: int) -> str:
    """The pieces the breakpoints cut the line into, in words: 'the 2 intervals cut by 1 breakpoint'."""
    if count == 0:
        return "the whole line, which has no breakpoints"
    return f"the {count + 1} intervals cut by {count} breakpoint{'s' if count > 1 else ''}"


def _prove_in_regime(
    expr: sp.Expr, var: sp.Symbol, points: list[sp.Expr], sample: Mapping[sp.Symbol, sp.Expr], exclude: Sequence[sp.Expr]
) -> Proof:
    at_sample = [substituted(p, sample) for p in points]
    digits = separating_digits(at_sample)
    numeric = sorted({sp.N(value, digits): p for value, p in zip(at_sample, points)}.items(), key=lambda kv: kv[0])
    values = [v for v, _ in numeric]
    probes = [beyond_end(values[0], -1)] if values else [sp.Integer(0)]
    probes += [(a + b) / 2 for a, b in zip(values, values[1:])]
    probes += [beyond_end(values[-1], 1)] if values else []
    ends: list[sp.Expr | None] = [None, *values, None]
    symbolic_ends: list[sp.Expr | None] = [None, *(p for _, p in numeric), None]
    where = f" with {dict(sample)}" if sample else ""
    cases = 0
    for k, probe in enumerate(probes):
        cases += 1
        branch = resolve_branches(expr, {**sample, var: probe})
        if not (_is_zero_smooth(branch) or _is_zero_on_one_side(branch, var, symbolic_ends[k], symbolic_ends[k + 1])):
            inside = _off([{**sample, var: r} for r in [*_rationals_inside(ends[k], ends[k + 1]), sp.Rational(probe)]],  # (1, 1 + 10⁻³⁵)
                          var, exclude)
            method = f"case analysis: nonzero on the interval around {var} = {probe}{where}"
            return Proof(False, method, cases, _confirmed(expr, inside))
    excluded = {sp.N(substituted(p, sample), digits) for p in exclude}
    for value, point in numeric:
        if value in excluded:
            continue
        cases += 1
        # What is read at the point: expr, or the branch that holds there where SymPy cannot substitute into expr.
        try:
            there, exact_at_point = branch_and_value_at(expr, var, point, sample)
        except (TypeError, ValueError):  # the condition that decides has a pole there (1/z > 0 at z = 0): no value
            return Proof(False, f"case analysis: a condition has no value at {var} = {point}{where}", cases)
        at_point = exact_at_point if not exact_at_point.has(*PIECEWISE_ATOMS) else resolve_branches(exact_at_point, sample)
        if not _is_zero_smooth(at_point):
            method = f"case analysis: nonzero at {var} = {point}{where}"
            return Proof(False, method, cases, _confirmed(there, [{**sample, var: point}]))
    return Proof(True, "case analysis", cases)


def _is_zero_on_one_side(branch: sp.Expr, var: sp.Symbol, lo: sp.Expr | None, hi: sp.Expr | None) -> bool:
    """``branch`` ≡ 0 for ``var`` = lo + t or hi − t, t > 0, where lo and hi are the interval's breakpoints (None:
    unbounded): a claim on (lo, ∞) or (−∞, hi), which hold the interval, for every parameter value. SymPy then sees
    log((z − 1)²) = 2 log(1 − z) for z < 1. Never z = ±t by the sign of an end read at the regime's sample: c − 1 > 0
    at c = 13/11 but not for c < 1, where (c − 1, ∞) holds negative z."""
    t = sp.Dummy("t", positive=True)
    shifted = [branch.xreplace({var: end + side * t}) for end, side in ((lo, 1), (hi, -1)) if end is not None]
    return any(_is_zero_smooth(form) for form in shifted)


def _prove_at_parameters(expr: sp.Expr, var: sp.Symbol, sample: Mapping[sp.Symbol, sp.Expr], exclude: Sequence[sp.Expr]) -> Proof:
    """``expr`` ≡ 0 in ``var`` with every parameter at its (degenerate) sample value: branches resolved there are exact."""
    concrete = expr.subs(sample)
    outcome = _prove_in_regime(concrete, var, breakpoints(concrete, var), {}, [p.subs(sample) for p in exclude])
    point = {**sample, **outcome.counterexample} if outcome.counterexample else None
    return Proof(outcome.holds, f"{outcome.method} with {dict(sample)} exactly", outcome.cases, point)


def one_sided_values(
    expr: sp.Expr, var: sp.Symbol, point: sp.Expr, params: Mapping[sp.Symbol, object] | None = None
) -> tuple[sp.Expr, sp.Expr]:
    """(lim from below, lim from above) of ``expr`` at ``var = point``, branch by branch."""
    expr = elementary(sp.sympify(expr, strict=True))  # strict: never parses text
    if params is None:
        return _one_sided_values_remembered(expr, var, point)
    return _one_sided_values(expr, var, point, params)


@functools.lru_cache(maxsize=1024)
def _one_sided_values_remembered(expr: sp.Expr, var: sp.Symbol, point: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """:func:`one_sided_values` without parameter values, once per process (a rule's kinks are asked again)."""
    return _one_sided_values(expr, var, point, None)


def _one_sided_values(
    expr: sp.Expr, var: sp.Symbol, point: sp.Expr, params: Mapping[sp.Symbol, object] | None
) -> tuple[sp.Expr, sp.Expr]:
    sample = _sample_values(params, expr, var)
    sides = []
    for probe in probes_beside(point.subs(sample), [p.subs(sample) for p in breakpoints(expr, var)]):
        branch = resolve_branches(expr, {**sample, var: probe})
        sides.append(sp.simplify(branch.subs(var, point)))
    return sides[0], sides[1]


def prove_named_function(function: type[NamedFunction]) -> dict[str, Proof]:
    """A named function's claims (proven once per process): fdiff = d/dx definition; stable, differentiable, reference = definition."""
    return dict(_named_function_proofs(function))  # type: ignore[arg-type]  # a class is hashable; SymPy's untyped metaclass hides it


@functools.lru_cache(maxsize=64)
def _named_function_proofs(function: type[NamedFunction]) -> tuple[tuple[str, Proof], ...]:
    x = sp.Symbol("x", real=True)
    definition = function.definition(x)
    proofs = {
        f"{function.__name__}: fdiff - d/dx definition": prove_zero(
            elementary(function(x).diff(x)) - sp.diff(definition, x), x
        ),
        f"{function.__name__}: stable form - definition": prove_zero(function.stable(x) - definition, x),
    }
    if function.differentiable(x) != function.stable(x):
        label = f"{function.__name__}: differentiable form - definition"
        proofs[label] = prove_zero(function.differentiable(x) - definition, x)
    if function.reference(x) not in (definition, function.stable(x), function.differentiable(x)):
        label = f"{function.__name__}: reference form - definition"
        proofs[label] = prove_zero(function.reference(x) - definition, x)
    return tuple(proofs.items())
