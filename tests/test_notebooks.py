"""Every notebook runs top to bottom offline (with a few steps), and a `Render` shows as an image."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_four_parts_have_a_notebook_each():
    assert [path.name for path in NOTEBOOKS] == [
        "1_classes.ipynb", "2_features.ipynb", "3_reconstruction.ipynb", "4_transfer.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "commit notebooks without outputs"
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "STEPS = " in parameters[0].source
    parameters[0].source = "STEPS = 4"
    # The kernel imports this checkout's featviz and writes its runs/ into the temporary directory.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    shown = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
             if output.output_type == "execute_result"]
    assert shown and all("image/png" in output.data for output in shown)
    renders = [output for output in shown if "text/html" in output.data]
    assert renders and all("step(s)" in output.data["text/html"] for output in renders)
