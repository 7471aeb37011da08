"""Write every source symdl generates into one folder, to compare two versions of symdl byte for byte.

Usage::

    python tools/snapshot_generated.py OUT_DIR [--report]
    diff -r BEFORE_DIR AFTER_DIR

It drives the ``symdl`` command only (``python -m symdl``), so it runs unchanged
across refactors of the package: each registered rule's standalone numpy module
and its JAX and PyTorch exports (where those libraries are installed), the
networks that ``symdl verify`` checks in every backend, a batch-norm + dropout
network in every backend, and, with ``--report``, the Markdown report of the
built-in rules. A restructuring that should not change behaviour must leave
``diff -r`` empty (or show only the changes it means to make).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

#: The networks of ``symdl verify``'s generated-code rows, plus one with batch norm and dropout.
NETWORKS: tuple[tuple[str, ...], ...] = (
    ("--layers", "3,5,2", "--activation", "tanh", "--loss", "huber", "--penalty", "l2"),
    ("--layers", "4,6,3", "--activation", "relu", "--output-activation", "softmax", "--loss", "softmax_cross_entropy", "--penalty", "l1"),
    ("--layers", "3,4,4,2", "--activation", "prelu", "--output-activation", "sigmoid", "--loss", "binary_cross_entropy"),
    # p = 0.5 keeps and drops half: the same network whether --dropout names the keep or the drop probability.
    ("--layers", "4,8,8,3", "--activation", "elu", "--loss", "mse", "--batchnorm", "--dropout", "0.5"),
)


#: Formulas as users type them (the seeds' softplus, a smooth loss, a piecewise one).
FORMULAS: tuple[str, ...] = ("log(exp(z) + 1)", "1/(1 + exp(-z))", "log(cosh(z))", "where(z > 0, z, 0.1*z)")


def _symdl(*args: str, refusal_ok: bool = False) -> str:
    """``symdl ARGS``'s standard output; with ``refusal_ok`` a usage refusal (exit 2) gives its error line instead."""
    done = subprocess.run([sys.executable, "-m", "symdl", *args], capture_output=True, text=True, check=False)
    if done.returncode == 2 and refusal_ok:
        return "REFUSED: " + done.stderr.strip() + "\n"
    if done.returncode:
        raise SystemExit(f"symdl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _backends() -> list[str]:
    return ["numpy", *(b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None)]


def snapshot(out: Path, report: bool) -> int:
    """Write the generated sources under ``out``; return how many files were written."""
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    rules = [entry["name"] for entry in json.loads(_symdl("list", "--json"))]
    for backend in _backends():
        for name in rules:
            target = out / "rules" / backend / f"{name}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_symdl("codegen", name, "--backend", backend, "-o", "-", refusal_ok=True))
            written += 1
        for k, formula in enumerate(FORMULAS):
            target = out / "formulas" / backend / f"formula{k}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_symdl("codegen", formula, "--backend", backend, "-o", "-"))
            written += 1
        for k, flags in enumerate(NETWORKS):
            for dtype in ("float64", "float32"):
                target = out / "networks" / backend / f"net{k}_{dtype}.py"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(_symdl("codegen", *flags, "--dtype", dtype, "--backend", backend, "-o", "-"))
                written += 1
    if report:
        _symdl("report", "-o", str(out / "report"), "--format", "md")
        written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write into")
    parser.add_argument("--report", action="store_true", help="also the Markdown report of the built-in rules (slow)")
    args = parser.parse_args()
    print(f"{snapshot(args.out, args.report)} generated sources written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
