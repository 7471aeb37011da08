"""``Derivation``: what was derived for one rule and one input, computed once and read by every presenter.

``rule.derivation(wrt)`` (any :class:`RuleLike`: :class:`~symdl.Rule` or
:class:`~symdl.VectorRule`) returns the same frozen :class:`Derivation` each
time: the expression and its variables, the derivative by ``wrt`` (SymPy's,
with the kink convention applied), the textbook form when it says something
new, the kinks, the LaTeX lines, and — on first use — the proofs, the
derivation steps and the numpy kernels. The CLI (``symdl derive``, text and
JSON), the notebook display, the report sections and the standalone modules'
docstrings all format this one value; none of them calls ``sympy.diff``.

>>> import symdl
>>> r = symdl.rule("sigmoid")
>>> d = r.derivation()
>>> d is r.derivation()
True
>>> str(d.derivative), str(d.textbook)
('(1 - sigmoid(z))*sigmoid(z)', 'g*(1 - g)')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import sympy as sp

from ..codegen.kernel import Kernel
from ..display_hooks import Displayed
from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.proof import Proof
from ..symbolic.rounding import has_jumps
from .step import Math, Step

if TYPE_CHECKING:
    from .rule import Rule

__all__ = ["Derivation", "Derives", "RuleLike", "derivative_name", "long_fraction"]


@runtime_checkable
class RuleLike(Protocol):
    """What :class:`~symdl.Rule` and :class:`~symdl.VectorRule` both offer; presenters ask these instead of the class."""

    # Read-only (properties), so that a class whose attribute is narrower (a Literal, a subclass) still matches.
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def params(self) -> Mapping[str, sp.Expr]: ...

    @property
    def kink_convention(self) -> str: ...

    @property
    def element_wise(self) -> bool:
        """True for element-wise rules (scalar inputs, kinks, a derivative per input); False for index-form vector rules."""
        ...

    @property
    def inputs(self) -> tuple[Any, ...]: ...

    @property
    def wrt(self) -> Any: ...

    @property
    def expr(self) -> sp.Expr: ...

    @property
    def kinks(self) -> tuple[Any, ...]: ...

    @property
    def symbolic_params(self) -> tuple[str, ...]: ...

    @property
    def param_symbols(self) -> dict[str, sp.Symbol]: ...

    @property
    def notes(self) -> str: ...

    def head(self) -> sp.Expr: ...

    def variable(self, wrt: Any = None) -> Any: ...

    def derivative(self, wrt: Any = None) -> sp.Expr: ...

    def textbook(self, wrt: Any = None, in_output: bool = False) -> sp.Expr: ...

    def latex(self) -> dict[str, str]: ...

    def prove(self) -> dict[str, Proof]: ...

    def numeric(self) -> Kernel: ...

    def numeric_derivative(self, wrt: Any = None) -> Kernel: ...

    def derivation_steps(self, proofs: Mapping[str, Proof]) -> Sequence[Step]: ...

    def kink_steps(self) -> Sequence[Step]: ...

    def derivation(self, wrt: Any = None) -> Derivation: ...


def derivative_name(kind: str) -> str:
    """The letter a rule's value is called in LaTeX: g (activation), L (loss), Ω (penalty), f (formula)."""
    return {"activation": "g", "loss": "L", "penalty": "\\Omega"}.get(kind, "f")


def _latex(rule: RuleLike, var: Any, derivative: sp.Expr, textbook: sp.Expr | None) -> dict[str, str]:
    latex = dict(rule.latex())
    if var != rule.wrt:
        # rule.latex() differentiates by the first input; another input needs its own lines.
        head = rf"\frac{{\partial {derivative_name(rule.kind)}}}{{\partial {sp.latex(var)}}}"
        latex["derivative"] = f"{head} = {sp.latex(derivative)}"
        latex["textbook"] = f"{head} = {sp.latex(textbook if textbook is not None else derivative)}"
    return latex


