"""The optimizers, each one function returning its :class:`~symdl.optim.base.Optimizer`: PyTorch's names, defaults and forms.

Every update is written as ``torch.optim`` (2.x, single-tensor path) computes
it, in the same order: weight decay enters where PyTorch adds it (into g for
an L2-style ``weight_decay``; into w for AdamW's decoupled one), momentum
buffers start at 0 so that PyTorch's first step b₁ = g₁ is exact, and t counts
steps from 1. A hyperparameter PyTorch tests with ``!= 0`` (weight decay,
momentum, dampening, ``lr_decay``) appears only when it is not 0, so that the
printed code has no dead terms. Every hyperparameter may be None, given per
call (``train_step(…, lr, momentum)``): such a one may not be 0, so it
appears. ``lr`` may also be a :class:`~symdl.optim.schedules.Schedule`. The
Adam family (Adam, AdamW, Nadam) is in :mod:`symdl.optim.adaptive`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import sympy as sp

from .base import ETA, Assignment, G, Hyperparameter, Optimizer, Slot, T, W
from .checks import check_flag, check_learning_rate, check_number
from .flat import call_factory
from .schedules import Schedule, as_schedule

__all__ = ["adagrad", "build", "check_lr", "classic_momentum", "l2_decay", "rmsprop", "sgd"]

#: The hyperparameters' symbols, shared by the optimizers (λ weight decay, μ momentum, τ dampening …).
LAMBDA = sp.Symbol("lambda", nonnegative=True)
MU = sp.Symbol("mu", nonnegative=True)
TAU = sp.Symbol("tau", nonnegative=True)
KAPPA = sp.Symbol("kappa", nonnegative=True)
ALPHA = sp.Symbol("alpha", positive=True)
EPSILON = sp.Symbol("epsilon", positive=True)
#: The slots: momentum buffer b, velocity v (classic) / second moment v, first moment m, sum of squares s.
B, V, M, S = sp.symbols("b v m s", real=True)


def build(name: str, lr: float | Schedule | None, hyper: tuple[Hyperparameter, ...], slots: tuple[Slot, ...],
          update: tuple[Assignment, ...], global_update: tuple[Assignment, ...] = (), *,
          factory: Callable[..., Optimizer] | None = None, options: Mapping[str, object] | None = None, title: str = "",
          reference: str = "") -> Optimizer:
    """The :class:`Optimizer` with η(t) from ``lr``; a schedule other than constant is named in ``options`` too,
    so that ``optimizer(name, **config["options"], **config["hyperparameters"])`` rebuilds it, as its
    ``rebuild`` does through ``factory``, the function building it (:meth:`Optimizer.with_values` runs its checks;
    without a factory, as for a planted mistake, there is no ``rebuild``)."""
    schedule = as_schedule(lr)
    opts = dict(options or {})
    if schedule.name != "constant":
        opts["schedule"] = schedule.name
    return Optimizer(name, (*schedule.hyperparameters, *hyper), slots, update, global_update,
                     learning_rate=schedule.expr, title=title, reference=reference,
                     schedule_name=schedule.name, options=opts,
                     rebuild=None if factory is None else partial(call_factory, name, factory))


def check_lr(lr: float | Schedule | None) -> None:
    """A learning rate is None, a schedule or a number ≥ 0."""
    if not isinstance(lr, Schedule):
        check_learning_rate(lr)


def l2_decay(weight_decay: float | None) -> tuple[tuple[Hyperparameter, ...], tuple[Assignment, ...]]:
    """g ← g + λw: PyTorch's ``weight_decay`` (the gradient of (λ/2)‖w‖² added to g); nothing when λ = 0."""
    check_number("weight_decay", weight_decay, allow_none=True)
    if weight_decay == 0:
        return (), ()
    return (Hyperparameter("weight_decay", LAMBDA, weight_decay),), ((G, G + LAMBDA * W),)


def sgd(lr: float | Schedule | None = 1e-3, momentum: float | None = 0.0, dampening: float | None = 0.0,
        weight_decay: float | None = 0.0, nesterov: bool = False) -> Optimizer:
    """g ← g + λw, b ← μb + (1−τ)g (b₁ = g₁), w ← w − η(g + μb) (Nesterov) or w − ηb: ``torch.optim.SGD``.

    Without momentum w ← w − ηg. PyTorch's first momentum step copies g into
    the buffer, whatever τ; here b starts at 0 and the factor on g is
    (1 − τ) + τ·0^(t−1) (0⁰ = 1), so b₁ = g₁ exactly. Nesterov needs μ > 0 and
    τ = 0 (as in PyTorch). ``lr=None`` takes η per call (the classic
    ``train_step(params, X, Y, lr)``).
    """
    check_lr(lr)
    check_number("momentum", momentum, allow_none=True)
    check_number("dampening", dampening, allow_none=True)
    check_flag("nesterov", nesterov)
    if nesterov and (momentum == 0 or dampening != 0):  # momentum ≥ 0 here; None (given per call) may be > 0
        raise ValueError(f"sgd: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum={momentum}, dampening={dampening}")
    hyper, update = l2_decay(weight_decay)
    slots: tuple[Slot, ...] = ()
    if momentum != 0:
        hyper += (Hyperparameter("momentum", MU, momentum),)
        factor: sp.Expr = sp.S.One
        if dampening != 0:
            hyper += (Hyperparameter("dampening", TAU, dampening),)
            factor = 1 - TAU + TAU * sp.S.Zero ** (T - 1)
        slots = (Slot(B),)
        update += ((B, MU * B + factor * G),)
        # w − ηb in one assignment: rebinding g to b would let the printer scale the buffer in place.
        update += ((G, G + MU * B), (W, W - ETA * G)) if nesterov else ((W, W - ETA * B),)
    else:
        update += ((W, W - ETA * G),)
    return build("sgd", lr, hyper, slots, update, factory=sgd, options={"nesterov": True} if nesterov else None,
                 title="gradient descent" + (" with Nesterov momentum" if nesterov else " with momentum" if momentum != 0 else ""),
                 reference="Robbins & Monro (1951); Sutskever et al. (ICML 2013) for momentum; torch.optim.SGD")


