r"""Generalised backprop proven at concrete sizes: the graph expanded to scalars, C differentiated directly.

Every vector of the graph becomes a column of scalar symbols (``W1_0_1``,
``x_0``, a mask's ``eps3_0`` held fixed), every rule a generic function f
with derivative f′ (:class:`symdl.graph.forms.GenericForms`), and
C = Σₜ cₜ Σⱼ ℓₜ(hᵗⱼ, yᵗⱼ) + Σ Ω(θ) is written out from the forward equations.
For every scalar parameter θ, ``sp.diff(C, θ)`` minus the value the backprop
equations give is shown to be 0 exactly; the claim holds for every choice of
the rules, whose own derivatives the rule library proves. A stop-gradient
node's value is a fresh column while C is differentiated, then replaced by
what it stands for. A wrong claim is refuted by an exact rational
counterexample: generic functions replaced by polynomials (f(u) = u + u²/3 + 1/7)
at a rational point.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import sympy as sp

from ..backprop.equations import Elementwise, VectorRuleCall
from ..codegen.simplex import SimplexThreshold, SparseThreshold, threshold_value
from ..rulebook.registry import rule
from ..symbolic.proof import Proof
from .blocks import ArrayNode
from .equations import GraphEquations
from .forms import GenericForms
from .model import Model

__all__ = ["BATCH_ROWS", "MAX_SCALARS", "evaluate", "prove_graph"]

#: The most scalar parameters a concrete proof expands (the expression grows with every one).
MAX_SCALARS = 200
#: The samples a proof writes C out for when the graph computes a statistic of the batch (batch norm).
BATCH_ROWS = 2


def evaluate(expr: sp.MatrixExpr, env: dict[sp.MatrixSymbol, sp.Matrix]) -> sp.Matrix:
    """``expr`` as an explicit SymPy matrix, each MatrixSymbol looked up in ``env``."""
    if isinstance(expr, sp.MatrixSymbol):
        return env[expr]
    if isinstance(expr, sp.ZeroMatrix):
        return sp.zeros(*expr.shape)
    if isinstance(expr, sp.MatMul):
        out: object = sp.Integer(1)
        for a in expr.args:
            out = out * (evaluate(a, env) if isinstance(a, sp.MatrixExpr) else a)
        return out
    if isinstance(expr, sp.MatAdd):
        parts = [evaluate(a, env) for a in expr.args]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total
    if isinstance(expr, sp.Transpose):
        return evaluate(expr.arg, env).T
    if isinstance(expr, sp.HadamardProduct):
        parts = [evaluate(a, env) for a in expr.args]
        total = parts[0]
        for p in parts[1:]:
            total = total.multiply_elementwise(p)
        return total
    if isinstance(expr, Elementwise):
        arrays = [evaluate(a, env) for a in expr.arrays]
        f = expr.function
        return sp.Matrix(arrays[0].rows, arrays[0].cols, lambda r, c: f(*(a[r, c] for a in arrays)))
    if isinstance(expr, VectorRuleCall):
        return _vector_rule(expr, [evaluate(a, env) for a in expr.arrays])
    if isinstance(expr, ArrayNode):
        return expr.scalar_value([evaluate(a, env) for a in expr.arrays])
    raise ValueError(f"cannot expand {type(expr).__name__} to scalars: {expr}")


def _write_out(expr: sp.Expr) -> sp.Expr:
    """Every sum over concrete bounds written out term by term."""

    def terms(s: sp.Sum) -> sp.Expr:
        body = s.function
        for index, low, high in reversed(s.limits):
            body = sp.Add(*(body.xreplace({index: k}) for k in range(int(low), int(high) + 1)))
        return body

    return expr.replace(lambda e: isinstance(e, sp.Sum), terms)


def _index_form(name: str, widths: int, columns: list[sp.Matrix]) -> tuple[sp.Expr, list[list[sp.Symbol]], dict]:
    """A vector rule's index expression at width ``widths``, its inputs' entries as fresh scalar symbols."""
    r = rule(name)
    n = next(s for s in r.expr.free_symbols if isinstance(s, sp.Symbol) and s.name == "n")
    fresh = [[sp.Symbol(f"{base}_{k}", real=True) for k in range(widths)] for base in map(str, r.inputs)]
    # τ of sparsemax as a function of the entries (SimplexThreshold), so that sp.diff goes through its declared derivative
    expr = _write_out(r.expr.xreplace({n: widths})).replace(lambda e: isinstance(e, SparseThreshold), lambda e: e.doit())
    cells = {base[k]: fresh[b][k] for b, base in enumerate(r.inputs) for k in range(widths)}
    return expr, fresh, cells


def _vector_rule(call: VectorRuleCall, arrays: list[sp.Matrix]) -> sp.Matrix:
    """A vector rule's value or VJP on explicit columns, from its index form (the VJP J^T v by sp.diff of it)."""
    width = arrays[0].rows
    expr, fresh, cells = _index_form(call.rule, width, arrays)
    back = {s: a[k] for symbols, a in zip(fresh, arrays) for k, s in enumerate(symbols)}
    i = next((s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.name == "i"), None)
    outputs = [expr] if i is None else [expr.xreplace({i: k}) for k in range(width)]
    outputs = [o.xreplace(cells) for o in outputs]
    if call.role == "value":
        return sp.Matrix([o.xreplace(back) for o in outputs])
    cotangent = arrays[len(fresh)] if len(arrays) > len(fresh) else sp.ones(len(outputs), 1)
    first = fresh[0]
    return sp.Matrix([sum(cotangent[k] * sp.diff(o, u) for k, o in enumerate(outputs)).xreplace(back) for u in first])


