"""The charts package as a whole: exports, lazy plotly, template, units, titles, "no data"."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kfresearch import charts
from kfresearch.charts import _style
from kfresearch.errors import ConfigurationError


def test_all_is_sorted_and_names_the_public_api() -> None:
    public = {n for n in dir(charts) if not n.startswith("_")}
    assert sorted(charts.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n)) \
        == list(charts.__all__)
    assert set(charts.__all__) == public


def test_import_kfresearch_does_not_import_plotly() -> None:
    code = ("import sys, kfresearch; bad = [m for m in sys.modules "
            "if m.split('.')[0] in ('plotly', 'ipywidgets', 'anywidget', 'kaleido')]; "
            "print(bad); raise SystemExit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_template_is_registered_and_carries_the_palette() -> None:
    import plotly.io as pio

    assert pio.templates["kfresearch"] == charts.TEMPLATE
    assert list(charts.TEMPLATE.layout.colorway) == list(_style.COLORWAY)
    assert charts.COLORS["buy"] != charts.COLORS["sell"]


def test_no_data_figure_says_no_data_and_what_was_expected() -> None:
    fig = charts.no_data_figure("PF_XBTUSD · 1h candles · sim", "a candles frame")
    assert fig.data == ()
    assert [a.text for a in fig.layout.annotations] == ["no data", "expected a candles frame"]
    assert fig.layout.title.text == "PF_XBTUSD · 1h candles · sim"
    assert fig.layout.xaxis.visible is False
    assert fig.layout.yaxis.visible is False
    assert fig.layout.template.layout.colorway == charts.TEMPLATE.layout.colorway


def test_chart_title_uses_attrs_and_overrides() -> None:
    frame = pd.DataFrame({"x": [1.0]})
    frame.attrs.update(env="sim", symbol="PF_XBTUSD")
    assert _style.chart_title(frame, "1h candles") == "PF_XBTUSD · 1h candles · sim"
    assert _style.chart_title(frame, "depth", symbol="PF_ETHUSD") == "PF_ETHUSD · depth · sim"
    assert _style.chart_title(frame, "depth", title="mine") == "mine"
    assert _style.chart_title(None, "depth") == "depth"
    by_column = pd.DataFrame({"symbol": ["PF_SOLUSD", "PF_SOLUSD"]})
    assert _style.frame_symbol(by_column) == "PF_SOLUSD"
    assert _style.frame_symbol(pd.DataFrame({"symbol": ["A", "B"]})) is None


@pytest.mark.parametrize(
    ("freq", "label"), [("1min", "1m"), ("5min", "5m"), ("1h", "1h"), ("4h", "4h"),
                        ("1D", "1d"), ("7D", "1w"), ("90s", "90s")],
)
def test_resolution_label_from_index_spacing(freq: str, label: str) -> None:
    index = pd.date_range("2026-01-01", periods=5, freq=freq, tz="UTC")
    assert _style.resolution_label(index) == label
    assert _style.resolution_label(index, {"resolution": "15m"}) == "15m"
    assert _style.resolution_label(index[:1]) is None


def test_rgba() -> None:
    assert _style.rgba("#16a34a", 0.3) == "rgba(22,163,74,0.3)"


EMPTY_CASES: list[tuple[Callable[..., Any], Any]] = [
    (charts.candles_chart, pd.DataFrame(columns=["open", "high", "low", "close", "volume"])),
    (charts.depth_chart, pd.DataFrame(columns=["side", "level", "price", "size", "cum_size"])),
    (charts.book_heatmap, []),
    (charts.book_heatmap, [pd.DataFrame(columns=["side", "price", "size"])]),
    (charts.funding_chart, pd.DataFrame(columns=["relative_funding_rate"])),
    (charts.term_structure_chart, pd.DataFrame(columns=["symbol", "relative_basis"])),
    (charts.tickers_overview, pd.DataFrame(columns=["mark_price"])),
    (charts.tickers_overview, pd.DataFrame({"mark_price": [np.nan]}, index=["in_xbtusd"])),
    (charts.trades_chart, pd.DataFrame(columns=["price", "size", "side"])),
    (charts.equity_chart, pd.DataFrame(columns=["asset", "new_balance"])),
    (charts.positions_chart, pd.DataFrame(columns=["entry_price"])),
]


@pytest.mark.parametrize(("helper", "frame"), EMPTY_CASES,
                         ids=[f"{h.__name__}-{i}" for i, (h, _) in enumerate(EMPTY_CASES)])
def test_every_helper_turns_an_empty_frame_into_no_data(helper: Callable[..., Any],
                                                        frame: Any) -> None:
    for given in (frame, None):
        fig = helper(given)
        assert fig.data == ()
        texts = [a.text for a in fig.layout.annotations]
        assert texts[0] == "no data"
        assert texts[1].startswith("expected ")
        assert fig.layout.title.text


def test_no_data_title_keeps_symbol_and_environment() -> None:
    frame = pd.DataFrame(columns=["open", "high", "low", "close", "volume"],
                         index=pd.DatetimeIndex([], tz="UTC", name="time"))
    frame.attrs["env"] = "sim"
    fig = charts.candles_chart(frame, symbol="PF_XBTUSD")
    assert fig.layout.title.text == "PF_XBTUSD · candles · sim"


def test_save_image_rejects_an_unknown_suffix(tmp_path: Any) -> None:
    fig = charts.no_data_figure("t", "x")
    with pytest.raises(ConfigurationError, match=r"\.png"):
        charts.save_image(fig, tmp_path / "chart.gif")


def test_save_image_names_the_missing_browser(tmp_path: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("kaleido") is None:
        pytest.skip("kaleido is not installed")
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    with pytest.raises(ConfigurationError, match="BROWSER_PATH"):
        charts.save_image(charts.no_data_figure("t", "x"), tmp_path / "chart.png")
    assert not (tmp_path / "chart.png").exists()