@dataclass(frozen=True, eq=False)
class Derivation(Displayed):
    """∂ rule / ∂ wrt with everything shown about it: derivative, textbook form, kinks, LaTeX; proofs, steps, kernels lazily.

    Build it with ``rule.derivation(wrt)``, which caches it on the rule.
    ``textbook`` is None when the textbook form would repeat the derivative;
    ``output`` is the symbol standing for the rule's value in it (g in
    σ′ = g(1 − g)), if any. ``kinks`` are the rule's kinks when ``wrt`` is its
    first input (kinks are located in the first input only), else empty.
    ``params`` maps each parameter to its value, or None when it is symbolic
    (formula parameters declared without a value).
    """

    rule: RuleLike
    wrt: Any
    derivative: sp.Expr
    textbook: sp.Expr | None
    output: sp.Symbol | None
    latex: Mapping[str, str]
    kinks: tuple[Any, ...]
    params: Mapping[str, sp.Expr | None]

    @classmethod
    def of(cls, rule: RuleLike, wrt: Any = None) -> Derivation:
        """Derive ``rule`` by ``wrt`` (default: its first input) now; prefer the cached ``rule.derivation(wrt)``."""
        var = rule.variable(wrt)
        derivative = rule.derivative(var)
        form = rule.textbook(var, in_output=True)
        textbook = None if form == derivative else form
        output = getattr(getattr(rule, "definition", None), "output", None)
        params: dict[str, sp.Expr | None] = dict(rule.params)
        for name in rule.param_symbols:
            params.setdefault(name, None)
        return cls(
            rule=rule,
            wrt=var,
            derivative=derivative,
            textbook=textbook,
            output=output if textbook is not None and isinstance(output, sp.Symbol) else None,
            latex=_latex(rule, var, derivative, textbook),
            kinks=tuple(rule.kinks) if var == rule.wrt else (),
            params=params,
        )

    @property
    def expression(self) -> sp.Expr:
        """The forward expression, symbolic in the parameters."""
        return self.rule.expr

    @property
    def variables(self) -> tuple[Any, ...]:
        """The rule's inputs (symbols, or ``IndexedBase`` arrays for vector rules)."""
        return tuple(self.rule.inputs)

    @property
    def definition(self) -> tuple[Math, ...]:
        """The rule's head equal to its expression, then each parameter equal to its value."""
        r = self.rule
        values = [_parameter_math(r.param_symbols[name], value) for name, value in r.params.items() if name in r.param_symbols]
        return (Math(r.head(), r.expr), *values)

    @property
    def kink_convention(self) -> str:
        return self.rule.kink_convention

    @property
    def symbolic_params(self) -> tuple[str, ...]:
        """Parameters without a value, in declaration order: no numeric code can be printed while there are any."""
        return tuple(name for name, value in self.params.items() if value is None)

    @cached_property
    def proofs(self) -> Mapping[str, Proof]:
        """Every identity the rule states (textbook and stable forms, named functions) proven exactly, once."""
        return self.rule.prove()

    def use_proofs(self, proofs: Mapping[str, Proof]) -> None:
        """Take ``proofs`` as :attr:`proofs`: this derivation's own verdicts, proven earlier and read back from a cache."""
        self.__dict__["proofs"] = dict(proofs)

    @property
    def proven(self) -> bool | None:
        """All proofs hold; None when there is nothing to prove."""
        return all(bool(p) for p in self.proofs.values()) if self.proofs else None

    def steps(self, *, proven: bool = True) -> tuple[Step, ...]:
        """How the rule's derivative arises, one rule of calculus at a time, then its textbook and stable forms and code.

        With ``proven`` each step carries the verdict of the proof behind it
        (running :attr:`proofs` on first use); without, the steps alone (fast).
        """
        cache = self.__dict__.setdefault("_steps", {})
        if proven not in cache:
            cache[proven] = tuple(self.rule.derivation_steps(self.proofs if proven else {}))
        return cache[proven]

    @cached_property
    def kink_steps(self) -> tuple[Step, ...]:
        """One step per kink: the one-sided limits and the value the convention returns (and the jumps of floor,
        ceil and round, which are no listed kinks)."""
        return tuple(self.rule.kink_steps()) if self.kinks or (self.wrt == self.rule.wrt and has_jumps(self.rule.expr, self.wrt)) else ()

    @cached_property
    def code_forward(self) -> sp.Expr:
        """The forward expression the generated code prints: the stable form where the rule has one, parameters bound."""
        return cast("Rule", self.rule).numeric_forward_expr()  # element-wise rules only, as the presenters ask

    @cached_property
    def code_derivative(self) -> sp.Expr:
        """The derivative by :attr:`wrt` the generated code prints (stable form, kink convention), parameters bound."""
        return cast("Rule", self.rule).numeric_derivative_expr(self.wrt)  # element-wise rules only

    @cached_property
    def code_form(self) -> Mapping[str, Any] | None:
        """The stable form the generated code prints for a formula (:mod:`symdl.symbolic.rewrite`), when one applies.

        ``{"expr", "derivative", "rewrites"}``: the rewritten forward expression and
        derivative, and the names of the rewrites used; None for library rules
        (their stable forms are part of their definition) and formulas the pass leaves alone.
        """
        from ..symbolic.rewrite import applied_rewrites

        if self.rule.kind != "formula":
            return None
        r = cast("Rule", self.rule)  # a formula is an element-wise rule
        d = r.definition
        if d.stable_expr is None and d.stable_derivative is None:
            return None
        stable = r.bind(d.stable_expr if d.stable_expr is not None else r.expr)
        return {
            "expr": str(self.code_forward),
            "derivative": str(self.code_derivative),
            # Those of the value, then those the derivative of its stable form needs (σ(1 − σ) → σ(z)σ(−z)).
            "rewrites": list(dict.fromkeys([*applied_rewrites(r.bind(r.expr)),
                                            *applied_rewrites(diff_away_from_jumps(stable, self.wrt))])),
        }

    @cached_property
    def kernels(self) -> tuple[Kernel, Kernel]:
        """The numpy kernels of the forward pass and of this derivative (VJP for vector rules), compiled once."""
        return self.rule.numeric(), self.rule.numeric_derivative(self.wrt)

    def record(self) -> dict[str, Any]:
        """This derivation as JSON-ready values (SymPy objects as ``str``): what ``symdl derive --format json`` prints."""
        proofs = self.proofs
        return {
            "name": self.rule.name,
            "kind": self.rule.kind,
            "inputs": [str(s) for s in self.variables],
            "wrt": str(self.wrt),
            "params": {name: None if value is None else str(value) for name, value in self.params.items()},
            "expr": str(self.expression),
            "derivative": str(self.derivative),
            "textbook": None if self.textbook is None else str(self.textbook),
            "output": None if self.output is None else str(self.output),
            "latex": dict(self.latex),
            "kinks": [
                {"at": str(k.at), "left": str(k.left), "right": str(k.right), "value": str(k.value)} for k in self.kinks
            ],
            "code_form": None if self.code_form is None else dict(self.code_form),
            "proven": self.proven,
            "proofs": {label: bool(p) for label, p in proofs.items()},
            "methods": {label: getattr(p, "method", "") for label, p in proofs.items()},
        }


