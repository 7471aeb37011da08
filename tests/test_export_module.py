"""``to_torch(..., module=True)``: the exported function as a torch.nn.Module, used in nn.Sequential as torch.nn.Softplus is."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symdl.export import to_torch
from symdl.testing.strategies import finite_floats

torch = pytest.importorskip("torch")

MISH = "z*tanh(log(1 + exp(z)))"


def mish_by_hand(z):
    return z * torch.tanh(torch.nn.functional.softplus(z))


def two_nets(seed: int):
    """The same Linear → activation → Linear, once with the exported Module and once with torch's own functions."""
    torch.manual_seed(seed)
    ours = torch.nn.Sequential(torch.nn.Linear(4, 6, dtype=torch.float64), to_torch(MISH, module=True)(),
                               torch.nn.Linear(6, 1, dtype=torch.float64))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6, dtype=torch.float64), torch.nn.Mish(),
                                 torch.nn.Linear(6, 1, dtype=torch.float64))
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@settings(deadline=None, max_examples=20)
@given(arrays(np.float64, (3, 4), elements=finite_floats(np.float64, -30, 30)))
def test_in_sequential_it_trains_as_torchs_own_mish(x):
    ours, theirs = two_nets(0)
    X = torch.from_numpy(x)
    for net in (ours, theirs):
        net(X).square().sum().backward()
    torch.testing.assert_close(ours(X), theirs(X), rtol=1e-12, atol=1e-12)
    for (key, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12, msg=key)


@pytest.mark.filterwarnings("ignore:<class 'torch.autograd.function.Function'> should not be instantiated:DeprecationWarning")
def test_a_module_class_without_parameters_that_pickles_and_compiles():
    cls = to_torch(MISH, module=True)
    assert issubclass(cls, torch.nn.Module) and cls is to_torch(MISH, module=True)
    assert cls.__name__ == to_torch(MISH).__name__ + "Module" and repr(cls()) == f"{cls.__name__}()"
    ours, _ = two_nets(1)
    assert list(ours.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # the activation adds no keys
    assert type(pickle.loads(pickle.dumps(cls()))) is cls
    z = torch.linspace(-5, 5, 11, dtype=torch.float64)
    torch.testing.assert_close(torch.compile(cls(), fullgraph=True, backend="aot_eager")(z), mish_by_hand(z), rtol=1e-12, atol=1e-14)


# symdl's loss (rule name, params) beside torch.nn's own loss, and c with ours = c · theirs for every element.
# mse is ½(a − y)², MSELoss (a − y)²; huber with δ = β is β · SmoothL1Loss(β).
AGAINST_TORCH = {
    "MSELoss": ("mse", {}, lambda r: torch.nn.MSELoss(reduction=r), 0.5),
    "L1Loss": ("mae", {}, lambda r: torch.nn.L1Loss(reduction=r), 1.0),
    "HuberLoss": ("huber", {"delta": 1.5}, lambda r: torch.nn.HuberLoss(reduction=r, delta=1.5), 1.0),
    "SmoothL1Loss": ("huber", {"delta": 0.5}, lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.5), 0.5),
    "BCEWithLogitsLoss": ("binary_cross_entropy", {}, lambda r: torch.nn.BCEWithLogitsLoss(reduction=r), 1.0),
    "CrossEntropyLoss": ("softmax_cross_entropy", {}, lambda r: torch.nn.CrossEntropyLoss(reduction=r), 1.0),
}


def loss_inputs(draw, name: str):
    """Prediction and target as the torch loss takes them: logits and probabilities for the cross-entropies."""
    rows, width = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    a = draw(arrays(np.float64, (rows, width), elements=finite_floats(np.float64, -20, 20)))
    if name == "BCEWithLogitsLoss":
        y = draw(arrays(np.float64, (rows, width), elements=finite_floats(np.float64, 0, 1)))
    elif name == "CrossEntropyLoss":  # class probabilities (soft targets), each row summing to 1
        y = torch.softmax(torch.from_numpy(draw(arrays(np.float64, (rows, width), elements=finite_floats(np.float64, -5, 5)))), 1).numpy()
    else:
        y = draw(arrays(np.float64, (rows, width), elements=finite_floats(np.float64, -20, 20)))
    return torch.from_numpy(a), torch.from_numpy(y)


