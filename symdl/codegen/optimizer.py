"""An optimizer's update (:class:`symdl.optim.Optimizer`) → the lines of ``train_step`` that apply it.

The update is printed from its SymPy assignments with the backend's printer;
nothing here names an optimizer. The step's scalars — every subexpression of
the step t and the global state alone, such as 1 − β₁ᵗ — are computed once per
step, not once per parameter. ``w ← w − s`` prints as ``W -= s``, with s built
in the gradient buffer (nothing reads it after the update), and params are
written only after every parameter's step is computed.

Backends that write in place (:attr:`symdl.backends.Backend.out_functions`:
numpy, torch) build each value in one buffer with ``out=`` calls
(:class:`symdl.codegen.inplace.InplaceEmitter`) and update a slot in its own
array where the expression allows it (``m *= β₁; m += (1−β₁)·g``), as
``torch.optim`` does; the entry point checks params, data, state and
hyperparameters before this code runs, so a refused call changes nothing. A
functional backend (JAX) prints plain expressions and returns the new values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from ..optim.base import Assignment, G, Optimizer, T, W
from .inplace import InplaceEmitter
from .kernel import printable
from .naming import grad_name
from .step_scalars import ScalarPrinter, scalar_lines

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = ["UpdateCode", "print_init_state", "print_update", "state_key", "state_keys"]


def state_key(slot: str, param: str) -> str:
    """The key of a per-parameter slot in the state dict: ``m_W1``."""
    return f"{slot}_{param}"


def state_keys(optimizer: Optimizer, params: Sequence[str]) -> list[str]:
    """The state dict's keys: the global slots (``t`` first), then every per-parameter slot of every parameter."""
    return [s.name for s in optimizer.global_slots] + [
        state_key(s.name, p) for p in params for s in optimizer.parameter_slots
    ]


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
                 state: str = "state", keep_step: bool = True, backend: Backend | None = None) -> UpdateCode:
    """The lines of one optimizer step for the parameters ``params`` (their gradients are ``g<name>``).

    Without ``keep_step`` an update that needs no state at all (gradient
    descent with a constant η) reads and writes none: the classic
    ``train_step(params, X, Y, lr)``. With a ``backend`` that writes in place
    (:attr:`symdl.backends.Backend.out_functions`), every new value is built
    in one buffer with ``out=`` calls (:class:`symdl.codegen.inplace.InplaceEmitter`):
    a slot in its own array, the step in the dead gradient buffer.
    """
    global_update, update = optimizer.bound()
    unbound = optimizer.unbound()
    arguments = tuple(h.name for h in unbound)
    free_names = {h.symbol: sp.Symbol(h.name, real=True) for h in unbound}
    uses_state = keep_step or bool(optimizer.parameter_slots) or len(optimizer.global_slots) > 1 or any(
        e.has(T) for _, e in (*global_update[1:], *update)
    )
    doprint = printer.doprint  # type: ignore[attr-defined]
    out_functions = None if functional or backend is None else backend.out_functions
    # The step's scalars: Python floats in an eager backend (also where its update is printed as plain expressions);
    # traced arrays (printed by the backend) under jax.jit.
    eager = backend is not None and backend.out_functions is not None
    scalar = ScalarPrinter().doprint if eager else doprint
    compute: list[str] = []
    write: list[str] = []
    new_state: dict[str, str] = {}
    global_names = {s.symbol: sp.Symbol(s.name, real=True) for s in optimizer.global_slots}
    scalar_values: list[tuple[sp.Symbol, sp.Expr]] = []  # the step's scalars, in order: printed together below
    if uses_state:
        for slot in optimizer.global_slots:
            compute.append(f"{slot.name} = {state}[{slot.name!r}]")
        for target, expr in global_update:
            name = global_names.get(target, sp.Symbol(target.name, real=True))
            scalar_values.append((name, printable(expr.xreplace({**global_names, **free_names}), optimizer.name)))
            if target in global_names:
                new_state[target.name] = name.name
    scalar_symbols = set(global_names.values()) | set(free_names.values())
    per_param: list[list[sp.Expr]] = []
    for p in params:
        names = {W: sp.Symbol(p, real=True), G: sp.Symbol(grad_name(p), real=True), **global_names, **free_names}
        for slot in optimizer.parameter_slots:
            names[slot.symbol] = sp.Symbol(state_key(slot.name, p), real=True)
        per_param.append([printable(e.xreplace(names), optimizer.name) for _, e in update])
    flat = [e for exprs in per_param for e in exprs]
    hoisted, flat = _hoist(flat, scalar_symbols, "_step")
    count = optimizer.global_slots[0].name if uses_state and optimizer.global_slots and eager else None
    on_device = None if count is None or backend is None else backend.device_count(count)
    values = [*scalar_values, *hoisted]
    device = None
    if on_device is not None and backend is not None:
        counter = global_names[optimizer.global_slots[0].symbol]
        cast = backend.device_count_cast(counter.name, params[0]) if params else None
        real = None
        if cast is not None and values and values[0][0] == counter and any(v.has(counter) for _, v in values[1:]):
            # The scalars read the count in the params' dtype (a Python count: itself), not torch's default float32
            # that an int64 count times a Python float gives: 1 − β₂ᵗ cancels, the step schedule's exponent grows.
            real = sp.Symbol("_count", real=True)
            compute += [f"{counter} = {scalar(values[0][1])}",
                        f"{real} = {cast} if {on_device} else {counter}  # the count in the params' dtype"]
            values = [(s, v.xreplace({counter: real})) for s, v in values[1:]]
        tensors = {*global_names.values(), *([real] if real is not None else [])}
        device = ScalarPrinter(backend.module, tensors, like=None if real is None else real.name)
    compute += scalar_lines(values, scalar, device, on_device)
    scalars = scalar_symbols | {s for s, _ in hoisted}
    n = len(update)
    for k, p in enumerate(params):
        lines, slots = _parameter_update(optimizer, p, update, flat[k * n:(k + 1) * n], scalars, printer,
                                         functional, out_functions, backend, state)
        compute += lines[0]
        write += lines[1]
        new_state.update(slots)
    if uses_state and not functional:  # a slot updated in its own array needs no write
        per_parameter = {state_key(s.name, p) for p in params for s in optimizer.parameter_slots}
        store = backend.store_state if backend is not None else (lambda store, key, value: f"{store}[{key!r}] = {value}")
        write += [store(state, key, name) for key, name in new_state.items() if key != name or key not in per_parameter]
    return UpdateCode(tuple(compute), tuple(write), arguments, new_state if uses_state else {})


