"""Runtime helpers of the graph modules symdl generates (:mod:`symdl.export.graph_modules`), for every backend.

Real functions, copied into the generated module (:func:`symdl.backends.base.emit_functions`),
where ``_batch``, ``_check_params``, ``_SPECS``, ``_INPUTS`` and ``_TARGETS``
are the module's own: the array library's checks of one array and of params,
and (name, width) of each input and data target. Importing this module imports
no array library.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations

from collections.abc import MutableMapping  # noqa: F401  (read by the copied source)

# --- eager backends (numpy, torch): the printed entry points check their own arguments ---


def _check_arrays(params, data, writable=False):
    """The arrays of params in the order of _SPECS, then the inputs and targets checked, else a ValueError."""
    if writable and not isinstance(params, MutableMapping):
        raise ValueError(f"params: train_step updates params; expected a dict, got {type(params).__name__}")
    arrays = _check_params(params)
    specs = (*_INPUTS, *_TARGETS)
    if len(data) != len(specs):
        raise ValueError(f"expected {len(_INPUTS)} input and {len(_TARGETS)} target array(s), got {len(data)} arrays")
    out = [_batch(value, name, width) for value, (name, width) in zip(data, specs)]
    rows = sorted({int(a.shape[0]) for a in out})
    if len(rows) > 1:
        raise ValueError(f"the arrays have different batch sizes {rows}; expected one row per sample in each")
    devices = sorted({str(getattr(a, "device", "cpu")) for a in (*arrays, *out)})
    if len(devices) > 1:  # torch: a generated module computes where its tensors are, so they must be on one device
        raise ValueError(f"params and the data are on several devices {devices}; put them on one device")
    return (*arrays, *out)


def _check(params, *arrays):
    """(params, *inputs, *targets, writable) → the parameter arrays, the inputs and the targets, checked."""
    *data, writable = arrays
    return _check_arrays(params, data, writable)


def _check_forward(params, *inputs):
    """(params, *inputs) → the parameter arrays and the inputs, checked."""
    if len(inputs) != len(_INPUTS):
        raise ValueError(f"forward: this model takes {len(_INPUTS)} input array(s), got {len(inputs)}")
    out = _check_params(params)
    data = [_batch(value, name, width) for value, (name, width) in zip(inputs, _INPUTS)]
    rows = sorted({int(a.shape[0]) for a in data})
    if len(rows) > 1:
        raise ValueError(f"the arrays have different batch sizes {rows}; expected one row per sample in each")
    return (*out, *data)


# --- functional backends (JAX): checked outside jax.jit, unpacked inside ---


def _unpack(params, *arrays):
    """The parameter arrays in the order of _SPECS, then the data, unchecked (inside jax.jit, or an ``_unchecked`` entry point)."""
    *data, _ = arrays
    return (*(params[name] for name, _ in _SPECS), *data)


def _unpack_forward(params, *inputs):
    """The parameter arrays in the order of _SPECS, then the inputs, unchecked (inside jax.jit, or an ``_unchecked`` entry point)."""
    return (*(params[name] for name, _ in _SPECS), *inputs)


def _check_data(data):
    """Outside jax.jit: the inputs and targets as arrays of _dtype with their widths and one batch size, else a ValueError."""
    out = [_batch(value, name, width) for value, (name, width) in zip(data, (*_INPUTS, *_TARGETS))]
    rows = sorted({int(a.shape[0]) for a in out})
    if len(rows) > 1:
        raise ValueError(f"the arrays have different batch sizes {rows}; expected one row per sample in each")
    return out


def _on_device_graph(params, data):
    """(params, data) as the jitted entry point takes them, whose traced checks validate keys, shapes and dtypes.

    A dict of jax arrays under exactly the keys of _SPECS, with every input and target a jax array, passes as it
    is, without a Python check per call; anything else goes through _check_params and _check_data now (host
    data checked for NaN there).
    """
    if type(params) is dict and params.keys() == _KEYS and all(isinstance(a, jax.Array) for a in (*params.values(), *data)):
        return params, data
    return dict(zip([n for n, _ in _SPECS], _check_params(params))), _check_data(data)


def _finite_arrays(*arrays):
    """0 when every array holds only finite numbers, else 1 + the index of the first that does not (inside jax.jit)."""
    code = 0
    for k in range(len(arrays) - 1, -1, -1):
        code = jnp.where(jnp.isfinite(arrays[k]).all(), code, k + 1)
    return code


def _raise_unless_finite_arrays(code):
    """A ValueError naming the array in which _finite_arrays found NaN or infinity (eager calls; a tracer is skipped)."""
    if isinstance(code, jax.core.Tracer):
        return
    code = int(code)
    if code:
        name = (*_INPUTS, *_TARGETS)[code - 1][0]
        raise ValueError(f"{name} contains NaN or infinity; expected finite numbers")
