"""``symdl train --from MODEL``: a saved network or graph trained on with its optimizer and optimizer state, epochs
numbered on from its history.json (Keras' ``initial_epoch``). N epochs, saved, then M more give the model of N + M
epochs in one run bit for bit: every epoch shuffles with its own generator (seed, epoch) and draws its masks from it,
the saved arrays are the float64 values themselves and the optimizer's state (Adam's moments and step count) is
restored exactly. Bad input is one line, exit 2, and nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.excerpt import excerpt
from symdl.graph import Concatenate, Dense, Dropout, Input, Model


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _same_arrays(a, b):
    a, b = np.load(a / "arrays.npz"), np.load(b / "arrays.npz")
    return sorted(a.files) == sorted(b.files) and all(a[k].tobytes() == b[k].tobytes() for k in a.files)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    path = tmp_path_factory.mktemp("data") / "data.npz"
    np.savez(path, X=X, Y=np.tanh(X[:, :1] - X[:, 1:2]))
    return path


_NETWORK = ("--activation", "relu", "--dropout", "0.25", "--batchnorm", "--optimizer", "adam", "--optimizer-param", "lr=0.01")


# capsys is read out (and so emptied) by every run(); a fixture shared by the examples is safe here
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3), m=st.integers(1, 3), batch_size=st.integers(4, 20), seed=st.integers(0, 2**20))
def test_n_epochs_saved_then_m_more_is_the_model_of_n_plus_m_epochs_bit_for_bit(capsys, tmp_path_factory, data, n, m,
                                                                               batch_size, seed):
    assume(40 % batch_size != 1)  # 40 training rows: batch norm trains on batches of 2 rows or more
    tmp = tmp_path_factory.mktemp("runs")
    common = ("--batch-size", batch_size, "--seed", seed, "--validation-split", "0.2", "--metrics", "mae", "--quiet")
    assert run(capsys, "train", "3,6,1", data, "-o", tmp / "whole", "--epochs", n + m, *_NETWORK, *common)[0] == 0
    assert run(capsys, "train", "3,6,1", data, "-o", tmp / "first", "--epochs", n, *_NETWORK, *common)[0] == 0
    before = _files(tmp / "first")
    # the seed, batch size and validation split default to the saved run's, the metrics to the saved model's
    code, out, err = run(capsys, "train", "--from", tmp / "first", data, "-o", tmp / "more", "--epochs", m, "--quiet")
    assert (code, err) == (0, "")
    numbers = f"epoch {n + 1}" if m == 1 else f"epochs {n + 1}–{n + m}"
    assert out.startswith(f"wrote {tmp / 'more'}: {m} epoch{'s' if m > 1 else ''} ({numbers}, after {tmp / 'first'}), loss ")
    assert _files(tmp / "first") == before  # the input is never written unless -o names it
    assert _same_arrays(tmp / "whole", tmp / "more")
    whole, more = (json.loads((tmp / name / "history.json").read_text()) for name in ("whole", "more"))
    assert more["epoch"] == whole["epoch"] == list(range(n + m))
    assert more["history"] == whole["history"]
    assert list(more["history"]) == ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"]
    assert more["params"]["initial_epoch"] == n and more["params"]["epochs"] == n + m
    assert more["params"]["validation_split"] == whole["params"]["validation_split"] == 0.2


def _graph():
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dropout(0.2)(Dense(6, activation="tanh")(Concatenate()([a, b])))
    return Model([a, b], [Dense(1, name="main")(h), Dense(1)(h)], losses=["mse", "mse"], loss_weights=[1.0, 0.5])


def test_a_graph_saved_by_symdl_save_trains_on_as_its_own_fit_would(capsys, tmp_path):
    """No history.json: epochs from 0. Two runs of 2 then 3 epochs (-o naming the input the second time: replaced
    whole) are one of 5 and CompiledGraph.fit's 5, each output's loss logged."""
    graph = _graph().compile(optimizer="adam")
    params = graph.init(3)
    symdl.save(tmp_path / "g", graph, params, graph.init_state(params), {"main": ["mae"]})
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    Y1, Y2 = np.tanh(A[:, :1] + B[:, :1]), np.sin(A[:, 1:2])
    np.savez(tmp_path / "d.npz", X1=A, X2=B, Y1=Y1, Y2=Y2)
    train = ("--batch-size", "8", "--seed", "4", "--quiet", "--validation-split", "0.2")
    assert run(capsys, "train", "--from", tmp_path / "g", tmp_path / "d.npz", "-o", tmp_path / "whole", "--epochs", 5, *train)[::2] == (0, "")
    assert run(capsys, "train", "--from", tmp_path / "g", tmp_path / "d.npz", "-o", tmp_path / "part", "--epochs", 2, *train)[0] == 0
    code, out, err = run(capsys, "train", "--from", tmp_path / "part", tmp_path / "d.npz", "-o", tmp_path / "part",
                         "--epochs", 3, "--quiet", "--json", "--validation-split", "0.2")
    assert (code, err) == (0, "") and json.loads(out)["initial_epoch"] == 2 and json.loads(out)["epochs"] == 3
    assert _same_arrays(tmp_path / "whole", tmp_path / "part")
    # --validation-split 0.2: the last 6 of the 30 rows, every input and target cut alike
    reference = graph.fit(graph.init(3), (A[:24], B[:24]), (Y1[:24], Y2[:24]), epochs=5, batch_size=8, seed=4, verbose=0,
                          metrics={"main": "mae"}, validation=((A[24:], B[24:]), (Y1[24:], Y2[24:])))
    history = json.loads((tmp_path / "part" / "history.json").read_text())
    assert history["epoch"] == list(range(5))
    assert history["history"] == reference.history
    keys = ["main_loss", "Y2_loss", "main_mean_absolute_error"]
    assert list(history["history"]) == ["loss", *keys, "val_loss", *(f"val_{k}" for k in keys)]
    loaded = symdl.load(tmp_path / "part")
    assert all(np.array_equal(loaded.params[k], reference.weights[k]) for k in reference.weights)
    assert loaded.state["t"] == reference.state["t"] == 5 * 3  # 24 training rows in batches of 8


def test_lr_trains_a_model_saved_with_lr_none_or_overrides_the_saved_lr_as_if_saved_with_it(capsys, tmp_path, data):
    """A model saved with lr=None (train_step(…, lr)) could not be trained on from the CLI: fit's line named
    symdl.optimizer(...), which a CLI user cannot pass. --lr 0.01 gives, bit for bit, the run of the same model saved
    with lr=0.01, and the model written records it; on a graph it overrides the saved lr as CompiledGraph.fit's
    optimizer= does."""
    train = ("--epochs", 2, "--batch-size", 8, "--seed", 3, "--quiet")
    for lr, name in ((None, "none"), (0.01, "bound")):
        net = symdl.Network([3, 4, 1], optimizer=symdl.optimizer("sgd", lr=lr, momentum=0.9)).compile()
        symdl.save(tmp_path / name, net, net.init(0), net.init_state(net.init(0)))
    assert run(capsys, "train", "--from", tmp_path / "none", data, "-o", tmp_path / "a", "--lr", "0.01", *train)[::2] == (0, "")
    assert run(capsys, "train", "--from", tmp_path / "bound", data, "-o", tmp_path / "b", *train)[::2] == (0, "")
    assert _same_arrays(tmp_path / "a", tmp_path / "b")
    assert symdl.load(tmp_path / "a").config["optimizer"] == symdl.load(tmp_path / "b").config["optimizer"]
    assert run(capsys, "train", "--from", tmp_path / "bound", data, "-o", tmp_path / "c", "--lr", "0.5", *train)[0] == 0
    assert not _same_arrays(tmp_path / "b", tmp_path / "c")
    assert symdl.load(tmp_path / "c").config["optimizer"]["hyperparameters"] == {"lr": 0.5, "momentum": 0.9}
    graph = _graph().compile(optimizer=symdl.optimizer("adam", lr=0.05))
    params = graph.init(3)
    symdl.save(tmp_path / "g", graph, params, graph.init_state(params))
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    Y1, Y2 = np.tanh(A[:, :1] + B[:, :1]), np.sin(A[:, 1:2])
    np.savez(tmp_path / "d.npz", X1=A, X2=B, Y1=Y1, Y2=Y2)
    assert run(capsys, "train", "--from", tmp_path / "g", tmp_path / "d.npz", "-o", tmp_path / "g2", "--lr", "0.001",
               *train)[::2] == (0, "")
    reference = graph.fit(graph.init(3), (A, B), (Y1, Y2), epochs=2, batch_size=8, seed=3, verbose=0,
                          optimizer=symdl.optimizer("adam", lr=0.001))
    loaded = symdl.load(tmp_path / "g2")
    assert all(np.array_equal(loaded.params[k], reference.weights[k]) for k in reference.weights)
    assert loaded.config["optimizer"]["hyperparameters"]["lr"] == 0.001


def test_new_metrics_join_the_history_with_null_in_the_earlier_epochs(capsys, tmp_path, data):
    assert run(capsys, "train", "3,4,1", data, "-o", tmp_path / "a", "--epochs", 2, "--quiet")[0] == 0
    assert run(capsys, "train", "--from", tmp_path / "a", data, "-o", tmp_path / "b", "--epochs", 1, "--metrics", "mse",
               "--quiet")[0] == 0
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history["epoch"] == [0, 1, 2] and history["history"]["mean_squared_error"][:2] == [None, None]
    assert len(history["history"]["loss"]) == 3 and symdl.load(tmp_path / "b").metrics[0].name == "mean_squared_error"


def _saved(tmp_path, data, capsys):
    code, out, _ = run(capsys, "train", "3,4,1", data, "-o", tmp_path / "m", "--epochs", 1, "--quiet")
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'm'}: 1 epoch, loss ")  # one epoch, not '1 epochs'
    return tmp_path / "m"


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "{tmp}/nowhere", "{data}"], "{tmp}/nowhere: not a saved model directory (expected model.json and arrays.npz in it)"),
    (["--from", "{data}", "{data}"], "{data}: not a saved model directory (expected model.json and arrays.npz in it)"),
    (["--from", "{tmp}", "{data}"], "{tmp}: model.json is missing; not a saved model directory"),
    (["--from", "{model}", "{tmp}/wide.npz"], "{tmp}/wide.npz: X has shape (5, 4); the network needs (samples, 3)"),
    (["--from", "{model}", "{tmp}/nothing.npz"], "{tmp}/nothing.npz: no such file"),
    (["--from", "{model}", "3,4,1", "{data}"], "LAYERS '3,4,1' and --from: the network is the saved model's; leave out LAYERS"),
    (["--from", "{model}", "{data}", "--activation", "tanh"],
     "--activation and --from: the saved model fixes its network, dtype and optimizer; leave out --activation"),
    (["--from", "{model}", "{data}", "--dropout", "0"],
     "--dropout and --from: the saved model fixes its network, dtype and optimizer; leave out --dropout"),
    (["--from", "{model}", "{data}", "--dtype", "float64"],
     "--dtype and --from: the saved model fixes its network, dtype and optimizer; leave out --dtype"),
    (["--from", "{model}", "{data}", "--optimizer-param", "lr=0.1"],
     "--optimizer-param and --from: the saved model fixes its network, dtype and optimizer; leave out --optimizer-param "
     "(its learning rate is --lr)"),
    (["--from", "{per_call}", "{data}"], "--from {per_call}: its optimizer 'sgd' was saved with lr=None (a learning rate "
                                         "given to each train_step call); give the learning rate to train with, e.g. --lr 0.01"),
    (["--from", "{model}", "{data}", "--lr", "-1"], "argument --lr: expected a finite number ≥ 0, got '-1'; see 'symdl train --help'"),
    (["--from", "{model}", "{data}", "--lr", "inf"], "argument --lr: expected a finite number ≥ 0, got 'inf'; see 'symdl train --help'"),
    (["3,4,1", "{data}", "--lr", "0.1"], "--lr without --from: a new network's learning rate is --optimizer-param lr=…; --lr "
                                         "sets the learning rate of a saved model trained on (--from MODEL)"),
    (["--from", "{plain}", "{data}"], "--from {plain}: saved without an optimizer; symdl train continues with the saved "
                                      "optimizer (save the model compiled with one)"),
    (["--from", "{broken}", "{data}"], "{broken}/history.json: 'epoch' does not increase; history.json as symdl train writes "
                                       "it numbers the epochs that continue it (remove the file to number them from 0)"),
    (["{data}"], "LAYERS: missing; give the widths of a new network, e.g. 784,128,10, or continue a saved model with --from MODEL"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(capsys, tmp_path, data, argv, message):
    model = _saved(tmp_path, data, capsys)
    np.savez(tmp_path / "wide.npz", X=np.zeros((5, 4)), Y=np.zeros((5, 1)))
    net = symdl.Network([3, 4, 1]).compile()
    symdl.save(tmp_path / "plain", net, net.init(0))
    net = symdl.Network([3, 4, 1], optimizer=symdl.optimizer("sgd", lr=None)).compile()
    symdl.save(tmp_path / "per_call", net, net.init(0), net.init_state(net.init(0)))
    (tmp_path / "broken").mkdir()
    for name in ("model.json", "arrays.npz"):
        (tmp_path / "broken" / name).write_bytes((model / name).read_bytes())
    (tmp_path / "broken" / "history.json").write_text('{"epoch": [0, 0], "history": {}, "params": {}}')
    names = {"tmp": tmp_path, "data": data, "model": model, "plain": tmp_path / "plain", "broken": tmp_path / "broken",
             "per_call": tmp_path / "per_call"}
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, out, err = run(capsys, "train", *(a.format(**names) for a in argv), "-o", tmp_path / "out", "--quiet")
    assert (code, out) == (2, "")
    assert err == f"symdl: error: {message.format(**names)}\n"
    assert not (tmp_path / "out").exists()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_an_output_that_is_no_saved_model_is_refused_before_training(capsys, tmp_path, data):
    model = _saved(tmp_path, data, capsys)
    (tmp_path / "taken").write_text("mine")
    code, out, err = run(capsys, "train", "--from", model, data, "-o", tmp_path / "taken", "--quiet")
    assert (code, out, err) == (2, "", f"symdl: error: {tmp_path / 'taken'}: exists and is not a saved model; choose another path\n")
    assert (tmp_path / "taken").read_text() == "mine"


def test_training_a_model_on_in_place_keeps_files_of_its_own_in_the_directory(capsys, tmp_path, data):
    """-o naming the input replaces the directory whole: a model saved inside it (-o model/more) or a note would be
    deleted with it, so the run is refused before training, nothing written."""
    model = _saved(tmp_path, data, capsys)
    code, out, _ = run(capsys, "train", "--from", model, data, "-o", model / "more", "--epochs", "1", "--quiet")
    assert code == 0 and out.startswith(f"wrote {model / 'more'}: 1 epoch (epoch 2, after {model}), loss ")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, out, err = run(capsys, "train", "--from", model, data, "-o", model, "--epochs", "1", "--quiet")
    assert (code, out) == (2, "")
    assert err == (f"symdl: error: {model}: a saved model that also holds 'more', which saving over it would delete (the "
                   "directory is replaced whole); move that out or choose another path\n")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(("content", "problem"), [
    (b"{\"epoch\": [0, 1", "not valid JSON (Expecting ',' delimiter at line 1 column 16)"),
    (b"[0, 1]", "not a JSON object"),
    (b"\xff", "not UTF-8 text"),
    (b'{"epoch": [0], "history": {"loss": [NaN]}, "params": {}}', "NaN is not a JSON number"),
    (b'{"epoch": [0, 1], "history": {"loss": [1.0]}, "params": {}}', "history['loss'] is not one number per epoch"),
    (b'{"epoch": [0], "history": {"loss": [1' + b'0' * 400 + b']}, "params": {}}',  # was the CLI's catch-all
     "history['loss'] is not one number per epoch"),                                # 'a number overflowed' line
    (b'{"epoch": [true], "history": {}, "params": {}}', "'epoch' is not a list of epoch numbers"),
    (b'{"epoch": [0], "history": {}, "params": {"seed": -1}}', "params.seed is -1, not an integer ≥ 0"),
    (b'{"epoch": [0], "history": {}, "params": {"batch_size": 0}}', "params.batch_size is 0, not an integer ≥ 1"),
    (b'{"epoch": [0], "history": {}, "params": {"validation_split": 1}}',
     "params.validation_split is 1, not a number in [0, 1)"),
    (b'{"epoch": [0], "history": {}, "params": {"validation_split": "0.2"}}',  # a string, shown as one (was 0.2)
     "params.validation_split is '0.2', not a number in [0, 1)"),
    # values cut by symdl.excerpt, not at 40 characters of str()
    (b'{"epoch": [0], "history": {}, "params": {"seed": "' + b"s" * 1000 + b'"}}',
     f"params.seed is {excerpt('s' * 1000)}, not an integer ≥ 0"),
])
def test_a_history_json_symdl_did_not_write_is_one_line(capsys, tmp_path, data, content, problem):
    model = _saved(tmp_path, data, capsys)
    (model / "history.json").write_bytes(content)
    code, out, err = run(capsys, "train", "--from", model, data, "-o", tmp_path / "out", "--quiet")
    assert (code, out) == (2, "")
    assert err == (f"symdl: error: {model / 'history.json'}: {problem}; history.json as symdl train writes it numbers the "
                   "epochs that continue it (remove the file to number them from 0)\n")
    assert not (tmp_path / "out").exists()


def test_a_very_long_history_is_read_and_continued(capsys, tmp_path, data):
    """More than model.json's 1 MiB: history.json is not bounded by the model's config size."""
    model = _saved(tmp_path, data, capsys)
    epochs = 80_000
    record = {"epoch": list(range(epochs)), "history": {"loss": [0.5] * epochs}, "params": {"seed": 0, "batch_size": 32}}
    (model / "history.json").write_text(json.dumps(record, indent=1))
    assert (model / "history.json").stat().st_size > 1 << 20
    assert run(capsys, "train", "--from", model, data, "-o", tmp_path / "out", "--epochs", 1, "--quiet")[0] == 0
    written = json.loads((tmp_path / "out" / "history.json").read_text())
    assert written["epoch"][-2:] == [epochs - 1, epochs] and len(written["history"]["loss"]) == epochs + 1
