"""Custom-gradient exports: a rule or formula as a JAX ``custom_jvp`` function or a ``torch.autograd.Function``.

The forward pass is the rule's stable form and the backward pass its symbolic
derivative, both printed from the SymPy expressions by
:mod:`symdl.backends.printers` — the seeds' ``tf.custom_gradient`` use case:

>>> from symdl.export import to_torch
>>> import torch
>>> softplus = to_torch("log(exp(z) + 1)")          # doctest: +SKIP
>>> z = torch.tensor(1000.0, requires_grad=True)       # doctest: +SKIP
>>> softplus.apply(z).backward(); z.grad               # doctest: +SKIP
tensor(1.)

Plain autodiff of ``log(exp(z) + 1)`` gives ``inf`` and ``nan`` there.

Every export is generated as one standalone module (:func:`rule_module_source`,
importing only jax/jax.numpy or torch and the standard library) and loaded
from that text, so the module a user writes to disk and the function
:func:`to_jax` / :func:`to_torch` return are the same code. The loaded module
is registered as ``symdl.export.generated.<backend>_<name>_<digest>``, so
pickle and ``torch.compile`` find it by name.

Formula text is parsed by :func:`symdl.formula_rule` (never ``eval``); then
the patterns ``log(1 + e^u)``, ``1/(1 + e^{−u})``, ``e^u/(1 + e^u)`` and
``log cosh u`` become symdl's named functions (softplus, sigmoid, log cosh),
which are equal to them by definition and print in their proven stable forms.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sympy as sp

from ..backends import backend_names, get_backend
from ..backends.base import Backend
from ..codegen.index_kernels import Centered, FirstArgMax, LogSumExp, RowMax
from ..codegen.kernel import printable, use_expm1_log1p
from ..codegen.naming import class_name
from ..codegen.simplex import hoist_thresholds, threshold_helpers
from ..excerpt import excerpt
from ..optional import require
from ..rulebook.derivation import Derives
from ..rulebook.registry import formula_rule_or_name, rule, rules
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import ROW_COTANGENT, VectorRule
from ..symbolic.rewrite import stabilise
from ..symbolic.shared_cse import cse_basic
from .declared_gradient import DeclaredGradient, declare_gradient
from .loading import GENERATED_PACKAGE, load_generated

# stabilise is the rewrite pass (symdl.symbolic.rewrite), re-exported where it was first public.
__all__ = ["GENERATED_PACKAGE", "SUPPORTED_VECTOR_RULES", "rule_module_source", "stabilise", "to_jax", "to_torch"]

SUPPORTED_VECTOR_RULES: tuple[str, ...] = ("softmax", "softmax_cross_entropy", "sparsemax", "maxout")


# --- what to print ----------------------------------------------------------------


def _resolve(
    rule_or_formula: object,
    wrt: str | None,
    symbols: Sequence[str],
    params: Mapping[str, float | None] | None,
) -> Rule | VectorRule:
    """A rule object as is; a registered rule's name through :func:`symdl.rule`; other text as a formula."""
    if isinstance(rule_or_formula, Derives):
        if wrt is not None or symbols or params:
            raise ValueError("wrt, symbols and params apply to a rule name or formula text, not to a rule object")
        return cast("Rule | VectorRule", rule_or_formula)  # Derives is the mixin of exactly these two
    if not isinstance(rule_or_formula, str):
        raise TypeError(
            f"expected a rule (symdl.rule(...)), a rule name or formula text, got {type(rule_or_formula).__name__}"
        )
    if params is not None and not isinstance(params, Mapping):  # as formula_rule says it for a formula
        raise TypeError(f"params must be a mapping name → value (or None), got {type(params).__name__}")
    if rule_or_formula in rules():
        if wrt is not None or symbols:
            raise ValueError(f"wrt and symbols apply to formula text; rule {rule_or_formula!r} has fixed inputs")
        return rule(rule_or_formula, **dict[str, Any](params or {}))
    # formula_rule already carries the rewrite pass's stable form, which numeric_*_expr print.
    return formula_rule_or_name(rule_or_formula, "symdl.rules()", wrt=wrt or "z", params=params, symbols=symbols)


