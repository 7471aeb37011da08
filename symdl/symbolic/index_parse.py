r"""Index-notation equations ``y[i] = sum(W[i, j] * x[j], j) + b[i]`` → SymPy ``Indexed``/``Sum``, without ``eval``.

>>> eqs = parse_index_equations("y[i] = sum(W[i, j] * x[j], j) + b[i]", {"W": ("out", "in"), "x": ("in",), "b": ("out",)})
>>> eqs[0].rhs
b[i] + Sum(W[i, j]*x[j], (j, 0, in - 1))

The same safe parser as :func:`symdl.symbolic.parse.parse` (``ast.parse``, a
whitelist, SymPy built node by node, the same limits), extended by two
constructs and nothing else:

* a subscript ``A[i, j]`` of a declared array, one bare index letter per axis
  (no numbers, slices or arithmetic in brackets);
* a bounded sum ``sum(expr, j)``: Σ over the whole axis that ``j`` indexes.

An index letter takes the dimension of the axes it indexes; one letter indexes
one dimension throughout an equation. The text is one equation per line (or
separated by ``;``), each ``name[i, …] = expr`` or ``name = expr``. Every other
construct is a :class:`~symdl.symbolic.grammar.FormulaError` of one line.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import sympy as sp

from .formula_builder import FormulaBuilder
from .grammar import _CONSTANTS, FUNCTIONS, FormulaError
from .parse import _declare, _prepare, _syntax_tree

__all__ = ["MAX_EQUATIONS", "IndexEquation", "dimension", "index_symbol", "infer_arrays", "parse_index_equations"]

MAX_EQUATIONS = 16  # outputs of one layer
MAX_AXES = 4  # axes of one array


def index_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol of an index letter: an integer ≥ 0 (the convention of the vector rules)."""
    return sp.Symbol(name, integer=True, nonnegative=True)


def dimension(name: str) -> sp.Symbol:
    """The SymPy symbol of a dimension (an axis length): a positive integer."""
    return sp.Symbol(name, integer=True, positive=True)


@dataclass(frozen=True)
class IndexEquation:
    """One equation ``output[indices] = rhs``: free indices, their dimensions, and the summed indices' dimensions."""

    output: str
    indices: tuple[sp.Symbol, ...]
    rhs: sp.Expr
    dims: Mapping[sp.Symbol, str]  # every index letter of the equation ↦ its dimension name
    text: str


