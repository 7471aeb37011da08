"""Weight constraints (Keras' ``kernel_constraint``): θ ← P(θ) after each optimiser step, P a SymPy expression.

P is written in one weight w and, for the norm constraints, ν = √(Σ w²), the
2-norm of the weights along Keras' ``axis``; every backend's code is printed
from it (:func:`projection_lines`), none is written by hand:

=============  ======================================================  ===========================================
name           P(w; ν)                                                 Keras
=============  ======================================================  ===========================================
non_neg        max(w, 0)                                               ``NonNeg()``
max_norm       w·clip(ν, 0, c)/(ε + ν)                                 ``MaxNorm(max_value=c=2, axis=0)``
unit_norm      w/(ε + ν)                                               ``UnitNorm(axis=0)``
min_max_norm   w·(r·clip(ν, m, M) + (1 − r)·ν)/(ε + ν)                 ``MinMaxNorm(min_value=m=0, max_value=M=1,
                                                                       rate=r=1, axis=0)``
=============  ======================================================  ===========================================

ε = 10⁻⁷ is Keras' ``backend.epsilon()``. ``axis`` is Keras': a Keras kernel
is (n_in, n_out), so axis=0 runs over the inputs of one unit — a row of
symdl's W (n_out, n_in) — and axis=1 over the units one input feeds, a column.

>>> max_norm(3).projection()
w*Min(3, nu)/(nu + 1.0e-7)
>>> constraint("non_neg").config()
'non_neg'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from ..backends.base import Backend
from ..codegen.kernel import printable
from ..codegen.simplex import reduction_code
from ..excerpt import excerpt
from ..numbers import finite_float

__all__ = ["CONSTRAINTS", "EPSILON", "NORM", "WEIGHT", "Constraint", "constraint", "max_norm", "min_max_norm", "non_neg",
           "projection_lines", "unit_norm"]

WEIGHT = sp.Symbol("w", real=True)
"""One weight w."""
NORM = sp.Symbol("nu", nonnegative=True)
"""ν = √(Σ w²) over Keras' axis."""
EPSILON = sp.Float(1e-7)
"""Keras' ``backend.epsilon()``: keeps w/(ε + ν) finite at ν = 0."""

#: name → its settings and Keras' defaults, in Keras' order (axis last, where the constraint has one).
CONSTRAINTS: dict[str, dict[str, float]] = {
    "non_neg": {},
    "max_norm": {"max_value": 2.0, "axis": 0},
    "unit_norm": {"axis": 0},
    "min_max_norm": {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0},
}


@dataclass(frozen=True)
class Constraint:
    """A projection P(w; ν) applied after each step; ``settings`` are (name, value) pairs in Keras' order."""

    name: str
    settings: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.name not in CONSTRAINTS:
            raise ValueError(f"unknown constraint {self.name!r}; accepted: {', '.join(CONSTRAINTS)}")
        given = dict(self.settings)
        accepted = CONSTRAINTS[self.name]
        extra = sorted(set(given) - set(accepted))
        if extra:
            raise ValueError(f"{self.name}: unknown setting {extra[0]!r}; accepted: {', '.join(accepted) or 'none'}")
        values = {k: _number(given.get(k, default), f"{self.name}: {k}") for k, default in accepted.items()}
        if "axis" in values and values["axis"] not in (0, 1):
            raise ValueError(f"{self.name}: axis must be 0 (the inputs of each unit) or 1 (the units of each input), "
                             f"as on a Keras kernel (n_in, n_out); got {given['axis']!r}")
        low, high = values.get("min_value", 0.0), values.get("max_value", 0.0)
        if not 0 <= low <= high:
            raise ValueError(f"{self.name}: the norm bounds must satisfy 0 <= min_value <= max_value, got {excerpt(low)} and {excerpt(high)}")
        if not 0 <= values.get("rate", 0.0) <= 1:
            raise ValueError(f"{self.name}: rate must be in [0, 1], got {values['rate']!r}")
        object.__setattr__(self, "settings", tuple(values.items()))

    @property
    def axis(self) -> int | None:
        """Keras' axis on a kernel (n_in, n_out), or None (element-wise)."""
        value = dict(self.settings).get("axis")
        return None if value is None else int(value)

    def projection(self) -> sp.Expr:
        """P(w; ν) in :data:`WEIGHT` and :data:`NORM` (Keras' ``ops.clip(ν, a, b)`` is min(max(ν, a), b))."""
        s = {k: sp.Rational(repr(v)) for k, v in self.settings}  # the decimal as given (0.3 is 3/10), never a guessed surd
        if self.name == "non_neg":
            return sp.Max(WEIGHT, 0)
        if self.name == "unit_norm":
            return WEIGHT / (EPSILON + NORM)
        if self.name == "max_norm":
            desired = sp.Min(sp.Max(NORM, 0), s["max_value"])
        else:
            rate = s["rate"]
            desired = rate * sp.Min(sp.Max(NORM, s["min_value"]), s["max_value"]) + (1 - rate) * NORM
        return WEIGHT * desired / (EPSILON + NORM)

    def config(self) -> str | dict[str, object]:
        """The name (no settings), or ``{"name": …, setting: value, …}``: what ``constraint`` reads back."""
        if not self.settings:
            return self.name
        return {"name": self.name, **{k: int(v) if k == "axis" else v for k, v in self.settings}}


