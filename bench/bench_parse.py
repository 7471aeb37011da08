"""How long the formula parser takes, accepted or refused: the goal is ≤ 0.1 s for any formula of ≤ 200 characters.

Usage::

    python bench/bench_parse.py              # 300 grammar-drawn formulas and the known hard cases
    python bench/bench_parse.py --count 2000

Each formula is parsed three times and its fastest CPU time kept (the machine
is shared); the report gives the median and the worst of the drawn formulas
and every hard case's time. The hard cases are shapes that once made SymPy
work for seconds to minutes (nested ``where`` in conditions, constants far
beyond float, Piecewise pieces SymPy merges); tests/test_parse_speed.py keeps
them under a 2 s guard, this benchmark measures them against the goal.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from hypothesis import HealthCheck, given, settings

from symdl.symbolic.parse import FormulaError, parse
from symdl.testing.formula_strategies import formula_texts

GOAL_S = 0.1


def _nested(depth: int, start: int = 2) -> str:
    text = "z"
    for k in range(depth):
        text = f"where(Abs(z) < {text}, z, {start + k})"
    return text


def _pieces(condition: str, count: int) -> str:
    return "Piecewise(" + ", ".join(f"(z, {condition.format(j=j)})" for j in range(count)) + ", (0, True))"


HARD_CASES = {
    "nested where, depth 4": _nested(4),
    "nested where, depth 12 (refused)": _nested(12),
    "bad constant after 900 characters": " + ".join(_nested(3, 10 * k) for k in range(14)) + " + 1/0",
    "constant beyond float in a condition": "(E if (z > exp(-1e300)) else 1) + (+(49611 ^ z))",
    "constants equal to 20 digits (refused)": "(erfc(370433) if (not ((+(+1)) == ((pi ^ pi) ^ erfc(370433)))) else (-1))",
    "Piecewise, 5 pieces of or-conditions": _pieces("(z > {j}) | (z < -{j})", 5),
    "Piecewise, 7 merged pieces (refused)": _pieces("where(z > {j}, z, 1) > where(z < {j}, 2, z)", 7),
}


def cpu_seconds(text: str) -> float:
    """The fastest of three parses, in CPU seconds."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        try:
            parse(text)
        except FormulaError:
            pass
        best = min(best, time.process_time() - start)
    return best


def drawn_formulas(count: int) -> list[str]:
    """``count`` formulas of ≤ 200 characters drawn from the formula grammar's strategy."""
    texts: list[str] = []

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(formula_texts(max_leaves=10))
    def collect(text: str) -> None:
        if len(text) <= 200:
            texts.append(text)

    collect()
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="grammar-drawn formulas to time (default 300)")
    args = parser.parse_args()
    parse(_nested(2))  # SymPy imports some of its logic modules on first use
    times = sorted((cpu_seconds(t), t) for t in drawn_formulas(args.count))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"{len(times)} drawn formulas: median {statistics.median(t for t, _ in times) * 1e3:.2f} ms, "
          f"worst {times[-1][0] * 1e3:.1f} ms ({times[-1][1][:60]!r}); goal ≤ {GOAL_S * 1e3:.0f} ms")
    for name, text in HARD_CASES.items():
        seconds = cpu_seconds(text)
        print(f"{name}: {seconds * 1e3:.1f} ms {'ok' if seconds <= GOAL_S else 'OVER GOAL'}")


if __name__ == "__main__":
    main()
