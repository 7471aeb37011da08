"""Finite, warning-free values and gradients for |z| ≤ 1000 in float32 and float64, on every backend.

numpy kernels, the JAX export and the PyTorch export of formulas whose value and derivative are finite there
(the rewrite pass's patterns, scaled and composed), and of every element-wise built-in rule's export. The
numpy kernels of built-in rules are `symdl verify`'s stability column (tests/test_verify.py); the slow
sweep over random formulas of the whole grammar is bench/stability_sweep.py.
"""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

import symdl
from symdl.rulebook.registry import is_vector_rule, rules
from symdl.symbolic.proof import elementary, prove_zero
from symdl.symbolic.rewrite import applied_rewrites
from symdl.testing import STABILITY_LIMIT, relative_error, stability_grid
from symdl.verify.rules import case_params

#: The points that break naive code: ±1000, the exp overflow edges of both dtypes, 0 and tiny values.
POINTS = np.array([0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1.0, -1.0, 20.0, -20.0, 30.0, -30.0, 88.0, -88.0, 89.0, -89.0,
                   100.0, -100.0, 709.0, -709.0, 710.0, -710.0, 1000.0, -1000.0])
DTYPES = (np.float32, np.float64)


def _numpy(r, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(r.numeric()(x)), np.asarray(r.numeric_derivative()(x))


def _torch(r, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    value = symdl.export.to_torch(r).apply(t)
    (grad,) = torch.autograd.grad(value.sum(), t)
    return value.detach().numpy(), grad.numpy()


def _jax(r, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    jax = pytest.importorskip("jax")
    f = symdl.export.to_jax(r)
    with jax.enable_x64(True):
        xs = jax.numpy.asarray(x)
        value, grad = f(xs), jax.grad(lambda a: f(a).sum())(xs)
    return np.asarray(value), np.asarray(grad)


BACKENDS = {"numpy": _numpy, "torch": _torch, "jax": _jax}


def _finite_without_warnings(backend: str, r, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = BACKENDS[backend](r, x)
    assert value.dtype == x.dtype and grad.dtype == x.dtype, (r.name, backend, value.dtype, grad.dtype)
    bad = ~(np.isfinite(value) & np.isfinite(grad))
    assert not bad.any(), (r.name, backend, x.dtype, x[bad], value[bad], grad[bad])
    return value, grad


def _reference(expr: sp.Expr, var: sp.Symbol, x: np.ndarray) -> np.ndarray:
    """``expr`` at each float of ``x`` in 1200-digit mpmath (1 + e^{−2000} still differs from 1 there)."""
    func = sp.lambdify([var], elementary(expr), modules="mpmath")
    with mpmath.workdps(1200):
        return np.array([float(mpmath.re(func(mpmath.mpf(float(v))))) for v in x])


# --- formulas the rewrite pass now prints stably (each overflowed as typed) -------------------------------

#: Each is finite with a finite derivative for |z| ≤ 1000; as typed, e^z overflows in each.
SCALED = (
    "log(2 + exp(z))",  # log(a + b·eᵘ): softplus_scaled
    "log(1 + 2*exp(z))",
    "log(exp(z) + E)",
    "log(3*exp(-z) + 3)",
    "exp(z)/(exp(z) + 2)",  # e^{mu}/(a + b·eᵘ)ⁿ: sigmoid_scaled
    "exp(-z)/(1 + exp(-z))**2",
    "z*exp(2*z)/(0.5 + 3*exp(z))**3",
    "1/(2 + exp(-z))",  # (a + b·eᵘ)⁻ⁿ: sigmoid_power
    "1/(1 + exp(z))**2",
    "exp(z)/(exp(z) + exp(-z))",  # eᵘ/(eᵘ + eᵛ): sigmoid_of_difference
    "exp(z)/(exp(z) + exp(2*z))",
    "log(2*exp(z))",  # log of a product: log_product
    "log(exp(z)/2)",
    "log(exp(z)*sigmoid(z))",
    "log(sigmoid(z)*(1 - sigmoid(z)))",  # and its derivative σ(−z) − σ(z): sigmoid_difference, −tanh(z/2)
    "log(exp(z) + exp(-z) + exp(2*z))",  # log Σ cᵢe^{uᵢ}, any number of terms: log_sum_exp_max
    "log(2*exp(z) + 3*exp(-2*z))",
    "1/(1 + exp(z) + exp(2*z))**2",  # (Σ cᵢe^{uᵢ})ᵖ: exp_sum_reciprocal
    "exp(z)*sigmoid(-z)",  # e^w·Π σ(vⱼ)^{kⱼ}: exp_sigmoid
    "z*exp(z)*sigmoid(-z)",
    # sigmoids (and reciprocals that are sigmoids) in such a sum: c·σ(v)ᵏ = c·e^{−k·softplus(−v)}; log(eᶻ + σ(z)) was
    # log(inf) at z = 1000 and log(0) at z = −1000 in float64 as typed
    "log(exp(z) + sigmoid(z))",
    "log(1/(1 + exp(-z)) + exp(z))",
    "log(3*sigmoid(-z)**2 + exp(2*z))",
)
#: Finite and warning-free, but not accurate near 0: log((1 + eᶻ)/2) = softplus(z) − log 2 cancels there (as the
#: typed form does), so only the finiteness is claimed.
FINITE_ONLY = ("log((1 + exp(z))/2)",
               # e^w·(Σ cᵢe^{uᵢ})ᵖ: exp_sum_ratio. Its derivative, the quotient rule's e^a/S − e^a·S′/S², cancels where
               # one term dominates (z = 20 in float32: 0, not 2e-9).
               "exp(z)/(exp(z) + exp(-z) + 1)", "exp(2*z)/(1 + exp(z) + exp(3*z))",
               # M + log S loses the digits of a value near 0: log(1 + e⁻¹⁰⁰⁰ + …) is log(1.0) = 0 at z = −1000.
               "log(exp(z) + exp(2*z) + 1)",
               # Derivatives that are a difference of two terms near z = 0: (e^{−z−M} − e^{z−M})·…, (2σ(−z) − 1)·….
               "1/(exp(z) + exp(-z))", "exp(-z)*sigmoid(z)**2",
               # c·cosh(v) in such a sum is (c/2)·eᵛ + (c/2)·e⁻ᵛ: cosh(1000) overflows as typed; the derivatives are
               # differences (e^{z−M} − e^{−z−M})/2 near z = 0.
               "log(1 + cosh(z))", "1/(2 + cosh(z))**2", "log(1 + cosh(log(cosh(z))))",
               # Negative coefficients in a sum proven bounded away from 0 (log_sum_exp_signed): the derivative of the
               # first is (e^{z−M} − e^{−z−M})/…, a difference near z = 0; the second is log(1 − z + …) near z = 0.
               "log(exp(z) + exp(-z) - 1.5)", "log(exp(2*z) - exp(z) + 1)",
               # Sums of sigmoids alone (σ(−1000) + σ(−2000) underflows to 0 as typed): log(σ(z) + σ(2z)) is log 1 at 0.
               "log(sigmoid(z) + sigmoid(2*z))", "1/(exp(z) + sigmoid(-z))")


@pytest.mark.parametrize("text", SCALED)
def test_scaled_exponential_patterns_are_proven_finite_and_accurate_on_every_backend(text):
    _proven_finite_and_accurate(symdl.formula_rule(text), text)


def _proven_finite_and_accurate(r, text: str) -> None:
    assert all(r.prove().values()), {k: p.method for k, p in r.prove().items() if not p}
    exact = {"value": r.bind(r.expr), "derivative": r.bind(r.derivative())}
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        x = POINTS.astype(dtype)
        want = {what: _reference(e, r.wrt, x) for what, e in exact.items()}
        for backend in BACKENDS:
            got = dict(zip(("value", "derivative"), _finite_without_warnings(backend, r, x)))
            for what in got:
                # Relative error where the true value is far from underflow: below tiny/ε the intermediates (σ(−s) of
                # e^{−90} beside a z² factor) are subnormal and keep fewer digits, and JAX on CPU flushes them to 0.
                normal = np.abs(want[what]) >= np.finfo(dtype).tiny / np.finfo(dtype).eps
                errors = relative_error(got[what].astype(np.float64), want[what])[normal]
                assert errors.max(initial=0.0) <= 10 * rtol, (text, backend, what, dtype, errors.max())


#: Parameters whose value makes the formula one of the patterns above (log(d + eᶻ) is log(a + b·eᶻ) for d > 0): the
#: pass sees the bound values, and the form it finds is proven at them.
VALUED = (
    ("log(d + exp(z))", {"d": 2}),
    ("log(d + c*exp(-z))", {"d": 2, "c": 0.5}),
    ("exp(z)/(d + exp(z))", {"d": 0.5}),
    ("1/(d + exp(z))**2", {"d": 3}),
    ("log(d*exp(z))", {"d": 2}),
    # log(1 + ·) is log1p(·) for every d, which hid the pattern log(1 + 2·eᶻ) from the pass at d = 2
    ("log(1 + d*exp(z))", {"d": 2}),
    ("log(1 + d*exp(-z))", {"d": 0.5}),
)


@pytest.mark.parametrize(("text", "params"), VALUED)
def test_a_parameter_value_reaches_the_rewrite_pass(text, params):
    r = symdl.formula_rule(text, params=params)
    assert r.definition.stable_at_values and not r.definition.stable_expr.free_symbols - {r.wrt}
    _proven_finite_and_accurate(r, text)


@pytest.mark.parametrize(("text", "params"), VALUED)
def test_a_form_found_at_a_parameter_value_is_refuted_at_another(text, params):
    """The stable form holds at the bound values, not for every value: proving it for the symbolic text fails."""
    r = symdl.formula_rule(text, params=params)
    other = {r.param_symbols[k]: v + 1 for k, v in params.items()}
    assert not prove_zero(r.definition.stable_expr - r.expr.subs(other), r.wrt)
    assert not prove_zero(r.definition.stable_expr - r.expr, r.wrt, params={s: 5 for s in r.param_symbols.values()})


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_parameter_value_reaches_the_pass_behind_log1p(dtype):
    """log(1 + d·cosh z) is log1p(d·cosh z) for symbolic d, which overflows at |z| = 1000; at d = 0.5 it is
    log(1 + 0.5·cosh z), whose stable form the pass finds (finite only, as the other cosh sums)."""
    r = symdl.formula_rule("log(1 + d*cosh(z))", params={"d": 0.5})
    assert r.definition.stable_at_values and all(r.prove().values())
    for backend in BACKENDS:
        _finite_without_warnings(backend, r, POINTS.astype(dtype))


def test_a_parameter_without_a_value_keeps_the_form_as_typed():
    r = symdl.formula_rule("log(d + exp(z))", params={"d": None})
    assert r.definition.stable_expr is None and not r.definition.stable_at_values


@pytest.mark.parametrize("text", FINITE_ONLY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scaled_patterns_that_cancel_near_0_are_still_finite(text, dtype):
    r = symdl.formula_rule(text)
    assert r.definition.stable_expr is not None and all(r.prove().values())
    for backend in BACKENDS:
        _finite_without_warnings(backend, r, POINTS.astype(dtype))


#: log of an even power: u²ᵏ underflows (or overflows, k < 0) to 0 or inf in float32 at |z| = 1e-30, |u| does not.
EVEN_POWERS = ("log(z**2)", "log(z**-4)", "log((2*z)**2)/2", "log(3*(z - 1)**2)")


@pytest.mark.parametrize("text", EVEN_POWERS)
def test_log_of_an_even_power_is_finite_and_accurate_near_0_on_every_backend(text):
    r = symdl.formula_rule(text)
    assert r.definition.stable_expr is not None and all(r.prove().values()), {k: p.method for k, p in r.prove().items()}
    exact = {"value": r.expr, "derivative": r.derivative()}
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        x = POINTS[POINTS != (1.0 if "z - 1" in text else 0.0)].astype(dtype)  # at the pole the value is infinite
        want = {what: _reference(e, r.wrt, x) for what, e in exact.items()}
        for backend in BACKENDS:
            got = dict(zip(("value", "derivative"), _finite_without_warnings(backend, r, x)))
            for what in got:
                errors = relative_error(got[what].astype(np.float64), want[what])
                assert errors.max(initial=0.0) <= 10 * rtol, (text, backend, what, dtype, errors.max())


# --- property: compositions of stable patterns ------------------------------------------------------------

#: Patterns in {u} whose value and derivative are O(|u|) or bounded, so finite for |z| ≤ 1000.
PATTERNS = (
    "log(1 + exp({u}))", "log(3 + exp({u}))", "log(exp({u}) + exp(-({u})))", "log(cosh({u}))",
    "exp({u})/(1 + exp({u}))", "exp({u})/(2 + exp({u}))", "1/(1 + exp(-({u})))", "1/(1 + exp({u}))**2",
    "log(sigmoid({u}))", "1 + tanh({u})", "1 - tanh({u})**2", "exp({u})/(exp({u}) + exp(-({u})))",
    "log(2*exp({u}))", "sigmoid({u})", "softplus({u})", "tanh({u})", "abs({u})", "relu({u})", "atan({u})",
)
#: Bounded outer functions, or ones that grow at most linearly: the composition stays finite for |z| ≤ 1000.
OUTER = ("{a}", "-({a})", "({a})/2", "sigmoid({a})", "tanh({a})", "softplus({a})", "log_cosh({a})")
#: Inner arguments whose float value is exact (scaling by powers of two).
INNER = ("z", "-z", "2*z", "z/2")
JOIN = ("{a} + {b}", "{a} - {b}", "max({a}, {b})", "min({a}, {b})", "where(z > 0, {a}, {b})")

_pattern = st.builds(lambda p, u: p.format(u=u), st.sampled_from(PATTERNS), st.sampled_from(INNER))
_term = st.builds(lambda o, a: o.format(a=a), st.sampled_from(OUTER), _pattern)
_formula = _term | st.builds(lambda j, a, b: j.format(a=a, b=b), st.sampled_from(JOIN), _term, _term)


@given(text=_formula, backend=st.sampled_from(sorted(BACKENDS)), dtype=st.sampled_from(DTYPES))
def test_compositions_of_stable_patterns_stay_finite_and_warning_free(text, backend, dtype):
    try:
        r = symdl.formula_rule(text)
    except symdl.FormulaError as error:  # a − a: SymPy cancels it to a constant, refused as not depending on z
        assume("does not depend on 'z'" not in str(error))
        raise
    _finite_without_warnings(backend, r, POINTS.astype(dtype))


# --- property: sums of exponentials of any length ------------------------------------------------------------

#: c·e^{u} and c·cosh(u) terms with exact float exponents and a positive number: the sum is ≥ that number, so a log of it or a negative
#: power of it is finite with a finite derivative for |z| ≤ 1000, where the sum itself overflows.
_coefficient = st.sampled_from(("1", "2", "0.5", "3"))
_exp_term = st.builds(lambda c, f, u: f"{c}*{f}({u})", _coefficient, st.sampled_from(("exp", "exp", "cosh")),
                      st.sampled_from(("z", "-z", "2*z", "z/2", "-2*z")))
_exp_sum = st.builds(lambda terms, c: " + ".join([*terms, c]), st.lists(_exp_term, min_size=2, max_size=4), _coefficient)


@given(total=_exp_sum, outer=st.sampled_from(("log({s})", "1/({s})", "({s})**-2", "z/({s})")),
       backend=st.sampled_from(sorted(BACKENDS)), dtype=st.sampled_from(DTYPES))
def test_logs_and_reciprocals_of_exponential_sums_stay_finite_and_warning_free(total, outer, backend, dtype):
    text = outer.format(s=total)
    _finite_without_warnings(backend, symdl.formula_rule(text), POINTS.astype(dtype))


# --- property: sums with a negative constant, and sums holding sigmoids -------------------------------------------

_rate = st.sampled_from((1, 2, 3, 0.5))
#: |z| ≤ 1000: the points that break naive code and four drawn ones. Always four (fewer are the same check with
#: repeats): one array shape, so JAX compiles each operation once for all examples, not once per length.
_points = st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=4, max_size=4).map(
    lambda xs: np.concatenate([POINTS, xs]))


@given(c1=_coefficient, a=_rate, c2=_coefficient, b=_rate, fraction=st.sampled_from((0.25, 0.5, 0.9, 0.999)),
       extra=st.sampled_from(("", " + ")).flatmap(lambda j: st.just("") if not j else _exp_term.map(lambda t: j + t)),
       outer=st.sampled_from(("log({s})", "z/2 - log({s})")), x=_points,
       backend=st.sampled_from(sorted(BACKENDS)), dtype=st.sampled_from(DTYPES))
def test_logs_of_exponential_sums_less_a_constant_below_their_minimum_stay_finite_and_warning_free(
        c1, a, c2, b, fraction, extra, outer, x, backend, dtype):
    """c₁e^{az} + c₂e^{−bz} − k (+ a positive term) with 0 < k < min(c₁e^{az} + c₂e^{−bz}), the minimum
    c₁(1 + a/b)(b·c₂/(a·c₁))^{a/(a+b)}: positive, and its log overflowed as typed at z ≈ ±89 (float32), ±710."""
    low = float(c1) * (1 + a / b) * (b * float(c2) / (a * float(c1))) ** (a / (a + b))
    k = np.floor(fraction * low * 1e4) / 1e4
    text = outer.format(s=f"{c1}*exp({a}*z) + {c2}*exp(-{b}*z) - {k}{extra}")
    r = symdl.formula_rule(text)
    assert "log_sum_exp_signed" in applied_rewrites(r.expr), text
    _finite_without_warnings(backend, r, x.astype(dtype))


_sigmoid_term = st.builds(lambda c, f, u: f.format(c=c, u=u), _coefficient,
                          st.sampled_from(("{c}*sigmoid({u})", "{c}*sigmoid({u})**2", "{c}*exp({u})",
                                           "{c}*exp({u})*sigmoid(-({u}))", "{c}*sigmoid({u})*sigmoid(2*{u})")),
                          st.sampled_from(("z", "-z", "2*z", "z/2", "-2*z")))


@given(terms=st.lists(_sigmoid_term, min_size=2, max_size=4), outer=st.sampled_from(("log({s})", "log({s})/2 - z")),
       x=_points, backend=st.sampled_from(sorted(BACKENDS)), dtype=st.sampled_from(DTYPES))
def test_logs_of_sums_holding_sigmoids_stay_finite_and_warning_free(terms, outer, x, backend, dtype):
    """σ(v)ᵏ in a sum under a log counts as e^{−k·softplus(−v)}: log(eᶻ + σ(z)) is log(inf) at z = 1000 as typed and
    log(σ(z) + σ(2z)) is log(0) at z = −1000 (both underflow)."""
    text = outer.format(s=" + ".join(terms))
    try:
        r = symdl.formula_rule(text)
    except symdl.FormulaError as error:  # σ(z)·e^{−z}… that SymPy cancels to a constant
        assume("does not depend on 'z'" not in str(error))
        raise
    _finite_without_warnings(backend, r, x.astype(dtype))


# --- built-in rules: the exports (verify's stability column checks the numpy kernels) ----------------------

ELEMENT_WISE = [(name, label, params) for name in rules() if not is_vector_rule(name)
                for label, params in case_params(name)]


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize(("name", "label", "params"), ELEMENT_WISE, ids=[c[1] for c in ELEMENT_WISE])
def test_every_element_wise_rule_export_is_finite_on_the_stability_grid(name, label, params, backend):
    """The grid of `symdl verify`'s stability column (its ranges and exp growth limit), each input on it in turn."""
    r = symdl.rule(name, **params)
    d = r.definition
    convert = {"torch": _torch_many, "jax": _jax_many}[backend]
    for dtype in DTYPES:
        high = STABILITY_LIMIT
        if d.exp_growth:
            high = min(high, float(np.log(np.finfo(dtype).max)) / d.exp_growth * 0.999)
        grids = [stability_grid(np.dtype(dtype), *d.input_ranges.get(s, (-STABILITY_LIMIT, high))) for s in r.inputs]
        mesh = [m.ravel() for m in np.meshgrid(*[g if len(grids) == 1 else g[:: max(1, len(g) // 40)] for g in grids])]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value, grads = convert(r, mesh)
        for out in (value, *grads):
            assert out.dtype == dtype and np.isfinite(out).all(), (label, backend, dtype, [m[~np.isfinite(out)] for m in mesh])


def _torch_many(r, mesh: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(m, requires_grad=True) for m in mesh]
    value = symdl.export.to_torch(r).apply(*ts)
    grads = torch.autograd.grad(value.sum(), ts)
    return value.detach().numpy(), [g.numpy() for g in grads]


def _jax_many(r, mesh: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    jax = pytest.importorskip("jax")
    f = symdl.export.to_jax(r)
    with jax.enable_x64(True):
        xs = [jax.numpy.asarray(m) for m in mesh]
        value = f(*xs)
        grads = jax.grad(lambda *a: f(*a).sum(), argnums=tuple(range(len(xs))))(*xs)
    return np.asarray(value), [np.asarray(g) for g in grads]


# --- networks print the same stable form ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_network_with_a_scaled_softplus_activation_is_finite_where_the_typed_form_overflows(dtype):
    """log(2 + eᶻ) as the activation, pre-activations beyond ±709 (e^z overflows float64 there): the same loss and gradients as the form written stably."""
    typed = symdl.Network([2, 3, 1], activation=symdl.formula_rule("log(2 + exp(z))"), loss="mse").compile(dtype=dtype)
    stable = symdl.Network([2, 3, 1], activation=symdl.formula_rule("softplus(z - log(2)) + log(2)"), loss="mse")
    stable = stable.compile(dtype=dtype)
    params = {k: v.astype(dtype) for k, v in stable.init(0).items()}
    X = np.array([[1500.0, -1500.0], [-1500.0, 1500.0], [400.0, 400.0], [0.0, 1e-30]], dtype)
    Y = np.zeros((4, 1), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grads = typed.loss_and_grad(params, X, Y)
        expected_loss, expected_grads = stable.loss_and_grad(params, X, Y)
    assert np.isfinite(loss) and loss == pytest.approx(expected_loss, rel=8 * np.finfo(dtype).eps)
    for key, grad in expected_grads.items():
        assert np.isfinite(grads[key]).all()
        np.testing.assert_allclose(grads[key], grad, rtol=8 * np.finfo(dtype).eps)
