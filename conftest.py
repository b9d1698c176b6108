"""pytest settings for the notebooks that nbval validates.

Figures and widgets are checked in pytest through ``fig.data``/``fig.layout``
and widget traits; in the notebooks their outputs carry random ids (plotly's
div ids, widget model ids) and whole templates, so nbval compares only the
text of each output (style-and-pitfalls, traps 1, 2 and 6).
"""

from __future__ import annotations

from typing import Any

SKIPPED_MIME_TYPES = (
    "text/html",
    "application/javascript",
    "application/vnd.plotly.v1+json",
    "application/vnd.jupyter.widget-view+json",
)


def pytest_collectstart(collector: Any) -> None:
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += SKIPPED_MIME_TYPES
