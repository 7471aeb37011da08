"""The user guide is true: its examples run, its commands work, its generated pages are current, its links resolve."""

from __future__ import annotations

import argparse
import ast
import doctest
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from docs_scripts import run_docs_script

import symdl
from symdl.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _doctest(page: str, at_least: int) -> None:
    result = doctest.testfile(str(DOCS / page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= at_least
    assert result.failed == 0


@pytest.mark.parametrize(("page", "at_least"), [("quickstart.md", 30), ("concepts.md", 15), ("index.md", 4), ("architecture.md", 7), ("graphs.md", 50), ("notebooks.md", 6), ("training.md", 37), ("codegen.md", 14), ("rules.md", 13)])
def test_guide_pages_run_as_written(page, at_least, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # training.md saves models into the working directory, as a user's session would
    _doctest(page, at_least)


def test_the_export_guide_runs_as_written(tmp_path, monkeypatch):
    """docs/export.md's examples need JAX and PyTorch, the extras that page asks for."""
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    _doctest("export.md", 13)


def test_the_codegen_guides_optax_step_trains_the_jax_module(tmp_path):
    """optax_step.py of docs/codegen.md: symdl's JAX module inside the user's own jax.jit, stepped by optax."""
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    command = re.search(r"import mod  # written by: (symdl codegen .*?) -o mod\.py", (DOCS / "codegen.md").read_text(encoding="utf-8"))
    assert command, "docs/codegen.md names no codegen command for mod.py"
    assert main([*shlex.split(command.group(1))[1:], "-o", str(tmp_path / "mod.py")]) == 0
    last = float(run_docs_script("codegen.md", "optax_step.py", tmp_path).strip().splitlines()[-1])
    # The first loss, from the module's own checked loss (no optax, no user jit): what the page's comment quotes.
    first = float(subprocess.run([sys.executable, "-c", "import numpy as np, mod; rng = np.random.default_rng(0); X = rng.standard_normal((64, 8));"
                                  "print(float(mod.loss(mod.init_params(0), X, np.tanh(X[:, :1]))))"],
                                 cwd=tmp_path, capture_output=True, text=True, check=True).stdout)
    assert f"down from {first:.3f} at the first" in (DOCS / "codegen.md").read_text(encoding="utf-8")
    assert 0 < last < first / 10


def test_quickstart_commands_work(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # codegen writes its file here
    text = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    commands = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    assert len(commands) >= 6
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "symdl"
        code = main(argv[1:])
        out, err = capsys.readouterr()
        assert code == 0, f"{command}: exit {code}: {err}"
        assert out or argv[1] == "codegen"
    assert "numpy code for rule('huber', delta=1/2)" in (tmp_path / "huber.py").read_text()


def _training_example():
    """The data and network of docs/training.md's first example."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (512, 2))
    Y = np.sin(2 * X[:, :1]) + X[:, 1:] ** 2
    return X, Y, symdl.Network([2, 32, 1], activation="tanh", optimizer="adam").compile()


def test_the_training_guides_status_line_is_its_first_examples_third_epoch():
    X, Y, net = _training_example()
    stream = io.StringIO()
    net.fit(net.init(seed=0), X, Y, epochs=5, batch_size=32, metrics=["mae"], validation=(X[:64], Y[:64]), seed=0,
            verbose=2, stream=stream)
    page = (DOCS / "training.md").read_text(encoding="utf-8")
    shown = page.split("**Progress**", 1)[1].split("```\n", 1)[1].split("\n", 1)[0]
    assert shown.startswith("epoch 3/5 - ")
    assert shown in stream.getvalue().splitlines()


def test_the_training_guides_module_script_trains_as_the_compiled_network(tmp_path):
    """train_mynet.py of docs/training.md, next to the module its comment names, logs the compiled network's fit."""
    command = re.search(r"import mynet  # written by: (symdl codegen .*?) -o mynet\.py", (DOCS / "training.md").read_text(encoding="utf-8"))
    assert command, "docs/training.md names no codegen command for mynet.py"
    argv = shlex.split(command.group(1))
    assert main([*argv[1:], "-o", str(tmp_path / "mynet.py")]) == 0
    printed = ast.literal_eval(run_docs_script("training.md", "train_mynet.py", tmp_path).strip().splitlines()[-1])
    # The same run by the compiled network: the module's fit is symdl.fit's loop, bit for bit.
    X, Y, net = _training_example()
    stop = symdl.EarlyStopping(patience=3, restore_best_weights=True)
    expected = net.fit(net.init(seed=0), X, Y, epochs=20, batch_size=32, seed=0, validation=(X[:64], Y[:64]), early_stopping=stop, verbose=0)
    assert printed == expected.history["val_loss"]
    assert 1 <= len(printed) <= 20



def test_the_rules_page_lists_every_rule_and_the_reports_count_of_mutants():
    """docs/rules.md's registry table is symdl.rules(), and its mutant count is the generated report's."""
    page = (DOCS / "rules.md").read_text(encoding="utf-8")
    table = page.split("## The registry", 1)[1].split("\n\n", 2)[1]
    rows = {cells[1].strip(): cells[2].strip() for cells in (line.split("|") for line in table.splitlines()[2:])}
    kinds = symdl.rules()
    assert set(rows) == set(kinds)
    assert [name for name, kind in kinds.items() if not rows[name].startswith(kind)] == []
    report = (DOCS / "report" / "report.md").read_text(encoding="utf-8")
    counts = [(int(k), int(n)) for k, n in re.findall(r"derivative are caught \| (\d+) of (\d+) mutants killed", report)]
    killed, total = sum(k for k, _ in counts), sum(n for _, n in counts)
    assert len(counts) >= 30
    assert f"**{total} mutants in {len(counts)} rules, {killed} caught**" in page

# --- generated pages ------------------------------------------------------------


def test_generated_pages_are_current_and_need_no_optional_dependency():
    """A fresh generation in a new interpreter, with another hash seed, equals the checked-in files."""
    code = (
        "import json, sys; sys.path.insert(0, 'docs'); import build_docs;"
        "stale = [str(p.name) for p, t in build_docs.generated().items() if p.read_text(encoding='utf-8') != t];"
        "print(json.dumps({'stale': stale, 'loaded': sorted(m for m in ('jax', 'torch', 'matplotlib') if m in sys.modules)}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "COLUMNS": "37"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["stale"] == [], "regenerate with: python docs/build_docs.py"
    assert result["loaded"] == []


def _build_docs():
    sys.path.insert(0, str(DOCS))
    try:
        import build_docs
    finally:
        sys.path.remove(str(DOCS))
    return build_docs


def test_cli_reference_lists_every_subcommand_and_option():
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    reference = page.split("<!-- cli-reference:start -->", 1)[1].split("<!-- cli-reference:end -->", 1)[0]
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        section = reference.split(f"### `symdl {name}`: arguments", 1)[1].split("\n### ", 1)[0]
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in section, (name, flag)


def test_markdown_tables_in_generated_pages_are_well_formed():
    """Every row of a table has as many cells as its header (an unescaped pipe in a cell would add one)."""
    for page in ("cli.md", "architecture.md"):
        header_cells = None
        for line in (DOCS / page).read_text(encoding="utf-8").splitlines():
            if not line.startswith("| "):
                header_cells = None
                continue
            cells = line.count("|") - line.count("\\|")
            if header_cells is None:
                header_cells = cells
            elif cells != header_cells:
                pytest.fail(f"{page}: a table row with a stray pipe: {line}")


def test_with_section_replaces_only_between_the_markers():
    build_docs = _build_docs()
    page = "head\n<!-- x:start -->\nold\n<!-- x:end -->\ntail\n"
    assert build_docs.with_section(page, "x", "new\n") == "head\n<!-- x:start -->\nnew\n<!-- x:end -->\ntail\n"
    with pytest.raises(SystemExit):
        build_docs.with_section("no markers", "x", "new")


# --- links ----------------------------------------------------------------------


def _anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        base = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def test_links_between_guide_pages_resolve():
    link = re.compile(r"\]\(([^)\s]+)\)")
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for target in link.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name}: broken link {target}"
            if anchor and file.suffix == ".md":
                assert anchor in _anchors(file.read_text(encoding="utf-8")), f"{page.name}: no anchor {target}"


def test_the_index_maps_every_page():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "index.md":
            assert f"]({page.name})" in index, page.name


def _adding_a_rule_example() -> str:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    return text.split("## Adding a rule", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def _run_example(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_adding_a_rule_example_runs_and_its_proof_refutes_a_wrong_textbook_form():
    code = _adding_a_rule_example()
    assert _run_example(code) == ["True ()", "True", "0.5"]
    wrong = code.replace("textbook=k / (1 + sp.Abs(k * z)) ** 2)", "textbook=k / (1 + sp.Abs(k * z)))")
    assert wrong != code
    assert _run_example(wrong)[:2] == ["False ()", "False"]
