"""Weight initialisation schemes as SymPy distributions: Var(W) proven equal to each scheme's target variance.

A scheme draws every weight of a layer independently from U(−a, a) or
N(0, s²), where the limit a or the standard deviation s is a SymPy expression
in the layer's fan-in ``n_in`` and fan-out ``n_out``. What each scheme is
*for* is its target variance, and that is what is proven, with
:mod:`sympy.stats`, from the distribution itself:

=============  =================  ======================  =================
scheme         distribution       parameter               target Var(W)
=============  =================  ======================  =================
glorot_uniform U(−a, a)           a = √(6/(n_in+n_out))   2/(n_in+n_out)
glorot_normal  N(0, s²)           s = √(2/(n_in+n_out))   2/(n_in+n_out)
he_uniform     U(−a, a)           a = √(6/n_in)           2/n_in
he_normal      N(0, s²)           s = √(2/n_in)           2/n_in
lecun_uniform  U(−a, a)           a = √(3/n_in)           1/n_in
lecun_normal   N(0, s²)           s = √(1/n_in)           1/n_in
=============  =================  ======================  =================

The normal schemes are the plain (untruncated) normal, as PyTorch's
``xavier_normal_``/``kaiming_normal_`` and the seed notebook's own
initializer (``tf.random.normal``). Keras' ``glorot_normal``, ``he_normal``
and ``lecun_normal`` draw from a normal truncated at ±2 standard deviations
and divide s by 0.87962566103423978 first, the standard deviation of N(0, 1)
cut at ±2, so that the truncated draw has the same target variance
(:func:`prove_truncation_constant` derives that constant).

Layout: symdl's weight matrices are (n_out, n_in), rows the units of the
layer and columns its inputs (Keras kernels are (n_in, n_out), so Keras'
``shape[0]`` is n_in).

>>> bool(prove_variance("glorot_uniform"))
True
>>> check = check_init_formula("sqrt(2/(n_in) + n_out)", "glorot_normal")  # the seed notebook's formula
>>> check.holds, check.counterexample["n_in"], check.counterexample["n_out"]
(False, 300, 100)
>>> init_weight("he_normal", (4, 3), 0).shape
(4, 3)
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy import stats

from ..arguments import SeedLike, float_dtype, generator
from ..codegen.kernel import Kernel, compile_kernel
from ..numbers import format_number
from ..symbolic.proof import Proof, prove_zero
from .init_formula import (
    LAYER_SIZES,
    N_IN,
    N_OUT,
    as_fan_formula,
    is_init_text,
    read_init_text,
)

__all__ = [
    "InitCheck",
    "InitScheme",
    "KERAS_TRUNCATION_CONSTANT",
    "N_IN",
    "N_OUT",
    "SCHEMES",
    "check_draw_range",
    "check_init_formula",
    "init_weight",
    "parameter_value",
    "prove_all",
    "prove_he_relu_gain",
    "prove_truncation_constant",
    "get_scheme",
    "prove_variance",
]

_FAMILIES = {"uniform": "limit", "normal": "std"}


@dataclass(frozen=True)
class InitScheme:
    """W_ij ~ U(−a, a) or N(0, s²) with ``parameter`` (a or s) in n_in, n_out; ``target`` is the Var(W) it is for."""

    name: str
    family: str  # "uniform" or "normal"
    parameter: sp.Expr  # the limit a (uniform) or the standard deviation s (normal)
    target: sp.Expr  # the variance the scheme is designed to give
    purpose: str

    def __post_init__(self) -> None:
        if self.family not in _FAMILIES:
            raise ValueError(f"scheme {self.name!r}: unknown family {self.family!r}; accepted: {', '.join(_FAMILIES)}")
        for field in ("parameter", "target"):
            value = getattr(self, field)
            if not isinstance(value, sp.Expr) or not value.free_symbols <= {N_IN, N_OUT}:
                raise ValueError(f"scheme {self.name!r}: {field} must be a SymPy expression in N_IN and N_OUT, got {value!r}")

    @property
    def parameter_name(self) -> str:
        """``"limit"`` for U(−a, a), ``"std"`` for N(0, s²)."""
        return _FAMILIES[self.family]

    def distribution(self, parameter: sp.Expr | None = None, name: str = "W") -> sp.Expr:
        """The sympy.stats random variable U(−a, a) or N(0, s²), with ``parameter`` in place of a or s if given."""
        value = self.parameter if parameter is None else parameter
        if self.family == "uniform":
            return stats.Uniform(name, -value, value)
        return stats.Normal(name, 0, value)


_GLOROT = 2 / (N_IN + N_OUT)
_SCHEMES: dict[str, InitScheme] = {
    s.name: s
    for s in (
        InitScheme("glorot_uniform", "uniform", sp.sqrt(6 / (N_IN + N_OUT)), _GLOROT,
                   "tanh/sigmoid/linear units: 1/Var is the mean of the forward (n_in) and backward (n_out) conditions"),
        InitScheme("glorot_normal", "normal", sp.sqrt(2 / (N_IN + N_OUT)), _GLOROT,
                   "as glorot_uniform, drawn from a normal"),
        InitScheme("he_uniform", "uniform", sp.sqrt(6 / N_IN), 2 / N_IN,
                   "relu units: relu halves E[z²], so n_in·Var(W) = 2 keeps the variance"),
        InitScheme("he_normal", "normal", sp.sqrt(2 / N_IN), 2 / N_IN,
                   "as he_uniform, drawn from a normal"),
        InitScheme("lecun_uniform", "uniform", sp.sqrt(3 / N_IN), 1 / N_IN,
                   "selu (self-normalising) and linear units: n_in·Var(W) = 1"),
        InitScheme("lecun_normal", "normal", sp.sqrt(1 / N_IN), 1 / N_IN,
                   "as lecun_uniform, drawn from a normal"),
    )
}  # fmt: skip

SCHEMES: tuple[str, ...] = tuple(_SCHEMES)
"""Names of the initialisation schemes."""


def get_scheme(name: str | InitScheme) -> InitScheme:
    """The scheme called ``name``, or written as a formula (``"uniform: sqrt(6/(fan_in + fan_out))"``,
    :mod:`symdl.layers.init_formula`); an :class:`InitScheme` is returned as it is; others raise ValueError (one line)."""
    if isinstance(name, InitScheme):
        return name
    if isinstance(name, str) and name in _SCHEMES:
        return _SCHEMES[name]
    if is_init_text(name):
        family, _, formula = str(name).partition(":")
        return _formula_scheme(f"{family.strip()}: {' '.join(formula.split())}")  # one spelling: the config keeps it
    raise ValueError(f"unknown initialisation scheme {name!r}; accepted: {', '.join(SCHEMES)}, "
                     f"or a formula 'uniform: <limit>' / 'normal: <std>' in fan_in, fan_out")


@functools.lru_cache(maxsize=256)
def _formula_scheme(text: str) -> InitScheme:
    """The scheme of a formula: its target is the variance sympy.stats gives the family at that a or s (a²/3 or s²)."""
    family, parameter = read_init_text(text)
    theta, variance = _variance_in_parameter(family)
    return InitScheme(text, family, parameter, sp.simplify(variance.subs(theta, parameter)), "a formula of your own")


@functools.lru_cache(maxsize=None)
def _variance_proof(init: InitScheme) -> Proof:
    if init.parameter.is_positive:
        # Var of the family at a symbolic θ > 0 (sympy.stats integrates each family once), then θ = the scheme's
        # a or s, positive for every n_in, n_out ≥ 1: the variance of the distribution with a or s inside.
        theta, variance_of_theta = _variance_in_parameter(init.family)
        variance = variance_of_theta.subs(theta, init.parameter)
    else:
        variance = stats.variance(init.distribution())
    proof = prove_zero(variance - init.target, N_IN)
    shown = "=" if proof else "≠"
    family = "U(-a, a)" if init.family == "uniform" else "N(0, s^2)"
    return Proof(
        proof.holds,
        f"sympy.stats: Var {family} with {init.parameter_name} {init.parameter} is {sp.simplify(variance)} "
        f"{shown} {init.target} ({proof.method})",
    )


def prove_variance(scheme: str | InitScheme) -> Proof:
    """Var(W) = target: the variance of the scheme's distribution, by sympy.stats, minus the target is 0.

    For U(−a, a) the variance is a²/3 (so a = √(3·target)); for N(0, s²) it is
    s². Both are computed by :func:`sympy.stats.variance` from the
    family's distribution (at a positive symbolic parameter, into which a
    parameter expression SymPy knows to be positive is substituted), not assumed.
    """
    return _variance_proof(get_scheme(scheme))


@dataclass(frozen=True)
class InitCheck(Proof):
    """A :class:`Proof` that a user's limit/std formula gives the scheme's variance; a refutation carries a counterexample.

    ``counterexample`` (when refuted at a point) maps ``n_in`` and ``n_out``
    to integers and ``formula``, ``variance`` and ``target`` to the exact
    values there.
    """

    variance: sp.Expr | None = None
    counterexample: Mapping[str, sp.Expr | int] | None = None


@functools.lru_cache(maxsize=None)
def _variance_in_parameter(family: str) -> tuple[sp.Symbol, sp.Expr]:
    """(θ, Var) with Var the variance of U(−θ, θ) or N(0, θ²) as a function of θ > 0, by sympy.stats (θ²/3 or θ²)."""
    theta = sp.Symbol("theta", positive=True)
    dist = stats.Uniform("W", -theta, theta) if family == "uniform" else stats.Normal("W", 0, theta)
    return theta, stats.variance(dist)


def _refute_at(value: sp.Expr, variance: sp.Expr, target: sp.Expr, parameter_name: str) -> tuple[sp.Expr, sp.Expr, str] | None:
    """(formula value, its variance, why) if the formula is wrong at this point (all exact numbers), else None."""
    number = sp.N(value, 30)
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not number.is_real or not number > 0:
        return value, variance, f"the {parameter_name} must be a positive real number, but it is {format_number(sp.N(value, 6))}"
    gap = sp.N(variance - target, 30)
    if gap == 0 or abs(gap) < sp.Float(10) ** -25 * abs(sp.N(target, 30)):
        return None
    return value, variance, f"it gives Var(W) = {format_number(sp.N(variance, 6))} where the scheme needs {format_number(sp.N(target, 6))}"


def check_init_formula(
    formula: str | sp.Expr,
    scheme: str | InitScheme = "glorot_uniform",
    *,
    names: tuple[str, str] = ("n_in", "n_out"),
    points: Sequence[tuple[int, int]] = LAYER_SIZES,
) -> InitCheck:
    """Var(W) with the user's a or s = the scheme's target: proven for all n_in, n_out ≥ 1, or refuted at a point.

    ``formula`` is the limit a of U(−a, a) (uniform schemes) or the standard
    deviation s of N(0, s²) (normal schemes) written in the fan-in and
    fan-out ``names``; text goes through :func:`symdl.symbolic.parse.parse` (never
    ``eval``). The variance comes from sympy.stats with the formula as the
    parameter. A refutation names concrete layer sizes from ``points`` where
    the variance differs (or the formula is not a positive number), with the
    exact values; an identity is proven with :func:`symdl.symbolic.proof.prove_zero`.
    """
    init = get_scheme(scheme)
    expr = as_fan_formula(formula, names)
    theta, variance_of_theta = _variance_in_parameter(init.family)
    # The formula goes into Var(θ) afterwards so that a formula that is negative somewhere is reported
    # as such instead of making the distribution invalid.
    variance = variance_of_theta.subs(theta, expr)
    for n_in, n_out in points:
        if not (isinstance(n_in, int) and isinstance(n_out, int) and n_in >= 1 and n_out >= 1):
            raise ValueError(f"points: layer sizes are pairs of positive integers (n_in, n_out), got {(n_in, n_out)!r}")
        at = {N_IN: sp.Integer(n_in), N_OUT: sp.Integer(n_out)}
        wrong = _refute_at(expr.xreplace(at), variance.xreplace(at), init.target.xreplace(at), init.parameter_name)
        if wrong is not None:
            value, var_at, why = wrong
            point = {names[0]: n_in, names[1]: n_out}
            return InitCheck(
                False,
                f"refuted at {names[0]} = {n_in}, {names[1]} = {n_out}: {why}",
                variance=variance,
                counterexample={**point, "formula": value, "variance": var_at, "target": init.target.xreplace(at)},
            )
    proof = prove_zero(variance - init.target, N_IN)
    if proof:
        return InitCheck(True, f"Var(W) = {init.target} for every n_in, n_out ({proof.method})", variance=variance)
    return InitCheck(False, f"not shown: no counterexample at {list(points)} and no proof ({proof.method})", variance=variance)


def prove_he_relu_gain() -> Proof:
    """n_in·Var(W)·E[relu(z)²] = Var(z) for z ~ N(0, σ²) and Var(W) = 2/n_in: He keeps the variance through relu.

    y = Σ_j W_j·relu(z_j) with independent zero-mean W has Var(y) =
    n_in·Var(W)·E[relu(z)²]; sympy.stats gives E[relu(z)²] = σ²/2 for a
    zero-mean normal z, so the gain is 1 exactly when Var(W) = 2/n_in.
    """
    sigma = sp.Symbol("sigma", positive=True)
    z = stats.Normal("z", 0, sigma)
    # relu(z)² = z²·[z > 0], so E[relu(z)²] = E[z² | z > 0]·P(z > 0).
    second_moment = stats.E(z**2, z > 0) * stats.P(z > 0)
    gain = N_IN * get_scheme("he_normal").target * second_moment / sigma**2
    proof = prove_zero(gain - 1, N_IN)
    return Proof(proof.holds, (
        f"sympy.stats: E[relu(z)^2] = E[z^2 | z > 0]*P(z > 0) = {second_moment} for z ~ N(0, sigma^2), "
        f"so n_in*(2/n_in)*E[relu(z)^2]/sigma^2 = {sp.simplify(gain)} ({proof.method})"
    ))


KERAS_TRUNCATION_CONSTANT = 0.87962566103423978
"""Keras' divisor of the standard deviation in its truncated-normal initialisers (the std of N(0, 1) cut at ±2)."""


