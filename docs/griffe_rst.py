"""A griffe extension for the API reference: symdl's reST-flavoured docstrings as Markdown.

symdl's docstrings use Sphinx roles (``:func:`rule```), double-backtick literals
and bare doctest blocks; mkdocstrings renders Markdown. Each docstring is
rewritten once, when griffe loads it: a role becomes an optional cross-reference
(a link where the target is documented, code otherwise), a doctest block is
fenced as Python. The source files are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc|const):`(~?)([^`<]+?)`")
_LITERAL = re.compile(r"(?<!`)``([^`]+?)``(?!`)")


def _reference(module: str, tilde: str, target: str) -> str:
    target = target.strip().removesuffix("()")
    title = target.rsplit(".", 1)[-1] if tilde else target
    identifier = target if "." in target else f"{module}.{target}"
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


def _fence_doctests(text: str) -> str:
    """Each run of lines starting at ``>>>`` up to the next blank line, fenced as Python (Markdown reads ``>`` as a quote)."""
    out: list[str] = []
    block: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and not block and line.lstrip().startswith(">>>"):
            block = [line]
            continue
        if block:
            if line.strip():
                block.append(line)
                continue
            indent = block[0][: len(block[0]) - len(block[0].lstrip())]
            out += [f"{indent}```python", *block, f"{indent}```"]
            block = []
        out.append(line)
    if block:
        indent = block[0][: len(block[0]) - len(block[0].lstrip())]
        out += [f"{indent}```python", *block, f"{indent}```"]
    return "\n".join(out)


def markdown(text: str, module: str) -> str:
    """One docstring's text as Markdown (module: the dotted path relative role targets are read in)."""
    text = _ROLE.sub(lambda m: _reference(module, m.group(1), m.group(2)), text)
    text = _LITERAL.sub(r"`\1`", text)
    return _fence_doctests(text)


class RestToMarkdown(griffe.Extension):
    """Rewrites every docstring griffe loads (modules, classes, functions, attributes)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value, obj.module.path)
