"""The generated torch ``Module`` as a PyTorch user drives it: per-sample gradients, dtype casts and ``seed``.

Per-sample gradients are torch.func's recipe, ``vmap(grad(functional_call(...)))`` over samples each given as a
batch of one row, compared with a loop of single-sample gradients (torch.func.grad per sample) and with the printed
``loss_and_grad`` per sample; an ensemble's parameters stacked and vmapped likewise. A cast (``.double()``,
``.half()``, ``.to(dtype)``) is refused before any parameter changes; a move to a device is not.
"""

from __future__ import annotations

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_torch_module import residual_two_input_model

import symdl
from symdl.export import graph_module_source, network_module_source

torch = pytest.importorskip("torch")
func = torch.func

NETS = {
    "plain": {"layers": [3, 5, 2], "activation": "tanh", "loss": "mse", "penalty": "l2"},
    "dropout": {"layers": [3, 6, 3], "activation": "relu", "output_activation": "softmax",
                "loss": "softmax_cross_entropy", "dropout": 0.3},
}


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("module_func")
    loaded = {name: load_module(network_module_source(symdl.Network(**spec), "torch"), folder, f"nf_{name}")
              for name, spec in NETS.items()}
    loaded["float32"] = load_module(network_module_source(symdl.Network(**NETS["plain"]), "torch", "float32"), folder, "nf_f32")
    loaded["bfloat16"] = load_module(network_module_source(symdl.Network(**NETS["plain"]), "torch", "bfloat16"), folder, "nf_bf16")
    loaded["graph"] = load_module(graph_module_source(residual_two_input_model(), "torch", "float64"), folder, "nf_graph")
    return loaded


def rows(seed: int, count: int, *widths: int, dtype=torch.float64) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(torch.from_numpy(rng.standard_normal((count, w))).to(dtype) for w in widths)


def per_sample(model, params, data, **kwargs):
    """torch.func's per-sample-gradient recipe: each sample as a batch of one row, the parameters shared."""
    def one(p, *sample):
        return func.functional_call(model, p, tuple(x.unsqueeze(0) for x in sample), kwargs)
    return func.vmap(func.grad_and_value(one), in_dims=(None, *(0,) * len(data)), **(
        {"randomness": "same"} if kwargs else {}))(params, *data)


def looped(model, params, data, **kwargs):
    """The same gradients one sample at a time, no vmap."""
    grads = [func.grad(lambda p, *s: func.functional_call(model, p, tuple(x[None] for x in s), kwargs))(params, *sample)
             for sample in zip(*data)]
    return {key: torch.stack([g[key] for g in grads]) for key in params}


@settings(deadline=None, max_examples=10)
@given(st.integers(0, 2**16), st.integers(1, 6), st.booleans())
def test_per_sample_gradients_of_a_network_are_the_loop_of_single_sample_gradients(modules, seed, count, checks):
    mod = modules["plain"]
    model = mod.Module(mod.init_params(seed % 5), checks=checks)
    params = {k: v.detach() for k, v in model.named_parameters()}
    X, Y = rows(seed, count, 3, 2)
    grads, losses = per_sample(model, params, (X, Y))
    reference = looped(model, params, (X, Y))
    for i in range(count):
        loss, printed = mod.loss_and_grad(model.as_params(), X[i:i + 1], Y[i:i + 1])
        assert torch.equal(losses[i], loss)
        for key in printed:
            assert torch.equal(grads[key][i], printed[key]), key
    for key in params:
        torch.testing.assert_close(grads[key], reference[key], rtol=0, atol=0, msg=key)
    batch = mod.loss_and_grad(model.as_params(), X, Y)[1]  # the mean over the batch is the mean of the per-sample ones
    for key in params:
        torch.testing.assert_close(grads[key].mean(0), batch[key], rtol=1e-12, atol=1e-14, msg=key)


def test_per_sample_gradients_of_a_graph_module_with_two_inputs(modules):
    mod = modules["graph"]
    model = mod.Module(mod.init_params(1))
    params = {k: v.detach() for k, v in model.named_parameters()}
    data = rows(2, 5, 4, 3, 2)
    grads, losses = per_sample(model, params, data)
    reference = looped(model, params, data)
    for key in params:
        assert torch.equal(grads[key], reference[key]), key
    for i in range(5):
        assert torch.equal(losses[i], mod.loss(model.as_params(), *(x[i:i + 1] for x in data)))


def test_with_dropout_every_sample_has_the_masks_of_the_seed(modules):
    mod = modules["dropout"]
    model = mod.Module(mod.init_params(0))
    params = {k: v.detach() for k, v in model.named_parameters()}
    X, Y = rows(3, 4, 3, 3)
    Y = torch.softmax(Y, dim=1)
    grads, _ = per_sample(model, params, (X, Y), seed=7)
    for i in range(4):
        _, printed = mod.loss_and_grad(model.as_params(), X[i:i + 1], Y[i:i + 1], seed=7)
        for key in printed:
            assert torch.equal(grads[key][i], printed[key]), key
    one = lambda p, x, y, **kw: func.functional_call(model, p, (x[None], y[None]), kw)  # noqa: E731
    for randomness, kwargs in (("different", {"seed": 7}), ("different", {})):
        with pytest.raises(RuntimeError, match=r"^Module: torch.func.vmap\(randomness='different'\) asks for other "
                                               r"masks per sample, but every slice's masks come from one seed;"):
            func.vmap(func.grad(one), in_dims=(None, 0, 0), randomness=randomness)(params, X, Y, **kwargs)
    with pytest.raises(RuntimeError, match="randomness"):  # no seed: torch's own refusal of a draw under vmap
        func.vmap(func.grad(one), in_dims=(None, 0, 0))(params, X, Y)


