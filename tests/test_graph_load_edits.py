"""A saved graph's model.json edited by hand: a format_version of the wrong type and an input width too large to
allocate are each one SavedModelError line (nothing allocated before the arrays' headers are read)."""

import json
import re

import pytest

import symdl
from symdl.graph import Dense, Input, Model, load_graph, save_graph
from symdl.saving.schema import SavedModelError


@pytest.fixture
def saved(tmp_path):
    x = Input(3)
    graph = Model(x, Dense(2)(x)).compile()
    return save_graph(tmp_path / "g", graph, graph.init(0))


def _edit(folder, change):
    spec = json.loads((folder / "model.json").read_text())
    change(spec)
    (folder / "model.json").write_text(json.dumps(spec))


@pytest.mark.parametrize("version", [[], {}, [2]])
def test_a_format_version_that_is_not_a_number_is_one_line(saved, version):
    """It was Python's TypeError "unhashable type: 'list'"."""
    _edit(saved, lambda spec: spec.update(format_version=version))
    expected = f"{saved}: symdl-graph saved in format version {version}; this symdl ({symdl.__version__}) reads version 1 or 2"
    with pytest.raises(SavedModelError, match="^" + re.escape(expected) + "$"):
        load_graph(saved)


def test_an_input_too_wide_to_allocate_is_refused_by_the_arrays_it_does_not_match(saved):
    """inputs [2147483647] compiled, then model.json's array descriptions were checked against np.empty arrays of the
    rebuilt shapes: a MemoryError (64 GiB for W1)."""
    _edit(saved, lambda spec: spec["graph"].update(inputs=[2**31 - 1]))
    with pytest.raises(SavedModelError, match=r"^arrays\.params\.W1: expected float64 of shape \(2, 2147483647\), got "):
        load_graph(saved)


@pytest.mark.parametrize("weight", [-1, -0.5])
def test_a_negative_loss_weight_is_refused_as_model_refuses_it(saved, weight):
    """Model(loss_weights=[-1]) is one ValueError line; the same weight typed into model.json loaded and trained."""
    _edit(saved, lambda spec: spec["graph"]["losses"][0].update(weight=weight))
    with pytest.raises(SavedModelError, match=rf"^losses\[0\]: loss weight must be a finite number ≥ 0, got {float(weight)}$"):
        load_graph(saved)


@pytest.mark.parametrize("flag", [None, 0, 1, [], "false"])
def test_auxiliary_is_a_json_boolean(saved, flag):
    """null, 0 and [] read as false and "false" as true (Python's truth)."""
    _edit(saved, lambda spec: spec["graph"]["losses"][0].update(auxiliary=flag))
    with pytest.raises(SavedModelError, match="^" + re.escape(f"losses[0].auxiliary: expected true or false, got {flag!r}") + "$"):
        load_graph(saved)
