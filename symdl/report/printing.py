"""LaTeX and MathML for report mathematics: SymPy's printers, made safe and taught symdl's matrix nodes.

Every name that reaches a document (a ``Symbol``, a ``MatrixSymbol``, a
function, the label of an :class:`~symdl.backprop.equations.Elementwise` or
:class:`~symdl.backprop.equations.KernelCall` node) is either a plain identifier
(``[A-Za-z][A-Za-z0-9_]*``, printed by SymPy as usual: ``alpha`` → α) or is
parsed by :func:`parse_name` as a tiny, closed subset of LaTeX — letters,
digits, Greek letters, ``^``/``_`` scripts, ``\\frac``, ``\\partial``,
``\\nabla``, ``\\operatorname``/``\\mathrm`` of letters — and printed again
from the parse. A name outside both is shown as *unsafe*: no character of it
is written. So a crafted name cannot smuggle ``\\input{…}``, ``\\write18`` or
``</math><script>`` into a document. SymPy's MathML printer writes text nodes
unescaped; :class:`ReportMathMLPrinter` escapes them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from xml.dom.minidom import Element, Text

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE, precedence_traditional

from ..symbolic.functions import NamedFunction
from .model import Math

__all__ = [
    "UNSAFE_NAME",
    "ReportLatexPrinter",
    "ReportMathMLPrinter",
    "latex_math",
    "mathml_math",
    "md_code",
    "parse_name",
    "tex_text",
    "tex_verbatim",
]

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


def safe_name_latex(name: str) -> str:
    """LaTeX for ``name``: identifiers as SymPy prints them is the caller's job; here parsed names or *unsafe*."""
    tree = parse_name(name)
    return rf"\mathrm{{{UNSAFE_NAME}}}" if tree is None else _name_latex(tree)


# --- LaTeX ---------------------------------------------------------------------

_DANGEROUS = re.compile(
    r"\\(?:input|include|openin|openout|read|write|immediate|special|def|edef|gdef|xdef|let|catcode|csname|"
    r"expandafter|newcommand|renewcommand|providecommand|usepackage|documentclass|directlua|shipout|scantokens|"
    r"makeatletter|endinput|outer|everyjob|everymath|everydisplay|everypar|jobname|errmessage|message|loop)(?![A-Za-z])"
)


class UnsafeMathError(ValueError):
    """Printed mathematics contained a TeX command that could act outside the document (never expected)."""


def _check_latex(text: str) -> str:
    # A second line of defence behind the name checks: refuse rather than write such a command.
    # SymPy's cases and matrices use & as the column separator; #, %, $ and ~ never appear in its output.
    if _DANGEROUS.search(text) or "^^" in text or any(c in text for c in "#%$~"):
        raise UnsafeMathError(f"refusing to write LaTeX with a dangerous command: {text[:80]!r}")
    return text


class ReportLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with safe names, ⊙ for the Hadamard product and symdl's matrix nodes."""

    # Our own print-method name, so the nodes' _latex methods (which write names verbatim) are not used.
    printmethod = "_symdl_report_latex"

    def __init__(self) -> None:
        super().__init__({"mat_symbol_style": "plain"})

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if SAFE_IDENTIFIER.fullmatch(expr.name) or SAFE_SCRIPTED.fullmatch(expr.name):
            return super()._print_Symbol(expr, style)
        return safe_name_latex(expr.name)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return self._print_Symbol(expr, style=self._settings["mat_symbol_style"])

    def _hprint_Function(self, func: str) -> str:
        if SAFE_IDENTIFIER.fullmatch(func):
            return super()._hprint_Function(func)
        return safe_name_latex(func)

    def _print_Str(self, s: sp.Basic) -> str:
        return safe_name_latex(s.name)

    def _print_Function(self, expr: sp.Function, exp: str | None = None) -> str:
        # SymPy's dispatch skips intermediate classes of a Function, so named functions are recognised here.
        if isinstance(expr, NamedFunction):
            return self._print_NamedFunction(expr, exp)
        return super()._print_Function(expr, exp)

    def _print_NamedFunction(self, expr: sp.Function, exp: str | None = None) -> str:
        base = rf"{safe_name_latex(type(expr).latex_name)}\left({self._print(expr.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base

    def _own_latex(self, expr: sp.Function, exp: str | None = None) -> str:
        # symdl's own functions write fixed commands around this printer's output of their arguments.
        return expr._latex(self, exp)

    _print_RowMax = _print_ShiftMax = _print_Centered = _print_LogSumExp = _print_FirstArgMax = _own_latex
    # The index form's generic σ, σ′, C and ∂C/∂a (symdl.backprop.index_form).
    _print_sigma = _print_sigma_prime = _print_cost = _print_cost_prime = _own_latex

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return r" \odot ".join(self.parenthesize(arg, PRECEDENCE["Pow"], strict=True) for arg in expr.args)

    def _call(self, name_latex: str, arrays: tuple[sp.Basic, ...]) -> str:
        return rf"{name_latex}\left({', '.join(self._print(a) for a in arrays)}\right)"

    def _print_Elementwise(self, expr: sp.Basic) -> str:
        return self._call(safe_name_latex(expr.name), expr.arrays)

    def _print_KernelCall(self, expr: sp.Basic) -> str:
        return self._call(safe_name_latex(expr.label), expr.arrays)

    def _print_VectorRuleCall(self, expr: sp.Basic) -> str:
        name = _rule_operator_latex(expr.rule)
        inputs = [self._print(a) for a in expr.arrays]
        if expr.role == "value":
            return rf"{name}\left({', '.join(inputs)}\right)"
        if len(inputs) == 2 and expr.rule != "softmax_cross_entropy":
            return rf"J_{{{name}}}\left({inputs[0]}\right)^{{T}} {inputs[1]}"
        return rf"\nabla_{{{inputs[0]}}} {name}\left({', '.join(inputs)}\right)"


