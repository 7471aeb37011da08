"""Sweep for numeric instability: formulas and built-in rules, at the points that break naive code, on every backend.

Run by hand: ``python bench/stability_sweep.py [--formulas N] [--seed S] [--no-rules] [--backends numpy,torch,jax]
[--budget S]`` (``--budget``: start no formula or rule after S seconds, then print what was checked).

For each formula drawn from a grammar of the functions that overflow or cancel
(exp, log, softplus, sigmoid, tanh, sqrt, abs, powers, division, max/min,
where and the rewrite pass's patterns, sums of three exponentials, products of exponentials and sigmoids, a
parameter d = 2 in log(d + e^u), nested) and for each element-wise
built-in rule at its defaults and other parameter values, the value and the
derivative are evaluated at z in ``POINTS`` (±1000, the exp overflow edges of
float32 and float64, 0, tiny and subnormal values) in float32 and float64 by
the numpy kernels, the JAX export (``jax.grad``) and the PyTorch export
(``autograd``), with warnings as errors. A point counts only where the true
value and derivative (60-digit mpmath) are finite numbers of the dtype; a
failure is a warning or a non-finite result there. Each failure is explained
when it can be: an *intermediate* overflows (a sub-expression of the printed
form is not a finite number of the dtype there, such as e^z in tanh(e^z) at
z = 100: symdl prints a formula outside the rewrite pass's patterns as
written, docs/export.md "Limitations"), or a *subnormal* float32 input in JAX
(XLA on CPU flushes it to 0, where sqrt's derivative is infinite). What is
left, *unexplained*, is a bug. Slow (mpmath per point, a module per export):
seconds per formula on the shared 2-core VM. One line per formula or rule goes
to stderr as it is done. The counts are recorded in docs/testing.md.
"""

from __future__ import annotations

import argparse
import collections
import functools
import itertools
import re
import signal
import sys
import time
import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import symdl
from symdl.rulebook.registry import is_vector_rule, rules
from symdl.symbolic.proof import elementary
from symdl.verify.rules import case_params

POINTS = (0.0, 1e-30, -1e-30, 1e-45, -1e-45, 1.1754944e-38, -1.1754944e-38, 1e-8, -1e-8, 1.0, -1.0, 20.0, -20.0,
          30.0, -30.0, 88.0, -88.0, 88.72, -88.72, 89.0, -89.0, 100.0, -100.0, 709.0, -709.0, 710.0, -710.0,
          999.0, -999.0, 1000.0, -1000.0)
DTYPES = (np.float32, np.float64)

UNARY = ("exp({})", "log({})", "softplus({})", "sigmoid({})", "tanh({})", "sqrt({})", "abs({})", "log(1 + exp({}))",
         "1/(1 + exp(-({})))", "exp({}) - 1", "log(1 + {})", "log_cosh({})", "-({})", "({})**2", "({})**3", "relu({})",
         "exp(-({}))", "log(exp({}) + exp(-({})))", "1 - sigmoid({})", "1 + tanh({})", "1 - tanh({})**2",
         "sqrt(1 + ({})**2)", "cosh({})", "sinh({})", "atan({})", "erf({})", "erfc({})", "Phi({})", "log(sigmoid({}))",
         "exp({})/(1 + exp({}))", "log(2 + exp({}))", "exp({})/(exp({}) + 2)", "1/(1 + exp({}))**2", "log(2*exp({}))",
         "log(1 + abs({}))", "1/(1 + abs({}))", "({})/(1 + abs({}))", "({})*sigmoid({})", "({})*tanh(softplus({}))",
         "log(cosh({}))", "exp(-({})**2)", "sign({})", "2*sigmoid({}) - 1", "sqrt(abs({}))",
         "log(exp({}) + exp(2*({})) + 1)", "1/(exp({}) + exp(-({})))", "exp({})*sigmoid(-({}))",
         "exp({})/(exp({}) + exp(-({})) + 1)", "log(2 + exp({}) + exp(-({})))", "1/(1 + exp({}) + exp(-({})))**2",
         "exp(-({}))*sigmoid({})**2", "log(d + exp({}))")
BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / ({})", "max({}, {})", "min({}, {})",
          "where({} > 0, {}, 0)", "({}) / (1 + ({})**2)", "log(exp({}) + exp({}))", "exp({})/(exp({}) + exp({}))",
          "log(exp({}) + exp({}) + 1)", "exp({})*sigmoid({})")


def _binary(form: str, a: str, b: str) -> str:
    slots = form.count("{}")
    return form.format(a, b) if slots == 2 else form.format(a, a, b)


_leaf = st.sampled_from(("z", "z", "z", "2*z", "z/2", "1", "0.5", "3"))
FORMULAS = st.recursive(
    _leaf,
    lambda children: st.builds(lambda f, a: f.replace("{}", a), st.sampled_from(UNARY), children)
    | st.builds(_binary, st.sampled_from(BINARY), children, children),
    max_leaves=4,
)


@functools.lru_cache(maxsize=4096)
def _mp(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]) -> Callable[..., float | None]:
    """``expr`` at a point in 60-digit mpmath, None where it is not a finite real number."""
    func = sp.lambdify(symbols, elementary(expr), modules="mpmath")

    def value(*point: float) -> float | None:
        try:
            with mpmath.workdps(60):
                out = func(*[mpmath.mpf(p) for p in point])
        except (ValueError, ZeroDivisionError, TypeError, OverflowError):
            return None
        if isinstance(out, mpmath.mpc) and out.imag != 0:
            return None
        out = float(mpmath.re(out))
        return out if np.isfinite(out) else None

    return value


def _fits(value: float | None, dtype: type) -> bool:
    return value is not None and abs(value) <= float(np.finfo(dtype).max)


