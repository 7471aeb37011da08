"""The JAX backend: ``jax.numpy`` code, immutable arrays, ``jax.jit`` entry points, ``jax.custom_jvp`` derivatives.

Every entry point of a network module is ``jax.jit``-compiled once per shape,
with the argument checks outside the jit; arrays are immutable, so updates are
returned (``functional``) and ``train_step`` stores the new arrays in the dict
``params``. A float64 module turns on ``jax_enable_x64`` when imported.
Dropout masks come from ``jax.random.PRNGKey(seed)``, one key per layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from ..optional import require
from .base import Backend, emit_functions, keys_block
from .printers import JaxIndexPrinter, JaxPrinter
from .runtime_fit import _restore_jax, _snapshot_jax, _target_host
from .runtime_graph import (
    _check_data,
    _finite_arrays,
    _on_device_graph,
    _raise_unless_finite_arrays,
    _unpack_forward,
)
from .runtime_graph import _unpack as _unpack_graph
from .runtime_graph_mixed import (
    _cast_graph_jax,
    _check_data_graph_jax,
    _lifted,
    _unpack_forward_graph_jax,
    _unpack_graph_jax,
)
from .runtime_jax import (
    _batch,
    _check,
    _check_hyper,
    _check_params,
    _check_seed,
    _check_state,
    _finish,
    _finite,
    _finite_asked,
    _mask_key,
    _on_device,
    _prepare,
    _raise_unless_finite,
    _scalar_with,
    _tangent,
    _unpack,
)
from .runtime_mixed import (
    _all_finite_jax,
    _check_jax,
    _finite_or_zero_jax,
    _keep_finite_jax,
    _lift_jax,
    _master_grads_jax,
    _masters,
    _unpack_jax,
)

__all__ = ["JaxBackend"]

_WRAPPER = '''
def {name}({public}):
    """{doc}"""
{checks}    if _finite_asked():  # device arrays: read back only under jax_debug_nans / jax_debug_infs
        _raise_unless_finite{arrays}(_finite{arrays}({data}))
    result = _{name}({call})
{result}


@jax.jit
def _{name}({args}):
    # keys, shapes and dtypes are static under jax.jit: checked when a new signature is traced, not on every call
{array_checks}    return _{name}_body({call})


# {name} unchecked: jitted, no argument checks, no finiteness check (no host synchronisation).
{name}_unchecked = jax.jit(_{name}_body)
'''


def _lines(statements: Sequence[str]) -> str:
    """The statements as lines of a function body (four spaces in)."""
    return "".join(f"    {line}\n" for line in statements)


_GRAPH_DOCS = {
    "forward": "The outputs for a batch of each input (inference: no noise, no dropout); one array for one output.",
    "loss": "The cost C: the weighted loss terms, averaged over the batch, plus the penalties (training mode).",
    "inference_loss": "The cost C in inference mode (no noise, no dropout), as Keras' evaluate computes it.",
    "loss_and_grad": "(C, dict of dC/dparam with the keys of params): the generalised backprop derived by symdl.",
    "train_step": "One step of gradient descent: the new arrays are stored in params; returns the loss before the step.",
    "output_losses": "Each output's loss without its weight, in the order of the outputs (training mode, the masks of seed).",
    "inference_output_losses": "Each output's loss without its weight, in the order of the outputs (inference mode).",
}

_DOCS = {
    "forward": "The network's output a^L for the rows of X (inference: running statistics, no dropout).",
    "trace": "Every z^l and a^l of the forward pass, by name.",
    "loss": "The cost C: the loss summed over outputs, averaged over the batch, plus the penalty.",
    "inference_loss": "The cost C of forward's output (inference: running statistics, no dropout), as Keras' evaluate.",
    "loss_and_grad": "(C, dict of dC/dparam with the keys of params), the gradient from BP1-BP4.",
    "train_step": "One step of gradient descent: the new arrays are stored in params; returns the loss before the step.",
}


class JaxBackend(Backend):
    """``jax.numpy`` as ``jnp``: functional updates, jitted entry points, ``jax.random`` draws."""

    name = "jax"
    library = "jax"
    module = "jnp"
    printer_class = JaxPrinter
    index_printer_class = JaxIndexPrinter
    title = "JAX"
    noun = "JAX arrays"
    out_param = False
    functional = True
    imports = ("import jax", "import jax.numpy as jnp")
    runtime_imports = ("import numpy",)
    seed_limit = "2**31"
    init_spelling: ClassVar = (
        ["key = jax.random.PRNGKey(int(seed))"],
        "jax.random.uniform(jax.random.fold_in(key, {index}), {shape!r}, _dtype, -{limit!r}, {limit!r})",
        "jnp.full({shape!r}, {value!r}, dtype=_dtype)",
        "jax.random.PRNGKey(seed) (the same distribution as CompiledNetwork.init, other numbers)",
    )
    # the bodies take the masks' PRNG key; None: the key of seed 0, as the checked entry points' default
    mask_parameter = "key=None"
    # float32: a float64 module would switch on jax_enable_x64 for the whole verifying process.
    verify_dtype = ("float32", 1e-4)

    def kernel_constant(self, arg: str) -> str:
        return "_t = functools.partial(jnp.asarray, dtype=_dtype)"

    def dtype_line(self, dtype: np.dtype | str, target: str = "_dtype") -> str:
        return f"{target} = jnp.dtype({getattr(dtype, 'name', dtype)!r})"

    def constant(self) -> str:
        return "jnp.asarray"

    def module_prelude(self, dtype: np.dtype) -> list[str]:
        if dtype != np.float64:
            return []
        return ['jax.config.update("jax_enable_x64", True)  # a float64 module computes in float64', ""]

    def network_imports(self) -> list[str]:
        return ["import functools", "import numbers", "from collections.abc import Mapping, MutableMapping", *self.imports,
                *self.runtime_imports]

    def network_runtime(self, seeded: bool) -> list[str]:
        return [keys_block(), emit_functions(_batch, _finite_asked, _finite, _raise_unless_finite, _check_params, _check, _on_device, _unpack)]

    def mixed_runtime(self) -> list[str]:
        masters = {"_dtype": "_param_dtype", "_check": "_check_masters"}
        mixed = {"_check_jax": "_check", "_unpack_jax": "_unpack", "_lift_jax": "_lift", "_master_grads_jax": "_master_grads",
                 "_all_finite_jax": "_all_finite", "_keep_finite_jax": "_keep_finite",
                 "_finite_or_zero_jax": "_finite_or_zero"}
        return [keys_block(), emit_functions(_batch, _finite_asked, _finite, _raise_unless_finite, _check_params, _check, names=masters),
                emit_functions(_lift_jax, _check_jax, _on_device, _unpack_jax, _masters, _master_grads_jax, _all_finite_jax,
                               _keep_finite_jax, _finite_or_zero_jax, names=mixed)]

    def dropout_runtime(self) -> list[str]:
        return [emit_functions(_check_seed, _mask_key)]

    def dropout_masks(self, keep: float, hidden: tuple[int, ...]) -> tuple[str, list[str]]:
        return "key, m", [
            "key = _mask_key(key)",
            "# mask ~ Bernoulli(1 − p), one key per layer folded from the call's key.",
            f"return [jax.random.bernoulli(jax.random.fold_in(key, k), {keep!r}, (m, n)).astype(_dtype) "
            f"for k, n in enumerate({hidden!r})]",
        ]

    def entry_point(self, name: str) -> str:
        return f"def _{name}_body("

    def entry_wrappers(self, seeded: bool, train_arguments: tuple[str, ...] = ("lr",)) -> str:
        """The public functions: scalar checks in Python, the arrays' checks traced into ``jax.jit`` with the body.

        Keys, shapes and dtypes are static under ``jax.jit``, so ``_check`` runs when JAX traces a new signature,
        not on every call; data from the host is converted and checked for NaN and infinity before the call
        (``_on_device``), device arrays only under ``jax_debug_nans``/``jax_debug_infs``. Each function also as
        ``<name>_unchecked``: the jitted body alone, for callers that validated their arrays once.

        ``train_arguments`` follow Y in ``train_step``: ``lr``, or with an optimizer ``state`` and the
        hyperparameters without a value; then ``train_step`` returns ``(loss, new params, new state)``.
        """
        blocks = []
        stateful = "state" in train_arguments
        for name in ("forward", "trace", "loss", "inference_loss", "loss_and_grad", "train_step"):
            targets = name not in ("forward", "trace")
            takes_seed = seeded and name not in ("forward", "inference_loss")
            data = "X, Y" if targets else "X"
            args = ["params", "X", *(["Y"] if targets else []), *(train_arguments if name == "train_step" else [])]
            public = [*args, *(["seed=0"] if takes_seed else [])]
            checks = []
            if name == "train_step":
                checks += [{"lr": "lr = _check_lr(lr)", "state": "state = _check_state(state)"}.get(a, f"{a} = _check_hyper({a!r}, {a})")
                           for a in train_arguments]
            y, flags = ("Y" if targets else "_"), f"{'Y' if targets else 'None'}, {name == 'train_step'}, {targets}"
            checks.append(f"arrays, X, {y} = _on_device(params, X, {flags})")
            if takes_seed:
                checks.append("key = jax.random.PRNGKey(_check_seed(seed))")
                args.append("key")
            text = _WRAPPER.format(name=name, args=", ".join(args), data=data, public=", ".join(public), doc=_DOCS[name],
                                   checks=_lines(checks), call=", ".join(["arrays", *args[1:]]), arrays="", result="    return result",
                                   array_checks=_lines([f"arrays, X, {y} = _check(params, X, {flags})"]))
            if name == "train_step" and stateful:
                text = text.replace(_DOCS[name], "One optimizer step: returns (the loss before it, new params, new state).")
            elif name == "train_step":
                text = text.replace("    return result\n", "    value, new = result\n    params.update(new)\n    return value\n")
                text = text.replace("(no host synchronisation).", "(no host synchronisation); returns (loss, new params).")
            blocks.append(text.strip("\n"))
        return "\n\n\n".join(blocks)

    def optimizer_runtime(self) -> list[str]:
        return [emit_functions(_scalar_with, _check_state, _check_hyper)]

    def init_placement(self) -> tuple[str, list[str]]:
        """``init_params(seed=0, device=None)``: drawn on JAX's default device, then ``jax.device_put`` on ``device``."""
        return "seed=0, device=None", [
            "if device is not None and not isinstance(device, (jax.Device, jax.sharding.Sharding)):",
            "    raise TypeError(f'device: expected a jax.Device (or a jax.sharding.Sharding), got {type(device).__name__}')",
            "return params if device is None else jax.device_put(params, device)",
        ]

    def state_scalar(self, literal: str, like: str, on_device: bool = False) -> str:
        return f"_scalar_with({literal}, {like})"  # always on the device: train_step is jitted

    init_normal = "jax.random.normal(jax.random.fold_in(key, {index}), {shape!r}, _dtype) * _t({std!r})"

    def stop_gradient(self, code: str) -> str:
        return f"jax.lax.stop_gradient({code})"

    def graph_masks(self, masks: Sequence[tuple[int, str, float]]) -> tuple[str, list[str]]:
        draws = [f"    jax.random.normal(jax.random.fold_in(key, {k}), (m, {w}), _dtype) * _t({v!r})," if draw == "gaussian"
                 else f"    jax.random.bernoulli(jax.random.fold_in(key, {k}), {1.0 - v!r}, (m, {w})).astype(_dtype),"
                 for k, (w, draw, v) in enumerate(masks)]
        return "key, m", ["key = _mask_key(key)", "# one key per mask, folded from the call's key", "return [", *draws, "]"]

    def graph_runtime(self, optimizer: bool) -> list[str]:
        # the state and hyperparameter checks read _STATE, which only a module with an optimizer defines
        stateful: list[Callable[..., Any]] = [_scalar_with, _check_state, _check_hyper] if optimizer else []
        return [keys_block(), emit_functions(_batch, _check_params, *stateful, _check_seed, _mask_key),
                emit_functions(_unpack_graph, _unpack_forward, _check_data, _on_device_graph, _finite_asked, _finite_arrays,
                               _raise_unless_finite_arrays)]

    def graph_mixed_runtime(self, optimizer: bool) -> list[str]:
        stateful: list[Callable[..., Any]] = [_scalar_with, _check_state, _check_hyper] if optimizer else []
        masters = {"_dtype": "_param_dtype", "_check_data": "_check_data_masters"}
        mixed = {"_lift_jax": "_lift", "_check_data_graph_jax": "_check_data", "_unpack_graph_jax": "_unpack", "_cast_graph_jax": "_cast",
                 "_unpack_forward_graph_jax": "_unpack_forward", "_master_grads_jax": "_master_grads",
                 "_all_finite_jax": "_all_finite", "_keep_finite_jax": "_keep_finite",
                 "_finite_or_zero_jax": "_finite_or_zero"}
        return [keys_block(), emit_functions(_batch, _check_params, *stateful, _check_seed, _mask_key, _check_data, names=masters),
                emit_functions(_lifted, _lift_jax, _cast_graph_jax, _check_data_graph_jax, _unpack_graph_jax, _unpack_forward_graph_jax, _masters,
                               _master_grads_jax, _all_finite_jax, _keep_finite_jax, _finite_or_zero_jax, names=mixed),
                emit_functions(_on_device_graph, _finite_asked, _finite_arrays, _raise_unless_finite_arrays)]

    def master_block(self, block: str) -> str:
        # _t makes _dtype (compute) constants: a float32 block's constants are float32 arrays
        block = re.sub(r"(?<![\w.])_t\(([^()]*)\)", r"jnp.asarray(\1, dtype=_dtype)", block)
        return super().master_block(block)

    def graph_entry_wrappers(self, entries: Sequence[tuple[str, str, str, bool]]) -> str:
        """Scalar checks in Python (the seed, lr or the state), the arrays' checks traced into ``jax.jit`` with the body.

        As :meth:`entry_wrappers`: ``_check_params``/``_check_data`` run when JAX traces a new signature; host data
        is checked before the call (``_on_device_graph``). ``train_step`` without an optimizer stores the new arrays
        in ``params`` and returns the loss; with one it returns (the loss before the step, new params, new state).
        """
        blocks = []
        for name, args, data, seeded in entries:
            body_args = args.replace(self.mask_parameter, "key").split(", ")
            extra = [a for a in body_args[1:] if a not in data.split(", ") and a != "key"]
            checks = [f"arrays, ({data},) = _on_device_graph(params, ({data},))"]
            if name == "train_step" and "state" not in extra:  # plain gradient descent stores the new arrays in params
                checks.insert(0, "if not isinstance(params, MutableMapping):\n"
                                 "        raise ValueError(f'params: train_step stores the new arrays in params; expected a dict, got {type(params).__name__}')"
                                 "  # noqa: TRY004  (every bad argument is one ValueError)")
            checks += [{"lr": "lr = _check_lr(lr)", "state": "state = _check_state(state)"}.get(a, f"{a} = _check_hyper({a!r}, {a})")
                       for a in extra]
            if seeded:
                checks.append("key = jax.random.PRNGKey(_check_seed(seed))")
            result = "    return result"
            doc = _GRAPH_DOCS[name]
            if name == "train_step" and "state" in extra:
                doc = "One optimizer step: returns (the loss before it, new params, new state)."
            elif name == "train_step":
                result = "    value, new = result\n    params.update(new)\n    return value"
            public = args.replace(self.mask_parameter, "seed=0").split(", ")
            array_checks = ["arrays = dict(zip([n for n, _ in _SPECS], _check_params(params)))", f"{data}, = _check_data(({data},))"]
            text = _WRAPPER.format(name=name, args=", ".join(body_args), data=data, public=", ".join(public), doc=doc,
                                   checks=_lines(checks), call=", ".join(["arrays", *body_args[1:]]), arrays="_arrays", result=result,
                                   array_checks=_lines(array_checks))
            blocks.append(text.strip("\n"))
        return "\n\n\n".join(blocks)

    def train_step_doc(self) -> str:
        return ("train_step(params, X, Y, lr): one step of gradient descent; the new arrays are stored in the dict params "
                "(JAX arrays are immutable); returns the loss before it.")

    def fit_runtime(self) -> list[str]:
        return [emit_functions(_snapshot_jax, _restore_jax, _target_host,
                               names={"_snapshot_jax": "_fit_snapshot", "_restore_jax": "_fit_restore", "_target_host": "_fit_target"})]

    def as_arrays(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        jnp = require("jax.numpy", "the jax backend")
        return {k: jnp.asarray(v) for k, v in params.items()}

    def custom_gradient_helpers(self) -> str:
        return emit_functions(_prepare, _finish, _tangent)

    def custom_gradient_wrapper(self, plan: Any) -> str:
        """``NAME(*inputs)``: a ``jax.custom_jvp`` whose tangent Σ ∂f/∂xᵢ · tᵢ calls the printed derivatives.

        Forward mode is the rule; reverse mode is JAX's transposition of it (the tangent is linear in tᵢ),
        so jit, grad, vmap, jvp, jacfwd, jacrev and hessian all apply — as for ``jax.nn.relu``/``softplus``.
        """
        n, args = plan.name, ", ".join(plan.inputs)
        kind = "vjp" if plan.vector else "d"
        terms = []
        for a in plan.inputs:
            if plan.vector and not plan.scalar_output:
                # J t = (tᵀ J)ᵀ: this Jacobian is symmetric (softmax's diag(s) − s sᵀ).
                terms.append(f"{n}_vjp_{a}({args}, t_{a})")
            elif plan.vector:
                terms.append(f"jnp.sum({n}_vjp_{a}({args}) * t_{a}, axis=-1)")
            else:
                terms.append(f"{n}_{kind}_{a}({args}) * t_{a}")
        forward = f"{n}_forward({args})" if plan.vector else f"_finish({n}_forward({args}), {args})"
        if plan.reduce_sum:
            forward = f"jnp.sum({forward})"
        check = ""
        if plan.vector:
            check = (
                f"    if any(jnp.ndim(x) == 0 for x in ({args},)):\n"
                f"        raise ValueError(\"{n}: inputs need a last axis (the classes)\")\n"
            )
        tangents = ", ".join(f"t_{a}" for a in plan.inputs)
        total = " + ".join(terms)
        tangent = f"_tangent({total}, out)" if plan.vector else f"_finish({total}, {args})"
        if plan.reduce_sum:
            tangent = f"jnp.sum({tangent})"
        return f'''
@jax.custom_jvp
def _{n}({args}):
    return {forward}


@_{n}.defjvp
def _{n}_jvp(primals, tangents):
    ({args},) = primals
    ({tangents},) = tangents
    out = _{n}({args})
    return out, {tangent}


def {n}({args}):
    """{plan.title.splitlines()[0]} — derivative: {"the symbolic one" if plan.declared is None else "the declared gradient (gradient=)"} (jax.custom_jvp; reverse mode by transposition)."""
{check}    return _{n}(*_prepare({args}))
'''
