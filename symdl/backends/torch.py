"""The PyTorch backend: ``torch`` code, in-place updates under ``torch.no_grad()``, ``autograd.Function`` gradients.

A network module runs eagerly with the numpy code's in-place statements
(``torch.tanh(z, out=z)``); ``train_step`` updates the tensors of ``params``
in place. Dropout masks come from ``torch.Generator().manual_seed(seed)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..codegen.naming import class_name
from .base import Backend, emit_functions
from .printers import TorchIndexPrinter, TorchPrinter
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
    _unbroadcast,
)

__all__ = ["TorchBackend"]


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
    out_functions: ClassVar = {"multiply": "torch.mul", "divide": "torch.div", "square": "torch.square"}
    seed_limit = "2**63"
    init_spelling: ClassVar = (
        ["generator = torch.Generator().manual_seed(int(seed))"],
        "torch.rand({shape!r}, generator=generator, dtype=_dtype) * {width!r} - {limit!r}",
        "torch.full({shape!r}, {value!r}, dtype=_dtype)",
        "torch.Generator().manual_seed(seed) (the same distribution as CompiledNetwork.init, other numbers)",
    )
    verify_dtype = ("float64", 1e-10)

    def kernel_constant(self, arg: str) -> str:
        return f"_t = functools.partial(torch.tensor, dtype=_dtype, device={arg}.device)"

    def dtype_line(self, dtype: np.dtype) -> str:
        return f"_dtype = torch.{dtype.name}"

    def constant(self) -> str:
        return "torch.tensor"

    def network_runtime(self, seeded: bool) -> list[str]:
        return [emit_functions(_batch, _check)]

    def dropout_masks(self, keep: float, hidden: tuple[int, ...]) -> tuple[str, list[str]]:
        return "seed, m", [
            "if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:",
            "    raise ValueError(f'seed: expected an integer from 0 to 2**63 - 1 (it fixes the dropout masks), got {seed!r}')",
            "generator = torch.Generator().manual_seed(int(seed))",
            "# mask ~ Bernoulli(1 − p): u ~ U[0, 1) in float64, kept where u < 1 − p.",
            f"return [(torch.rand((m, n), generator=generator, dtype=torch.float64) < {keep!r}).to(_dtype) for n in {hidden!r}]",
        ]

    def entry_point(self, name: str) -> str:
        return f"@torch.no_grad()\ndef {name}("

    def optimizer_runtime(self) -> list[str]:
        return [emit_functions(_check_params, _check_state, _check_hyper)]

    def train_step_doc(self) -> str:
        return ("train_step(params, X, Y, lr): one step of gradient descent on the tensors of params, in place; "
                "returns the loss before it.")

    def as_arrays(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        import torch

        return {k: torch.from_numpy(v.copy()) for k, v in params.items()}

    def custom_gradient_helpers(self) -> str:
        return emit_functions(_prepare, _broadcast_shape, _finish, _unbroadcast, _save, _saved)

    def custom_gradient_public(self, plan: Any) -> list[str]:
        return [class_name(plan.name)]

    def custom_gradient_wrapper(self, plan: Any) -> str:
        """``class Name(torch.autograd.Function)`` whose backward calls the printed derivatives, and ``NAME = Name.apply``."""
        n, args = plan.name, ", ".join(plan.inputs)
        cls = class_name(n)
        kind = "vjp" if plan.vector else "d"
        forward = f"{n}_forward(*args)" if plan.vector else f"_finish({n}_forward(*args), *args)"
        if plan.reduce_sum:
            forward = f"torch.sum({forward})"
        lines = []
        for i, a in enumerate(plan.inputs):
            if plan.vector and not plan.scalar_output:
                value = f"{n}_vjp_{a}({args}, g)"
            elif plan.vector:
                value = f"g[..., None] * {n}_vjp_{a}({args})"
            else:
                value = f"g * {n}_{kind}_{a}({args})"
            lines.append(f"        if ctx.needs_input_grad[{i}]:\n            grads[{i}] = _unbroadcast({value}, originals[{i}])")
        check = ""
        if plan.vector:
            check = (
                "        if any(x.dim() == 0 for x in args):\n"
                f"            raise ValueError(\"{n}: inputs need a last axis (the classes)\")\n"
            )
        grad_lines = "\n".join(lines)
        return f'''
class {cls}(torch.autograd.Function):
    """{plan.title.splitlines()[0]} — forward: the stable form; backward: the symbolic derivative.

    The backward pass is made of differentiable torch operations, so second
    derivatives (torch.autograd.gradgradcheck) are those of the printed derivative.
    """

    @staticmethod
    def forward(ctx, {args}):
        _save(ctx, ({args},))
        args = _prepare({args})
{check}        return {forward}

    @staticmethod
    def backward(ctx, g):
        originals = _saved(ctx)
        ({args},) = _prepare(*originals)
        grads = [None] * {len(plan.inputs)}
{grad_lines}
        return tuple(grads)


{n} = {cls}.apply
'''
