"""symdl.saving: a model saves to a directory and loads back bit for bit; hostile or broken files are refused in one line."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import symdl
from symdl.saving import SavedModelError, load, save
from symdl.training import fit
from tests.test_training import ClassicSGD, data

NETWORKS = {
    "formula": lambda: symdl.Network([3, 5, 2], activation=symdl.formula_rule("log(1+exp(k*z))/k", params={"k": 0.3}),
                                     loss="huber", loss_params={"delta": 0.7}),
    "layers": lambda: symdl.Network([3, 6, 4, 2], activation="leaky_relu", activation_params={"alpha": 0.1},
                                    batchnorm=True, dropout=0.25, bn_eps=1e-3, bn_momentum=0.2,
                                    penalty="l2", penalty_params={"lam": 1e-3}),
    "formula_loss": lambda: symdl.Network([3, 4, 2], loss=symdl.formula_rule("(a - y)**2 / 2 + c*abs(a - y)", wrt="a",
                                                                              symbols=["y"], params={"c": 0.01})),
    "softmax": lambda: symdl.Network([3, 4, 3], output_activation="softmax", loss="softmax_cross_entropy"),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_bit_for_bit(tmp_path, name, dtype):
    net = NETWORKS[name]().compile(dtype)
    params = net.init(seed=3)
    params = {k: (v + np.random.default_rng(0).normal(size=v.shape)).astype(dtype) for k, v in params.items()}
    state = {"t": 7, "m_W1": np.linspace(0, 1, params["W1"].size).reshape(params["W1"].shape), "mu_product": 0.123456789}
    save(tmp_path / "model", net, params, state)
    loaded = load(tmp_path / "model")
    net2, params2, state2, metrics2 = loaded
    assert net2.source() == net.source() and net2.dtype == net.dtype
    assert repr(net2.network) == repr(net.network)
    assert list(params2) == list(params)
    for k in params:
        assert params2[k].dtype == params[k].dtype and params2[k].tobytes() == params[k].tobytes()
    assert state2["t"] == 7 and type(state2["t"]) is int and state2["mu_product"] == 0.123456789
    assert state2["m_W1"].tobytes() == state["m_W1"].tobytes()
    X = np.random.default_rng(1).normal(size=(6, 3)).astype(dtype)
    assert net2.forward(params2, X).tobytes() == net.forward(params, X).tobytes()
    assert metrics2 == [] and loaded.config["format_version"] == 1
    assert sorted(os.listdir(tmp_path)) == ["model"]  # no staging directories left behind


def test_saving_again_replaces_the_model_as_a_whole(tmp_path):
    net = NETWORKS["formula"]().compile()
    save(tmp_path / "m", net, net.init(0))
    save(tmp_path / "m", net, net.init(1))
    assert load(tmp_path / "m").params["W1"].tobytes() == net.init(1)["W1"].tobytes()
    assert sorted(os.listdir(tmp_path)) == ["m"] and sorted(os.listdir(tmp_path / "m")) == ["arrays.npz", "model.json"]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(SavedModelError, match="exists and is not a saved model"):
        save(tmp_path / "notes", net, net.init(0))
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


def test_saving_over_a_model_that_holds_other_files_is_refused_and_deletes_nothing(tmp_path):
    """The directory is replaced whole: a file or a model saved inside it would go with the old model."""
    net = NETWORKS["formula"]().compile()
    save(tmp_path / "m", net, net.init(0), history={"epoch": [0]})
    save(tmp_path / "m" / "inner", net, net.init(1))
    (tmp_path / "m" / "README").write_text("mine")
    before = {name: (tmp_path / "m" / name).read_bytes() for name in ("model.json", "arrays.npz", "history.json")}
    with pytest.raises(SavedModelError, match=r"m: a saved model that also holds 'README' and 1 more, which saving over "
                                              r"it would delete \(the directory is replaced whole\); move that out"):
        save(tmp_path / "m", net, net.init(2))
    assert sorted(os.listdir(tmp_path / "m")) == ["README", "arrays.npz", "history.json", "inner", "model.json"]
    assert {name: (tmp_path / "m" / name).read_bytes() for name in before} == before
    assert load(tmp_path / "m" / "inner").params["W1"].tobytes() == net.init(1)["W1"].tobytes()
    (tmp_path / "m" / "README").unlink()
    (tmp_path / "m" / "inner" / "model.json").unlink()
    with pytest.raises(SavedModelError, match="also holds 'inner', which"):
        save(tmp_path / "m", net, net.init(2))
    for name in os.listdir(tmp_path / "m" / "inner"):
        (tmp_path / "m" / "inner" / name).unlink()
    (tmp_path / "m" / "inner").rmdir()
    save(tmp_path / "m", net, net.init(2))  # model.json, arrays.npz and history.json only: replaced
    assert sorted(os.listdir(tmp_path / "m")) == ["arrays.npz", "model.json"]


def test_training_continued_after_save_and_load_equals_uninterrupted_training(tmp_path):
    net = symdl.Network([3, 6, 2], activation="tanh").compile()
    X, Y = data()
    whole = net.init(0)
    straight = fit(ClassicSGD(net, 0.1), whole, X, Y, epochs=4, batch_size=8, verbose=0)
    params = net.init(0)
    first = fit(ClassicSGD(net, 0.1), params, X, Y, epochs=2, batch_size=8, verbose=0)
    save(tmp_path / "m", net, params, first.state)
    net2, params2, state2, _ = load(tmp_path / "m")
    second = fit(ClassicSGD(net2, 0.1), params2, X, Y, epochs=4, batch_size=8, verbose=0, initial_epoch=2, state=state2)
    assert first.history["loss"] + second.history["loss"] == straight.history["loss"]
    assert all(whole[k].tobytes() == params2[k].tobytes() for k in whole) and second.state == straight.state


def test_metrics_round_trip_with_their_names_and_parameters(tmp_path):
    net = NETWORKS["formula"]().compile()
    metrics = ["mae", symdl.metric("huber", threshold=0.25), symdl.metric("precision", threshold=0.3, name="p30")]
    save(tmp_path / "m", net, net.init(0), metrics=metrics)
    loaded = load(tmp_path / "m").metrics
    assert [m.config() for m in loaded] == [
        {"metric": "mean_absolute_error", "name": "mean_absolute_error", "params": {}},
        {"metric": "huber", "name": "huber", "params": {"threshold": 0.25}},
        {"metric": "precision", "name": "p30", "params": {"threshold": 0.3}},
    ]
    y, p = np.array([0.0, 1.0, 1.0]), np.array([0.2, 0.9, 0.1])
    assert [m(y, p) for m in loaded] == [m(y, p) for m in (symdl.metric(metrics[0]), metrics[1], metrics[2])]
    with pytest.raises(SavedModelError, match="is not a symdl metric"):
        save(tmp_path / "n", net, net.init(0), metrics=[object()])


def saved(tmp_path):
    net = NETWORKS["formula"]().compile()
    path = tmp_path / "m"
    save(path, net, net.init(0), {"t": 3, "m_W1": np.zeros((5, 3))})
    return path


def edit(path, change):
    config = json.loads((path / "model.json").read_text())
    change(config)
    (path / "model.json").write_text(json.dumps(config))


def refused(path, message):
    with pytest.raises(SavedModelError) as info:
        load(path)
    assert message in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_a_hostile_formula_is_rejected_by_the_parser_and_nothing_runs(tmp_path):
    path = saved(tmp_path)
    marker = tmp_path / "pwned"
    for text in (f"__import__('os').system('touch {marker}')", "z.__class__", "(lambda: 1)()", "exec('1')"):
        edit(path, lambda c, text=text: c["network"]["activation"].update(formula=text))
        refused(path, "network.activation: formula")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(format_version=2), "saved in format version 2; this symdl"),
        (lambda c: c.update(format="keras"), "not a symdl saved model"),
        (lambda c: c.update(extra=1), "unexpected key 'extra'"),
        (lambda c: c.pop("metrics"), "missing key 'metrics'"),
        (lambda c: c.update(dtype="object"), "dtype: expected 'float64' or 'float32'"),
        (lambda c: c["network"].update(layers=[3, {"type": "dense", "width": 9}, {"type": "dense", "width": 2}]), "arrays.params.W1: expected float64 of shape (9, 3)"),
        (lambda c: c["network"]["layers"].__setitem__(1, {"type": "conv", "width": 5}), "expected 'dense', 'batchnorm' or 'dropout'"),
        (lambda c: c["network"]["layers"].__setitem__(1, {"type": "dense", "width": True}), "layers[1].width: expected an integer"),
        (lambda c: c["network"]["loss"].update(name="no_such_rule"), "unknown rule 'no_such_rule'"),
        (lambda c: c["network"]["loss"]["params"].update(delta="0.7; rm -rf"), "is not an exact number"),
        (lambda c: c["network"]["loss"]["params"].update(delta=0.7), "expected a string"),
        (lambda c: c["network"]["activation"].update(extra="x"), "unexpected key 'extra'"),
        (lambda c: c["arrays"]["params"]["W1"].update(shape=[3, 5]), "arrays.params.W1: expected float64 of shape (5, 3)"),
        (lambda c: c["arrays"]["state"]["m_W1"].update(dtype="float32"), "state/m_W1 is float64 of shape (5, 3); the model needs float32"),
        (lambda c: c["arrays"]["state"].pop("t"), "unexpected array 'state/t'"),
        (lambda c: c["arrays"]["state"].update(v_W1={"kind": "array", "shape": [5, 3], "dtype": "float64"}), "missing array 'state/v_W1'"),
        (lambda c: c.update(optimizer={"name": "rmsprop_x", "hyperparameters": {}}), "unknown optimizer 'rmsprop_x'"),
        (lambda c: c.update(optimizer=[1]), "optimizer: expected an object"),
        (lambda c: c.update(metrics=[{"metric": "mae", "name": "x", "params": {}, "code": "1"}]), "unexpected key 'code'"),
        (lambda c: c.update(metrics=[{"metric": "no_such", "name": "x", "params": {}}]), "unknown metric 'no_such'"),
        (lambda c: c.update(metrics=[{"metric": "huber", "name": "h", "params": {"threshold": [1]}}]), "threshold: expected"),
        (lambda c: c.update(metrics=[{"metric": "huber", "name": "h", "params": {"delta": 1.0}}]), "metrics[0]: metric 'huber'"),
    ],
)
def test_broken_model_json_is_refused_in_one_line(tmp_path, change, message):
    path = saved(tmp_path)
    edit(path, change)
    refused(path, message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"format": "symdl-model", "format": "x"}', "the key 'format' appears twice"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": [1, 2', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper than"),
        (b"[1]", "model.json: expected an object"),
        (b" " * (1 << 20) + b"{}", "larger than"),
    ],
)
def test_malformed_json_is_refused_in_one_line(tmp_path, text, message):
    path = saved(tmp_path)
    (path / "model.json").write_bytes(text)
    refused(path, message)


def _npy(value):
    stream = io.BytesIO()
    np.save(stream, value)
    return stream.getvalue()


def test_bad_arrays_are_refused_in_one_line(tmp_path):
    path = saved(tmp_path)
    good = dict(np.load(path / "arrays.npz"))
    for arrays, message in (
        ({**good, "params/W1": good["params/W1"].astype(np.float32)}, "params/W1 is float32 of shape (5, 3)"),
        ({**good, "params/W9": good["params/W1"]}, "unexpected array 'params/W9'"),
        ({k: v for k, v in good.items() if k != "params/b2"}, "missing array 'params/b2'"),
        ({**good, "state/t": np.asarray(3.0)}, "state/t is float64 of shape (); the model needs int64"),
        ({**good, "params/W1": np.array([{"a": 1}] * 15, dtype=object).reshape(5, 3)}, "params/W1 is object of shape (5, 3)"),
    ):
        np.savez(path / "arrays.npz", **arrays)
        refused(path, message)
    np.savez(path / "arrays.npz", **good)
    with zipfile.ZipFile(path / "arrays.npz", "a") as archive:  # a header claiming 8 TB, with no data behind it
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
        archive.writestr("params/W9.npy", header.getvalue())
    refused(path, "unexpected array 'params/W9'")
    with zipfile.ZipFile(path / "arrays.npz", "w") as archive:
        for key, value in good.items():
            if key != "params/W1":
                archive.writestr(f"{key}.npy", _npy(value))
        archive.writestr("params/W1.npy", header.getvalue())
    refused(path, "params/W1 is float64 of shape (1000000, 1000000); the model needs float64 of shape (5, 3)")
    with zipfile.ZipFile(path / "arrays.npz", "a") as archive:
        archive.writestr("run_me.py", "print('hi')")
    refused(path, "holds files that are not arrays")
    (path / "arrays.npz").write_bytes(b"PK not a zip")
    refused(path, "arrays.npz: unreadable")
    (path / "arrays.npz").unlink()
    refused(path, "arrays.npz is missing")
    refused(tmp_path / "nowhere", "not a saved model directory")


def test_save_refuses_what_it_cannot_describe(tmp_path):
    net = NETWORKS["formula"]().compile()
    with pytest.raises(SavedModelError, match="expected a compiled network"):
        save(tmp_path / "m", net.network, net.init(0))
    with pytest.raises(SavedModelError, match=r"params\['W1'\]: expected float64 of shape \(5, 3\)"):
        save(tmp_path / "m", net, {**net.init(0), "W1": np.zeros((3, 5))})
    with pytest.raises(SavedModelError, match="expected the keys"):
        save(tmp_path / "m", net, {"W1": np.zeros((5, 3))})
    with pytest.raises(SavedModelError, match="state: key"):
        save(tmp_path / "m", net, net.init(0), {"not ok": 1})
    assert not (tmp_path / "m").exists()


def test_adam_two_epochs_save_load_two_more_equals_four_epochs_bit_for_bit(tmp_path):
    X, Y = data()
    net = symdl.Network([3, 6, 2], activation="tanh", optimizer=symdl.optim.optimizer("adam", lr=0.01)).compile()
    whole = net.init(0)
    straight = net.fit(whole, X, Y, epochs=4, batch_size=8, verbose=0, metrics=["mae"])
    params = net.init(0)
    first = net.fit(params, X, Y, epochs=2, batch_size=8, verbose=0, metrics=["mae"])
    save(tmp_path / "m", net, params, first.state, metrics=["mae"])
    net2, params2, state2, metrics2 = load(tmp_path / "m")
    assert net2.source() == net.source() and state2["t"] == first.state["t"] == 14
    second = net2.fit(params2, X, Y, epochs=4, batch_size=8, verbose=0, metrics=metrics2, initial_epoch=2, state=state2)
    for key in ("loss", "mean_absolute_error"):
        assert first.history[key] + second.history[key] == straight.history[key]
    assert all(whole[k].tobytes() == params2[k].tobytes() for k in whole)
    assert all(np.asarray(straight.state[k]).tobytes() == np.asarray(second.state[k]).tobytes() for k in straight.state)
    classic = symdl.Network([3, 6, 2]).compile()
    history = classic.fit(classic.init(0), X, Y, epochs=1, verbose=0, optimizer="adam")
    assert history.state["t"] == 2  # 50 samples in batches of 32
