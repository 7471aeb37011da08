"""Exact identities: show that a SymPy expression is zero for every real value of a variable.

Smooth expressions are rewritten to exp/log and simplified. Piecewise
expressions (``Piecewise``, ``Abs``, ``sign``, ``Min``/``Max``) are proven by
case analysis: the breakpoints in the variable are found by solving every
condition and every ``Abs``/``sign`` argument for it; on each open interval
between breakpoints one branch holds throughout, so the expression there is a
single smooth formula, which must simplify to 0 identically (in the variable
and all parameters); at each breakpoint the exact value must be 0.
Which branch holds on an interval is read off at one point of it, with
parameters at sample values of their declared sign; that is valid because
conditions change only at breakpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

from .functions import NamedFunction

__all__ = ["Proof", "elementary", "breakpoints", "prove_zero", "resolve_branches", "one_sided_values"]

_PIECEWISE_ATOMS = (sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Min, sp.Max)


@dataclass(frozen=True)
class Proof:
    """The outcome of :func:`prove_zero`: whether ``expr`` ≡ 0, and how it was shown."""

    holds: bool
    method: str
    cases: int = 1

    def __bool__(self) -> bool:
        return self.holds


def elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with named functions and numpy primitives rewritten to exp/log/Abs/Piecewise."""
    expr = expr.replace(lambda e: isinstance(e, NamedFunction), lambda e: type(e).definition(*e.args))
    expr = expr.replace(lambda e: isinstance(e, logaddexp), lambda e: sp.log(sp.exp(e.args[0]) + sp.exp(e.args[1])))
    expr = expr.replace(lambda e: isinstance(e, log1p), lambda e: sp.log(1 + e.args[0]))
    expr = expr.replace(lambda e: isinstance(e, expm1), lambda e: sp.exp(e.args[0]) - 1)
    return expr


def _sample_values(params: Mapping[sp.Symbol, object] | None, expr: sp.Expr, var: sp.Symbol) -> dict:
    """Sample values for the parameters, used only to decide which branch holds (never in the identity)."""
    subs: dict[sp.Symbol, sp.Expr] = {}
    for i, s in enumerate(sorted(expr.free_symbols - {var}, key=str)):
        value = (params or {}).get(s)
        if value is None or not sp.sympify(value).is_number:
            # Distinct irrational-looking rationals: no accidental ties between breakpoints.
            value = sp.Rational(13 + 4 * i, 11) * (-1 if s.is_negative else 1)
        subs[s] = sp.sympify(value)
    return subs


def breakpoints(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Every value of ``var`` where a condition, ``Abs``, ``sign`` or ``Min``/``Max`` of ``expr`` may switch."""
    expr = elementary(expr).rewrite(sp.Piecewise) if expr.has(sp.Min, sp.Max) else elementary(expr)
    edges: list[sp.Expr] = []
    for pw in expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            for rel in cond.atoms(sp.core.relational.Relational):
                edges.append(rel.lhs - rel.rhs)
    edges += [f.args[0] for f in expr.atoms(sp.Abs, sp.sign, sp.Heaviside)]
    points: list[sp.Expr] = []
    for edge in edges:
        if not edge.has(var):
            continue
        for root in sp.solve(edge, var):
            if root.is_real is not False and root not in points:
                points.append(root)
    return points


def resolve_branches(expr: sp.Expr, at: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``expr`` with each Piecewise, Abs, sign, Min and Max replaced by the branch that holds at ``at``."""
    expr = elementary(expr)
    for _ in range(50):
        if not expr.has(*_PIECEWISE_ATOMS):
            return expr
        expr = expr.replace(lambda e: isinstance(e, (sp.Min, sp.Max)), lambda e: e.rewrite(sp.Piecewise))
        expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: _pick(e, at))
        expr = expr.replace(lambda e: isinstance(e, sp.Abs), lambda e: _signed(e.args[0], at) * e.args[0])
        expr = expr.replace(lambda e: isinstance(e, sp.sign), lambda e: _signed(e.args[0], at, zero=True))
        expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: (1 + _signed(e.args[0], at)) / 2)
    raise ValueError(f"could not resolve the branches of {expr}")


