"""Named SymPy functions that know their derivative, their elementary form and their stable numeric form.

Each class is a :class:`NamedFunction`: SymPy differentiates it with ``fdiff``
(the form textbooks write), rewrites it to exp/log for proofs
(``expr.rewrite(sympy.exp)``), prints it in LaTeX, and prints it to numpy via
:meth:`NamedFunction.stable` — a SymPy expression built from numpy-safe
primitives (``exp`` of a non-positive number, ``log1p``, ``Max``) that symdl
proves equal to the definition (:func:`symdl.symbolic.proof.prove_named_function`; every
rule whose code uses a named function includes that proof in ``prove()``).

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> sp.diff(softplus(x), x)
sigmoid(x)
>>> softplus(x).rewrite(sp.exp)
log(exp(x) + 1)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p

from .special import erfc

__all__ = ["NamedFunction", "Phi", "sigmoid", "softplus", "log_cosh", "NAMED_FUNCTIONS"]

# Beyond this |x|, log cosh x = |x| − log 2 + log1p(e^{−2|x|}) loses nothing to cancellation.
_LOG_COSH_SWITCH = 20


class NamedFunction(sp.Function):
    """Base of symdl's named functions: one argument, a definition, a stable form, LaTeX."""

    nargs = 1
    latex_name: str = ""

    @classmethod
    def definition(cls, x: sp.Expr) -> sp.Expr:
        """The function in elementary SymPy terms (exp, log, cosh …)."""
        raise NotImplementedError

    @classmethod
    def stable(cls, x: sp.Expr) -> sp.Expr:
        """The form printed as numpy code: finite and warning-free for every float input."""
        raise NotImplementedError

    @classmethod
    def differentiable(cls, x: sp.Expr) -> sp.Expr:
        """The stable form for code that autodiff differentiates again (the exports' backward pass).

        Equal to :meth:`stable`, and its autodiff derivative is the true
        derivative at every point, ties included. Default: :meth:`stable`.
        """
        return cls.stable(x)

    @classmethod
    def reference(cls, x: sp.Expr) -> sp.Expr:
        """The exact form a high-precision reference (mpmath) evaluates: the definition without its cancellation.

        Equal to :meth:`definition` (proven by ``prove_named_function`` where it is a new form), so that few
        digits suffice where the definition cancels. Default: :meth:`definition`.
        """
        return cls.definition(x)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return self.definition(x).rewrite(sp.exp)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.definition(self.args[0])._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = rf"{self.latex_name}\left({arg}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


class sigmoid(NamedFunction):
    r"""σ(x) = 1 / (1 + e^{−x});  σ'(x) = σ(x)(1 − σ(x)).

    Stable form: σ(x) = max(e, [x ≥ 0]) / (1 + e) with e = e^{−|x|}: for
    x ≥ 0 that is 1/(1 + e^{−x}), for x < 0 it is e^{x}/(1 + e^{x}); one exp,
    no overflow, no cancellation, and no numpy.where or logaddexp (both several
    times slower than the arithmetic, see docs/performance.md).
    """

    latex_name = r"\sigma"

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def definition(cls, x):
        return 1 / (1 + sp.exp(-x))

    @classmethod
    def stable(cls, x):
        decay = sp.exp(-sp.Abs(x))
        return sp.Max(decay, sp.Piecewise((1, x >= 0), (0, True))) / (1 + decay)

    @classmethod
    def differentiable(cls, x):
        # max(·,·) and |x| tie at 0, where autodiff takes a one-sided or zero slope: σ'(0) would come out 0.
        # Branches instead, each finite everywhere (e = e^{−x} for x ≥ 0, e^{x} below: never above 1), so
        # autodiff of the selected branch is exact at 0 and the other branch's gradient is never inf·0.
        e = sp.exp(sp.Piecewise((-x, x >= 0), (x, True)))
        return sp.Piecewise((1 / (1 + e), x >= 0), (e / (1 + e), True))

    @classmethod
    def eval(cls, x):  # SymPy's hook for automatic evaluation (σ(0) = 1/2), not Python's eval
        if x == 0:
            return sp.S.Half
        return None


