r"""BP1–BP4 at concrete sizes: a small network expanded to scalars, ∂C/∂w and ∂C/∂b of every weight and bias checked.

With generic φ and C (undefined functions) or with library rules; at most
:data:`MAX_CONCRETE_PARAMETERS` parameters. :func:`prove_concrete_sizes` is
also importable from :mod:`symdl.backprop.index_proofs`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy as sp

from ..symbolic.proof import Proof
from .index_claims import (
    _WITNESS_FUNCTIONS,
    _Claims,
    _layer_of,
    _rational_values,
    instantiate,
    sort_equations,
)
from .index_form import (
    activation_bases,
    bias,
    cost,
    cost_prime,
    delta,
    index_equations,
    sigma,
    sigma_prime,
    weight,
    width,
    x,
    y,
)

__all__ = ["MAX_CONCRETE_PARAMETERS", "prove_concrete_sizes"]

MAX_CONCRETE_PARAMETERS = 100  # scalar expansion grows with every parameter; keep proofs to seconds


# --- concrete sizes ----------------------------------------------------------

_PIECEWISE = (sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Min, sp.Max, sp.DiracDelta)


@dataclass(frozen=True)
class _UnitRules:
    """φ, φ′, C, ∂C/∂a as callables on SymPy expressions, and how to describe them."""

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
    r = rule(name, **dict[str, Any]({key: value for key, value in params.items() if key in names}))
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
    description = f"activation {activation or 'phi (generic)'}, loss {loss or 'C (generic)'}"
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

    Generic φ and C are replaced by polynomials for the point evaluation: one
    instance where the difference is nonzero refutes a claim made for all φ, C.
    """
    point = expr.xreplace(_rational_values(expr.free_symbols, 0))
    for function, lam in _WITNESS_FUNCTIONS:
        point = point.replace(function, lam)
    if point.is_Rational and point != 0:
        return False, f"exactly {point} at a rational point (φ(u) = u + u²/3, C(a, y) = (a − y)²/2 + a³/5 if generic)"
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
    None keeps the generic φ and C. ``params`` go to whichever rule takes them.
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
        """``rhs`` (indices already concrete) at these sizes: sums expanded, arrays and δ looked up, φ, C applied."""
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
