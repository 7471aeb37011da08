r"""A formula layer's VJPs proven at concrete sizes: x̄[p] − ∂T/∂x[p] = 0 exactly, T = Σ_out Σ_I v_out[I]·out[I].

The layer is expanded to scalars at small sizes (every sum written out, every
array element its own symbol), T is differentiated directly by each scalar
element of each input and parameter, and the index-notation VJP evaluated at
the same element must equal it. Each difference is first evaluated at an
exact rational point: a nonzero rational there refutes the claim with that
point as the counterexample. Otherwise the difference is shown to be the zero
rational function of its non-polynomial subterms
(:func:`symdl.symbolic.index_sums.rational_zero`, exact), or, failing that,
to simplify to 0 (:func:`symdl.symbolic.proof.prove_zero`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import sympy as sp

from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.index_parse import IndexEquation, dimension
from ..symbolic.index_sums import rational_zero
from ..symbolic.proof import Proof, prove_zero
from ..symbolic.regimes import elementary
from .derivation import cotangent, element

__all__ = ["MAX_PROOF_SCALARS", "default_sizes", "prove_vjps"]

MAX_PROOF_SCALARS = 120  # array elements of the expanded layer: keeps each proof to seconds


def default_sizes(dims: Sequence[str]) -> dict[str, int]:
    """Small distinct sizes, 2 and 3 in turn, so that a transposed index reads another element (or none)."""
    return {dim: 2 + n % 2 for n, dim in enumerate(sorted(dims))}


def _written_out(s: sp.Sum) -> sp.Expr:
    """A sum with integer bounds as the sum of its terms (``Sum.doit`` would look for a closed form first)."""
    ranges = [range(int(low), int(high) + 1) for _, low, high in s.limits]
    variables = [limit[0] for limit in s.limits]
    return sp.Add(*(s.function.xreplace(dict(zip(variables, values))) for values in itertools.product(*ranges)))


def at_size(expr: sp.Expr, sizes: Mapping[sp.Symbol, int], indices: Mapping[sp.Symbol, int]) -> sp.Expr:
    """``expr`` at concrete sizes and index values, every sum written out term by term (innermost first)."""
    concrete = expr.xreplace({**{k: sp.Integer(v) for k, v in sizes.items()}, **{k: sp.Integer(v) for k, v in indices.items()}})
    return concrete.replace(lambda e: isinstance(e, sp.Sum), _written_out)


def _cells(axes: Sequence[str], sizes: Mapping[str, int]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(sizes[a]) for a in axes)))


def _point(expr: sp.Expr) -> dict[sp.Expr, sp.Rational]:
    """Distinct positive rationals (2/3, 3/5, 4/7, …) for every array element and scalar symbol of ``expr``."""
    cells = sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key)
    labels = {e.base.label for e in cells}
    scalars = sorted((s for s in expr.free_symbols if s not in labels), key=sp.default_sort_key)
    return {v: sp.Rational(k + 2, 2 * k + 3) for k, v in enumerate([*cells, *scalars])}


def _powers_apart(expr: sp.Expr) -> tuple[sp.Expr, int]:
    """``expr`` with each base of a power (u + w)^k, |k| ≥ 2, an independent symbol; and the largest such |k|.

    An identity that holds with the bases independent holds for the actual ones;
    expanding (x₀ + x₁ + b)^19 instead would cost millions of terms.
    """
    bases: dict[sp.Expr, sp.Symbol] = {}
    powers = [e for e in expr.atoms(sp.Pow) if isinstance(e.base, sp.Add) and e.exp.is_Integer and abs(e.exp) > 1]
    for power in powers:
        bases.setdefault(power.base, sp.Dummy(f"B{len(bases)}", real=True))
    apart = expr.replace(lambda e: e in powers, lambda e: bases[e.base] ** e.exp)
    return apart, max((abs(int(p.exp)) for p in powers), default=0)


def _roots_apart(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each u^(p/q) (p/q not an integer, in lowest terms) written r^p, r an independent symbol per (u, q).

    √s and s^(3/2) become r and r³: an identity that holds for every r holds for r = s^(1/q).
    """
    powers = [e for e in expr.atoms(sp.Pow) if e.exp.is_Rational and not e.exp.is_Integer]
    if not powers:
        return expr
    roots: dict[tuple[sp.Expr, int], sp.Dummy] = {}
    table = {}
    for power in powers:
        root = roots.setdefault((power.base, int(power.exp.q)), sp.Dummy(f"r{len(roots)}", positive=True))
        table[power] = root ** int(power.exp.p)
    return expr.xreplace(table)


