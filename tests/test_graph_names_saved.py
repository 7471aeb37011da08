"""Names of inputs and layers survive to_config/from_config and save/load; an old config without names still loads;
a bad or repeated name in a config is one SavedModelError line, and a name is never evaluated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from symdl.graph import (
    Add,
    Dense,
    Input,
    Model,
    from_config,
    load_graph,
    save_graph,
    to_config,
)
from symdl.saving.schema import SavedModelError


def _named() -> Model:
    a, b = Input(3, name="a"), Input(2)
    shared = Dense(3, activation="tanh", name="shared")
    h = Add()([shared(a), Dense(3)(b)])
    return Model([a, b], [Dense(2, name="main")(shared(h)), Dense(1, name="aux")(h)], losses=["mse", "mse"])


def _names(model: Model) -> tuple[list, list]:
    return [n.name for n in model.inputs], [l.name for l in model.layers]


def test_names_survive_config_json_and_save_load(tmp_path):
    model = _named()
    config = json.loads(json.dumps(to_config(model)))
    again = from_config(config)
    assert _names(again) == _names(model)
    assert _names(model) == (["a", None], ["shared", None, None, "main", "aux"])
    assert to_config(again) == config
    graph = model.compile()
    params = graph.init(0)
    save_graph(tmp_path / "g", graph, params)
    loaded = load_graph(tmp_path / "g").network
    assert _names(loaded.model) == _names(model)
    rng = np.random.default_rng(0)
    A, B, Ym, Ya = rng.normal(size=(4, 3)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    # the saved names key data dicts as the original's do
    assert loaded.loss(params, {"a": A, "X2": B}, {"main": Ym, "aux": Ya}) == graph.loss(params, (A, B), (Ym, Ya))


def test_a_config_in_the_old_form_without_names_still_loads():
    model = _named()
    config = json.loads(json.dumps(to_config(model)))
    del config["input_names"]
    for layer in config["layers"]:
        layer.pop("name", None)
    old = from_config(config)
    assert _names(old) == ([None, None], [None] * 5)
    assert old.parameter_shapes == model.parameter_shapes
    assert "input_names" not in to_config(old) and all(set(l) == {"type", "config"} for l in to_config(old)["layers"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["layers"][0].update(name="__import__('os').system('echo hi')"), r"layers\[0\]\.name: name must be an identifier"),
        (lambda c: c["layers"][1].update(name="1st"), r"layers\[1\]\.name: name must be an identifier"),
        (lambda c: c["layers"][1].update(name=7), r"layers\[1\]\.name: expected a string"),
        (lambda c: c["layers"][1].update(name="main"), r"layers\[3\]\.name: the name 'main' is given twice"),
        (lambda c: c["input_names"].__setitem__(1, "shared"), r"layers\[0\]\.name: the name 'shared' is given twice"),
        (lambda c: c["input_names"].append("c"), "input_names: 3 names for 2 inputs"),
        (lambda c: c["layers"][0].update(label="x"), r"layers\[0\]: unexpected key 'label'"),
    ],
)
def test_a_bad_name_in_a_config_is_one_clear_error(edit, message):
    config = json.loads(json.dumps(to_config(_named())))
    edit(config)
    with pytest.raises(SavedModelError, match=message) as caught:
        from_config(config)
    assert "\n" not in str(caught.value)


def test_a_bad_name_is_refused_when_the_layer_is_made():
    with pytest.raises(ValueError, match="Dense: name must be an identifier"):
        Dense(2, name="a b")
    with pytest.raises(ValueError, match="Input: name must be an identifier"):
        Input(2, name="")


@pytest.mark.parametrize("build", [
    lambda: (lambda x: Model(x, Dense(1, name="x")(x)))(Input(2, name="x")),  # an input and a layer
    lambda: (lambda x: Model(x, Dense(1, name="x")(Dense(2, name="x")(x))))(Input(2)),  # two layers in a chain
    lambda: (lambda x: Model(x, [Dense(1, name="x")(x), Dense(1, name="x")(x)], losses=["mse", "mse"]))(Input(2)),
    lambda: (lambda a, b: Model([a, b], Add()([a, b])))(Input(2, name="x"), Input(2, name="x")),  # two inputs
])  # fmt: skip
def test_a_repeated_name_is_refused_when_the_model_is_built(build):
    # Keras: "All layer names should be unique." at model construction, not when saved
    with pytest.raises(ValueError, match="^Model: the name 'x' is given twice; names of inputs and layers must be unique$"):
        build()


def test_a_shared_layer_is_one_name_and_an_auxiliary_loss_cannot_bring_a_repeated_one():
    model = _named()  # "shared" is called twice: one layer
    assert [l.name for l in model.layers].count("shared") == 1
    assert to_config(model)["layers"][0]["name"] == "shared"
    x = Input(2)
    h = Dense(3, name="h")(x)
    model = Model(x, Dense(1)(h))
    with pytest.raises(ValueError, match="^Model: the name 'h' is given twice"):
        model.add_loss(Dense(2, name="h")(h), "mse", target=x)
    assert model.terms[-1].auxiliary is False and len(model.terms) == 1  # the refused loss is not kept
    model.add_loss(Dense(2, name="g")(h), "mse", target=x)
    assert [l.name for l in model.layers] == ["h", None, "g"]
