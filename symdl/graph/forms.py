"""The SymPy functions a graph's equations apply: a rule's own forms (for code), or generic φ, φ′ (for proofs).

:class:`LibraryForms` gives each element-wise rule's stable forms with the
kink convention applied, exactly as :class:`symdl.Network` uses them
(:func:`symdl.network.rule_forms.activation_forms`). :class:`GenericForms`
replaces every rule by an undefined function f whose derivative is another
undefined function f′ (``f.fdiff() = f′``): a graph's backprop proven with
them holds for *every* choice of the rules, and each rule's own derivative is
proven by the rule library. Their witnesses (f(u) = u + u²/3, f′(u) = 1 + 2u/3,
and for a loss ℓ(a, y) = (a − y)²/2 + a³/5) turn a wrong claim into an exact
rational counterexample.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ..backprop.equations import ActivationForms, LossForms
from ..backprop.notation import ACTIVATION
from ..network.rule_forms import activation_forms, loss_forms
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule

__all__ = ["Forms", "GenericForms", "LibraryForms", "PenaltyForms"]

_U, _V = sp.symbols("u v", real=True)


class PenaltyForms:
    """Ω(w) and Ω'(w) as Lambdas."""

    def __init__(self, name: str, value: sp.Lambda, derivative: sp.Lambda) -> None:
        self.name, self.value, self.derivative = name, value, derivative


class Forms:
    """Rule → the Lambdas the equations apply (φ, φ′, ℓ, ∂ℓ/∂a, Ω, Ω'); ``output_form`` writes φ′ through φ's output."""

    output_form: bool = False

    def activation(self, rule: Rule | VectorRule) -> ActivationForms:
        raise NotImplementedError

    def loss(self, rule: Rule | VectorRule) -> LossForms:
        raise NotImplementedError

    def penalty(self, rule: Rule) -> PenaltyForms:
        raise NotImplementedError


class LibraryForms(Forms):
    """The rules' own forms, as :class:`symdl.Network` prints them."""

    def __init__(self, output_form: bool = False) -> None:
        self.output_form = output_form

    def activation(self, rule: Rule | VectorRule) -> ActivationForms:
        return activation_forms(rule, rule.name)

    def loss(self, rule: Rule | VectorRule) -> LossForms:
        return loss_forms(rule)

    def penalty(self, rule: Rule) -> PenaltyForms:
        (w,) = rule.inputs
        return PenaltyForms(rule.name, sp.Lambda(w, rule.numeric_forward_expr()), sp.Lambda(w, rule.numeric_derivative_expr()))


def _generic(name: str, arity: int) -> tuple[type[sp.Function], tuple[type[sp.Function], ...]]:
    """An undefined function f of ``arity`` arguments whose partial derivatives are undefined functions ∂ᵢf."""
    partials = tuple(sp.Function(f"{name}_d{i}" if arity > 1 else f"{name}_prime", real=True) for i in range(arity))

    def fdiff(self: sp.Function, argindex: int = 1) -> sp.Expr:
        return partials[argindex - 1](*self.args)

    f = type(name, (sp.Function,), {"fdiff": fdiff, "is_real": True, "nargs": arity})
    return f, partials


class GenericForms(Forms):
    """Every rule replaced by an undefined function with an undefined derivative, one per rule name."""

    def __init__(self) -> None:
        self.functions: dict[str, tuple[type[sp.Function], tuple[type[sp.Function], ...]]] = {}

    def _function(self, key: str, arity: int) -> tuple[type[sp.Function], tuple[type[sp.Function], ...]]:
        if key not in self.functions:
            self.functions[key] = _generic(key, arity)
        return self.functions[key]

    def activation(self, rule: Rule | VectorRule) -> ActivationForms:
        if not rule.element_wise:  # a vector rule stays itself: the proof expands its index form
            return ActivationForms(name=rule.name, forward=None, derivative=None, vector_rule=rule.name)
        if len(rule.inputs) > 1:  # learned inputs (PReLU's α): f(z, α, …) with a generic partial for each
            u = (_U, _V, *sp.symbols(f"w2:{len(rule.inputs)}", real=True))[:len(rule.inputs)]
            f, partials = self._function(f"sigma_{rule.name}", len(u))
            return ActivationForms(name=rf"{ACTIVATION}_{{{rule.name}}}", forward=sp.Lambda(u, f(*u)), derivative=sp.Lambda(u, partials[0](*u)),
                                   extras=tuple(s.name for s in rule.inputs[1:]), extra_partials=tuple(sp.Lambda(u, d(*u)) for d in partials[1:]))
        f, (fp,) = self._function(f"sigma_{rule.name}", 1)
        return ActivationForms(name=rf"{ACTIVATION}_{{{rule.name}}}", forward=sp.Lambda(_U, f(_U)), derivative=sp.Lambda(_U, fp(_U)))

    def loss(self, rule: Rule | VectorRule) -> LossForms:
        if not rule.element_wise:
            return LossForms(name=rule.name, value=None, gradient=None, vector_rule=rule.name)
        f, (fa, _) = self._function(f"loss_{rule.name}", 2)
        return LossForms(name=rule.name, value=sp.Lambda((_U, _V), f(_U, _V)), gradient=sp.Lambda((_U, _V), fa(_U, _V)))

    def penalty(self, rule: Rule) -> PenaltyForms:
        f, (fp,) = self._function(f"penalty_{rule.name}", 1)
        return PenaltyForms(rule.name, sp.Lambda(_U, f(_U)), sp.Lambda(_U, fp(_U)))

    def witnesses(self) -> Mapping[type[sp.Function], sp.Lambda]:
        """Each generic function and partial → a polynomial, consistent (f′ is the derivative of f's witness)."""
        out: dict[type[sp.Function], sp.Lambda] = {}
        for key, (f, partials) in self.functions.items():
            if len(partials) == 1:
                poly = _U + _U**2 / 3 + sp.Rational(1, 7)
                out[f], out[partials[0]] = sp.Lambda(_U, poly), sp.Lambda(_U, sp.diff(poly, _U))
            else:
                poly = (_U - _V) ** 2 / 2 + _U**3 / 5
                out[f] = sp.Lambda((_U, _V), poly)
                out[partials[0]] = sp.Lambda((_U, _V), sp.diff(poly, _U))
                out[partials[1]] = sp.Lambda((_U, _V), sp.diff(poly, _V))
        return out
