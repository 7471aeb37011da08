"""Names in report mathematics: a plain identifier, or a tiny closed subset of LaTeX parsed and printed again.

Every name that reaches a document (a ``Symbol``, a ``MatrixSymbol``, a
function, the label of an :class:`~symdl.symbolic.array_nodes.Elementwise` or
:class:`~symdl.symbolic.array_nodes.KernelCall` node) is either a plain identifier
(``[A-Za-z][A-Za-z0-9_]*``, printed by SymPy as usual: ``alpha`` → α) or is
parsed by :func:`parse_name` as a tiny, closed subset of LaTeX — letters,
digits, Greek letters, ``^``/``_`` scripts, ``\\frac``, ``\\partial``,
``\\nabla``, ``\\operatorname``/``\\mathrm`` of letters — and printed again
from the parse. A name outside both is shown as *unsafe*: no character of it
is written. So a crafted name cannot smuggle ``\\input{…}``, ``\\write18`` or
``</math><script>`` into a document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sympy as sp

__all__ = ["SAFE_IDENTIFIER", "SAFE_SCRIPTED", "UNSAFE_NAME", "UnsafeMathError", "display_symbol", "is_plain_array", "parse_name",
           "safe_name_latex"]

SAFE_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: An identifier with ^ scripts (sigma_B^2): SymPy's printers split and print it themselves, letters and digits only.
SAFE_SCRIPTED = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_^][A-Za-z0-9]+)+")
#: Accents SymPy's LaTeX printer reads from a name's end (xhat → x̂); its MathML printer does not.
_ACCENTS = {"hat": "^", "bar": "¯", "tilde": "~", "dot": "˙", "vec": "→"}
#: How a name that is neither an identifier nor parseable is shown.
UNSAFE_NAME = "unsafe"
_MAX_NAME = 200
_MAX_DEPTH = 6

_GREEK = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"]
_GREEK_UPPER = ["Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"]
#: Control words a name may use, each with the character MathML shows for it.
_SYMBOL_WORDS: dict[str, str] = {
    **{g: unicodedata.lookup(f"GREEK SMALL LETTER {'LAMDA' if g == 'lambda' else g.upper()}") for g in _GREEK},
    **{g: unicodedata.lookup(f"GREEK CAPITAL LETTER {'LAMDA' if g == 'Lambda' else g.upper()}") for g in _GREEK_UPPER},
    "varepsilon": "ε", "vartheta": "ϑ", "varphi": "φ", "ell": "ℓ", "partial": "∂", "nabla": "∇", "infty": "∞",
}
_OPERATOR_WORDS = {"cdot": "·", "odot": "⊙", "circ": "∘", "times": "×"}
_UPRIGHT_WORDS = ("operatorname", "mathrm")
_FUNCTION_WORDS = ("log", "ln", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "max", "min")
_UNICODE_GREEK = {char: word for word, char in _SYMBOL_WORDS.items() if word not in ("varepsilon", "varphi")}
_SPACES = {",": "0.17em", ";": "0.28em", ":": "0.22em", "!": "0em", " ": "0.25em"}
_OPERATOR_CHARS = "()[],.+-=/|*'"


# --- names: a closed subset of LaTeX -----------------------------------------


@dataclass(frozen=True)
class _Atom:
    """One identifier, number or operator: its LaTeX and the MathML element (mi, mn, mo) with its text."""

    latex: str
    tag: str
    text: str
    upright: bool = False


@dataclass(frozen=True)
class _Scripts:
    base: _Node
    sub: _Node | None
    sup: _Node | None


@dataclass(frozen=True)
class _Frac:
    numerator: _Node
    denominator: _Node


@dataclass(frozen=True)
class _Space:
    latex: str
    width: str


@dataclass(frozen=True)
class _Row:
    items: tuple[_Node, ...]


_Node = _Atom | _Scripts | _Frac | _Space | _Row


class _NameError(ValueError):
    pass


class _NameParser:
    """Recursive descent over a name; raises :class:`_NameError` at anything outside the subset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def row(self, depth: int, closing: str = "") -> _Row:
        if depth > _MAX_DEPTH:
            raise _NameError("nested too deeply")
        items: list[_Node] = []
        while self.peek() and self.peek() != closing:
            char = self.peek()
            if char in "^_":
                if not items or isinstance(items[-1], _Scripts | _Space):
                    raise _NameError("a script with no base")
                items[-1] = self.scripts(items[-1], depth)
            elif char == "}":
                raise _NameError("unbalanced brace")
            else:
                items.append(self.atom(depth))
        if closing:
            if self.peek() != closing:
                raise _NameError("unbalanced brace")
            self.pos += 1
        return _Row(tuple(items))

    def group(self, depth: int) -> _Row:
        if self.peek() != "{":
            raise _NameError("expected a group")
        self.pos += 1
        return self.row(depth + 1, "}")

    def scripts(self, base: _Node, depth: int) -> _Scripts:
        sub = sup = None
        while self.peek() in ("^", "_") and self.peek():
            mark = self.peek()
            self.pos += 1
            arg = self.group(depth) if self.peek() == "{" else self.script_char()
            if mark == "_":
                if sub is not None:
                    raise _NameError("double subscript")
                sub = arg
            else:
                if sup is not None:
                    raise _NameError("double superscript")
                sup = arg
        return _Scripts(base, sub, sup)

    def script_char(self) -> _Node:
        char = self.peek()
        if not (char.isascii() and char.isalnum()) and char not in _UNICODE_GREEK and char != "\\":
            raise _NameError("a script must be a letter, a digit or a group")  # also refuses TeX's ^^ escapes
        return self.atom(0)

    def atom(self, depth: int) -> _Node:
        char = self.peek()
        if char == "\\":
            return self.command(depth)
        if char == "{":
            return self.group(depth)
        self.pos += 1
        if char.isascii() and char.isalpha():
            return _Atom(char, "mi", char)
        if char.isascii() and char.isdigit():
            return _Atom(char, "mn", char)
        if char in _UNICODE_GREEK:
            return _Atom(f"\\{_UNICODE_GREEK[char]} ", "mi", char)
        if char == " ":
            return _Space(" ", "0em")
        if char in _OPERATOR_CHARS:
            return _Atom(char, "mo", "′" if char == "'" else char)
        raise _NameError(f"character {char!r}")

    def command(self, depth: int) -> _Node:
        self.pos += 1
        if self.peek() in _SPACES:
            char = self.peek()
            self.pos += 1
            return _Space(f"\\{char}", _SPACES[char])
        match = re.compile(r"[A-Za-z]+").match(self.text, self.pos)
        if not match:
            raise _NameError("a lone backslash")
        word = match.group()
        self.pos = match.end()
        if word in _SYMBOL_WORDS:
            return _Atom(f"\\{word} ", "mi", _SYMBOL_WORDS[word])
        if word in _OPERATOR_WORDS:
            return _Atom(f"\\{word} ", "mo", _OPERATOR_WORDS[word])
        if word in _FUNCTION_WORDS:
            return _Row((_Atom(f"\\{word} ", "mi", word, upright=True), _Space("", "0.17em")))
        if word == "frac":
            return _Frac(self.group(depth), self.group(depth))
        if word in _UPRIGHT_WORDS:
            start = self.pos
            inner = self.group(depth)
            letters = self.text[start + 1:self.pos - 1]
            if not re.fullmatch(r"[A-Za-z]+", letters) or len(inner.items) != len(letters):
                raise _NameError("an upright name must be letters")
            return _Atom(rf"\mathrm{{{letters}}}", "mi", letters, upright=True)
        raise _NameError(f"command \\{word}")


