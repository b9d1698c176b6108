"""Strategy backtests: bars per second through ``backtest``, and ``sweep`` on 1 vs 2 workers.

``.venv/bin/python -m bench.strategy`` (part of ``make bench``) writes a synthetic
year of PF_XBTUSD 1m history into a temporary store (a seeded random walk:
trade, mark and spot candles, one trade a minute, hourly funding), then:

* (A) a moving-average crossover (:class:`SmaCross`: long while the 20-bar
  average close is above the 120-bar one, short below, a market order for
  the difference) backtested over the whole year (525,600 bars);
* (B) a 4-point sweep of the same rule over 30 days on 1 worker (in the
  process), then (C) on 2 worker processes.

Each run is a fresh process that times only the operation (the interpreter's
start and the imports of the calling code excluded; a sweep's worker
processes start inside the timing, as in a fresh kernel); the runs alternate
A, B, C, A, B, C…; medians and (min–max) are printed. ``--runs N`` (default 3),
``--days N`` (A's length, default 365) and ``--sweep-days N`` (default 30)
change the sizes. ``backtest DAYS ROOT`` and ``sweep WORKERS DAYS ROOT`` run
one measurement (what the parent calls).
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
SWEEP_DAYS = 30
GRID: dict[str, list[float]] = {"fast": [10, 20], "slow": [60, 120]}


@dataclass
class SmaCross(Strategy):
    """Long ``size`` while the ``fast``-bar average close is above the ``slow``-bar one, else short.

    The rule of notebook 07, written the way a long backtest wants it: running
    sums over the context's recent closes (a view, no copy), so a bar costs the
    same whatever the windows.
    """

    fast: int = 20
    slow: int = 120
    size: float = 0.01

    def on_start(self, ctx: Context) -> None:
        self.fast_sum = self.slow_sum = 0.0

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        closes = ctx.closes(bar.symbol, self.slow + 1)  # this bar's close is the last
        n = len(closes)
        self.fast_sum += bar.close - (float(closes[-self.fast - 1]) if n > self.fast else 0.0)
        self.slow_sum += bar.close - (float(closes[0]) if n > self.slow else 0.0)
        if n >= self.slow:
            up = self.fast_sum * self.slow > self.slow_sum * self.fast
            ctx.order_target(bar.symbol, self.size if up else -self.size)


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


def _backtest(days: int, root: str) -> tuple[float, int, int, float]:
    from kfresearch.store import Store
    from kfresearch.strategy import backtest

    started, cpu = time.perf_counter(), time.process_time()
    result = backtest(SmaCross(), Store(root), SYMBOL, START, START + pd.Timedelta(days=days))
    return (time.perf_counter() - started, len(result.equity), len(result.fills),
            time.process_time() - cpu)


def _sweep(workers: int, days: int, root: str) -> float:
    from kfresearch.strategy import sweep

    started = time.perf_counter()
    sweep(SmaCross, GRID, store=root, symbols=SYMBOL, since=START,
          until=START + pd.Timedelta(days=days), workers=workers)
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


def _option(args: list[str], name: str, default: int) -> int:
    return int(args[args.index(name) + 1]) if name in args else default


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["backtest"]:
        print(*_backtest(int(args[1]), args[2]))
        return
    if args[:1] == ["sweep"]:
        print(_sweep(int(args[1]), int(args[2]), args[3]))
        return
    runs, days = _option(args, "--runs", RUNS), _option(args, "--days", DAYS)
    sweep_days = _option(args, "--sweep-days", SWEEP_DAYS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = time.perf_counter()
        prepare(root)
        print(f"synthetic year written in {time.perf_counter() - made:.1f} s")
        seconds: list[float] = []
        cpus: list[float] = []
        rates: list[float] = []
        ones: list[float] = []
        twos: list[float] = []
        bars = fills = 0
        for _ in range(runs):
            took, bars_, fills_, cpu = _child(["backtest", str(days), tmp])
            seconds.append(took)
            cpus.append(cpu)
            rates.append(bars_ / took)
            bars, fills = int(bars_), int(fills_)
            ones.append(_child(["sweep", "1", str(sweep_days), tmp])[0])
            twos.append(_child(["sweep", "2", str(sweep_days), tmp])[0])
        print("\n| what | median (min–max) |\n|---|---|")
        print(f"| (A) backtest of {days} days of 1m bars ({bars:,} bars, {fills:,} fills) "
              f"| {_spread(seconds)} |")
        print(f"| (A) the same, CPU time of the process | {_spread(cpus)} |")
        print(f"| (A) bars per second | {_spread(rates, 'bars/s')} |")
        print(f"| (B) sweep, 4 points x {sweep_days} days, 1 worker | {_spread(ones)} |")
        print(f"| (C) same sweep, 2 workers | {_spread(twos)} |")
        ratios = [a / b for a, b in zip(ones, twos, strict=True)]
        print(f"| B / C (speed-up), run by run | {_spread(ratios, 'x')} |")


if __name__ == "__main__":
    main()
