"""``expr.replace(query, value)`` that visits each distinct subexpression once.

SymPy's :meth:`~sympy.core.basic.Basic.replace` walks the expression as a
tree: a subexpression that occurs k times is rebuilt k times, and rebuilding a
``Min``/``Max`` compares its arguments (milliseconds each). The erf pieces of
the numpy printer (:mod:`symdl.symbolic.special`) share ``min(|x|, cutoff)`` in
dozens of places, so one walk over a kernel rebuilt it hundreds of times.
:func:`replace_shared` gives the same result as ``expr.replace(query, value)``
(``simultaneous=True``, the default) for a ``query`` and ``value`` that depend
on the node alone, remembering what each distinct node became.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

__all__ = ["replace_shared"]


def replace_shared(
    expr: sp.Basic,
    query: Callable[[sp.Basic], object],
    value: Callable[[sp.Basic], sp.Basic | None],
    keep: Callable[[sp.Basic], object] | None = None,
) -> sp.Basic:
    """``expr.replace(query, value)`` (bottom-up, simultaneous), each distinct subexpression visited once.

    ``keep``: nodes left as they are, their arguments not visited (a Piecewise's conditions, say).
    """
    done: dict[sp.Basic, sp.Basic] = {}

    def walk(node: sp.Basic) -> sp.Basic:
        if not isinstance(node, sp.Basic) or (keep is not None and keep(node)):
            return node
        try:
            return done[node]
        except KeyError:
            pass
        out = node
        args = node.args
        if args:
            new = tuple(walk(a) for a in args)
            if new != args:
                out = node.func(*new)
                # As SymPy's replace: a rebuilt node that collapsed onto one of its replaced arguments is final.
                if any(out == a and a != b for a, b in zip(args, new)):
                    done[node] = out
                    return out
        if query(out):
            replaced = value(out)
            if replaced is not None and replaced != out:
                out = replaced
        done[node] = out
        return out

    return walk(expr)
