"""CompiledNetwork: a :class:`symdl.Network`'s BP1–BP4 printed as numpy code and run.

The source comes from :func:`symdl.codegen.network.print_network`; the
functions the printed code calls by name (vector-rule kernels, the attached
layers' kernels and masks, the argument checks) are bound in its namespace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cached_property, partial
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import sympy as sp

from ..arguments import SeedLike, generator
from ..backprop.equations import BackpropEquations
from ..codegen.naming import layer_of
from ..codegen.network import buffer_names, parameter_names, print_network
from ..codegen.optimizer import state_keys
from ..layers.base import Parameter
from ..rulebook.registry import rule
from .checks import (
    check_arguments,
    check_batch,
    check_hyperparameter,
    check_learning_rate,
    check_optimizer_values,
    check_params,
    check_state,
    check_targets,
)
from .rule_forms import TargetDomain, target_domain
from .stack import layer_specs

if TYPE_CHECKING:
    from ..optim.base import Optimizer
    from ..training.callbacks import History
    from .model import Network

__all__ = ["ENTRY_POINTS", "CompiledNetwork", "module_header"]

#: The generated entry points a compiled network exposes (checked) and :attr:`CompiledNetwork.unchecked` (unchecked).
ENTRY_POINTS = ("forward", "trace", "loss", "inference_loss", "loss_and_grad", "train_step")


class CompiledNetwork:
    """A :class:`Network` as generated numpy code.

    ``init(seed)`` → params; ``forward(params, X)`` → aᴸ; ``trace(params, X)``
    → {"z1": …, "a1": …, …}; ``loss(params, X, Y)`` → C;
    ``inference_loss(params, X, Y)`` → C of ``forward``'s output (inference
    mode: dropout the identity, batch norm with its running statistics; what
    ``evaluate`` and the validation loss report, as Keras' ``evaluate``);
    ``loss_and_grad(params, X, Y)`` → (C, grads with the keys of params);
    ``train_step(params, X, Y, lr)`` → C before one in-place gradient step.

    With an optimizer (``Network(…, optimizer="adam")``): ``init_state(params)``
    → the optimizer state (keys :func:`symdl.codegen.optimizer.state_keys`) and
    ``train_step(params, X, Y, state)`` → C before one step of the optimizer,
    params and state updated in place (hyperparameters without a value follow
    ``state`` as arguments).
    """

    def __init__(self, network: Network, dtype: np.dtype, equations: BackpropEquations | None = None,
                 validate_targets: bool = True) -> None:
        """Print ``network``'s equations (or ``equations``, e.g. a deliberately wrong variant) as numpy code.

        ``validate_targets``: loss, loss_and_grad and train_step refuse targets outside the loss's domain
        (:attr:`target_domain`).
        """
        self.network = network
        self.dtype = dtype
        if network.optimizer is not None:
            check_optimizer_values(network.optimizer, dtype)
        self.validate_targets = bool(validate_targets)
        #: The targets the loss is defined for (None: every real target, or validate_targets=False).
        self.target_domain: TargetDomain | None = target_domain(network.loss) if validate_targets else None
        eqs = network._equations(output_form=True) if equations is None else equations
        self.param_names = tuple(parameter_names(eqs))
        self.buffer_names = tuple(buffer_names(eqs))
        self.param_specs = layer_specs(eqs)
        if tuple(self.param_specs) != (*self.param_names, *self.buffer_names):
            raise ValueError(f"the layers' parameters {list(self.param_specs)} differ from the equations' {self.param_names}")
        self.param_kinds = {k: v.kind for k, v in self.param_specs.items() if isinstance(v, Parameter)}
        self.param_shapes = self._shapes()
        penalty_value = None
        if network.penalty is not None:
            (w,) = network.penalty.inputs
            penalty_value = sp.Lambda(w, network.penalty.numeric_forward_expr())
        inference = network._equations(output_form=True, training=False) if any(network.parts) else None
        printed = print_network(eqs, network.loss_forms(), penalty_value, network.layers, inference,
                                optimizer=network.optimizer)
        self._source = module_header(network, dtype) + printed.source
        self.kernels = dict(printed.kernels)  # python name → (vector rule, "value" | "vjp"), for symdl.export.standalone
        namespace: dict[str, object] = {
            "math": math,
            "numpy": np,
            "_dtype": dtype,
            "_t": dtype.type,
            "_check": self._check,
            "_check_lr": partial(check_learning_rate, dtype=dtype),
            "_check_params": self._check_params,
            "_check_state": self._check_state,
            "_check_hyper": partial(check_hyperparameter, dtype=dtype),
        }
        namespace.update(self._layer_kernels())
        for kernel_name, (rule_name, role) in printed.kernels.items():
            r = rule(rule_name)
            namespace[kernel_name] = (r.numeric() if role == "value" else r.numeric_derivative()).function
        self._namespace = dict(namespace)  # before exec: what the unchecked functions start from
        # Generated code only: printed from SymPy trees with fixed identifiers.
        exec(compile(self._source, f"<symdl network {network.layers}>", "exec"), namespace)  # noqa: S102
        #: The generated functions by name (the entry points and, with an optimizer, init_state).
        self._generated = {
            name: cast("Callable[..., Any]", function) for name, function in namespace.items()
            if name in (*ENTRY_POINTS, "init_state")
        }
        self._init_state = self._generated.get("init_state")

    def __repr__(self) -> str:
        option = "" if self.validate_targets else ", validate_targets=False"
        return f"{self.network!r}.compile({self.dtype.name!r}{option})"

    # --- the generated entry points (checked; :attr:`unchecked` has the same without checks) ---------------

    def forward(self, params: Mapping[str, np.ndarray], X: object) -> np.ndarray:
        """aᴸ, the network's output for the rows of ``X`` (inference mode: no dropout, batch norm's running statistics)."""
        return self._generated["forward"](params, X)

    def trace(self, params: Mapping[str, np.ndarray], X: object, **seed: int) -> dict[str, np.ndarray]:
        """{"z1": z¹, "a1": a¹, …}: every layer's pre-activation and activation on ``X`` (``seed=`` with dropout)."""
        return self._generated["trace"](params, X, **seed)

    def loss(self, params: Mapping[str, np.ndarray], X: object, Y: object, **seed: int) -> float:
        """C on the batch (X, Y) in training mode, penalty included (``seed=`` fixes the dropout masks)."""
        return self._generated["loss"](params, X, Y, **seed)

    def inference_loss(self, params: Mapping[str, np.ndarray], X: object, Y: object) -> float:
        """C of ``forward``'s output on (X, Y): inference mode, as Keras' ``evaluate`` and the validation loss."""
        return self._generated["inference_loss"](params, X, Y)

    def loss_and_grad(self, params: Mapping[str, np.ndarray], X: object, Y: object,
                      **seed: int) -> tuple[float, dict[str, np.ndarray]]:
        """(C, {key: ∂C/∂θ}) by BP1–BP4, with the keys of ``params`` (``seed=`` fixes the dropout masks)."""
        return self._generated["loss_and_grad"](params, X, Y, **seed)

    def train_step(self, params: dict[str, np.ndarray], X: object, Y: object, *step: Any, **named: Any) -> float:
        """C before one step, params updated in place: θ ← θ − lr·∂C/∂θ with ``lr``, or the optimizer's step with ``state``.

        ``train_step(params, X, Y, lr)``, or with an optimizer
        ``train_step(params, X, Y, state, *hyperparameters)`` (the
        hyperparameters without a value, by position or name); ``seed=`` fixes
        the dropout masks.
        """
        return self._generated["train_step"](params, X, Y, *step, **named)

    @cached_property
    def unchecked(self) -> SimpleNamespace:
        """``forward``, ``trace``, ``loss``, ``inference_loss``, ``loss_and_grad`` and ``train_step`` without the argument checks.

        The same generated source, run with the checks replaced by plain
        unpacking: for callers that validated their arrays once (a training
        loop that calls the checked function on its first batch). The caller
        guarantees what the checked functions verify: ``params`` holds exactly
        the arrays of :attr:`param_shapes` as ``numpy.ndarray`` of this
        network's dtype (writable for ``train_step``); X and Y are finite 2-D
        arrays of that dtype with the input and output widths and the same
        number of rows; ``lr``, the hyperparameters and the optimizer state
        are valid, and Y lies in the loss's :attr:`target_domain`. Anything else gives wrong numbers or a numpy error instead of
        a ``ValueError``. Valid arguments give the checked functions' results
        bit for bit.
        """
        names = tuple(self.param_shapes)

        def unpack(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray | None, *flags: bool) -> tuple:
            return (*[params[name] for name in names], X, Y)

        namespace = dict(self._namespace, _check=unpack, _check_lr=float,
                         _check_params=lambda params: tuple(params[name] for name in names),
                         _check_state=lambda state: None, _check_hyper=lambda name, value: float(value))
        # Generated code only: the source printed above, run once more without its checks.
        exec(compile(self._source, f"<symdl network {self.network.layers}, unchecked>", "exec"), namespace)  # noqa: S102
        return SimpleNamespace(**{name: namespace[name] for name in ENTRY_POINTS})

    @property
    def optimizer(self) -> Optimizer | None:
        """The optimizer train_step applies (None: plain gradient descent with ``lr`` per call)."""
        return self.network.optimizer

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        """Every key of params (trainable, then buffers) with its shape: W is (nₗ, nₗ₋₁), the rest (nₗ,)."""
        widths = self.network.layers
        shapes: dict[str, tuple[int, ...]] = {}
        for name, spec in self.param_specs.items():
            l = layer_of(name)
            shapes[name] = spec.concrete_shape(widths[l], widths[l - 1]) if isinstance(spec, Parameter) else (widths[l],)
        return shapes

    def _layer_kernels(self) -> dict[str, object]:
        """The attached layers' kernels (batch norm's, with ε bound; the dropout masks), for the generated code's namespace."""
        widths = self.network.layers
        kernels: dict[str, object] = {}
        for layer, blocks in self.network.attached_layers().items():
            kernels.update(layer.numeric_kernels(tuple((l, widths[l]) for l in blocks), self.dtype))
        return kernels

    def fit(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, *, optimizer: object = None,
            **options: Any) -> History:
        """Train ``params`` in place with :func:`symdl.training.fit` (epochs, batch_size, metrics, validation, seed, …).

        The optimizer is the network's; ``optimizer=`` (a name or a
        :class:`symdl.optim.Optimizer`) trains with another, compiling this
        network once more with it (kept for the next call).
        """
        from .fitting import fit_network

        return fit_network(self, params, X, Y, optimizer, options)

    def source(self) -> str:
        """The generated Python source of forward, trace, loss, inference_loss, loss_and_grad and train_step."""
        return self._source

    def equations(self) -> BackpropEquations:
        """BP1–BP4 for this network (as :meth:`Network.equations`)."""
        return self.network.equations()

    @cached_property
    def _specs(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple(self.param_shapes.items())

    def init(self, seed: SeedLike = 0, scheme: str = "glorot_uniform") -> dict[str, np.ndarray]:
        """Weights from ``scheme`` (see :mod:`symdl.layers.init_schemes`; default Glorot-uniform, a = √(6/(n_in + n_out));
        or a formula, ``"uniform: sqrt(6/(fan_in + fan_out))"``, ``"normal: sqrt(2/fan_in)"``: :mod:`symdl.layers.init_formula`),
        zero biases and β, γ = 1, PReLU's α = 0.25, running mean 0 and variance 1.

        ``seed`` is what ``numpy.random.default_rng`` takes: a non-negative integer, a ``numpy.random.SeedSequence``
        or a ``numpy.random.Generator`` (drawn from, so its state advances)."""
        from ..layers.init_formula import is_init_text
        from ..layers.init_schemes import SCHEMES, get_scheme, init_weight

        if not is_init_text(scheme) and scheme not in SCHEMES:
            raise ValueError(f"scheme: unknown initialisation {scheme!r}; accepted: {', '.join(SCHEMES)}, "
                             f"or a formula 'uniform: <limit>' / 'normal: <std>' in fan_in, fan_out")
        chosen = get_scheme(scheme)  # a formula's error names the init
        rng = generator(seed, "seed")
        params = {}
        for name, shape in self._specs:
            spec = self.param_specs[name]
            if self.param_kinds.get(name) == "weight":
                params[name] = init_weight(chosen, shape, rng, self.dtype)
            else:
                params[name] = np.full(shape, spec.init, dtype=self.dtype)
        return params

    def fold(self, params: Mapping[str, np.ndarray]) -> tuple[CompiledNetwork, dict[str, np.ndarray]]:
        """(network, params) for inference with batch norm folded into the linear maps: the same ``forward``.

        Each hidden layer's Wˡ becomes diag(γ/√(Var + ε))·Wˡ and gains the bias
        b' = β − γ·E[u]/√(Var + ε), from the running statistics
        (:func:`symdl.layers.batchnorm.fold_linear`, proven equal to linear-then-BN).
        The folded network has no batch norm and no dropout.
        """
        network = self.network
        arrays = dict(zip((*self.param_names, *self.buffer_names), self._check(params, np.zeros((1, network.layers[0]), self.dtype), None, targets=False)))
        plain = type(network)(
            network.layers, network.activation, network.output_activation, network.loss, penalty=network.penalty,
            reduction=network.reduction,
        ).compile(self.dtype, validate_targets=self.validate_targets)
        folded = {}
        for l, parts in enumerate(network.parts, 1):
            for part in (p for p in parts if p.active(False)):
                found = part.fold(arrays, l)
                if found is None:
                    raise ValueError(f"fold: {part!r} acts at inference and cannot be folded into the linear maps")
                folded[f"W{l}"], folded[f"b{l}"] = found
        if not folded:
            raise ValueError("fold: this network has no batch norm to fold")
        for name in plain.param_names:
            if name not in folded:
                folded[name] = arrays[name].copy()
        return plain, {k: folded[k] for k in plain.param_names}

    def init_state(self, params: Mapping[str, np.ndarray]) -> dict[str, object]:
        """The optimizer's state before the first step: {"t": 0, "m_W1": zeros like W1, …} (printed from the slots' init)."""
        if self._init_state is None:
            raise ValueError("init_state: this network has no optimizer; give one with Network(..., optimizer='adam')")
        return self._init_state(params)

    def state_specs(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, tuple[int, ...]], ...]]:
        """(integer global slots, real global slots, (key, shape) of every per-parameter slot): what state holds."""
        opt = self.optimizer
        if opt is None:
            return (), (), ()
        counters = tuple(s.name for s in opt.global_slots if s.symbol.is_integer)
        scalars = tuple(s.name for s in opt.global_slots if not s.symbol.is_integer)
        keys = state_keys(opt, self.param_names)[len(opt.global_slots):]
        shapes = [self.param_shapes[p] for p in self.param_names for _ in opt.parameter_slots]
        return counters, scalars, tuple(zip(keys, shapes))

    # --- argument checks (called first by the generated functions) -----------

    def _check_params(self, params: object) -> tuple[np.ndarray, ...]:
        return check_params(self._specs, self.dtype, params)

    def _check_state(self, state: object) -> None:
        check_state(*self.state_specs(), self.dtype, state)

    def _check(
        self, params: object, X: object, Y: object, writable: bool = False, targets: bool = True
    ) -> tuple[np.ndarray, ...]:
        """The parameter arrays in order, then X and Y, or a ValueError naming what is wrong."""
        layers = self.network.layers
        buffered = bool(self.buffer_names)
        arrays = check_arguments(self._specs, self.dtype, layers[0], layers[-1], buffered, params, X, Y, writable, targets)
        if targets and self.target_domain is not None:
            check_targets(arrays[-1], "Y", *self.target_domain.as_tuple())
        return arrays

    def check_targets(self, Y: object, name: str = "Y") -> None:
        """A ValueError if a row of ``Y`` lies outside the loss's :attr:`target_domain` (BCE: 0 ≤ y ≤ 1; softmax CE: y ≥ 0, Σⱼ yⱼ = 1).

        With a domain, ``Y`` must also be a finite (batch, n_L) array; without one, nothing is checked.
        """
        if self.target_domain is not None:
            Y = check_batch(Y, name, self.network.layers[-1], self.dtype)
            check_targets(Y, name, *self.target_domain.as_tuple())


def module_header(network: Network, dtype: np.dtype) -> str:
    """The first line of a compiled network's source: its spec and dtype, as a docstring."""
    return (
        f'"""{network!r} in {dtype.name}: generated by symdl from BP1–BP4. Do not edit."""\n\n'
    )