@dataclass(frozen=True)
class _Plan:
    """One rule ready to print: Python names, the forward and one derivative (or VJP) per input."""

    name: str
    title: str
    inputs: tuple[str, ...]
    forward: sp.Expr
    derivatives: tuple[sp.Expr, ...]
    latex: tuple[tuple[str, str], ...]
    vector: bool = False
    scalar_output: bool = False  # vector rule with one value per row (a loss)
    reduce_sum: bool = False
    class_name: str = "Formula"  # the torch.autograd.Function subclass
    loss: bool = False  # a registered loss: its torch module reduces as torch.nn's losses (reduction=)
    declared: DeclaredGradient | None = None  # gradient=: the backward is the user's expression, not the derivative

    @property
    def gradient(self) -> str:
        """What the backward pass computes, in the generated docstrings."""
        return "the symbolic derivative" if self.declared is None else "the declared gradient (gradient=)"


_HELPERS = {"jax", "jnp", "torch", "functools", "_t", "_dtype", "_out", "_prepare", "_finish", "_unbroadcast",
            "_save", "_saved", "g", "ctx", "grads", "args", "residuals", "v"}


def _names(symbols: Sequence[str], taken: set[str]) -> list[str]:
    out = []
    for index, name in enumerate(symbols):
        unsafe = not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name) or name.startswith("_")
        if unsafe or name in taken or hasattr(builtins, name):
            name, suffix = f"x{index}", 0
            while name in taken:
                suffix += 1
                name = f"x{index}_{suffix}"
        taken.add(name)
        out.append(name)
    return out


def _plan(r: Rule | VectorRule, *, kernels_only: bool = False, gradient: object = None) -> _Plan:
    """The printable pieces of ``r``; ``kernels_only``: for a network module, which calls the forward and VJP
    kernels only (any last-axis vector rule), not the exported function with its forward mode; ``gradient``: the
    declared backward (:func:`~symdl.export.declared_gradient.declare_gradient`) instead of the derivative."""
    declared = None if gradient is None else declare_gradient(r, gradient)  # type: ignore[arg-type]
    if not r.element_wise:
        return _vector_plan(r, kernels_only=kernels_only)
    name = r.kernel_name
    taken = _HELPERS | {name, f"{name}_forward", f"_{name}", class_name(name), _formula_class_name(r.expr)}
    names = _names([s.name for s in r.inputs], set(taken))
    # Only the names that change: xreplace rebuilds every node above a replaced symbol, even one replaced by itself,
    # and re-evaluating each Max/Min on the way (SymPy compares their arguments pairwise) was ~40 % of an export.
    rename = {s: t for s, n in zip(r.inputs, names) if (t := sp.Symbol(n, real=True)) != s}
    forward = r.derivation().code_forward
    derivatives = []
    for s in r.inputs:
        if declared is not None:
            derivatives.append(declared.gradient(s))
            continue
        try:
            derivatives.append(r.derivation(s).code_derivative)
        except (ValueError, TypeError, NotImplementedError) as why:
            raise ValueError(f"{r.name}: cannot derive ∂/∂{s}: {why}".splitlines()[0]) from None
    free = set().union(*(e.free_symbols for e in (forward, *derivatives))) - set(r.inputs)
    if free:
        given = ", ".join(f"{s}=…" for s in sorted(map(str, free)))
        raise ValueError(
            f"{r.name}: parameters {sorted(map(str, free))} have no value; bind them first (params={{{given}}})"
        )
    for e in (forward, *derivatives):
        if e.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise ValueError(f"{r.name}: the expression is complex or infinite somewhere: {e}")
    # Autodiff differentiates the derivatives (the backward pass) again, and users differentiate NAME_forward
    # (no custom gradient) with jax.grad or torch autograd: both in forms whose autodiff is exact at ties.
    prepared = [printable(e.xreplace(rename), r.name, differentiable=True) for e in (forward, *derivatives)]
    latex = [("forward", sp.latex(forward))]
    latex += [(f"{'declared ' if declared else ''}d/d{s.name}", sp.latex(d)) for s, d in zip(r.inputs, derivatives)]
    return _Plan(
        name=name,
        class_name=_formula_class_name(forward) if r.kind == "formula" else class_name(name),
        title=f"{r.name}: {r.summary}" if r.kind != "formula" else f"f({', '.join(names)}) = {r.name}",
        inputs=tuple(names),
        forward=prepared[0],
        derivatives=tuple(prepared[1:]),
        latex=tuple(latex),
        reduce_sum=r.definition.reduce_sum, loss=r.kind == "loss", declared=declared,
    )


