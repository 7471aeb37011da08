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

#: The classes of a generated torch module (reads _SEEDED, _BUFFERED and _BUFFERS); __RESULT__, __CONTEXT__, __OUTPUTS__,
#: __GRADIENT__, __SCALED__, __MOVE__, __DATA__, __INPUTS__, __WORDS__, __KIND__, __COUNT__ and __TAKES__ are replaced by
#: module_class.
MODULE_CLASS = '''
class _LossAndGrad(torch.autograd.Function):
    """C from the printed loss_and_grad; backward: g · ∂C/∂param of the printed backprop for each parameter (none for the data).

    Modern style (forward without ctx, setup_context), so torch.func.grad and functional_call run it. The
    gradients are outputs too: a second derivative reaches them, and backward refuses it in one line. Under
    torch.func.vmap each slice is one call of the printed loss_and_grad (per-sample gradients, ensembles). float16
    with a loss scale: forward gives C (and the checked data) alone, and backward computes the gradients with its
    incoming gradient as the scale (_ScaledGradient).
    """

    @staticmethod
    def forward(count, seed, checks, *tensors):
        data, arrays = tensors[:count], tensors[count:]  # the data (inputs, then targets), then the parameters
        params = dict(zip((name for name, _ in _SPECS), arrays))
        if checks:  # read here, where the tensors are plain: Module.forward under vmap cannot read a value
            data = _check(params, *data, False)[len(_SPECS):]
__RESULT__
    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)
        ctx.count = inputs[0]
__CONTEXT__
    @staticmethod
    def vmap(info, in_dims, count, seed, checks, *tensors):
        # The printed gradient is the whole batch's (Σ over its rows), so a vmapped dimension cannot be folded into the
        # batch: each slice (a sample of torch.func's per-sample-gradient recipe, a member of an ensemble's
        # parameters) is its own loss_and_grad. Its masks come from seed, the same for every slice. Each slice goes
        # through apply, not forward: under a vmap of the vmap (ensemble × samples) the outer level comes back here,
        # and a module's own nn.Parameters under vmap get a backward through each slice.
        if _BUFFERS:  # a slice would be a batch of its own: other batch statistics, and moving ones moved per slice
            raise RuntimeError("Module: torch.func.vmap over a graph with batch norm is not supported: its batch "
                               "statistics tie the samples together; call loss_and_grad on the batch")
        if seed is not None and info.randomness == "different":
            raise RuntimeError(_DIFFERENT)
        slices = []
        for index in range(info.batch_size):
            picked = [t if d is None else t.select(d, index) for t, d in zip(tensors, in_dims[3:])]
            slices.append(_LossAndGrad.apply(count, seed, checks, *picked))
        return tuple(torch.stack(values) for values in zip(*slices)), (0,) * (1 + __OUTPUTS__)

    @staticmethod
    def backward(ctx, g, *through_grads):
        # ∂/∂θ of ∂C/∂θ: the printed gradient is not a torch graph. Dynamo traces backward with every output's
        # gradient given; a second derivative of a compiled region is refused by torch itself.
        if any(t is not None for t in through_grads) and not getattr(torch.compiler, "is_compiling", lambda: False)():
            raise RuntimeError(_SECOND)
        if g is None:
            return (None,) * (3 + ctx.count + len(_SPECS))
__GRADIENT__


_DIFFERENT = ("Module: torch.func.vmap(randomness='different') asks for other masks per sample, but every slice's masks "
              "come from one seed; use randomness='same' (the same masks for every sample) or loss_and_grad per sample")
_SECOND = ("Module: no second derivatives: its gradient is the printed BP1-BP4, not differentiable by torch (double "
           "backward, torch.func.hessian or grad of grad)")
__SCALED__

class Module(torch.nn.Module):
    """C = loss(params, __DATA__) as a torch.nn.Module: forward(__DATA__) returns C; C.backward() puts ∂C/∂param in .grad.

    params: a dict as init_params returns (copied into nn.Parameter). checks=False skips the argument checks
    (no read-back to the host: the _unchecked entry points). forward(__DATA__, *, seed=None) trains (dropout masks
    from seed, default a seed drawn from torch's generator); in eval mode (module.eval) it returns inference_loss (no
    dropout, no gradient). predict(__INPUTS__) is forward(params, __INPUTS__); as_params() the dict the module's
    functions take, sharing the parameters' storage. torch.func.grad over torch.func.functional_call gives the same
    gradient, and torch.func.vmap over that one gradient per sample (one loss_and_grad call each). .to(device) moves
    it; a cast to another dtype is refused. A graph's buffers (batch norm's moving statistics) are registered buffers
    (in state_dict), moved by forward in training as torch.nn.BatchNorm1d moves its own. Refused: a network's batch
    norm (its running statistics change in train_step, not through autograd), torch.func.vmap over a graph with batch
    norm (its batch statistics tie the samples together), data requiring grad, second derivatives.
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

    def forward(self, __DATA__, *more, seed=None):
        if more:  # seed is keyword-only: an argument after the data is neither read as data nor as a seed
            raise TypeError(f"Module.forward takes __TAKES__ (__DATA__) and seed by keyword only "
                            f"(forward(__DATA__, seed=...)), got {__COUNT__ + len(more)}")
        arrays = [getattr(self, name) for name, _ in _SPECS]
        data = (__DATA__,)
        if any(getattr(value, "requires_grad", False) for value in data):
            raise ValueError("Module: __WORDS__ must not require grad; the printed gradient is the parameters' only (detach them)")
        if not self.training:
            return (inference_loss if self.checks else inference_loss_unchecked)(self.as_params(), *data)
        if _SEEDED and seed is None:  # new masks per call, as torch.nn.Dropout (torch.manual_seed repeats them)
            draw = torch.randint(2**62, (), device="cpu")  # a number on the host: no read-back from the data's device
            try:
                seed = int(draw)
            except RuntimeError:  # under vmap(randomness='different') the draw is one number per sample
                raise RuntimeError(_DIFFERENT) from None
        elif not _SEEDED and seed is not None:
            raise ValueError("seed: this __KIND__ draws no masks (no dropout); leave seed out")
        outputs = _LossAndGrad.apply(len(data), seed, self.checks, *data, *arrays)
__MOVE__        return outputs[0]

    def _apply(self, fn, recurse=True):
        # .to, .double, .half, .cuda, … all come here. A move to another device is applied; a cast is refused before
        # any parameter changes: the printed code computes in the dtype it was generated for (its constants, masks
        # and checks are that dtype's), so a float32 module is generated in float32, not cast.
        for parameter in self.parameters():
            cast = fn(torch.empty(0, dtype=parameter.dtype, device=parameter.device)).dtype
            if cast != parameter.dtype:
                raise TypeError(f"Module: its parameters are {parameter.dtype}, the dtype its code was generated for, "
                                f"and cannot become {cast}; generate the module for {cast} instead (dtype= of "
                                "network_module_source or graph_module_source, symdl codegen --dtype)")
            break
        return super()._apply(fn, recurse)

    def predict(self, __INPUTS__):
        """The output for the rows of the inputs (inference: no dropout), from the module-level forward."""
        return (forward if self.checks else forward_unchecked)(self.as_params(), __INPUTS__)
'''

