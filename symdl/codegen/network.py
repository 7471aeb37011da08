"""BP1–BP4 equations → one flat numpy function per entry point, printed by symdl.

The equations (:mod:`symdl.backprop.equations`) are written for one sample with column
vectors. The printed code works on a batch held in rows, ``X`` of shape
(m, n₀), so every per-sample vector v becomes the rows of a matrix V and

    W v        → V @ W.T          (Wᵀ d → D @ W)
    d (a)ᵀ     → D.T @ A          (BP4, summed over the batch)
    δ (BP3)    → D.sum(axis=0)    (a parameter's gradient sums over samples)

The 1/m of the batch mean is applied once, to ∇ₐC. Statements reuse their
buffers where the equations allow it (``Z += b``, ``numpy.tanh(Z, out=Z)``,
``D *= σ'(A)``): a buffer is overwritten only when no later equation reads
the value it holds, decided from the equations themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..backprop.equations import (
    BackpropEquations,
    Elementwise,
    KernelCall,
    LossForms,
    VectorRuleCall,
)
from .kernel import _Printer, printable

__all__ = ["ARRAY_BACKENDS", "ArrayBackend", "NetworkSource", "buffer_names", "parameter_names", "print_network"]


@dataclass(frozen=True)
class ArrayBackend:
    """How the printed network spells its array library.

    ``module`` is the name the code calls (``numpy``, ``jnp``, ``torch``).
    ``out_param``: element-wise calls may write into a dead buffer (``f(z,
    out=z)``). ``functional``: arrays are immutable (JAX), so the argument
    unpacking is the pure ``_unpack`` (checks run outside ``jax.jit``), lr is
    taken as given, and ``train_step`` returns ``(loss, new params)`` instead
    of writing into params. ``x *= y`` stays: on an immutable array Python
    rebinds the name, which liveness already allows.
    """

    name: str
    module: str
    out_param: bool = True
    functional: bool = False

    def printer(self) -> _Printer:
        if self.name == "numpy":
            return _Printer()
        from ..backends.printers import printer_for

        return printer_for(self.name)

    def ufunc_call(self) -> re.Pattern[str]:
        """``module.f(args)`` with no call inside: a candidate for ``module.f(args, out=Z)``."""
        return re.compile(rf"{self.module}\.(\w+)\(([^()]*)\)")


ARRAY_BACKENDS: dict[str, ArrayBackend] = {
    "numpy": ArrayBackend("numpy", "numpy"),
    "jax": ArrayBackend("jax", "jnp", out_param=False, functional=True),
    "torch": ArrayBackend("torch", "torch"),
}


@dataclass
class _Scope:
    """Python names of the matrix symbols, which ones hold a batch in rows, and which are inputs."""

    names: dict[sp.MatrixSymbol, str]
    batched: set[sp.MatrixSymbol]
    inputs: set[str]
    backend: ArrayBackend = ARRAY_BACKENDS["numpy"]
    printer: _Printer = field(default_factory=_Printer)
    temps: Iterable[sp.Symbol] = field(default_factory=lambda: sp.numbered_symbols("_e"))
    aliases: dict[sp.MatrixSymbol, str] = field(default_factory=dict)
    widths: Mapping[sp.Expr, int] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)

    def name(self, symbol: sp.MatrixSymbol) -> str:
        return self.aliases.get(symbol, self.names[symbol])

    def is_batched(self, expr: sp.MatrixExpr) -> bool:
        """Whether ``expr`` holds one row per sample (an outer product d aᵀ is summed over them)."""
        if isinstance(expr, sp.MatrixSymbol):
            return expr in self.batched
        if _is_outer(expr, self):
            return False
        return any(self.is_batched(a) for a in expr.args if isinstance(a, sp.MatrixExpr))


def _is_outer(expr: sp.MatrixExpr, scope: _Scope) -> bool:
    """d aᵀ of two per-sample vectors: a parameter-shaped sum over the batch."""
    if isinstance(expr, sp.MatMul) and len(expr.args) == 2 and isinstance(expr.args[1], sp.Transpose):
        return expr.args[0] in scope.batched and expr.args[1].arg in scope.batched
    return False


@dataclass(frozen=True)
class NetworkSource:
    """Printed entry points: the module source and the names its namespace must provide."""

    source: str
    kernels: Mapping[str, tuple[str, str]]  # python name → (vector rule, "value" | "vjp")


class _Function:
    """Statements of one generated function, with liveness: which symbols later statements read."""

    def __init__(self, scope: _Scope, equations: Sequence[sp.Eq], keep: Iterable[sp.MatrixSymbol]) -> None:
        self.scope = scope
        self.equations = list(equations)
        self.lines: list[str] = []
        # Symbols read by equation k or later, and the ones returned at the end.
        reads: list[set[sp.MatrixSymbol]] = [set() for _ in range(len(self.equations) + 1)]
        reads[-1] = set(keep)
        for k in range(len(self.equations) - 1, -1, -1):
            reads[k] = reads[k + 1] | self.equations[k].rhs.atoms(sp.MatrixSymbol)
        self.reads_after = reads[1:]

    def emit_all(self) -> list[str]:
        for k, eq in enumerate(self.equations):
            self._emit(eq, self.reads_after[k])
        return self.lines

    # --- statements ----------------------------------------------------------

    def _emit(self, eq: sp.Eq, live: set[sp.MatrixSymbol]) -> None:
        lhs, rhs = eq.lhs, eq.rhs
        scope = self.scope
        if isinstance(lhs, sp.Tuple):  # a kernel with several results (batch norm's forward and VJP)
            self.lines.append(f"{', '.join(scope.names[t] for t in lhs)} = {self._code(rhs)}")
            return
        target = scope.names[lhs]
        reducing = lhs not in scope.batched and scope.is_batched(rhs)
        if reducing:  # BP3 and the learned inputs' gradients: a sum over the batch
            if "_ones" not in self.scope.defined:
                self.lines.append(f"_ones = {scope.backend.module}.ones(X.shape[0], dtype=_dtype)")
                self.scope.defined.add("_ones")
            # 1ᵀD: one BLAS matrix-vector product, about 2× numpy.sum(D, axis=0) for a batch of 256 (bench_network).
            self.lines.append(f"{target} = _ones @ {self._parenthesized(rhs)}")
            return
        if isinstance(rhs, sp.MatAdd) and len(rhs.args) == 2:
            first, second = _order_add(rhs.args, scope)
            self.lines.append(f"{target} = {self._code(first)}")
            self.lines.append(f"{target} += {self._code(second)}")
            return
        if isinstance(rhs, sp.HadamardProduct) and len(rhs.args) == 2:
            self._emit_product(target, rhs, live)
            return
        if isinstance(rhs, Elementwise) and self._emit_elementwise(lhs, rhs, live):
            return
        self.lines.append(f"{target} = {self._code(rhs)}")

    def _emit_product(self, target: str, rhs: sp.HadamardProduct, live: set[sp.MatrixSymbol]) -> None:
        """U ⊙ f(…) as ``T = U; T *= f(…)``, writing into U's buffer when U is a dead temporary."""
        scope = self.scope
        left, right = sorted(rhs.args, key=lambda a: isinstance(a, Elementwise))
        if isinstance(right, Elementwise) and right.scalar() == 1:
            self.lines.append(f"{target} = {self._code(left)}")
            return
        if isinstance(left, sp.MatrixSymbol):
            name = scope.name(left)
            if left in live or name in scope.inputs:
                self.lines.append(f"{target} = {name} * {self._code(right)}")
                return
            self.lines.append(f"{name} *= {self._code(right)}")
            self.lines.append(f"{target} = {name}")
            return
        self.lines.append(f"{target} = {self._code(left)}")
        self.lines.append(f"{target} *= {self._code(right)}")

    def _emit_elementwise(self, lhs: sp.MatrixSymbol, rhs: Elementwise, live: set[sp.MatrixSymbol]) -> bool:
        """f(Z), into Z's own buffer when Z is a temporary no later statement reads (``numpy.tanh(Z, out=Z)``)."""
        target = self.scope.names[lhs]
        arg = rhs.arrays[0]
        name = self.scope.name(arg) if isinstance(arg, sp.MatrixSymbol) else None
        reusable = len(rhs.arrays) == 1 and name is not None and arg not in live and name not in self.scope.inputs
        if reusable and rhs.scalar() == rhs.function.variables[0]:  # the identity: the output is the input
            self.scope.aliases[lhs] = name
            self.lines.append(f"{target} = {name}")
            return True
        code = self._code(rhs)
        backend = self.scope.backend
        match = backend.ufunc_call().fullmatch(code) if backend.out_param else None
        function = match.group(1) if match else ""
        # where and friends take no out=; ufuncs and clip/clamp do.
        if (
            reusable
            and match
            and name in (a.strip() for a in match.group(2).split(","))
            and (isinstance(getattr(np, function, None), np.ufunc) or function in ("clip", "clamp"))
        ):
            self.lines.append(f"{backend.module}.{function}({match.group(2)}, out={name})")
            self.lines.append(f"{target} = {name}")
        else:
            self.lines.append(f"{target} = {code}")
        return True

    # --- expressions ---------------------------------------------------------

    def _code(self, expr: sp.MatrixExpr) -> str:
        scope = self.scope
        if isinstance(expr, sp.MatrixSymbol):
            return scope.name(expr)
        if isinstance(expr, sp.MatMul):
            return self._matmul(expr)
        if isinstance(expr, sp.MatAdd):
            return " + ".join(self._code(a) for a in expr.args)
        if isinstance(expr, sp.HadamardProduct):
            return " * ".join(f"({self._code(a)})" for a in expr.args)
        if isinstance(expr, Elementwise):
            return self._elementwise(expr)
        if isinstance(expr, KernelCall):
            return f"_{expr.kernel}({', '.join(self._code(a) for a in expr.arrays)})"
        if isinstance(expr, VectorRuleCall):
            args = ", ".join(self._code(a) for a in expr.arrays)
            return f"{_kernel_name(expr.rule, expr.role)}({args})"
        raise ValueError(f"cannot print {type(expr).__name__} as network code: {expr}")

    def _parenthesized(self, expr: sp.MatrixExpr) -> str:
        code = self._code(expr)
        return code if code.isidentifier() else f"({code})"

    def _matmul(self, expr: sp.MatMul) -> str:
        if len(expr.args) != 2:
            raise ValueError(f"network code multiplies two factors at a time, got {expr}")
        left, right = expr.args
        if _is_outer(expr, self.scope):
            return f"{self._code(left)}.T @ {self._code(right.arg)}"
        if isinstance(left, sp.Transpose):  # (Wᵀ d)ᵀ = dᵀ W
            if self.scope.widths.get(left.arg.shape[0]) == 1:
                # W has one row: D @ W is the outer product of a column and a row, a broadcast multiply.
                return f"{self._parenthesized(right)} * {self._code(left.arg)}"
            return f"{self._code(right)} @ {self._code(left.arg)}"
        return f"{self._code(right)} @ {self._code(left)}.T"  # (W v)ᵀ = vᵀ Wᵀ

    def _elementwise(self, expr: Elementwise) -> str:
        """f(X₁, …) printed inline: CSE temporaries become statements, the result an expression."""
        scope = self.scope
        names = [self._code(a) for a in expr.arrays]
        if not all(n.isidentifier() for n in names):
            raise ValueError(f"element-wise function of a compound expression: {expr}")
        body = expr.function.expr.xreplace(
            {v: sp.Symbol(n, real=True) for v, n in zip(expr.function.variables, names)}
        )
        body = printable(body, expr.name)
        if not body.free_symbols:  # a constant derivative: broadcast to the argument's shape
            return f"{scope.backend.module}.full({names[0]}.shape, {scope.printer.doprint(body)}, dtype=_dtype)"
        intermediates, (final,) = sp.cse(body, symbols=scope.temps, optimizations="basic")
        for symbol, value in intermediates:
            self.lines.append(f"{symbol} = {scope.printer.doprint(value)}")
        return scope.printer.doprint(final)


