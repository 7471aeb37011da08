"""A checked syntax tree of a formula → its SymPy expression, built node by node within the grammar's limits."""

from __future__ import annotations

import ast
import math
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import sympy as sp
from sympy.logic.boolalg import Boolean

from ..numbers import format_number
from .formula_conditions import StructuralChecks
from .formula_constants import ConstantChecks, _digits
from .grammar import (
    _ACCEPTED,
    _ALLOWED,
    _CONDITION_OPERATORS,
    _CONSTANTS,
    _DESCRIPTIONS,
    _FLOAT_MAX_LOG10,
    _REJECTED_OPERATORS,
    _SUBEXPRESSION_ERRORS,
    FUNCTIONS,
    MAX_CONDITIONS,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
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

__all__ = ["FormulaBuilder", "is_condition"]

#: SymPy's spellings that name the same function as the grammar's own.
_ALIASES = {"Max": "max", "Min": "min"}


def is_condition(node: ast.AST) -> bool:
    """Whether ``node`` builds a condition (comparison, and/or/not, & | ~, Eq(a, b), Ne(a, b), True), not a value."""
    if isinstance(node, ast.BinOp):
        return type(node.op) in _CONDITION_OPERATORS
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.Not, ast.Invert))
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in ("Eq", "Ne")
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bool)
    return isinstance(node, (ast.Compare, ast.BoolOp))


