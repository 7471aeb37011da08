"""``symdl codegen``: standalone modules for rules, formulas and networks; one-line errors with exit status 2."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import symdl
from symdl.cli import main
from symdl.export.standalone import network_module, rule_module


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rule_to_file(tmp_path, capsys):
    target = tmp_path / "huber_mod.py"
    code, out, err = run(capsys, "codegen", "huber", "--param", "delta=0.5", "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert target.read_text() == rule_module(symdl.rule("huber", delta=0.5))
    module = load(target)
    a, y = np.array([0.0, 1.0, 3.0]), np.zeros(3)
    np.testing.assert_array_equal(module.huber_d_a(a, y), symdl.rule("huber", delta=0.5).numeric_derivative()(a, y))
    assert [p.name for p in tmp_path.iterdir()] == ["huber_mod.py"]  # no temporary file left


def test_formula_to_stdout_with_wrt(capsys):
    code, out, err = run(capsys, "codegen", "(a - y)**2", "--wrt", "a", "--symbol", "y", "-o", "-")
    assert code == 0, err
    assert out == rule_module(symdl.formula_rule("(a - y)**2", wrt="a", symbols=["y"]), wrt="a")
    assert "def f_d_a(" in out and "def f_d_y(" not in out


def test_network_to_file_overwrites(tmp_path, capsys):
    target = tmp_path / "net.py"
    target.write_text("old")
    argv = ["codegen", "--layers", "3,4,2", "--activation", "relu", "--loss", "huber", "--loss-param", "delta=1.0",
            "--penalty", "l2", "--penalty-param", "lam=0.01", "--batchnorm", "--dropout", "0.1", "--dtype", "float32",
            "-o", str(target)]  # fmt: skip
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    network = symdl.Network([3, 4, 2], activation="relu", loss="huber", loss_params={"delta": 1.0}, penalty="l2",
                            penalty_params={"lam": 0.01}, batchnorm=True, dropout=0.1)  # fmt: skip
    assert target.read_text() == network_module(network, "float32")
    module = load(target)
    params = module.init_params(0)
    assert params["W1"].dtype == np.float32
    net = network.compile("float32")
    X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(module.forward(params, X), net.forward(net.init(0), X))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nosuchrule", "-o", "-"], "neither a rule"),
        (["huber", "--param", "delta=abc", "-o", "-"], "is not a number"),
        (["huber", "--param", "nope=1", "-o", "-"], "has no parameter"),
        (["huber", "--wrt", "q", "-o", "-"], "has no input"),
        (["softmax", "--wrt", "q", "-o", "-"], "has no input"),
        (["k*z", "--param", "k", "-o", "-"], "symbolic parameters"),
        (["huber"], "-o"),
        (["-o", "-"], "NAME|FORMULA"),
        (["--layers", "3,0", "-o", "-"], "--layers"),
        (["--layers", "3", "-o", "-"], "--layers"),
        (["--layers", "3,a", "-o", "-"], "--layers"),
        (["--layers", "3,2", "--loss", "nope", "-o", "-"], "unknown rule"),
        (["--layers", "3,4,2", "--dropout", "2", "-o", "-"], "dropout"),
        (["--layers", "3,2", "--penalty-param", "lam=1", "-o", "-"], "--penalty"),
        (["--layers", "3,2", "--wrt", "z", "-o", "-"], "--wrt"),
        (["huber", "--layers", "3,2", "-o", "-"], "not both"),
        (["huber", "--batchnorm", "-o", "-"], "--batchnorm"),
        (["huber", "--dtype", "float32", "-o", "-"], "--dtype"),
        (["--layers", "3,2", "--dtype", "float16", "-o", "-"], "--dtype"),
        (["huber", "--backend", "cuda", "-o", "-"], "--backend"),
        (["__import__('os')", "-o", "-"], "formula"),
        # "unknown metric 'nope' accepted: …" read as if 'nope' were accepted; a repeat named neither the given names
        (["--layers", "3,2", "--metrics", "nope", "-o", "-"], "error: --metrics: unknown metric 'nope'; accepted: binary_accuracy"),
        (["--layers", "3,2", "--optimizer", "zzz", "-o", "-"], "unknown optimizer 'zzz'; accepted: adagrad"),
        (["--layers", "3,2", "--metrics", "mae,mean_absolute_error", "-o", "-"],
         "error: --metrics: names repeat: 'mae' and 'mean_absolute_error' both log 'mean_absolute_error'; give each"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "codegen", *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("symdl: error: ") and err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--penalty", "l2", "--penalty-param", "lam=nan"], "--penalty-param lam=nan"),
        (["--loss", "huber", "--loss-param", "delta"], "--loss-param 'delta'"),
        (["--activation", "leaky_relu", "--activation-param", "alpha=x"], "--activation-param alpha=x"),
        (["--output-activation", "elu", "--output-activation-param", "alpha=1", "--output-activation-param", "alpha=2"],
         "--output-activation-param 'alpha' given twice"),
        (["--optimizer", "adam", "--optimizer-param", "lr=inf"], "--optimizer-param lr=inf"),
    ],
)
def test_a_network_flags_bad_value_names_that_flag(capsys, argv, flag):
    """--loss-param, --penalty-param, …: the error line names the flag given, not --param (a rule's flag)."""
    code, out, err = run(capsys, "codegen", "--layers", "3,4,2", *argv, "-o", "-")
    assert (code, out) == (2, "")
    assert err.startswith(f"symdl: error: {flag}") and err.count("\n") == 1, err


def test_unwritable_output_leaves_nothing(tmp_path, capsys):
    code, _, err = run(capsys, "codegen", "relu", "-o", str(tmp_path / "missing" / "x.py"))
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "codegen", "relu", "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            code, _, err = run(capsys, "codegen", "relu", "-o", str(locked / "x.py"))
            assert code == 2 and err.count("\n") == 1
            assert list(locked.iterdir()) == []
        finally:
            locked.chmod(0o700)


def test_an_output_name_ending_in_a_slash_or_empty_is_one_line_and_writes_nothing(tmp_path, capsys):
    for target, words in ((f"{tmp_path / 'newdir'}{os.sep}", "names a directory"), ("", "-o: expected a file name")):
        code, out, err = run(capsys, "codegen", "relu", "-o", target)
        assert (code, out) == (2, "")
        assert err.startswith("symdl: error: -o") and err.count("\n") == 1 and words in err, err
    assert list(tmp_path.iterdir()) == []


def test_write_failure_mid_way_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    target = tmp_path / "x.py"
    target.write_text("old\n")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    code, _, err = run(capsys, "codegen", "relu", "-o", str(target))
    assert code == 2 and "No space left" in err
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.py"]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_network_with_batchnorm_and_dropout_for_a_backend_runs(capsys, tmp_path, backend):
    pytest.importorskip(backend)
    import importlib.util

    import numpy as np

    target = tmp_path / f"net_{backend}.py"
    argv = ["--layers", "3,4,4,2", "--activation", "relu", "--batchnorm", "--dropout", "0.2", "--dtype", "float32"]
    code, _, err = run(capsys, "codegen", *argv, "--backend", backend, "-o", str(target))
    assert (code, err) == (0, "")
    spec = importlib.util.spec_from_file_location(target.stem, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    params = module.init_params(0)
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    loss, grads = module.loss_and_grad(params, X, np.zeros((6, 2), np.float32), seed=1)
    assert np.isfinite(float(loss)) and sorted(grads) == sorted(k for k in params if not k.startswith("running"))


def test_backends_call_the_export_functions(capsys, monkeypatch):
    pytest.importorskip("symdl.export.custom_gradient")
    import symdl.export.custom_gradient
    import symdl.export.network_modules

    calls = []
    monkeypatch.setattr(symdl.export.custom_gradient, "rule_module_source", lambda r, b: calls.append((r.name, b)) or "# rule\n", raising=False)
    monkeypatch.setattr(
        symdl.export.network_modules, "network_module_source", lambda n, b, d, loss_scale=None, metrics=(): calls.append((n.layers, b, d, loss_scale, [m.name for m in metrics])) or "# net\n", raising=False
    )
    # --time-limit 0: the work runs in this process, where the patched functions record their calls
    assert run(capsys, "codegen", "relu", "--backend", "jax", "-o", "-", "--time-limit", "0") == (0, "# rule\n", "")
    assert run(capsys, "codegen", "--layers", "3,2", "--backend", "torch", "--dtype", "float32", "-o", "-",
               "--time-limit", "0") == (0, "# net\n", "")
    assert run(capsys, "codegen", "--layers", "3,2", "--backend", "jax", "--dtype", "float16", "--loss-scale", "64", "-o", "-",
               "--metrics", "mae,precision", "--time-limit", "0") == (0, "# net\n", "")
    assert calls == [("relu", "jax"), ((3, 2), "torch", "float32", None, []),
                     ((3, 2), "jax", "float16", 64.0, ["mean_absolute_error", "precision"])]


def test_help_lists_codegen(capsys):
    assert main(["--help"]) == 0
    assert "codegen" in capsys.readouterr().out
    assert main(["codegen", "--help"]) == 0
    assert "--layers" in capsys.readouterr().out


def test_console_entry_in_subprocess(tmp_path):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "symdl", "codegen", "softplus", "-o", str(tmp_path / "s.py")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "s.py").read_text() == rule_module(symdl.rule("softplus"))
