"""Where a piecewise expression may switch branch: breakpoints in the variable, and parameter regimes.

The breakpoints of ``expr`` in ``var`` are the real roots of every condition's
sides' difference and every ``Abs``/``sign``/``Heaviside`` argument. Parameters
are sampled once in each *regime*: between the values where two breakpoints
swap order, a condition on parameters alone switches, or a parameter of unknown
sign crosses 0, and at each of those values. A sample where two breakpoints coincide, or a condition on
parameters alone sits on its switch, is *degenerate*: the branches that hold
there hold on a smaller set than the regime, so such a sample is checked
exactly (every parameter a number) and generic samples on each side of it are
added (:func:`generic_samples`). A parameter's critical values depend on the
others' values: from the base sample and each combination of the parameters'
samples, one worklist lifts each point through every parameter, its regimes and
critical values found with the others at that point's values, as many lifts
deep as there are parameters.
"""

from __future__ import annotations

import collections
import functools
import itertools
from collections.abc import Mapping, Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

from .exp_roots import exp_polynomial_roots, sign_changes
from .functions import NamedFunction
from .real_conditions import substituted
from .rounding import jump_atoms
from .special import bernoulli_fn, one_plus_langevin, x_minus_tanh
from .stop_gradient import release

__all__ = ["Undecidable", "beyond_end", "breakpoints", "elementary", "generic_samples", "is_degenerate",
           "allowed", "probes_beside", "separating_digits", "vanishes"]

#: Shifts tried, smallest last, to move a degenerate parameter sample off a coincidence.
_SHIFTS = (sp.Rational(1, 7), sp.Rational(1, 71), sp.Rational(1, 719))


def elementary(expr: sp.Expr, *, to_differentiate: bool = False) -> sp.Expr:
    """``expr`` with named functions and numpy primitives rewritten to exp/log/Abs/Piecewise, sg(u) as u.

    ``to_differentiate``: keep each stop_gradient(u), whose value is u but whose derivative is 0.
    Once per process for each expression: the proofs, their case analyses and the references ask again.
    """
    return _elementary(expr, to_differentiate)


@functools.lru_cache(maxsize=4096)
def _elementary(expr: sp.Expr, to_differentiate: bool) -> sp.Expr:
    if not to_differentiate:
        expr = release(expr)
    expr = expr.replace(lambda e: isinstance(e, NamedFunction), lambda e: type(e).definition(*e.args))
    expr = expr.replace(lambda e: isinstance(e, logaddexp), lambda e: sp.log(sp.exp(e.args[0]) + sp.exp(e.args[1])))
    expr = expr.replace(lambda e: isinstance(e, log1p), lambda e: sp.log(1 + e.args[0]))
    expr = expr.replace(lambda e: isinstance(e, expm1), lambda e: sp.exp(e.args[0]) - 1)
    expr = expr.replace(lambda e: isinstance(e, x_minus_tanh), lambda e: e.args[0] - sp.tanh(e.args[0]))
    expr = expr.replace(lambda e: isinstance(e, (bernoulli_fn, one_plus_langevin)), lambda e: type(e).elementary_form(e.args[0]))
    return expr


class Undecidable(ValueError):
    """The case analysis cannot cover every value (e.g. a periodic condition has infinitely many switch points)."""


def _sample_values(params: Mapping[sp.Symbol, object] | None, expr: sp.Expr, var: sp.Symbol) -> dict:
    """One sample value per parameter, used only to decide which branch holds (never in the identity)."""
    subs: dict[sp.Symbol, sp.Expr] = {}
    for i, s in enumerate(sorted(expr.free_symbols - {var}, key=str)):
        value = (params or {}).get(s)
        if value is None or not sp.sympify(value, strict=True).is_number:  # a number or SymPy object from code, not text
            # Distinct irrational-looking rationals: no accidental ties between breakpoints.
            value = sp.Rational(13 + 4 * i, 11) * (-1 if s.is_nonpositive else 1)
        subs[s] = sp.sympify(value, strict=True)  # a number or SymPy object from code, not text
    return subs


def _edges(expr: sp.Expr) -> list[sp.Expr]:
    """Expressions whose sign decides a branch: condition sides' differences, Abs/sign/Heaviside arguments."""
    return list(_edges_remembered(expr))


