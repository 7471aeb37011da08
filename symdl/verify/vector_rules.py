"""Numeric checks of vector rules (softmax, maxout, RBF, softmax cross-entropy) at a concrete width.

The same questions as :mod:`symdl.verify.rules` asks of element-wise rules: are the
identities proven; does the generated VJP agree with central differences of
the generated forward code along random directions; does each generated
value agree with a 50-digit evaluation of the same SymPy expression; is it
finite and warning-free for inputs up to ±1000. A vector result is compared
with the error bound of its expanded terms: |num − exact| ≤ rtol·Σ|term|
(a VJP such as s ⊙ (v − ⟨v, s⟩) can be a small difference of large terms,
and no float evaluation does better than that bound; a factor e^u adds
|u|·|term|, since u itself carries a rounding error).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import sympy as sp

from ..codegen.simplex import SimplexThreshold
from ..rulebook.vector_rule import COTANGENT, ROW_COTANGENT, VectorRule, at_size
from ..testing import STABILITY_LIMIT, fd_step, mpmath_reference
from .measures import REFERENCE_DIGITS

__all__ = ["check_vector_rule"]

#: Digits of the error bound Σ|term| (a sum of magnitudes: see mpmath_reference's ``magnitudes``).
_SCALE_DPS = 30


def _draw(rule: VectorRule, rng: np.random.Generator, rows: int, low: float, high: float) -> dict:
    d = rule.definition
    values = {}
    for inp in d.inputs:
        shape = tuple(d.check_sizes[s] for s in inp.sizes)
        full = shape if inp.shared else (rows, *shape)
        if inp.base in d.label_inputs:
            values[inp.base] = np.eye(shape[-1])[rng.integers(0, shape[-1], size=full[:-1])]
        else:
            lo, hi = d.input_ranges.get(inp.base, (low, high))
            values[inp.base] = rng.uniform(lo, hi, size=full)
    out_shape = tuple(d.check_sizes[s] for s in d.output_sizes)
    if rule.kind == "activation":
        values[COTANGENT if d.output else ROW_COTANGENT] = rng.uniform(-1, 1, size=(rows, *out_shape))
    return values


def _cotangent_args(rule: VectorRule, values: dict) -> list[np.ndarray]:
    return [values[c] for c in (COTANGENT, ROW_COTANGENT) if c in values]


def _directional_error(rule: VectorRule, values: dict, rng: np.random.Generator) -> float:
    forward = rule.numeric()
    inputs = [values[b] for b in rule.inputs]
    weights = _cotangent_args(rule, values)

    def objective(args: list[np.ndarray]) -> float:
        out = forward(*args)
        return float(np.sum(out * weights[0])) if weights else float(np.sum(out))

    worst = 0.0
    for position, inp in enumerate(rule.definition.inputs):
        if inp.base in rule.definition.label_inputs:
            continue
        direction = rng.normal(size=inputs[position].shape)
        step = float(np.max(fd_step(inputs[position])))
        plus = list(inputs)
        minus = list(inputs)
        plus[position] = inputs[position] + step * direction
        minus[position] = inputs[position] - step * direction
        fd = (objective(plus) - objective(minus)) / (2 * step)
        exact = float(np.sum(rule.numeric_derivative(inp.base)(*inputs, *weights) * direction))
        worst = max(worst, abs(fd - exact) / max(1.0, abs(exact)))
    return worst


def _scalar_symbols(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Symbol], dict]:
    elements = sorted(expr.atoms(sp.Indexed), key=str)
    names = {e: sp.Symbol(f"{e.base.label}_{'_'.join(map(str, e.indices))}", real=True) for e in elements}
    scalar = expr.xreplace(names)
    labels = {e.base.label for e in elements}
    names.update({s: s for s in scalar.free_symbols if s not in names.values() and s not in labels})
    return scalar, list(names.values()), names


class _Element(NamedTuple):
    """One output or VJP element at the check sizes: its exact value and its error bound Σ|term|, as scalars."""

    check: int  # 0: the forward values, then each VJP in the order of :func:`_checks`
    position: tuple[int, ...]
    exact: sp.Expr
    bound: sp.Expr
    symbols: list[sp.Symbol]
    names: dict
    shared: bool


def _checks(rule: VectorRule) -> list[tuple[sp.Expr, tuple, tuple, bool, sp.IndexedBase | None]]:
    """(expression, indices, index sizes, shared, input or None for the forward values) of what _accuracy compares."""
    d = rule.definition
    checks = [(d.stable_forward if d.stable_forward is not None else d.forward, d.output, d.output_sizes, False, None)]
    for inp in d.inputs:
        if inp.base not in d.label_inputs:
            checks.append((d.vjps[inp.base], inp.indices, inp.sizes, inp.shared, inp.base))
    return checks


def _elements(rule: VectorRule) -> list[_Element]:
    """The symbolic side of :func:`_accuracy`, the same for every dtype: built once per rule."""
    sizes = rule.definition.check_sizes
    elements = []
    for check, (expr, indices, index_sizes, shared, _) in enumerate(_checks(rule)):
        for index_values in np.ndindex(*[sizes[s] for s in index_sizes]):
            exact = at_size(expr, sizes, dict(zip(indices, index_values)), shift=None)
            scalar, symbols, names = _scalar_symbols(exact)
            bound = sp.Add(*(_error_bound(t) for t in sp.Add.make_args(sp.expand(scalar))))
            elements.append(_Element(check, index_values, scalar, bound, symbols, names, shared))
    return elements


def _accuracy(rule: VectorRule, values: dict, dtype: type, elements: list[_Element] | None = None) -> float:
    """Worst |num − exact| / Σ|expanded terms| over the forward values and every VJP, row by row.

    ``elements``: :func:`_elements` of ``rule`` where the caller already has them.
    """
    cast = {k: v.astype(dtype) for k, v in values.items()}
    inputs = [cast[b] for b in rule.inputs]
    weights = _cotangent_args(rule, cast)
    numerics = [rule.numeric()(*inputs) if base is None else rule.numeric_derivative(base)(*inputs, *weights)
                for *_, base in _checks(rule)]
    worst = 0.0
    for e in _elements(rule) if elements is None else elements:
        per_row = [_element_values(element, cast, e.shared) for element in e.names]
        reference = mpmath_reference(e.exact, e.symbols, per_row, dps=REFERENCE_DIGITS)
        # A sum of magnitudes cannot cancel: one 30-digit evaluation gives it to far more digits than a
        # denominator needs.
        scale = mpmath_reference(e.bound, e.symbols, per_row, dps=_SCALE_DPS, magnitudes=True)
        got = numerics[e.check][(...,) + tuple(e.position)].astype(np.float64)
        if e.shared:
            reference, scale = np.sum(reference), np.sum(scale)
        tiny = np.finfo(dtype).tiny
        worst = max(worst, float(np.max(np.abs(got - reference) / np.maximum(scale, tiny))))
    return worst


def _error_bound(term: sp.Expr) -> sp.Expr:
    """|term|·(1 + Σ|u| over its factors e^u): a rounding error ε in u is an error |u|·ε·e^u in e^u.

    A max and sparsemax's τ are bounded by their arguments (:func:`_magnitude`): max(z − τ, 0) can be 0
    while the float z − τ carries the rounding error of |z| and |τ|.
    """
    exponents = [f.args[0] for f in term.atoms(sp.exp)]
    size = _magnitude(term) if term.has(sp.Max, sp.Min, SimplexThreshold) else sp.Abs(term)
    return size * (1 + sum(sp.Abs(u) for u in exponents))


def _magnitude(expr: sp.Expr) -> sp.Expr:
    """An upper bound of |expr| through its sums: |a + b| ≤ |a| + |b|, |max(a, b)| ≤ |a| + |b|, |τ(z)| ≤ Σ|z_j| + 1."""
    if isinstance(expr, (sp.Add, sp.Max, sp.Min)):
        return sp.Add(*(_magnitude(a) for a in expr.args))
    if isinstance(expr, SimplexThreshold):
        return sp.Add(*(sp.Abs(a) for a in expr.args)) + 1
    if isinstance(expr, sp.Mul):
        return sp.Mul(*(_magnitude(a) for a in expr.args))
    return sp.Abs(expr)


def _element_values(element: sp.Expr, values: dict, shared: bool) -> np.ndarray:
    if isinstance(element, sp.Symbol):
        return values[element]
    base = element.base
    key = base if base in values else next(k for k in values if str(getattr(k, "label", k)) == str(base.label))
    arr = values[key]
    index = tuple(int(i) for i in element.indices)
    return arr[index] if arr.ndim == len(index) else arr[(...,) + index]


def _unstable(rule: VectorRule, rng: np.random.Generator) -> list[str]:
    problems = []
    for dtype in (np.float32, np.float64):
        values = _draw(rule, rng, 64, -STABILITY_LIMIT, STABILITY_LIMIT)
        for base in values:
            if base not in rule.definition.input_ranges and base not in rule.definition.label_inputs:
                values[base][..., 0] = STABILITY_LIMIT  # the extremes, not only random points
                values[base][:8, ...] = -STABILITY_LIMIT
        cast = {k: v.astype(dtype) for k, v in values.items()}
        inputs = [cast[b] for b in rule.inputs]
        kernels = [(rule.numeric(), ())] + [
            (rule.numeric_derivative(inp.base), tuple(_cotangent_args(rule, cast))) for inp in rule.definition.inputs
        ]
        for kernel, extra in kernels:
            try:
                with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                    out = kernel(*inputs, *extra)
            except FloatingPointError as error:
                problems.append(f"{kernel.name} ({np.dtype(dtype).name}): {error}")
                continue
            if not np.all(np.isfinite(out)):
                problems.append(f"{kernel.name} ({np.dtype(dtype).name}): non-finite result")
    return problems


def check_vector_rule(rule: VectorRule, rows: int = 40, seed: int = 0) -> dict:
    """fd_error, accuracy64, accuracy32 and unstable (list of problems) for a vector rule."""
    rng = np.random.default_rng(seed)
    values = _draw(rule, rng, rows, *rule.definition.check_range)
    elements = _elements(rule)
    return {
        "fd_error": _directional_error(rule, values, rng),
        "accuracy64": _accuracy(rule, values, np.float64, elements),
        "accuracy32": _accuracy(rule, values, np.float32, elements),
        "unstable": _unstable(rule, rng),
    }
