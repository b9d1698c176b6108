"""Strategy backtests: bars per second through ``backtest``, and ``sweep`` on 1 vs 2 workers.

``.venv/bin/python -m bench.strategy`` (part of ``make bench``) writes a synthetic
year of PF_XBTUSD 1m history into a temporary store (a seeded random walk:
trade, mark and spot candles, one trade a minute, hourly funding), then:

* (A) a simple moving-average strategy (long above the average, short below,
  a market order for the difference) backtested over 30 days;
* (B) a 4-point sweep over 2 days on 1 worker, then (C) on 2 workers;
* (Y) with ``--year``, once, the same strategy over the whole year (it takes
  minutes: one run, not a median).

Each run is a fresh process that times only the operation (imports and the
interpreter's start excluded); the runs alternate A, B, C, A, B, C…; medians
and (min–max) are printed. ``backtest DAYS ROOT`` and ``sweep N ROOT`` run one
measurement (what the parent calls).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kfresearch.store import KINDS
from kfresearch.store.manifest import Series
from kfresearch.strategy import Bar, Context, Strategy

SYMBOL = "PF_XBTUSD"
START = pd.Timestamp("2025-10-01T00:00:00Z")
DAYS = 365
RUNS = 3
MONTH_DAYS = 30
SWEEP_DAYS = 2
GRID: dict[str, list[float]] = {"window": [30, 60], "size": [0.01, 0.02]}


@dataclass
class SmaTrend(Strategy):
    """Long ``size`` while the close is above its ``window``-bar average, short below."""

    window: int = 60
    size: float = 0.01

    def on_start(self, ctx: Context) -> None:
        self.total = 0.0
        self.closes: list[float] = []

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        # a running sum: the rule costs O(1) a bar, so the bench measures the backtest
        self.closes.append(bar.close)
        self.total += bar.close
        if len(self.closes) > self.window:
            self.total -= self.closes[-self.window - 1]
        if len(self.closes) >= self.window:
            average = self.total / self.window
            ctx.order_target(bar.symbol, self.size if bar.close > average else -self.size)


def _frame(kind: str, index: pd.DatetimeIndex, columns: dict[str, object]) -> pd.DataFrame:
    template = KINDS[kind].empty()
    out = pd.DataFrame(index=index.rename("time").as_unit("ns"))
    for name, dtype in template.dtypes.items():
        if name in columns:
            out[name] = pd.Series(columns[name], index=out.index).astype(dtype)
        elif str(dtype) == "bool":
            out[name] = False
        else:
            out[name] = pd.Series([None] * len(out), index=out.index, dtype=object).astype(dtype)
    return out


def _write(root: Path, kind: str, keys: dict[str, str], frame: pd.DataFrame,
           start: pd.Timestamp, end: pd.Timestamp) -> None:
    series = Series(root, kind, keys)
    with series.locked() as manifest:
        series.commit(manifest, frame, (start.value // 10**6, end.value // 10**6), [],
                      KINDS[kind].compression)


def prepare(root: Path, days: int = DAYS) -> None:
    """A seeded random-walk year of 1m history of ``SYMBOL`` in the store at ``root``."""
    rng = np.random.default_rng(7)
    minutes = days * 1440 + 1
    start = START - pd.Timedelta(minutes=1)
    index = pd.date_range(start, periods=minutes, freq="1min", tz="UTC")
    close = np.round(90_000 * np.exp(np.cumsum(rng.normal(0, 0.0007, minutes))))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 15, minutes))
    high, low = np.maximum(open_, close) + spread, np.minimum(open_, close) - spread
    end = index[-1] + pd.Timedelta(minutes=1)
    candles = _frame("candles", index, {"open": open_, "high": high, "low": low,
                                        "close": close, "volume": rng.uniform(0.5, 5, minutes)})
    for tick_type in ("trade", "mark", "spot"):
        _write(root, "candles", {"symbol": SYMBOL, "tick_type": tick_type, "resolution": "1m"},
               candles, start, end)
    trades = _frame("trades", index + pd.Timedelta(seconds=59), {
        "seq": np.arange(1, minutes + 1), "uid": [f"t{i}" for i in range(minutes)],
        "trade_id": np.arange(1, minutes + 1), "symbol": [SYMBOL] * minutes,
        "side": np.where(close >= open_, "buy", "sell"), "price": close,
        "size": np.full(minutes, 0.1), "type": ["fill"] * minutes})
    _write(root, "trades", {"symbol": SYMBOL}, trades, start, end)
    hours = pd.date_range(start.floor("h"), end.ceil("h"), freq="1h", tz="UTC")
    rates = rng.normal(1.0, 2.0, len(hours))
    funding = _frame("funding_rates", hours, {
        "funding_rate": rates, "relative_funding_rate": rates / 90_000,
        "period_hours": np.ones(len(hours)), "currency": ["USD"] * len(hours)})
    _write(root, "funding_rates", {"symbol": SYMBOL}, funding, hours[0],
           hours[-1] + pd.Timedelta(hours=1))


def _backtest(days: int, root: str) -> tuple[float, int, int]:
    from kfresearch.store import Store
    from kfresearch.strategy import backtest

    started = time.perf_counter()
    result = backtest(SmaTrend(), Store(root), SYMBOL, START, START + pd.Timedelta(days=days))
    return time.perf_counter() - started, len(result.equity), len(result.fills)


def _sweep(workers: int, root: str) -> float:
    from kfresearch.strategy import sweep

    started = time.perf_counter()
    sweep(SmaTrend, GRID, store=root, symbols=SYMBOL, since=START,
          until=START + pd.Timedelta(days=SWEEP_DAYS), workers=workers)
    return time.perf_counter() - started


def _child(argv: list[str]) -> list[float]:
    out = subprocess.run(  # noqa: S603 (this interpreter, this module)
        [sys.executable, "-m", "bench.strategy", *argv],
        check=True, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"},
    ).stdout
    return [float(x) for x in out.split()]


def _spread(values: list[float], unit: str = "s") -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:,.2f} {unit} ({low:,.2f}–{high:,.2f})"


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["backtest"]:
        print(*_backtest(int(args[1]), args[2]))
        return
    if args[:1] == ["sweep"]:
        print(_sweep(int(args[1]), args[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = time.perf_counter()
        prepare(root)
        print(f"synthetic year written in {time.perf_counter() - made:.1f} s")
        months: list[float] = []
        rates: list[float] = []
        ones: list[float] = []
        twos: list[float] = []
        bars = fills = 0
        for _ in range(RUNS):
            seconds, bars_, fills_ = _child(["backtest", str(MONTH_DAYS), tmp])
            months.append(seconds)
            rates.append(bars_ / seconds)
            bars, fills = int(bars_), int(fills_)
            ones.append(_child(["sweep", "1", tmp])[0])
            twos.append(_child(["sweep", "2", tmp])[0])
        print("\n| what | median (min–max) |\n|---|---|")
        print(f"| (A) backtest of {MONTH_DAYS} days of 1m bars ({bars:,} bars, {fills:,} fills) "
              f"| {_spread(months)} |")
        print(f"| (A) bars per second | {_spread(rates, 'bars/s')} |")
        print(f"| (B) sweep, 4 points x {SWEEP_DAYS} days, 1 worker | {_spread(ones)} |")
        print(f"| (C) same sweep, 2 workers | {_spread(twos)} |")
        ratios = [a / b for a, b in zip(ones, twos, strict=True)]
        print(f"| B / C (speed-up), run by run | {_spread(ratios, 'x')} |")
        if "--year" not in args:
            return
        seconds, bars_, fills_ = _child(["backtest", str(DAYS), tmp])
        print(f"| (Y) backtest of the year, one run ({int(bars_):,} bars, {int(fills_):,} fills) "
              f"| {seconds:,.1f} s, {bars_ / seconds:,.0f} bars/s |")


if __name__ == "__main__":
    main()
