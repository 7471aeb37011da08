"""How long the quick `symdl` commands take beyond starting Python (and `derive` beyond importing SymPy).

    python bench/bench_cli.py [--repeats 15]

Each command runs as a fresh `python -m symdl ...` process; its baseline
(`python -c pass`, or `python -c "import sympy"` for `derive`) runs right
before it in every repeat, so both see the same load. Reported: the median
wall-clock time and the median CPU time (user + system) of each, and the
difference. Goals (issue 17): `--version`, `--help`, `list` each ≤ 0.15 s above
`python -c pass`; `derive sigmoid` ≤ 0.3 s above `import sympy`.

`derive` keeps its proofs in the cache of `symdl verify`: the bench gives it a
temporary cache directory, runs it once untimed (so the timed runs read the
proofs, as every run after the first does) and also times `derive sigmoid
--no-cache`, which proves them every time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = (
    (["-m", "symdl", "--version"], ["-c", "pass"], 0.15),
    (["-m", "symdl", "--help"], ["-c", "pass"], 0.15),
    (["-m", "symdl", "list"], ["-c", "pass"], 0.15),
    (["-m", "symdl", "derive", "sigmoid"], ["-c", "import sympy"], 0.3),
    (["-m", "symdl", "derive", "sigmoid", "--no-cache"], ["-c", "import sympy"], None),
)
CACHE = tempfile.mkdtemp(prefix="symdl-bench-cli-")


def once(argv: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMDL_CACHE_DIR": CACHE}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, {args.repeats} repeats (medians)")
    print("| command | wall (s) | baseline wall (s) | wall above | CPU (s) | baseline CPU (s) | CPU above | goal |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for command, baseline, goal in CASES:
        once(command)  # untimed: fills the cache (derive) and the OS's file cache
        runs, bases = [], []
        for _ in range(args.repeats):
            bases.append(once(baseline))
            runs.append(once(command))
        wall, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
        bwall, bcpu = (statistics.median(r[i] for r in bases) for i in (0, 1))
        label = "symdl " + " ".join(command[2:])
        base = "python " + " ".join(baseline)
        print(f"| `{label}` (vs `{base}`) | {wall:.3f} | {bwall:.3f} | {wall - bwall:+.3f} | {cpu:.3f} | {bcpu:.3f} | "
              f"{cpu - bcpu:+.3f} | {'-' if goal is None else f'≤ {goal}'} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
