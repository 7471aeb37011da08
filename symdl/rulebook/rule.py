"""Rule: one element-wise piece of network math held as a SymPy expression — it derives, proves, prints and compiles.

Registered rules come from :func:`symdl.rulebook.registry.rule`; :func:`formula_rule`
makes one from user formula text, parsed safely (never ``eval``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Literal

import sympy as sp

from ..budget import shown
from ..codegen.kernel import Kernel, compile_kernel
from ..display_hooks import Displayed, Plottable
from ..excerpt import excerpt
from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.functions import NamedFunction
from ..symbolic.piecewise_forms import heaviside_piecewise, minmax_piecewise
from ..symbolic.poles import prove_equal
from ..symbolic.proof import Proof, prove_named_function
from ..symbolic.rewrite import stabilise, stable_at_values
from .definition import (
    Definition,
    Jumps,
    Kind,
    Kink,
    KinkConvention,
    check_convention,
    exact_param,
)
from .derivation import Derives
from .derivation_steps import derivative_steps, head, jump_steps, kink_step
from .rule_kinks import removable, rule_jumps, rule_kinks, with_kink_values
from .step import Step

__all__ = ["Rule", "formula_rule"]


def formula_rule(
    text: str | sp.Basic,
    wrt: str = "z",
    params: Mapping[str, float | None] | None = None,
    *,
    symbols: Sequence[str] = (),
    kink_convention: KinkConvention = "pytorch",
) -> Rule:
    """A rule from user formula text, parsed safely by :func:`symdl.symbolic.parse` (never ``eval``), or from a SymPy expression.

    ``wrt`` is the variable to differentiate by; ``symbols`` are further
    variables (inputs); ``params`` maps parameter names to values (None keeps
    one symbolic, which the numeric code then refuses). A SymPy expression is
    checked node by node against the same whitelist as text
    (:func:`symdl.symbolic.from_sympy.from_sympy`): its symbols are matched by
    name to ``wrt``, ``symbols`` and ``params``, and it is never printed and
    re-parsed or passed to ``sympify``.
    """
    from ..symbolic.from_sympy import from_sympy
    from ..symbolic.parse import FormulaError, parse

    check_convention(kink_convention)
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping name → value (or None), got {type(params).__name__}")
    if isinstance(symbols, str) or not all(isinstance(s, str) for s in symbols):
        raise TypeError(f"symbols must be a sequence of names, got {symbols!r}")
    if not isinstance(wrt, str):
        raise TypeError(f"wrt must be a name, got {wrt!r}")
    params = dict(params or {})
    names = [wrt, *[s for s in symbols if s != wrt]]
    if isinstance(text, sp.Basic):
        expr = from_sympy(text, symbols=names, params=list(params))
        text = str(expr)  # the exact form (floats as decimals, real symbols): saved models re-parse it
    else:
        expr = parse(text, symbols=names, params=list(params))
    by_name = {s.name: s for s in expr.free_symbols}
    unused = [n for n in params if n not in by_name]
    if unused:  # a misspelt parameter (delta for d) would silently do nothing
        raise FormulaError(
            f"formula: parameter {excerpt(unused[0])} is not used by {excerpt(str(text))}; "
            f"the formula uses {', '.join(sorted(by_name))} (give only the parameters it uses)"
        )
    inputs = tuple(by_name.get(n, sp.Symbol(n, real=True)) for n in names)
    param_symbols = {n: by_name.get(n, sp.Symbol(n, real=True)) for n in params}
    values = {n: exact_param(n, v) for n, v in params.items() if v is not None}
    if not expr.has(inputs[0]):
        raise FormulaError(f"formula: does not depend on {wrt!r}; the variable to differentiate by must appear")
    # max/min and Heaviside as Piecewise: a derivative takes the branch that holds at the kink
    expr = expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min)), minmax_piecewise)
    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), heaviside_piecewise)
    # The text as typed is what is shown and proven; code prints the rewrite pass's stable form (proven equal).
    # A stable forward can still have a derivative that cancels: sigmoid(z) differentiates to σ(1 − σ),
    # which the pass prints as σ(z)σ(−z).
    stable = stabilise(expr)
    # where the pass finds more once the parameters' values are in, code prints that form, proven at those values only
    stable, at_values = stable_at_values(expr, stable, {param_symbols[n]: v for n, v in values.items()})
    raw = {s: diff_away_from_jumps(stable, s, shown(text)) for s in inputs}
    partials = {s: stabilise(d) for s, d in raw.items()}
    if stable == expr and partials == raw:
        definition = Definition(expr=expr, inputs=inputs, textbook=None)
    else:
        definition = Definition(
            expr=expr, inputs=inputs, textbook=None, stable_expr=None if stable == expr else stable,
            stable_derivative=partials[inputs[0]], stable_partials={s: partials[s] for s in inputs[1:]},
            stable_at_values=at_values,
        )
    return Rule(text, "formula", definition, param_symbols, values, kink_convention, text)


class Rule(Derives, Displayed, Plottable):
    """One piece of network math: forward expression, derivative, proof, kinks, LaTeX and numeric code."""

    def __init__(
        self,
        name: str,
        kind: Kind,
        definition: Definition,
        param_symbols: Mapping[str, sp.Symbol],
        param_values: Mapping[str, sp.Expr],
        kink_convention: KinkConvention,
        summary: str,
    ) -> None:
        self.name = name
        self.kind = kind
        self.definition = definition
        self.param_symbols = dict(param_symbols)
        self.params = dict(param_values)
        self.kink_convention = kink_convention
        self.summary = summary

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"rule({self.name!r}{', ' if args else ''}{args})"


    #: Scalar inputs, kinks and a derivative per input (see :class:`~symdl.rulebook.derivation.RuleLike`).
    element_wise: Literal[True] = True  # a Literal: `if r.element_wise:` narrows Rule | VectorRule for the type checker

    @property
    def symbolic_params(self) -> tuple[str, ...]:
        """Parameters declared without a value (formula rules), sorted: no numeric code until they have one."""
        return tuple(sorted(name for name in self.param_symbols if name not in self.params))

    @property
    def notes(self) -> str:
        return ""

    def head(self) -> sp.Expr:
        """The rule applied to its inputs as an undefined function: g(z), L(a, y), Ω(w) or f(z)."""
        return head(self)

    def variable(self, wrt: sp.Symbol | str | None = None) -> sp.Symbol:
        """The input named ``wrt`` (default: the first); ValueError naming the inputs when there is none."""
        return self._input(wrt)

    def derivation_steps(self, proofs: Mapping[str, Proof]) -> list[Step]:
        """How the derivative by the first input arises (:func:`~symdl.rulebook.derivation_steps.derivative_steps`)."""
        return derivative_steps(self, proofs)

    def kink_steps(self) -> list[Step]:
        """One step per kink: one-sided limits and the convention's value; one naming the jumps of floor, ceil, round."""
        return [kink_step(self, k) for k in self.kinks] + jump_steps(self)

    # --- the symbolic side -------------------------------------------------

    @property
    def inputs(self) -> tuple[sp.Symbol, ...]:
        """The symbols the rule is a function of; the derivative is taken by the first."""
        return self.definition.inputs

    @property
    def wrt(self) -> sp.Symbol:
        return self.inputs[0]

    @property
    def expr(self) -> sp.Expr:
        """The forward expression, symbolic in the parameters."""
        return self.definition.expr

    @property
    def param_subs(self) -> dict[sp.Symbol, sp.Expr]:
        return {self.param_symbols[k]: v for k, v in self.params.items() if k in self.param_symbols}

    def _input(self, wrt: sp.Symbol | str | None) -> sp.Symbol:
        if wrt is None:
            return self.wrt
        for s in self.inputs:
            if s == wrt or s.name == wrt:
                return s
        names = ", ".join(s.name for s in self.inputs)
        raise ValueError(f"rule {self.name!r} has no input {wrt!s}; its inputs: {names}")

    def derivative(self, wrt: sp.Symbol | str | None = None) -> sp.Expr:
        """d expr / d wrt as SymPy derives it, with the kink convention applied at kinks and the limit from both sides
        at each removable point (:attr:`removable`: softplus(z − c) written out gives 1/2 at z = c, not SymPy's 0; by
        another input too: ∂/∂a of sin(z − a)/(z − a) is 0 at a = z, not nan)."""
        var = self._input(wrt)
        derived = diff_away_from_jumps(self.expr, var, shown(self.name))
        return self._with_kink_values(derived, var)

    def _with_kink_values(self, derived: sp.Expr, var: sp.Symbol | None = None) -> sp.Expr:
        """``derived`` (by ``var``, the variable unless given) with the convention's value at each kink and the limit
        at each removable point (:func:`~symdl.rulebook.rule_kinks.with_kink_values`)."""
        return with_kink_values(self, derived, var=var)

    def textbook(self, wrt: sp.Symbol | str | None = None, in_output: bool = False) -> sp.Expr:
        """The textbook form of the derivative; with ``in_output`` written in terms of the output."""
        var = self._input(wrt)
        form = self.definition.textbook if var == self.wrt else self.definition.other_textbooks.get(var)
        if form is None:
            return self.derivative(var)
        if in_output or self.definition.output is None:
            return form
        return form.subs(self.definition.output, self.expr)

    @cached_property
    def kinks(self) -> tuple[Kink, ...]:
        """Points where the derivative jumps (at the bound parameter values), with one-sided values and the value
        returned (:func:`~symdl.rulebook.rule_kinks.rule_kinks`)."""
        return rule_kinks(self)

    @cached_property
    def removable(self) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]:
        """(p, lim f'(p±), SymPy's f'(p)) where f' is continuous and :meth:`derivative` returns the limit, not SymPy's
        value (:func:`~symdl.rulebook.rule_kinks.removable`)."""
        return removable(self)

    @cached_property
    def jumps(self) -> Jumps:
        """The floor, ceiling and round of the variable, whose jumps (infinitely many) are not kinks, and the kinks
        that move with their values (:func:`~symdl.rulebook.rule_kinks.rule_jumps`); falsy when there are none."""
        return rule_jumps(self)

    def identities(self) -> dict[str, sp.Expr]:
        """Each identity :meth:`prove` shows, as the expression that must be 0."""
        return {label: lhs - rhs for label, (lhs, rhs) in self._identity_sides().items()}

    def _identity_sides(self) -> dict[str, tuple[sp.Expr, sp.Expr]]:
        """Each identity of :meth:`identities` as (lhs, rhs): at a pole both sides are compared, not their difference."""
        d = self.definition
        out = {}
        if d.textbook is not None:
            out["derivative - textbook"] = (diff_away_from_jumps(self.expr, self.wrt), self.textbook())
        for var in d.other_textbooks:
            out[f"d/d{var} - textbook"] = (diff_away_from_jumps(self.expr, var), self.textbook(var))
        # Stable forms found at the bound values are claimed, and proven, there only.
        typed = self.bind(self.expr) if d.stable_at_values else self.expr
        if d.stable_expr is not None:
            out["stable forward - expr"] = (d.stable_expr, typed)
        if d.stable_derivative is not None:
            out["stable derivative - derivative"] = (d.stable_derivative, diff_away_from_jumps(typed, self.wrt))
        for var, partial in d.stable_partials.items():
            out[f"stable d/d{var} - d/d{var}"] = (partial, diff_away_from_jumps(typed, var))
        if d.seed_form is not None:
            out["seed form - expr"] = (d.seed_form, self.expr)
        return out

    def prove(self) -> dict[str, Proof]:
        """Prove every identity of :meth:`identities` exactly (derivative taken of the elementary form); where
        neither side is finite, both are compared there (:func:`~symdl.symbolic.poles.prove_equal`)."""
        from ..symbolic.proof import elementary

        results = {}
        kinks = [k.at for k in self.kinks]
        for label, (lhs, rhs) in self._identity_sides().items():
            exclude = kinks if "derivative" in label else []
            if label.startswith("derivative") or label.startswith("d/d"):
                var = self.wrt if label.startswith("derivative") else self._input(label[3:].split(" ")[0])
                # Differentiate the elementary definition: named functions' own fdiff is not trusted here.
                lhs, rhs = sp.diff(elementary(self.expr, to_differentiate=True), var), elementary(self.textbook(var))
            # a derivative (by any input) is claimed only where the function does not jump (floor, ceiling, round)
            jumps_of = self.expr if "derivative" in label or "d/d" in label else None
            results[label] = prove_equal(lhs, rhs, self.wrt, exclude=exclude, jumps_of=jumps_of)
        printed = [self.numeric_forward_expr(), *(self.numeric_derivative_expr(v) for v in self._derivative_inputs())]
        used = {type(f) for e in printed for f in e.atoms(NamedFunction)}
        for function in sorted(used, key=lambda f: f.__name__):
            results.update(prove_named_function(function))
        return results

    def _derivative_inputs(self) -> list[sp.Symbol]:
        return [self.wrt, *self.definition.other_textbooks]

    def latex(self) -> dict[str, str]:
        """LaTeX for the definition and the derivative (``cases`` for piecewise rules)."""
        name = {"activation": "g", "loss": "L", "penalty": "\\Omega", "formula": "f"}[self.kind]
        args = ", ".join(sp.latex(s) for s in self.inputs)
        head = f"{name}({args})"
        var = sp.latex(self.wrt)
        return {
            "definition": f"{head} = {sp.latex(self.definition.seed_form or self.expr)}",
            "derivative": rf"\frac{{\partial {name}}}{{\partial {var}}} = {sp.latex(self.derivative())}",
            "textbook": rf"\frac{{\partial {name}}}{{\partial {var}}} = {sp.latex(self.textbook(in_output=True))}",
        }

    # --- the numeric side --------------------------------------------------

    def bind(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with the parameter values substituted."""
        return expr.subs(self.param_subs)

    def reference_exprs(self, wrt: sp.Symbol | str | None = None) -> tuple[sp.Expr, sp.Expr]:
        """(f, ∂f/∂wrt) with parameters bound, as a high-precision reference should evaluate them.

        The definition and its derivative, or, where ``reference_from_stable`` is set, the stable forms
        (proven equal by :meth:`prove`): some definitions cancel beyond what 1600 digits resolve.
        """
        var = self._input(wrt)
        d = self.definition
        if d.reference_from_stable and var == self.wrt and d.stable_expr is not None and d.stable_derivative is not None:
            return self.bind(d.stable_expr), self.bind(d.stable_derivative)
        return self.bind(self.expr), self.bind(self.derivative(var))

    def numeric_forward_expr(self) -> sp.Expr:
        return self.bind(self.definition.stable_expr if self.definition.stable_expr is not None else self.expr)

    def numeric_derivative_expr(self, wrt: sp.Symbol | str | None = None) -> sp.Expr:
        var = self._input(wrt)
        if var == self.wrt and self.definition.stable_derivative is not None:
            return self.bind(self._with_kink_values(self.definition.stable_derivative))
        if var != self.wrt and var in self.definition.stable_partials:
            return self.bind(self.definition.stable_partials[var])  # proven equal to the derivative
        if var != self.wrt and var in self.definition.other_textbooks:
            return self.bind(self.definition.other_textbooks[var])  # proven equal to the derivative
        return self.bind(self.derivative(var))

    @property
    def kernel_name(self) -> str:
        """The generated function's name: the rule's name, or ``f`` for formula rules."""
        return "f" if self.kind == "formula" else self.name

    def numeric(self) -> Kernel:
        """The forward pass as a numpy kernel: f(*inputs), dtype kept, broadcasting."""
        expr = self.numeric_forward_expr()
        return compile_kernel(expr, self.inputs, self.kernel_name, reduce_sum=self.definition.reduce_sum)

    def numeric_derivative(self, wrt: sp.Symbol | str | None = None) -> Kernel:
        """The derivative by ``wrt`` (default: the first input) as a numpy kernel of all inputs."""
        var = self._input(wrt)
        return compile_kernel(self.numeric_derivative_expr(var), self.inputs, f"{self.kernel_name}_d_{var.name}")
