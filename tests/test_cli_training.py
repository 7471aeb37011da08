"""``symdl train`` and ``symdl evaluate``: end to end, deterministic, and one-line errors (exit 2) that write nothing."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.excerpt import excerpt


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    path = tmp_path / "data.npz"
    np.savez(path, X=X, Y=np.tanh(X[:, :1] - X[:, 1:2]))
    return path


def train(capsys, tmp_path, data, name="model", *extra):
    return run(capsys, "train", "3,8,1", data, "-o", tmp_path / name, "--epochs", 3, "--batch-size", 16,
               "--optimizer", "adam", "--optimizer-param", "lr=0.01", "--quiet", *extra)


def test_train_writes_a_model_that_evaluate_reads(capsys, tmp_path, data):
    code, out, err = train(capsys, tmp_path, data, "model", "--validation-split", "0.25")
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {tmp_path / 'model'}: 3 epochs, loss ") and "val_loss" in out
    assert sorted(os.listdir(tmp_path / "model")) == ["arrays.npz", "history.json", "model.json"]
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert history["epoch"] == [0, 1, 2] and list(history["history"]) == ["loss", "val_loss"]
    assert history["history"]["loss"][-1] < history["history"]["loss"][0]
    model = symdl.load(tmp_path / "model")
    assert model.state["t"] == 3 * 6  # 90 training samples in batches of 16: 6 steps an epoch
    assert model.config["optimizer"]["name"] == "adam" and model.config["optimizer"]["hyperparameters"]["lr"] == 0.01
    code, out, err = run(capsys, "evaluate", tmp_path / "model", data)
    assert (code, err) == (0, "")
    d = np.load(data)
    expected = float(model.network.loss(model.params, d["X"], d["Y"]))
    assert out == f"loss: {expected:.6g}\n"
    code, out, _ = run(capsys, "evaluate", tmp_path / "model", data, "--json")
    assert code == 0 and json.loads(out)["loss"] == pytest.approx(expected, rel=1e-12)


def test_the_same_arguments_give_the_same_model_bit_for_bit(capsys, tmp_path, data):
    assert train(capsys, tmp_path, data, "a")[0] == 0
    assert train(capsys, tmp_path, data, "b")[0] == 0
    a, b = np.load(tmp_path / "a" / "arrays.npz"), np.load(tmp_path / "b" / "arrays.npz")
    assert sorted(a.files) == sorted(b.files) and all(a[k].tobytes() == b[k].tobytes() for k in a.files)
    assert train(capsys, tmp_path, data, "c", "--seed", "1")[0] == 0
    assert np.load(tmp_path / "c" / "arrays.npz")["params/W1"].tobytes() != a["params/W1"].tobytes()


def test_train_shows_progress_unless_quiet(capsys, tmp_path, data, monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, _, err = run(capsys, "train", "3,8,1", data, "-o", tmp_path / "m", "--epochs", 2)
    assert code == 0 and "epoch 2/2 - 4/4 - loss: " in err


def test_train_takes_an_optimizers_options_as_true_or_false_as_codegen_does(capsys, tmp_path, data):
    # train read every --optimizer-param as a number ('true' is not a number): SGD's nesterov, RMSProp's centered and
    # NAdam's decoupled_weight_decay could not be set, where codegen took them
    code, _, err = run(capsys, "train", "3,8,1", data, "-o", tmp_path / "m", "--quiet", "--epochs", "1", "--optimizer", "sgd",
                       "--optimizer-param", "lr=0.1", "--optimizer-param", "momentum=0.9", "--optimizer-param", "nesterov=True")
    assert code == 0, err
    config = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))["optimizer"]
    assert config["name"] == "sgd" and config["options"] == {"nesterov": True}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "argument --epochs: expected an integer from 1 to"),
        (["--validation-split", "1.5"], "argument --validation-split: expected a number in [0, 1)"),
        (["--validation-split", "0.999"], "--validation-split 0.999: leaves no training or no validation sample"),
        (["--metrics", "mae,,mse"], "argument --metrics: expected comma-separated metric names"),
        # a value echoed is cut by symdl.excerpt (was 40 characters of it)
        (["--validation-split", "9" * 500], f"argument --validation-split: expected a number in [0, 1), got {excerpt('9' * 500)};"),
        (["--epochs", "x" * 500], f"argument --epochs: expected a positive integer, got {excerpt('x' * 500)};"),
        (["--metrics", "," * 500], f"argument --metrics: expected comma-separated metric names such as mae,mse, got "
                                   f"{excerpt(',' * 500)};"),
        (["--optimizer", "adamm"], "unknown optimizer 'adamm'; did you mean 'adam'?"),
        (["--optimizer-param", "lr=abc"], "error: --optimizer-param lr=abc: 'abc' is not a number"),
        (["--optimizer", "sgd", "--optimizer-param", "nesterov=maybe"],
         "error: --optimizer-param nesterov=maybe: 'maybe' is not a number, nor true/false for an option"),
        # a value echoed is cut by symdl.excerpt (the --loss-param one was its whole repr), and the line in the middle
        (["--optimizer-param", "lr=" + "x" * 500], "xx... is not a number, nor true/false for an option\n"),
        (["--optimizer", "sgd", "--optimizer-param", "nesterov=true"], "Nesterov momentum needs momentum > 0"),
        (["--loss", "huber", "--loss-param", "delta=abc"], "error: --loss-param delta=abc: 'abc' is not a number"),
        (["--loss", "huber", "--loss-param", "delta=" + "x" * 500], "xx... is not a number\n"),
        (["--optimizer-param", "gamma=0.1"], "gamma"),
        (["--loss", "relu"], "loss: 'relu' is an activation"),
    ],
)
def test_bad_training_arguments_are_one_line_and_write_nothing(capsys, tmp_path, data, argv, message):
    code, out, err = run(capsys, "train", "3,8,1", data, "-o", tmp_path / "m", "--quiet", *argv)
    assert (code, out) == (2, "")
    assert err.startswith("symdl: error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(os.listdir(tmp_path)) == ["data.npz"]


def test_bad_data_files_are_one_line_and_write_nothing(capsys, tmp_path, data):
    X = np.zeros((10, 3))
    cases = {
        "noY.npz": ({"X": X}, "no array 'Y'; it has X (expected X and Y)"),
        "wide.npz": ({"X": np.zeros((10, 4)), "Y": np.zeros((10, 1))}, "X has shape (10, 4); the network needs (samples, 3)"),
        "rows.npz": ({"X": X, "Y": np.zeros((9, 1))}, "X has 10 samples and Y 9"),
        "flat.npz": ({"X": X, "Y": np.zeros(10)}, "Y has shape (10,); the network needs (samples, 1)"),
        "nan.npz": ({"X": np.full((10, 3), np.nan), "Y": np.zeros((10, 1))}, "X[0, 0] is nan; expected finite numbers"),
        "text.npz": ({"X": np.array([["a"] * 3] * 10), "Y": np.zeros((10, 1))}, "X holds str"),
        "objects.npz": ({"X": np.array([None] * 30, dtype=object).reshape(10, 3), "Y": np.zeros((10, 1))}, "not a readable .npz file"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        code, out, err = run(capsys, "train", "3,8,1", tmp_path / name, "-o", tmp_path / "m", "--quiet")
        assert (code, out) == (2, "") and message in err and err.count("\n") == 1, (name, err)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    code, _, err = run(capsys, "train", "3,8,1", tmp_path / "junk.npz", "-o", tmp_path / "m")
    assert code == 2 and "junk.npz: not an .npz file (np.savez(path, X=..., Y=...))" in err
    code, _, err = run(capsys, "train", "3,8,1", tmp_path / "none.npz", "-o", tmp_path / "m")
    assert code == 2 and "none.npz: no such file" in err
    code, _, err = run(capsys, "train", "3,x,1", data, "-o", tmp_path / "m")
    assert code == 2 and "LAYERS '3,x,1': expected positive integer widths" in err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep")
    code, _, err = run(capsys, "train", "3,8,1", data, "-o", tmp_path / "taken")
    assert code == 2 and "exists and is not a saved model" in err
    assert not (tmp_path / "m").exists() and (tmp_path / "taken" / "mine.txt").read_text() == "keep"


def test_evaluate_refuses_a_bad_model_directory_in_one_line(capsys, tmp_path, data):
    code, _, err = run(capsys, "evaluate", tmp_path / "nothing", data)
    assert code == 2 and err.count("\n") == 1 and "not a saved model directory" in err
    assert train(capsys, tmp_path, data)[0] == 0
    config = json.loads((tmp_path / "model" / "model.json").read_text())
    config["format_version"] = 99
    (tmp_path / "model" / "model.json").write_text(json.dumps(config))
    code, out, err = run(capsys, "evaluate", tmp_path / "model", data)
    assert (code, out) == (2, "") and "saved in format version 99" in err and err.count("\n") == 1
    config["format_version"] = 1
    config["network"]["activation"] = {"formula": "__import__('os').system('echo hi')", "wrt": "z", "symbols": [],
                                       "params": {}, "kink_convention": "pytorch"}
    (tmp_path / "model" / "model.json").write_text(json.dumps(config))
    code, out, err = run(capsys, "evaluate", tmp_path / "model", data)
    assert (code, out) == (2, "") and "network.activation: formula" in err and "hi" not in out


@pytest.mark.parametrize(
    ("loss", "Y", "message"),
    [
        ("binary_cross_entropy", np.full((10, 2), 2.0), "Y[0, 0] = 2: binary_cross_entropy takes targets in [0, 1]"),
        ("softmax_cross_entropy", np.tile([[0.0], [1.0]], (5, 2)), "Y row 0 sums to 0: softmax_cross_entropy takes rows"),
    ],
)
def test_targets_outside_the_loss_domain_are_one_line_and_write_nothing(capsys, tmp_path, loss, Y, message):
    np.savez(tmp_path / "labels.npz", X=np.zeros((10, 3)), Y=Y)
    code, out, err = run(capsys, "train", "3,8,2", tmp_path / "labels.npz", "-o", tmp_path / "m", "--loss", loss, "--quiet")
    assert (code, out) == (2, "") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "m").exists()
    np.savez(tmp_path / "ok.npz", X=np.zeros((10, 3)), Y=np.tile([[0.0, 1.0]], (10, 1)))
    assert run(capsys, "train", "3,8,2", tmp_path / "ok.npz", "-o", tmp_path / "m", "--loss", loss, "--epochs", 1,
               "--quiet")[0] == 0
    code, out, err = run(capsys, "evaluate", tmp_path / "m", tmp_path / "labels.npz")
    assert (code, out) == (2, "") and f"labels.npz: {message}" in err and err.count("\n") == 1, err


def test_evaluate_runs_within_its_time_limit_and_train_has_none(capsys, tmp_path, data):
    assert train(capsys, tmp_path, data)[0] == 0
    code, out, err = run(capsys, "evaluate", tmp_path / "model", data, "--time-limit", "0.001")
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert "loading and evaluating the model" in err and "took longer than the time limit of 0.001 s" in err
    code, out, err = run(capsys, "evaluate", tmp_path / "model", data, "--time-limit", "0", "--json")
    assert code == 0 and set(json.loads(out)) == {"loss"}
    code, out, err = run(capsys, "evaluate", tmp_path / "model", data, "--time-limit", "-1")
    assert (code, out) == (2, "") and "expected a number of seconds" in err
    # a new network trains for the epochs asked for (registered rules only): a time limit there is refused, not ignored
    code, out, err = run(capsys, "train", "3,8,1", data, "-o", tmp_path / "m2", "--time-limit", "5")
    assert (code, out) == (2, "") and not (tmp_path / "m2").exists()
    assert err == ("symdl: error: --time-limit without --from: a new network uses registered rules only and trains for "
                   "the epochs asked for; the limit bounds loading a saved model (--from MODEL)\n")


def test_train_from_loads_the_saved_model_within_the_time_limit_evaluate_uses(capsys, tmp_path, data):
    """A saved model's formulas are parsed, derived and compiled again on loading: evaluate stopped at its limit, train
    --from ran on without one (this formula, the docs' slow one, never finished)."""
    assert train(capsys, tmp_path, data)[0] == 0
    config = json.loads((tmp_path / "model" / "model.json").read_text())
    config["network"]["activation"] = {"formula": "where(z < 1e-8, z, 3) ** z", "wrt": "z", "symbols": [], "params": {},
                                       "kink_convention": "pytorch"}
    slow = tmp_path / "slow"
    slow.mkdir()
    for name in ("arrays.npz", "history.json"):
        (slow / name).write_bytes((tmp_path / "model" / name).read_bytes())
    (slow / "model.json").write_text(json.dumps(config))
    code, out, err = run(capsys, "evaluate", slow, data, "--time-limit", "1")
    assert (code, out) == (2, "") and "took longer than the time limit of 1 s" in err
    code, out, err = run(capsys, "train", "--from", slow, data, "-o", tmp_path / "more", "--time-limit", "1", "--quiet")
    assert (code, out) == (2, "") and not (tmp_path / "more").exists()
    assert err.startswith("symdl: error: loading the model '") and err.count("\n") == 1  # the path cut to one line
    assert err.endswith(" took longer than the time limit of 1 s and was stopped; nothing was written. Give --time-limit "
                        "SECONDS for more time (0 for no limit) for a model whose formulas are slow to derive\n")
    # the default is evaluate's; a limit the loading keeps, or none, trains as before
    assert run(capsys, "train", "--from", tmp_path / "model", data, "-o", tmp_path / "x", "--time-limit", "0.001",
               "--quiet")[0] == 2
    for limit in ("0", "60"):
        code, out, err = run(capsys, "train", "--from", tmp_path / "model", data, "-o", tmp_path / f"more{limit}",
                             "--time-limit", limit, "--epochs", 1, "--quiet")
        assert (code, err) == (0, "") and out.startswith(f"wrote {tmp_path / f'more{limit}'}: 1 epoch (epoch 4, after ")
    same = [np.load(tmp_path / f"more{limit}" / "arrays.npz") for limit in ("0", "60")]
    assert all(np.array_equal(same[0][k], same[1][k]) for k in same[0].files)


@functools.cache
def _tanh_model(graph: bool):
    """3 → 4 tanh → 1 with adam, compiled once per kind (the examples only init and save it)."""
    if graph:
        from symdl.graph import Dense, Input, Model

        x = Input(3)
        return Model(x, Dense(1)(Dense(4, activation="tanh")(x)), losses="mse").compile(optimizer="adam")
    return symdl.Network([3, 4, 1], activation="tanh", optimizer="adam").compile()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=st.booleans(), where=st.integers(0, 2**16), value=st.sampled_from([np.nan, np.inf, -np.inf]),
       in_state=st.booleans())
