"""``to_torch(..., module=True)``: the exported function as a torch.nn.Module, used in nn.Sequential as torch.nn.Softplus is."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
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


def test_a_loss_module_takes_prediction_and_target_element_wise():
    a, y = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64), torch.tensor([0.0, 1.0, 2.5], dtype=torch.float64)
    huber = to_torch("huber", params={"delta": 1.0}, module=True)()
    torch.testing.assert_close(huber(a, y), torch.nn.functional.huber_loss(a, y, reduction="none", delta=1.0))  # no reduction
    assert torch.equal(huber(a, y), to_torch("huber", params={"delta": 1.0}).apply(a, y))


def test_module_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^to_torch: module must be True or False, got 'yes'$"):
        to_torch(MISH, module="yes")
