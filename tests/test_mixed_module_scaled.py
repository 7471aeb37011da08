"""float16 modules' ``Module`` with a loss scale: the incoming gradient is the scale, as ``torch.amp.GradScaler`` gives it.

``scaler.scale(C).backward()`` hands the Function's backward g = S; the printed float16 backward then runs with the
seed ℓ'/m multiplied by g before it is rounded (``_loss_and_grad_scaled``: loss_and_grad's lines with the scale an
argument), and ``.grad`` is the scaled gradient g · ∂C/∂param that GradScaler unscales. So ``.grad`` at g = s is s
times ``loss_and_grad`` of the module printed with the static ``loss_scale=s``, bit for bit; a seed that overflows
float16 gives inf gradients that ``scaler.step`` skips; a seed that float16 would flush survives at g = S.
"""

from __future__ import annotations

import sys

import pytest
from docs_scripts import run_docs_script
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_torch_module import residual_two_input_model
from test_mixed_precision import TOLERANCE
from test_torch_device import _block

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Dense, Input, Model

torch = pytest.importorskip("torch")

NET = symdl.Network([4, 16, 3], activation="tanh", loss="mse", penalty="l2")
LINEAR = symdl.formula_rule("a - y", wrt="a", symbols=["y"])  # ℓ' = 1: a constant seed s/m
SCALES = (1, 2**10, 2**15)  # 2**10: the default static scale
_CACHE: dict[tuple[str, str, float | None], object] = {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mixed_module_scaled")


def module(folder, kind: str, dtype: str = "float16", loss_scale: float | None = None):
    key = (kind, dtype, loss_scale)
    if key not in _CACHE:
        if kind == "net":
            source = network_module_source(NET, "torch", dtype, loss_scale=loss_scale)
        elif kind == "net_linear":
            source = network_module_source(symdl.Network([4, 16, 3], activation="tanh", loss=LINEAR), "torch", dtype, loss_scale=loss_scale)
        elif kind == "graph_linear":
            x = Input(4)
            model = Model(x, Dense(3)(Dense(16, activation="tanh")(x)), losses=LINEAR)
            source = graph_module_source(model, "torch", dtype, loss_scale=loss_scale)
        else:
            source = graph_module_source(residual_two_input_model(), "torch", dtype, loss_scale=loss_scale)
        _CACHE[key] = load_module(source, folder, f"{kind}_{dtype}_{loss_scale}".replace(".", "_"))
    return _CACHE[key]


def data(kind: str, seed: int, rows: int = 24) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(rows, width, generator=g) for width in ((4, 3, 2) if kind == "graph" else (4, 3)))


