"""Dropout as SymPy random expressions: mask ~ Bernoulli(p), p the keep probability; expectations proven with sympy.stats.

Two rules give the same expected input to the next layer at inference as
during training (for a linear unit; proven here):

================  ===================  ==================  ========================
rule              training             inference           proven
================  ===================  ==================  ========================
inverted          mask·x/p             x                   E[mask·x/p] = x
weight_scaling    mask·x               p·x                 E[mask·x] = p·x
================  ===================  ==================  ========================

``weight_scaling`` is the seeds' *weight scaling inference rule* (train with
the plain mask, multiply the weights, equivalently the unit's output, by p
after training); ``inverted`` is the seeds' equivalent "multiply the unit's
state by 1/p during training" and what PyTorch and Keras do. p is the *keep*
probability as in the seeds (0.5 for hidden units, 0.8 for inputs); PyTorch's
and Keras' ``rate`` is the drop probability 1 − p.

After a non-linearity the rule is only approximate: E[φ(mask·x/p)] =
p·φ(x/p) + (1 − p)·φ(0), which is φ(x) for every x and p only when φ is
affine on the segment from 0 to x/p (Jensen: for convex φ the expectation is
≥ φ(x), for concave ≤). :func:`check_activation` decides it for a given φ.

>>> bool(prove_expectation(training_expr("inverted"), inference_expr("inverted")))
True
>>> wrong = prove_expectation(training_expr("weight_scaling"), X)  # forgot the p
>>> wrong.holds, wrong.counterexample["x"], wrong.counterexample["p"]
(False, 1, 1/2)
"""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy import stats

from ..arguments import SeedLike, float_dtype, generator
from ..codegen.kernel import Kernel, compile_kernel
from ..numbers import format_number
from ..symbolic.functions import NAMED_FUNCTIONS
from ..symbolic.proof import Proof, prove_zero

__all__ = [
    "MASK",
    "P",
    "RULES",
    "X",
    "ExpectationCheck",
    "check_activation",
    "dropout_mask",
    "expectation_of",
    "inference_expr",
    "inverted_dropout",
    "layer_exprs",
    "masks",
    "prove_all",
    "prove_expectation",
    "training_expr",
    "weight_scaling",
]

P = sp.Symbol("p", positive=True)
"""Keep probability, 0 < p ≤ 1 (Bernoulli's own check refuses p > 1 for a number)."""
X = sp.Symbol("x", real=True)
"""The input of the dropped unit (its activation in the previous layer)."""
MASK = stats.Bernoulli("mask", P)
"""mask ~ Bernoulli(p): 1 (keep) with probability p, else 0."""

RULES: tuple[str, ...] = ("inverted", "weight_scaling")
"""Dropout rules: ``inverted`` (mask·x/p, then x) and ``weight_scaling`` (mask·x, then p·x)."""


def _rule(rule: str) -> str:
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"unknown dropout rule {rule!r}; accepted: {', '.join(RULES)}")
    return rule


def training_expr(rule: str = "inverted", value: sp.Expr = X, mask: sp.Expr = MASK) -> sp.Expr:
    """mask·value/p (``inverted``) or mask·value (``weight_scaling``): the unit's output during training."""
    return mask * value / P if _rule(rule) == "inverted" else mask * value


def inference_expr(rule: str = "inverted", value: sp.Expr = X) -> sp.Expr:
    """value (``inverted``) or p·value (``weight_scaling``): the unit's output at inference."""
    return value if _rule(rule) == "inverted" else P * value


def _count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive integer number of inputs, got {n!r}")
    return n


def masks(n: int) -> tuple[sp.Expr, ...]:
    """mask_0 … mask_{n−1}, independent Bernoulli(p) random symbols (one per input of a layer)."""
    n = _count(n)
    return tuple(stats.Bernoulli(f"mask{j}", P) for j in range(n))


def layer_exprs(n: int, rule: str = "inverted") -> tuple[sp.Expr, sp.Expr]:
    """(Σ_j w_j·train(x_j), Σ_j w_j·infer(x_j)): a linear unit with n dropped inputs, during training and at inference."""
    dropped = masks(n)  # checks n first
    w = sp.symbols(f"w0:{n}", real=True)
    x = sp.symbols(f"x0:{n}", real=True)
    training = sp.Add(*(w[j] * training_expr(rule, x[j], m) for j, m in enumerate(dropped)))
    inference = sp.Add(*(w[j] * inference_expr(rule, x[j]) for j in range(n)))
    return training, inference