def _rule_operator_latex(rule: str) -> str:
    if not SAFE_IDENTIFIER.fullmatch(rule):
        return rf"\mathrm{{{UNSAFE_NAME}}}"
    return rf"\operatorname{{{rule}}}".replace("_", r"\_")


_TEX_RELATIONS = {"=": "=", "≠": r"\neq", "≤": r"\leq", "≈": r"\approx"}


def _require_basic(value: object) -> sp.Basic:
    if not isinstance(value, sp.Basic):
        raise TypeError(f"report mathematics must be SymPy objects, got {type(value).__name__}")
    return value


def latex_parts(math: Math) -> tuple[str, str | None]:
    """``(lhs, relation + rhs)`` in LaTeX, the split an ``align*`` needs; the second is None for a lone expression."""
    printer = ReportLatexPrinter()
    lhs = _check_latex(printer.doprint(_require_basic(math.lhs)))
    if math.rhs is None:
        return lhs, None
    rhs = _check_latex(printer.doprint(_require_basic(math.rhs)))
    return lhs, f"{_TEX_RELATIONS[math.relation]} {rhs}"


def latex_math(math: Math) -> str:
    """One equation as LaTeX (math mode, no delimiters)."""
    lhs, rest = latex_parts(math)
    return lhs if rest is None else f"{lhs} {rest}"


# --- MathML ----------------------------------------------------------------------

_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);")


