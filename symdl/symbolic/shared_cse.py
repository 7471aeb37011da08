"""``sympy.cse(exprs, optimizations="basic")`` whose ``factor_terms`` pass visits each distinct subexpression once.

SymPy's "basic" optimizations are ``sub_pre``/``sub_post`` and
``factor_terms``. ``factor_terms`` recurses through the expression as a tree,
so a subexpression shared k times is factored k times: the erf pieces of the
numpy printer (:mod:`symdl.symbolic.special`) share min(|x|, cutoff) dozens of
times, and ``factor_terms`` was 60 % of the CPU time of gelu's ``symdl verify``
row. :func:`factor_terms_shared` is SymPy's ``factor_terms`` at its defaults
(no radicals, no clearing, no fractions, a leading −1 taken out) with its
recursion remembered per distinct node, so :func:`cse_basic` returns what
``sympy.cse(..., optimizations="basic")`` returns, in a fraction of the time.
The memory is kept for the process (bounded): ``symdl verify`` prints a
derivative and its planted mistakes (−d, 2d, d less a term), which share most
of their subexpressions.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.core.exprtools import _factor_sum_int, gcd_terms
from sympy.core.mul import _keep_coeff
from sympy.simplify.cse_opts import sub_post, sub_pre
from sympy.utilities.iterables import iterable

__all__ = ["cse_basic", "factor_terms_shared"]


#: factor_terms of each node seen, across calls: a pure function of the node (SymPy nodes hash and compare by
#: structure, assumptions and float precision included). Emptied when it reaches _MEMO_LIMIT nodes.
_DONE: dict[sp.Basic, sp.Basic] = {}
_MEMO_LIMIT = 50_000


def factor_terms_shared(expr: sp.Basic) -> sp.Basic:
    """``sympy.factor_terms(expr)``, each distinct subexpression factored once (the same recursion, remembered)."""
    if len(_DONE) > _MEMO_LIMIT:
        _DONE.clear()
    done = _DONE

    def do(node: Any) -> Any:
        if not isinstance(node, sp.Basic):
            return type(node)([do(i) for i in node]) if iterable(node) else node
        if node.is_Atom:
            return node
        try:
            return done[node]
        except KeyError:
            pass
        done[node] = out = step(node)
        return out

    def step(node: sp.Basic) -> sp.Basic:
        # SymPy's factor_terms.do (sympy/core/exprtools.py), body unchanged but for the remembered recursion.
        if node.is_Pow or node.is_Function or iterable(node) or not hasattr(node, "args_cnc"):
            args = node.args
            new = tuple(do(i) for i in args)
            return node if new == args else node.func(*new)
        if isinstance(node, (sp.Sum, sp.Integral)):
            return _factor_sum_int(node, radical=False, clear=False, fraction=False, sign=True)
        cont, p = node.as_content_primitive(radical=False, clear=False)
        if p.is_Add:
            terms = [do(a) for a in sp.Add.make_args(p)]
            # A common negative sign, which gcd_terms does not remove.
            if not any(a.as_coeff_Mul()[0].extract_multiplicatively(-1) is None for a in terms):
                cont = -cont
                terms = [-a for a in terms]
            # exp(-(x + 2)) would become exp(-x - 2) in gcd_terms: such terms are held back as dummies.
            special = {}
            for i, a in enumerate(terms):
                _, e = a.as_base_exp()
                if e.is_Mul and e != sp.Mul(*e.args):
                    terms[i] = sp.Dummy()
                    special[terms[i]] = a
            p = gcd_terms(sp.Add._from_args(terms), isprimitive=True, clear=False, fraction=False).xreplace(special)
        elif p.args:
            p = p.func(*[do(a) for a in p.args])
        return _keep_coeff(cont, p, clear=False, sign=True)

    return do(expr)  # cse passes SymPy expressions only (sympy's factor_terms also takes plain numbers)


#: SymPy's "basic" optimizations with the shared factor_terms.
OPTIMIZATIONS = [(sub_pre, sub_post), (factor_terms_shared, None)]


def cse_basic(exprs: Any, **kwargs: Any) -> Any:
    """``sympy.cse(exprs, optimizations="basic", **kwargs)``, with :func:`factor_terms_shared` as its factor_terms pass."""
    return sp.cse(exprs, optimizations=OPTIMIZATIONS, **kwargs)
