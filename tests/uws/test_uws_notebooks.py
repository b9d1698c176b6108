"""Every research notebook runs on the Unified WebSocket: with the simulator's clock at
2027-03-02, ``connect("sim")`` picks ``protocol="uws"`` by date, and each notebook executes
without an error (its stored outputs are v3's at 2026-11-01, so they are not compared)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

#: the research track (00-11). The API track (12-16) teaches the v3 wire byte by byte
#: (sendorder's sendStatus, the Authent header): it is v3 by subject, not by default.
NOTEBOOKS = sorted(p for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb")
                   if int(p.name[:2]) <= 11)
AFTER_THE_SWITCH = "2027-03-02T00:00:00Z"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_on_the_unified_websocket(
    path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KFRESEARCH_SIM_NOW", AFTER_THE_SWITCH)
    monkeypatch.setenv("KFRESEARCH_SIM_SEED", "42")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.delenv("KFRESEARCH_PROTOCOL", raising=False)
    notebook = nbformat.read(path, as_version=4)
    # the first code cell that connects says which protocol it got
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        "import kfresearch\n"
        "assert kfresearch.connect('sim').protocol == 'uws', 'not on the Unified WebSocket'"
    ))
    # notebooks that write files (the history store) write them here, not in the repo
    work = tmp_path / "nb"
    work.mkdir()
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    client.execute()
