"""symdl's SymPy matrix-expression nodes: things applied to whole arrays (element-wise functions, vector rules, kernels).

The network's equations (:mod:`symdl.backprop.equations`) and the layers
(:mod:`symdl.layers`) build them; the network printer
(:mod:`symdl.codegen.network`) prints them.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str

__all__ = ["Elementwise", "KernelCall", "VectorRuleCall"]


def _str(name: str | Str) -> Str:
    """A describing argument as a SymPy ``Str`` (given as text, or as the Str itself when SymPy rebuilds the node)."""
    return name if isinstance(name, Str) else Str(name)


class _Applied(sp.MatrixExpr):
    """Something applied to whole arrays: two describing arguments, then the arrays (which share the result's shape)."""

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return self.args[2:]

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.arrays[0].shape


class Elementwise(_Applied):
    """f∘(X₁, …, X_k): the scalar function ``f`` (a ``Lambda``) applied entry by entry.

    ``name`` is how LaTeX shows f (``\\sigma'``); all arguments share one shape.
    """

    def __new__(cls, name: str, function: sp.Lambda, *arrays: sp.MatrixExpr) -> Elementwise:
        if not isinstance(function, sp.Lambda) or len(function.variables) != len(arrays):
            raise TypeError(f"{name}: a Lambda of {len(arrays)} variables is needed, got {function}")
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"{name}: arguments of different shapes {sorted(map(str, shapes))}")
        return sp.Basic.__new__(cls, _str(name), function, *arrays)

    @property
    def name(self) -> str:
        return self.args[0].name

    @property
    def function(self) -> sp.Lambda:
        return self.args[1]

    def scalar(self) -> sp.Expr:
        """f at the Lambda's own variables: the scalar expression printed as code."""
        return self.function.expr

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        args = ", ".join(printer._print(a) for a in self.arrays)
        return rf"{self.name}\left({args}\right)"

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"{self.name}({', '.join(printer._print(a) for a in self.arrays)})"


class VectorRuleCall(_Applied):
    """A vector rule (softmax, softmax_cross_entropy) applied to whole vectors: its value or a VJP.

    ``role`` is ``"value"`` (softmax(z)) or ``"vjp"``: J_f(X)ᵀ v by the rule's
    first input, with ``arrays`` = the rule's inputs followed by the cotangent
    v for an activation; a loss's VJP has no cotangent (it is ∇ₐℓ).
    """

    def __new__(cls, rule: str, role: str, *arrays: sp.MatrixExpr) -> VectorRuleCall:
        role = str(role)
        if role not in ("value", "vjp"):
            raise ValueError(f"role must be 'value' or 'vjp', got {role!r}")
        return sp.Basic.__new__(cls, _str(rule), _str(role), *arrays)

    @property
    def rule(self) -> str:
        return self.args[0].name

    @property
    def role(self) -> str:
        return self.args[1].name

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        inputs = [printer._print(a) for a in self.arrays]
        name = rf"\operatorname{{{self.rule}}}".replace("_", r"\_")
        if self.role == "value":
            return rf"{name}\left({', '.join(inputs)}\right)"
        if len(inputs) == 2 and self.rule != "softmax_cross_entropy":
            return rf"J_{{{name}}}\left({inputs[0]}\right)^{{T}} {inputs[1]}"
        return rf"\nabla_{{{inputs[0]}}} {name}\left({', '.join(inputs)}\right)"


class KernelCall(_Applied):
    """``kernel(*arrays)``: a batch-level numeric function (batch norm's forward and VJP) applied to whole arrays.

    The kernel is generated elsewhere from its own proven SymPy expressions
    (:mod:`symdl.layers.batchnorm`); ``label`` is how LaTeX shows it.
    """

    def __new__(cls, kernel: str, label: str, *arrays: sp.MatrixExpr) -> KernelCall:
        return sp.Basic.__new__(cls, _str(kernel), _str(label), *arrays)

    @property
    def kernel(self) -> str:
        return self.args[0].name

    @property
    def label(self) -> str:
        return self.args[1].name

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"{self.label}\left({', '.join(printer._print(a) for a in self.arrays)}\right)"

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"{self.kernel}({', '.join(printer._print(a) for a in self.arrays)})"