@dataclass(frozen=True)
class ExpectationCheck(Proof):
    """A :class:`Proof` that E[training] = inference; a refutation carries an exact counterexample.

    ``counterexample`` maps each symbol's name to its value there, plus
    ``"expected"`` (E[training]) and ``"inference"``, both exact.
    """

    expectation: sp.Expr | None = None
    counterexample: Mapping[str, sp.Expr] | None = None


_MAGNITUDES = (1, 2, sp.Rational(1, 2), 3, sp.Rational(3, 2), sp.Rational(1, 3))
_KEEP = (sp.Rational(1, 2), sp.Rational(4, 5), sp.Rational(1, 4))


def _trial_points(symbols: list[sp.Symbol], at: Mapping[sp.Symbol, sp.Expr]) -> list[dict[sp.Symbol, sp.Expr]]:
    """Exact points to look for a counterexample at: ``at`` first, then fixed pseudo-random rationals of both signs."""
    trials: list[dict[sp.Symbol, sp.Expr]] = []
    if at:
        trials.append({s: at.get(s, sp.Integer(1) if s != P else sp.Rational(1, 2)) for s in symbols})
    trials.append({s: (_KEEP[0] if s == P else sp.Integer(1)) for s in symbols})
    trials.append({s: (_KEEP[0] if s == P else sp.Integer(-1)) for s in symbols})
    draw = random.Random(5)  # fixed: the same points every run
    for _ in range(10):
        trials.append({
            s: draw.choice(_KEEP) if s == P else draw.choice((1, -1)) * draw.choice(_MAGNITUDES) for s in symbols
        })  # fmt: skip
    return trials


