r"""Proofs that BP1–BP4 in index notation are the derivative of C: symbolic widths, induction, concrete sizes.

Symbolic widths (:func:`prove_symbolic_widths`, depth 1–3): C of
:class:`~symdl.backprop.index_form.IndexNetwork` is differentiated directly by
w^l_{pq} and b^l_p (SymPy's chain rule through the nested sums yields
Kronecker deltas), the deltas are contracted (:func:`symdl.symbolic.index_sums.contract_deltas`,
for p, q in the ranges of their layers), and the result is compared with the
BP3/BP4 right-hand side after δ is unrolled through BP2 and BP1. The difference
is brought to the normal form of index sums using only identities valid for
finite sums; the claim holds when :func:`~symdl.symbolic.index_sums.is_zero_index_expr`
shows it is 0. Otherwise an exact counterexample is sought (small widths,
polynomial σ and C, rational weights) to refute the claim.

General depth follows by induction (:data:`INDUCTION_STEP`), whose step is
proven in index notation by :func:`prove_induction_step`.
:func:`prove_concrete_sizes` expands a small network to scalars instead and
checks every weight and bias, with generic or library rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

from ..symbolic.index_sums import Ranges, contract_deltas, is_zero_index_expr
from ..symbolic.proof import Proof
from .index_form import (
    COST,
    IndexNetwork,
    activation_bases,
    bias,
    cost,
    cost_prime,
    delta,
    index_equations,
    j,
    k,
    sigma,
    sigma_prime,
    weight,
    width,
    x,
    y,
)

__all__ = [
    "INDUCTION_STEP",
    "MAX_CONCRETE_PARAMETERS",
    "SYMBOLIC_DEPTHS",
    "induction_step",
    "instantiate",
    "prove_concrete_sizes",
    "prove_induction_step",
    "prove_symbolic_widths",
    "sort_equations",
    "unit_ranges",
    "unroll_deltas",
]

SYMBOLIC_DEPTHS: tuple[int, ...] = (1, 2, 3)
MAX_CONCRETE_PARAMETERS = 100  # scalar expansion grows with every parameter; keep proofs to seconds

# The unit a derivative is taken at: w^l_{pq}, b^l_p.
p, q = sp.symbols("p q", integer=True, nonnegative=True)


# --- equations as claims -----------------------------------------------------


@dataclass(frozen=True)
class _Claims:
    """Equations sorted by what they define: δ^l, ∂C/∂b^l, ∂C/∂w^l; each as (its free indices, rhs)."""

    deltas: Mapping[int, tuple[tuple[sp.Symbol, ...], sp.Expr]]
    biases: Mapping[int, tuple[tuple[sp.Symbol, ...], sp.Expr]]
    weights: Mapping[int, tuple[tuple[sp.Symbol, ...], sp.Expr]]


def _layer_of(base: sp.IndexedBase, maker: Callable[[int], sp.IndexedBase], depth: int, start: int = 1) -> int | None:
    for layer in range(start, depth + 1):
        if base == maker(layer):
            return layer
    return None


def sort_equations(equations: Iterable[sp.Eq], depth: int) -> _Claims:
    """The index-form equations of a depth-``depth`` network sorted into δ (BP1/BP2), ∂C/∂b (BP3) and ∂C/∂w (BP4) claims."""
    deltas, biases, weights = {}, {}, {}
    for eq in equations:
        if not isinstance(eq, sp.Eq):
            raise TypeError(f"equations must be sympy Eq objects, got {type(eq).__name__}")
        lhs = eq.lhs
        if isinstance(lhs, sp.Indexed) and (layer := _layer_of(lhs.base, delta, depth)) is not None:
            deltas[layer] = (lhs.indices, eq.rhs)
            continue
        if isinstance(lhs, sp.Derivative) and lhs.expr == COST and len(lhs.variables) == 1:
            target = lhs.variables[0]
            if isinstance(target, sp.Indexed):
                if (layer := _layer_of(target.base, bias, depth)) is not None:
                    biases[layer] = (target.indices, eq.rhs)
                    continue
                if (layer := _layer_of(target.base, weight, depth)) is not None:
                    weights[layer] = (target.indices, eq.rhs)
                    continue
        raise ValueError(f"equation {eq} defines neither delta^l nor dC/db^l nor dC/dw^l of a depth-{depth} network")
    return _Claims(deltas, biases, weights)


def instantiate(indices: Sequence[sp.Symbol], rhs: sp.Expr, values: Sequence[sp.Expr]) -> sp.Expr:
    """``rhs`` with its free indices set to ``values``, bound sum indices first renamed apart (no capture)."""
    rhs = rhs.replace(
        lambda e: isinstance(e, sp.Sum),
        lambda e: e.xreplace({v: sp.Dummy(v.name, integer=True) for v in e.variables}),
    )
    return rhs.xreplace(dict(zip(indices, values)))


def unroll_deltas(expr: sp.Expr, claims: _Claims, depth: int) -> sp.Expr:
    """``expr`` with every δ^l[i] replaced by its equation's right side, repeatedly, until no δ is left."""
    for _ in range(depth + 1):
        found = [e for e in expr.atoms(sp.Indexed) if _layer_of(e.base, delta, depth) is not None]
        if not found:
            return expr
        subs = {}
        for e in found:
            layer = _layer_of(e.base, delta, depth)
            if layer not in claims.deltas:
                raise ValueError(f"no equation defines delta^{layer}")
            indices, rhs = claims.deltas[layer]
            subs[e] = instantiate(indices, rhs, e.indices)
        expr = expr.xreplace(subs)
    raise ValueError("the delta equations refer to each other in a cycle")


