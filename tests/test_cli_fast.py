"""The instant command line: `symdl --version`, `--help` and `list` import no SymPy (nor numpy), and say the same;
`symdl derive` (SymPy work only) imports no numpy."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symdl.cli import main
from symdl.cli.parser import build_parser
from symdl.cli.rule_table import RULES, registry_entries, source

ROOT = Path(__file__).resolve().parent.parent

# Runs main(argv) in a fresh interpreter, then prints the heavy modules it imported after a marker line.
PROBE = """
import json, sys
from symdl.cli.main import main
code = main(json.loads(sys.argv[1]))
print("\\n@@", code, json.dumps(sorted(m for m in ("sympy", "numpy", "mpmath") if m in sys.modules)))
"""


def probe(*argv: str) -> tuple[int, str, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    out, _, tail = done.stdout.rpartition("\n@@ ")
    code, heavy = tail.split(" ", 1)
    return int(code), out, json.loads(heavy)


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["list"], ["list", "--json"], ["verify", "--help"]])
def test_the_quick_commands_import_no_sympy(argv):
    code, out, heavy = probe(*argv)
    assert code == 0 and out.strip()
    assert heavy == []
    if argv[0] == "--version":
        assert out.strip().startswith("symdl ")


@pytest.mark.parametrize("argv", [["derive", "sigmoid"], ["derive", "softmax", "--no-cache"],
                                  ["derive", "log(1 + exp(k*z))", "--param", "k=2", "--json"]])
def test_derive_imports_no_numpy(argv):
    code, out, heavy = probe(*argv)
    assert code == 0 and "proof" in out
    assert heavy == ["mpmath", "sympy"]


def test_list_in_a_fresh_process_equals_the_registry(capsys):
    import symdl.rulebook.registry  # noqa: F401  (in this process the live registry is listed)

    code, fresh, heavy = probe("list", "--json")
    assert code == 0 and heavy == []
    assert main(["list", "--json"]) == 0
    assert json.loads(fresh) == json.loads(capsys.readouterr().out) == registry_entries()
    _, table, _ = probe("list")
    assert main(["list"]) == 0
    assert table == capsys.readouterr().out


def test_the_rule_table_is_current():
    assert RULES == registry_entries(), "rule table stale: run python -m symdl.cli.rule_table"
    assert source() == (ROOT / "symdl" / "cli" / "rule_table.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["list", "derive", "check", "codegen", "verify", "report", "train", "evaluate", "completion"])
def test_lazy_subcommands_help_as_the_full_parser(command):
    full = _help(build_parser(), command)
    assert _help(build_parser(lazy=True), command) == full and "--help" in full


def _help(parser, command: str) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    return buffer.getvalue()


def test_bare_symdl_prints_the_help_without_importing_sympy():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    script = ("import sys; from symdl.cli.main import main; code = main([]); "
              "print(code, sorted(m for m in ('sympy', 'numpy', 'mpmath') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.stdout == "2 []\n"
    assert done.stderr.startswith("usage: symdl") and "Exit status:" in done.stderr
