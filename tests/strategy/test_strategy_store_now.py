"""A backtest can end at the store's "now": the running hour has no funding rate yet.

The store keeps an hour's funding rate once the hour is over, so data fetched at
00:30 holds candles and trades up to 00:30 but funding only up to 00:00. The
replay answers "no funding yet" for the hour its data ends inside (it can never
realise that hour), and still refuses a genuinely missing hour.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import StoreError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.replay import ReplaySource
from kfresearch.store import Store
from kfresearch.strategy import Context, Strategy, backtest
from kfresearch.strategy.events import Bar

SYMBOL = "PF_XBTUSD"
NOW = pd.Timestamp("2026-11-01T00:30:00Z")  # when the store was filled
SINCE = NOW - pd.Timedelta(hours=2, minutes=30)  # 22:00
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    exchange = SimExchange(seed=42, clock=SimClock.fixed(NOW))
    store = Store(tmp_path_factory.mktemp("store_now"), kfresearch.connect("sim", exchange=exchange),
                  progress=False)
    for tick_type in ("trade", "mark", "spot"):
        store.candles(SYMBOL, "1m", since=SINCE, until=NOW, tick_type=tick_type)
    store.trades(SYMBOL, since=SINCE, until=NOW)
    store.funding_rates(SYMBOL, since=SINCE, until=NOW)
    return Store(store.root)


@dataclass
class Hold(Strategy):
    """Buy once and hold, so every hour's funding (and the safe band) is asked for."""

    size: float = 0.5

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        if ctx.position(bar.symbol) == 0:
            ctx.buy(bar.symbol, self.size)


def test_the_running_hour_has_no_funding_rate_yet(store: Store) -> None:
    source = ReplaySource(store)
    hour = NOW.value // 10**6 // HOUR_MS * HOUR_MS
    assert store.read("funding_rates", symbol=SYMBOL).index.max() == pd.Timestamp(hour - HOUR_MS,
                                                                               unit="ms", tz="UTC")
    assert source.funding_rate(SYMBOL, hour) == (0.0, 0.0)
    stored, _ = source.funding_rate(SYMBOL, hour - HOUR_MS)
    assert stored != 0.0
    with pytest.raises(StoreError, match="funding rate"):  # past the data: not "running"
        source.funding_rate(SYMBOL, hour + HOUR_MS)


@pytest.mark.parametrize("until", [NOW, NOW.floor("h")], ids=["mid-hour", "on-the-hour"])
def test_a_backtest_ends_at_the_stores_now(store: Store, until: pd.Timestamp) -> None:
    result = backtest(Hold(), store, SYMBOL, SINCE, until, seed=42)
    assert result.fills["size"].sum() == 0.5
    # the hours that ended in the window were paid at their stored rates, and only those
    paid = pd.DatetimeIndex(result.funding.index)
    assert list(paid) == [pd.Timestamp("2026-10-31T23:00Z"), pd.Timestamp("2026-11-01T00:00Z")]
    rates = store.read("funding_rates", symbol=SYMBOL)["funding_rate"]
    assert result.funding["rate"].tolist() == rates.loc[paid - pd.Timedelta(hours=1)].tolist()


def test_the_orderbook_of_a_replay_is_the_book_the_engine_fills_against(store: Store) -> None:
    source = ReplaySource(store)
    t = SINCE + pd.Timedelta(minutes=30)
    kf = kfresearch.connect("sim", exchange=SimExchange(seed=42, clock=SimClock.fixed(t),
                                                        market=source))
    book = kf.orderbook(SYMBOL)
    bids, asks = source.book(SYMBOL, t.value // 10**6, depth=100)
    assert list(zip(book[book["side"] == "bid"]["price"], book[book["side"] == "bid"]["size"],
                    strict=True)) == bids
    assert list(zip(book[book["side"] == "ask"]["price"], book[book["side"] == "ask"]["size"],
                    strict=True)) == asks
    # a market buy fills at the best ask /orderbook showed
    kf.place_order(SYMBOL, "buy", 0.01, "mkt")
    assert kf.fills()["price"].tolist() == [asks[0][0]]
    with pytest.raises(kfresearch.errors.KFError, match="PF_ETHUSD"):
        kf.orderbook("PF_ETHUSD")
