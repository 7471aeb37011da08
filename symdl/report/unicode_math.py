"""Mathematics as plain Unicode text for terminals: z¹ = W¹x + b¹, δ¹ = (W²)ᵀδ² ⊙ φ′(z¹), ∂C/∂W¹ = δ¹(x)ᵀ.

Names go through the report's safe name parser (:func:`symdl.report.names.parse_name`):
Greek control words become Greek letters, scripts become Unicode super- and
subscripts where every character has one (``W^{1}`` → W¹, else W^(l+1)),
``\\frac{a}{b}`` becomes a/b; a name outside that subset is shown as
``unsafe``. Expressions are printed by SymPy's string printer with matrix
products juxtaposed, ⊙ for the Hadamard product, ᵀ for transposes, · for
scalar products, − for minus and √ for square roots.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp
from sympy.printing.str import StrPrinter

from .names import (
    _SYMBOL_WORDS,
    SAFE_IDENTIFIER,
    UNSAFE_NAME,
    _Atom,
    _Frac,
    _Node,
    _Row,
    _Space,
    is_plain_array,
    parse_name,
)

__all__ = ["UnicodeMathPrinter", "tree_text", "unicode_equation", "unicode_expr", "unicode_label", "unicode_name", "unicode_scripts"]

_SUPERSCRIPTS = dict(zip("0123456789+-−=()abcdefghijklmnoprstuvwxyzLT",
                         "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴸᵀ"))
_SUBSCRIPTS = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
#: SymPy's names for functions that have a symbol (sigmoid → σ, Phi → Φ).
_FUNCTION_SYMBOLS = {"sigmoid": "σ", "Phi": "Φ", "softplus": "softplus", "stop_gradient": "sg"}


def _scripted(text: str, table: dict[str, str], mark: str) -> str:
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def _node_text(node: _Node) -> str:
    if isinstance(node, _Atom):
        return node.text
    if isinstance(node, _Space):
        return "" if node.latex == "\\!" else " "
    if isinstance(node, _Row):
        return "".join(_node_text(item) for item in node.items)
    if isinstance(node, _Frac):
        return f"{_node_text(node.numerator)}/{_node_text(node.denominator)}"
    text = _node_text(node.base)
    if node.sub is not None:
        text += _scripted(_node_text(node.sub), _SUBSCRIPTS, "_")
    if node.sup is not None:
        text += _scripted(_node_text(node.sup), _SUPERSCRIPTS, "^")
    return text


def _grouped(text: str) -> str:
    """A factor in a juxtaposed product: a name with a fraction bar (∂C/∂u²) in parentheses."""
    return f"({text})" if "/" in text or " " in text else text


def _script_pattern(mark: str) -> re.Pattern[str]:
    # a one-letter base (not the end of a longer name such as softmax_cross_entropy), then {…} or one character
    return re.compile(r"(?<![A-Za-z0-9_])([A-Za-z\u0370-\u03ff)])" + re.escape(mark)
                      + r"(?:\{([^{}]{1,40})\}|([A-Za-z0-9])(?![A-Za-z0-9_]))")


_SUBSCRIPT, _SUPERSCRIPT = _script_pattern("_"), _script_pattern("^")


def unicode_scripts(text: str) -> str:
    """Pseudo-TeX scripts in prose as Unicode: ``e^{−z}`` → e⁻ᶻ, ``z_i`` → zᵢ, ``e^{z/α}`` → e^(z/α) (no superscript /).

    Subscripts first, so ``e^{z_i}`` reads e^(zᵢ); a name such as ``softmax_cross_entropy`` is left alone.
    """
    def scripts(table: dict[str, str], mark: str) -> Callable[[re.Match[str]], str]:
        return lambda m: m.group(1) + _scripted(m.group(2) or m.group(3), table, mark)

    return _SUPERSCRIPT.sub(scripts(_SUPERSCRIPTS, "^"), _SUBSCRIPT.sub(scripts(_SUBSCRIPTS, "_"), text))


def tree_text(tree: _Node) -> str:
    """A parsed name (:func:`symdl.report.names.parse_name`) as Unicode text."""
    return _node_text(tree).replace("∂ ", "∂")


def unicode_label(label: str) -> str:
    """A library-written label (``BP2 (layer 1)``, ``dC/d\\alpha^{1}``) with any LaTeX-named word as text."""
    return " ".join(unicode_name(word) if "\\" in word or "{" in word else word for word in label.split(" "))


def unicode_name(name: str) -> str:
    """A symbol's name as text: ``W^{1}`` → W¹, ``\\delta^{l+1}`` → δ^(l+1), ``alpha`` → α, ``sigma_B`` → σ_B."""
    if name in _SYMBOL_WORDS:
        return _SYMBOL_WORDS[name]
    if SAFE_IDENTIFIER.fullmatch(name):
        head, sep, tail = name.partition("_")
        head = _SYMBOL_WORDS.get(head, head)
        return head + (_scripted(tail, _SUBSCRIPTS, "_") if sep else "")
    tree = parse_name(name)
    return UNSAFE_NAME if tree is None else tree_text(tree).replace(" ", "")  # a symbol's name is one token