def _column(name: str, shape: tuple[int, int]) -> sp.Matrix:
    rows, cols = int(shape[0]), int(shape[1])
    if cols == 1:
        return sp.Matrix([sp.Symbol(f"{name}_{r}", real=True) for r in range(rows)])
    return sp.Matrix(rows, cols, lambda r, c: sp.Symbol(f"{name}_{r}_{c}", real=True))


def _point(symbols: set[sp.Symbol]) -> dict[sp.Symbol, sp.Rational]:
    values = {}
    for t, s in enumerate(sorted(symbols, key=sp.default_sort_key)):
        value = Fraction((7 * t + 2) % 11 - 5, 3 + t % 4)
        values[s] = sp.Rational(value.numerator, value.denominator) if value else sp.Rational(1, 7)
    return values


def _at_point(expr: sp.Expr, witnesses: dict, point: dict) -> Fraction:
    """``expr`` exactly at a rational point, generic functions replaced by their witnesses (shared subtrees once)."""
    memo: dict[sp.Basic, Fraction] = {}

    def value(e: sp.Basic) -> Fraction:
        if e in memo:
            return memo[e]
        if e.is_Symbol:
            v = point[e]
        elif e.is_Rational:
            v = Fraction(int(e.p), int(e.q))
        elif e.is_Add:
            v = sum((value(a) for a in e.args), Fraction(0))
        elif e.is_Mul:
            v = Fraction(1)
            for a in e.args:
                v *= value(a)
        elif e.is_Pow and e.exp.is_Integer:
            v = value(e.base) ** int(e.exp)
        elif isinstance(e, SimplexThreshold):  # sparsemax's τ, exact on rationals by sorting
            v = threshold_value([value(a) for a in e.args])
        elif isinstance(e, sp.Heaviside):  # [u > 0], or ½ or H0 at u = 0
            u = value(e.args[0])
            v = Fraction(int(u > 0)) if u != 0 else value(e.args[1]) if len(e.args) > 1 else Fraction(1, 2)
        elif type(e) in witnesses:
            lam = witnesses[type(e)]
            args = [value(a) for a in e.args]
            v = _at_point(lam.expr, {}, {**dict(zip(lam.variables, args))})
        else:
            raise ValueError(f"no exact rational value for {e}")
        memo[e] = v
        return v

    return value(expr)


