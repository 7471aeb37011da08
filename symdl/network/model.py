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
import numbers
from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
import sympy as sp

from ..arguments import float_dtype
from ..backprop.equations import (
    ActivationForms,
    BackpropEquations,
    LossForms,
    bp_equations,
)
from ..codegen.naming import layer_of
from ..codegen.network import buffer_names, parameter_names, print_network
from ..layers.base import Layer, Parameter
from ..layers.batchnorm_layer import BatchNorm
from ..layers.dense import Dense
from ..layers.dropout_layer import Dropout
from ..rulebook.registry import rule, rules
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule
from .stack import LayerLike, layer_specs, shortcut_layers, stack_layers, widths

__all__ = ["CompiledNetwork", "Network", "accepted_rules"]

RuleLike = str | Rule | VectorRule
_LAYER_RULES = ("maxout", "rbf")  # layers with weights of their own, not functions of zˡ


def _resolve(spec: object, role: str, kinds: tuple[str, ...], params: Mapping[str, float] | None) -> Rule | VectorRule:
    """A rule object from a name (with ``params``) or a rule given as such; checks its kind and arity."""
    if params is not None and (not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params)):
        raise ValueError(f"{role}_params: expected a dict of parameter name → value, got {params!r}")
    if isinstance(spec, str):
        if spec in _LAYER_RULES:
            raise ValueError(
                f"{role}: {spec!r} is a layer with weights of its own, not a function of zˡ; "
                f"accepted: {', '.join(_accepted(kinds))}"
            )
        if spec not in rules():
            raise ValueError(f"{role}: unknown rule {spec!r}; accepted: {', '.join(_accepted(kinds))}")
        if rules()[spec] not in kinds:
            raise ValueError(f"{role}: {spec!r} is {_article(rules()[spec])}, not {_article(kinds[0])}; accepted: {', '.join(_accepted(kinds))}")
        found = rule(spec, **dict(params or {}))
    elif isinstance(spec, (Rule, VectorRule)):
        if params:
            raise ValueError(f"{role}: give parameters to symdl.rule(...) when passing a rule object, not as {role}_params")
        found = spec
        if found.name in _LAYER_RULES:
            raise ValueError(f"{role}: {found!r} is a layer with weights of its own, not a function of zˡ; "
                             f"accepted: {', '.join(_accepted(kinds))}")
        if found.kind not in (*kinds, "formula"):
            raise ValueError(f"{role}: {found!r} is {_article(found.kind)}, not {_article(kinds[0])}; accepted: {', '.join(_accepted(kinds))}")
    else:
        raise ValueError(f"{role}: expected a rule name or a symdl rule, got {type(spec).__name__}")
    if isinstance(found, Rule):
        arity = {"loss": 2, "penalty": 1}.get(kinds[0], None)
        if arity is not None and len(found.inputs) != arity:
            raise ValueError(f"{role}: {found!r} takes {len(found.inputs)} inputs; a {kinds[0]} takes {arity}")
        missing = sorted(s.name for s in found.param_symbols.values() if s.name not in found.params)
        if missing:
            raise ValueError(f"{role}: parameter(s) {', '.join(missing)} of {found!r} have no value")
    return found


def _article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _accepted(kinds: tuple[str, ...]) -> list[str]:
    return [name for name, kind in rules().items() if kind in kinds and name not in _LAYER_RULES]


def accepted_rules(kind: str) -> list[str]:
    """The rule names a :class:`Network` accepts as an ``"activation"``, ``"loss"`` or ``"penalty"``."""
    return _accepted((kind,))


def _activation_forms(r: Rule | VectorRule, name: str) -> ActivationForms:
    """σ, σ' (stable, kink convention applied) and σ' through the output where the rule proves one."""
    if isinstance(r, VectorRule):
        return ActivationForms(name=name, forward=None, derivative=None, vector_rule=r.name)
    inputs = r.inputs
    output_derivative = None
    output = r.definition.output
    if output is not None and not r.kinks and r.definition.textbook is not None:
        form = r.bind(r.textbook(in_output=True))
        if form.free_symbols <= {output}:
            output_derivative = sp.Lambda(output, form)
    return ActivationForms(
        name=name,
        forward=sp.Lambda(inputs, r.numeric_forward_expr()),
        derivative=sp.Lambda(inputs, r.numeric_derivative_expr()),
        output_derivative=output_derivative,
        extras=tuple(s.name for s in inputs[1:]),
        extra_partials=tuple(sp.Lambda(inputs, r.numeric_derivative_expr(s)) for s in inputs[1:]),
    )


