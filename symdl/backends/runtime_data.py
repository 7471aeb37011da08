"""A graph's data as its entry points take it: one array, a sequence in the model's order, a dict by name, or one by one.

Each reads [X₁, …, Xₙ, Y₁, …, Yₖ] from an entry point's data arguments.

:func:`by_output` reads a dict keyed by output name (``fit``'s ``metrics={"main": "mae"}``) for :func:`symdl.fit` and
for a generated module's own ``fit`` (copied by :mod:`symdl.export.module_fit` as ``_fit_by_output``).
:func:`arrange` and :func:`forward_arrays` serve :class:`symdl.graph.CompiledGraph` (``loss``, ``fit``, ``forward`` …)
and, with :func:`data_arrays` and :func:`step_arguments`, are copied into the generated graph modules
(:mod:`symdl.export.graph_data`) under their names with a leading underscore (:func:`check_count` too, which a network
module's ``fit`` copies for itself), so that a module reads its data as the
compiled graph does and names a wrong key or count in the same words. The arrays are only counted and matched to
their names here, never read (no host read-back). Importing this module imports nothing but :mod:`collections.abc`
and :mod:`symdl.excerpt` (``_excerpt`` in a module, how a wrong key is shown).

One rule for one input, as Keras' functional models read theirs: a list or tuple is a sequence of arrays, one per
input, so a one-input model takes ``X`` or ``[X]``; a list of rows is made an array first (``numpy.asarray``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..excerpt import excerpt

__all__ = ["arrange", "by_output", "check_count", "data_arrays", "forward_arrays", "step_arguments"]


def arrange(data: object, specs: tuple[tuple[str, int], ...], aliases: tuple[str | None, ...], label: str) -> list[object]:
    """[array for each of ``specs``] from ``data``, or one ValueError line (``label`` names the side: inputs, X, Y).

    The arrays of ``specs`` (name, width) are read from ``data``: a dict keyed by each array's data key (``X1``, ``Y2``)
    or by its alias (the ``Input``'s own name, the output layer's name for a target); else a sequence of as many arrays
    (one array for a one-array side).
    """
    names = [name for name, _ in specs]
    if isinstance(data, Mapping):
        accepted = [{name, alias} - {None} for name, alias in zip(names, aliases)]
        # each array's data key, then its Input's (or output layer's) own name where it has another
        takes = ", ".join(name if alias in (None, name) else f"{name} (or {alias!r})" for name, alias in zip(names, aliases))
        unknown = [k for k in data if not any(k in keys for keys in accepted)]
        if unknown:
            raise ValueError(f"{label}: unexpected key {excerpt(unknown[0])}; this model takes {takes}")
        for key in data:  # an Input named 'X2' beside the array whose key is X2: the key would feed both
            owners = [name for name, keys in zip(names, accepted) if key in keys]
            if len(owners) > 1:
                raise ValueError(f"{label}: the key {excerpt(key)} names {len(owners)} arrays ({', '.join(owners)}); "
                                 "give a list in the model's order instead")
        out = []
        for name, keys in zip(names, accepted):
            found = [k for k in data if k in keys]
            if len(found) != 1:
                raise ValueError(f"{label}: {'no array for' if not found else 'two arrays for'} {name!r}; "
                                 f"this model takes {takes}")
            out.append(data[found[0]])
        return out
    # an array (numpy, torch, JAX) is no Sequence: one array for a one-array side; nor is text, though Python's str is
    arrays = list(data) if isinstance(data, Sequence) and not isinstance(data, (str, bytes)) else [data]
    check_count(label, names, data, arrays)
    return arrays


def check_count(label: str, names: Sequence[str], data: object, arrays: Sequence[object]) -> None:
    """Nothing when ``arrays`` (read from ``data``) hold one array for each of ``names``, else one ValueError line.

    Rows given for a one-array side (``X.tolist()``, a list or tuple of rows) get the hint ``numpy.asarray(rows)``.
    Serves :func:`arrange` and a generated module's own ``fit`` (:mod:`symdl.backends.runtime_fit`).
    """
    if len(arrays) != len(names):
        rows = len(names) == 1 and all(isinstance(a, (list, tuple, int, float)) for a in arrays)  # rows, not arrays
        kind = type(data).__name__
        hint = f"; a {kind} is read as a {kind} of arrays: give the rows as one array (numpy.asarray(rows))" if rows else ""
        raise ValueError(f"{label}: this model takes {len(names)} array(s) ({', '.join(names)}), got {len(arrays)}{hint}")


def forward_arrays(given: tuple[object, ...], specs: tuple[tuple[str, int], ...], aliases: tuple[str | None, ...]) -> list[object]:
    """``forward(params, *given)``'s input arrays: one argument is the inputs as ``loss`` reads them (:func:`arrange`),
    several are the arrays one by one; else one ValueError line."""
    if len(given) == 1:
        return arrange(given[0], specs, aliases, "inputs")
    if len(given) != len(specs):
        raise ValueError(f"forward: this model takes {len(specs)} input array(s), got {len(given)}")
    return list(given)


def data_arrays(given: tuple[object, ...], inputs: tuple[tuple[str, int], ...], targets: tuple[tuple[str, int], ...],
                input_aliases: tuple[str | None, ...], target_aliases: tuple[str | None, ...]) -> list[object]:
    """[*inputs, *targets] from an entry point's data arguments ``given``, or one ValueError line.

    ``(inputs[, targets])`` as :class:`symdl.graph.CompiledGraph` takes them (each side one array, a sequence or a
    dict: :func:`arrange`), or the n + k arrays one by one. Only the number of arguments decides, and the two forms
    differ only where n + k is neither 1 nor 2 (one input with at most one target: the same arrays either way), or
    is 2 from two inputs and no data target: then a list, tuple or dict first, or an empty target side, makes the
    two arguments (inputs, targets).
    """
    count = len(inputs) + len(targets)
    if len(given) == count and (len(inputs) > 1 or len(targets) > 1):
        grouped = count == 2 and (isinstance(given[0], (Sequence, Mapping))
                                  or (isinstance(given[1], (Sequence, Mapping)) and len(given[1]) == 0))
        if not grouped:
            return list(given)
    if len(given) not in (1, 2):
        names = ", ".join(name for name, _ in (*inputs, *targets))
        raise ValueError(f"expected the data as (inputs, targets) or as the {count} arrays {names} one by one, "
                         f"got {len(given)} data arguments")
    xs = arrange(given[0], inputs, input_aliases, "inputs")
    ys = arrange(given[1] if len(given) == 2 else (), targets, target_aliases, "targets")
    return [*xs, *ys]


def step_arguments(given: tuple[object, ...], names: tuple[str, ...]) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """(data arguments, step arguments) of ``train_step(params, *given)``: the last ``len(names)`` arguments are the step's
    (``lr``, or ``state`` and the free hyperparameters), as ``CompiledGraph.train_step`` takes them; else one ValueError line."""
    if len(given) <= len(names):
        raise ValueError(f"train_step: expected the data, then {', '.join(names)}; got {len(given)} argument(s)")
    split = len(given) - len(names)
    return given[:split], given[split:]


def by_output(given: Mapping[Any, object], outputs: Sequence[Sequence[Any]] | None) -> dict[str, list[object]]:
    """``{output name: [values]}`` in the model's order from a dict keyed by output names or aliases (``fit``'s
    ``metrics={"main": ["mae"], "Y2": "mse"}``: a value or a list of them each), or one ValueError line.

    ``outputs``: each output with a data target as (name, the keys a dict may use, its index among the outputs, its
    target's), as ``CompiledGraph.metric_outputs`` and a graph module's ``metric_outputs`` give them; None for a model
    whose outputs have no names (a network).
    """
    if outputs is None:
        raise ValueError("metrics: a dict keys metrics by output name; this model's outputs have no names, give a list")
    found: dict[str, list[object]] = {}
    for key, value in given.items():
        match = [o for o in outputs if key in o[1]]
        if not match:
            names = ", ".join(o[0] for o in outputs) or "none"
            raise ValueError(f"metrics: unexpected output {excerpt(key)}; outputs with a data target: {names}")
        name = match[0][0]
        if name in found:
            raise ValueError(f"metrics: two entries for the output {name!r}")
        found[name] = list(value) if isinstance(value, (list, tuple)) else [value]
    return {o[0]: found[o[0]] for o in outputs if o[0] in found}
