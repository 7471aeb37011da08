"""``formula_texts()``: a hypothesis strategy of formula text drawn from the parser's own grammar.

Leaves are the input ``z``, small numbers, the constants ``pi`` and ``E``, and
extreme constants (:data:`EXTREME_CONSTANTS`: 1e300, 1e-300, 10**30, 0, a
30-digit integer, …); nodes are the grammar's operators (+ - * / ** ^, unary
±, comparisons, ``Eq(a, b)`` and ``Ne(a, b)``, ``and``/``or``/``not`` and SymPy's ``& | ~``,
``a if c else b``, ``Piecewise((a, c), …, (b, True))``) and a call of every
function in :data:`symdl.symbolic.grammar.FUNCTIONS` with an accepted number
of arguments, so a function added to the grammar is drawn without a change
here. Every text is fully parenthesised; the parser may still refuse it (a
constant out of range, a non-real value): that is what it is for, fuzzing.

>>> from hypothesis import given
>>> from symdl.testing.formula_strategies import formula_texts
>>> @given(formula_texts(max_leaves=3))
... def test(text):
...     assert isinstance(text, str) and text
>>> test()
"""

from __future__ import annotations

from ..optional import require

require("hypothesis", "symdl.testing.formula_strategies")  # one line with the install hint instead of a bare ModuleNotFoundError

from hypothesis import strategies as st

from ..symbolic.grammar import FUNCTIONS

__all__ = ["EXTREME_CONSTANTS", "formula_texts"]

#: Constants at and beyond the ends of float64 and of the grammar's limits.
EXTREME_CONSTANTS = (
    "1e300", "1e-300", "1e308", "1e309", "1e-320", "10**30", "10**100", "2**-1074", "0", "0.0", "-0",
    "123456789012345678901234567890", "1234567890123456789012345678901", "1.7976931348623157e308",
    "exp(-1e300)", "exp(1e300)", "1/3", "-1e300",
)  # fmt: skip
_SMALL = ("1", "2", "0.5", "-1", "3", "0.1", "1.25")
_COMPARISONS = ("<", "<=", ">", ">=", "==")


def _leaves(symbols: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(symbols),
        st.sampled_from(symbols),  # twice: most formulas then depend on an input
        st.sampled_from(_SMALL),
        st.sampled_from(EXTREME_CONSTANTS),
        st.sampled_from(("pi", "E")),
        st.integers(-(10**6), 10**6).map(str),
    )


def _condition(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    compare = st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(_COMPARISONS), children),
        st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(("Eq", "Ne")), children, children),
    )
    return st.one_of(
        compare,
        st.builds(lambda a, op, b: f"({a} {op} {b})", compare, st.sampled_from(("and", "or", "&", "|")), compare),
        compare.map(lambda c: f"(not {c})"),
        compare.map(lambda c: f"(~{c})"),
    )


def _call(name: str, children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    fewest, most, _ = FUNCTIONS[name]
    if name == "where":
        return st.builds(lambda c, a, b: f"where({c}, {a}, {b})", _condition(children), children, children)
    if name == "Piecewise":
        pieces = st.lists(st.builds(lambda a, c: f"({a}, {c})", children, _condition(children)), max_size=2)
        return st.builds(lambda first, a: f"Piecewise({''.join(p + ', ' for p in first)}({a}, True))", pieces, children)
    if name in ("Eq", "Ne"):  # a condition: drawn in place of a value, it is refused, as fuzzing should see
        return st.builds(lambda a, b: f"{name}({a}, {b})", children, children)
    return st.lists(children, min_size=fewest, max_size=min(most, fewest + 1)).map(
        lambda args: f"{name}({', '.join(args)})"
    )


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(("+", "-", "*", "/", "**", "^")),
                  children),
        st.builds(lambda op, a: f"({op}{a})", st.sampled_from(("-", "+")), children),
        st.builds(lambda a, c, b: f"({a} if {c} else {b})", children, _condition(children), children),
        st.sampled_from(sorted(FUNCTIONS)).flatmap(lambda name: _call(name, children)),
    )


def formula_texts(symbols: tuple[str, ...] = ("z",), max_leaves: int = 6) -> st.SearchStrategy[str]:
    """Formula text over ``symbols`` from the grammar's operators and functions, at most ``max_leaves`` leaves."""
    if not isinstance(symbols, (tuple, list)) or not symbols or not all(isinstance(s, str) and s.isidentifier() for s in symbols):
        raise ValueError(f"formula_texts: symbols must be a non-empty tuple of names, got {symbols!r}")
    if not isinstance(max_leaves, int) or max_leaves < 1:
        raise ValueError(f"formula_texts: max_leaves must be a positive integer, got {max_leaves!r}")
    return st.recursive(_leaves(tuple(symbols)), _extend, max_leaves=max_leaves)
