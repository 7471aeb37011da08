"""The normal form of index sums: Kronecker-delta contraction and the canonical form."""

from __future__ import annotations

import sympy as sp

from symdl.network.index_form import unit_index, width
from symdl.symbolic.index_sums import canonical, contract_deltas

k, q = sp.symbols("k q", integer=True, nonnegative=True)


# --- contraction and canonical form -------------------------------------------------


def test_contraction_keeps_an_unjustified_range_guard():
    n = width(0)
    f = sp.IndexedBase("f")
    summed = sp.Sum(sp.KroneckerDelta(k, q) * f[k], (k, 0, n - 1))
    assert contract_deltas(summed, [q >= 0, q <= n - 1]) == f[q]
    assert contract_deltas(summed).has(sp.Piecewise)


def test_canonical_form_commutes_sums_and_renames_indices():
    f, g = sp.IndexedBase("f"), sp.IndexedBase("g")
    k1, k2 = unit_index(1), unit_index(2)
    m, r = sp.symbols("m r", integer=True, nonnegative=True)
    one = sp.Sum(f[k1] * sp.Sum(g[k1, k2] * f[k2], (k2, 0, width(2) - 1)), (k1, 0, width(1) - 1))
    other = sp.Sum(f[r] * sp.Sum(g[m, r] * f[m], (m, 0, width(1) - 1)), (r, 0, width(2) - 1))
    assert canonical(one - other) == 0
    swapped = sp.Sum(f[r] * sp.Sum(g[r, m] * f[m], (m, 0, width(1) - 1)), (r, 0, width(2) - 1))
    assert canonical(one - swapped) != 0
