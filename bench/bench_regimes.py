"""Parameter regimes and proof times of prove_zero with this tree's regimes.py against another revision's, side by side.

    python bench/bench_regimes.py [--before b2c90d7 | --before-tree /tmp/main] [--repeats 2] [--skip-rules]

Each measurement is a fresh process (no cache shared between the two): one
with this tree's ``symdl/symbolic/regimes.py``, one with the ``--before``
revision's (read with ``git show``, loaded in place of it: the proofs call its
``_parameter_regimes``), or with the whole package of ``--before-tree`` (a
checkout of another revision, e.g. ``git worktree add /tmp/main main``: its
case analysis too), interleaved ``--repeats`` times. Each process times
the 1-, 2- and 3-parameter proofs below (regimes listed, then proven, thread
CPU time) and, unless ``--skip-rules``, counts the parameter regimes of every
built-in rule's proofs (``Rule.prove``: the counts the report prints). The
load average before and after each process is recorded: the machine may be
shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sympy as sp
from _machine import machine  # noqa: E402 (bench/ is the script's folder)

ROOT = Path(__file__).resolve().parent.parent

#: name → the expression to prove ≡ 0 in x, built from x, real a and b, and positive a, b, c (pa, pb, pc).
PROOFS = {
    "1 parameter, true": lambda x, a, b, pa, pb, pc: sp.Abs(x - a) + sp.Abs(x - 2) - sp.Max(sp.Abs(2 * x - a - 2), sp.Abs(a - 2)),
    "2 parameters, true": lambda x, a, b, pa, pb, pc: sp.Abs(x - a) + sp.Abs(x - b) - sp.Max(sp.Abs(2 * x - a - b), sp.Abs(a - b)),
    "2 parameters, wrong on a strip": lambda x, a, b, pa, pb, pc: sp.Piecewise((x, (b > a - sp.Rational(1, 100)) & (b < a)), (0, True)),
    "3 parameters, wrong on c = 2, 2 < b < 2.01, a = 2b": lambda x, a, b, pa, pb, pc: sp.Piecewise(
        (x, sp.Eq(pc, 2) & (pb > pc) & (pb < pc + sp.Rational(1, 100)) & sp.Eq(pa, 2 * pb)), (0, True)),
}


def use_revision(revision: str) -> None:
    """Load ``revision``'s regimes.py and make the proofs call its ``_parameter_regimes``."""
    import symdl.symbolic.poles as poles
    import symdl.symbolic.proof as proof
    import symdl.symbolic.regimes as regimes

    text = subprocess.run(["git", "show", f"{revision}:symdl/symbolic/regimes.py"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"symdl_regimes_{revision}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("symdl.symbolic._regimes_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.Undecidable = regimes.Undecidable  # raised where the proofs catch it
    proof._parameter_regimes = poles._parameter_regimes = module._parameter_regimes


def child(revision: str | None, rules: bool) -> dict:
    """The measurements of one process: proofs, then each built-in rule's regime counts."""
    import symdl.symbolic.proof as proof
    from symdl.rulebook.registry import rule
    from symdl.rulebook.registry import rules as rule_names
    from symdl.symbolic.regimes import breakpoints

    if revision is not None:
        use_revision(revision)
    x = sp.Symbol("x", real=True)
    a, b = sp.symbols("a b", real=True)
    pa, pb, pc = sp.symbols("a b c", positive=True)
    out: dict = {"proofs": {}, "rules": {}}
    for label, build in PROOFS.items():
        expr = build(x, a, b, pa, pb, pc)
        start = time.thread_time()
        regimes = proof._parameter_regimes(expr, x, breakpoints(expr, x), proof._sample_values(None, expr, x))
        listed = time.thread_time() - start
        result = proof.prove_zero(expr, x)
        out["proofs"][label] = {"regimes": len(regimes), "list_s": listed, "prove_s": time.thread_time() - start,
                                "holds": result.holds, "counterexample": str(result.counterexample)}
    for name in rule_names() if rules else []:
        r = rule(name)
        if not getattr(r, "param_symbols", None):
            continue
        counts = []
        for label, result in r.prove().items():
            found = re.search(r"in (\d+) parameter regimes", result.method)
            counts.append(f"{label}: {found.group(1) if found else 1}{'' if result.holds else ' (NOT PROVEN)'}")
        out["rules"][name] = counts
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="b2c90d7", help="the revision whose regimes.py is compared (default: b2c90d7)")
    parser.add_argument("--before-tree", type=Path, help="a checkout whose whole symdl package is compared instead")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-rules", action="store_true", help="time the proofs only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(None if args.child == "after" else args.child, not args.skip_rules)))
        return
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.repeats):
        for variant in ("before", "after"):
            load = os.getloadavg()[0]
            whole = variant == "before" and args.before_tree is not None
            argv = [sys.executable, __file__, "--child", args.before if variant == "before" and not whole else "after"]
            argv += ["--skip-rules"] if args.skip_rules else []
            tree = args.before_tree.resolve() if whole else ROOT
            done = subprocess.run(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                                  text=True, check=True)
            runs[variant].append({**json.loads(done.stdout), "load": (load, os.getloadavg()[0])})
    before = f"the package in {args.before_tree}" if args.before_tree is not None else f"{args.before}'s regimes.py"
    print(f"{machine()}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; before = {before}, after = this tree; "
          f"load {[r['load'] for r in runs['before'] + runs['after']]}")
    print("\n| proof | regimes before | regimes after | before (s) | after (s) | outcome before | outcome after |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for label in PROOFS:
        old, new = (min((r["proofs"][label] for r in runs[v]), key=lambda p: p["prove_s"]) for v in ("before", "after"))
        print(f"| {label} | {old['regimes']} | {new['regimes']} | {old['prove_s']:.2f} | {new['prove_s']:.2f} | "
              f"{'proven' if old['holds'] else old['counterexample']} | {'proven' if new['holds'] else new['counterexample']} |")
    if not args.skip_rules:
        print("\n| rule | regimes before | regimes after |\n| --- | --- | --- |")
        for name, counts in runs["after"][0]["rules"].items():
            print(f"| {name} | {'; '.join(runs['before'][0]['rules'][name])} | {'; '.join(counts)} |")


if __name__ == "__main__":
    main()