def _number(value: object, what: str) -> float:
    x = finite_float(value)
    if x is None:
        raise ValueError(f"{what} must be a finite number, got {excerpt(value)}")
    return x


def constraint(spec: object) -> Constraint:
    """A :class:`Constraint` from its name (Keras' defaults), ``{"name": …, settings}`` or a Constraint; else one ValueError."""
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, str) and spec in CONSTRAINTS:
        return Constraint(spec)
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        return Constraint(str(spec["name"]), tuple((str(k), v) for k, v in spec.items() if k != "name"))
    shown = excerpt(spec) if isinstance(spec, (str, Mapping)) else type(spec).__name__
    raise ValueError(f"unknown constraint {shown}; accepted: {', '.join(CONSTRAINTS)} "
                     "(a name, a {'name': …, setting: value} dict, or symdl.graph.max_norm(…) and the like)")


def non_neg() -> Constraint:
    """max(w, 0): Keras' ``NonNeg``."""
    return Constraint("non_neg")


def max_norm(max_value: float = 2, axis: int = 0) -> Constraint:
    """w·clip(ν, 0, max_value)/(ε + ν): Keras' ``max_norm(max_value=2, axis=0)``."""
    return Constraint("max_norm", (("max_value", max_value), ("axis", axis)))


def unit_norm(axis: int = 0) -> Constraint:
    """w/(ε + ν): Keras' ``unit_norm(axis=0)``."""
    return Constraint("unit_norm", (("axis", axis),))


def min_max_norm(min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: int = 0) -> Constraint:
    """w·(rate·clip(ν, min_value, max_value) + (1 − rate)·ν)/(ε + ν): Keras' ``min_max_norm``."""
    return Constraint("min_max_norm", (("min_value", min_value), ("max_value", max_value), ("rate", rate), ("axis", axis)))


def projection_lines(key: str, project: Constraint, backend: Backend, vector: bool = False) -> list[str]:
    """θ ← P(θ; ν) for the array ``key`` (n_out, n_in): ν = √(Σ w²) over Keras' axis (a row of W for axis 0), P printed.

    A ``vector`` (a bias (n_out,)) has one axis: ν runs over all of it, as Keras' axis 0 does on a 1-D weight.
    """
    printer = backend.printer()
    array = sp.Symbol(key, real=True)
    lines = []
    values = {WEIGHT: array}
    if project.axis is not None:
        squares, norm = sp.Symbol(f"_ssq{key}", nonnegative=True), sp.Symbol(f"_nrm{key}", nonnegative=True)  # names no other line uses
        summand = printer.doprint(printable(WEIGHT.xreplace(values) ** 2, "constraint"))
        # Keras' axis 0 of (n_in, n_out) is symdl's axis 1 of W = kernelᵀ; a vector's only axis is 0
        axis = 0 if vector else 1 - project.axis
        lines.append(f"{squares} = {reduction_code(backend.module, 'sum', summand, axis)}")
        lines.append(f"{norm} = {printer.doprint(printable(sp.sqrt(squares), 'constraint'))}")
        values[NORM] = norm
    code = printer.doprint(printable(project.projection().xreplace(values), "constraint"))
    lines.append(f"{key} = {code}" if backend.functional else f"{key}[...] = {code}")
    return lines