def _vector_plan(r: VectorRule, *, kernels_only: bool = False) -> _Plan:
    # An export's jvp reuses the VJP as J t = (tᵀ J)ᵀ, which holds for softmax's symmetric Jacobian; a rule with one
    # value per row (a loss, maxout) has a one-row Jacobian, the VJP at v = 1, and its jvp is Σ_k J_k t_k.
    if not kernels_only and r.name not in SUPPORTED_VECTOR_RULES:
        raise ValueError(
            f"rule {r.name!r}: jax/torch exports support the element-wise rules, formulas and the vector rules "
            f"{', '.join(SUPPORTED_VECTOR_RULES)}"
        )
    d = r.definition
    forward = d.stable_forward if d.stable_forward is not None else d.forward
    vjps = [d.vjps[base] if d.output else d.vjps[base].subs(ROW_COTANGENT, 1) for base in r.inputs]
    # Index symbols, sums and maxima are printed on the last axis; CSE must not pull out anything bound inside them.
    latex = [("forward", sp.latex(forward))] + [(f"vjp by {b.label}", sp.latex(e)) for b, e in zip(r.inputs, vjps)]
    return _Plan(
        name=r.name,
        class_name=class_name(r.name),
        title=f"{r.name}: {r.summary}",
        inputs=tuple(str(b.label) for b in r.inputs),
        forward=use_expm1_log1p(forward),
        derivatives=tuple(use_expm1_log1p(e) for e in vjps),
        latex=tuple(latex),
        vector=True,
        scalar_output=not d.output, loss=r.kind == "loss",
    )


def _formula_class_name(forward: sp.Expr) -> str:
    """A formula's class: its functions in order of appearance, then ``Formula`` (``log(e^z + 1)`` → ``SoftplusFormula``)."""
    heads: list[str] = []
    for node in sp.preorder_traversal(forward):
        head = type(node).__name__
        if isinstance(node, sp.Function) and head.isidentifier() and head not in heads:
            heads.append(head)
    return "".join(class_name(h) for h in heads[:3]) + "Formula"


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's order for ``__all__`` (RUF022): CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2, name)


# --- printing kernels ---------------------------------------------------------------


def _kernel(plan: _Plan, backend: str | Backend, expr: sp.Expr, name: str, args: Sequence[str], doc: str) -> list[str]:
    """``def name(*args): return expr`` in ``backend``, intermediates from CSE, constants in the input dtype."""
    backend = get_backend(backend)
    printer = backend.printer(index=plan.vector)
    if plan.vector:
        bound = {sym for s in expr.atoms(sp.Sum) for lim in s.limits for sym in sp.Tuple(*lim).free_symbols}
        bound |= {
            sym
            for f in expr.atoms(RowMax, LogSumExp, FirstArgMax, Centered)
            for sym in sp.Tuple(*f.args[1:]).free_symbols
        }
        thresholds, expr = hoist_thresholds(expr)
        intermediates, (body,) = cse_basic(expr, symbols=sp.numbered_symbols("_c"), ignore=tuple(bound))
        intermediates = [*thresholds, *intermediates]
    else:
        intermediates, (body,) = cse_basic(expr, symbols=sp.numbered_symbols("_c"))
    lines = [f"    {sym} = {printer.doprint(value)}" for sym, value in intermediates]
    result = printer.doprint(body)
    if plan.vector and plan.scalar_output and expr is plan.forward:
        result = f"({result})[..., 0]"
    lines.append(f"    return {result}")
    text = "\n".join(lines)
    prelude = []
    if "_dtype" in text or "_t(" in text:
        prelude.append(f"    _dtype = {args[0]}.dtype")
    if "_t(" in text:
        prelude.append(f"    {backend.kernel_constant(args[0])}")
    return [f"def {name}({', '.join(args)}):", f'    """{doc}"""', *prelude, *lines]