class Derives:
    """Mixin of :class:`~symdl.Rule` and :class:`~symdl.VectorRule`: ``derivation(wrt)`` computed once per input and kept.

    It is also the cheap runtime test "is this a rule?" (``isinstance(x, Derives)``):
    an ``isinstance`` against the :class:`RuleLike` protocol would evaluate every
    property it names on Python < 3.12.
    """

    def derivation(self, wrt: Any = None) -> Derivation:
        """The :class:`Derivation` by ``wrt`` (default: the first input); the same object on every call."""
        var = self.variable(wrt)  # type: ignore[attr-defined]
        cache: dict[Any, Derivation] = self.__dict__.setdefault("_derivations", {})
        if var not in cache:
            cache[var] = Derivation.of(self, var)  # type: ignore[arg-type]
        return cache[var]


def long_fraction(value: object) -> bool:
    """p/q with q > 1000: a float's long exact fraction (PyTorch's upper = 1/3 as 3333333333333333/10¹⁶), which a
    derivation shows to six digits (≈ 0.333333), not exactly; a short one (1/6) and anything not rational are shown as they are."""
    return isinstance(value, sp.Rational) and value.q > 1000


def _parameter_math(symbol: sp.Symbol, value: Any) -> Math:
    """p = its value; a long fraction (:func:`long_fraction`) as p ≈ 0.333333."""
    if long_fraction(value):
        return Math(symbol, sp.Float(value, 6), relation="≈")
    return Math(symbol, value)