def test_a_saved_model_with_nan_loads_and_evaluate_and_train_from_name_its_array(capsys, tmp_path_factory, graph, where,
                                                                               value, in_state):
    """symdl.load reads NaN and infinity as saved (Keras and PyTorch do); evaluate said only that the loss was NaN, and
    train --from trained on with a NaN optimizer state and wrote NaN weights. Both now name the array and element in
    one line (exit 2, nothing written); a NaN in the state alone does not stop evaluate, which does not read it."""
    folder = tmp_path_factory.mktemp("nan_model")
    rng = np.random.default_rng(where)
    X = rng.normal(size=(12, 3))
    np.savez(folder / "data.npz", X=X, Y=np.tanh(X[:, :1]))
    compiled = _tanh_model(graph)
    params = compiled.init(where)
    state = compiled.init_state(params)
    arrays = state if in_state else params
    key = sorted(k for k in arrays if np.ndim(arrays[k]))[where % sum(1 for k in arrays if np.ndim(arrays[k]))]
    index = tuple(int(i) for i in np.unravel_index(where % arrays[key].size, arrays[key].shape))
    arrays[key][index] = value
    symdl.save(folder / "m", compiled, params, state)
    loaded = symdl.load(folder / "m")
    assert np.array_equal((loaded.state if in_state else loaded.params)[key], arrays[key], equal_nan=True)
    part = "state" if in_state else "params"
    element = f"{key}[{', '.join(map(str, index))}] is {float(value)}"
    code, out, err = run(capsys, "train", "--from", folder / "m", folder / "data.npz", "-o", folder / "out", "--epochs", 1, "--quiet")
    needs = "a finite optimizer state" if in_state else "finite parameters"
    assert (code, out) == (2, "") and not (folder / "out").exists()
    assert err == f"symdl: error: {folder / 'm'}: {part} {element}; training needs {needs} (symdl.load reads it as saved)\n"
    code, out, err = run(capsys, "evaluate", folder / "m", folder / "data.npz")
    if in_state:
        assert (code, err) == (0, "") and out.startswith("loss: ")
    else:
        assert (code, out) == (2, "")
        assert err == f"symdl: error: {folder / 'm'}: params {element}; evaluate needs finite parameters (symdl.load reads it as saved)\n"


