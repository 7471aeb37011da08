"""⟨∇C, u⟩ ≈ (C(θ + hu) − C(θ − hu)) / 2h for a compiled network, with steps that never cross a kink.

A finite difference across a kink of an activation (ReLU at 0), of the loss
(Huber at |a − y| = δ) or of the penalty (L1 at w = 0) measures a mixture of
two derivatives and reports a false alarm. :func:`check_network_grad` records,
at every evaluation, on which side of each breakpoint every pre-activation,
output and weight lies; when a step changes that pattern the check is rerun
with shorter steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

import numpy as np
import sympy as sp

from ..codegen.kernel import compile_kernel
from ..numbers import format_number
from ..rulebook.derivation import Derives
from ..symbolic.proof import breakpoints
from ..symbolic.stop_gradient import has_stop_gradient
from .gradcheck import GradCheckReport, Tolerance, check_grad

if TYPE_CHECKING:
    from ..rulebook.rule import Rule
    from ..rulebook.vector_rule import VectorRule

__all__ = ["assert_network_grad_close", "check_network_grad", "flatten_params", "unflatten_params"]

_MAX_SHRINKS = 6


def flatten_params(params: Mapping[str, np.ndarray]) -> np.ndarray:
    """θ: the arrays of ``params`` raveled and joined in key order (empty for no params)."""
    _check_mapping("flatten_params", "params", params)
    return np.concatenate([np.ravel(params[k]) for k in params]) if params else np.zeros(0)


def unflatten_params(theta: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of :func:`flatten_params`: fresh arrays shaped as in ``like``; θ must have exactly their entries."""
    _check_mapping("unflatten_params", "like", like)
    arrays = {k: np.asarray(arr) for k, arr in like.items()}
    total = sum(arr.size for arr in arrays.values())
    shapes = ", ".join(f"{k} {arr.shape}" for k, arr in arrays.items())
    if np.ndim(theta) != 1:  # slices of a 2-D θ are rows, not entries: numpy's "cannot reshape" at best
        raise ValueError(f"unflatten_params: theta has shape {np.shape(theta)}; expected a 1-D array of {total} entries ({shapes})")
    if np.size(theta) != total:
        raise ValueError(f"unflatten_params: theta has {np.size(theta)} entries; like holds {total} ({shapes})")
    out, start = {}, 0
    for key, arr in arrays.items():
        out[key] = np.array(theta[start : start + arr.size], dtype=arr.dtype).reshape(arr.shape)
        start += arr.size
    return out


def _check_mapping(caller: str, name: str, value: object) -> None:
    if not isinstance(value, Mapping):  # a list of arrays has no names to put them back under
        raise ValueError(f"{caller}: {name} must be a dict of arrays (name → array), got {type(value).__name__}")


def _breakpoints(r: object) -> list[sp.Expr]:
    """Where a rule's value or derivative switches branch (kinks, and jumps of the second derivative)."""
    if not isinstance(r, Derives) or not cast("Rule | VectorRule", r).element_wise:
        return []
    r = cast("Rule", r)  # an element-wise rule (Derives is the mixin of Rule and VectorRule)
    points = breakpoints(r.bind(r.expr), r.wrt) + [k.at for k in r.kinks]
    return list(dict.fromkeys(points))


def _side_of(r: object) -> Callable[..., list[np.ndarray]]:
    """values (and the rule's other inputs) ↦ [values > breakpoint for every breakpoint]."""
    points = _breakpoints(r)
    if not points:
        return lambda *arrays: []
    r = cast("Rule", r)  # it has breakpoints: an element-wise rule
    others = r.inputs[1:]
    exact = [sp.sympify(p, strict=True) for p in points]  # the rule's own breakpoints: SymPy or numbers, never text
    kernels = [compile_kernel(p + 0 * r.wrt, (r.wrt, *others), "breakpoint") for p in exact]

    def sides(values: np.ndarray, *rest: np.ndarray) -> list[np.ndarray]:
        return [values > k(values, *rest) for k in kernels]

    return sides