@functools.lru_cache(maxsize=None)
def prove_truncation_constant() -> Proof:
    """std(Z | −2 < Z < 2) for Z ~ N(0, 1) = 0.87962566103423978, Keras' divisor for its truncated normals.

    The truncated variance is computed exactly by integrating the sympy.stats
    density (∫z²φ by parts, as ∫φ − [zφ]: 1 − 4φ(2)/(2Φ(2) − 1)); its square root must agree with Keras'
    constant to float64 precision. This shows why Keras' truncated normal
    schemes have the same target variance as the plain normals here.
    """
    z = sp.Symbol("z", real=True)
    density = stats.density(stats.Normal("Z", 0, 1))(z)
    mass = sp.integrate(density, (z, -2, 2))
    # By parts: φ' = −zφ, so z²φ = φ + (−zφ)' and ∫ z²φ = ∫ φ + [−zφ] over [−2, 2] (the identity checked exactly).
    parts = -z * density
    if sp.expand(density + sp.diff(parts, z) - z**2 * density) != 0:
        return Proof(False, f"z^2 phi = phi + d/dz({parts}) does not hold for the density {density}")
    variance = sp.simplify((mass + parts.subs(z, 2) - parts.subs(z, -2)) / mass)
    std = sp.N(sp.sqrt(variance), 30)
    close = abs(std - sp.Float(repr(KERAS_TRUNCATION_CONSTANT), 30)) < 2e-16
    return Proof(
        bool(close),
        f"exact truncated variance {variance}; its square root is {format_number(sp.N(std, 20))} (Keras: {KERAS_TRUNCATION_CONSTANT!r})",
    )


