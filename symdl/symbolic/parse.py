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
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import sympy as sp
from sympy.logic.boolalg import Boolean

from symdl.symbolic.functions import NAMED_FUNCTIONS

__all__ = [
    "FormulaError",
    "parse",
    "FUNCTIONS",
    "MAX_LENGTH",
    "MAX_BRACKET_DEPTH",
    "MAX_NODES",
    "MAX_NESTING",
    "MAX_INT_DIGITS",
    "MAX_EXPONENT",
    "MAX_NUMBER_DIGITS",
    "MAX_ROOT_DIGITS",
    "MAX_CONSTANT_DEPTH",
    "MAX_MINMAX_ARGS",
    "MAX_TOTAL_MINMAX_ARGS",
    "MAX_CONDITIONS",
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

# Depth of a constant (a part without symbols) as a SymPy tree. SymPy evaluates constants
# whenever it compares them (abs, sign, max, <, …), and its evalf takes time exponential in
# the nesting: ((pi + 1)*pi + 1)*pi … takes a second at depth 20 and minutes beyond.
MAX_CONSTANT_DEPTH = 8

_FLOAT_MAX = sys.float_info.max
_FLOAT_MAX_LOG10 = math.log10(_FLOAT_MAX)
_LOG10_2 = math.log10(2)
_APPROX_DIGITS = 30
_NAMED_FUNCTION_DEPTH = 3  # SymPy evaluates sigmoid & co. through their definitions, ~3 levels each


class _Unfit(Exception):
    """A constant whose value is not a finite real float64 number (message: what is wrong)."""


class FormulaError(ValueError):
    """A formula was rejected; the message is one line: what is wrong, and what is accepted."""


_Maker = Callable[..., sp.Expr]

FUNCTIONS: dict[str, tuple[int, int, _Maker | None]] = {
    **{f.__name__: (1, 1, f) for f in (sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos)},
    "sqrt": (1, 1, sp.sqrt),
    "abs": (1, 1, sp.Abs),
    "Abs": (1, 1, sp.Abs),
    "sign": (1, 1, sp.sign),
    "max": (2, MAX_MINMAX_ARGS, sp.Max),
    "min": (2, MAX_MINMAX_ARGS, sp.Min),
    "relu": (1, 1, lambda x: sp.Max(0, x)),
    "where": (3, 3, None),  # where(cond, a, b): the condition is built apart, see _call
    **{name: (1, 1, cls) for name, cls in NAMED_FUNCTIONS.items()},
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
_ALLOWED = (
    ast.Constant, ast.Name, ast.Load, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.Call, ast.UAdd, ast.USub, ast.Not, ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.Pow, *_COMPARE,
)  # fmt: skip
_REJECTED_OPERATORS = {
    ast.BitAnd: "&", ast.BitOr: "|", ast.Invert: "~", ast.LShift: "<<",
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
    "and/or/not in conditions, 'a if cond else b', and calls of known functions"
)
_SUBEXPRESSION_ERRORS = (ArithmeticError, ValueError, TypeError, AttributeError, RecursionError, MemoryError)


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
    ``where(cond, a, b)`` (both a Piecewise); calls of :data:`FUNCTIONS`
    (``exp log sqrt tanh sinh cosh sin cos abs Abs sign relu``, ``max`` and
    ``min`` with 2 to :data:`MAX_MINMAX_ARGS` arguments, and symdl's named
    functions such as ``sigmoid``). Conditions are comparisons ``< <= > >= ==``
    (chains like ``0 < z < 1`` mean ``and``) combined with ``and or not``.
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
    """
    names = _declare(symbols, params)
    source, origin = _prepare(text)
    tree = _syntax_tree(text, source, origin)
    builder = _Builder(text, source, origin, names)
    builder.check_tree(tree.body)
    return builder.value(tree.body)


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


_FLOAT_MAX = sp.Rational(int(sys.float_info.max))


def _exact(name: str, value: object) -> sp.Expr:
    """A param value as an exact SymPy number."""
    return exact_number(value, f"formula: param {name!r}", FormulaError)


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


def _syntax_tree(text: str, source: str, origin: list[int]) -> ast.Expression:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for "1 is 1": the node is rejected anyway
            return ast.parse(source, mode="eval")
    except SyntaxError as exc:
        lines = source.split("\n")
        line = min(max((exc.lineno or 1) - 1, 0), len(lines) - 1)
        index = sum(len(before) + 1 for before in lines[:line]) + max((exc.offset or 1) - 1, 0)
        where = _position(text, origin[min(index, len(source))])
        raise FormulaError(
            f"formula: {_one_line(exc.msg, 80)} at {where}; write one expression "
            "such as 'z**2/2' (statements and assignments are not accepted)"
        ) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise FormulaError("formula: the formula is too deeply nested or too large to parse") from None


def _digits(expr: sp.Basic) -> int:
    """Most decimal digits of a numerator or denominator among the rationals in ``expr``."""
    bits = max((max(abs(r.p), r.q).bit_length() for r in expr.atoms(sp.Rational)), default=0)
    return int(bits * _LOG10_2) + 1


class _Builder:
    """Walks a checked syntax tree and builds the SymPy expression, node by node."""

    def __init__(self, text: str, source: str, origin: list[int], names: dict[str, sp.Expr]) -> None:
        self.text = text
        self.origin = origin
        self.names = names
        self.depths: dict[sp.Basic, int] = {}
        self.approximations: dict[sp.Basic, sp.Basic] = {}
        self.constants: dict[sp.Basic, bool] = {}
        self.checked: set[sp.Basic] = set()
        self.minmax_args = 0
        self.line_starts = [0]
        for line in source.split("\n")[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)

    # -- positions and errors -------------------------------------------------

    def _index(self, line: int, col: int) -> int:
        return self.origin[min(self.line_starts[line - 1] + col, len(self.origin) - 1)]

    def at(self, node: ast.AST) -> str:
        return _position(self.text, self._index(node.lineno, node.col_offset))

    def segment(self, node: ast.AST) -> str:
        start = self._index(node.lineno, node.col_offset)
        end = self._index(node.end_lineno or node.lineno, node.end_col_offset or node.col_offset)
        return self.text[start:end]

    def snippet(self, node: ast.AST) -> str:
        return repr(_one_line(self.segment(node), 40))

    def error(self, node: ast.AST, message: str) -> FormulaError:
        return FormulaError(f"formula: {self.snippet(node)} at {self.at(node)} {message}")

    @contextmanager
    def sympy_errors(self, node: ast.AST) -> Iterator[None]:
        """Turn an exception SymPy raises while building ``node`` into a FormulaError."""
        try:
            yield
        except FormulaError:
            raise
        except _SUBEXPRESSION_ERRORS as exc:
            raise self.error(
                node, f"could not be built ({type(exc).__name__}: {_one_line(exc, 120)}); {_ACCEPTED}"
            ) from exc

    # -- the whitelist, before any SymPy object is built ----------------------

    def check_tree(self, root: ast.expr) -> None:
        """Reject nodes outside the whitelist, literals out of range, and oversized trees."""
        count = 0
        queue: deque[tuple[ast.AST, ast.AST, int]] = deque([(root, root, 1)])
        while queue:  # breadth first, so the outermost offence is reported
            node, parent, depth = queue.popleft()
            count += 1
            if count > MAX_NODES:
                raise FormulaError(
                    f"formula: more than {MAX_NODES} syntax nodes; split the formula into simpler parts"
                )
            located = node if isinstance(node, (ast.expr, ast.keyword)) else parent
            if isinstance(node, ast.expr) and depth > MAX_NESTING:
                raise self.error(located, f"is nested deeper than {MAX_NESTING} levels; split the formula")
            self._check_node(node, located)
            for child in ast.iter_child_nodes(node):
                # A left-leaning chain a + b - c * d … is built in a loop, so it costs no nesting.
                flat = isinstance(node, ast.BinOp) and child is node.left
                queue.append((child, located, depth + (0 if flat else 1)))

    def _check_node(self, node: ast.AST, located: ast.AST) -> None:
        if type(node) in _REJECTED_OPERATORS:
            raise FormulaError(
                f"formula: operator '{_REJECTED_OPERATORS[type(node)]}' at {self.at(located)} is not allowed; "
                "accepted operators: + - * / ** ^ < <= > >= == and or not"
            )
        if not isinstance(node, _ALLOWED):
            what = _DESCRIPTIONS.get(type(node), f"{type(node).__name__} expression")
            raise FormulaError(
                f"formula: {what} {self.snippet(located)} at {self.at(located)} is not allowed; {_ACCEPTED}"
            )
        if isinstance(node, ast.Call):
            self._check_call(node)
        if isinstance(node, ast.Constant):
            self._check_literal(node)

    def _check_call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise FormulaError(
                f"formula: call of something other than a function name {self.snippet(node)} at {self.at(node)} "
                f"is not allowed; {_ACCEPTED}"
            )
        name = node.func.id
        if name in self.names:
            raise FormulaError(f"formula: '{name}' at {self.at(node)} is a declared name, not a function")
        if name not in FUNCTIONS:
            raise FormulaError(
                f"formula: unknown function '{name}' at {self.at(node)}; "
                f"known functions: {', '.join(sorted(FUNCTIONS, key=str.lower))}"
            )
        fewest, most, _ = FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            count = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            raise FormulaError(
                f"formula: {name}() at {self.at(node)} takes {count} argument{'s' if most > 1 else ''}, "
                f"got {len(node.args)}"
            )

    def _check_literal(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = {str: "a string", bytes: "a bytes literal", complex: "a complex number"}.get(
                type(value), f"the literal {value!r}"
            )
            raise self.error(node, f"is {what}, which is not allowed; literals are real int or float numbers")
        if isinstance(value, int) and abs(value) >= 10**MAX_INT_DIGITS:
            raise self.error(node, f"has more than {MAX_INT_DIGITS} digits; write large numbers as powers like 10**40")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, "is beyond the float range (about 1.8e308); smaller numbers are accepted")
        mantissa = self.segment(node).lower().split("e")[0]
        if isinstance(value, float) and value == 0 and any(c in "123456789" for c in mantissa):
            raise self.error(node, "is below the float range and would read as 0; larger numbers are accepted")

    # -- values and conditions ------------------------------------------------

    def value(self, node: ast.expr) -> sp.Expr:
        """Build a value (never a condition), checked for special values and oversized numbers."""
        if isinstance(node, (ast.Compare, ast.BoolOp)) or isinstance(getattr(node, "op", None), ast.Not):
            raise self.error(
                node, "is a condition where a value is expected; conditions go in where(c, a, b) or 'a if c else b'"
            )
        with self.sympy_errors(node):
            if isinstance(node, ast.BinOp):
                result = self._chain(node)
            elif isinstance(node, ast.Constant):
                result = sp.Integer(node.value) if isinstance(node.value, int) else sp.Rational(repr(node.value))
            elif isinstance(node, ast.Name):
                result = self._name(node)
            elif isinstance(node, ast.UnaryOp):
                operand = self.value(node.operand)
                result = -operand if isinstance(node.op, ast.USub) else operand
            elif isinstance(node, ast.IfExp):
                result = self._piecewise(self.condition(node.test), node.body, node.orelse)
            elif isinstance(node, ast.Call):
                result = self._call(node)
            else:  # unreachable after check_tree; kept so that no node type slips through silently
                raise self.error(node, f"is not allowed; {_ACCEPTED}")
            if not isinstance(result, sp.Expr):
                raise self.error(node, f"is not a value; {_ACCEPTED}")
            self._check_result(result, node)
        return result

    def condition(self, node: ast.expr) -> Boolean:
        """Build a condition: a comparison, or comparisons joined by and/or/not."""
        with self.sympy_errors(node):
            if isinstance(node, ast.Compare):
                self._check_count(node, len(node.ops))
                operands = [node.left, *node.comparators]
                sides = [self.value(operand) for operand in operands]
                pairs = [_COMPARE[type(op)](a, b) for op, a, b in zip(node.ops, sides, sides[1:])]
                self._check_merged(node, sp.And, pairs, MAX_CONDITIONS, "conditions")
                result = pairs[0] if len(pairs) == 1 else sp.And(*pairs)
            elif isinstance(node, ast.BoolOp):
                self._check_count(node, len(node.values))
                parts = [self.condition(part) for part in node.values]
                join = sp.And if isinstance(node.op, ast.And) else sp.Or
                self._check_merged(node, join, parts, MAX_CONDITIONS, "conditions")
                result = join(*parts)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                result = sp.Not(self.condition(node.operand))
            else:
                self.value(node)  # a malformed value reports its own problem first
                raise self.error(
                    node, "is a value where a condition is expected; write a comparison such as 'abs(e) < d'"
                )
            self._check_result(result, node)
        return result

    def _check_count(self, node: ast.AST, count: int) -> None:
        if count > MAX_CONDITIONS:  # checked before the parts are built, which costs the time
            raise self.error(node, f"joins {count} conditions; at most {MAX_CONDITIONS} are accepted")

    def _chain(self, node: ast.BinOp) -> sp.Expr:
        links: list[ast.BinOp] = []
        while isinstance(node, ast.BinOp):
            links.append(node)
            node = node.left
        result = self.value(node)
        for link in reversed(links):
            right = self.value(link.right)
            with self.sympy_errors(link):
                result = self._binary(link, result, right)
                self._check_result(result, link)
        return result

    def _binary(self, node: ast.BinOp, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        if isinstance(node.op, ast.Pow):
            return self._power(node, left, right, node.left, node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right

    def _power(self, node: ast.AST, base: sp.Expr, exponent: sp.Expr, base_node: ast.AST, exp_node: ast.AST) -> sp.Expr:
        """base**exponent, after the checks that keep SymPy from computing huge or complex numbers."""
        if self.constant(exponent):
            e = self.number(exponent, exp_node)
            if abs(e) > MAX_EXPONENT:
                raise self.error(
                    exp_node, f"is an exponent of {e:.6g}; numeric exponents are limited to ±{MAX_EXPONENT}"
                )
            if self.constant(base):
                b = self.number(base, base_node)
                whole = bool(exponent.is_integer)
                if b < 0 and not whole:
                    raise self.error(node, "raises a negative number to a non-integer power, which is not real")
                if b != 0 and e * math.log10(abs(b)) > _FLOAT_MAX_LOG10:
                    raise self.error(node, "is beyond the float range (about 1.8e308); smaller numbers are accepted")
                digits = _digits(base)
                if not whole and digits > MAX_ROOT_DIGITS:
                    raise self.error(
                        node, f"takes a root of a number with {digits} digits; at most {MAX_ROOT_DIGITS} are accepted"
                    )
                if digits * abs(e) > MAX_NUMBER_DIGITS:
                    raise self.error(node, f"would build a number with more than {MAX_NUMBER_DIGITS} digits")
        if base == sp.E:
            self._check_exp(exponent, node)
        return base**exponent

    def _check_exp(self, argument: sp.Expr, node: ast.AST) -> None:
        # SymPy turns exp(c*log(x)) into x**c: for a constant x, c is an exponent like any other.
        for term in sp.Add.make_args(argument):
            coeff, rest = term.as_coeff_Mul()
            if rest.has(sp.log) and self.constant(rest) and abs(coeff) > MAX_EXPONENT:
                raise self.error(
                    node, f"is exp of {coeff}*log(...), a power beyond ±{MAX_EXPONENT}; smaller multiples are accepted"
                )

    def _name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise FormulaError(f"formula: function '{node.id}' at {self.at(node)} must be called, as in {node.id}(z)")
        declared = ", ".join(self.names) or "(none)"
        raise FormulaError(f"formula: unknown name '{node.id}' at {self.at(node)}; declared names: {declared}")

    def _call(self, node: ast.Call) -> sp.Expr:
        name = node.func.id  # check_tree let through only known function names with the right arity
        maker = FUNCTIONS[name][2]
        if name == "where":
            return self._piecewise(self.condition(node.args[0]), node.args[1], node.args[2])
        args = [self.value(arg) for arg in node.args]  # each constant among them is range-checked
        if name == "log" and self.constant(args[0]) and self.number(args[0], node) <= 0:
            raise self.error(node, "takes the log of a number that is not positive, which is not real")
        if name == "sqrt":
            return self._power(node, args[0], sp.S.Half, node.args[0], node)
        if name == "exp":
            self._check_exp(args[0], node)
        if name in ("max", "min", "relu"):
            lattice = sp.Min if name == "min" else sp.Max
            self._check_merged(node, lattice, args + [sp.S.Zero] * (name == "relu"), MAX_MINMAX_ARGS, "arguments")
            self.minmax_args += len(args) + (name == "relu")
            if self.minmax_args > MAX_TOTAL_MINMAX_ARGS:
                raise self.error(
                    node, f"uses {self.minmax_args} max/min/relu arguments in all; at most "
                    f"{MAX_TOTAL_MINMAX_ARGS} are accepted (their cases multiply)"
                )
        assert maker is not None
        return maker(*args)

    def _check_merged(self, node: ast.AST, kind: type, parts: Sequence[sp.Basic], limit: int, what: str) -> None:
        """Refuse to let SymPy merge more than ``limit`` parts into one Max/Min/And/Or."""
        count = sum(len(part.args) if isinstance(part, kind) else 1 for part in parts)
        if count > limit:
            raise self.error(
                node, f"joins {count} {what} into one {kind.__name__}; at most {limit} are accepted "
                "(nested ones count together)"
            )

    def _piecewise(self, condition: Boolean, then: ast.expr, otherwise: ast.expr) -> sp.Expr:
        return sp.Piecewise((self.value(then), condition), (self.value(otherwise), True))

    # -- checks on built objects ----------------------------------------------

    def number(self, expr: sp.Expr, node: ast.AST) -> float:
        """The float value of a constant; reject it unless it is shallow, real, finite and in float range."""
        depth = self._depth(expr)
        if depth > MAX_CONSTANT_DEPTH:
            raise self.error(
                node, f"is a constant nested {depth} levels deep; at most {MAX_CONSTANT_DEPTH} are accepted "
                "(pass it as a param value instead)"
            )
        try:
            return float(self._approx(expr))
        except _Unfit as exc:
            raise self.error(node, f"{exc}; constants must be finite real float64 numbers") from None

    def _depth(self, expr: sp.Basic) -> int:
        depth = self.depths.get(expr)
        if depth is None:
            weight = _NAMED_FUNCTION_DEPTH if isinstance(expr, _NAMED) else 1
            depth = weight + max((self._depth(arg) for arg in expr.args), default=0)
            self.depths[expr] = depth
        return depth

    def _approx(self, expr: sp.Basic) -> sp.Basic:
        """A constant evaluated bottom-up with Floats, each distinct subexpression once.

        SymPy's own evalf re-evaluates nested sums at rising precision, which takes
        time exponential in the nesting; here each node costs one Float operation.
        Conditions evaluate to true/false the same way.
        """
        value = self.approximations.get(expr)
        if value is not None:
            return value
        if not expr.args:
            value = expr.evalf(_APPROX_DIGITS) if isinstance(expr, sp.Expr) else expr
        else:
            value = expr.func(*(self._approx(arg) for arg in expr.args))
            if isinstance(value, sp.Expr) and not value.is_Number:
                value = value.evalf(_APPROX_DIGITS)
        if isinstance(value, sp.Expr):
            if value.has(sp.I):
                raise _Unfit(f"has the non-real value {_one_line(value, 40)}")
            if not value.is_Number or value in _SPECIAL:
                raise _Unfit(f"has the value {_one_line(value, 40)}")
            if abs(value) > _FLOAT_MAX:
                raise _Unfit(f"reaches about {sp.Float(value, 3)}, beyond the float range (about 1.8e308)")
        self.approximations[expr] = value
        return value

    def _check_result(self, expr: sp.Basic, node: ast.AST) -> None:
        """Reject nan/zoo/oo/I in a freshly built object, oversized exact numbers, and unfit constants."""
        # Parts checked before are skipped: re-walking every subtree would make long chains quadratic.
        stack = [expr]
        while stack:
            sub = stack.pop()
            if sub in self.checked:
                continue
            self.checked.add(sub)
            stack.extend(sub.args)
            if sub in _SPECIAL:
                raise self.error(node, f"gives {_SPECIAL[sub]}; only finite real values are accepted")
            if sub.is_Rational and max(abs(sub.p), sub.q).bit_length() * _LOG10_2 > MAX_NUMBER_DIGITS:
                raise self.error(node, f"builds a number with more than {MAX_NUMBER_DIGITS} digits")
            if sub.is_Pow and sub.base.is_Rational and sub.exp.is_Rational and not sub.exp.is_Integer:
                if _digits(sub.base) > MAX_ROOT_DIGITS:
                    raise self.error(
                        node, f"takes a root of a number with more than {MAX_ROOT_DIGITS} digits, which is not accepted"
                    )
        if isinstance(expr, sp.Expr) and self.constant(expr):
            self.number(expr, node)

    def constant(self, expr: sp.Basic) -> bool:
        """Whether ``expr`` has no symbols (memoized, unlike SymPy's free_symbols)."""
        known = self.constants.get(expr)
        if known is None:
            known = not isinstance(expr, sp.Symbol) and all(self.constant(arg) for arg in expr.args)
            self.constants[expr] = known
        return known
