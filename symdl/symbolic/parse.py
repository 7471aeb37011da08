"""Formula text → SymPy expression, without ``eval``.

>>> import numpy as np
import sympy as sp
>>> huber = parse("where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)", ["e"], ["d"])
>>> e, d = sp.symbols("e d", real=True)
>>> huber == sp.Piecewise((e**2 / 2, sp.Abs(e) < d), (d * sp.Abs(e) - d**2 / 2, True))
True

The text is read by :func:`ast.parse` and the tree is walked against a
whitelist; the SymPy objects are built here, node by node. Nothing in the text
is ever executed, and SymPy's own text parsers (``sympify``, ``parse_expr``)
are not used because they call ``eval``. Every rejection, whether a typo, an
injection attempt or a resource bomb, is a :class:`FormulaError` whose message
is one line starting with ``formula:``. The user reference is
``docs/formulas.md``.
"""

from __future__ import annotations

import ast
import keyword
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import cast

import sympy as sp

from ..budget import check_size, shown
from .formula_builder import FormulaBuilder
from .grammar import (
    _CONSTANTS,
    _FLOAT_MAX,
    FUNCTIONS,
    MAX_BRACKET_DEPTH,
    MAX_CONDITIONS,
    MAX_CONSTANT_DEPTH,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_LENGTH,
    MAX_MINMAX_ARGS,
    MAX_NESTING,
    MAX_NODES,
    MAX_NUMBER_DIGITS,
    MAX_ROOT_DIGITS,
    MAX_TOTAL_MINMAX_ARGS,
    FormulaError,
    _one_line,
    _position,
)

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
    "MAX_ROOT_DIGITS",
    "MAX_TOTAL_MINMAX_ARGS",
    "FormulaError",
    "exact_number",
    "parse",
]


def parse(
    text: str,
    symbols: Sequence[str] = ("z",),
    params: Mapping[str, float | int | None] | Sequence[str] = (),
) -> sp.Expr:
    """Parse one formula into a SymPy expression; nothing in ``text`` is executed.

    Grammar: int and float numbers (floats become exact decimals, ``0.1`` is
    1/10); declared names and the constants ``pi`` and ``E``; unary ``+ -``;
    binary ``+ - * /``; ``**`` and ``^`` (both power, right-associative,
    binding tighter than unary minus); parentheses; ``a if cond else b`` and
    ``where(cond, a, b)`` and SymPy's ``Piecewise((a, cond), …, (b, True))``
    (all a Piecewise); calls of :data:`FUNCTIONS` (``exp log sqrt tanh sinh
    cosh sin cos atan erf erfc abs Abs sign relu Heaviside floor ceil ceiling round``, ``max``/``Max``
    and ``min``/``Min`` with 2 to :data:`MAX_MINMAX_ARGS` arguments, symdl's
    named functions such as ``sigmoid`` and ``Phi``, and ``stop_gradient``). Conditions are comparisons
    ``< <= > >= ==`` and ``Eq(a, b)`` (chains like ``0 < z < 1`` mean ``and``)
    combined with ``and or not`` or SymPy's ``& | ~``: what ``str(expr)``
    prints for such an expression parses back to it.
    Limits (the ``MAX_*`` constants) and refusals: ``docs/formulas.md``.

    Args:
        text: The formula, at most :data:`MAX_LENGTH` ASCII characters.
        symbols: Variable names; each becomes ``sympy.Symbol(name, real=True)``.
        params: Parameter names, or a mapping name → value. A number is
            substituted exactly (int → Integer, float → the decimal
            ``sympy.Rational(repr(value))``); ``None`` keeps the parameter a
            real symbol.

    Returns:
        A real-valued SymPy expression free of ``nan``, ``zoo``, ``oo`` and ``I``.

    Raises:
        FormulaError: For anything outside the grammar or beyond a limit; the
            message is one line saying what is wrong and what is accepted.
        symdl.budget.ExpressionTooLarge: The parsed expression has more than
            :data:`symdl.budget.MAX_NODES` nodes.
    """
    names = _declare(symbols, params)
    source, origin = _prepare(text)
    tree = cast(ast.Expression, _syntax_tree(text, source, origin))  # mode 'eval'
    builder = FormulaBuilder(text, source, origin, names)
    builder.check_tree(tree.body)
    builder.check_constants(tree.body)
    return check_size(builder.value(tree.body), f"the formula {shown(text)}")


