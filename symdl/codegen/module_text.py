"""Text of generated Python modules: ``def`` blocks, module docstrings, import order, helpers emitted from their source.

Every generated module (:mod:`symdl.export.standalone`, :mod:`symdl.export.network_modules`,
the layers' blocks) is assembled from these pieces, so one module's text is
one function of what was printed from SymPy: same input, byte-identical text.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["function_source", "helper_source", "module_docstring", "module_source", "renamed_kernel", "unannotated_source"]

def helper_source(function: Callable, names: Mapping[str, str]) -> str:
    """The source of ``function`` as a module-level helper: identifiers renamed per ``names``, ``np`` spelt ``numpy``.

    The text is symdl's own source, comments and all; only whole identifiers
    are renamed, and the result must still compile.
    """
    source = textwrap.dedent(inspect.getsource(function))
    for old, new in {"np": "numpy", **names}.items():
        source = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, source)
    compile(source, f"<symdl helper {function.__name__}>", "exec")
    return source


class _Unannotated(ast.NodeTransformer):
    """Annotations removed: of arguments and returns; ``x: T = v`` as ``x = v``; ``x: T`` alone dropped."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                arg.annotation = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign([node.target], node.value), node)


def unannotated_source(obj: Callable | type, names: Mapping[str, str]) -> str:
    """:func:`helper_source` of a function or class written with type annotations, the annotations removed.

    symdl's modules say ``from __future__ import annotations``; a generated module does not, and must not
    import what the annotations name (``TextIO``, ``Any``). The text is printed again by :func:`ast.unparse`:
    docstrings stay, comments go.
    """
    tree = ast.fix_missing_locations(_Unannotated().visit(ast.parse(textwrap.dedent(inspect.getsource(obj)))))
    source = ast.unparse(tree) + "\n"
    for old, new in {"np": "numpy", **names}.items():
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

    A standard-library ``import NAME`` that no block reads (``NAME.``) is left out: which helpers a module needs
    depends on its layers (torch binds ``_t`` with ``functools`` only where an entry point makes a constant).
    """
    blocks = list(blocks)
    text = "\n".join(blocks)
    imports = [line for line in imports if not _unused_standard_import(line, text)]
    ordered = sorted(set(imports), key=_import_order)
    standard = [line for line in ordered if not _import_order(line)[0]]
    third_party = [line for line in ordered if _import_order(line)[0]]
    imports_text = "\n\n".join("\n".join(group) for group in (standard, third_party) if group)
    exported = "__all__ = [" + ", ".join(repr(n) for n in sorted(all_names)) + "]"
    head = f"{docstring.rstrip()}\n\n{imports_text}\n\n{exported}\n"
    return "\n\n".join([head, *(block.strip("\n") + "\n" for block in blocks)])


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
