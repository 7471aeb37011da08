"""``format_number(x, spec)``: any number as text, what ``format(x, spec)`` gives wherever that works.

One formatter for every number symdl prints. Python and numpy numbers are
formatted by ``format`` (``inf``, ``nan`` included). SymPy's own
``Float.__format__`` goes through :class:`decimal.Decimal`, which cannot hold
an exponent beyond about ±10¹⁸ (``exp(-1e300)`` is 10^(−4.3·10²⁹⁹)) and raises
``decimal.InvalidOperation``; integers too large for a float make ``format(n,
"g")`` raise ``OverflowError``. Those numbers are written by mpmath instead,
with the digits the spec asks for (``1.0e-999999999999999999``), and as
``10**(-4.34294e+299)`` once the exponent has more than 18 digits. ``oo``,
``-oo``, ``nan`` and ``zoo`` are ``inf``, ``-inf``, ``nan`` and ``zoo``; a
complex number is ``re+imj`` (Python's form); an expression that is not a
number (free symbols) is its ``str``. The result never raises.
"""

from __future__ import annotations

import decimal
import math
import numbers
import re
from typing import Any

__all__ = ["finite_float", "format_number"]

_MAX_EXPONENT_DIGITS = 18
_SPEC = re.compile(r"^(?P<sign>[+\- ]?)(?P<width>\d*)(?:\.(?P<precision>\d+))?(?P<kind>[eEfFgG%n]?)$")


def format_number(value: Any, spec: str = "") -> str:
    """``value`` formatted by ``spec`` (as in ``format(value, spec)``), for any Python, numpy or SymPy number."""
    try:
        if isinstance(value, (bool, numbers.Integral)) and not _is_sympy(value):
            return _integer(int(value), spec)
        if isinstance(value, (float, complex, numbers.Real, numbers.Complex)) and not _is_sympy(value):
            return format(complex(value) if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real)
                          else float(value), spec)  # type: ignore[arg-type]  # a Real here, which typeshed's float() does not list
        if _is_sympy(value):
            return _sympy(value, spec)
        return format(value, spec)
    except (ArithmeticError, ValueError, TypeError, decimal.InvalidOperation):
        return _fallback(value)


def _is_sympy(value: Any) -> bool:
    return type(value).__module__.startswith("sympy.")


def _digits(spec: str) -> int:
    match = _SPEC.match(spec)
    if match is None or match["precision"] is None:
        return 6 if spec else 15
    return max(1, int(match["precision"]) + (1 if match["kind"] in "eEfF%" else 0))


def _integer(n: int, spec: str) -> str:
    kind = _SPEC.match(spec)
    if not spec or kind is None or kind["kind"] in ("", "n"):
        return format(n, spec)
    try:
        return format(n, spec)
    except OverflowError:  # too large for a float
        import mpmath

        return _mp_text(mpmath.mpf(n), spec)


def _sympy(value: Any, spec: str) -> str:
    import sympy as sp

    if not isinstance(value, sp.Basic) or not getattr(value, "is_number", False):
        return str(value)
    special = {sp.oo: "inf", -sp.oo: "-inf", sp.nan: "nan", sp.zoo: "zoo"}
    if value in special:
        return special[value]
    if value.is_Integer:
        return _integer(int(value), spec)
    if value.is_Rational and not spec:
        return str(value)
    if value.is_real is False or (value.is_real is None and not value.is_Float):
        re_part, im_part = value.as_real_imag()
        if im_part == 0:
            return _sympy(re_part, spec)
        pair = complex(float(re_part), float(im_part))
        if all(math.isfinite(x) and (x != 0 or part == 0) for x, part in ((pair.real, re_part), (pair.imag, im_part))):
            return format(pair, spec or "g")
        imaginary = _sympy(im_part, spec or "g")
        return f"{_sympy(re_part, spec or 'g')}{'' if imaginary.startswith('-') else '+'}{imaginary}j"
    number = value if value.is_Float else sp.N(value, max(_digits(spec) + 2, 17))
    if number in special:
        return special[number]
    if not number.is_Float:
        return str(number)
    try:
        return format(number, spec)
    except (decimal.InvalidOperation, ValueError, OverflowError):
        import mpmath

        return _mp_text(mpmath.mpf(number._mpf_), spec)


def _mp_text(x: Any, spec: str) -> str:
    """``x`` (an mpmath mpf, any exponent) as ``d.ddde±N`` with the spec's significant digits."""
    import mpmath

    if not mpmath.isfinite(x):
        return "nan" if mpmath.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return format(0.0, spec)
    text = mpmath.nstr(x, _digits(spec), min_fixed=1, max_fixed=0)
    mantissa, _, exponent = text.partition("e")
    match = _SPEC.match(spec)
    if match is not None and match["kind"] in ("g", "G", "") and "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign = match["sign"] if match is not None and match["sign"] in "+ " and x > 0 else ""
    if len(exponent.lstrip("+-")) > _MAX_EXPONENT_DIGITS:  # 10^(±4.34294e+299): the exponent's digits say nothing
        power = _mp_text(mpmath.log10(abs(x)), ".6g")
        return f"{'-' if x < 0 else sign}10**({power})"
    exponent = exponent if exponent.startswith("-") else "+" + exponent.lstrip("+")
    marker = "E" if match is not None and match["kind"] in ("E", "G") else "e"
    return f"{sign}{mantissa}{marker}{exponent}"


def _fallback(value: Any) -> str:
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a printed number must never end the program
        return f"<{type(value).__name__}>"
    return text if not (isinstance(value, float) and math.isnan(value)) else "nan"


def finite_float(value: object) -> float | None:
    """``value`` as a float when it is a finite real number (not a bool), else None (an int beyond float's range too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        x = float(value)
    except OverflowError:  # 10**400
        return None
    return x if math.isfinite(x) else None
