"""symdl.graph: the Keras-style API, the generalised backprop (chain = BP1–BP4), its proofs and compiled gradients."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.backprop.notation import ACTIVATION, OUTPUT_ACTIVATION
from symdl.graph import (
    Activation,
    Add,
    Concatenate,
    Dense,
    Divide,
    Dropout,
    GaussianNoise,
    Input,
    Lambda,
    Model,
    Multiply,
    StopGradient,
)
from symdl.graph.forms import LibraryForms
from symdl.graph.proofs import prove_graph
from symdl.network.rule_forms import activation_forms


def _closed_forms(equations) -> dict:
    """Every equation's left side → its right side with all earlier left sides substituted."""
    subs: dict = {}
    for eq in equations:
        subs[eq.lhs] = eq.rhs.xreplace(subs)
    return subs


class _NetworkNames(LibraryForms):
    """φ named as symdl.Network names it: tanh on the hidden layers (φ), sigmoid on the output layer (φ_L)."""

    def activation(self, rule):
        return activation_forms(rule, {"tanh": ACTIVATION, "sigmoid": OUTPUT_ACTIVATION}[rule.name])


@pytest.mark.parametrize("widths", [(2, 3, 2), (3, 4, 4, 1)])
def test_chain_equations_are_bp1_to_bp4(widths):
    net = symdl.Network(widths, activation="tanh", output_activation="sigmoid", loss="mse")
    bp = net.equations()
    sizes = {sp.Symbol(f"n_{l}", integer=True, positive=True): n for l, n in enumerate(widths)}
    bp_closed = _closed_forms([e.xreplace(sizes) for e in [bp.loss_gradient, *(eq for _, eq in bp.backward)]])
    x = Input(widths[0])
    h = x
    for l, n in enumerate(widths[1:], 1):
        h = Dense(n, activation="sigmoid" if l == len(widths) - 1 else "tanh")(h)
    eqs = Model(x, h, losses="mse").equations(forms=_NetworkNames())
    mine = _closed_forms([*(t.equation for t in eqs.losses), *(eq for _, eq in eqs.backward)])
    for l in range(1, len(widths)):
        for stem in ("W", "b"):
            grad = eqs.param_grads[f"{stem}{l}"]
            assert mine[grad] == bp_closed[grad], (stem, l)
    # the forward pass too
    assert [e.xreplace(sizes) for e in bp.forward] == list(eqs.forward)


def test_chain_equations_differ_from_bp_when_the_graph_differs():
    net = symdl.Network((2, 3, 2), activation="tanh", output_activation="sigmoid", loss="mse")
    bp = net.equations()
    sizes = {sp.Symbol(f"n_{l}", integer=True, positive=True): n for l, n in enumerate((2, 3, 2))}
    bp_closed = _closed_forms([e.xreplace(sizes) for e in [bp.loss_gradient, *(eq for _, eq in bp.backward)]])
    x = Input(2)
    h = Dense(3, activation="tanh")(x)
    out = Dense(2, activation="sigmoid")(Add()([h, Dense(3)(h)]))
    eqs = Model(x, out, losses="mse").equations(forms=_NetworkNames())
    mine = _closed_forms([*(t.equation for t in eqs.losses), *(eq for _, eq in eqs.backward)])
    assert mine[eqs.param_grads["W1"]] != bp_closed[eqs.param_grads["W1"]]


def _residual_model(aux: bool = True) -> Model:
    x = Input(2)
    h = Dense(2, activation="tanh")(x)
    block = Dense(2, activation="sigmoid")
    h = block(Add()([h, block(h)]))
    model = Model(x, Dense(1)(h), losses="mse")
    if aux:
        model.add_loss(Dense(2, activation="sigmoid")(h), "mse", target=x, weight=0.1, reduction="mean")
    return model


def test_concrete_proof_of_a_residual_shared_graph_with_an_auxiliary_loss():
    proofs = prove_graph(_residual_model())
    assert len(proofs) == 8 and all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}


@pytest.mark.parametrize(
    ("mutation", "wrong"),
    [("drop_skip", {"W1", "b1"}), ("last_use_only", {"W2", "b2"}), ("no_aux", {"W1", "b1", "W2", "b2", "W4", "b4"})],
)
def test_concrete_proof_refutes_planted_mistakes(mutation, wrong):
    proofs = prove_graph(_residual_model(), mutation=mutation)
    refuted = {label.split()[0][4:] for label, p in proofs.items() if not p}
    assert refuted == wrong
    assert all("exactly" in p.method for p in proofs.values() if not p)


