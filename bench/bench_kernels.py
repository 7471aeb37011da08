"""Time symdl's generated element-wise kernels against hand-written numpy and SymPy's ``lambdify``.

Run by hand from the repository root::

    python bench/bench_kernels.py            # 1_000_000 elements, table to stdout
    python bench/bench_kernels.py --quick    # 100_000 elements, fewer repeats
    python bench/bench_kernels.py --write    # also rewrite the table in docs/performance.md

For every element-wise rule (``symdl.rules()`` minus the vector rules), forward
``g`` and derivative ``g'``, float64 and float32, these candidates are timed:

* **symdl** — ``rule.numeric()`` / ``rule.numeric_derivative()``;
* **hand** — what a competent numpy user writes for the formula (the table
  ``REFERENCES`` below; the only place hand-written kernels exist);
* **alt** — for some kernels a second hand-written form (a stable one where the
  obvious one overflows, or a faster trick);
* **lambdify** — SymPy's stock ``lambdify(r.inputs, expr, "numpy")`` of the same
  expression (``r.bind(r.expr)`` / ``r.bind(r.derivative())``, named functions
  rewritten to elementary form by ``symdl.symbolic.proof.elementary``);
* **again** — the hand kernel once more, an A/A check: its ratio to hand is noise.

Timing: best of N ``timeit`` repeats of thread CPU time (``--wall``: wall-clock);
the candidates of one kernel take turns repeat by repeat, in shuffled order, each
timed call preceded by an untimed call of the same kernel, so machine noise and
cache state hit them alike; the ratios (symdl/hand, lambdify/hand, symdl/alt)
come from the same run. A kernel just over the goal (symdl/hand in 1.10–1.5) is
timed again before it counts as a miss. Everything runs on one thread (the
thread variables below are set before numpy is imported).

Stability: every candidate is also called at inputs ±1000 (losses: a = ±1000
with y ∈ {0, 1}) in both dtypes; the table names those that return inf/NaN or
raise a numpy floating-point warning (overflow, invalid, divide by zero).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's symdl, not an installed copy

from doc_sections import replace_section  # noqa: E402

import symdl  # noqa: E402
from symdl.rulebook.activations import SELU_ALPHA, SELU_LAMBDA  # noqa: E402
from symdl.symbolic.proof import elementary  # noqa: E402

VECTOR_RULES = {"softmax", "softmin", "log_softmax", "sparsemax", "softmax_cross_entropy", "maxout", "rbf"}
DOC = ROOT / "docs" / "performance.md"
GOAL_TOLERANCE = 1.10  # symdl/hand up to 1.10 counts as "no slower" (measurement noise ±10 %)
EDGE = 1000.0
RETIME_ROUNDS, RETIME_BELOW = 2, 1.5  # symdl/hand in (1.10, 1.5): up to 2 more rounds of repeats
BATCH, WARM_BELOW = 0.005, 0.012  # seconds
SHUFFLE = random.Random(20240601)  # the order of the candidates' turns, reproducible
# CPU time of this thread: time spent descheduled (other processes on a shared machine) does not count.
CLOCK: Callable[[], float] = time.thread_time

# --- hand-written references ----------------------------------------------------------
# (rule, pass) -> (hand, alt or None). Each is Python source: statements separated by "; ",
# the last one an expression (the result). Names: the rule's inputs, its parameters (alpha,
# delta, lam; LAMBDA/ALPHA for selu), np, log2, and t = the first input's scalar type
# (t(1) keeps float32 in np.where, which would otherwise return float64).
REFERENCES: dict[tuple[str, str], tuple[str, str | None]] = {
    # symdl's kernels never return an input array itself (callers may write to the result), so copy too.
    ("identity", "g"): ("z.copy()", None),
    ("identity", "g'"): ("np.ones_like(z)", None),
    ("relu", "g"): ("np.maximum(z, 0)", None),
    ("relu", "g'"): ("(z > 0).astype(z.dtype)", None),
    ("abs", "g"): ("np.abs(z)", None),
    ("abs", "g'"): ("np.sign(z)", None),
    ("leaky_relu", "g"): ("np.where(z > 0, z, alpha*z)", "np.maximum(z, alpha*z)"),
    ("leaky_relu", "g'"): ("np.where(z > 0, t(1), t(alpha))", None),
    ("prelu", "g"): ("np.where(z > 0, z, alpha*z)", None),
    ("prelu", "g'"): ("np.where(z > 0, t(1), alpha)", None),
    ("sigmoid", "g"): ("1/(1 + np.exp(-z))", "np.exp(-np.logaddexp(0, -z))"),
    ("sigmoid", "g'"): ("s = 1/(1 + np.exp(-z)); s*(1 - s)", "e = np.exp(-np.abs(z)); e/(1 + e)**2"),
    ("tanh", "g"): ("np.tanh(z)", None),
    ("tanh", "g'"): ("1 - np.tanh(z)**2", "e = np.exp(-2*np.abs(z)); 4*e/(1 + e)**2"),
    ("softplus", "g"): ("np.logaddexp(0, z)", "np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))"),
    ("softplus", "g'"): ("1/(1 + np.exp(-z))", "np.exp(-np.logaddexp(0, -z))"),
    ("hard_tanh", "g"): ("np.clip(z, -1, 1)", None),
    ("hard_tanh", "g'"): ("((z > -1) & (z < 1)).astype(z.dtype)", None),
    ("elu", "g"): ("np.where(z > 0, z, alpha*np.expm1(np.minimum(z, 0)))", None),
    ("elu", "g'"): ("np.where(z > 0, t(1), alpha*np.exp(np.minimum(z, 0)))", None),
    ("selu", "g"): ("LAMBDA*np.where(z > 0, z, ALPHA*np.expm1(np.minimum(z, 0)))", None),
    ("selu", "g'"): ("LAMBDA*np.where(z > 0, t(1), ALPHA*np.exp(np.minimum(z, 0)))", None),
    ("exponential", "g"): ("np.exp(z)", None),
    ("exponential", "g'"): ("np.exp(z)", None),
    ("mse", "g"): ("0.5*(a - y)**2", None),
    ("mse", "g'"): ("a - y", None),
    ("mae", "g"): ("np.abs(a - y)", None),
    ("mae", "g'"): ("np.sign(a - y)", None),
    ("huber", "g"): ("e = a - y; np.where(np.abs(e) <= delta, 0.5*e*e, delta*(np.abs(e) - 0.5*delta))", None),
    ("huber", "g'"): ("np.clip(a - y, -delta, delta)", None),
    ("log_cosh", "g"): ("np.log(np.cosh(a - y))", "e = a - y; np.logaddexp(e, -e) - log2"),
    ("log_cosh", "g'"): ("np.tanh(a - y)", None),
    ("binary_cross_entropy", "g"): (
        "np.logaddexp(0, a) - y*a",
        "np.maximum(a, 0) - a*y + np.log1p(np.exp(-np.abs(a)))",
    ),
    ("binary_cross_entropy", "g'"): ("1/(1 + np.exp(-a)) - y", "np.exp(-np.logaddexp(0, -a)) - y"),
    ("l1", "g"): ("lam*np.abs(w).sum()", None),
    ("l1", "g'"): ("lam*np.sign(w)", None),
    ("l2", "g"): ("lam*np.sum(w*w)", "lam*np.dot(w, w)"),
    ("l2", "g'"): ("2*lam*w", None),
}


def compile_reference(code: str, inputs: tuple[str, ...], params: dict[str, float]) -> Callable[..., object]:
    """A function of ``inputs`` running ``code`` (statements "; "-separated, the last one returned)."""
    *statements, result = code.split("; ")
    body = [f"t = {inputs[0]}.dtype.type", *statements, f"return {result}"]
    source = f"def reference({', '.join(inputs)}):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, object] = {"np": np, "log2": math.log(2), **params}
    exec(compile(source, "<reference>", "exec"), namespace)  # noqa: S102  (our own table above)
    return namespace["reference"]  # type: ignore[return-value]


# --- cases ---------------------------------------------------------------------------


@dataclass
class Case:
    """One kernel (rule and pass) with its candidates."""

    rule: str
    pas: str  # "g" or "g'"
    kind: str
    candidates: dict[str, Callable[..., object]]
    codes: dict[str, str]
    reduce_sum: bool = False
    results: dict[str, dict] = field(default_factory=dict)  # dtype name -> measurements

    @property
    def label(self) -> str:
        return self.rule + ("'" if self.pas == "g'" else "")


def rule_param_floats(r: symdl.Rule) -> dict[str, float]:
    params = {k: float(v) for k, v in r.params.items()}
    params.update(LAMBDA=float(SELU_LAMBDA), ALPHA=float(SELU_ALPHA))
    return params


def lambdify_kernel(r: symdl.Rule, expr: sp.Expr, reduce_sum: bool) -> Callable[..., object]:
    f = sp.lambdify(r.inputs, elementary(r.bind(expr)), "numpy")
    if reduce_sum:
        return lambda *args: np.sum(f(*args))
    return f


def build_cases(only: set[str] | None = None) -> list[Case]:
    cases = []
    for name, kind in symdl.rules().items():
        if name in VECTOR_RULES or (only and name not in only):
            continue
        r = symdl.rule(name)
        inputs = tuple(s.name for s in r.inputs)
        params = rule_param_floats(r)
        for pas in ("g", "g'"):
            hand, alt = REFERENCES[(name, pas)]
            forward = pas == "g"
            kernel = r.numeric() if forward else r.numeric_derivative()
            reduce_sum = forward and r.definition.reduce_sum
            candidates = {"symdl": kernel, "hand": compile_reference(hand, inputs, params)}
            # A/A check: the hand kernel once more as its own candidate; its ratio to "hand" is pure noise.
            candidates["again"] = compile_reference(hand, inputs, params)
            codes = {"symdl": kernel.source, "hand": hand}
            if alt is not None:
                candidates["alt"] = compile_reference(alt, inputs, params)
                codes["alt"] = alt
            candidates["lambdify"] = lambdify_kernel(r, r.expr if forward else r.derivative(), reduce_sum)
            cases.append(Case(name, pas, kind, candidates, codes, reduce_sum))
    return cases


def make_inputs(case: Case, n: int, dtype: type, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Benchmark inputs: uniform in [−5, 5]; BCE labels in {0, 1}; prelu's α one per column."""
    x = rng.uniform(-5, 5, n).astype(dtype)
    if case.rule == "prelu":
        return x.reshape(-1, 1000), rng.uniform(0, 0.5, 1000).astype(dtype)
    if case.kind == "loss":
        if case.rule == "binary_cross_entropy":
            return x, rng.integers(0, 2, n).astype(dtype)
        return x, rng.uniform(-5, 5, n).astype(dtype)
    return (x,)


