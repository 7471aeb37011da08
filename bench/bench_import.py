"""The CPU time of ``import symdl`` beyond ``import sympy, numpy``, measured in fresh processes.

Usage::

    python bench/bench_import.py            # 15 fresh processes
    python bench/bench_import.py --write    # also rewrite the import table in docs/performance.md

Each process imports sympy and numpy, reads its own CPU time (user + system,
``resource.getrusage``), imports symdl and reads it again; the difference is
what symdl itself costs. The processes alternate with baseline processes that
import only sympy and numpy, so both see the same machine load. The goal
(issue 12): the median ≤ 0.25 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
GOAL_S = 0.25

# One fresh interpreter: CPU seconds of `import sympy, numpy`, then of `import symdl` after them.
_PROBE = """
import json, resource, sys
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0 = cpu()
import sympy, numpy
t1 = cpu()
import symdl
t2 = cpu()
heavy = sorted(m for m in ("matplotlib", "IPython", "jax", "torch", "scipy", "hypothesis") if m in sys.modules)
from symdl import *  # every public name: what the lazy import defers, paid on first use
t3 = cpu()
print(json.dumps({"base": t1 - t0, "symdl": t2 - t1, "public": t3 - t2, "heavy": heavy}))
"""


def measure(runs: int) -> dict[str, object]:
    """Median and spread of symdl's import CPU time over ``runs`` fresh processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    samples, bases, public, heavy = [], [], [], set()
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, env=env)
        row = json.loads(done.stdout)
        samples.append(row["symdl"])
        bases.append(row["base"])
        public.append(row["public"])
        heavy.update(row["heavy"])
    return {
        "runs": runs,
        "symdl_median_s": statistics.median(samples),
        "symdl_min_s": min(samples),
        "symdl_max_s": max(samples),
        "sympy_numpy_median_s": statistics.median(bases),
        "public_median_s": statistics.median(public),
        "optional_modules_imported": sorted(heavy),
    }


def markdown(result: dict[str, object]) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    met = "met" if result["symdl_median_s"] <= GOAL_S else "NOT MET"
    return "\n".join(
        [
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load:.1f}; {result['runs']} fresh processes.",
            "",
            "| what | CPU time (median) | min – max |",
            "| --- | --- | --- |",
            f"| `import sympy, numpy` | {result['sympy_numpy_median_s']:.3f} s | |",
            f"| `import symdl` after them | {result['symdl_median_s']:.3f} s | "
            f"{result['symdl_min_s']:.3f} – {result['symdl_max_s']:.3f} s |",
            f"| then every public name (`from symdl import *`, first use) | {result['public_median_s']:.3f} s | |",
            "",
            f"Goal: ≤ {GOAL_S} s for `import symdl` beyond sympy and numpy — **{met}**. "
            f"Optional libraries imported by `import symdl`: {', '.join(result['optional_modules_imported']) or 'none'}.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes (default 15)")
    parser.add_argument("--write", action="store_true", help=f"rewrite the import table in {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    block = markdown(measure(args.runs))
    print(block)
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from doc_sections import replace_section

        replace_section(DOC, "import", block)
        print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