def prove_all() -> dict[str, Proof]:
    """Every claim of this module: each scheme's variance, He's relu gain and Keras' truncation constant."""
    proofs = {f"init {name}: Var(W) = {_SCHEMES[name].target}": prove_variance(name) for name in SCHEMES}
    proofs["init he: n_in*Var(W)*E[relu(z)^2] = Var(z)"] = prove_he_relu_gain()
    proofs["init keras truncated normal: std of N(0,1) cut at +-2 = 0.87962566103423978"] = prove_truncation_constant()
    return proofs


# --- numeric -------------------------------------------------------------------------------------------------------



@functools.lru_cache(maxsize=None)
def parameter_kernel(init: InitScheme) -> Kernel:
    """The scheme's a or s as a numpy kernel of (n_in, n_out), printed from the SymPy expression."""
    stem = init.name if init.name.isidentifier() else f"{init.family}_formula"  # a formula's name is its text
    return compile_kernel(init.parameter, [N_IN, N_OUT], f"{stem}_{init.parameter_name}")


def parameter_value(scheme: str | InitScheme, n_in: int, n_out: int) -> float:
    """a or s at these sizes, from :func:`parameter_kernel`; ValueError (one line) where it is not a positive finite double."""
    init = get_scheme(scheme)
    try:
        value = float(parameter_kernel(init)(n_in, n_out))
    except FloatingPointError:  # numpy set to raise on overflow
        value = math.inf
    if not (math.isfinite(value) and value > 0):  # a formula can overflow a double (exp(fan_in) at 784 inputs)
        raise ValueError(f"init {init.name!r}: the {init.parameter_name} is {value!r} at n_in = {n_in}, n_out = {n_out}; "
                         "it must be a positive finite number")
    return value


