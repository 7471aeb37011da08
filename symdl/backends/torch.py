"""The PyTorch backend: ``torch`` code, in-place updates under ``torch.no_grad()``, ``autograd.Function`` gradients.

A network module runs eagerly with the numpy code's in-place statements
(``torch.tanh(z, out=z)``); ``train_step`` updates the tensors of ``params``
in place. Every tensor the printed code makes follows the data: the hooks
:meth:`TorchBackend.tensor_factory`, :meth:`TorchBackend.bind_constants` and the
mask and init spellings print ``device=`` of an input. Dropout and noise masks
come from ``torch.Generator(device=X.device).manual_seed(seed)``, parameters from
``torch.Generator(device=device)`` (the same seed gives the same numbers per
device type; PyTorch's ``meta`` device has no generator and draws without one).
Each entry point also comes as ``<name>_unchecked``: the same body without the
argument checks, so nothing is read back to the host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..optional import require
from .base import Backend, emit_functions, keys_block
from .printers import TorchIndexPrinter, TorchPrinter
from .runtime_fit import _restore_torch, _snapshot_torch, _target_torch
from .runtime_graph import _check as _check_graph
from .runtime_graph import _check_arrays, _check_forward, _unpack_forward
from .runtime_graph import _unpack as _unpack_graph
from .runtime_graph_mixed import (
    _cast_graph_torch,
    _check_forward_graph_torch,
    _check_graph_torch,
    _lifted,
    _unpack_forward_graph_torch,
    _unpack_graph_torch,
)
from .runtime_mixed import (
    _all_finite_torch,
    _check_torch,
    _finite_or_zero_torch,
    _keep_finite_torch,
    _lift_torch,
    _master_grads_torch,
    _masters,
    _unpack_torch,
)
from .runtime_torch import (
    _batch,
    _broadcast_shape,
    _check,
    _check_hyper,
    _check_params,
    _check_state,
    _finish,
    _prepare,
    _save,
    _saved,
    _store,
    _unbroadcast,
    _unpack,
)
from .torch_nn import module_class

__all__ = ["TorchBackend"]

# The generator of a draw on ``device``: none on the meta device (it has no generator; the draw has only a shape there).
_GENERATOR = "generator = torch.Generator(device=device).manual_seed(int(seed)) if device.type != 'meta' else None"
_DEVICE = "device = torch.device('cpu') if device is None else torch.device(device)"
# init_params' device, given by the caller: a name torch cannot parse, or a device this PyTorch has no generator on
# ('cuda' without CUDA), is one ValueError line rather than torch's RuntimeError (the first sentence of its first line:
# a CUDA build without a driver says three lines).
_INIT_DEVICE = [
    "try:",
    f"    {_DEVICE}",
    "except (RuntimeError, TypeError, ValueError):",
    "    raise ValueError(f'device: expected None (the CPU), a torch.device or a device name such as \\'cpu\\', "
    "\\'cuda:0\\' or \\'meta\\', got {device!r}') from None",
    "try:",
    f"    {_GENERATOR}",
    "except RuntimeError as why:",
    "    raise ValueError(f'device: {str(device)!r} is not available to this PyTorch "
    "({(str(why).strip() or \"no reason given\").splitlines()[0].split(\". \")[0].rstrip(\".\")})') from None",
]
# The argument checks an unchecked entry point leaves out (the unpacking _check calls become _unpack).
_ARGUMENT_CHECK = re.compile(r"^    (?:lr = _check_lr\(lr\)|_check_state\(state(?:, \w+\.device)?\)|(\w+) = _check_hyper\('\1', \1\))\n", re.MULTILINE)
_UNPACKED = re.compile(r"^(    .* = )_check(_forward)?\(", re.MULTILINE)


def _module_class(cls: str, args: str, loss: bool, rows: bool) -> str:
    """``class {cls}Module(torch.nn.Module)`` applying ``cls``; a loss's reduces as torch.nn's losses (``reduction=``)."""
    if not loss:
        return f'''class {cls}Module(torch.nn.Module):
    """{cls}.apply as a torch.nn.Module without parameters (as torch.nn.Softplus is), for torch.nn.Sequential."""

    def forward(self, {args}):
        return {cls}.apply({args})'''
    return f'''class {cls}Module(torch.nn.Module):
    """{cls}.apply as a loss module, as torch.nn's losses are: reduction 'mean' (the default), 'sum' or 'none'.

    'mean' and 'sum' reduce over {"the rows (one loss per row, as torch.nn.CrossEntropyLoss)" if rows else "every element"}.
    The prediction and the target have one shape (torch.nn's losses broadcast others with a warning; this refuses them).
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected 'mean', 'sum' or 'none', got {{reduction!r}}")
        self.reduction = reduction

    def forward(self, {args}):
        shapes = [tuple(x.shape) for x in _prepare({args})]
        if any(shape != shapes[0] for shape in shapes):  # as torch.nn's losses take them, not broadcast to a grid
            raise ValueError(f"{cls}Module: the inputs' shapes {{' and '.join(map(str, shapes))}} differ; a loss takes "
                             f"a prediction and a target of one shape (broadcasting: {cls}.apply)")
        loss = {cls}.apply({args})
        if self.reduction == "mean":
            return torch.mean(loss)
        return torch.sum(loss) if self.reduction == "sum" else loss'''


class TorchBackend(Backend):
    """``torch``: in-place updates, ``torch.no_grad`` entry points, ``torch.Generator`` draws."""

    name = "torch"
    library = "torch"
    module = "torch"
    printer_class = TorchPrinter
    index_printer_class = TorchIndexPrinter
    title = "PyTorch"
    noun = "torch tensors"
    imports = ("import torch",)
    out_functions: ClassVar = {"multiply": "torch.mul", "divide": "torch.div", "square": "torch.square", "subtract": "torch.sub"}
    seed_limit = "2**63"
    init_spelling: ClassVar = (
        _INIT_DEVICE,
        "torch.rand({shape!r}, generator=generator, dtype=_dtype, device=device) * {width!r} - {limit!r}",
        "torch.full({shape!r}, {value!r}, dtype=_dtype, device=device)",
        "torch.Generator(device=device).manual_seed(seed) on device (default the CPU; the same distribution as "
        "CompiledNetwork.init, other numbers; the same seed gives the same numbers on every device of one type)",
    )
    verify_dtype = ("float64", 1e-10)
    init_normal = "torch.randn({shape!r}, generator=generator, dtype=_dtype, device=device) * {std!r}"

    def kernel_constant(self, arg: str) -> str:
        # a fill on the device, not a copy from the host (torch.tensor): no transfer, and CUDA-graph capturable
        return f"_t = functools.partial(torch.full, (), dtype=_dtype, device={arg}.device)"

    def init_placement(self) -> tuple[str, list[str]]:
        return "seed=0, device=None", ["return params"]

    def tensor_factory(self, kind: str, args: str, like: str) -> str:
        return f"torch.{kind}({args}, dtype=_dtype, device={like}.device)"

    def mask_arguments(self, like: str) -> str:
        return f"{like}.shape[0], {like}.device"

    def bind_constants(self, lines: Sequence[str], like: str) -> list[str]:
        lines = list(lines)
        if not any("_t(" in line for line in lines):
            return lines
        unpacked = next((k + 1 for k, line in enumerate(lines) if re.search(r"= _(check|unpack)\w*\(", line)), 0)
        return [*lines[:unpacked], self.kernel_constant(like), *lines[unpacked:]]

    def module_constant(self) -> str | None:
        return None

    def unchecked_entry_points(self, source: str, names: Sequence[str]) -> str:
        """Each entry point again as ``<name>_unchecked``: ``_check`` → ``_unpack``, the lr, state and hyperparameter
        checks left out. Nothing is read back to the host: no ``bool(tensor)``, ``float(tensor)`` or finiteness test."""
        blocks = []
        for block in source.split("\n\n\n"):
            head = re.search(r"^def (\w+)\(", block, re.MULTILINE)
            if head is None or head.group(1) not in names:
                continue
            name = head.group(1)
            block = block[:head.start()] + f"def {name}_unchecked(" + block[head.end():]
            block = _UNPACKED.sub(lambda m: f"{m.group(1)}_unpack{m.group(2) or ''}(", _ARGUMENT_CHECK.sub("", block))
            blocks.append(block.strip("\n"))
        return "\n\n\n".join(blocks)

    def dtype_line(self, dtype: np.dtype | str, target: str = "_dtype") -> str:
        return f"{target} = torch.{getattr(dtype, 'name', dtype)}"

    def constant(self) -> str:
        return "torch.tensor"

    def network_runtime(self, seeded: bool) -> list[str]:
        return [keys_block(), emit_functions(_batch, _check_params, _check, _unpack)]

    def mixed_runtime(self) -> list[str]:
        masters = {"_dtype": "_param_dtype", "_check": "_check_masters"}
        mixed = {"_check_torch": "_check", "_unpack_torch": "_unpack", "_lift_torch": "_lift", "_master_grads_torch": "_master_grads",
                 "_all_finite_torch": "_all_finite", "_keep_finite_torch": "_keep_finite",
                 "_finite_or_zero_torch": "_finite_or_zero"}
        return [keys_block(), emit_functions(_batch, _check_params, _check, names=masters),
                emit_functions(_lift_torch, _check_torch, _unpack_torch, _masters, _master_grads_torch, _all_finite_torch,
                               _keep_finite_torch, _finite_or_zero_torch, names=mixed)]

    def dropout_masks(self, keep: float, hidden: tuple[int, ...]) -> tuple[str, list[str]]:
        return "seed, m, device=None", [
            "if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:",
            "    raise ValueError(f'seed: expected an integer from 0 to 2**63 - 1 (it fixes the dropout masks), got {_excerpt(seed)}')",
            _DEVICE,
            _GENERATOR,
            "# mask ~ Bernoulli(1 − p): u ~ U[0, 1) in float64, kept where u < 1 − p.",
            f"return [(torch.rand((m, n), generator=generator, dtype=torch.float64, device=device) < {keep!r}).to(_dtype) "
            f"for n in {hidden!r}]",
        ]

    def entry_point(self, name: str) -> str:
        return f"@torch.no_grad()\ndef {name}("

    def cast(self, code: str, dtype: str) -> str:
        return f"{code}.to({dtype})"

    def stop_gradient(self, code: str) -> str:
        # a copy: the printed code may later write into the buffer a detached view would share
        return f"{code}.detach().clone()"

    def graph_masks(self, masks: Sequence[tuple[int, str, float]]) -> tuple[str, list[str]]:
        draws = [f"    torch.randn((m, {w}), generator=generator, dtype=_dtype, device=device) * {v!r}," if draw == "gaussian"
                 else f"    (torch.rand((m, {w}), generator=generator, dtype=torch.float64, device=device) < {1.0 - v!r}).to(_dtype),"
                 for w, draw, v in masks]
        return "seed, m, device=None", [
            "if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:",
            "    raise ValueError(f'seed: expected an integer from 0 to 2**63 - 1 (it fixes the noise and dropout masks), got {seed!r}')",
            _DEVICE,
            _GENERATOR,
            "return [", *draws, "]",
        ]

    def graph_runtime(self, optimizer: bool) -> list[str]:
        return [keys_block(), emit_functions(_batch, _check_params),
                emit_functions(_check_arrays, _check_graph, _check_forward, _unpack_graph, _unpack_forward),
                *(self.optimizer_runtime() if optimizer else [])]

    def optimizer_runtime(self) -> list[str]:
        return [emit_functions(_check_state, _check_hyper, _store)]

    def graph_mixed_runtime(self, optimizer: bool) -> list[str]:
        masters = {"_dtype": "_param_dtype", "_check_arrays": "_check_masters", "_check_forward": "_check_forward_masters"}
        mixed = {"_lift_torch": "_lift", "_check_graph_torch": "_check", "_check_forward_graph_torch": "_check_forward",
                 "_unpack_graph_torch": "_unpack", "_cast_graph_torch": "_cast", "_unpack_forward_graph_torch": "_unpack_forward",
                 "_master_grads_torch": "_master_grads", "_all_finite_torch": "_all_finite", "_keep_finite_torch": "_keep_finite",
                 "_finite_or_zero_torch": "_finite_or_zero"}
        # the optimizer's checks of params and state say float32, as the masters
        state = [self.master_block(block) for block in self.optimizer_runtime()] if optimizer else []
        return [keys_block(), emit_functions(_batch, _check_params, _check_arrays, _check_forward, names=masters),
                emit_functions(_lifted, _lift_torch, _cast_graph_torch, _check_graph_torch, _check_forward_graph_torch, _unpack_graph_torch,
                               _unpack_forward_graph_torch, _masters, _master_grads_torch, _all_finite_torch, _keep_finite_torch, _finite_or_zero_torch,
                               names=mixed),
                *state]

    def device_count(self, count: str) -> str | None:
        return f"isinstance({count}, torch.Tensor)"

    def device_count_cast(self, count: str, like: str) -> str | None:
        # an int64 count times a Python float is torch's default dtype (float32), whatever the params' dtype
        return f"{count}.to({like}.dtype)"

    def store_state(self, state: str, key: str, value: str) -> str:
        return f"_store({state}, {key!r}, {value})"  # in place into a tensor already there: CUDA-graph capturable

    def state_check(self, like: str) -> str:
        return f"_check_state(state, {like}.device)"  # the state's tensors on the device of params and the data

    def state_scalar(self, literal: str, like: str, on_device: bool = False) -> str:
        if not on_device:
            return literal
        dtype = "" if literal.lstrip("-").isdigit() else f", dtype={like}.dtype"  # the step count int64, a real as the masters
        return f"torch.tensor({literal}{dtype}, device={like}.device)"

    def network_module_class(self, seeded: bool, optimizer: bool, scaled: bool = False) -> list[str]:
        """``Module(params, checks=True)``, a ``torch.nn.Module`` whose backward is the printed gradient (see :mod:`.torch_nn`)."""
        # _check_params, _BUFFERED: network_runtime's; a network's buffers are refused, not registered
        return ["_BUFFERS = ()\n\n" + module_class(seeded, ("X",), ("Y",), scaled=scaled)]

    def graph_module_class(self, seeded: bool, inputs: Sequence[str], targets: Sequence[str], buffers: Sequence[str] = (),
                           scaled: bool = False) -> list[str]:
        """``Module(params, checks=True)`` of a graph module: ``forward(*inputs, *targets, seed=None)``, as for networks;
        ``buffers`` (batch norm's moving statistics) are registered buffers, moved in training by the values
        ``_loss_grad_moved`` computes with the loss and gradients (one training forward)."""
        return [f"_BUFFERED = False  # a network's refusal; a graph's buffers are registered\n_BUFFERS = {tuple(buffers)!r}\n\n"
                + module_class(seeded, inputs, targets, "model", bool(buffers), scaled)]

    def train_step_doc(self) -> str:
        return ("train_step(params, X, Y, lr): one step of gradient descent on the tensors of params, in place; "
                "returns the loss before it.")

    def fit_runtime(self) -> list[str]:
        return [emit_functions(_snapshot_torch, _restore_torch, _target_torch,
                               names={"_snapshot_torch": "_fit_snapshot", "_restore_torch": "_fit_restore", "_target_torch": "_fit_target"})]

    def as_arrays(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        torch = require("torch", "the torch backend")
        return {k: torch.from_numpy(v.copy()) for k, v in params.items()}

    def custom_gradient_helpers(self) -> str:
        return emit_functions(_prepare, _broadcast_shape, _finish, _unbroadcast, _save, _saved)

    def custom_gradient_public(self, plan: Any) -> list[str]:
        return [plan.class_name, f"{plan.class_name}Module"]

    def custom_gradient_wrapper(self, plan: Any) -> str:
        """``class Name(torch.autograd.Function)`` in the modern style (``setup_context``, ``backward``, ``jvp``,
        a generated vmap rule) calling the printed derivatives, ``class NameModule(torch.nn.Module)`` applying it,
        and ``NAME = Name.apply``."""
        n, args = plan.name, ", ".join(plan.inputs)
        cls = plan.class_name
        kind = "vjp" if plan.vector else "d"
        forward = f"{n}_forward(*args)" if plan.vector else f"_finish({n}_forward(*args), *args)"
        if plan.reduce_sum:
            forward = f"torch.sum({forward})"
        grad_lines, jvp_lines = [], []
        for i, a in enumerate(plan.inputs):
            if plan.vector and not plan.scalar_output:
                value = f"{n}_vjp_{a}({args}, g)"
                # J t = (tᵀ J)ᵀ: the plan says this Jacobian is symmetric (softmax's diag(s) − s sᵀ).
                term = f"{n}_vjp_{a}({args}, tangents[{i}])"
            elif plan.vector:
                value = f"g[..., None] * {n}_vjp_{a}({args})"
                term = f"torch.sum({n}_vjp_{a}({args}) * tangents[{i}], dim=-1)"
            else:
                value = f"g * {n}_{kind}_{a}({args})"
                term = f"{n}_{kind}_{a}({args}) * tangents[{i}]"
            grad_lines.append(f"        if ctx.needs_input_grad[{i}]:\n            grads[{i}] = _unbroadcast({value}, originals[{i}])")
            jvp_lines.append(f"        if tangents[{i}] is not None:\n            terms.append({term})")
        # A loss of one value per row has the shape of the inputs without their last axis.
        shaped_like = "*(x[..., 0] for x in args)" if plan.vector and plan.scalar_output else "*args"
        tangent = f"_finish(sum(terms), {shaped_like})"
        if plan.reduce_sum:
            tangent = f"torch.sum({tangent})"
        check = ""
        if plan.vector:
            check = (
                "        if any(x.dim() == 0 for x in args):\n"
                f"            raise ValueError(\"{n}: inputs need a last axis (the classes)\")\n"
            )
        return f'''
class {cls}(torch.autograd.Function):
    """{plan.title.splitlines()[0]} — forward: the stable form; backward and jvp: {plan.gradient}.

    Works with torch.func (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap), torch.autograd.forward_ad
    and torch.compile(fullgraph=True). The backward pass is made of differentiable torch operations,
    so second derivatives (torch.autograd.gradgradcheck) are those of the printed derivative.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward({args}):
        args = _prepare({args})
{check}        return {forward}

    @staticmethod
    def setup_context(ctx, inputs, output):
        _save(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        originals = _saved(ctx)
        ({args},) = _prepare(*originals)
        grads = [None] * {len(plan.inputs)}
{chr(10).join(grad_lines)}
        return tuple(grads)

    @classmethod
    def apply(cls, *args):
        """Runs _{cls}, this class with a jvp (forward mode); torch.compile traces this class itself (Dynamo refuses a custom jvp)."""
        return super({cls}, _{cls}).apply(*args)  # Function.apply bound to _{cls}: a classmethod, in Python or in C


class _{cls}({cls}):
    """{cls} with the forward-mode derivative: the tangent of the output is Σ ∂f/∂xᵢ · tᵢ."""

    @staticmethod
    def jvp(ctx, *tangents):
        args = _prepare(*_saved(ctx))
        ({args},) = args
        terms = []
{chr(10).join(jvp_lines)}
        return {tangent}


{_module_class(cls, args, plan.loss, plan.vector)}


{n} = {cls}.apply
'''