def _escape_keeping_entities(data: str) -> str:
    """``data`` with <, > and stray & escaped; SymPy's own character references (``&#x2218;``) kept."""
    out, last = [], 0
    for match in _ENTITY.finditer(data):
        out.append(_escape(data[last:match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(_escape(data[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _EscapedText(Text):
    def writexml(self, writer, indent="", addindent="", newl=""):
        if self.data:
            writer.write(f"{indent}{_escape_keeping_entities(self.data)}{newl}")


class ReportMathMLPrinter(MathMLPresentationPrinter):
    """SymPy's presentation-MathML printer with escaped text, safe names, cases and symdl's matrix nodes."""

    printmethod = "_symdl_report_mathml"

    def __init__(self) -> None:
        super().__init__({"mat_symbol_style": "plain"})

        def create_text(data: str) -> Text:
            node = _EscapedText()
            node.data = data
            node.ownerDocument = self.dom
            return node

        self.dom.createTextNode = create_text

    def _element(self, tag: str, text: str | None = None, **attributes: str) -> Element:
        element = self.dom.createElement(tag)
        for key, value in attributes.items():
            element.setAttribute(key, value)
        if text is not None:
            element.appendChild(self.dom.createTextNode(text))
        return element

    def _row(self, *children: Element) -> Element:
        row = self._element("mrow")
        for child in children:
            row.appendChild(child)
        return row

    def _name(self, name: str) -> Element:
        tree = parse_name(name)
        if tree is None:
            return self._element("mi", UNSAFE_NAME, mathvariant="normal")
        return self._tree(tree)

    def _tree(self, node: _Node) -> Element:
        if isinstance(node, _Atom):
            if node.tag == "mi" and node.upright and len(node.text) == 1:
                return self._element("mi", node.text, mathvariant="normal")
            return self._element(node.tag, node.text)
        if isinstance(node, _Space):
            return self._element("mspace", width=node.width)
        if isinstance(node, _Row):
            if len(node.items) == 1:
                return self._tree(node.items[0])
            return self._row(*(self._tree(item) for item in node.items))
        if isinstance(node, _Frac):
            return self._frac(node)
        if node.sub is not None and node.sup is not None:
            tag, parts = "msubsup", (node.base, node.sub, node.sup)
        else:
            tag, parts = ("msub", (node.base, node.sub)) if node.sub is not None else ("msup", (node.base, node.sup))
        element = self._element(tag)
        for part in parts:
            element.appendChild(self._tree(part))
        return element

    def _frac(self, node: _Frac) -> Element:
        element = self._element("mfrac")
        element.appendChild(self._tree(node.numerator))
        element.appendChild(self._tree(node.denominator))
        return element

    def _print_Symbol(self, sym: sp.Symbol, style: str = "plain") -> Element:
        name = sym.name
        accent = next((a for a in _ACCENTS if name.endswith(a) and SAFE_IDENTIFIER.fullmatch(name[: -len(a)] or "-")), None)
        if accent is not None:  # xhat → x with a hat over it, as SymPy's LaTeX printer shows it
            over = self._element("mover", accent="true")
            over.appendChild(self._print_Symbol(sp.Symbol(name[: -len(accent)]), style))
            over.appendChild(self._element("mo", _ACCENTS[accent]))
            return over
        if SAFE_IDENTIFIER.fullmatch(name) or SAFE_SCRIPTED.fullmatch(name):
            return super()._print_Symbol(sym, style)
        return self._name(name)

    def _print_MatrixSymbol(self, sym: sp.MatrixSymbol) -> Element:
        return self._print_Symbol(sym, style=self._settings["mat_symbol_style"])

    def _print_Str(self, s: sp.Basic) -> Element:
        return self._name(s.name)

    def _print_Function(self, e: sp.Function) -> Element:
        name = type(e).__name__
        if isinstance(e, NamedFunction):
            return self._print_NamedFunction(e)
        if isinstance(e, AppliedUndef) and not SAFE_IDENTIFIER.fullmatch(name):
            return self._call(self._name(name), e.args)
        return super()._print_Function(e)

    def _print_NamedFunction(self, e: sp.Function) -> Element:
        return self._call(self._name(type(e).latex_name), e.args)

    def _call(self, head: Element, arrays: tuple[sp.Basic, ...]) -> Element:
        return self._row(head, self._element("mo", "\u2061"), self._paren_comma_separated(*arrays))

    def _print_Elementwise(self, e: sp.Basic) -> Element:
        return self._call(self._name(e.name), e.arrays)

    def _print_KernelCall(self, e: sp.Basic) -> Element:
        return self._call(self._name(e.label), e.arrays)

    def _print_VectorRuleCall(self, e: sp.Basic) -> Element:
        name = e.rule if SAFE_IDENTIFIER.fullmatch(e.rule) else UNSAFE_NAME
        head = self._element("mi", name)
        if e.role == "value":
            return self._call(head, e.arrays)
        if len(e.arrays) == 2 and e.rule != "softmax_cross_entropy":
            jacobian = self._element("msub")
            jacobian.appendChild(self._element("mi", "J"))
            jacobian.appendChild(head)
            transpose = self._element("msup")
            transpose.appendChild(self._row(jacobian, self._paren_comma_separated(e.arrays[0])))
            transpose.appendChild(self._element("mi", "T"))
            return self._row(transpose, self._print(e.arrays[1]))
        gradient = self._element("msub")
        gradient.appendChild(self._element("mo", "∇"))
        gradient.appendChild(self._print(e.arrays[0]))
        return self._row(gradient, self._call(head, e.arrays))

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> Element:
        row = self._element("mrow")
        for i, arg in enumerate(expr.args):
            if i:
                row.appendChild(self._element("mo", "⊙"))
            row.appendChild(self.parenthesize(arg, precedence_traditional(expr), False))
        return row

    def _print_sigma(self, e: sp.Function) -> Element:
        return self._call(self._element("mi", "σ"), e.args)

    def _print_sigma_prime(self, e: sp.Function) -> Element:
        return self._call(self._row(self._element("mi", "σ"), self._element("mo", "′")), e.args)

    def _print_cost(self, e: sp.Function) -> Element:
        return self._call(self._element("mi", "C"), e.args)

    def _print_cost_prime(self, e: sp.Function) -> Element:
        frac = self._element("mfrac")
        frac.appendChild(self._row(self._element("mo", "∂"), self._element("mi", "C")))
        frac.appendChild(self._row(self._element("mo", "∂"), self._element("mi", "a")))
        return self._call(frac, e.args)

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta) -> Element:
        sub = self._element("msub")
        sub.appendChild(self._element("mi", "δ"))
        sub.appendChild(self._row(*(self._print(a) for a in expr.args)))
        return sub

    def _under(self, operator: str, index: sp.Basic) -> Element:
        under = self._element("munder")
        under.appendChild(self._element("mi", operator))
        under.appendChild(self._print(index))
        return under

    def _print_RowMax(self, expr: sp.Basic) -> Element:
        u, index, _ = expr.args
        return self._row(self._under("max", index), self._print(u))

    _print_ShiftMax = _print_RowMax

    def _print_Centered(self, expr: sp.Basic) -> Element:
        u, index, _ = expr.args
        return self._row(self._element("mo", "("), self._print(u), self._element("mo", "−"),
                         self._under("max", index), self._print(u), self._element("mo", ")"))

    def _print_LogSumExp(self, expr: sp.Basic) -> Element:
        u, index, size = expr.args
        return self._print(sp.log(sp.Sum(sp.exp(u), (index, 0, size - 1)), evaluate=False))

    def _print_FirstArgMax(self, expr: sp.Basic) -> Element:
        u, index, k, _ = expr.args
        return self._row(self._element("mo", "["), self._print(k), self._element("mo", "="),
                         self._under("argmax", index), self._print(u), self._element("mo", "]"))

    def _print_Limit(self, expr: sp.Limit) -> Element:
        """lim with its direction: z → 0⁻ and z → 0⁺ (SymPy's printer drops the side)."""
        function, var, point, direction = expr.args
        target = self._print(point)
        side = str(direction)
        if side in ("+", "-"):
            target = self._element("msup")
            target.appendChild(self._print(point))
            target.appendChild(self._element("mo", "+" if side == "+" else "−"))
        under = self._element("munder")
        under.appendChild(self._element("mi", "lim"))
        under.appendChild(self._row(self._print(var), self._element("mo", "→"), target))
        return self._row(under, self.parenthesize(function, PRECEDENCE["Mul"], False))

    def _print_Subs(self, expr: sp.Subs) -> Element:
        """f evaluated at a point: the expression, a bar, and the substitution underneath (SymPy prints subs(...))."""
        function, variables, points = expr.args
        at = self._element("mrow")
        for k, (var, point) in enumerate(zip(variables, points)):
            if k:
                at.appendChild(self._element("mo", ","))
            at.appendChild(self._row(self._print(var), self._element("mo", "="), self._print(point)))
        bar = self._element("msub")
        bar.appendChild(self._row(self.parenthesize(function, PRECEDENCE["Mul"], False), self._element("mo", "|", stretchy="true")))
        bar.appendChild(at)
        return bar

    def _print_Piecewise(self, expr: sp.Piecewise) -> Element:
        table = self._element("mtable", columnalign="left left")
        for value, condition in expr.args:
            row = self._element("mtr")
            cell = self._element("mtd")
            cell.appendChild(self._print(value))
            row.appendChild(cell)
            cell = self._element("mtd")
            if condition == sp.true:
                cell.appendChild(self._element("mtext", "otherwise"))
            else:
                cell.appendChild(self._row(self._element("mtext", "for\u00a0"), self._print(condition)))
            row.appendChild(cell)
            table.appendChild(row)
        return self._row(self._element("mo", "{", stretchy="true"), table)


_MATHML_RELATIONS = {"=": "=", "≠": "≠", "≤": "≤", "≈": "≈"}
_MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "msub", "msup", "msubsup", "mfrac", "msqrt", "mroot", "mtable", "mtr",
    "mtd", "mtext", "mspace", "mover", "munder", "munderover", "mstyle", "mpadded", "mphantom", "menclose",
}


def mathml_math(math: Math) -> str:
    """One equation as a ``<math display="block">`` element (presentation MathML)."""
    printer = ReportMathMLPrinter()
    parts = [printer.doprint(_require_basic(math.lhs))]
    if math.rhs is not None:
        parts += [f"<mo>{_MATHML_RELATIONS[math.relation]}</mo>", printer.doprint(_require_basic(math.rhs))]
    text = f'<math display="block"><mrow>{"".join(parts)}</mrow></math>'
    tags = set(re.findall(r"</?([A-Za-z][A-Za-z0-9-]*)", text))
    if not tags <= _MATHML_TAGS or re.search(r"\son[a-z]+=|href|src=", text):
        raise UnsafeMathError(f"refusing to write MathML with unexpected markup: {sorted(tags - _MATHML_TAGS)}")
    return text


# --- plain text for TeX ----------------------------------------------------------

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\textasciicircum{}",
    "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_TEX_UNICODE = {
    "−": "$-$", "≤": r"$\leq$", "≥": r"$\geq$", "≠": r"$\neq$", "≈": r"$\approx$", "⊙": r"$\odot$", "∘": r"$\circ$",
    "·": r"$\cdot$", "×": r"$\times$", "∂": r"$\partial$", "∇": r"$\nabla$", "∞": r"$\infty$", "±": r"$\pm$",
    "→": r"$\to$", "∈": r"$\in$", "⁺": "$^{+}$", "√": r"$\surd$", "Σ": r"$\Sigma$", "ℓ": r"$\ell$", "—": "---", "–": "--",
    "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}", "✓": "yes", "✗": "no", "≡": r"$\equiv$", "↦": r"$\mapsto$", "⇒": r"$\Rightarrow$", "∀": r"$\forall$",
    "∑": r"$\sum$", "∏": r"$\prod$", "∫": r"$\int$", "⊤": r"$\top$", "⁻": "$^{-}$", "\u00a0": "~", "′": "$'$",
}


def tex_text(text: str) -> str:
    """Plain text as LaTeX text: TeX's specials escaped, common math characters spelled, anything else ASCII or '?'."""
    out = []
    for char in text:
        if char in _TEX_SPECIALS:
            out.append(_TEX_SPECIALS[char])
        elif char in _TEX_UNICODE:
            out.append(_TEX_UNICODE[char])
        elif char in _UNICODE_GREEK:
            out.append(f"$\\{_UNICODE_GREEK[char]}$")
        elif char.isascii():
            out.append(char if char.isprintable() or char == "\n" else " ")
        elif char == "\u0302" and out:  # a combining hat: x̂
            out[-1] = f"$\\hat{{{out[-1].strip('$')}}}$"
        else:
            out.append(_decomposed(char))
    return "".join(out)


def tex_verbatim(code: str) -> str:
    """Code for a ``verbatim`` block: ASCII only (others '?'), and no line that could end the block early."""
    text = "".join(c if (c.isascii() and (c.isprintable() or c == "\n")) else ("    " if c == "\t" else "?") for c in code)
    return text.replace("\\end{verbatim}", "\\end {verbatim}")


def md_code(code: str) -> str:
    """Code for a fenced Markdown block: a run of backticks that could close the fence is broken up."""
    return re.sub(r"`{3,}", lambda m: " ".join(m.group(0)), code)


def _decomposed(char: str) -> str:
    """A character TeX's fonts lack, by its Unicode decomposition: ² → $^{2}$, ₗ → $_{l}$, ½ → $\\tfrac{1}{2}$, else '?'."""
    kind, _, codes = unicodedata.decomposition(char).partition(" ")
    folded = unicodedata.normalize("NFKC", char)
    plain = folded.replace("\u2044", "/")
    if not (plain.isascii() and plain.isprintable()):
        return "?"
    if kind == "<super>" and plain.isalnum():
        return f"$^{{{plain}}}$"
    if kind == "<sub>" and plain.isalnum():
        return f"$_{{{plain}}}$"
    if kind == "<fraction>" and "/" in plain:
        top, bottom = plain.split("/", 1)
        return f"$\\tfrac{{{top}}}{{{bottom}}}$" if (top + bottom).isdigit() else "?"
    return "".join(_TEX_SPECIALS.get(c, c) for c in plain)


_KEY = re.compile(r"[a-z0-9_-]+")


def section_anchor(key: str) -> str:
    """``key`` checked as a section identifier (``[a-z0-9_-]+``), usable as an anchor, label or file stem."""
    if not _KEY.fullmatch(key) or len(key) > 100:
        raise ValueError(f"section key {key[:40]!r} is not an identifier of the form [a-z0-9_-]+")
    return key