class _KinkPattern:
    """The side of every breakpoint that every pre-activation, output and weight is on, at one θ."""

    def __init__(self, net: object, X: np.ndarray, Y: np.ndarray) -> None:
        network = net.network  # type: ignore[attr-defined]
        self.net, self.X, self.Y = net, X, Y
        self.hidden_rule, self.output_rule = network.activation, network.output_activation
        self.hidden = _side_of(network.activation)
        self.output = _side_of(network.output_activation)
        self.loss = _side_of(network.loss)
        self.penalty = _side_of(network.penalty)
        self.depth = network.depth

    def __call__(self, params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        trace = self.net.trace(params, self.X)  # type: ignore[attr-defined]
        pattern = []
        for l in range(1, self.depth + 1):
            sides, r = (self.output, self.output_rule) if l == self.depth else (self.hidden, self.hidden_rule)
            # A learned activation input (PReLU's α) lives in params as its name and the layer: alpha1, …
            extras = [params[f"{s.name}{l}"] for s in r.inputs[1:]] if r.element_wise else []
            pattern += sides(trace[f"z{l}"], *extras)
        pattern += self.loss(trace[f"a{self.depth}"], self.Y)
        for key in params:
            if key.startswith("W"):
                pattern += self.penalty(params[key])
        return pattern


def check_network_grad(
    net: object,
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    directions: int = 20,
    seed: int = 0,
    tolerance: Tolerance | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> GradCheckReport:
    """:func:`symdl.testing.check_grad` of ``net.loss_and_grad`` along random directions in parameter space.

    ``net`` is a :class:`symdl.CompiledNetwork`. Steps are shortened (up to
    six times by 8×) until no evaluation changes the side of any breakpoint
    that a pre-activation, output or weight is on. Raises ``ValueError`` when
    the point itself lies on a breakpoint.
    """
    if not all(hasattr(net, name) for name in ("network", "trace", "loss", "loss_and_grad")):
        raise ValueError(f"check_network_grad: expected a compiled network (symdl.Network(...).compile()), got {type(net).__name__}")
    net.loss(params, X, Y)  # type: ignore[attr-defined]  # the network's own one-line errors for bad params, X, Y
    network = net.network  # type: ignore[attr-defined]
    rules = (network.activation, network.output_activation, network.loss, network.penalty)
    stopped = [cast("Rule", r).name for r in rules if isinstance(r, Derives) and has_stop_gradient(cast("Rule", r).expr)]
    if stopped:
        raise ValueError(
            f"check_network_grad: {stopped[0]!r} stops the gradient (stop_gradient), so finite differences of the loss "
            "cannot check it; check the rule with symdl.verify_rule, which holds the stopped parts fixed"
        )
    # Only trainable entries move; state such as batch norm's running statistics stays as given.
    trainable = getattr(net, "param_names", tuple(params))
    like = {k: np.asarray(params[k]) for k in trainable}
    fixed = {k: v for k, v in params.items() if k not in like}
    theta = flatten_params(like)
    pattern = _KinkPattern(net, X, Y)
    reference = pattern(params)
    crossed = [False]

    def at(t: np.ndarray) -> dict[str, np.ndarray]:
        return {**unflatten_params(t, like), **fixed}

    def loss(t: np.ndarray) -> float:
        p = at(t)
        if not crossed[0] and not all(np.array_equal(a, b) for a, b in zip(pattern(p), reference)):
            crossed[0] = True
        return float(net.loss(p, X, Y))  # type: ignore[attr-defined]

    def grad(t: np.ndarray) -> np.ndarray:
        _, g = net.loss_and_grad(at(t), X, Y)  # type: ignore[attr-defined]
        return flatten_params({k: g[k] for k in like})

    eps = np.finfo(theta.dtype).eps
    step = float(eps ** (1 / 5) * max(1.0, float(np.max(np.abs(theta)))))
    for _ in range(_MAX_SHRINKS + 1):
        crossed[0] = False
        report = check_grad(loss, grad, theta, directions=directions, seed=seed, step=step, tolerance=tolerance, rtol=rtol, atol=atol)
        if not crossed[0]:
            return report
        step /= 8
    raise ValueError(
        f"check_network_grad: the point is within {format_number(step * 8, '.2g')} of a breakpoint (kink) of an activation, "
        "the loss or the penalty; the loss has no derivative to check there"
    )


def assert_network_grad_close(net: object, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, **options: object) -> GradCheckReport:
    """:func:`check_network_grad`, raising ``AssertionError`` with numpy.testing-style lines when the check fails."""
    __tracebackhide__ = True
    report = check_network_grad(net, params, X, Y, **options)  # type: ignore[arg-type]
    if not report.passed:
        raise AssertionError(report.failure_message())
    return report