def edge_inputs(case: Case, dtype: type) -> tuple[np.ndarray, ...]:
    """±1000 (losses: every pairing with y ∈ {0, 1}; prelu: α = 0.25)."""
    if case.rule == "prelu":
        return np.array([-EDGE, EDGE], dtype), np.array([0.25, 0.25], dtype)
    if case.kind == "loss":
        return np.array([-EDGE, -EDGE, EDGE, EDGE], dtype), np.array([0, 1, 0, 1], dtype)
    return (np.array([-EDGE, EDGE], dtype),)


# --- measuring -----------------------------------------------------------------------


def time_interleaved(candidates: dict[str, Callable[..., object]], args: tuple, repeats: int) -> dict[str, float]:
    """Best time per call of each candidate; the candidates take turns, repeat by repeat.

    Which candidate ran just before shifts a cheap kernel by up to ~25 % (cache and memory state
    left behind), so the order of the turns is shuffled every repeat, and in its turn a candidate is
    first called once untimed, unless one call takes longer than WARM_BELOW (then the predecessor's
    share of its time is small). Then a batch of at least BATCH seconds is timed (one call for the
    slower kernels).
    """
    timers, numbers, once_times = {}, {}, {}
    for key, fn in candidates.items():
        timer = timeit.Timer(lambda fn=fn: fn(*args), timer=CLOCK)
        fn(*args)  # warm-up
        once = once_times[key] = timer.timeit(1)
        timers[key], numbers[key] = timer, max(1, min(100, round(BATCH / max(once, 1e-9))))
    best = dict.fromkeys(candidates, math.inf)
    order = list(candidates)
    for _ in range(repeats):
        SHUFFLE.shuffle(order)
        for key in order:
            if once_times[key] < WARM_BELOW:
                candidates[key](*args)  # untimed: the timed calls follow a call of the same kernel
            best[key] = min(best[key], timers[key].timeit(numbers[key]) / numbers[key])
    return best


