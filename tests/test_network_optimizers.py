"""Optimizers printed into train_step: the compiled network and the numpy, JAX and PyTorch modules against torch.optim.

The reference is ``torch.optim`` driven by the same gradients: at every step
the backend's own ``loss_and_grad`` at the torch side's parameters is given to
``torch.optim`` as ``.grad`` (so the two runs differ only in the update
arithmetic), while symdl's ``train_step`` runs on its own copy. After 200
steps on varying mini-batches the parameters agree to rtol 1e-10 in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
import sympy as sp
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.codegen.optimizer import state_keys
from symdl.export.network_modules import network_module_source
from symdl.export.standalone import network_module
from symdl.optim import optimizer, optimizer_names

torch = pytest.importorskip("torch")

STEPS = 200
LAYERS = [4, 6, 3]

#: symdl optimizer name → the torch.optim class with the same update (classic momentum: SGD's, under ηb = −v).
TORCH = {
    "sgd": "SGD", "classic_momentum": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop",
    "adam": "Adam", "adamw": "AdamW", "nadam": "NAdam",
}


def torch_optimizer(opt: symdl.optim.Optimizer, tensors: list) -> object:
    """The torch.optim optimizer with ``opt``'s hyperparameters (beta1, beta2 → betas; options as keywords)."""
    if opt.name not in TORCH:
        pytest.fail(f"no torch.optim class mapped for {opt.name!r}: add it to TORCH in this test")
    config = opt.config()
    kwargs = {**config["hyperparameters"], **config["options"]}
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    return getattr(torch.optim, TORCH[opt.name])(tensors, **kwargs)


def batches(seed: int = 0, steps: int = STEPS, m: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(m, LAYERS[0])), rng.normal(size=(m, LAYERS[-1]))) for _ in range(steps)]