def _parameter_update(optimizer: Optimizer, p: str, update: Sequence[Assignment], values: Sequence[sp.Expr],
                      scalars: set[sp.Symbol], printer: object, functional: bool, out_functions: Mapping[str, str] | None,
                      backend: Backend | None, state: str) -> tuple[tuple[list[str], list[str]], dict[str, str]]:
    """((compute lines, write lines), state key → new value's name) of one parameter's assignments, in order.

    An assignment to a slot updates its array in place where the backend can
    (else it gets a new name, ``_m_W1``, stored in the state dict at the end);
    one to the gradient rebinds it (in place, its
    buffer is the step's own); one to w before the last stands for its value in
    the assignments after it; the last one gives w, written as ``W -= step``
    (the step w − (new w) computed before the write, so it may read w), or as
    ``W[...] = new`` where the new w does not contain w.
    """
    doprint = printer.doprint  # type: ignore[attr-defined]
    w, g = sp.Symbol(p, real=True), sp.Symbol(grad_name(p), real=True)
    slot_keys = {s.symbol: sp.Symbol(state_key(s.name, p), real=True) for s in optimizer.parameter_slots}
    compute = [f"{key} = {state}[{key.name!r}]" for key in slot_keys.values()]
    write: list[str] = []
    current: dict[sp.Symbol, sp.Expr] = {}  # a symbol → what it stands for now (a new name, or w's expression)
    new_slots: dict[str, str] = {}
    emitter = None if out_functions is None else InplaceEmitter(printer, out_functions, backend.module, scalars)  # type: ignore[union-attr]

    def emit(value: sp.Expr, dest: str, fresh: bool, scratch: str | None = None) -> str:
        if emitter is None:
            compute.append(f"{dest} = {doprint(value)}")
            return dest
        emitter.lines = []
        name = emitter.into(value, dest, fresh, scratch)
        compute.extend(emitter.lines)
        return name

    def read_after(i: int) -> set[sp.Symbol]:
        """The symbols the assignments after the i-th read (w standing for its expression so far)."""
        later = set().union(*(v.free_symbols for v in values[i + 1:]))
        return later | current[w].free_symbols if w in later and w in current else later

    for i, ((target, _), raw) in enumerate(zip(update, values)):
        value = raw.xreplace(current)
        if target == W and i < len(update) - 1:
            current[w] = value
        elif target == W:
            # w − step: the step is computed into a buffer before w is written, so it may read w (decoupled decay).
            step = sp.expand(w - value) if value.has(w) else None
            if step is None or step.has(w) and emitter is None:
                emit(value, f"_new{p}", True)
                write.append(f"{p} = _new{p}" if functional else f"{p}[...] = _new{p}")
            elif emitter is not None:  # the gradient is read by nothing after the last assignment: the step's buffer
                write.append(f"{p} -= {emit(step, current.get(g, g).name, False)}")
            elif not functional and not (sp.simplify(step / g).free_symbols - scalars):
                # s = c·g with c a scalar: scale the dead gradient buffer (an immutable array: a rebinding).
                compute.append(f"{g} *= {doprint(sp.simplify(step / g))}")
                write.append(f"{p} -= {g}")
            else:
                emit(step, f"_s{p}", True)
                write.append(f"{p} = {p} - _s{p}" if functional else f"{p} -= _s{p}")
        elif target == G:
            pending = w in current and g in current[w].free_symbols  # w's expression still reads the old gradient
            name = emit(value, f"{g.name}_" if pending else g.name, pending or emitter is None)
            current[g] = sp.Symbol(name, real=True)
        elif target in slot_keys and emitter is not None and not (w in current and slot_keys[target] in current[w].free_symbols):
            # The slot's own array, in place (m *= β₁; m += …): every check has passed before the first write.
            # (Not when w's pending expression still reads the slot's old value.)
            key = slot_keys[target]
            g_now = current.get(g, g)
            scratch = None if g_now in read_after(i) else g_now.name  # the gradient, dead after this: a term's buffer
            name = emit(value, key.name, False, scratch)
            current[key] = sp.Symbol(name, real=True)
            new_slots[key.name] = name
        else:
            key = slot_keys.get(target, target)
            name = emit(value, key.name if functional else f"_{key.name}", True)
            current[key] = sp.Symbol(name, real=True)
            if target in slot_keys:
                new_slots[key.name] = name
    return (compute, write), new_slots


