"""τ(z) of sparsemax (Martins & Astudillo 2016): Σ_j max(z_j − τ, 0) = 1, a SymPy function with a declared derivative.

``SparseThreshold(u, j, n)`` is τ in index notation; at a concrete width
``.doit()`` gives :class:`SimplexThreshold` of the n values, so proofs and the
graph prover differentiate through τ (∂τ/∂z_k = s_k/|S|, s_k = [z_k > τ],
|S| = Σ_j s_j) instead of taking it for a constant. :func:`threshold_code`
prints τ sort-based for numpy, ``jnp`` and ``torch``.
"""

from __future__ import annotations

from typing import Protocol

import sympy as sp

__all__ = ["SUPPORT_INDEX", "SimplexThreshold", "SparseThreshold", "support", "threshold_code", "threshold_value"]


#: The summation index of ∂τ/∂s (never τ's own bound index, which a delta contraction would rename inside τ).
SUPPORT_INDEX = sp.Symbol("r", integer=True, nonnegative=True)


def support(u: sp.Expr, tau: sp.Expr) -> sp.Expr:
    """s = [u > τ]: 1 in the support of sparsemax, else 0 (ties u = τ: 0, so |S| counts the strictly positive outputs)."""
    return sp.Heaviside(u - tau, 0)


class SparseThreshold(sp.Function):
    """τ with Σ_{0 ≤ j < n} max(u(j) − τ, 0) = 1: ``SparseThreshold(u, j, n)``; ``.doit()`` at a concrete n: SimplexThreshold."""

    nargs = 3

    def doit(self, **hints):
        u, j, n = self.args
        if n.is_Integer:
            u = u.doit(**hints)  # a max over the row inside u (z_j − max z) first, before j is given values
            return SimplexThreshold(*[u.subs(j, t) for t in range(int(n))])
        return self

    def _eval_derivative(self, s):
        # ∂τ/∂s = Σ_j s_j ∂u(j)/∂s / Σ_j s_j: differentiate Σ_j s_j (u(j) − τ) = 1 with the support held fixed.
        u, j, n = self.args
        u_r = u.xreplace({j: SUPPORT_INDEX})
        s_r = sp.Heaviside(u_r - self)
        return sp.Sum(s_r * sp.diff(u_r, s), (SUPPORT_INDEX, 0, n - 1)) / sp.Sum(s_r, (SUPPORT_INDEX, 0, n - 1))

    def _latex(self, printer, exp=None):
        return rf"\tau_{{{printer._print(self.args[1])}}}\left({printer._print(self.args[0])}\right)"


class SimplexThreshold(sp.Function):
    """τ(z₀, …, z_{n−1}) with Σ_j max(z_j − τ, 0) = 1; ∂τ/∂z_k = [z_k > τ] / Σ_j [z_j > τ]."""

    @classmethod
    def eval(cls, *args):
        if all(a.is_Rational for a in args):
            return threshold_value(args)
        # τ(z + c) = τ(z) + c: a term common to every argument comes out (the max subtracted by the printed form)
        common = set.intersection(*(set(sp.Add.make_args(a)) for a in args)) if args else set()
        common = {c for c in common if not c.is_number}
        if common:
            shift = sp.Add(*common)
            return cls(*(a - shift for a in args)) + shift
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        indicators = [sp.Heaviside(z - self) for z in self.args]
        return indicators[argindex - 1] / sp.Add(*indicators)

    @staticmethod
    def _imp_(*values):  # lambdify's implementation: exact τ by sorting (mpmath or float values)
        return threshold_value(values)

    def _latex(self, printer, exp=None):
        return rf"\tau\left({', '.join(printer._print(a) for a in self.args)}\right)"


def threshold_value(values):
    """τ = (Σ_{j ≤ k} z_(j) − 1)/k, z sorted descending, k = max{k : 1 + k z_(k) > Σ_{j ≤ k} z_(j)} (a reference)."""
    ordered = sorted(values, key=lambda value: -value)
    total, best, top = 0, 1, ordered[0]
    for rank, value in enumerate(ordered, start=1):
        total += value
        if 1 + rank * value > total:
            best, top = rank, total
    return (top - 1) / best


class _Spelling(Protocol):
    def _reduce(self, function: str, text: str, slot: int) -> str: ...
    def _sort_descending(self, text: str, slot: int) -> str: ...
    def _cumsum(self, text: str, slot: int) -> str: ...
    def _ones_like(self, text: str) -> str: ...


def threshold_code(printer: _Spelling, values: str, slot: int) -> str:
    """τ of ``values`` along ``slot`` (kept as size 1), one expression in the printer's array module.

    With d = sort(z − max z) descending (every d ≤ 0, so |z| ≤ 1000 never overflows) and c = cumsum d,
    the support is {k : 1 + k d_k > c_k} (a prefix of the sorted order), and
    τ = max z + (Σ_{k in support} d_k − 1)/|support|.
    """
    top = printer._reduce("max", "_u", slot)
    ranks = printer._cumsum(printer._ones_like("_d"), slot)
    inside = f"(1 + {ranks}*_d > {printer._cumsum('_d', slot)})*{printer._ones_like('_d')}"
    tau = f"_m + ({printer._reduce('sum', '_s*_d', slot)} - 1)/{printer._reduce('sum', '_s', slot)}"
    return (f"(lambda _u: (lambda _m: (lambda _d: (lambda _s: {tau})({inside}))"
            f"({printer._sort_descending('_u - _m', slot)}))({top}))({values})")
