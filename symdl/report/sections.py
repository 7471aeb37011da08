"""The content of derivation reports: one :class:`~symdl.report.model.Section` per rule, formula, network or layer.

Every equation in a section is a SymPy object taken from the library (the
rule's expression, SymPy's derivative of it, the textbook and stable forms,
the index-notation network, the batch-norm stages); nothing is re-typed
here. Steps show *how* the derivative arises — SymPy's raw derivative, then
the sum, product and chain rule applied one at a time to the definition
(:func:`chain_steps`), branch by branch for a ``Piecewise`` — before the
textbook and stable forms that the proofs show equal to it. Checks are the
measured results of :func:`symdl.verify_rule` and of the modules' own proofs.

:func:`build_report` assembles the whole document; :func:`report_item_names`
lists what it accepts.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from ..rulebook.definition import Kink
from ..rulebook.registry import rule, rules
from ..rulebook.rule import Rule, formula_rule
from ..rulebook.vector_rule import VectorRule
from ..symbolic.calculus import diff_away_from_jumps
from ..symbolic.functions import NamedFunction
from ..symbolic.proof import Proof, elementary
from ..verify.rules import FD_TOLERANCE, RuleReport, verify_rule
from .model import Check, Math, Plot, Report, Section, Step

__all__ = [
    "ITEMS",
    "backprop_section",
    "batchnorm_section",
    "build_report",
    "chain_steps",
    "dropout_section",
    "formula_section",
    "head",
    "init_section",
    "report_item_names",
    "rule_section",
]

#: The items other than rules, in report order.
ITEMS: tuple[str, ...] = ("backprop", "batchnorm", "dropout", "init")
#: How many rule applications :func:`chain_steps` shows at most, and how deep it recurses.
CHAIN_LIMIT = 8
CHAIN_DEPTH = 4

_HEADS = {"activation": "g", "loss": "L", "penalty": "Omega", "formula": "f"}
_CONVENTIONS = {
    "pytorch": "PyTorch's value (symdl's default convention)",
    "left": "the left derivative (kink_convention='left')",
    "right": "the right derivative (kink_convention='right')",
    "average": "the mean of the one-sided derivatives (kink_convention='average')",
}


# --- small helpers ---------------------------------------------------------------------------------------------


def head(r: Rule) -> sp.Expr:
    """The rule applied to its inputs as an undefined function: g(z), L(a, y), Ω(w) or f(z)."""
    return sp.Function(_HEADS[r.kind])(*r.inputs)


def _proof_check(label: str, proof: Proof | bool, detail: str = "") -> Check:
    holds = bool(proof)
    method = getattr(proof, "method", "") or detail
    return Check(f"proof: {label} ≡ 0" if " - " in label and "==" not in label else f"proof: {label}", holds, method)


def _proven_note(proofs: Mapping[str, Proof], label: str) -> str:
    proof = proofs.get(label)
    if proof is None:
        return ""
    verdict = "proven" if proof else "NOT proven"
    return f"{verdict}: {label} ≡ 0 ({proof.method})"


# --- derivation steps for element-wise rules -------------------------------------------------------------------


def _one_rule(expr: sp.Expr, var: sp.Symbol) -> tuple[str, sp.Expr, list[sp.Expr]] | None:
    """One differentiation rule applied to d expr/d var: (its name, the right side, the parts still to differentiate).

    None when ``expr`` is a leaf: free of ``var``, ``var`` itself, or an
    elementary function or power of ``var`` (its derivative is a table entry).
    """
    if not expr.has(var) or expr == var:
        return None
    D = lambda e: sp.Derivative(e, var)
    if isinstance(expr, (sp.Max, sp.Min)):
        expr = expr.rewrite(sp.Piecewise)
    if isinstance(expr, sp.Piecewise):
        branches = [(D(e) if e.has(var) else sp.S.Zero, c) for e, c in expr.args]
        return "Branch by branch (each branch differentiated where its condition holds)", sp.Piecewise(*branches), [
            e for e, _ in expr.args if e.has(var)
        ]
    if isinstance(expr, sp.Add):
        terms = [t for t in expr.args if t.has(var)]
        if len(terms) == 1:
            return None if terms[0] == var else ("Sum rule (constant terms drop)", D(terms[0]), terms)
        return "Sum rule", sp.Add(*[D(t) for t in terms], evaluate=False), terms
    if isinstance(expr, sp.Mul):
        constant, rest = expr.as_independent(var, as_Add=False)
        if constant != 1:
            if rest == var:
                return None  # d(c·z)/dz = c: a table entry
            return "Constant factor", sp.Mul(constant, D(rest), evaluate=False), [rest]
        factors = list(expr.args)
        products = [
            sp.Mul(*[g for j, g in enumerate(factors) if j != i], D(f), evaluate=False) for i, f in enumerate(factors)
        ]
        return "Product rule", sp.Add(*products, evaluate=False), factors
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent.has(var) or base == var:
            return None
        outer = exponent * base ** (exponent - 1)
        return "Chain rule: outer′(inner)·inner′ (power)", sp.Mul(outer, D(base), evaluate=False), [base]
    if isinstance(expr, sp.Function) and len(expr.args) == 1:
        (inner,) = expr.args
        if inner == var:
            return None
        t = sp.Dummy("t", real=True)
        outer = diff_away_from_jumps(expr.func(t), t).subs(t, inner)
        return "Chain rule: outer′(inner)·inner′", sp.Mul(outer, D(inner), evaluate=False), [inner]
    return None


def chain_steps(expr: sp.Expr, var: sp.Symbol, *, limit: int = CHAIN_LIMIT, depth: int = CHAIN_DEPTH) -> list[Step]:
    """d expr/d var taken apart one rule at a time (sum, constant factor, product, chain, branch by branch).

    Each step is ``d e/d var = (the rule's right side, with d part/d var still
    unevaluated)``; parts are taken apart in turn, breadth first, down to
    ``depth`` levels and at most ``limit`` steps.
    """
    steps: list[Step] = []
    queue = [(expr, depth)]
    seen: set[sp.Expr] = set()
    while queue and len(steps) < limit:
        e, level = queue.pop(0)
        if e in seen:
            continue
        seen.add(e)
        applied = _one_rule(e, var)
        if applied is None:
            continue
        title, rhs, parts = applied
        steps.append(Step(title, (Math(sp.Derivative(e, var), rhs),)))
        if level > 1:
            queue += [(p, level - 1) for p in parts]
    return steps


def _named_function_steps(r: Rule, proofs: Mapping[str, Proof]) -> list[Step]:
    """For each named function (σ, softplus, log cosh) in the rule or its code: definition, derivative, stable form."""
    exprs = [r.expr, r.numeric_forward_expr(), *(r.numeric_derivative_expr(v) for v in r._derivative_inputs())]
    used = sorted({type(f) for e in exprs for f in e.atoms(NamedFunction)}, key=lambda f: f.__name__)
    steps = []
    x = sp.Symbol("x", real=True)
    for function in used:
        name = function.__name__
        notes = [_proven_note(proofs, f"{name}: fdiff - d/dx definition"), _proven_note(proofs, f"{name}: stable form - definition")]
        steps.append(
            Step(
                f"The named function {name}: definition, derivative, stable form",
                (
                    Math(function(x), function.definition(x)),
                    Math(sp.Derivative(function(x), x), function(x).diff(x)),
                    Math(function(x), function.stable(x)),
                ),
                "; ".join(n for n in notes if n),
            )
        )
    return steps


def _derivative_steps(r: Rule, proofs: Mapping[str, Proof]) -> list[Step]:
    g, var = head(r), r.wrt
    dg = sp.Derivative(g, var)
    steps: list[Step] = []
    plain = elementary(r.expr)
    if plain != r.expr:
        steps.append(Step("The definition in elementary functions", (Math(g, plain),)))
    steps.append(
        Step(
            "Differentiate the definition",
            (Math(dg, sp.Derivative(plain, var)), Math(dg, diff_away_from_jumps(plain, var))),
            f"sympy.diff of the definition by {var}, as SymPy returns it (not simplified)",
        )
    )
    steps += chain_steps(plain, var)
    steps.append(
        Step(
            "SymPy's derivative of the rule",
            (Math(dg, r.derivative()),),
            "named functions differentiated by their own derivative (σ' = σ(1 − σ), …)"
            + (f"; the value at each kink set by the convention: {_CONVENTIONS[r.kink_convention]}" if r.kinks else ""),
        )
    )
    d = r.definition
    if d.textbook is not None:
        maths = [Math(dg, r.textbook())]
        if d.output is not None:
            maths += [Math(dg, r.textbook(in_output=True)), Math(d.output, g)]
        steps.append(Step("The textbook form" + (" (in terms of the output)" if d.output is not None else ""),
                          tuple(maths), _proven_note(proofs, "derivative - textbook")))
    for other in d.other_textbooks:
        steps.append(
            Step(
                f"The derivative by {other}",
                (Math(sp.Derivative(g, other), diff_away_from_jumps(r.expr, other)), Math(sp.Derivative(g, other), r.textbook(other))),
                _proven_note(proofs, f"d/d{other} - textbook"),
            )
        )
    if d.seed_form is not None:
        steps.append(Step("The seeds' form", (Math(g, d.seed_form),), _proven_note(proofs, "seed form - expr")))
    steps += _named_function_steps(r, proofs)
    stable = []
    notes = []
    if d.stable_expr is not None:
        stable.append(Math(g, d.stable_expr))
        notes.append(_proven_note(proofs, "stable forward - expr"))
    if d.stable_derivative is not None:
        stable.append(Math(dg, d.stable_derivative))
        notes.append(_proven_note(proofs, "stable derivative - derivative"))
    if stable:
        steps.append(Step("The numerically stable form", tuple(stable), "; ".join(n for n in notes if n)))
    steps.append(_code_step(r))
    return steps


def _code_step(r: Rule) -> Step:
    """The expression the derivative's numpy code is printed from (parameters bound), and that code."""
    dg = sp.Derivative(head(r), r.wrt)
    maths = (Math(dg, r.numeric_derivative_expr()),)
    try:
        source = r.numeric_derivative().source
    except ValueError as why:  # a formula parameter without a value: no code can be printed
        return Step("The generated numpy code", maths, f"no code: {why}")
    return Step("The generated numpy code", maths, "printed from the expression above:", code=source)


