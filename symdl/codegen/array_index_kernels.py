"""Index-notation kernels (:func:`symdl.codegen.index_kernels.compile_index_kernel`) as JAX or PyTorch source.

The same layout and the same SymPy expression as the numpy kernel: each index
letter at a trailing axis (its slot), ``x[k]`` the array with its axes moved
to their slots (``_place``), a sum of a product one ``einsum``, any other sum
a reduction over its slot; only the array library's spelling differs:

=============================  =======================================  ========================================
numpy                          ``jnp``                                  ``torch``
=============================  =======================================  ========================================
``numpy.einsum(…, optimize)``  ``jnp.einsum(…, optimize=True)``         ``torch.einsum(…)``
``numpy.expand_dims(t, ax)``   ``jnp.expand_dims(t, ax)``               ``t[..., None, :]`` (indexing)
``numpy.max(…, axis=s)``       ``jnp.max(…, axis=s, keepdims=True)``    ``torch.amax(…, dim=s, keepdim=True)``
``numpy.logaddexp.reduce``     ``jax.nn.logsumexp``                     ``torch.logsumexp``
=============================  =======================================  ========================================

The printed function takes arrays of the module's ``_dtype`` and makes no
array of its own but the constants ``_t(…)``: JAX's module binds ``_t``
once, a torch kernel binds it to its first argument's device
(:meth:`symdl.backends.base.Backend.bind_constants`), so it runs where its
inputs are, the ``meta`` device included. Arg-max indicators (maxout) compare
``arange`` with ``argmax`` as numpy's do: the first of tied maxima wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from ..backends.base import Backend
from ..backends.printers import JaxPrinter, TorchPrinter
from .index_kernels import FirstArgMax, IndexPrinter, index_cse

__all__ = ["array_index_kernel_source", "place_source"]


class _ArrayIndexPrinter(IndexPrinter):
    def _contract(self, spec: str, operands: Sequence[str]) -> str:
        return f"{self._fn('einsum')}('{spec}', {', '.join(operands)}, optimize=True)"

    def _expand(self, text: str, missing: tuple[int, ...], kept: int) -> str:
        return f"{self._fn('expand_dims')}({text}, {missing!r})"

    def _reduce(self, function: str, text: str, slot: int) -> str:
        return f"{self._fn(function)}({text}, axis={slot}, keepdims=True)"

    def _print_FirstArgMax(self, expr: FirstArgMax) -> str:
        u, j, k, _ = expr.args
        axis = self._slot(j)
        if self._slot(k) != axis:
            raise ValueError("FirstArgMax needs its two indices in one slot")
        return self._first_arg_max(self._print(u), axis)


class _JaxIndexPrinter(_ArrayIndexPrinter, JaxPrinter):
    def _logsumexp_at(self, text: str, slot: int) -> str:
        return f"jax.nn.logsumexp({text}, axis={slot}, keepdims=True)"


class _TorchIndexPrinter(_ArrayIndexPrinter, TorchPrinter):
    def _contract(self, spec: str, operands: Sequence[str]) -> str:
        return f"torch.einsum('{spec}', {', '.join(operands)})"

    def _expand(self, text: str, missing: tuple[int, ...], kept: int) -> str:
        # the kept axes in order, a new axis of size 1 at each missing slot
        axes = ", ".join("None" if k - self.depth in missing else ":" for k in range(self.depth))
        return f"({text})[..., {axes}]"

    def _reduce(self, function: str, text: str, slot: int) -> str:
        name = "amax" if function == "max" else function  # torch.max(…, dim) returns (values, indices)
        return f"torch.{name}({text}, dim={slot}, keepdim=True)"

    def _logsumexp_at(self, text: str, slot: int) -> str:
        return f"torch.logsumexp({text}, dim={slot}, keepdim=True)"


_PRINTERS = {"jnp": _JaxIndexPrinter, "torch": _TorchIndexPrinter}


def place_source(backend: Backend) -> str:
    """``_place(arr, slots, depth)``: a view of arr whose last ``len(slots)`` axes sit at ``slots`` of ``depth`` trailing axes."""
    move = "jnp.moveaxis" if backend.module == "jnp" else "torch.movedim"
    return (
        "def _place(arr, slots, depth):\n"
        "    own = len(slots)\n"
        "    lead = tuple(arr.shape[: arr.ndim - own])\n"
        "    expanded = arr.reshape(lead + (1,) * (depth - own) + tuple(arr.shape[arr.ndim - own:]))\n"
        f"    return {move}(expanded, tuple(range(-own, 0)), tuple(slots))\n"
    )


def array_index_kernel_source(expr: sp.Expr, arrays: Sequence[str], slots: Mapping[sp.Symbol, int],
                              output: Sequence[sp.Symbol], name: str, backend: Backend, *, reduce_leading: bool = False,
                              accumulate: str | None = None) -> str:
    """``def name(*arrays)``: ``expr`` (already in its printable stable form) for ``backend`` (``jnp`` or ``torch``).

    As :func:`symdl.codegen.index_kernels.compile_index_kernel` with ``einsum``: the arrays carry leading batch axes
    and their indices on the last axes; with ``reduce_leading`` the result is summed over the batch axes (in the dtype
    ``accumulate`` names when given: a mixed-precision module's ``_acc_dtype``; a contraction is a product, in the
    arrays' dtype).
    """
    if backend.module not in _PRINTERS:
        raise ValueError(f"index kernels print for numpy, jnp and torch, not {backend.module}")
    depth = max(-s for s in slots.values())
    printer = _PRINTERS[backend.module](slots, depth, (), einsum=True)
    out_slots = [slots[i] for i in output]
    take = ", ".join(":" if -k in out_slots else "0" for k in range(depth, 0, -1))
    intermediates, body = index_cse(expr)
    lines = [f"{sym} = {printer.doprint(value)}" for sym, value in intermediates]
    factors = sp.Mul.make_args(body)
    if reduce_leading and len(factors) > 1 and not any(f.is_number for f in factors):
        lines += [f"_out = {printer.einsum_product(factors, (), leading=False)}", f"_out = _out[{take}]"]
    else:
        lines += [f"_out = {printer.doprint(body)}", f"_out = _out[..., {take}]"]
        if reduce_leading:
            total = "jnp.sum(_out, axis=" if backend.module == "jnp" else "torch.sum(_out, dim="
            dtype = "" if accumulate is None else f", dtype={accumulate}"
            lines.append(f"_out = {total}tuple(range(_out.ndim - {len(output)})){dtype})")
    lines = backend.bind_constants([*lines, "return _out"], arrays[0])
    return f"def {name}({', '.join(arrays)}):\n" + "".join(f"    {line}\n" for line in lines)
