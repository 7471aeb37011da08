"""examples/tour.ipynb runs in a fresh Jupyter kernel (nbclient) and shows what it promises: MathML, LaTeX, a PNG plot.

The stored notebook is kept free of outputs (checked here): its outputs are
produced by this test on every run, so what a reader executes is what is
tested, and PNG bytes or MathML from another matplotlib or SymPy version
never sit in the repository unchecked.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "examples" / "tour.ipynb"
#: The notebook is small: a fresh kernel runs it in about 10 s on one core.
BUDGET_S = 60


def test_the_stored_notebook_is_valid_and_output_free():
    nb = nbformat.read(TOUR, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(TOUR, as_version=4)
    start = time.perf_counter()
    # The kernel starts in the repository root, so it imports the symdl under test (as pytest does).
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb, time.perf_counter() - start


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


@pytest.mark.slow
def test_the_tour_runs_without_errors_or_warnings(executed):
    nb, seconds = executed
    outputs = _outputs(nb)
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [out.text for out in outputs if out.output_type == "stream" and out.name == "stderr"]
    assert all(cell.outputs for cell in nb.cells if cell.cell_type == "code" and "import" not in cell.source)
    assert seconds < BUDGET_S


@pytest.mark.slow
def test_the_plot_is_a_png_image(executed):
    nb, _ = executed
    images = [out.data["image/png"] for out in _outputs(nb) if "image/png" in out.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG\r\n\x1a\n")
    texts = [out.data["text/plain"] for out in _outputs(nb) if "data" in out]
    assert not any(text.startswith("<Figure size") for text in texts)


@pytest.mark.slow
def test_the_mathematics_comes_as_mathml_and_latex(executed):
    nb, _ = executed
    math = [out.data for out in _outputs(nb) if "application/mathml+xml" in out.get("data", {})]
    # The rule, its derivation, the network's equations and the formula.
    assert len(math) == 4
    for data in math:
        assert data["application/mathml+xml"].startswith("<math") and data["text/latex"].startswith("$$")
        assert "<math" in data["text/html"] and "$" not in data["text/html"]


@pytest.mark.slow
def test_the_checks_show_as_tables_that_pass(executed):
    nb, _ = executed
    pages = [out.data["text/html"] for out in _outputs(nb) if "text/html" in out.get("data", {})]
    tables = [page for page in pages if page.startswith(('<table class="symdl-gradcheck"', '<table class="symdl-checks"'))]
    assert len(tables) == 2  # the network's gradient check and the formula's verify row
    assert all("\N{CHECK MARK}" in page and "\N{BALLOT X}" not in page for page in tables)