def loss_forms(r: Rule | VectorRule) -> LossForms:
    if isinstance(r, VectorRule):
        return LossForms(name=r.name, value=None, gradient=None, vector_rule=r.name)
    return LossForms(
        name=r.name,
        value=sp.Lambda(r.inputs, r.numeric_forward_expr()),
        gradient=sp.Lambda(r.inputs, r.numeric_derivative_expr()),
    )


class Network:
    """An MLP ``layers = [n₀, n₁, …, n_L]`` with one activation for hidden layers, one for the output, a loss and a penalty.

    Rules are names from :func:`symdl.rulebook.rule` (with ``*_params``) or rule
    objects (``symdl.rule("leaky_relu", alpha=0.1)``, or a one-variable
    :func:`symdl.formula_rule` as an activation). Bad specs raise
    ``ValueError`` at construction.
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
    ) -> None:
        if isinstance(layers, Sequence) and not isinstance(layers, (str, bytes)) and any(isinstance(x, (Dense, Layer)) for x in layers):
            if batchnorm or dropout is not None or (bn_eps, bn_momentum) != (1e-5, 0.1):
                raise ValueError("batchnorm/dropout/bn_*: give them as layers in the list, or as keywords with a list of widths")
            self.layers, self.parts = stack_layers(layers)
        else:
            self.layers = widths(layers)
            self.parts = shortcut_layers(self.layers, batchnorm, dropout, bn_eps, bn_momentum)
        self.activation = _resolve(activation, "activation", ("activation",), activation_params)
        self.output_activation = _resolve(output_activation, "output_activation", ("activation",), output_activation_params)
        self.loss = _resolve(loss, "loss", ("loss",), loss_params)
        self.penalty = None if penalty is None else _resolve(penalty, "penalty", ("penalty",), penalty_params)
        if penalty is None and penalty_params:
            raise ValueError("penalty_params given without a penalty")
        for role, r in (("activation", self.activation), ("output_activation", self.output_activation)):
            if isinstance(r, Rule) and r.kind == "formula" and len(r.inputs) != 1:
                raise ValueError(f"{role}: a formula activation has one variable, {r!r} has {len(r.inputs)}")

    @classmethod
    def from_layers(cls, layers: Sequence[LayerLike], **options: object) -> Network:
        """A network from ``[n₀, Dense(n₁), BatchNorm(), Dropout(0.2), Dense(n₂), …]``: each layer acts on the Dense block before it.

        ``options`` are the other keywords of :class:`Network` (activation, loss, …).
        """
        return cls(layers, **options)

    def layer_list(self) -> list[LayerLike]:
        """``[n₀, Dense(n₁), <its layers>, Dense(n₂), …]``: the layer form of this network."""
        return [self.layers[0], *(x for n, parts in zip(self.layers[1:], self.parts) for x in (Dense(n), *parts))]

    def attached_layers(self) -> dict[Layer, tuple[int, ...]]:
        """Each distinct attached layer (pre layers first) with the blocks l it acts on: what the exports ask for code."""
        found: dict[Layer, list[int]] = {}
        for l, parts in enumerate(self.parts, 1):
            for part in parts:
                found.setdefault(part, []).append(l)
        return {layer: tuple(found[layer]) for layer in sorted(found, key=lambda p: p.position != "pre")}

    def layer_blocks(self, backend: object, *, inline: bool) -> list[str]:
        """The source blocks the attached layers add to a generated module for ``backend`` (:meth:`Layer.module_blocks`)."""
        return [
            block
            for layer, blocks in self.attached_layers().items()
            for block in layer.module_blocks(tuple(self.layers[l] for l in blocks), backend, inline=inline)
        ]

    @property
    def seeded(self) -> bool:
        """Whether training draws random masks (a layer has :meth:`Layer.masks`): the entry points then take a seed."""
        return any(layer.masks() for layer in self.attached_layers())

    def _find(self, kind: type) -> Layer | None:
        return next((p for p in self.attached_layers() if isinstance(p, kind)), None)

    # The keyword form's view of the layers, read by the exports.
    @property
    def batchnorm(self) -> bool:
        return self._find(BatchNorm) is not None

    @property
    def dropout(self) -> float | None:
        """p, the drop probability of the dropout layers (None without dropout)."""
        found = self._find(Dropout)
        return None if found is None else found.p

    @property
    def keep_probability(self) -> float | None:
        """1 − p, the probability that dropout keeps a unit (None without dropout); masks are Bernoulli(1 − p)."""
        found = self._find(Dropout)
        return None if found is None else found.keep

    @property
    def bn_eps(self) -> float:
        found = self._find(BatchNorm)
        return 1e-5 if found is None else found.eps

    @property
    def bn_momentum(self) -> float:
        found = self._find(BatchNorm)
        return 0.1 if found is None else found.momentum

    def __repr__(self) -> str:
        extras = f", penalty={self.penalty!r}" if self.penalty is not None else ""
        shortcuts = [p.shortcut_repr() for p in self.attached_layers()]
        if None in shortcuts:
            stack = f"[{', '.join(map(repr, self.layer_list()))}]"
        else:
            stack, extras = f"{list(self.layers)}", extras + "".join(shortcuts)
        return (
            f"Network({stack}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, loss={self.loss!r}{extras})"
        )

    @property
    def depth(self) -> int:
        return len(self.layers) - 1

    def equations(self, *, output_form: bool = False) -> BackpropEquations:
        """BP1–BP4 for this network as SymPy matrix equations (symbolic widths), with the functions' definitions.

        ``output_form=True`` gives the equations the code is printed from:
        σ'(zˡ) written through aˡ where the rule proves such a form.
        """
        return dataclasses.replace(self._equations(output_form), definitions=self._definitions())

    def _equations(self, output_form: bool, training: bool = True) -> BackpropEquations:
        hidden_name = r"\sigma"
        out_name = hidden_name if self.output_activation is self.activation else r"\sigma_{L}"
        hidden = _activation_forms(self.activation, hidden_name)
        output = hidden if out_name == hidden_name else _activation_forms(self.output_activation, out_name)
        penalty = None
        if self.penalty is not None:
            (w,) = self.penalty.inputs
            penalty = sp.Lambda(w, self.penalty.numeric_derivative_expr())
        return bp_equations(
            [hidden] * (self.depth - 1),
            output,
            loss_forms(self.loss),
            penalty,
            output_form=output_form,
            parts=self.parts,
            training=training,
        )

    def _definitions(self) -> tuple[tuple[str, str], ...]:
        out = []
        named = [(r"\sigma", self.activation)]
        if self.output_activation is not self.activation:
            named.append((r"\sigma_{L}", self.output_activation))
        for symbol, r in named:
            if isinstance(r, Rule):
                z = r.wrt
                out.append(("activation", rf"{symbol}({sp.latex(z)}) = {sp.latex(r.bind(r.expr))}"))
                out.append(("activation derivative", rf"{symbol}'({sp.latex(z)}) = {sp.latex(r.bind(r.derivative()))}"))
            else:
                out.append(("activation", rf"{symbol} = \operatorname{{{r.name}}}"))
        if isinstance(self.loss, Rule):
            a, y = self.loss.inputs
            out.append(("loss", rf"\ell({sp.latex(a)}, {sp.latex(y)}) = {sp.latex(self.loss.bind(self.loss.expr))}"))
            out.append(("loss gradient", rf"\ell'({sp.latex(a)}, {sp.latex(y)}) = {sp.latex(self.loss.bind(self.loss.textbook()))}"))
        out.append(("cost", r"C = \frac{1}{m} \sum_{\text{samples}} \sum_j \ell(a^{L}_j, y_j)" + (r" + \sum_l \Omega(W^{l})" if self.penalty else "")))
        return tuple(out)

    def compile(self, dtype: str | np.dtype | type = "float64") -> CompiledNetwork:
        """The numeric network in ``dtype`` (float64 or float32), printed from the BP1–BP4 equations."""
        return CompiledNetwork(self, float_dtype(dtype))


class CompiledNetwork:
    """A :class:`Network` as generated numpy code.

    ``init(seed)`` → params; ``forward(params, X)`` → aᴸ; ``trace(params, X)``
    → {"z1": …, "a1": …, …}; ``loss(params, X, Y)`` → C;
    ``loss_and_grad(params, X, Y)`` → (C, grads with the keys of params);
    ``train_step(params, X, Y, lr)`` → C before one in-place gradient step.
    """

    def __init__(self, network: Network, dtype: np.dtype, equations: BackpropEquations | None = None) -> None:
        """Print ``network``'s equations (or ``equations``, e.g. a deliberately wrong variant) as numpy code."""
        self.network = network
        self.dtype = dtype
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
        printed = print_network(eqs, loss_forms(network.loss), penalty_value, network.layers, inference)
        self._source = module_header(network, dtype) + printed.source
        self.kernels = dict(printed.kernels)  # python name → (vector rule, "value" | "vjp"), for symdl.export.standalone
        namespace: dict[str, object] = {
            "numpy": np,
            "_dtype": dtype,
            "_t": dtype.type,
            "_check": self._check,
            "_check_lr": check_learning_rate,
        }
        namespace.update(self._layer_kernels())
        for kernel_name, (rule_name, role) in printed.kernels.items():
            r = rule(rule_name)
            namespace[kernel_name] = (r.numeric() if role == "value" else r.numeric_derivative()).function
        # Generated code only: printed from SymPy trees with fixed identifiers.
        exec(compile(self._source, f"<symdl network {network.layers}>", "exec"), namespace)  # noqa: S102
        self.forward = namespace["forward"]
        self.trace = namespace["trace"]
        self.loss = namespace["loss"]
        self.loss_and_grad = namespace["loss_and_grad"]
        self.train_step = namespace["train_step"]

    def __repr__(self) -> str:
        return f"{self.network!r}.compile({self.dtype.name!r})"

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

    def source(self) -> str:
        """The generated Python source of forward, loss, loss_and_grad and train_step."""
        return self._source

    def equations(self) -> BackpropEquations:
        """BP1–BP4 for this network (as :meth:`Network.equations`)."""
        return self.network.equations()

    @cached_property
    def _specs(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple(self.param_shapes.items())

    def init(self, seed: int = 0, scheme: str = "glorot_uniform") -> dict[str, np.ndarray]:
        """Weights from ``scheme`` (see :mod:`symdl.layers.init_schemes`; default Glorot-uniform, a = √(6/(n_in + n_out))),
        zero biases and β, γ = 1, PReLU's α = 0.25, running mean 0 and variance 1."""
        from ..layers.init_schemes import SCHEMES, init_weight

        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
        if scheme not in SCHEMES:
            raise ValueError(f"scheme: unknown initialisation {scheme!r}; accepted: {', '.join(SCHEMES)}")
        rng = np.random.default_rng(int(seed))
        params = {}
        for name, shape in self._specs:
            spec = self.param_specs[name]
            if self.param_kinds.get(name) == "weight":
                params[name] = init_weight(scheme, shape, rng, self.dtype)
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
        plain = Network(
            network.layers, network.activation, network.output_activation, network.loss, penalty=network.penalty
        ).compile(self.dtype)
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

    # --- argument checks (called first by the generated functions) -----------

    def _check(
        self, params: object, X: object, Y: object, writable: bool = False, targets: bool = True
    ) -> tuple[np.ndarray, ...]:
        """The parameter arrays in order, then X and Y, or a ValueError naming what is wrong."""
        layers = self.network.layers
        buffered = bool(self.buffer_names)
        return check_arguments(self._specs, self.dtype, layers[0], layers[-1], buffered, params, X, Y, writable, targets)


# The argument checks are module functions of plain values so that symdl.export.standalone can emit their source.


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
        arr = params.get(name)
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
    missing = [n for n, _ in specs if n not in params]
    known = {n for n, _ in specs}
    extra = sorted(str(k) for k in params if k not in known)
    if missing or extra:
        raise ValueError(f"params: missing {missing or 'none'}, unexpected {extra or 'none'}; expected {expected}")
    for name, shape in specs:
        arr = params[name]
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


# The learning rates a network accepts: positive normal float32 numbers, as Python floats (comparing with a float32
# scalar would cast lr to float32 and overflow). Generated modules carry the two numbers, not numpy.
LR_RANGE = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))


def check_learning_rate(lr: object) -> float:
    """``lr`` as a positive float that fits float32 (the narrowest dtype a network computes in)."""
    try:
        value = float(lr) if isinstance(lr, numbers.Real) and not isinstance(lr, bool) else float("nan")
    except OverflowError:
        value = float("inf")
    if not (LR_RANGE[0] <= value <= LR_RANGE[1]):
        raise ValueError(f"lr: expected a positive finite number from 1.2e-38 to 3.4e38, got {lr!r}")
    return value


def module_header(network: Network, dtype: np.dtype) -> str:
    return (
        f'"""{network!r} in {dtype.name}: generated by symdl from BP1–BP4. Do not edit."""\n\n'
    )