def test_the_checks_read_each_sample_under_vmap(modules):
    mod = modules["plain"]
    model = mod.Module(mod.init_params(0))
    params = {k: v.detach() for k, v in model.named_parameters()}
    X, Y = rows(4, 3, 3, 2)
    X[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity; expected finite numbers$"):
        per_sample(model, params, (X, Y))
    with pytest.raises(ValueError, match=r"^X has shape \(3,\); expected \(batch, 3\)"):  # a sample not made a batch of one
        func.vmap(func.grad(lambda p, x, y: func.functional_call(model, p, (x, y))), in_dims=(None, 0, 0))(params, X, Y)


def test_an_ensemble_of_parameters_vmapped_is_each_members_gradient(modules):
    mod = modules["plain"]
    model = mod.Module(mod.init_params(0))
    members = [mod.init_params(seed) for seed in range(3)]
    stacked = {key: torch.stack([m[key] for m in members]) for key in members[0]}
    X, Y = rows(5, 6, 3, 2)
    grads = func.vmap(func.grad(lambda p: func.functional_call(model, p, (X, Y))))(stacked)
    for i, member in enumerate(members):
        printed = mod.loss_and_grad(member, X, Y)[1]
        for key in printed:
            assert torch.equal(grads[key][i], printed[key]), key


@pytest.mark.parametrize("cast", ["double", "float", "half", "bfloat16", "to"])
def test_a_cast_to_another_dtype_is_refused_before_any_parameter_changes(modules, cast):
    mod = modules["float32"]
    model = mod.Module(mod.init_params(0))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    target = {"double": torch.float64, "float": torch.float32, "half": torch.float16, "bfloat16": torch.bfloat16,
              "to": torch.float64}[cast]
    call = (lambda: model.to(torch.float64)) if cast == "to" else getattr(model, cast)
    if target == torch.float32:  # the dtype it was generated for: nothing to cast, the module itself is returned
        assert call() is model
    else:
        with pytest.raises(TypeError, match=rf"^Module: its parameters are torch.float32, the dtype its code was generated "
                                            rf"for, and cannot become {target}; generate the module for {target} instead"):
            call()
    for key, value in model.named_parameters():
        assert value.dtype == torch.float32 and torch.equal(value.detach(), before[key]), key
    X, Y = rows(0, 4, 3, 2, dtype=torch.float32)
    assert torch.equal(model(X, Y).detach(), mod.loss(model.as_params(), X, Y))


def test_a_move_to_a_device_without_a_cast_still_works(modules):
    mod = modules["plain"]
    model = mod.Module(mod.init_params(0))
    assert model.to("cpu") is model and model.to("cpu", torch.float64) is model and model.cpu() is model
    moved = mod.Module(mod.init_params(0)).to("meta")  # the meta device: shapes only
    assert {p.device.type for p in moved.parameters()} == {"meta"} and {p.dtype for p in moved.parameters()} == {torch.float64}


def test_a_mixed_precision_modules_float32_masters_are_not_cast_either(modules):
    mod = modules["bfloat16"]
    model = mod.Module(mod.init_params(0))
    with pytest.raises(TypeError, match=r"^Module: its parameters are torch.float32, .* cannot become torch.bfloat16;"):
        model.bfloat16()
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_seed_is_keyword_only_in_network_and_graph_modules(modules):
    net, graph = modules["dropout"], modules["graph"]
    X, Y = rows(6, 3, 3, 3)
    model = net.Module(net.init_params(0))
    with pytest.raises(TypeError, match=r"^Module.forward takes 2 positional arguments \(X, Y\) and seed by keyword "
                                        r"only \(forward\(X, Y, seed=\.\.\.\)\), got 3$"):
        model(X, Y, 5)
    assert torch.equal(model(X, Y, seed=5).detach(), net.loss(model.as_params(), X, Y, seed=5))
    data = rows(7, 3, 4, 3, 2)
    with pytest.raises(TypeError, match=r"^Module.forward takes 3 positional arguments \(X1, X2, Y\) .*, got 5$"):
        graph.Module(graph.init_params(0))(*data, 1, 2)


def test_vmap_of_the_module_itself_backpropagates_into_its_parameters(modules):
    """vmap(model) over rows with the module's own nn.Parameters: the per-sample losses' sum back-propagates as the
    sum of the per-sample printed gradients."""
    mod = modules["plain"]
    model = mod.Module(mod.init_params(4))
    X, Y = rows(8, 5, 3, 2)
    losses = func.vmap(lambda x, y: model(x[None], y[None]))(X, Y)
    losses.sum().backward()
    printed = [mod.loss_and_grad(model.as_params(), X[i:i + 1], Y[i:i + 1]) for i in range(5)]
    assert torch.equal(losses.detach(), torch.stack([loss for loss, _ in printed]))
    for key, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, sum(grads[key] for _, grads in printed), rtol=1e-13, atol=1e-15, msg=key)


def test_per_sample_gradients_of_each_member_of_an_ensemble_by_nested_vmap(modules):
    mod = modules["plain"]
    model = mod.Module(mod.init_params(0))
    members = [mod.init_params(seed) for seed in range(3)]
    stacked = {key: torch.stack([m[key] for m in members]) for key in members[0]}
    X, Y = rows(9, 4, 3, 2)
    grads = func.vmap(lambda p: per_sample(model, p, (X, Y))[0])(stacked)
    for e, member in enumerate(members):
        for i in range(4):
            printed = mod.loss_and_grad(member, X[i:i + 1], Y[i:i + 1])[1]
            for key in printed:
                assert torch.equal(grads[key][e, i], printed[key]), (e, i, key)