def print_init_state(optimizer: Optimizer, params: Sequence[str], backend: Backend, head: str, *,
                     device_scalars: bool = False) -> list[str]:
    """The body of ``init_state(params)``: ``head`` (binds every parameter's array by its name), then the state dict.

    Each slot's value before the first step is printed from its SymPy
    ``init`` (an expression of w and the hyperparameters): a constant c as
    ``zeros_like(W)`` / ``full_like(W, c)``, else ``zeros_like(W) + init(W)``;
    an integer global slot (the step t) is a Python int, a real one a float (JAX: placed on the
    first parameter's device, :meth:`symdl.backends.Backend.state_scalar`); with ``device_scalars`` every global
    slot is a 0-d array on that device in every backend (a ``train_step`` that keeps or drops a step on the device).
    """
    values = optimizer.values()
    doprint = backend.printer().doprint
    entries = []
    for slot in optimizer.global_slots:
        init = slot.init.xreplace(values)
        if init.free_symbols:
            raise ValueError(f"{optimizer.name}: the initial {slot.name} = {init} needs values for {sorted(map(str, init.free_symbols))}")
        literal = repr(int(init) if slot.symbol.is_integer else float(init))
        entries.append(f"{slot.name!r}: {backend.state_scalar(literal, params[0], device_scalars) if params else literal}")
    for p in params:
        w = sp.Symbol(p, real=True)
        for slot in optimizer.parameter_slots:
            init = slot.init.xreplace(values).xreplace({W: w})
            if init.free_symbols - {w}:
                raise ValueError(f"{optimizer.name}: the initial {slot.name} = {init} needs values for "
                                 f"{sorted(map(str, init.free_symbols - {w}))}")
            if not init.free_symbols:
                c = float(init)
                code = f"{backend.module}.zeros_like({p})" if c == 0 else f"{backend.module}.full_like({p}, {c!r})"
            else:
                code = f"{backend.module}.zeros_like({p}) + ({doprint(printable(init, optimizer.name))})"
            entries.append(f"{state_key(slot.name, p)!r}: {code}")
    return [head, "return {" + ", ".join(entries) + "}"]