CASES = [
    *[(name, {}) for name in optimizer_names()],
    ("sgd", {"lr": 0.05, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
]

#: Forms with more options, where the catalogue has them (each is skipped, saying so, where a keyword is unknown).
OPTIONAL = [
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("adam", {"weight_decay": 0.01}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}),
    ("nadam", {"weight_decay": 0.01, "decoupled_weight_decay": True}),
]


def _network(name: str, hyper: dict) -> symdl.Network:
    """The test network with the optimizer ``name``; a hyperparameter left without a value (sgd's lr) gets 0.05."""
    opt = optimizer(name, **hyper)
    opt = opt.with_values(**{h.name: 0.05 for h in opt.unbound()})
    return symdl.Network(LAYERS, activation="tanh", loss="mse", optimizer=opt)


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> Callable[[str, dict, str], tuple[symdl.Network, ModuleType]]:
    """``(network, module)``: the test network with optimizer ``name(**hyper)`` and its numpy, torch or JAX module,
    printed and imported once for this file. Tests of the same network share it (its import and, for JAX, its jit
    compilations): a printed module holds only constants, so no test sees another's calls."""
    folder = tmp_path_factory.mktemp("printed")
    made: dict[tuple[str, str, str], tuple[symdl.Network, ModuleType]] = {}

    def printed(name: str, hyper: dict, backend: str) -> tuple[symdl.Network, ModuleType]:
        key = (name, repr(sorted(hyper.items())), backend)
        if key not in made:
            network = _network(name, hyper)
            source = network_module(network) if backend == "numpy" else network_module_source(network, backend)
            made[key] = network, load_module(source, folder, f"net_{backend}_{name}_{len(made)}")
        return made[key]

    return printed


def _reference(opt, params: dict[str, np.ndarray], grad_at) -> dict[str, np.ndarray]:
    """torch.optim over the batches, fed ``grad_at(params as numpy, X, Y)`` at its own parameters."""
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch.optim keeps scalar state (NAdam's mu_product) in the default dtype
    try:
        reference = torch_optimizer(opt, list(tensors.values()))
        for X, Y in batches():
            grads = grad_at({k: t.detach().numpy().copy() for k, t in tensors.items()}, X, Y)
            for k, t in tensors.items():
                t.grad = torch.tensor(np.array(grads[k]), dtype=torch.float64)
            reference.step()
    finally:
        torch.set_default_dtype(default)
    return {k: t.detach().numpy() for k, t in tensors.items()}


def _assert_close(got: dict, want: dict, start: dict) -> None:
    for k in want:
        np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=1e-10, atol=1e-14, err_msg=k)
        assert not np.allclose(want[k], start[k], rtol=1e-6, atol=0), f"{k} did not move: the comparison would be empty"


def _optional(name: str, hyper: dict) -> symdl.Network:
    try:
        return _network(name, hyper)
    except (TypeError, ValueError) as why:
        if name in optimizer_names() and "unknown" not in str(why) and "unexpected keyword" not in str(why):
            raise
        pytest.skip(f"{name}({hyper}) is not in this catalogue: {why}")


@pytest.mark.parametrize(("name", "hyper"), CASES + OPTIONAL, ids=[f"{n}-{h}" if h else n for n, h in CASES + OPTIONAL])
def test_compiled_network_matches_torch_optim(name: str, hyper: dict) -> None:
    net = _optional(name, hyper).compile()
    params = net.init(seed=1)
    start = {k: v.copy() for k, v in params.items()}
    state = net.init_state(params)
    for X, Y in batches():
        net.train_step(params, X, Y, state)
    assert state["t"] == STEPS
    want = _reference(net.optimizer, start, lambda p, X, Y: net.loss_and_grad(p, X, Y)[1])
    _assert_close(params, want, start)


@pytest.mark.parametrize(("name", "hyper"), CASES[:-1], ids=[f"{n}-{h}" if h else n for n, h in CASES[:-1]])
@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_modules_match_torch_optim(printed, backend: str, name: str, hyper: dict) -> None:
    if backend == "jax":
        pytest.importorskip("jax")
    network, module = printed(name, hyper, backend)
    start = network.compile().init(seed=1)
    if backend == "numpy":
        params = {k: v.copy() for k, v in start.items()}
    elif backend == "torch":
        params = {k: torch.tensor(v) for k, v in start.items()}
    else:
        import jax.numpy as jnp

        params = {k: jnp.asarray(v) for k, v in start.items()}
    state = module.init_state(params)
    assert list(state) == state_keys(network.optimizer, list(start))
    for X, Y in batches():
        if backend == "jax":
            _, params, state = module.train_step(params, X, Y, state)
        else:
            module.train_step(params, X, Y, state)
    assert int(state["t"]) == STEPS

    def grad_at(p, X, Y):
        arrays = {k: torch.from_numpy(v) for k, v in p.items()} if backend == "torch" else p
        grads = module.loss_and_grad(arrays, X, Y)[1]
        return {k: np.asarray(g) for k, g in grads.items()}

    want = _reference(network.optimizer, start, grad_at)
    _assert_close({k: np.asarray(v) for k, v in params.items()}, want, start)


def test_init_state_is_printed_from_the_slots() -> None:
    net = _network("adam", {}).compile()
    params = net.init(seed=0)
    state = net.init_state(params)
    assert list(state) == state_keys(net.optimizer, net.param_names)
    assert state["t"] == 0 and type(state["t"]) is int
    for p in net.param_names:
        for slot in ("m", "v"):
            arr = state[f"{slot}_{p}"]
            assert arr.shape == params[p].shape and arr.dtype == params[p].dtype and not arr.any()
            assert arr is not params[p]
    assert "def init_state(params):" in net.source()
    with pytest.raises(ValueError, match="no optimizer"):
        symdl.Network(LAYERS).compile().init_state(params)


def test_state_round_trip_continues_the_run() -> None:
    """Stopping after k steps, copying params and state and going on gives the uninterrupted run bit for bit."""
    net = _network("adam", {}).compile()
    data = batches(steps=20)
    params, state = net.init(seed=2), None
    state = net.init_state(params)
    for X, Y in data:
        net.train_step(params, X, Y, state)
    again = net.init(seed=2)
    saved = net.init_state(again)
    for X, Y in data[:7]:
        net.train_step(again, X, Y, saved)
    params2 = {k: v.copy() for k, v in again.items()}
    state2 = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in saved.items()}
    for X, Y in data[7:]:
        net.train_step(params2, X, Y, state2)
    for k in params:
        np.testing.assert_array_equal(params2[k], params[k])
    for k in state:
        np.testing.assert_array_equal(state2[k], state[k])


