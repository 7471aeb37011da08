"""Fit the polynomial pieces of symdl's numpy erf/erfc (symdl/symbolic/special.py) with 60-digit mpmath.

Each piece interpolates its target at Chebyshev nodes of its interval (mapped to u ∈ [−1, 1]) and is
written as a monomial in u, coefficients rounded to float64. Run: ``python tools/fit_erf.py``; it prints
the coefficient tables of special.py and the worst relative error of each piece (coefficients as float64,
evaluated exactly) on 2,000 points.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 60


def erfcx(a):
    return mp.erfc(a) * mp.exp(a * a)


def small(s):  # erf(x)/x as a function of s = x²
    return mp.erf(mp.sqrt(s)) / mp.sqrt(s) if s else 2 / mp.sqrt(mp.pi)


def tail(t):  # a·erfcx(a) as a function of t = 1/a²
    return erfcx(1 / mp.sqrt(t)) / mp.sqrt(t) if t else 1 / mp.sqrt(mp.pi)


# (name, target, interval, degree): the intervals of special.py.
PIECES = [
    ("SMALL", small, (0, mp.mpf(1) / 4), 8),
    ("MIDDLE", erfcx, (mp.mpf(1) / 2, mp.mpf(3) / 2), 17),
    ("UPPER", erfcx, (mp.mpf(3) / 2, 3), 17),
    ("TAIL", tail, (0, mp.mpf(1) / 9), 16),
]


def fit(target, lo, hi, degree):
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    n = degree + 1
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    matrix = mp.matrix([[u**j for j in range(n)] for u in nodes])
    coefficients = mp.lu_solve(matrix, mp.matrix([target(mid + half * u) for u in nodes]))
    rounded = [float(coefficients[j]) for j in range(n)]
    worst = max(
        abs(sum(mp.mpf(c) * u**j for j, c in enumerate(rounded)) / target(mid + half * u) - 1)
        for u in (mp.mpf(2 * k) / 2000 - 1 for k in range(2001))
    )
    return rounded, float(worst)


if __name__ == "__main__":
    for name, target, (lo, hi), degree in PIECES:
        coefficients, worst = fit(target, lo, hi, degree)
        print(f"# {name}: worst relative error {worst:.2e}")
        print(f"_{name} = (")
        for c in coefficients:
            print(f"    {c!r},")
        print(")")
