"""Runtime helpers of the PyTorch modules symdl generates: argument checks and custom-gradient broadcasting.

These are real functions so that they can be read, linted and tested; symdl
copies their source into the generated modules (:func:`symdl.backends.base.emit_functions`),
where ``torch``, ``_dtype``, ``_SPECS`` and the other module globals they read are bound.
Importing this module does not import torch.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations

import functools  # noqa: F401  (read by the copied source)
import numbers  # noqa: F401
from collections.abc import Mapping, MutableMapping  # noqa: F401

# --- network modules ---


def _batch(value, name, width):
    """``value`` as a (batch, width) tensor of _dtype (integers converted), else a ValueError.

    NaN and infinity are refused where the test reads nothing back from a device: for data on the CPU (numpy
    arrays, lists, CPU tensors). A tensor on an accelerator is tested only in anomaly mode
    (``torch.autograd.set_detect_anomaly(True)``, PyTorch's own NaN checks): ``bool(tensor)`` waits for the device.
    """
    if value is None:
        raise ValueError(f"{name}: expected a (batch, {width}) tensor, got None")
    try:  # a list of numbers is taken in the module's dtype (torch would make it float32)
        arr = torch.as_tensor(value) if hasattr(value, "dtype") else torch.as_tensor(value, dtype=_dtype)
    except (TypeError, ValueError, RuntimeError) as why:
        raise ValueError(f"{name}: expected a 2-D tensor of numbers (batch, {width}): {why}") from None
    if not arr.dtype.is_floating_point and not arr.dtype.is_complex:
        arr = arr.to(_dtype)
    if arr.dtype != _dtype:
        raise ValueError(f"{name} has dtype {arr.dtype}; this module computes in {_dtype} (convert it first)")
    if arr.dim() != 2 or arr.shape[1] != width or arr.shape[0] < 1:
        raise ValueError(f"{name} has shape {tuple(arr.shape)}; expected (batch, {width}) with batch >= 1")
    if (arr.device.type == "cpu" or torch.is_anomaly_enabled()) and not bool(torch.isfinite(arr).all()):
        raise ValueError(f"{name} contains NaN or infinity; expected finite numbers")
    return arr


def _check_params(params):
    """The tensors of params in the order of _SPECS (for _check and init_state), else a ValueError."""
    if not isinstance(params, Mapping) or set(params) != {n for n, _ in _SPECS}:
        expected = ", ".join(f"{n} {s}" for n, s in _SPECS)
        if isinstance(params, Mapping):  # numpy's words: which keys
            _check_keys("params", [n for n, _ in _SPECS], params, expected)
        raise ValueError(f"params: expected a dict with exactly {expected}")
    out = []
    for name, shape in _SPECS:
        arr = params[name]
        if not isinstance(arr, torch.Tensor) or arr.dtype != _dtype or tuple(arr.shape) != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {tuple(getattr(arr, 'shape', ()))}"
            raise ValueError(f"params[{name!r}]: expected a {_dtype} tensor of shape {shape}, got {got}")
        out.append(arr)
    return tuple(out)


def _check(params, X, Y, writable=False, targets=True):
    """The tensors of params in the order of _SPECS, then X and Y, else a ValueError naming what is wrong."""
    out = _check_params(params)
    X = _batch(X, "X", _N_IN)
    if targets:
        Y = _batch(Y, "Y", _N_OUT)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; one target row per sample")
    devices = sorted({str(t.device) for t in (*out, X, *((Y,) if targets else ()))})
    if len(devices) > 1:  # the module computes where its tensors are: one device for all
        raise ValueError(f"params, X and Y are on several devices {devices}; put them on one device (the module follows X)")
    if writable and _BUFFERED and X.shape[0] < 2:
        raise ValueError("train_step with batch norm needs a batch of at least 2 rows (the running variance is m/(m-1) var_B)")
    return (*out, X, Y)


def _unpack(params, X, Y, writable=False, targets=True):
    """The tensors in the order of _SPECS, then X and Y, unchecked (the ``_unchecked`` entry points: no host read-back)."""
    return (*(params[name] for name, _ in _SPECS), X, Y)


# --- optimizer state ---


def _check_state(state, device=None):
    """A ValueError naming what is wrong with the optimizer state (_STATE: counters, real scalars, (key, shape) of the slots).

    ``device``: that of params and X (train_step's), where every tensor of the state must be too.
    """
    counters, scalars, slots = _STATE
    keys = [*counters, *scalars, *(k for k, _ in slots)]
    if not isinstance(state, Mapping) or not hasattr(state, "__setitem__") or set(state) != set(keys):
        if isinstance(state, Mapping) and hasattr(state, "__setitem__"):  # numpy's words: which keys
            expected = ", ".join([*counters, *scalars, *(f"{k} {s}" for k, s in slots)])
            _check_keys("state", keys, state, f"{expected} (from init_state)")
        raise ValueError(f"state: expected the dict of init_state(params) with exactly {', '.join(keys)}")
    for key in keys if device is not None else ():
        value = state[key]
        if isinstance(value, torch.Tensor) and value.device != device:  # the step computes on X's device, one for all
            raise ValueError(f"state[{key!r}] is on {value.device}, params and the data on {device}; put the state on their device")
    # A 0-d tensor (a count kept on the device: CUDA-graph capture, a loss-scaled step) is read as _batch reads data:
    # on the CPU, or on an accelerator only in anomaly mode (reading waits for the device).
    readable = {key: state[key].device.type == "cpu" or torch.is_anomaly_enabled()
                for key in (*counters, *scalars) if isinstance(state[key], torch.Tensor)}
    for key in counters:
        value = state[key]
        if key in readable:
            # int64 as init_state's: a narrower count wraps (uint8: 255 + 1 = 0, and 1/(1 − β⁰) divides by 0)
            bad = value.shape != () or value.dtype != torch.int64 or (readable[key] and bool(value < 0))
        else:
            bad = isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0
        if bad:
            raise ValueError(f"state[{key!r}]: expected a non-negative integer (the step count: an int or a 0-d int64 tensor), "
                             f"got {_excerpt(value)}")
    for key in scalars:
        value = state[key]
        if key in readable:
            bad = value.shape != () or value.dtype != _dtype or (readable[key] and not bool(torch.isfinite(value)))
        else:
            try:
                bad = isinstance(value, bool) or not isinstance(value, numbers.Real) or not abs(float(value)) < float("inf")
            except OverflowError:  # 10**400: beyond float, not finite
                bad = True
        if bad:
            raise ValueError(f"state[{key!r}]: expected a finite real number, got {_excerpt(value)}")
    seen: dict = {}
    for key, shape in slots:
        arr = state[key]
        if not isinstance(arr, torch.Tensor) or arr.dtype != _dtype or tuple(arr.shape) != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {tuple(getattr(arr, 'shape', ()))}"
            raise ValueError(f"state[{key!r}]: expected a {_dtype} tensor of shape {shape}, got {got}")
        if id(arr) in seen:  # one tensor under two keys would be updated twice
            raise ValueError(f"state[{key!r}] is the same tensor as state[{seen[id(arr)]!r}]; each slot needs its own")
        seen[id(arr)] = key


def _check_hyper(name, value):
    """A hyperparameter given at call time as a float finite in _dtype (1e300 overflows float32), else a ValueError."""
    return _finite_real(name, value, torch.finfo(_dtype).max)


def _store(state, key, value):
    """state[key] ← value: copied into the tensor already there (a captured CUDA graph replays the write), else bound.

    The step count given as a 0-d tensor on the device is so advanced in place, as ``torch.optim.Adam(capturable=True)``
    keeps its step; a Python count is rebound as before. Written through the view ``old[...]``: torch.compile
    (AOTAutograd) drops a ``copy_`` straight into a 0-d float64 CPU input, such as a float64 module's μ-product.
    """
    old = state[key]
    if isinstance(old, torch.Tensor) and old is not value:
        old[...] = value
    else:
        state[key] = value


# --- custom-gradient modules ---


def _prepare(*args):
    """The inputs as tensors of one floating dtype (numbers follow the tensors; integers become the default float)."""
    tensors = [x for x in args if isinstance(x, torch.Tensor)]
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors)) if tensors else torch.get_default_dtype()
    if dtype.is_complex:
        raise TypeError(f"expected real numbers, got dtype {dtype}")
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    device = tensors[0].device if tensors else None
    return tuple(torch.as_tensor(x, dtype=dtype, device=device) for x in args)


def _broadcast_shape(*shapes):
    """numpy's broadcasting rule (torch.broadcast_shapes would import sympy)."""
    rank = max(len(s) for s in shapes)
    out = []
    for sizes in zip(*((1,) * (rank - len(s)) + tuple(s) for s in shapes)):
        big = max(sizes)
        if any(n not in (1, big) for n in sizes):
            raise ValueError(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        out.append(big)
    return torch.Size(out)


def _finish(value, *args):
    """``value`` as a new tensor of the inputs' dtype and broadcast shape (never an input itself)."""
    shape = _broadcast_shape(*(x.shape for x in args))
    out = torch.as_tensor(value, dtype=args[0].dtype, device=args[0].device)
    if out.shape != shape:
        return out.expand(shape).clone()
    return out.clone() if any(out is x for x in args) else out


def _unbroadcast(x, like):
    """``x`` summed down to the shape of ``like`` (the transpose of broadcasting), in its dtype."""
    shape = like.shape
    x = x.expand(_broadcast_shape(x.shape, shape))
    lead = x.dim() - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if dims:
        x = x.sum(dim=dims, keepdim=True).reshape(shape)
    return x.to(like.dtype)


def _save(ctx, args):
    """Keep the inputs for backward and jvp: tensors through save_for_backward/save_for_forward, numbers as they are."""
    tensors = tuple(x if isinstance(x, torch.Tensor) else None for x in args)
    ctx.save_for_backward(*tensors)
    ctx.save_for_forward(*tensors)
    ctx.numbers = tuple(None if isinstance(x, torch.Tensor) else x for x in args)


def _saved(ctx):
    return tuple(n if t is None else t for t, n in zip(ctx.saved_tensors, ctx.numbers))