# --- counterexamples ---------------------------------------------------------

_u, _v = sp.symbols("u v", real=True)
# A concrete smooth σ and C with their exact derivatives: one instance is enough to refute a claim for all σ, C.
_WITNESS_FUNCTIONS: tuple[tuple[type[sp.Function], sp.Lambda], ...] = (
    (sigma, sp.Lambda(_u, _u + _u**2 / 3)),
    (sigma_prime, sp.Lambda(_u, 1 + 2 * _u / 3)),
    (cost, sp.Lambda((_u, _v), (_u - _v) ** 2 / 2 + _u**3 / 5)),
    (cost_prime, sp.Lambda((_u, _v), _u - _v + 3 * _u**2 / 5)),
)


def _rational_values(atoms: Iterable[sp.Expr], seed: int) -> dict[sp.Expr, sp.Rational]:
    ordered = sorted(atoms, key=sp.default_sort_key)
    values = {}
    for t, atom in enumerate(ordered):
        value = Fraction((7 * t + 3 * seed + 2) % 11 - 5, 3 + (t + seed) % 4)
        values[atom] = sp.Rational(value.numerator, value.denominator) if value else sp.Rational(1, 7)
    return values


def _expand_sums(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sum over concrete bounds written out term by term (Sum.doit looks for closed forms: slow)."""

    def write_out(s: sp.Sum) -> sp.Expr:
        if not all(bound.is_Integer for _, low, high in s.limits for bound in (low, high)):
            return s
        terms = [s.function]
        for var, low, high in reversed(s.limits):  # the last limit is the outermost
            terms = [t.xreplace({var: value}) for t in terms for value in range(int(low), int(high) + 1)]
        return sp.Add(*terms)

    return expr.replace(lambda e: isinstance(e, sp.Sum), write_out)


def _counterexample(difference: sp.Expr, depth: int, free: Sequence[sp.Symbol]) -> str | None:
    """An exact point (widths, p, q, weights, σ, C) where ``difference`` ≠ 0, described; None if none found."""
    sizes = {width(layer): 2 for layer in range(depth + 1)}
    for choice in itertools.product(range(2), repeat=len(free)):
        at = {**sizes, **dict(zip(free, choice))}
        concrete = _expand_sums(difference.xreplace(at))
        for seed in range(2):
            values = _rational_values(concrete.atoms(sp.Indexed), seed)
            value = concrete.xreplace(values)
            for function, lam in _WITNESS_FUNCTIONS:
                value = value.replace(function, lam)
            if value.is_Rational and value != 0:
                where = ", ".join(f"{s} = {v}" for s, v in at.items())
                return (
                    f"refuted by an exact counterexample: {where}, sigma(u) = u + u²/3, C(a, y) = (a − y)²/2 + a³/5, "
                    f"rational weights (seed {seed}) give a difference of {value}"
                )
    return None


# --- proofs for symbolic widths ----------------------------------------------


def unit_ranges(layer: int) -> Ranges:
    """0 ≤ p < n_l and 0 ≤ q < n_{l−1}: the range hypotheses of the unit w^l_{pq} a derivative is taken at."""
    return {p: (sp.S.Zero, width(layer) - 1), q: (sp.S.Zero, width(layer - 1) - 1)}


def _compare(derived: sp.Expr, claimed: sp.Expr, depth: int, free: Sequence[sp.Symbol], ranges: Ranges) -> Proof:
    difference = derived - claimed
    if is_zero_index_expr(difference, ranges):
        return Proof(
            True,
            "index notation, symbolic widths: dC differentiated directly, Kronecker deltas contracted "
            "(deltasummation), BP right side unrolled through BP1/BP2; canonical forms identical "
            f"(for 0 ≤ {', '.join(map(str, free))} < the layer widths)",
        )
    witness = _counterexample(difference, depth, free)
    if witness:
        return Proof(False, witness)
    return Proof(False, "not shown: the normal form is not 0 and no counterexample was found")


def prove_symbolic_widths(depth: int, equations: Sequence[sp.Eq] | None = None) -> dict[str, Proof]:
    r"""∂C/∂w^l_{pq} = a^{l−1}_q δ^l_p and ∂C/∂b^l_p = δ^l_p for every layer l, widths n_0 … n_L symbolic.

    ``equations`` defaults to :func:`index_equations` (BP1–BP4); pass altered
    ones to see them refuted. ``depth`` must be 1, 2 or 3.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth not in SYMBOLIC_DEPTHS:
        raise ValueError(f"prove_symbolic_widths: depth must be 1, 2 or 3 (1–3), got {depth!r}")
    network = IndexNetwork(depth)
    claims = sort_equations(index_equations(depth) if equations is None else equations, depth)
    total = network.total_cost()
    results: dict[str, Proof] = {}
    for layer in range(1, depth + 1):
        ranges = unit_ranges(layer)
        targets = (
            ("w", weight(layer)[p, q], (p, q), claims.weights, f"a^{{{layer - 1}}}_q delta^{{{layer}}}_p"),
            ("b", bias(layer)[p], (p,), claims.biases, f"delta^{{{layer}}}_p"),
        )
        for name, target, free, table, rhs_text in targets:
            label = f"layer {layer} of {depth}: dC/d{name}^{{{layer}}}_{''.join(map(str, free))} == {rhs_text}"
            if layer not in table:
                results[label] = Proof(False, f"no equation gives dC/d{name}^{layer}")
                continue
            derived = contract_deltas(sp.diff(total, target), ranges)
            indices, rhs = table[layer]
            claimed = network.unroll(unroll_deltas(instantiate(indices, rhs, free), claims, depth))
            results[label] = _compare(derived, claimed, depth, free, ranges)
    return results


# --- the induction step ------------------------------------------------------

INDUCTION_STEP = (
    "General depth follows by induction on l from L down to 1, with the claim ∂C/∂z^l_j = δ^l_j. "
    "Base case: C depends on z^L_j only through a^L_j = σ(z^L_j), "
    "so ∂C/∂z^L_j = ∂C/∂a(a^L_j, y_j) σ'(z^L_j) = δ^L_j (BP1). "
    "Step: BP2 expresses δ^l through δ^{l+1} using only layer l+1's map "
    "z^{l+1}_k = Σ_m w^{l+1}_{km} σ(z^l_m) + b^{l+1}_k; if ∂C/∂z^{l+1}_k = δ^{l+1}_k, then "
    "∂C/∂z^l_j = Σ_k ∂C/∂z^{l+1}_k ∂z^{l+1}_k/∂z^l_j = Σ_k δ^{l+1}_k w^{l+1}_{kj} σ'(z^l_j) = δ^l_j. "
    "BP3 and BP4 then follow from ∂z^l_m/∂b^l_p = δ_{mp} and ∂z^l_m/∂w^l_{pq} = δ_{mp} a^{l−1}_q: "
    "∂C/∂b^l_p = Σ_m δ^l_m δ_{mp} = δ^l_p and "
    "∂C/∂w^l_{pq} = Σ_m δ^l_m δ_{mp} a^{l−1}_q = a^{l−1}_q δ^l_p."
)


def induction_step() -> str:
    """The statement that BP1–BP4 hold at every depth: BP1 base case, BP2 step, BP3/BP4 from ∂z/∂b and ∂z/∂w."""
    return INDUCTION_STEP


def prove_induction_step() -> Proof:
    r"""Σ_k D_k ∂z^{l+1}_k/∂z^l_j = (Σ_k w^{l+1}_{kj} D_k) σ'(z^l_j), Σ_m Δ_m ∂z^l_m/∂b^l_p = Δ_p, and
    Σ_m Δ_m ∂z^l_m/∂w^l_{pq} = a^{l−1}_q Δ_p: the induction step of :data:`INDUCTION_STEP`, for symbolic l.

    Layer l is symbolic: z^l, a^{l−1}, D = ∂C/∂z^{l+1} and Δ = ∂C/∂z^l are
    generic arrays over symbolic widths. Each identity is derived by
    differentiation and delta contraction and compared in the normal form of index sums; the
    multivariable chain rule that links them to ∂C is the one step taken as
    known (see :data:`INDUCTION_STEP`).
    """
    n_below, n_here, n_above = (sp.Symbol(name, integer=True, positive=True) for name in ("n_{l-1}", "n_l", "n_{l+1}"))
    m, r = sp.symbols("m r", integer=True, nonnegative=True)
    z_here = sp.IndexedBase("z^l", real=True)
    a_below = sp.IndexedBase("a^{l-1}", real=True)
    w_here, b_here = sp.IndexedBase("w^l", real=True), sp.IndexedBase("b^l", real=True)
    w_above, b_above = sp.IndexedBase("w^{l+1}", real=True), sp.IndexedBase("b^{l+1}", real=True)
    upstream = sp.IndexedBase("D", real=True)  # D_k = ∂C/∂z^{l+1}_k, assumed by the induction hypothesis
    error = sp.IndexedBase("Delta", real=True)  # Δ_m = ∂C/∂z^l_m, just shown to be δ^l_m

    def z_above(unit: sp.Expr) -> sp.Expr:
        return sp.Sum(w_above[unit, m] * sigma(z_here[m]), (m, 0, n_here - 1)) + b_above[unit]

    def z_layer(unit: sp.Expr) -> sp.Expr:
        return sp.Sum(w_here[unit, r] * a_below[r], (r, 0, n_below - 1)) + b_here[unit]

    # Σ_k D_k z^{l+1}_k is linear in the D_k, so its derivative is Σ_k D_k ∂z^{l+1}_k/∂(·).
    pulled_back = sp.Sum(upstream[k] * z_above(k), (k, 0, n_above - 1))
    through_layer = sp.Sum(error[k] * z_layer(k), (k, 0, n_here - 1))
    ranges = {j: (0, n_here - 1), p: (0, n_here - 1), q: (0, n_below - 1)}
    identities = {
        "BP2 step": (
            sp.diff(pulled_back, z_here[j]),
            sp.Sum(w_above[k, j] * upstream[k], (k, 0, n_above - 1)) * sigma_prime(z_here[j]),
        ),
        "BP3": (sp.diff(through_layer, b_here[p]), error[p]),
        "BP4": (sp.diff(through_layer, w_here[p, q]), a_below[q] * error[p]),
    }
    failed = [
        name
        for name, (derived, claimed) in identities.items()
        if not is_zero_index_expr(contract_deltas(derived, ranges) - claimed, ranges)
    ]
    if failed:
        return Proof(False, f"not shown: the normal form is not 0 for {', '.join(failed)}", len(identities))
    return Proof(
        True,
        "index notation, symbolic layer l and widths: d/dz^l_j of Σ_k D_k z^{l+1}_k and d/db^l, d/dw^l of "
        "Σ_m Δ_m z^l_m derived, deltas contracted, canonical forms identical to BP2, BP3, BP4; "
        "the multivariable chain rule is taken as known",
        len(identities),
    )


# --- concrete sizes ----------------------------------------------------------

_PIECEWISE = (sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Min, sp.Max, sp.DiracDelta)


@dataclass(frozen=True)
class _UnitRules:
    """σ, σ', C, ∂C/∂a as callables on SymPy expressions, and how to describe them."""

    g: Callable[[sp.Expr], sp.Expr]
    g_prime: Callable[[sp.Expr], sp.Expr]
    loss: Callable[[sp.Expr, sp.Expr], sp.Expr]
    loss_prime: Callable[[sp.Expr, sp.Expr], sp.Expr]
    description: str


def _smooth_rule_names(kind: str, arity: int) -> list[str]:
    from ..rulebook.registry import rule, rules

    names = []
    for name, rule_kind in rules().items():
        if rule_kind != kind:
            continue
        r = rule(name)
        smooth = isinstance(r.expr, sp.Expr) and not r.expr.has(*_PIECEWISE, sp.Indexed)
        if smooth and len(r.inputs) == arity:
            names.append(name)
    return names


def _check_rule_name(name: object, kind: str, arity: int) -> None:
    from ..rulebook.registry import rules

    if not isinstance(name, str) or rules().get(name) != kind:
        accepted = ", ".join(_smooth_rule_names(kind, arity))
        raise ValueError(f"unknown {kind} {name!r} for prove_concrete_sizes; accepted: {accepted}")


def _library_rule(name: str, kind: str, arity: int, params: Mapping[str, object]):
    from ..rulebook.registry import rule, rule_params

    names = {prm.name for prm in rule_params(name)}
    r = rule(name, **{key: value for key, value in params.items() if key in names})
    if len(r.inputs) != arity or not isinstance(r.expr, sp.Expr) or r.expr.has(sp.Indexed):
        accepted = ", ".join(_smooth_rule_names(kind, arity))
        raise ValueError(f"{kind} {name!r} is not element-wise with {arity} input(s); accepted: {accepted}")
    if r.expr.has(*_PIECEWISE):
        accepted = ", ".join(_smooth_rule_names(kind, arity))
        raise ValueError(f"{kind} {name!r} is piecewise; prove_concrete_sizes supports smooth rules: {accepted}")
    return r


def _unit_rules(activation: str | None, loss: str | None, params: Mapping[str, object]) -> _UnitRules:
    from ..rulebook.registry import rule_params

    wanted = ((activation, "activation", 1), (loss, "loss", 2))
    chosen = [(name, kind, arity) for name, kind, arity in wanted if name is not None]
    for name, kind, arity in chosen:
        _check_rule_name(name, kind, arity)
    owners = {prm.name for name, _, _ in chosen for prm in rule_params(name)}
    unknown = sorted(set(params) - owners)
    if unknown:
        accepted = ", ".join(sorted(owners)) or "none"
        raise ValueError(f"prove_concrete_sizes: no chosen rule takes parameter {unknown[0]!r}; parameters: {accepted}")
    g, g_prime = sigma, sigma_prime
    if activation is not None:
        act = _library_rule(activation, "activation", 1, params)
        unit = act.inputs[0]
        g = sp.Lambda(unit, act.bind(act.expr))
        g_prime = sp.Lambda(unit, act.bind(act.derivative()))
    loss_fn, loss_prime = cost, cost_prime
    if loss is not None:
        los = _library_rule(loss, "loss", 2, params)
        loss_fn = sp.Lambda(los.inputs, los.bind(los.expr))
        loss_prime = sp.Lambda(los.inputs, los.bind(los.derivative()))
    description = f"activation {activation or 'sigma (generic)'}, loss {loss or 'C (generic)'}"
    return _UnitRules(g, g_prime, loss_fn, loss_prime, description)


def _check_layers(layers: Sequence[int]) -> tuple[int, ...]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise ValueError(f"layers must be a sequence of widths like (2, 3, 2), got {layers!r}")
    if len(layers) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in layers):
        raise ValueError(f"layers must be at least two positive integer widths like (2, 3, 2), got {tuple(layers)!r}")
    count = sum(n_out * (n_in + 1) for n_in, n_out in zip(layers, layers[1:]))
    if count > MAX_CONCRETE_PARAMETERS:
        raise ValueError(
            f"layers {tuple(layers)} have {count} parameters; prove_concrete_sizes expands to scalars and accepts "
            f"at most {MAX_CONCRETE_PARAMETERS} (use prove_symbolic_widths for any width)"
        )
    return tuple(layers)


