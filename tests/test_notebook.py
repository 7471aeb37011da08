"""examples/tour.ipynb runs in a fresh Jupyter kernel (nbclient) and shows what it promises: MathML, LaTeX, a PNG plot.

The stored notebook is kept free of outputs (checked here): its outputs are
produced by this test on every run, so what a reader executes is what is
tested, and PNG bytes or MathML from another matplotlib or SymPy version
never sit in the repository unchecked.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "examples" / "tour.ipynb"


def test_the_stored_notebook_is_valid_and_output_free():
    nb = nbformat.read(TOUR, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def _execute():
    nb = nbformat.read(TOUR, as_version=4)
    # The kernel starts in the repository root, so it imports the symdl under test (as pytest does).
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


@pytest.mark.slow
def test_the_tour_runs_in_a_fresh_kernel_and_shows_its_outputs():
    """One test (one kernel run), so pytest-xdist never runs the notebook twice."""
    nb = _execute()  # a fresh kernel ran it in 13–20 s on a busy 2-core machine
    outputs = _outputs(nb)
    # No errors, no warnings (fig.show() would warn outside a kernel), and every cell but the imports shows something.
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [out.text for out in outputs if out.output_type == "stream" and out.name == "stderr"]
    assert all(cell.outputs for cell in nb.cells if cell.cell_type == "code" and "import" not in cell.source)

    # The plots are images, not "<Figure size 600x480 with 2 Axes>": one as a cell's value, one from fig.show().
    images = [(out.output_type, out.data["image/png"]) for out in outputs if "image/png" in out.get("data", {})]
    assert [kind for kind, _ in images] == ["execute_result", "display_data"]
    assert all(base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n") for _, png in images)
    assert not any(out.data["text/plain"].startswith("<Figure size") for out in outputs if "data" in out)

    # The mathematics as MathML and LaTeX: the rule, its derivation, the network's equations and the formula.
    math = [out.data for out in outputs if "application/mathml+xml" in out.get("data", {})]
    assert len(math) == 4
    for data in math:
        assert data["application/mathml+xml"].startswith("<math") and data["text/latex"].startswith("$$")
        assert "<math" in data["text/html"] and "$" not in data["text/html"]

    # The checks as tables that pass: the network's gradient check and the formula's verify row.
    pages = [out.data["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    tables = [page for page in pages if page.startswith(('<table class="symdl-gradcheck"', '<table class="symdl-checks"'))]
    assert len(tables) == 2
    assert all("\N{CHECK MARK}" in page and "\N{BALLOT X}" not in page for page in tables)