def test_a_run_that_diverges_names_its_step_in_one_line_and_writes_nothing(capsys, tmp_path, data):
    """The loss mean refused the non-finite loss only when the epoch's logs were read: 'loss: values: contains NaN or
    infinity (a streaming metric would keep it in every later result)', naming no epoch or step."""
    with warnings.catch_warnings():  # the weights blow up: numpy's overflow warnings must not reach the user
        warnings.simplefilter("error")
        code, out, err = run(capsys, "train", "3,16,1", data, "-o", tmp_path / "model", "--epochs", 50, "--quiet",
                             "--optimizer", "sgd", "--optimizer-param", "lr=1000")
    assert (code, out) == (2, "")
    assert err.startswith("symdl: error: fit: the loss is ") and err.count("\n") == 1
    assert " training diverged (a smaller learning rate?) or the data hold NaN; params and state hold the steps up to it\n" in err
    assert not (tmp_path / "model").exists()


def test_a_run_that_diverges_writes_one_line_to_stderr_and_no_numpy_warning(tmp_path, data):
    """As a user runs it: numpy's 'RuntimeWarning: overflow encountered in square' (with the line of generated code it
    came from) was printed before the error line."""
    done = subprocess.run([sys.executable, "-m", "symdl", "train", "3,16,1", str(data), "-o", str(tmp_path / "model"),
                           "--epochs", "50", "--quiet", "--optimizer", "sgd", "--optimizer-param", "lr=1000"],
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("symdl: error: fit: the loss is "), done.stderr
    assert not (tmp_path / "model").exists()


def test_weights_that_overflow_on_the_last_step_are_named_and_nothing_is_written(capsys, tmp_path):
    """fit checks each step's loss, computed before the step's update: one step of lr=1e308 on targets ~100 overflowed
    the weights to ±inf while the loss logged was finite, and the model was saved without a word."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    np.savez(tmp_path / "big.npz", X=X, Y=100 * np.tanh(X[:, :1] - X[:, 1:2]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run(capsys, "train", "3,8,1", tmp_path / "big.npz", "-o", tmp_path / "model", "--epochs", 1,
                             "--batch-size", 120, "--optimizer", "sgd", "--optimizer-param", "lr=1e308", "--quiet")
    assert (code, out) == (2, "")
    assert err == (f"symdl: error: fit: params W1[0, 0] is inf after training (epoch 1), though every loss logged was "
                   f"finite: training diverged (a smaller learning rate?); {tmp_path / 'model'} not written\n")
    assert not (tmp_path / "model").exists()
    code, out, err = run(capsys, "train", "3,8,1", tmp_path / "big.npz", "-o", tmp_path / "model", "--epochs", 1,
                         "--batch-size", 120, "--optimizer", "sgd", "--optimizer-param", "lr=1e-3", "--quiet")
    assert (code, err) == (0, "") and (tmp_path / "model").is_dir()


def test_evaluate_of_a_model_that_overflows_on_the_data_is_one_line_and_no_numpy_warning(capsys, tmp_path, data):
    """Finite weights ×1e200: the loss overflows. evaluate printed numpy's 'RuntimeWarning: overflow encountered in
    square', then the loss mean's 'loss: values: contains NaN or infinity', naming no batch."""
    assert train(capsys, tmp_path, data, "model")[0] == 0
    model = symdl.load(tmp_path / "model")
    symdl.save(tmp_path / "huge", model.network, {k: v * 1e200 for k, v in model.params.items()}, model.state)
    with np.errstate(all="warn"), warnings.catch_warnings():  # as a user's numpy is set: warnings, which must not come
        warnings.simplefilter("error")
        code, out, err = run(capsys, "evaluate", tmp_path / "huge", data, "--batch-size", 50)
    assert (code, out) == (2, "")
    assert err == ("symdl: error: evaluate: the loss is inf on batch 1 of 3: the model overflowed on these inputs, or "
                   "its parameters hold NaN or infinity\n")


def test_bool_targets_in_the_data_file_train_and_evaluate_as_0_and_1(capsys, tmp_path):
    """Y of dtype bool was refused ('Y holds bool; expected numbers'); now it is Y of 0.0 and 1.0 in the model's
    dtype: the model written and the evaluation are those of the float file, bit for bit."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    Y = np.concatenate([X[:, :1] > 0, X[:, 1:2] > X[:, 2:]], axis=1)
    np.savez(tmp_path / "bools.npz", X=X, Y=Y)
    np.savez(tmp_path / "floats.npz", X=X, Y=Y.astype(np.float64))
    outputs = []
    for name in ("bools", "floats"):
        code, out, err = run(capsys, "train", "3,4,2", tmp_path / f"{name}.npz", "-o", tmp_path / f"m_{name}", "--epochs", 2,
                             "--loss", "binary_cross_entropy", "--metrics", "binary_accuracy", "--dtype", "float32",
                             "--validation-split", "0.25", "--quiet")
        assert (code, err) == (0, "")
        outputs.append((out.replace(name, ""), (tmp_path / f"m_{name}" / "arrays.npz").read_bytes(),
                        run(capsys, "evaluate", tmp_path / f"m_{name}", tmp_path / "bools.npz")))
    assert outputs[0] == outputs[1] and outputs[0][2][0] == 0
    np.savez(tmp_path / "text.npz", X=X, Y=Y.astype(str))
    code, out, err = run(capsys, "evaluate", tmp_path / "m_bools", tmp_path / "text.npz")
    assert (code, out, err) == (2, "", f"symdl: error: {tmp_path / 'text.npz'}: Y holds str160; expected numbers or booleans\n")


def test_batch_norm_with_a_last_batch_of_one_row_is_refused_before_training(capsys, tmp_path, data):
    """90 training rows in batches of 89: the second batch of each epoch has 1 row; the network's train_step refused it
    after the first step (a hypothesis example of tests/test_cli_train_from.py found it)."""
    code, out, err = train(capsys, tmp_path, data, "model", "--batchnorm", "--validation-split", "0.25", "--batch-size", 89)
    assert (code, out) == (2, "")
    assert err == ("symdl: error: fit: 90 samples in batches of 89 leave a batch of 1 row, and batch norm trains on at "
                   "least 2 (its running variance is m/(m−1)·σ²_B); choose another batch size\n")
    assert not (tmp_path / "model").exists()