BAD_STATES = {
    "missing key": lambda s, to: {k: v for k, v in s.items() if k != "v_b2"},
    "extra key": lambda s, to: {**s, "w_W1": s["m_W1"]},
    "negative t": lambda s, to: {**s, "t": -1},
    "float t": lambda s, to: {**s, "t": 1.0},
    "bool t": lambda s, to: {**s, "t": True},
    "wrong shape": lambda s, to: {**s, "m_W1": to(np.zeros((2, 2)))},
    "wrong dtype": lambda s, to: {**s, "v_W2": to(np.zeros(s["v_W2"].shape, dtype=np.float32))},
    "not an array": lambda s, to: {**s, "m_b1": [0.0] * 6},
    "not a dict": lambda s, to: list(s.items()),
}


def _numpy(value: object) -> np.ndarray:
    return value.numpy().copy() if isinstance(value, torch.Tensor) else np.array(value)


@pytest.mark.parametrize("backend", ["compiled", "numpy", "torch", "jax"])
@pytest.mark.parametrize("bad", list(BAD_STATES))
def test_bad_state_is_one_line_and_changes_nothing(printed, backend: str, bad: str) -> None:
    if backend == "compiled":
        network = _network("adam", {})
        module = network.compile()
    else:
        pytest.importorskip(backend)
        network, module = printed("adam", {}, backend)
    to = torch.tensor if backend == "torch" else np.array
    if backend == "jax":
        import jax.numpy as jnp

        to = jnp.asarray
    params = {k: to(v) for k, v in network.compile().init(seed=0).items()}
    state = module.init_state(params)
    X, Y = batches(steps=1)[0]
    if backend == "jax":
        _, params, state = module.train_step(params, X, Y, state)
    else:
        module.train_step(params, X, Y, state)  # a step first: non-zero slots, t = 1
    before = ({k: _numpy(v) for k, v in params.items()}, {k: _numpy(v) for k, v in state.items()})
    with pytest.raises(ValueError, match=r"^state") as caught:
        module.train_step(params, X, Y, BAD_STATES[bad](state, to))
    assert "\n" not in str(caught.value)
    for k in params:
        np.testing.assert_array_equal(_numpy(params[k]), before[0][k])
    for k in state:
        np.testing.assert_array_equal(_numpy(state[k]), before[1][k])


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_missing_and_extra_keys_are_named_as_numpy_names_them(printed, backend: str) -> None:
    """params and state with a key missing or one too many: the torch and JAX modules name the keys in the numpy
    module's words, for train_step and init_state alike."""
    pytest.importorskip(backend)
    network, reference = printed("adam", {}, "numpy")
    _, module = printed("adam", {}, backend)
    if backend == "torch":
        to = torch.tensor
    else:
        import jax.numpy as jnp

        to = jnp.asarray
    start = network.compile().init(seed=0)
    X, Y = batches(steps=1)[0]

    def message(mod, convert, bad_params, bad_state) -> list[str]:
        params = {k: convert(v) for k, v in start.items()}
        state = mod.init_state(params)
        out = []
        for call in (lambda: mod.init_state(bad_params(params)), lambda: mod.train_step(bad_params(params), X, Y, state),
                     lambda: mod.train_step(params, X, Y, bad_state(state))):
            with pytest.raises(ValueError) as caught:
                call()
            out.append(str(caught.value))
        return out

    for bad_params, bad_state in (
        (lambda p: {k: v for k, v in p.items() if k != "b2"}, lambda s: {k: v for k, v in s.items() if k != "v_b2"}),
        (lambda p: {**p, "W9": p["W1"]}, lambda s: {**s, "w_W1": s["m_W1"]}),
    ):
        want = message(reference, np.array, bad_params, bad_state)
        assert "missing ['b2']" in want[0] or "unexpected ['W9']" in want[0]
        assert "missing ['v_b2']" in want[2] or "unexpected ['w_W1']" in want[2]
        assert message(module, to, bad_params, bad_state) == want


