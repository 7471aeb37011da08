"""The derivation steps of a rule: how its derivative arises, one rule of calculus at a time (moved here from the report).

Element-wise rules (:func:`derivative_steps`): the definition in elementary
functions, SymPy's raw derivative, the sum, product and chain rule applied one
at a time (:func:`chain_steps`, branch by branch for a ``Piecewise``), SymPy's
derivative with the kink convention, then the textbook, seed, named-function
and stable forms with the verdicts of the proofs that show them equal, and the
generated code. Vector rules (:func:`vector_steps`): the element-wise
derivative, its Kronecker deltas contracted, the textbook Jacobian and the
VJP. Every equation is a SymPy object taken from the rule; nothing is re-typed.
:class:`~symdl.rulebook.derivation.Derivation` caches what these return.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sympy as sp

from ..symbolic.calculus import diff_away_from_jumps, fresh_index
from ..symbolic.functions import NamedFunction
from ..symbolic.proof import Proof, elementary
from ..symbolic.rounding import jump_atoms
from ..symbolic.stop_gradient import has_stop_gradient, stop_gradient
from .derivation import RuleLike, long_fraction
from .step import Math, Step

if TYPE_CHECKING:
    from .rule import Rule
    from .vector_rule import VectorRule

__all__ = [
    "CHAIN_DEPTH",
    "CHAIN_LIMIT",
    "CONVENTIONS",
    "chain_steps",
    "derivative_steps",
    "head",
    "kink_step",
    "proven_note",
    "vector_head",
    "vector_steps",
]

#: How many rule applications :func:`chain_steps` shows at most, and how deep it recurses.
CHAIN_LIMIT = 8
CHAIN_DEPTH = 4

_HEADS = {"activation": "g", "loss": "L", "penalty": "Omega", "formula": "f"}
#: How each kink convention's value is described.
CONVENTIONS = {
    "pytorch": "PyTorch's value (symdl's default convention)",
    "left": "the left derivative (kink_convention='left')",
    "right": "the right derivative (kink_convention='right')",
    "average": "the mean of the one-sided derivatives (kink_convention='average')",
}


def head(r: RuleLike) -> sp.Expr:
    """The rule applied to its inputs as an undefined function: g(z), L(a, y), Ω(w) or f(z)."""
    return sp.Function(_HEADS[r.kind])(*r.inputs)


def proven_note(proofs: Mapping[str, Proof], label: str) -> str:
    proof = proofs.get(label)
    if proof is None:
        return ""
    verdict = "proven" if proof else "NOT proven"
    return f"{verdict}: {label} ≡ 0 ({proof.method})"


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
        notes = [proven_note(proofs, f"{name}: fdiff - d/dx definition"), proven_note(proofs, f"{name}: stable form - definition")]
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
    if any(has_stop_gradient(e) for e in exprs):
        steps.append(
            Step(
                "The stop-gradient sg (tf.stop_gradient): its value is its argument, no gradient flows through it",
                (Math(stop_gradient(x), x), Math(sp.Derivative(stop_gradient(x), x), sp.S.Zero)),
                "differences of the function hold sg(u) at its value at the point (symdl check, verify_rule)",
            )
        )
    return steps


def derivative_steps(r: Rule, proofs: Mapping[str, Proof]) -> list[Step]:
    g, var = head(r), r.wrt
    dg = sp.Derivative(g, var)
    steps: list[Step] = []
    plain = elementary(r.expr, to_differentiate=True)
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
            "; ".join(
                (["named functions differentiated by their own derivative (σ' = σ(1 − σ), …)"] if r.expr.atoms(NamedFunction) else [])
                + ([f"the value at each kink set by the convention: {CONVENTIONS[r.kink_convention]}"] if r.kinks else [])
            ),
        )
    )
    d = r.definition
    if d.textbook is not None:
        maths = [Math(dg, r.textbook())]
        if d.output is not None:
            maths += [Math(dg, r.textbook(in_output=True)), Math(d.output, g)]
        steps.append(Step("The textbook form" + (" (in terms of the output)" if d.output is not None else ""),
                          tuple(maths), proven_note(proofs, "derivative - textbook")))
    for other in d.other_textbooks:
        steps.append(
            Step(
                f"The derivative by {other}",
                (Math(sp.Derivative(g, other), diff_away_from_jumps(r.expr, other)), Math(sp.Derivative(g, other), r.textbook(other))),
                proven_note(proofs, f"d/d{other} - textbook"),
            )
        )
    if d.seed_form is not None:
        steps.append(Step("The same function in another common form", (Math(g, d.seed_form),), proven_note(proofs, "seed form - expr")))
    steps += _named_function_steps(r, proofs)
    stable = []
    notes = []
    if d.stable_expr is not None:
        stable.append(Math(g, d.stable_expr))
        notes.append(proven_note(proofs, "stable forward - expr"))
    if d.stable_derivative is not None:
        stable.append(Math(dg, d.stable_derivative))
        notes.append(proven_note(proofs, "stable derivative - derivative"))
    if stable:
        steps.append(Step("The numerically stable form", tuple(stable), "; ".join(n for n in notes if n)))
    steps.append(_code_step(r))
    return steps


def _code_step(r: Rule) -> Step:
    """The expression the derivative's numpy code is printed from (parameters bound), and that code."""
    dg = sp.Derivative(head(r), r.wrt)
    maths = (Math(dg, r.numeric_derivative_expr()),)
    try:
        source = r.numeric_derivative().listing
    except ValueError as why:  # a formula parameter without a value: no code can be printed
        return Step("The generated numpy code", maths, f"no code: {why}")
    return Step("The generated numpy code", maths, "printed from the expression above (shown without the argument "
                "checks and the dtype handling around it; symdl derive --format python gives the whole function):",
                code=source)


