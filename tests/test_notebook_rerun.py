"""A notebook run top to bottom twice in one kernel passes, with the same outputs (issue 13).

Each ``connect("sim")`` builds a fresh exchange, so the second run does not
meet the first run's orders (notebook 06 used to fail on its own
``client_order_id``: ``clientOrderIdAlreadyExist``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _texts(cell: Any) -> list[str]:
    """What a cell showed as text (widget views and images carry per-run ids: left out)."""
    shown: list[str] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            shown.append(output["text"])
        elif "data" in output and "application/vnd.jupyter.widget-view+json" not in output["data"]:
            shown.append(str(output["data"].get("text/plain", "")))
        elif output.get("output_type") == "error":
            shown.append(f"{output['ename']}: {output['evalue']}")
    return shown


@pytest.mark.parametrize("name", ["06-placing-orders.ipynb"])
def test_a_notebook_runs_twice_in_one_kernel(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    runs: list[list[list[str]]] = []
    with client.setup_kernel():
        for _ in range(2):
            shown: list[list[str]] = []
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)  # raises CellExecutionError on an error
                    shown.append(_texts(cell))
            runs.append(shown)
    first, second = runs
    assert any(first)  # the notebook showed something
    assert second == first