@settings(max_examples=15, deadline=None)
@given(bad=st.sampled_from(["X", "Y", "lr"]), value=st.sampled_from([np.nan, np.inf]))
def test_a_failed_step_leaves_params_and_state_as_they_were(bad: str, value: float) -> None:
    """Bad data or a bad per-call learning rate: a ValueError, params and state untouched."""
    net = symdl.Network(LAYERS, optimizer=optimizer("sgd", lr=None, weight_decay=0.1) if bad == "lr" else "adam").compile()
    params = net.init(seed=0)
    state = net.init_state(params)
    X, Y = batches(steps=1)[0]
    args = (0.1,) if bad == "lr" else ()
    net.train_step(params, X, Y, state, *args)
    before = ({k: v.copy() for k, v in params.items()}, {k: np.copy(v) for k, v in state.items()})
    X, Y = X.copy(), Y.copy()
    if bad == "X":
        X[1, 2] = value
    elif bad == "Y":
        Y[0, 0] = value
    else:
        args = (value,)
    with pytest.raises(ValueError):
        net.train_step(params, X, Y, state, *args)
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k])
    for k in state:
        np.testing.assert_array_equal(state[k], before[1][k])


def test_unbound_hyperparameters_become_arguments() -> None:
    net = symdl.Network(LAYERS, optimizer=optimizer("sgd", lr=None)).compile()
    assert "def train_step(params, X, Y, state, lr):" in net.source()
    params = net.init(seed=0)
    state = net.init_state(params)
    X, Y = batches(steps=1)[0]
    W1 = params["W1"].copy()
    grads = net.loss_and_grad(params, X, Y)[1]
    net.train_step(params, X, Y, state, 0.5)
    np.testing.assert_allclose(params["W1"], W1 - 0.5 * grads["W1"], rtol=1e-14)
    with pytest.raises(ValueError, match="^lr"):
        net.train_step(params, X, Y, state, -1.0)


@pytest.mark.parametrize("backend", ["compiled", "graph", "numpy", "torch", "jax"])
def test_hyperparameters_overflowing_the_dtype_are_refused(tmp_path, backend: str) -> None:
    """lr=1e300 given to a float32 optimizer, or a momentum of 1e300 at call time, would overflow the update:
    refused in _check_lr's words; float64 takes 1e300."""
    if backend == "jax":
        pytest.importorskip("jax")
    message = "^{}: expected a finite real number from {} to 3.4e38, got 1e\\+300$"
    baked = optimizer("sgd", lr=1e300)
    free = optimizer("sgd", lr=0.1, momentum=0.9).with_values(momentum=None)

    def build(opt, dtype):
        network = symdl.Network(LAYERS, optimizer=opt)
        if backend == "compiled":
            return network.compile(dtype)
        if backend == "graph":
            from symdl.graph import Dense, Input, Model

            x = Input(LAYERS[0])
            return Model([x], Dense(LAYERS[-1])(Dense(LAYERS[1], activation="tanh")(x)), losses=["mse"]).compile(dtype, opt)
        source = network_module(network, dtype) if backend == "numpy" else network_module_source(network, backend, dtype)
        return load_module(source, tmp_path, f"net_big_{backend}_{dtype}_{opt.name}_{len(opt.unbound())}")

    with pytest.raises(ValueError, match=message.format("lr", "0")):
        build(baked, "float32")
    build(baked, "float64")
    net = build(free, "float32")
    params = net.init(seed=0) if backend in ("compiled", "graph") else net.init_params(0)
    state = net.init_state(params)
    X, Y = (np.asarray(a, dtype=np.float32) for a in batches(steps=1)[0])
    if backend == "torch":
        X, Y = torch.tensor(X), torch.tensor(Y)
    with pytest.raises(ValueError, match=message.format("momentum", "-3.4e38")):
        net.train_step(params, X, Y, state, 1e300)
    net.train_step(params, X, Y, state, 3e38)  # finite in float32: taken


