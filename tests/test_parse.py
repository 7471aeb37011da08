"""Formula text → SymPy (symdl.symbolic.parse): what it accepts, what it refuses, and that nothing runs.

Expected values are SymPy objects built directly here, or Python floats
computed by a reference evaluator inside the hypothesis strategy; never the
output of another parser.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import fractions
import importlib
import math
import time
from pathlib import Path

import pytest
import sympy as sp
import sympy.parsing.sympy_parser
from hypothesis import given
from hypothesis import strategies as st

from symdl.symbolic.functions import NAMED_FUNCTIONS
from symdl.symbolic.grammar import MAX_TOTAL_MINMAX_ARGS
from symdl.symbolic.parse import (
    MAX_BRACKET_DEPTH,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_LENGTH,
    FormulaError,
    parse,
)
from symdl.testing.formula_strategies import formula_texts

# The package re-exports the function parse under the same name, which hides the module.
PARSE_MODULE = importlib.import_module("symdl.symbolic.parse")
z, e, d, a, y = sp.symbols("z e d a y", real=True)
SECOND = 1.0  # the time bound for every refusal: a safety property, so generous
FORMULAS_DOC = Path(__file__).resolve().parent.parent / "docs" / "formulas.md"


def timed(call) -> object:
    """call(), asserted to take under a second; a run over it is retried once, since a machine
    stall is not a slow parser, but a slow parser is slow twice."""
    for _ in range(2):
        start = time.perf_counter()
        outcome = call()
        elapsed = time.perf_counter() - start
        if elapsed < SECOND:
            return outcome
    raise AssertionError(f"took {elapsed:.2f} s, twice")


def refused(text: object, symbols=("z",), params=()) -> str:
    """Parse ``text``, expect a FormulaError within a second, and return its one-line message."""

    def attempt() -> str:
        with pytest.raises(FormulaError) as info:
            parse(text, symbols, params)  # type: ignore[arg-type]
        return str(info.value)

    message = timed(attempt)
    assert message.startswith("formula: ") and "\n" not in message and "\r" not in message
    return message


# -- what is accepted ---------------------------------------------------------------------------

HUBER = sp.Piecewise((e**2 / 2, sp.Abs(e) < d), (d * sp.Abs(e) - d**2 / 2, True))


def test_keras_notebook_huber_with_where():
    assert parse("where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)", ["e"], ["d"]) == HUBER


@pytest.mark.parametrize(
    "text",
    [
        "where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)",
        "where(Abs(e) < d, 0.5*e^2, d*Abs(e) - 0.5*d^2)",
        "e**2/2 if abs(e) < d else d*abs(e) - d**2/2",
        "where(d > abs(e), (e*e)/2, -(d/2)*d + abs(e)*d)",
        "where(\n    abs(e) < d,\n    e**2 / 2,\n    d * abs(e) - d**2 / 2,\n)",
    ],
)
def test_huber_variants_are_the_same_piecewise(text):
    assert parse(text, ["e"], {"d": None}) == HUBER


def test_huber_factored_form_keeps_its_shape():
    expected = sp.Piecewise((e**2 / 2, sp.Abs(e) <= d), (d * (sp.Abs(e) - d / 2), True))
    assert parse("where(abs(e) <= d, e^2/2, d*(abs(e) - d/2))", ["e"], ["d"]) == expected


def test_huber_with_a_numeric_delta_substitutes_it_exactly():
    delta = sp.Rational(3, 2)
    expected = sp.Piecewise((e**2 / 2, sp.Abs(e) < delta), (delta * sp.Abs(e) - delta**2 / 2, True))
    assert parse("where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)", ["e"], {"d": 1.5}) == expected


def test_huber_of_a_minus_y_in_two_symbols():
    expected = sp.Piecewise(((a - y) ** 2 / 2, sp.Abs(a - y) <= 1), (sp.Abs(a - y) - sp.Rational(1, 2), True))
    assert parse("where(abs(a - y) <= d, (a - y)^2/2, d*(abs(a - y) - d/2))", ["a", "y"], {"d": 1}) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("e**2/2", e**2 / 2),
        ("e^2/2", e**2 / 2),
        ("-e^2", -(e**2)),  # ^ binds like **, tighter than unary minus
        ("e^2*3", 3 * e**2),  # not Python's xor precedence, e^(2*3)
        ("2^3^2", sp.Integer(512)),  # right-associative, like **
        ("e^-1", 1 / e),
        ("+e - -e", 2 * e),
        ("(e + 1)*(e - 1)", (e + 1) * (e - 1)),
        ("e/2/2", e / 4),
        ("pi*E", sp.pi * sp.E),
        ("exp(e) + log(e) + sqrt(e)", sp.exp(e) + sp.log(e) + sp.sqrt(e)),
        ("tanh(e) + sinh(e) + cosh(e) + sin(e) + cos(e)", sp.tanh(e) + sp.sinh(e) + sp.cosh(e) + sp.sin(e) + sp.cos(e)),
        ("abs(e) - Abs(e) + sign(e)", sp.sign(e)),
        ("max(e, 0) + min(e, 0, -1)", sp.Max(e, 0) + sp.Min(e, 0, -1)),
        ("relu(e)", sp.Max(0, e)),
        ("sqrt(8)", 2 * sp.sqrt(2)),
        ("2**10", sp.Integer(1024)),
        ("e # a trailing comment", e),
    ],
)
def test_values_are_the_sympy_objects_built_directly(text, expected):
    assert parse(text, ["e"]) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.1", sp.Rational(1, 10)),
        ("0.1 + 0.2", sp.Rational(3, 10)),
        ("2.5*z", sp.Rational(5, 2) * z),
        ("1e-3", sp.Rational(1, 1000)),
        ("1.5e3", sp.Integer(1500)),
        (".5", sp.Rational(1, 2)),
        ("z**0.5", sp.sqrt(z)),
        ("1e300", sp.Integer(10) ** 300),
    ],
)
def test_float_literals_are_exact_decimals(text, expected):
    result = parse(text)
    assert result == expected
    assert not result.atoms(sp.Float)


def test_parameters_are_exact_or_symbolic():
    assert parse("d*z", params={"d": 3}) == 3 * z
    assert parse("d*z", params={"d": 0.1}) == z / 10
    assert parse("d*z", params={"d": fractions.Fraction(1, 3)}) == z / 3
    assert parse("d*z", params={"d": None}) == d * z
    assert parse("d*z", params=["d"]) == d * z
    assert isinstance(parse("d", params={"d": 7}), sp.Integer)


def test_every_declared_name_is_a_real_symbol():
    result = parse("a*y + d", ["a", "y"], ["d"])
    assert result == a * y + d
    assert all(s.is_real for s in result.free_symbols)
    assert parse("z") == z  # the default variable


@pytest.mark.parametrize("name, cls", sorted(NAMED_FUNCTIONS.items()))
def test_named_functions_from_symdl_functions(name, cls):
    assert parse(f"{name}(2*z) + 1") == cls(2 * z) + 1


def test_conditions():
    assert parse("where(0 < z < 1, z, 0)") == sp.Piecewise((z, sp.And(sp.Lt(0, z), sp.Lt(z, 1))), (0, True))
    assert parse("where(0 <= z <= 1 == 1, z, 0)") == sp.Piecewise(
        (z, sp.And(sp.Le(0, z), sp.Le(z, 1), sp.Eq(1, 1))), (0, True)
    )
    assert parse("where(z < -1 or z > 1 and not z == 2, 1, 0)") == sp.Piecewise(
        (1, sp.Or(sp.Lt(z, -1), sp.And(sp.Gt(z, 1), sp.Not(sp.Eq(z, 2))))), (0, True)
    )
    assert parse("z if z >= 0 else 0.01*z") == sp.Piecewise((z, sp.Ge(z, 0)), (z / 100, True))
    assert parse("1 if 2 > 1 else z") == 1


def test_limits_are_inclusive():
    assert parse("(" * MAX_BRACKET_DEPTH + "z" + ")" * MAX_BRACKET_DEPTH) == z
    assert parse("9" * MAX_INT_DIGITS) == sp.Integer(10**MAX_INT_DIGITS - 1)
    assert parse(f"z**{MAX_EXPONENT} + z**-{MAX_EXPONENT}") == z**MAX_EXPONENT + z**-MAX_EXPONENT
    long_sum = "+".join(["z"] * 200)
    assert parse(long_sum + " " * (MAX_LENGTH - len(long_sum))) == 200 * z


# -- what is refused ----------------------------------------------------------------------------

CODE_EXECUTION = [
    "x.__class__",
    "z.__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('echo owned')",
    "__import__",
    "exec('1')",
    "eval('1')",
    "globals()",
    "z[0]",
    "lambda: 1",
    "(lambda: z)()",
    "[x for x in (1,)]",
    "{x for x in (1,)}",
    "(x for x in (1,))",
    "{x: 1 for x in (1,)}",
    "f'{z}'",
    "'z'",
    "b'z'",
    "(w := 1)",
    "exp(*[z])",
    "exp(z, base=2)",
    "exp(x=z)",
    "max(**{'a': 1})",
    "exp(z)(z)",
    "f()()",
    "import os",
    "z = 1",
    "del z",
    "z; 1",
    "{1: 2}",
    "{1}",
    "[1]",
    "(1, 2)",
    "...",
    "z & 1",
    "z | 1",
    "~z",
    "z << 1",
    "z >> 1",
    "z // 2",
    "z % 2",
    "z @ z",
    "z != 1",
    "z is 1",
    "z in z",
    "await z",
    "yield z",
    "True",
    "None",
]

RESOURCE_EXHAUSTION = [
    "z" * (MAX_LENGTH + 1),
    "z+" * 1000 + "z",
    "(" * (MAX_BRACKET_DEPTH + 1) + "z" + ")" * (MAX_BRACKET_DEPTH + 1),
    "(" * 100_000 + "z" + ")" * 100_000,
    "[" * 1000,
    "-" * 1900 + "z",
    "not " * 400 + "z",
    "z**" * 150 + "z",
    " if z < 1 else ".join(["z"] * 120),
    "1" * (MAX_INT_DIGITS + 1),
    "0x" + "f" * 100,
    "9**9**9",
    "9**9**9**9",
    "2**(10**30)",
    "z**101",
    "z**(-1000)",
    "10**400",
    "(10**30)**100",
    "((10**30)**10)**10",
    "exp(10**30*log(2))",
    "E**(z + 10**29*log(2))",
    "(10**29 + 7)**(1/3)*(10**29 + 9)**(1/3)",
    "1e999",
    "1e-999",
    "exp(exp(100))",
    "sin(exp(exp(100)))",
    "abs(sin(exp(exp(100))))",
    "where(sin(exp(exp(100))) < 0, z, 0)",
    "abs(sin(1/(tanh(700) - 1)))",
    "sigmoid(sigmoid(sigmoid(sigmoid(1))))",
    "abs(1+exp(-(1+exp(-(1+exp(-(1+exp(-(1+exp(-(1+exp(-1)))))))))))-2)",
    "max(" + ",".join(f"sin({i}*z)" for i in range(1, 30)) + ")",
    "max(sin(z), max(cos(z), max(tanh(z), max(sinh(z), max(cosh(z), max(exp(z), sigmoid(z)))))))",
    "where(" + " and ".join(f"z < {i}" for i in range(40)) + ", 1, 0)",
    "where(" + "<".join(str(i) for i in range(40)) + ", 1, 0)",
    "factorial(z)",
    "gamma(z)",
]

UNICODE = [
    "\u0435**2",  # Cyrillic е, looks like e
    "z + \uff11",  # fullwidth digit one
    "\U0001d465",  # mathematical italic x, which NFKC would turn into x
    "z\u200b",  # zero-width space
    "z\u200d+1",  # zero-width joiner
    "z\ufeff",  # byte-order mark
    "z\u00a0+ 1",  # no-break space
    "z \u2212 1",  # minus sign
    "z\u00b2",  # superscript two
    "\u03c0",  # π
    "z\x00",
    "z\x07",
    "z\r+1",
    "z\x0b",
    "z\x0c",
    "z\x1b[31m",
    "z\x7f",
]

UNKNOWN = [
    "y",
    "nan",
    "inf",
    "oo",
    "zoo",
    "I",
    "e",
    "__builtins__",
    "__name__",
    "x",
    "Symbol",
    "factorial(3)",
    "erfi(z)",  # erf, erfc and Phi are in the grammar; erfi is not
    "print(z)",
    "open(z)",
    "exp",
    "z(1)",
    "exp()",
    "exp(z, z)",
    "max(z)",
    "max(z, z, z, z, z, z, z)",
    "where(z < 1, z)",
    "sigmoid(z, 1)",
    "where(z, 1, 0)",
    "where(z < 1, z < 2, 0)",
    "z < 1",
    "not z",
    "z and 1",
    "-(z < 1)",
    "z if z else 0",
]

SPECIAL_VALUES = [
    "1j",
    "z + 2j",
    "1/0",
    "0/0",
    "z/0",
    "0*(1/0)",
    "1/(1/0)",
    "log(0)",
    "log(-1)",
    "log(1 - E)",
    "sqrt(-1)",
    "sqrt(1 - pi)",
    "(-1)**0.5",
    "(-8)**(1/3)",
    "(-2)**pi",
    "0**-1",
    "z**(1/0)",
    "where(z < 1, 1/0, z)",
    "max(z, 1/0)",
    "exp(1000)",
    "z*exp(1000)",
    "1e300*1e300",
]

EMPTY = ["", " ", "   ", "\t", "\n", "\n\n\t ", "# only a comment", "()", "( )", "z +", "(z", "z)"]

NOT_TEXT = [None, 0, 1.5, b"z", ["z"], ("z",), {"z": 1}, sp.Symbol("z"), object()]


@pytest.mark.parametrize("text", CODE_EXECUTION)
def test_code_execution_attempts_are_refused(text):
    refused(text)


@pytest.mark.parametrize("text", RESOURCE_EXHAUSTION, ids=lambda t: repr(t)[:40])
def test_resource_exhaustion_is_refused_quickly(text):
    refused(text)


@pytest.mark.parametrize("text", UNICODE, ids=ascii)
def test_non_ascii_and_control_characters_are_refused(text):
    message = refused(text)
    bad = next(c for c in text if not (" " <= c <= "~" or c in "\t\n"))
    assert f"U+{ord(bad):04X}" in message
    assert f"column {text.index(bad) + 1}" in message


@pytest.mark.parametrize("text", UNKNOWN)
def test_unknown_names_functions_and_misuse_are_refused(text):
    refused(text)


@pytest.mark.parametrize("text", SPECIAL_VALUES)
def test_special_values_are_refused(text):
    refused(text)


@pytest.mark.parametrize("text", EMPTY, ids=ascii)
def test_empty_and_incomplete_text_is_refused(text):
    refused(text)


@pytest.mark.parametrize("text", NOT_TEXT, ids=lambda t: type(t).__name__)
def test_non_str_input_is_a_formula_error_not_a_type_error(text):
    assert "expected a str" in refused(text)


@pytest.mark.parametrize(
    "symbols, params",
    [
        ("z", ()),
        (["z"], "d"),
        (["z", "z"], ()),
        (["z"], ["z"]),
        (["z"], {"z": 1}),
        (["1z"], ()),
        (["lambda"], ()),
        (["_z"], ()),
        (["__class__"], ()),
        (["z-1"], ()),
        (["\u0435"], ()),
        (["exp"], ()),
        (["where"], ()),
        (["sigmoid"], ()),
        (["pi"], ()),
        (["E"], ()),
        ([1], ()),
        (None, ()),
        (["z"], {"d": "1"}),
        (["z"], {"d": float("nan")}),
        (["z"], {"d": float("inf")}),
        (["z"], {"d": True}),
        (["z"], {"d": 1j}),
    ],
)
def test_bad_declarations_are_refused(symbols, params):
    refused("z", symbols, params)


# -- the messages -------------------------------------------------------------------------------


def test_unknown_name_message_lists_the_declared_names():
    assert refused("z + y", ["z"], ["d"]) == "formula: unknown name 'y' at column 5; declared names: z, d"


def test_unknown_function_message_lists_the_known_functions():
    message = refused("2*factorial(z)")
    assert "unknown function 'factorial' at column 3" in message
    for name in ["exp", "log", "sqrt", "tanh", "abs", "max", "where", "relu", *NAMED_FUNCTIONS]:
        assert name in message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("exp(z, z)", "takes 1 argument, got 2"),
        ("max(z)", "takes 2 to 6 arguments, got 1"),
        ("where(z < 1, z)", "takes 3 arguments, got 2"),
    ],
)
def test_arity_message_states_the_expected_count(text, expected):
    assert expected in refused(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("z.__class__", "attribute access 'z.__class__' at column 1"),
        ("z + 'a'", "string"),
        ("z = 1", "at column 3"),
        ("(z +\n  y)", "line 2, column 3"),
        ("(z\n + (1/0))", "'1/0' at line 2, column 5 gives zoo"),
        ("log(0)", "log"),
        ("sqrt(-1)", "not real"),
        ("1j", "complex"),
        ("z**101", "limited to ±100"),
        ("1" * 31, "more than 30 digits"),
        ("z^^2", "at column 3"),  # positions count the text as written, ^ not **
        ("z ^ 2 ^ y", "unknown name 'y' at column 9"),
        ("z & 1", "operator '&'"),
    ],
)
def test_messages_name_the_offence_and_where(text, expected):
    assert expected in refused(text)


def test_messages_say_what_is_accepted():
    assert "accepted" in refused("z.__class__")
    assert "accepted" in refused("z // 2")
    assert "only printable ASCII" in refused("\u0435")
    assert "declared names" in refused("nan")


def test_the_formula_reference_examples_run_as_written():
    result = doctest.testfile(str(FORMULAS_DOC), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15
    assert result.failed == 0


# -- nothing runs -------------------------------------------------------------------------------

SIDE_EFFECTS: list[str] = []


def test_no_formula_runs_any_code(tmp_path, monkeypatch):
    """Formulas that would leave a trace if executed leave none, and no code object is ever made."""
    target = tmp_path / "owned"
    attacks = [
        f"open({str(target)!r}, 'w').write('x')",
        f"__import__('pathlib').Path({str(target)!r}).touch()",
        f"__import__('os').system('touch {target}')",
        f"exec(\"open({str(target)!r}, 'w')\")",
        f"[open({str(target)!r}, 'w') for z in (1,)]",
        f"(lambda: open({str(target)!r}, 'w'))()",
        "__import__('tests.test_parse').test_parse.SIDE_EFFECTS.append(1)",
        "__import__('builtins').setattr(__import__('symdl.symbolic.parse').parse, 'parse', None)",
        f"where(z < 1, open({str(target)!r}, 'w'), 0)",
    ]
    compiled: list[int] = []
    real_compile = builtins.compile

    def recording_compile(source, filename, mode, flags=0, *args, **kwargs):
        compiled.append(flags)
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/sympify/parse_expr called")

    monkeypatch.setattr(builtins, "compile", recording_compile)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(sp.parsing.sympy_parser, "parse_expr", forbidden)
    for text in attacks:
        refused(text)
    assert parse("where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)", ["e"], ["d"]) == HUBER

    assert not target.exists()
    assert SIDE_EFFECTS == []
    assert PARSE_MODULE.parse is parse
    assert compiled and all(flags & ast.PyCF_ONLY_AST for flags in compiled)  # syntax trees only


def test_the_module_never_calls_eval_exec_compile_sympify_parse_expr_or_lambdify():
    tree = ast.parse(Path(PARSE_MODULE.__file__).read_text())
    called = {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
    }
    assert not called & {"eval", "exec", "compile", "sympify", "parse_expr", "lambdify", "S"}


# -- properties ---------------------------------------------------------------------------------

FORMULA_ALPHABET = "z0123456789.e+-*/^()<>=, abcdEfghijklmnopqrstuvwxyIE_'\"[]{}:;@%&|~!#\\\n\t"


def assert_only_formula_errors(text: str) -> None:
    def attempt() -> sp.Expr | FormulaError:
        try:
            return parse(text)
        except FormulaError as error:
            return error

    outcome = timed(attempt)
    if isinstance(outcome, FormulaError):
        assert str(outcome).startswith("formula: ") and "\n" not in str(outcome)
    else:
        assert isinstance(outcome, sp.Expr)
        assert not outcome.has(sp.zoo, sp.oo, -sp.oo, sp.nan, sp.I)


@given(st.text(max_size=80))
def test_random_text_raises_only_formula_errors_quickly(text):
    assert_only_formula_errors(text)


@given(st.text(alphabet=FORMULA_ALPHABET, max_size=60))
def test_random_formula_like_text_raises_only_formula_errors_quickly(text):
    assert_only_formula_errors(text)


@given(st.lists(st.sampled_from(["z", "1", "2.5", "+", "-", "*", "/", "^", "**", "(", ")", "exp(", "log(", "sqrt(",
                                 "tanh(", "abs(", "max(", "where(", ",", "<", "==", " if ", " else ", " and ", "not ",
                                 "sigmoid(", "softplus(", "log_cosh(", "pi", "E", "0", "1e300", "-1", "0.1"]),
                max_size=30))
def test_random_token_soup_raises_only_formula_errors_quickly(tokens):
    assert_only_formula_errors("".join(tokens))


@given(formula_texts(symbols=("z", "y"), max_leaves=8))
def test_grammar_generated_formulas_parse_or_raise_only_formula_errors_quickly(text):
    assert_only_formula_errors(text)


Z_VALUES = st.sampled_from(["-2", "-1.5", "-0.75", "-0.1", "0", "0.3", "0.5", "1", "1.25", "2"])
LEAVES = st.one_of(st.integers(-3, 3).map(str), st.sampled_from(["0.5", "1.25", "0.1", "3e-1", "z"]))


def _grow(children):
    return st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/"]), children, children),
        st.tuples(st.sampled_from(["neg", "abs", "tanh", "exp", "sigmoid"]), children),
        st.tuples(st.sampled_from(["**", "^"]), children, st.integers(1, 3)),
        st.tuples(st.sampled_from(["max", "min"]), children, children),
        st.tuples(st.just("where"), children, children, children),
    )


class _Skip(Exception):
    """A generated case whose float reference would be unreliable (a near tie, or values too large)."""


def _render(tree, zf: float) -> tuple[str, float]:
    """Formula text for a generated tree, and its value at z = zf computed with Python floats.

    Functions and powers take z*(part): their argument is never a nonzero constant, so every
    constant in the formula stays rational (deeply nested constants are refused by design).
    """
    if isinstance(tree, str):
        return (f"({tree})" if tree.startswith("-") else tree), (zf if tree == "z" else float(tree))
    op, *parts = tree
    if op in ("**", "^"):
        (text, value), power = _render(parts[0], zf), parts[1]
        result = f"((z*{text}){op}{power})", (zf * value) ** power
    else:
        rendered = [_render(part, zf) for part in parts]
        (ta, va), *rest = rendered
        if op in ("+", "-", "*"):
            (tb, vb) = rest[0]
            result = f"({ta} {op} {tb})", {"+": va + vb, "-": va - vb, "*": va * vb}[op]
        elif op == "/":
            (tb, vb) = rest[0]
            result = f"({ta} / (1 + {tb}^2))", va / (1 + vb * vb)
        elif op == "neg":
            result = f"(-{ta})", -va
        elif op == "abs":
            result = f"abs({ta})", abs(va)
        elif op == "tanh":
            result = f"tanh(z*{ta})", math.tanh(zf * va)
        elif op == "exp":
            result = f"exp(tanh(z*{ta}))", math.exp(math.tanh(zf * va))
        elif op == "sigmoid":
            result = f"sigmoid(tanh(z*{ta}))", 1 / (1 + math.exp(-math.tanh(zf * va)))
        elif op in ("max", "min"):
            (tb, vb) = rest[0]
            result = f"{op}({ta}, {tb})", (max if op == "max" else min)(va, vb)
        else:  # where(a < b, c, b): only far from the tie can floats and exact numbers agree on the branch
            (tb, vb), (tc, vc) = rest
            if abs(va - vb) < 1e-6:
                raise _Skip
            result = f"where({ta} < {tb}, {tc}, {tb})", vc if va < vb else vb
    if not abs(result[1]) < 1e6:
        raise _Skip
    return result


def _minmax_arguments(tree) -> int:
    if isinstance(tree, str):
        return 0
    op, *parts = tree
    counts = [_minmax_arguments(part) for part in parts if not isinstance(part, int)]
    if op == "where":  # rendered where(a < b, c, b): b is written twice
        return counts[0] + 2 * counts[1] + counts[2]
    return (2 if op in ("max", "min") else 0) + sum(counts)


def _case(zs_tree):
    zs, tree = zs_tree
    if _minmax_arguments(tree) > MAX_TOTAL_MINMAX_ARGS:  # the grammar refuses more (their cases multiply)
        return None
    try:
        return (zs, *_render(tree, float(zs)))
    except (_Skip, OverflowError):
        return None


GENERATED = st.tuples(Z_VALUES, st.recursive(LEAVES, _grow, max_leaves=10)).map(_case).filter(bool)


@given(GENERATED)
def test_generated_formulas_parse_and_evaluate_to_the_reference(case):
    zs, text, reference = case
    expr = parse(text)
    # A Float for z makes SymPy evaluate bottom-up as it substitutes, in time linear in the size.
    value = float(expr.subs(z, sp.Float(zs, 40)).evalf(30))
    assert math.isclose(value, reference, rel_tol=1e-9, abs_tol=1e-9), (text, value, reference)


def test_max_min_relu_arguments_are_bounded_in_all():
    within = " + ".join(["max(z, 1)"] * (MAX_TOTAL_MINMAX_ARGS // 2))
    assert parse(within) == (MAX_TOTAL_MINMAX_ARGS // 2) * sp.Max(z, 1)
    with pytest.raises(FormulaError, match=f"at most {MAX_TOTAL_MINMAX_ARGS} are accepted"):
        parse(within + " + min(z, 2)")
