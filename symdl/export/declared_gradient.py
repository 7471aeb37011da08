r"""A gradient of your own for an export: g(x) declared for ∂f/∂x, Keras' ``@tf.custom_gradient``, checked but not trusted.

>>> import symdl
>>> ste = declare_gradient(symdl.formula_rule("sign(z)"), "1")      # the straight-through estimator
>>> ste.is_derivative
False
>>> ste.summary().split(":")[0]
'declared gradient, not proven equal to the derivative'

The backward pass of ``to_jax(…, gradient=…)`` and ``to_torch(…, gradient=…)``
is the declared expression, parsed by symdl's formula parser (never ``eval``)
in the rule's inputs and parameters and printed in its stable form. Each
declared ∂f/∂xᵢ is compared with symdl's derivative by
:func:`symdl.rulebook.claims.check_derivative`: equal (the notebook's
``my_softplus`` with ``1 - 1/(1 + exp(z))``) is proven; otherwise (a
straight-through estimator, a clipped gradient) it is a *declared* gradient —
reported as such and never called proven; finite differences of the forward
would disagree with it, so nothing checks it against them. The comparison
excepts kinks; a declared value at one outside the one-sided derivatives'
range (relu with 7 at 0) is reported, not refused (``outside_kinks``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from ..rulebook.claims import DerivativeCheck, check_derivative
from ..rulebook.rule import Rule
from ..symbolic.grammar import FormulaError
from ..symbolic.parse import parse
from ..symbolic.rewrite import stabilise

__all__ = ["DeclaredGradient", "declare_gradient"]


@dataclass(frozen=True)
class DeclaredGradient:
    """gᵢ(x) declared for ∂f/∂xᵢ, each with its comparison to symdl's derivative (``checks``, in input order)."""

    rule: Rule
    gradients: tuple[sp.Expr, ...]
    checks: tuple[DerivativeCheck, ...]
    #: Each kink where a declared gᵢ lies outside [min(f'₋, f'₊), max(f'₋, f'₊)], the one-sided derivatives' range
    #: (the comparison excepts kinks, so relu with 7 at 0 is equal to the derivative): one phrase each, reported.
    outside_kinks: tuple[str, ...] = ()

    @property
    def is_derivative(self) -> bool:
        """Whether every declared gᵢ is proven equal to ∂f/∂xᵢ (kinks excepted)."""
        return all(c.proof.holds for c in self.checks)

    def gradient(self, x: sp.Symbol) -> sp.Expr:
        """The declared gᵢ of input ``x``, in its stable form."""
        return self.gradients[self.rule.inputs.index(x)]

    def summary(self) -> str:
        """One line: proven equal to the derivative, or a declared gradient and why it is not the derivative."""
        kinks = "".join(f"; {note}" for note in self.outside_kinks)
        if self.is_derivative:
            return ("declared gradient, equal to the derivative: "
                    + "; ".join(f"∂/∂{c.wrt}: {c.proof.method}" for c in self.checks) + kinks)
        wrong = [c for c in self.checks if not c.proof.holds]
        return ("declared gradient, not proven equal to the derivative: "
                + "; ".join(f"∂/∂{c.wrt} is {c.derivative}, declared {c.claimed}" + _where(c) for c in wrong) + kinks
                + "; the export's backward is the declared expression, which finite differences of the forward do not check")


def _outside_kinks(rule: Rule, claimed: sp.Expr, x: sp.Symbol) -> list[str]:
    """"at z = 0 the declared value 7 is outside [0, 1], the one-sided derivatives" for each kink of ``rule`` in ``x``
    where ``claimed`` lies outside the range of f'₋ and f'₊ (the subgradients of a convex kink, Clarke's in general).

    A kink, a one-sided derivative or a value that still names a parameter or another input is left undecided, and
    so is a comparison SymPy cannot decide (tanh(338) against 1: they differ in the 294th digit).
    """
    if x != rule.wrt:  # the kinks are in the rule's own variable (check_derivative's kinks)
        return []
    notes = []
    for kink in rule.kinks:
        at, left, right = (rule.bind(e) for e in (kink.at, kink.left, kink.right))
        if at.free_symbols or left.free_symbols or right.free_symbols:
            continue
        value = rule.bind(claimed).subs(x, at)
        if value.free_symbols or not value.is_extended_real:
            continue
        ordered = sp.Le(left, right)
        if ordered not in (sp.true, sp.false):
            continue
        low, high = (left, right) if ordered is sp.true else (right, left)
        if sp.Lt(value, low) is sp.true or sp.Gt(value, high) is sp.true:
            notes.append(f"at {x} = {at} the declared value {value} is outside [{low}, {high}], the one-sided derivatives")
    return notes


def _where(check: DerivativeCheck) -> str:
    """Where the two differ (the kinks excepted), and by how much when that is a constant."""
    point = check.proof.counterexample
    difference = check.claimed - check.derivative
    if point is None:
        return f" (their difference {sp.simplify(difference)} is not shown to be 0)"
    # sign's straight-through 1 − 0: a constant is worth naming; a difference in the inputs is not simplified here
    constant = sp.simplify(difference) if not difference.free_symbols else sp.S.Zero
    by = f"they differ by the constant {constant}; " if constant != 0 else ""
    at = ", ".join(f"{k} = {v}" for k, v in point.items())
    return f" ({by}at {at}: {check.derivative.subs(point)} vs {check.claimed.subs(point)})"


def declare_gradient(rule: Rule, gradient: str | Mapping[str, str]) -> DeclaredGradient:
    """``gradient`` (formula text for a one-input rule, or input name → text for each input) as a :class:`DeclaredGradient`."""
    if not isinstance(rule, Rule):
        raise ValueError(f"gradient= applies to element-wise rules and formulas, not to the vector rule {getattr(rule, 'name', rule)!r}")
    names = [s.name for s in rule.inputs]
    if isinstance(gradient, str):
        if len(names) != 1:
            raise ValueError(f"gradient: {rule.name!r} has inputs {', '.join(names)}; give one formula per input, {{'{names[0]}': '…', …}}")
        texts = {names[0]: gradient}
    elif isinstance(gradient, Mapping):
        texts = dict(gradient)
        if set(texts) != set(names):  # a set: keys of mixed types (1, "x") do not sort
            raise ValueError(f"gradient: give formula text for each input of {rule.name!r} ({', '.join(names)}), got keys {sorted(map(str, texts))}")
        wrong = next((k for k in names if not isinstance(texts[k], str)), None)
        if wrong is not None:
            raise ValueError(f"gradient: the formula for {wrong!r} must be text, got {type(texts[wrong]).__name__}")
    else:
        raise TypeError(f"gradient: expected formula text or a mapping input → text, got {type(gradient).__name__}")
    symbols = {s.name: s for s in (*rule.inputs, *rule.param_symbols.values())}
    gradients, checks, outside = [], [], []
    for x in rule.inputs:
        try:
            parsed = parse(texts[x.name], names, list(rule.param_symbols))
        except FormulaError as error:  # which text: the rule's own formula is parsed too, and several inputs have one each
            raise FormulaError(f"gradient for {x.name}: {str(error).removeprefix('formula: ')}") from None
        claimed = rule.bind(parsed.xreplace({s: symbols[s.name] for s in parsed.free_symbols if s.name in symbols}))
        checks.append(check_derivative(rule, claimed, x))
        outside += _outside_kinks(rule, claimed, x)
        gradients.append(stabilise(claimed))
    return DeclaredGradient(rule, tuple(gradients), tuple(checks), tuple(outside))
