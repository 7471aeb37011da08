"""A metric's SymPy update and result → ``<prefix>_init``, ``<prefix>_update`` and ``<prefix>_result`` source.

The per-sample terms and the result are printed by the backend's printer
(``symdl.backends.get_backend(name).printer()``: symdl's numpy, ``jax.numpy``
or torch printer), never written by hand. The functions are functional in
every backend — state in, new state out, a dict of 0-d float64 arrays keyed by
the slot names — so the same lines serve a numpy loop, a torch loop and a
jitted JAX step. Inputs and weights are cast to float64 before the terms are
computed: the sums accumulate in float64 whatever the model's dtype.

A module that embeds the functions imports ``functools`` and the backend's
``imports`` and, for JAX, enables float64 (``backend.module_prelude``);
:func:`metric_module_source` writes such a module. In a JAX module that leaves
``jax_enable_x64`` off (a float32 or mixed-precision network or graph module)
the functions take JAX's widest float, float32, rather than ask for float64
(which JAX answers with a warning and float32).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence

from ..backends import get_backend
from ..backends.base import Backend
from ..codegen.kernel import printable
from ..symbolic.shared_cse import cse_basic
from .definition import MetricSpec, code_form

__all__ = ["metric_module_source", "metric_source"]

_FLOAT64 = np.dtype("float64")
# The accumulating dtype where a library has float64 only when enabled (a Backend hook would hold it): JAX's widest.
_WIDEST = {"jax": ("_dtype = jax.dtypes.canonicalize_dtype(jnp.float64)", "float64; float32 without jax_enable_x64")}
# The keyword of "along the last axis" where a library does not say axis= (a Backend hook would hold it).
_AXIS_KEYWORD = {"torch": "dim"}


def as_spec(metric: object) -> MetricSpec:
    """The :class:`MetricSpec` of a metric object (its ``spec``) or a spec itself; anything else is a TypeError."""
    spec = getattr(metric, "spec", metric)
    if not isinstance(spec, MetricSpec):
        raise TypeError(f"expected a symdl metric or MetricSpec, got {type(metric).__name__}")
    return spec


def _constant_line(backend: Backend, arg: str) -> str:
    """``_t = …``: numbers as 0-d arrays of ``_dtype`` (on ``arg``'s device for torch)."""
    try:
        return backend.kernel_constant(arg)
    except NotImplementedError:
        return f"_t = functools.partial({backend.constant()}, dtype=_dtype)"


def _docstring(text: str) -> str:
    return '    """' + text.replace("\\", "\\\\").replace('"""', "'''") + '"""'


def _input_lines(spec: MetricSpec, backend: Backend, fn: str) -> list[str]:
    """Cast the inputs to float64, check their shapes, reduce rows to arg max, and broadcast the weights to w."""
    m = backend.module
    lines = [f"    {s.name} = {m}.asarray({name}, dtype=_dtype)" for name, s in spec.inputs]
    names = [s.name for _, s in spec.inputs]
    first = names[0]
    for (other_name, other), (first_name, _) in zip(spec.inputs[1:], spec.inputs):
        lines += [f"    if tuple({other.name}.shape) != tuple({first}.shape):",
                  f'        raise ValueError(f"{fn}: {first_name} has shape {{tuple({first}.shape)}} but {other_name} '
                  f'has {{tuple({other.name}.shape)}}")']
    if spec.argmax:
        axis = _AXIS_KEYWORD.get(backend.name, "axis")
        lines += [f"    {n} = {m}.argmax({n}, {axis}=-1)" for n in names]
    lines += [
        "    if sample_weight is None:",
        f"        w = {m}.ones_like({first}, dtype=_dtype)",
        "    else:",
        f"        w = {m}.asarray(sample_weight, dtype=_dtype)",
        f"        w = {m}.broadcast_to({m}.reshape(w, tuple(w.shape) + (1,) * ({first}.ndim - w.ndim)), tuple({first}.shape))",
    ]
    return lines


def metric_source(metric: object, backend: str | Backend = "numpy", *, prefix: str | None = None) -> str:
    """The source of ``<prefix>_init()``, ``<prefix>_update(state, *inputs, sample_weight=None)`` and
    ``<prefix>_result(state)`` for ``metric`` in ``backend`` ("numpy", "jax", "torch" or a registered one).

    ``prefix`` defaults to the metric's kind (``precision``). The update returns the new state and leaves
    ``state`` as it was; the result is a 0-d float64 array.
    """
    spec = as_spec(metric)
    b = get_backend(backend)
    prefix = spec.kind if prefix is None else prefix
    if not (isinstance(prefix, str) and prefix.isascii() and prefix.isidentifier()) or prefix.startswith("_"):
        raise ValueError(f"metric_source: prefix {prefix!r} is not a public Python identifier")
    printer = b.printer()
    m = b.module
    dtype, precision = _WIDEST.get(b.name, (b.dtype_line(_FLOAT64), "float64"))
    slots = [acc.name for acc in spec.accumulators]
    init_values = ", ".join(f"{name!r}: {m}.asarray({printer.doprint(acc.init)}, dtype=_dtype)"
                            for name, acc in zip(slots, spec.accumulators))
    out = [f"def {prefix}_init():",
           _docstring(f"The state of {spec.title.lower()} before the first batch ({precision})."),
           f"    {dtype}", f"    return {{{init_values}}}", "", ""]

    args = ", ".join(spec.input_names)
    update_doc = "; ".join(f"{acc.name} += sum(w)" if acc.term == 1 else f"{acc.name} += sum(w*({acc.term}))"
                           for acc in spec.accumulators)
    fn = f"{prefix}_update"
    out += [f"def {fn}(state, {args}, sample_weight=None):",
            _docstring(f"{update_doc} ({precision}): the new state; ``state`` is left as it was."),
            f"    {dtype}"]
    out += _input_lines(spec, b, fn)
    constant_at = len(out)
    terms: list = []
    counts: list = []
    for acc in spec.accumulators:
        term = printable(acc.term, spec.kind)
        (terms if not term.is_number else counts).append((acc, term))
    intermediates, reduced = cse_basic([t for _, t in terms], symbols=sp.numbered_symbols("_c"))
    out += [f"    {s} = {printer.doprint(v)}" for s, v in intermediates]
    batch_sums = {}
    for (acc, _), body in zip(terms, reduced):
        # w·(t₁ + t₂), not w·t₁ + t₂: a sum (a loss rule's stable form) is parenthesised
        printed = printer.doprint(body)
        printed = f"({printed})" if precedence(body) < PRECEDENCE["Mul"] else printed
        batch_sums[acc.name] = f"{m}.sum(w * {printed})"
    for acc, term in counts:
        batch_sums[acc.name] = ("" if term == 1 else f"{printer.doprint(term)} * ") + f"{m}.sum(w)"
    # The update s ← s + S_s, printed from spec.update() with s read from the state and S_s the batch sum.
    names = {}
    for acc in spec.accumulators:
        names[acc.symbol] = sp.Symbol(f"_old_{acc.name}", real=True)
        names[spec.batch_sum(acc)] = sp.Symbol(f"_sum_{acc.name}", real=True)
        out += [f"    _old_{acc.name} = state[{acc.name!r}]", f"    _sum_{acc.name} = {batch_sums[acc.name]}"]
    new = {target.name: printer.doprint(printable(expr.xreplace(names), spec.kind)) for target, expr in spec.update()}
    out += [f"    return {{{', '.join(f'{name!r}: {new[name]}' for name in slots)}}}"]
    if any("_t(" in line for line in out[constant_at:]):
        out.insert(constant_at, "    " + _constant_line(b, spec.inputs[0][1].name))
    out += ["", ""]

    state_arg = slots[0]
    renamed = spec.result.xreplace({s: sp.Symbol(s.name, real=True) for s in spec.slots})
    # No cse here: it rebuilds n·(safe d)⁻¹, and SymPy moves a power of a Piecewise into its branches.
    result = printable(code_form(renamed), spec.kind)
    out += [f"def {prefix}_result(state):",
            _docstring(f"{spec.kind} = {spec.result} of the state (0 for no samples)."),
            f"    {dtype}"]
    out += [f"    {name} = state[{name!r}]" for name in slots]
    out += ["    " + _constant_line(b, state_arg), f"    return {printer.doprint(result)}"]
    return "\n".join(out) + "\n"


def metric_module_source(metrics: Sequence[object], backend: str | Backend = "numpy",
                         prefixes: Sequence[str] | None = None) -> str:
    """A complete module with :func:`metric_source` of every metric: docstring, imports, float64 prelude, functions."""
    b = get_backend(backend)
    specs = [as_spec(x) for x in metrics]
    names = list(prefixes) if prefixes is not None else [s.kind for s in specs]
    if len(names) != len(specs) or len(set(names)) != len(names):
        raise ValueError(f"metric_module_source: one distinct prefix per metric, got {names}")
    lines = [f'"""Streaming metrics ({", ".join(s.kind for s in specs)}) for {b.title or b.name}, generated by symdl."""',
             "", "import functools", *b.imports, "", *b.module_prelude(_FLOAT64), ""]
    body = "\n\n".join(metric_source(s, b, prefix=p) for s, p in zip(specs, names))
    return "\n".join(lines).rstrip("\n") + "\n\n\n" + body
