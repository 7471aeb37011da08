"""Network: an MLP built from library rules, derived as BP1–BP4 and compiled to numpy.

Conventions (the seeds'):

* ``params`` is a dict of numpy arrays: ``W1..WL`` of shape (nₗ, nₗ₋₁) and
  ``b1..bL`` of shape (nₗ,); an activation with a learned input (PReLU's α)
  adds ``alpha1..`` of shape (nₗ,) for the layers that use it.
* ``X`` is (batch, n₀) and ``Y`` is (batch, n_L); zˡ = aˡ⁻¹ Wˡᵀ + bˡ row by row.
* The loss is the per-sample sum over output units of the element-wise loss
  ℓ(aᴸ, y), averaged over the batch, plus the penalty Σₗ Ω(Wˡ) on the
  weights (not the biases).
* ``train_step`` is one step of plain gradient descent, W ← W − lr·∂C/∂W,
  done in place on the arrays of ``params``; it returns the loss before the step.
  With ``optimizer=`` (an :class:`symdl.optim.Optimizer` or its name) it is
  ``train_step(params, X, Y, state)`` with ``state = init_state(params)``: one
  step of that optimizer, its update printed from its SymPy assignments.

>>> import numpy as np, symdl
>>> net = symdl.Network([3, 4, 2], activation="tanh", loss="mse").compile()
>>> params = net.init(seed=0)
>>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
>>> loss, grads = net.loss_and_grad(params, X, Y)
>>> sorted(grads) == sorted(params)
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import sympy as sp

from ..arguments import float_dtype
from ..backprop.equations import BackpropEquations, LossForms, bp_equations
from ..backprop.notation import ACTIVATION, OUTPUT_ACTIVATION
from ..excerpt import excerpt
from ..layers.base import Layer
from ..layers.dense import Dense
from ..optim.base import Optimizer
from ..rulebook.reductions import Reduction, check_reduction, reduction_factor
from .checks import (
    check_arguments,
    check_batch,
    check_learning_rate,
    check_params_fit,
    params_error,
)
from .compiled import CompiledNetwork, module_header
from .rule_forms import (
    RuleLike,
    accepted_rules,
    activation_forms,
    loss_forms,
    resolve_rule,
    warn_logits_loss,
)
from .stack import LayerLike, shortcut_layers, shortcut_view, stack_layers, widths

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..rulebook.rule import Rule

# The argument checks, rule forms and CompiledNetwork live in their own modules; re-exported where they were.
__all__ = [
    "CompiledNetwork",
    "Network",
    "RuleLike",
    "accepted_rules",
    "check_arguments",
    "check_batch",
    "check_learning_rate",
    "loss_forms",
    "module_header",
    "params_error",
]


class Network:
    """An MLP ``layers = [n₀, n₁, …, n_L]`` with one activation for hidden layers, one for the output, a loss and a penalty.

    Rules are names from :func:`symdl.rulebook.rule` (with ``*_params``) or rule
    objects (``symdl.rule("leaky_relu", alpha=0.1)``, or a one-variable
    :func:`symdl.formula_rule` as an activation). Bad specs raise
    ``ValueError`` at construction.

    ``reduction`` is C = κ · Σ_samples Σⱼ ℓ: ``"symdl"`` (default) the batch mean κ = 1/m; ``"mean"`` and ``"sum"``
    exactly ``torch.nn.functional``'s ``reduction=`` for the loss's counterpart (``mse_loss``, ``l1_loss``,
    ``huber_loss``, ``binary_cross_entropy_with_logits``, ``cross_entropy``), κ derived in
    :func:`symdl.rulebook.reductions.reduction_factor`; a loss without one accepts only ``"symdl"``.
    """

    def __init__(
        self,
        layers: Sequence[LayerLike],
        activation: RuleLike = "tanh",
        output_activation: RuleLike = "identity",
        loss: RuleLike = "mse",
        loss_params: Mapping[str, float] | None = None,
        penalty: RuleLike | None = None,
        penalty_params: Mapping[str, float] | None = None,
        *,
        activation_params: Mapping[str, float] | None = None,
        output_activation_params: Mapping[str, float] | None = None,
        batchnorm: bool = False,
        dropout: float | None = None,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        optimizer: Optimizer | str | None = None,
        reduction: Reduction = "symdl",
    ) -> None:
        if isinstance(layers, Sequence) and not isinstance(layers, (str, bytes)) and any(isinstance(x, (Dense, Layer)) for x in layers):
            if batchnorm or dropout is not None or (bn_eps, bn_momentum) != (1e-5, 0.1):
                raise ValueError("batchnorm/dropout/bn_*: give them as layers in the list, or as keywords with a list of widths")
            self.layers, self.parts = stack_layers(layers)
        else:
            self.layers = widths(layers)
            self.parts = shortcut_layers(self.layers, batchnorm, dropout, bn_eps, bn_momentum)
        self.activation = resolve_rule(activation, "activation", ("activation",), activation_params)
        self.output_activation = resolve_rule(output_activation, "output_activation", ("activation",), output_activation_params)
        if _same_rule(self.output_activation, self.activation):  # one φ in the equations, not φ and an equal φ_L
            self.output_activation = self.activation
        self.loss = resolve_rule(loss, "loss", ("loss",), loss_params)
        # Every penalty is element-wise (vector rules are activations and losses), so a Rule.
        self.penalty: Rule | None = None if penalty is None else cast("Rule", resolve_rule(penalty, "penalty", ("penalty",), penalty_params))
        if penalty is None and penalty_params:
            raise ValueError("penalty_params given without a penalty")
        self.optimizer = _resolve_optimizer(optimizer)
        self.reduction: Reduction = check_reduction(self.loss, reduction)
        for role, r in (("activation", self.activation), ("output_activation", self.output_activation)):
            if r.element_wise and r.kind == "formula" and len(r.inputs) != 1:
                raise ValueError(f"{role}: a formula activation has one variable, {r!r} has {len(r.inputs)}")
        warn_logits_loss(self.output_activation, self.loss, "Network", "output_activation='identity'", stacklevel=3)  # the caller of Network(...)

    @classmethod
    def from_layers(cls, layers: Sequence[LayerLike], **options: Any) -> Network:
        """A network from ``[n₀, Dense(n₁), BatchNorm(), Dropout(0.2), Dense(n₂), …]``: each layer acts on the Dense block before it.

        ``options`` are the other keywords of :class:`Network` (activation, loss, …).
        """
        return cls(layers, **options)

    def layer_list(self) -> list[LayerLike]:
        """``[n₀, Dense(n₁), <its layers>, Dense(n₂), …]``: the layer form of this network."""
        out: list[LayerLike] = [self.layers[0]]
        for n, parts in zip(self.layers[1:], self.parts):
            out += [Dense(n), *parts]
        return out

    def attached_layers(self) -> dict[Layer, tuple[int, ...]]:
        """Each distinct attached layer (pre layers first) with the blocks l it acts on: what the exports ask for code."""
        found: dict[Layer, list[int]] = {}
        for l, parts in enumerate(self.parts, 1):
            for part in parts:
                found.setdefault(part, []).append(l)
        return {layer: tuple(found[layer]) for layer in sorted(found, key=lambda p: p.position != "pre")}

    def layer_blocks(self, backend: Backend, *, inline: bool, accumulate: str | None = None) -> list[str]:
        """The source blocks the attached layers add to a generated module for ``backend`` (:meth:`Layer.module_blocks`)."""
        return [
            block
            for layer, blocks in self.attached_layers().items()
            # accumulate only where a module asks for it (mixed precision): a layer written without it still works
            for block in layer.module_blocks(tuple(self.layers[l] for l in blocks), backend, inline=inline,
                                             **({} if accumulate is None else {"accumulate": accumulate}))
        ]

    @property
    def seeded(self) -> bool:
        """Whether training draws random masks (a layer has :meth:`Layer.masks`): the entry points then take a seed."""
        return any(layer.masks() for layer in self.attached_layers())

    # The keyword form's view of the layers (Network([..], batchnorm=True, dropout=p)), from symdl.network.stack.
    @property
    def batchnorm(self) -> bool:
        """Whether the blocks carry batch norm (the keyword ``batchnorm``)."""
        return shortcut_view(self.attached_layers())["batchnorm"]

    @property
    def dropout(self) -> float | None:
        """p, the drop probability of the dropout layers (None without dropout)."""
        return shortcut_view(self.attached_layers())["dropout"]

    @property
    def keep_probability(self) -> float | None:
        """1 − p, the probability that dropout keeps a unit (None without dropout); masks are Bernoulli(1 − p)."""
        return shortcut_view(self.attached_layers())["keep_probability"]

    @property
    def bn_eps(self) -> float:
        """ε of batch norm (the keyword ``bn_eps``; its default without batch norm)."""
        return shortcut_view(self.attached_layers())["bn_eps"]

    @property
    def bn_momentum(self) -> float:
        """The running statistics' momentum (the keyword ``bn_momentum``; its default without batch norm)."""
        return shortcut_view(self.attached_layers())["bn_momentum"]

    def __repr__(self) -> str:
        extras = f", penalty={self.penalty!r}" if self.penalty is not None else ""
        optimizer = f", optimizer={self.optimizer!r}" if self.optimizer is not None else ""
        optimizer += f", reduction={self.reduction!r}" if self.reduction != "symdl" else ""
        shortcuts = [p.shortcut_repr() for p in self.attached_layers()]
        spelled = [s for s in shortcuts if s is not None]
        if len(spelled) < len(shortcuts):
            stack = f"[{', '.join(map(repr, self.layer_list()))}]"
        else:
            stack, extras = f"{list(self.layers)}", extras + "".join(spelled)
        return (
            f"Network({stack}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, loss={self.loss!r}{extras}{optimizer})"
        )

    def loss_forms(self) -> LossForms:
        """ℓ, ∂ℓ/∂a and κ of this network's loss and reduction: what every generated module prints C and ∇ₐC from."""
        return loss_forms(self.loss, self.reduction, self.layers[-1])

    @property
    def depth(self) -> int:
        return len(self.layers) - 1

    def equations(self, *, output_form: bool = False) -> BackpropEquations:
        """BP1–BP4 for this network as SymPy matrix equations (symbolic widths), with the functions' definitions.

        ``output_form=True`` gives the equations the code is printed from:
        φ′(zˡ) written through aˡ where the rule proves such a form.
        """
        return dataclasses.replace(self._equations(output_form), definitions=self._definitions(),
                                   definition_forms=self._definition_forms())

    def _equations(self, output_form: bool, training: bool = True) -> BackpropEquations:
        hidden_name = ACTIVATION
        out_name = hidden_name if self.output_activation is self.activation else OUTPUT_ACTIVATION
        hidden = activation_forms(self.activation, hidden_name)
        output = hidden if out_name == hidden_name else activation_forms(self.output_activation, out_name)
        penalty = None
        if self.penalty is not None:
            (w,) = self.penalty.inputs
            penalty = sp.Lambda(w, self.penalty.numeric_derivative_expr())
        return bp_equations(
            [hidden] * (self.depth - 1),
            output,
            self.loss_forms(),
            penalty,
            output_form=output_form,
            parts=self.parts,
            training=training,
        )

    def _definition_forms(self) -> tuple[tuple[str, str, tuple[sp.Symbol, ...], sp.Expr | str], ...]:
        """(label, the function's LaTeX name, its arguments, its definition) for φ, φ′, ℓ, ℓ' and C.

        A definition that is not an expression (a vector activation's name, the cost's sum) is Unicode text.
        """
        out: list[tuple[str, str, tuple[sp.Symbol, ...], sp.Expr | str]] = []
        named = [(ACTIVATION, self.activation)]
        if self.output_activation is not self.activation:
            named.append((OUTPUT_ACTIVATION, self.output_activation))
        for symbol, r in named:
            if r.element_wise:
                out.append(("activation", symbol, (r.wrt,), r.bind(r.expr)))
                out.append(("activation derivative", symbol + "'", (r.wrt,), r.bind(r.derivative())))
            else:
                out.append(("activation", symbol, (), r.name))
        if self.loss.element_wise:
            a, y = self.loss.inputs
            out.append(("loss", r"\ell", (a, y), self.loss.bind(self.loss.expr)))
            out.append(("loss gradient", r"\ell'", (a, y), self.loss.bind(self.loss.textbook())))
        out.append(("cost", "C", (), f"({sp.sstr(self._kappa())}) Σ_samples Σ_j ℓ(aᴸ_j, y_j)" + (" + Σ_l Ω(Wˡ)" if self.penalty else "")))
        return tuple(out)

    def _kappa(self) -> sp.Expr:
        """κ of the cost C = κ Σ_samples Σⱼ ℓ, in the batch size m."""
        forms = self.loss_forms()
        return reduction_factor(self.loss, "symdl", 1) if forms.reduction is None else forms.reduction

    def _definitions(self) -> tuple[tuple[str, str], ...]:
        out = []
        for label, name, args, rhs in self._definition_forms():
            if label == "cost":
                out.append(("cost", rf"C = {sp.latex(self._kappa())} \sum_{{\text{{samples}}}} \sum_j \ell(a^{{L}}_j, y_j)"
                            + (r" + \sum_l \Omega(W^{l})" if self.penalty else "")))
            elif isinstance(rhs, str):
                out.append((label, rf"{name} = \operatorname{{{rhs}}}"))
            else:
                out.append((label, rf"{name}({', '.join(sp.latex(a) for a in args)}) = {sp.latex(rhs)}"))
        return tuple(out)

    def compile(self, dtype: str | np.dtype | type = "float64", *, validate_targets: bool = True) -> CompiledNetwork:
        """The numeric network in ``dtype`` (float64 or float32), printed from the BP1–BP4 equations.

        A rule parameter that ``dtype`` cannot hold (alpha = 1e300 in float32) is one ValueError, here.
        ``validate_targets`` (default True): ``loss``, ``loss_and_grad``, ``train_step`` and ``fit`` refuse targets
        outside the loss's domain with one ValueError — binary cross-entropy takes 0 ≤ y ≤ 1, softmax
        cross-entropy rows of non-negative numbers summing to 1 (:func:`symdl.network.rule_forms.target_domain`).
        Soft labels and label smoothing lie inside these domains; ``validate_targets=False`` computes the
        loss's formula for any finite target (say, unnormalised class weights as softmax targets: the
        gradient s·Σy − y stays exact).
        """
        if not isinstance(validate_targets, bool):
            raise ValueError(f"validate_targets: expected True or False, got {excerpt(validate_targets)}")
        dtype = float_dtype(dtype)
        roles = {"activation": self.activation, "output_activation": self.output_activation, "loss": self.loss,
                 "penalty": self.penalty}
        check_params_fit({f"{role} {r.name}": r.params for role, r in roles.items() if r is not None}, dtype)
        return CompiledNetwork(self, dtype, validate_targets=validate_targets)


def _resolve_optimizer(optimizer: object) -> Optimizer | None:
    """An :class:`symdl.optim.Optimizer`, a name from :func:`symdl.optim.optimizer_names`, or None (gradient descent, lr per call)."""
    from ..optim.registry import optimizer as by_name

    if optimizer is None or isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        return by_name(optimizer)
    raise TypeError(f"optimizer: expected a symdl.optim.Optimizer, a name or None, got {type(optimizer).__name__}")


def _same_rule(first: object, second: object) -> bool:
    """The same rule: one object, or the same kind, name, parameter values, kink convention and expression."""
    if first is second:
        return True
    keys = ("kind", "name", "params", "kink_convention")
    if type(first) is not type(second) or any(getattr(first, k, None) != getattr(second, k, None) for k in keys):
        return False
    return getattr(first, "expr", None) == getattr(second, "expr", None)