def test_concrete_proof_of_merges_stop_gradient_noise_and_dropout():
    x1, x2 = Input(2), Input(2)
    a = Dense(2, activation="tanh")(x1)
    b = Dense(2, activation="softplus")(x2)
    stopped = StopGradient()(b)
    m = Multiply()([a, stopped])
    d = Divide()([a, Activation("exponential")(b)])
    c = Concatenate()([GaussianNoise(0.1)(m), Dropout(0.25)(d)])
    model = Model([x1, x2], [Dense(1)(c), a], losses=["mse", "mae"], loss_weights=[1.0, 0.5])
    proofs = prove_graph(model)
    assert all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}


def test_stop_gradient_blocks_exactly_its_path():
    x = Input(2)
    d = Dense(2, activation="tanh")
    out = Dense(1)(StopGradient()(d(x)))
    model = Model(x, out)
    c = model.compile()
    params = c.init(0)
    X, Y = np.ones((3, 2)), np.ones((3, 1))
    _, grads = c.loss_and_grad(params, X, Y)
    assert not grads["W1"].any() and not grads["b1"].any() and grads["W2"].any()


def _finite_differences(c, params, inputs, targets, seed=0, eps=1e-6):
    out = {}
    for key, value in params.items():
        num = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up = {k: v.copy() for k, v in params.items()}
            up[key][index] += eps
            down = {k: v.copy() for k, v in params.items()}
            down[key][index] -= eps
            num[index] = (c.loss(up, inputs, targets, seed) - c.loss(down, inputs, targets, seed)) / (2 * eps)
        out[key] = num
    return out


