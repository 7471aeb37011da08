"""Batch norm as a network layer: uˡ = Wˡaˡ⁻¹, zˡ = γˡ·(uˡ − μ_B)/√(σ²_B + ε) + βˡ, before the activation.

The kernels are those of :mod:`symdl.layers.batchnorm` (printed from the
proven stages of :mod:`symdl.layers.batchnorm_symbolic`); this module only
says where they enter the network's equations and what state they keep.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..symbolic.array_nodes import KernelCall
from .base import (
    Buffer,
    Layer,
    LayerReport,
    LayerSymbols,
    Parameter,
    StateUpdate,
    Symbol,
)

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = ["BatchNorm"]

_SYMBOLS = (
    Symbol("u", "u^{@}"),
    Symbol("gu", r"\frac{\partial C}{\partial u^{@}}"),
    Symbol("gamma", r"\gamma^{@}", batched=False),
    Symbol("beta", r"\beta^{@}", batched=False),
    Symbol("ggamma", r"\frac{\partial C}{\partial \gamma^{@}}", batched=False),
    Symbol("gbeta", r"\frac{\partial C}{\partial \beta^{@}}", batched=False),
    Symbol("mean", r"\mu_{B}^{@}", batched=False),
    Symbol("var", r"\sigma_{B}^{2\,(@)}", batched=False),
    Symbol("running_mean", r"E[u^{@}]", batched=False),
    Symbol("running_var", r"\operatorname{Var}[u^{@}]", batched=False),
)


class BatchNorm(Layer):
    """Batch norm after a block's linear map, in place of its bias: γ, β trained; running mean and variance kept.

    ``eps`` is ε in √(σ²_B + ε); ``momentum`` the running statistics' rate,
    new = (1 − momentum)·old + momentum·batch value (PyTorch's convention).
    """

    position = "pre"
    replaces_bias = True
    report_section = "batchnorm"

    def __init__(self, eps: float = 1e-5, momentum: float = 0.1) -> None:
        from ..arguments import number_in_range

        self.eps = number_in_range("bn_eps", eps, 0.0, None)
        self.momentum = number_in_range("bn_momentum", momentum, 0.0, 1.0)

    def __repr__(self) -> str:
        return f"BatchNorm(eps={self.eps!r}, momentum={self.momentum!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BatchNorm) and (self.eps, self.momentum) == (other.eps, other.momentum)

    def __hash__(self) -> int:
        return hash((BatchNorm, self.eps, self.momentum))

    def symbols(self) -> tuple[Symbol, ...]:
        return _SYMBOLS

    def parameters(self) -> tuple[Parameter, ...]:
        return (Parameter("gamma", "scale", init=1.0), Parameter("beta", "shift", init=0.0))

    def buffers(self) -> tuple[Buffer, ...]:
        return (Buffer("running_mean", 0.0, r"E[u]"), Buffer("running_var", 1.0, r"\operatorname{Var}[u]"))

    def state_updates(self) -> tuple[StateUpdate, ...]:
        return (StateUpdate("_bn_update", ("running_mean", "running_var"), ("mean", "var")),)

    def kept_for_backward(self, s: LayerSymbols) -> tuple[sp.MatrixSymbol, ...]:
        return (s["mean"], s["var"])

    def input_symbol(self, s: LayerSymbols) -> sp.MatrixSymbol:
        return s["u"]

    def input_gradient(self, s: LayerSymbols) -> sp.MatrixSymbol:
        return s["gu"]

    def forward(self, s: LayerSymbols) -> list[sp.Eq]:
        if s.training:
            call = KernelCall("bn_train_forward", r"\mathrm{BN}", s["u"], s["gamma"], s["beta"])
            return [sp.Eq(sp.Tuple(s.z, s["mean"], s["var"]), call, evaluate=False)]
        arrays = (s["u"], s["gamma"], s["beta"], s["running_mean"], s["running_var"])
        return [sp.Eq(s.z, KernelCall("bn_inference", r"\mathrm{BN}_{\mathrm{inf}}", *arrays), evaluate=False)]

    def backward(self, s: LayerSymbols, upstream: sp.MatrixExpr) -> tuple[list[tuple[str, sp.Eq]], sp.MatrixExpr]:
        vjp = KernelCall("bn_train_vjp", r"\mathrm{BN}^{T}", s["u"], s["gamma"], s["beta"], upstream)
        targets = sp.Tuple(s["gu"], s["ggamma"], s["gbeta"])
        return [(f"BN backward (layer {s.index})", sp.Eq(targets, vjp, evaluate=False))], s["gu"]

    def numeric_kernels(self, layers: tuple[tuple[int, int], ...], dtype: np.dtype) -> dict[str, Callable[..., object]]:
        from .batchnorm import (
            ema_update,
            inference_forward,
            train_forward,
            train_vjp,
            unbiased,
        )

        eps, momentum = self.eps, self.momentum

        def update(running_mean: np.ndarray, running_var: np.ndarray, mean: np.ndarray, var: np.ndarray, m: int) -> None:
            # PyTorch's convention: the running variance averages the unbiased batch variance m/(m−1)·σ²_B.
            running_mean[...] = ema_update(running_mean, mean, momentum)
            running_var[...] = ema_update(running_var, unbiased(var, m), momentum)

        return {
            "_bn_train_forward": lambda u, g, b: train_forward(u, g, b, eps),
            "_bn_train_vjp": lambda u, g, b, d: train_vjp(u, g, b, d, eps),
            "_bn_inference": lambda u, g, b, mean, var: inference_forward(u, g, b, mean, var, eps),
            "_bn_update": update,
        }

    def module_blocks(self, widths: tuple[int, ...], backend: Backend, *, inline: bool, accumulate: str | None = None) -> list[str]:
        """``_bn_train_forward``, ``_bn_train_vjp``, ``_bn_inference``, ``_bn_update`` (:mod:`symdl.layers.batchnorm_export`)."""
        from .batchnorm_export import batchnorm_blocks, inline_stage

        return batchnorm_blocks(self.eps, self.momentum, backend, inline_stage(backend, accumulate) if inline else None,
                                accumulate=accumulate)

    def proofs(self) -> Mapping[str, object]:
        from .batchnorm_symbolic import prove_all

        return prove_all()

    def shortcut_repr(self) -> str:
        return ", batchnorm=True"

    def fold(self, arrays: Mapping[str, np.ndarray], l: int) -> tuple[np.ndarray, np.ndarray]:
        """Wˡ ← diag(γ/√(Var + ε))·Wˡ and b' = β − γ·E[u]/√(Var + ε) (:func:`symdl.layers.batchnorm.fold_linear`)."""
        from .batchnorm import fold_linear

        stats = (arrays[f"gamma{l}"], arrays[f"beta{l}"], arrays[f"running_mean{l}"], arrays[f"running_var{l}"])
        return fold_linear(arrays[f"W{l}"], None, *stats, self.eps)

    @classmethod
    def report(cls, *, verify: bool = True) -> LayerReport:
        """Ioffe & Szegedy: forward stages, backward stage by stage, the closed-form VJP, inference, folding.

        The backward steps are :func:`~symdl.layers.batchnorm_symbolic.backward_steps`, the ones
        :func:`~symdl.layers.batchnorm_symbolic.prove_all` proves (its proofs, only with ``verify``).
        """
        from ..rulebook.step import Math, Step
        from . import batchnorm_symbolic as bn

        i, j, m = bn.i, bn.j, bn.m
        mu, var, xhat, y = (sp.IndexedBase(n, real=True) for n in ("mu_B", "sigma_B^2", "xhat", "y"))
        definition = (
            Math(mu[j], bn.batch_mean()),
            Math(var[j], bn.batch_variance()),
            Math(xhat[i, j], bn.normalized(i).subs(bn.batch_variance(), var[j]).subs(bn.batch_mean(), mu[j])),
            Math(y[i, j], bn.transform(i).subs(bn.normalized(i), xhat[i, j])),
        )
        expectation = sp.Function("E")
        scale, shift, folded = bn.folded_inference()
        w_folded, b_folded = bn.linear_fold()
        stages = [Math(st.base[st.indices], st.expr) for st in bn.STAGES["train_forward"] + bn.STAGES["train_backward"]]
        steps = (
            *(Step(st.title, tuple(Math(lhs, rhs) for lhs, rhs in st.equations), st.note) for st in bn.backward_steps()),
            Step("The numeric stages (computed once each, in a stable order)", tuple(stages),
                 "the corrected two-pass variance: residuals from a first mean, then their mean restores its lost digits; "
                 "proven to compose to the definitions (see the checks)"),
            Step(
                "Why inference uses m/(m − 1)",
                (Math(expectation(var[j]), bn.expected_batch_variance()),
                 Math(expectation(m / (m - 1) * var[j]), bn.expected_batch_variance(correction=m / (m - 1)))),
                "for m i.i.d. samples with variance σ², by linearity and independence: the batch variance is biased by (m − 1)/m",
            ),
            Step(
                "Inference (Algorithm 2): population statistics, then a fixed affine map",
                (Math(sp.IndexedBase("mean", real=True)[j], bn.population_mean()),
                 Math(sp.IndexedBase("var", real=True)[j], bn.population_variance()),
                 Math(y[i, j], bn.inference_transform(i))),
            ),
            Step(
                "The folded form",
                (Math(sp.Symbol("scale_j"), scale), Math(sp.Symbol("shift_j"), shift), Math(y[i, j], folded),
                 Math(sp.IndexedBase("W'", real=True)[j, bn.r], w_folded), Math(sp.IndexedBase("b'", real=True)[j], b_folded)),
                "inference batch norm is affine, so it folds into the preceding linear layer",
            ),
        )
        return LayerReport(
            title="Batch normalisation",
            summary="Ioffe & Szegedy, Algorithms 1 and 2, for a mini-batch of m rows (m symbolic)",
            definition=definition,
            steps=steps,
            proofs=bn.prove_all() if verify else {},
        )