def _is_piecewise(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Piecewise"


class FormulaBuilder(ConstantChecks, StructuralChecks):
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
        node = cast(ast.expr, node)  # every node reported on is an expression or statement: it has a position
        return _position(self.text, self._index(node.lineno, node.col_offset))

    def segment(self, node: ast.AST) -> str:
        node = cast(ast.expr, node)
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
            self._check_node(node, located, parent)
            for child in ast.iter_child_nodes(node):
                # A left-leaning chain a + b - c * d … is built in a loop, so it costs no nesting.
                flat = isinstance(node, ast.BinOp) and child is node.left
                queue.append((child, located, depth + (0 if flat else 1)))

    def _check_node(self, node: ast.AST, located: ast.AST, parent: ast.AST) -> None:
        # Piecewise's pieces are (value, condition) tuples, the last condition True: allowed there only.
        if isinstance(node, ast.Tuple) and _is_piecewise(parent):
            return
        if isinstance(node, ast.Constant) and node.value is True and isinstance(parent, ast.Tuple):
            return
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
        if name == "Piecewise" and not all(isinstance(a, ast.Tuple) and len(a.elts) == 2 for a in node.args):
            raise FormulaError(
                f"formula: Piecewise() at {self.at(node)} takes pieces (value, condition), the last one "
                "(value, True), as in Piecewise((z, z > 0), (0, True))"
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

    def check_constants(self, root: ast.expr) -> None:
        """Build every constant part first (1/0, exp(1e300), …): a bad one is refused before any slow part is built."""
        stack = [root]
        while stack:
            node = stack.pop()
            names = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
            is_value = not is_condition(node) and not isinstance(node, (ast.Constant, ast.Tuple))
            if is_value and all(n.id in _CONSTANTS for n in names):
                self.value(node)
                continue
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))

    # -- values and conditions ------------------------------------------------

    def value(self, node: ast.expr) -> sp.Expr:
        """Build a value (never a condition), checked for special values and oversized numbers."""
        if type(getattr(node, "op", None)) in _CONDITION_OPERATORS:
            raise self.error(
                node, f"uses the operator '{_CONDITION_OPERATORS[type(node.op)]}', which belongs in conditions; "  # type: ignore[attr-defined]
                "a value is expected here (write numbers with + - * / **)"
            )
        if is_condition(node):
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
                result = self._piecewise(self.condition(node.test), node.body, node.orelse, node)
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
                pairs = [self._compare(type(op), a, b, node) for op, a, b in zip(node.ops, sides, sides[1:])]
                self._check_merged(node, sp.And, pairs, MAX_CONDITIONS, "conditions")
                result = pairs[0] if len(pairs) == 1 else sp.And(*pairs)
            elif isinstance(node, ast.BoolOp):
                self._check_count(node, len(node.values))
                parts = [self.condition(part) for part in node.values]
                join = sp.And if isinstance(node.op, ast.And) else sp.Or
                self._check_merged(node, join, parts, MAX_CONDITIONS, "conditions")
                result = join(*parts)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
                parts = [self.condition(node.left), self.condition(node.right)]
                join = sp.And if isinstance(node.op, ast.BitAnd) else sp.Or
                self._check_merged(node, join, parts, MAX_CONDITIONS, "conditions")
                result = join(*parts)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
                result = sp.Not(self.condition(node.operand))
            elif is_condition(node) and isinstance(node, ast.Call):  # Eq(a, b), Ne(a, b)
                result = self._compare(ast.Eq, self.value(node.args[0]), self.value(node.args[1]), node)
                result = sp.Not(result) if node.func.id == "Ne" else result  # type: ignore[attr-defined]
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

    def _chain(self, node: ast.expr) -> sp.Expr:
        links: list[ast.BinOp] = []
        while isinstance(node, ast.BinOp) and type(node.op) not in _CONDITION_OPERATORS:
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
                    exp_node, f"is an exponent of {format_number(e, '.6g')}; numeric exponents are limited to ±{MAX_EXPONENT}"
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
        name = cast(ast.Name, node.func).id  # check_tree let through only known function names with the right arity
        maker = FUNCTIONS[name][2]
        name = _ALIASES.get(name, name)
        if name == "where":
            return self._piecewise(self.condition(node.args[0]), node.args[1], node.args[2], node)
        if name == "Piecewise":
            return self._piecewise_call(node)
        args = [self.value(arg) for arg in node.args]  # each constant among them is range-checked
        if name == "log" and self.constant(args[0]) and self.number(args[0], node) <= 0:
            raise self.error(node, "takes the log of a number that is not positive, which is not real")
        if name == "sqrt":
            return self._power(node, args[0], sp.S.Half, node.args[0], node)
        if name == "exp":
            self._check_exp(args[0], node)
        if name == "Heaviside" and len(args) == 2 and not self.constant(args[1]):
            raise self.error(node, "gives Heaviside a value at 0 that is not a number; write Heaviside(x, 0.5)")
        if name in ("max", "min", "relu"):
            lattice = sp.Min if name == "min" else sp.Max
            self._check_merged(node, lattice, args + [sp.S.Zero] * (name == "relu"), MAX_MINMAX_ARGS, "arguments")
            self.minmax_args += len(args) + (name == "relu")
            if self.minmax_args > MAX_TOTAL_MINMAX_ARGS:
                raise self.error(
                    node, f"uses {self.minmax_args} max/min/relu arguments in all; at most "
                    f"{MAX_TOTAL_MINMAX_ARGS} are accepted (their cases multiply)"
                )
            if name != "relu":
                args = self._extreme_constant(args, name == "max")
                if len(args) == 1:
                    return args[0]
                if any(self.constant(a) and not a.is_Number for a in args):  # SymPy would evalf it against the rest
                    return lattice(*args, evaluate=False)
        assert maker is not None
        return maker(*args)

    def _check_merged(self, node: ast.AST, kind: type[sp.Basic], parts: Sequence[sp.Basic], limit: int, what: str) -> None:
        """Refuse to let SymPy merge more than ``limit`` parts into one Max/Min/And/Or."""
        count = sum(len(part.args) if isinstance(part, kind) else 1 for part in parts)
        if count > limit:
            raise self.error(
                node, f"joins {count} {what} into one {kind.__name__}; at most {limit} are accepted "
                "(nested ones count together)"
            )

    def _piecewise(self, condition: Boolean, then: ast.expr, otherwise: ast.expr, node: ast.expr) -> sp.Expr:
        if condition.has(sp.Piecewise):
            condition = self._lift(condition, node)
        return sp.Piecewise((self.value(then), condition), (self.value(otherwise), True))
