"""``Module``: a generated PyTorch network module as a ``torch.nn.Module``, for torch's optimizers and DDP.

``Module(params)`` holds the parameters as ``nn.Parameter``; ``Module.forward(X, Y)``
returns the cost C through an ``autograd.Function`` whose forward calls the printed
``loss_and_grad_unchecked`` and whose backward returns the printed gradients
scaled by the incoming gradient: ``loss.backward()`` fills each parameter's
``.grad`` with ∂C/∂param of BP1–BP4, never torch's autodiff of the printed code.
So ``torch.optim``, gradient clipping and
``torch.nn.parallel.DistributedDataParallel`` (which averages ``.grad`` over the
processes) apply as to any module.

The source below is copied into the module by
:meth:`symdl.backends.torch.TorchBackend.network_module_class`, where
``torch``, ``_SPECS``, ``_BUFFERED`` and the printed entry points are bound.
"""

from __future__ import annotations

__all__ = ["MODULE_CLASS"]

#: The classes of a generated torch network module (reads _SEEDED, set by the block that holds them).
MODULE_CLASS = '''
class _LossAndGrad(torch.autograd.Function):
    """C from the printed loss_and_grad; backward: g · ∂C/∂param of BP1–BP4 for each parameter (none for X, Y, seed).

    Modern style (forward without ctx, setup_context), so torch.func.grad and functional_call run it. The
    gradients are outputs too: a second derivative reaches them, and backward refuses it in one line.
    """

    @staticmethod
    def forward(X, Y, seed, *arrays):
        params = dict(zip((name for name, _ in _SPECS), arrays))
        loss, grads = loss_and_grad_unchecked(params, X, Y, *(() if seed is None else (seed,)))
        return (loss, *(grads[name] for name, _ in _SPECS))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)
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
            return (None,) * (3 + len(_SPECS))
        return (None, None, None, *(g * d for d in ctx.saved_tensors))


class Module(torch.nn.Module):
    """C = loss(params, X, Y) as a torch.nn.Module: forward(X, Y) returns C; C.backward() puts ∂C/∂param of BP1-BP4 in .grad.

    params: a dict as init_params returns (copied into nn.Parameter). checks=False skips the argument checks
    (no read-back to the host: the _unchecked entry points). forward(X, Y, seed=None) trains (dropout masks
    from seed, default a seed drawn from torch's generator); in eval mode (module.eval) it returns inference_loss (no
    dropout, no gradient). predict(X) is forward(params, X); as_params() the dict the module's functions
    take, sharing the parameters' storage. torch.func.grad over torch.func.functional_call gives the same gradient.
    Refused: batch norm (its running statistics change in train_step, not through autograd), X or Y requiring
    grad, second derivatives, and torch.func.vmap.
    """

    def __init__(self, params, checks=True):
        super().__init__()
        if _BUFFERED:
            raise ValueError("Module: batch norm is not supported (its running statistics change in train_step, not "
                             "through autograd); use train_step, or a network without batch norm")
        for (name, _), array in zip(_SPECS, _check_params(params)):
            self.register_parameter(name, torch.nn.Parameter(array.detach().clone()))
        self.checks = bool(checks)

    def as_params(self):
        """The parameters as the dict of tensors the module's functions take (detached, sharing storage)."""
        return {name: getattr(self, name).detach() for name, _ in _SPECS}

    def forward(self, X, Y, seed=None):
        arrays = [getattr(self, name) for name, _ in _SPECS]
        if self.checks:
            *_, X, Y = _check(dict(zip((name for name, _ in _SPECS), arrays)), X, Y)
        if getattr(X, "requires_grad", False) or getattr(Y, "requires_grad", False):
            raise ValueError("Module: X and Y must not require grad; the printed gradient is the parameters' only (detach them)")
        if not self.training:
            return inference_loss_unchecked(self.as_params(), X, Y)
        if _SEEDED and seed is None:  # new masks per call, as torch.nn.Dropout (torch.manual_seed repeats them)
            seed = int(torch.randint(2**62, (), device="cpu"))  # a number on the host: no read-back from X's device
        elif not _SEEDED and seed is not None:
            raise ValueError("seed: this network draws no masks (no dropout); leave seed out")
        return _LossAndGrad.apply(X, Y, seed, *arrays)[0]

    def predict(self, X):
        """a^L for the rows of X (inference: no dropout), from the module-level forward."""
        return (forward if self.checks else forward_unchecked)(self.as_params(), X)
'''
