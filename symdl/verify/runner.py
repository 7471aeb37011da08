"""Running the rows of ``symdl verify``: planned as independent tasks, looked up in the disk cache, computed in parallel.

:func:`plan` lists the tasks in the order of the table (each rule at its defaults
and at other parameter values, the backprop, layer and optimizer proof rows,
the compiled networks, the generated-code parts); each task yields one row.
:func:`run` looks every task up in a :class:`~symdl.verify.cache.VerifyCache`
(key: :meth:`Task.key`), computes the misses — in worker processes when
``jobs`` > 1 and more than one is missing, the longest first, and the
generated-code tasks one after the other in one worker, which imports PyTorch
and JAX once — stores them, and returns the rows in plan
order, so the output is the same for any ``jobs``.

Worker processes are forked where the platform allows it and the parent holds
no threads (nor JAX or PyTorch, which start their own); otherwise they are
spawned.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .cache import VerifyCache, entry_key, rule_text
from .rules import RuleReport, _check_points, case_params

__all__ = ["NETWORK_ROWS", "CODEGEN_ROWS", "Task", "default_jobs", "plan", "run", "run_task", "run_tasks"]

#: Names that select, besides rules: the backprop/layer/optimizer proofs and the compiled networks; the generated code.
NETWORK_ROWS = "networks"
CODEGEN_ROWS = "codegen"

#: Seconds a task of each kind was seen to take, for the order of submission before the cache knows better
#: ("vector rule": a rule task of a vector rule, whose proofs and references are over every element).
_PRIOR_SECONDS = {"codegen": 3.0, "layer": 1.0, "vector rule": 1.0, "backprop": 0.5, "network": 0.5, "graph": 0.5,
                  "optimizer": 0.5, "rule": 0.3}


@dataclass(frozen=True)
class Task:
    """One row of ``symdl verify``: what to compute (``kind``, ``args``), its label, the rules whose text it depends
    on and the extra distributions (torch, jax) whose versions it depends on."""

    label: str
    kind: str
    args: tuple[Any, ...]
    rules: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def key(self, texts: dict[tuple[str, tuple[tuple[str, Any], ...]], str] | None = None) -> str:
        """The cache key: the task, the settings, the versions, the source fingerprint and the texts of its rules.

        ``texts``: the rule texts already computed, by (name, parameters), filled in as they are computed (the
        keys of one run build each rule once, not once per row that uses it).
        """
        texts = {} if texts is None else texts

        def text(name: str, params: tuple[tuple[str, Any], ...] = ()) -> str:
            from ..rulebook.registry import rule

            if (name, params) not in texts:
                texts[name, params] = rule_text(rule(name, **dict(params)))
            return texts[name, params]

        task = {"label": self.label, "kind": self.kind, "args": list(self.args)}
        if self.kind == "rule":
            name, params, _ = self.args
            return entry_key(task, [text(name, params)], catalogues=False)
        # Rows that build networks or loop over the catalogue depend on its source as well.
        return entry_key(task, [text(n) for n in self.rules], extra=self.extra)


def plan(names: Sequence[str] | None = None, points: int = 200) -> list[Task]:
    """The tasks for ``names`` (rules, :data:`NETWORK_ROWS`, :data:`CODEGEN_ROWS`; None: everything), in table order."""
    from ..rulebook.registry import is_vector_rule, rules
    from .codegen import BACKEND_NETWORKS, codegen_parts
    from .network import CONCRETE_PROOFS, LAYER_PROOFS, NETWORK_CASES

    _check_points(points)
    everything = names is None
    names = list(rules()) + [NETWORK_ROWS, CODEGEN_ROWS] if names is None else list(dict.fromkeys(names))
    tasks: list[Task] = []
    for name in names:
        if name in (NETWORK_ROWS, CODEGEN_ROWS):
            continue
        for label, params in case_params(name):
            tasks.append(Task(label, "rule", (name, tuple(sorted(params.items())), points), (name,)))
    if everything or NETWORK_ROWS in names:
        tasks.append(Task("backprop BP1-BP4 symbolic widths", "backprop", (-1,)))
        for i, (label, _, activation, loss) in enumerate(CONCRETE_PROOFS):
            tasks.append(Task(label, "backprop", (i,), tuple(n for n in (activation, loss) if n)))
        tasks += [Task(label, "layer", (i,)) for i, (label, _) in enumerate(LAYER_PROOFS)]
        tasks.append(Task("optimizer proofs", "optimizer", ()))
        tasks.append(Task("graph residual+shared+aux", "graph", ("residual",)))
        tasks.append(Task("graph formula layers (notebook)", "graph", ("formula",)))
        for label, spec in NETWORK_CASES:
            tasks.append(Task(label, "network", (label, json.dumps(spec, sort_keys=True)), _spec_rules(spec)))
    if everything or CODEGEN_ROWS in names:
        elementwise = tuple(n for n in rules() if not is_vector_rule(n))  # without building the rules
        for part in codegen_parts():
            backend = part.split()[-1] if part != "standalone" else None
            used = elementwise if part == "standalone" or part.startswith("export") else _spec_rules(*BACKEND_NETWORKS)
            tasks.append(Task(f"generated code: {part}", "codegen", (part,), used, (backend,) if backend else ()))
    return tasks


def _spec_rules(*specs: dict) -> tuple[str, ...]:
    keys = ("activation", "output_activation", "loss", "penalty")
    return tuple(sorted({spec[k] for spec in specs for k in keys if spec.get(k)}))


def run_task(task: Task) -> tuple[list[RuleReport], float]:
    """Compute one task's rows (and the seconds it took); the function the worker processes run."""
    start = time.perf_counter()
    kind, args = task.kind, task.args
    if kind == "rule":
        from ..rulebook.registry import rule
        from .rules import verify_rule

        name, params, points = args
        report = verify_rule(rule(name, **dict(params)), points=points)
        report.name = task.label
        reports = [report]
    elif kind == "backprop":
        from .network import backprop_concrete_row, backprop_symbolic_row

        reports = [backprop_symbolic_row() if args[0] < 0 else backprop_concrete_row(args[0])]
    elif kind == "layer":
        from .network import layer_proof_row

        reports = [layer_proof_row(args[0])]
    elif kind == "optimizer":
        from .optimizers import verify_optimizer_proofs

        reports = [verify_optimizer_proofs()]
    elif kind == "graph":
        from .graphs import verify_graphs

        reports = verify_graphs(*args)
    elif kind == "network":
        from .network import verify_network

        reports = [verify_network(args[0], json.loads(args[1]))]
    elif kind == "codegen":
        from .codegen import verify_codegen_part

        reports = [verify_codegen_part(args[0])]
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    return reports, time.perf_counter() - start