def stability(fn: Callable[..., object], args: tuple) -> set[str]:
    """{"non-finite", "warning"} subset: what calling ``fn`` at ±1000 gives."""
    issues = set()
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        try:
            out = np.asarray(fn(*args), dtype=float)
        except FloatingPointError:  # pragma: no cover - errstate is "warn" here
            return {"error"}
    if caught:
        issues.add("warning")
    if not np.all(np.isfinite(out)):
        issues.add("non-finite")
    return issues


def agrees(value: object, reference: np.ndarray, dtype: type) -> bool:
    rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-9, 1e-12)
    value = np.broadcast_to(np.asarray(value, dtype=np.float64), np.shape(reference))
    return bool(np.allclose(value, np.asarray(reference, dtype=np.float64), rtol=rtol, atol=atol))


def measure(case: Case, n: int, repeats: int, rng: np.random.Generator) -> None:
    for dtype in (np.float64, np.float32):
        args = make_inputs(case, n, dtype, rng)
        with np.errstate(all="ignore"):
            outputs = {k: fn(*args) for k, fn in case.candidates.items()}
            times = time_interleaved(case.candidates, args, repeats)
            # Noise only ever adds time: a borderline miss gets more repeats before it is believed.
            retimed = 0
            while retimed < RETIME_ROUNDS and GOAL_TOLERANCE < times["symdl"] / times["hand"] < RETIME_BELOW:
                more = time_interleaved(case.candidates, args, repeats)
                times = {k: min(times[k], more[k]) for k in times}
                retimed += 1
        reference = np.asarray(outputs["symdl"])
        mismatch = [k for k, v in outputs.items() if k != "symdl" and not agrees(v, reference, dtype)]
        for k in mismatch:
            print(f"warning: {case.label} {dtype.__name__}: {k} disagrees with symdl", file=sys.stderr)
        upcast = [k for k, v in outputs.items() if np.ndim(v) and np.asarray(v).dtype != dtype]
        scalar = [k for k, v in outputs.items() if not case.reduce_sum and np.ndim(v) == 0]
        edge = edge_inputs(case, dtype)
        issues = {k: stability(fn, edge) for k, fn in case.candidates.items()}
        case.results[dtype.__name__] = {
            "times": times, "mismatch": mismatch, "upcast": upcast, "scalar": scalar, "issues": issues,
            "retimed": retimed,
        }