def _evaluate(backend: str, r, point: list[float], dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """(value, derivative by the first input) at one point, warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if backend == "numpy":
            args = [np.asarray([p], dtype=dtype) for p in point]
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                return np.asarray(r.numeric()(*args)), np.asarray(r.numeric_derivative()(*args))
        if backend == "torch":
            import torch

            ts = [torch.tensor([p], dtype=getattr(torch, np.dtype(dtype).name), requires_grad=i == 0)
                  for i, p in enumerate(point)]
            out = symdl.export.to_torch(r).apply(*ts)
            (grad,) = torch.autograd.grad(out.sum(), ts[0])
            return out.detach().numpy(), grad.numpy()
        import jax

        f = symdl.export.to_jax(r)
        xs = [jax.numpy.asarray([p], dtype=dtype) for p in point]
        grad = jax.grad(lambda x: f(x, *xs[1:]).sum())(xs[0])
        return np.asarray(f(*xs)), np.asarray(grad)


def _explain(r, point: list[float], dtype: type, backend: str) -> str:
    """Why a point failed: an intermediate of the printed form overflows, a subnormal input in JAX, or unexplained."""
    if backend == "jax" and dtype == np.float32 and any(0 < abs(p) < np.finfo(np.float32).tiny for p in point):
        return "subnormal"
    for expr in (r.numeric_forward_expr(), r.numeric_derivative_expr()):
        for sub in sp.preorder_traversal(elementary(expr)):
            if isinstance(sub, sp.Expr) and sub.free_symbols and not sub.is_Symbol:
                if not _fits(_mp(sub, r.inputs)(*point), dtype):
                    return "intermediate"
    return "unexplained"


class Sweep:
    def __init__(self, backends: tuple[str, ...]) -> None:
        self.backends = backends
        self.counts: collections.Counter[str] = collections.Counter()
        self.failures: list[tuple[str, str, str, str, str]] = []

    def check(self, label: str, r, grids: list[list[float]]) -> None:
        value, slope = _mp(r.bind(r.expr), r.inputs), _mp(r.bind(r.derivative(r.wrt)), r.inputs)
        for raw in itertools.product(*grids):
            exact = (value(*raw), slope(*raw))
            for dtype in DTYPES:
                point = [float(dtype(p)) for p in raw]
                if point != list(raw):
                    exact = (value(*point), slope(*point))
                if not all(_fits(v, dtype) for v in exact):
                    self.counts["skipped: the true value or derivative is not a finite number of the dtype"] += 1
                    continue
                for backend in self.backends:
                    self.counts["checks"] += 1
                    try:
                        out = _evaluate(backend, r, point, dtype)
                        problem = "" if all(np.isfinite(o).all() for o in out) else f"value {out[0]}, derivative {out[1]}"
                    except (FloatingPointError, RuntimeWarning, ArithmeticError) as error:
                        problem = f"{type(error).__name__}: {error}"
                    if problem:
                        why = _explain(r, point, dtype, backend)
                        self.counts[f"failed: {why}"] += 1
                        self.failures.append((why, label, backend, f"{np.dtype(dtype).name} {point}", problem))


#: Rows of a vector rule's input (3 units): ±1000, the exp overflow edges, ties, tiny values; every softmax, log-softmax,
#: sparsemax, maxout, RBF and cross-entropy of them is a finite number.
ROWS = ((1000.0, -1000.0, 0.0), (-1000.0, -1000.0, -1000.0), (1000.0, 1000.0, 1000.0), (89.0, -89.0, 0.0),
        (710.0, -710.0, 709.0), (1e-30, 0.0, -1e-30), (-1000.0, 999.0, -20.0), (20.0, -20.0, 1e-8), (0.0, 0.0, 0.0))
#: Targets of a cross-entropy: probability rows, one-hot ones first (the class the logits put last in row 0).
TARGETS = ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.25, 0.25, 0.5))


def _vector_inputs(r, dtype: type) -> list[np.ndarray]:
    """The rule's inputs: each extreme row against each target row; RBF's centres 0 and 3, widths 1 and 0.5."""
    batch = np.array([row for row in ROWS for _ in TARGETS], dtype)
    out = []
    for inp in r.definition.inputs:
        if inp.base in r.definition.simplex_inputs or inp.base in r.definition.label_inputs:
            out.append(np.array([t for _ in ROWS for t in TARGETS], dtype))
        elif inp.shared and len(inp.indices) == 2:
            out.append(np.array([[0.0, 3.0]] * 3, dtype))
        elif inp.shared:
            out.append(np.array([1.0, 0.5], dtype))
        else:
            out.append(batch)
    return out


def _evaluate_vector(backend: str, r, xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(value, VJP by the first input of a cotangent of ones), warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if backend == "numpy":
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                value = np.asarray(r.numeric()(*xs))
                cotangent = [np.ones_like(value)] if r.definition.output or r.kind == "activation" else []
                return value, np.asarray(r.numeric_derivative()(*xs, *cotangent))
        if backend == "torch":
            import torch

            ts = [torch.tensor(x, requires_grad=i == 0) for i, x in enumerate(xs)]
            out = symdl.export.to_torch(r.name).apply(*ts)
            (grad,) = torch.autograd.grad(out.sum(), ts[0])
            return out.detach().numpy(), grad.numpy()
        import jax

        f = symdl.export.to_jax(r.name)
        js = [jax.numpy.asarray(x) for x in xs]
        grad = jax.grad(lambda x: f(x, *js[1:]).sum())(js[0])
        return np.asarray(f(*js)), np.asarray(grad)


def sweep_vector_rules(sweep: Sweep) -> None:
    """Every vector rule at :data:`ROWS` (numpy kernels; the exports of those JAX and PyTorch take)."""
    from symdl.export import SUPPORTED_VECTOR_RULES

    for name in rules():
        if not is_vector_rule(name):
            continue
        r = symdl.rule(name)
        sweep.counts["vector rules"] += 1
        for dtype in DTYPES:
            xs = _vector_inputs(r, dtype)
            for backend in sweep.backends:
                if backend != "numpy" and name not in SUPPORTED_VECTOR_RULES:
                    continue
                sweep.counts["checks"] += len(xs[0])
                try:
                    out = _evaluate_vector(backend, r, xs)
                    bad = [~np.isfinite(o).reshape(len(xs[0]), -1).all(axis=1) for o in out]
                    rows = np.flatnonzero(bad[0] | bad[1])
                    problem = f"non-finite at rows {xs[0][rows][:3].tolist()}" if len(rows) else ""
                except (FloatingPointError, RuntimeWarning, ArithmeticError) as error:
                    problem = f"{type(error).__name__}: {error}"
                if problem:
                    sweep.counts["failed: unexplained"] += 1
                    sweep.failures.append(("unexplained", name, backend, np.dtype(dtype).name, problem))
        print(f"vector rule: {name}", file=sys.stderr, flush=True)


def _metrics() -> list[tuple[str, object]]:
    """Every metric kind at its defaults, a loss metric of every element-wise loss, and typed-formula loss metrics."""
    from symdl import metrics as M
    from symdl.metrics.loss_metrics import _element_wise_losses

    found: list[tuple[str, object]] = [(kind, cls()) for kind, cls in M.METRICS.items()]
    found += [(f"LossMetric({name!r})", M.LossMetric(name)) for name in _element_wise_losses()]
    for text, params in (("log(1 + exp(-y*a))", {}), ("log(d + exp(a - y))", {"d": 2}), ("(a - y)**2/2", {}),
                         ("log(exp(a) + exp(-a) + 1) - y*a", {})):
        found.append((f"LossMetric({text!r}, {params})", M.LossMetric(symdl.formula_rule(text, "a", params, symbols=["y"]))))
    return found


def _metric_module(backend: str, metric: object) -> dict:
    from symdl.metrics import metric_module_source

    source = metric_module_source([metric], backend, prefixes=["m"])
    namespace: dict = {}
    exec(compile(source, f"<sweep metric {backend}>", "exec"), namespace)  # generated code: printed from SymPy
    return namespace


def sweep_metrics(sweep: Sweep) -> None:
    """Every metric's printed update and result on numpy, JAX and PyTorch, targets 0/1 (or rows) and predictions at
    :data:`POINTS` (binary metrics' predictions are probabilities: 0, 1, 1e-30, 1 − 1e-8, 0.5)."""
    for label, metric in _metrics():
        kind = metric.spec.kind
        names = metric.spec.input_names
        binary = kind in ("binary_accuracy", "precision", "recall", "f1_score")
        for dtype in DTYPES:
            if kind == "categorical_accuracy":
                y_true = np.array([t for _ in ROWS for t in TARGETS[:3]], dtype)
                y_pred = np.array([row for row in ROWS for _ in TARGETS[:3]], dtype)
            else:
                preds = (0.0, 1.0, 1e-30, 1.0 - 1e-8, 0.5) if binary else POINTS
                y_pred = np.array([p for p in preds for _ in (0, 1)], dtype)
                y_true = np.array([t for _ in preds for t in (0.0, 1.0)], dtype)
            inputs = {"y_true": y_true, "y_pred": y_pred, "values": y_pred}
            args = [inputs.get(n, y_pred) for n in names]
            for backend in sweep.backends:
                sweep.counts["checks"] += 1
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error")
                        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                            ns = _metric_module(backend, metric)
                            if backend == "torch":
                                import torch

                                args_b = [torch.tensor(a) for a in args]
                            elif backend == "jax":
                                args_b = [jax_numpy().asarray(a) for a in args]
                            else:
                                args_b = args
                            state = ns["m_update"](ns["m_init"](), *args_b)
                            result = float(np.asarray(ns["m_result"](state)))
                    problem = "" if np.isfinite(result) else f"result {result}"
                except (FloatingPointError, RuntimeWarning, ArithmeticError) as error:
                    problem = f"{type(error).__name__}: {error}"
                if problem:
                    sweep.counts["failed: unexplained"] += 1
                    sweep.failures.append(("unexplained", label, backend, np.dtype(dtype).name, problem))
        sweep.counts["metrics"] += 1
        print(f"metric: {label}", file=sys.stderr, flush=True)


def jax_numpy():
    import jax.numpy as jnp

    return jnp


class _TimeUp(Exception):
    pass


def _time_up(signum: int, frame: object) -> None:
    signal.alarm(1)  # again in a second if this one is swallowed (raised inside hypothesis' gc callback, it is ignored)
    raise _TimeUp


def main() -> int:
    signal.signal(signal.SIGALRM, _time_up)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formulas", type=int, default=200, help="formulas drawn (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-rules", action="store_true", help="skip the built-in rules")
    parser.add_argument("--no-vector", action="store_true", help="skip the vector rules and the metrics")
    parser.add_argument("--backends", default="numpy,torch,jax")
    parser.add_argument("--formula-limit", type=int, default=30, help="seconds for one formula (default 30)")
    parser.add_argument("--budget", type=float, default=float("inf"), help="seconds after which nothing new starts")
    args = parser.parse_args()
    sweep = Sweep(tuple(args.backends.split(",")))
    if "jax" in sweep.backends:
        import jax

        jax.config.update("jax_enable_x64", True)
    start = time.perf_counter()
    formulas: set[str] = set()

    @seed(args.seed)
    @settings(max_examples=max(args.formulas, 1), deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(FORMULAS)
    def draw(text: str) -> None:
        if text in formulas or time.perf_counter() - start > args.budget:
            return
        formulas.add(text)
        signal.alarm(args.formula_limit)  # SymPy can take minutes on a formula's derivative or kinks
        try:
            r = symdl.formula_rule(text, params={"d": 2} if re.search(r"\bd\b", text) else None)
            sweep.check(text, r, [list(POINTS)])
            sweep.counts["formulas"] += 1
        except symdl.FormulaError:
            sweep.counts["formulas refused (constant, or not finite)"] += 1
            return
        except _TimeUp:
            sweep.counts[f"formulas given up after {args.formula_limit} s"] += 1
            print(f"gave up: {text}", file=sys.stderr, flush=True)
            return
        finally:
            signal.alarm(0)
        print(f"{time.perf_counter() - start:.0f} s: {text}", file=sys.stderr, flush=True)

    if args.formulas:
        draw()
    if not args.no_rules:
        for name in rules():
            if is_vector_rule(name):
                continue
            for label, params in case_params(name):
                if time.perf_counter() - start > args.budget:
                    break
                r = symdl.rule(name, **params)
                grids = []
                for s in r.inputs:
                    lo, hi = r.definition.input_ranges.get(s, (-1000.0, 1000.0))
                    grids.append(sorted({p for p in POINTS if lo <= p <= hi} | {lo, hi}))
                sweep.counts["rules"] += 1
                sweep.check(label, r, grids)
                print(f"{time.perf_counter() - start:.0f} s: {label}", file=sys.stderr, flush=True)
    if not args.no_vector:
        sweep_vector_rules(sweep)
        sweep_metrics(sweep)
    print(f"{time.perf_counter() - start:.0f} s; backends {', '.join(sweep.backends)}; dtypes float32, float64; "
          f"{len(POINTS)} points per input")
    for key, count in sorted(sweep.counts.items()):
        print(f"  {key}: {count}")
    for why, label, backend, where, problem in sorted(sweep.failures):
        print(f"{why:12s} {label!r} {backend} {where}: {problem[:120]}")
    return 1 if sweep.counts["failed: unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())
