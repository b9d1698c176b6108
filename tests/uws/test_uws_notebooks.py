"""Every notebook runs on the Unified WebSocket: with the simulator's clock at 2027-03-02,
``connect("sim")`` picks ``protocol="uws"`` by date, and each notebook executes without an
error (its stored outputs are v3's at 2026-11-01, so they are not compared). The API track's
lessons on the v3 wire itself (12, 13, 15) ask for ``protocol="v3"`` in so many words.

The notebooks share one kernel (started once, kfresearch, pandas and plotly imported once):
before each notebook its names are deleted (``%reset -f``) and it gets a fresh working
directory, so a notebook cannot lean on another's variables. A kernel per notebook costs
~3-5 s to start and import, and plotly's first figure ~5 s, seventeen times over.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
AFTER_THE_SWITCH = "2027-03-02T00:00:00Z"

#: the kernel's first cell: the imports every notebook makes, and plotly's figure machinery
#: warmed up. Figures are shown as their JSON only: the stored outputs are not compared here,
#: and the notebook renderer would send plotly.js (4.6 MB) and an HTML copy of every figure.
WARM_UP = (
    "import pandas as pd\n"
    "import plotly.graph_objects as go\n"
    "import plotly.io as pio\n"
    "import kfresearch\n"
    "from kfresearch import charts\n"
    "pio.renderers.default = 'plotly_mimetype'\n"
    "go.Figure(go.Scatter(x=[0], y=[0]))._repr_mimebundle_()\n"
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One kernel at 2027-03-02, no protocol chosen by the environment; demo's prices from
    a simulator served on loopback at the same clock (notebook 09)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from demo_upstream import served_upstream

    env = {k: v for k, v in os.environ.items() if k != "KFRESEARCH_PROTOCOL"}
    env.update(KFRESEARCH_SIM_NOW=AFTER_THE_SWITCH, KFRESEARCH_SIM_SEED="42", TQDM_DISABLE="1")
    with served_upstream(now=AFTER_THE_SWITCH) as upstream:
        env.update(upstream)
        boot = NotebookClient(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WARM_UP)]),
                              timeout=180, kernel_name="python3")
        boot.km = boot.create_kernel_manager()
        boot.start_new_kernel(env=env, cwd=str(tmp_path_factory.mktemp("kernel")))
        try:
            boot.start_new_kernel_client()
            boot.execute(cleanup_kc=False)
            boot.kc.stop_channels()
            yield boot.km
        finally:
            run_sync(boot.km.shutdown_kernel)(now=True)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_on_the_unified_websocket(
    path: Path, kernel: Any, tmp_path: Path
) -> None:
    notebook = nbformat.read(path, as_version=4)
    # a clean namespace and working directory (the history store writes files there);
    # the first connect says which protocol the date picked
    work = str(tmp_path)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        "%reset -f\n"
        "import os\n"
        f"os.chdir({work!r})\n"
        "import kfresearch\n"
        "assert kfresearch.connect('sim').protocol == 'uws', 'not on the Unified WebSocket'"
    ))
    client = NotebookClient(notebook, km=kernel, timeout=180, kernel_name="python3")
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
