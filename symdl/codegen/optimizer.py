"""An optimizer's update (:class:`symdl.optim.Optimizer`) → the lines of ``train_step`` that apply it.

The update is printed from its SymPy assignments with the backend's printer.
The step's scalars — every subexpression of the step t and the global state
alone, such as 1 − β₁ᵗ — are computed once per step, not once per parameter.
Every new value is computed before anything is written, so that a failure
leaves params and state as they were. ``w ← w − s`` prints as ``W -= s`` (in
place); in-place backends rebind the state dict's entries to the new arrays,
a functional one (JAX) returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..optim.base import G, Optimizer, T, W
from .kernel import printable
from .naming import grad_name

__all__ = ["ScalarPrinter", "UpdateCode", "print_update", "state_key", "state_keys"]


def state_key(slot: str, param: str) -> str:
    """The key of a per-parameter slot in the state dict: ``m_W1``."""
    return f"{slot}_{param}"


def state_keys(optimizer: Optimizer, params: Sequence[str]) -> list[str]:
    """The state dict's keys: the global slots (``t`` first), then every per-parameter slot of every parameter."""
    return [s.name for s in optimizer.global_slots] + [
        state_key(s.name, p) for p in params for s in optimizer.parameter_slots
    ]


class ScalarPrinter(PythonCodePrinter):
    """Python numbers with the ``math`` module (``math.cos(math.pi*t)``): the step's scalars for a library whose array
    functions refuse plain numbers (``torch.cos(1.0)``). The module printing it must ``import math``."""

    def _print_Mod(self, expr: sp.Mod) -> str:
        # SymPy's own `a*b % c` binds as (a*b) % c; Python's % is SymPy's Mod (the sign of the divisor).
        return f"(({self._print(expr.args[0])}) % ({self._print(expr.args[1])}))"


@dataclass(frozen=True)
class UpdateCode:
    """The printed update: ``compute`` (new values into fresh names), ``write`` (store them), and the names the
    entry point takes as arguments (hyperparameters without a value, e.g. ``lr``)."""

    compute: tuple[str, ...]
    write: tuple[str, ...]
    arguments: tuple[str, ...]
    new_state: dict[str, str]  # state key → the name holding its new value (for a functional backend's return)


def _hoist(exprs: list[sp.Expr], scalars: set[sp.Symbol], prefix: str) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """Replace every largest non-atomic subexpression of ``scalars`` alone by a name computed once."""
    hoisted: dict[sp.Expr, sp.Symbol] = {}

    def visit(e: sp.Expr) -> sp.Expr:
        if not e.is_Atom and e.free_symbols and e.free_symbols <= scalars:
            if e not in hoisted:
                hoisted[e] = sp.Symbol(f"{prefix}{len(hoisted)}", real=True)
            return hoisted[e]
        if e.is_Atom or not e.args:
            return e
        return e.func(*(visit(a) for a in e.args))

    out = [visit(e) for e in exprs]
    return [(s, e) for e, s in hoisted.items()], out


def print_update(optimizer: Optimizer, params: Sequence[str], printer: object, *, functional: bool,
                 state: str = "state", keep_step: bool = True, scalar_printer: object | None = None) -> UpdateCode:
    """The lines of one optimizer step for the parameters ``params`` (their gradients are ``g<name>``).

    Without ``keep_step`` an update that needs no state at all (gradient
    descent with a constant η) reads and writes none: the classic
    ``train_step(params, X, Y, lr)``. ``scalar_printer`` (default: ``printer``)
    prints the once-per-step scalars — the global update and the hoisted
    expressions of t — for a library whose array functions refuse Python
    numbers (``torch.cos(t)``): :class:`ScalarPrinter`.
    """
    global_update, update = optimizer.bound()
    unbound = optimizer.unbound()
    arguments = tuple(h.name for h in unbound)
    free_names = {h.symbol: sp.Symbol(h.name, real=True) for h in unbound}
    uses_state = keep_step or bool(optimizer.parameter_slots) or len(optimizer.global_slots) > 1 or any(
        e.has(T) for _, e in (*global_update[1:], *update)
    )
    doprint = printer.doprint  # type: ignore[attr-defined]
    scalar_doprint = (scalar_printer or printer).doprint  # type: ignore[attr-defined]
    compute: list[str] = []
    write: list[str] = []
    new_state: dict[str, str] = {}
    global_names = {s.symbol: sp.Symbol(s.name, real=True) for s in optimizer.global_slots}
    if uses_state:
        for slot in optimizer.global_slots:
            compute.append(f"{slot.name} = {state}[{slot.name!r}]")
        for target, expr in global_update:
            name = global_names.get(target, sp.Symbol(target.name, real=True))
            value = printable(expr.xreplace({**global_names, **free_names}), optimizer.name)
            compute.append(f"{name} = {scalar_doprint(value)}")
            if target in global_names:
                new_state[target.name] = name.name
    scalar_symbols = set(global_names.values()) | set(free_names.values())
    per_param: list[list[sp.Expr]] = []
    renames: list[dict[sp.Symbol, sp.Symbol]] = []
    for p in params:
        names = {W: sp.Symbol(p, real=True), G: sp.Symbol(grad_name(p), real=True), **global_names, **free_names}
        for slot in optimizer.parameter_slots:
            names[slot.symbol] = sp.Symbol(state_key(slot.name, p), real=True)
        renames.append(names)
        per_param.append([printable(e.xreplace(names), optimizer.name) for _, e in update])
    flat = [e for exprs in per_param for e in exprs]
    hoisted, flat = _hoist(flat, scalar_symbols, "_step")
    compute += [f"{s} = {scalar_doprint(v)}" for s, v in hoisted]
    hoisted_names = {s for s, _ in hoisted}
    k = 0
    for p, names, exprs in zip(params, renames, per_param):
        for slot in optimizer.parameter_slots:
            compute.append(f"{names[slot.symbol]} = {state}[{state_key(slot.name, p)!r}]")
        for (target, _), _expr in zip(update, exprs):
            value = flat[k]
            k += 1
            if target == W:
                step = sp.expand(sp.Symbol(p, real=True) - value) if value.has(sp.Symbol(p, real=True)) else None
                grad = sp.Symbol(grad_name(p), real=True)
                if step is not None and not step.has(sp.Symbol(p, real=True)):
                    scale = sp.simplify(step / grad)
                    if not functional and not scale.free_symbols - scalar_symbols - hoisted_names:
                        # s = c·g with c a scalar: scale the dead gradient buffer in place, no new array.
                        compute.append(f"{grad} *= {doprint(scale)}")
                        write.append(f"{p} -= {grad}")
                    else:
                        compute.append(f"_s{p} = {doprint(step)}")
                        write.append(f"{p} = {p} - _s{p}" if functional else f"{p} -= _s{p}")
                else:
                    compute.append(f"_new{p} = {doprint(value)}")
                    write.append(f"{p} = _new{p}" if functional else f"{p}[...] = _new{p}")
            else:
                compute.append(f"{names.get(target, target)} = {doprint(value)}")
        for slot in optimizer.parameter_slots:
            new_state[state_key(slot.name, p)] = names[slot.symbol].name
    if uses_state and not functional:
        write += [f"{state}[{key!r}] = {name}" for key, name in new_state.items()]
    return UpdateCode(tuple(compute), tuple(write), arguments, new_state if uses_state else {})