def _order_add(args: Sequence[sp.MatrixExpr], scope: _Scope) -> tuple[sp.MatrixExpr, sp.MatrixExpr]:
    """The term that makes a fresh array first (a product), the one added in place second (a bias, Ω')."""
    first = next((a for a in args if isinstance(a, sp.MatMul)), args[0])
    second = args[1] if first is args[0] else args[0]
    return first, second


def _kernel_name(rule: str, role: str) -> str:
    return f"_{rule}_{role}"


def _names(eqs: BackpropEquations) -> tuple[dict[sp.MatrixSymbol, str], set[sp.MatrixSymbol]]:
    names = {eqs.x: "X", eqs.y: "Y", eqs.loss_gradient.lhs: "gA"}
    batched = {eqs.x, eqs.y, eqs.loss_gradient.lhs}
    for layer in eqs.layers:
        l = layer.index
        names.update({layer.W: f"W{l}", layer.b: f"b{l}", layer.grad_W: f"gW{l}", layer.grad_b: f"gb{l}"})
        names.update({layer.z: f"z{l}", layer.a: f"a{l}", layer.delta: f"d{l}", layer.grad_a: f"ga{l}"})
        names.update({layer.u: f"u{l}", layer.h: f"h{l}", layer.mask: f"r{l}", layer.grad_u: f"gu{l}"})
        names.update({layer.gamma: f"gamma{l}", layer.beta: f"beta{l}"})
        names.update({layer.grad_gamma: f"ggamma{l}", layer.grad_beta: f"gbeta{l}"})
        names.update({layer.batch_mean: f"mean{l}", layer.batch_var: f"var{l}"})
        names.update({layer.running_mean: f"running_mean{l}", layer.running_var: f"running_var{l}"})
        batched |= {layer.z, layer.a, layer.delta, layer.grad_a, layer.u, layer.h, layer.mask, layer.grad_u}
        for extra, grad in zip(layer.extra, layer.grad_extra):
            base = _param_base(extra)
            names[extra], names[grad] = f"{base}{l}", f"g{base}{l}"
    return names, batched


