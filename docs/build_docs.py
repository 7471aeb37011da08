"""Generate what the docs site cannot: ``docs/cli.md``'s option tables and ``docs/architecture.md``'s module map.

The Python API reference is not generated here: mkdocstrings renders it from
the docstrings when the site is built (``mkdocs build --strict``, ``docs/api/``).
Run from anywhere as ``python docs/build_docs.py`` (rewrites the files) or
``python docs/build_docs.py --check`` (exit 1 if a checked-in file differs from
a fresh generation; ``tests/test_docs.py`` does the same). The output depends
only on the source tree, never on the terminal, the date or the Python version:
option tables are formatted here rather than by ``argparse``'s help formatter.
Optional dependencies (jax, torch, matplotlib) are never imported.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's symdl, also when it is not installed

# --- docstrings as Markdown -----------------------------------------------------


_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`~?([^`]+)`")


def _markdown(doc: str) -> str:
    """A reST-flavoured docstring line as Markdown: roles and ``literals`` become `code`."""
    doc = _ROLE.sub(lambda m: f"`{m.group(1)}`", doc)
    return re.sub(r"``([^`]+)``", r"`\1`", doc)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading (the site's, too: mkdocs.yml slugifies as GitHub does)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


# --- the CLI reference ----------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """Each subcommand's name → (its one-line help, its parser), in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return {name: (helps.get(name, ""), sub) for name, sub in action.choices.items()}
    return {}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe ends a Markdown table cell, even inside backticks


def _argument(action: argparse.Action) -> str:
    if action.option_strings:
        flags = ", ".join(f"`{flag}`" for flag in action.option_strings)
        if action.nargs == 0:
            return flags
        metavar = action.metavar or (("{" + ",".join(action.choices) + "}") if action.choices else action.dest.upper())
        return _cell(f"{flags} `{metavar}`")
    return _cell(f"`{action.metavar or action.dest}`" + {"*": " (zero or more)", "+": " (one or more)"}.get(str(action.nargs), ""))


def _meaning(action: argparse.Action) -> str:
    text = action.help or ""
    if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
        text += f" (default: {action.default})"
    if action.required and action.option_strings:
        text += " (required)"
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        text += " (repeatable)"
    return _cell(text)


def _option_table(actions: Iterable[argparse.Action]) -> list[str]:
    rows = [a for a in actions if not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]
    if not rows:
        return ["No arguments."]
    return ["| argument | meaning |", "| --- | --- |", *(f"| {_argument(a)} | {_meaning(a)} |" for a in rows)]


def _command_reference(name: str, summary: str, sub: argparse.ArgumentParser) -> list[str]:
    out = [f"### `symdl {name}`: arguments", "", summary[:1].upper() + summary[1:] + ".", ""]
    if sub.description:
        out += [sub.description, ""]
    default_groups = sub._action_groups[:2]  # positionals and options, whatever this Python calls them
    out += _option_table(a for g in default_groups for a in g._group_actions)
    for group in sub._action_groups[2:]:
        out += ["", f"*{group.title}:*", "", *_option_table(group._group_actions)]
    return [*out, ""]


def cli_reference() -> str:
    """The generated ``cli-reference`` section of ``docs/cli.md``: every subcommand with all its arguments."""
    from symdl.cli.main import build_parser

    parser = build_parser()
    commands = _subcommands(parser)
    out = [
        "## Reference: every subcommand and argument",
        "",
        "Generated from `symdl.cli.main.build_parser()` by `python docs/build_docs.py`.",
        "",
        "| command | what it does |",
        "| --- | --- |",
        *(f"| [`symdl {name}`](#{_anchor(f'symdl {name}: arguments')}) | {summary} |" for name, (summary, _) in commands.items()),
        "| `symdl --version` | print the version |",
        "",
    ]
    if parser.epilog:
        out += [parser.epilog, ""]
    for name, (summary, sub) in commands.items():
        out += _command_reference(name, summary, sub)
    return "\n".join(out).rstrip()


# --- the module map of architecture.md --------------------------------------------


def module_map() -> str:
    """The generated ``modules`` section of ``docs/architecture.md``: every source file with its docstring's first line.

    Read with :mod:`ast`, without importing, so a module under construction or
    one needing an optional dependency is listed all the same.
    """
    rows = ["| module | what it holds |", "| --- | --- |"]
    package = ROOT / "symdl"
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = _markdown(doc.strip().splitlines()[0]) if doc.strip() else ""
        rows.append(f"| `{name}` | {_cell(first)} |")
    return "\n".join(rows)


# --- writing ------------------------------------------------------------------


def with_section(page: str, name: str, text: str) -> str:
    """``page`` with ``text`` between its ``<!-- name:start -->`` and ``<!-- name:end -->`` markers."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in page or end not in page:
        raise SystemExit(f"markers {start} / {end} not found")
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{text.rstrip()}\n{end}{tail}"


def generated() -> dict[Path, str]:
    """Every generated file's full expected content, by path."""
    cli, architecture = DOCS / "cli.md", DOCS / "architecture.md"
    return {
        cli: with_section(cli.read_text(encoding="utf-8"), "cli-reference", cli_reference()),
        architecture: with_section(architecture.read_text(encoding="utf-8"), "modules", module_map()),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the generated docs (exit 0), or with ``--check`` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are current")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
