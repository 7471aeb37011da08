"""The checker against correct rules: thousands of hypothesis examples, counted, with no false alarm allowed.

Run by hand: ``python bench/bench_checker.py [--examples N] [--write]``. For every
element-wise rule it runs the finite-difference check at points drawn away
from kinks and the subgradient check at and beside kinks, N examples each,
and counts examples and failures; then the mutation suite's counts. With
``--write`` the table replaces the section between the ``checker`` markers of
docs/testing.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from doc_sections import replace_section
from hypothesis import HealthCheck, given, settings

import symdl
from symdl.rulebook.rule import Rule
from symdl.testing import assert_subgradient, central_difference
from symdl.testing.strategies import at_kinks, away_from_kinks
from symdl.verify.mutations import mutation_report

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def run(name: str, examples: int) -> tuple[int, int, int, int]:
    """(FD examples, FD failures, kink examples, kink failures) for rule ``name``."""
    r = symdl.rule(name)
    forward = symdl.compile_kernel(r.numeric_forward_expr(), r.inputs, "elementwise")
    derivative = r.numeric_derivative()
    counts = [0, 0, 0, 0]
    options = settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                       suppress_health_check=list(HealthCheck))

    @options
    @given(away_from_kinks(r))
    def fd(values):
        counts[0] += 1
        arrays = [np.array(v) for v in values]
        exact = derivative(*arrays)
        if not abs(central_difference(forward, arrays) - exact) <= 1e-6 * max(1.0, abs(exact)):
            counts[1] += 1

    fd()
    if r.kinks:
        @options
        @given(at_kinks(r))
        def kink(values):
            counts[2] += 1
            x, *others = (np.array(v) for v in values)
            try:
                assert_subgradient(lambda v: forward(v, *others), derivative(x, *others), x)
            except AssertionError:
                counts[3] += 1

        kink()
    return tuple(counts)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="hypothesis examples per rule and check")
    parser.add_argument("--write", action="store_true", help="write the table into docs/testing.md")
    args = parser.parse_args()
    start = time.perf_counter()
    rows, totals = [], [0, 0, 0, 0, 0, 0]
    for name in symdl.rules():
        if not isinstance(symdl.rule(name), Rule):
            continue
        fd_n, fd_bad, kink_n, kink_bad = run(name, args.examples)
        mutations = mutation_report(symdl.rule(name))
        rows.append(f"| {name} | {fd_n} / {fd_bad} | {kink_n or '-'} / {kink_bad if kink_n else '-'} | "
                    f"{mutations.killed} / {mutations.total} |")
        for i, v in enumerate((fd_n, fd_bad, kink_n, kink_bad, mutations.killed, mutations.total)):
            totals[i] += v
    seconds = time.perf_counter() - start
    text = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_checker.py --examples {args.examples}` "
        f"({seconds:.0f} s): correct rules through the checks (examples / false alarms), and planted mistakes "
        "(caught / planted).",
        "",
        "| rule | FD check away from kinks | subgradient check at kinks | mutants caught |",
        "| --- | --- | --- | --- |",
        *rows,
        f"| **all** | **{totals[0]} / {totals[1]}** | **{totals[2]} / {totals[3]}** | **{totals[4]} / {totals[5]}** |",
    ])
    print(text)
    if args.write:
        replace_section(DOC, "checker", text)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