def _kink_step(r: Rule, kink: Kink) -> Step:
    var = r.wrt
    dg = sp.Derivative(head(r), var)
    others = dict(zip(r.inputs[1:], [sp.Rational(37, 100)] * len(r.inputs[1:])))
    subgradient = kink.is_subgradient({**r.param_subs, **others})
    why = (
        f"the value taken is {_CONVENTIONS[r.kink_convention]}; it lies between the one-sided derivatives, "
        "so it is a subgradient" if subgradient else
        f"the value taken is {_CONVENTIONS[r.kink_convention]}; it is NOT between the one-sided derivatives"
    )
    return Step(
        f"At the kink {var} = {kink.at}",
        (
            Math(sp.Limit(dg, var, kink.at, "-"), kink.left),
            Math(sp.Limit(dg, var, kink.at, "+"), kink.right),
            Math(sp.Subs(dg, var, kink.at), kink.value),
        ),
        f"the derivative jumps from {kink.left} to {kink.right}; {why}",
    )


# --- verification results as checks -------------------------------------------------------------------------------


def _verify_checks(
    report: RuleReport, proofs: Mapping[str, Proof], element_wise: bool, points: int, kinks: bool = False
) -> list[Check]:
    from ..testing import ACCURACY_RTOL, STABILITY_LIMIT

    checks = [_proof_check(label, proofs.get(label, report.proofs[label])) for label in report.proofs]
    if element_wise and report.kinks_ok is not None and kinks:
        checks.append(Check("kink values are subgradients and the generated derivative returns them", report.kinks_ok,
                            "each declared kink checked exactly (SymPy) and in the generated float64 code"))
    checks.append(
        Check(
            "generated derivative against central finite differences (float64)",
            report.fd_error <= FD_TOLERANCE,
            f"worst |fd − d|/max(1, |d|) = {report.fd_error:.3g} over {points} seeded points away from kinks "
            f"(tolerance {FD_TOLERANCE:g})",
        )
    )
    for attr, dtype in (("accuracy64", np.float64), ("accuracy32", np.float32)):
        rtol = ACCURACY_RTOL[np.dtype(dtype)]
        worst = getattr(report, attr)
        checks.append(
            Check(
                f"value and derivative against a 50-digit mpmath reference ({np.dtype(dtype).name})",
                worst <= rtol,
                f"worst relative error {worst:.3g} (tolerance {rtol:g})",
            )
        )
    checks.append(
        Check(
            f"finite and warning-free for inputs up to ±{STABILITY_LIMIT:g} (float32 and float64)",
            report.stable,
            "no overflow, NaN or numpy warning" if report.stable else "; ".join(report.unstable),
        )
    )
    if report.mutants_total:
        survivors = f"; survivors: {', '.join(report.mutant_survivors)}" if report.mutant_survivors else ""
        checks.append(
            Check(
                "planted mistakes in the derivative are caught",
                report.mutants_killed == report.mutants_total,
                f"{report.mutants_killed} of {report.mutants_total} mutants killed{survivors}",
            )
        )
    return checks


