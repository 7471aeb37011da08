"""erf and erfc as numpy code: Chebyshev-node polynomial pieces printed from SymPy, accurate to a few ulps.

numpy has no erf, and symdl's generated numpy code imports nothing but numpy
(scipy at run time would be a heavy dependency for one function), so the numpy
printer prints :func:`erf_form` / :func:`erfc_form`: SymPy expressions of
polynomials, ``exp`` and ``expm1``. JAX and PyTorch print their own
``jax.lax.erf`` / ``torch.special.erf`` instead. Why this and not the others:

* ``numpy.frompyfunc(math.erf)`` is within an ulp (libm) but calls Python per
  element and returns object arrays: 105–145 ms per 10⁶ points against about
  85 ms for these pieces (measured on the CI machine), and float32 inputs would
  come back float64;
* one rational or polynomial in a mapped variable for all x needs ~40 terms.

The pieces (a = |x|):

* a < 1/2: erf x = x·P(s), s = x², P degree 8;
* a ≥ 1/2: erfc a = e^{−a²}·Q(a), Q ≈ erfcx = e^{a²} erfc a, a polynomial of
  degree 17 on [1/2, 3/2] and on [3/2, 3], and G(1/a²)/a, G degree 16, beyond;
  e^{−a²} = e^{−h²}·(1 + expm1(−(a − h)(a + h))) with h = ⌊64a⌋/64, whose
  square is exact in float64 and float32 (the plain e^{−a²} would lose a²·ε);
* erf x = sign(x)·(1 − erfc a), erfc x = erfc a for x > 0 and 2 − erfc a below.

Every piece evaluates a polynomial clamped to its interval (``numpy.where``
evaluates both branches: nothing overflows or warns anywhere), and interpolates
at Chebyshev nodes in u ∈ [−1, 1] (tools/fit_erf.py fits them with 60-digit
mpmath and prints the tables below). Measured against mpmath on ±40
(tests/test_special.py): relative error below 4 ulps for erf and erfc in
float64 (measured ≤ 2.3 ulps), and for Φ(x) = erfc(−x/√2)/2, whose e^{−x²/2}
is split at the unrounded x (:func:`erfc_positive`'s ``scale``): the rounding
of x/√2 then only enters the smooth factor Q.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1

from .shared_replace import replace_shared

__all__ = ["ERFC_CUTOFF", "erfc", "erf_form", "erfc_form", "erfc_positive", "expand_erf", "bernoulli_fn", "one_plus_langevin", "x_minus_tanh", "x_minus_tanh_form"]

class erfc(sp.erfc):  # noqa: N801  (printers and mpmath dispatch on the name erfc)
    """erfc without SymPy's automatic erfc(−u) → 2 − erfc(u), which cancels to 0 for u ≫ 0 (Φ's stable form)."""

    @classmethod
    def eval(cls, arg):  # SymPy's hook for automatic evaluation, not Python's eval
        if arg.is_zero:
            return sp.S.One
        return None


#: erfc a underflows to 0 in float64 from a ≈ 27.3: the pieces clamp a to this.
ERFC_CUTOFF = 28

# SMALL: worst relative error 1.06e-16 (tools/fit_erf.py)
_SMALL = (
    1.0830752376761712,
    -0.043642058886697886,
    0.0016130716680617082,
    -4.762336934519552e-05,
    1.151603779519474e-06,
    -2.3472289797042594e-08,
    4.1270252134730293e-10,
    -6.37686858732805e-12,
    8.777299809787717e-14,
)
# MIDDLE: worst relative error 1.38e-17 (tools/fit_erf.py)
_MIDDLE = (
    0.427583576155807,
    -0.13660600739194928,
    0.03859289034297706,
    -0.009903371117665836,
    0.002348268513457043,
    -0.0005206834090756343,
    0.00010890847459472877,
    -2.1633318559382548e-05,
    4.102614914773928e-06,
    -7.460049472944939e-07,
    1.3053004128102987e-07,
    -2.204290098630261e-08,
    3.6021995098915975e-09,
    -5.707871626603288e-10,
    8.752691998398392e-11,
    -1.3119944895310412e-11,
    2.1033681858846656e-12,
    -2.986615905543666e-13,
)
# UPPER: worst relative error 2.79e-17 (tools/fit_erf.py)
_UPPER = (
    0.23108725873039188,
    -0.06636487710656187,
    0.01799585291852205,
    -0.004641494381623108,
    0.001145072748845768,
    -0.00027141213039929147,
    6.203181699788344e-05,
    -1.3711609150693113e-05,
    2.938639469656719e-06,
    -6.119615124942491e-07,
    1.240590191226888e-07,
    -2.452298097967961e-08,
    4.734992174059793e-09,
    -8.935606652120681e-10,
    1.6354623529743163e-10,
    -2.9622036934621625e-11,
    6.068962795459959e-12,
    -1.0526381001546833e-12,
)
# TAIL: worst relative error 1.04e-16 (tools/fit_erf.py)
_TAIL = (
    0.5496707092731746,
    -0.013495617694117858,
    0.0009124040464168487,
    -9.522150107995988e-05,
    1.2979165035652617e-05,
    -2.1345237513305173e-06,
    4.046147694560182e-07,
    -8.583972280878921e-08,
    1.9970537961023705e-08,
    -5.01661795168083e-09,
    1.3470009025755671e-09,
    -3.8969878106424515e-10,
    1.1711818842075611e-10,
    -2.968991703071511e-11,
    9.332333527254266e-12,
    -7.114592620915237e-12,
    2.577056089355658e-12,
)


def _horner(coefficients: Sequence[float], u: sp.Expr) -> sp.Expr:
    """c₀ + u(c₁ + u(c₂ + …)): SymPy keeps a symbol times a sum unexpanded, so it prints in Horner form."""
    value: sp.Expr = sp.Float(coefficients[-1], 17)
    for c in reversed(coefficients[:-1]):
        value = sp.Float(c, 17) + u * value
    return value


def _mapped(a: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """a clamped to [lo, hi] and mapped onto [−1, 1]."""
    clamped = sp.Max(lo, sp.Min(hi, a))
    return (clamped - (lo + hi) / 2) * (2 / (hi - lo))


def erfc_positive(a: sp.Expr, scale: sp.Expr = sp.Integer(1)) -> sp.Expr:
    """erfc(scale·a) for scale·a ≥ 1/2 (a = |x|), as printed: finite and warning-free for every float a ≥ 0.

    e^{−scale²a²} is split at h = ⌊64a⌋/64 of the unrounded a, so that Φ's erfc(|x|/√2) does not pay for
    the rounding of x/√2 in the exponent (2(x/√2)² ulps, 1e-13 at x = −33); scale² must be rational.
    """
    a = sp.Min(a, ERFC_CUTOFF / scale)
    h = sp.floor(64 * a) / 64
    square = scale**2
    gauss = sp.exp(-square * h**2) * (1 + expm1(-square * (a - h) * (a + h)))
    a = scale * a
    half, three_halves, three = sp.Rational(1, 2), sp.Rational(3, 2), sp.Integer(3)
    far = sp.Max(a, three)
    q = sp.Piecewise(
        (_horner(_MIDDLE, _mapped(a, half, three_halves)), a < three_halves),
        (_horner(_UPPER, _mapped(a, three_halves, three)), a < three),
        (_horner(_TAIL, _mapped(1 / far**2, sp.Integer(0), sp.Rational(1, 9))) / far, True),
    )
    return gauss * q


def _small(x: sp.Expr) -> sp.Expr:
    clamped = sp.Max(-sp.Rational(1, 2), sp.Min(sp.Rational(1, 2), x))
    return clamped * _horner(_SMALL, _mapped(clamped**2, sp.Integer(0), sp.Rational(1, 4)))


def erf_form(x: sp.Expr) -> sp.Expr:
    """erf(x) as the numpy printer prints it: x·P(x²) for |x| < 1/2, sign(x)(1 − erfc|x|) beyond."""
    a = sp.Abs(x)
    return sp.Piecewise((_small(x), a < sp.Rational(1, 2)), (sp.sign(x) * (1 - erfc_positive(a)), True))


def erfc_form(x: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(condition |x| < 1/2, 1 − erf x there, erfc|x|): the printer chooses erfc|x| or 2 − erfc|x| by the sign of x."""
    scale, y = x.as_independent(*x.free_symbols, as_Add=False) if x.free_symbols else (sp.Integer(1), x)
    if not (scale.is_number and (scale**2).is_Rational and scale != 0):
        scale, y = sp.Integer(1), x
    a = sp.Abs(x)
    return a < sp.Rational(1, 2), 1 - _small(x), erfc_positive(sp.Abs(y), sp.Abs(scale))