#: _LossAndGrad's forward result, setup_context, number of outputs but the loss and backward result: the gradients
#: computed in forward at the static scale, saved, and multiplied by the incoming gradient g in backward
RESULT = """        __LOSS_AND_GRAD__
        # a buffer has no gradient: zeros, which autograd drops (it requires none); then the moved buffers
        return (loss, *(grads[name] if name in grads else torch.zeros_like(params[name]) for name, _ in _SPECS),
                *(moved[name] for name in _BUFFERS))
"""
CONTEXT = """        ctx.save_for_backward(*output[1:1 + len(_SPECS)])
        ctx.mark_non_differentiable(*output[1 + len(_SPECS):])
"""
GRADIENT = """        return (None, None, None, *(None,) * ctx.count, *(g * d for d in ctx.saved_tensors))"""

#: The same for float16 with a loss scale: forward computes the loss alone (its outputs: C, then the data as
#: checked); backward computes the gradients with the incoming gradient g as the scale (torch.amp.GradScaler's S
#: or 1), through _ScaledGradient, and returns g · ∂C/∂param, the scaled gradients GradScaler unscales
SCALED_RESULT = """        # float16 with a loss scale: the gradients wait for backward, whose incoming gradient is the scale; the data
        # as checked are outputs for it (views: torch saves no input returned as it is)
        return (loss_unchecked(params, *data, *(() if seed is None else (seed,))), *(d.view_as(d) for d in data))
"""
SCALED_CONTEXT = """        ctx.seed = inputs[1]
        ctx.save_for_backward(*output[1:], *inputs[3 + ctx.count:])  # the checked data, the parameters
        ctx.mark_non_differentiable(*output[1:])
"""
SCALED_GRADIENT = """        scale = torch.where(g == 0, torch.ones_like(g), g)  # 0 · ∂C/∂θ is 0, not 0/0; on the device: nothing read back
        # traced by torch.compile as a plain call (a compiled region's second derivative is torch's to refuse)
        compiling = getattr(torch.compiler, "is_compiling", lambda: False)()
        gradients = (_scaled_gradients if compiling else _ScaledGradient.apply)(ctx.seed, scale, *ctx.saved_tensors)
        return (None, None, None, *(None,) * ctx.count, *(g * d for d in gradients))"""