def _plot(r: Rule | VectorRule) -> Plot:
    from .plots import draw, figure_svg, plot_values

    values = plot_values(r)
    fig = draw(r, values)
    what = "the value (top) and the derivative (bottom), from the generated numpy code"
    if isinstance(r, VectorRule):
        what = f"a one-dimensional slice: the value (top) and its derivative from the generated VJP (bottom); {values.fixed}"
    elif values.fixed:
        what += f", with {values.fixed}"
    if values.kinks:
        what += "; at each kink (dotted line) open circles mark the one-sided derivatives and the filled circle the value returned"
    return Plot(figure_svg(fig), f"{r.name if r.kind != 'formula' else 'The formula'}: {what}.")


# --- sections ---------------------------------------------------------------------------------------------------


def _key(text: str) -> str:
    key = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
    if not key:
        raise ValueError(f"cannot make a section key from {text!r}")
    return key


def rule_section(r: Rule | VectorRule | str, *, verify: bool = True, plot: bool = True, key: str | None = None) -> Section:
    """The section of one rule: definition, derivation steps, kink conventions, verification checks and a plot.

    ``r`` is a rule object or a registered name. With ``verify`` the checks
    are :func:`symdl.verify_rule`'s measurements (its proofs are computed once
    and shared with the steps' notes); without it nothing is proven or
    measured and the section has no checks (fast: the steps alone).
    """
    if isinstance(r, str):
        r = rule(r)
    if isinstance(r, VectorRule):
        return _vector_section(r, verify=verify, plot=plot, key=key)
    if not isinstance(r, Rule):
        raise TypeError(f"rule_section takes a rule or a rule name, got {type(r).__name__}")
    proofs = r.prove() if verify else {}
    definition = [Math(head(r), r.expr)]
    definition += [Math(r.param_symbols[name], value) for name, value in r.params.items() if name in r.param_symbols]
    checks = _checks(r, proofs, verify, element_wise=True)
    return Section(
        key=key or _key(r.name),
        title=r.name if r.kind != "formula" else "Formula",
        kind=r.kind,
        summary=r.summary if r.kind != "formula" else "a user formula, parsed without eval; its derivative taken by SymPy",
        definition=tuple(definition),
        steps=tuple(_derivative_steps(r, proofs)),
        kinks=tuple(_kink_step(r, k) for k in r.kinks),
        checks=tuple(checks),
        plot=_plot(r) if plot and _plottable(r) else None,
    )


