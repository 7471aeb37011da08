"""`symdl completion bash|zsh|fish`: scripts generated from the parser, driven here as the shells drive them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symdl.cli import main
from symdl.cli.completion import completion_script
from symdl.cli.rule_table import BACKENDS

ROOT = Path(__file__).resolve().parent.parent
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def bash_complete(script: str, *words: str) -> list[str]:
    """COMPREPLY of the generated completion function for the command line ``words`` (the last one being typed)."""
    driver = (f"{script}\nCOMP_WORDS=({' '.join(_bash_quote(w) for w in words)})\nCOMP_CWORD={len(words) - 1}\n"
              "_symdl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", driver], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


def _bash_quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


@pytest.fixture(scope="module")
def bash_script() -> str:
    return completion_script("bash")


@needs_bash
def test_the_bash_script_is_valid_bash(bash_script):
    done = subprocess.run(["bash", "-n"], input=bash_script, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@needs_bash
@pytest.mark.parametrize(("words", "expected"), [
    (("symdl", "de"), ["derive"]),
    (("symdl", "c"), ["check", "codegen", "completion"]),
    (("symdl", "codegen", "--backend", ""), list(BACKENDS)),
    (("symdl", "codegen", "relu", "--back"), ["--backend"]),
    (("symdl", "derive", "sig"), ["sigmoid"]),
    (("symdl", "check", "--kink-convention", "av"), ["average"]),
    (("symdl", "derive", "--format", "j"), ["json"]),
    (("symdl", "train", "--activation", "lea"), ["leaky_relu"]),
    (("symdl", "completion", "f"), ["fish"]),
    (("symdl", "derive", "--param", ""), []),
])
def test_bash_completes_commands_options_choices_and_rules(bash_script, words, expected):
    assert bash_complete(bash_script, *words) == expected


def test_every_subcommand_and_its_options_are_in_the_scripts():
    from symdl.cli.main import COMMANDS
    from symdl.cli.parser import build_parser

    parser = build_parser()
    scripts = {shell: completion_script(shell) for shell in ("bash", "zsh", "fish")}
    for name in COMMANDS:
        flags = {f for a in parser._subparsers._group_actions[0].choices[name]._actions for f in a.option_strings}
        for flag in flags:
            assert flag in scripts["bash"] and flag in scripts["zsh"], (name, flag)
            assert (f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}") in scripts["fish"], (name, flag)
        assert f"-a {name} " in scripts["fish"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse_where_the_shell_is_installed(shell, tmp_path):
    script = completion_script(shell)
    assert "sigmoid" in script and "numpy jax torch" in script
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = tmp_path / f"symdl.{shell}"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_an_unknown_shell_is_one_line_and_exit_2(capsys):
    assert main(["completion", "tcsh"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "tcsh" in captured.err and "bash" in captured.err
    with pytest.raises(ValueError, match="tcsh"):
        completion_script("tcsh")


def test_completion_imports_no_sympy_and_prints_the_script():
    probe = ("import json, sys\nfrom symdl.cli.main import main\ncode = main(['completion', 'bash'])\n"
             "print('@@', code, json.dumps([m for m in ('sympy', 'mpmath') if m in sys.modules]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    script, _, tail = done.stdout.rpartition("@@ ")
    code, heavy = tail.split(" ", 1)
    assert int(code) == 0 and json.loads(heavy) == []
    assert script == completion_script("bash")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.parametrize(("line", "expected"), [
    ("symdl de", ["derive"]),
    ("symdl codegen --backend ", sorted(BACKENDS)),
    ("symdl derive sig", ["sigmoid"]),
])
def test_fish_completes_as_bash_does(tmp_path, line, expected):
    path = tmp_path / "symdl.fish"
    path.write_text(completion_script("fish"), encoding="utf-8")
    done = subprocess.run(["fish", "--no-config", "-c", f"source {path}; complete -C {_bash_quote(line)}"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert sorted(row.split("\t")[0] for row in done.stdout.splitlines()) == expected


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_runs_the_bash_function_through_bashcompinit(tmp_path):
    # as zsh's _bash_complete calls it: sh emulation (0-based arrays); zsh's compadd filters by the typed prefix later
    path = tmp_path / "symdl.zsh"
    path.write_text(completion_script("zsh"), encoding="utf-8")
    driver = (f"autoload -U compinit && compinit -u; source {path}; emulate -L sh; setopt kshglob noshglob braceexpand; "
              "COMP_WORDS=(symdl codegen --backend ''); COMP_CWORD=3; _symdl; print -l -- \"${COMPREPLY[@]}\"")
    done = subprocess.run(["zsh", "-f", "-c", driver], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == list(BACKENDS)