def test_without_an_optimizer_nothing_changes() -> None:
    plain = symdl.Network(LAYERS)
    assert "optimizer" not in repr(plain)
    assert "def train_step(params, X, Y, lr):" in plain.compile().source()
    assert "init_state" not in plain.compile().source()
    given_one = symdl.Network(LAYERS, optimizer="adam")
    assert repr(given_one).endswith(f"optimizer={optimizer('adam')!r})")
    with pytest.raises(ValueError, match="unknown optimizer"):
        symdl.Network(LAYERS, optimizer="adma")
    with pytest.raises(TypeError, match="optimizer"):
        symdl.Network(LAYERS, optimizer=3)


def test_update_is_printed_in_place_for_numpy() -> None:
    """Adam's slots are updated in their own arrays, the step built in the dead gradient buffer with out= calls."""
    source = _network("adam", {}).compile().source()
    step = source[source.index("def train_step"):]
    for line in ("m_W1 *= 0.90000000000000002", "numpy.square(gW1, out=gW1)", "v_W1 += gW1",
                 "numpy.sqrt(gW1, out=gW1)", "numpy.divide(m_W1, gW1, out=gW1)", "W1 -= gW1"):
        assert f"    {line}\n" in step, line
    assert "state['m_W1'] =" not in step and "state['t'] = t" in step
    assert step.index("W1 -= gW1") > step.index("gW2 *= 0.001*_step0")  # params written after every step is computed


def test_state_arrays_are_updated_in_place() -> None:
    net = _network("adam", {}).compile()
    params = net.init(seed=0)
    state = net.init_state(params)
    m = state["m_W1"]
    X, Y = batches(steps=1)[0]
    net.train_step(params, X, Y, state)
    assert state["m_W1"] is m and m.any()
    for bad, message in ((lambda s: {**s, "v_W1": s["m_W1"]}, "same array"), (lambda s: s, "read-only")):
        state2 = bad(dict(state))
        if message == "read-only":
            state2["m_b1"] = state2["m_b1"].copy()
            state2["m_b1"].flags.writeable = False
        with pytest.raises(ValueError, match=message):
            net.train_step(params, X, Y, state2)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_cli_codegen_with_an_optimizer(tmp_path, capsys, backend: str) -> None:
    from symdl.cli import main

    out = tmp_path / f"net_cli_{backend}.py"
    argv = ["codegen", "--layers", "4,6,3", "--backend", backend, "-o", str(out),
            "--optimizer", "adam", "--optimizer-param", "lr=0.01", "--optimizer-param", "eps=1e-6"]
    assert main(argv) == 0
    network = symdl.Network(LAYERS, optimizer=optimizer("adam", lr=0.01, eps=1e-6))
    want = network_module(network) if backend == "numpy" else network_module_source(network, backend)
    assert out.read_text() == want


