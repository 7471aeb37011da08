"""A SymPy expression → the same formula, checked node by node against the text grammar's whitelist.

>>> import sympy as sp
>>> z = sp.Symbol("z")
>>> from_sympy(sp.Float(0.5) * sp.Max(0, sp.erf(z)))
Max(0, erf(z))/2

Each SymPy node is looked up by its class (never by its printed name) in the
table of what formula text may spell: numbers, ``pi``, ``E``, declared
symbols, ``+ * **``, the functions of :data:`symdl.symbolic.grammar.FUNCTIONS`,
``Piecewise``, comparisons, ``And``/``Or``/``Not``. An
accepted node becomes the Python syntax node the text would have parsed into,
and the tree goes through the same builder as text, so every limit
(:mod:`symdl.symbolic.grammar`) holds as for text. The expression is never
printed and re-parsed, and never passed to ``sympify`` or ``eval``. The user
reference is ``docs/formulas.md``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence

import sympy as sp

from ..budget import check_size
from .formula_builder import FormulaBuilder
from .functions import NAMED_FUNCTIONS
from .grammar import (
    _CONSTANTS,
    _LOG10_2,
    FUNCTIONS,
    MAX_INT_DIGITS,
    MAX_NESTING,
    MAX_NODES,
    MAX_NUMBER_DIGITS,
    FormulaError,
    _one_line,
)
from .parse import _declare
from .rounding import ceiling, floor
from .rounding import round as round_half_even
from .stop_gradient import stop_gradient

__all__ = ["ACCEPTED_NODES", "from_sympy"]

_FUNCTION_NAMES: dict[type, str] = {
    **{f: f.__name__ for f in (sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos, sp.atan, sp.erf, sp.erfc)},
    sp.Abs: "Abs", sp.sign: "sign", sp.Max: "Max", sp.Min: "Min", sp.Heaviside: "Heaviside",
    **{cls: name for name, cls in NAMED_FUNCTIONS.items()},
    stop_gradient: "stop_gradient",
    sp.floor: "floor", floor: "floor", sp.ceiling: "ceiling", ceiling: "ceiling", round_half_even: "round",
}  # fmt: skip
_RELATIONS: dict[type, ast.cmpop] = {
    sp.StrictLessThan: ast.Lt(), sp.LessThan: ast.LtE(), sp.StrictGreaterThan: ast.Gt(),
    sp.GreaterThan: ast.GtE(), sp.Equality: ast.Eq(),
}  # fmt: skip
_NUMBER_SYMBOLS = {value: name for name, value in _CONSTANTS.items()}

#: What a SymPy expression may hold, as the refusal message lists it.
ACCEPTED_NODES = (
    "Integer, Rational, Float, pi, E, declared Symbols, Add, Mul, Pow, Piecewise (last condition True), "
    "< <= > >= Eq Ne, And, Or, Not, and the functions " + ", ".join(sorted(set(_FUNCTION_NAMES.values()), key=str.lower))
)
assert set(_FUNCTION_NAMES.values()) <= set(FUNCTIONS)  # one whitelist: every class maps to a grammar function


def from_sympy(
    expr: sp.Basic,
    symbols: Sequence[str] = ("z",),
    params: Mapping[str, float | int | None] | Sequence[str] = (),
) -> sp.Expr:
    """The formula ``expr`` as :func:`symdl.symbolic.parse` would build it from text, without any text.

    Symbols are matched by name to ``symbols`` and ``params`` exactly as names in
    text are (whatever their assumptions, each becomes the real symbol of that
    name; a param with a value is replaced by it). A Float becomes the decimal its
    float64 value prints as (``0.1`` → 1/10), as a float literal in text does.

    Raises:
        TypeError: ``expr`` is not a SymPy object.
        FormulaError: A node outside the grammar (one line naming it and what is
            accepted), or a limit of the text grammar exceeded.
    """
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"formula: expected a SymPy expression, got {type(expr).__name__}")
    names = _declare(symbols, params)
    converter = _Converter()
    tree = converter.node(expr, 1)
    builder = _SympyBuilder(names, converter.origins)
    builder.check_tree(tree)
    builder.check_constants(tree)
    return check_size(builder.value(tree), f"the SymPy expression {_one_line(expr, 60)}")


class _Converter:
    """SymPy nodes → the syntax nodes text would parse into; remembers each one's SymPy origin for messages."""

    def __init__(self) -> None:
        self.origins: dict[int, sp.Basic] = {}
        self.count = 0

    def node(self, expr: sp.Basic, depth: int) -> ast.expr:
        self.count += 1
        if self.count > MAX_NODES:
            raise FormulaError(f"formula: the SymPy expression has more than {MAX_NODES} nodes; split it into simpler parts")
        if depth > MAX_NESTING:
            raise FormulaError(f"formula: the SymPy expression is nested deeper than {MAX_NESTING} levels; split it")
        built = self._build(expr, depth + 1)
        self.origins[id(built)] = expr
        return built

    def _build(self, expr: sp.Basic, depth: int) -> ast.expr:
        kind = type(expr)
        if kind is sp.Symbol:  # exactly: Dummy and Wild are Symbols whose names may repeat a declared one
            return ast.Name(expr.name, ast.Load())
        if isinstance(expr, sp.Integer):
            return ast.Constant(int(expr))
        if isinstance(expr, sp.Rational):
            # One leaf holding its float value for the literal checks; the builder takes the exact Rational
            # (p/q as a division would refuse 1e300 + 1e-300, whose parts alone leave the float range).
            return ast.Constant(float(expr))
        if isinstance(expr, sp.Float):
            return ast.Constant(float(expr))
        if expr in _NUMBER_SYMBOLS:
            return ast.Name(_NUMBER_SYMBOLS[expr], ast.Load())
        if kind in (sp.Add, sp.Mul):
            operator = ast.Add if kind is sp.Add else ast.Mult
            terms = [self.node(arg, depth) for arg in expr.args]
            result = terms[0]
            for term in terms[1:]:  # a left-leaning chain, as text a + b + c parses
                result = ast.BinOp(result, operator(), term)
                self.origins[id(result)] = expr
            return result
        if kind is sp.Pow:
            return ast.BinOp(self.node(expr.base, depth), ast.Pow(), self.node(expr.exp, depth))
        if kind in _FUNCTION_NAMES:
            return self._call(_FUNCTION_NAMES[kind], [self.node(arg, depth) for arg in expr.args])
        if kind is sp.Piecewise:
            pieces: list[ast.expr] = []
            for piece in expr.args:
                pieces.append(ast.Tuple([self.node(piece.expr, depth), self._condition(piece.cond, depth)], ast.Load()))
                self.origins[id(pieces[-1])] = piece
            return self._call("Piecewise", pieces)
        if kind in _RELATIONS:
            return ast.Compare(self.node(expr.lhs, depth), [_RELATIONS[kind]], [self.node(expr.rhs, depth)])
        if kind is sp.Unequality:  # as the text `not a == b` builds it
            return ast.UnaryOp(ast.Not(), ast.Compare(self.node(expr.lhs, depth), [ast.Eq()], [self.node(expr.rhs, depth)]))
        if kind in (sp.And, sp.Or):
            parts = [self.node(arg, depth) for arg in expr.args]
            return ast.BoolOp(ast.And() if kind is sp.And else ast.Or(), parts)
        if kind is sp.Not:
            return ast.UnaryOp(ast.Not(), self.node(expr.args[0], depth))
        raise FormulaError(
            f"formula: SymPy node {_one_line(expr, 40)!r} ({kind.__name__}) is not accepted; accepted: {ACCEPTED_NODES}"
        )

    def _condition(self, condition: sp.Basic, depth: int) -> ast.expr:
        """A piece's condition; ``True`` stays the literal the grammar accepts as the last piece's."""
        if condition is sp.true:
            leaf = ast.Constant(True)
            self.origins[id(leaf)] = condition
            return leaf
        return self.node(condition, depth)

    def _call(self, name: str, args: list[ast.expr]) -> ast.Call:
        return ast.Call(ast.Name(name, ast.Load()), args, [])


