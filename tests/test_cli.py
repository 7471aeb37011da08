"""The ``symdl`` command: list, derive, verify, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symdl
import symdl.verify.runner
from symdl.cli import main
from symdl.verify import RuleReport

z = sp.Symbol("z", real=True)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def derive_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, "derive", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def as_sympy(text: str, *names: str) -> sp.Expr:
    # Test-side parsing of the CLI's own output (never user input).
    return sp.sympify(text, locals={n: sp.Symbol(n, real=True) for n in names})


# --- list ---------------------------------------------------------------------


def test_list_shows_every_rule_with_kind_and_parameters(capsys):
    code, out, err = run(capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["rule", "kind", "parameters", "formula"]
    for name, kind in symdl.rules().items():
        row = next(line for line in lines if line.split()[0] == name)
        assert kind in row
        for p in symdl.rule_params(name):
            assert f"{p.name}={p.default:g}" in row
    assert "alpha=0.01" in next(line for line in lines if line.startswith("leaky_relu "))


def test_list_json(capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    entries = json.loads(out)
    assert [e["name"] for e in entries] == list(symdl.rules())
    huber = next(e for e in entries if e["name"] == "huber")
    assert huber["params"][0] == {
        "name": "delta",
        "default": 1.0,
        "description": symdl.rule_params("huber")[0].description,
        "positive": True,
    }
    assert all(e["summary"] for e in entries)


def test_help_and_version_return_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "derive" in out and "verify" in out
    code, out, _ = run(capsys, "derive", "--help")
    assert code == 0 and "--kink-convention" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and symdl.__version__ in out


# --- derive a rule --------------------------------------------------------------


def test_derive_rule_text(capsys):
    code, out, err = run(capsys, "derive", "relu")
    assert code == 0 and err == ""
    assert "z = 0: left 0, right 1, returned 0" in out
    assert "proven" in out and "NOT PROVEN" not in out


def test_derive_text_shows_textbook_in_terms_of_output(capsys):
    code, out, _ = run(capsys, "derive", "sigmoid")
    assert code == 0
    textbook = next(line for line in out.splitlines() if line.startswith("textbook"))
    assert "g*(1 - g)" in textbook and "g = f(z)" in textbook


def test_derive_json_sigmoid_is_proven(capsys):
    d = derive_json(capsys, "sigmoid")
    assert d["name"] == "sigmoid" and d["kind"] == "activation" and d["inputs"] == ["z"]
    assert d["proven"] is True and d["proofs"] and all(d["proofs"].values())
    assert d["textbook"] == "g*(1 - g)"
    assert set(d["latex"]) == {"definition", "derivative", "textbook"}
    assert d["kinks"] == []
    s = sp.Symbol("s")
    derivative = as_sympy(d["derivative"], "z").subs(sp.Function("sigmoid")(z), s)
    assert sp.expand(derivative - s * (1 - s)) == 0


def test_derive_shows_the_stable_form_the_code_prints(capsys):
    d = derive_json(capsys, "log(exp(z) + 1)")
    assert d["expr"] == "log(exp(z) + 1)" and d["derivative"] == "exp(z)/(exp(z) + 1)"  # as typed
    assert d["code_form"] == {"expr": "softplus(z)", "derivative": "sigmoid(z)", "rewrites": ["softplus"]}
    assert d["proofs"]["stable forward - expr"] and d["proofs"]["stable derivative - derivative"]
    assert derive_json(capsys, "sigmoid")["code_form"] is None
    code, out, _ = run(capsys, "derive", "log(exp(z) + 1)")
    assert code == 0 and "softplus(z)   (rewrite pass: softplus; proven equal)" in out


@pytest.mark.parametrize(("convention", "value"), [("pytorch", "0"), ("left", "0"), ("right", "1"), ("average", "1/2")])
def test_derive_json_relu_kinks(capsys, convention, value):
    d = derive_json(capsys, "relu", "--kink-convention", convention)
    assert d["kinks"] == [{"at": "0", "left": "0", "right": "1", "value": value}]


def test_derive_json_params(capsys):
    assert derive_json(capsys, "leaky_relu")["params"] == {"alpha": "1/100"}
    d = derive_json(capsys, "leaky_relu", "--param", "alpha=0.2")
    assert d["params"] == {"alpha": "1/5"}
    # Expressions stay symbolic; kinks are where the bound derivative jumps, with bound values.
    assert d["kinks"] == [{"at": "0", "left": "1/5", "right": "1", "value": "1/5"}]
    assert derive_json(capsys, "leaky_relu", "--param", "alpha=1")["kinks"] == []  # α = 1: the identity, no kink


def test_derive_json_nothing_to_prove_is_null(capsys):
    d = derive_json(capsys, "z**3")
    assert d["proven"] is None and d["proofs"] == {}


def test_derive_other_input_of_a_rule(capsys):
    d = derive_json(capsys, "prelu", "--wrt", "alpha")
    assert d["wrt"] == "alpha" and d["kinks"] == []
    assert d["textbook"] == "Min(0, z)"
    assert r"\partial \alpha" in d["latex"]["derivative"]


def test_derive_latex(capsys):
    code, out, _ = run(capsys, "derive", "tanh", "--format", "latex")
    assert code == 0
    lines = out.splitlines()
    assert lines[::2] == ["% definition", "% derivative", "% textbook"]
    assert lines[1].startswith("g(z) = ") and r"\tanh" in lines[1]
    assert lines[3].startswith(r"\frac{\partial g}{\partial z}")


def test_derive_python_prints_forward_and_derivative_kernels(capsys):
    code, out, _ = run(capsys, "derive", "mse", "--format", "python")
    assert code == 0
    functions = [node.name for node in ast.parse(out).body if isinstance(node, ast.FunctionDef)]
    assert functions == ["mse", "mse_d_a"]


# --- derive a formula -----------------------------------------------------------


def test_derive_formula_derivative(capsys):
    d = derive_json(capsys, "log(exp(z)+1)")
    assert d["kind"] == "formula" and d["inputs"] == ["z"]
    assert sp.simplify(as_sympy(d["derivative"], "z") - sp.exp(z) / (sp.exp(z) + 1)) == 0


def test_derive_formula_with_symbolic_parameter(capsys):
    d = derive_json(capsys, "d*e**2", "--wrt", "e", "--param", "d")
    assert d["wrt"] == "e" and d["params"] == {"d": None}
    assert sp.simplify(as_sympy(d["derivative"], "d", "e") - as_sympy("2*d*e", "d", "e")) == 0


def test_derive_formula_with_symbol_and_value(capsys):
    d = derive_json(capsys, "k*(z - y)**2", "--symbol", "y", "--param", "k=0.5")
    assert d["inputs"] == ["z", "y"] and d["params"] == {"k": "1/2"}
    assert sp.simplify(as_sympy(d["derivative"], "k", "z", "y") - as_sympy("2*k*(z - y)", "k", "z", "y")) == 0


def test_derive_formula_kink(capsys):
    d = derive_json(capsys, "Abs(z)")
    assert d["kinks"] == [{"at": "0", "left": "-1", "right": "1", "value": "0"}]


def test_derive_formula_python(capsys):
    code, out, err = run(capsys, "derive", "c*z**2", "--param", "c=3", "--format", "python")
    assert code == 0, err
    functions = [node for node in ast.parse(out).body if isinstance(node, ast.FunctionDef)]
    assert len(functions) == 2


def test_derive_formula_text(capsys):
    code, out, _ = run(capsys, "derive", "z**3")
    assert code == 0
    assert "3*z**2" in out and "nothing to prove" in out


def test_derive_formula_starting_with_minus_after_double_dash(capsys):
    code, out, err = run(capsys, "derive", "--json", "--", "-z**2")
    assert code == 0, err
    d = json.loads(out)
    assert sp.simplify(as_sympy(d["derivative"], "z") + 2 * z) == 0


def test_derive_vector_rule(capsys):
    d = derive_json(capsys, "softmax")
    assert d["kind"] == "activation" and d["inputs"] == ["z"] and d["kinks"] == []
    assert d["proven"] is True and d["output"] is None
    code, out, _ = run(capsys, "derive", "softmax", "--format", "python")
    assert code == 0 and "def softmax(" in out


# --- verify ---------------------------------------------------------------------


def test_verify_named_rules(capsys):
    code, out, err = run(capsys, "verify", "relu", "sigmoid", "mse", "--points", "40", "--progress")
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == "3 rules: 3 passed, 0 failed"
    assert lines[0].split()[:3] == ["rule", "proof", "kinks"] and lines[0].endswith("verdict")
    for name in ("relu", "sigmoid", "mse"):
        row = next(line for line in lines if line.split()[0] == name)
        assert row.endswith("PASS")
    # stderr is not a terminal here, and --progress asks: one progress line per rule, its stage named
    assert err.splitlines() == ["symdl verify: [1/3] rules: relu…", "symdl verify: [2/3] rules: sigmoid…",
                                "symdl verify: [3/3] rules: mse…"]


def test_verify_json_quiet(capsys):
    code, out, err = run(capsys, "verify", "relu", "l2", "--json", "--quiet", "--points", "20")
    assert code == 0 and err == ""
    reports = json.loads(out)
    assert [r["name"] for r in reports] == ["relu", "l2", "l2(lam=0.025)"]
    assert all(r["passed"] and r["proven"] and r["stable"] for r in reports)
    assert set(reports[0]) >= {"proofs", "kinks_ok", "fd_error", "accuracy64", "accuracy32", "unstable"}


def test_verify_failure_exits_1_and_explains(capsys, monkeypatch):
    bad = RuleReport("relu", proofs={"derivative - textbook": True}, unstable=["relu (float32): overflow"])
    monkeypatch.setattr(symdl.verify.runner, "run_task", lambda task: ([bad], 0.0))
    code, out, _ = run(capsys, "verify", "relu", "--quiet")
    assert code == 1
    assert "relu: unstable: relu (float32): overflow" in out
    assert out.splitlines()[-1] == "1 rules: 0 passed, 1 failed"


def test_verify_nan_error_is_null_in_json(capsys, monkeypatch):
    bad = RuleReport("relu", fd_error=float("nan"))
    monkeypatch.setattr(symdl.verify.runner, "run_task", lambda task: ([bad], 0.0))
    code, out, _ = run(capsys, "verify", "relu", "--json", "--quiet")
    assert code == 1
    assert json.loads(out)[0]["fd_error"] is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_verify_progress_overwrites_one_line_on_a_terminal(capsys, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(symdl.verify.runner, "run_task", lambda task: ([RuleReport(task.label)], 0.0))
    monkeypatch.setattr(sys, "stderr", terminal)
    code, out, _ = run(capsys, "verify", "relu", "tanh", "-j", "1")
    assert code == 0
    assert "\n" not in terminal.getvalue()
    assert re.search(r"\r\x1b\[Ksymdl verify: \[2/2\] rules: tanh… \d+\.\d s", terminal.getvalue())
    assert terminal.getvalue().endswith("\r\x1b[K")  # cleared before the table


def test_interrupt_exits_130_with_one_line(capsys, monkeypatch):
    def interrupted(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(symdl.verify.runner, "run_task", interrupted)
    code, out, err = run(capsys, "verify", "relu", "--quiet")
    assert code == 130 and out == ""
    assert err.splitlines() == ["symdl: interrupted"]


# --- bad input ------------------------------------------------------------------

BAD_COMMAND_LINES = [
    ["frobnicate"],
    ["list", "--bogus"],
    ["derive"],
    ["derive", "nosuchrule"],
    ["derive", "relu2"],
    ["derive", "leaky_relu", "--param", "alpha=abc"],
    ["derive", "leaky_relu", "--param", "alpha=nan"],
    ["derive", "leaky_relu", "--param", "alpha=-inf"],
    ["derive", "leaky_relu", "--param", "alpha"],
    ["derive", "leaky_relu", "--param", "=1"],
    ["derive", "relu", "--param", "nope=1"],
    ["derive", "huber", "--param", "delta=-1"],
    ["derive", "relu", "--kink-convention", "sideways"],
    ["derive", "relu", "--format", "pdf"],
    ["derive", "relu", "--symbol", "y"],
    ["derive", "mse", "--wrt", "q"],
    ["derive", "__import__('os').system('echo hi')"],
    ["derive", "().__class__"],
    ["derive", "z.__class__.__bases__"],
    ["derive", "open('/etc/passwd').read()"],
    ["derive", "lambda: z"],
    ["derive", "9**9**9"],
    ["derive", "x"],
    ["derive", "exp(z"],
    ["derive", ""],
    ["derive", "z*d", "--param", "d=1", "--param", "d=2"],
    ["derive", "z*d", "--param", "d", "--format", "python"],
    ["verify", "nosuchrule"],
    ["verify", "--points", "0"],
    ["verify", "--points", "-3"],
    ["verify", "--points", "many"],
]


@pytest.mark.parametrize("argv", BAD_COMMAND_LINES, ids=lambda argv: " ".join(argv) or "(nothing)")
def test_bad_input_is_one_error_line_and_exit_2(capfd, argv):
    code = main(argv)
    out, err = capfd.readouterr()  # file-descriptor level: a shell command run by a formula would show here
    assert code == 2
    assert out == ""
    assert err.startswith("symdl: error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err


def test_unknown_rule_suggests_a_close_name(capsys):
    code, _, err = run(capsys, "verify", "sigmod")
    assert code == 2 and "did you mean 'sigmoid'?" in err


# --- as installed -----------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "error"}


def test_python_dash_m_symdl_list():
    done = subprocess.run(
        [sys.executable, "-m", "symdl", "list"], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert all(name in done.stdout for name in symdl.rules())


def test_console_script_verify():
    # The console script sits next to the interpreter (venv) or on PATH (pyenv shims).
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    script = shutil.which("symdl", path=search)
    assert script is not None, "the symdl console script is not installed; run pip install -e ."
    done = subprocess.run(
        [script, "verify", "relu", "--quiet", "--points", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1] == "1 rules: 1 passed, 0 failed"
