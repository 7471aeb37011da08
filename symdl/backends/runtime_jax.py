"""Runtime helpers of the JAX modules symdl generates: argument checks and custom-gradient broadcasting.

These are real functions so that they can be read, linted and tested; symdl
copies their source into the generated modules (:func:`symdl.backends.base.emit_functions`),
where ``jax``, ``_dtype``, ``_SPECS`` and the other module globals they read are bound.
Importing this module does not import jax.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations

import functools  # noqa: F401  (read by the copied source)
import numbers  # noqa: F401
from collections.abc import Mapping, MutableMapping  # noqa: F401

import numpy  # noqa: F401

# --- network modules: checks outside jax.jit ---


def _batch(value, name, width):
    """``value`` as a (batch, width) array of _dtype (integers converted), else a ValueError.

    Data from the host (a numpy array, a list) is checked for NaN and infinity there, before jax.jit transfers
    it: no device synchronisation. A jax.Array is already on its device, where reading a finiteness flag back
    would synchronise every call (JAX's own functions check nothing): it is tested (_finite) only when asked,
    as JAX's own NaN checks are, with jax_debug_nans or jax_debug_infs.
    """
    if isinstance(value, jax.Array) and value.dtype == _dtype and value.ndim == 2 and value.shape[1] == width > 0 < value.shape[0]:
        return value  # the common case, without a dispatch
    arr = value
    if not (type(value) is numpy.ndarray and value.dtype == _dtype and value.ndim == 2 and value.shape[1] == width > 0 < value.shape[0]):
        if value is None:
            raise ValueError(f"{name}: expected a (batch, {width}) array, got None")
        given = str(getattr(value, "dtype", ""))
        if given.startswith(("float", "bfloat", "complex")) and given != _dtype.name:
            raise ValueError(f"{name} has dtype {given}; this module computes in {_dtype.name} (convert it first)")
        if isinstance(value, numpy.ma.MaskedArray):
            raise ValueError(f"{name}: numpy masked arrays are not supported; fill the masked entries (numpy.ma.filled) first")
        try:
            arr = value if isinstance(value, jax.Array) else numpy.asarray(value)
        except jax.errors.TracerArrayConversionError:  # a list of traced numbers (inside the caller's jit or grad)
            arr = jnp.asarray(value, dtype=_dtype)
        except (TypeError, ValueError, RuntimeError) as why:
            raise ValueError(f"{name}: expected a 2-D array of numbers (batch, {width}): {why}") from None
        kind = getattr(arr.dtype, "kind", None)  # JAX's PRNG key dtypes have none
        if kind in ("b", "i", "u") or (kind == "f" and not hasattr(value, "dtype")):
            arr = arr.astype(_dtype)  # integers, booleans and a list of numbers are taken in the module's dtype
        if getattr(arr.dtype, "kind", None) not in ("f", "c", "V"):  # strings, objects, PRNG keys: not numbers
            raise ValueError(f"{name}: expected a 2-D array of numbers (batch, {width}), got elements of dtype {arr.dtype}")
        if arr.dtype != _dtype:
            raise ValueError(f"{name} has dtype {arr.dtype}; this module computes in {_dtype.name} (convert it first)")
        if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] < 1:
            raise ValueError(f"{name} has shape {tuple(arr.shape)}; expected (batch, {width}) with batch >= 1")
    if not isinstance(arr, jax.Array) and not numpy.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity; expected finite numbers")
    return arr


def _finite_asked():
    """True when JAX's own NaN or infinity checks are on (jax_debug_nans, jax_debug_infs): then device arrays are checked too."""
    return jax.config.jax_debug_nans or jax.config.jax_debug_infs


def _finite(X, Y=None):
    """0 when X and Y hold only finite numbers, else 1 (X) or 2 (Y): jitted in the module, read back once."""
    bad_x = ~jnp.isfinite(X).all()
    return jnp.where(bad_x, 1, 0) if Y is None else jnp.where(bad_x, 1, jnp.where(jnp.isfinite(Y).all(), 0, 2))


def _raise_unless_finite(code):
    """A ValueError when _finite found NaN or infinity in X or Y (eager calls, with _finite_asked).

    Called inside the caller's own jax.jit, vmap or grad, the flag is a tracer without a value: nothing is
    checked then (check the data before the traced step), so the entry points compose with jax's transforms.
    """
    if isinstance(code, jax.core.Tracer):
        return
    code = int(code)
    if code:
        raise ValueError(f"{'XY'[code - 1]} contains NaN or infinity; expected finite numbers")


def _check_params(params):
    """The arrays of params in the order of _SPECS (for _check and init_state; jax arrays as given), else a ValueError."""
    if not isinstance(params, Mapping) or params.keys() != _KEYS:
        expected = ", ".join(f"{n} {s}" for n, s in _SPECS)
        if isinstance(params, Mapping):  # numpy's words: which keys
            _check_keys("params", [n for n, _ in _SPECS], params, expected)
        raise ValueError(f"params: expected a dict with exactly {expected}")
    out = []
    for name, shape in _SPECS:
        arr = params[name]
        if getattr(arr, "dtype", None) != _dtype or getattr(arr, "shape", None) != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {tuple(getattr(arr, 'shape', ()))}"
            raise ValueError(f"params[{name!r}]: expected a {_dtype.name} array of shape {shape}, got {got}")
        out.append(arr if isinstance(arr, jax.Array) else jnp.asarray(arr))
    return tuple(out)


def _check(params, X, Y, writable=False, targets=True):
    """(params as a dict of jax arrays, X, Y) checked against _SPECS and the widths, else a ValueError."""
    if writable and not isinstance(params, MutableMapping):
        raise ValueError(f"params: train_step stores the new arrays in params; expected a dict, got {type(params).__name__}")
    arrays = dict(zip([n for n, _ in _SPECS], _check_params(params)))
    X = _batch(X, "X", _N_IN)
    if targets:
        Y = _batch(Y, "Y", _N_OUT)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; one target row per sample")
    if writable and _BUFFERED and X.shape[0] < 2:
        raise ValueError("train_step with batch norm needs a batch of at least 2 rows (the running variance is m/(m-1) var_B)")
    return arrays, X, Y


def _on_device(params, X, Y, writable=False, targets=True):
    """(params, X, Y) as the jitted entry point takes them, whose traced _check validates keys, shapes and dtypes.

    A dict of jax arrays under exactly the keys of _SPECS, with X (and Y) jax arrays, passes as it is, without a
    Python check per call; anything else (host data, another Mapping, other keys, which jax.jit could not even
    sort) goes through _check now: converted, and host data checked for NaN there.
    """
    if (type(params) is dict and params.keys() == _KEYS and isinstance(X, jax.Array)
            and (isinstance(Y, jax.Array) if targets else Y is None) and all(isinstance(a, jax.Array) for a in params.values())):
        return params, X, Y
    return _check(params, X, Y, writable, targets)


def _unpack(params, X, Y, writable=False, targets=True):
    """The arrays in the order of _SPECS, then X and Y (inside jax.jit: no checks here)."""
    return (*(params[name] for name, _ in _SPECS), X, Y)


def _check_seed(seed):
    """The seed of the dropout masks: an integer from 0 to 2**31 - 1 (a jax.random.PRNGKey), else a ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < 2**31:
        raise ValueError(f"seed: expected an integer from 0 to 2147483647 (it fixes the dropout masks), got {_excerpt(seed)}")
    return int(seed)


def _mask_key(key):
    """The PRNG key of the masks: jax.random.PRNGKey(0) for None (the checked entry points' seed=0), a key as given, else a ValueError."""
    if key is None:
        return jax.random.PRNGKey(0)
    dtype = getattr(key, "dtype", None)
    if dtype is not None and (jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == jnp.uint32 and jnp.ndim(key) == 1)):
        return key
    got = type(key).__name__ if dtype is None else f"an array of dtype {dtype} and shape {tuple(jnp.shape(key))}"
    raise ValueError(f"key: expected a jax.random.PRNGKey(seed) or jax.random.key(seed) (it fixes the masks), got {got}; "
                     "the checked entry points take an integer seed=")


# --- optimizer state: checks outside jax.jit ---


def _scalar_with(value, like):
    """``value`` (the step count or a real scalar of the optimizer state) put explicitly on the device of the array ``like``,
    so that train_step transfers nothing from the host; ``value`` itself where ``like`` is traced or spans devices.

    Committed to that device only where ``like`` is: a committed count beside uncommitted parameters (``init_params()``
    without a device) is another jit signature than the all-committed outputs of the first step, and train_step would
    compile twice."""
    if isinstance(like, jax.core.Tracer) or len(like.devices()) != 1:
        return value
    if not getattr(like, "committed", True):
        return jax.device_put(value)  # on the default device, uncommitted, as ``like`` is
    return jax.device_put(value, next(iter(like.devices())))


def _check_state(state):
    """The optimizer state (_STATE: counters, real scalars, (key, shape) of the slots) as a dict of jax values, else a ValueError."""
    counters, scalars, slots = _STATE
    keys = [*counters, *scalars, *(k for k, _ in slots)]
    if not isinstance(state, Mapping) or set(state) != set(keys):
        if isinstance(state, Mapping):  # numpy's words: which keys
            expected = ", ".join([*counters, *scalars, *(f"{k} {s}" for k, s in slots)])
            _check_keys("state", keys, state, f"{expected} (from init_state)")
        raise ValueError(f"state: expected the dict of init_state(params) with exactly {', '.join(keys)}")
    out = {}
    # jit takes a Python count as JAX's default integer (int32 without jax_enable_x64): a larger one is an OverflowError
    # there, and one at the top would wrap when the step adds 1
    top = int(jnp.iinfo(jax.dtypes.canonicalize_dtype(jnp.int64)).max)
    for key in counters:
        value = state[key]
        integral = isinstance(value, numbers.Integral) or (getattr(value, "shape", None) == () and jnp.issubdtype(value.dtype, jnp.integer))
        if isinstance(value, bool) or not integral or (not isinstance(value, jax.core.Tracer) and not 0 <= int(value) < top):
            raise ValueError(f"state[{key!r}]: expected a non-negative integer (the step count) below {top}, got {_excerpt(value)}")
        out[key] = value
    for key in scalars:
        value = state[key]
        bad = isinstance(value, bool) or getattr(value, "shape", ()) != ()
        if not bad and not isinstance(value, jax.core.Tracer):  # inside the caller's jax.jit: the value is not known here
            try:
                bad = not bool(jnp.isfinite(jnp.asarray(value, dtype=_dtype)))
            except (OverflowError, TypeError, ValueError):  # 10**400 (beyond float), a string: no finite real number
                bad = True
        if bad:
            raise ValueError(f"state[{key!r}]: expected a finite real number, got {_excerpt(value)}")
        out[key] = value
    for key, shape in slots:
        arr = state[key]
        if getattr(arr, "dtype", None) != _dtype or getattr(arr, "shape", None) != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {tuple(getattr(arr, 'shape', ()))}"
            raise ValueError(f"state[{key!r}]: expected a {_dtype.name} array of shape {shape}, got {got}")
        out[key] = jnp.asarray(arr)
    return out


def _check_hyper(name, value):
    """A hyperparameter given at call time as a float finite in _dtype (a traced scalar inside the caller's jax.jit), else a ValueError."""
    if isinstance(value, jax.core.Tracer) and value.shape == () and jnp.issubdtype(value.dtype, jnp.floating):
        return value
    return _finite_real(name, value, float(jnp.finfo(_dtype).max))  # 1e300 overflows float32


# --- custom-gradient modules ---


def _prepare(*args):
    """The inputs as arrays of one floating dtype (integers and bools become the default float)."""
    dtype = jnp.result_type(*args)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(f"expected real numbers, got dtype {dtype}")
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return tuple(jnp.asarray(x, dtype) for x in args)


def _finish(value, *args):
    """``value`` as an array of the inputs' dtype and broadcast shape (constant results too)."""
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in args))
    return jnp.broadcast_to(jnp.asarray(value, args[0].dtype), shape)


def _tangent(value, out):
    """The tangent ``value`` in the shape and dtype of the output ``out``."""
    return jnp.broadcast_to(jnp.asarray(value, out.dtype), jnp.shape(out))