def _zero(expr: sp.Expr, witnesses: dict) -> tuple[bool | None, str]:
    """(True, how) when ``expr`` is shown ≡ 0, (False, counterexample) when a rational point shows it is not, else (None, "")."""
    # Each application of a generic function is an opaque symbol: a polynomial in them that is 0 proves expr ≡ 0.
    applied = sorted(expr.atoms(sp.core.function.AppliedUndef), key=sp.default_sort_key)
    opaque = expr.xreplace({a: sp.Dummy("f") for a in applied})
    if sp.expand(opaque) == 0:
        return True, "expands to 0"
    if sp.cancel(sp.together(opaque)) == 0:
        return True, "cancels to 0"
    if opaque.has(sp.Piecewise):  # a formula layer's kink: one Piecewise over the same conditions, each branch 0
        folded = sp.piecewise_fold(sp.expand(opaque))
        if folded == 0 or isinstance(folded, sp.Piecewise) and all(sp.expand(value) == 0 for value, _ in folded.args):
            return True, "is 0 on every branch of its Piecewise"
    point = {s: Fraction(int(v.p), int(v.q)) for s, v in _point(expr.free_symbols).items()}
    try:
        at = _at_point(expr, witnesses, point)
    except (ValueError, ZeroDivisionError):
        return None, ""
    if at != 0:
        shown = str(at) if len(str(at)) < 40 else f"a rational ≈ {float(at):.6g} ({len(str(at))} digits)"
        return False, f"exactly {shown} at a rational point (generic functions f(u) = u + u²/3 + 1/7, ℓ(a, y) = (a − y)²/2 + a³/5)"
    return None, ""


def prove_graph(model: Model, mutation: str | None = None, equations: GraphEquations | None = None,
                first_refutation: bool = False) -> dict[str, Proof]:
    """∂C/∂θ from the graph's backprop equations (or ``equations``) = sp.diff(C, θ), exactly, for every parameter array.

    ``mutation`` derives a deliberately wrong variant (:data:`symdl.graph.equations.MUTATIONS`) to be refuted;
    ``first_refutation`` stops at the first parameter refuted (the rest are left out).
    """
    forms = GenericForms()
    eqs = equations if equations is not None else model.equations(training=True, forms=forms, mutation=mutation)
    count = sum(int(sp.prod(s.shape)) for s in eqs.params.values())
    if count > MAX_SCALARS:
        raise ValueError(f"prove_graph: {count} scalar parameters; a concrete proof expands at most {MAX_SCALARS}")
    # A statistic of the batch (batch norm's mean) has no value for one sample: then C is written out for a batch of
    # BATCH_ROWS samples, C = Σ_b C_b (the 1/m of the code divides both sides), each per-batch value from all of them.
    rows = BATCH_ROWS if any(not getattr(node, "per_sample", True) for eq in _all(eqs) for node in eq.rhs.atoms(ArrayNode)) else 1
    shared: dict[sp.MatrixSymbol, sp.Matrix] = {symbol: _column(eqs.names[symbol], symbol.shape) for symbol in eqs.params.values()}
    envs = [dict(shared) for _ in range(rows)]
    for b, env in enumerate(envs):
        for symbol in [*eqs.inputs, *eqs.targets, *(m for m, _ in eqs.masks.values())]:
            env[symbol] = _column(eqs.names[symbol] + (f"_s{b}" if rows > 1 else ""), symbol.shape)
    stopped: dict[sp.Symbol, sp.Expr] = {}
    for eq in eqs.forward:
        if eq.lhs in eqs.stopped:  # a constant while C is differentiated
            for b, env in enumerate(envs):
                value = evaluate(eq.rhs, env)
                fresh = _column(f"stop_{eqs.names[eq.lhs]}" + (f"_s{b}" if rows > 1 else ""), eq.lhs.shape)
                stopped.update(zip(fresh, value))
                env[eq.lhs] = fresh
            continue
        _assign(eq, envs, eqs.batched)
    C = sp.Integer(0)
    for env in envs:
        for t in eqs.losses:
            h, y = env[t.value], env[t.target]
            if t.forms.vector_rule is not None:
                C += t.coefficient * _vector_rule(VectorRuleCall(t.forms.vector_rule, "value", t.value, t.target), [h, y])[0]
            else:
                ell = t.forms.value_lambda()
                C += t.coefficient * sum(ell(h[j], y[j]) for j in range(h.rows))
    for key, pf in eqs.penalties:
        C += sum(pf.value(w) for w in shared[eqs.params[key]])
    for t in eqs.losses:
        _assign(t.equation, envs, eqs.batched)
    for _, eq in eqs.backward:
        _assign(eq, envs, eqs.batched)
    env = envs[0]
    witnesses = dict(forms.witnesses())
    results: dict[str, Proof] = {}
    for key, symbol in eqs.params.items():
        scalars = env[symbol]
        claimed = env[eqs.param_grads[key]] if key in eqs.param_grads else sp.zeros(*scalars.shape)
        label = f"dC/d{key} == the backprop equations' value"
        results[label] = _compare(C, scalars, claimed, stopped, witnesses)
        if first_refutation and not results[label]:
            break
    return results


