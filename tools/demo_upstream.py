"""A stand-in for the live exchange while notebooks run: ``kfresearch sim serve`` on loopback.

Notebook 09 trades the ``demo`` paper exchange, whose prices come from the
live exchange. Under nbval (``conftest.py``) and ``tools/build_notebooks.py``
the "live exchange" is a simulator served on this machine with the fixed
seed and clock, and the paper accounts live in a fresh temporary directory
under ``tests/nbval/``, never the user's own data directory:

* ``KFRESEARCH_DEMO_UPSTREAM`` points demo's prices at the served simulator;
* ``KFRESEARCH_DATA_DIR`` points the paper accounts at the temporary directory.

    with served_upstream() as env:
        os.environ.update(env)
        ...  # run the notebooks
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBVAL_DIR = ROOT / "tests" / "nbval"
NOW = "2026-11-01T00:00:00Z"


@contextmanager
def served_upstream(seed: int = 42, now: str = NOW) -> Iterator[dict[str, str]]:
    """Serve the simulator and make a data directory; the variables that point demo at them."""
    NBVAL_DIR.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="data-", dir=NBVAL_DIR))
    process = subprocess.Popen(  # noqa: S603 - our own command line, no user input
        [sys.executable, "-m", "kfresearch.cli", "sim", "serve", "--port", "0",
         "--seed", str(seed), "--now", now],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout is not None else ""  # "kfresearch simulator on http://127.0.0.1:PORT ..."
        url = next((word for word in line.split() if word.startswith("http://")), None)
        if url is None:
            raise RuntimeError(f"kfresearch sim serve did not start: {line!r}")
        yield {"KFRESEARCH_DEMO_UPSTREAM": url, "KFRESEARCH_DATA_DIR": str(data)}
    finally:
        process.kill()
        process.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - a manual check
    with served_upstream() as variables:
        print(variables)
        print(os.environ.get("KFRESEARCH_DEMO_UPSTREAM"))
