"""Mixed-precision graph modules (graph_module_source(model, "torch" | "jax", "bfloat16" | "float16")).

Each low-precision module is compared with the float32 module of the same graph on the same float32 params, data and
seed, within test_mixed_precision's documented tolerance (‖g − g₃₂‖ ≤ 0.1‖g₃₂‖ in bfloat16, 0.02‖g₃₂‖ in float16):
a residual model with shared blocks, a two-input model with three weighted heads, a model of formula layers
(per-sample sums, a quadratic form's contractions, a parameter's sum over the rows), one with noise and dropout, one
with an L1 penalty, a constraint and a second loss term, one with stop-gradient, concatenation and softmax
cross-entropy, and a GLU.
A 4096-row batch whose sums are not low-precision numbers gives the loss and every kind of parameter sum to float32
rounding; the unchecked entry points run on torch's meta device, under torch.compile(fullgraph=True) and under
jax.transfer_guard("disallow"). Penalties, as tests/test_mixed_penalty.py checks them for network modules: their value
and Ω'(θ) in float32 on the masters after the unscaling (λ = 100 finite in float16, the penalty's share the float32
module's within one float32 rounding), the overflow skip decided on the data term. The loss in float32 from the
outputs and targets cast once: a float16 residual of 1000 gives the float32 module's loss at every entry point, and
softmax cross-entropy is float32 arithmetic on the low logits. The targets stay float32 from the entry: a Y that no low
dtype holds reaches the loss and the seed unrounded, and so does an input x that a loss reads as its target (the layers
read x in the low dtype).
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
from formula_graphs import formula_graph
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_modules import auxiliary, gated, multi_io, normed, residual, stopped
from test_mixed_penalty import (
    FLOAT16_MAX,
    data_overflow_still_skips_a_penalized_step,
    large_l1_steps_are_taken,
    penalized_plain_step_on_meta_and_compiled,
    penalized_plain_step_transfers_nothing,
    penalty_gradient,
    penalty_share_is_float32_arithmetic,
)
from test_mixed_precision import (
    TOLERANCE,
    data,
    losses_at_every_entry_point,
    numpy,
    targets_off_the_low_grid,
)

import symdl
from symdl.cli import main
from symdl.export import graph_module_source
from symdl.graph import (
    Add,
    BatchNorm,
    Concatenate,
    Dense,
    Dropout,
    Formula,
    GaussianNoise,
    Input,
    Model,
    StopGradient,
    save_graph,
)

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import jax.numpy as jnp

BACKENDS = ("torch", "jax")
LOW = ("bfloat16", "float16")
_CACHE: dict[tuple, object] = {}


def noisy() -> Model:
    """Gaussian noise and dropout between dense layers: the masks are drawn as in float32 and multiply in the low dtype."""
    x = Input(3)
    h = GaussianNoise(0.1)(Dense(8, activation="tanh")(x))
    return Model(x, Dense(2)(Dropout(0.25)(Dense(8, activation="tanh")(h))), losses="mse")


def sums() -> Model:
    """a = W x + b + (x + c) + ½u (two formula layers): ∂C/∂b, ∂C/∂c and 2 ∂C/∂u are each Σ ℓ' over the rows, printed
    as the bias reduction, a formula parameter's inline Σ, and Σ of its per-sample δ."""
    shift = symdl.formula_layer("y[i] = x[i] + c[i]", inputs={"x": "n"}, params={"c": "n"}, name="shift")
    half = symdl.formula_layer("y[i] = x[i] + 0.5 * u[i]", inputs={"x": "n"}, params={"u": "n"}, name="half")
    x = Input(1)
    return Model(x, Add()([Dense(1)(x), Formula(half)(Formula(shift)(x))]), losses="mse")


def penalized(penalty: str | None, lam: float = 100.0) -> Model:
    """4 → 16 → 16 → 2 tanh/mse, every kernel with the penalty λ·Σ Ω(W) (None: none); the biases unpenalized."""
    rule = None if penalty is None else symdl.rule(penalty, lam=lam)
    x = Input(4)
    h = Dense(16, activation="tanh", regularizer=rule)(Dense(16, activation="tanh", regularizer=rule)(x))
    return Model(x, Dense(2, regularizer=rule)(h), losses="mse")


def detached() -> Model:
    """An L2-penalized layer whose output reaches the loss only through stop-gradient: its gradient is Ω'(W) alone."""
    x = Input(3)
    h = Dense(4, activation="tanh")(x)
    k = Dense(2, activation="sigmoid", regularizer=symdl.rule("l2", lam=3.0))(h)
    return Model(x, Dense(2)(Concatenate()([StopGradient()(k), h])), losses="mse")


def linear() -> Model:
    """2 → 2 affine, mse: a residual of 1000 is a float16 number whose square is not."""
    x = Input(2)
    return Model(x, Dense(2)(x), losses="mse")


def reconstructing() -> Model:
    """x → Dense(1) with a data target and x → Dense(2) reconstructing x (an input-target loss, as an autoencoder
    branch), both heads outputs so that forward returns the reconstruction."""
    x = Input(2)
    recon = Dense(2)(x)
    return Model(x, [Dense(1)(x), recon], losses=["mse", None]).add_loss(recon, "mse", target=x)