@settings(deadline=None, max_examples=30)
@given(st.sampled_from(sorted(AGAINST_TORCH)), st.sampled_from(["mean", "sum", "none", None]), st.data())
def test_a_loss_module_reduces_and_differentiates_as_torchs_own_loss(name, reduction, data):
    rule, params, theirs, factor = AGAINST_TORCH[name]
    a, y = loss_inputs(data.draw, name)
    ours = to_torch(rule, params=params, module=True)(**({} if reduction is None else {"reduction": reduction}))
    reference = theirs(reduction or "mean")  # left out, both reduce by the mean
    inputs = {who: [t.clone().requires_grad_() for t in (a, y)] for who in ("ours", "theirs")}
    value, expected = ours(*inputs["ours"]), factor * reference(*inputs["theirs"])
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-13)
    grad = torch.randn(value.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    value.backward(grad)
    expected.backward(grad)
    for mine, torchs, who in zip(inputs["ours"], inputs["theirs"], ("prediction", "target")):
        torch.testing.assert_close(mine.grad, torchs.grad, rtol=1e-10, atol=1e-12, msg=who)


@pytest.mark.parametrize("name", sorted(AGAINST_TORCH))
@pytest.mark.parametrize(("a_shape", "y_shape"), [((3, 1), (3,)), ((3,), (3, 1)), ((2, 3), (3,)), ((3,), ())])
def test_a_loss_module_refuses_shapes_torchs_own_loss_warns_about_or_refuses(name, a_shape, y_shape):
    rule, params, theirs, _ = AGAINST_TORCH[name]
    a, y = torch.zeros(a_shape, dtype=torch.float64), torch.full(y_shape, 0.5, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as caught:  # torch broadcasts (3, 1) against (3,) to a (3, 3) grid
        warnings.simplefilter("always")
        try:
            theirs("none")(a, y)
        except (ValueError, RuntimeError, IndexError):
            pass
        else:
            assert any("size" in str(w.message) for w in caught), name
    shapes = f"{tuple(a_shape)} and {tuple(y_shape)}"
    for reduction in ("mean", "sum", "none"):
        with pytest.raises(ValueError, match=rf"^\w+Module: the inputs' shapes {re.escape(shapes)} differ; a loss takes a "
                                             r"prediction and a target of one shape \(broadcasting: \w+\.apply\)$"):
            to_torch(rule, params=params, module=True)(reduction)(a, y)


def test_log_cosh_has_no_torch_loss_and_reduces_as_the_others():
    a, y = torch.tensor([0.5, -2.0, 300.0], dtype=torch.float64), torch.tensor([0.0, 1.0, 2.5], dtype=torch.float64)
    e = a - y
    by_hand = torch.abs(e) + torch.log1p(torch.exp(-2 * torch.abs(e))) - np.log(2.0)  # log cosh e, finite at e = 297.5
    cls = to_torch("log_cosh", module=True)
    torch.testing.assert_close(cls()(a, y), by_hand.mean(), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(cls("sum")(a, y), by_hand.sum(), rtol=1e-13, atol=1e-15)
    assert torch.equal(cls(reduction="none")(a, y), to_torch("log_cosh").apply(a, y))


@pytest.mark.filterwarnings("ignore:<class 'torch.autograd.function.Function'> should not be instantiated:DeprecationWarning")
def test_the_reduction_is_checked_and_kept_as_torch_keeps_it():
    cls = to_torch("huber", params={"delta": 1.0}, module=True)
    for bad in ("avg", None, 1, "MEAN"):
        with pytest.raises(ValueError, match=r"^reduction: expected 'mean', 'sum' or 'none', got "):
            cls(reduction=bad)
    module = pickle.loads(pickle.dumps(cls(reduction="sum")))
    assert type(module) is cls and module.reduction == "sum" and cls().reduction == "mean"
    assert repr(cls()) == f"{cls.__name__}()"  # as repr(torch.nn.HuberLoss()), no reduction shown
    with pytest.raises(TypeError):  # an activation's module takes no reduction
        to_torch(MISH, module=True)(reduction="mean")
    a = torch.linspace(-3, 3, 7, dtype=torch.float64)
    compiled = torch.compile(cls(), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(a, a.flip(0)), torch.nn.functional.huber_loss(a, a.flip(0), delta=1.0), rtol=1e-12, atol=1e-14)


def test_module_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^to_torch: module must be True or False, got 'yes'$"):
        to_torch(MISH, module="yes")


@settings(deadline=None, max_examples=15)
@given(st.sampled_from(["softplus", "huber", "softmax_cross_entropy", "sparsemax", "prelu"]), st.integers(1, 5),
       st.integers(0, 2**16))
def test_per_sample_gradients_of_an_exported_function_are_a_loop_of_single_sample_ones(name, samples, seed):
    """torch.func.vmap(torch.func.grad(f)) with f a sum over one sample's exported values, each input batched."""
    fn = to_torch(name)
    count = len(fn.__source__.split("    def forward(", 1)[1].split(")", 1)[0].split(","))
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(samples, 4, dtype=torch.float64, generator=g) * 3 for _ in range(count)]
    argnums = tuple(range(count))

    def total(*sample):
        return fn.apply(*sample).sum()

    batched = torch.func.vmap(torch.func.grad(total, argnums=argnums))(*inputs)
    for i in range(samples):
        single = torch.func.grad(total, argnums=argnums)(*(x[i] for x in inputs))
        for k in range(count):
            assert torch.equal(batched[k][i], single[k]), (i, k)


def test_the_per_sample_gradient_recipe_on_a_model_with_exported_modules_is_torchs_own():
    """torch's recipe: vmap over grad of functional_call, the model with the exported Mish and loss module."""
    ours, theirs = two_nets(3)
    loss_ours, loss_theirs = to_torch("mse", module=True)(), torch.nn.MSELoss()
    g = torch.Generator().manual_seed(1)
    X, Y = torch.randn(6, 4, dtype=torch.float64, generator=g), torch.randn(6, 1, dtype=torch.float64, generator=g)

    def per_sample(net, loss):
        params = {k: v.detach() for k, v in net.named_parameters()}
        def one(p, x, y):
            return loss(torch.func.functional_call(net, p, (x.unsqueeze(0),)), y.unsqueeze(0))
        return torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))(params, X, Y), one, params

    mine, one, params = per_sample(ours, loss_ours)
    reference, _, _ = per_sample(theirs, loss_theirs)
    for i in range(6):
        single = torch.func.grad(one)(params, X[i], Y[i])
        for key in mine:  # vmap's batched matrix products round as they like: not bit for bit
            torch.testing.assert_close(mine[key][i], single[key], rtol=1e-12, atol=1e-15, msg=f"{i} {key}")
    for key in mine:  # ½ MSELoss: half torch's gradient
        torch.testing.assert_close(mine[key], 0.5 * reference[key], rtol=1e-10, atol=1e-13, msg=key)