def claims(cases: list[Case], n: int, repeats: int, rng: np.random.Generator) -> list[tuple[str, str, str, dict]]:
    """The issue's two numbers: lambdified Heaviside (measured here) and Huber' (from the huber' row)."""
    z = sp.Symbol("z", real=True)
    heaviside = sp.lambdify(z, sp.diff(sp.Max(0, z), z), "numpy")  # Heaviside(z): SymPy's d/dz max(0, z)
    relu_hand = compile_reference(REFERENCES[("relu", "g'")][0], ("z",), {})
    rows = []
    for dtype in (np.float64, np.float32):
        x = rng.uniform(-5, 5, n).astype(dtype)
        with np.errstate(all="ignore"):
            times = time_interleaved({"lambdify": heaviside, "hand": relu_hand}, (x,), repeats)
        rows.append(("Heaviside(z) = SymPy's d/dz max(0, z)", REFERENCES[("relu", "g'")][0], dtype.__name__, times))
    for case in cases:
        if case.label == "huber'":
            for dt, res in case.results.items():
                rows.append(("Huber' = SymPy's derivative of huber", case.codes["hand"], dt, res["times"]))
    return rows


# Primitive numpy operations, to explain the table: what one pass of each costs per element.
PRIMITIVES: dict[str, str] = {
    "copy": "z.copy()",
    "np.maximum(z, 0)": "np.maximum(z, 0)",
    "np.abs(z)": "np.abs(z)",
    "(z > 0).astype(z.dtype)": "(z > 0).astype(z.dtype)",
    "np.where(z > 0, z, -z)": "np.where(z > 0, z, -z)",
    "np.where(z > 0, t(1), t(0))": "np.where(z > 0, t(1), t(0))",
    "np.clip(z, -1, 1)": "np.clip(z, -1, 1)",
    "np.exp(z)": "np.exp(z)",
    "np.tanh(z)": "np.tanh(z)",
    "np.log(q)": "np.log(q)",
    "np.log1p(q)": "np.log1p(q)",
    "np.logaddexp(0, z)": "np.logaddexp(0, z)",
}


