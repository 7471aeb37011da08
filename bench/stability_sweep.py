"""Sweep for numeric instability: formulas and built-in rules, at the points that break naive code, on every backend.

Run by hand: ``python bench/stability_sweep.py [--formulas N] [--seed S] [--no-rules] [--backends numpy,torch,jax]
[--budget S]`` (``--budget``: start no formula or rule after S seconds, then print what was checked).

For each formula drawn from a grammar of the functions that overflow or cancel
(exp, log, softplus, sigmoid, tanh, sqrt, abs, powers, division, max/min,
where and the rewrite pass's patterns, nested) and for each element-wise
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
         "log(cosh({}))", "exp(-({})**2)", "sign({})", "2*sigmoid({}) - 1", "sqrt(abs({}))")
BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / ({})", "max({}, {})", "min({}, {})",
          "where({} > 0, {}, 0)", "({}) / (1 + ({})**2)", "log(exp({}) + exp({}))", "exp({})/(exp({}) + exp({}))")


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


class _TimeUp(Exception):
    pass


def _time_up(signum: int, frame: object) -> None:
    raise _TimeUp


def main() -> int:
    signal.signal(signal.SIGALRM, _time_up)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formulas", type=int, default=200, help="formulas drawn (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-rules", action="store_true", help="skip the built-in rules")
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
    @settings(max_examples=args.formulas, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(FORMULAS)
    def draw(text: str) -> None:
        if text in formulas or time.perf_counter() - start > args.budget:
            return
        formulas.add(text)
        signal.alarm(args.formula_limit)  # SymPy can take minutes on a formula's derivative or kinks
        try:
            r = symdl.formula_rule(text)
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
    print(f"{time.perf_counter() - start:.0f} s; backends {', '.join(sweep.backends)}; dtypes float32, float64; "
          f"{len(POINTS)} points per input")
    for key, count in sorted(sweep.counts.items()):
        print(f"  {key}: {count}")
    for why, label, backend, where, problem in sorted(sweep.failures):
        print(f"{why:12s} {label!r} {backend} {where}: {problem[:120]}")
    return 1 if sweep.counts["failed: unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())
