"""SymPy expression → JAX (``jax.numpy``) or PyTorch source, with the same stable forms as the numpy printer.

Both printers derive from :class:`symdl.codegen.kernel.SymdlNumpyPrinter`, so a named
function prints its proven stable form, ``Piecewise`` prints as ``where``
(a two-number Piecewise as arithmetic on the boolean), ``Max(lo, Min(hi, x))``
as one clip, and ``exp(u) − 1`` / ``log(1 + u)`` as ``expm1`` / ``log1p``.
What differs is only how the array library spells it:

======================  =================================  =====================================
numpy                   ``jnp``                            ``torch``
======================  =================================  =====================================
``numpy.where``         ``jnp.where``                      ``torch.where``
``numpy.clip``          ``jnp.clip``                       ``torch.clamp``
``numpy.maximum(0, z)``  ``jnp.maximum(0, z)``              ``torch.clamp(z, min=0)``
``numpy.equal(a, b)``   ``jnp.equal(a, b)``                ``torch.eq(a, b)`` (never ``torch.equal``)
``mask.astype(_dtype)``  ``mask.astype(_dtype)``            ``mask.to(_dtype)``
======================  =================================  =====================================

Constants keep the input dtype: Python numbers are "weak" in both libraries
(``0.5 * x`` stays float32), and a branch or factor that is a bare number is
printed as ``_t(value)``, which the generated function binds to a 0-d array of
the input dtype (``jnp.asarray(value, _dtype)`` / ``torch.full((), value,
dtype=_dtype, device=...)``: a fill on the input's device, no copy from the host).

The index printers (:class:`JaxIndexPrinter`, :class:`TorchIndexPrinter`)
print the index-notation vector rules whose indices all live on the last axis
(softmax, softmax cross-entropy): ``x[k]`` is the array, ``Sum`` a sum over the
last axis, ``LogSumExp`` the library's ``logsumexp``.
"""

from __future__ import annotations

from typing import ClassVar

import sympy as sp
from sympy.printing.numpy import _known_constants_numpy, _known_functions_numpy

from ..codegen.index_kernels import Centered, FirstArgMax, LogSumExp, RowMax, ShiftMax
from ..codegen.kernel import SymdlNumpyPrinter
from ..codegen.simplex import SparseThreshold, threshold_code

__all__ = ["ArrayModulePrinter", "JaxIndexPrinter", "JaxPrinter", "LastAxisIndexPrinter", "TorchIndexPrinter", "TorchPrinter"]


class ArrayModulePrinter(SymdlNumpyPrinter):
    """SymdlNumpyPrinter with the array module's name in place of ``numpy``; subclasses set ``_module``."""

    _module = "numpy"
    # How an array is cast to another dtype (``x.astype(d)``; torch: ``x.to(d)``).
    _cast = "astype"
    # numpy's function names → this module's (only where they differ).
    _renamed: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        names = {k: cls._renamed.get(v, v) for k, v in _known_functions_numpy.items()}
        cls._kf = {k: f"{cls._module}.{v}" for k, v in names.items()}
        cls._kc = {k: f"{cls._module}.{v}" for k, v in _known_constants_numpy.items()}

    def __init__(self) -> None:
        super().__init__()
        self.language = f"Python with {self._module}"

    def _fn(self, name: str) -> str:
        return f"{self._module}.{self._renamed.get(name, name)}"

    def _first_arg_max(self, values: str, axis: int) -> str:
        """[k = first argmax_j values] along ``axis`` (< 0) in the values' dtype: argmax returns the first of ties."""
        self._masks += 1
        name = f"_a{self._masks}"
        trailing = f" + (1,) * {-axis - 1}" if axis != -1 else ""
        positions = f"{self._fn('arange')}(({name} := {values}).shape[{axis}]{self._arange_device(name)})"
        if trailing:
            positions = f"{positions}.reshape((-1,){trailing})"
        return f"({positions} == {self._argmax(name, axis)}).{self._cast}({name}.dtype)"

    def _arange_device(self, like: str) -> str:
        return ""

    def _argmax(self, values: str, axis: int) -> str:
        return f"{self._fn('expand_dims')}({self._fn('argmax')}({values}, axis={axis}), {axis})"


