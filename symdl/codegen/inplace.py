"""An element-wise SymPy expression → statements that build its value in one buffer, with ``out=`` calls.

``y = a·x/(√(c·v) + ε)`` printed as one line allocates a temporary array per
operation. Printed here, the value is built in a single buffer: the first
operation allocates it (or writes into a dead buffer the caller names), every
later one updates it in place::

    numpy.multiply(v, c, out=g)     # c·v
    numpy.sqrt(g, out=g)            # √(c·v)
    g += 1e-08                      # √(c·v) + ε
    numpy.divide(x, g, out=g)       # x/(√(c·v) + ε)
    g *= a                          # a·x/(√(c·v) + ε)

The statements follow the expression tree (products, sums, squares, square
roots, reciprocals and the printer's one-argument functions); anything else is
printed as it is. Scalars — subexpressions whose symbols are all ``scalars`` —
are printed as numbers, never as arrays. Used by :mod:`symdl.codegen.optimizer`
for backends that write in place (:attr:`symdl.backends.Backend.out_functions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import sympy as sp

__all__ = ["InplaceEmitter", "exact_in_place"]


def exact_in_place(e: sp.Expr, name: str, functions: Mapping[str, str], doprint: Callable[[sp.Expr], str]) -> list[str] | None:
    """Statements overwriting the buffer ``name`` with e(name), one per operation of e's printed form, or None.

    X², c − X, c + X and c·X (c a number, X the buffer or one of these): 1 − a² becomes
    ``numpy.square(a, out=a)``, ``numpy.subtract(1, a, out=a)``. Each statement is the
    operation the printed expression ``1 - a**2`` performs, on the same operands in
    the same order (x² is x·x, addition and multiplication commute exactly), so the
    buffer ends bit for bit equal to the expression's value. Any other shape: None.
    """
    own = sp.Symbol(name, real=True)
    if e == own:
        return []
    if e.is_Pow and e.exp == 2:
        inner = exact_in_place(e.base, name, functions, doprint)
        return None if inner is None else [*inner, f"{functions['square']}({name}, out={name})"]
    if e.is_Add or e.is_Mul:
        const, rest = e.as_coeff_Add() if e.is_Add else e.as_coeff_Mul()
        if const == (0 if e.is_Add else 1) or not const.is_Number or rest.is_Number:
            return None
        sign, term = rest.as_coeff_Mul() if e.is_Add else (sp.S.One, rest)
        if sign not in (1, -1):
            return None
        inner = exact_in_place(term, name, functions, doprint)
        if inner is None:
            return None
        c = doprint(const)
        if e.is_Mul:
            return [*inner, f"{name} *= {c}"]
        return [*inner, f"{functions['subtract']}({c}, {name}, out={name})" if sign == -1 else f"{name} += {c}"]
    return None


class InplaceEmitter:
    """Statements that compute one element-wise expression into one buffer (see the module docstring)."""

    def __init__(self, printer: object, functions: Mapping[str, str], module: str, scalars: set[sp.Symbol]) -> None:
        """``functions``: the backend's ``multiply``, ``divide`` and ``square`` taking ``out=``; ``module``: its prefix."""
        self.doprint = printer.doprint  # type: ignore[attr-defined]
        self.functions = functions
        self.unary = re.compile(rf"{re.escape(module)}\.(\w+)\(_x\)")
        self.scalars = scalars
        self.lines: list[str] = []

    def is_scalar(self, e: sp.Expr) -> bool:
        return not (e.free_symbols - self.scalars)

    def into(self, e: sp.Expr, dest: str, fresh: bool, scratch: str | None = None) -> str:
        """Lines that leave e in ``dest`` (``fresh``: a new name, else a buffer of e's shape); the name holding e.

        A buffer that e itself reads is written in place only where that is
        safe (:meth:`safe_in_place`: ``m *= β``, ``m += x``, ``numpy.square(g, out=g)``);
        otherwise e goes into a new buffer, whose name is returned. ``scratch``
        names a further buffer whose value is dead: a sum's terms are built in
        it instead of in temporaries.
        """
        own = sp.Symbol(dest, real=True)
        if not fresh and own in e.free_symbols and not self.safe_in_place(e, own):
            return self.into(e, f"{dest}_", True, scratch)
        if self.is_scalar(e) or e.is_Atom and not e.is_Symbol:
            return self._plain(e, dest)
        if e.is_Symbol:
            if e.name != dest:
                self.lines.append(f"{dest} = {self.functions['multiply']}({e.name}, 1)" if fresh else f"{dest}[...] = {e.name}")
            return dest
        if e.is_Mul:
            return self._mul(e, dest, fresh)
        if e.is_Add:
            return self._add(e, dest, fresh, scratch)
        if e.is_Pow and e.exp == 2 and e.base.is_Symbol:
            return self._call("square", [e.base.name], dest, fresh)
        if e.is_Pow and e.exp == sp.Rational(1, 2):
            return self._unary(sp.sqrt(sp.Symbol("_x")), e.base, dest, fresh) or self._plain(e, dest)
        if e.is_Pow and e.exp == -1:
            name = self.into(e.base, dest, fresh)
            return self._call("divide", ["1", name], name, False)
        if isinstance(e, sp.Function) and len(e.args) == 1:
            return self._unary(e.func(sp.Symbol("_x")), e.args[0], dest, fresh) or self._plain(e, dest)
        return self._plain(e, dest)

    def safe_in_place(self, e: sp.Expr, own: sp.Symbol) -> bool:
        """Whether e can be built in ``own``'s buffer although it reads ``own``: each read comes before the write.

        True for ``own`` itself; a product with ``own`` as a factor and no other
        factor reading it (``own *= c``, ``own /= (…)``); a product, power or
        one-argument function whose one array argument is safe (``numpy.square(own,
        out=own)``); a sum with one term reading ``own``, safe itself (built first).
        """
        if e == own:
            return True
        if e.is_Mul:
            readers = [f for f in e.args if own in f.free_symbols]
            if len(readers) != 1:
                return False
            arrays = [f for f in e.args if not self.is_scalar(f)]
            return readers[0] == own or len(arrays) == 1 and self.safe_in_place(readers[0], own)
        if e.is_Add:
            readers = [t for t in e.args if own in t.free_symbols]
            return len(readers) == 1 and self.safe_in_place(readers[0], own)
        if e.is_Pow and e.exp in (2, sp.Rational(1, 2), -1):
            return self.safe_in_place(e.base, own)
        return False

    # --- the pieces ----------------------------------------------------------------------------------------------

    def _plain(self, e: sp.Expr, dest: str) -> str:
        self.lines.append(f"{dest} = {self.doprint(e)}")
        return dest

    def _call(self, function: str, args: list[str], dest: str, fresh: bool) -> str:
        name = self.functions[function]
        self.lines.append(f"{dest} = {name}({', '.join(args)})" if fresh else f"{name}({', '.join(args)}, out={dest})")
        return dest

    def _unary(self, template: sp.Expr, arg: sp.Expr, dest: str, fresh: bool) -> str | None:
        """f(arg) for a function the printer spells ``module.f(x)``: arg into ``dest``, then ``module.f(dest, out=dest)``."""
        match = self.unary.fullmatch(self.doprint(template))
        if match is None:
            return None
        name = self.into(arg, dest, fresh)
        self.lines.append(f"{match.group(0)[:-len('(_x)')]}({name}, out={name})")
        return name

    def _mul(self, e: sp.Mul, dest: str, fresh: bool) -> str:
        coeff = sp.Mul(*(f for f in e.args if self.is_scalar(f)))
        arrays = [f for f in e.args if not self.is_scalar(f)]
        numerators = [f for f in arrays if not (f.is_Pow and f.exp == -1)]
        denominators = [f.base for f in arrays if f.is_Pow and f.exp == -1]
        own = sp.Symbol(dest, real=True)
        if not fresh and own in numerators:  # the buffer scaled in place: g *= c, g /= (…)
            name = dest
            numerators.remove(own)
        elif not fresh and len(arrays) == 1 and own in arrays[0].free_symbols:  # c·f(own): f into own first
            name = self.into(arrays[0], dest, False)
            numerators, denominators = [], []
        elif any(not f.is_Symbol for f in numerators):
            first = next(f for f in numerators if not f.is_Symbol)
            numerators.remove(first)
            name = self.into(first, dest, fresh)
        elif any(not f.is_Symbol for f in denominators):
            first = next(f for f in denominators if not f.is_Symbol)
            denominators.remove(first)
            name = self.into(first, dest, fresh)
            top = numerators.pop(0).name if numerators else "1"
            self._call("divide", [top, name], name, False)
        else:
            first = numerators.pop(0) if numerators else None
            if first is None:
                return self._plain(e, dest)
            other = numerators.pop(0).name if numerators else None
            if other is None and coeff != 1:
                other, coeff = self.doprint(coeff), sp.S.One
            name = self._call("multiply", [first.name, other or "1"], dest, fresh)
        for f in numerators:
            self.lines.append(f"{name} *= {self.doprint(f)}" if f.is_Symbol else f"{name} *= ({self.doprint(f)})")
        for f in denominators:
            self.lines.append(f"{name} /= {self.doprint(f)}" if f.is_Symbol else f"{name} /= ({self.doprint(f)})")
        if coeff != 1:
            self.lines.append(f"{name} *= {self.doprint(coeff)}")
        return name

    def _add(self, e: sp.Add, dest: str, fresh: bool, scratch: str | None) -> str:
        constant = sp.Add(*(t for t in e.args if self.is_scalar(t)))
        terms = [t for t in e.args if not self.is_scalar(t)]
        own = sp.Symbol(dest, real=True)
        readers = [t for t in terms if own in t.free_symbols]
        if not fresh and readers:  # the term that reads the buffer is built in it first: m *= β
            first = readers[0]
        else:
            first = next((t for t in terms if not (t.is_Symbol or t.is_Mul and len(t.args) == 2)), terms[0])
        terms.remove(first)
        name = self.into(first, dest, fresh)
        for k, t in enumerate(terms):
            coeff, rest = t.as_coeff_Mul()
            later = set().union(*(u.free_symbols for u in terms[k + 1:]))
            spare = scratch is not None and scratch != name and sp.Symbol(scratch, real=True) not in later
            if t.is_Symbol or coeff == -1 and rest.is_Symbol:
                self.lines.append(f"{name} += {t.name}" if t.is_Symbol else f"{name} -= {rest.name}")
            elif spare and scratch is not None:  # the term in the dead buffer, then one in-place add: no temporary
                self.lines.append(f"{name} += {self.into(t, scratch, False)}")
            elif coeff == -1:
                self.lines.append(f"{name} -= {self.doprint(rest)}")
            else:
                self.lines.append(f"{name} += {self.doprint(t)}")
        if constant != 0:
            self.lines.append(f"{name} += {self.doprint(constant)}")
        return name
