"""What the limits at moving removable points and poles cost Rule.derivative: every element-wise rule, cold.

Each run is a fresh process (SymPy's and symdl's caches empty) that builds every registered element-wise rule and
takes ``derivative()`` and ``numeric_derivative_expr()``; CPU time of that loop. ``--off`` replaces the lookup of
moving removable points (``symdl.rulebook.rule_kinks._moving``) by "none", as before it existed; the two modes
alternate. Usage: ``python bench/bench_rule_limits.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from _machine import machine  # noqa: E402

CHILD = """
import json, sys, time
import symdl
from symdl.rulebook import rule_kinks
from symdl.rulebook.rule import Rule
if sys.argv[1] == "off":
    rule_kinks._moving = lambda *args: ()
names = [n for n in symdl.rules() if isinstance(symdl.rule(n), Rule)]
start = time.process_time()
for n in names:
    r = symdl.rule(n)
    r.derivative(); r.numeric_derivative_expr()
print(json.dumps({"seconds": time.process_time() - start, "rules": len(names)}))
"""


def run(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT})
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"on": [], "off": []}
    rules = 0
    for _ in range(args.repeats):
        for mode in ("off", "on"):
            result = run(mode)
            times[mode].append(result["seconds"])
            rules = result["rules"]
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{rules} element-wise rules, cold, CPU s per run (alternating off, on):")
    for mode in ("off", "on"):
        print(f"  moving limits {mode:3}: " + ", ".join(f"{t:.2f}" for t in times[mode]) + f"  (best {min(times[mode]):.2f})")


if __name__ == "__main__":
    main()