def _kink_number(value: sp.Expr) -> str:
    """A one-sided derivative as prose: exact when short (1/6, α), else six digits (λα ≈ 1.7581, not 30 digits)."""
    value = sp.sympify(value, strict=True)  # a SymPy object, never text
    if value.is_Float or long_fraction(value):
        return f"≈ {float(value):.6g}"
    pretty = sp.pretty(value, use_unicode=True)
    return pretty if "\n" not in pretty else str(value)


def _kink_kind(r: Rule, kink: Any, subs: dict[sp.Symbol, object]) -> str:
    """What lying between the one-sided derivatives means here: subgradient, Clarke's gradient, or a convention."""
    # g on either side, 10⁻⁴⁰ away: a continuous g (bounded slope) differs by ~10⁻⁴⁰ there, a jump by its size.
    # (sympy.limit misreads a Piecewise on |z| > λ, so the sides are evaluated exactly instead.)
    expr, h = r.expr.subs(subs), sp.Rational(1, 10**40)
    sides = [sp.N(expr.subs(r.wrt, kink.at.subs(subs) + step), 60) for step in (-h, h)]
    if not all(side.is_number for side in sides) or abs(sides[1] - sides[0]) > sp.Rational(1, 10**30):
        return ("the function itself jumps here, so it has no derivative at this point and the value is a convention "
                "(it lies between the one-sided derivatives)")
    rise = sp.N((kink.right - kink.left).subs(r.param_subs), 30)  # a learned input (PReLU's α) left free
    if not rise.is_number:
        return "it lies between the one-sided derivatives"
    if rise >= 0:
        return "it lies between the one-sided derivatives and the kink is convex, so it is a subgradient"
    return ("it lies between the one-sided derivatives, in Clarke's generalised gradient; the kink is concave, "
            "so no subgradient exists there")


def kink_step(r: Rule, kink: Any) -> Step:
    var = r.wrt
    dg = sp.Derivative(head(r), var)
    others = dict(zip(r.inputs[1:], [sp.Rational(37, 100)] * len(r.inputs[1:])))
    subs = {**r.param_subs, **others}
    subgradient = kink.is_subgradient(subs)
    why = (
        f"the value taken is {CONVENTIONS[r.kink_convention]}; {_kink_kind(r, kink, subs)}" if subgradient else
        f"the value taken is {CONVENTIONS[r.kink_convention]}; it is NOT between the one-sided derivatives"
    )
    return Step(
        f"At the kink {var} = {kink.at}",
        (
            Math(sp.Limit(dg, var, kink.at, "-"), kink.left),
            Math(sp.Limit(dg, var, kink.at, "+"), kink.right),
            Math(sp.Subs(dg, var, kink.at), kink.value),
        ),
        f"the derivative jumps from {_kink_number(kink.left)} to {_kink_number(kink.right)}; {why}",
    )