SCALED_CLASS = '''

class _ScaledGradient(torch.autograd.Function):
    """∂C/∂param of the printed backprop with its seed ℓ'/m multiplied by ``scale`` before it is rounded to _dtype.

    _LossAndGrad's backward calls it with its incoming gradient g: the float16 backward sees g · ℓ'/m, and a small
    gradient is not flushed to zero when g is GradScaler's S. As _LossAndGrad's gradients, a derivative of these
    reaches backward, which refuses it in one line; under torch.func.vmap each slice is one call.
    """

    @staticmethod
    def forward(seed, scale, *tensors):
        return _scaled_gradients(seed, scale, *tensors)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def vmap(info, in_dims, seed, scale, *tensors):
        slices = []
        for index in range(info.batch_size):  # one loss_and_grad per slice, as _LossAndGrad.vmap
            scale_at, *picked = [t if d is None else t.select(d, index) for t, d in zip((scale, *tensors), in_dims[1:])]
            slices.append(_ScaledGradient.apply(seed, scale_at, *picked))
        return tuple(torch.stack(values) for values in zip(*slices)), (0,) * len(_SPECS)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(_SECOND)  # (torch.compile traces _LossAndGrad's backward calling _scaled_gradients)


def _scaled_gradients(seed, scale, *tensors):
    """The gradients of the parameters (the last len(_SPECS) tensors; the data before them) at the loss scale ``scale``."""
    data, arrays = tensors[:len(tensors) - len(_SPECS)], tensors[len(tensors) - len(_SPECS):]
    params = dict(zip((name for name, _ in _SPECS), arrays))
    _, grads = _loss_and_grad_scaled(params, *data, scale, *(() if seed is None else (seed,)))
    return tuple(grads[name] if name in grads else torch.zeros_like(params[name]) for name, _ in _SPECS)
'''


#: Module.forward in training, for a graph with buffers: the moving statistics the training call computed (the last
#: outputs of _LossAndGrad, from the loss's own forward), written into the registered buffers
MOVE_BUFFERS = '''
        with torch.no_grad():  # as train_step moves them
            for name, value in zip(_BUFFERS, outputs[1 + len(_SPECS):]):
                getattr(self, name).copy_(value)
'''


def module_class(seeded: bool, inputs: Sequence[str], targets: Sequence[str], kind: str = "network",
                 buffers: bool = False, scaled: bool = False) -> str:
    """The ``Module`` block for a module whose entry points take ``(params, *inputs, *targets[, seed])``.

    ``seeded``: a layer draws masks; ``kind`` names the model in the seed's error line. ``seed`` is keyword-only
    (an argument after the data is a TypeError, neither data nor a seed). ``buffers``: a graph module whose
    ``_loss_grad_moved`` gives the loss, the gradients and the buffers' new values (batch norm's moving statistics)
    from one training forward; forward writes them into the registered buffers. ``scaled``: float16 with a loss
    scale: forward computes the loss alone, backward the gradients with its incoming gradient as the scale
    (``_loss_and_grad_scaled``: the printed loss_and_grad with the scale an argument), which is how
    ``torch.amp.GradScaler``'s S reaches the float16 backward.
    """
    names = [*inputs, *targets]
    words = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    # with buffers, their new values (a graph's moving statistics) from the same training forward as the loss
    call = ("loss, grads, moved = _loss_grad_moved(params, *data, *(() if seed is None else (seed,)))" if buffers else
            "(loss, grads), moved = loss_and_grad_unchecked(params, *data, *(() if seed is None else (seed,))), {}")
    parts = {"__RESULT__": SCALED_RESULT if scaled else RESULT, "__CONTEXT__": SCALED_CONTEXT if scaled else CONTEXT,
             "__GRADIENT__": SCALED_GRADIENT if scaled else GRADIENT, "__OUTPUTS__": "count" if scaled else "len(_SPECS)",
             "__SCALED__": SCALED_CLASS if scaled else ""}
    text = MODULE_CLASS.strip("\n")
    for key, value in parts.items():
        text = text.replace(key, value)
    text = (text.replace("__LOSS_AND_GRAD__", call).replace("__MOVE__", MOVE_BUFFERS.lstrip("\n") if buffers else "")
            .replace("__DATA__", ", ".join(names)).replace("__INPUTS__", ", ".join(inputs))
            .replace("__WORDS__", words).replace("__KIND__", kind)
            .replace("__TAKES__", f"{len(names)} positional argument{'s' * (len(names) != 1)}")
            .replace("__COUNT__", str(len(names))))
    return f"_SEEDED = {seeded!r}\n\n" + text + "\n"
