"""``Module``: a generated PyTorch network or graph module as a ``torch.nn.Module``, for torch's optimizers and DDP.

``Module(params)`` holds the parameters as ``nn.Parameter``; ``Module.forward(X, Y)`` (a graph's: its inputs, then its targets)
returns the cost C through an ``autograd.Function`` whose forward calls the printed
``loss_and_grad_unchecked`` and whose backward returns the printed gradients
scaled by the incoming gradient: ``loss.backward()`` fills each parameter's
``.grad`` with ∂C/∂param of BP1–BP4, never torch's autodiff of the printed code.
So ``torch.optim``, gradient clipping and
``torch.nn.parallel.DistributedDataParallel`` (which averages ``.grad`` over the
processes) apply as to any module.

The source below is copied into the module by :func:`module_class`
(:meth:`symdl.backends.torch.TorchBackend.network_module_class` and ``graph_module_class``), where
``torch``, ``_SPECS``, ``_check``, ``_check_params`` and the printed entry points are bound.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["module_class"]

#: The classes of a generated torch module (reads _SEEDED, _BUFFERED and _BUFFERS); __DATA__, __INPUTS__, __WORDS__ and
#: __KIND__ are replaced by module_class.
MODULE_CLASS = '''
class _LossAndGrad(torch.autograd.Function):
    """C from the printed loss_and_grad; backward: g · ∂C/∂param of the printed backprop for each parameter (none for the data).

    Modern style (forward without ctx, setup_context), so torch.func.grad and functional_call run it. The
    gradients are outputs too: a second derivative reaches them, and backward refuses it in one line.
    """

    @staticmethod
    def forward(count, seed, *tensors):
        data, arrays = tensors[:count], tensors[count:]  # the data (inputs, then targets), then the parameters
        params = dict(zip((name for name, _ in _SPECS), arrays))
        loss, grads = loss_and_grad_unchecked(params, *data, *(() if seed is None else (seed,)))
        # a buffer (a graph's moving statistics) has no gradient: zeros, which autograd drops (it requires none)
        return (loss, *(grads[name] if name in grads else torch.zeros_like(params[name]) for name, _ in _SPECS))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)
        ctx.count = inputs[0]
        ctx.save_for_backward(*output[1:])

    @staticmethod
    def vmap(info, in_dims, *args):
        raise RuntimeError("Module: torch.func.vmap (and jacfwd, jacrev, hessian over it) is not supported: the "
                           "printed gradient is the batch's; call loss_and_grad per sample, or backward() on the batch")

    @staticmethod
    def backward(ctx, g, *through_grads):
        # ∂/∂θ of ∂C/∂θ: the printed gradient is not a torch graph. Dynamo traces backward with every output's
        # gradient given; a second derivative of a compiled region is refused by torch itself.
        if any(t is not None for t in through_grads) and not getattr(torch.compiler, "is_compiling", lambda: False)():
            raise RuntimeError("Module: no second derivatives: its gradient is the printed BP1-BP4, not differentiable "
                               "by torch (double backward, torch.func.hessian or grad of grad)")
        if g is None:
            return (None,) * (2 + ctx.count + len(_SPECS))
        return (None, None, *(None,) * ctx.count, *(g * d for d in ctx.saved_tensors))


class Module(torch.nn.Module):
    """C = loss(params, __DATA__) as a torch.nn.Module: forward(__DATA__) returns C; C.backward() puts ∂C/∂param in .grad.

    params: a dict as init_params returns (copied into nn.Parameter). checks=False skips the argument checks
    (no read-back to the host: the _unchecked entry points). forward(__DATA__, __SEED__) trains (dropout masks
    from seed, default a seed drawn from torch's generator); in eval mode (module.eval) it returns inference_loss (no
    dropout, no gradient). predict(__INPUTS__) is forward(params, __INPUTS__); as_params() the dict the module's
    functions take, sharing the parameters' storage. torch.func.grad over torch.func.functional_call gives the same
    gradient. A graph's buffers (batch norm's moving statistics) are registered buffers (in state_dict), moved by
    forward in training as torch.nn.BatchNorm1d moves its own. Refused: a network's batch norm (its running statistics
    change in train_step, not through autograd), data requiring grad, second derivatives, and torch.func.vmap.
    """

    def __init__(self, params, checks=True):
        super().__init__()
        if _BUFFERED:
            raise ValueError("Module: batch norm is not supported (its running statistics change in train_step, not "
                             "through autograd); use train_step, or a network without batch norm")
        for (name, _), array in zip(_SPECS, _check_params(params)):
            if name in _BUFFERS:
                self.register_buffer(name, array.detach().clone())
            else:
                self.register_parameter(name, torch.nn.Parameter(array.detach().clone()))
        self.checks = bool(checks)

    def extra_repr(self):
        """The parameters' names and shapes in print(module), as torch.nn.Linear shows its sizes."""
        return ", ".join(f"{name}: {shape}" for name, shape in _SPECS) + ("" if self.checks else ", checks=False")

    def as_params(self):
        """The parameters as the dict of tensors the module's functions take (detached, sharing storage)."""
        return {name: getattr(self, name).detach() for name, _ in _SPECS}

    def forward(self, __DATA__, __SEED__):
        arrays = [getattr(self, name) for name, _ in _SPECS]
        data = (__DATA__,)
        if self.checks:
            data = _check(dict(zip((name for name, _ in _SPECS), arrays)), *data, False)[len(_SPECS):]
        if any(getattr(value, "requires_grad", False) for value in data):
            raise ValueError("Module: __WORDS__ must not require grad; the printed gradient is the parameters' only (detach them)")
        if not self.training:
            return inference_loss_unchecked(self.as_params(), *data)
        if _SEEDED and seed is None:  # new masks per call, as torch.nn.Dropout (torch.manual_seed repeats them)
            seed = int(torch.randint(2**62, (), device="cpu"))  # a number on the host: no read-back from the data's device
        elif not _SEEDED and seed is not None:
            raise ValueError("seed: this __KIND__ draws no masks (no dropout); leave seed out")
        loss = _LossAndGrad.apply(len(data), seed, *data, *arrays)[0]
        if _BUFFERS:  # the moving statistics after this batch, as train_step moves them
            with torch.no_grad():
                moved = _moved_buffers(self.as_params(), *data[:len(_INPUTS)], *(() if seed is None else (seed,)))
                for name, value in moved.items():
                    getattr(self, name).copy_(value)
        return loss

    def predict(self, __INPUTS__):
        """The output for the rows of the inputs (inference: no dropout), from the module-level forward."""
        return (forward if self.checks else forward_unchecked)(self.as_params(), __INPUTS__)
'''


def module_class(seeded: bool, inputs: Sequence[str], targets: Sequence[str], kind: str = "network") -> str:
    """The ``Module`` block for a module whose entry points take ``(params, *inputs, *targets[, seed])``.

    ``seeded``: a layer draws masks; ``kind`` names the model in the seed's error line. A graph's ``seed`` is
    keyword-only (an extra data array is then a TypeError, not a seed); a network's stays positional, as released.
    """
    names = [*inputs, *targets]
    words = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    text = (MODULE_CLASS.strip("\n").replace("__DATA__", ", ".join(names)).replace("__INPUTS__", ", ".join(inputs))
            .replace("__WORDS__", words).replace("__KIND__", kind)
            .replace("__SEED__", "seed=None" if kind == "network" else "*, seed=None"))
    return f"_SEEDED = {seeded!r}\n\n" + text + "\n"
