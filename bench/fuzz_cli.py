"""Fuzz the CLI with grammar-generated formulas: counts of exits, every broken guarantee, the slowest formulas.

Run by hand: ``python bench/fuzz_cli.py [--examples N] [--leaves L] [--seed S] [--time-limit S]``.
For each of derive, check, codegen and report --formula (and, asked for, a declared
gradient: codegen --gradient) it draws N formulas
from :func:`symdl.testing.formula_strategies.formula_texts` and runs the
command in-process (tests/cli_fuzz_driver.py), checking exit 0/1/2, one error
line on exit 2, no traceback, no file left on failure, and each run ending
within its ``--time-limit`` (plus 5 s). The results are
recorded by hand in docs/testing.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cli_fuzz_driver import COMMANDS, MORE_COMMANDS, problems, run  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from symdl.testing.formula_strategies import formula_texts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="formulas per command (default 300)")
    parser.add_argument("--leaves", type=int, default=6, help="most leaves of a formula (default 6)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help=f"comma-separated, of {', '.join(COMMANDS + MORE_COMMANDS)} (default: {','.join(COMMANDS)}); "
                        "gradient: the formula as codegen 'z*sign(z)' --backend torch --gradient FORMULA")
    parser.add_argument("--trace", action="store_true", help="name each formula on stderr before it runs")
    parser.add_argument("--seed", type=int, default=18, help="hypothesis seed (0: derandomized)")
    parser.add_argument("--time-limit", type=float, default=10.0,
                        help="each run's --time-limit (default 10); a run past it plus 5 s is a broken guarantee")
    args = parser.parse_args()
    unknown = [c for c in args.commands.split(",") if c not in COMMANDS + MORE_COMMANDS]
    if unknown:
        parser.error(f"--commands: unknown {', '.join(unknown)}; known: {', '.join(COMMANDS + MORE_COMMANDS)}")
    random.seed(args.seed)
    seeded = seed(args.seed) if args.seed else (lambda f: f)
    broken, slow, failed = [], [], []
    for command in args.commands.split(","):
        codes: Counter[int | str] = Counter()
        start = time.perf_counter()

        @settings(max_examples=args.examples, deadline=None, database=None, derandomize=args.seed == 0,
                  suppress_health_check=list(HealthCheck))
        @seeded
        @given(formula_texts(max_leaves=args.leaves))
        def fuzz(text: str) -> None:
            if args.trace:
                print(f"  … {command} {text!r}", file=sys.stderr, flush=True)
            outcome = run(command, text, time_limit=args.time_limit)
            codes[outcome.code] += 1
            if "took longer than the time limit" in outcome.err:
                codes["stopped"] += 1
            slow.append((outcome.seconds, command, text, outcome.code))
            if outcome.code == 1 and len(failed) < 200:
                failed.append((command, text, outcome.out.strip().splitlines()[-1:] or [""]))
            found = problems(outcome)
            # report reads the formula, then builds its section: one limit each
            if outcome.seconds > args.time_limit * (2 if command == "report" else 1) + 5:
                found.append(f"ran {outcome.seconds:.1f} s, past its --time-limit {args.time_limit:g}")
            if found:
                broken.append((command, text, found))

        fuzz()
        total = sum(codes.values())
        print(f"{command:8s} {total:5d} runs in {time.perf_counter() - start:7.1f} s: "
              + ", ".join(f"exit {c}: {n}" if isinstance(c, int) else f"{c} by the limit: {n}"
                        for c, n in sorted(codes.items(), key=str)), flush=True)
    print(f"\n{len(broken)} broken guarantees")
    for command, text, found in broken:
        print(f"  {command} {text!r}: {'; '.join(found)}")
    print(f"\n{len(failed)} runs with exit 1 (a check failed), first 15:")
    for command, text, last in failed[:15]:
        print(f"  {command} {text!r}: {last[0][:160]}")
    print("\nslowest:")
    for seconds, command, text, code in sorted(slow, reverse=True)[:10]:
        print(f"  {seconds:6.2f} s  exit {code}  {command} {text!r}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
