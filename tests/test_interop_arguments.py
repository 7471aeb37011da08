"""from_torch_state_dict takes bfloat16 tensors (numpy has no bfloat16), and refuses a meta tensor in one line."""

import numpy as np
import pytest

import symdl
from symdl.interop import from_torch_state_dict, to_torch_state_dict

torch = pytest.importorskip("torch")
NET = symdl.Network([3, 4, 2], activation="tanh")


def _state_dict():
    return to_torch_state_dict(NET.compile().init(0), NET)


def test_a_bfloat16_state_dict_converts_exactly():
    """It raised torch's "Got unsupported ScalarType BFloat16": Tensor.numpy() has no bfloat16."""
    half = {k: v.to(torch.bfloat16) for k, v in _state_dict().items()}
    params = from_torch_state_dict(half, NET)
    for key, name in (("W1", "0.weight"), ("b2", "2.bias")):
        assert params[key].dtype == np.float64
        assert np.array_equal(params[key], half[name].float().numpy().astype(np.float64))  # bfloat16 → float32 is exact


def test_a_meta_tensor_is_one_line():
    """It was torch's NotImplementedError "Cannot copy out of meta tensor; no data!"."""
    meta = {k: v.to("meta") for k, v in _state_dict().items()}
    with pytest.raises(TypeError, match=r"^state_dict\['0\.weight'\]: a tensor on the meta device holds no numbers$"):
        from_torch_state_dict(meta, NET)


def test_a_numpy_stride_is_a_stride():
    """stride=np.int64(3) said "expected a positive integer …, got np.int64(3)"."""
    params = NET.compile().init(0)
    assert list(to_torch_state_dict(params, NET, stride=np.int64(3))) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    with pytest.raises(ValueError, match=r"^stride: expected a positive integer"):
        to_torch_state_dict(params, NET, stride=np.int64(0))
