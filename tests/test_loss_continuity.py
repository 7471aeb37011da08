"""A formula loss or penalty whose value jumps is refused in one line (the Keras notebook's second Huber variant)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.graph import Dense, Input, Model
from symdl.rulebook.continuity import value_jumps
from symdl.saving import SavedModelError

WRONG_HUBER = "where(abs(a - y) < d, (a - y)**2/2, d*abs(a - y) - d*2*0.5)"   # jumps by ±d(d − 2)/2 at |a − y| = d
HUBER = "where(abs(a - y) < d, (a - y)**2/2, d*(abs(a - y) - d/2))"


def loss(text, d):
    return symdl.formula_rule(text, wrt="a", symbols=["y"], params={"d": d})


@settings(max_examples=8, deadline=None)
@given(d=st.floats(0.25, 4.0).filter(lambda d: d != 2.0))
def test_the_notebooks_wrong_huber_is_refused_by_networks_and_graphs(d):
    wrong = loss(WRONG_HUBER, d)
    with pytest.raises(ValueError, match=r"^loss: .* jumps at a = y - \S+ by .*a loss must be continuous"):
        symdl.Network([2, 1], loss=wrong)
    x = Input(2)
    with pytest.raises(ValueError, match=r"^loss: .* jumps at a = y - \S+ by .*; at a = y \+ \S+ by "):
        Model(x, Dense(1)(x), losses=wrong)


@settings(max_examples=8, deadline=None)
@given(d=st.floats(0.25, 4.0), seed=st.integers(0, 2**16))
def test_the_continuous_huber_formula_trains_as_the_huber_rule(d, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(16, 3)), 3 * rng.normal(size=(16, 2))
    ours = symdl.Network([3, 2], activation="identity", loss=loss(HUBER, d)).compile()
    rule = symdl.Network([3, 2], activation="identity", loss=symdl.rule("huber", delta=d)).compile()
    params = ours.init(seed=0)
    np.testing.assert_allclose(ours.loss(params, X, Y), rule.loss(params, X, Y), rtol=1e-12)


def test_the_wrong_huber_at_d_2_is_continuous_and_accepted():
    """Its jump d(d − 2)/2 vanishes at d = 2 (the notebook's own value): accepted, and equal to the Huber loss."""
    assert value_jumps(loss(WRONG_HUBER, 2.0)) == []
    net = symdl.Network([2, 1], activation="identity", loss=loss(WRONG_HUBER, 2.0)).compile()
    huber = symdl.Network([2, 1], activation="identity", loss=symdl.rule("huber", delta=2.0)).compile()
    params, X, Y = net.init(seed=1), np.linspace(-4, 4, 10).reshape(5, 2), np.zeros((5, 1))
    assert net.loss(params, X, Y) == pytest.approx(huber.loss(params, X, Y), rel=1e-12)


def test_a_jumping_regularizer_is_refused_and_a_declared_jump_is_not_a_loss_matter():
    step = symdl.formula_rule("where(abs(w) < 1, 0, abs(w))", wrt="w")
    x = Input(2)
    with pytest.raises(ValueError, match=r"^regularizer: .* jumps at w = -1 by -1; at w = 1 by 1; a penalty must be continuous"):
        Dense(1, regularizer=step)(x)
    with pytest.raises(ValueError, match=r"^penalty: .* jumps at w = "):
        symdl.Network([2, 1], penalty=step)
    # an activation may jump (hardshrink does by definition): only losses and penalties are refused
    symdl.Network([2, 3, 1], activation=symdl.formula_rule("where(z > 0, z + 1, 0)")).compile()


def test_value_jumps_lists_only_undeclared_nonzero_jumps():
    jumps = value_jumps(loss(WRONG_HUBER, 1.0))
    assert [(str(b.at), b.jump) for b in jumps] == [("y - 1", sp.Rational(1, 2)), ("y + 1", sp.Rational(-1, 2))]
    assert value_jumps(symdl.rule("hardshrink")) == []            # declared by the rule
    assert value_jumps(symdl.formula_rule("log(exp(z) + 1)")) == []



def test_a_saved_model_edited_to_the_wrong_huber_does_not_load(tmp_path, capsys):
    net = symdl.Network([2, 1], loss=loss(HUBER, 1.0)).compile()
    folder = symdl.save(tmp_path / "model", net, net.init(seed=0))
    config = (folder / "model.json").read_text(encoding="utf-8")
    assert config.count("d*(abs(a - y) - d/2)") == 1
    (folder / "model.json").write_text(config.replace("d*(abs(a - y) - d/2)", "d*abs(a - y) - d*2*0.5"), encoding="utf-8")
    with pytest.raises(SavedModelError, match=r"^network: loss: .* jumps at a = y - 1 by 1/2; at a = y \+ 1 by -1/2"):
        symdl.load(folder)
    np.savez(tmp_path / "data.npz", X=np.ones((3, 2)), Y=np.zeros((3, 1)))
    assert main(["evaluate", str(folder), str(tmp_path / "data.npz")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "jumps at a = y - 1" in err, err
