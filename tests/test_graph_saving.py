"""A saved graph keeps its optimizer, its state and its metrics: fit, save, load, fit more == one uninterrupted fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symdl
from symdl.graph import Add, Dense, Dropout, Input, Model, load_graph, save_graph
from symdl.graph.compiled import CompiledGraph
from symdl.saving import SavedModelError

OPTIMIZERS = {
    "adam": lambda: symdl.optimizer("adam", lr=0.01),
    "momentum": lambda: symdl.optimizer("sgd", lr=0.05, momentum=0.9, nesterov=True),
    "nadam": lambda: symdl.optimizer("nadam", lr=0.01),
}


def _model() -> Model:
    x = Input(3)
    h = Dense(6, activation="tanh")(x)
    out = Dense(2)(Add()([h, Dropout(0.25)(Dense(6, activation="tanh")(h))]))
    return Model(x, out, losses="mse").add_loss(Dense(3)(h), "mse", target=x, weight=0.1, reduction="mean")


def _data(m: int = 40, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    return X, np.tanh(X[:, :2] - X[:, 2:])


def _same(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() and type(a[k]) is type(b[k])
                                    for k in a)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fit_two_epochs_save_load_fit_two_more_equals_four_epochs_bit_for_bit(tmp_path, name):
    X, Y = _data()
    Xv, Yv = _data(11, seed=2)
    graph = _model().compile(optimizer=OPTIMIZERS[name]())
    options = {"batch_size": 8, "verbose": 0, "seed": 5, "validation": (Xv, Yv)}
    whole = graph.init(0)
    straight = graph.fit(whole, X, Y, epochs=4, metrics=["mae", symdl.metric("huber", threshold=0.3)], **options)
    params = graph.init(0)
    first = graph.fit(params, X, Y, epochs=2, metrics=["mae", symdl.metric("huber", threshold=0.3)], **options)
    save_graph(tmp_path / "g", graph, params, first.state, metrics=["mae", symdl.metric("huber", threshold=0.3)],
               history={"epoch": first.epoch, "history": first.history})
    again, params2, state2, metrics2 = load_graph(tmp_path / "g")
    assert again.source() == graph.source() and again.optimizer.config() == graph.optimizer.config()
    assert _same(state2, first.state) and state2["t"] == 10
    assert [m.config() for m in metrics2] == [symdl.metric("mae").config(), symdl.metric("huber", threshold=0.3).config()]
    second = again.fit(params2, X, Y, epochs=4, initial_epoch=2, state=state2, metrics=metrics2, **options)
    for key in straight.history:
        assert first.history[key] + second.history[key] == straight.history[key]
    assert _same(params2, whole) and _same(second.state, straight.state)


def test_saving_state_of_a_graph_without_an_optimizer_or_a_wrong_state_is_refused(tmp_path):
    plain = _model().compile()
    params = plain.init(0)
    with pytest.raises(SavedModelError, match="compiled without an optimizer"):
        save_graph(tmp_path / "g", plain, params, {"t": 0})
    adam = _model().compile(optimizer="adam")
    state = adam.init_state(params)
    with pytest.raises(SavedModelError, match="expected the keys"):
        save_graph(tmp_path / "g", adam, params, {k: v for k, v in state.items() if k != "t"})
    state["m_W1"] = state["m_W1"][:1]
    with pytest.raises(SavedModelError, match="m_W1"):
        save_graph(tmp_path / "g", adam, params, state)
    assert not (tmp_path / "g").exists()
    save_graph(tmp_path / "g", plain, params)
    loaded = load_graph(tmp_path / "g")
    assert loaded.state is None and loaded.network.optimizer is None and loaded.config["optimizer"] is None


def _broken(path, change):
    config = json.loads((path / "model.json").read_text())
    change(config)
    (path / "model.json").write_text(json.dumps(config))


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(format_version=3), "version 1 or 2"),
    (lambda c: c["optimizer"].update(name="__import__('os').system('x')"), "unknown optimizer"),
    (lambda c: c["optimizer"]["hyperparameters"].update(lr="exp(1)"), "optimizer"),
    (lambda c: c["metrics"][0].update(metric="eval"), "metrics\\[0\\]"),
    (lambda c: c["arrays"]["state"].pop("t"), "unexpected array .state/t."),
    (lambda c: c["arrays"]["state"]["t"].update(kind="pickle"), "kind"),
    (lambda c: c.update(optimizer=None), "state but no optimizer"),
    (lambda c: c["graph"]["losses"][0]["rule"].update(formula="__import__('os').system('echo hi')", wrt="a",
                                                      symbols=[], params={}, kink_convention="zero"), "losses\\[0\\]"),
    # A data-target loss moved off the output (to the input, node 0) or given twice: a KeyError naming 0 before.
    (lambda c: c["graph"]["losses"][0].update(node=0), "losses\\[0\\]: a loss of Model\\(losses=\\) is one per output"),
    (lambda c: c["graph"]["losses"].append(dict(c["graph"]["losses"][0])), "losses\\[2\\]: a loss of Model"),
    (lambda c: c["graph"]["losses"][1].update(auxiliary=False), "losses\\[1\\]: a loss of Model"),
])
def test_a_broken_saved_graph_is_refused_in_one_line(tmp_path, change, message):
    graph = _model().compile(optimizer="adam")
    params = graph.init(0)
    save_graph(tmp_path / "g", graph, params, graph.init_state(params), metrics=["mae"])
    _broken(tmp_path / "g", change)
    with pytest.raises(SavedModelError, match=message) as caught:
        load_graph(tmp_path / "g")
    assert "\n" not in str(caught.value)


def test_a_version_1_file_still_loads_without_state(tmp_path):
    graph = _model().compile("float32")
    params = graph.init(3)
    (tmp_path / "g").mkdir()
    config = {"format": "symdl-graph", "format_version": 1, "symdl_version": "0", "dtype": "float32",
              "graph": symdl.graph.to_config(graph.model)}
    (tmp_path / "g" / "model.json").write_text(json.dumps(config))
    np.savez(tmp_path / "g" / "arrays.npz", **params)
    again, loaded, state, metrics = load_graph(tmp_path / "g")
    assert state is None and metrics == [] and again.dtype == np.float32 and _same(loaded, params)


@pytest.mark.parametrize("name, options", [
    ("sgd", {"momentum": 0.9, "nesterov": True}), ("sgd", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3}),
    ("rmsprop", {"centered": True, "momentum": 0.5}), ("adam", {"betas": (0.8, 0.99)}), ("nadam", {}),
    ("adam", {"lr": symdl.optim.schedules.cosine(lr=0.1, T_max=10)}),
])
def test_every_optimizer_config_is_rebuilt_exactly(name, options):
    from symdl.saving.state import rebuild_optimizer

    config = symdl.optimizer(name, **options).config()
    assert rebuild_optimizer(json.loads(json.dumps(config))).config() == config


def test_codegen_of_a_saved_graph_uses_its_saved_optimizer_unless_told_otherwise(tmp_path):
    from symdl.cli import main
    from symdl.export.graph_modules import graph_module_source

    model = _model()
    adam = symdl.optimizer("adam", lr=0.02)
    graph = model.compile(optimizer=adam)
    save_graph(tmp_path / "g", graph, graph.init(0))
    assert main(["codegen", "--graph", str(tmp_path / "g"), "-o", str(tmp_path / "saved.py")]) == 0
    assert (tmp_path / "saved.py").read_text() == graph_module_source(model, "numpy", "float64", adam)
    assert main(["codegen", "--graph", str(tmp_path / "g"), "--optimizer", "sgd", "-o", str(tmp_path / "sgd.py")]) == 0
    assert (tmp_path / "sgd.py").read_text() == graph_module_source(model, "numpy", "float64", "sgd")


def test_codegen_of_a_saved_graph_uses_its_saved_metrics_unless_told_otherwise(tmp_path):
    from symdl.cli import main
    from symdl.export.graph_modules import graph_module_source

    model = _model()
    graph = model.compile(optimizer="adam")
    save_graph(tmp_path / "g", graph, graph.init(0), metrics=["mae"])
    assert main(["codegen", "--graph", str(tmp_path / "g"), "-o", str(tmp_path / "saved.py")]) == 0
    saved = (tmp_path / "saved.py").read_text()
    assert saved == graph_module_source(model, "numpy", "float64", "adam", metrics=["mae"])
    assert saved != graph_module_source(model, "numpy", "float64", "adam")
    assert main(["codegen", "--graph", str(tmp_path / "g"), "--metrics", "mse", "-o", str(tmp_path / "mse.py")]) == 0
    assert (tmp_path / "mse.py").read_text() == graph_module_source(model, "numpy", "float64", "adam", metrics=["mse"])


def test_symdl_save_and_load_take_both_kinds_and_the_graph_pair_takes_graphs_only(tmp_path):
    """One public pair, as Keras' model.save / load_model for Sequential and functional models alike: symdl.load
    rebuilds what the file holds; save_graph / load_graph stay, for graphs only, each refusal one line."""
    graph = _model().compile(optimizer="adam")
    params = graph.init(0)
    state = graph.init_state(params)
    symdl.save(tmp_path / "g", graph, params, state, metrics={"Y": ["mae"]})
    loaded = symdl.load(tmp_path / "g")
    assert isinstance(loaded.network, CompiledGraph) and loaded.config["format"] == "symdl-graph"
    assert all(np.array_equal(loaded.params[k], params[k]) for k in params) and loaded.state["t"] == state["t"]
    assert [m.name for m in loaded.metrics["Y"]] == ["mean_absolute_error"]
    again = load_graph(tmp_path / "g")  # the alias reads the same file to the same model
    assert again.config == loaded.config and again.network.source() == loaded.network.source()
    net = symdl.Network([3, 4, 2]).compile()
    symdl.save(tmp_path / "n", net, net.init(0))
    assert isinstance(symdl.load(tmp_path / "n").network, symdl.CompiledNetwork)
    with pytest.raises(SavedModelError, match="a saved network, not a graph; symdl.load takes both kinds$"):
        load_graph(tmp_path / "n")
    with pytest.raises(SavedModelError, match="expected a compiled graph .*CompiledNetwork; symdl.save takes both kinds$"):
        save_graph(tmp_path / "g2", net, net.init(0))
    with pytest.raises(SavedModelError, match=r"expected a compiled graph \(model.compile\(\)\), got Model$"):
        save_graph(tmp_path / "g2", graph.model, graph.init(0))  # the model itself, not compiled
    with pytest.raises(SavedModelError, match=r"^network: expected a compiled network or graph .*, got Model$"):
        symdl.save(tmp_path / "g2", graph.model, graph.init(0))
    with pytest.raises(SavedModelError, match="a dict keys metrics by output name; a network has one output"):
        symdl.save(tmp_path / "g2", net, net.init(0), metrics={"Y": ["mae"]})
    assert not (tmp_path / "g2").exists()