def classifier() -> Model:
    """4 → 16 tanh → 3 logits, softmax cross-entropy."""
    x = Input(4)
    return Model(x, Dense(3)(Dense(16, activation="tanh")(x)), losses="softmax_cross_entropy")


def normed_input(momentum: float) -> Model:
    """x (1 feature) → BatchNorm → Dense(1), mse: the batch statistics are those of the data."""
    x = Input(1)
    return Model(x, Dense(1)(BatchNorm(momentum=momentum)(x)), losses="mse")


MODELS = {"residual": residual, "multi_io": multi_io, "formula": formula_graph, "noisy": noisy, "sums": sums,
          "auxiliary": auxiliary, "stopped": stopped, "gated": gated, "plain": lambda: penalized(None),
          "l1": lambda: penalized("l1"), "l2": lambda: penalized("l2"), "small_l1": lambda: penalized("l1", 0.01),
          "detached": detached, "linear": linear, "classifier": classifier, "reconstructing": reconstructing,
          "normed": normed, "normed_input": lambda: normed_input(0.9)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("graph_mixed")


def module(folder, name: str, backend: str, dtype: str, **options):
    key = (name, backend, dtype, *sorted((k, repr(v)) for k, v in options.items()))
    if key not in _CACHE:
        source = graph_module_source(MODELS[name](), backend, dtype, **options)
        _CACHE[key] = load_module(source, folder, f"graph_{name}_{backend}_{dtype}_{len(_CACHE)}")
    return _CACHE[key]


def as_array(backend: str, values: np.ndarray, dtype: str = "float32"):
    if backend == "torch":
        return torch.tensor(values, dtype=getattr(torch, dtype))
    return jnp.asarray(values, dtype=getattr(jnp, dtype))


def batch(mod, seed: int, rows: int, one_hot: bool = False) -> list[np.ndarray]:
    """Inputs with |x| in [0.5, 1.5] (a divisor stays away from 0), targets in [-1, 1] (one_hot: one-hot rows, the
    class probabilities a softmax cross-entropy takes), in the order the module takes them."""
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(0.5, 1.5, (rows, w)) * rng.choice([-1, 1], (rows, w)) for _, w in mod._INPUTS]
    if one_hot:
        return inputs + [np.eye(w)[rng.integers(0, w, rows)] for _, w in mod._TARGETS]
    return inputs + [rng.uniform(-1, 1, (rows, w)) for _, w in mod._TARGETS]


def whole(grads: dict) -> np.ndarray:
    return np.concatenate([numpy(grads[k]).ravel() for k in sorted(grads)])


def copied(backend: str, params: dict) -> dict:
    return {k: v.clone() for k, v in params.items()} if backend == "torch" else dict(params)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["residual", "multi_io", "formula", "noisy", "auxiliary", "stopped", "gated", "reconstructing"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.sampled_from((1, 5, 12)))