def _scalar_zero(expr: sp.Expr) -> tuple[bool | None, str]:
    """(True, how) when ``expr`` is shown to be 0 exactly, (False, how) when shown not to be, (None, "") if undecided.

    Generic σ and C are replaced by polynomials for the point evaluation: one
    instance where the difference is nonzero refutes a claim made for all σ, C.
    """
    point = expr.xreplace(_rational_values(expr.free_symbols, 0))
    for function, lam in _WITNESS_FUNCTIONS:
        point = point.replace(function, lam)
    if point.is_Rational and point != 0:
        return False, f"exactly {point} at a rational point (σ(u) = u + u²/3, C(a, y) = (a − y)²/2 + a³/5 if generic)"
    if sp.expand(expr) == 0:
        return True, "expands to 0"
    from ..symbolic.proof import elementary

    if not point.is_Rational:
        # Fixed 30-digit arithmetic: evalf would raise its precision without bound chasing an exact 0.
        with mpmath.workdps(30):
            value = sp.lambdify([], elementary(point), "mpmath")()
        if abs(value) > 1e-12:
            return False, f"{mpmath.nstr(value, 6)} at a rational point (30-digit evaluation)"
    if not expr.has(sigma, sigma_prime, cost, cost_prime) and sp.simplify(elementary(expr)) == 0:
        return True, "simplifies to 0"
    return None, ""


