r"""The multilayer perceptron and BP1–BP4 in index notation, with symbolic layer widths.

The network is the seeds' multilayer perceptron with widths n_0 … n_L left as
SymPy symbols:

    z^l_j = Σ_{k=0}^{n_{l−1}−1} w^l_{jk} a^{l−1}_k + b^l_j,   a^0 = x,   a^l_j = φ(z^l_j),
    C = Σ_{j=0}^{n_L−1} C(a^L_j, y_j).

φ and the per-unit cost ℓ(a, y) are generic SymPy functions (:class:`sigma`, printed φ,
:class:`cost`), so a proof with them holds for every activation and loss of
the library, whose own derivatives are proven by their rules.

:class:`IndexNetwork` builds z, a and C as nested SymPy sums over the names
here (:func:`width`, :func:`unit_index`, :func:`weight`, :func:`bias`, …);
:func:`index_equations` states BP1–BP4 over the same names. The normal form
of such sums is in :mod:`symdl.symbolic.index_sums`, the proofs that the equations are
the derivative of C in :mod:`symdl.backprop.index_proofs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp
from sympy.core.function import ArgumentIndexError

from .notation import ACTIVATION, ACTIVATION_PRIME

__all__ = [
    "COST",
    "IndexNetwork",
    "activation_bases",
    "bias",
    "cost",
    "cost_prime",
    "delta",
    "index_equations",
    "sigma",
    "sigma_prime",
    "unit_index",
    "weight",
    "width",
]


# --- generic activation and cost ---------------------------------------------


class sigma_prime(sp.Function):
    r"""φ′(z): the derivative of the generic activation :class:`sigma`, itself left generic."""

    nargs = 1

    def _latex(self, printer, exp=None):
        base = rf"{ACTIVATION_PRIME}\left({printer._print(self.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


class sigma(sp.Function):
    r"""φ(z): a generic activation (printed φ, :mod:`symdl.backprop.notation`); dφ/dz = φ′(z) (:class:`sigma_prime`)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigma_prime(self.args[0])

    def _latex(self, printer, exp=None):
        base = rf"{ACTIVATION}\left({printer._print(self.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


class cost_prime(sp.Function):
    r"""∂ℓ/∂a (a, y): the derivative of the generic per-unit cost :class:`cost` by its first argument."""

    nargs = 2

    def _latex(self, printer, exp=None):
        args = ", ".join(printer._print(a) for a in self.args)
        base = rf"\frac{{\partial \ell}}{{\partial a}}\left({args}\right)"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base


class cost(sp.Function):
    r"""ℓ(a, y): a generic per-unit cost of output a against target y; ∂C/∂a = :class:`cost_prime`.

    Differentiating by y is never needed and raises ``ArgumentIndexError``.
    """

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return cost_prime(*self.args)

    def _latex(self, printer, exp=None):
        args = ", ".join(printer._print(a) for a in self.args)
        base = rf"\ell\left({args}\right)"  # ℓ as in the definitions; C is the total cost Σ ℓ
        return rf"{base}^{{{exp}}}" if exp else base


# --- names: widths, indices, arrays ------------------------------------------

COST = sp.Symbol("C", real=True)  # the total cost, as the thing differentiated in BP3/BP4
x = sp.IndexedBase("x", real=True)
y = sp.IndexedBase("y", real=True)
# The seeds' generic indices, used in the displayed equations.
j, k = sp.symbols("j k", integer=True, nonnegative=True)
# The unit a derivative is taken at: w^l_{pq}, b^l_p.


@cache
def width(layer: int) -> sp.Symbol:
    """n_l: the symbolic number of units of layer ``layer`` (n_0 = input size)."""
    return sp.Symbol(f"n_{layer}", integer=True, positive=True)


@cache
def unit_index(layer: int) -> sp.Symbol:
    """k_l: the one index symbol that runs over the units of layer ``layer``.

    One symbol per layer means nested sums never reuse an index (the normal
    form of :mod:`symdl.symbolic.index_sums` renames bound indices its own way).
    """
    return sp.Symbol(f"k_{layer}", integer=True, nonnegative=True)


@cache
def weight(layer: int) -> sp.IndexedBase:
    """w^l, indexed [j, k]: row j a unit of layer l, column k a unit of layer l − 1."""
    return sp.IndexedBase(f"w^{layer}", real=True)


@cache
def bias(layer: int) -> sp.IndexedBase:
    """b^l, indexed [j]."""
    return sp.IndexedBase(f"b^{layer}", real=True)


@cache
def delta(layer: int) -> sp.IndexedBase:
    """δ^l, indexed [j]: the error of layer l, defined by BP1/BP2."""
    return sp.IndexedBase(f"delta^{layer}", real=True)


