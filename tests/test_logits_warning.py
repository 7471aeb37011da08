"""A loss that takes logits after an output activation that squashes them: one UserWarning, as Keras' ``from_logits``.

Keras: "`categorical_crossentropy` received `from_logits=True`, but the `output` argument was produced by a Softmax
activation and thus does not represent logits". CE(softmax(softmax(z)), y) trains, silently squashing twice.
"""

import warnings

import pytest

import symdl
from symdl.cli import main
from symdl.graph import Activation, Dense, Input, Model
from symdl.network.rule_forms import LogitsLossWarning


def _no_warning(build):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build()


@pytest.mark.parametrize(("activation", "loss", "own"), [
    ("softmax", "softmax_cross_entropy", "softmax"),
    ("sigmoid", "binary_cross_entropy", "sigmoid"),
    ("sigmoid", "softmax_cross_entropy", "softmax"),
    ("softmax", "binary_cross_entropy", "sigmoid"),
    ("hard_sigmoid", "binary_cross_entropy", "sigmoid"),
    ("sparsemax", "softmax_cross_entropy", "softmax"),
])
def test_a_network_with_a_squashing_output_under_a_logits_loss_warns_once(activation, loss, own):
    with pytest.warns(LogitsLossWarning) as caught:
        symdl.Network([3, 4, 3], activation="relu", output_activation=activation, loss=loss)
    assert len(caught) == 1 and issubclass(caught[0].category, UserWarning)
    assert caught[0].filename == __file__  # points at the caller's Network(...) line, as Keras' points at the user's
    message = str(caught[0].message)
    assert message.startswith(f"Network: loss {loss!r} takes logits (it applies {own} itself, as from_logits=True)")
    assert f"produced by a {activation} activation" in message and "output_activation='identity'" in message


@pytest.mark.parametrize(("activation", "loss"), [
    ("identity", "softmax_cross_entropy"),
    ("identity", "binary_cross_entropy"),
    ("softmax", "mse"),
    ("sigmoid", "mse"),
    ("sigmoid", "huber"),
    ("tanh", "binary_cross_entropy"),
    ("log_softmax", "softmax_cross_entropy"),  # softmax(log_softmax(z)) = softmax(z): the same loss, not squashed twice
])
def test_the_right_pairings_build_without_a_warning(activation, loss):
    _no_warning(lambda: symdl.Network([3, 4, 3], activation="relu", output_activation=activation, loss=loss))


def test_a_formula_output_is_the_users_own_function_and_never_warns():
    squash = symdl.formula_rule("1/(1 + exp(-z))")
    _no_warning(lambda: symdl.Network([3, 4, 1], output_activation=squash, loss="binary_cross_entropy"))


def test_a_hidden_sigmoid_shared_by_the_output_warns_as_an_output_sigmoid():
    with pytest.warns(LogitsLossWarning, match="produced by a sigmoid activation"):
        symdl.Network([3, 4, 1], activation="sigmoid", output_activation="sigmoid", loss="binary_cross_entropy")


def test_a_graph_output_warns_for_dense_and_activation_layers_and_add_loss():
    x = Input(3)
    with pytest.warns(LogitsLossWarning, match="^Model: loss 'softmax_cross_entropy' .* softmax activation") as caught:
        Model(x, Dense(3, activation="softmax")(x), losses="softmax_cross_entropy")
    assert len(caught) == 1 and caught[0].filename == __file__
    assert "Dense(units) without activation=" in str(caught[0].message)
    with pytest.warns(LogitsLossWarning, match="^Model: loss 'binary_cross_entropy' .* sigmoid activation"):
        Model(x, Activation("sigmoid")(Dense(2)(x)), losses=["binary_cross_entropy"])
    model = _no_warning(lambda: Model(x, Dense(2)(x), losses="mse"))
    with pytest.warns(LogitsLossWarning, match="^add_loss: loss 'binary_cross_entropy'") as caught:
        model.add_loss(Dense(1, activation="sigmoid")(x), "binary_cross_entropy")
    assert caught[0].filename == __file__


def test_graph_outputs_with_logits_or_other_losses_do_not_warn():
    x = Input(3)
    h = Dense(4, activation="softmax")(x)  # a softmax inside the graph, under no loss
    _no_warning(lambda: Model(x, [Dense(3)(h), Dense(1)(h), h], losses=["softmax_cross_entropy", "binary_cross_entropy", "mse"]))


def test_the_cli_says_it_on_one_warning_line_and_still_writes_the_module(capsys, tmp_path):
    out = tmp_path / "net.py"
    code = main(["codegen", "--layers", "3,4,3", "--output-activation", "softmax", "--loss", "softmax_cross_entropy",
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and out.exists()
    assert err.count("\n") == 1 and err.startswith("symdl: warning: Network: loss 'softmax_cross_entropy' takes logits")
    assert "Traceback" not in err and "warnings.warn" not in err


def test_the_cli_warns_once_even_where_the_network_is_built_twice(capsys, tmp_path):
    code = main(["report", "backprop", "-o", str(tmp_path), "--format", "md", "--no-verify", "--no-plots",
                 "--output-activation", "sigmoid", "--loss", "binary_cross_entropy"])
    err = capsys.readouterr().err
    assert code == 0 and err.count("symdl: warning:") == 1 and "sigmoid activation" in err, err


def test_the_cli_says_nothing_for_the_right_pairing(capsys, tmp_path):
    code = main(["codegen", "--layers", "3,4,3", "--loss", "softmax_cross_entropy", "-o", str(tmp_path / "net.py")])
    assert code == 0 and capsys.readouterr().err == ""
