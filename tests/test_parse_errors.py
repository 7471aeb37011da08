"""The parser's error lines point at the right place and say what is accepted (found by mutation testing)."""

import ast
import sys

import pytest
import sympy as sp

from symdl.symbolic.parse import FormulaError, exact_number, parse

HINT = "write one expression such as 'z**2/2' (statements and assignments are not accepted)"


def _message(text: str) -> str:
    with pytest.raises(FormulaError) as info:
        parse(text)
    return str(info.value)


def test_a_statement_is_refused_with_the_hint():
    message = _message("z = 1")
    assert message.startswith("formula: ") and message.endswith("; " + HINT)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("z\n)", "line 2, column 1"),  # the error on the last line
        ("z + 1\n)", "line 2, column 1"),  # the first line's spaces count in the offset of the second
        ("z +\n1\n)", "line 3, column 1"),
        ("z +* 3\n+ 2", "line 1, column 4"),  # the error on the first of two lines
    ],
)
def test_a_syntax_error_in_a_multiline_formula_names_its_line_and_column(text, where):
    assert f" at {where}; " in _message(text)


def _syntax_error(monkeypatch, error: BaseException) -> None:
    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(ast, "parse", refuse)


def test_a_long_syntax_message_is_cut_to_80_characters(monkeypatch):
    _syntax_error(monkeypatch, SyntaxError("m" * 100, ("<unknown>", 1, 1, "z", 1, 2)))
    message = _message("z")
    assert message == f"formula: {'m' * 77}... at column 1; {HINT}"


def test_a_syntax_error_without_a_place_points_at_the_start(monkeypatch):
    _syntax_error(monkeypatch, SyntaxError("bad"))  # lineno and offset None
    assert _message("z +\n1") == f"formula: bad at line 1, column 1; {HINT}"


def test_a_syntax_error_past_the_last_line_points_into_the_last_line(monkeypatch):
    _syntax_error(monkeypatch, SyntaxError("bad", ("<unknown>", 5, 1, "", 5, 2)))
    assert _message("z +\n1 + 2") == f"formula: bad at line 2, column 1; {HINT}"


@pytest.mark.parametrize("error", [RecursionError(), MemoryError(), OverflowError(), ValueError()])
def test_a_parser_that_gives_up_is_one_formula_line(monkeypatch, error):
    _syntax_error(monkeypatch, error)
    assert _message("z") == "formula: the formula is too deeply nested or too large to parse"


def test_the_largest_float_is_accepted_exactly():
    value = sys.float_info.max
    assert exact_number(value, "w") == sp.Rational(repr(value))
    assert exact_number(int(value), "w") == int(value)  # the float's exact value: the bound itself
    assert parse("z * c", ["z"], {"c": value}) == sp.Rational(repr(value)) * sp.Symbol("z", real=True)
    with pytest.raises(ValueError, match="within the float64 range"):
        exact_number(2 * sp.Rational(repr(value)), "w")


def test_a_refused_value_is_shown_in_full_up_to_40_characters():
    short = "x" * 38  # repr adds the quotes: 40 characters
    with pytest.raises(ValueError) as info:
        exact_number(short, "w")
    assert str(info.value) == (
        f"w has value {short!r}; accepted: a finite real number within the float64 range (±1.8e308)"
    )
    long = "y" * 39
    with pytest.raises(ValueError) as info:
        exact_number(long, "w")
    assert str(info.value).startswith(f"w has value {repr(long)[:37]}...; accepted")