class _IndexBuilder(FormulaBuilder):
    """FormulaBuilder that also builds ``A[i, j]`` of declared arrays and ``sum(expr, j)``."""

    def __init__(self, text: str, source: str, origin: list[int], names: dict, arrays: Mapping[str, tuple[str, ...]]):
        super().__init__(text, source, origin, names)
        self.arrays = arrays
        self.bases = {name: sp.IndexedBase(name, real=True) for name, axes in arrays.items() if axes}
        self.dims: dict[sp.Symbol, str] = {}
        self.bound: set[sp.Symbol] = set()  # indices of the sums being built
        self.summed: set[sp.Symbol] = set()  # every index summed somewhere
        self.subscripts: set[int] = set()  # ids of the Tuple nodes that are a checked subscript

    # -- the whitelist --------------------------------------------------------

    def _check_node(self, node: ast.AST, located: ast.AST, parent: ast.AST) -> None:
        if isinstance(node, ast.Subscript):
            self._check_subscript(node)
        elif isinstance(node, ast.Tuple) and id(node) in self.subscripts:
            return
        else:
            super()._check_node(node, located, parent)

    def _check_subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.value, ast.Name) or node.value.id not in self.bases:
            arrays = ", ".join(self.bases) or "(none)"
            raise self.error(node, f"indexes something that is not a declared array; arrays: {arrays}")
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        for part in parts:
            if not isinstance(part, ast.Name):
                raise self.error(
                    node, "has a subscript that is not an index letter; write A[i, j] with one letter per axis "
                    "(no numbers, slices or arithmetic)"
                )
            self._check_letter(part)
        axes = self.arrays[node.value.id]
        if len(parts) != len(axes):
            raise self.error(node, f"gives {len(parts)} indices; {node.value.id} has {len(axes)} axes ({', '.join(axes)})")
        if isinstance(node.slice, ast.Tuple):
            self.subscripts.add(id(node.slice))

    def _check_letter(self, node: ast.Name) -> None:
        name = node.id
        if name in self.names or name in self.arrays or name in FUNCTIONS or name in _CONSTANTS or name == "sum":
            raise FormulaError(f"formula: index '{name}' at {self.at(node)} is a declared name or function; "
                               "index letters must be other names")
        if name.startswith("_"):
            raise FormulaError(f"formula: index '{name}' at {self.at(node)} must not start with '_'")
        if any(name in axes for axes in self.arrays.values()):
            raise FormulaError(f"formula: index '{name}' at {self.at(node)} is also a dimension name; "
                               "use another letter")

    def _check_call(self, node: ast.Call) -> None:
        if not (isinstance(node.func, ast.Name) and node.func.id == "sum"):
            try:
                super()._check_call(node)
            except FormulaError as error:
                if "unknown function" in str(error):
                    raise FormulaError(f"{error}, and sum(expr, j)") from None
                raise
            return
        if len(node.args) != 2 or not isinstance(node.args[1], ast.Name):
            raise FormulaError(
                f"formula: sum() at {self.at(node)} takes 2 arguments, a summand and an index letter: sum(x[j], j)"
            )
        self._check_letter(node.args[1])

    # -- values ---------------------------------------------------------------

    def value(self, node: ast.expr) -> sp.Expr:
        if isinstance(node, ast.Subscript):
            return self._indexed(node)
        return super().value(node)

    def _name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.bases:
            axes = ", ".join(self.arrays[node.id])
            raise FormulaError(f"formula: array '{node.id}' at {self.at(node)} has axes ({axes}); index it as "
                               f"{node.id}[{', '.join('ijkl'[: len(self.arrays[node.id])])}]")
        if node.id not in self.names and any(node.id in axes for axes in self.arrays.values()):
            return dimension(node.id)  # a dimension name as a value: its size, a positive integer
        return super()._name(node)

    def _indexed(self, node: ast.Subscript) -> sp.Expr:
        name = cast(ast.Name, node.value).id  # check_tree let through only names here
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        letters = tuple(index_symbol(cast(ast.Name, part).id) for part in parts)
        for letter, axis, part in zip(letters, self.arrays[name], parts):
            known = self.dims.setdefault(letter, axis)
            if known != axis:
                raise FormulaError(
                    f"formula: index '{letter}' at {self.at(part)} indexes axis '{axis}' of {name} but axis "
                    f"'{known}' elsewhere; one letter indexes one dimension"
                )
        if len(set(letters)) != len(letters):
            raise self.error(node, "repeats an index letter; a diagonal is not accepted")
        return self.bases[name][letters]

    def _call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name) or node.func.id != "sum":
            return super()._call(node)
        letter = index_symbol(cast(ast.Name, node.args[1]).id)
        if letter in self.bound:
            raise self.error(node, f"sums over '{letter}' inside a sum over '{letter}'; use another letter")
        self.bound.add(letter)
        try:
            body = self.value(node.args[0])
        finally:
            self.bound.discard(letter)
        if letter not in body.free_symbols:
            raise self.error(node, f"sums over '{letter}', which its summand does not use")
        self.summed.add(letter)
        return sp.Sum(body, (letter, 0, dimension(self.dims[letter]) - 1))


def _syntax(text: str, source: str, origin: list[int]) -> ast.Module:
    tree = _syntax_tree(text, source, origin, "exec", "write one equation per line such as 'y[i] = sum(W[i, j] * x[j], j) + b[i]'")
    assert isinstance(tree, ast.Module)
    return tree


