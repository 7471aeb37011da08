"""Wall-clock and CPU time of `symdl verify`: cold (an empty cache), warm (every row cached), and serial without the cache.

    python bench/bench_verify.py [--jobs 2] [--serial] [--repeats 1] [--write]

Each run is a fresh `python -m symdl verify --quiet` process with its own
SYMDL_CACHE_DIR (a new temporary directory for the cold run, the same one
for the warm runs that follow it). CPU time is the child's user + system time
(its worker processes included). The load average before and after each run is
recorded, because the machine may be shared. `--write` replaces the section
between the `verify` markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine  # noqa: E402 (bench/ is the script's folder)

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- verify:begin -->", "<!-- verify:end -->"


def timed(argv: list[str], cache: str) -> dict:
    env = {**os.environ, "SYMDL_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "symdl", "verify", "--quiet", *argv], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
    return {"wall": wall, "cpu": cpu, "load": (load, os.getloadavg()[0]), "status": done.returncode, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="-j of the cold and warm runs (default: the CPUs)")
    parser.add_argument("--serial", action="store_true", help="also time -j 1 --no-cache (the old way)")
    parser.add_argument("--repeats", type=int, default=1, help="cold and warm runs each")
    parser.add_argument("--write", action="store_true", help="rewrite the verify section of docs/performance.md")
    args = parser.parse_args()
    rows = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="symdl-bench-cache-") as cache:
            rows.append((f"cold, -j {args.jobs}", timed(["-j", str(args.jobs)], cache)))
            rows.append((f"warm, -j {args.jobs}", timed(["-j", str(args.jobs)], cache)))
    if args.serial:
        with tempfile.TemporaryDirectory(prefix="symdl-bench-cache-") as cache:
            rows.append(("serial, -j 1 --no-cache", timed(["-j", "1", "--no-cache"], cache)))
    lines = [
        f"Machine: {machine()}; run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| run | wall (s) | CPU (s) | load average before → after | exit | summary |",
        "| --- | ---: | ---: | --- | ---: | --- |",
    ]
    for label, r in rows:
        lines.append(f"| {label} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | "
                     f"{r['status']} | {r['summary']} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        path = ROOT / "docs" / "performance.md"
        doc = path.read_text()
        if BEGIN not in doc or END not in doc:
            raise SystemExit(f"{path}: no {BEGIN} ... {END} section")
        head, rest = doc.split(BEGIN, 1)
        path.write_text(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
