"""Presentation MathML for report mathematics: SymPy's printer with escaped text, safe names, cases and matrix nodes.

SymPy's MathML printer writes text nodes unescaped; :class:`ReportMathMLPrinter`
escapes them, prints names from :func:`symdl.report.names.parse_name`'s parse,
and :func:`mathml_math` refuses any tag outside presentation MathML.
"""

from __future__ import annotations

import re
from xml.dom.minidom import Element, Text

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE, precedence_traditional

from ..backprop.notation import ACTIVATION, ACTIVATION_PRIME
from ..symbolic.functions import NamedFunction
from ..symbolic.stop_gradient import stop_gradient
from .latex_printer import by_an_element
from .model import Math
from .names import (
    _ACCENTS,
    SAFE_IDENTIFIER,
    SAFE_SCRIPTED,
    UNSAFE_NAME,
    UnsafeMathError,
    _Atom,
    _Frac,
    _Node,
    _require_basic,
    _Row,
    _Space,
    display_symbol,
    is_plain_array,
    parse_name,
)

__all__ = ["ReportMathMLPrinter", "mathml_math"]

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

    def __init__(self, partial: bool | None = None) -> None:
        """``partial``: True writes every derivative ∂, False d (∂ still by an array element), None as SymPy decides."""
        super().__init__({"mat_symbol_style": "plain"})
        self._partial = partial

        def create_text(data: str) -> Text:
            node = _EscapedText()
            node.data = data
            node.ownerDocument = self.dom
            return node

        self.dom.createTextNode = create_text

    def mathml_tag(self, e: sp.Basic) -> str:
        # SymPy's _print_Derivative takes its d from here: ∂ by an array element, as the LaTeX printer.
        if isinstance(e, sp.Derivative) and by_an_element(e):
            return "&#x2202;"
        return str(super().mathml_tag(e))

    def _print_Derivative(self, e: sp.Derivative) -> Element:
        # SymPy's layout; its d or ∂ (in the fraction's <mo> elements) set to the section's convention.
        row = super()._print_Derivative(e)
        if self._partial is None:
            return row
        d = "&#x2202;" if self._partial or by_an_element(e) else "&dd;"
        for mo in row.firstChild.getElementsByTagName("mo"):
            if mo.firstChild is not None and mo.firstChild.data in ("&#x2202;", "&dd;"):
                mo.firstChild.data = d
        return row

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
            tag = "msubsup"
        else:
            tag = "msub" if node.sub is not None else "msup"
        parts = [part for part in (node.base, node.sub, node.sup) if part is not None]
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
        sym = display_symbol(sym)
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
        if isinstance(e, stop_gradient):
            return self._call(self._name(r"\operatorname{sg}"), e.args)
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

    def _print_FormulaKernel(self, expr: sp.Basic) -> Element:
        """A formula layer's node in a graph: [its index expression] with the output indices below."""
        sub = self._element("msub")
        sub.appendChild(self._row(self._element("mo", "["), self._print(expr.display_expr()), self._element("mo", "]")))
        sub.appendChild(self._row(*(self._print(i) for i in expr.output)))
        return sub

    _print_FormulaParamKernel = _print_FormulaKernel

    def _print_Concat(self, expr: sp.Basic) -> Element:
        """[X₁; …; X_k]: the blocks stacked in one column, in brackets."""
        table = self._element("mtable")
        for block in expr.args:
            cell = self._element("mtd")
            cell.appendChild(self._print(block))
            row = self._element("mtr")
            row.appendChild(cell)
            table.appendChild(row)
        return self._row(self._element("mo", "["), table, self._element("mo", "]"))

    def _print_Slice(self, expr: sp.Basic) -> Element:
        """X_{a:b}: the entries a, …, b of X, counted from 1 (both ends included)."""
        start, stop = expr.bounds
        base = self._print(expr.array)
        if not is_plain_array(expr.array):
            base = self._row(self._element("mo", "("), base, self._element("mo", ")"))
        sub = self._element("msub")
        sub.appendChild(base)
        sub.appendChild(self._row(self._element("mn", str(start + 1)), self._element("mo", ":"), self._element("mn", str(stop))))
        return sub

    def _print_ZeroMatrix(self, expr: sp.ZeroMatrix) -> Element:
        return self._element("mn", "0")  # a zero block, as the LaTeX printer writes it (SymPy's own escapes 𝟘 twice)

    def _print_Stopped(self, expr: sp.Basic) -> Element:
        return self._call(self._name(r"\operatorname{sg}"), expr.args)

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> Element:
        # As the LaTeX printer: a sum followed by another term is closed, (Σ_i f_i) + b, so that b is not read
        # as inside the sum (batch norm's ∂L/∂μ).
        row = self._element("mrow")
        terms = self._as_ordered_terms(expr, order=order)
        for i, term in enumerate(terms):
            if i:
                negative = term.could_extract_minus_sign()
                row.appendChild(self._element("mo", "-" if negative else "+"))
                term = -term if negative else term
            printed = self._print(term)
            if isinstance(term, sp.Sum) and i < len(terms) - 1:
                printed = self._row(self._element("mo", "("), printed, self._element("mo", ")"))
            row.appendChild(printed)
        return row

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> Element:
        row = self._element("mrow")
        for i, arg in enumerate(expr.args):
            if i:
                row.appendChild(self._element("mo", "⊙"))
            row.appendChild(self.parenthesize(arg, precedence_traditional(expr), False))
        return row

    def _print_sigma(self, e: sp.Function) -> Element:
        return self._call(self._name(ACTIVATION), e.args)  # the generic activation φ (σ is the logistic sigmoid)

    def _print_sigma_prime(self, e: sp.Function) -> Element:
        return self._call(self._name(ACTIVATION_PRIME), e.args)

    def _print_cost(self, e: sp.Function) -> Element:
        return self._call(self._element("mi", "ℓ"), e.args)

    def _print_cost_prime(self, e: sp.Function) -> Element:
        frac = self._element("mfrac")
        frac.appendChild(self._row(self._element("mo", "∂"), self._element("mi", "ℓ")))
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

    def _print_SparseThreshold(self, expr: sp.Basic) -> Element:
        """sparsemax's τ over the index: τ_t(z_t)."""
        u, index, _ = expr.args
        return self._row(self._under("τ", index), self._element("mo", "("), self._print(u), self._element("mo", ")"))

    def _print_SimplexThreshold(self, expr: sp.Basic) -> Element:
        return self._call(self._element("mi", "τ"), expr.args)

    def _print_Centered(self, expr: sp.Basic) -> Element:
        m, u_m = expr.shift_over_fresh_index()
        return self._row(self._element("mo", "("), self._print(expr.args[0]), self._element("mo", "−"),
                         self._under("max", m), self._print(u_m), self._element("mo", ")"))

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


