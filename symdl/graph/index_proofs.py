r"""Generalised backprop in index notation at symbolic widths: a residual block, a shared weight, an auxiliary loss.

Each claim is differentiated directly from C written with nested sums over
symbolic widths (SymPy's chain rule gives Kronecker deltas, contracted by
:func:`symdl.symbolic.index_sums.contract_deltas`) and compared with the
generalised BP right side by :func:`~symdl.symbolic.index_sums.is_zero_index_expr`;
φ and the loss C(a, y) are generic (φ′ and ∂C/∂a undefined functions), so a
claim holds for every rule. Each wrong variant — the skip term dropped, only
the last use of a shared weight, the auxiliary term missing — is refuted by an
exact counterexample: widths 1 and 2, φ(u) = u + u²/3 + 1/7, C(a, y) =
(a − y)²/2 + a³/5, rational values.

* residual block hⱼ = xⱼ + φ(zⱼ), zⱼ = Σₖ Wⱼₖxₖ + bⱼ:
  ∂C/∂x_q = g_q + Σₘ W_{mq} δₘ with gⱼ = ∂C/∂hⱼ and δₘ = gₘ φ′(zₘ);
* one W used twice, z¹ = Wx + b, z² = Wφ(z¹) + b:
  ∂C/∂W_{pq} = δ²_p a¹_q + δ¹_p x_q (a sum over the two uses);
* an auxiliary loss c Σⱼ C(a¹ⱼ, tⱼ) on the hidden layer:
  δ¹_p = (Σₘ W²_{mp} δ²ₘ + c ∂C/∂a(a¹_p, t_p)) φ′(z¹_p).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import sympy as sp

from ..backprop.index_form import cost, cost_prime, sigma, sigma_prime
from ..symbolic.index_sums import contract_deltas, is_zero_index_expr
from ..symbolic.proof import Proof

__all__ = ["prove_index_claims"]

_n, _n0, _n1, _n2 = sp.symbols("n n_0 n_1 n_2", integer=True, positive=True)
_j, _m, _p, _q = sp.symbols("j m p q", integer=True)
_FRESH = itertools.count()
_x, _y, _t, _b, _b2 = (sp.IndexedBase(s) for s in ("x", "y", "t", "b", "b2"))
_W, _W2 = sp.IndexedBase("W"), sp.IndexedBase("W2")
_C_AUX = sp.Rational(1, 10)  # an auxiliary loss's weight
_u, _v = sp.symbols("u v", real=True)
_WITNESSES = (
    (sigma, sp.Lambda(_u, _u + _u**2 / 3 + sp.Rational(1, 7))),
    (sigma_prime, sp.Lambda(_u, 1 + 2 * _u / 3)),
    (cost, sp.Lambda((_u, _v), (_u - _v) ** 2 / 2 + _u**3 / 5)),
    (cost_prime, sp.Lambda((_u, _v), _u - _v + 3 * _u**2 / 5)),
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


def _counterexample(difference: sp.Expr, free: dict) -> str | None:
    """An exact nonzero value of ``difference`` at widths 1 or 2, polynomial φ and C, rational values."""
    for size in (1, 2):
        widths = {w: size for w in (_n, _n0, _n1, _n2)}
        cell = {index: 0 for index in free}
        concrete = difference.xreplace(widths).xreplace(cell).doit()
        for function, lam in _WITNESSES:
            concrete = concrete.replace(function, lam)
        atoms = sorted(concrete.atoms(sp.Indexed), key=sp.default_sort_key)
        values = {a: sp.Rational(*Fraction((3 * t + 2) % 7 - 3 or 1, 2 + t % 3).as_integer_ratio()) for t, a in enumerate(atoms)}
        value = concrete.xreplace(values)
        if value.is_Rational and value != 0:
            return f"refuted: exactly {value} at widths {size}, φ(u) = u + u²/3 + 1/7, C(a, y) = (a − y)²/2 + a³/5, {cell}"
    return None


def _check(C: sp.Expr, target: sp.Expr, ranges: dict, claim: sp.Expr) -> Proof:
    difference = contract_deltas(sp.diff(C, target), ranges) - claim
    if is_zero_index_expr(difference, ranges):
        return Proof(True, "index notation, symbolic widths: C differentiated directly, Kronecker deltas contracted; "
                           "the normal form of the difference is 0 (generic φ and C)")
    witness = _counterexample(difference, ranges)
    return Proof(False, witness or "not shown: the normal form is not 0 and no counterexample was found")


def prove_index_claims(wrong: bool = False) -> dict[str, Proof]:
    """The three claims at symbolic widths; ``wrong=True`` states each one's classic mistake instead (to be refuted)."""
    cases = (
        ("residual block: dC/dx_q == g_q + sum_m W_mq delta_m (skip term + block term)", _residual),
        ("shared W used twice: dC/dW_pq == delta2_p a1_q + delta1_p x_q (sum over uses)", _shared),
        ("auxiliary loss: dC/dW1_pq == delta1_p x_q, delta1_p = (sum_m W2_mp delta2_m + c dC/da(a1_p, t_p)) sigma'(z1_p)", _auxiliary),
    )
    out = {}
    for label, build in cases:
        C, target, ranges, claim, mistake = build()
        out[label] = _check(C, target, ranges, mistake if wrong else claim)
    return out