def jump_steps(r: Rule) -> list[Step]:
    """One step naming the floor, ceiling and round of the variable: their jumps are infinitely many, none a listed kink."""
    var = r.wrt
    atoms = sorted((a for a in jump_atoms(r.expr) if a.has(var)), key=sp.default_sort_key)
    if not atoms:
        return []
    moving = r.jumps.moving_kinks
    also = f"; the derivative also jumps at {var} = {', '.join(map(str, moving))}, places that move with their values" \
        if moving else ""
    return [Step(
        f"Jumps of {', '.join(map(str, atoms))}",
        tuple(Math(sp.Derivative(a, var), sp.S.Zero) for a in atoms),
        "each jumps wherever its argument crosses an integer (round: a half-integer, ties to even): infinitely many "
        f"points, not listed as kinks; the derivative is claimed between them, never at them{also}",
    )]


def vector_head(r: VectorRule) -> sp.Expr:
    d = r.definition
    base = sp.IndexedBase("g" if r.kind == "activation" else "L", real=True)
    return base[d.output] if d.output else sp.Symbol(str(base.label), real=True)


def _sizes_once(labels: list[str]) -> str:
    """'vjp by a - textbook (n=1)', '… (n=2)' → 'vjp by a - textbook (n = 1, 2)': one claim, the sizes it was proven at."""
    parts = [re.fullmatch(r"(.*) \(n=(\d+)\)", label) for label in labels]
    if len(labels) > 1 and all(parts) and len({m.group(1) for m in parts if m}) == 1:
        return f"{parts[0].group(1)} (n = {', '.join(m.group(2) for m in parts if m)})" if parts[0] else ""
    return "; ".join(labels)


def vector_steps(r: VectorRule, proofs: Mapping[str, Proof]) -> list[Step]:
    d = r.definition
    out = vector_head(r)
    steps = []
    for inp in d.inputs:
        if inp.base in d.label_inputs:
            continue
        target = inp.base[tuple(fresh_index(s) for s in inp.indices)]
        D = sp.Derivative(out, target)
        raw = sp.diff(d.forward, target)
        steps.append(Step(f"Differentiate by ${sp.latex(target)}$, element by element",  # σ_i', not sigma[i']
                          (Math(D, raw),), "sympy.diff through the sums: Kronecker deltas appear"))
        contracted = r.derivative(inp.base)
        if contracted != raw:
            steps.append(Step("Contract the Kronecker deltas", (Math(D, contracted),),
                              "Σ_j δ_jk f_j = f_k (sympy.concrete.delta.deltasummation)"))
        for table, what in ((d.textbook_jacobian, "Jacobian"), (d.textbook_vjps, "gradient")):
            if inp.base in table:
                labels = [k for k in proofs if k.startswith(("jacobian by " + str(inp.base), "vjp by " + str(inp.base) + " - textbook"))]
                chosen = [k for k in labels if "symbolic" in k][:1] or labels
                note = f"{'proven' if all(proofs.get(k) for k in chosen) else 'see checks'}: {_sizes_once(chosen)}" if chosen else ""
                # a gradient is written in the VJP's own index (∂L/∂a_k), a Jacobian in the primed one of the steps above
                lhs = D if what == "Jacobian" else sp.Derivative(out, inp.base[inp.indices])
                steps.append(Step(f"The textbook {what}", (Math(lhs, table[inp.base]),), note))
        steps.append(
            Step(
                f"The vector-Jacobian product by ${sp.latex(inp.base)}$ (what the numpy code computes)",
                (Math(sp.IndexedBase(f"{inp.base.label}bar")[inp.indices], d.vjps[inp.base]),),
                "v is the cotangent (the gradient arriving from above); proven equal to vᵀJ at concrete sizes",
            )
        )
    if d.stable_forward is not None:
        steps.insert(0, Step("The numerically stable forward form", (Math(out, d.stable_forward),),
                             "max-shifted: no overflow; proven equal to the definition for any shift"))
    return steps
