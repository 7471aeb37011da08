"""Piecewise(vᵢ, cᵢ) → Piecewise(vᵢ[x := guard(x)], cᵢ): every branch evaluated only where it is taken.

Printed code evaluates *every* branch of a ``where`` (numpy, ``jnp.where``,
``torch.where``) and then selects, so ``where(z > 0, z, exp(z) − 1)`` computes
e^{1000} for z = 1000 and overflows, although that value is thrown away; in
JAX and PyTorch the thrown-away branch's ``inf`` also turns the gradient into
NaN (0·∞). :func:`guard_branches` substitutes, in each branch that could
overflow or leave its domain, a *guarded* input for every variable the
branch's region bounds: a value equal to the input inside the region and a
point of the region outside it. Inside the region nothing changes (proven by
:func:`prove_guarded`); outside it the branch is evaluated at a point where it
is defined, and its value is discarded.

Branch i's region is what cᵢ and the negations of c₁ … cᵢ₋₁ say about each
single variable (comparisons of an expression linear in one variable with a
number); a variable confined to an interval I gets the guard

* max(x, lo), min(x, hi) or both (a clip) when I's finite ends are closed
  (numpy.maximum/minimum are cheaper than a second where);
* where(x ∈ I, x, s) for an open end, s a point of I (lo + 1, hi − 1 or the
  midpoint) — the "double where" that keeps JAX/PyTorch gradients finite;
  ``differentiable`` uses this form for closed ends too (autodiff splits the
  gradient of max(x, lo) at x = lo between both arguments).

Where a condition is not linear in the Piecewise's one input x (min(2z, 3, eᶻσ(z))), the regions are not
intervals, and the "double where" is done with the conditions themselves: each later condition is evaluated at
where(E, s, x), E the earlier conditions and s a point where none holds, and each risky branch at where(E ∨ ¬c, s′, x),
s′ a point of its own region (points tried from a short list, checked by SymPy; none found: left as is). The guard is a
:class:`GuardedChoice`, which SymPy does not fold back into the condition as it does a Piecewise.

Branches made only of +, ·, positive integer powers, |·|, sign, min/max, sin,
cos, tanh, atan, erf, erfc and symdl's named functions (printed stably) are
left as they are: they cannot overflow where their inputs are finite.

>>> z = sp.Symbol("z", real=True)
>>> guard_branches(sp.Piecewise((z, z > 0), (sp.exp(z) - 1, True)))
Piecewise((z, z > 0), (exp(Min(0, z)) - 1, True))
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.core.logic import fuzzy_and
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from .functions import NamedFunction
from .proof import Proof, prove_zero
from .shared_replace import replace_shared

__all__ = ["GuardedChoice", "GuardedInput", "branch_regions", "guard_branches", "one_sided_kinks", "prove_guarded"]

# Nodes that stay finite for finite inputs (Pow is checked apart: only positive integer exponents).
_SAFE = (
    sp.Add, sp.Mul, sp.Symbol, sp.Number, sp.NumberSymbol, sp.Abs, sp.sign, sp.Min, sp.Max, sp.Piecewise,
    sp.sin, sp.cos, sp.tanh, sp.atan, sp.erf, sp.erfc, NamedFunction, Boolean, sp.Indexed, sp.Idx,
)


def _risky(value: sp.Expr) -> bool:
    """True when ``value`` has a node that can overflow, divide by zero or leave its domain (exp, log, 1/x …)."""
    for node in sp.preorder_traversal(value):
        if isinstance(node, sp.Pow):
            if not (node.exp.is_Integer and node.exp > 0):
                return True
        elif isinstance(node, sp.Tuple) or not isinstance(node, _SAFE):
            return True
    return False


def _conjuncts(cond: sp.Basic) -> list[sp.Basic]:
    if isinstance(cond, sp.And):
        return [c for arg in cond.args for c in _conjuncts(arg)]
    return [cond]


@functools.lru_cache(maxsize=1024)
def _interval(rel: sp.Basic) -> tuple[sp.Symbol, sp.Interval] | None:
    """(x, I) when ``rel`` compares an expression linear in the one variable x with numbers, else None.

    Remembered: solving the comparison (``as_set``) costs milliseconds, and kernels ask about the same few.
    """
    if not isinstance(rel, Relational) or rel.rel_op in ("==", "!="):
        return None
    diff = rel.lhs - rel.rhs
    symbols = diff.free_symbols
    if len(symbols) != 1:
        return None
    (x,) = symbols
    if not x.is_real or not diff.is_polynomial(x) or sp.degree(diff, x) != 1:
        return None
    interval = rel.as_set()
    return (x, interval) if isinstance(interval, sp.Interval) else None


def branch_regions(pw: sp.Piecewise) -> list[dict[sp.Symbol, sp.Interval]]:
    """For each branch, the interval each variable lies in wherever the branch is taken (variables bounded only).

    Only comparisons linear in one variable count; others leave the
    variables free (an interval may be wider than the region, never narrower).
    """
    regions = []
    for i, (_, cond) in enumerate(pw.args):
        facts = _conjuncts(cond)
        for _, earlier in pw.args[:i]:
            facts += _conjuncts(sp.to_nnf(sp.Not(earlier)))
        region: dict[sp.Symbol, sp.Interval] = {}
        for fact in facts:
            found = _interval(fact)
            if found is not None:
                x, interval = found
                region[x] = region.get(x, sp.Interval(-sp.oo, sp.oo)).intersect(interval)
        regions.append({x: i for x, i in region.items() if isinstance(i, sp.Interval) and i != sp.Reals})
    return regions


class GuardedInput(sp.Piecewise):
    """where(x ∈ I, x, s) as a guard: a Piecewise that SymPy keeps inside powers (1/where(…) is not folded).

    SymPy folds Piecewise(aᵢ, cᵢ)ⁿ into Piecewise(aᵢⁿ, cᵢ), which would put 1/x back
    into a branch printed for every x.
    """

    def _eval_power(self, exponent: sp.Expr) -> None:
        return None


class GuardedChoice(sp.Function):
    """where(c, s, x), x's guard inside a condition: SymPy folds a Piecewise in a Piecewise's condition into ITE, which
    prints the unguarded comparison again; this is no Piecewise (printed as one ``where``, rewritten to one for proofs)."""

    nargs = 3

    @classmethod
    def eval(cls, x: sp.Expr, cond: sp.Basic, s: sp.Expr) -> sp.Expr | None:  # SymPy's evaluation hook
        if cond == sp.true:
            return s
        return x if cond == sp.false else None

    def _eval_is_real(self) -> bool | None:
        return fuzzy_and([self.args[0].is_real, self.args[2].is_real])

    def _eval_derivative(self, var: sp.Symbol) -> sp.Expr:
        # As a Piecewise's: each branch's derivative, the condition kept (s is a number: 0).
        x, cond, s = self.args
        return GuardedChoice(x.diff(var), cond, s.diff(var))

    def _eval_rewrite_as_Piecewise(self, x: sp.Expr, cond: sp.Basic, s: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Piecewise((s, cond), (x, True))


def _guard(x: sp.Symbol, interval: sp.Interval, differentiable: bool) -> sp.Expr:
    """An expression equal to x on ``interval`` and inside it everywhere else."""
    lo, hi = interval.start, interval.end
    finite_lo, finite_hi = lo.is_finite, hi.is_finite
    closed = (not finite_lo or not interval.left_open) and (not finite_hi or not interval.right_open)
    if closed and not differentiable:
        guarded: sp.Expr = x
        if finite_hi:
            guarded = sp.Min(guarded, hi)
        if finite_lo:
            guarded = sp.Max(guarded, lo)
        return guarded
    if finite_lo and finite_hi:
        safe = (lo + hi) / 2
    elif finite_lo:
        safe = lo + 1 if interval.left_open else lo
    else:
        safe = hi - 1 if interval.right_open else hi
    return GuardedInput((x, interval.as_relational(x)), (safe, True))


def _guard_piecewise(pw: sp.Piecewise, differentiable: bool) -> sp.Piecewise:
    branches: list[tuple[sp.Expr, sp.Basic]] = []
    guarded: list[bool] = []
    changed = False
    for (value, cond), region in zip(pw.args, branch_regions(pw)):
        # Already guarded (printing guards again what a kernel guarded first): guard once.
        done = {g.args[0][0] for g in value.atoms(GuardedInput)}
        # A rule's own stable form clamps its inputs already (elu's e^{min(z, 0)}).
        done |= {x for m in value.atoms(sp.Min, sp.Max) for x in m.args if x.is_Symbol and len(m.args) == 2 and any(a.is_number for a in m.args)}
        bounded = {x: i for x, i in region.items() if value.has(x) and x not in done and not i.is_empty}
        hit = bool(bounded) and _risky(value)
        if hit:
            value = value.xreplace({x: _guard(x, i, differentiable) for x, i in bounded.items()})
            changed = True
        branches.append((value, cond))
        guarded.append(bool(done) or hit)
    out = sp.Piecewise(*branches, evaluate=False) if changed else pw
    return _guard_after_earlier(out, guarded)


#: Points tried, in order, as the safe point of a branch whose region a nonlinear condition bounds.
_CANDIDATES = tuple(sp.Rational(n, d) for n, d in ((0, 1), (1, 1), (-1, 1), (1, 2), (-1, 2), (2, 1), (-2, 1), (3, 1),
                                                   (-3, 1), (10, 1), (-10, 1), (100, 1), (-100, 1)))


def _risky_nonnumeric(expr: sp.Basic) -> bool:
    """:func:`_risky` of ``expr`` with its constants (log 3) taken as safe."""
    return _risky(expr.xreplace({n: sp.Dummy() for n in expr.atoms(sp.Function, sp.Pow) if n.is_number}))


def _point(x: sp.Symbol, region: sp.Basic, value: sp.Basic) -> sp.Expr | None:
    """A point of :data:`_CANDIDATES` where ``region`` holds and ``value`` is a finite number (a condition: decided),
    by SymPy; else None."""
    for p in _CANDIDATES:
        if region.subs(x, p) is not sp.true:
            continue
        at = value.subs(x, p)
        if at in (sp.true, sp.false):  # a condition: decided there
            return p
        at = at.evalf(20)
        if at.is_number and at.is_finite is True and abs(at) < 1e30:
            return p
    return None


def _nonlinear(pw: sp.Piecewise) -> sp.Symbol | None:
    """x when every condition of ``pw`` is in one variable x and one comparison in them is not linear in it."""
    conds = [c for _, c in pw.args]
    symbols = set().union(*(c.free_symbols for c in conds))
    if len(symbols) != 1:
        return None
    relations = set().union(*(c.atoms(Relational) for c in conds))
    return next(iter(symbols)) if any(_interval(r) is None and not _linear_point(r) for r in relations) else None


def _linear_point(rel: sp.Basic) -> bool:
    """z = c or z ≠ c with z − c linear: a point (a kink convention's branch), not a region a guard must reach."""
    if not isinstance(rel, (sp.Eq, sp.Ne)):
        return False
    diff = rel.lhs - rel.rhs
    if len(diff.free_symbols) != 1:
        return False
    (x,) = diff.free_symbols
    return bool(diff.is_polynomial(x)) and sp.degree(diff, x) == 1


def _guard_after_earlier(pw: sp.Piecewise, done: list[bool]) -> sp.Piecewise:
    """The "double where" for a Piecewise whose conditions are not linear (min(2z, 3, eᶻσ(z))): each condition is
    evaluated at where(E, s, x), E the earlier conditions and s a point where none of them holds, and each risky value
    at where(E ∨ ¬c, s′, x), s′ a point of its own region: equal wherever the branch is reached, finite elsewhere.
    ``done``: the values guarded already (by their intervals)."""
    x = _nonlinear(pw)
    if x is None:
        return pw
    branches: list[tuple[sp.Expr, sp.Basic]] = []
    earlier: list[sp.Basic] = []
    for (value, cond), guarded in zip(pw.args, done):
        reach = sp.Or(*earlier) if earlier else sp.false
        if earlier and _risky_nonnumeric(cond) and (s := _point(x, sp.Not(reach), cond)) is not None:
            cond = cond.xreplace({x: GuardedChoice(x, reach, s)})
        region = sp.And(sp.Not(reach), cond)
        if not guarded and value.has(x) and _risky(value) and region != sp.true:
            if (s := _point(x, region, value)) is not None:
                value = value.xreplace({x: GuardedChoice(x, sp.Not(region), s)})
        branches.append((value, cond))
        earlier.append(cond)
    return sp.Piecewise(*branches, evaluate=False)


def guard_branches(expr: sp.Expr, differentiable: bool = False) -> sp.Expr:
    """``expr`` with every Piecewise's branches guarded (module docstring): equal, but finite where not taken.

    ``differentiable``: guards as where(x ∈ I, x, s) only, whose autodiff
    gradient is exact at the interval's ends (for code autodiff differentiates).
    """
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"guard_branches: expected a SymPy expression, got {type(expr).__name__}")
    if not expr.has(sp.Piecewise):
        return expr
    return replace_shared(expr, lambda e: isinstance(e, sp.Piecewise), lambda e: _guard_piecewise(e, differentiable))


