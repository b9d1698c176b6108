"""pytest settings for the notebooks that nbval validates.

Figures and widgets are checked in pytest through ``fig.data``/``fig.layout``
and widget traits; in the notebooks their outputs carry random ids (plotly's
div ids, widget model ids) and whole templates, so nbval compares only the
text of each output (style-and-pitfalls, traps 1, 2 and 6).

Notebook 09 trades ``demo``, whose prices come from the live exchange: here
a simulator served on loopback stands in for it and the paper accounts live
in a temporary directory under ``tests/nbval/`` (``tools/demo_upstream.py``),
so the notebooks need no internet and never touch the user's own accounts.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

SKIPPED_MIME_TYPES = (
    "text/html",
    "application/javascript",
    "application/vnd.plotly.v1+json",
    "application/vnd.jupyter.widget-view+json",
)


_UPSTREAM = contextlib.ExitStack()
_SERVING: list[bool] = []


def _serve_demo_upstream() -> None:
    """Start the stand-in upstream once per session; its kernels inherit the variables."""
    if _SERVING:
        return
    _SERVING.append(True)
    sys.path.insert(0, str(Path(__file__).parent / "tools"))
    from demo_upstream import served_upstream

    os.environ.update(_UPSTREAM.enter_context(served_upstream()))


def pytest_collectstart(collector: Any) -> None:
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += SKIPPED_MIME_TYPES
        if collector.fspath.basename.startswith("09-"):
            _serve_demo_upstream()


def pytest_unconfigure(config: Any) -> None:
    _UPSTREAM.close()
