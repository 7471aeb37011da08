"""``history=`` of symdl.save and save_graph: what JSON cannot hold is one SavedModelError line naming ``history``,
and nothing is written."""

import numpy as np
import pytest

import symdl
from symdl.graph import Dense, Input, Model, save_graph
from symdl.saving.schema import SavedModelError


def _network():
    compiled = symdl.Network([2, 3, 1]).compile()
    return symdl.save, compiled, compiled.init(0)


def _graph():
    x = Input(2)
    compiled = Model(x, Dense(1)(x)).compile()
    return save_graph, compiled, compiled.init(0)


@pytest.mark.parametrize("make", [_network, _graph])
@pytest.mark.parametrize(("history", "message"), [
    ({"loss": [1.0, float("nan")]}, r"^history: not JSON \(Out of range float values are not JSON compliant: nan\); "
                                    r"history\.json takes finite numbers, strings, lists and dicts$"),
    ({"loss": np.float32(1.0)}, r"^history: not JSON \(Object of type float32 is not JSON serializable\); "
                                r"history\.json takes finite numbers, strings, lists and dicts$"),
])
def test_a_history_json_cannot_hold_is_one_line_and_nothing_is_written(tmp_path, make, history, message):
    """A diverged fit's NaN loss was json's bare ValueError, a numpy number its TypeError, neither naming history."""
    save, compiled, params = make()
    with pytest.raises(SavedModelError, match=message):
        save(tmp_path / "m", compiled, params, history=history)
    assert list(tmp_path.iterdir()) == []