class UnicodeMathPrinter(StrPrinter):
    """SymPy's string printer with the conventions of printed mathematics (see the module docstring)."""

    # Objects' own ``_sympystr`` would print LaTeX names (σ as \\sigma); nodes without a method here use it below.
    printmethod = "_unicode_text"

    def _print_Elementwise(self, expr: sp.Expr) -> str:
        return f"{unicode_name(expr.name)}({', '.join(self._print(a) for a in expr.arrays)})"

    def _print_KernelCall(self, expr: sp.Expr) -> str:
        return f"{unicode_name(expr.label)}({', '.join(self._print(a) for a in expr.arrays)})"

    def _print_VectorRuleCall(self, expr: sp.Expr) -> str:
        inputs = [self._print(a) for a in expr.arrays]
        if expr.role == "value":
            return f"{expr.rule}({', '.join(inputs)})"
        if len(inputs) == 2 and expr.rule != "softmax_cross_entropy":
            return f"J_{expr.rule}({inputs[0]})ᵀ{_grouped(inputs[1])}"
        return f"∇_{inputs[0]} {expr.rule}({', '.join(inputs)})"

    def _print_Concat(self, expr: sp.Expr) -> str:
        return "[" + "; ".join(self._print(a) for a in expr.args) + "]"

    def _print_Slice(self, expr: sp.Expr) -> str:
        """X₍a:b₎: the entries a, …, b of X, counted from 1 (both ends included)."""
        start, stop = expr.bounds
        inner = self._print(expr.array)
        base = inner if is_plain_array(expr.array) else f"({inner})"
        return base + _scripted(f"{start + 1}:{stop}", _SUBSCRIPTS, "_")

    def _print_Stopped(self, expr: sp.Expr) -> str:
        return f"sg({self._print(expr.args[0])})"

    def emptyPrinter(self, expr: object) -> str:
        own = getattr(expr, "_sympystr", None)
        return own(self) if callable(own) else super().emptyPrinter(expr)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return unicode_name(expr.name)

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return unicode_name(expr.name)

    def _print_Function(self, expr: sp.Function) -> str:
        name = expr.func.__name__
        shown = _FUNCTION_SYMBOLS.get(name) or unicode_name(name)
        return f"{shown}({', '.join(self._print(a) for a in expr.args)})"

    def _print_AppliedUndef(self, expr: sp.Function) -> str:
        return self._print_Function(expr)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        inner = self._print(expr.arg)
        return f"{inner}ᵀ" if isinstance(expr.arg, sp.MatrixSymbol) else f"({inner})ᵀ"

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return " ⊙ ".join(self.parenthesize(a, 45) for a in expr.args)

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        coeff, factors = expr.as_coeff_matrices()
        parts = [self._matrix_factor(f) for f in factors]
        head = "" if coeff == 1 else ("−" if coeff == -1 else f"{self._print(coeff)}·")
        return head + "".join(parts)

    def _matrix_factor(self, factor: sp.Expr) -> str:
        text = self._print(factor)
        return _grouped(text) if isinstance(factor, sp.MatrixSymbol | sp.Transpose) else f"({text})"

    def _print_Mul(self, expr: sp.Mul) -> str:
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.args
        if exp == sp.Rational(1, 2):
            inner = self._print(base)
            return f"√{inner}" if base.is_Atom else f"√({inner})"
        if exp.is_Integer and exp > 1:
            return self.parenthesize(base, 60, strict=True) + "".join(_SUPERSCRIPTS[c] for c in str(exp))
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Exp1(self, expr: sp.Expr) -> str:
        return "e"

    def _print_Pi(self, expr: sp.Expr) -> str:
        return "π"

    def _print_Infinity(self, expr: sp.Expr) -> str:
        return "∞"

    def _print_NegativeInfinity(self, expr: sp.Expr) -> str:
        return "−∞"

    def parenthesize(self, item: sp.Basic, level: int, strict: bool = False) -> str:
        if isinstance(item, sp.Sum) and level >= 40:  # Σ binds looser than the product or power around it
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return unicode_name(str(expr.label))

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        indices = "".join(self._print(i) for i in expr.indices)
        return self._print(expr.base) + _scripted(indices, _SUBSCRIPTS, "_")

    def _print_KroneckerDelta(self, expr: sp.Expr) -> str:
        return "δ" + _scripted("".join(self._print(i) for i in expr.args), _SUBSCRIPTS, "_")

    def _print_Sum(self, expr: sp.Sum) -> str:
        indices = "".join(self._print(limit[0]) for limit in expr.limits)
        return f"Σ{_scripted(indices, _SUBSCRIPTS, '_')} {self.parenthesize(expr.function, 60)}"

    def _print_Max(self, expr: sp.Expr) -> str:
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr: sp.Expr) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"|{self._print(expr.args[0])}|"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        pieces = [f"{self._print(e)} if {self._print(c)}" if c is not sp.true else self._print(e) for e, c in expr.args]
        return "{" + "; ".join(pieces) + "}"

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        op = {"<=": "≤", ">=": "≥", "!=": "≠", "==": "="}.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        wrt = "".join(f"∂{self._print(v)}" + ("" if n == 1 else _scripted(str(n), _SUPERSCRIPTS, "^"))
                      for v, n in expr.variable_count)
        return f"∂/{wrt} {self.parenthesize(expr.expr, 60)}"


def unicode_expr(expr: sp.Basic) -> str:
    """``expr`` as one line of Unicode mathematics."""
    text = UnicodeMathPrinter({"order": "none"}).doprint(expr).replace(" - ", " − ").replace("(-", "(−")
    return "−" + text[1:] if text.startswith("-") else text


def unicode_equation(lhs: sp.Basic, rhs: sp.Basic) -> str:
    """``lhs = rhs`` as one line of Unicode mathematics."""
    return f"{unicode_expr(lhs)} = {unicode_expr(rhs)}"