def classic_momentum(lr: float | Schedule | None = 1e-3, momentum: float | None = 0.9) -> Optimizer:
    """v ← μv − ηg, w ← w + v: Polyak's heavy ball as Sutskever et al. (2013) write it (the velocity carries η).

    Equal to PyTorch's form with ηb = −v while η is constant
    (:func:`symdl.optim.proofs.prove_momentum_forms`); with a schedule the two differ.
    """
    check_lr(lr)
    check_number("momentum", momentum, allow_none=True)
    update = ((V, MU * V - ETA * G), (W, W + V))
    return build("classic_momentum", lr, (Hyperparameter("momentum", MU, momentum),), (Slot(V),), update,
                 factory=classic_momentum,
                 title="classical momentum", reference="Polyak (1964); Sutskever et al., ICML 2013, eq. (1)-(2)")


def adagrad(lr: float | Schedule | None = 1e-2, lr_decay: float | None = 0.0, weight_decay: float | None = 0.0,
            initial_accumulator_value: float = 0.0, eps: float | None = 1e-10) -> Optimizer:
    """g ← g + λw, s ← s + g², w ← w − η/(1 + (t−1)κ) · g/(√s + ε): Adagrad (Duchi et al., 2011), ``torch.optim.Adagrad``.

    s starts at ``initial_accumulator_value`` (a structural option, like PyTorch's: fixed when the state is made).
    """
    check_lr(lr)
    check_number("lr_decay", lr_decay, allow_none=True)
    check_number("initial_accumulator_value", initial_accumulator_value)
    check_number("eps", eps, allow_none=True)
    hyper, update = l2_decay(weight_decay)
    rate: sp.Expr = ETA
    if lr_decay != 0:
        hyper += (Hyperparameter("lr_decay", KAPPA, lr_decay),)
        rate = ETA / (1 + (T - 1) * KAPPA)
    hyper += (Hyperparameter("eps", EPSILON, eps),)
    update += ((S, S + G**2), (W, W - rate * G / (sp.sqrt(S) + EPSILON)))
    init = sp.Float(initial_accumulator_value, 17) if initial_accumulator_value else sp.S.Zero
    options = {"initial_accumulator_value": float(initial_accumulator_value)} if initial_accumulator_value else None
    return build("adagrad", lr, hyper, (Slot(S, init),), update, factory=adagrad, options=options, title="Adagrad",
                 reference="Duchi, Hazan & Singer, JMLR 12 (2011); torch.optim.Adagrad")


def rmsprop(lr: float | Schedule | None = 1e-2, alpha: float | None = 0.99, eps: float | None = 1e-8,
            weight_decay: float | None = 0.0, momentum: float | None = 0.0, centered: bool = False) -> Optimizer:
    """v ← αv + (1−α)g², d = √v + ε (centered: m ← αm + (1−α)g, d = √(v − m²) + ε), w ← w − ηg/d: RMSProp.

    With momentum b ← μb + g/d and w ← w − ηb. Hinton's lecture 6e form as
    ``torch.optim.RMSprop`` computes it (ε outside the root; g + λw first).
    """
    check_lr(lr)
    # torch allows α > 1: v ← αv + (1−α)g² can then go negative, and √v is NaN
    check_number("alpha", alpha, high=1.0, allow_none=True)
    check_number("eps", eps, allow_none=True)
    check_number("momentum", momentum, allow_none=True)
    check_flag("centered", centered)
    hyper, update = l2_decay(weight_decay)
    hyper = (Hyperparameter("alpha", ALPHA, alpha), Hyperparameter("eps", EPSILON, eps), *hyper)
    slots = [Slot(V)]
    update += ((V, ALPHA * V + (1 - ALPHA) * G**2),)
    if centered:
        slots.append(Slot(M))
        update += ((M, ALPHA * M + (1 - ALPHA) * G),)
        denominator = sp.sqrt(V - M**2) + EPSILON
    else:
        denominator = sp.sqrt(V) + EPSILON
    if momentum != 0:
        hyper += (Hyperparameter("momentum", MU, momentum),)
        slots.append(Slot(B))
        update += ((B, MU * B + G / denominator), (W, W - ETA * B))
    else:
        update += ((W, W - ETA * G / denominator),)
    return build("rmsprop", lr, hyper, tuple(slots), update, factory=rmsprop,
                 options={"centered": True} if centered else None,
                 title="RMSProp" + (" (centered)" if centered else ""),
                 reference="Hinton, Neural Networks for Machine Learning, lecture 6e (2012); Graves (2013) for centered; torch.optim.RMSprop")