def expand_erf(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every erf and erfc replaced by its printed pieces, for common-subexpression elimination."""
    def erfc_piecewise(x: sp.Expr) -> sp.Expr:
        near, near_value, far = erfc_form(x)
        return sp.Piecewise((near_value, near), (far, x > 0), (2 - far, True))

    expr = replace_shared(expr, lambda e: isinstance(e, sp.erf), lambda e: erf_form(e.args[0]))
    return replace_shared(expr, lambda e: isinstance(e, sp.erfc), lambda e: erfc_piecewise(e.args[0]))


# (x − tanh x)/x³ = Σ cₖ x²ᵏ, the Taylor coefficients (from the Bernoulli numbers), 17 terms: the series
# truncated there is within 1.3e-17 relatively of x − tanh x for |x| ≤ 1/2 (checked against mpmath).
_X_MINUS_TANH = (
    0.3333333333333333, -0.13333333333333333, 0.05396825396825397, -0.021869488536155203,
    0.008863235529902197, -0.003592128036572481, 0.0014558343870513183, -0.000590027440945586,
    0.00023912911424355248, -9.691537956929451e-05, 3.927832388331683e-05, -1.5918905069328964e-05,
    6.451689215655431e-06, -2.6147711512907546e-06, 1.0597268320104654e-06, -4.294911078273806e-07,
    1.7406618963571648e-07,
)


class x_minus_tanh(sp.Function):  # noqa: N801  (printers dispatch on the class name)
    """x − tanh x (PyTorch's tanhshrink), printed without the cancellation of the difference for small |x|.

    SymPy sees it as x − tanh x (``elementary`` in proofs, ``rewrite(sp.tanh)``); the numpy, JAX and
    PyTorch printers print :func:`x_minus_tanh_form`. Its derivative is tanh² x, which does not cancel.
    """

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.tanh(self.args[0]) ** 2

    def _eval_rewrite_as_tanh(self, x, **kwargs):
        return x - sp.tanh(x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return (self.args[0] - sp.tanh(self.args[0]))._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        return printer._print(self.args[0] - sp.tanh(self.args[0]))


def x_minus_tanh_form(x: sp.Expr) -> sp.Expr:
    """x − tanh x as printed: x³·P(x²) (the Taylor series) for |x| < 1/2, where the difference cancels; x − tanh x beyond.

    At |x| = 1/2 the difference loses about 13 ulps of tanh x's rounding (x/(x − tanh x) ≈ 13): 3e-15 relative.
    """
    small = sp.Max(-sp.Rational(1, 2), sp.Min(sp.Rational(1, 2), x))
    return sp.Piecewise((small**3 * _horner(_X_MINUS_TANH, small**2), sp.Abs(x) < sp.Rational(1, 2)), (x - sp.tanh(x), True))


class one_plus_langevin(sp.Function):  # noqa: N801  (printers dispatch on the class name)
    """M(x) = 1 + coth x − 1/x, printed without the cancellation of coth x − 1/x near 0 (:mod:`~symdl.symbolic.bernoulli`).

    SymPy sees it as 2e²ˣ/(e²ˣ − 1) − 1/x (``elementary`` in proofs, ``rewrite(sp.exp)``); the numpy, JAX and PyTorch
    printers print :func:`one_plus_langevin_form`. M(0) = 1.
    """

    nargs = 1

    @staticmethod
    def elementary_form(x: sp.Expr) -> sp.Expr:
        return 2 * sp.exp(2 * x) / (sp.exp(2 * x) - 1) - 1 / x

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return 1 / x**2 - 1 / sp.sinh(x) ** 2

    @classmethod
    def eval(cls, x):  # SymPy's hook for automatic evaluation (M(0) = 1), not Python's eval
        return sp.S.One if x == 0 else None

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return self.elementary_form(x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return (1 + sp.coth(self.args[0]) - 1 / self.args[0])._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        base = rf"M\left({printer._print(self.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


class bernoulli_fn(sp.Function):  # noqa: N801  (printers dispatch on the class name)
    r"""B(u) = u/(eᵘ − 1), the Bernoulli function;  B'(u) = −B(u)·M(u/2)/2, M = :class:`one_plus_langevin`.

    SymPy sees it as u/(eᵘ − 1) (``elementary`` in proofs, ``rewrite(sp.exp)``), the formula as typed, without a
    value at u = 0; the printers print :func:`~symdl.symbolic.bernoulli.bernoulli_form`, which gives the limit 1
    there. The derivative is a product of two positive factors: no cancellation.
    """

    nargs = 1

    @staticmethod
    def elementary_form(u: sp.Expr) -> sp.Expr:
        return u / (sp.exp(u) - 1)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return -bernoulli_fn(u) * one_plus_langevin(u / 2) / 2

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return self.elementary_form(u)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        u = self.args[0]
        return (sp.S.One if u == 0 else self.elementary_form(u))._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        base = rf"\operatorname{{B}}\left({printer._print(self.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp else base