def primitives(n: int, repeats: int, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """ns per element of each primitive (``q`` is |z|, so log's argument is positive), per dtype."""
    out: dict[str, dict[str, float]] = {}
    for dtype in (np.float64, np.float32):
        z = rng.uniform(-5, 5, n).astype(dtype)
        fns = {k: compile_reference(code, ("z", "q"), {}) for k, code in PRIMITIVES.items()}
        with np.errstate(all="ignore"):
            times = time_interleaved(fns, (z, np.abs(z)), repeats)
        out[dtype.__name__] = {k: v / n * 1e9 for k, v in times.items()}
    return out


# --- reporting -----------------------------------------------------------------------


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}" if x >= 0.095 else f"{x:.3f}"


def fmt_ms(x: float) -> str:
    return f"{x * 1e3:.3f}" if x < 1e-3 else f"{x * 1e3:.2f}"


def pair(case: Case, num: str, den: str) -> str:
    cells = []
    for dt in ("float64", "float32"):
        res = case.results[dt]
        t = res["times"]
        if num not in t or den not in t:
            return ""
        cell = fmt_ratio(t[num] / t[den])
        if num in res["upcast"]:
            cell += "†"
        if num in res["scalar"]:
            cell += "‡"
        if num in res["mismatch"]:
            cell += "≠"
        cells.append(cell)
    return " / ".join(cells)


def goal(case: Case) -> tuple[bool, str]:
    # Judged on the ratios as printed (two decimals), so that a cell showing 1.10 never reads "not met".
    ratios = [round(case.results[dt]["times"]["symdl"] / case.results[dt]["times"]["hand"], 2) for dt in case.results]
    if max(ratios) <= GOAL_TOLERANCE:
        return True, "met"
    return False, "**not met** (" + " / ".join(f"{x:.2f}×" for x in ratios) + ")"


def stability_cell(case: Case) -> str:
    parts = []
    for key in case.candidates:
        if key == "again":
            continue
        found: dict[str, list[str]] = {}
        for dt in ("float64", "float32"):
            for issue in sorted(case.results[dt]["issues"][key]):
                found.setdefault(issue, []).append("f64" if dt == "float64" else "f32")
        if found:
            text = ", ".join(f"{issue}" + ("" if len(d) == 2 else f" ({d[0]})") for issue, d in found.items())
            parts.append(f"{key}: {text}")
    return "; ".join(parts) or "none"


