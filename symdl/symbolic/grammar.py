"""The formula grammar: the functions, operators and constants a formula may use, and the size limits.

Read by :mod:`symdl.symbolic.parse` (text → syntax tree) and
:mod:`symdl.symbolic.formula_builder` (syntax tree → SymPy); the user
reference is ``docs/formulas.md``.
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Callable

import sympy as sp
from sympy.logic.boolalg import Boolean

from .functions import NAMED_FUNCTIONS
from .rounding import ceiling, floor
from .rounding import round as round_half_even
from .stop_gradient import stop_gradient

__all__ = [
    "FUNCTIONS",
    "MAX_BRACKET_DEPTH",
    "MAX_CONDITIONS",
    "MAX_CONSTANT_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_DIGITS",
    "MAX_LENGTH",
    "MAX_MINMAX_ARGS",
    "MAX_NESTING",
    "MAX_NODES",
    "MAX_NUMBER_DIGITS",
    "MAX_PIECES",
    "MAX_PIECE_CONDITIONS",
    "MAX_ROOT_DIGITS",
    "MAX_TOTAL_MINMAX_ARGS",
    "FormulaError",
]

MAX_LENGTH = 2000  # characters of formula text
MAX_BRACKET_DEPTH = 50  # nesting of ( [ {, checked on the raw text
MAX_NODES = 1000  # nodes of the Python syntax tree
MAX_NESTING = 100  # nested sub-expressions (a long chain a + b + c … counts once)
MAX_INT_DIGITS = 30  # digits of an integer literal
MAX_EXPONENT = 100  # |exponent| when the exponent is a number
MAX_NUMBER_DIGITS = 1000  # digits of any exact rational built on the way
# SymPy factors a number under a fractional power (to pull out perfect powers),
# which costs milliseconds from ~30 digits on and grows fast: keep roots small.
MAX_ROOT_DIGITS = 30
# SymPy compares the arguments of Max/Min pairwise, and simplifies the parts of And/Or
# pairwise, at up to ~0.1 s a pair for rich arguments; nested max(max(…)) and a and (b and c)
# are merged into one, so these count after merging.
MAX_MINMAX_ARGS = 6
# Kinks and proofs of max/min split into cases that multiply across calls: a budget for the whole formula.
MAX_TOTAL_MINMAX_ARGS = 8
MAX_CONDITIONS = 20
# Pieces of one Piecewise((a, c), (b, d), …, (e, True)), and the comparisons in all their conditions together:
# SymPy merges neighbouring pieces of equal value by Or-ing their conditions and distributing And over Or,
# which costs time exponential in those comparisons (20 of them, lifted from where()s, take a second).
MAX_PIECES = 8
MAX_PIECE_CONDITIONS = 10

# Depth of a constant (a part without symbols) as a SymPy tree. SymPy evaluates constants
# whenever it compares them (abs, sign, max, <, …), and its evalf takes time exponential in
# the nesting: ((pi + 1)*pi + 1)*pi … takes a second at depth 20 and minutes beyond.
MAX_CONSTANT_DEPTH = 8

# The largest float64 as an exact number: values beyond it cannot be held by generated code.
_FLOAT_MAX = sp.Rational(int(sys.float_info.max))
_FLOAT_MAX_LOG10 = math.log10(sys.float_info.max)
_LOG10_2 = math.log10(2)
_APPROX_DIGITS = 30
_NAMED_FUNCTION_DEPTH = 3  # SymPy evaluates sigmoid & co. through their definitions, ~3 levels each


class FormulaError(ValueError):
    """A formula was rejected; the message is one line: what is wrong, and what is accepted."""


FormulaError.__module__ = "symdl"  # tracebacks name it where users import it: symdl.FormulaError


_Maker = Callable[..., sp.Expr]

FUNCTIONS: dict[str, tuple[int, int, _Maker | None]] = {
    **{f.__name__: (1, 1, f) for f in (sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos)},
    "sqrt": (1, 1, sp.sqrt),
    "atan": (1, 1, sp.atan),
    "erf": (1, 1, sp.erf),
    "erfc": (1, 1, sp.erfc),
    "abs": (1, 1, sp.Abs),
    "Abs": (1, 1, sp.Abs),
    "sign": (1, 1, sp.sign),
    "max": (2, MAX_MINMAX_ARGS, sp.Max),
    "min": (2, MAX_MINMAX_ARGS, sp.Min),
    "Max": (2, MAX_MINMAX_ARGS, sp.Max),  # SymPy's spellings, as str(expr) prints them
    "Min": (2, MAX_MINMAX_ARGS, sp.Min),
    "relu": (1, 1, lambda x: sp.Max(0, x)),
    "floor": (1, 1, floor),  # ⌊x⌋; floor, ceil and round have derivative 0 away from their jumps
    "ceil": (1, 1, ceiling),  # ⌈x⌉, as numpy/torch spell it
    "ceiling": (1, 1, ceiling),  # SymPy's spelling, as str(expr) prints it
    "round": (1, 1, round_half_even),  # half to even, as numpy.round / torch.round / jnp.round
    "Heaviside": (1, 2, sp.Heaviside),  # Heaviside(x, h0): 0, h0 (default 1/2) at x = 0, 1
    "where": (3, 3, None),  # where(cond, a, b): the condition is built apart, see _call
    "Piecewise": (1, MAX_PIECES, None),  # Piecewise((a, cond), …, (b, True)), as SymPy prints it
    "Eq": (2, 2, None),  # Eq(a, b): the condition a == b, as SymPy prints it; only where a condition is expected
    "Ne": (2, 2, None),  # Ne(a, b): not a == b, as SymPy prints `not a == b` (the operator != stays refused)
    **{name: (1, 1, cls) for name, cls in NAMED_FUNCTIONS.items()},
    "stop_gradient": (1, 1, stop_gradient),  # its value, no gradient through it (tf.stop_gradient)
}
"""Functions a formula may call: name → (fewest arguments, most arguments, SymPy maker)."""

_NAMED = tuple(NAMED_FUNCTIONS.values())
_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_COMPARE: dict[type, Callable[[sp.Expr, sp.Expr], Boolean]] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
}
#: Operators that join conditions as SymPy prints them: (c) & (d), (c) | (d), ~(c).
_CONDITION_OPERATORS = {ast.BitAnd: "&", ast.BitOr: "|", ast.Invert: "~"}
_ALLOWED = (
    ast.Constant, ast.Name, ast.Load, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.Call, ast.UAdd, ast.USub, ast.Not, ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.Pow, *_COMPARE, *_CONDITION_OPERATORS,
)  # fmt: skip
_REJECTED_OPERATORS = {
    ast.LShift: "<<",
    ast.RShift: ">>", ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip
_DESCRIPTIONS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Slice: "slice",
    ast.Lambda: "lambda", ast.ListComp: "comprehension", ast.SetComp: "comprehension",
    ast.DictComp: "comprehension", ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string", ast.FormattedValue: "f-string", ast.NamedExpr: "assignment ':='",
    ast.Starred: "starred argument", ast.keyword: "keyword argument", ast.Dict: "dict literal",
    ast.Set: "set literal", ast.List: "list literal", ast.Tuple: "tuple", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield",
}  # fmt: skip
_SPECIAL = {
    sp.zoo: "zoo (complex infinity: a division by zero or a pole)",
    sp.nan: "nan (an undefined value)",
    sp.oo: "oo (infinity)",
    -sp.oo: "-oo (infinity)",
    sp.I: "I (an imaginary number)",
}
_ACCEPTED = (
    "accepted: numbers, declared names, pi, E, + - * / ** ^, comparisons < <= > >= ==, "
    "and/or/not (or & | ~) in conditions, 'a if cond else b', Piecewise((a, cond), (b, True)), "
    "and calls of known functions"
)
_SUBEXPRESSION_ERRORS = (ArithmeticError, ValueError, TypeError, AttributeError, RecursionError, MemoryError)


def _position(text: str, index: int) -> str:
    """'column C' (1-based) for one-line text, 'line L, column C' otherwise."""
    if "\n" not in text:
        return f"column {index + 1}"
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return f"line {line}, column {column}"


def _one_line(message: object, limit: int = 200) -> str:
    flat = " ".join(str(message).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