def grads(model, batch, scale) -> dict:
    model.zero_grad(set_to_none=True)
    model(*batch).backward(torch.tensor(float(scale)))
    return {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("kind", ["net", "graph"])
@pytest.mark.parametrize("scale", SCALES)
@settings(max_examples=4, deadline=None)
@given(init=st.integers(0, 2**16), seed=st.integers(0, 2**16))
def test_grad_at_g_is_g_times_the_static_modules_gradient_at_that_scale(folder, kind, scale, init, seed):
    """One printer: the tensor scale enters where the printed constant does (the seed, _master_grads), penalty included."""
    mod, static = module(folder, kind), module(folder, kind, loss_scale=scale)
    assert hasattr(mod, "_loss_and_grad_scaled") and hasattr(mod, "Module")
    batch = data(kind, seed)
    model = mod.Module(mod.init_params(init))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the masters
    _, printed = static.loss_and_grad(static.init_params(init), *batch)
    for name, grad in grads(model, batch, scale).items():
        assert grad.dtype == torch.float32 and torch.equal(grad, scale * printed[name]), name
    assert all(not g.any() for g in grads(model, batch, 0).values())  # 0 · ∂C/∂θ, not 0/0


@pytest.mark.parametrize("kind", ["net_linear", "graph_linear"])
def test_a_linear_losss_constant_seed_trains_with_grad_scaler(folder, kind):
    """ℓ = a − y: the seed S·ℓ'/m is ones times S/m, not a fill from the tensor S (a host read-back) nor, in a graph, a
    scalar; .grad at g = s is s times the static module's gradient, and GradScaler with SGD makes the loss fall."""
    mod, full = module(folder, kind), module(folder, kind, "float32")
    batch = data(kind, 9)
    with open(mod.__file__) as handle:
        scaled = _block(handle.read(), "def _loss_and_grad_scaled(")
    seed = next(line.strip() for line in scaled.splitlines() if line.strip().startswith(("gA = ", "gl1 = ")))
    assert seed.startswith(("gA = torch.ones(", "gl1 = torch.ones(")) and "loss_scale" in seed, seed
    assert "torch.full(" not in scaled
    model, reference = mod.Module(mod.init_params(9)), full.Module(full.init_params(9))
    for scale in (1, 2**10):
        _, printed = module(folder, kind, loss_scale=scale).loss_and_grad(mod.init_params(9), *batch)
        assert all(torch.equal(g, scale * printed[n]) for n, g in grads(model, batch, scale).items()), scale
    exact = torch.cat([g.ravel() for g in grads(reference, batch, 1).values()])
    mixed = torch.cat([g.ravel() for g in grads(model, batch, 1).values()])
    assert torch.linalg.norm(mixed - exact) <= TOLERANCE["float16"] * torch.linalg.norm(exact)
    scaler, optimizer = torch.amp.GradScaler("cpu"), torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = model(*batch)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))
    assert scaler.get_scale() == 2.0**16 and losses == sorted(losses, reverse=True) and losses[-1] < losses[0], losses


def test_grad_scales_exactly_between_powers_of_two_and_forward_is_the_loss(folder):
    mod = module(folder, "net")
    batch = data("net", 1)
    model = mod.Module(mod.init_params(0))
    assert torch.equal(model(*batch).detach(), mod.loss(mod.init_params(0), *batch))
    reference = grads(model, batch, 2**10)
    for k in range(4, 16):  # no seed or product subnormal nor overflowing in float16 from 2**4 on, for this batch
        assert all(torch.equal(g, 2.0 ** (k - 10) * reference[n]) for n, g in grads(model, batch, 2**k).items()), k


@pytest.mark.parametrize("kind", ["net", "graph"])
def test_grad_scaler_and_sgd_train_it_unscaled_gradients_within_float16s_tolerance(folder, kind):
    mod, full = module(folder, kind), module(folder, kind, "float32")
    batch = data(kind, 2, rows=64)
    model, reference = mod.Module(mod.init_params(3)), full.Module(full.init_params(3))
    reference(*batch).backward()
    scaler = torch.amp.GradScaler("cpu")  # init_scale 2**16
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    exact = torch.cat([p.grad.ravel() for p in reference.parameters()])
    losses, skipped = [], 0
    for _ in range(30):
        optimizer.zero_grad()
        loss = model(*batch)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # .grad / S, as before clipping
        mixed = torch.cat([p.grad.ravel() for p in model.parameters()])
        if not torch.isfinite(mixed).all():  # S · (a gradient > 65504 / S) overflowed float16: the step is skipped
            skipped += 1
        elif skipped == len(losses):  # the first step taken, at the initial parameters as the float32 gradient
            assert torch.linalg.norm(mixed - exact) <= TOLERANCE["float16"] * torch.linalg.norm(exact)
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))
    assert skipped < 5 and scaler.get_scale() == 2.0 ** (16 - skipped)  # each overflow halved S
    assert losses[-1] < 0.7 * losses[0], losses