def _prior_seconds(task: Task) -> float:
    """What ``task`` is expected to take before the cache has timed it (:data:`_PRIOR_SECONDS`)."""
    from ..rulebook.registry import is_vector_rule

    kind = "vector rule" if task.kind == "rule" and is_vector_rule(task.args[0]) else task.kind
    return _PRIOR_SECONDS.get(kind, 1.0)


def run_tasks(tasks: Sequence[Task]) -> list[tuple[list[RuleReport], float]]:
    """:func:`run_task` of each task in turn, in one process (a worker's job: tasks that share an import)."""
    return [run_task(task) for task in tasks]


def _batches(indices: Sequence[int], tasks: Sequence[Task]) -> list[list[int]]:
    """``indices`` in batches: the generated-code tasks in one batch, every other task alone.

    One worker then imports PyTorch and JAX once, and the generated-code rows share what SymPy and symdl remember
    of the same rules and networks (measured on 2 cores: about 1.8 s of CPU less than a batch per library and the
    standalone row alone).
    """
    generated: list[int] = []
    batches: list[list[int]] = []
    for i in indices:
        if tasks[i].kind == "codegen":
            if not generated:
                batches.append(generated)
            generated.append(i)
        else:
            batches.append([i])
    return batches


def default_jobs() -> int:
    """The CPUs this process may run on (``os.sched_getaffinity`` where it exists, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    threads = threading.active_count() > 1 or "jax" in sys.modules or "torch" in sys.modules
    return multiprocessing.get_context("fork" if "fork" in methods and not threads else "spawn")


#: The collector's thresholds in the processes that compute rows (Python's default: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 20)


def collect_less() -> None:
    """Garbage-collect less often: what was imported (or inherited from the parent) is frozen out of the
    collections, and the youngest generation is collected after 50 000 allocations instead of 700.

    SymPy allocates millions of short-lived objects that reference counting frees; with the default thresholds the
    collector ran about 2000 times in a cold ``symdl verify``, about 1.3 s of its CPU time, and found little.
    For processes that only compute rows (the workers, the command line).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def collecting_less() -> Iterator[None]:
    """:func:`collect_less` for the time of the block, then the collector's thresholds as they were and the frozen
    objects thawed (unless the process had frozen some itself): the process may be a Python caller's."""
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen:
            gc.unfreeze()


