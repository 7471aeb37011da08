"""An optimizer as mathematics: its state, its update and its learning-rate schedule are SymPy expressions.

Modelled on optax's ``init``/``update`` pair (``optax/_src/base.py``), written
as equations instead of code so that symdl can prove things about it and print
it into every ``train_step`` with the same printers as the rest of the network:

* **hyperparameters** — named symbols with values (η, β₁, β₂, ε, λ …); a value
  of ``None`` leaves the symbol free, printed as a name the caller binds (the
  classic ``train_step(params, X, Y, lr)``);
* **state** — :class:`Slot` s: per-parameter slots (m, v: arrays shaped like the
  parameter) and global slots (the step t, Nadam's Π μ), each with its value
  before the first step;
* **update** — ordered assignments ``target ← expression``, read like code: the
  global ones run once per step (t ← t + 1 first, so t = 1 on the first step),
  then the per-parameter ones for every parameter w with gradient g; an
  assignment reads the values the assignments before it gave. The last
  per-parameter assignment gives the new w;
* **learning rate** — η(t), an expression of the step t (:mod:`symdl.optim.schedules`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp

from ..numbers import finite_float

__all__ = ["ETA", "G", "STEP", "T", "W", "Assignment", "Hyperparameter", "Optimizer", "Slot"]

#: One element of a parameter, its gradient ∂C/∂w, the step number t = 1, 2, … and the learning rate η(t).
W = sp.Symbol("w", real=True)
G = sp.Symbol("g", real=True)
T = sp.Symbol("t", integer=True, nonnegative=True)
ETA = sp.Symbol("eta", positive=True)

Assignment = tuple[sp.Symbol, sp.Expr]


@dataclass(frozen=True)
class Hyperparameter:
    """A named constant of the update: its keyword (``lr``), its symbol (η) and its value (None: bound at call time)."""

    name: str
    symbol: sp.Symbol
    value: float | None

    def __post_init__(self) -> None:
        if self.value is not None:
            if finite_float(self.value) is None:
                raise ValueError(f"{self.name}: expected a finite real number, got {self.value!r}")
            object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class Slot:
    """One piece of optimizer state: its symbol, its value before the first step (an expression of w for a
    per-parameter slot), and whether there is one per parameter (m, v) or one in all (t)."""

    symbol: sp.Symbol
    init: sp.Expr = sp.S.Zero
    per_parameter: bool = True

    @property
    def name(self) -> str:
        return self.symbol.name


STEP = Slot(T, sp.S.Zero, per_parameter=False)


@dataclass(frozen=True)
class Optimizer:
    """θ ← update(θ, g, state): the state, the assignments and η(t) of one optimizer, all SymPy.

    ``global_update`` always starts with t ← t + 1 (added when missing);
    ``update`` ends with the assignment to :data:`W`. ``learning_rate`` is
    η(t) in terms of :data:`T` and hyperparameters; :data:`ETA` in the update
    stands for it. ``rebuild`` is the optimizer's constructor taking its
    :meth:`config` flattened (``rebuild(**options, **hyperparameters)``, set
    by the catalogue's factories); :meth:`with_values` runs it on the new
    values, so that they pass the constructor's own checks. It takes no part
    in equality.
    """

    name: str
    hyperparameters: tuple[Hyperparameter, ...]
    slots: tuple[Slot, ...]
    update: tuple[Assignment, ...]
    global_update: tuple[Assignment, ...] = ()
    learning_rate: sp.Expr = ETA
    title: str = ""
    reference: str = ""
    schedule_name: str = "constant"
    options: Mapping[str, object] = field(default_factory=dict)
    rebuild: Callable[..., Optimizer] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        slots = tuple(self.slots)
        if STEP not in slots:
            slots = (STEP, *slots)
        object.__setattr__(self, "slots", slots)
        step = (T, T + 1)
        if not self.global_update or self.global_update[0] != step:
            object.__setattr__(self, "global_update", (step, *self.global_update))
        if not self.update or self.update[-1][0] != W:
            raise ValueError(f"{self.name}: the last assignment of the update must give w")
        names = [h.name for h in self.hyperparameters]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: hyperparameter names repeat: {names}")
        known = {W, G, T, ETA, *(s.symbol for s in slots), *(h.symbol for h in self.hyperparameters)}
        known |= {target for target, _ in (*self.global_update, *self.update)}
        for target, expr in (*self.global_update, *self.update, (ETA, self.learning_rate)):
            free = sp.sympify(expr).free_symbols - known  # trusted: expressions built in symdl.optim, never text
            if free:
                raise ValueError(f"{self.name}: {target} = {expr} uses symbols with no meaning here: {sorted(map(str, free))}")

    # --- views ---------------------------------------------------------------------------------------------------

    @property
    def parameter_slots(self) -> tuple[Slot, ...]:
        """The slots there is one of per parameter (m, v …), in order."""
        return tuple(s for s in self.slots if s.per_parameter)

    @property
    def global_slots(self) -> tuple[Slot, ...]:
        """The slots there is one of in all (t first)."""
        return tuple(s for s in self.slots if not s.per_parameter)

    def hyperparameter(self, name: str) -> Hyperparameter:
        for h in self.hyperparameters:
            if h.name == name:
                return h
        raise KeyError(f"{self.name} has no hyperparameter {name!r}; it has {', '.join(h.name for h in self.hyperparameters)}")

    def values(self) -> dict[sp.Symbol, sp.Expr]:
        """Every hyperparameter symbol with a value, as an exact SymPy number (floats as SymPy Floats)."""
        # An exact 0: SymPy drops its terms (0·x, 0**t) instead of printing a Float zero.
        return {h.symbol: sp.Float(h.value, 17) if h.value else sp.S.Zero for h in self.hyperparameters if h.value is not None}

    def unbound(self) -> tuple[Hyperparameter, ...]:
        """The hyperparameters without a value: the generated code takes them as arguments."""
        return tuple(h for h in self.hyperparameters if h.value is None)

    def bound(self) -> tuple[tuple[Assignment, ...], tuple[Assignment, ...]]:
        """(global assignments, per-parameter assignments) with η(t) and the hyperparameter values put in: what is printed."""
        values = self.values()
        eta = sp.sympify(self.learning_rate).xreplace(values)  # trusted: a SymPy expression
        subs = {**values, ETA: eta}
        glob = tuple((target, sp.sympify(expr).xreplace(subs)) for target, expr in self.global_update)  # trusted: SymPy
        per = tuple((target, sp.sympify(expr).xreplace(subs)) for target, expr in self.update)  # trusted: SymPy
        return glob, per

    def with_values(self, **values: float | None) -> Optimizer:
        """This optimizer with some hyperparameters given new values (``lr=0.1``; None: bound at call time).

        The values are checked by the optimizer's own constructor (:attr:`rebuild` on its config with them put in),
        so that a value it refuses is refused here with its error line, rules that tie hyperparameters together
        included (SGD's Nesterov momentum needs momentum > 0). The result keeps this optimizer's form: its
        hyperparameters and slots, a value of 0 included. An Optimizer made without ``rebuild`` checks only that
        each value is a finite real number.
        """
        names = {h.name for h in self.hyperparameters}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"{self.name}: unknown hyperparameters {sorted(unknown)}; accepted: {', '.join(sorted(names))}")
        if self.rebuild is not None:
            self.rebuild(**self.options, **{**{h.name: h.value for h in self.hyperparameters}, **values})
        hyper = tuple(Hyperparameter(h.name, h.symbol, values.get(h.name, h.value)) for h in self.hyperparameters)
        return Optimizer(self.name, hyper, self.slots, self.update, self.global_update, self.learning_rate,
                         self.title, self.reference, self.schedule_name, self.options, self.rebuild)

    def config(self) -> dict[str, object]:
        """``{"name": …, "hyperparameters": {…}, "schedule": …}``: what a saved model stores to rebuild this optimizer."""
        return {"name": self.name, "schedule": self.schedule_name, "options": dict(self.options),
                "hyperparameters": {h.name: h.value for h in self.hyperparameters}}

    # --- symbolic runs -------------------------------------------------------------------------------------------

    def step(self, state: Mapping[sp.Symbol, sp.Expr], w: sp.Expr, g: sp.Expr,
             values: Mapping[sp.Symbol, sp.Expr] | None = None) -> tuple[dict[sp.Symbol, sp.Expr], sp.Expr]:
        """One step on symbolic values: (the new state, the new w) from ``state`` (slot symbol → value), w and g.

        ``values`` substitutes hyperparameters (default: none, everything stays symbolic).
        """
        subs = {k: sp.sympify(v, strict=True) for k, v in (values or {}).items()}  # strict: numbers or SymPy, never text
        env: dict[sp.Symbol, sp.Expr] = {**state, W: sp.sympify(w, strict=True), G: sp.sympify(g, strict=True)}  # strict
        eta = sp.sympify(self.learning_rate).xreplace(subs)  # trusted: a SymPy expression
        # η in the assignments is η(t), not the base rate the constant schedule also calls η.
        subs.pop(ETA, None)
        for target, expr in self.global_update:
            env[target] = sp.sympify(expr).xreplace(subs).xreplace(env)  # trusted: SymPy
        env[ETA] = eta.xreplace(env)
        for target, expr in self.update:
            env[target] = sp.sympify(expr).xreplace(subs).xreplace(env)  # trusted: SymPy
        new_state = {s.symbol: env[s.symbol] for s in self.slots}
        return new_state, env[W]

    def initial_state(self, w: sp.Expr = W) -> dict[sp.Symbol, sp.Expr]:
        """Every slot's value before the first step, for a parameter with value ``w``."""
        return {s.symbol: s.init.xreplace({W: w}) for s in self.slots}

    def run(self, gradients: Sequence[sp.Expr | Callable[[sp.Expr], sp.Expr]], w0: sp.Expr = W,
            values: Mapping[sp.Symbol, sp.Expr] | None = None) -> list[sp.Expr]:
        """[w₀, w₁, …, w_n]: the iterates for the gradients g₁ … g_n; a gradient may be a function of the current w."""
        state, w = self.initial_state(w0), w0
        out = [w]
        for g in gradients:
            state, w = self.step(state, w, g(w) if callable(g) else g, values)
            out.append(w)
        return out

    def __repr__(self) -> str:
        shown = ", ".join([f"{h.name}={h.value!r}" for h in self.hyperparameters] + [f"{k}={v!r}" for k, v in self.options.items()])
        return f"symdl.optimizer({self.name!r}{', ' if shown else ''}{shown})"
