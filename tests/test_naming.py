"""symdl.codegen.naming: generated names and reading a parameter's kind and layer back from its name."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symdl
from symdl.codegen import naming

kinds = st.from_regex(r"[A-Za-z_][A-Za-z_0-9]{0,8}[A-Za-z_]|[A-Za-z_]", fullmatch=True)


@given(kind=kinds, layer=st.integers(0, 10**6))
def test_kind_and_layer_round_trip(kind, layer):
    name = naming.parameter_name(kind, layer)
    assert naming.parameter_kind(name) == kind
    assert naming.layer_of(name) == layer


def test_spellings():
    assert (naming.weight_name(1), naming.bias_name(2), naming.grad_name("W1")) == ("W1", "b2", "gW1")
    assert naming.running_name("var", 3) == "running_var3"
    assert naming.class_name("log_cosh") == "LogCosh" and naming.class_name("") == "F"


@pytest.mark.parametrize("bad", ["W", "", "12"])
def test_not_a_parameter_name(bad):
    with pytest.raises(ValueError, match="not a parameter name"):
        naming.parameter_kind(bad)
    with pytest.raises(ValueError, match="not a parameter name"):
        naming.layer_of(bad)


def test_network_keys_use_the_scheme():
    compiled = symdl.Network([3, 4, 2], activation="prelu", batchnorm=True).compile()
    for name in (*compiled.param_names, *compiled.buffer_names):
        assert naming.parameter_name(naming.parameter_kind(name), naming.layer_of(name)) == name
    _, grads = compiled.loss_and_grad(compiled.init(0), np.ones((2, 3)), np.ones((2, 2)))
    assert set(grads) == set(compiled.param_names)