def _check_arrays(arrays: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(arrays, Mapping):
        raise FormulaError("formula: declare the arrays as a mapping name -> tuple of dimension names")
    out = {}
    for name, axes in arrays.items():
        axes = (axes,) if isinstance(axes, str) else axes
        if not isinstance(axes, (tuple, list)) or len(axes) > MAX_AXES:
            raise FormulaError(f"formula: axes of {name!r} must be a tuple of at most {MAX_AXES} dimension names")
        for axis in axes:
            if not (isinstance(axis, str) and axis.isascii() and axis.isidentifier()) or axis.startswith("_"):
                raise FormulaError(f"formula: dimension {axis!r} of {name!r} must be an ASCII identifier")
        out[name] = tuple(axes)
    return out


def parse_index_equations(text: str, arrays: Mapping[str, Sequence[str] | str]) -> tuple[IndexEquation, ...]:
    """Parse equations in index notation; ``arrays`` maps each declared name to its axes' dimension names.

    A name with no axes (``()``) is a scalar. Nothing in ``text`` is executed.
    Raises FormulaError (one line) for anything outside the grammar.
    """
    shapes = _check_arrays(arrays)
    names = _declare([], [n for n, axes in shapes.items()])  # checks every name as parse does
    scalars = {n: s for n, s in names.items() if not shapes[n]}
    source, origin = _prepare(text)
    module = _syntax(text, source, origin)
    if len(module.body) > MAX_EQUATIONS:
        raise FormulaError(f"formula: {len(module.body)} equations; at most {MAX_EQUATIONS} are accepted")
    equations: list[IndexEquation] = []
    for statement in module.body:
        builder = _IndexBuilder(text, source, origin, dict(scalars), shapes)
        equations.append(_equation(builder, statement, shapes, [e.output for e in equations]))
    return tuple(equations)


def _equation(builder: _IndexBuilder, statement: ast.stmt, shapes: Mapping, taken: list[str]) -> IndexEquation:
    if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
        raise FormulaError(
            f"formula: statement at {builder.at(statement)} is not an equation; write 'y[i] = expression', one per line"
        )
    target = statement.targets[0]
    out_name, letters = _target(builder, target)
    if out_name in shapes or out_name in taken or out_name in FUNCTIONS or out_name in _CONSTANTS:
        raise FormulaError(f"formula: output '{out_name}' at {builder.at(target)} is already a declared name or output")
    builder.check_tree(statement.value)
    rhs = builder.value(statement.value)
    free = {s for s in rhs.free_symbols if s in builder.dims}
    where = builder.at(statement)
    if set(letters) & builder.summed or free & builder.summed:
        clash = sorted(map(str, (set(letters) | free) & builder.summed))[0]
        raise FormulaError(f"formula: equation at {where} sums over '{clash}' and also uses it free; use another letter")
    for letter in letters:
        if letter not in free:
            raise FormulaError(f"formula: output index '{letter}' at {where} does not appear on the right side")
    extra = sorted(map(str, free - set(letters)))
    if extra:
        raise FormulaError(
            f"formula: index '{extra[0]}' at {where} is free on the right but not on the left; "
            f"sum over it with sum(..., {extra[0]}) or write {out_name}[..., {extra[0]}]"
        )
    return IndexEquation(out_name, letters, rhs, dict(builder.dims), builder.segment(statement))


def _target(builder: _IndexBuilder, target: ast.expr) -> tuple[str, tuple[sp.Symbol, ...]]:
    if isinstance(target, ast.Name) and not target.id.startswith("_"):
        return target.id, ()
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        parts = target.slice.elts if isinstance(target.slice, ast.Tuple) else [target.slice]
        if all(isinstance(p, ast.Name) for p in parts) and len(parts) <= MAX_AXES:
            names = [cast(ast.Name, p) for p in parts]  # all names, checked just above
            for part in names:
                builder._check_letter(part)
            letters = tuple(index_symbol(p.id) for p in names)
            if len(set(letters)) != len(letters):
                raise FormulaError(f"formula: output at {builder.at(target)} repeats an index letter")
            if target.value.id.startswith("_") or not target.value.id.isidentifier():
                raise FormulaError(f"formula: output name at {builder.at(target)} must not start with '_'")
            return target.value.id, letters
    raise FormulaError(
        f"formula: left side {builder.snippet(target)} at {builder.at(target)} must be an output such as y[i] or y"
    )


def infer_arrays(text: str) -> dict[str, tuple[str, ...]]:
    """Declarations read off the text: each subscripted name ↦ dimensions n_i, n_j, … after the letters of its first use.

    Every other plain name that is not a function, constant, index letter or
    output is a scalar (``()``). For quick checks (``symdl check``) where
    nothing declares the arrays; the text is only read, and the same checks
    as :func:`parse_index_equations` apply when it is parsed.
    """
    source, origin = _prepare(text)
    module = _syntax(text, source, origin)
    arrays: dict[str, tuple[str, ...]] = {}
    letters, outputs, called, plain = set(), set(), set(), []
    for node in ast.walk(module):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                head = target.value if isinstance(target, ast.Subscript) else target
                if isinstance(head, ast.Name):
                    outputs.add(head.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            names = [p.id for p in parts if isinstance(p, ast.Name)]
            letters.update(names)
            if isinstance(node.ctx, ast.Load) and len(names) == len(parts):
                arrays.setdefault(node.value.id, tuple(f"n_{n}" for n in names))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
            if node.func.id == "sum":
                letters.update(arg.id for arg in node.args[1:2] if isinstance(arg, ast.Name))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            plain.append(node.id)
    skip = set(arrays) | letters | outputs | called | set(FUNCTIONS) | set(_CONSTANTS) | {"sum"}
    for name in plain:
        if name not in skip and not name.startswith("_"):
            arrays.setdefault(name, ())
    return arrays
