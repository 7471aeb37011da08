"""Dropout as a network layer: hˡ = φ(zˡ), aˡ = hˡ·rˡ/(1 − p) with rˡ ~ Bernoulli(1 − p), p the drop probability.

p is PyTorch's ``Dropout(p)`` and Keras' ``rate``. The expression is
:func:`symdl.layers.dropout.training_expr` (inverted dropout, whose
expectation that module proves) with its keep probability bound to 1 − p;
at inference the layer is the identity.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..arguments import drop_probability
from ..backprop.notation import ACTIVATION
from ..codegen.module_text import function_source
from ..symbolic.array_nodes import Elementwise
from .base import Layer, LayerReport, LayerSymbols, Mask, Symbol

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = ["Dropout"]

_SYMBOLS = (Symbol("h", "h^{@}"), Symbol("r", "r^{@}"))


class Dropout(Layer):
    """Inverted dropout after a block's activation, dropping each unit with probability ``p`` ∈ [0, 1) (0 is a no-op)."""

    position = "post"
    report_section = "dropout"

    def __init__(self, p: float) -> None:
        self.p = drop_probability(p)

    def __repr__(self) -> str:
        return f"Dropout({self.p!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dropout) and self.p == other.p

    def __hash__(self) -> int:
        return hash((Dropout, self.p))

    def keep_exact(self) -> sp.Expr:
        """The keep probability 1 − p, exact."""
        from ..symbolic.parse import exact_number

        return sp.Integer(1) - exact_number(self.p, "dropout")

    @property
    def keep(self) -> float:
        """1 − p as a float: masks are Bernoulli(1 − p)."""
        return float(self.keep_exact())

    def expression(self) -> sp.Lambda:
        """(h, r) ↦ h·r/(1 − p): the unit's training output, proven in expectation by :mod:`symdl.layers.dropout`."""
        from .dropout import P, training_expr

        h, r = sp.symbols("h r", real=True)
        return sp.Lambda((h, r), training_expr("inverted", h, r).subs(P, self.keep_exact()))

    def symbols(self) -> tuple[Symbol, ...]:
        return _SYMBOLS

    def masks(self) -> tuple[Mask, ...]:
        return (Mask("r", "r^{@}"),)

    def active(self, training: bool) -> bool:
        return training

    def input_symbol(self, s: LayerSymbols) -> sp.MatrixSymbol:
        return s["h"]

    def forward(self, s: LayerSymbols) -> list[sp.Eq]:
        return [sp.Eq(s.a, Elementwise("dropout", self.expression(), s["h"], s["r"]), evaluate=False)]

    def backward(self, s: LayerSymbols, upstream: sp.MatrixExpr) -> tuple[list[tuple[str, sp.Eq]], sp.MatrixExpr]:
        # ∂aˡ/∂hˡ (= rˡ/(1 − p)), derived from the dropout expression.
        expr = self.expression()
        h, r = expr.variables
        derivative = sp.Lambda((h, r), sp.diff(expr.expr, h))
        return [], sp.HadamardProduct(upstream, Elementwise("dropout'", derivative, s["h"], s["r"]))

    def numeric_kernels(self, layers: tuple[tuple[int, int], ...], dtype: np.dtype) -> dict[str, Callable[..., object]]:
        from .dropout import dropout_mask

        keep, widths = self.keep, tuple(n for _, n in layers)

        def masks(seed: object, m: int) -> list[np.ndarray]:
            # An integer only: a Generator would advance, and loss and gradient would see other masks.
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"seed: expected a non-negative integer (it fixes the dropout masks), got {seed!r}")
            rng = np.random.default_rng(int(seed))
            return [dropout_mask((m, n), keep, rng, dtype) for n in widths]

        return {"_masks": masks}

    def module_blocks(self, widths: tuple[int, ...], backend: Backend, *, inline: bool, accumulate: str | None = None) -> list[str]:
        """``_masks``: one Bernoulli(1 − p) mask per block for a batch of m rows, from the backend's generator; its helpers."""
        args, lines = backend.dropout_masks(self.keep, widths)
        doc = (
            f"Dropout masks of the hidden layers for a batch of m rows "
            f"(drop probability p = {self.p!r}, keep probability 1 − p = {self.keep!r})."
        )
        return [function_source("_masks", args, doc, lines), *backend.dropout_runtime()]

    def proofs(self) -> Mapping[str, object]:
        from .dropout import prove_all

        return prove_all()

    def shortcut_repr(self) -> str:
        return f", dropout={self.p}"

    @classmethod
    def report(cls, *, verify: bool = True) -> LayerReport:
        """Dropout with keep probability p: training and inference forms, their expectations (sympy.stats), proofs."""
        from sympy import stats

        from ..rulebook.step import Math, Step
        from . import dropout as dr

        shown = sp.Symbol(r"\mathrm{mask}\,")  # upright and spaced: one name, not m·a·s·k, and not run into x
        words = {"inverted": r"\mathrm{inverted}", "weight_scaling": r"\mathrm{weight}\,\mathrm{scaling}"}
        definition = []
        steps = []
        for name in dr.RULES:
            train, infer = dr.training_expr(name), dr.inference_expr(name)
            train_shown = train.xreplace({dr.MASK: shown})
            out = {when: sp.Symbol(rf"\mathrm{{out}}_{{{words[name]}}}^{{\mathrm{{{when}}}}}") for when in ("train", "infer")}
            definition += [Math(out["train"], train_shown), Math(out["infer"], infer)]
            expected = stats.E(train)
            maths = [Math(dr.expectation_of(train_shown), expected)]
            if sp.simplify(expected - infer) != 0:  # shown only where it differs from what E gave
                maths.append(Math(dr.expectation_of(train_shown), infer))
            steps.append(Step(f"{name}: the expectation over the mask matches inference", tuple(maths),
                              "E over mask ∼ Bernoulli(p) by sympy.stats; the right side is the inference output"))
        phi = sp.Function(ACTIVATION)  # any non-linearity: φ, as BP1–BP4's generic activation
        inverted = dr.training_expr("inverted")
        steps.append(Step(
            "After a non-linearity the match is only approximate",
            (Math(dr.expectation_of(phi(inverted.xreplace({dr.MASK: shown}))), stats.E(phi(inverted))),),
            "equal to φ(x) for every x and p only when φ is affine between 0 and x/p (Jensen); "
            "φ here is any non-linearity",
        ))
        return LayerReport(
            title="Dropout",
            summary="mask ∼ Bernoulli(p), p the keep probability; inverted dropout (PyTorch, Keras) and weight scaling; "
                    "each rule's output in training (train) and at inference (infer)",
            definition=tuple(definition),
            steps=tuple(steps),
            proofs=dr.prove_all() if verify else {},
        )