def _module_docstring(plan: _Plan, backend: Backend) -> list[str]:
    library = backend.library
    lines = [
        f'r"""{plan.title}',
        "",
        f"Generated by symdl from SymPy expressions (do not edit); imports only {library} and the standard library.",
        f"The forward pass is the stable form; the gradient is {plan.gradient}, not autodiff of the forward code.",
        "",
    ]
    if plan.declared is not None:
        lines += [plan.declared.summary(), ""]
    lines += [f"    {label}: {tex}" for label, tex in plan.latex]
    lines.append('"""')
    return lines


def rule_module_source(
    rule_or_formula: object,
    backend: str | Backend,
    *,
    wrt: str | None = None,
    symbols: Sequence[str] = (),
    params: Mapping[str, float | None] | None = None,
    gradient: str | Mapping[str, str] | None = None,
) -> str:
    """A standalone module (JAX or PyTorch) defining the rule's function, derivatives and custom-gradient wrapper.

    ``backend="jax"``: ``NAME(*inputs)`` with a ``jax.custom_jvp``; ``"torch"``:
    ``class Name(torch.autograd.Function)`` (``setup_context``, ``backward``,
    ``jvp``, a generated vmap rule) and ``NAME = Name.apply``. Both also
    define ``NAME_forward`` and ``NAME_d_INPUT`` (``NAME_vjp_INPUT`` for vector
    rules) on arrays of one dtype. Same input → byte-identical text.
    """
    return _generate(rule_or_formula, backend, wrt, symbols, params, gradient)[1]


def _generate(
    rule_or_formula: object,
    backend: str | Backend,
    wrt: str | None,
    symbols: Sequence[str],
    params: Mapping[str, float | None] | None,
    gradient: str | Mapping[str, str] | None = None,
) -> tuple[_Plan, str]:
    backend = get_backend(backend)
    if type(backend).custom_gradient_wrapper is Backend.custom_gradient_wrapper:  # numpy has no autodiff to attach one to
        takes = [n for n in backend_names() if type(get_backend(n)).custom_gradient_wrapper is not Backend.custom_gradient_wrapper]
        raise ValueError(f"backend {backend.name!r} provides no custom-gradient functions (custom_gradient_wrapper); accepted: "
                         f"{', '.join(takes)}; a numpy module of a rule is symdl.export.standalone.rule_module(rule)")
    plan = _plan(_resolve(rule_or_formula, wrt, symbols, params), gradient=gradient)
    args = list(plan.inputs)
    kind = "vjp" if plan.vector else "d"
    vjp_args = [*args, "v"] if plan.vector and not plan.scalar_output else args
    kernels = [
        _kernel(plan, backend, plan.forward, f"{plan.name}_forward", args, f"{plan.name} on arrays of one dtype (no custom gradient)."),
    ]
    for arg, derivative in zip(args, plan.derivatives):
        doc = f"vᵀ ∂{plan.name}/∂{arg}" if plan.vector else f"∂{plan.name}/∂{arg}, element-wise"
        kernels.append(_kernel(plan, backend, derivative, f"{plan.name}_{kind}_{arg}", vjp_args, doc + "."))
    body = "\n\n\n".join("\n".join(k) for k in kernels)
    wrapper = backend.custom_gradient_wrapper(plan)
    helpers = backend.custom_gradient_helpers()
    public = [*backend.custom_gradient_public(plan), plan.name, f"{plan.name}_forward", *(f"{plan.name}_{kind}_{a}" for a in args)]
    uses_functools = "functools." in body or "functools." in helpers
    imports = (["import functools", ""] if uses_functools else [])
    imports += list(backend.imports)
    parts = [
        "\n".join(_module_docstring(plan, backend)),
        "\n".join(imports),
        "__all__ = [" + ", ".join(repr(p) for p in sorted(public, key=_isort_key)) + "]",
        helpers.strip("\n"),
        *(source.strip("\n") for source in threshold_helpers(body)),  # sparsemax's τ, defined once
        body,
        wrapper.strip("\n"),
    ]
    return plan, "\n\n".join(parts[:3]) + "\n\n\n" + "\n\n\n".join(parts[3:]) + "\n"