class JaxPrinter(ArrayModulePrinter):
    """symdl's stable forms as ``jax.numpy`` code (imported as ``jnp``).

    >>> import sympy as sp
    >>> from symdl.symbolic.functions import softplus
    >>> z = sp.Symbol("z", real=True)
    >>> from symdl.codegen.kernel import printable
    >>> JaxPrinter().doprint(printable(softplus(z), "softplus"))
    'jnp.log1p(jnp.exp(-jnp.abs(z))) + jnp.maximum(0, z)'
    """

    _module = "jnp"
    # XLA turns x/c into x·(1/c), for a scalar c known at run time too, and reassociates (7·z)·(1/10) into
    # z·(7·(1/10)): floor((7*z)/10) would be wrong at more integers than floor((7/10)*z) (77 against 16 of
    # [−1000, 1000] in float64 under jit), so a rounding function's argument prints as SymPy prints it.
    _divides_last = False

    def _print_erf(self, expr: sp.erf) -> str:
        return f"jax.lax.erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr: sp.erfc) -> str:
        return f"jax.lax.erfc({self._print(expr.args[0])})"

    def _print_stop_gradient(self, expr: sp.Function) -> str:
        return f"jax.lax.stop_gradient({self._print(expr.args[0])})"


class TorchPrinter(ArrayModulePrinter):
    """symdl's stable forms as PyTorch code.

    torch spells a few things differently: element-wise comparison is
    ``torch.eq`` (``torch.equal`` compares whole tensors), ``maximum`` needs
    two tensors (a constant bound prints as ``torch.clamp``), a mask casts with
    ``.to``.

    >>> import sympy as sp
    >>> from symdl.symbolic.functions import softplus
    >>> z = sp.Symbol("z", real=True)
    >>> from symdl.codegen.kernel import printable
    >>> TorchPrinter().doprint(printable(softplus(z), "softplus"))
    'torch.log1p(torch.exp(-torch.abs(z))) + torch.clamp(z, min=0)'
    """

    _module = "torch"
    _cast = "to"
    _RELATIONS: ClassVar[dict[str, str]] = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
    _MIRRORED: ClassVar[dict[str, str]] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

    def _print_erf(self, expr: sp.erf) -> str:
        return f"torch.special.erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr: sp.erfc) -> str:
        return f"torch.special.erfc({self._print(expr.args[0])})"

    def _print_stop_gradient(self, expr: sp.Function) -> str:
        return f"({self._print(expr.args[0])}).detach()"

    def _print(self, expr: object, **kwargs: object) -> str:
        # torch's functions take no Python number (torch.sqrt(3) is a TypeError): a constant that is not a plain
        # number (√3, e², log 3, which SymPy's cse can pull out of a root or a product) prints as its float literal
        if isinstance(expr, sp.Expr) and not expr.is_Atom and expr.is_number and not expr.is_Rational and expr.is_real:
            return super()._print(sp.Float(expr.evalf(17), 17), **kwargs)
        return super()._print(expr, **kwargs)

    def _print_Mod(self, expr: sp.Mod) -> str:
        # SymPy's Mod takes the divisor's sign, as Python's %: torch.remainder (torch has no torch.mod; torch.fmod is C's)
        return f"torch.remainder({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        lhs, op, rhs = expr.lhs, expr.rel_op, expr.rhs
        if op not in self._RELATIONS:
            return super()._print_Relational(expr)
        if lhs.is_number:  # torch.lt(0, z) needs a tensor first: write z > 0
            lhs, op, rhs = rhs, self._MIRRORED[op], lhs
        return f"torch.{self._RELATIONS[op]}({self._print(lhs)}, {self._print(rhs)})"

    def _cast_mask(self, mask: str) -> str:
        return f"{mask}.to(_dtype)"

    def _arange_device(self, like: str) -> str:
        return f", device={like}.device"

    def _argmax(self, values: str, axis: int) -> str:
        return f"torch.argmax({values}, dim={axis}, keepdim=True)"

    def _clip(self, x: str, lo: str, hi: str) -> str:
        return f"torch.clamp({x}, {lo}, {hi})"

    def _print_nested(self, expr: sp.Basic, func: str) -> str:
        if func not in ("maximum", "minimum"):
            return super()._print_nested(expr, func)
        numbers = [a for a in expr.args if a.is_number]
        others = [self._print(a) for a in expr.args if not a.is_number]
        code = others[0]
        for arg in others[1:]:
            code = f"torch.{func}({code}, {arg})"
        if numbers:  # SymPy folds the numbers of a Max/Min into one
            bound = "min" if func == "maximum" else "max"
            code = f"torch.clamp({code}, {bound}={self._print(numbers[0])})"
        return code


