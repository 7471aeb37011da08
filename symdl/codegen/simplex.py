"""τ(z) of sparsemax (Martins & Astudillo 2016): Σ_j max(z_j − τ, 0) = 1, a SymPy function with a declared derivative.

``SparseThreshold(u, j, n)`` is τ in index notation; at a concrete width
``.doit()`` gives :class:`SimplexThreshold` of the n values, so proofs and the
graph prover differentiate through τ (∂τ/∂z_k = s_k/|S|, s_k = [z_k > τ],
|S| = Σ_j s_j) instead of taking it for a constant. :func:`threshold_code`
prints τ as a call of a helper that generated code defines once per module
(:func:`threshold_source`, sort-based, for numpy, ``jnp`` and ``torch``).
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "SUPPORT_INDEX", "SimplexThreshold", "SparseThreshold", "hoist_thresholds", "reduction_code", "support", "threshold_code",
    "threshold_helpers", "threshold_name", "threshold_namespace", "threshold_source", "threshold_value",
]


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
    def eval(cls, *args):  # SymPy's Function.eval hook (exact values), not Python's eval
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


#: How each array module spells the helper's five operations on ``axis`` (numpy, ``jnp``, ``torch``).
_SPELLINGS: dict[str, dict[str, str]] = {
    "numpy": {"max": "numpy.max({x}, axis=axis, keepdims=True)", "sum": "numpy.sum({x}, axis=axis, keepdims=True)",
              "sort": "-numpy.sort(-({x}), axis=axis)", "cumsum": "numpy.cumsum({x}, axis=axis)",
              "ones": "numpy.ones_like({x})"},
    "jnp": {"max": "jnp.max({x}, axis=axis, keepdims=True)", "sum": "jnp.sum({x}, axis=axis, keepdims=True)",
            "sort": "-jnp.sort(-({x}), axis=axis)", "cumsum": "jnp.cumsum({x}, axis=axis)",
            "ones": "jnp.ones_like({x})"},
    "torch": {"max": "torch.amax({x}, dim=axis, keepdim=True)", "sum": "torch.sum({x}, dim=axis, keepdim=True)",
              "sort": "torch.sort({x}, dim=axis, descending=True).values", "cumsum": "torch.cumsum({x}, dim=axis)",
              "ones": "torch.ones_like({x})"},
}

#: The imports a helper's module name stands for, where its source is compiled outside a generated module.
_IMPORTS = {"numpy": "import numpy", "jnp": "import jax.numpy as jnp", "torch": "import torch"}


def reduction_code(module: str, op: str, x: str, axis: int) -> str:
    """``op`` ("sum" or "max") of the code ``x`` over ``axis``, kept as an axis of size 1, as ``module`` spells it."""
    if module not in _SPELLINGS:
        raise ValueError(f"no reduction spelling for array module {module!r}; known: {', '.join(_SPELLINGS)}")
    return _SPELLINGS[module][op].format(x=x).replace("=axis", f"={int(axis)}")


def threshold_name(module: str) -> str:
    """The name of the generated helper that computes τ with ``module`` (``numpy``, ``jnp`` or ``torch``)."""
    if module not in _SPELLINGS:
        raise ValueError(f"sparsemax's τ prints for numpy, jnp and torch, not {module}")
    return f"_simplex_threshold_{module}"


def threshold_code(module: str, values: str, slot: int) -> str:
    """τ of ``values`` along ``slot`` (kept as size 1): a call of the module's helper (:func:`threshold_source`)."""
    return f"{threshold_name(module)}({_unwrapped(values)}, {slot})"


def _unwrapped(text: str) -> str:
    """``text`` without parentheses around the whole of it (an argument needs none)."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for position, char in enumerate(text):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and position < len(text) - 1:
                return text
        text = text[1:-1]
    return text


def hoist_thresholds(expr: sp.Expr) -> tuple[list[tuple[sp.Symbol, sp.Expr]], sp.Expr]:
    """Each τ of ``expr`` bound once to ``_tau0, …`` and ``expr`` reading those names.

    CSE leaves τ alone (it holds the size n that bounds the sums), yet a VJP uses the same τ in the output
    and in both sums of the support; a τ whose values depend on a summation index stays where it is.
    """
    summed = {limit[0] for total in expr.atoms(sp.Sum) for limit in total.limits}
    taus = sorted((tau for tau in expr.atoms(SparseThreshold) if not (tau.free_symbols - {tau.args[1]}) & summed),
                  key=sp.default_sort_key)
    names = {tau: sp.Symbol(f"_tau{number}", real=True) for number, tau in enumerate(taus)}
    return list(zip(names.values(), taus)), expr.xreplace(names)


def threshold_source(module: str) -> str:
    """``def _simplex_threshold_<module>(u, axis)``: τ of u along ``axis`` (kept as size 1), sort-based.

    τ is defined implicitly (the root of Σ_j max(u_j − τ, 0) = 1) and has no closed form to print from
    SymPy; its solution by sorting is written once here, each array module only spelling its five
    operations. With d = sort(u − max u) descending (every d ≤ 0, so |u| ≤ 1000 never overflows) and
    c = cumsum d, the support is {k : 1 + k d_k > c_k} (a prefix of the sorted order), and
    τ = max u + (Σ_{k in support} d_k − 1)/|support|.
    """
    op = {key: spelling.format for key, spelling in _SPELLINGS[module].items()}
    return (
        f"def {threshold_name(module)}(u, axis):\n"
        '    """τ with Σ_j max(u_j − τ, 0) = 1 along axis (kept), by sorting u − max u descending."""\n'
        f"    m = {op['max'](x='u')}\n"
        f"    d = {op['sort'](x='u - m')}\n"
        f"    s = (1 + {op['cumsum'](x=op['ones'](x='d'))}*d > {op['cumsum'](x='d')})*{op['ones'](x='d')}\n"
        f"    return m + ({op['sum'](x='s*d')} - 1)/{op['sum'](x='s')}\n"
    )


def threshold_helpers(text: str) -> list[str]:
    """The sources of the τ helpers that ``text`` calls and does not define (what a generated module must add)."""
    return [threshold_source(module) for module in _SPELLINGS
            if f"{threshold_name(module)}(" in text and f"def {threshold_name(module)}(" not in text]


def threshold_namespace(text: str) -> dict[str, object]:
    """The τ helpers that ``text`` calls, compiled: what an in-process ``exec`` of printed code adds to its namespace."""
    namespace: dict[str, object] = {}
    for module, statement in _IMPORTS.items():
        name = threshold_name(module)
        if f"{name}(" in text:
            # Generated code only: the fixed helper text above, no user input.
            exec(compile(f"{statement}\n{threshold_source(module)}", f"<symdl {name}>", "exec"), namespace)  # noqa: S102
    return {name: value for name, value in namespace.items() if name.startswith("_simplex_threshold_")}