def _declare(symbols: Sequence[str], params: Mapping[str, float | int | None] | Sequence[str]) -> dict[str, sp.Expr]:
    """Map every declared name to its real Symbol, or to its exact value for a numeric param."""
    if isinstance(symbols, (str, bytes)) or isinstance(params, (str, bytes)):
        raise FormulaError("formula: symbols and params must be sequences of names such as ['z'], not a single str")
    try:
        entries: list[tuple[object, object]] = [(name, None) for name in symbols]
        entries += list(params.items()) if isinstance(params, Mapping) else [(name, None) for name in params]
    except TypeError:
        raise FormulaError("formula: symbols and params must be sequences of names such as ['z']") from None
    names: dict[str, sp.Expr] = {}
    for name, value in entries:
        if not (isinstance(name, str) and name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
            raise FormulaError(
                f"formula: invalid name {name!r}; names are ASCII identifiers that are not Python keywords"
            )
        if name.startswith("_"):
            raise FormulaError(f"formula: invalid name {name!r}; names must not start with '_'")
        if name in FUNCTIONS or name in _CONSTANTS:
            kind = "function" if name in FUNCTIONS else "constant"
            raise FormulaError(f"formula: name {name!r} is taken by the {kind} {name}; choose another name")
        if name in names:
            raise FormulaError(f"formula: name {name!r} is declared twice; symbols and params must be distinct")
        names[name] = sp.Symbol(name, real=True) if value is None else _exact(name, value)
    return names


def exact_number(value: object, what: str, error: type[ValueError] = ValueError) -> sp.Expr:
    """A finite real value (int, float, numpy scalar, Fraction) as an exact SymPy number; floats by their decimal.

    Values beyond the float64 range are refused: generated code could not hold them.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if isinstance(value, numbers.Integral):
            exact: sp.Expr = sp.Integer(int(value))
        elif isinstance(value, numbers.Rational):
            exact = sp.Rational(int(value.numerator), int(value.denominator))
        elif math.isfinite(value):
            exact = sp.Rational(repr(float(value)))
        else:
            exact = sp.nan
        if exact.is_finite and abs(exact) <= _FLOAT_MAX:
            return exact
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise error(f"{what} has value {shown}; accepted: a finite real number within the float64 range (±1.8e308)")


def _exact(name: str, value: object) -> sp.Expr:
    """A param value as an exact SymPy number."""
    return exact_number(value, f"formula: param {name!r}", FormulaError)


def _prepare(text: object) -> tuple[str, list[int]]:
    """Check the raw text; return it with ``^`` spelled ``**`` and the map back to original indices."""
    if not isinstance(text, str):
        raise FormulaError(f"formula: expected a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula: text has {len(text)} characters; at most {MAX_LENGTH} are accepted")
    # Before ast.parse: Python's NFKC normalisation would silently read 𝑥 as x.
    for index, char in enumerate(text):
        code = ord(char)
        if code > 0x7E or (code < 0x20 and char not in "\t\n"):
            kind = "non-ASCII character" if code > 0x7F else "control character"
            raise FormulaError(
                f"formula: {kind} U+{code:04X} at {_position(text, index)}; "
                "only printable ASCII, spaces, tabs and newlines are accepted"
            )
    if not text.strip():
        raise FormulaError("formula: the formula is empty; write an expression such as 'z**2/2'")
    # Before ast.parse: deep nesting makes the parser itself recurse or run out of memory.
    depth = 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
            if depth > MAX_BRACKET_DEPTH:
                raise FormulaError(
                    f"formula: brackets nested deeper than {MAX_BRACKET_DEPTH} at {_position(text, index)}; "
                    "split the formula into simpler parts"
                )
        elif char in ")]}":
            depth = max(depth - 1, 0)
    # '^' is Python's xor, which binds looser than '+': spelling it '**' gives it power's precedence.
    source, origin = [], []
    for index, char in enumerate(text):
        source.append("**" if char == "^" else char)
        origin += [index, index] if char == "^" else [index]
    origin.append(len(text))
    return "".join(source), origin


def _syntax_tree(text: str, source: str, origin: list[int], mode: str = "eval",
                 expected: str = "write one expression such as 'z**2/2' (statements and assignments are not accepted)",
                 ) -> ast.AST:
    """``ast.parse(source, mode)``, a syntax error as one FormulaError line at its place in ``text`` and ``expected``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for "1 is 1": the node is rejected anyway
            return ast.parse(source, mode=mode)
    except SyntaxError as exc:
        lines = source.split("\n")
        line = min(max((exc.lineno or 1) - 1, 0), len(lines) - 1)
        index = sum(len(before) + 1 for before in lines[:line]) + max((exc.offset or 1) - 1, 0)
        where = _position(text, origin[min(index, len(source))])
        raise FormulaError(f"formula: {_one_line(exc.msg, 80)} at {where}; {expected}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise FormulaError("formula: the formula is too deeply nested or too large to parse") from None