def _shape(shape: object) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(
            f"shape: expected (n_out, n_in), two positive integers (rows = units, columns = inputs), got {shape!r}"
        )
    dims = []
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"shape: expected (n_out, n_in), two positive integers, got {shape!r}")
        dims.append(int(dim))
    return dims[0], dims[1]


def init_weight(
    scheme: str | InitScheme,
    shape: tuple[int, ...],  # checked to be (n_out, n_in)
    rng_or_seed: SeedLike,
    dtype: str | np.dtype | type = "float64",
) -> np.ndarray:
    """W ~ U(−a, a) or N(0, s²) element-wise, shape (n_out, n_in), with a or s printed from the scheme's SymPy expression.

    ``shape`` is symdl's (n_out, n_in): rows are the layer's units, columns
    its inputs (transpose of a Keras kernel). ``rng_or_seed`` is a numpy
    Generator (advanced by the draw), a non-negative integer seed or a
    SeedSequence; ``dtype`` is float32 or float64 and the draw is made in it.
    """
    init = get_scheme(scheme)
    n_out, n_in = _shape(shape)
    rng = generator(rng_or_seed, "rng_or_seed")
    kind = float_dtype(dtype)
    parameter = parameter_value(init, n_in, n_out)
    with np.errstate(over="ignore", invalid="ignore"):  # a float32 draw of a or s beyond its range: the line below
        if init.family == "uniform":
            # u ∈ [0, 1) → a·(2u − 1) ∈ [−a, a)
            unit = rng.random((n_out, n_in), dtype=kind)
            weights = (kind.type(2 * parameter) * unit - kind.type(parameter)).astype(kind, copy=False)
        else:
            weights = (rng.standard_normal((n_out, n_in), dtype=kind) * kind.type(parameter)).astype(kind, copy=False)
    check_draw_range(init, parameter, n_in, n_out, kind, weights)
    return weights


def check_draw_range(init: InitScheme, parameter: float, n_in: int, n_out: int, dtype: np.dtype,
                     weights: np.ndarray | None = None) -> None:
    """Nothing when the draw's scale (2a of a·(2u − 1) = 2a·u − a, or s of s·z) is finite in ``dtype`` and so are the
    drawn ``weights`` (s·z can pass it), else one ValueError line: :func:`init_weight`, and a module's printed
    ``init_params`` before it is printed (:mod:`symdl.export.graph_modules`)."""
    kind, scale = np.dtype(dtype), 2 * parameter if init.family == "uniform" else parameter
    if scale > float(np.finfo(kind).max) or (weights is not None and not np.isfinite(weights).all()):
        raise ValueError(f"init {init.name!r}: the {init.parameter_name} {parameter:.6g} at n_in = {n_in}, n_out = {n_out} "
                         f"draws weights beyond the {kind.name} range (largest finite {float(np.finfo(kind).max):.6g}); "
                         "give a smaller one or compile in float64")
