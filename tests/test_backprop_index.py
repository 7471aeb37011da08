"""The index-notation network and BP1–BP4: generic σ and C, IndexNetwork, index_equations."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symdl.backprop.index_form import (
    IndexNetwork,
    bias,
    cost,
    cost_prime,
    delta,
    index_equations,
    sigma,
    sigma_prime,
    unit_index,
    weight,
    width,
)

j, k = sp.symbols("j k", integer=True, nonnegative=True)


# --- generic functions ----------------------------------------------------------


def test_generic_functions_differentiate_to_their_primes():
    z, a, y = sp.symbols("z a y", real=True)
    assert sp.diff(sigma(z), z) == sigma_prime(z)
    assert sp.diff(cost(a, y), a) == cost_prime(a, y)
    assert sp.diff(sigma(2 * z), z) == 2 * sigma_prime(2 * z)


def test_generic_functions_latex():
    z, a, y = sp.symbols("z a y", real=True)
    assert sp.latex(sigma(z)) == r"\varphi\left(z\right)"  # φ, the generic activation; σ is the logistic sigmoid
    assert sp.latex(sigma_prime(z)) == r"\varphi'\left(z\right)"
    assert sp.latex(cost(a, y)) == r"\ell\left(a, y\right)"  # ℓ per unit; C is the total cost
    assert r"\frac{\partial \ell}{\partial a}" in sp.latex(cost_prime(a, y))


def test_cost_is_never_differentiated_by_the_target():
    a, y = sp.symbols("a y", real=True)
    with pytest.raises(ArgumentIndexError):
        cost(a, y).fdiff(2)


# --- the network and the equations ------------------------------------------------


def test_network_in_index_notation():
    net = IndexNetwork(2)
    assert net.widths == (width(0), width(1), width(2))
    k0 = unit_index(0)
    assert net.z(1, j) == sp.Sum(weight(1)[j, k0] * sp.IndexedBase("x", real=True)[k0], (k0, 0, width(0) - 1)) + bias(1)[j]
    total = net.total_cost()
    assert isinstance(total, sp.Sum) and total.limits[0][2] == width(2) - 1
    # One index symbol per layer: the three nested sums use three different indices.
    assert {s.variables[0] for s in total.atoms(sp.Sum)} == {unit_index(0), unit_index(1), unit_index(2)}


@pytest.mark.parametrize("depth", [0, -1, 1.5, True])
def test_network_refuses_bad_depth(depth):
    with pytest.raises(ValueError, match="depth"):
        IndexNetwork(depth)


def test_network_refuses_an_index_its_sum_would_capture():
    with pytest.raises(ValueError, match="runs over"):
        IndexNetwork(2).z(2, unit_index(1))


def test_index_equations_bp1_to_bp4():
    eqs = index_equations(3)
    assert len(eqs) == 1 + 2 + 3 + 3  # BP1, BP2 for l = 2, 1, BP3 and BP4 for each layer
    bp1, bp2 = eqs[0], eqs[1]
    assert bp1.lhs == delta(3)[j] and bp1.rhs.has(cost_prime, sigma_prime)
    assert bp2.lhs == delta(2)[j]
    assert bp2.rhs.has(weight(3)[k, j], delta(3)[k], sigma_prime)
    latex = sp.latex(bp2)
    assert r"\varphi'" in latex and r"\sum_{k=0}^{n_{3} - 1}" in latex
    assert r"\frac{\partial \ell}{\partial a}" in sp.latex(bp1)