def prove_concrete_sizes(
    layers: Sequence[int] = (2, 3, 2),
    activation: str | None = None,
    loss: str | None = None,
    equations: Sequence[sp.Eq] | None = None,
    **params: float,
) -> dict[str, Proof]:
    r"""∂C/∂w^l_{jk} − a^{l−1}_k δ^l_j = 0 and ∂C/∂b^l_j − δ^l_j = 0 exactly, for every scalar weight and bias.

    ``layers`` are the widths (n_0, …, n_L). The network is expanded to
    scalars (symbols ``w1_0_0``, ``b1_0``, ``x_0``, ``y_0``), C = Σ_j C(a^L_j, y_j),
    and the right sides are :func:`index_equations` (or ``equations``)
    evaluated at these sizes, δ through BP1/BP2 with the rules' derivatives.
    ``activation`` and ``loss`` name smooth library rules (``symdl.rule``);
    None keeps the generic σ and C. ``params`` go to whichever rule takes them.
    """
    widths = _check_layers(layers)
    units = _unit_rules(activation, loss, params)
    depth = len(widths) - 1
    net = _ScalarNetwork(widths, units)
    claims = sort_equations(index_equations(depth) if equations is None else equations, depth)
    results: dict[str, Proof] = {}
    for l in range(1, depth + 1):
        weight_cells = list(itertools.product(range(widths[l]), range(widths[l - 1])))
        bias_cells = [(r,) for r in range(widths[l])]
        w_label = f"layer {l} of {depth}: dC/dw^{{{l}}}_jk == a^{{{l - 1}}}_k delta^{{{l}}}_j"
        b_label = f"layer {l} of {depth}: dC/db^{{{l}}}_j == delta^{{{l}}}_j"
        targets = ((w_label, claims.weights, net.W[l], weight_cells), (b_label, claims.biases, net.B[l], bias_cells))
        for label, table, array, cells in targets:
            if l not in table:
                results[label] = Proof(False, "no equation gives this derivative", len(cells))
                continue
            indices, rhs = table[l]
            try:
                pairs = [(array[(*cell, 0)[:2]], net.value(instantiate(indices, rhs, cell), claims)) for cell in cells]
            except _OutOfShape as why:
                results[label] = Proof(False, f"refuted: {why}", len(cells))
                continue
            results[label] = _concrete_proof(net.total, pairs, units, widths)
    return results