def _plottable(r: Rule | VectorRule) -> bool:
    return not isinstance(r, Rule) or not [s for s in r.param_symbols.values() if s.name not in r.params]


def _checks(r: Rule | VectorRule, proofs: Mapping[str, Proof], verify: bool, element_wise: bool) -> list[Check]:
    points = 200
    if not verify:
        return []
    if not _plottable(r):
        missing = ", ".join(sorted(s.name for s in r.param_symbols.values() if s.name not in r.params))
        checks = [_proof_check(label, proof) for label, proof in proofs.items()]
        return checks + [Check("generated code checked numerically", False,
                               f"not run: parameter(s) {missing} have no value")]
    return _verify_checks(verify_rule(r, points=points, proofs=proofs), proofs, element_wise, points, bool(r.kinks))


def formula_section(
    text: str,
    wrt: str = "z",
    params: Mapping[str, float | None] | None = None,
    *,
    symbols: Sequence[str] = (),
    index: int = 1,
    verify: bool = True,
    plot: bool = True,
) -> Section:
    """The section of a user formula (parsed by :func:`symdl.symbolic.parse`, never evaluated), keyed ``formula-<index>``.

    The formula text itself appears nowhere in the section: only the SymPy
    expression parsed from it.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 1:
        raise ValueError(f"index must be a positive integer, got {index!r}")
    r = formula_rule(text, wrt, params, symbols=symbols)
    section = rule_section(r, verify=verify, plot=plot, key=f"formula-{index}")
    return dataclasses.replace(section, title=f"Formula {index}")


# --- vector rules -------------------------------------------------------------------------------------------------


def _vector_head(r: VectorRule) -> sp.Expr:
    d = r.definition
    base = sp.IndexedBase("g" if r.kind == "activation" else "L", real=True)
    return base[d.output] if d.output else sp.Symbol(str(base.label), real=True)


def _vector_steps(r: VectorRule, proofs: Mapping[str, Proof]) -> list[Step]:
    from ..rulebook.vector_rule import fresh_index

    d = r.definition
    out = _vector_head(r)
    steps = []
    for inp in d.inputs:
        if inp.base in d.label_inputs:
            continue
        target = inp.base[tuple(fresh_index(s) for s in inp.indices)]
        D = sp.Derivative(out, target)
        raw = sp.diff(d.forward, target)
        steps.append(Step(f"Differentiate by {target}, element by element",
                          (Math(D, raw),), "sympy.diff through the sums: Kronecker deltas appear"))
        contracted = r.derivative(inp.base)
        if contracted != raw:
            steps.append(Step("Contract the Kronecker deltas", (Math(D, contracted),),
                              "Σ_j δ_jk f_j = f_k (sympy.concrete.delta.deltasummation)"))
        for table, what in ((d.textbook_jacobian, "Jacobian"), (d.textbook_vjps, "gradient")):
            if inp.base in table:
                label = next((k for k in proofs if k.startswith(("jacobian by " + str(inp.base), "vjp by " + str(inp.base) + " - textbook"))), "")
                note = f"{'proven' if proofs.get(label) else 'see checks'}: {label}" if label else ""
                steps.append(Step(f"The textbook {what}", (Math(D, table[inp.base]),), note))
        steps.append(
            Step(
                f"The vector-Jacobian product by {inp.base} (what the numpy code computes)",
                (Math(sp.IndexedBase(f"{inp.base.label}bar")[inp.indices], d.vjps[inp.base]),),
                "v is the cotangent (the gradient arriving from above); proven equal to vᵀJ at concrete sizes",
            )
        )
    if d.stable_forward is not None:
        steps.insert(0, Step("The numerically stable forward form", (Math(out, d.stable_forward),),
                             "max-shifted: no overflow; proven equal to the definition for any shift"))
    return steps


def _vector_section(r: VectorRule, *, verify: bool, plot: bool, key: str | None) -> Section:
    proofs = r.prove() if verify else {}
    d = r.definition
    checks = tuple(_checks(r, proofs, verify, element_wise=False))
    return Section(
        key=key or _key(r.name),
        title=r.name,
        kind=r.kind,
        summary=r.summary + (f" {d.notes}" if d.notes else ""),
        definition=(Math(_vector_head(r), d.forward),),
        steps=tuple(_vector_steps(r, proofs)),
        checks=checks,
        plot=_plot(r) if plot else None,
    )


# --- backprop, batch norm, dropout, initialisation ---------------------------------------------------------------------

def _undummy(expr: sp.Basic) -> sp.Basic:
    """``expr`` with each Dummy (a bound index renamed apart) replaced by a plain symbol: equal on every run."""
    dummies = sorted(expr.atoms(sp.Dummy), key=lambda d: (d.name, d.dummy_index))
    taken = {s.name for s in expr.free_symbols if not isinstance(s, sp.Dummy)}
    names = {}
    for d in dummies:
        name = d.name + "'"
        while name in taken:
            name += "'"
        taken.add(name)
        names[d] = sp.Symbol(name, **d.assumptions0)
    return expr.xreplace(names)


def _fold_network(expr: sp.Expr, net: object, indices: Sequence[sp.Symbol]) -> sp.Expr:
    """The unrolled sums written back as z^l_i and a^l_i = σ(z^l_i) (top layer first, so whole subtrees match)."""
    from ..backprop.index_form import activation_bases, sigma, unit_index

    for layer in range(net.depth, 0, -1):
        z_base, _ = activation_bases(layer)
        for t in indices:
            if t != unit_index(layer - 1):
                expr = expr.xreplace({net.z(layer, t): z_base[t]})
    for layer in range(1, net.depth + 1):
        z_base, a_base = activation_bases(layer)
        expr = expr.replace(
            lambda e, z_base=z_base: isinstance(e, sigma) and isinstance(e.args[0], sp.Indexed) and e.args[0].base == z_base,
            lambda e, a_base=a_base: a_base[e.args[0].indices],
        )
    return expr


def _index_steps(depth: int) -> list[Step]:
    """C as nested sums, ∂C/∂w^l_pq by SymPy (Kronecker deltas), contracted, and = a^{l−1}_q δ^l_p through BP1/BP2."""
    from ..backprop.index_form import (
        COST,
        IndexNetwork,
        bias,
        index_equations,
        j,
        k,
        unit_index,
        weight,
    )
    from ..backprop.index_proofs import (
        instantiate,
        p,
        q,
        sort_equations,
        unit_ranges,
        unroll_deltas,
    )
    from ..symbolic.index_sums import contract_deltas

    net = IndexNetwork(depth)
    names = [p, q, j, k, *(unit_index(t) for t in range(depth + 1))]
    total = net.total_cost()
    steps = [
        Step(
            "The cost as nested sums (index notation, widths n_0 … n_L symbolic)",
            (Math(COST, total), Math(COST, _fold_network(total, net, names))),
            "z^l_j = Σ_k w^l_jk a^(l−1)_k + b^l_j and a^l_j = σ(z^l_j) unrolled down to x; σ and the per-unit cost C(a, y) "
            "are generic functions, so what follows holds for every element-wise activation and every loss summed over "
            "output units (softmax and softmax cross-entropy couple the units: their BP1 is the matrix form's J_σᵀ∇ₐC)",
        )
    ]
    claims = sort_equations(index_equations(depth), depth)
    for layer in sorted({depth, 1}, reverse=True):
        target = weight(layer)[p, q]
        dC = sp.Derivative(COST, target)
        raw = sp.diff(total, target)
        contracted = contract_deltas(raw, unit_ranges(layer))
        steps.append(
            Step(
                f"Differentiate C by w^{layer}_pq: the chain rule through the sums",
                (Math(dC, _fold_network(raw, net, names)),),
                f"sympy.diff of the nested sums: ∂w^{layer}_(k j)/∂w^{layer}_(p q) = δ_kp δ_jq, so Kronecker deltas appear inside the sums",
            )
        )
        steps.append(
            Step(
                "Contract the Kronecker deltas",
                (Math(dC, _fold_network(contracted, net, names)),),
                f"Σ_k δ_kp f_k = f_p for 0 ≤ p < n_{layer} (deltasummation); each sum over a delta collapses to one term",
            )
        )
        indices, rhs = claims.weights[layer]
        claimed = instantiate(indices, rhs, (p, q))
        unrolled = unroll_deltas(claimed, claims, depth)
        steps.append(
            Step(
                f"The same in terms of δ^{layer} (BP4, with δ unrolled through BP1/BP2)",
                (Math(dC, claimed), Math(dC, _undummy(unrolled))),
                "the contracted derivative and this right side have the same canonical form (see the checks)",
            )
        )
    bias_claim = claims.biases[depth]
    steps.append(
        Step(
            "Biases: ∂z^l_m/∂b^l_p = δ_mp, so ∂C/∂b^l_p = δ^l_p (BP3)",
            (Math(sp.Derivative(COST, bias(depth)[p]), instantiate(bias_claim[0], bias_claim[1], (p,))),),
        )
    )
    return steps


def _network_check(layers: Sequence[int], activation: str, loss: str) -> Check:
    """The compiled network's gradient against finite differences, at the points symdl verify draws."""
    from ..network.model import Network
    from ..testing.network_check import check_network_grad
    from ..verify.network import draw_batch

    net = Network(list(layers), activation=activation, output_activation=activation, loss=loss).compile()
    params, X, Y = draw_batch(net, 0)
    if loss == "softmax_cross_entropy":
        Y = np.eye(layers[-1])[np.argmax(Y, axis=1)]
    try:
        report = check_network_grad(net, params, X, Y)
    except ValueError as why:  # the drawn point sits on a kink: there is no derivative to check
        return Check(f"compiled network {list(layers)} ({activation}, {loss}): gradient check", False, str(why))
    return Check(
        f"compiled network {list(layers)} ({activation}, {loss}): gradient of the generated code against finite differences",
        report.passed,
        f"worst {report.mode} error {report.abs_error:.3g} (relative {report.rel_error:.3g}) over {report.checked} "
        f"directions, step {report.step:.3g}, tolerance atol {report.tolerance.atol:g} / rtol {report.tolerance.rtol:g}",
    )


