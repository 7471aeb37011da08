"""``symdl evaluate`` of a saved graph (``symdl.save``): the data file holds one array per input and target, named as
the graph's ``input_names`` / ``target_names``; its loss, each output's loss and metrics against a hand computation.
``symdl train`` builds networks from widths: a saved model given as LAYERS is one line saying so. Errors: exit 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import symdl
from symdl.cli import main
from symdl.graph import Concatenate, Dense, Input, Model


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def saved(tmp_path):
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    model = Model([a, b], [Dense(2, name="main")(h), Dense(1)(h)], losses=["mse", "binary_cross_entropy"],
                  loss_weights=[1.0, 0.5])
    graph = model.compile(optimizer="adam")
    symdl.save(tmp_path / "graph", graph, graph.init(3), metrics=["mae"])
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    arrays = {"X1": A, "X2": B, "Y1": np.tanh(A[:, :2] + B), "Y2": (A.sum(axis=1, keepdims=True) > 0).astype(float)}
    np.savez(tmp_path / "data.npz", **arrays)
    return tmp_path / "graph", tmp_path / "data.npz", graph, arrays


def test_evaluate_reads_a_saved_graph_and_its_arrays_by_name(capsys, saved):
    folder, data, graph, arrays = saved
    code, out, err = run(capsys, "evaluate", folder, data, "--json")
    assert (code, err) == (0, "")
    logs = json.loads(out)
    assert list(logs) == ["loss", "main_loss", "Y2_loss", "main_mean_absolute_error", "Y2_mean_absolute_error"]
    main_out, logit = graph.forward(graph.init(3), arrays["X1"], arrays["X2"])
    p, y = 1 / (1 + np.exp(-logit)), arrays["Y2"]
    by_hand = {"main_loss": 0.5 * ((main_out - arrays["Y1"]) ** 2).sum(axis=1).mean(),
               "Y2_loss": -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(),
               "main_mean_absolute_error": np.abs(main_out - arrays["Y1"]).mean(),
               "Y2_mean_absolute_error": np.abs(logit - y).mean()}
    by_hand["loss"] = by_hand["main_loss"] + 0.5 * by_hand["Y2_loss"]
    assert logs == pytest.approx(by_hand, rel=1e-12)
    code, out, _ = run(capsys, "evaluate", folder, data, "--metrics", "mse")
    assert code == 0 and out.splitlines()[3].startswith("main_mean_squared_error: ")


def test_a_graph_data_file_missing_an_array_or_out_of_domain_is_one_line(capsys, saved, tmp_path):
    folder, _, _, arrays = saved
    cases = {
        "no_x2.npz": ({k: v for k, v in arrays.items() if k != "X2"}, "no array 'X2'; it has X1, Y1, Y2 (expected X1, X2, Y1 and Y2)"),
        "rows.npz": ({**arrays, "Y1": arrays["Y1"][:5]}, "X1 has 30 samples and X2 30, Y1 5, Y2 30; expected the same number"),
        "wide.npz": ({**arrays, "X2": np.zeros((30, 4))}, "X2 has shape (30, 4); the graph needs (samples, 2)"),
        "labels.npz": ({**arrays, "Y2": arrays["Y2"] * 2}, "Y2"),
    }
    for name, (given, message) in cases.items():
        np.savez(tmp_path / name, **given)
        code, out, err = run(capsys, "evaluate", folder, tmp_path / name)
        assert (code, out) == (2, "") and message in err and err.count("\n") == 1, (name, err)


def test_train_given_a_saved_model_as_layers_says_what_it_takes(capsys, saved, tmp_path):
    folder, data, _, _ = saved
    code, out, err = run(capsys, "train", folder, data, "-o", tmp_path / "again", "--quiet")
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "a saved model; symdl train builds a new network from widths such as 784,128,10" in err
    assert "again" not in os.listdir(tmp_path)


def test_a_graph_target_out_of_its_domain_names_what_the_caller_can_do(capsys, saved, tmp_path):
    """The graph's line ended 'or compile(..., validate_targets=False) to use such targets on purpose' on the command
    line too, where nothing compiles: there it says what a CLI user can do (as a network's line); in Python it keeps
    the option."""
    folder, _, graph, arrays = saved
    np.savez(tmp_path / "labels.npz", **{**arrays, "Y2": arrays["Y2"] * 2})
    line = "Y2[0, 0] = 2: binary_cross_entropy takes targets in [0, 1] (labels or probabilities); rescale Y2"
    for argv in (["evaluate", folder], ["train", "--from", folder, "-o", tmp_path / "out", "--quiet"]):
        code, out, err = run(capsys, *argv, tmp_path / "labels.npz")
        assert (code, out) == (2, "") and err == f"symdl: error: {tmp_path / 'labels.npz'}: {line}\n", argv
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError) as error:
        graph.check_targets((arrays["Y1"], arrays["Y2"] * 2))
    assert str(error.value) == f"{line}, or compile(..., validate_targets=False) to use such targets on purpose"
    with pytest.raises(ValueError) as error:
        graph.fit(graph.init(3), (arrays["X1"], arrays["X2"]), (arrays["Y1"], arrays["Y2"] * 2), epochs=1, verbose=0)
    assert str(error.value).endswith(", or compile(..., validate_targets=False) to use such targets on purpose")