class _OutOfShape(ValueError):
    """An equation names an array element that does not exist at these sizes (e.g. a transposed weight)."""


class _ScalarNetwork:
    """The network at concrete widths as SymPy matrices of scalar symbols, and equation right sides evaluated on it."""

    def __init__(self, widths: tuple[int, ...], units: _UnitRules) -> None:
        self.widths, self.units, depth = widths, units, len(widths) - 1
        self.xs = sp.Matrix([sp.Symbol(f"x_{t}", real=True) for t in range(widths[0])])
        self.ys = sp.Matrix([sp.Symbol(f"y_{t}", real=True) for t in range(widths[-1])])
        self.W = [None] + [
            sp.Matrix(widths[l], widths[l - 1], lambda r, c, l=l: sp.Symbol(f"w{l}_{r}_{c}", real=True))
            for l in range(1, depth + 1)
        ]
        self.B = [None] + [
            sp.Matrix([sp.Symbol(f"b{l}_{r}", real=True) for r in range(widths[l])]) for l in range(1, depth + 1)
        ]
        self.zs: list = [None]
        self.acts = [self.xs]
        for l in range(1, depth + 1):
            self.zs.append(self.W[l] * self.acts[-1] + self.B[l])
            self.acts.append(self.zs[-1].applyfunc(units.g))
        self.total = sum(units.loss(self.acts[-1][t], self.ys[t]) for t in range(widths[-1]))
        self._deltas: dict[tuple[int, int], sp.Expr | None] = {}
        self._arrays: dict[sp.IndexedBase, sp.Matrix] = {x: self.xs, y: self.ys}
        for l in range(depth + 1):
            z_base, a_base = activation_bases(l)
            self._arrays[a_base] = self.acts[l]
            if l:
                self._arrays.update({z_base: self.zs[l], weight(l): self.W[l], bias(l): self.B[l]})

    def value(self, rhs: sp.Expr, claims: _Claims) -> sp.Expr:
        """``rhs`` (indices already concrete) at these sizes: sums expanded, arrays and δ looked up, σ, C applied."""
        depth = len(self.widths) - 1
        rhs = rhs.xreplace({width(l): n for l, n in enumerate(self.widths)}).doit()
        subs = {}
        for e in rhs.atoms(sp.Indexed):
            layer = _layer_of(e.base, delta, depth)
            subs[e] = self._delta(layer, e.indices, claims) if layer is not None else self._element(e)
        rhs = rhs.xreplace(subs)
        u = self.units
        for function, concrete in ((sigma, u.g), (sigma_prime, u.g_prime), (cost, u.loss), (cost_prime, u.loss_prime)):
            if concrete is not function:
                rhs = rhs.replace(function, concrete)
        return rhs

    def _element(self, e: sp.Indexed) -> sp.Expr:
        if e.base not in self._arrays:
            raise ValueError(f"equation refers to {e.base}, which the network does not have")
        array, cell = self._arrays[e.base], tuple(int(i) for i in e.indices)
        cell = cell if len(cell) == 2 else (cell[0], 0)
        if not all(0 <= i < n for i, n in zip(cell, array.shape)):
            raise _OutOfShape(f"{e} is outside {e.base}'s shape {array.shape[0]}x{array.shape[1]}")
        return array[cell]

    def _delta(self, layer: int, indices: tuple, claims: _Claims) -> sp.Expr:
        key = (layer, int(indices[0]))
        if key in self._deltas:
            if self._deltas[key] is None:
                raise ValueError("the delta equations refer to each other in a cycle")
            return self._deltas[key]
        if layer not in claims.deltas:
            raise ValueError(f"no equation defines delta^{layer}")
        self._deltas[key] = None  # in progress: meeting it again means a cycle
        own_indices, rhs = claims.deltas[layer]
        try:
            self._deltas[key] = self.value(instantiate(own_indices, rhs, indices), claims)
        except ValueError:
            del self._deltas[key]
            raise
        return self._deltas[key]


def _concrete_proof(total: sp.Expr, pairs: Sequence[tuple[sp.Symbol, sp.Expr]], units: _UnitRules, widths: tuple[int, ...]) -> Proof:
    undecided = []
    methods = set()
    for parameter, claimed in pairs:
        outcome, how = _scalar_zero(sp.diff(total, parameter) - claimed)
        if outcome is False:
            return Proof(False, f"refuted at {parameter}: dC/d{parameter} minus the claim is {how}", len(pairs))
        if outcome is None:
            undecided.append(str(parameter))
        methods.add(how)
    if undecided:
        return Proof(False, f"not shown for {', '.join(undecided)}", len(pairs))
    return Proof(
        True,
        f"expanded to scalars at widths {widths} ({units.description}): sp.diff(C, parameter) minus the BP1–BP4 "
        f"value {' or '.join(sorted(methods))}, for every parameter",
        len(pairs),
    )
