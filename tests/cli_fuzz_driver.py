"""One CLI run in-process for the fuzz tests (tests/test_fuzz_cli.py, bench/fuzz_cli.py) and the checks on its result.

Every run must end with exit 0, 1 or 2; exit 2 with exactly one line
``symdl: error: …`` on stderr; never a traceback; and a run that fails leaves
no file in its output directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from dataclasses import dataclass

from symdl.cli.main import main

COMMANDS = ("derive", "check", "codegen", "report")
#: Fuzzed on request only (bench/fuzz_cli.py --commands gradient): the formula as the declared gradient of
#: ``codegen 'z*sign(z)' --backend torch --gradient FORMULA``, compared with the derivative at the kink too.
MORE_COMMANDS = ("gradient",)


@dataclass
class Outcome:
    command: str
    formula: str
    code: int
    out: str
    err: str
    seconds: float
    left: list[str]


def argv_for(command: str, formula: str, folder: str) -> list[str]:
    if command == "codegen":
        return ["codegen", formula, "-o", os.path.join(folder, "f.py")]
    if command == "gradient":
        return ["codegen", "z*sign(z)", "--backend", "torch", "--gradient", formula, "-o", os.path.join(folder, "f.py")]
    if command == "report":
        return ["report", "--formula", formula, "-o", os.path.join(folder, "d"), "--no-plots", "--no-verify",
                "--format", "md"]
    return [command, formula]


def run(command: str, formula: str, time_limit: float | None = None) -> Outcome:
    """``symdl COMMAND FORMULA [--time-limit S]`` in this process, its output captured, in a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="symdl-fuzz-") as folder:
        out, err = io.StringIO(), io.StringIO()
        argv = argv_for(command, formula, folder)
        if time_limit is not None and command != "verify":
            argv += ["--time-limit", str(time_limit)]
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except BaseException as error:  # noqa: BLE001 - reported as a failed check, with its type
                code = -1
                err.write(f"Traceback: {type(error).__name__}: {error}\n")
        seconds = time.perf_counter() - start
        left = sorted(os.listdir(folder))
    return Outcome(command, formula, code, out.getvalue(), err.getvalue(), seconds, left)


def problems(o: Outcome) -> list[str]:
    """What is wrong with an outcome (empty when it holds every guarantee)."""
    found = []
    if o.code not in (0, 1, 2):
        found.append(f"exit {o.code}")
    if "Traceback" in o.err:
        found.append("a traceback")
    if o.code == 2:
        lines = o.err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("symdl: error: "):
            found.append(f"not one error line: {o.err!r}")
    elif o.code == 0 and o.err:
        found.append(f"stderr on success: {o.err!r}")
    if o.code != 0 and o.left:
        found.append(f"files left on failure: {o.left}")
    return found