def _pick(pw: sp.Piecewise, at: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    for value, cond in pw.args:
        truth = cond.subs(at) if cond not in (sp.true, sp.false) else cond
        if truth == sp.true:
            return value
        if truth != sp.false:
            raise ValueError(f"cannot decide the condition {cond} at {dict(at)}")
    raise ValueError(f"no branch of {pw} holds at {dict(at)}")


def _signed(arg: sp.Expr, at: Mapping[sp.Symbol, sp.Expr], zero: bool = False) -> sp.Expr:
    value = sp.sign(sp.N(arg.subs(at), 30))
    if value == 0 and not zero:
        return sp.S.One
    return value


def _numeric_witness(expr: sp.Expr) -> bool:
    """True when ``expr`` is clearly nonzero at a sample point: a counterexample, found before any simplify."""
    atoms = sorted(expr.free_symbols | expr.atoms(sp.Indexed), key=str)
    atoms = [a for a in atoms if not (isinstance(a, sp.Symbol) and any(a == i.base.label for i in expr.atoms(sp.Indexed)))]
    for trial in range(2):
        point = {a: sp.Rational(7 + 3 * t + trial, 13 + trial) * (1 if a.is_positive or t % 2 else -1) for t, a in enumerate(atoms)}
        try:
            value = sp.N(expr.xreplace(point), 30)
        except (TypeError, ValueError, ZeroDivisionError, RecursionError):
            return False
        if not value.is_real or not value.is_finite:
            return False
        if abs(value) > 1e-20:
            return True
    return False


def _is_zero_smooth(expr: sp.Expr) -> bool:
    expr = elementary(expr)
    if expr == 0:
        return True
    if _numeric_witness(expr):
        return False
    for step in (sp.expand, sp.cancel, sp.simplify):
        try:
            if step(expr) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError, RecursionError):
            continue
    rewritten = expr.rewrite(sp.exp)
    for step in (sp.expand, sp.cancel, sp.simplify):
        if step(rewritten) == 0:
            return True
    return False


def prove_zero(
    expr: sp.Expr,
    var: sp.Symbol,
    params: Mapping[sp.Symbol, object] | None = None,
    exclude: Sequence[sp.Expr] = (),
) -> Proof:
    """Show ``expr`` ≡ 0 for every real ``var`` (and all parameter values of their declared sign).

    ``params`` may give sample values used only to decide which branch holds.
    ``exclude`` lists points where equality is not claimed (kinks, whose
    value is a convention checked separately).
    """
    expr = elementary(sp.sympify(expr))
    if not expr.has(*_PIECEWISE_ATOMS):
        return Proof(_is_zero_smooth(expr), "simplify")
    sample = _sample_values(params, expr, var)
    points = breakpoints(expr, var)
    numeric = sorted({sp.N(p.subs(sample), 30): p for p in points}.items(), key=lambda kv: kv[0])
    values = [v for v, _ in numeric]
    probes = [values[0] - 1] if values else [sp.Integer(0)]
    probes += [(a + b) / 2 for a, b in zip(values, values[1:])]
    probes += [values[-1] + 1] if values else []
    cases = 0
    for probe in probes:
        branch = resolve_branches(expr, {**sample, var: probe})
        cases += 1
        if not _is_zero_smooth(branch):
            return Proof(False, f"case analysis: nonzero on the interval around {var} = {probe}", cases)
    excluded = {sp.N(p.subs(sample), 30) for p in exclude}
    for value, point in numeric:
        if value in excluded:
            continue
        cases += 1
        at_point = resolve_branches(expr.subs(var, point), sample)
        exact_at_point = expr.subs(var, point)
        if not exact_at_point.has(*_PIECEWISE_ATOMS):
            at_point = exact_at_point
        if not _is_zero_smooth(at_point):
            return Proof(False, f"case analysis: nonzero at {var} = {point}", cases)
    skipped = f" (kinks {', '.join(map(str, exclude))} excluded)" if exclude else ""
    return Proof(True, f"case analysis over {len(probes)} intervals and {len(numeric)} breakpoints{skipped}", cases)


def one_sided_values(
    expr: sp.Expr, var: sp.Symbol, point: sp.Expr, params: Mapping[sp.Symbol, object] | None = None
) -> tuple[sp.Expr, sp.Expr]:
    """(lim from below, lim from above) of ``expr`` at ``var = point``, branch by branch."""
    expr = elementary(sp.sympify(expr))
    sample = _sample_values(params, expr, var)
    where = sp.N(point.subs(sample), 30)
    others = [sp.N(p.subs(sample), 30) for p in breakpoints(expr, var)]
    gap = min([abs(o - where) for o in others if abs(o - where) > 1e-20] + [sp.Integer(1)]) / 2
    sides = []
    for probe in (where - gap, where + gap):
        branch = resolve_branches(expr, {**sample, var: probe})
        sides.append(sp.simplify(branch.subs(var, point)))
    return sides[0], sides[1]