@functools.lru_cache(maxsize=1024)
def _edges_remembered(expr: sp.Expr) -> tuple[sp.Expr, ...]:
    """:func:`_edges`, once per process for each expression: a case analysis asks again at every parameter sample."""
    expr = elementary(expr)
    if expr.has(sp.Min, sp.Max):
        try:
            expr = expr.rewrite(sp.Piecewise)
        except RecursionError:  # SymPy's Piecewise of max(|z − a|, |a − b|) re-evaluates itself without end
            raise Undecidable("SymPy could not write its max/min as branches (RecursionError)") from None
    edges: list[sp.Expr] = []
    for pw in expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            edges += [rel.lhs - rel.rhs for rel in cond.atoms(sp.core.relational.Relational)]
    edges += [f.args[0] for f in expr.atoms(sp.Abs, sp.sign, sp.Heaviside)]
    return tuple(edges)


def _real_roots(edge: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Every real root of ``edge`` in ``var``, each Abs/sign inside taken both ways (extra roots do no harm)."""
    return list(_real_roots_remembered(edge, var))


@functools.lru_cache(maxsize=8192)
def _real_roots_remembered(edge: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, ...]:
    """:func:`_real_roots`, once per process for each (edge, var): a case analysis lifts thousands of parameter
    samples, and at most of them an edge with the others substituted is one seen before (c − 2 at every a and b)."""
    inner = sorted(edge.atoms(sp.Abs, sp.sign), key=sp.default_sort_key)
    if not inner and edge.is_polynomial(var):  # c₁·var + c₀, rational: its root −c₀/c₁, as solveset gives it
        coefficients = sp.Poly(edge, var).all_coeffs()
        if len(coefficients) == 2 and all(c.is_Rational for c in coefficients):
            return (-coefficients[1] / coefficients[0],)
    roots: list[sp.Expr] = []
    for signs in itertools.product((1, -1), repeat=len(inner)):
        choice = {f: (sg * f.args[0] if isinstance(f, sp.Abs) else sp.Integer(sg)) for f, sg in zip(inner, signs)}
        solutions = sp.solveset(edge.xreplace(choice), var, sp.S.Reals)
        if solutions == sp.S.Reals or solutions is sp.S.EmptySet:  # no sign change from this choice of signs
            continue
        if not isinstance(solutions, sp.FiniteSet) and sign_changes(edge.xreplace(choice), var) == []:
            # a sum of exponentials, or of logs of them, with no real root in e^{z/q}. Where it has roots (log(1 + √2)
            # of −log σ(z) = log cosh z), the ties there are not decided exactly downstream: still undecidable
            continue
        if not isinstance(solutions, sp.FiniteSet):
            raise Undecidable(
                f"cannot list where {edge} changes sign in {var}: SymPy's solveset gave a "
                f"{type(solutions).__name__}, not finitely many points"
            )
        roots += [r for r in solutions if r not in roots]
    return tuple(roots)


def _switches(edge: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Where ``edge`` may change sign in ``var``: its real roots, and those of each base with a negative power in it (an
    edge also changes sign through a pole without passing 0: 1/(z − 1) > 0 switches at z = 1, 1/(c − 7) > 0 at c = 7)."""
    found = _real_roots(edge, var)
    return found + [r for r in _poles(edge, var) if r not in found]


def _poles(edge: sp.Expr, var: sp.Symbol, polynomial: bool = False) -> list[sp.Expr]:
    """The real roots of each base with a negative power in ``edge``: where it may have a pole. With ``polynomial``
    only of the bases polynomial in ``var`` (z − a of sin(z − a)/(z − a)) or in exponentials e^{k·var}
    (eᶻ − 1 of z/(eᶻ − 1), :func:`~symdl.symbolic.exp_roots.exp_polynomial_roots`, never solveset): SymPy's
    solveset on a sum of exponentials and sigmoids (1/(σ(z) + 2σ(z/2) + e^{−2z})) can run for minutes."""
    found: list[sp.Expr] = []
    bases = {a.base for a in edge.atoms(sp.Pow) if a.exp.is_negative and a.base.has(var)}
    for base in sorted(bases, key=sp.default_sort_key):
        if not polynomial or base.is_polynomial(var):
            roots = _real_roots(base, var)
        else:
            roots = exp_polynomial_roots(base, var) or []
        found += [r for r in roots if r not in found]
    return found


def breakpoints(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Every value of ``var`` where a condition, ``Abs``, ``sign`` or ``Min``/``Max`` of ``expr`` may switch: where
    a side's difference or an argument is 0, or has a pole."""
    return list(_breakpoints(expr, var))


@functools.lru_cache(maxsize=1024)
def _breakpoints(expr: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, ...]:
    """:func:`breakpoints`, once per process for each (expr, var): a rule's kinks, sample points and proofs ask again."""
    jumping = sorted((a for a in jump_atoms(expr) if a.has(var)), key=sp.default_sort_key)
    if jumping:
        raise Undecidable(f"cannot list where {jumping[0]} jumps in {var}: infinitely many points")
    points: list[sp.Expr] = []
    for edge in _edges(expr):
        if edge.has(var):
            points += [r for r in _switches(edge, var) if r not in points]
    # In increasing order where they are numbers (the edges come from sets: their order would vary between runs).
    return tuple(sorted(points, key=lambda p: (not p.is_number, float(p) if p.is_number else 0.0, sp.default_sort_key(p))))


def _parameter_regimes(
    expr: sp.Expr, var: sp.Symbol, points: list[sp.Expr], base: Mapping[sp.Symbol, sp.Expr]
) -> list[dict]:
    """Parameter samples, one in each regime where branch structure can differ.

    A regime changes where two breakpoints swap order, where a condition on
    parameters alone switches, or (for a parameter of unknown sign) at 0.
    """
    free = list(base)
    param_edges = [e for e in _edges(expr) if not e.has(var)]
    param_edges += [a - b for a, b in itertools.combinations(points, 2)]
    combos = [dict(zip(free, combo)) for combo in itertools.product(*(_critical_values(s, param_edges, base)[1] for s in free))]
    if len(combos) > 64:
        raise Undecidable(f"too many parameter regimes ({len(combos)}) to check")
    # Where two critical curves cross (a projection step), each parameter's regimes those values cut, and the values
    # themselves, the others at their base values, are lifted like the combinations.
    crossings = _crossings(param_edges, free)
    for s in free if crossings else []:
        values, samples = _critical_values(s, param_edges, base, crossings)
        combos += [{**base, s: v} for v in (*samples, *values)]
    return _lifted(dict(base), combos, param_edges)


def _lifted(base: dict, seeds: list[dict], param_edges: list[sp.Expr]) -> list[dict]:
    """``seeds``, then every point lifted from them and from ``base`` (as a cylindrical decomposition does), each once.

    A parameter's critical values depend on the others' values, so a point is lifted through each parameter: that
    parameter at each of its critical values (a degenerate sample, checked exactly: [u if c ≥ 0] − [u if c > 0] is u
    at c = 0 only) and in each regime between them, the others at the point's values. Each new point is lifted on,
    as many times in all as there are parameters: on a = 1, b has regimes and switches of its own ([z if a = 1 and
    b = 2] is z at one point only); b at a sample of a, not a product sample (a − 1/100 < b < a); on c's switch, b at
    a sample found there and a on its switch at that b. A lift may come back to a parameter (a, b, then a with b
    moved): lifting each parameter once only lost such points, which the lifting from switches had found.
    """
    free = list(base)
    found = {_key(point): point for point in seeds}
    lifted: dict[tuple, int] = {}  # the most lifts left each point was lifted with: fewer find nothing new
    critical: dict[tuple, tuple[list, list]] = {}  # s's critical values depend on the others' values only
    queue = collections.deque((seed, len(free)) for seed in (base, *seeds))
    while queue:
        point, left = queue.popleft()
        key = _key(point)
        if left == 0 or lifted.get(key, -1) >= left:
            continue
        lifted[key] = left
        for s in free:
            others = tuple((o, v) for o, v in point.items() if o != s)
            if (s, others) not in critical:
                critical[s, others] = _critical_values(s, param_edges, point)
            values, samples = critical[s, others]
            for v in (*values, *samples):
                moved = {**point, s: v}
                found.setdefault(_key(moved), moved)
                queue.append((moved, left - 1))
    return list(found.values())


def _key(point: Mapping[sp.Symbol, sp.Expr]) -> tuple:
    """A parameter sample as a dictionary key: its (symbol, value) pairs in order."""
    return tuple(point.items())


def _crossings(param_edges: list[sp.Expr], free: list[sp.Symbol]) -> list[sp.Expr]:
    """r₁ − r₂ for every two roots in one parameter of the edges, an expression in the others (a projection step).

    Where b = a/2 + 10 and b = a cross (a = 20) the cells between them swap, though neither line passes b's base
    value there: that a is a critical value of a too; likewise where the two roots b = ±√(1/100 − a²) of a circle
    meet (a = ±1/10). Roots SymPy cannot list in finitely many points are left out.
    """
    out: list[sp.Expr] = []
    for s in free if len(free) > 1 else []:
        roots: list[sp.Expr] = []
        for edge in param_edges:
            if edge.has(s):
                try:
                    found = sp.solveset(edge, s, sp.S.Reals)
                except (NotImplementedError, ValueError, TypeError):
                    continue
                if isinstance(found, sp.Intersection) and sp.S.Reals in found.args:  # ±√(1/100 − a²): real for |a| ≤ 1/10
                    found = next((part for part in found.args if isinstance(part, sp.FiniteSet)), found)
                if isinstance(found, sp.FiniteSet):
                    roots += [r for r in found if r not in roots]
        out += [d for r, q in itertools.combinations(roots, 2) if (d := r - q).free_symbols and d not in out]
    return out


def _critical_values(s: sp.Symbol, param_edges: list[sp.Expr], at: Mapping[sp.Symbol, sp.Expr],
                     crossings: Sequence[sp.Expr] = ()) -> tuple[list, list]:
    """(the values of ``s`` where an edge vanishes, one sample in each regime between them), the others at ``at``.

    ``crossings`` (:func:`_crossings`) count where SymPy lists their roots in ``s``, and are skipped where it cannot.
    """
    critical: set[sp.Expr] = set() if (s.is_positive or s.is_negative) else {sp.Integer(0)}  # n ≥ 0: sampled at 0
    poles: set[sp.Expr] = set()  # regime boundaries too (1/(c − 7) > 0 switches at c = 7), but no sample at them
    others = {o: v for o, v in at.items() if o != s}
    for edge in param_edges:
        edge = substituted(edge, others)
        if edge.has(s):
            critical |= {r for r in _real_roots(edge, s) if r.is_number}
            poles |= {r for r in _poles(edge, s) if r.is_number}
    for edge in crossings:
        edge = substituted(edge, others)
        if edge.has(s):
            try:
                critical |= {r for r in _real_roots(edge, s) if r.is_number}
            except Undecidable:
                continue
    # A parameter of declared sign lives on (0, ∞), [0, ∞), (−∞, 0) or (−∞, 0]: only the critical values inside split
    # it, and the end regime next to 0 is sampled inside it (a sample of the wrong sign checks a case that cannot occur:
    # n ≥ 0 sampled at −1 refuted max(n·z, 0) = n·max(z, 0) with the counterexample n = −1).
    # A float in a critical value is taken as the binary value it holds, never guessed (nsimplify made
    # 0.7071067811865476 into √2/2, so the sample 'at' c = 0.7071067811865476 was beside it).
    def inside(found: set[sp.Expr]) -> list[sp.Expr]:
        exact = sorted({c.xreplace({f: sp.Rational(f) for f in c.atoms(sp.Float)}) for c in found}, key=float)
        return [v for v in exact if allowed(s, v)]

    values, cuts = inside(critical - poles), inside(critical | poles)
    if not cuts:
        return values, [at[s]]
    first = [] if s.is_nonnegative and cuts[0] == 0 else [cuts[0] / 2 if s.is_nonnegative else cuts[0] - 1]
    last = [] if s.is_nonpositive and cuts[-1] == 0 else [cuts[-1] / 2 if s.is_nonpositive else cuts[-1] + 1]
    return values, sorted({*first, *((u + w) / 2 for u, w in zip(cuts, cuts[1:])), *last}, key=float)


def allowed(s: sp.Symbol, value: sp.Expr) -> bool:
    """``value`` is of ``s``'s declared sign: positive, negative, nonnegative, nonpositive, or any."""
    return not (s.is_positive and value <= 0 or s.is_negative and value >= 0
                or s.is_nonnegative and value < 0 or s.is_nonpositive and value > 0)


def is_degenerate(expr: sp.Expr, var: sp.Symbol, points: list[sp.Expr], sample: Mapping[sp.Symbol, sp.Expr]) -> bool:
    """True when two breakpoints take the same value at ``sample``, a condition on parameters alone is 0 there, or
    an edge in ``var`` no longer depends on it (n·z at n = 0: max(n·z, 0) takes either branch for every z)."""
    if any(vanishes(substituted(u - w, sample)) for u, w in itertools.combinations(points, 2)):
        return True
    edges = _edges(expr)
    if any(e.has(var) and not substituted(e, sample).has(var) for e in edges):
        return True
    return any(vanishes(substituted(e, sample)) for e in edges if not e.has(var) and e.free_symbols)


def vanishes(value: sp.Expr) -> bool:
    """``value`` (a number) is 0: exactly, where it holds no float; within 10⁻²⁰ where a float's rounding is in it.

    Breakpoints c and c + 10⁻²⁵ never meet: a tolerance made every sample of c degenerate, so the regime was only
    ever checked at those values of c, never for all c (a branch (c − 1)c(c + 1) between them was proven 0).
    """
    if not value.has(sp.Float):
        zero = value.is_zero
        if zero is not None:
            return bool(zero)
    return bool(abs(sp.N(value, 30)) < 1e-20)


def beyond_end(end: sp.Expr, side: int) -> sp.Expr:
    """end ± 1, or end ± |end| where 1 is below the last digit kept (5·10³⁹ − 1 rounds to 5·10³⁹ at 30 digits)."""
    step = end + side
    return step if step != end else end + side * abs(end)


def separating_digits(values: Sequence[sp.Expr]) -> int:
    """The digits (30, or more) at which breakpoints that differ (10⁴⁰ and 10⁴⁰ + 1) differ in value, so that each
    interval between them has its own probe; breakpoints equal at the sample (:func:`vanishes`) are one point."""
    for digits in (30, 100, 400, 1600):
        approx = sorted(((sp.N(v, digits), v) for v in values), key=lambda pair: pair[0])
        if all(abs(b - a) > abs(b) * sp.Float(10, digits) ** (10 - digits) or vanishes(w - u)
               for (a, u), (b, w) in zip(approx, approx[1:])):
            return digits
    raise Undecidable("two breakpoints agree to 1600 digits but are not shown equal")


def probes_beside(at: sp.Expr, others: Sequence[sp.Expr]) -> tuple[sp.Expr, sp.Expr]:
    """Two points either side of ``at``, nearer than any other breakpoint (``others``, numbers): ``at`` ∓ half the gap,
    with as many digits as tell them apart (a breakpoint 10⁻³⁰ away was skipped, its far branch read as the side's)."""
    distinct = [o for o in others if not vanishes(o - at)]
    digits = separating_digits([at, *distinct])
    where = sp.N(at, digits)
    gap = min([abs(sp.N(o - at, digits)) for o in distinct] + [sp.Integer(1)]) / 2
    return where - gap, where + gap


def generic_samples(expr: sp.Expr, var: sp.Symbol, points: list[sp.Expr], sample: Mapping[sp.Symbol, sp.Expr]) -> list[dict]:
    """Non-degenerate samples near a degenerate one: each parameter moved up and down by the first shift that works.

    A parameter of declared sign keeps it. Moving one of two coinciding
    parameters both ways reaches both of their orders (a < b and a > b).
    """
    found: list[dict] = []
    for s, sign in itertools.product(sample, (1, -1)):
        for shift in _SHIFTS:
            moved = {**sample, s: sample[s] + sign * shift}
            if not allowed(s, moved[s]):
                continue
            if not is_degenerate(expr, var, points, moved):
                if moved not in found:
                    found.append(moved)
                break
    return found