class softplus(NamedFunction):
    r"""softplus(x) = log(1 + e^{x});  softplus'(x) = σ(x).

    Stable form: max(x, 0) + log1p(e^{−|x|}) (the naive form overflows at
    x ≈ 710 in float64 and 89 in float32; numpy.logaddexp is stable too but
    about 4× slower).
    """

    latex_name = r"\operatorname{softplus}"

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    @classmethod
    def definition(cls, x):
        return sp.log(1 + sp.exp(x))

    @classmethod
    def stable(cls, x):
        return sp.Max(x, 0) + sp.log(1 + sp.exp(-sp.Abs(x)))

    @classmethod
    def differentiable(cls, x):
        # Autodiff of max(x, 0) + log1p(e^{−|x|}) at 0 takes one slope of max and |x|'s 0: softplus'(0) came out 0.
        # The branches x + log1p(e^{−x}) for x > 0 and log1p(e^{x}) below, selected by the mask m = [x > 0]
        # (printed as arithmetic on the boolean: torch.where costs 6× the whole softplus on a CPU):
        # m·x + log1p(e^{(1 − 2m)·x}), whose exp's argument is never positive and whose autodiff is the
        # selected branch's, σ(0) = 1/2 at the tie.
        m = sp.Piecewise((1, x > 0), (0, True))
        return m * x + sp.log(1 + sp.exp((1 - 2 * m) * x))


class log_cosh(NamedFunction):
    r"""log cosh(x);  (log cosh)'(x) = tanh(x).

    Stable form: log1p(2 sinh²(x/2)) for |x| < 20 (accurate near 0, where
    log(cosh x) loses every digit), |x| − log 2 + log1p(e^{−2|x|}) beyond
    (no overflow); the first branch takes min(|x|, 20) so that it stays finite
    where it is not used.
    """

    latex_name = r"\log\cosh"

    def fdiff(self, argindex=1):
        return sp.tanh(self.args[0])

    @classmethod
    def definition(cls, x):
        return sp.log(sp.cosh(x))

    @classmethod
    def stable(cls, x):
        a = sp.Abs(x)
        near = log1p(2 * sp.sinh(sp.Min(a, _LOG_COSH_SWITCH) / 2) ** 2)
        far = a - sp.log(2) + log1p(sp.exp(-2 * a))
        return sp.Piecewise((near, a < _LOG_COSH_SWITCH), (far, True))

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = rf"\log\cosh\left({arg}\right)"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base


class Phi(NamedFunction):
    r"""Φ(x) = (1 + erf(x/√2))/2, the standard normal CDF;  Φ'(x) = φ(x) = e^{−x²/2}/√(2π).

    Stable form: erfc(−x/√2)/2. For x ≪ 0 the definition's 1 + erf cancels
    (0 from x ≈ −8.3 in float64, though Φ(−37) = 5.7e−300); erfc of a large
    argument keeps every digit (numpy: :mod:`symdl.symbolic.special`).
    """

    latex_name = r"\Phi"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)

    @classmethod
    def definition(cls, x):
        return (1 + sp.erf(x / sp.sqrt(2))) / 2

    @classmethod
    def stable(cls, x):
        return erfc(-x / sp.sqrt(2)) / 2

    @classmethod
    def reference(cls, x):
        # The stable form, exact (mpmath's erfc): 1 + erf(x/√2) at x = −40 needs 350 digits to leave 0.
        return cls.stable(x)

    @classmethod
    def eval(cls, x):  # SymPy's hook for automatic evaluation (Φ(0) = 1/2), not Python's eval
        if x == 0:
            return sp.S.Half
        return None


NAMED_FUNCTIONS: dict[str, type[NamedFunction]] = {
    "Phi": Phi,
    "sigmoid": sigmoid,
    "softplus": softplus,
    "log_cosh": log_cosh,
}