def _start_worker() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (no traceback from each), and collect less."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collect_less()


def _timings(cache: VerifyCache | None) -> dict[str, float]:
    """Seconds each label took last time (data from the cache directory; anything else is ignored)."""
    if cache is None:
        return {}
    try:
        data = json.loads((cache.directory / "timings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and type(v) in (int, float) and v >= 0}


def _save_timings(cache: VerifyCache, timings: dict[str, float]) -> None:
    path = cache.directory / "timings.json"
    temporary = path.with_name(f".timings.{os.getpid()}.tmp")
    try:
        cache.directory.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps({k: round(v, 3) for k, v in sorted(timings.items())}), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass


def run(
    tasks: Sequence[Task],
    jobs: int = 1,
    cache: VerifyCache | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[RuleReport]:
    """The rows of ``tasks`` in their order: from ``cache`` where it holds them, else computed on ``jobs`` processes.

    ``progress(label, i, n)`` is called in plan order, before waiting for task
    ``i``; an object with a ``tick()`` method is also ticked while it waits.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    texts: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}
    keys = [task.key(texts) for task in tasks] if cache is not None else []
    found: list[list[RuleReport] | None] = [cache.get(k) for k in keys] if cache is not None else [None] * len(tasks)
    missing = [i for i, reports in enumerate(found) if reports is None]
    timings = _timings(cache)
    pending: dict[int, tuple[Any, int]] = {}  # task → (its batch's result, its place in the batch)
    pool = None
    batches = _batches(missing, tasks) if jobs > 1 else []
    if len(batches) > 1:
        pool = _context().Pool(min(jobs, len(batches)), initializer=_start_worker)
        cost = {i: timings.get(tasks[i].label, _prior_seconds(tasks[i])) for i in missing}
        for batch in sorted(batches, key=lambda b: -sum(cost[i] for i in b)):
            result = pool.apply_async(run_tasks, ([tasks[i] for i in batch],))
            pending.update((i, (result, place)) for place, i in enumerate(batch))
    tick = getattr(progress, "tick", None)
    results: list[RuleReport] = []
    try:
        for i, task in enumerate(tasks):
            if progress:
                progress(task.label, i, len(tasks))
            reports = found[i]
            if reports is None:
                if i in pending:
                    result, place = pending[i]
                    while tick is not None and not result.ready():
                        result.wait(0.25)
                        tick()
                    reports, seconds = result.get()[place]
                else:
                    reports, seconds = run_task(task)
                timings[task.label] = seconds
                if cache is not None:
                    cache.put(keys[i], reports, seconds)
            results += reports
    except BaseException:
        if pool is not None:
            pool.terminate()  # Ctrl-C or a failed row: the other rows are not waited for
        raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if cache is not None and missing:
        _save_timings(cache, timings)
    return results
