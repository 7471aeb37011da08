r"""sg(u) = u in value, d sg(u)/dx = 0: ``tf.stop_gradient`` / ``jax.lax.stop_gradient`` / ``Tensor.detach`` in a formula.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> sp.diff(x * stop_gradient(x), x)
stop_gradient(x)
>>> release(sp.diff(x * stop_gradient(x), x))
x

Printed as the argument itself in numpy, ``jax.lax.stop_gradient(u)`` in JAX,
``(u).detach()`` in PyTorch and :math:`\operatorname{sg}(u)` in LaTeX. Value
identities (proofs, mpmath references) see through it (:func:`release`);
a finite-difference check of a derivative must instead hold each sg(u) at its
value at the base point (:func:`hold`), since no difference quotient of the
function itself sees a zero derivative there.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["has_stop_gradient", "hold", "release", "stop_gradient"]


class stop_gradient(sp.Function):  # noqa: N801  (the name a formula calls, as tf.stop_gradient)
    r"""sg(u) = u;  d sg(u)/dx = 0 for every x (the gradient stops here)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.S.Zero

    @classmethod
    def eval(cls, u):  # SymPy's hook for automatic evaluation, not Python's eval
        if u.is_number:  # a constant has no gradient to stop
            return u
        if isinstance(u, stop_gradient):
            return u
        return None

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.args[0]._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        base = rf"\operatorname{{sg}}\left({printer._print(self.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


def has_stop_gradient(expr: sp.Basic) -> bool:
    """Whether ``expr`` holds a stop_gradient anywhere."""
    return isinstance(expr, sp.Basic) and bool(expr.atoms(stop_gradient))


def release(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sg(u) replaced by u: the same value (for value identities, never for derivatives)."""
    if not has_stop_gradient(expr):
        return expr
    return expr.replace(lambda e: isinstance(e, stop_gradient), lambda e: e.args[0])


def hold(expr: sp.Expr) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]:
    """``expr`` with each outermost sg(u) replaced by a fresh symbol, and symbol → u (released).

    Evaluating u at a point and keeping the symbol at that value gives the
    function whose ordinary derivative at that point is the derivative of
    ``expr`` with the gradient stopped.
    """
    held: dict[sp.Expr, sp.Symbol] = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, stop_gradient) and node not in held:
            if not any(node in outer.args[0].atoms(stop_gradient) for outer in held):
                held[node] = sp.Symbol(f"_held{len(held)}", real=True)
    body = expr.xreplace(dict(held))
    return body, {symbol: release(node.args[0]) for node, symbol in held.items()}