def _counterexample(gap: sp.Expr, at: Mapping[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr] | None:
    symbols = sorted(gap.free_symbols, key=str)
    for point in _trial_points(symbols, at):
        value = sp.N(gap.xreplace(point), 30)
        if value.is_real and value.is_finite and abs(value) > 1e-20:
            return point
    return None


def prove_expectation(
    training: sp.Expr,
    inference: sp.Expr,
    var: sp.Symbol = X,
    *,
    at: Mapping[sp.Symbol, object] | None = None,
) -> ExpectationCheck:
    """E[training] = inference: E by sympy.stats over the Bernoulli masks, then E − inference ≡ 0 or a counterexample.

    ``training`` contains random symbols (:data:`MASK`, :func:`masks`);
    ``var`` is the variable case analysis splits on when the expression has
    kinks (relu); ``at`` is a point (symbol → exact number) tried first for a
    counterexample. A refutation is reported only with exact values at a
    concrete point where the two sides differ.
    """
    for name, value in (("training", training), ("inference", inference)):
        if not isinstance(value, sp.Expr):
            raise TypeError(f"{name} must be a SymPy expression, got {type(value).__name__}")
    if stats.random_symbols(inference):
        raise ValueError(f"inference must not contain random symbols, got {inference}")
    expectation = stats.E(training)
    gap = expectation - inference
    exact = {s: sp.nsimplify(v) for s, v in (at or {}).items()}
    point = _counterexample(gap, exact)
    if point is not None:
        shown = {str(s): v for s, v in point.items()}
        expected, inferred = expectation.xreplace(point), inference.xreplace(point)
        where = ", ".join(f"{k} = {v}" for k, v in shown.items())
        return ExpectationCheck(
            False,
            f"refuted at {where}: E[training] = {sp.nsimplify(expected)} ≈ {format_number(sp.N(expected, 6))}, "
            f"inference = {sp.nsimplify(inferred)} ≈ {format_number(sp.N(inferred, 6))}",
            expectation=expectation,
            counterexample={**shown, "expected": expected, "inference": inferred},
        )
    proof = prove_zero(gap, var if var in gap.free_symbols else X)
    if proof:
        verdict = f"sympy.stats: E[{training}] = {expectation}; minus {inference} is 0 ({proof.method})"
        return ExpectationCheck(True, verdict, proof.cases, expectation=expectation)
    return ExpectationCheck(
        False, f"not shown: no counterexample found and no proof ({proof.method})", expectation=expectation
    )


def check_activation(
    sigma: Callable[[sp.Expr], sp.Expr],
    rule: str = "inverted",
    n: int = 1,
    *,
    at: Mapping[sp.Symbol, object] | None = None,
) -> ExpectationCheck:
    """E[φ(training)] = φ(inference)? For n = 1 the unit φ(mask·x/p); for n ≥ 2 φ(Σ_j w_j·mask_j·x_j/p).

    With one dropped input E[φ(mask·x/p)] = p·φ(x/p) + (1 − p)·φ(0): exact
    for affine φ and for positively homogeneous φ with φ(0) = 0 (relu),
    strictly off for strictly convex or concave φ (Jensen). With several
    inputs the sum can cross a kink under some masks, so relu is off too.
    """
    if not callable(sigma):
        raise TypeError(f"sigma must be a function of a SymPy expression, got {type(sigma).__name__}")
    if _count(n) == 1:
        training, inference = training_expr(rule), inference_expr(rule)
    else:
        training, inference = layer_exprs(n, rule)
    return prove_expectation(sigma(training), sigma(inference), at=at)


def _refutes(check: ExpectationCheck) -> Proof:
    """The claim "E[training] ≠ inference" holds when ``check`` was refuted at a concrete point."""
    if check.counterexample is None:
        return Proof(False, f"no counterexample: {check.method}")
    return Proof(True, check.method)


def _identity(what: str, computed: sp.Expr, claimed: sp.Expr) -> Proof:
    """``computed`` (by sympy.stats) − ``claimed`` ≡ 0."""
    proof = prove_zero(computed - claimed, X)
    shown = f"sympy.stats: {what} = {sp.factor(computed)}; minus {claimed} is 0 ({proof.method})"
    return Proof(proof.holds, shown, proof.cases)


def _jensen_gap_sign(sigma: Callable[[sp.Expr], sp.Expr], at: Mapping[sp.Symbol, sp.Expr], sign: int) -> Proof:
    """The gap E[φ(mask·x/p)] − φ(x) has the given sign at ``at`` (Jensen for convex (+) or concave (−) φ)."""
    check = check_activation(sigma, at=at)
    if check.counterexample is None:
        return Proof(False, f"no counterexample: {check.method}")
    gap = sp.N(check.counterexample["expected"] - check.counterexample["inference"], 30)
    return Proof(bool(sp.sign(gap) == sign), f"{check.method}; the gap is {format_number(sp.N(gap, 6))}")


def expectation_of(expr: sp.Expr) -> sp.Expr:
    """E[expr] as an unevaluated application (for display)."""
    return sp.Function("E")(expr)


def prove_all() -> dict[str, Proof]:
    """Every claim of this module, each a true statement: expectations that match and the non-linear cases that do not."""
    a, b = sp.symbols("a b", real=True)
    one = {X: sp.Integer(1), P: sp.Rational(1, 2)}
    softplus = NAMED_FUNCTIONS["softplus"]
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    mixed = {w[0]: 1, w[1]: -1, x[0]: 1, x[1]: 1, P: sp.Rational(1, 2)}
    return {
        "dropout inverted: E[mask*x/p] = x": prove_expectation(training_expr("inverted"), inference_expr("inverted")),
        "dropout weight scaling: E[mask*x] = p*x": prove_expectation(
            training_expr("weight_scaling"), inference_expr("weight_scaling")
        ),
        "dropout inverted layer (n=3): E[sum w_j mask_j x_j/p] = sum w_j x_j": prove_expectation(*layer_exprs(3, "inverted")),
        "dropout weight scaling layer (n=3): E[sum w_j mask_j x_j] = p sum w_j x_j": prove_expectation(
            *layer_exprs(3, "weight_scaling")
        ),
        "dropout inverted: Var[mask*x/p] = x^2 (1-p)/p": _identity(
            "Var[mask*x/p]", stats.variance(training_expr("inverted")), X**2 * (1 - P) / P
        ),
        "dropout inverted, affine phi(y) = a*y + b: E[phi(mask*x/p)] = phi(x)": check_activation(lambda y: a * y + b),
        "dropout inverted, relu, one input: E[relu(mask*x/p)] = relu(x)": check_activation(lambda y: sp.Max(0, y)),
        "dropout weight scaling, relu, one input: E[relu(mask*x)] = relu(p*x)": check_activation(
            lambda y: sp.Max(0, y), "weight_scaling"
        ),
        "dropout inverted, square: E[(mask*x/p)^2] - x^2 = x^2 (1-p)/p (the Jensen gap is the variance)": _identity(
            "E[(mask*x/p)^2] - x^2", stats.E(training_expr("inverted") ** 2) - X**2, X**2 * (1 - P) / P
        ),
        "dropout inverted, tanh: E[tanh(mask*x/p)] < tanh(x) at x = 1, p = 1/2 (concave for x > 0)": _jensen_gap_sign(
            sp.tanh, one, -1
        ),
        "dropout inverted, softplus: E[softplus(mask*x/p)] > softplus(x) at x = 1, p = 1/2 (convex)": _jensen_gap_sign(
            softplus, one, 1
        ),
        "dropout inverted, relu after 2 inputs: E != relu(sum w_j x_j) at w = (1, -1), x = (1, 1), p = 1/2": _refutes(
            check_activation(lambda y: sp.Max(0, y), n=2, at=mixed)
        ),
    }


# --- numeric -------------------------------------------------------------------------------------------------------

_MASK_SYMBOL = sp.Symbol("mask", real=True)


def _plain(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the random mask replaced by a plain symbol, ready for code generation."""
    return expr.xreplace({MASK: _MASK_SYMBOL})


@functools.lru_cache(maxsize=None)
def _kernel(rule: str, phase: str) -> Kernel:
    if phase == "training":
        return compile_kernel(_plain(training_expr(rule)), [X, _MASK_SYMBOL, P], f"{rule}_dropout")
    return compile_kernel(inference_expr(rule), [X, P], f"{rule}_inference")


def _keep_probability(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(p) or not 0 < float(p) <= 1:
        raise ValueError(f"p: the keep probability must be a number in (0, 1] (p = 0 would divide by zero), got {p!r}")
    return float(p)


def _shape(shape: object) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) else shape
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) >= 0 for d in dims
    ):
        raise ValueError(f"shape: expected a non-negative integer or a tuple of them, got {shape!r}")
    return tuple(int(d) for d in dims)


def dropout_mask(
    shape: int | tuple[int, ...],
    p: float,
    seed_or_rng: SeedLike,
    dtype: str | np.dtype | type = "float64",
) -> np.ndarray:
    """mask ~ Bernoulli(p) element-wise: 1 (keep) with probability p, else 0, as an array of ``dtype``.

    ``seed_or_rng`` is a numpy Generator (advanced by the draw), a
    non-negative integer seed or a SeedSequence; ``dtype`` is float32 or float64.
    """
    dims = _shape(shape)
    keep = _keep_probability(p)
    rng = generator(seed_or_rng, "seed_or_rng")
    kind = float_dtype(dtype)
    # u ~ U[0, 1) in float64, so P(u < p) = p up to 2^-53 whatever the dtype of the mask.
    return np.asarray(rng.random(dims) < keep).astype(kind)


def _array(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected real numbers (a float or int array), got dtype {arr.dtype}")
    return arr


def inverted_dropout(x: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """x·mask/p: inverted dropout during training, printed from the SymPy expression ``training_expr("inverted")``.

    ``mask`` holds 0/1 values (see :func:`dropout_mask`) and broadcasts
    against ``x``; float32 inputs give float32. At inference inverted
    dropout is the identity.
    """
    keep = _keep_probability(p)
    arr, m = _array(x, "x"), _array(mask, "mask")
    try:
        np.broadcast_shapes(arr.shape, m.shape)
    except ValueError:
        raise ValueError(f"mask: shape {m.shape} does not broadcast against x's shape {arr.shape}") from None
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("mask: expected only 0 and 1 values (1 = keep), as made by dropout_mask")
    return _kernel("inverted", "training")(arr, m, keep)


def weight_scaling(x: np.ndarray, p: float) -> np.ndarray:
    """p·x: the seeds' weight scaling inference rule (a net trained with mask·x), printed from ``inference_expr``.

    Scaling a layer's inputs by p is the same as scaling its weights by p:
    W(p·x) = (p·W)x. float32 inputs give float32.
    """
    keep = _keep_probability(p)
    return _kernel("weight_scaling", "inference")(_array(x, "x"), keep)
