"""The numpy printer of graph modules with ``select=True``: Piecewise's ``numpy.where`` as ``_where`` / ``_where_into``.

:func:`symdl.graph.select.where` gives numpy.where's result bit for bit without a branch per element; ``_where_into``
and ``_into`` build the result in the buffer of an array the expression itself made (:mod:`symdl.graph.printing`).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..codegen.kernel import KernelPrinter

__all__ = ["SelectPrinter", "one_call"]


def one_call(code: str) -> bool:
    """Whether ``code`` is ``name(…)`` whose first parenthesis closes at its end: one call, not an expression of calls."""
    depth = 0
    for k, ch in enumerate(code):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch == ")":
            return k == len(code) - 1
    return False


class SelectPrinter(KernelPrinter):
    """The numpy printer with Piecewise's ``numpy.where`` as ``_where`` (:func:`symdl.graph.select.where`, the same
    bits), or ``_where_into`` where the chosen branch's value is an array the expression itself makes (no name)."""

    def _fn(self, name: str) -> str:
        return "_where" if name == "where" else super()._fn(name)

    def _print(self, expr: sp.Basic, **kwargs: object) -> str:
        code = super()._print(expr, **kwargs)
        if not (isinstance(expr, sp.Function) and len(expr.args) == 1 and code.startswith("numpy.")):
            return code
        # f(g(…)): g's new array is dead once f has read it, so f writes into it (_into checks it owns it)
        name, _, inner = code[len("numpy."):].partition("(")
        function = getattr(np, name, None)
        argument = inner[:-1]
        made = argument.startswith(("_where(", "_where_into(")) or isinstance(
            getattr(np, argument.partition("(")[0][len("numpy."):], None), np.ufunc) and argument.startswith("numpy.")
        if isinstance(function, np.ufunc) and function.nin == 1 and one_call(f"{name}({inner}") and one_call(argument) and made:
            return f"_into(numpy.{name}, {argument})"
        return code

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        *branches, (last_value, last_cond) = expr.args
        if last_cond != sp.true or len(branches) == 1 and branches[0][0].is_number and last_value.is_number:
            return super()._print_Piecewise(expr)
        code = self._branch_value(last_value)
        for value, cond in reversed(branches):
            chosen = self._branch_value(value)
            made = not value.is_number and not chosen.strip("() ").isidentifier()
            code = f"{'_where_into' if made else '_where'}({self._print(cond)}, {chosen}, {code})"
        return code
