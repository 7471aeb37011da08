"""A graph module's entry points taking their data as CompiledGraph does: the arrays one by one, a list, or a dict by name.

:func:`data_runtime` copies :mod:`symdl.backends.runtime_data` (the text :class:`symdl.graph.CompiledGraph` runs) into
the module; :func:`data_forms` rewrites each checked entry point ``def name(params, X1, X2, Y1, Y2, lr[, seed=0])``
as ``def name(params, *arguments[, seed=0])`` that binds X1 … Y2 (and lr) from its arguments first. The unchecked
entry points keep their arrays one by one, as ``CompiledGraph.unchecked`` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..backends.runtime_data import (
    arrange,
    check_count,
    data_arrays,
    forward_arrays,
    step_arguments,
)
from ..codegen.module_text import unannotated_source

__all__ = ["data_convention", "data_forms", "data_runtime"]

_NAMES = {"arrange": "_arrange", "forward_arrays": "_forward_arrays", "data_arrays": "_data_arrays",
          "step_arguments": "_step_arguments", "check_count": "_check_count", "excerpt": "_excerpt"}
_ENTRIES = ("forward", "loss", "inference_loss", "loss_and_grad", "train_step")


def data_runtime(input_aliases: Sequence[str | None], target_aliases: Sequence[str | None]) -> list[str]:
    """The shared helpers ``_arrange`` (with its ``_check_count``), ``_forward_arrays``, ``_data_arrays``,
    ``_step_arguments`` and each input's and data target's other key in a data dict (its ``Input``'s or output layer's
    name, None where it has none)."""
    aliases = f"_INPUT_ALIASES = {tuple(input_aliases)!r}\n_TARGET_ALIASES = {tuple(target_aliases)!r}\n"
    return [aliases, *(unannotated_source(f, _NAMES) for f in (arrange, check_count, forward_arrays, data_arrays, step_arguments))]


def data_forms(source: str, inputs: Sequence[str], targets: Sequence[str], entries: Sequence[str] = _ENTRIES) -> str:
    """``source`` with each checked entry point taking ``(params, *arguments)``: the data one by one or grouped.

    ``forward(params, *inputs)``; ``loss``, ``inference_loss`` and ``loss_and_grad(params, *data)``;
    ``train_step(params, *arguments)`` whose last arguments are the step's (lr, or state and hyperparameters).
    A keyword argument (``seed=0``) stays one. The binding lines follow the def line and its docstring.
    ``entries``: the entry points to rewrite (``output_losses`` and ``inference_output_losses`` take the data as ``loss``).
    """
    def rewrite(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2).split(", ")
        data = [*inputs] if name == "forward" else [*inputs, *targets]
        if args[1:1 + len(data)] != data:
            raise ValueError(f"data_forms: {name} does not take its data as {', '.join(data)}")
        rest = args[1 + len(data):]
        step = [a for a in rest if "=" not in a]
        keywords = [a for a in rest if "=" in a]
        unpack = f"{', '.join(data)}, = "
        if name == "forward":
            given, lines = "inputs", [unpack + "_forward_arrays(inputs, _INPUTS, _INPUT_ALIASES)"]
        else:
            given, lines = ("arguments", [f"data, ({', '.join(step)},) = _step_arguments(arguments, {tuple(step)!r})"]) if step else ("data", [])
            lines.append(unpack + "_data_arrays(data, _INPUTS, _TARGETS, _INPUT_ALIASES, _TARGET_ALIASES)")
        head = f"def {name}({', '.join(['params', f'*{given}', *keywords])}):\n"
        return head + "".join(f"    {line}\n" for line in lines)

    pattern = re.compile(rf"^def ({'|'.join(entries)})\((.*)\):\n", re.MULTILINE)
    out, rewritten = [], []
    for block in source.split("\n\n\n"):
        match = pattern.search(block)
        if match is None or not all(line.startswith("@") for line in block[:match.start()].splitlines()):  # decorators only
            out.append(block)
            continue
        rewritten.append(match.group(1))
        after = match.end()
        doc = re.match(r'    """.*"""\n', block[after:])  # the binding lines go after a one-line docstring
        if doc is not None:
            after += doc.end()
        head = rewrite(match)
        cut = head.index("\n") + 1
        out.append(block[:match.start()] + head[:cut] + block[match.end():after] + head[cut:] + block[after:])
    if sorted(rewritten) != sorted(entries):  # an entry point left taking its arrays one by one only: never silently
        raise ValueError(f"data_forms: found the entry points {sorted(rewritten)}, expected {sorted(entries)}")
    return "\n\n\n".join(out)


def data_convention(inputs: Sequence[str], targets: Sequence[str], input_aliases: Sequence[str | None],
                    target_aliases: Sequence[str | None]) -> str:
    """The module docstring's line on the forms its entry points take their data in."""
    def keys(names: Sequence[str], aliases: Sequence[str | None]) -> str:
        return ", ".join(n if a in (None, n) else f"{n} (or {a!r})" for n, a in zip(names, aliases)) or "none"
    every = ", ".join([*inputs, *targets])
    return (f"data: the arrays one by one ({every}), or as CompiledGraph takes them: (inputs, targets), each one array, a "
            f"list or tuple in the order above, or a dict keyed by name (inputs: {keys(inputs, input_aliases)}; targets: "
            f"{keys(targets, target_aliases)}); forward(params, inputs) alike. A list is a list of arrays, for one input too "
            "(Keras' rule): make a list of rows an array first. train_step's last arguments are the step's; seed is by keyword.")