@pytest.mark.parametrize(("argv", "message"), [
    (["--optimizer", "adma"], "unknown optimizer 'adma'; did you mean 'adam'"),
    (["--optimizer", "adam", "--optimizer-param", "lr=abc"], "--optimizer-param lr=abc: 'abc' is not a number"),
    (["--optimizer", "adam", "--optimizer-param", "lr"], "expected NAME=VALUE"),
    (["--optimizer", "adam", "--optimizer-param", "lr=1", "--optimizer-param", "lr=2"], "given twice"),
    (["--optimizer", "adam", "--optimizer-param", "nope=1"], "--optimizer adam:"),
    (["--optimizer-param", "lr=1"], "--optimizer-param given without --optimizer"),
])
def test_cli_bad_optimizer_is_one_line_and_exit_2(capsys, argv: list[str], message: str) -> None:
    from symdl.cli import main

    assert main(["codegen", "--layers", "4,6,3", "-o", "-", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# --- the in-place printer on its own -----------------------------------------------------------------------------

_A, _B, _C = (sp.Symbol(n, real=True) for n in ("a", "b", "c"))
_S = sp.Symbol("s", real=True)


def _expressions() -> st.SearchStrategy:
    leaves = st.sampled_from([_A, _B, _C, _S, sp.Float(0.5), sp.Float(-2.0), sp.Float(3.0)])

    def extend(inner: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.tuples(inner, inner).map(lambda p: p[0] + p[1]),
            st.tuples(inner, inner).map(lambda p: p[0] * p[1]),
            st.tuples(inner, inner).map(lambda p: p[0] - p[1]),
            inner.map(lambda e: e**2),
            inner.map(lambda e: sp.sqrt(e**2 + 1)),
            inner.map(lambda e: 1 / (e**2 + 1)),
            inner.map(sp.exp),
        )

    return st.recursive(leaves, extend, max_leaves=6).filter(lambda e: bool(e.free_symbols - {_S}))


@settings(max_examples=300, deadline=None)
@given(expr=_expressions(), dest=st.sampled_from(["a", "b", "new"]), scratch=st.sampled_from([None, "c"]))
def test_inplace_emitter_computes_the_expression(expr: sp.Expr, dest: str, scratch: str | None) -> None:
    """Any expression, built in a fresh buffer or in one of its own inputs (which it may read), equals its plain value."""
    from symdl.backends import get_backend
    from symdl.codegen.inplace import InplaceEmitter

    backend = get_backend("numpy")
    if scratch is not None and sp.Symbol(scratch, real=True) in expr.free_symbols:
        scratch = None  # a scratch buffer is one whose value nobody reads
    emitter = InplaceEmitter(backend.printer(), backend.out_functions, backend.module, {_S})
    name = emitter.into(expr, dest, dest == "new", scratch)
    rng = np.random.default_rng(0)
    arrays = {n: rng.uniform(-1.5, 1.5, size=(3, 4)) for n in ("a", "b", "c")}
    want = sp.lambdify((_A, _B, _C, _S), expr, "numpy")(arrays["a"], arrays["b"], arrays["c"], 0.75)
    namespace = {"numpy": np, **{k: v.copy() for k, v in arrays.items()}, "s": 0.75}
    exec("\n".join(emitter.lines), namespace)  # noqa: S102 - printed by symdl from a SymPy tree
    np.testing.assert_allclose(np.broadcast_to(namespace[name], (3, 4)), np.broadcast_to(want, (3, 4)), rtol=1e-12, atol=1e-12)
    for n in ("a", "b", "c"):  # inputs other than the destination and the scratch buffer are untouched
        if n not in (dest, scratch):
            np.testing.assert_array_equal(namespace[n], arrays[n])


def test_batchnorm_dropout_network_with_an_optimizer(tmp_path) -> None:
    """Batch norm's running statistics and dropout's seed go with the optimizer: the numpy module equals the compiled
    network bit for bit, and the torch module (no dropout: other draws) equals it to rounding."""
    network = symdl.Network([4, 8, 8, 3], activation="elu", loss="mse", batchnorm=True, dropout=0.5, optimizer="adam")
    net = network.compile()
    module = load_module(network_module(network), tmp_path, "net_bn_numpy")
    params, params2 = net.init(seed=0), module.init_params(0)
    state, state2 = net.init_state(params), module.init_state(params2)
    assert "m_gamma1" in state and not any(k.endswith("running_mean1") for k in state)
    for k, (X, Y) in enumerate(batches(steps=5, m=6)):
        assert net.train_step(params, X, Y, state, seed=k) == module.train_step(params2, X, Y, state2, seed=k)
    for k in params:
        np.testing.assert_array_equal(params[k], params2[k])
    plain = symdl.Network([4, 8, 8, 3], activation="elu", loss="mse", batchnorm=True, optimizer="adam")
    net = plain.compile()
    module = load_module(network_module_source(plain, "torch"), tmp_path, "net_bn_torch")
    params = net.init(seed=0)
    tensors = {k: torch.tensor(v) for k, v in params.items()}
    state, state_t = net.init_state(params), module.init_state(tensors)
    for X, Y in batches(steps=5, m=6):
        net.train_step(params, X, Y, state)
        module.train_step(tensors, X, Y, state_t)
    for k in params:
        np.testing.assert_allclose(tensors[k].numpy(), params[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_float32_network_stays_float32() -> None:
    net = _network("adam", {}).compile("float32")
    params = {k: v.astype(np.float32) for k, v in _network("adam", {}).compile().init(seed=0).items()}
    state = net.init_state(params)
    for X, Y in batches(steps=10):
        net.train_step(params, X.astype(np.float32), Y.astype(np.float32), state)
    assert all(v.dtype == np.float32 for v in params.values())
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "t")
    ref = _network("adam", {}).compile()
    params64 = ref.init(seed=0)
    state64 = ref.init_state(params64)
    for X, Y in batches(steps=10):
        ref.train_step(params64, X, Y, state64)
    for k in params:
        np.testing.assert_allclose(params[k], params64[k], rtol=0, atol=1e-4, err_msg=k)


SCHEDULES = {  # schedule keywords → the torch.optim.lr_scheduler that steps the same η(t)
    "cosine": ({"T_max": 50, "eta_min": 0.001}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50, eta_min=0.001)),
    "step": ({"step_size": 7, "gamma": 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    "exponential": ({"gamma": 0.97}, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.97)),
}


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("backend", ["compiled", "numpy", "torch", "jax"])
def test_learning_rate_schedules_match_torch(tmp_path, backend: str, schedule: str) -> None:
    """η(t) printed into every backend's step scalars (math.cos in eager code, jnp under jit) as torch's schedulers step it."""
    from symdl.optim import schedules

    if not hasattr(schedules, schedule):
        pytest.skip(f"symdl.optim.schedules has no {schedule} in this catalogue")
    if backend == "jax":
        pytest.importorskip("jax")
    keywords, scheduler = SCHEDULES[schedule]
    network = symdl.Network(LAYERS, activation="tanh", loss="mse",
                            optimizer=symdl.optim.adam(lr=getattr(schedules, schedule)(0.01, **keywords)))
    if backend == "compiled":
        module = network.compile()
    elif backend == "numpy":
        module = load_module(network_module(network), tmp_path, f"net_sched_{schedule}")
    else:
        module = load_module(network_module_source(network, backend), tmp_path, f"net_sched_{backend}_{schedule}")
    start = network.compile().init(seed=1)
    to = {"torch": torch.tensor}.get(backend, np.array)
    if backend == "jax":
        import jax.numpy as jnp

        to = jnp.asarray
    params = {k: to(v) for k, v in start.items()}
    state = module.init_state(params)
    data = batches(steps=60)
    for X, Y in data:
        if backend == "jax":
            _, params, state = module.train_step(params, X, Y, state)
        else:
            module.train_step(params, X, Y, state)
    tensors = {k: torch.tensor(v) for k, v in start.items()}
    reference = torch.optim.Adam(tensors.values(), lr=0.01)
    steps = scheduler(reference)
    for X, Y in data:
        grads = module.loss_and_grad({k: to(t.numpy().copy()) for k, t in tensors.items()}, X, Y)[1]
        for k, t in tensors.items():
            t.grad = torch.tensor(np.array(_numpy(grads[k])))
        reference.step()
        steps.step()
    _assert_close({k: _numpy(v) for k, v in params.items()}, {k: t.numpy() for k, t in tensors.items()}, start)
