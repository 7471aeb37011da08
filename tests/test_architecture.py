"""symdl's import graph: no cycles, no ``_private`` names across packages, modules of bounded size.

The graph is read from the AST of every module under ``symdl/`` — imports at
module level *and* inside functions (a deferred import still ties the two
modules together), relative and absolute. ``from symdl.x import y`` where ``y``
is a submodule is an edge to ``symdl.x.y``; importing ``symdl.a.b`` also runs
``symdl/__init__`` and ``symdl/a/__init__``, so those are edges too. Imports
under ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "symdl"

MAX_LINES = 400

# Modules over MAX_LINES allowed because each is one catalogue (a table of
# definitions), not several jobs in one file. Keep this small.
SINGLE_CATALOGUES: frozenset[str] = frozenset()


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` under ``root`` (a package directory)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST):
    """Every Import/ImportFrom node that can run (all depths), skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _with_parents(name: str, importer: str) -> list[str]:
    """``a.b.c`` → ``[a.b, a.b.c]`` seen from ``a.x``: importing a submodule runs its parents' ``__init__``.

    A package that contains the importer is left out: it has already started
    running before any of its modules can, so importing it again adds nothing.
    """
    parts = name.split(".")
    mine = importer.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1) if parts[:i] != mine[:i]]


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """The package's import graph, and every ``(importer, source module, name)`` imported by ``from … import``.

    Edges go from a module to each in-package module whose import it triggers.
    """
    files = module_files(root)
    top = root.name
    graph: dict[str, set[str]] = {m: set() for m in files}
    names: list[tuple[str, str, str]] = []
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == top:
                        targets.update(_with_parents(alias.name, mod))
                continue
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != top:
                continue
            targets.update(_with_parents(source, mod))
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in files:
                    targets.update(_with_parents(sub, mod))
                else:
                    names.append((mod, source, alias.name))
                    # a name defined in a package's __init__: that __init__ must have run, ancestor or not
                    if source in files:
                        targets.add(source)
        # a module importing its own package's __init__ (via `from . import x`) is no edge to itself
        targets.discard(mod)
        graph[mod] = {t for t in targets if t in files}
    return graph, names


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted; only those with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comps: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        comps.append(sorted(comp))
    return comps


def a_cycle(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """One concrete cycle inside a strongly connected component, ``[m0, m1, …, m0]`` (breadth-first, shortest)."""
    members = set(comp)
    start = comp[0]
    parent: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
                if w not in seen:
                    seen.add(w)
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp


def _cycle_report(graph: dict[str, set[str]]) -> list[str]:
    return [" → ".join(a_cycle(graph, c)) + f"   (component of {len(c)}: {', '.join(c)})"
            for c in strongly_connected(graph)]


def _package_of(module: str) -> str:
    """``symdl.<package>`` of a module (a top-level module is its own package)."""
    return ".".join(module.split(".")[:2])


def private_imports(graph_names: list[tuple[str, str, str]]) -> list[str]:
    """Imports of ``_private`` names (not dunders) from another ``symdl.<package>``."""
    bad = []
    for importer, source, name in graph_names:
        private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
        if private and _package_of(importer) != _package_of(source):
            bad.append(f"{importer} imports {name} from {source}")
    return sorted(bad)


def oversized(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Modules over ``limit`` lines."""
    return {m: n for m, p in module_files(root).items() if (n := len(p.read_text().splitlines())) > limit}


# --- the checker on planted packages ----------------------------------------------------------------


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "fakepkg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_checker_finds_a_planted_cycle_through_a_function_level_import(tmp_path):
    root = _plant(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/one.py": "from ..b import two\n",
        "b/__init__.py": "",
        "b/two.py": "def f():\n    from fakepkg.a.one import g\n",
    })
    graph, _ = import_graph(root)
    comps = strongly_connected(graph)
    assert comps == [["fakepkg.a.one", "fakepkg.b.two"]]
    cycle = a_cycle(graph, comps[0])
    assert cycle[0] == cycle[-1] and set(cycle) == {"fakepkg.a.one", "fakepkg.b.two"}


def test_checker_counts_parent_inits_and_ignores_type_checking(tmp_path):
    # b/two imports a.one, whose package __init__ imports b.two: a cycle only through the parent edge.
    root = _plant(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from fakepkg.b.two import x\n",
        "a/one.py": "y = 1\n",
        "b/__init__.py": "",
        "b/two.py": "import fakepkg.a.one\nx = 1\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fakepkg.d import z\n",
        "d.py": "from fakepkg import c\nz = 1\n",
    })
    graph, _ = import_graph(root)
    assert strongly_connected(graph) == [["fakepkg.a", "fakepkg.b.two"]]
    assert "fakepkg.d" not in graph["fakepkg.c"]


def test_checker_counts_a_name_taken_from_the_own_package_init(tmp_path):
    # pkg/__init__ imports pkg.one, which takes a *name* from pkg/__init__: a real cycle (the name may not exist yet).
    # Taking a submodule (`from . import two`) or importing a sibling is no edge to the __init__.
    root = _plant(tmp_path, {
        "__init__.py": "",
        "pkg/__init__.py": "from .one import f\nVALUE = 1\n",
        "pkg/one.py": "from . import VALUE\nf = 1\n",
        "other/__init__.py": "from .a import g\n",
        "other/a.py": "from . import b\nfrom .b import h\ng = 1\n",
        "other/b.py": "h = 1\n",
    })
    graph, _ = import_graph(root)
    assert strongly_connected(graph) == [["fakepkg.pkg", "fakepkg.pkg.one"]]
    assert graph["fakepkg.other.a"] == {"fakepkg.other.b"}


def test_checker_finds_a_planted_private_import(tmp_path):
    root = _plant(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/one.py": "def _helper():\n    pass\n__all__ = []\n",
        "a/two.py": "from .one import _helper\n",  # same package: fine
        "b/__init__.py": "",
        "b/three.py": "def f():\n    from ..a.one import _helper, __all__\n",
    })
    _, names = import_graph(root)
    assert private_imports(names) == ["fakepkg.b.three imports _helper from fakepkg.a.one"]


def test_checker_finds_an_oversized_module(tmp_path):
    root = _plant(tmp_path, {"__init__.py": "", "big.py": "x = 1\n" * 5, "small.py": "x = 1\n"})
    assert oversized(root, limit=4) == {"fakepkg.big": 5}


# --- symdl itself -----------------------------------------------------------------------------------


def test_no_import_cycles():
    graph, _ = import_graph(ROOT)
    cycles = _cycle_report(graph)
    assert not cycles, "import cycles in symdl:\n" + "\n".join(cycles)


def test_no_private_names_across_packages():
    _, names = import_graph(ROOT)
    bad = private_imports(names)
    assert not bad, "_private names imported across symdl packages:\n" + "\n".join(bad)


def test_modules_stay_small():
    big = {m: n for m, n in oversized(ROOT).items() if m not in SINGLE_CATALOGUES}
    assert not big, f"modules over {MAX_LINES} lines:\n" + "\n".join(f"{m}: {n}" for m, n in sorted(big.items()))


def test_allowed_large_modules_exist_and_are_large():
    big = oversized(ROOT)
    assert all(module in big for module in SINGLE_CATALOGUES), "drop modules from SINGLE_CATALOGUES once they fit"