def test_compiled_gradients_match_finite_differences_with_noise_dropout_and_a_regulariser():
    x = Input(3)
    # a shared block with its own regulariser: Ω(W) enters C once, however many uses
    block = Dense(3, activation="elu", init="he_normal", regularizer=symdl.rule("l1", lam=0.03))
    h = Dense(3, activation="selu", init="lecun_normal", regularizer=symdl.rule("l2", lam=0.01))(x)
    for _ in range(3):
        h = Add()([h, block(Dropout(0.2)(h))])
    h = GaussianNoise(0.3)(h)
    model = Model(x, Dense(2)(h), losses="huber")
    c = model.compile()
    params = c.init(3)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    loss, grads = c.loss_and_grad(params, X, Y, seed=5)
    assert loss == c.loss(params, X, Y, seed=5)
    assert loss != c.loss(params, X, Y, seed=6)  # the masks follow the seed
    numeric = _finite_differences(c, params, X, Y, seed=5)
    for key in params:
        np.testing.assert_allclose(grads[key], numeric[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_inference_forward_has_no_noise_and_no_dropout():
    x = Input(4)
    h = Dropout(0.5)(GaussianNoise(1.0)(x))
    model = Model(x, Dense(2)(h))
    c = model.compile()
    params = c.init(0)
    X = np.arange(8.0).reshape(2, 4)
    clean = Model(x, Dense(2)(x))
    np.testing.assert_array_equal(c.forward(params, X), X @ params["W1"].T + params["b1"])
    assert c.forward(params, X) is not None and clean is not None


def test_shared_layer_is_one_parameter_set():
    x = Input(3)
    block = Dense(3, activation="tanh")
    out = block(block(block(x)))
    model = Model(x, out)
    assert sorted(model.parameter_shapes) == ["W1", "b1"]
    eqs = model.equations()
    (label,) = [label for label, eq in eqs.backward if eq.lhs == eqs.param_grads["W1"]]
    assert "sum over 3 uses" in label


def test_weight_constraint_projects_after_each_step():
    x = Input(3)
    model = Model(x, Dense(2, constraint="non_neg")(x))
    c = model.compile()
    params = c.init(0)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    assert (params["W1"] < 0).any()
    c.train_step(params, X, Y, 0.1)
    assert (params["W1"] >= 0).all()
    assert "numpy.maximum" in c.source()


def test_two_inputs_three_outputs_and_an_optimizer():
    x1, x2 = Input(2), Input(2)
    outs = [Add()([x1, x2]), Multiply()([x1, x2]), Divide()([x1, x2])]
    heads = [Dense(1)(o) for o in outs]
    model = Model([x1, x2], heads, losses="mse", loss_weights=[1.0, 0.5, 0.25])
    c = model.compile(optimizer=symdl.optimizer("adam", lr=0.05))
    params = c.init(0)
    state = c.init_state(params)
    rng = np.random.default_rng(2)
    X1, X2 = rng.normal(size=(16, 2)), rng.uniform(1, 2, size=(16, 2))
    Ys = [X1.sum(1, keepdims=True), (X1 * X2).sum(1, keepdims=True), (X1 / X2).sum(1, keepdims=True)]
    first = c.train_step(params, [X1, X2], Ys, state)
    for _ in range(200):
        last = c.train_step(params, [X1, X2], Ys, state)
    assert last < first / 10 and state["t"] == 201
    outputs = c.forward(params, X1, X2)
    assert len(outputs) == 3 and outputs[2].shape == (16, 1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Dense(0), "units"),
        (lambda: Dense(2, activation="prelu")(Input(2)), "learned activation inputs"),
        (lambda: Dense(2, constraint="positive"), "constraint"),
        (lambda: Add()(Input(2)), "two or more"),
        (lambda: Add()([Input(2), Input(3)]), "different widths"),
        (lambda: Lambda("no_such_rule"), "unknown rule"),
        (lambda: Dropout(1.0), "drop probability"),
        (lambda: GaussianNoise(-1), "stddev"),
        (lambda: Input(0), "width"),
        (lambda: Model(Input(2), Dense(1)(Input(2))).nodes, "not among the model's inputs"),
        (lambda: Model(Input(2), Input(2), losses="tanh"), "not a loss"),
    ],
)
def test_bad_input_is_one_clear_error(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_a_layer_called_on_an_array_names_it_in_one_line():
    # an array's repr spans one line per row: the message shows its excerpt
    for given in ((np.ones((50, 40)),), ([Input(2), np.ones((50, 40))],)):
        with pytest.raises(TypeError, match=r"^Dense: call it on nodes .*, got array\(\[\[1\., 1\., .*\.\.\.$") as error:
            Dense(3)(*given)
        assert "\n" not in str(error.value) and len(str(error.value)) < 160


def test_wrong_arrays_are_refused():
    x = Input(2)
    c = Model(x, Dense(1)(x)).compile()
    params = c.init(0)
    with pytest.raises(ValueError, match="shape"):
        c.loss(params, np.ones((3, 3)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="batch sizes"):
        c.loss(params, np.ones((3, 2)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="params"):
        c.loss({}, np.ones((3, 2)), np.ones((3, 1)))


def test_verify_row_catches_every_planted_mistake():
    from symdl.verify.graphs import verify_graphs

    (report,) = verify_graphs()
    assert report.passed and report.proven
    assert (report.mutants_killed, report.mutants_total) == (3, 3)


def test_verify_formula_row_proves_checks_the_module_and_catches_every_planted_mistake():
    """The notebook's MyDense (shared, with a skip) and MyMultiLayer as formulas: derived, proven, FD-checked, its numpy
    module equal to the compiled graph, and a dropped skip, one use of the shared weights, a missing aux term refuted."""
    from symdl.verify.graphs import verify_graphs

    (report,) = verify_graphs("formula")
    assert report.passed and report.proven and report.name == "graph formula layers (notebook)"
    assert any("numpy module" in label for label in report.proofs)
    assert (report.mutants_killed, report.mutants_total) == (3, 3)
    with pytest.raises(ValueError, match="expected 'residual' or 'formula'"):
        verify_graphs("other")


def test_module_checks_fail_for_a_module_that_prints_wrong_numbers(monkeypatch):
    """The module check can fail: a module whose gradients are off by a factor is caught."""
    import symdl.export.graph_modules as modules
    from symdl.verify.graphs import formula_graph, graph_module_checks

    real = modules.graph_module_source
    monkeypatch.setattr(modules, "graph_module_source",
                        lambda *a, **k: real(*a, **k).replace("return loss, {", "return 1.0001 * loss, {"))
    assert not any(graph_module_checks(formula_graph()).values())


def test_graph_equations_show_themselves_in_notebooks():
    x = Input(2)
    h = Dense(2, activation="tanh")(x)
    eqs = Model(x, Dense(1)(Add()([h, Dense(2, activation="tanh")(h)]))).equations()
    bundle = eqs._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/latex", "text/html", "application/mathml+xml"}  # MathML renders offline
    assert "<math" in bundle["text/html"] and bundle["application/mathml+xml"].lstrip().startswith("<math")
    assert r"\frac{\partial C}{\partial h^{3}}" in bundle["text/latex"] and "sum over 2 terms" in bundle["text/plain"]


def test_float32_computes_the_float64_numbers():
    x1, x2 = Input(3), Input(2)
    h = Concatenate()([Dense(4, activation="softplus")(x1), Multiply()([x2, Dense(2, activation="sigmoid")(x2)])])
    model = Model([x1, x2], Dense(2)(Dropout(0.25)(h)), losses="log_cosh")
    wide, narrow = model.compile("float64"), model.compile("float32")
    params = wide.init(0)
    rng = np.random.default_rng(4)
    data = [rng.normal(size=(9, 3)), rng.normal(size=(9, 2))]
    Y = rng.normal(size=(9, 2))
    loss, grads = wide.loss_and_grad(params, data, Y, seed=2)
    loss32, grads32 = narrow.loss_and_grad({k: v.astype("float32") for k, v in params.items()},
                                           [d.astype("float32") for d in data], Y.astype("float32"), seed=2)
    assert type(loss32) is np.float32 and all(g.dtype == np.float32 for g in grads32.values())
    np.testing.assert_allclose(loss32, loss, rtol=1e-5)
    for key in grads:
        np.testing.assert_allclose(grads32[key], grads[key], rtol=1e-3, atol=1e-5, err_msg=key)


def test_concrete_proof_with_softmax_and_the_softmax_cross_entropy():
    x = Input(1)
    h = Dense(1, activation="tanh")(x)
    model = Model(x, Dense(2, activation="softmax")(h), losses="mse")
    model.add_loss(Dense(2)(h), "softmax_cross_entropy", weight=0.5)
    proofs = prove_graph(model)
    assert len(proofs) == 6 and all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}
    assert not all(prove_graph(model, mutation="no_aux").values())


def test_a_new_layer_type_with_a_node_of_its_own_is_proven_and_compiled():
    from symdl.graph.blocks import ArrayNode
    from symdl.graph.nodes import Backward, GraphLayer

    class Reversed(ArrayNode):
        """X with its rows in reverse order."""

        def __new__(cls, array):
            return sp.Basic.__new__(cls, array)

        @property
        def shape(self):
            return self.args[0].shape

        def scalar_value(self, arrays):
            return sp.Matrix(arrays[0][::-1])

        def array_code(self, args, module):
            return f"{args[0]}[:, ::-1].copy()"

    class Flip(GraphLayer):
        def forward(self, use):
            return [sp.Eq(use.output, Reversed(use.inputs[0]), evaluate=False)]

        def backward(self, use, upstream):
            return Backward((), (Reversed(upstream),))

    x = Input(2)
    model = Model(x, Dense(2)(Flip()(Dense(3, activation="tanh")(x))))
    assert all(prove_graph(model).values())
    c = model.compile()
    params = c.init(0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    _, grads = c.loss_and_grad(params, X, Y)
    numeric = _finite_differences(c, params, X, Y)
    for key in params:
        np.testing.assert_allclose(grads[key], numeric[key], rtol=1e-6, atol=1e-8, err_msg=key)


def test_unchecked_entry_points_give_the_checked_results_bit_for_bit():
    x = Input(3)
    h = Dense(4, activation="elu")(x)
    compiled = Model(x, Dense(2)(Add()([h, Dense(4, activation="tanh")(h)])), losses="mse").compile("float32")
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((6, 3)).astype("float32"), rng.standard_normal((6, 2)).astype("float32")
    params = compiled.init(1)
    fast = compiled.unchecked
    np.testing.assert_array_equal(fast.forward(params, X), compiled.forward(params, X))
    assert fast.loss(params, X, Y) == compiled.loss(params, X, Y)
    loss, grads = fast.loss_and_grad(params, X, Y)
    loss0, grads0 = compiled.loss_and_grad(params, X, Y)
    assert loss == loss0 and list(grads) == list(grads0)
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads0[k])
    mine, theirs = ({k: v.copy() for k, v in params.items()} for _ in range(2))
    assert fast.train_step(mine, X, Y, 0.1) == compiled.train_step(theirs, X, Y, 0.1)
    for k in mine:
        np.testing.assert_array_equal(mine[k], theirs[k])
    with pytest.raises(ValueError, match="X"):  # the checked entry point still refuses what the fast one trusts
        compiled.loss_and_grad(params, X[:, :2], Y)
