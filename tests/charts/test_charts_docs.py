"""The usage examples in the charts docstrings run, on a simulator client named ``kf``."""

from __future__ import annotations

import doctest
import importlib
from typing import Any

import pytest

import kfresearch
from kfresearch import charts
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

# export's only example writes a file through Chromium: test_charts_export covers it.
MODULES = ["kfresearch.charts", "kfresearch.charts._style", "kfresearch.charts.market",
           "kfresearch.charts.account", "kfresearch.charts.live"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name.endswith(".live"):
        pytest.importorskip("anywidget", reason="plotly's FigureWidget needs anywidget")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    module = importlib.import_module(name)
    kf = kfresearch.Client(
        "sim", exchange=SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )
    globs: dict[str, Any] = {"kf": kf, "kfresearch": kfresearch, "charts": charts}
    globs.update({n: getattr(charts, n) for n in charts.__all__})
    try:
        result = doctest.testmod(module, extraglobs=globs, report=True,
                                 optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        kf.close()
    assert result.attempted > 0
    assert result.failed == 0