def _decide(difference: sp.Expr) -> tuple[bool | None, str]:
    """(False, counterexample) when nonzero at a rational point, (True, how) when shown ≡ 0, else (None, "")."""
    point = _point(difference)
    value = difference.xreplace(point).doit()
    shown = ", ".join(f"{k} = {v}" for k, v in point.items())
    if value.is_Rational and value != 0:
        return False, f"{value} at {shown}"
    if not value.is_Rational and value.is_number:
        # an irrational value (a root of a rational): 60 significant digits evaluated with SymPy's error control
        approximate = value.evalf(60)
        if approximate.is_Float and abs(approximate) > _NONZERO:
            return False, f"{sp.Float(approximate, 15)} (60-digit evaluation) at {shown}"
    apart, exponent = _powers_apart(difference)
    if difference == 0 or rational_zero(apart):
        return True, "exact rational-function identity"
    rooted = _roots_apart(difference)
    if rooted is not difference and rational_zero(rooted):
        return True, "exact rational-function identity in the roots"
    if exponent > _MAX_EXPANDED_POWER or sp.count_ops(difference) > _MAX_SIMPLIFIED_OPS:
        return None, ""  # expanding or simplifying would not finish in seconds: not shown
    if rational_zero(difference):
        return True, "exact rational-function identity"
    if 0 < len(difference.atoms(sp.Piecewise)) <= _MAX_FOLDED_PIECEWISE:
        # One Piecewise of the whole difference: it is 0 when each branch's value is.
        folded = sp.piecewise_fold(difference)
        branches = [v for v, _ in folded.args] if isinstance(folded, sp.Piecewise) else [folded]
        # expm1(u) on one side and eᵘ − 1 on the other: each branch with its primitives written out (same value)
        if all(rational_zero(_powers_apart(v)[0]) or rational_zero(_powers_apart(elementary(v))[0]) for v in branches):
            return True, "each branch an exact rational-function identity"
    if prove_zero(difference, sp.Dummy("unused")):
        return True, "simplifies to 0"
    return None, ""


_MAX_EXPANDED_POWER = 6
_NONZERO = sp.Float("1e-30")  # far above the 60-digit evaluation's error at these small sizes: truly nonzero
_MAX_FOLDED_PIECEWISE = 6  # folding k of them gives up to 2^k branches
_MAX_SIMPLIFIED_OPS = 400


def _check_size(arrays: Mapping[str, tuple[str, ...]], equations: Sequence[IndexEquation], sizes: Mapping[str, int]):
    count = sum(len(_cells(axes, sizes)) for axes in arrays.values())
    count += sum(len(_cells([eq.dims[i] for i in eq.indices], sizes)) for eq in equations)
    if count > MAX_PROOF_SCALARS:
        raise ValueError(
            f"prove: the layer has {count} scalars at sizes {dict(sizes)}; at most {MAX_PROOF_SCALARS} are accepted "
            "(choose smaller sizes)"
        )


def prove_vjps(
    equations: Sequence[IndexEquation],
    arrays: Mapping[str, tuple[str, ...]],
    vjps: Mapping[str, tuple[tuple[sp.Symbol, ...], sp.Expr]],
    sizes: Mapping[str, int],
) -> dict[str, Proof]:
    """Each claimed VJP (free indices, expression) against ∂T/∂element at ``sizes`` (dimension name ↦ size)."""
    missing = sorted({dim for axes in arrays.values() for dim in axes} - set(sizes))
    if missing:
        raise ValueError(f"prove: no size for dimension {missing[0]!r}; give sizes={{{missing[0]!r}: 2, ...}}")
    bad = [(d, s) for d, s in sizes.items() if isinstance(s, bool) or not isinstance(s, int) or s < 1]
    if bad:
        raise ValueError(f"prove: size of {bad[0][0]!r} must be a positive int, got {bad[0][1]!r}")
    _check_size(arrays, equations, sizes)
    at = {dimension(d): s for d, s in sizes.items()}
    total = sp.S.Zero
    for eq in equations:
        for cell in _cells([eq.dims[i] for i in eq.indices], sizes):
            values = dict(zip(eq.indices, cell))
            total += cotangent(eq).xreplace(values) * at_size(eq.rhs, at, values)
    label_sizes = ", ".join(f"{d}={s}" for d, s in sorted(sizes.items()))
    results: dict[str, Proof] = {}
    for name, (indices, claim) in vjps.items():
        label = f"vjp by {name} - d(sum_out v_out . out)/d{name} ({label_sizes})"
        cells = _cells(arrays[name], sizes)
        methods: set[str] = set()
        undecided = []
        for cell in cells:
            target = element(name, cell)
            claimed = at_size(claim, at, dict(zip(indices, cell)))
            outcome, how = _decide(claimed - diff_away_from_jumps(total, target))
            if outcome is False:
                results[label] = Proof(False, f"refuted at {target}: claim minus derivative is {how}", len(cells))
                break
            if outcome is None:
                undecided.append(str(target))
            methods.add(how)
        else:
            if undecided:
                results[label] = Proof(False, f"not shown for {', '.join(undecided)}", len(cells))
            else:
                how = " or ".join(sorted(methods))
                results[label] = Proof(True, f"expanded to scalars, differentiated directly: {how}", len(cells))
    return results