def to_jax(
    rule_or_formula: object,
    *,
    wrt: str | None = None,
    symbols: Sequence[str] = (),
    params: Mapping[str, float | None] | None = None,
    gradient: str | Mapping[str, str] | None = None,
) -> Any:
    """``f(*inputs)`` in JAX: the stable forward, with a ``jax.custom_jvp`` whose tangent is the symbolic derivative.

    ``rule_or_formula``: a rule (``symdl.rule("softplus")``), a rule name
    (``params`` binds its parameters) or formula text (``wrt`` is the
    variable, default ``"z"``; ``symbols`` further inputs; ``params`` values).
    Element-wise and broadcasting; float32 stays float32. The tangent
    Σ ∂f/∂xᵢ · tᵢ is linear in tᵢ, so reverse mode is JAX's transposition of
    it: ``jax.jit``, ``grad``, ``vmap``, ``jvp``, ``jacfwd``, ``jacrev`` and
    ``hessian`` all work (second derivatives differentiate the printed
    derivative, which is differentiable jnp code). The generated module
    source is the function's ``__source__`` attribute. ``gradient`` declares
    another backward (formula text, or input → text;
    :mod:`symdl.export.declared_gradient`); ``__declared_gradient__`` (None
    without it) says whether it is proven to be the derivative.
    """
    require("jax", "symdl.export.to_jax")
    plan, source = _generate(rule_or_formula, "jax", wrt, symbols, params, gradient)
    function = getattr(load_generated(source, plan.name, "jax"), plan.name)
    function.__source__, function.__declared_gradient__ = source, plan.declared
    return function


def to_torch(
    rule_or_formula: object,
    *,
    wrt: str | None = None,
    symbols: Sequence[str] = (),
    params: Mapping[str, float | None] | None = None,
    module: bool = False,
    gradient: str | Mapping[str, str] | None = None,
) -> type[Any]:
    """A ``torch.autograd.Function`` subclass: forward the stable form, backward and jvp the symbolic derivative.

    Call it with ``.apply(*inputs)`` (tensors or numbers; broadcasting; the dtype of the tensors is kept);
    ``module=True`` returns its parameter-free ``torch.nn.Module`` class instead (``forward(*inputs)``), for
    ``torch.nn.Sequential``; a registered loss's takes ``reduction="mean"`` (default), ``"sum"`` or ``"none"``,
    as torch.nn's losses. Arguments as :func:`to_jax`. The class is in the modern style (``forward`` without
    ctx, ``setup_context``, a generated vmap rule), so ``torch.func`` (``grad``, ``vmap``, ``jacrev``,
    ``jacfwd``, ``hessian``), ``torch.autograd.forward_ad`` and ``torch.compile(fullgraph=True)`` work; the
    backward uses differentiable torch operations, so ``gradgradcheck`` passes where the second derivative
    exists. Classes and functions pickle by reference (in another process, call ``to_torch`` with the same
    arguments before unpickling). The generated module source is the class's ``__source__`` attribute.
    """
    require("torch", "symdl.export.to_torch")
    if not isinstance(module, bool):
        raise TypeError(f"to_torch: module must be True or False, got {excerpt(module)}")
    plan, source = _generate(rule_or_formula, "torch", wrt, symbols, params, gradient)
    cls = getattr(load_generated(source, plan.name, "torch"), plan.class_name + ("Module" if module else ""))
    cls.__source__, cls.__declared_gradient__ = source, plan.declared
    return cls

