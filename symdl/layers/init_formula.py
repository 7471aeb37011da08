"""An initialiser written as a formula: ``"uniform: sqrt(6/(fan_in + fan_out))"`` is W ~ U(−a, a) with that a.

The text is a family, a colon and the family's parameter in the fan-in and
fan-out, as PyTorch's ``nn.init.uniform_(w, -a, a)`` / ``normal_(w, 0, std)``
take a number and Keras' ``VarianceScaling`` a distribution by name:

==========================  ============  ==========================================
text                        distribution  the formula is
==========================  ============  ==========================================
``"uniform: <formula>"``    U(−a, a)      the limit a
``"normal: <formula>"``     N(0, s²)      the standard deviation s (untruncated)
==========================  ============  ==========================================

The formula is read by :func:`symdl.symbolic.parse.parse` (never ``eval`` or
``sympify``) with ``fan_in`` (the inputs of a unit) and ``fan_out`` (the units
of the layer) as its only names, and must be a positive finite number for
every fan_in, fan_out ≥ 1: SymPy's assumptions must show it (the names are
positive integers); a formula they cannot is refused, naming the layer sizes
where it fails when it fails at one of :data:`LAYER_SIZES`.

>>> read_init_text("uniform: sqrt(6/(fan_in + fan_out))")
('uniform', sqrt(6)/sqrt(n_in + n_out))
>>> read_init_text("normal: 1 - 2/fan_in")
Traceback (most recent call last):
...
ValueError: init 'normal: 1 - 2/fan_in': the std is -1 at fan_in = 1, fan_out = 1; it must be positive for every fan_in, fan_out >= 1
"""

from __future__ import annotations

import numbers

import sympy as sp

from ..numbers import format_number
from ..symbolic.parse import parse

__all__ = ["FAN_NAMES", "FORMULA_FAMILIES", "LAYER_SIZES", "N_IN", "N_OUT", "as_fan_formula", "is_init_text", "read_init_text"]

N_IN = sp.Symbol("n_in", positive=True, integer=True)
"""Fan-in: the number of inputs of a unit (columns of W)."""
N_OUT = sp.Symbol("n_out", positive=True, integer=True)
"""Fan-out: the number of units of the layer (rows of W)."""

#: The names an ``init=`` formula is written in (Keras' and PyTorch's): fan-in, fan-out.
FAN_NAMES: tuple[str, str] = ("fan_in", "fan_out")
#: Family → what its formula is.
FORMULA_FAMILIES: dict[str, str] = {"uniform": "limit", "normal": "std"}

#: Layer sizes (n_in, n_out) tried for a counterexample: realistic ones first, then small ones.
LAYER_SIZES: tuple[tuple[int, int], ...] = ((300, 100), (100, 300), (784, 256), (1, 1), (1, 2), (2, 1), (3, 5), (5, 3), (7, 13))


def as_fan_formula(formula: str | sp.Expr, names: tuple[str, str]) -> sp.Expr:
    """Formula text (safely parsed) or a SymPy expression, in the positive-integer symbols N_IN, N_OUT."""
    if not (isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise TypeError(f"names must be a pair of names (fan-in, fan-out) such as ('n_in', 'n_out'), got {names!r}")
    if isinstance(formula, str):
        expr = parse(formula, symbols=list(names))
    elif isinstance(formula, sp.Expr):
        expr = formula
    elif isinstance(formula, numbers.Real) and not isinstance(formula, bool):
        raise TypeError(f"formula: give a constant as text or a SymPy number (e.g. '0.05'), got {type(formula).__name__}")
    else:
        raise TypeError(f"formula must be text or a SymPy expression, got {type(formula).__name__}")
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in names)
    if unknown:
        raise ValueError(f"formula: unknown symbols {unknown}; accepted: {names[0]} (fan-in) and {names[1]} (fan-out)")
    if expr.atoms(sp.core.function.AppliedUndef):
        raise ValueError(
            f"formula: undefined functions in {expr}; accepted: numbers, {names[0]}, {names[1]} and known functions"
        )
    return expr.xreplace({s: N_IN if str(s) == names[0] else N_OUT for s in expr.free_symbols})


def is_init_text(text: object) -> bool:
    """Whether ``text`` is written as an initialiser formula (``family: formula``), not a scheme's name."""
    return isinstance(text, str) and ":" in text


def read_init_text(text: str) -> tuple[str, sp.Expr]:
    """(family, a or s in N_IN, N_OUT) of ``"uniform: <limit>"`` / ``"normal: <std>"``; ValueError (one line) otherwise."""
    family, _, formula = text.partition(":")
    family = family.strip()
    if family not in FORMULA_FAMILIES:
        raise ValueError(f"init {text!r}: unknown family {family!r}; accepted: 'uniform: <limit>' or 'normal: <std>' "
                         f"in {' and '.join(FAN_NAMES)}")
    try:
        expr = as_fan_formula(formula.strip(), FAN_NAMES)
    except ValueError as error:  # FormulaError is a ValueError: one line, naming the init
        raise ValueError(f"init {text!r}: {str(error).removeprefix('formula: ')}") from None
    what = FORMULA_FAMILIES[family]
    if expr.is_positive and expr.is_finite:  # for all positive-integer fans, by SymPy's assumptions
        return family, expr
    for n_in, n_out in LAYER_SIZES:
        value = expr.xreplace({N_IN: sp.Integer(n_in), N_OUT: sp.Integer(n_out)})
        number = sp.N(value, 30)
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not number.is_real or not number > 0:
            shown = "not a finite real number" if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not number.is_real \
                else str(value) if value.is_Rational else format_number(sp.N(value, 6))
            raise ValueError(f"init {text!r}: the {what} is {shown} at {FAN_NAMES[0]} = {n_in}, {FAN_NAMES[1]} = {n_out}; "
                             f"it must be positive for every {FAN_NAMES[0]}, {FAN_NAMES[1]} >= 1")
    raise ValueError(f"init {text!r}: SymPy cannot show that the {what} is positive and finite for every "
                     f"{FAN_NAMES[0]}, {FAN_NAMES[1]} >= 1; write it so that it does (e.g. sqrt(c/fan_in))")
