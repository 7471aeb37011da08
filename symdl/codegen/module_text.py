"""Text of generated Python modules: ``def`` blocks, module docstrings, import order, helpers emitted from their source.

Every generated module (:mod:`symdl.export.standalone`, :mod:`symdl.export.network_modules`,
the layers' blocks) is assembled from these pieces, so one module's text is
one function of what was printed from SymPy: same input, byte-identical text.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..excerpt import excerpt
from .simplex import threshold_helpers

__all__ = ["dedented_source", "function_source", "helper_source", "module_docstring", "module_source", "renamed_kernel",
           "unannotated_source"]


@functools.cache
def dedented_source(obj: Callable | type) -> str:
    """``textwrap.dedent(inspect.getsource(obj))``, read once per process: the runtime helpers are symdl's own functions,
    copied into every module printed, and ``inspect.getsource`` tokenizes their file each time it is asked."""
    return textwrap.dedent(inspect.getsource(obj))


def helper_source(function: Callable, names: Mapping[str, str]) -> str:
    """The source of ``function`` as a module-level helper: identifiers renamed per ``names``, ``np`` spelt ``numpy``.

    The text is symdl's own source, comments and all; only whole identifiers
    are renamed, and the result must still compile.
    """
    source = dedented_source(function)
    for old, new in {"np": "numpy", **names}.items():
        source = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, source)
    compile(source, f"<symdl helper {function.__name__}>", "exec")
    return source


def _annotation_spans(tree: ast.AST, text: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, replacement) byte spans that remove every annotation: ``: T`` of arguments, ``-> T`` of
    returns, ``x: T = v`` as ``x = v`` and a bare ``x: T`` whole (ast offsets count UTF-8 bytes)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def at(line: int | None, col: int | None) -> int:
        assert line is not None and col is not None  # parsed nodes carry their positions
        return starts[line - 1] + col

    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None and arg.annotation is not None:
                    name_end = at(arg.lineno, arg.col_offset) + len(arg.arg.encode())
                    end = at(arg.annotation.end_lineno, arg.annotation.end_col_offset)
                    default = re.match(rb"\s*=\s*", text[end:])  # ``x: T = v`` becomes ``x=v``
                    spans.append((name_end, end + default.end(), b"=") if default else (name_end, end, b""))
            if node.returns is not None:
                arrow = text.rindex(b"->", 0, at(node.returns.lineno, node.returns.col_offset))
                spans.append((len(text[:arrow].rstrip()), at(node.returns.end_lineno, node.returns.end_col_offset), b""))
        elif isinstance(node, ast.AnnAssign):
            target_end = at(node.target.end_lineno, node.target.end_col_offset)
            if node.value is not None:
                spans.append((target_end, at(node.value.lineno, node.value.col_offset), b" = "))
            else:
                spans.append((at(node.lineno, 0), at((node.end_lineno or node.lineno) + 1, 0), b""))
    return spans


def unannotated_source(obj: Callable | type, names: Mapping[str, str]) -> str:
    """:func:`helper_source` of a function or class written with type annotations, the annotations removed.

    symdl's modules say ``from __future__ import annotations``; a generated module does not, and must not
    import what the annotations name (``TextIO``, ``Any``). Only the annotations' text is cut: comments,
    docstrings and layout stay as written. Computed once per (obj, names) in a process: every module printed copies
    the same helpers.
    """
    return _unannotated_source(obj, tuple(names.items()))


@functools.cache
def _unannotated_source(obj: Callable | type, names: tuple[tuple[str, str], ...]) -> str:
    text = dedented_source(obj).encode()
    for start, end, replacement in sorted(_annotation_spans(ast.parse(text), text), reverse=True):
        text = text[:start] + replacement + text[end:]
    source = text.decode()
    for old, new in {"np": "numpy", **dict(names)}.items():
        source = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, source)
    compile(source, f"<symdl helper {getattr(obj, '__name__', 'source')}>", "exec")
    return source


def renamed_kernel(source: str, old: str, new: str) -> str:
    """A printed kernel's source with its function called ``new``."""
    head = f"def {old}("
    if not source.startswith(head):
        raise ValueError(f"kernel source does not start with {head!r}")
    return f"def {new}(" + source[len(head):]


def module_docstring(title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A raw module docstring: the title line, then each section as a heading and indented lines."""
    lines = [title, ""]
    for heading, body in sections:
        lines.append(f"{heading}:")
        lines += [f"    {line}".rstrip() for text in body for line in str(text).splitlines()]
        lines.append("")
    text = "\n".join(lines).rstrip() + "\n"
    if '"""' in text or text.rstrip().endswith("\\"):
        raise ValueError("docstring text cannot be quoted")
    return f'r"""{text}"""\n'


def module_source(docstring: str, imports: Iterable[str], all_names: Sequence[str], blocks: Iterable[str]) -> str:
    """docstring, imports (standard library, then third party), ``__all__``, then the blocks, two blank lines apart.

    The helper that computes sparsemax's τ (:func:`symdl.codegen.simplex.threshold_source`) and ``_excerpt``
    (:func:`symdl.excerpt.excerpt`) are added when a block calls them. A standard-library ``import NAME`` that no
    block reads (``NAME.``) is left out: which helpers a module needs
    depends on its layers (torch binds ``_t`` with ``functools`` only where an entry point makes a constant).
    """
    blocks = list(blocks)
    text = "\n".join(blocks)
    blocks = [*threshold_helpers(text), *_excerpt_helper(text), *blocks]  # each defined once where a block calls it
    imports = [line for line in imports if not _unused_standard_import(line, text)]
    ordered = sorted(set(imports), key=_import_order)
    standard = [line for line in ordered if not _import_order(line)[0]]
    third_party = [line for line in ordered if _import_order(line)[0]]
    imports_text = "\n\n".join("\n".join(group) for group in (standard, third_party) if group)
    exported = "__all__ = [" + ", ".join(repr(n) for n in sorted(all_names)) + "]"
    head = f"{docstring.rstrip()}\n\n{imports_text}\n\n{exported}\n"
    return "\n\n".join([head, *(block.strip("\n") + "\n" for block in blocks)])


def _excerpt_helper(text: str) -> list[str]:
    """``_excerpt`` (:func:`symdl.excerpt.excerpt`, how an error line shows a value) where a copied check calls it and
    ``text`` does not define it: one definition however many checks call it."""
    if "_excerpt(" not in text or "def _excerpt(" in text:
        return []
    return [helper_source(excerpt, {"excerpt": "_excerpt"})]


def _unused_standard_import(line: str, text: str) -> bool:
    parts = line.split()
    if len(parts) != 2 or parts[0] != "import" or parts[1] not in sys.stdlib_module_names:
        return False
    return re.search(rf"\b{re.escape(parts[1])}\.", text) is None


def _import_order(line: str) -> tuple[int, int, str]:
    """Standard library first, then the array library; ``import x`` before ``from x import`` (as isort orders them)."""
    module = line.split()[1]
    return (int(module.split(".")[0] not in sys.stdlib_module_names), int(line.startswith("from ")), module)



def function_source(name: str, args: str, doc: str, body: Sequence[str]) -> str:
    """``def name(args):`` with the one-line docstring ``doc`` and the indented ``body`` lines."""
    if '"' in doc or "\\" in doc:
        raise ValueError(f"docstring of {name} cannot be quoted")
    return f'def {name}({args}):\n    """{doc}"""\n' + "".join(f"    {line}\n" for line in body)
