"""What a rule is made of: its parameters, its definition as SymPy, its kinks, and the kink conventions.

A rule builder (:mod:`symdl.rulebook.activations`, :mod:`.losses`,
:mod:`.penalties`) takes the parameter symbols and returns a
:class:`Definition`; :class:`Param` describes each parameter,
:class:`Kink` a point where the derivative jumps and :class:`Jumps` the
floor, ceiling and round of the variable, which jump at infinitely many points.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import sympy as sp

from ..numbers import finite_float

__all__ = [
    "KINK_CONVENTIONS",
    "Definition",
    "Jumps",
    "Kind",
    "Kink",
    "KinkConvention",
    "Param",
    "TorchLoss",
    "check_convention",
    "exact_param",
]

Kind = Literal["activation", "loss", "penalty", "formula"]
KinkConvention = Literal["pytorch", "left", "right", "average"]
KINK_CONVENTIONS: tuple[KinkConvention, ...] = get_args(KinkConvention)


def check_convention(kink_convention: str) -> KinkConvention:
    """``kink_convention`` itself when it is one of KINK_CONVENTIONS, else a ValueError naming them."""
    if kink_convention not in KINK_CONVENTIONS:
        raise ValueError(f"unknown kink convention {kink_convention!r}; accepted: {', '.join(KINK_CONVENTIONS)}")
    return kink_convention


def exact_param(name: str, value: object) -> sp.Expr:
    """A parameter value as an exact SymPy number (0.1 → 1/10), or ValueError naming the parameter."""
    from ..symbolic.parse import exact_number

    return exact_number(value, f"parameter {name!r}")


@dataclass(frozen=True)
class Param:
    """A rule parameter: its default, the sign it must have, and what it means."""

    name: str
    default: float
    description: str
    positive: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isascii() and self.name.isidentifier() and not keyword.iskeyword(self.name)):
            raise ValueError(f"Param: a parameter's name must be an ASCII identifier that is not a Python keyword, got {self.name!r}")
        given = finite_float(self.default)
        if given is None:
            raise ValueError(f"Param {self.name!r}: default must be a finite real number, got {self.default!r}")
        if self.positive and not given > 0:  # else every rule built with the default is refused
            raise ValueError(f"Param {self.name!r}: positive=True needs a default > 0, got {self.default!r}")

    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.name, real=True, positive=self.positive or None)


@dataclass(frozen=True)
class Definition:
    """What a rule builder returns: the forward expression and what is known about its derivative.

    ``textbook`` is d expr / d inputs[0] as textbooks write it, possibly in
    terms of ``output`` (the rule's value, e.g. σ' = σ(1 − σ)). ``stable_expr``
    and ``stable_derivative`` are the forms printed as numeric code when the
    plain forms overflow or lose digits (``stable_partials`` the same for the
    other inputs); :meth:`Rule.prove` shows each equal to what it replaces. ``seed_form`` is another way of writing ``expr`` (the
    seeds' max(0, z) + α·min(0, z)), also proven equal. ``pytorch_kinks`` maps
    each kink of the derivative to the value PyTorch returns there.
    ``declared_jumps`` are the points where the value jumps by the rule's own
    definition (hardshrink at ±λ): ``symdl check`` reports a jump there as
    declared instead of failing, while a jump anywhere else (the notebook's
    discontinuous Huber) still fails.
    """

    expr: sp.Expr
    inputs: tuple[sp.Symbol, ...]
    textbook: sp.Expr | None
    output: sp.Symbol | None = None
    stable_expr: sp.Expr | None = None
    stable_derivative: sp.Expr | None = None
    stable_partials: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)  # d stable_expr / d other inputs
    seed_form: sp.Expr | None = None
    #: The stable forms hold at the rule's bound parameter values only (a formula's log(d + eᶻ) rewritten for d = 2).
    stable_at_values: bool = False
    pytorch_kinks: Mapping[sp.Expr, sp.Expr] = field(default_factory=dict)
    other_textbooks: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)
    label_values: Mapping[sp.Symbol, tuple[float, ...]] = field(default_factory=dict)
    input_ranges: Mapping[sp.Symbol, tuple[float, float]] = field(default_factory=dict)
    exp_growth: float | None = None  # the value grows like e^{rate·x}: finite only up to log(max float)/rate
    reduce_sum: bool = False
    notes: str = ""
    # The accuracy check's 50-digit reference evaluates stable_expr / stable_derivative (proven equal to the
    # definition) instead: for definitions that cancel beyond what mpmath resolves in 1600 digits (GELU-tanh's
    # 1 + tanh u at z = −30 is 1e-792 and needs ~800 digits, at z = −40 ~2000).
    reference_from_stable: bool = False
    declared_jumps: tuple[sp.Expr, ...] = ()
    #: A loss's ``torch.nn.functional`` counterpart (:class:`TorchLoss`), None if it has none.
    torch_loss: TorchLoss | None = None


@dataclass(frozen=True)
class TorchLoss:
    """A loss's ``torch.nn.functional`` counterpart: the function's name and its per-element loss in the rule's symbols.

    ``element`` None: torch's per-element loss is the rule's own expression (``huber_loss``); else the formula torch
    documents (``mse_loss``: (a − y)², where symdl's ℓ carries a ½). The ratio element/ℓ is derived, never written.
    """

    function: str
    element: sp.Expr | None = None


@dataclass(frozen=True)
class Kink:
    """A point where the derivative jumps: the one-sided derivatives and the value returned there."""

    at: sp.Expr
    left: sp.Expr
    right: sp.Expr
    value: sp.Expr

    def is_subgradient(self, subs: Mapping[sp.Symbol, object] | None = None) -> bool:
        """min(left, right) ≤ value ≤ max(left, right), with parameters at ``subs``.

        A one-sided value qualifies for every parameter value; otherwise the
        check is numeric at ``subs``.
        """
        if any(sp.simplify(self.value - side) == 0 for side in (self.left, self.right)):
            return True
        if sp.simplify(self.value - (self.left + self.right) / 2) == 0:
            return True
        left, right, value = (sp.N(sp.sympify(e, strict=True).subs(subs or {}), 30) for e in (self.left, self.right, self.value))  # SymPy objects, not text
        return bool(min(left, right) <= value <= max(left, right))


@dataclass(frozen=True)
class Jumps:
    """The floor, ceiling and round of a rule's variable: each jumps wherever its argument crosses an integer (round:
    a half-integer), infinitely many points, so none is a :class:`Kink`; there f or f' jumps, and neither the
    derivative nor a finite difference is claimed. ``moving_kinks``: where f' switches branch at a place that moves
    with their values (|z − ⌊z⌋ − 1/2| → ⌊z⌋ + 1/2), infinitely many kinks, not listed either."""

    functions: tuple[sp.Expr, ...] = ()
    moving_kinks: tuple[sp.Expr, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.functions)
