"""LaTeX for report mathematics: SymPy's LaTeX printer with safe names, ⊙ and symdl's matrix nodes.

Names go through :mod:`symdl.report.names`; the printed text is checked once
more for TeX commands that could act outside the document.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.conventions import requires_partial
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..excerpt import excerpt
from ..symbolic.functions import NamedFunction
from .model import Math
from .names import (
    SAFE_IDENTIFIER,
    SAFE_SCRIPTED,
    UNSAFE_NAME,
    UnsafeMathError,
    _require_basic,
    display_symbol,
    is_plain_array,
    safe_name_latex,
)

__all__ = ["ReportLatexPrinter", "by_an_element", "latex_math", "latex_parts"]


def by_an_element(expr: sp.Derivative) -> bool:
    """Whether ``expr`` differentiates by an element of an array (a partial derivative, whatever SymPy would print)."""
    return any(isinstance(v, sp.Indexed) for v in expr.variables)

_DANGEROUS = re.compile(
    r"\\(?:input|include|openin|openout|read|write|immediate|special|def|edef|gdef|xdef|let|catcode|csname|"
    r"expandafter|newcommand|renewcommand|providecommand|usepackage|documentclass|directlua|shipout|scantokens|"
    r"makeatletter|endinput|outer|everyjob|everymath|everydisplay|everypar|jobname|errmessage|message|loop)(?![A-Za-z])"
)


def _check_latex(text: str) -> str:
    # A second line of defence behind the name checks: refuse rather than write such a command.
    # SymPy's cases and matrices use & as the column separator; #, %, $ and ~ never appear in its output.
    if _DANGEROUS.search(text) or "^^" in text or any(c in text for c in "#%$~"):
        raise UnsafeMathError(f"refusing to write LaTeX with a dangerous command: {excerpt(text)}")
    return text


class ReportLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with safe names, ⊙ for the Hadamard product and symdl's matrix nodes."""

    # Our own print-method name, so the nodes' _latex methods (which write names verbatim) are not used.
    printmethod = "_symdl_report_latex"

    def __init__(self, partial: bool | None = None) -> None:
        """``partial``: True writes every derivative ∂, False d (∂ still by an array element), None as SymPy decides."""
        super().__init__({"mat_symbol_style": "plain"})
        self._partial = partial

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        expr = display_symbol(expr)
        if SAFE_IDENTIFIER.fullmatch(expr.name) or SAFE_SCRIPTED.fullmatch(expr.name):
            return super()._print_Symbol(expr, style)
        return safe_name_latex(expr.name)

    def _sympy_own_latex(self, expr: sp.Basic) -> str:
        # SymPy's constants carry their LaTeX in _latex, which this printer's own printmethod would skip (π → \text{\Pi}).
        return str(expr._latex(self))

    _print_NumberSymbol = _print_Infinity = _print_NegativeInfinity = _sympy_own_latex  # π, γ, φ, G; ±∞
    _print_ComplexInfinity = _print_ImaginaryUnit = _sympy_own_latex

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        # SymPy's loop, with one more bracket: a sum followed by another term is closed, (Σ_i f_i) + b, so that
        # b is not read as inside the sum (batch norm's ∂L/∂μ).
        terms = self._as_ordered_terms(expr, order=order)
        tex = ""
        for i, term in enumerate(terms):
            if i == 0:
                pass
            elif term.could_extract_minus_sign():
                tex += " - "
                term = -term
            else:
                tex += " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term) or (isinstance(term, sp.Sum) and i < len(terms) - 1):
                term_tex = rf"\left({term_tex}\right)"
            tex += term_tex
        return tex

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        # SymPy's layout, with the d or ∂ of the section's convention (symdl.report.derivative_notation). By an array
        # element (w_pq, z_k, x̂_pj) the differentiated quantity depends on the other elements too: ∂, not d.
        if by_an_element(expr) or (requires_partial(expr.expr) if self._partial is None else self._partial):
            d = r"\partial"
        else:
            d = self._settings["diff_operator_latex"]
        by, order = "", 0
        for x, count in reversed(expr.variable_count):
            order += count
            by += f"{d} {self._print(x)}" if count == 1 else f"{d} {self.parenthesize_super(self._print(x))}^{{{self._print(count)}}}"
        head = rf"\frac{{{d}}}{{{by}}}" if order == 1 else rf"\frac{{{d}^{{{self._print(order)}}}}}{{{by}}}"
        negative = any(arg.could_extract_minus_sign() for arg in expr.args)
        return f"{head} {self.parenthesize(expr.expr, PRECEDENCE['Mul'], is_neg=negative, strict=True)}"

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
    _print_SparseThreshold = _print_SimplexThreshold = _own_latex  # sparsemax's τ
    _print_stop_gradient = _own_latex  # \operatorname{sg}(u)
    # The index form's generic σ, σ′, C and ∂C/∂a (symdl.backprop.index_form).
    _print_sigma = _print_sigma_prime = _print_cost = _print_cost_prime = _own_latex

    def _print_FormulaKernel(self, expr: sp.Basic) -> str:
        """A formula layer's node in a graph: [its index expression]_{output indices}."""
        indices = " ".join(self._print(i) for i in expr.output)
        return rf"\left[{self._print(expr.display_expr())}\right]_{{{indices}}}"

    _print_FormulaParamKernel = _print_FormulaKernel

    def _print_Concat(self, expr: sp.Basic) -> str:
        """[X₁; …; X_k]: the blocks stacked in one column."""
        return r"\begin{bmatrix}" + r" \\ ".join(self._print(a) for a in expr.args) + r"\end{bmatrix}"

    def _print_Slice(self, expr: sp.Basic) -> str:
        """X_{a:b}: the entries a, …, b of X, counted from 1 (a textbook's block, both ends included)."""
        start, stop = expr.bounds
        inner = self._print(expr.array)
        base = f"{{{inner}}}" if is_plain_array(expr.array) else rf"\left({inner}\right)"
        return f"{base}_{{{start + 1}:{stop}}}"

    def _print_Stopped(self, expr: sp.Basic) -> str:
        return rf"\operatorname{{sg}}\left({self._print(expr.args[0])}\right)"

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


def latex_parts(math: Math, partial: bool | None = None) -> tuple[str, str | None]:
    """``(lhs, relation + rhs)`` in LaTeX, the split an ``align*`` needs; the second is None for a lone expression.

    ``partial``: the section's derivative convention (:class:`ReportLatexPrinter`)."""
    printer = ReportLatexPrinter(partial)
    lhs = _check_latex(printer.doprint(_require_basic(math.lhs)))
    if math.rhs is None:
        return lhs, None
    rhs = _check_latex(printer.doprint(_require_basic(math.rhs)))
    return lhs, f"{_TEX_RELATIONS[math.relation]} {rhs}"


def latex_math(math: Math, partial: bool | None = None) -> str:
    """One equation as LaTeX (math mode, no delimiters); ``partial`` as for :func:`latex_parts`."""
    lhs, rest = latex_parts(math, partial)
    return lhs if rest is None else f"{lhs} {rest}"
