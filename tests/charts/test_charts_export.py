"""Static export through kaleido v1 and a system Chromium (skipped where there is none)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kfresearch import charts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None,
                    reason="no chromium or chromium-browser on PATH (Debian: apt-get install "
                           "chromium; `make browser` does it)")
@pytest.mark.skipif(importlib.util.find_spec("kaleido") is None,
                    reason="kaleido is not installed (pip install 'kaleido>=1')")
def test_png_and_svg_of_a_candles_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CHROMIUM is not None
    monkeypatch.setenv("BROWSER_PATH", CHROMIUM)
    index = pd.date_range("2026-11-01", periods=24, freq="h", tz="UTC", name="time")
    close = pd.Series(range(24), index=index, dtype=float) + 100.0
    candles = pd.DataFrame({"open": close - 0.5, "high": close + 1.0, "low": close - 1.0,
                            "close": close, "volume": 10.0}, index=index)
    candles.attrs["env"] = "sim"
    fig = charts.candles_chart(candles, symbol="PF_XBTUSD")
    png = charts.save_image(fig, tmp_path / "candles.png", width=800, height=500)
    svg = charts.save_image(fig, tmp_path / "candles.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    head = svg.read_bytes()[:200].lstrip()
    assert head.startswith((b"<svg", b"<?xml"))
    assert b"<svg" in head
