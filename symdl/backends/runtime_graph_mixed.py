"""Runtime helpers of mixed-precision graph modules: float32 masters and data checked, the masters cast once to the compute dtype.

A mixed-precision graph module (:func:`symdl.export.graph_modules.graph_module_source` with ``dtype="bfloat16"`` or
``"float16"``) binds ``_dtype`` (compute), ``_param_dtype`` and ``_acc_dtype`` (float32) as a network module does
(:mod:`symdl.backends.runtime_mixed`). The graph's own checks (:mod:`symdl.backends.runtime_graph`) are copied with
``_param_dtype`` for ``_dtype`` under the names ``_check_masters`` / ``_check_forward_masters`` (torch) and
``_check_data_masters`` (JAX); the functions here take the data in float32 or the compute dtype (``_lift`` of
:mod:`symdl.backends.runtime_mixed`), check it with them and cast the parameters once to ``_dtype``, but for those
``_FLOAT32_KEYS`` names (a layer that computes in float32: batch norm's γ, β and moving statistics), kept float32; the targets stay in
``_param_dtype`` (``_cast``), so that the loss reads them unrounded. The inputs of ``forward`` are cast to ``_dtype``
here; those of a loss entry point come back as they were given (float32 from the checks) and the printed code casts
them (:func:`symdl.graph.printing.print_graph`), after copying in float32 an input that a loss reads as its target.

symdl copies these functions' source into the generated modules under the names without the library suffix
(``_check_graph_torch`` → ``_check``). Importing this module imports neither torch nor jax.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations


def _lifted(data):
    """The inputs and targets as the float32 checks take them (_lift: the compute dtype widened exactly, other floats refused)."""
    names = [name for name, _ in (*_INPUTS, *_TARGETS)]
    return [_lift(value, names[k]) if k < len(names) else value for k, value in enumerate(data)]


def _cast_graph_torch(arrays):
    """The parameters cast to _dtype (those of _FLOAT32_KEYS kept float32), the inputs as given (the entry point casts
    them), the targets (the last len(_TARGETS) arrays) to _param_dtype: the loss reads them unrounded, as
    torch.autocast's does (a target in _dtype widened exactly)."""
    masters, split = len(_SPECS), len(arrays) - len(_TARGETS)
    return (*(a if name in _FLOAT32_KEYS else a.to(_dtype) for (name, _), a in zip(_SPECS, arrays)), *arrays[masters:split],
            *(a.to(_param_dtype) for a in arrays[split:]))


def _check_graph_torch(params, *arrays):
    """(params, *inputs, *targets, writable) → the checked float32 masters cast once to _dtype, the checked inputs in
    float32 and the targets in _param_dtype."""
    *data, writable = arrays
    return _cast(_check_masters(params, _lifted(data), writable))


def _check_forward_graph_torch(params, *inputs):
    """(params, *inputs) → the checked float32 masters and inputs, each cast once to _dtype (_FLOAT32_KEYS kept float32)."""
    arrays = _check_forward_masters(params, *_lifted(inputs))
    return (*(a if name in _FLOAT32_KEYS else a.to(_dtype) for (name, _), a in zip(_SPECS, arrays)),
            *(a.to(_dtype) for a in arrays[len(_SPECS):]))


def _unpack_graph_torch(params, *arrays):
    """_check's result without the checks (the ``_unchecked`` entry points): the parameters cast to _dtype, the inputs as
    given, the targets to _param_dtype, nothing read back."""
    *data, _ = arrays
    return _cast((*(params[name] for name, _ in _SPECS), *data))


def _unpack_forward_graph_torch(params, *inputs):
    """_check_forward's result without the checks: the parameters and inputs cast to _dtype (_FLOAT32_KEYS kept float32)."""
    return (*(params[name] if name in _FLOAT32_KEYS else params[name].to(_dtype) for name, _ in _SPECS), *(a.to(_dtype) for a in inputs))


def _check_data_graph_jax(data):
    """Outside jax.jit (or traced into it): the inputs and targets in float32 or _dtype, checked as float32 arrays."""
    return _check_data_masters(_lifted(data))


def _cast_graph_jax(arrays):
    """The parameters cast to _dtype (those of _FLOAT32_KEYS kept float32), the inputs as given (the entry point casts
    them), the targets (the last len(_TARGETS) arrays) to _param_dtype: the loss reads them unrounded (a target in _dtype
    widened exactly)."""
    masters, split = len(_SPECS), len(arrays) - len(_TARGETS)
    return (*(a if name in _FLOAT32_KEYS else a.astype(_dtype) for (name, _), a in zip(_SPECS, arrays)), *arrays[masters:split],
            *(a.astype(_param_dtype) for a in arrays[split:]))


def _unpack_graph_jax(params, *arrays):
    """The float32 masters in the order of _SPECS cast to _dtype, the inputs as given, then the targets in _param_dtype
    (inside jax.jit)."""
    *data, _ = arrays
    return _cast((*(params[name] for name, _ in _SPECS), *data))


def _unpack_forward_graph_jax(params, *inputs):
    """The float32 masters in the order of _SPECS, then the inputs, each cast to _dtype (_FLOAT32_KEYS kept float32;
    inside jax.jit)."""
    return (*(params[name] if name in _FLOAT32_KEYS else params[name].astype(_dtype) for name, _ in _SPECS),
            *(a.astype(_dtype) for a in inputs))