def test_gradients_within_the_documented_tolerance(folder, backend, name, seed, rows):
    """Both low dtypes on each example against one float32 module's values. The rows from a fixed set (one row, a few,
    the most, as st.integers(1, 12) drew them: nothing in a module depends on the row count but its shapes): each JAX
    module compiles once per row count, and an example whose row count came before compiles nothing."""
    full = module(folder, name, backend, "float32")
    params = full.init_params(seed % 1000)
    # stopped's softmax cross-entropy on one-hot targets: on rows off the simplex (Σy ≠ 1, y < 0, which
    # CompiledGraph's validate_targets refuses) its output gradient p·Σy − y can cancel to a few percent of its terms,
    # below float16's documented 2% (seed=215294, rows=1 on JAX: 2.7%)
    arrays = [as_array(backend, a) for a in batch(full, seed, rows, one_hot=name == "stopped")]
    masks = {"seed": seed % 1000} if hasattr(full, "masks") else {}
    loss32, grads32 = full.loss_and_grad(copied(backend, params), *arrays, **masks)
    g32 = whole(grads32)
    for dtype in LOW:
        low = module(folder, name, backend, dtype)
        drawn = low.init_params(seed % 1000)
        assert all(str(p.dtype).endswith("float32") for p in drawn.values())
        assert drawn.keys() == params.keys() and all(np.array_equal(numpy(drawn[k]), numpy(params[k])) for k in params)
        loss, grads = low.loss_and_grad(drawn, *arrays, **masks)
        assert all(str(g.dtype).endswith("float32") for g in grads.values()) and str(loss.dtype).endswith("float32")
        g = whole(grads)
        assert abs(float(loss) - float(loss32)) <= TOLERANCE[dtype] * abs(float(loss32)) + 1e-6, dtype
        if not np.isfinite(g).all():
            # float16's documented overflow: a value times _LOSS_SCALE = 2**10 above 65504, i.e. one above 64 unscaled (an
            # intermediate dC/dh can exceed every parameter's gradient); it shows as non-finite, never as a wrong number
            assert dtype == "float16" and np.abs(g32).max() > 16
            continue
        assert np.linalg.norm(g - g32) <= TOLERANCE[dtype] * np.linalg.norm(g32) + 1e-6, dtype
        out = low.forward(drawn, *arrays[:len(low._INPUTS)])
        assert all(str(o.dtype).endswith(dtype) for o in (out if isinstance(out, tuple) else (out,)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_masks_are_the_float32_modules(folder, backend, dtype):
    low, full = module(folder, "noisy", backend, dtype), module(folder, "noisy", backend, "float32")
    drawn, drawn32 = low.masks(5, 7), full.masks(5, 7)
    assert drawn.keys() == drawn32.keys()
    assert all(np.array_equal(numpy(drawn[k]), numpy(drawn32[k])) for k in drawn)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name", ["residual", "multi_io", "formula", "auxiliary"])
def test_train_step_makes_the_loss_fall_with_float32_params(folder, backend, dtype, name):
    low = module(folder, name, backend, dtype)
    params = low.init_params(1)
    arrays = [as_array(backend, a, dtype if k == 0 else "float32") for k, a in enumerate(batch(low, 2, 32))]
    before = float(low.loss(params, *arrays))
    lr = {"residual": 0.02}.get(name, 0.1)  # the residual blocks' he_normal layers diverge at 0.1, in float32 too
    for _ in range(40):
        low.train_step(params, *arrays, lr)
    assert all(str(p.dtype).endswith("float32") for p in params.values())
    assert float(low.loss(params, *arrays)) < 0.9 * before
    if name == "auxiliary":  # the output layer's non_neg constraint, applied to the float32 masters after each step
        assert (numpy(params["W3"]) >= 0).all() and (numpy(params["W3"]) > 0).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_adam_state_is_float32_and_trains(folder, backend):
    low = module(folder, "formula", backend, "bfloat16", optimizer=symdl.optimizer("adam", lr=0.02))
    params = low.init_params(0)
    state = low.init_state(params)
    arrays = [as_array(backend, a) for a in batch(low, 3, 32)]
    before = float(low.loss(params, *arrays))
    for _ in range(30):
        out = low.train_step(params, *arrays, state)
        if backend == "jax":
            _, params, state = out
    assert all(str(p.dtype).endswith("float32") for p in params.values())
    assert all(str(v.dtype).endswith("float32") for k, v in state.items() if k != "t")
    assert float(low.loss(params, *arrays)) < 0.75 * before


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_trains_the_float32_masters(folder, backend):
    low = module(folder, "residual", backend, "bfloat16")
    params = low.init_params(0)
    X, Y = (a.astype(np.float32) for a in batch(low, 1, 64))
    history = low.fit(params, X, Y, lr=0.01, epochs=3, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]
    assert all(str(p.dtype).endswith("float32") for p in params.values())
    assert low.evaluate(params, X, Y)["loss"] < history[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_loss_and_every_batch_sum_accumulate_in_float32(folder, backend, dtype):
    """4096 rows, a = 0, Y = 1 except k rows of 2: C = ½(m + 3k)/m and ∂C/∂b = ∂C/∂c = 2 ∂C/∂d = −(m + k)/m hold
    only when the sums over the rows are float32 (1 + k/m is not a bfloat16, resp. float16, number)."""
    low = module(folder, "sums", backend, dtype)
    with open(low.__file__) as handle:
        source = handle.read()
    lib = {"torch": "torch", "jax": "jnp"}[backend]
    for grad, summed in (("gb1", "gl1"), ("gc2", "gl1"), ("gu3", "d3")):
        assert f"{grad} = {lib}.sum({summed}, axis=0, dtype=_acc_dtype)" in source
    assert "_ones" not in source and "dtype=_acc_dtype) * (1/2 * _inv_m)" in source
    m, k = 4096, {"bfloat16": 16, "float16": 1}[dtype]
    Y = np.ones((m, 1))
    Y[:k] = 2
    params = {name: as_array(backend, np.zeros(shape)) for name, shape in low._SPECS}
    loss, grads = low.loss_and_grad(params, as_array(backend, np.zeros((m, 1))), as_array(backend, Y))
    exact_loss, exact_sum = 0.5 * (m + 3 * k) / m, -(m + k) / m
    assert float(torch.tensor(exact_sum, dtype=getattr(torch, dtype))) != exact_sum  # what a low-precision sum gives
    assert float(loss) == pytest.approx(exact_loss, rel=1e-6)
    for key, factor in (("b1", 1.0), ("c2", 1.0), ("u3", 0.5)):
        assert float(numpy(grads[key])[0]) == pytest.approx(factor * exact_sum, rel=1e-6), key


def test_a_formula_kernels_sum_over_the_rows_accumulates_where_asked():
    """A reduced kernel that is no contraction sums its rows in the dtype ``accumulate`` names, and only then."""
    import sympy as sp

    from symdl.backends import get_backend
    from symdl.codegen.array_index_kernels import array_index_kernel_source

    v, i = sp.IndexedBase("v", real=True), sp.Symbol("i")
    for backend, total in (("torch", "torch.sum(_out, dim="), ("jax", "jnp.sum(_out, axis=")):
        plain = array_index_kernel_source(v[i], ["v"], {i: -1}, [i], "_k", get_backend(backend), reduce_leading=True)
        mixed = array_index_kernel_source(v[i], ["v"], {i: -1}, [i], "_k", get_backend(backend), reduce_leading=True,
                                          accumulate="_acc_dtype")
        assert total in plain and "_acc_dtype" not in plain
        assert mixed == plain.replace("- 1)))", "- 1)), dtype=_acc_dtype)")


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name", ["residual", "formula", "auxiliary", "normed"])
def test_torch_unchecked_on_the_meta_device(folder, dtype, name):
    mod = module(folder, name, "torch", dtype)
    params = mod.init_params(0, device="meta")
    arrays = [torch.empty((5, w), dtype=getattr(torch, dtype), device="meta") for _, w in (*mod._INPUTS, *mod._TARGETS)]
    assert mod.forward_unchecked(params, *arrays[:len(mod._INPUTS)]).device.type == "meta"
    loss, grads = mod.loss_and_grad_unchecked(params, *arrays)
    assert loss.device.type == "meta" and loss.dtype == torch.float32
    assert all(g.device.type == "meta" and g.dtype == torch.float32 for g in grads.values())
    step = mod.train_step_unchecked(params, *arrays, torch.tensor(0.1, device="meta"))
    assert step.device.type == "meta" and all(p.device.type == "meta" and p.dtype == torch.float32 for p in params.values())


@pytest.mark.parametrize("dtype", LOW)
def test_torch_unchecked_equals_checked(folder, dtype):
    mod = module(folder, "residual", "torch", dtype)
    arrays = [as_array("torch", a, dtype) for a in batch(mod, 3, 9)]
    params = mod.init_params(3)
    loss, grads = mod.loss_and_grad(params, *arrays)
    loss_u, grads_u = mod.loss_and_grad_unchecked(params, *arrays)
    assert torch.equal(loss_u, loss) and all(torch.equal(grads_u[k], grads[k]) for k in grads)
    checked, unchecked = copy.deepcopy(params), copy.deepcopy(params)
    for _ in range(2):
        assert torch.equal(mod.train_step_unchecked(unchecked, *arrays, 0.1), mod.train_step(checked, *arrays, 0.1))
    assert all(torch.equal(unchecked[k], checked[k]) and unchecked[k].dtype == torch.float32 for k in params)


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name", ["residual", "normed"])
def test_torch_unchecked_step_compiles_without_graph_breaks(folder, dtype, name, monkeypatch):
    mod = module(folder, name, "torch", dtype)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)  # Dynamo looks the module's globals up by its name
    arrays = [as_array("torch", a, dtype) for a in batch(mod, 4, 6)]
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    compiled, eager = mod.init_params(1), mod.init_params(1)
    lr = torch.tensor(0.1)
    for _ in range(2):
        torch.testing.assert_close(step(compiled, *arrays, lr), mod.train_step_unchecked(eager, *arrays, lr), rtol=1e-6, atol=1e-7)
    for key in eager:
        assert compiled[key].dtype == torch.float32
        torch.testing.assert_close(compiled[key], eager[key], rtol=1e-6, atol=1e-7)


def test_torch_loss_scaled_optimizer_step_is_kept_or_dropped_inside_a_compiled_graph(folder, monkeypatch):
    """float16 with a loss scale and Adam: an overflowing step between two finite ones changes nothing (params, moments,
    step count), in eager and in torch.compile(fullgraph=True) alike."""
    mod = module(folder, "residual", "torch", "float16", optimizer="adam")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    X, Y = (as_array("torch", a, "float16") for a in batch(mod, 6, 8))
    huge = torch.full(Y.shape, 3e4, dtype=torch.float16)
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    compiled, eager = mod.init_params(1), mod.init_params(1)
    compiled_state, eager_state = mod.init_state(compiled), mod.init_state(eager)
    for target in (Y, huge, Y):
        before = copy.deepcopy((eager, eager_state))
        torch.testing.assert_close(step(compiled, X, target, compiled_state), mod.train_step(eager, X, target, eager_state),
                                   rtol=1e-6, atol=1e-7)
        unchanged = all(torch.equal(eager[k], before[0][k]) for k in eager)
        assert unchanged == (target is huge)
        if target is huge:
            assert all(torch.equal(torch.as_tensor(eager_state[k]), torch.as_tensor(before[1][k])) for k in eager_state)
    for name in eager:
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-6, atol=1e-7)
    assert int(eager_state["t"]) == int(compiled_state["t"]) == 2


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name", ["residual", "formula", "auxiliary", "normed"])
def test_jax_unchecked_step_transfers_nothing(folder, dtype, name):
    mod = module(folder, name, "jax", dtype)
    device = jax.devices()[0]
    params = mod.init_params(2, device=device)
    arrays = [jax.device_put(jnp.asarray(a, dtype=dtype if k == 0 else jnp.float32), device) for k, a in enumerate(batch(mod, 5, 16))]
    lr = jax.device_put(np.float32(0.1), device)
    before = float(mod.loss(params, *arrays))
    with jax.transfer_guard("disallow"):
        loss, grads = mod.loss_and_grad_unchecked(params, *arrays)
        new = params
        for _ in range(5):  # the float32 masters go straight back in
            _, new = mod.train_step_unchecked(new, *arrays, lr)
        jax.block_until_ready((loss, grads, new))
    assert all(new[k].dtype == jnp.float32 for k in params) and all(g.dtype == jnp.float32 for g in grads.values())
    checked_loss, checked_grads = mod.loss_and_grad(params, *arrays)
    assert float(loss) == float(checked_loss) and float(mod.loss(params, *arrays)) == before  # params untouched
    # loss and loss_and_grad are two XLA programs: their float32 sums of the float32 loss terms may round apart
    assert float(checked_loss) == pytest.approx(before, rel=1e-6)
    assert all(np.array_equal(np.asarray(grads[k]), np.asarray(checked_grads[k])) for k in grads)
    assert float(mod.loss(new, *arrays)) < before


def test_jax_loss_scaled_optimizer_step_transfers_nothing_and_drops_an_overflow(folder):
    mod = module(folder, "residual", "jax", "float16", optimizer="adam")
    params = mod.init_params(2)
    state = mod.init_state(params)
    X, Y = (jnp.asarray(a, dtype=jnp.float16) for a in batch(mod, 7, 8))
    huge = jnp.full(Y.shape, 3e4, dtype=jnp.float16)
    with jax.transfer_guard("disallow"):
        _, kept, kept_state = mod.train_step_unchecked(params, X, huge, state)
        _, new, new_state = mod.train_step_unchecked(params, X, Y, state)
        jax.block_until_ready((kept, new))
    assert all(np.array_equal(np.asarray(kept[k]), np.asarray(params[k])) for k in params)
    assert all(np.array_equal(np.asarray(kept_state[k]), np.asarray(state[k])) for k in state)
    assert not all(np.array_equal(np.asarray(new[k]), np.asarray(params[k])) for k in params)
    assert all(v.dtype == jnp.float32 for k, v in new_state.items() if k != "t") and int(new_state["t"]) == 1


def test_unsupported_combinations_are_one_clear_error_line():
    model = residual()
    for backend, dtype, scale, message in (
        ("numpy", "bfloat16", None, "supported by the torch and jax graph modules, not by backend 'numpy'"),
        ("torch", "float32", 8.0, "loss_scale applies to the mixed-precision dtypes"),
        ("jax", "float16", 3.0, "loss_scale: expected a power of two"),
    ):
        with pytest.raises(ValueError, match=message) as error:
            graph_module_source(model, backend, dtype, loss_scale=scale)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_checked_entry_points_refuse_other_dtypes(folder, backend):
    mod = module(folder, "residual", backend, "bfloat16")
    params = mod.init_params(0)
    X, Y = (as_array(backend, a) for a in batch(mod, 0, 4))
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        mod.loss(params, as_array(backend, np.zeros((4, 3)), "float16"), Y)
    low_params = {k: (v.to(torch.bfloat16) if backend == "torch" else v.astype(jnp.bfloat16)) for k, v in params.items()}
    with pytest.raises(ValueError, match="float32"):
        mod.loss(low_params, X, Y)


def test_cli_prints_a_mixed_graph_module_and_refuses_what_makes_no_sense(tmp_path, capsys):
    compiled = residual().compile("float64")
    save_graph(tmp_path / "saved", compiled, compiled.init(0))
    out = tmp_path / "low.py"
    assert main(["codegen", "--graph", str(tmp_path / "saved"), "--backend", "torch", "--dtype", "float16", "--loss-scale", "256",
                 "-o", str(out)]) == 0
    mod = load_module(out.read_text(), tmp_path, "cli_graph_low")
    assert mod._LOSS_SCALE == 256.0 and mod._dtype == torch.float16 and mod._param_dtype == torch.float32
    capsys.readouterr()
    for extra, message in ((["--backend", "numpy", "--dtype", "bfloat16"], "needs --backend torch or jax"),
                           (["--backend", "torch", "--loss-scale", "8"], "--loss-scale applies to --dtype bfloat16 or float16"),
                           (["--backend", "torch", "--dtype", "float32"], "--dtype does not apply to --graph"),
                           (["--backend", "jax", "--dtype", "bfloat16", "--loss-scale", "3"], "loss_scale: expected a power of two")):
        code = main(["codegen", "--graph", str(tmp_path / "saved"), *extra, "-o", str(tmp_path / "no.py")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "no.py").exists()


# --- penalties: value and Ω'(θ) in float32 on the masters, after the unscaling (as tests/test_mixed_penalty.py) ---------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("penalty", ["l1", "l2"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_large_penalty_is_float32_arithmetic_on_the_masters(folder, backend, dtype, penalty, seed):
    """λ = 100 (float16 at 2**10: s·|Ω'(w)| > 65504, which overflowed): the gradients are finite and the penalty's
    share, g(with Ω) − g(without), equals the float32 graph module's within one float32 rounding of each sum."""
    low, low_plain = module(folder, penalty, backend, dtype), module(folder, "plain", backend, dtype)
    full, full_plain = module(folder, penalty, backend, "float32"), module(folder, "plain", backend, "float32")
    params = low.init_params(seed % 1000)
    kernels = [k for k in params if k.startswith("W")]
    assert len(kernels) == 3
    X, Y = (as_array(backend, v) for v in data("tanh-mse", 32, seed))
    if dtype == "float16":  # the case that overflowed float16 when the term was computed there, scaled
        assert max(low._LOSS_SCALE * np.abs(penalty_gradient(penalty, 100.0, numpy(params[w]))).max() for w in kernels) > FLOAT16_MAX
    penalty_share_is_float32_arithmetic(low, low_plain, full, full_plain, params, X, Y, kernels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float16_large_l1_steps_are_taken(folder, backend):
    large_l1_steps_are_taken(module(folder, "l1", backend, "float16"), module(folder, "l1", backend, "float16", optimizer="adam"),
                             backend, lambda v: as_array(backend, v))


@pytest.mark.parametrize("backend", BACKENDS)
def test_float16_data_overflow_still_skips_a_penalized_step(folder, backend):
    data_overflow_still_skips_a_penalized_step(module(folder, "small_l1", backend, "float16"), backend,
                                               lambda v: as_array(backend, v))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_a_penalty_alone_is_the_float32_modules_gradient(folder, backend, dtype):
    """A penalized parameter with no path to the loss: its data term is 0 and its gradient Ω'(W) = 2λW, computed in
    float32 on the master, is the float32 module's bit for bit (and its bias's gradient 0)."""
    low, full = module(folder, "detached", backend, dtype), module(folder, "detached", backend, "float32")
    params = low.init_params(3)
    X, Y = (as_array(backend, a) for a in batch(low, 3, 8))
    (_, grads), (_, grads32) = low.loss_and_grad(params, X, Y), full.loss_and_grad(params, X, Y)
    assert np.array_equal(numpy(grads["W2"]), numpy(grads32["W2"])) and np.abs(numpy(grads["W2"])).max() > 0
    assert np.array_equal(numpy(grads["b2"]), np.zeros_like(numpy(grads["b2"])))


def test_torch_penalized_plain_step_on_meta_and_compiled(folder, monkeypatch):
    penalized_plain_step_on_meta_and_compiled(module(folder, "small_l1", "torch", "float16"), monkeypatch)


def test_jax_penalized_plain_step_transfers_nothing(folder):
    penalized_plain_step_transfers_nothing(module(folder, "small_l1", "jax", "float16"))


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_float16_loss_of_a_residual_of_1000_is_the_float32_modules(folder, backend, seed):
    """Y − h ≈ 1000: (Y − h)² overflows float16; the loss, from h and Y cast to float32, is the float32 module's within
    5e-6 (relative, as test_mixed_precision's network: h's float16 rounding over a residual of 1000) at every entry
    point; the seed s·(h − y)/m overflows float16, so train_step leaves params as they were."""
    low, full = module(folder, "linear", backend, "float16"), module(folder, "linear", backend, "float32")
    rng = np.random.default_rng(seed)
    params = {name: as_array(backend, rng.uniform(-1, 1, shape)) for name, shape in low._SPECS}
    X = as_array(backend, rng.uniform(-1, 1, (8, 2)))
    Y = as_array(backend, rng.integers(990, 1010, (8, 2)).astype(np.float64))  # float16 numbers: exact in both modules
    expected = float(full.loss(params, X, Y))
    before = {k: numpy(v) for k, v in params.items()}
    values = {"loss": low.loss(params, X, Y), "inference_loss": low.inference_loss(params, X, Y),
              "loss_and_grad": low.loss_and_grad(params, X, Y)[0], "loss_unchecked": low.loss_unchecked(params, X, Y),
              "loss_and_grad_unchecked": low.loss_and_grad_unchecked(params, X, Y)[0],
              "train_step": low.train_step(params, X, Y, 0.1)}
    step = low.train_step_unchecked(copied(backend, params), X, Y, 0.1)
    values["train_step_unchecked"] = step if backend == "torch" else step[0]
    if backend == "jax":
        assert all(np.array_equal(numpy(step[1][k]), before[k]) for k in before)
    for name, value in values.items():
        assert str(value.dtype).endswith("float32"), name
        assert float(value) == pytest.approx(expected, rel=5e-6), name
    assert all(np.array_equal(numpy(params[k]), before[k]) for k in before)  # the float16 seed overflowed: step skipped


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_softmax_cross_entropy_is_float32_arithmetic_on_the_low_output(folder, backend, dtype, seed):
    """Softmax cross-entropy of the low-precision logits (as forward returns them) in float32: within 1e-6 of its
    float64 value (the network modules' measured bound is 2e-7), where its log-sum-exp in bfloat16 was off by about 1e-3."""
    low = module(folder, "classifier", backend, dtype)
    params = low.init_params(seed % 1000)
    X, Y = data("ce", 32, seed)
    X, Y = as_array(backend, X), as_array(backend, Y)
    logits = numpy(low.forward(params, X))
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected = float(-np.sum(numpy(Y) * (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))) / len(logits))
    assert float(low.loss(params, X, Y)) == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert float(low.loss_and_grad(params, X, Y)[0]) == pytest.approx(expected, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_float32_targets_reach_the_loss_unrounded(folder, backend, dtype, seed):
    """The targets stay float32 from the entry: the loss and the seed of an unrounded Y off the low dtype's grid at every
    entry point, as the network modules' (test_mixed_precision.targets_off_the_low_grid)."""
    targets_off_the_low_grid(module(folder, "linear", backend, dtype), backend, dtype, seed)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_an_input_target_reaches_the_loss_unrounded(folder, backend, dtype, seed):
    """A loss whose target is the input x reads x in float32, as torch.autocast's loss does, while the layers read it in
    the low dtype: x = ±c + δ (c in {1, 1.25, 1.5, 1.75}, δ = ±2⁻¹²) is a float32 number both low dtypes round to ±c.
    W1 on a 1/4 grid, b1 on 1/16, the reconstruction's W2 = I and b2 = ±1/32: its output h² = c + b2 and the data head's
    h¹ are exact in the low dtype, so every program computes forward's outputs. At every entry point the loss is
    ½Σ(h¹ − Y)²/m + ½Σ(h² − x)²/m of the float32 x (its float64 value, within 1e-6), not that of the rounded x (δ against
    the sign of b2: each entry's residual grows by 2⁻¹²), and the reconstruction's bias gradient is Σ(h² − x)/m
    (each (h² − x)/m = ±129·2⁻¹²/8, exact in float32 and the low dtype). An x given in the low dtype is widened exactly at
    the unchecked entry points as at the checked ones."""
    low = module(folder, "reconstructing", backend, dtype)
    rng = np.random.default_rng(seed)
    b2 = rng.choice([-1.0, 1.0], 2) / 32
    values = {"W1": rng.integers(-4, 5, (1, 2)) / 4, "b1": rng.integers(-16, 17, 1) / 16, "W2": np.eye(2), "b2": b2}
    params = {k: as_array(backend, v) for k, v in values.items()}
    rounded = rng.choice([1.0, 1.25, 1.5, 1.75], (8, 2)) * rng.choice([-1, 1], (8, 2))
    x = rounded - np.sign(b2) * 2.0**-12
    X = as_array(backend, x)
    assert np.array_equal(numpy(X), x) and np.array_equal(numpy(as_array(backend, x, dtype)), rounded)
    h1, h2 = (numpy(o) for o in low.forward(params, X))
    assert np.array_equal(h2, rounded + b2)
    targets = h1 + rng.choice([-3.0, -1.0, 1.0, 3.0], size=h1.shape) * 2.0**-13
    Y = as_array(backend, targets)
    data_term = 0.5 * np.sum((h1 - targets) ** 2) / len(x)
    expected = float(data_term + 0.5 * np.sum((h2 - x) ** 2) / len(x))
    on_rounded = float(data_term + 0.5 * np.sum((h2 - rounded) ** 2) / len(x))
    assert abs(expected - on_rounded) > 1e-3 * expected  # far apart at float32's 1e-6
    losses = losses_at_every_entry_point(low, backend, params, X, Y, "b2", (h2 - x).sum(axis=0) / len(x))
    for name, value in losses.items():
        assert str(value.dtype).endswith("float32"), name
        assert float(value) == pytest.approx(expected, rel=1e-6), name
        assert float(value) != pytest.approx(on_rounded, rel=1e-6), name
    as_low = as_array(backend, x, dtype)
    widened = as_array(backend, rounded)
    assert float(low.loss_unchecked(params, as_low, Y)) == float(low.loss(params, as_low, Y)) == float(low.loss(params, widened, Y))
    low_grads, grads = low.loss_and_grad_unchecked(params, as_low, Y)[1], low.loss_and_grad(params, widened, Y)[1]
    assert all(np.array_equal(numpy(low_grads[k]), numpy(grads[k])) for k in grads)


# --- batch norm: statistics and moving statistics in float32, its output and input gradient in the low dtype -----------


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.sampled_from((4, 16, 64)))
def test_batchnorm_gradients_within_the_documented_tolerance(folder, backend, seed, rows):
    """normed (one BatchNorm used twice) against the float32 module, TOLERANCE as for every graph. From 4 rows: at 2 or
    3 a feature's rows can lie closer together than the low dtype resolves (x̂'s error is about u·|x|/σ), measured up
    to 0.87 (bfloat16, 2 rows); from 4 rows the largest of 100 seeds per size was 0.046 (bfloat16), 0.0057 (float16).
    Both low dtypes on each example against one float32 module's values; the rows from a fixed set (the fewest, a
    few, the most as st.integers(4, 64) drew them) so that each JAX module compiles once per row count."""
    full = module(folder, "normed", backend, "float32")
    params = full.init_params(seed % 1000)
    arrays = [as_array(backend, a) for a in batch(full, seed, rows)]
    loss32, grads32 = full.loss_and_grad(copied(backend, params), *arrays)
    g32 = whole(grads32)
    for dtype in LOW:
        low = module(folder, "normed", backend, dtype)
        drawn = low.init_params(seed % 1000)
        assert drawn.keys() == params.keys() and all(np.array_equal(numpy(drawn[k]), numpy(params[k])) for k in params)
        loss, grads = low.loss_and_grad(drawn, *arrays)
        assert str(loss.dtype).endswith("float32") and all(str(g.dtype).endswith("float32") for g in grads.values())
        assert abs(float(loss) - float(loss32)) <= TOLERANCE[dtype] * abs(float(loss32)), dtype
        g = whole(grads)
        if not np.isfinite(g).all():  # float16's documented overflow (as in test_gradients_within_the_documented_tolerance)
            assert dtype == "float16" and np.abs(g32).max() > 16
            continue
        assert np.linalg.norm(g - g32) <= TOLERANCE[dtype] * np.linalg.norm(g32), dtype
        assert str(low.forward(drawn, arrays[0]).dtype).endswith(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_batchnorm_trains_with_float32_moving_statistics(folder, backend, dtype):
    """60 steps: the inference loss falls, params and buffers stay float32 and the moving statistics are the float32
    module's (moved by the same steps) within TOLERANCE."""
    low, full = module(folder, "normed", backend, dtype), module(folder, "normed", backend, "float32")
    params = low.init_params(3)
    reference = copied(backend, params)
    arrays = [as_array(backend, a) for a in batch(low, 4, 128)]
    before = float(low.inference_loss(params, *arrays))
    for _ in range(60):
        low.train_step(params, *arrays, 0.05)
        full.train_step(reference, *arrays, 0.05)
    assert float(low.inference_loss(params, *arrays)) < 0.75 * before
    assert all(str(p.dtype).endswith("float32") and np.isfinite(numpy(p)).all() for p in params.values())
    for key in ("moving_mean2", "moving_variance2"):
        moved, moved32 = numpy(params[key]), numpy(reference[key])
        assert not np.array_equal(moved, numpy(low.init_params(3)[key]))
        assert np.linalg.norm(moved - moved32) <= TOLERANCE[dtype] * np.linalg.norm(moved32), key


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", LOW)
def test_batch_statistics_and_moving_statistics_are_float32(folder, backend, dtype):
    """4096 rows of x = 1 but k of 2: the batch mean (m + k)/m and biased variance (k/m)(1 − k/m) are not low-dtype
    numbers; one step (momentum 0.9 from 0 and 1) moves the float32 buffers to 0.1·mean and 0.9 + 0.1·variance to
    float32 rounding, as torch's and flax's batch norm accumulate their statistics in float32."""
    low = module(folder, "normed_input", backend, dtype)
    with open(low.__file__) as handle:
        source = handle.read()
    mean = "torch.mean(X, dim=0, dtype=_acc_dtype)" if backend == "torch" else "jnp.mean(X, axis=0, dtype=_acc_dtype)"
    assert mean in source and low._FLOAT32_KEYS == ("gamma1", "beta1", "moving_mean1", "moving_variance1")
    m, k = 4096, {"bfloat16": 16, "float16": 1}[dtype]
    X = np.ones((m, 1))
    X[:k] = 2
    params = low.init_params(0)
    low.train_step(params, as_array(backend, X), as_array(backend, np.zeros((m, 1))), 1e-9)
    exact_mean, exact_var = (m + k) / m, (k / m) * (1 - k / m)
    assert float(torch.tensor(exact_mean, dtype=getattr(torch, dtype))) != exact_mean  # a low-precision mean misses it
    assert all(str(params[key].dtype).endswith("float32") for key in params)
    assert float(numpy(params["moving_mean1"])[0]) == pytest.approx(0.1 * exact_mean, rel=1e-6)
    assert float(numpy(params["moving_variance1"])[0]) == pytest.approx(0.9 + 0.1 * exact_var, rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batchnorm_parameters_and_buffers_are_never_rounded(folder, backend):
    """γ, β and the moving statistics are read as float32 (as torch's BatchNorm1d keeps them under autocast): forward
    with moving statistics off the bfloat16 grid gives the float32 module's output rounded once, not that of rounded
    statistics."""
    low, full = module(folder, "normed_input", backend, "bfloat16"), module(folder, "normed_input", backend, "float32")
    values = {"gamma1": [1 + 2**-12], "beta1": [0.1], "moving_mean1": [0.3], "moving_variance1": [1 + 2**-10],
              "W2": [[1.0]], "b2": [0.0]}  # W2 = 1, b2 = 0: the output is batch norm's, rounded once to bfloat16
    params = {k: as_array(backend, v) for k, v in values.items()}
    X = as_array(backend, np.linspace(-4, 4, 33)[:, None])  # bfloat16 numbers: the input is not rounded
    once = numpy(as_array(backend, numpy(full.forward(params, X)), "bfloat16"))
    assert np.array_equal(numpy(low.forward(params, X)), once)
    rounded = {k: as_array(backend, numpy(as_array(backend, v, "bfloat16"))) for k, v in values.items()}
    assert not np.array_equal(numpy(as_array(backend, numpy(full.forward(rounded, X)), "bfloat16")), once)


def test_batchnorm_torch_module_in_mixed_precision(folder):
    """The bfloat16 Module's training call: .grad is loss_and_grad's and its buffers are train_step's (lr = 0), float32
    throughout, from one training forward (_loss_grad_moved)."""
    mod = module(folder, "normed", "torch", "bfloat16")
    params = mod.init_params(5)
    X, Y = (as_array("torch", a) for a in batch(mod, 6, 16))
    _, grads = mod.loss_and_grad(params, X, Y)
    net = mod.Module(params)
    net(X, Y).backward()
    assert all(torch.equal(p.grad, grads[name]) and p.dtype == torch.float32 for name, p in net.named_parameters())
    mod.train_step(params, X, Y, 0.0)
    assert all(torch.equal(b, params[name]) and b.dtype == torch.float32 for name, b in net.named_buffers())
    # a scaled loss with buffers: train_step only (a Module's forward would move them without computing a gradient)
    assert not hasattr(module(folder, "normed", "torch", "float16"), "Module")