def backprop_section(
    layers: Sequence[int] = (2, 3, 1), activation: str = "tanh", loss: str = "mse", *, verify: bool = True
) -> Section:
    """BP1–BP4 for an MLP ``layers`` with ``activation`` on every layer and ``loss``: index-form derivation and proofs.

    Definitions and the four equations come from :class:`symdl.Network`'s
    matrix equations and :func:`symdl.backprop.equations.index_equations`; the steps
    differentiate C by w^l_pq with SymPy and contract the Kronecker deltas;
    the checks are :mod:`symdl.backprop.index_proofs`'s proofs (symbolic widths,
    induction step, concrete sizes when the rules are smooth) and, with
    ``verify``, a finite-difference check of the compiled network.
    """
    from ..backprop.index_form import index_equations
    from ..backprop.index_proofs import (
        SYMBOLIC_DEPTHS,
        induction_step,
        prove_concrete_sizes,
        prove_induction_step,
        prove_symbolic_widths,
    )
    from ..network.model import Network

    network = Network(list(layers), activation=activation, output_activation=activation, loss=loss)
    depth = network.depth
    equations = network.equations()
    definition = [Math(eq.lhs, eq.rhs) for eq in equations.forward]
    act, los = network.activation, network.loss
    if isinstance(act, Rule):
        definition.append(Math(sp.Function("sigma")(act.wrt), act.bind(act.expr)))
    if isinstance(los, Rule):
        definition.append(Math(sp.Function("ell")(*los.inputs), los.bind(los.expr)))
    index_depth = min(depth, max(SYMBOLIC_DEPTHS))
    steps = _index_steps(index_depth)
    steps.append(Step("General depth: induction on l from L down to 1", (), induction_step()))
    steps.append(Step("BP1–BP4 in index notation", tuple(Math(eq.lhs, eq.rhs) for eq in index_equations(depth))))
    matrix = [Math(equations.loss_gradient.lhs, equations.loss_gradient.rhs)]
    matrix += [Math(eq.lhs, eq.rhs) for _, eq in equations.backward]
    steps.append(Step("BP1–BP4 in matrix form (what the numpy code is printed from)", tuple(matrix),
                      "; ".join(label for label, _ in equations.backward)))
    summary = f"backpropagation for layers {list(layers)}, activation {activation} on every layer, loss {loss}"
    checks: list[Check] = []
    if verify:
        checks += [_proof_check(label, proof) for label, proof in prove_symbolic_widths(index_depth).items()]
        checks.append(_proof_check("induction step (BP2, BP3, BP4 for a symbolic layer l)", prove_induction_step()))
        try:
            concrete = prove_concrete_sizes(tuple(layers), activation, loss)
        except ValueError as why:
            summary += f"; no proof at concrete sizes ({why})"
        else:
            checks += [_proof_check(f"{label} (widths {tuple(layers)}, {activation}, {loss})", proof)
                       for label, proof in concrete.items()]
        checks.append(_network_check(layers, activation, loss))
    return Section(
        key="backprop",
        title="Backpropagation: BP1–BP4",
        kind="backprop",
        summary=summary,
        definition=tuple(definition),
        steps=tuple(steps),
        checks=tuple(checks),
    )