def markdown(cases: list[Case], claim_rows: list, prims: dict[str, dict[str, float]], meta: dict[str, str]) -> str:
    lines = [
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in meta.items()],
        "",
        "## Kernels",
        "",
        f"{meta['elements']} elements, best of {meta['repeats']} interleaved repeats (candidates in shuffled order, "
        f"each timed call preceded by a call of the same kernel), one thread, {meta['clock']}. "
        "Ratios are time / time of the hand-written kernel in the same run (below 1: faster than hand); "
        "each cell is float64 / float32. "
        "† the candidate returns float64 for float32 input; ‡ it returns a scalar, not an array. "
        f"Goal: symdl/hand ≤ {GOAL_TOLERANCE:.2f} in both dtypes (no slower, allowing ±10 % measurement noise); "
        f"a kernel between {GOAL_TOLERANCE:.2f} and {RETIME_BELOW} is timed for up to {RETIME_ROUNDS} more rounds "
        "of repeats (best of all kept) before it counts as a miss; * marks such a kernel. "
        "Last column: candidates giving inf/NaN or a numpy floating-point warning at ±1000.",
        "",
        "| kernel | hand ms f64 / f32 | symdl/hand | lambdify/hand | symdl/alt | goal "
        "| non-finite or warning at ±1000 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in cases:
        hand_ms = " / ".join(fmt_ms(c.results[dt]["times"]["hand"]) for dt in ("float64", "float32"))
        _, verdict = goal(c)
        star = "*" if any(c.results[dt]["retimed"] for dt in c.results) else ""
        lines.append(
            f"| {c.label}{star} | {hand_ms} | {pair(c, 'symdl', 'hand')} | {pair(c, 'lambdify', 'hand')} | "
            f"{pair(c, 'symdl', 'alt')} | {verdict} | {stability_cell(c)} |"
        )
    met = sum(goal(c)[0] for c in cases)
    missed = [c for c in cases if not goal(c)[0]]
    noise = sorted(
        (abs(c.results[dt]["times"]["again"] / c.results[dt]["times"]["hand"] - 1), c.label, dt)
        for c in cases
        for dt in c.results
    )
    worst = noise[-1]
    lines += [
        "",
        f"Goal met by {met} of {len(cases)} kernels"
        + (f"; not met: {', '.join(c.label for c in missed)}." if missed else "."),
        "",
        "Noise (A/A check): the hand kernel, timed a second time as a separate candidate, differs from itself by "
        f"{100 * noise[len(noise) // 2][0]:.0f} % in the median cell and by at most {100 * worst[0]:.0f} % "
        f"({worst[1]}, {worst[2]}); {sum(n[0] > GOAL_TOLERANCE - 1 for n in noise)} of {len(noise)} cells "
        f"differ by more than {100 * (GOAL_TOLERANCE - 1):.0f} %.",
        "",
        "### The hand-written references",
        "",
        "`t` is the input's scalar type (keeps float32 through `np.where`); parameters at their defaults.",
        "",
        "| kernel | hand | alt |",
        "| --- | --- | --- |",
    ]
    for c in cases:
        alt = f"`{c.codes['alt']}`" if "alt" in c.codes else ""
        lines.append(f"| {c.label} | `{c.codes['hand']}` | {alt} |")
    lines += [
        "",
        "### The issue's numbers: lambdified select against hand-written numpy",
        "",
        "| kernel | dtype | lambdify ms | hand ms | lambdify/hand |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, hand, dt, t in claim_rows:
        lines.append(
            f"| {label} vs `{hand}` | {dt} | {fmt_ms(t['lambdify'])} | {fmt_ms(t['hand'])} | "
            f"{t['lambdify'] / t['hand']:.1f} |"
        )
    lines += [
        "",
        "### Primitive operations",
        "",
        "ns per element (one call on the whole array; `q = |z|`), for reading the table above.",
        "",
        "| operation | float64 | float32 |",
        "| --- | --- | --- |",
    ]
    for key in PRIMITIVES:
        lines.append(f"| `{key}` | {prims['float64'][key]:.2f} | {prims['float32'][key]:.2f} |")
    return "\n".join(lines) + "\n"


def git_state() -> str:
    """HEAD's short hash, and whether symdl/ differs from it (the kernels measured are the working tree's)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "symdl")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (" (symdl/ has uncommitted changes)" if dirty else "")


def machine(n: int, repeats: int) -> dict[str, str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus (os.cpu_count)": str(os.cpu_count()),
        "load average at start (1, 5, 15 min)": load,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sympy": sp.__version__,
        "symdl": f"{symdl.__version__} at commit {git_state()}",
        "threads": "1 (OMP/OPENBLAS/MKL_NUM_THREADS=1)",
        "clock": ("wall-clock (time.perf_counter)" if CLOCK is time.perf_counter
                  else "thread CPU time (time.thread_time)"),
        "elements": f"{n:_}",
        "repeats": str(repeats),
    }


def write_doc(block: str) -> None:
    replace_section(DOC, "kernels", block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100_000 elements and fewer repeats")
    parser.add_argument("--write", action="store_true", help=f"rewrite the table in {DOC.relative_to(ROOT)}")
    parser.add_argument("--rules", help="comma-separated rule names (default: every element-wise rule)")
    parser.add_argument("--repeats", type=int, help="timing repeats (default 15, --quick 9)")
    parser.add_argument("--wall", action="store_true", help="time wall-clock (perf_counter), not thread CPU time")
    args = parser.parse_args(argv)
    n = 100_000 if args.quick else 1_000_000
    repeats = args.repeats or (9 if args.quick else 15)
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    started = time.perf_counter()
    meta = machine(n, repeats)
    only = set(args.rules.split(",")) if args.rules else None
    known = {name for name in symdl.rules() if name not in VECTOR_RULES}
    if only and only - known:
        unknown, accepted = ", ".join(sorted(only - known)), ", ".join(sorted(known))
        parser.error(f"--rules: unknown {unknown}; element-wise rules: {accepted}")
    if only and args.write:
        parser.error("--write rewrites the whole table: run it without --rules")
    cases = build_cases(only)
    rng = np.random.default_rng(20240601)
    for case in cases:
        t0 = time.perf_counter()
        measure(case, n, repeats, rng)
        print(f"  measured {case.label} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    claim_rows = claims(cases, n, repeats, rng)
    prims = primitives(n, repeats, rng)
    elapsed = time.perf_counter() - started
    meta["runtime of this benchmark"] = f"{elapsed:.0f} s"
    block = markdown(cases, claim_rows, prims, meta)
    print(block)
    if args.write:
        write_doc(block)
        print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
