"""Write the notebooks' sources from this file and execute them with the fixed seed and clock.

    .venv/bin/python tools/build_notebooks.py [NAME ...]

The notebooks are tests (nbval compares their stored outputs), so they are
executed with the same environment ``make test`` uses: seed 42, clock fixed at
2026-11-01T00:00:00Z, tqdm off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ENV = {
    "KFRESEARCH_SIM_SEED": "42",
    "KFRESEARCH_SIM_NOW": "2026-11-01T00:00:00Z",
    "TQDM_DISABLE": "1",
}

md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

SOURCES: dict[str, list[nbformat.NotebookNode]] = {
    "00-start-here": [
        md(
            "# 00 · Start here\n\n"
            "kfresearch puts the Kraken Futures API into JupyterLab: typed pandas frames, plotly "
            "charts and order tickets, on three **environments**:\n\n"
            "| env | what answers | what it risks |\n|---|---|---|\n"
            "| `sim` | a simulated exchange inside this Python process: synthetic, seeded market, offline | nothing |\n"
            "| `demo` (the default) | kfresearch's local paper exchange (Kraken retired its own demo host on 2026-07-14) | nothing: orders never leave this machine |\n"
            "| `live` | `https://futures.kraken.com` | **real money**: orders also need `allow_trading=True` |\n\n"
            "These notebooks run on `sim` with a fixed seed and clock, so every number you see is "
            "reproducible (and checked by the test suite)."
        ),
        code("import kfresearch\n\nkf = kfresearch.connect(\"sim\")\nkf"),
        md(
            "## Keys and where they live\n\n"
            "`sim` and `demo` make their own local key pairs: nothing to set. For `live`, make a "
            "**Futures** API key on futures.kraken.com (a Spot key from kraken.com does not work) and "
            "put it in the environment variables `KFRESEARCH_API_KEY` / `KFRESEARCH_API_SECRET`, or in "
            "a `.env` file next to your notebook. Never paste a secret into a cell: saved notebooks "
            "keep it. kfresearch holds secrets in a type that prints as `********`."
        ),
        code("kfresearch.Secret(\"c2VjcmV0\")"),
        md("## Is everything working?\n\n`doctor()` checks the host, the clock, the keys and the known traps."),
        code("print(kf.doctor())"),
        md(
            "## The first frame\n\nEvery data method returns a pandas DataFrame with snake_case "
            "columns, float64 prices and UTC times. Tickers are indexed by symbol:"
        ),
        code(
            "tickers = kf.tickers()\n"
            "tickers.loc[[\"PF_XBTUSD\", \"PF_ETHUSD\", \"PI_XBTUSD\"], "
            "[\"mark_price\", \"bid\", \"ask\", \"spread_bps\", \"funding_rate_annualised\"]]"
        ),
        code("tickers.dtypes[[\"mark_price\", \"spread_bps\", \"last_time\", \"suspended\"]]"),
        md(
            "Next: `01-market-data`. To run these notebooks against the network simulator instead, "
            "start `kfresearch sim serve` in a terminal and use "
            "`kfresearch.connect(\"sim\", base_url=\"http://127.0.0.1:8765\")`."
        ),
    ],
}


def build(name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = SOURCES[name]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    os.environ.update(ENV)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids keep diffs small
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")
    print(f"wrote notebooks/{name}.ipynb")


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SOURCES):
        build(name)