def _batchnorm_backward_steps() -> list[Step]:
    """The backward pass stage by stage (Ioffe & Szegedy): the steps batch norm's own proof checks."""
    from ..layers import batchnorm_symbolic as bn

    return [Step(st.title, tuple(Math(lhs, rhs) for lhs, rhs in st.equations), st.note) for st in bn.backward_steps()]


def batchnorm_section(*, verify: bool = True) -> Section:
    """Batch norm (Ioffe & Szegedy): forward stages, backward stage by stage, the closed-form VJP, inference, folding.

    Checks are :func:`symdl.layers.batchnorm_symbolic.prove_all` (none without ``verify``).
    """
    from ..layers import batchnorm_symbolic as bn

    i, j, m = bn.i, bn.j, bn.m
    mu, var, xhat, y = (sp.IndexedBase(n, real=True) for n in ("mu_B", "sigma_B^2", "xhat", "y"))
    definition = (
        Math(mu[j], bn.batch_mean()),
        Math(var[j], bn.batch_variance()),
        Math(xhat[i, j], bn.normalized(i).subs(bn.batch_variance(), var[j]).subs(bn.batch_mean(), mu[j])),
        Math(y[i, j], bn.transform(i).subs(bn.normalized(i), xhat[i, j])),
    )
    expectation = sp.Function("E")
    scale, shift, folded = bn.folded_inference()
    w_folded, b_folded = bn.linear_fold()
    stages = [Math(st.base[st.indices], st.expr) for st in bn.STAGES["train_forward"] + bn.STAGES["train_backward"]]
    steps = [
        *_batchnorm_backward_steps(),
        Step("The numeric stages (computed once each, in a stable order)", tuple(stages),
             "the corrected two-pass variance: residuals from a first mean, then their mean restores its lost digits; "
             "proven to compose to the definitions (see the checks)"),
        Step(
            "Why inference uses m/(m − 1)",
            (Math(expectation(var[j]), bn.expected_batch_variance()),
             Math(expectation(m / (m - 1) * var[j]), bn.expected_batch_variance(correction=m / (m - 1)))),
            "for m i.i.d. samples with variance σ², by linearity and independence: the batch variance is biased by (m − 1)/m",
        ),
        Step(
            "Inference (Algorithm 2): population statistics, then a fixed affine map",
            (Math(sp.IndexedBase("mean", real=True)[j], bn.population_mean()),
             Math(sp.IndexedBase("var", real=True)[j], bn.population_variance()),
             Math(y[i, j], bn.inference_transform(i))),
        ),
        Step(
            "The folded form",
            (Math(sp.Symbol("scale_j"), scale), Math(sp.Symbol("shift_j"), shift), Math(y[i, j], folded),
             Math(sp.IndexedBase("W'", real=True)[j, bn.r], w_folded), Math(sp.IndexedBase("b'", real=True)[j], b_folded)),
            "inference batch norm is affine, so it folds into the preceding linear layer",
        ),
    ]
    proofs: dict[str, Proof] = bn.prove_all() if verify else {}
    return Section(
        key="batchnorm",
        title="Batch normalisation",
        kind="batchnorm",
        summary="Ioffe & Szegedy, Algorithms 1 and 2, for a mini-batch of m rows (m symbolic)",
        definition=definition,
        steps=tuple(steps),
        checks=tuple(_proof_check(label, proof) for label, proof in proofs.items()),
    )