def parse_name(text: str) -> _Row | None:
    """The parse of a name in the safe LaTeX subset, or None when it is outside it (the caller shows it as unsafe)."""
    if not text or len(text) > _MAX_NAME:
        return None
    try:
        return _merge_letters(_NameParser(text).row(0))
    except _NameError:
        return None


def _merge_letters(row: _Row) -> _Row:
    """Runs of two or more plain letters become one upright name (``dropout`` rather than d·r·o·p·o·u·t)."""
    items: list[_Node] = []
    for item in row.items:
        item = _merge_child(item)
        previous = items[-1] if items else None
        if (
            isinstance(item, _Atom) and item.tag == "mi" and len(item.latex) == 1
            and isinstance(previous, _Atom) and previous.tag == "mi"
            and (len(previous.latex) == 1 or previous.upright) and previous.text.isascii()
        ):
            letters = previous.text + item.text
            items[-1] = _Atom(rf"\mathrm{{{letters}}}", "mi", letters, upright=True)
        else:
            items.append(item)
    return _Row(tuple(items))


def _merge_child(node: _Node) -> _Node:
    if isinstance(node, _Row):
        return _merge_letters(node)
    if isinstance(node, _Scripts):
        return _Scripts(
            _merge_child(node.base),
            None if node.sub is None else _merge_child(node.sub),
            None if node.sup is None else _merge_child(node.sup),
        )
    if isinstance(node, _Frac):
        return _Frac(_merge_child(node.numerator), _merge_child(node.denominator))
    return node


def _name_latex(node: _Node) -> str:
    if isinstance(node, _Atom | _Space):
        return node.latex
    if isinstance(node, _Row):
        return "".join(_name_latex(item) for item in node.items)
    if isinstance(node, _Frac):
        return rf"\frac{{{_name_latex(node.numerator)}}}{{{_name_latex(node.denominator)}}}"
    text = f"{{{_name_latex(node.base)}}}"
    if node.sub is not None:
        text += f"_{{{_name_latex(node.sub)}}}"
    if node.sup is not None:
        text += f"^{{{_name_latex(node.sup)}}}"
    return text


#: Parameter names that spell λ without Python's keyword ``lambda`` (softshrink's lambd, l1's lam): shown as λ.
_KEYWORD_SPELLINGS = {"lambd": "lambda", "lam": "lambda"}


def display_symbol(symbol: sp.Symbol) -> sp.Symbol:
    """``symbol`` as a reader should see it: λ for ``lambd`` and ``lam``, otherwise itself."""
    name = _KEYWORD_SPELLINGS.get(symbol.name)
    return symbol if name is None else sp.Symbol(name, **symbol.assumptions0)


def is_plain_array(expr: sp.Basic) -> bool:
    """Whether ``expr`` is a named array a subscript may follow unbracketed (h³ takes ₁:₂; ∂C/∂h³ needs brackets)."""
    return isinstance(expr, sp.MatrixSymbol) and r"\frac" not in expr.name


def safe_name_latex(name: str) -> str:
    """LaTeX for ``name``: identifiers as SymPy prints them is the caller's job; here parsed names or *unsafe*."""
    tree = parse_name(name)
    return rf"\mathrm{{{UNSAFE_NAME}}}" if tree is None else _name_latex(tree)


class UnsafeMathError(ValueError):
    """Printed mathematics contained a TeX command that could act outside the document (never expected)."""


def _require_basic(value: object) -> sp.Basic:
    if not isinstance(value, sp.Basic):
        raise TypeError(f"report mathematics must be SymPy objects, got {type(value).__name__}")
    return value