@cache
def activation_bases(layer: int) -> tuple[sp.IndexedBase, sp.IndexedBase]:
    """(z^l, a^l) as IndexedBases for display; :meth:`IndexNetwork.unroll` replaces them by their definitions."""
    return sp.IndexedBase(f"z^{layer}", real=True), sp.IndexedBase(f"a^{layer}", real=True)


# --- the network -------------------------------------------------------------


@dataclass(frozen=True)
class IndexNetwork:
    r"""z^l_j = Σ_k w^l_{jk} a^{l−1}_k + b^l_j, a^0 = x, a^l_j = φ(z^l_j), C = Σ_j C(a^L_j, y_j); widths symbolic.

    ``depth`` is L, the number of weight layers. Every expression is fully
    unrolled down to x, w, b and y.
    """

    depth: int

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"network depth must be an integer ≥ 1, got {self.depth!r}")

    @property
    def widths(self) -> tuple[sp.Symbol, ...]:
        """(n_0, …, n_L)."""
        return tuple(width(layer) for layer in range(self.depth + 1))

    def z(self, layer: int, unit: sp.Expr) -> sp.Expr:
        """z^l_unit = Σ_{k_{l−1}} w^l[unit, k_{l−1}] a^{l−1}_{k_{l−1}} + b^l[unit]."""
        self._check_layer(layer, first=1)
        below = unit_index(layer - 1)
        if below in sp.sympify(unit, strict=True).free_symbols:  # a unit index: a SymPy symbol or an int, never text
            raise ValueError(f"z^{layer} cannot be taken at {unit}: {below} is the index its sum runs over")
        incoming = sp.Sum(weight(layer)[unit, below] * self.a(layer - 1, below), (below, 0, width(layer - 1) - 1))
        return incoming + bias(layer)[unit]

    def a(self, layer: int, unit: sp.Expr) -> sp.Expr:
        """a^l_unit = φ(z^l_unit); a^0 = x."""
        self._check_layer(layer, first=0)
        return x[unit] if layer == 0 else sigma(self.z(layer, unit))

    def total_cost(self) -> sp.Expr:
        """C = Σ_{k_L} C(a^L_{k_L}, y_{k_L})."""
        top = unit_index(self.depth)
        return sp.Sum(cost(self.a(self.depth, top), y[top]), (top, 0, width(self.depth) - 1))

    def unroll(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with each z^l[i] and a^l[i] of :func:`activation_bases` replaced by its definition."""
        for layer in range(self.depth + 1):
            z_base, a_base = activation_bases(layer)
            expr = expr.replace(
                lambda e, base=a_base: isinstance(e, sp.Indexed) and e.base == base,
                lambda e, layer=layer: self.a(layer, e.indices[0]),
            )
            if layer:
                expr = expr.replace(
                    lambda e, base=z_base: isinstance(e, sp.Indexed) and e.base == base,
                    lambda e, layer=layer: self.z(layer, e.indices[0]),
                )
        return expr

    def _check_layer(self, layer: int, first: int) -> None:
        if not first <= layer <= self.depth:
            raise ValueError(f"layer must be in {first}..{self.depth}, got {layer}")


# --- the equations -----------------------------------------------------------


def index_equations(depth: int) -> list[sp.Eq]:
    r"""BP1 δ^L_j = ∂C/∂a(a^L_j, y_j) φ′(z^L_j); BP2 δ^l_j = (Σ_k w^{l+1}_{kj} δ^{l+1}_k) φ′(z^l_j);
    BP3 ∂C/∂b^l_j = δ^l_j; BP4 ∂C/∂w^l_{jk} = a^{l−1}_k δ^l_j (a^0 = x).

    In that order: BP1, BP2 for l = L−1 … 1, BP3 for l = 1 … L, BP4 for l = 1 … L.
    """
    network = IndexNetwork(depth)  # validates depth
    L = network.depth
    z_top, a_top = activation_bases(L)
    equations = [sp.Eq(delta(L)[j], cost_prime(a_top[j], y[j]) * sigma_prime(z_top[j]))]
    for layer in range(L - 1, 0, -1):
        z_l, _ = activation_bases(layer)
        back = sp.Sum(weight(layer + 1)[k, j] * delta(layer + 1)[k], (k, 0, width(layer + 1) - 1))
        equations.append(sp.Eq(delta(layer)[j], back * sigma_prime(z_l[j])))
    equations += [sp.Eq(sp.Derivative(COST, bias(layer)[j]), delta(layer)[j]) for layer in range(1, L + 1)]
    for layer in range(1, L + 1):
        below = x[k] if layer == 1 else activation_bases(layer - 1)[1][k]
        equations.append(sp.Eq(sp.Derivative(COST, weight(layer)[j, k]), below * delta(layer)[j]))
    return equations