def dropout_section(*, verify: bool = True) -> Section:
    """Dropout with keep probability p: training and inference forms, their expectations (sympy.stats), proofs."""
    from sympy import stats

    from ..layers import dropout as dr

    definition = []
    steps = []
    for name in dr.RULES:
        train, infer = dr.training_expr(name), dr.inference_expr(name)
        out = sp.Symbol(f"out_{name}")
        definition += [Math(out, train), Math(out, infer)]
        steps.append(Step(f"{name}: the expectation over the mask matches inference",
                          (Math(expectation_of(train), stats.E(train)), Math(expectation_of(train), infer))))
    sigma = sp.Function("sigma")
    inverted = dr.training_expr("inverted")
    steps.append(Step(
        "After a non-linearity the match is only approximate",
        (Math(expectation_of(sigma(inverted)), stats.E(sigma(inverted))),),
        "equal to σ(x) for every x and p only when σ is affine between 0 and x/p (Jensen)",
    ))
    return Section(
        key="dropout",
        title="Dropout",
        kind="dropout",
        summary="mask ~ Bernoulli(p), p the keep probability; inverted dropout (PyTorch, Keras) and weight scaling",
        definition=tuple(definition),
        steps=tuple(steps),
        checks=tuple(_proof_check(label, proof) for label, proof in dr.prove_all().items()) if verify else (),
    )