def _param_base(symbol: sp.MatrixSymbol) -> str:
    return symbol.name.split("^")[0].lstrip("\\")


def parameter_names(eqs: BackpropEquations) -> list[str]:
    """The trainable keys of params in order: W1, b1 (none before batch norm), learned activation inputs, γ1, β1, W2, …"""
    names, _ = _names(eqs)
    out = []
    for layer in eqs.layers:
        out.append(names[layer.W])
        if not layer.batchnorm:
            out.append(names[layer.b])
        out += [names[e] for e in layer.extra]
        if layer.batchnorm:
            out += [names[layer.gamma], names[layer.beta]]
    return out


def buffer_names(eqs: BackpropEquations) -> list[str]:
    """The keys of params that are state, not trained: batch norm's running mean and variance."""
    return [n for layer in eqs.layers if layer.batchnorm for n in (f"running_mean{layer.index}", f"running_var{layer.index}")]


def print_network(
    eqs: BackpropEquations,
    loss: LossForms,
    penalty_value: sp.Lambda | None,
    widths: Sequence[int] | None = None,
    inference: BackpropEquations | None = None,
    backend: str = "numpy",
) -> NetworkSource:
    """Source of ``forward``, ``trace`` (every zˡ and aˡ), ``loss``, ``loss_and_grad`` and ``train_step`` for ``eqs``.

    ``widths`` (n₀ … n_L), when known, let a product with a one-row matrix
    print as a broadcast. ``forward`` is printed from ``inference`` (batch
    norm with running statistics, no dropout) when given; the other entry
    points are the training-mode computation.

    The namespace must provide ``numpy``, ``_dtype``, ``_t`` (its scalar
    type), ``_check`` (validates params, X, Y and returns the arrays in
    :func:`parameter_names` then :func:`buffer_names` order, then X, Y),
    ``_check_lr``, the vector rule kernels named in
    :attr:`NetworkSource.kernels`, and with batch norm or dropout ``_bn_*``,
    ``_bn_update`` and ``_masks``.

    ``backend`` ("numpy", "jax", "torch", see :data:`ARRAY_BACKENDS`) picks the
    array library; a functional backend's namespace provides the pure
    ``_unpack(params, X, Y)`` in place of ``_check`` and ``_check_lr``.
    """
    if backend not in ARRAY_BACKENDS:
        raise ValueError(f"unknown array backend {backend!r}; accepted: {', '.join(ARRAY_BACKENDS)}")
    array = ARRAY_BACKENDS[backend]
    check = "_unpack" if array.functional else "_check"
    names, batched = _names(eqs)
    params = parameter_names(eqs)
    buffers = buffer_names(eqs)
    inputs = {*params, *buffers, "X", "Y"}
    kernels: dict[str, tuple[str, str]] = {}
    for eq in [*eqs.all(), *(inference.all() if inference else [])]:
        for call in eq.rhs.atoms(VectorRuleCall):
            kernels[_kernel_name(call.rule, call.role)] = (call.rule, call.role)
    if loss.vector_rule is not None:
        kernels[_kernel_name(loss.vector_rule, "value")] = (loss.vector_rule, "value")
    top = eqs.layers[-1]
    unpack = ", ".join([*params, *buffers, "X", "Y"])
    fwd_unpack = ", ".join([*params, *buffers, "X"])
    masked = [layer for layer in eqs.layers if layer.keep is not None]
    masks = [f"{', '.join(names[layer.mask] for layer in masked)}, = _masks(seed, X.shape[0])"] if masked else []
    seed = ", seed=0" if masked else ""
    header = [f"{unpack} = {check}(params, X, Y)", *masks]

    known = {} if widths is None else {sp.Symbol(f"n_{l}", integer=True, positive=True): n for l, n in enumerate(widths)}

    def scope() -> _Scope:
        return _Scope(names=names, batched=batched, inputs=inputs, widths=known, backend=array, printer=array.printer())

    out_name = f"a{top.index}"
    sources = []
    forward = _Function(scope(), (inference or eqs).forward, keep=[top.a]).emit_all()
    sources.append(
        _def("forward", "params, X", [f"{fwd_unpack}, _ = {check}(params, X, None, False, False)", *forward, f"return {out_name}"])
    )
    every = [s for layer in eqs.layers for s in (layer.z, layer.a)]
    trace = _Function(scope(), eqs.forward, keep=every).emit_all()
    traced = ", ".join(f"{names[s]!r}: {names[s]}" for s in every)
    trace_head = [f"{fwd_unpack}, _ = {check}(params, X, None, False, False)", *masks]
    sources.append(_def("trace", f"params, X{seed}", [*trace_head, *trace, f"return {{{traced}}}"]))
    loss_scope = scope()
    loss_lines = _Function(loss_scope, eqs.forward, keep=[top.a]).emit_all()
    loss_lines += _loss_value(loss, loss_scope, out_name, penalty_value, eqs, gradient=False)
    sources.append(_def("loss", f"params, X, Y{seed}", [*header, *loss_lines, "return loss"]))

    grad_scope = scope()
    equations = [*eqs.forward, eqs.loss_gradient, *(eq for _, eq in eqs.backward)]
    read_later = {s for eq in equations[len(eqs.forward):] for s in eq.rhs.atoms(sp.MatrixSymbol)}
    statistics = {s for layer in eqs.layers if layer.batchnorm for s in (layer.batch_mean, layer.batch_var)}
    body = _Function(grad_scope, eqs.forward, keep=read_later | statistics | {top.a}).emit_all()
    body += _loss_value(loss, grad_scope, out_name, penalty_value, eqs, gradient=True)
    body += _Function(grad_scope, [eq for _, eq in eqs.backward], keep=[]).emit_all()
    grads = ", ".join(f"{p!r}: g{p}" for p in params)
    sources.append(_def("loss_and_grad", f"params, X, Y{seed}", [*header, *body, f"return loss, {{{grads}}}"]))
    # Every step is scaled before any parameter is written: an overflow raises with params untouched.
    update = [f"g{p} *= lr" for p in params] + [f"{p} -= g{p}" for p in params]
    for layer in eqs.layers:
        if layer.batchnorm:
            l = layer.index
            call = f"_bn_update(running_mean{l}, running_var{l}, mean{l}, var{l}, X.shape[0])"
            # Immutable arrays: the running statistics come back as new arrays instead of being written in place.
            update.append(f"running_mean{l}, running_var{l} = {call}" if array.functional else call)
    train_head = [*([] if array.functional else ["lr = _check_lr(lr)"]), f"{unpack} = {check}(params, X, Y, True)", *masks]
    if array.functional:  # immutable arrays: the new values are returned, the caller stores them
        new = ", ".join(f"{p!r}: {p}" for p in (*params, *buffers))
        result = f"return loss, {{{new}}}"
    else:
        result = "return loss"
    sources.append(_def("train_step", f"params, X, Y, lr{seed}", [*train_head, *body, *update, result]))
    return NetworkSource(source="\n\n".join(sources), kernels=kernels)