def _one_sided(node: sp.Expr) -> sp.Expr | None:
    """|u|, max(u, c), min(u, c) (c a number) by the mask m = [u > c]; None for any other node."""
    if isinstance(node, sp.Abs):
        (u,) = node.args
        m = sp.Piecewise((1, u > 0), (0, True))
        return (2 * m - 1) * u
    if isinstance(node, (sp.Max, sp.Min)) and len(node.args) == 2:
        numbers = [a for a in node.args if a.is_number]
        if len(numbers) == 1:
            (c,) = numbers
            (u,) = [a for a in node.args if not a.is_number]
            m = sp.Piecewise((1, u > c), (0, True))
            above, below = (u, c) if isinstance(node, sp.Max) else (c, u)
            return m * above + (1 - m) * below
    return None


def one_sided_kinks(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with |u| = (2m − 1)·u, max(u, c) = m·u + (1 − m)·c, min(u, c) = m·c + (1 − m)·u, m = [u > c].

    Equal to ``expr`` (one product is exact, the other 0), and every kink's tie
    goes to the side u ≤ c. The mask prints as arithmetic on the boolean, not
    a where (torch.where costs several times the arithmetic on a CPU). For
    code that autodiff differentiates: at u = c the
    library's abs, maximum and clamp each pick a slope of their own (JAX gives
    |u|' = 0 and splits max's, torch passes clamp's whole), so a smooth
    function printed through kinks, such as (1 − y)·max(a, 0) − y·min(a, 0) +
    softplus(−|a|), comes out with a wrong gradient at a = 0. With every kink
    in a taking the same side, autodiff differentiates one smooth piece there:
    its one-sided derivative, which is the derivative wherever one exists.

    Conditions are left as they are: autodiff does not differentiate a
    condition, and a mask inside one is a Piecewise in a condition, which SymPy
    folds into ITE and, for some (max(−log σ(2z), −log cosh z)'s), folds again
    without end (RecursionError).
    """
    return replace_shared(expr, lambda e: isinstance(e, (sp.Abs, sp.Max, sp.Min)), _one_sided, keep=_is_condition)


def _is_condition(node: sp.Basic) -> bool:
    """A comparison or a logical combination of them (not a Symbol, which SymPy also counts as Boolean)."""
    return isinstance(node, Boolean) and not isinstance(node, sp.Symbol)


def prove_guarded(expr: sp.Expr, differentiable: bool = False) -> dict[sp.Symbol, Proof]:
    """guard_branches(expr) − expr ≡ 0, proven by case analysis in each variable (the others as parameters)."""
    guarded = guard_branches(expr, differentiable)
    difference = guarded.replace(lambda e: isinstance(e, GuardedChoice), lambda e: e.rewrite(sp.Piecewise)) - expr
    return {x: prove_zero(difference, x) for x in sorted(expr.free_symbols, key=str)}
