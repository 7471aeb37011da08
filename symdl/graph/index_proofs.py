r"""Generalised backprop in index notation at symbolic widths: the common shapes of a graph and its block nodes.

Each claim is differentiated directly from C written with nested sums over
symbolic widths (SymPy's chain rule gives Kronecker deltas, contracted by
:func:`symdl.symbolic.index_sums.contract_deltas`) and compared with the
generalised BP right side by :func:`~symdl.symbolic.index_sums.is_zero_index_expr`;
φ and the loss C(a, y) are generic (φ′ and ∂C/∂a undefined functions), so a
claim holds for every rule. Each wrong variant — the skip term dropped, only
the last use of a shared weight, the auxiliary term missing — is refuted by an
exact counterexample: widths 1 and 2, φ(u) = u + u²/3 + 1/7, C(a, y) =
(a − y)²/2 + a³/5, rational values (sg(u) = u in value).

* residual block hⱼ = xⱼ + φ(zⱼ), zⱼ = Σₖ Wⱼₖxₖ + bⱼ:
  ∂C/∂x_q = g_q + Σₘ W_{mq} δₘ with gⱼ = ∂C/∂hⱼ and δₘ = gₘ φ′(zₘ);
* one W used twice, z¹ = Wx + b, z² = Wφ(z¹) + b:
  ∂C/∂W_{pq} = δ²_p a¹_q + δ¹_p x_q (a sum over the two uses);
* an auxiliary loss c Σⱼ C(a¹ⱼ, tⱼ) on the hidden layer:
  δ¹_p = (Σₘ W²_{mp} δ²ₘ + c ∂C/∂a(a¹_p, t_p)) φ′(z¹_p);
* a residual block whose layer is shared, h¹ = x + φ(Wx + b), h² = h¹ + φ(Wh¹ + b):
  ∂C/∂W_{pq} = δ²_p h¹_q + δ¹_p x_q with δ¹_p = (g²_p + Σₘ W_{mp} δ²ₘ) φ′(z¹_p)
  (wrong: the skip term g²_p dropped);
* two inputs merged by a product, h = φ(W¹x¹ + b¹) ⊙ φ(W²x² + b²):
  ∂C/∂W²_{pq} = g_p a¹_p φ′(z²_p) x²_q (wrong: the other branch's factor a¹_p left out, as for a sum);
* stacking h = [u; v] (widths n₁, n₂) under z = Ah + d, v = φ(Vx + c):
  ∂C/∂V_{pq} = g_{n₁+p} φ′(Vx + c)_p x_q with g_i = Σₘ A_{mi} ∂C/∂a(z_m, y_m), the stacked
  error signal split by blocks (wrong: its top rows g_p);
* slicing h_i = a_{s+i}, i < m, of a = φ(Wx + b) (width n ≥ s + m):
  ∂C/∂W_{pq} = (Σ_{i<m} δ_{p,s+i} g_i) φ′(z_p) x_q, gᵢ = ∂C/∂a(h_i, y_i): the error signal placed
  into zeros at rows s … s + m − 1 (wrong: placed at the top rows, Σᵢ δ_{p,i} g_i);
* stop-gradient h = a + sg(a), a = φ(Wx + b): ∂C/∂W_{pq} = g_p φ′(z_p) x_q, nothing through sg
  (wrong: 2 g_p φ′(z_p) x_q, sg passing its signal back).

Each remaining composition of these nodes (any graph) is proven at concrete
sizes by :func:`symdl.graph.proofs.prove_graph`; at symbolic widths, only
these shapes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

import sympy as sp

from ..backprop.index_form import cost, cost_prime, sigma, sigma_prime
from ..symbolic.index_sums import contract_deltas, is_zero_index_expr
from ..symbolic.proof import Proof
from ..symbolic.stop_gradient import stop_gradient

__all__ = ["CLAIMS", "prove_index_claims"]

_n, _n0, _n1, _n2 = sp.symbols("n n_0 n_1 n_2", integer=True, positive=True)
_start = sp.Symbol("s", integer=True, nonnegative=True)  # a slice's first row (counted from 0 here)
_j, _m, _p, _q, _i = sp.symbols("j m p q i", integer=True)
_FRESH = itertools.count()
_x, _y, _t, _b, _b2, _x2 = (sp.IndexedBase(s) for s in ("x", "y", "t", "b", "b2", "x2"))
_W, _W2, _A, _d = sp.IndexedBase("W"), sp.IndexedBase("W2"), sp.IndexedBase("A"), sp.IndexedBase("d")
_C_AUX = sp.Rational(1, 10)  # an auxiliary loss's weight
_u, _v = sp.symbols("u v", real=True)
_WITNESSES = (
    (sigma, sp.Lambda(_u, _u + _u**2 / 3 + sp.Rational(1, 7))),
    (sigma_prime, sp.Lambda(_u, 1 + 2 * _u / 3)),
    (cost, sp.Lambda((_u, _v), (_u - _v) ** 2 / 2 + _u**3 / 5)),
    (cost_prime, sp.Lambda((_u, _v), _u - _v + 3 * _u**2 / 5)),
    (stop_gradient, sp.Lambda(_u, _u)),
)


def _linear(W: sp.IndexedBase, inputs, bias: sp.IndexedBase, width: sp.Symbol, index: sp.Expr) -> sp.Expr:
    """Σₖ W_{index,k} inputs(k) + b_index, with a summation index of its own (nested sums must not capture it)."""
    k = sp.Symbol(f"k{next(_FRESH)}", integer=True)
    return sp.Sum(W[index, k] * inputs(k), (k, 0, width - 1)) + bias[index]


def _residual() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    z = lambda i: _linear(_W, lambda k: _x[k], _b, _n, i)  # noqa: E731
    h = lambda i: _x[i] + sigma(z(i))  # noqa: E731
    C = sp.Sum(cost(h(_j), _y[_j]), (_j, 0, _n - 1))
    g = lambda i: cost_prime(h(i), _y[i])  # noqa: E731
    through_block = sp.Sum(_W[_m, _q] * g(_m) * sigma_prime(z(_m)), (_m, 0, _n - 1))
    return C, _x[_q], {_q: (0, _n - 1)}, g(_q) + through_block, through_block


def _shared() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    z1 = lambda i: _linear(_W, lambda k: _x[k], _b, _n, i)  # noqa: E731
    z2 = lambda i: _linear(_W, lambda k: sigma(z1(k)), _b, _n, i)  # noqa: E731
    C = sp.Sum(cost(sigma(z2(_j)), _y[_j]), (_j, 0, _n - 1))
    d2 = lambda i: cost_prime(sigma(z2(i)), _y[i]) * sigma_prime(z2(i))  # noqa: E731
    d1 = sp.Sum(_W[_m, _p] * d2(_m), (_m, 0, _n - 1)) * sigma_prime(z1(_p))
    last = d2(_p) * sigma(z1(_q))
    return C, _W[_p, _q], {_p: (0, _n - 1), _q: (0, _n - 1)}, last + d1 * _x[_q], last


def _auxiliary() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    z1 = lambda i: _linear(_W, lambda k: _x[k], _b, _n0, i)  # noqa: E731
    z2 = lambda i: _linear(_W2, lambda k: sigma(z1(k)), _b2, _n1, i)  # noqa: E731
    C = sp.Sum(cost(sigma(z2(_j)), _y[_j]), (_j, 0, _n2 - 1)) + _C_AUX * sp.Sum(cost(sigma(z1(_j)), _t[_j]), (_j, 0, _n1 - 1))
    d2 = lambda i: cost_prime(sigma(z2(i)), _y[i]) * sigma_prime(z2(i))  # noqa: E731
    main = sp.Sum(_W2[_m, _p] * d2(_m), (_m, 0, _n2 - 1))
    aux = _C_AUX * cost_prime(sigma(z1(_p)), _t[_p])
    d1 = (main + aux) * sigma_prime(z1(_p))
    return C, _W[_p, _q], {_p: (0, _n1 - 1), _q: (0, _n0 - 1)}, d1 * _x[_q], main * sigma_prime(z1(_p)) * _x[_q]


def _residual_shared() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    z1 = lambda i: _linear(_W, lambda k: _x[k], _b, _n, i)  # noqa: E731
    h1 = lambda i: _x[i] + sigma(z1(i))  # noqa: E731
    z2 = lambda i: _linear(_W, h1, _b, _n, i)  # noqa: E731
    h2 = lambda i: h1(i) + sigma(z2(i))  # noqa: E731
    C = sp.Sum(cost(h2(_j), _y[_j]), (_j, 0, _n - 1))
    g2 = lambda i: cost_prime(h2(i), _y[i])  # noqa: E731
    d2 = lambda i: g2(i) * sigma_prime(z2(i))  # noqa: E731
    block = sp.Sum(_W[_m, _p] * d2(_m), (_m, 0, _n - 1))
    claim = d2(_p) * h1(_q) + (g2(_p) + block) * sigma_prime(z1(_p)) * _x[_q]
    return C, _W[_p, _q], {_p: (0, _n - 1), _q: (0, _n - 1)}, claim, d2(_p) * h1(_q) + block * sigma_prime(z1(_p)) * _x[_q]


def _two_inputs() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    z1 = lambda i: _linear(_W, lambda k: _x[k], _b, _n0, i)  # noqa: E731
    z2 = lambda i: _linear(_W2, lambda k: _x2[k], _b2, _n1, i)  # noqa: E731
    h = lambda i: sigma(z1(i)) * sigma(z2(i))  # noqa: E731
    C = sp.Sum(cost(h(_j), _y[_j]), (_j, 0, _n - 1))
    g = cost_prime(h(_p), _y[_p])
    ranges = {_p: (0, _n - 1), _q: (0, _n1 - 1)}
    return C, _W2[_p, _q], ranges, g * sigma(z1(_p)) * sigma_prime(z2(_p)) * _x2[_q], g * sigma_prime(z2(_p)) * _x2[_q]


def _stacked() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    u = lambda i: sigma(_linear(_W, lambda k: _x[k], _b, _n0, i))  # noqa: E731
    zv = lambda i: _linear(_W2, lambda k: _x[k], _b2, _n0, i)  # noqa: E731
    k1, k2 = (sp.Symbol(f"k{next(_FRESH)}", integer=True) for _ in range(2))
    # (A h)_i with h = [u; v]: the sum over the stacked index split at n₁ into its two blocks
    z = lambda i: (sp.Sum(_A[i, k1] * u(k1), (k1, 0, _n1 - 1))  # noqa: E731
                   + sp.Sum(_A[i, _n1 + k2] * sigma(zv(k2)), (k2, 0, _n2 - 1)) + _d[i])
    C = sp.Sum(cost(z(_j), _y[_j]), (_j, 0, _n - 1))
    g = lambda i: sp.Sum(_A[_m, i] * cost_prime(z(_m), _y[_m]), (_m, 0, _n - 1))  # noqa: E731
    ranges = {_p: (0, _n2 - 1), _q: (0, _n0 - 1)}
    return C, _W2[_p, _q], ranges, g(_n1 + _p) * sigma_prime(zv(_p)) * _x[_q], g(_p) * sigma_prime(zv(_p)) * _x[_q]


def _sliced() -> tuple[sp.Expr, sp.Expr, list, sp.Expr, sp.Expr]:
    z = lambda i: _linear(_W, lambda k: _x[k], _b, _n0, i)  # noqa: E731
    C = sp.Sum(cost(sigma(z(_start + _j)), _y[_j]), (_j, 0, _n1 - 1))
    g = lambda i: cost_prime(sigma(z(_start + i)), _y[i])  # noqa: E731
    placed = lambda offset: sp.Sum(sp.KroneckerDelta(_p, offset + _i) * g(_i), (_i, 0, _n1 - 1))  # noqa: E731
    # by cases: the rows above the slice, its own rows, the rows below it
    cases = [{_p: bounds, _q: (0, _n0 - 1)} for bounds in ((0, _start - 1), (_start, _start + _n1 - 1), (_start + _n1, _n - 1))]
    local = sigma_prime(z(_p)) * _x[_q]
    return C, _W[_p, _q], cases, placed(_start) * local, placed(0) * local


def _stopped() -> tuple[sp.Expr, sp.Expr, dict, sp.Expr, sp.Expr]:
    z = lambda i: _linear(_W, lambda k: _x[k], _b, _n0, i)  # noqa: E731
    h = lambda i: sigma(z(i)) + stop_gradient(sigma(z(i)))  # noqa: E731
    C = sp.Sum(cost(h(_j), _y[_j]), (_j, 0, _n - 1))
    local = cost_prime(h(_p), _y[_p]) * sigma_prime(z(_p)) * _x[_q]
    return C, _W[_p, _q], {_p: (0, _n - 1), _q: (0, _n0 - 1)}, local, 2 * local


def _counterexample(difference: sp.Expr, free: dict) -> str | None:
    """An exact nonzero value of ``difference`` at widths 1 or 2, polynomial φ and C, rational values."""
    for size in (1, 2):
        # a slice of one row starting at row 2 of two (s = 1), else every width the same
        widths = {_n: 2, _n0: 1, _n1: 1, _start: 1} if difference.has(_start) else {w: size for w in (_n, _n0, _n1, _n2)}
        cell = {index: int(sp.sympify(low).xreplace(widths)) for index, (low, _) in free.items()}  # each at its lowest
        concrete = difference.xreplace(widths).xreplace(cell).doit()
        for function, lam in _WITNESSES:
            concrete = concrete.replace(function, lam)
        atoms = sorted(concrete.atoms(sp.Indexed), key=sp.default_sort_key)
        values = {a: sp.Rational(*Fraction((3 * t + 2) % 7 - 3 or 1, 2 + t % 3).as_integer_ratio()) for t, a in enumerate(atoms)}
        value = concrete.xreplace(values)
        if value.is_Rational and value != 0:
            return f"refuted: exactly {value} at widths {_widths_text(widths)}, φ(u) = u + u²/3 + 1/7, C(a, y) = (a − y)²/2 + a³/5, {cell}"
    return None


def _widths_text(widths: dict) -> str:
    values = set(widths.values())
    return str(values.pop()) if len(values) == 1 else ", ".join(f"{w} = {v}" for w, v in widths.items())


def _check(C: sp.Expr, target: sp.Expr, ranges: dict | list, claim: sp.Expr) -> Proof:
    """The claim for every index in ``ranges`` (a list: each case of the indices' ranges in turn)."""
    cases = ranges if isinstance(ranges, list) else [ranges]
    derivative = sp.diff(C, target)
    for case in cases:
        difference = contract_deltas(contract_deltas(derivative, case) - claim, case)
        if difference.has(sp.Piecewise) or not is_zero_index_expr(difference, case):  # a guard left: not shown
            witness = _counterexample(difference, case)
            return Proof(False, witness or "not shown: the normal form is not 0 and no counterexample was found")
    how = f", by {len(cases)} cases of the row index" if len(cases) > 1 else ""
    return Proof(True, "index notation, symbolic widths: C differentiated directly, Kronecker deltas contracted; "
                       f"the normal form of the difference is 0 (generic φ and C){how}")


#: Each claim's key, label and builder, in the order :func:`prove_index_claims` proves them.
CLAIMS = (
    ("residual", "residual block: dC/dx_q == g_q + sum_m W_mq delta_m (skip term + block term)", _residual),
    ("shared", "shared W used twice: dC/dW_pq == delta2_p a1_q + delta1_p x_q (sum over uses)", _shared),
    ("auxiliary", "auxiliary loss: dC/dW1_pq == delta1_p x_q, delta1_p = (sum_m W2_mp delta2_m + c dC/da(a1_p, t_p)) "
     "sigma'(z1_p)", _auxiliary),
    ("residual_shared", "residual block with a shared layer: dC/dW_pq == delta2_p h1_q + delta1_p x_q, "
     "delta1_p = (g2_p + sum_m W_mp delta2_m) sigma'(z1_p)", _residual_shared),
    ("two_inputs", "two inputs merged by a product: dC/dW2_pq == g_p a1_p sigma'(z2_p) x2_q", _two_inputs),
    ("stacking", "stacking h = [u; v], v = sigma(Vx + c): dC/dV_pq == g_(n1+p) sigma'((Vx + c)_p) x_q "
     "(the error signal split by blocks)", _stacked),
    ("slicing", "slicing h_i = a_(s+i): dC/dW_pq == (sum_i delta_(p,s+i) g_i) sigma'(z_p) x_q "
     "(the error signal placed into zeros)", _sliced),
    ("stop_gradient", "stop-gradient h = a + sg(a): dC/dW_pq == g_p sigma'(z_p) x_q (nothing flows back through sg)", _stopped),
)


def prove_index_claims(wrong: bool = False, only: Sequence[str] | None = None) -> dict[str, Proof]:
    """The claims of :data:`CLAIMS` (``only``: those keys) at symbolic widths; ``wrong=True`` states each one's classic
    mistake instead (to be refuted). An unknown key is a ValueError naming the known ones."""
    keys = [key for key, _, _ in CLAIMS]
    for key in only or ():
        if key not in keys:
            raise ValueError(f"prove_index_claims: unknown claim {key!r}; known: {', '.join(keys)}")
    out = {}
    for key, label, build in CLAIMS:
        if only is not None and key not in only:
            continue
        C, target, ranges, claim, mistake = build()
        out[label] = _check(C, target, ranges, mistake if wrong else claim)
    return out
