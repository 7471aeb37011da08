"""Runtime helpers of mixed-precision network modules: float32 masters, X and Y checked, masters and X cast once to the compute dtype.

A mixed-precision module (:mod:`symdl.export.mixed_precision`) binds ``_dtype``
(the compute dtype: bfloat16 or float16), ``_param_dtype`` and ``_acc_dtype``
(float32) and ``_LOSS_SCALE``. Its ``_check`` validates the float32 master
parameters and the data with the full-precision module's own checks
(``_check_masters``: :func:`symdl.backends.runtime_torch._check` with
``_param_dtype`` for ``_dtype``), then casts the parameters and X once (the
targets Y stay in ``_param_dtype``: the loss reads them unrounded); the printed body
computes in ``_dtype`` and hands its gradients to ``_master_grads``; the
penalty is then added in float32 on ``_masters(params)`` by the printed code.

symdl copies these functions' source into the generated modules under the
names without the library suffix (``_check_torch`` → ``_check``). Importing
this module imports neither torch nor jax.
"""

# ruff: noqa: F821  (the names are the generated module's globals)

from __future__ import annotations


def _masters(params):
    """The float32 master arrays of params in the order of _SPECS: what train_step updates, not their compute copies."""
    return tuple(params[name] for name, _ in _SPECS)


def _lift_torch(value, name):
    """X or Y as the checks take it: given in the compute dtype _dtype, widened exactly to _param_dtype; other floats refused."""
    given = str(getattr(value, "dtype", "")).removeprefix("torch.")
    accepted = [str(d).removeprefix("torch.") for d in (_param_dtype, _dtype)]
    if given == accepted[1]:
        return value.to(_param_dtype)  # every bfloat16 or float16 number is a float32 number
    if given.startswith(("float", "bfloat")) and given not in accepted:
        raise ValueError(f"{name} has dtype {given}; this mixed-precision module takes {accepted[0]} or {accepted[1]} data (convert it first)")
    return value


def _check_torch(params, X, Y, writable=False, targets=True):
    """The checked float32 masters of params in the order of _SPECS and X, each cast once to the compute dtype _dtype, then
    Y in _param_dtype: the loss reads the targets unrounded, as torch.autocast's does."""
    *arrays, X, Y = _check_masters(params, _lift(X, "X"), _lift(Y, "Y"), writable, targets)
    return (*(a.to(_dtype) for a in arrays), X.to(_dtype), Y)


def _unpack_torch(params, X, Y, writable=False, targets=True):
    """_check's result without the checks (the ``_unchecked`` entry points): W, b and X cast to _dtype, Y to _param_dtype
    (a Y in _dtype widened exactly), nothing read back."""
    arrays = (*(params[name].to(_dtype) for name, _ in _SPECS), X.to(_dtype))
    return (*arrays, None if Y is None else Y.to(_param_dtype))


def _master_grads_torch(*grads, scale=None):
    """The gradients in _param_dtype divided by the loss scale: the static _LOSS_SCALE (1: nothing to undo), or
    ``scale``, a 0-d tensor (Module's backward: its incoming gradient), on the device: nothing read back."""
    grads = tuple(g.to(_param_dtype) for g in grads)
    if scale is not None:
        return tuple(g / scale for g in grads)
    return grads if _LOSS_SCALE == 1 else tuple(g / _LOSS_SCALE for g in grads)


def _finite_or_zero_torch(finite, grads):
    """grads where ``finite`` (a 0-d bool tensor), else zeros: a plain train_step whose float16 data term overflowed
    leaves params as they were (torch.amp.GradScaler skips it too) — decided on the device, nothing read back."""
    return tuple(torch.where(finite, g, torch.zeros_like(g)) for g in grads)


def _all_finite_torch(arrays):
    """A 0-d bool tensor: every entry of every array finite (a float16 overflow makes it False); nothing read back."""
    return torch.stack([torch.isfinite(a).all() for a in arrays]).all()


def _keep_finite_torch(finite, store, new):
    """store[key] ← new[key] where ``finite`` (a 0-d bool tensor), else store[key] kept; the kept values, in new's order.

    An optimizer step with a loss scale: the whole update (params, slots, the step count) is computed, then written
    only if the gradients were finite — torch.where on the device, in place into store's tensors, nothing read back.
    """
    kept = []
    for key, value in new.items():
        old = store[key]
        if not isinstance(old, torch.Tensor):  # a count or scalar given as a Python number: init_state's 0-d tensor
            dtype = torch.int64 if isinstance(old, numbers.Integral) else _param_dtype
            old = store[key] = torch.tensor(old, dtype=dtype, device=finite.device)
        # in old's dtype: a real computed from t is in torch's default dtype (maybe float64), t + 1 a Python int if t was
        torch.where(finite, torch.as_tensor(value, dtype=old.dtype, device=old.device), old, out=old)
        kept.append(old)
    return tuple(kept)


def _lift_jax(value, name):
    """X or Y as the checks take it: given in the compute dtype _dtype, widened exactly to _param_dtype; other floats refused."""
    given = str(getattr(value, "dtype", ""))
    if given == _dtype.name:
        return value.astype(_param_dtype)  # every bfloat16 or float16 number is a float32 number
    if given.startswith(("float", "bfloat")) and given != _param_dtype.name:
        raise ValueError(f"{name} has dtype {given}; this mixed-precision module takes {_param_dtype.name} or {_dtype.name} data "
                         "(convert it first)")
    return value


def _check_jax(params, X, Y, writable=False, targets=True):
    """(the float32 master arrays by name, X, Y) checked against _SPECS and the widths, else a ValueError."""
    return _check_masters(params, _lift(X, "X"), _lift(Y, "Y"), writable, targets)


def _unpack_jax(params, X, Y, writable=False, targets=True):
    """The arrays in the order of _SPECS and X, each cast to the compute dtype _dtype, then Y in _param_dtype (a Y in
    _dtype widened exactly): the loss reads the targets unrounded (inside jax.jit)."""
    arrays = (*(params[name].astype(_dtype) for name, _ in _SPECS), X.astype(_dtype))
    return (*arrays, None if Y is None else Y.astype(_param_dtype))


def _master_grads_jax(*grads):
    """The gradients in _param_dtype divided by the static loss scale _LOSS_SCALE (1: nothing to undo)."""
    grads = tuple(g.astype(_param_dtype) for g in grads)
    return grads if _LOSS_SCALE == 1 else tuple(g / _LOSS_SCALE for g in grads)


def _finite_or_zero_jax(finite, grads):
    """grads where ``finite`` (a 0-d bool array), else zeros: a plain train_step whose float16 data term overflowed
    leaves params as they were (optax.apply_if_finite skips it too) — decided on the device, nothing read back."""
    return tuple(jnp.where(finite, g, jnp.zeros_like(g)) for g in grads)


def _all_finite_jax(arrays):
    """A 0-d bool array: every entry of every array finite (a float16 overflow makes it False); decided inside jax.jit."""
    return jnp.all(jnp.stack([jnp.isfinite(a).all() for a in arrays]))


def _keep_finite_jax(finite, store, new):
    """new[key] where ``finite`` (a 0-d bool array), else store[key]: the kept values, in new's order (optax.apply_if_finite).

    An optimizer step with a loss scale: the whole update (params, slots, the step count) is computed, then kept only
    if the gradients were finite — jnp.where inside jax.jit, nothing read back.
    """
    return tuple(jnp.where(finite, value, store[key]) for key, value in new.items())