def _loss_value(
    loss: LossForms,
    scope: _Scope,
    out_name: str,
    penalty_value: sp.Lambda | None,
    eqs: BackpropEquations,
    *,
    gradient: bool,
) -> list[str]:
    """C = (1/m) Σ ℓ(aᴸ, y) + Σₗ Σ Ω(Wˡ), and with ``gradient`` also ∇ₐC (the equation's right side)/m into ``gA``.

    When ∇ₐC is ℓ'∘(aᴸ, y), value and gradient share their common subexpressions (a − y).
    """
    lines = ["_inv_m = 1.0 / X.shape[0]"]
    printer = scope.printer
    m = scope.backend.module
    top_a = eqs.layers[-1].a
    rhs = eqs.loss_gradient.rhs
    shared = gradient and isinstance(rhs, Elementwise) and loss.value is not None and rhs.arrays == (top_a, eqs.y)
    if loss.vector_rule is not None:
        lines.append(f"loss = {m}.sum({_kernel_name(loss.vector_rule, 'value')}({out_name}, Y), dtype=_dtype) * _inv_m")
    else:
        a, y = loss.value.variables
        arrays = {a: sp.Symbol(scope.name(top_a), real=True), y: sp.Symbol("Y", real=True)}
        exprs = [printable(loss.value.expr.xreplace(arrays), loss.name)]
        if shared:
            ga, gy = rhs.function.variables
            exprs.append(printable(rhs.scalar().xreplace({ga: arrays[a], gy: arrays[y]}), loss.name))
        intermediates, finals = sp.cse(exprs, symbols=scope.temps, optimizations="basic")
        lines += [f"{s} = {printer.doprint(v)}" for s, v in intermediates]
        # Σ c·f = c·Σ f: the constant (½ of the squared error) multiplies once, not per element.
        coeff, rest = finals[0].as_coeff_Mul()
        scale = "_inv_m" if coeff == 1 else f"({printer.doprint(coeff)} * _inv_m)"
        lines.append(f"loss = {m}.sum({printer.doprint(rest)}, dtype=_dtype) * {scale}")
        if shared:
            code = printer.doprint(finals[1])
            if not finals[1].free_symbols:  # a constant ∂ℓ/∂a (a linear loss): one value per output
                lines.append(f"gA = {m}.full({scope.name(top_a)}.shape, {code} * _inv_m, dtype=_dtype)")
            elif code.isidentifier():  # a bare name may be an input or a value still needed: no in-place scaling
                lines.append(f"gA = {code} * _inv_m")
            else:
                lines += [f"gA = {code}", "gA *= _inv_m"]
    if gradient and not shared:
        printed = _Function(scope, [eqs.loss_gradient], keep=[eqs.loss_gradient.lhs])
        lines += printed.emit_all()
        lines.append("gA = gA * _inv_m")
    if penalty_value is not None:
        (w,) = penalty_value.variables
        for layer in eqs.layers:
            term = printable(penalty_value.expr.xreplace({w: sp.Symbol(scope.name(layer.W), real=True)}), "penalty")
            coeff, rest = term.as_coeff_Mul()
            scale = "" if coeff == 1 else f" * {printer.doprint(coeff)}"
            lines.append(f"loss += {m}.sum({printer.doprint(rest)}, dtype=_dtype){scale}")
    return lines


_UNPACK = re.compile(r"([A-Za-z_]\w*(?:, *[A-Za-z_]\w*)+,?) = (.*)")


_ALIAS = re.compile(r"([A-Za-z_]\w*) = [A-Za-z_]\w*")


def _def(name: str, args: str, body: Sequence[str]) -> str:
    """The function's source; names unpacked from a tuple and never read afterwards are bound to ``_``,
    and an alias ``a = z`` that nothing reads afterwards is left out."""
    lines = list(body)
    for k in range(len(lines) - 1, -1, -1):
        alias = _ALIAS.fullmatch(lines[k])
        if alias and not re.search(rf"\b{alias.group(1)}\b", "\n".join(lines[k + 1:])):
            del lines[k]
    for k, line in enumerate(lines):
        match = _UNPACK.fullmatch(line)
        if match:
            later = "\n".join(lines[k + 1:])
            targets = [t.strip() for t in match.group(1).split(",") if t.strip()]
            kept = [t if re.search(rf"\b{t}\b", later) else "_" for t in targets]
            lines[k] = f"{', '.join(kept)}{',' if len(kept) == 1 else ''} = {match.group(2)}"
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in lines)