class _SympyBuilder(FormulaBuilder):
    """The text builder, with places given as the SymPy node a syntax node came from instead of a column."""

    def __init__(self, names: dict[str, sp.Expr], origins: dict[int, sp.Basic]) -> None:
        super().__init__("", "", [0], names)
        self.origins = origins

    def segment(self, node: ast.AST) -> str:
        origin = self.origins.get(id(node))
        return "" if origin is None else str(origin)

    def at(self, node: ast.AST) -> str:
        return f"SymPy node {_one_line(self.segment(node), 40)!r}"

    def error(self, node: ast.AST, message: str) -> FormulaError:
        return FormulaError(f"formula: {self.at(node)} {message}")

    def value(self, node: ast.expr) -> sp.Expr:
        origin = self.origins.get(id(node))
        if isinstance(node, ast.Constant) and isinstance(origin, sp.Rational) and not origin.is_Integer:
            self._check_result(origin, node)  # its digits and float range, as for a number text builds
            return origin
        return super().value(node)

    def _check_literal(self, node: ast.Constant) -> None:
        # Text limits typed integers to MAX_INT_DIGITS; SymPy already holds this one, so only the bound on
        # built numbers applies (1e300 parses from text into the Integer 10**300, which must come back).
        origin = self.origins.get(id(node))
        if isinstance(origin, sp.Rational) and not origin.is_Integer:
            return  # an exact number, checked as a built one by value(): (1e-300)**2 is 1e-600 for text too
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
            if value.bit_length() * _LOG10_2 > MAX_NUMBER_DIGITS:
                raise self.error(node, f"has more than {MAX_NUMBER_DIGITS} digits, which is not accepted")
            return
        super()._check_literal(node)