def inline_mathml(tree: _Node) -> str:
    """A parsed name (a ``$…$`` segment of prose) as an inline ``<math>`` element."""
    text = f"<math>{ReportMathMLPrinter()._tree(tree).toxml()}</math>"
    if not set(re.findall(r"</?([A-Za-z][A-Za-z0-9-]*)", text)) <= _MATHML_TAGS:
        raise UnsafeMathError("refusing to write MathML with unexpected markup")
    return text


def mathml_math(math: Math, display: str = "block", partial: bool | None = None) -> str:
    """One equation as a ``<math display="block">`` element (presentation MathML); ``display="inline"`` for running text.

    ``partial``: the section's derivative convention (:class:`ReportMathMLPrinter`)."""
    if display not in ("block", "inline"):
        raise ValueError(f"display must be 'block' or 'inline', got {display!r}")
    printer = ReportMathMLPrinter(partial)
    parts = [printer.doprint(_require_basic(math.lhs))]
    if math.rhs is not None:
        parts += [f"<mo>{_MATHML_RELATIONS[math.relation]}</mo>", printer.doprint(_require_basic(math.rhs))]
    text = f'<math display="{display}"><mrow>{"".join(parts)}</mrow></math>'
    tags = set(re.findall(r"</?([A-Za-z][A-Za-z0-9-]*)", text))
    if not tags <= _MATHML_TAGS or re.search(r"\son[a-z]+=|href|src=", text):
        raise UnsafeMathError(f"refusing to write MathML with unexpected markup: {sorted(tags - _MATHML_TAGS)}")
    return text
