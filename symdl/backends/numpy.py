"""The numpy backend: the code of :class:`symdl.CompiledNetwork` and of the standalone modules.

numpy writes into dead buffers (``numpy.tanh(Z, out=Z)``), updates the
running statistics in place and draws from ``numpy.random.default_rng``.
Its modules are assembled by :mod:`symdl.export.standalone`; this object
gives the printer and the spellings they share with the other backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..codegen.kernel import KernelPrinter
from .base import Backend, emit_functions
from .runtime_fit import _restore_numpy, _snapshot_numpy, _target_host
from .runtime_graph import _check, _check_arrays, _check_forward

__all__ = ["NumpyBackend"]


class NumpyBackend(Backend):
    """``numpy``: in-place updates into dead buffers, ``numpy.random.default_rng`` draws."""

    name = "numpy"
    library = "numpy"
    module = "numpy"
    printer_class = KernelPrinter
    title = "numpy"
    noun = "numpy arrays"
    imports = ("import numpy",)
    out_functions: ClassVar = {"multiply": "numpy.multiply", "divide": "numpy.divide", "square": "numpy.square",
                                "subtract": "numpy.subtract"}
    init_spelling: ClassVar = (
        ["rng = numpy.random.default_rng(seed)"],
        "_t({width!r}) * rng.random({shape!r}, dtype=_dtype) - _t({limit!r})",
        "numpy.full({shape!r}, {value!r}, dtype=_dtype)",
        "numpy.random.default_rng(seed); as CompiledNetwork.init(seed)",
    )
    verify_dtype = None  # the compiled network is numpy itself: nothing to compare it with
    init_normal = "rng.standard_normal({shape!r}, dtype=_dtype) * _t({std!r})"

    def dtype_line(self, dtype: np.dtype | str, target: str = "_dtype") -> str:
        return f"{target} = numpy.dtype({getattr(dtype, 'name', dtype)!r})"

    def constant(self) -> str:
        return "numpy.asarray"

    def batchnorm_scalars(self, eps: str, momentum: str) -> tuple[list[str], list[str]]:
        # numpy scalars in the input dtype: a Python float would promote a float32 layer's arithmetic.
        return (
            ["m = numpy.asarray(x.shape[0], dtype=x.dtype)", f"epsilon = numpy.asarray({eps}, dtype=x.dtype)"],
            [f"momentum = numpy.asarray({momentum}, dtype=running_mean.dtype)", "size = numpy.asarray(m, dtype=var.dtype)"],
        )

    def dropout_masks(self, keep: float, hidden: tuple[int, ...]) -> tuple[str, list[str]]:
        return "seed, m", [
            "if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:",
            "    raise ValueError(f'seed: expected a non-negative integer (it fixes the dropout masks), got {seed!r}')",
            "rng = numpy.random.default_rng(int(seed))",
            "# mask ~ Bernoulli(1 − p): u ~ U[0, 1) in float64, kept where u < 1 − p.",
            f"return [numpy.asarray(rng.random((m, n)) < {keep!r}).astype(_dtype) for n in {hidden!r}]",
        ]

    def graph_masks(self, masks: Sequence[tuple[int, str, float]]) -> tuple[str, list[str]]:
        # the draws of CompiledGraph.masks: one generator, in order; a Bernoulli mask kept where u < 1 − p
        draws = [f"    rng.standard_normal((m, {w}), dtype=_dtype) * _t({v!r})," if draw == "gaussian"
                 else f"    numpy.asarray(rng.random((m, {w})) < {1.0 - v!r}).astype(_dtype)," for w, draw, v in masks]
        return "seed, m", [
            "if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:",
            "    raise ValueError(f'seed: expected a non-negative integer (it fixes the noise and dropout masks), got {seed!r}')",
            "rng = numpy.random.default_rng(int(seed))",
            "return [", *draws, "]",
        ]

    def graph_runtime(self, optimizer: bool) -> list[str]:
        """The shared checks; ``_batch``, ``_check_params`` and the optimizer's checks come from symdl.network.checks
        (:mod:`symdl.export.graph_modules` emits them: the numpy module checks with the text CompiledGraph runs)."""
        return [emit_functions(_check_arrays, _check, _check_forward)]

    def network_runtime(self, seeded: bool) -> list[str]:
        raise NotImplementedError("numpy network modules are printed by symdl.export.standalone.network_module")

    def fit_runtime(self) -> list[str]:
        return [emit_functions(_snapshot_numpy, _restore_numpy, _target_host,
                               names={"_snapshot_numpy": "_fit_snapshot", "_restore_numpy": "_fit_restore", "_target_host": "_fit_target"})]

    def as_arrays(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        return {k: np.array(v) for k, v in params.items()}
