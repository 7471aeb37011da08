"""Formula layers with a reduction (LayerNorm, a Σ over the input) compute in float32 inside bfloat16/float16 modules.

PyTorch's autocast runs ``layer_norm``, ``sum`` and ``softmax`` in float32 and matrix products in the low dtype; flax's
LayerNorm computes its statistics in float32. A formula layer whose forward sums over an index that no parameter
carries (a mean, a variance) does the same: its low-dtype arrays are read widened to float32, its parameters stay
float32 masters, its output and its input's gradient are rounded once to the low dtype. On inputs ~N(100, 1) (width
64, ε = 1e-5) the low-dtype LayerNorm lost the mean (float16: Σx = 6400 to ±2; the printed stable form's scaled
sum of squares, 3125·Σ(xₖ − μ)² at width 512, overflowed) and gave NaN gradients; now the output is autocast's within two low-dtype
roundings and the gradient float64's within two machine epsilons.
"""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import graph_module_source
from symdl.graph import Dense, Formula, Input, LayerNorm, Model, TrainingFormula

torch = pytest.importorskip("torch")

WIDTH, ROWS = 64, 16
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7}  # machine epsilon of the low dtype
_CACHE: dict[tuple[str, str], object] = {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mixed_layernorm")


def module(folder, backend: str, dtype: str):
    """x → Dense(64) → LayerNorm(ε = 1e-5), mse; loss_scale 1: the Dense layer's gradient Σ δ·x (x ≈ 100) stays finite."""
    if (backend, dtype) not in _CACHE:
        x = Input(WIDTH)
        model = Model(x, LayerNorm(epsilon=1e-5)(Dense(WIDTH)(x)), losses="mse")
        source = graph_module_source(model, backend, dtype, loss_scale=1)
        _CACHE[backend, dtype] = load_module(source, folder, f"layernorm_{backend}_{dtype}")
    return _CACHE[backend, dtype]


def problem(seed: int, dtype: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """W = I, b = 0 (the layer norm reads the inputs), γ, β off 1 and 0; X ~ N(100, 1) rounded to the low dtype."""
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.normal(100, 1, (ROWS, WIDTH)), dtype=torch.float32).to(getattr(torch, dtype)).float().numpy()
    params = {"W1": np.eye(WIDTH), "b1": np.zeros(WIDTH), "gamma2": rng.uniform(0.5, 1.5, WIDTH), "beta2": rng.uniform(-0.5, 0.5, WIDTH)}
    return {k: v.astype(np.float32) for k, v in params.items()}, X, rng.normal(0, 1, (ROWS, WIDTH)).astype(np.float32)


def arrays(backend: str, values):
    if backend == "torch":
        return torch.tensor(values)
    import jax.numpy as jnp

    return jnp.asarray(values)


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_forward_is_a_float32_layer_norm_rounded_once(folder, backend, dtype, seed):
    if backend == "jax":
        pytest.importorskip("jax")
    mod = module(folder, backend, dtype)
    params, X, _ = problem(seed, dtype)
    out = mod.forward({k: arrays(backend, v) for k, v in params.items()}, arrays(backend, X))
    assert str(out.dtype).endswith(dtype)  # the output in the compute dtype
    # what CUDA's autocast computes (layer_norm is on its float32 list): float32 layer_norm of the low-dtype input
    expected = torch.nn.functional.layer_norm(torch.tensor(X), (WIDTH,), torch.tensor(params["gamma2"]),
                                              torch.tensor(params["beta2"]), 1e-5)
    got = out.float() if backend == "torch" else torch.tensor(np.asarray(out, dtype=np.float32))
    # two roundings to the low dtype apart at most (ours rounds once; another float32 formula may round the other way)
    assert ((got - expected).abs() <= 2 * EPS[dtype] * expected.abs().clamp_min(1)).all()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_gradients_are_float64s_within_two_machine_epsilons(folder, dtype, seed):
    """Through the layer norm's VJP into the Dense layer: ‖g − g₆₄‖ ≤ 2ε‖g₆₄‖, float64 autograd the reference."""
    mod = module(folder, "torch", dtype)
    params, X, Y = problem(seed, dtype)
    _, grads = mod.loss_and_grad({k: torch.tensor(v) for k, v in params.items()}, torch.tensor(X), torch.tensor(Y))
    assert all(g.dtype == torch.float32 for g in grads.values())
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.nn.functional.linear(torch.tensor(X, dtype=torch.float64), p["W1"], p["b1"])
    y = torch.nn.functional.layer_norm(h, (WIDTH,), p["gamma2"], p["beta2"], 1e-5)
    (0.5 * (y - torch.tensor(Y, dtype=torch.float64)).pow(2).sum() / ROWS).backward()
    got = torch.cat([grads[k].double().ravel() for k in sorted(p)])
    reference = torch.cat([p[k].grad.ravel() for k in sorted(p)])
    assert torch.isfinite(got).all()
    assert torch.linalg.norm(got - reference) <= 2 * EPS[dtype] * torch.linalg.norm(reference)


def test_the_module_widens_the_layers_inputs_and_narrows_what_leaves_it(folder):
    mod = module(folder, "torch", "float16")
    with open(mod.__file__) as handle:
        source = handle.read()
    assert mod._FLOAT32_KEYS == ("gamma2", "beta2")  # float32 masters, never cast
    assert "z1.to(_acc_dtype)" in source and "gl1.to(_acc_dtype)" in source  # the input and the upstream gradient
    forward = next(line for line in source.splitlines() if line.strip().startswith("h2 = "))
    assert forward.rstrip().endswith(".to(_dtype)")  # the output rounded once
    assert "vjp_x_2 = (_layer_norm_vjp_x_" in source and "gW1 = vjp_x_2.T @ X" in source  # narrowed, then float16
    assert "a formula layer with a sum over its input (layer norm) compute in float32" in " ".join(mod.__doc__.split())


def _formula(text: str, params: dict | None = None) -> symdl.FormulaLayer:
    return symdl.formula_layer(text, inputs={"x": "n"}, params=params or {})


def test_which_formula_layers_compute_in_float32():
    """A Σ no parameter carries is a reduction (float32, as autocast's sum and layer_norm); Σⱼ W[i, j]·x[j] and
    Σⱼ W[i, j]·x[j]² are contractions (matmul, einsum: the low dtype); an element-wise formula has no sum."""
    assert LayerNorm().computes_in_float32 and LayerNorm(center=False, scale=False).computes_in_float32
    assert Formula(_formula("y[i] = exp(x[i]) / sum(exp(x[j]), j)")).computes_in_float32
    assert Formula(_formula("y[i] = x[i] / (1 + sum(x[j]**2, j)) + a[i]", {"a": "n"})).computes_in_float32
    assert not Formula(_formula("y[i] = tanh(sum(W[i, j] * x[j], j))", {"W": ("n", "n")})).computes_in_float32
    assert not Formula(_formula("y[i] = sum(W[i, j] * x[j]**2, j)", {"W": ("n", "n")})).computes_in_float32
    assert not Formula(_formula("y[i] = x[i] * a[i]", {"a": "n"})).computes_in_float32
    noisy = symdl.formula_layer("y[i] = x[i] + 0.1*eps[i]", inputs={"x": "n", "eps": "n"}, name="noisy")
    centred = symdl.formula_layer("y[i] = x[i] - sum(x[j], j)/n", inputs={"x": "n"}, name="noisy")
    assert TrainingFormula(noisy, centred, noise={"eps": "normal"}).computes_in_float32  # the inference formula's Σ
    assert not TrainingFormula(noisy, _formula("y[i] = x[i]"), noise={"eps": "normal"}).computes_in_float32
