"""Optimizer.with_values (and symdl.optimizer(opt, **values)) refuses what the optimizer's own constructor refuses.

Every optimizer of the registry, in forms that between them have every keyword its factory takes, is given values
the constructor refuses — found by asking the constructor, not from a table kept here — and values from hypothesis:
with_values must refuse exactly those, in the constructor's words, and keep everything else.
"""

from __future__ import annotations

import inspect
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from symdl.optim import (
    OPTIMIZERS,
    SCHEDULES,
    Optimizer,
    optimizer,
    optimizer_names,
    sgd,
)
from symdl.optim.proofs import adam_without_bias_correction

#: Each registry optimizer as made by default, and with the hyperparameters that appear only when not 0, its
#: options and each schedule: between them, every keyword of every factory (checked below).
FORMS: list[tuple[str, dict[str, object]]] = [
    *((name, {}) for name in optimizer_names()),
    ("sgd", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adagrad", {"lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("rmsprop", {"momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("adam", {"weight_decay": 0.01, "schedule": "step", "lr": 0.1, "step_size": 3, "gamma": 0.5}),
    ("adamw", {"schedule": "cosine", "lr": 0.01, "T_max": 10, "eta_min": 1e-4}),
    ("nadam", {"weight_decay": 0.01, "decoupled_weight_decay": True, "schedule": "exponential", "lr": 0.01, "gamma": 0.99}),
]
OPTS = [optimizer(name, **kw) for name, kw in FORMS]
IDS = [f"{name}{i}" for i, (name, _) in enumerate(FORMS)]
#: Values tried on every hyperparameter; which of them a constructor refuses is the constructor's business.
PROBES = (-1.0, 0.0, 0.5, 1.0, 2.5, math.inf, math.nan)


def flat(opt: Optimizer, **values: object) -> dict[str, object]:
    """``opt``'s config flattened, as :func:`optimizer` takes it, with ``values`` put in."""
    return {**opt.options, **{h.name: h.value for h in opt.hyperparameters}, **values}


def constructor_error(opt: Optimizer, name: str, value: object) -> str | None:
    """The constructor's error line for ``opt`` with ``name=value`` (through the registry), or None if it takes it."""
    try:
        optimizer(opt.name, **flat(opt, **{name: value}))
    except ValueError as error:
        return str(error)
    return None


REFUSALS = [
    pytest.param(opt, h.name, x, message, id=f"{form}-{h.name}={x}")
    for opt, form in zip(OPTS, IDS)
    for h in opt.hyperparameters
    for x in PROBES
    if (message := constructor_error(opt, h.name, x)) is not None
]
PAIRS = [(opt, h.name) for opt in OPTS for h in opt.hyperparameters]


def test_the_forms_have_every_keyword_of_every_factory_and_every_schedule():
    for name, factory in OPTIMIZERS.items():
        seen = {k for opt in OPTS if opt.name == name for k in flat(opt)}
        wanted = {k for k in inspect.signature(factory).parameters if k != "betas"}
        wanted |= {"beta1", "beta2"} if "betas" in inspect.signature(factory).parameters else set()
        assert wanted <= seen, (name, wanted - seen)
    assert {opt.schedule_name for opt in OPTS} == set(SCHEDULES)


def test_every_hyperparameter_has_a_value_its_constructor_refuses():
    """So that the refusals below reach every hyperparameter of every form."""
    refused = {(id(p.values[0]), p.values[1]) for p in REFUSALS}
    assert [(opt.name, name) for opt, name in PAIRS if (id(opt), name) not in refused] == []


@pytest.mark.parametrize(("opt", "name", "value", "message"), REFUSALS)
def test_with_values_refuses_what_the_constructor_refuses_in_its_words(opt, name, value, message):
    with pytest.raises(ValueError) as info:
        opt.with_values(**{name: value})
    assert str(info.value) == message and "\n" not in message
    with pytest.raises(ValueError) as info:
        optimizer(opt, **{name: value})
    assert str(info.value) == message


@given(pair=st.sampled_from(PAIRS), value=st.none() | st.floats() | st.integers(-3, 3))
def test_with_values_takes_what_the_constructor_takes(pair, value):
    opt, name = pair
    message = constructor_error(opt, name, value)
    if message is not None:
        with pytest.raises(ValueError) as info:
            opt.with_values(**{name: value})
        assert str(info.value) == message
        return
    new = opt.with_values(**{name: value})
    assert new.hyperparameter(name).value == (None if value is None else float(value))
    assert new.config() == {**opt.config(), "hyperparameters": {**opt.config()["hyperparameters"], name: new.hyperparameter(name).value}}
    assert new.slots == opt.slots and new.update == opt.update  # the same form, whatever the value


def test_nesterov_momentum_set_to_0_is_refused_as_the_constructor_refuses_it():
    """with_values kept a table of ranges, one name at a time: momentum=0 passed (≥ 0) under Nesterov."""
    nesterov = sgd(0.1, momentum=0.9, nesterov=True)
    message = r"^sgd: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum=0, dampening=0.0$"
    with pytest.raises(ValueError, match=message):
        sgd(0.1, momentum=0, nesterov=True)
    with pytest.raises(ValueError, match=message):
        nesterov.with_values(momentum=0)
    with pytest.raises(ValueError, match=message):
        optimizer(nesterov, momentum=0)
    assert nesterov.with_values(momentum=None).hyperparameter("momentum").value is None  # given per call: may be > 0


@pytest.mark.parametrize("opt", OPTS, ids=IDS)
def test_own_values_give_the_same_optimizer_and_unbound_ones_rebuild(opt):
    same = opt.with_values(**{h.name: h.value for h in opt.hyperparameters})
    assert same == opt and same.config() == opt.config()
    free = opt.with_values(**{h.name: None for h in opt.hyperparameters})
    assert [h.name for h in free.unbound()] == [h.name for h in opt.hyperparameters]
    # a config with values given per call rebuilds (the constructors take None) with the same form
    rebuilt = optimizer(opt.name, **flat(free))
    assert rebuilt == free and rebuilt.config() == free.config()
    assert free.with_values(**{h.name: h.value for h in opt.hyperparameters}) == opt


def test_unknown_and_absent_names_are_refused_and_an_optimizer_without_a_constructor_checks_finiteness():
    with pytest.raises(ValueError, match=r"^sgd: unknown hyperparameters \['momentum'\]; accepted: lr$"):
        sgd(0.1).with_values(momentum=0.9)  # momentum 0 is absent from the update, as before
    with pytest.raises(ValueError, match=r"^adam: unknown hyperparameters \['rho'\]; accepted: beta1, beta2, eps, lr$"):
        optimizer("adam").with_values(rho=0.1)
    planted = adam_without_bias_correction()
    assert planted.rebuild is None and planted.with_values(beta1=0.5).hyperparameter("beta1").value == 0.5
    with pytest.raises(ValueError, match=r"^beta1: expected a finite real number, got nan$"):
        planted.with_values(beta1=math.nan)