# --- index notation on the last axis (softmax, softmax cross-entropy) -------------


class LastAxisIndexPrinter(ArrayModulePrinter):
    """Index-notation expressions whose every index runs over the last axis: ``x[k]`` prints as ``x``."""

    _axis = "axis=-1, keepdims=True"

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        return str(expr.base.label)

    def _print_Sum(self, expr: sp.Sum) -> str:
        if len(expr.limits) != 1:
            raise ValueError(f"only sums over one index print on the last axis, got {expr}")
        return f"{self._fn('sum')}({self._print(expr.function)}, {self._axis})"

    def _logsumexp(self, u: str) -> str:
        raise NotImplementedError

    def _row_max(self, u: str) -> str:
        return f"{self._fn('max')}({u}, {self._axis})"

    def _print_log(self, expr: sp.log) -> str:
        arg = expr.args[0]
        if isinstance(arg, sp.Sum) and isinstance(arg.function, sp.exp) and len(arg.limits) == 1:
            return self._logsumexp(self._print(arg.function.args[0]))
        return super()._print_log(expr)

    def _print_LogSumExp(self, expr: LogSumExp) -> str:
        u = expr.args[0]
        if isinstance(u, Centered):
            return self._logsumexp_centered(self._print(u))
        return self._logsumexp(self._print(u))

    def _logsumexp_centered(self, c: str) -> str:
        """log Σ e^{c} for c ≤ 0 with max 0: log1p of the terms other than the e^0 = 1 (exact where they are tiny).

        ``logsumexp`` computes log(1 + s), which loses the digits of a small s
        (a confident softmax cross-entropy); numpy's logaddexp.reduce does not.
        """
        self._masks += 1
        name = f"_u{self._masks}"
        where, total, axis = self._fn("where"), self._fn("sum"), self._axis
        rest = f"{total}({where}(({name} := {c}) < 0, {self._fn('exp')}({name}), 0), {axis})"
        ties = f"{total}({name} == 0, {axis}).{self._cast}({name}.dtype)"
        return f"{self._fn('log1p')}({rest} + ({ties} - 1))"

    def _print_Centered(self, expr: Centered) -> str:
        values = self._print(expr.args[0])
        return f"({values} - {self._row_max(values)})"

    def _print_RowMax(self, expr: RowMax) -> str:
        return self._row_max(self._print(expr.args[0]))

    def _print_ShiftMax(self, expr: ShiftMax) -> str:
        return self._print_RowMax(expr)

    def _print_FirstArgMax(self, expr: FirstArgMax) -> str:
        return self._first_arg_max(self._print(expr.args[0]), -1)

    def _print_SparseThreshold(self, expr: SparseThreshold) -> str:
        return threshold_code(self._module, self._print(expr.args[0]), -1)


class JaxIndexPrinter(LastAxisIndexPrinter, JaxPrinter):
    """Last-axis index notation as ``jax.numpy`` code (``jax.nn.logsumexp`` for log-sum-exp)."""

    _module = "jnp"

    def _logsumexp(self, u: str) -> str:
        return f"jax.nn.logsumexp({u}, {self._axis})"


class TorchIndexPrinter(LastAxisIndexPrinter, TorchPrinter):
    """Last-axis index notation as PyTorch code (``torch.logsumexp``, ``torch.amax``)."""

    _module = "torch"
    _axis = "dim=-1, keepdim=True"

    def _logsumexp(self, u: str) -> str:
        return f"torch.logsumexp({u}, {self._axis})"

    def _row_max(self, u: str) -> str:
        return f"torch.amax({u}, {self._axis})"
