"""The argument checks of a compiled network: params, X, Y and the learning rate, each one clear ValueError.

They are module functions of plain values so that :mod:`symdl.export.standalone`
and :mod:`symdl.export.network_modules` can emit their source into the
generated modules (:func:`symdl.codegen.module_text.helper_source`): the
generated code checks its arguments with the very text symdl runs.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING

import numpy as np

from ..backends.runtime_keys import check_keys
from ..backends.runtime_numbers import finite_real
from ..excerpt import excerpt

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from ..optim.base import Optimizer

__all__ = [
    "check_arguments", "check_params_fit", "check_batch", "check_hyperparameter", "check_learning_rate", "check_optimizer_values", "check_params", "check_state",
    "check_targets", "params_error", "SIMPLEX_TOLERANCE", "TARGETS_OFF",
]


def check_arguments(
    specs: tuple[tuple[str, tuple[int, ...]], ...],
    dtype: np.dtype,
    n_in: int,
    n_out: int,
    buffered: bool,
    params: object,
    X: object,
    Y: object,
    writable: bool = False,
    targets: bool = True,
) -> tuple[np.ndarray, ...]:
    """The arrays of ``params`` in the order of ``specs`` (name, shape), then X and Y, or a ValueError naming what is wrong.

    ``targets=False`` (forward, trace) takes no Y.
    """
    if not isinstance(params, Mapping) or len(params) != len(specs):
        params_error(specs, dtype, params)
    out = []
    for name, shape in specs:
        arr = params.get(name)  # type: ignore[attr-defined]  # a Mapping here: params_error raised otherwise
        if type(arr) is not np.ndarray or arr.dtype != dtype or arr.shape != shape:
            params_error(specs, dtype, params)
        if writable and not arr.flags.writeable:
            raise ValueError(f"params[{name!r}] is read-only; train_step updates params in place")
        out.append(arr)
    X = check_batch(X, "X", n_in, dtype)
    if targets:
        Y = check_batch(Y, "Y", n_out, dtype)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; one target row per sample")
    if writable and buffered and X.shape[0] < 2:
        raise ValueError("train_step with batch norm needs a batch of at least 2 rows (the running variance is m/(m−1)·σ²_B)")
    return (*out, X, Y)


def params_error(specs: tuple[tuple[str, tuple[int, ...]], ...], dtype: np.dtype, params: object) -> None:
    """Raise the ValueError that names what is wrong with ``params``."""
    expected = ", ".join(f"{n} {s}" for n, s in specs)
    # A wrong type is a ValueError like every other bad argument: one kind of error for callers and the CLI.
    is_mapping = isinstance(params, Mapping)
    if not is_mapping:
        raise ValueError(f"params: expected a dict of arrays ({expected}), got {type(params).__name__}")
    check_keys("params", [n for n, _ in specs], params, expected)
    for name, shape in specs:
        arr = params[name]  # type: ignore[index]  # a Mapping: is_mapping checked above
        is_array = type(arr) is np.ndarray
        if not is_array:
            raise ValueError(f"params[{name!r}]: expected a plain numpy array (numpy.ndarray), got {type(arr).__name__}")
        if arr.dtype != dtype:
            other = f" or compile(dtype={arr.dtype.name!r})" if arr.dtype.name in ("float32", "float64") else ""
            raise ValueError(
                f"params[{name!r}] has dtype {arr.dtype}; this network was compiled for {dtype} "
                f"(convert with .astype({dtype.name!r}){other})"
            )
        if arr.shape != shape:
            raise ValueError(f"params[{name!r}] has shape {arr.shape}; expected {shape}")
    raise ValueError(f"params: expected a dict with exactly {expected}")


def check_batch(value: object, name: str, width: int, dtype: np.dtype) -> np.ndarray:
    """``value`` as a finite (batch, width) array of ``dtype`` (integer arrays converted), else a ValueError."""
    if value is None:
        raise ValueError(f"{name}: expected a (batch, {width}) array, got None")
    masked = isinstance(value, np.ma.MaskedArray)  # a bad value, not a bad type: ValueError like the rest
    if masked:
        raise ValueError(f"{name}: a masked array's mask would be ignored; pass the rows to use as a plain array")
    if type(value) is np.ndarray:
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as why:
            raise ValueError(f"{name}: expected a 2-D array of numbers (batch, {width}): {why}") from None
    if arr.dtype != dtype:
        if arr.dtype.kind in "iub":
            arr = arr.astype(dtype)
        else:
            raise ValueError(
                f"{name} has dtype {arr.dtype}; this network was compiled for {dtype} "
                f"(convert with .astype({dtype.name!r}))"
            )
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] < 1:
        raise ValueError(f"{name} has shape {arr.shape}; expected (batch, {width}) with batch ≥ 1")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity; expected finite numbers")
    return arr


# A probability row's sum may miss 1 by rounding: 16·ε of float32 per column (n = 10: 1.9e-5), so rows made in float32
# pass in float64 too, while a row of counts, class indices or a shifted one-hot (sum 2, 0, 1.1) does not.
SIMPLEX_TOLERANCE = 16 * 2.0**-23


#: How a Python caller turns the target check off: the tail of the check's line (the CLI, which cannot, gives "").
TARGETS_OFF = "compile(..., validate_targets=False)"


def check_targets(Y: np.ndarray, name: str, loss: str, low: float | None, high: float | None, simplex: bool,
                  allow: str = TARGETS_OFF) -> None:
    """low ≤ Yᵢⱼ ≤ high and, with ``simplex``, |Σⱼ Yᵢⱼ − 1| ≤ n·:data:`SIMPLEX_TOLERANCE` for every row i; else a ValueError.

    ``Y`` is a finite (batch, n) array (:func:`check_batch`); ``low``/``high`` None: no bound. The message names
    the first element or row out of the domain of ``loss`` and how to proceed (``allow``: how to turn the check
    off, "" where it cannot be).
    """
    off = f", or {allow} to use such targets on purpose" if allow else ""
    if simplex:
        what = f"{loss} takes rows of non-negative numbers summing to 1 (one-hot labels or class probabilities)"
        hint = "; one-hot encode class indices or normalise each row" + off
    else:
        what = f"{loss} takes targets {_interval(low, high)} (labels or probabilities)"
        hint = f"; rescale {name}" + off
    outside = np.zeros(Y.shape, dtype=bool)
    if low is not None:
        outside |= Y < low
    if high is not None:
        outside |= Y > high
    if outside.any():
        i, j = (int(k) for k in np.argwhere(outside)[0])
        raise ValueError(f"{name}[{i}, {j}] = {float(Y[i, j]):.6g}: {what}{hint}")
    if simplex:
        sums = Y.sum(axis=1, dtype=np.float64)
        wrong = np.abs(sums - 1.0) > Y.shape[1] * SIMPLEX_TOLERANCE
        if wrong.any():
            i = int(np.argmax(wrong))
            raise ValueError(f"{name} row {i} sums to {float(sums[i]):.9g}: {what}{hint}")


def _interval(low: float | None, high: float | None) -> str:
    if low is None:
        return f"≤ {high:g}"
    return f"≥ {low:g}" if high is None else f"in [{low:g}, {high:g}]"


def check_learning_rate(lr: object, dtype: DTypeLike = np.float32) -> float:
    """0 ≤ lr ≤ the largest number of ``dtype``, as a float (the words of :func:`finite_real`), else a ValueError."""
    return finite_real("lr", lr, float(np.finfo(dtype).max))


def check_hyperparameter(name: str, value: object, dtype: np.dtype) -> float:
    """A hyperparameter given at call time (``train_step(…, momentum)``) as a float finite in ``dtype``, else a ValueError."""
    return finite_real(name, value, float(np.finfo(dtype).max))


def check_optimizer_values(optimizer: Optimizer, dtype: np.dtype) -> None:
    """A ValueError (the words of :func:`check_hyperparameter`) if a value given to ``optimizer`` overflows in ``dtype``."""
    for h in optimizer.hyperparameters:
        if h.value is not None:
            check_hyperparameter(h.name, h.value, dtype)


def check_params(specs: tuple[tuple[str, tuple[int, ...]], ...], dtype: np.dtype, params: object) -> tuple[np.ndarray, ...]:
    """The arrays of ``params`` in the order of ``specs`` (name, shape), or the ValueError of :func:`params_error`."""
    if not isinstance(params, Mapping) or len(params) != len(specs):
        params_error(specs, dtype, params)
    out = []
    for name, shape in specs:
        arr = params.get(name)  # type: ignore[attr-defined]  # a Mapping here: params_error raised otherwise
        if type(arr) is not np.ndarray or arr.dtype != dtype or arr.shape != shape:
            params_error(specs, dtype, params)
        out.append(arr)
    return tuple(out)


def check_state(counters: tuple[str, ...], scalars: tuple[str, ...], slots: tuple[tuple[str, tuple[int, ...]], ...],
                dtype: np.dtype, state: object) -> None:
    """A ValueError naming what is wrong with an optimizer's ``state``, else nothing.

    ``counters`` are the integer global slots (the step t ≥ 0), ``scalars`` the
    real ones, ``slots`` the per-parameter arrays (key, shape) of ``dtype``.
    train_step updates the slot arrays in place and stores t in the same dict: it must be mutable, its arrays
    writable and distinct.
    """
    expected = ", ".join([*counters, *scalars, *(f"{k} {s}" for k, s in slots)])
    if not isinstance(state, MutableMapping):  # every bad argument is one ValueError, a wrong type too (TRY004 does not apply)
        raise ValueError(f"state: expected the dict of init_state(params) ({expected}), got {type(state).__name__}")  # noqa: TRY004
    check_keys("state", [*counters, *scalars, *(k for k, _ in slots)], state, f"{expected} (from init_state)")
    for key in counters:
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"state[{key!r}]: expected a non-negative integer (the step count), got {excerpt(value)}")
    for key in scalars:
        value = state[key]
        try:
            finite = not isinstance(value, bool) and isinstance(value, numbers.Real) and bool(np.isfinite(float(value)))
        except OverflowError:  # 10**400: beyond float, not finite
            finite = False
        if not finite:
            raise ValueError(f"state[{key!r}]: expected a finite real number, got {excerpt(value)}")  # 10**400: 401 digits
    seen: dict[int, str] = {}
    for key, shape in slots:
        arr = state[key]
        if type(arr) is not np.ndarray or arr.dtype != dtype or arr.shape != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {getattr(arr, 'shape', '')}".strip()
            raise ValueError(f"state[{key!r}]: expected a numpy array of {dtype} with shape {shape}, got {got}")
        if not arr.flags.writeable:
            raise ValueError(f"state[{key!r}] is read-only; train_step updates the state's arrays in place")
        if id(arr) in seen:  # one array under two keys would be updated twice
            raise ValueError(f"state[{key!r}] is the same array as state[{seen[id(arr)]!r}]; each slot needs its own")
        seen[id(arr)] = key


def check_params_fit(params: Mapping[str, Mapping[str, object]], dtype: np.dtype) -> None:
    """Every rule parameter value (``{"activation leaky_relu": {"alpha": 1e300}}``) is finite in ``dtype``, or one ValueError.

    A value beyond the dtype's range becomes ±inf in the compiled code, and inf·0 gives NaN.
    """
    largest = float(np.finfo(dtype).max)
    for owner, values in params.items():
        for name, value in values.items():
            if value is not None and abs(float(value)) > largest:  # type: ignore[arg-type]
                raise ValueError(
                    f"{owner}: parameter {name} = {float(value):.6g} does not fit {np.dtype(dtype).name} (largest "  # type: ignore[arg-type]
                    f"finite value {largest:.6g}); compile in float64 or give a smaller value"
                )