def _all(eqs: GraphEquations) -> list[sp.Eq]:
    return [*eqs.forward, *(t.equation for t in eqs.losses), *(eq for _, eq in eqs.backward)]


def _assign(eq: sp.Eq, envs: list[dict[sp.MatrixSymbol, sp.Matrix]], batched: frozenset[sp.MatrixSymbol]) -> None:
    """``eq.lhs`` in every sample's env: per sample; for a per-batch symbol once, summed over the samples where it
    reads per-sample values (a parameter's gradient, as the printed code's 1ᵀD); a batch mean averages its argument."""
    rhs = eq.rhs
    for node in sorted(rhs.atoms(ArrayNode), key=sp.default_sort_key):
        if not getattr(node, "per_sample", True):
            (argument,) = node.arrays
            parts = [evaluate(argument, env) for env in envs]
            fresh = sp.MatrixSymbol(f"_batch_{len(envs[0])}", *node.shape)
            for env in envs:
                env[fresh] = sum(parts[1:], parts[0]) / len(envs)
            rhs = rhs.xreplace({node: fresh})
    if eq.lhs in batched:
        for env in envs:
            env[eq.lhs] = evaluate(rhs, env)
        return
    parts = [evaluate(rhs, env) for env in envs] if rhs.atoms(sp.MatrixSymbol) & batched else [evaluate(rhs, envs[0])]
    total = sum(parts[1:], parts[0])
    for env in envs:
        env[eq.lhs] = total


def _compare(C: sp.Expr, scalars: sp.Matrix, claimed: sp.Matrix, stopped: dict, witnesses: dict) -> Proof:
    methods = set()
    cells = list(itertools.product(range(scalars.rows), range(scalars.cols)))
    for cell in cells:
        theta = scalars[cell]
        gap = (sp.diff(C, theta) - claimed[cell]).xreplace(stopped)
        outcome, how = _zero(gap, witnesses)
        if outcome is False:
            return Proof(False, f"refuted at {theta}: dC/d{theta} minus the claim is {how}", len(cells))
        if outcome is None:
            return Proof(False, f"not shown for {theta}", len(cells))
        methods.add(how)
    return Proof(True, f"expanded to scalars, generic element-wise rules, vector rules from their index form: sp.diff(C, θ) minus the equations' value {' or '.join(sorted(methods))} for every entry", len(cells))
