"""No ignored flags: a flag that does not apply to what was asked is refused with one line (or honoured)."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from symdl.cli import main


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("symdl: error: ")
    return captured.err


def test_check_of_a_rule_by_another_input_is_refused(capsys):
    assert main(["check", "prelu", "--wrt", "alpha"]) == 2
    err = one_error(capsys)
    assert "by its input z" in err and "symdl derive prelu --wrt alpha" in err


@pytest.mark.parametrize("wrt", ["garbage", "x", "Z", "alpha"])
def test_check_of_a_rule_by_an_unknown_input_names_the_inputs(wrt, capsys):
    assert main(["check", "relu", "--wrt", wrt]) == 2
    assert "its inputs: z" in one_error(capsys)


def test_check_by_the_rules_own_input_and_a_formulas_variable_are_honoured(capsys):
    assert main(["check", "relu", "--wrt", "z"]) == 0
    assert capsys.readouterr().out.startswith("relu  (by z)")
    assert main(["check", "x**2", "--wrt", "x"]) == 0
    assert capsys.readouterr().out.startswith("x**2  (by x)")


@pytest.mark.parametrize("flag", [["--activation", "garbage"], ["--loss", "nonsense"], ["--layers", "1,x"],
                                  ["--activation", "tanh"], ["--output-activation", "sigmoid"], ["--penalty", "l2"],
                                  ["--batchnorm"], ["--dropout", "0.2"]])
def test_report_network_flags_without_backprop_are_refused(flag, tmp_path, capsys):
    target = tmp_path / "r"
    assert main(["report", "relu", *flag, "-o", str(target), "--format", "md"]) == 2
    assert f"{flag[0]} describes the network of the backprop section" in one_error(capsys)
    assert not target.exists()


def test_report_network_flags_with_backprop_are_checked(tmp_path, capsys):
    assert main(["report", "backprop", "--activation", "garbage", "-o", str(tmp_path / "r"), "--format", "md"]) == 2
    assert "garbage" in one_error(capsys)


# --- one machine-readable flag, one progress switch -----------------------------------------------------------

RESULT_COMMANDS = ["list", "derive", "check", "verify", "report", "train", "evaluate"]


def _option(command: str, flag: str):
    from symdl.cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next((a for a in sub._actions if flag in a.option_strings), None)


def test_every_command_that_prints_results_takes_json_spelled_and_described_the_same():
    helps = {command: _option(command, "--json") for command in RESULT_COMMANDS}
    assert all(action is not None for action in helps.values()), helps
    assert len({action.help for action in helps.values()}) == 1
    assert _option("codegen", "--json") is None  # it writes code, not results


@pytest.mark.parametrize("command", ["verify", "check", "report"])
def test_the_long_commands_share_one_progress_switch(command):
    assert _option(command, "--progress").help == _option("verify", "--progress").help
    assert _option(command, "--quiet") is not None


def test_derive_format_json_is_a_deprecated_alias_of_json(capsys):
    assert main(["derive", "softplus", "--json"]) == 0
    new = capsys.readouterr()
    assert main(["derive", "softplus", "--format", "json"]) == 0
    old = capsys.readouterr()
    assert old.out == new.out and json.loads(new.out)["name"] == "softplus" and new.err == ""
    assert old.err == "symdl: warning: 'derive --format json' is deprecated; use 'derive --json'\n"


def test_json_and_another_format_are_refused(capsys):
    assert main(["derive", "relu", "--json", "--format", "latex"]) == 2
    assert "--json and --format latex" in one_error(capsys)


def test_progress_and_quiet_together_are_refused(capsys):
    assert main(["verify", "relu", "--progress", "--quiet"]) == 2
    assert "not allowed with argument" in one_error(capsys)


def test_report_json_names_the_files_written(tmp_path, capsys):
    out_dir = tmp_path / "r"
    assert main(["report", "--formula", "z**2", "-o", str(out_dir), "--format", "md,tex", "--no-verify",
                 "--no-plots", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"written": {"tex": str(out_dir / "report.tex"), "md": str(out_dir / "report.md")}, "failed": []}
    assert all(Path(path).is_file() for path in printed["written"].values())


def test_check_shows_its_stages_only_when_asked_or_on_a_terminal(capfd, monkeypatch):
    # file-descriptor capture: the stages are written by the worker process that --time-limit bounds
    assert main(["check", "relu"]) == 0
    assert capfd.readouterr().err == ""  # not a terminal here
    assert main(["check", "relu", "--progress"]) == 0
    captured = capfd.readouterr()
    assert captured.err.splitlines() == ["symdl check: [1/3] reading: 'relu'…", "symdl check: [2/3] boundaries: 'relu'…",
                                         "symdl check: [3/3] numeric checks: 'relu'…"]
    assert captured.out.splitlines()[-1] == "PASS"

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["check", "relu", "--time-limit", "0"]) == 0  # in this process, so its stderr is this terminal
    shown = terminal.getvalue()
    assert "\n" not in shown and shown.endswith("\r\x1b[K")
    assert re.search(r"\r\x1b\[Ksymdl check: \[3/3\] numeric checks: 'relu'… \d+\.\d s", shown)
    assert main(["check", "relu", "--time-limit", "0", "--quiet"]) == 0
    assert terminal.getvalue() == shown


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- formulas from standard input or a file -------------------------------------------------------------------


def test_a_formula_from_stdin_or_a_file_is_the_formula_typed(tmp_path, capsys, monkeypatch):
    assert main(["derive", "log(1 + exp(z))", "--json"]) == 0
    typed = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("log(1 + exp(z))\n"))
    assert main(["derive", "-", "--json"]) == 0
    assert capsys.readouterr().out == typed
    path = tmp_path / "softplus.txt"
    path.write_text("log(1 + exp(z))\n\n", encoding="utf-8")
    assert main(["derive", f"@{path}", "--json"]) == 0
    assert capsys.readouterr().out == typed


def test_a_file_is_read_as_text_for_the_same_safe_parser(tmp_path, capfd):
    path = tmp_path / "evil.txt"
    path.write_text("__import__('os').system('echo hi')", encoding="utf-8")
    assert main(["derive", f"@{path}"]) == 2
    captured = capfd.readouterr()  # file-descriptor level: a shell command run by the text would show here
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "call of something other than a function name" in captured.err and "is not allowed" in captured.err


def test_derivative_and_report_formulas_read_files_too(tmp_path, capsys, monkeypatch):
    claim = tmp_path / "claim.txt"
    claim.write_text("2*z", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("z**2"))
    assert main(["check", "-", "--derivative", f"@{claim}"]) == 0
    assert "PROVEN" in capsys.readouterr().out
    formula = tmp_path / "f.txt"
    formula.write_text("z**3 / 3\n", encoding="utf-8")
    out_dir = tmp_path / "r"
    assert main(["report", "--formula", f"cube={formula}".replace("=", "=@", 1), "-o", str(out_dir), "--format", "md",
                 "--no-verify", "--no-plots"]) == 0
    md = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "cube" in md and "z^{3}" in md


@pytest.mark.parametrize(("argv", "words"), [
    (["derive", "@{tmp}/missing.txt"], ["NAME|FORMULA @", "missing.txt: no such file"]),
    (["derive", "@{tmp}"], ["is a directory; give a file in it"]),
    (["derive", "@"], ["expected a file name after @"]),
    (["derive", "@{tmp}/latin1.txt"], ["not UTF-8 text"]),
    (["check", "-", "--derivative", "-"], ["standard input was already read by NAME|FORMULA"]),
    (["report", "--formula", "@{tmp}/missing.txt", "-o", "{tmp}/r"], ["--formula @", "missing.txt: no such file"]),
])
def test_an_unreadable_formula_source_is_one_line_and_exit_2(argv, words, tmp_path, capsys, monkeypatch):
    (tmp_path / "latin1.txt").write_bytes("z * \xe9".encode("latin-1"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("z**2"))
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = one_error(capsys)
    assert all(word in err for word in words), err
    assert not (tmp_path / "r").exists()


def test_codegen_gradients_from_a_file_or_stdin_are_the_gradients_typed(tmp_path, capsys, monkeypatch):
    """``--gradient @FILE`` and ``--gradient INPUT=@FILE`` (and ``-``) give the module of the text typed, byte for byte."""
    one = ["codegen", "sign(z)", "--backend", "jax", "-o", "-", "--gradient"]
    assert main([*one, "1"]) == 0
    typed = capsys.readouterr().out
    assert "declared d/dz: 1" in typed
    (tmp_path / "ste.txt").write_text("1\n\n", encoding="utf-8")
    assert main([*one, f"@{tmp_path / 'ste.txt'}"]) == 0
    assert capsys.readouterr().out == typed
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n"))
    assert main([*one, "-"]) == 0
    assert capsys.readouterr().out == typed
    two = ["codegen", "z*y", "--symbol", "y", "--backend", "torch", "-o", "-", "--gradient", "y=z"]
    assert main([*two, "--gradient", "z = y"]) == 0
    typed = capsys.readouterr().out
    assert "declared d/dz: y" in typed and "declared d/dy: z" in typed
    (tmp_path / "dz.txt").write_text("y", encoding="utf-8")
    assert main([*two, "--gradient", f"z = @{tmp_path / 'dz.txt'}"]) == 0
    assert capsys.readouterr().out == typed


@pytest.mark.parametrize(("gradient", "words"), [
    ("@{tmp}/missing.txt", ["--gradient @", "missing.txt: no such file"]),
    ("z=@{tmp}/missing.txt", ["--gradient @", "missing.txt: no such file"]),
    ("@{tmp}", ["--gradient @", ": is a directory; give a file in it"]),
    ("@{tmp}/empty.txt", ["--gradient @", "empty.txt: the file is empty"]),
    ("@{tmp}/latin1.txt", ["--gradient @", "latin1.txt: the file is not UTF-8 text"]),
    ("@", ["--gradient @: expected a file name after @"]),
    ("z=@", ["--gradient @: expected a file name after @"]),
    ("-", ["--gradient -: standard input was already read by NAME|FORMULA"]),
    ("@{tmp}/evil.txt", ["gradient for z: call of something other than a function name", "is not allowed"]),
])
def test_an_unreadable_or_refused_gradient_file_is_one_line_and_exit_2(gradient, words, tmp_path, capsys, monkeypatch):
    (tmp_path / "latin1.txt").write_bytes("z * \xe9".encode("latin-1"))
    (tmp_path / "empty.txt").touch()
    (tmp_path / "evil.txt").write_text("__import__('os').system('echo hi')", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("sign(z)"))
    target = tmp_path / "m.py"
    assert main(["codegen", "-", "--backend", "torch", "--gradient", gradient.replace("{tmp}", str(tmp_path)), "-o", str(target)]) == 2
    err = one_error(capsys)
    assert all(word in err for word in words), err
    assert not target.exists()


# --- bare symdl ----------------------------------------------------------------------------------------------


def test_bare_symdl_prints_the_help_on_stderr_and_exits_2(capsys):
    assert main(["--help"]) == 0
    full_help = capsys.readouterr().out
    assert main([]) == 2  # no command is a usage error, as argparse's required subcommand: exit 2, the help on stderr
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == full_help
    assert "COMMAND" in full_help and "derive" in full_help
