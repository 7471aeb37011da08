"""Graph models as standalone numpy / JAX / PyTorch modules (symdl.export.graph_module_source).

Each notebook model's module is imported in a fresh interpreter that must not load sympy or symdl; there its
forward, loss, loss_and_grad and two train_steps are run, and JAX's jax.grad / torch's autograd (through
torch.func.functionalize, the printed code writes in place) of the module's own loss are taken. Here every
number is compared with the compiled numpy graph, given the module's noise and dropout masks.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from formula_graphs import formula_graph
from generated_modules import assert_ruff_clean, load_module
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source
from symdl.graph import (
    GLU,
    Add,
    BatchNorm,
    Concatenate,
    Dense,
    Divide,
    Dropout,
    GaussianNoise,
    Input,
    Model,
    Multiply,
    PReLU,
    StopGradient,
    save_graph,
)
from symdl.graph.blocks import ArrayNode
from symdl.graph.nodes import Backward, GraphLayer

try:  # the random graphs of tests/test_graph_torch.py (it needs torch)
    from test_graph_torch import graphs
except pytest.skip.Exception:
    graphs = None

M, SEED, LR = 6, 3, 0.05


def residual() -> Model:
    """ResidualRegressor in small: a dense ELU layer, one two-layer ELU block applied twice (shared), another block."""
    def block():
        hidden = [Dense(4, activation="elu", init="he_normal") for _ in range(2)]

        def call(x):
            z = x
            for layer in hidden:
                z = layer(z)
            return Add()([x, z])
        return call

    x = Input(3)
    b1, b2 = block(), block()
    z = Dense(4, activation="elu", init="he_normal")(x)
    return Model(x, Dense(1)(b2(b1(b1(z)))), losses="mse")


def multi_io() -> Model:
    """MyMultiLayer: two inputs, X1 + X2, X1 * X2, X1 / X2 with dense heads, weighted losses; a constant loss term."""
    x1, x2 = Input(2), Input(2)
    heads = [Dense(1, activation="tanh")(n) for n in (Add()([x1, x2]), Multiply()([x1, x2]), Divide()([x1, x2]))]
    model = Model([x1, x2], heads, losses=["mse", "mse", "huber"], loss_weights=[1.0, 0.5, 2.0])
    return model.add_loss(x1, "mse", target=x1)  # ℓ(x, x) = 0: a constant term


def auxiliary() -> Model:
    """ReconstructingRegressor in small: SELU layers, an auxiliary reconstruction loss (mean), L1 and positive weights."""
    x = Input(3)
    z = x
    for _ in range(2):
        z = Dense(5, activation="selu", init="lecun_normal")(z)
    out = Dense(1, regularizer=symdl.rule("l1", lam=0.01), constraint="non_neg")(z)
    return Model(x, out, losses="mse").add_loss(Dense(3)(z), "mse", target=x, weight=0.1, reduction="mean")


def stopped() -> Model:
    """tf.stop_gradient inside the model: a branch that passes its value but no gradient, concatenated."""
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    k = Dense(2, activation="sigmoid")(h)
    return Model(x, Dense(2, activation="softmax")(Concatenate()([StopGradient()(k), h])), losses="softmax_cross_entropy")


def gated() -> Model:
    """A GLU between two Dense layers: the halves are slices, the gate a sigmoid, the output their product."""
    x = Input(3)
    return Model(x, Dense(2)(GLU()(Dense(4)(x))), losses="mse")


def noisy() -> Model:
    """MyGaussianNoise and dropout: noise in training, identity in inference."""
    x = Input(3)
    h = GaussianNoise(0.3)(Dense(4, activation="tanh")(x))
    return Model(x, Dense(2)(Dropout(0.25)(Dense(4, activation="softplus")(h))), losses="mse")


def leaky() -> Model:
    """PReLU: one learned slope per unit, the same layer (one α) used twice, trained by Adam."""
    x = Input(3)
    act = PReLU(0.25)
    return Model(x, Dense(2)(act(Dense(3)(act(Dense(3)(x))))), losses="mse")


def normed() -> Model:
    """BatchNorm (Keras' momentum and ε), one layer used twice: batch statistics in training, the moving ones in forward.

    The Dense before the second use has no bias: batch norm subtracts the batch mean, so a bias's gradient there is 0
    up to rounding, and Adam would move it by its rounding noise."""
    x = Input(3)
    bn = BatchNorm(momentum=0.9)
    return Model(x, Dense(2)(bn(Dense(3, use_bias=False)(bn(Dense(3, activation="tanh")(x))))), losses="mse")


MODELS = {"residual": residual, "multi_io": multi_io, "auxiliary": auxiliary, "stopped": stopped, "noisy": noisy,
          "formula": formula_graph, "gated": gated, "leaky": leaky, "normed": normed, "normed_sgd": normed}
OPTIMIZER = {"residual": "adam", "leaky": "adam", "normed": "adam"}


@functools.cache
def _model(build) -> Model:
    """One model per builder (normed_sgd's is normed's), as a user prints several modules of one model."""
    return build()


@functools.cache
def _source(build, backend: str, dtype: str, optimizer: str | None) -> str:
    """graph_module_source, printed once per process for each (model, backend, dtype, optimizer): the modules the
    runner imports are among those the ruff tests check, and normed_sgd's float64 ones are normed's."""
    return graph_module_source(_model(build), backend, dtype, optimizer)


RUNNER = textwrap.dedent('''
    import importlib.util, json, pickle, sys
    import numpy as np
    backend, work = sys.argv[1], sys.argv[2]
    if backend == "jax":
        import jax
    if backend == "torch":
        import torch
    spec = json.load(open(f"{work}/spec.json"))

    def load(path, name):
        s = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        return mod

    def to(a):
        return jax.numpy.asarray(a) if backend == "jax" else torch.tensor(a) if backend == "torch" else np.array(a)

    def run(name, entry, out):
        mod = load(f"{work}/{name}_{backend}.py", f"{name}_{backend}")
        data = np.load(f"{work}/{name}.npz")
        params = {k: to(data["p_" + k]) for k in entry["params"]}
        arrays = [to(data[n]) for n in entry["arrays"]]
        kw = {"seed": entry["seed"]} if entry["seeded"] else {}
        if backend != "jax" or entry["jax_init"]:  # JAX's init_params compiles each draw: one model is enough
            out[name + "/init"] = {k: np.asarray(v) for k, v in mod.init_params(1).items()}
        fwd = mod.forward(params, *arrays[:entry["n_in"]])
        out[name + "/forward"] = [np.asarray(f) for f in (fwd if isinstance(fwd, tuple) else (fwd,))]
        out[name + "/loss"] = float(mod.loss(params, *arrays, **kw))
        out[name + "/inference_loss"] = float(mod.inference_loss(params, *arrays))
        value, grads = mod.loss_and_grad(params, *arrays, **kw)
        out[name + "/value"] = float(value)
        out[name + "/grads"] = {k: np.asarray(v) for k, v in grads.items()}
        if entry["seeded"]:
            out[name + "/masks"] = {k: np.asarray(v) for k, v in mod.masks(entry["seed"], len(data[entry["arrays"][0]])).items()}
        fresh = {k: to(data["p_" + k]) for k in entry["params"]}
        step = [mod.init_state(params)] if entry["optimizer"] else [entry["lr"]]
        losses = []
        for _ in range(2):
            if backend == "jax" and entry["optimizer"]:
                value, params, step[0] = mod.train_step(params, *arrays, *step, **kw)
            else:
                value = mod.train_step(params, *arrays, *step, **kw)
            losses.append(float(value))
        out[name + "/steps"] = losses
        out[name + "/trained"] = {k: np.asarray(v) for k, v in params.items()}
        return mod, fresh, arrays, kw

    def autodiff(name, mod, params, arrays, kw, out):
        if backend == "jax":
            extra = (jax.random.PRNGKey(kw["seed"]),) if kw else ()
            auto = jax.grad(lambda p: mod.loss_unchecked(p, *arrays, *extra))(params)
        else:
            auto = torch.func.grad(torch.func.functionalize(lambda p: mod.loss.__wrapped__(p, *arrays, **kw)))(params)
        out[name + "/autodiff"] = {k: np.asarray(v) for k, v in auto.items()}

    out, modules = {}, {}
    for name, entry in spec.items():
        modules[name] = run(name, entry, out)
    assert "sympy" not in sys.modules and "symdl" not in sys.modules, "the generated modules imported sympy or symdl"
    if backend != "numpy":  # torch.func imports sympy itself: after the check
        for name, found in modules.items():
            autodiff(name, *found, out)
    pickle.dump(out, open(f"{work}/out_{backend}.pkl", "wb"))
''')


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Each model compiled, its data, params and the spec the runner reads; the modules written for every backend."""
    work = tmp_path_factory.mktemp("graph_modules")
    rng = np.random.default_rng(0)
    spec, compiled = {}, {}
    for name, build in MODELS.items():
        model = _model(build)
        c = model.compile("float64", OPTIMIZER.get(name))
        params = c.init(1)
        xs = [rng.normal(size=(M, w)) for _, w in c._inputs]
        if name == "multi_io":
            xs[1] = rng.uniform(1, 2, size=(M, 2)) * rng.choice([-1, 1], size=(M, 2))  # no division by 0
        ys = [rng.normal(size=(M, w)) for _, w in c._targets]
        if name == "stopped":
            ys = [np.eye(2)[rng.integers(0, 2, M)]]
        names = [n for n, _ in (*c._inputs, *c._targets)]
        np.savez(work / f"{name}.npz", **{f"p_{k}": v for k, v in params.items()}, **dict(zip(names, [*xs, *ys])))
        spec[name] = {"params": list(c.param_names), "arrays": names, "n_in": len(xs), "seeded": bool(c._masks_spec),
                      "seed": SEED, "optimizer": name in OPTIMIZER, "lr": LR, "jax_init": name == "residual"}
        compiled[name] = (model, c, params, xs, ys)
        for backend in ("numpy", "jax", "torch"):
            (work / f"{name}_{backend}.py").write_text(_source(build, backend, "float64", OPTIMIZER.get(name)))
    (work / "spec.json").write_text(json.dumps(spec))
    (work / "runner.py").write_text(RUNNER)
    return work, compiled


def _run(work, backend: str) -> dict:
    pytest.importorskip(backend)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the module must not find symdl
    done = subprocess.run([sys.executable, str(work / "runner.py"), backend, str(work)], capture_output=True, text=True,
                          env=env, cwd=work, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    import pickle

    with open(work / f"out_{backend}.pkl", "rb") as stream:
        return pickle.load(stream)


def _with_masks(c, masks: dict | None) -> None:
    """Make the compiled graph draw ``masks`` (the module's) in every training call; None: its own draws."""
    own = c._masks
    c._loss.__globals__["_masks"] = own if masks is None else lambda seed, m: [masks[k] for k in c.equations.masks]


def _kink_ties(call) -> int:
    """How many elements ``call()`` (a printed torch function) hands a clamp, maximum or minimum exactly at its kink.

    There the printed derivative takes Heaviside(0) = 0 (relu'(0) = 0, as torch.relu), while autograd of
    torch.clamp(z, min=0) passes 1, and of torch.maximum ½: both are subgradients, so autograd can only be compared
    away from ties. A dead ReLU row before a Dense with zero biases puts its z exactly on 0."""
    import torch
    from torch.overrides import TorchFunctionMode

    kinked = {torch.clamp, torch.clip, torch.maximum, torch.minimum, torch.Tensor.clamp, torch.Tensor.clamp_}

    class Ties(TorchFunctionMode):
        count = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in kinked:
                x, bounds = args[0], [*args[1:3], kwargs.get("min"), kwargs.get("max")]
                Ties.count += sum(int(torch.eq(x, b).sum()) for b in bounds if b is not None)
            return func(*args, **kwargs)

    with Ties():
        call()
    return Ties.count


def _close(a, b, what: str, rtol: float = 1e-11) -> None:
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_module_without_sympy_agrees_with_the_compiled_graph(prepared, backend):
    work, compiled = prepared
    out = _run(work, backend)
    for name, (model, c, params, xs, ys) in compiled.items():
        init = out.get(f"{name}/init", {})
        assert not init or {k: v.shape for k, v in init.items()} == {k: v.shape for k, v in params.items()}
        for k, v in c.init(1).items() if init else ():
            if backend == "numpy":  # CompiledGraph.init's numbers, drawn with the same generator
                np.testing.assert_array_equal(init[k], v)
            elif v.ndim == 1:  # biases: their constant
                np.testing.assert_array_equal(init[k], v)
            else:  # another generator: other numbers from the same scheme
                assert not np.array_equal(init[k], v) and np.unique(init[k]).size == init[k].size
        masks = out.get(f"{name}/masks")
        if backend == "numpy" and masks is not None:  # the numpy module draws the compiled graph's own masks
            for k, v in c.masks(SEED, M).items():
                np.testing.assert_array_equal(masks[k], v)
        fresh = c
        _with_masks(fresh, None if backend == "numpy" else masks)
        fwd = fresh.forward(params, *xs)
        for got, want in zip(out[f"{name}/forward"], fwd if isinstance(fwd, tuple) else (fwd,)):
            _close(got, want, f"{backend} {name} forward")
        value, grads = fresh.loss_and_grad(params, xs, ys, seed=SEED)
        _close(out[f"{name}/loss"], value, f"{backend} {name} loss")
        _close(out[f"{name}/inference_loss"], c.inference_loss(params, xs, ys), f"{backend} {name} inference_loss")
        _close(out[f"{name}/value"], value, f"{backend} {name} loss_and_grad")
        assert out[f"{name}/grads"].keys() == grads.keys()
        for k in grads:
            _close(out[f"{name}/grads"][k], grads[k], f"{backend} {name} d{k}", rtol=1e-10)
            if backend != "numpy":  # the library's autodiff of the module's own printed loss
                _close(out[f"{name}/autodiff"][k], out[f"{name}/grads"][k], f"{backend} {name} autodiff d{k}", rtol=1e-9)
        trained = {k: v.copy() for k, v in params.items()}
        step = (fresh.init_state(trained),) if name in OPTIMIZER else (LR,)
        steps = [fresh.train_step(trained, xs, ys, *step, seed=SEED) for _ in range(2)]
        _close(out[f"{name}/steps"], steps, f"{backend} {name} train_step losses")
        for k in trained:
            _close(out[f"{name}/trained"][k], trained[k], f"{backend} {name} trained {k}", rtol=1e-10)
        if name == "auxiliary":  # the constraint ran: no negative output weight
            assert (out[f"{name}/trained"]["W3"] >= 0).all()


def test_torch_noise_and_dropout_masks_follow_their_laws(prepared):
    """torch's masks: N(0, 0.3²) and Bernoulli(0.75), other numbers for another seed (forward has none: checked above)."""
    pytest.importorskip("torch")
    work, compiled = prepared
    import importlib.util

    spec = importlib.util.spec_from_file_location("noisy_torch_law", work / "noisy_torch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    masks = mod.masks(5, 4000)
    eps, keep = masks["eps2"].numpy(), masks["r4"].numpy()
    assert abs(eps.mean()) < 0.02 and abs(eps.std() - 0.3) < 0.01
    assert set(np.unique(keep)) == {0.0, 1.0} and abs(keep.mean() - 0.75) < 0.02
    assert not np.array_equal(mod.masks(6, 10)["eps2"].numpy(), mod.masks(5, 10)["eps2"].numpy())


def test_parameterless_graph_with_an_optimizer_prints_and_runs():
    """MyMultiLayer without weights: no `, = _check_params(...)` (it was a syntax error), a loss of the outputs alone."""
    x1, x2 = Input(2), Input(2)
    model = Model([x1, x2], [Add()([x1, x2]), Multiply()([x1, x2])], losses=["mse", None])
    c = model.compile("float64", "adam")
    a, b = np.ones((2, 2)), np.full((2, 2), 2.0)
    assert c.train_step({}, [a, b], [a], c.init_state({})) == pytest.approx(0.5 * (3 - 1) ** 2 * 2)  # per row: 2 entries
    for backend in ("numpy", "jax", "torch"):
        compile(graph_module_source(model, backend, optimizer="adam"), backend, "exec")


class _Twice(ArrayNode):
    """A node only numpy can print: a future node type, for the exporter to refuse."""

    def __new__(cls, x):
        import sympy as sp

        return sp.Basic.__new__(cls, x)

    @property
    def shape(self):
        return self.args[0].shape

    def array_code(self, args, module):
        return f"2 * {args[0]}"


class _TwiceLayer(GraphLayer):
    def forward(self, use):
        import sympy as sp

        return [sp.Eq(use.output, _Twice(use.inputs[0]), evaluate=False)]

    def backward(self, use, upstream):
        return Backward((), (2 * upstream,))


def test_unknown_node_kind_is_refused_in_one_line():
    x = Input(2)
    model = Model(x, Dense(1)(_TwiceLayer()(x)))
    assert "2 * X" in graph_module_source(model, "numpy")
    for backend in ("jax", "torch"):
        with pytest.raises(ValueError, match="_Twice node, which has no") as error:
            graph_module_source(model, backend)
        assert "\n" not in str(error.value)


def test_formula_kernels_are_one_expression_printed_for_each_backend():
    """The formula graph's kernels (the modules' numbers are checked above): the same functions in every module."""
    import re

    kernels = {b: set(re.findall(r"^def (_(?:mydense|scaled|quad|mult)_\w+)\(", _source(formula_graph, b, "float64", None),
                                 re.MULTILINE)) for b in ("numpy", "jax", "torch")}
    assert kernels["numpy"] and kernels["numpy"] == kernels["jax"] == kernels["torch"]
    assert any("_sum_" in k for k in kernels["numpy"]) and any("_vjp_W_" in k for k in kernels["numpy"])


def test_cli_codegen_graph_writes_the_module_and_refuses_bad_input(tmp_path, capsys):
    """The module through a real `python -m symdl`; the refusals in-process (symdl.cli.main, as the console entry)."""
    from symdl.cli import main

    model = stopped()
    c = model.compile("float32")
    save_graph(tmp_path / "saved", c, c.init(0))
    out = tmp_path / "graph_torch.py"
    run = ["codegen", "--graph", str(tmp_path / "saved")]
    done = subprocess.run([sys.executable, "-m", "symdl", *run, "--backend", "torch", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == graph_module_source(model, "torch", "float32")
    for extra, message in ((["--loss", "mae"], "--loss does not apply to --graph"),):
        assert main([*run, *extra, "-o", str(tmp_path / "no.py")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
        assert not (tmp_path / "no.py").exists()
    assert main(["codegen", "--graph", str(tmp_path), "-o", str(tmp_path / "no.py")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.json is missing" in err and not (tmp_path / "no.py").exists()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                               HealthCheck.function_scoped_fixture])
@pytest.mark.skipif(graphs is None, reason="needs torch")
@given(data=st.data())
def test_random_graphs_torch_module_matches_compiled_graph_and_its_own_autograd(tmp_path, data):
    """Hypothesis-drawn graphs (tests/test_graph_torch.py's): the torch module against the compiled graph given the
    module's masks, and torch autograd of the module's own loss against its printed gradient."""
    import torch

    model, seed = data.draw(graphs()), data.draw(st.integers(0, 2**16))
    c = model.compile("float64", validate_targets=False)  # any real targets, as tests/test_graph_torch.py compares them
    mod = load_module(graph_module_source(model, "torch"), tmp_path, f"random_graph_{seed}")
    params = c.init(seed)
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(4, w)) for _, w in c._inputs]
    ys = [rng.normal(size=(4, w)) for _, w in c._targets]
    tparams = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    arrays = [torch.from_numpy(a) for a in (*xs, *ys)]
    kw = {"seed": seed} if c._masks_spec else {}
    value, grads = mod.loss_and_grad(tparams, *arrays, **kw)
    _with_masks(c, {k: v.numpy() for k, v in mod.masks(seed, 4).items()} if kw else None)
    want, want_grads = c.loss_and_grad(params, xs, ys, seed=seed)
    _close(float(value), want, "loss")
    for k in want_grads:
        _close(grads[k].numpy(), want_grads[k], f"d{k}", rtol=1e-9)
    assume(not _kink_ties(lambda: mod.loss.__wrapped__(tparams, *arrays, **kw)))  # a kink: another subgradient
    auto = torch.func.grad(torch.func.functionalize(lambda p: mod.loss.__wrapped__(p, *arrays, **kw)))(tparams)
    for k in want_grads:
        _close(auto[k].numpy(), grads[k].numpy(), f"autograd d{k}", rtol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_module_refuses_bad_arguments_in_one_line(tmp_path, backend):
    """Wrong params, a wrong width, different batch sizes, NaN, a bad lr: one ValueError line, params untouched."""
    conv = np.array if backend == "numpy" else pytest.importorskip("torch").tensor
    mod = load_module(_source(multi_io, backend, "float64", None), tmp_path, f"bad_{backend}")
    params = {k: conv(v) for k, v in _model(multi_io).compile().init(0).items()}
    plain = (lambda v: v.copy()) if backend == "numpy" else (lambda v: v.numpy().copy())
    before = {k: plain(v) for k, v in params.items()}
    x, y = conv(np.ones((3, 2))), conv(np.ones((3, 1)))
    cases = [
        (lambda: mod.loss({k: v for k, v in params.items() if k != "W1"}, x, x, y, y, y), "params"),
        (lambda: mod.loss(params, x, conv(np.ones((3, 3))), y, y, y), "X2 has shape (3, 3)"),
        (lambda: mod.loss(params, x, conv(np.ones((4, 2))), y, y, y), "different batch sizes [3, 4]"),
        (lambda: mod.loss(params, x, conv(np.full((3, 2), np.nan)), y, y, y), "X2 contains NaN"),
        (lambda: mod.train_step(params, x, x, y, y, y, -1.0), "lr: expected a finite real number from 0 to 1.8e308, got -1.0"),
        (lambda: mod.train_step(params, x, x, y, y, conv(np.ones((2, 1))), 0.1), "different batch sizes [2, 3]"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value) and "\n" not in str(error.value)
    for k, v in params.items():
        np.testing.assert_array_equal(plain(v), before[k])


@pytest.mark.skipif(graphs is None, reason="needs torch")
def test_dead_relu_row_is_a_kink_tie_where_the_printed_gradient_is_torch_relus(tmp_path):
    """The graph hypothesis found: x → relu Dense → stop → the same Dense → Dense, Huber. At seed 0 a sample's first
    relu row is all 0, so its second z is b = 0 exactly: the printed gradient takes relu'(0) = 0, as torch.relu's
    autograd and the compiled graph do; autograd of the printed clamp(z, min=0) takes 1 there up to torch 2.13 (0 from
    2.14). Off the tie they agree."""
    import torch
    from test_graph_torch import torch_loss

    x, hidden = Input(2), Dense(2, activation="relu")
    model = Model([x], [Dense(1)(hidden(StopGradient()(hidden(x))))], losses=["huber"], reduction="sum")
    c = model.compile("float64", validate_targets=False)
    mod = load_module(graph_module_source(model, "torch"), tmp_path, "dead_relu_row")
    rng = np.random.default_rng(0)
    xs, ys = [rng.normal(size=(4, 2))], [rng.normal(size=(4, 1))]
    for shift in (0.0, 0.1):  # zero biases (the tie), then biases off it
        params = {k: v + shift * k.startswith("b") for k, v in c.init(0).items()}
        tparams = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
        arrays = [torch.from_numpy(a) for a in (*xs, *ys)]
        _, grads = mod.loss_and_grad(tparams, *arrays)
        _, want = c.loss_and_grad(params, xs, ys)
        reference = {k: v.clone().requires_grad_() for k, v in tparams.items()}
        torch_loss(model, reference, {}, arrays[:1], arrays[1:]).backward()
        ties = _kink_ties(lambda: mod.loss.__wrapped__(tparams, *arrays))
        auto = torch.func.grad(torch.func.functionalize(lambda p: mod.loss.__wrapped__(p, *arrays)))(tparams)
        assert (ties > 0) == (shift == 0.0)
        for k in want:
            _close(grads[k].numpy(), want[k], f"d{k}", rtol=1e-9)
            _close(grads[k].numpy(), reference[k].grad.numpy(), f"torch.relu d{k}", rtol=1e-9)
        same = all(np.allclose(auto[k].numpy(), grads[k].numpy(), rtol=1e-9, atol=1e-13) for k in want)
        # on the tie autograd takes clamp's subgradient at 0 (1 up to torch 2.13, 0 as relu's from 2.14); off it the same
        clamp_at_0 = float(torch.func.grad(lambda z: torch.clamp(z, min=0).sum())(torch.zeros(1, dtype=torch.float64))[0])
        assert same == (shift != 0.0 or clamp_at_0 == 0.0)


def test_every_model_module_passes_ruff(tmp_path):
    """Each model above, on each backend, with and without an optimizer and in mixed precision (batch norm too): no
    unused variable (multi_io's loss on an input printed a seed gl4 no backward line read) and no unpacked array that
    is never read (auxiliary's forward unpacked the auxiliary head's W4, b4)."""
    for name, build in MODELS.items():
        for backend in ("numpy", "jax", "torch"):
            for optimizer in (None, "adam"):
                (tmp_path / f"{name}_{backend}_{optimizer}.py").write_text(_source(build, backend, "float64", optimizer))
        for backend in ("jax", "torch"):  # float16 (no Module: a scaled loss) and bfloat16 (a Module: with batch norm, _loss_grad_moved)
            for low in ("float16", "bfloat16"):
                (tmp_path / f"{name}_{backend}_{low}.py").write_text(_source(build, backend, low, OPTIMIZER.get(name)))
    assert_ruff_clean(tmp_path, extend_select=["RUF059"])


@pytest.mark.parametrize("model", ["normed", "gated"])
def test_every_optimizers_module_passes_ruff(tmp_path, model):
    """init_state of every optimizer, on every backend and in float16 (its 0-d slots on the device): plain SGD keeps no
    slot per parameter, and its init_state unpacked W1, b1, … and never read them (ruff's RUF059, which ruff's default
    rules leave out); an unread parameter is now _name, as batch norm's moving statistics are."""
    from symdl.optim.registry import optimizer_names

    for optimizer in optimizer_names():
        for backend in ("numpy", "jax", "torch"):
            (tmp_path / f"{model}_{optimizer}_{backend}.py").write_text(_source(MODELS[model], backend, "float64", optimizer))
        for backend in ("jax", "torch"):
            (tmp_path / f"{model}_{optimizer}_{backend}_mixed.py").write_text(_source(MODELS[model], backend, "float16", optimizer))
    assert_ruff_clean(tmp_path, extend_select=["RUF059"])
