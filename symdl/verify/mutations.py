"""Planted mistakes: does the checker catch a wrong derivative? (The mutation test of symdl's own checks.)

For an element-wise rule with derivative d = ∂expr/∂x, each mutant replaces
the derivative the generated code prints by a classic mistake:

    sign flip −d · factor two 2d · dropped term (one term of d left out) ·
    wrong variable (∂/∂ another input or a parameter) · function for derivative
    (expr instead of d: the σ ↔ σ(1 − σ) confusion) · wrong kink value

A mutant provably equal to d (e.g. e^z for exponential's derivative) is
*equivalent* and not counted. Every other mutant must be *killed*: its
finite-difference check (or, for the kink value, the kink check) must fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import sympy as sp

from ..codegen.kernel import compile_kernel
from ..rulebook.rule import Rule
from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.proof import prove_zero
from .measures import FD_TOLERANCE, check_kinks, fd_error

__all__ = ["MutationReport", "mutants", "mutation_report"]


@dataclass
class MutationReport:
    """How many planted mistakes the checks caught, and which survived."""

    killed: int = 0
    total: int = 0
    equivalent: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)


def mutants(r: Rule) -> dict[str, sp.Expr]:
    """Mistaken derivatives of ``r`` by its first input, by label (symbolic in the parameters)."""
    d = diff_away_from_jumps(r.expr, r.wrt)
    found = {"sign flip": -d, "factor two": 2 * d, "function for derivative": r.expr}
    terms: tuple[sp.Expr, ...] = sp.Add.make_args(sp.expand(d)) if not d.has(sp.Piecewise) else ()
    if len(terms) > 1:
        found["dropped term"] = d - terms[0]
    others = [s for s in r.inputs[1:]] + [s for s in r.param_symbols.values()]
    if others:
        found["wrong variable"] = diff_away_from_jumps(r.expr, others[0])
    return found


def _with_derivative(r: Rule, derivative: sp.Expr) -> Rule:
    definition = replace(r.definition, stable_derivative=derivative)
    return Rule(r.name, r.kind, definition, r.param_symbols, r.params, r.kink_convention, r.summary)


def mutation_report(r: Rule, points: int = 50, forward: Callable[..., np.ndarray] | None = None) -> MutationReport:
    """Run every mutant of ``r`` through the finite-difference and kink checks of :mod:`symdl.verify.measures`.

    ``forward``: ``r``'s compiled forward kernel, if the caller has it; every mutant shares it (compiled once).
    """

    report = MutationReport()
    if forward is None:
        forward = compile_kernel(r.numeric_forward_expr(), r.inputs, r.kernel_name)
    truth = diff_away_from_jumps(r.expr, r.wrt)
    kinks = [k.at for k in r.kinks]
    for label, mutant in mutants(r).items():
        if prove_zero(r.bind(mutant - truth), r.wrt, exclude=kinks):
            report.equivalent.append(label)
            continue
        report.total += 1
        error = fd_error(_with_derivative(r, mutant), points=points, forward=forward)
        if error > FD_TOLERANCE or error != error:
            report.killed += 1
        else:
            report.survivors.append(label)
    if r.kinks:
        report.total += 1
        wrong = {k.at: sp.Max(k.left, k.right) + 1 for k in r.kinks}  # outside [left, right]: not a subgradient
        definition = replace(r.definition, pytorch_kinks=wrong)
        broken = Rule(r.name, r.kind, definition, r.param_symbols, r.params, "pytorch", r.summary)
        if check_kinks(broken):
            report.survivors.append("wrong kink value")
        else:
            report.killed += 1
    return report
