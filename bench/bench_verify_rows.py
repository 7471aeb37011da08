"""CPU time of each row of `symdl verify`, each computed alone in a fresh worker process: where a cold run spends its time.

    python bench/bench_verify_rows.py [NAME ...] [--jobs 2] [--top 25] [--json FILE]

Every row (task of `symdl.verify.runner.plan`) runs in its own process forked
from a parent that has imported the runner and built the rules, as a worker of
`symdl verify -j N` starts, but with nothing cached from other rows. Its CPU
time (`time.process_time`, every thread of the worker) is measured in the
worker, so it does not depend on the load from other processes as wall-clock
time does. Reported: the rows sorted by CPU time, their sum, and whether each
row passed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYMPY_CACHE_SIZE", "20000")  # as symdl verify sets it


def timed(task) -> tuple[str, float, bool]:
    from symdl.verify.runner import run_task

    start = time.process_time()
    reports, _ = run_task(task)
    return task.label, time.process_time() - start, all(r.passed for r in reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="rules, 'networks' or 'codegen' (default: every row)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--top", type=int, default=25, help="rows listed (default: 25)")
    parser.add_argument("--json", metavar="FILE", help="also write {label: CPU seconds} to FILE")
    args = parser.parse_args()
    from symdl.rulebook.registry import rule, rules
    from symdl.verify.runner import plan

    tasks = plan(args.names or None)
    for name in rules():
        rule(name)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=1) as pool:
        rows = pool.map(timed, tasks, chunksize=1)
    wall = time.perf_counter() - start
    rows.sort(key=lambda r: -r[1])
    total = sum(r[1] for r in rows)
    print(f"{len(rows)} rows, {args.jobs} workers, load average {load:.1f} → {os.getloadavg()[0]:.1f}, "
          f"wall {wall:.1f} s; CPU per row (process_time, each row alone in a fresh worker):")
    print("| row | CPU (s) | share | passed |")
    print("| --- | ---: | ---: | --- |")
    for label, cpu, passed in rows[: args.top]:
        print(f"| {label} | {cpu:.2f} | {cpu / total:.0%} | {'yes' if passed else 'NO'} |")
    print(f"| all {len(rows)} rows | {total:.1f} | 100% | {sum(r[2] for r in rows)} passed |")
    if args.json:
        Path(args.json).write_text(json.dumps({label: round(cpu, 3) for label, cpu, _ in rows}, indent=1))


if __name__ == "__main__":
    main()