def expectation_of(expr: sp.Expr) -> sp.Expr:
    """E[expr] as an unevaluated application (for display)."""
    return sp.Function("E")(expr)


def init_section(*, verify: bool = True) -> Section:
    """Weight initialisation schemes: each distribution's variance (sympy.stats) and its target, with proofs."""
    from sympy import stats

    from ..layers import init_schemes as ini

    variance = sp.Function("Var")
    definition = []
    steps = []
    for name in ini.SCHEMES:
        scheme = ini.get_scheme(name)
        parameter = sp.Symbol({"limit": "a", "std": "s"}[scheme.parameter_name], positive=True)
        w = sp.Symbol(f"W_{name}")
        in_parameter = stats.variance(scheme.distribution(parameter))  # a²/3 or s², by sympy.stats
        definition.append(Math(sp.Symbol(f"{parameter.name}_{name}", positive=True), scheme.parameter))
        steps.append(Step(
            f"{name}: W ~ {'U(−a, a)' if scheme.family == 'uniform' else 'N(0, s²)'}",
            (Math(variance(w), in_parameter),
             Math(parameter, scheme.parameter),
             Math(variance(w), sp.simplify(in_parameter.subs(parameter, scheme.parameter))),
             Math(variance(w), scheme.target)),
            f"sympy.stats variance of the distribution, then the scheme's {scheme.parameter_name}: {scheme.purpose}",
        ))
    return Section(
        key="init",
        title="Weight initialisation",
        kind="init",
        summary="Glorot, He and LeCun schemes: the variance of each distribution equals its target",
        definition=tuple(definition),
        steps=tuple(steps),
        checks=tuple(_proof_check(label, proof) for label, proof in ini.prove_all().items()) if verify else (),
    )

# --- the whole report ---------------------------------------------------------------------------------------------------


def report_item_names() -> list[str]:
    """Every name :func:`build_report` accepts: each rule of :func:`symdl.rulebook.rule`, then ``backprop``, ``batchnorm``, ``dropout``, ``init``."""
    return [*rules(), *ITEMS]


def build_report(
    names: Sequence[str] | None = None,
    *,
    formulas: Sequence[str] = (),
    layers: Sequence[int] = (2, 3, 1),
    activation: str = "tanh",
    loss: str = "mse",
    verify: bool = True,
    plots: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """The derivation report: a section per named item (default: every rule and item), then one per formula.

    ``layers``, ``activation`` and ``loss`` choose the network of the
    ``backprop`` section. ``progress(key, index, total)`` is called before
    each item. An unknown name raises ``ValueError`` listing the accepted ones.
    """
    accepted = report_item_names()
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of item names, got the string {names!r}")
    if isinstance(formulas, str):
        raise TypeError(f"formulas must be a sequence of formula texts, got the string {formulas!r}")
    chosen = list(accepted) if names is None else list(dict.fromkeys(names))
    for name in chosen:
        if name not in accepted:
            raise ValueError(f"unknown report item {name!r}; accepted: {', '.join(accepted)}")
    builders: list[tuple[str, Callable[[], Section]]] = []
    for name in chosen:
        if name == "backprop":
            builders.append((name, lambda: backprop_section(layers, activation, loss, verify=verify)))
        elif name in ITEMS:
            make = {"batchnorm": batchnorm_section, "dropout": dropout_section, "init": init_section}[name]
            builders.append((name, lambda make=make: make(verify=verify)))
        else:
            builders.append((name, lambda name=name: rule_section(name, verify=verify, plot=plots)))
    for n, text in enumerate(formulas, start=1):
        builders.append((f"formula-{n}", lambda text=text, n=n: formula_section(text, index=n, verify=verify, plot=plots)))
    sections = []
    for index, (key, build) in enumerate(builders):
        if progress is not None:
            progress(key, index, len(builders))
        sections.append(build())
    return Report(
        title="symdl derivation report",
        sections=tuple(sections),
        introduction=(
            "Each section states a piece of network mathematics as a SymPy expression, derives it step by step, "
            "states its conventions at kinks, and lists what was proven exactly and measured numerically "
            "about the numpy code generated from it."
        ),
    )
