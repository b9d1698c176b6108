"""Stores for strategy tests: one written by hand (prices chosen so the answer can be
worked out on paper), and one recorded from the seeded simulator (a window of its
candles, trades, funding and a book snapshot every minute)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import kfresearch
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.store import KINDS, Store
from kfresearch.store.manifest import Series
from kfresearch.strategy import Strategy

SYMBOL = "PF_XBTUSD"
MINUTE = pd.Timedelta(minutes=1)

# the simulator window that backtest and run are compared on
WINDOW_SINCE = "2026-10-31T12:00:00Z"
WINDOW_UNTIL = "2026-10-31T13:30:00Z"


def _frame(kind: str, times: Sequence[pd.Timestamp], **columns: Sequence[object]) -> pd.DataFrame:
    """Rows of ``kind`` at ``times`` with ``columns`` given; the rest empty in their dtype."""
    template = KINDS[kind].empty()
    index = pd.DatetimeIndex(list(times), name="time").as_unit("ns")
    out = pd.DataFrame(index=index)
    for name, dtype in template.dtypes.items():
        if name in columns:
            out[name] = pd.Series(list(columns[name]), index=index).astype(dtype)
        elif str(dtype) == "bool":
            out[name] = False
        else:
            out[name] = pd.Series([None] * len(index), index=index, dtype=object).astype(dtype)
    return out


def write(root: Path, kind: str, keys: dict[str, str], frame: pd.DataFrame,
          start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Commit ``frame`` as the stored rows of ``[start, end)`` of one series."""
    series = Series(root, kind, keys)
    with series.locked() as manifest:
        series.commit(manifest, frame, (start.value // 10**6, end.value // 10**6), [],
                      KINDS[kind].compression)


def write_market(root: Path, start: pd.Timestamp, closes: Sequence[float],
                 funding: dict[pd.Timestamp, float],
                 book: dict[pd.Timestamp, tuple[float, float, float]] | None = None) -> None:
    """A hand-made market of ``SYMBOL``: one 1m candle per close (trade, mark and spot
    alike, flat at the close), one trade at the middle of each minute at the close, the
    given hourly absolute funding rates, and book snapshots (bid, ask, size per side)."""
    times = [start + i * MINUTE for i in range(len(closes))]
    end = times[-1] + MINUTE
    prices = [float(c) for c in closes]
    candles = _frame("candles", times, open=prices, high=prices, low=prices, close=prices,
                     volume=[1.0] * len(prices))
    for tick_type in ("trade", "mark", "spot"):
        write(root, "candles", {"symbol": SYMBOL, "tick_type": tick_type, "resolution": "1m"},
              candles, start, end)
    middles = [t + pd.Timedelta(seconds=30) for t in times]
    trades = _frame("trades", middles, seq=range(1, len(prices) + 1),
                    uid=[f"t{i}" for i in range(len(prices))], trade_id=range(1, len(prices) + 1),
                    symbol=[SYMBOL] * len(prices), side=["buy"] * len(prices), price=prices,
                    size=[1.0] * len(prices), type=["fill"] * len(prices))
    write(root, "trades", {"symbol": SYMBOL}, trades, start, end)
    hours = sorted(funding)
    rates = [funding[h] for h in hours]
    funding_rows = _frame("funding_rates", hours, funding_rate=rates,
                          relative_funding_rate=[r / prices[0] for r in rates],
                          period_hours=[1.0] * len(hours), currency=["USD"] * len(hours))
    write(root, "funding_rates", {"symbol": SYMBOL}, funding_rows, hours[0],
          hours[-1] + pd.Timedelta(hours=1))
    if book:
        stamps, sides, prices_, sizes = [], [], [], []
        for t, (bid, ask, size) in sorted(book.items()):
            stamps += [t, t]
            sides += ["bid", "ask"]
            prices_ += [bid, ask]
            sizes += [size, size]
        rows = _frame("book", stamps, side=sides, level=[0] * len(stamps), price=prices_,
                      size=sizes)
        write(root, "book", {"symbol": SYMBOL}, rows, min(book), max(book) + MINUTE)


@dataclass
class RoundTrip(Strategy):
    """Buy ``size`` at the first bar close, sell it at the close of bar ``exit_bar`` (0:
    never); the fills and funding it is told of, in ``events``."""

    size: float = 0.2
    exit_bar: int = 66

    def on_start(self, ctx: kfresearch.strategy.Context) -> None:
        self.seen = 0
        self.events: list[kfresearch.strategy.Fill | kfresearch.strategy.Funding] = []

    def on_bar(self, ctx: kfresearch.strategy.Context, bar: kfresearch.strategy.Bar) -> None:
        self.seen += 1
        if self.seen == 1:
            ctx.buy(bar.symbol, self.size)
        elif self.seen == self.exit_bar:
            ctx.sell(bar.symbol, self.size)

    def on_fill(self, ctx: kfresearch.strategy.Context, fill: kfresearch.strategy.Fill) -> None:
        self.events.append(fill)

    def on_funding(
        self, ctx: kfresearch.strategy.Context, funding: kfresearch.strategy.Funding
    ) -> None:
        self.events.append(funding)


@dataclass
class SmaCross(Strategy):
    """Long ``size`` when the fast average of closes is above the slow one, else short."""

    fast: int = 5
    slow: int = 20
    size: float = 0.1

    def on_bar(self, ctx: kfresearch.strategy.Context, bar: kfresearch.strategy.Bar) -> None:
        closes = ctx.closes(bar.symbol, self.slow)
        if len(closes) == self.slow:
            up = closes[-self.fast:].mean() > closes.mean()
            ctx.order_target(bar.symbol, self.size if up else -self.size)


@pytest.fixture(scope="session")
def sim_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded simulator's ``WINDOW`` in a store: 1m trade, mark and spot candles,
    trades, hourly funding, and its book at every minute (what a recorder keeps)."""
    root = tmp_path_factory.mktemp("sim_store")
    lead = pd.Timestamp(WINDOW_SINCE) - pd.Timedelta(minutes=5)
    store = Store(root, kfresearch.connect("sim"), progress=False)
    for tick_type in ("trade", "mark", "spot"):
        store.download("candles", SYMBOL, since=lead, until=WINDOW_UNTIL, resolution="1m",
                       tick_type=tick_type)
    store.download("trades", SYMBOL, since=lead, until=WINDOW_UNTIL)
    store.download("funding_rates", SYMBOL, since=pd.Timestamp(WINDOW_SINCE).floor("D"),
                   until=pd.Timestamp(WINDOW_UNTIL).ceil("D"))
    exchange = SimExchange(seed=42, clock=SimClock.fixed(WINDOW_SINCE))
    kf = kfresearch.connect("sim", exchange=exchange)
    snapshots = []
    minutes = int((pd.Timestamp(WINDOW_UNTIL) - pd.Timestamp(WINDOW_SINCE)) / MINUTE)
    for _ in range(minutes + 1):
        book = kf.orderbook(SYMBOL, depth=25)
        rows = book[["side", "level", "price", "size"]].copy()
        rows.index = pd.DatetimeIndex([pd.Timestamp(book.attrs["server_time"])] * len(rows),
                                      name="time").as_unit("ns")
        snapshots.append(rows)
        exchange.advance("1m")
    write(root, "book", {"symbol": SYMBOL}, pd.concat(snapshots), pd.Timestamp(WINDOW_SINCE),
          pd.Timestamp(WINDOW_UNTIL) + MINUTE)
    return root
