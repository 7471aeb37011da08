"""The shape of the package: no import cycles, no private names across packages, small modules.

The import graph is read from the source with ``ast`` — imports at module level
*and* inside functions count (a deferred import still ties two modules
together); only imports under ``if TYPE_CHECKING:`` are left out. Importing
``symdl.a.b`` also runs ``symdl/a/__init__.py``, so an importer of ``symdl.a.b``
depends on the package ``symdl.a`` too (unless it lies inside it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "symdl"
MAX_LINES = 400

# Modules allowed past MAX_LINES: each is one catalogue (a table of definitions), not several jobs.
CATALOGUES: frozenset[str] = frozenset()

# Modules still past MAX_LINES, to be split (issue 12). The list only shrinks: a module that gets split must leave
# it (test_the_list_of_long_modules_only_shrinks), and no other module may grow past the limit.
STILL_TOO_LONG: frozenset[str] = frozenset(
    {
        "symdl.backprop.equations",
        "symdl.backprop.index_proofs",
        "symdl.cli.main",
        "symdl.codegen.network",
        "symdl.export.custom_gradient",
        "symdl.export.standalone",
        "symdl.layers.batchnorm_symbolic",
        "symdl.network.model",
        "symdl.report.printing",
        "symdl.report.sections",
        "symdl.symbolic.formula_builder",
    }
)


def module_name(path: Path, root: Path) -> str:
    """``root/a/b.py`` → ``<root.name>.a.b``; a package's ``__init__.py`` is the package."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module under ``root`` by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree`` except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module an ``from … import`` names (``level`` dots relative to ``name``)."""
    if node.level == 0:
        return node.module or ""
    base = name.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """The import edges between the modules under ``root``, and every ``(importer, module, _name)`` private import."""
    found = modules(root)
    package = root.name
    edges: dict[str, set[str]] = {name: set() for name in found}
    private: list[tuple[str, str, str]] = []
    for name, path in found.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.split(".")[0] == package)
                continue
            source = _absolute(node, name, is_package)
            if source.split(".")[0] != package:
                continue
            targets.add(source)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in found:
                    targets.add(submodule)
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    private.append((name, source, alias.name))
        own = set(_parents(name))
        for target in targets:
            # importing a.b.c runs a/__init__ and a/b/__init__ first, except the packages this module already lies in
            implied = {parent for parent in _parents(target) if parent not in own}
            edges[name].update(t for t in implied | {target} if t in found and t != name and t != package)
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def cross_package(private: Iterable[tuple[str, str, str]], package: str) -> list[str]:
    """Private imports whose importer and source lie in different ``<package>.<sub>`` packages."""

    def home(name: str) -> str:
        return ".".join(name.split(".")[:2]) if name != package else package

    return [f"{who} imports {name} from {source}" for who, source, name in private if home(who) != home(source)]


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_symdl_has_no_import_cycle():
    edges, _ = import_graph(ROOT)
    assert cycles(edges) == []


def test_no_private_name_is_imported_across_packages():
    _, private = import_graph(ROOT)
    assert cross_package(private, ROOT.name) == []


def _long_modules() -> dict[str, int]:
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules(ROOT).items()}
    return {name: n for name, n in lengths.items() if n > MAX_LINES and name not in CATALOGUES}


def test_no_module_grows_past_the_line_limit():
    assert {name: n for name, n in _long_modules().items() if name not in STILL_TOO_LONG} == {}


def test_the_list_of_long_modules_only_shrinks():
    assert sorted(STILL_TOO_LONG - set(_long_modules())) == []


def test_the_checker_finds_a_planted_cycle_through_a_deferred_import(tmp_path):
    root = _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/one.py": "from ..b import two\n",
            "b/__init__.py": "",
            "b/two.py": "def f():\n    from pkg.a.one import g\n",
        },
    )
    edges, _ = import_graph(root)
    assert cycles(edges) == [["pkg.a.one", "pkg.b.two"]]


def test_the_checker_counts_a_package_init_and_ignores_type_checking_imports(tmp_path):
    root = _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a/__init__.py": "from .one import f\n",
            "a/one.py": "def f():\n    pass\n",
            "b/__init__.py": "",
            "b/two.py": "from typing import TYPE_CHECKING\nimport pkg.a.one\nif TYPE_CHECKING:\n    from pkg.c import x\n",
            "c/__init__.py": "from pkg.b import two\n",
        },
    )
    edges, _ = import_graph(root)
    assert edges["pkg.b.two"] == {"pkg.a", "pkg.a.one"}
    assert cycles(edges) == []
    # importing pkg.a.one runs pkg/a/__init__.py, which imports one: a cycle only once one imports back up
    _write(root, {"a/one.py": "from pkg.b.two import y\n"})
    edges, _ = import_graph(root)
    assert ["pkg.a", "pkg.a.one", "pkg.b.two"] in cycles(edges)


def test_the_checker_finds_a_private_import_across_packages_only(tmp_path):
    root = _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/one.py": "def _helper():\n    pass\n",
            "a/three.py": "from .one import _helper\n",
            "b/__init__.py": "",
            "b/two.py": "from pkg.a.one import _helper, __doc__\n",
        },
    )
    _, private = import_graph(root)
    assert cross_package(private, "pkg") == ["pkg.b.two imports _helper from pkg.a.one"]
