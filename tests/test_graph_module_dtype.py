"""graph_module_source with a dtype no module takes lists every dtype its backend takes, as network_module_source does."""

import pytest

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Dense, Input, Model


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_bad_dtype_names_the_mixed_precision_dtypes_too(backend):
    """The graph module said "expected one of float64, float32", leaving out bfloat16 and float16, which the torch
    and JAX graph modules take (the network modules' line already listed all four)."""
    x = Input(2)
    message = r"^dtype: expected one of float64, float32, bfloat16, float16 \(mixed precision\), got 'int8'$"
    with pytest.raises(ValueError, match=message):
        graph_module_source(Model(x, Dense(1)(x)), backend, dtype="int8")
    with pytest.raises(ValueError, match=message):
        network_module_source(symdl.Network([2, 1]), backend, dtype="int8")


def test_the_numpy_graph_module_names_its_own_two():
    x = Input(2)
    with pytest.raises(ValueError, match=r"^dtype: expected one of float64, float32, got 'int8'$"):
        graph_module_source(Model(x, Dense(1)(x)), "numpy", dtype="int8")