def test_an_overflowing_scale_gives_inf_gradients_that_grad_scaler_skips(folder):
    mod = module(folder, "net")
    batch = data("net", 4)
    model = mod.Module(mod.init_params(5))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # s · ℓ'/m overflows float16's 65504
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(*batch)
    scaler.scale(loss).backward()
    assert all(not torch.isfinite(p.grad).all() for p in model.parameters())
    scaler.step(optimizer)
    scaler.update()
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
    assert scaler.get_scale() == 2.0**39  # backoff 0.5
    for _ in range(40):  # halved until the float16 backward is finite, then steps are taken
        optimizer.zero_grad()
        scaler.scale(model(*batch)).backward()
        scaler.step(optimizer)
        scaler.update()
    assert scaler.get_scale() <= 2.0**16 and not all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_a_seed_float16_would_flush_survives_at_grad_scalers_scale(folder):
    """Targets one or two float32 ulps above the module's own outputs: (a − y)/m ≈ 3e-9 is 0 in float16, S · (a − y)/m is not."""
    mod = module(folder, "net")
    params = mod.init_params(6)
    X = data("net", 6, rows=64)[0]
    outputs = mod.forward(params, X).float()
    Y = outputs + 2e-7 * torch.rand(64, 3, generator=torch.Generator().manual_seed(6)).add(0.5)
    model = mod.Module(params)
    flushed = grads(model, (X, Y), 1)  # every seed 0 in float16: the biases' gradients (no penalty) are 0
    assert not flushed["b1"].any() and not flushed["b2"].any()
    # b2's gradient Σ (a − y)/m in float32: y − a is exact (Sterbenz), every term of one sign
    expected = (outputs - Y).sum(0) / 64
    assert (expected < 0).all()
    torch.testing.assert_close(grads(model, (X, Y), 2**16)["b2"] / 2**16, expected, rtol=2e-3, atol=0)


def test_torch_func_grad_and_per_sample_vmap_and_no_second_derivative(folder):
    mod = module(folder, "graph")
    X1, X2, Y = data("graph", 7, rows=6)
    model = mod.Module(mod.init_params(7))
    params = {name: p.detach() for name, p in model.named_parameters()}
    cost = lambda p, *batch: torch.func.functional_call(model, p, batch)  # noqa: E731
    expected = grads(model, (X1, X2, Y), 1)
    assert all(torch.equal(g, expected[n]) for n, g in torch.func.grad(cost)(params, X1, X2, Y).items())
    per_sample = torch.func.vmap(torch.func.grad(lambda p, *row: cost(p, *(r.unsqueeze(0) for r in row))),
                                 in_dims=(None, 0, 0, 0))(params, X1, X2, Y)
    _, row = mod.loss_and_grad_unchecked(params, X1[2:3], X2[2:3], Y[2:3])  # static scale 2**10, unscaled
    for name, g in per_sample.items():
        assert g.shape == (6, *params[name].shape)
        torch.testing.assert_close(g[2], row[name], rtol=TOLERANCE["float16"], atol=1e-4)
    first = torch.autograd.grad(model(X1, X2, Y), model.W2, create_graph=True)[0]
    with pytest.raises(RuntimeError, match="^Module: no second derivatives") as caught:
        first.sum().backward()
    assert "\n" not in str(caught.value)


@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")  # Dynamo's, as for every Module
def test_torch_compile_fullgraph_gives_eagers_gradient(folder, monkeypatch):
    mod = module(folder, "net")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)  # Dynamo looks the module's globals up by its name
    batch = data("net", 8)
    eager, compiled = (mod.Module(mod.init_params(8), checks=False) for _ in range(2))
    torch._dynamo.reset()
    step = torch.compile(compiled, fullgraph=True, backend="aot_eager")
    for scale in (1.0, 2.0**12):
        expected = grads(eager, batch, scale)
        got = grads(step, batch, scale)  # the compiled wrapper's names: _orig_mod.W1, …
        assert all(torch.equal(g, expected[n.removeprefix("_orig_mod.")]) for n, g in got.items()), scale


@pytest.mark.slow
def test_the_docs_grad_scaler_script_trains_and_skips_an_overflow(tmp_path):
    """docs/scaling.md's fp16_grad_scaler.py, run as a user would (a file, a new process: seconds)."""
    out = run_docs_script("scaling.md", "fp16_grad_scaler.py", tmp_path)
    assert "loss scale 65536" in out and "overflow at 2**40: step skipped, loss scale halved" in out
