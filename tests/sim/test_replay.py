"""The replay market source: a store downloaded from the simulator replays the simulator's prices.

The store is filled from ``connect("sim")`` (seed 42, clock 2026-11-01), so
every answer of :class:`ReplaySource` can be checked against the
:class:`SyntheticMarket` that produced the data.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import StoreError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.engine import Engine
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.orders import parse_order_request
from kfresearch.sim.replay import ReplaySource
from kfresearch.sim.source import MarketSource
from kfresearch.store import Store

NOW = 1_793_491_200_000  # 2026-11-01T00:00:00Z
HOUR = 3_600_000
MIN = 60_000
START = NOW - 6 * HOUR
SYMBOL = "PF_XBTUSD"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    exchange = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    store = Store(tmp_path_factory.mktemp("replay"), kf, progress=False)
    for tick_type in ("mark", "spot", "trade"):
        store.candles(SYMBOL, "1m", since=START, until=NOW, tick_type=tick_type)
    store.trades(SYMBOL, since=START, until=NOW)
    store.funding_rates(SYMBOL, since=START, until=NOW)
    return Store(store.root)  # no client: replay reads only what is on disk


@pytest.fixture(scope="module")
def synthetic() -> SyntheticMarket:
    return SyntheticMarket(seed=42)


@pytest.fixture
def source(store: Store) -> ReplaySource:
    return ReplaySource(store)


def test_both_sources_are_market_sources(source: ReplaySource, synthetic: SyntheticMarket) -> None:
    sources: list[MarketSource] = [source, synthetic]  # mypy checks the protocol
    assert [s.name for s in sources] == ["replay", "synthetic"]
    assert [spec.symbol for spec in source.instruments(NOW - HOUR)] == [SYMBOL]
    assert source.instrument("pf_xbtusd", NOW) is not None
    assert source.instrument("PF_ETHUSD", NOW) is None


def test_funding_is_the_stored_hourly_rate(source: ReplaySource, synthetic: SyntheticMarket) -> None:
    for hour in range(START, NOW, HOUR):
        assert source.funding_rate(SYMBOL, hour) == pytest.approx(
            synthetic.funding_rate(SYMBOL, hour), rel=1e-12
        )


def test_last_price_is_the_last_stored_trade(source: ReplaySource, synthetic: SyntheticMarket) -> None:
    for t in range(START + 7_777, NOW, 47 * MIN + 13_331):
        assert source.last_price(SYMBOL, t) == synthetic.last_price(SYMBOL, t)
    window = synthetic.trades(SYMBOL, NOW - 2 * MIN, NOW - MIN)
    replayed = source.trades(SYMBOL, NOW - 2 * MIN, NOW - MIN)
    assert len(replayed) == len(window) > 0
    assert (replayed.price == window.price).all()
    assert (replayed.time_ms == window.time_ms).all()
    assert (replayed.buy == window.buy).all()
    assert source.extremes(SYMBOL, "last", NOW - 2 * MIN - 1, NOW - MIN - 1) == (
        float(window.price.min()),
        float(window.price.max()),
    )


def test_mark_and_index_never_look_ahead(source: ReplaySource, synthetic: SyntheticMarket) -> None:
    candles = source.store.read("candles", symbol=SYMBOL, tick_type="mark", resolution="1m")
    minute = NOW - 3 * HOUR
    closes = candles["close"]
    before = float(closes[closes.index == _stamp(minute - MIN)].iloc[0])
    during = float(closes[closes.index == _stamp(minute)].iloc[0])
    # inside [minute, minute + 1m) only the candle that ended at `minute` is known
    assert source.mark_price(SYMBOL, minute + 30_000) == before
    assert source.mark_price(SYMBOL, minute + MIN) == during
    # candles carry the mark to the cent
    assert source.mark_price(SYMBOL, minute + 30_000) == pytest.approx(
        synthetic.mark_price(SYMBOL, minute - 1), abs=0.006
    )
    assert source.index_price("PI_XBTUSD", minute) == source.index_price(SYMBOL, minute)
    assert source.index_price(SYMBOL, minute) == pytest.approx(
        synthetic.index_price(SYMBOL, minute - 1), abs=0.006
    )
    assert source.usd_value("XBT", minute) == source.index_price(SYMBOL, minute)
    assert source.usd_value("USDC", minute) == 1.0
    lo, hi = source.extremes(SYMBOL, "mark", minute, minute + 2 * MIN) or (0.0, 0.0)
    assert lo <= before <= hi or lo <= during <= hi


def _stamp(ms: int) -> object:
    import pandas as pd

    return pd.Timestamp(ms, unit="ms", tz="UTC")


def test_the_model_book_straddles_the_last_price(source: ReplaySource) -> None:
    t = NOW - HOUR
    bids, asks = source.book(SYMBOL, t, depth=5)
    last = source.last_price(SYMBOL, t)
    assert len(bids) == len(asks) == 5
    assert bids[0][0] <= last <= asks[0][0]
    tick = source.instrument(SYMBOL, t).tick_size  # type: ignore[union-attr]
    assert asks[0][0] - bids[0][0] == pytest.approx(tick)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert bids[0][1] * bids[0][0] == pytest.approx(50_000, rel=0.01)


def test_a_missing_series_says_what_to_download(source: ReplaySource) -> None:
    with pytest.raises(StoreError, match=r"store.funding_rates\('PF_XBTUSD'"):
        source.funding_rate(SYMBOL, START - 10 * HOUR)
    with pytest.raises(StoreError, match="tick_type='mark'"):
        source.mark_price(SYMBOL, START - 10 * HOUR)


def test_the_engine_trades_on_a_replay(source: ReplaySource) -> None:
    engine = Engine(source, seed=1)
    t = NOW - 4 * HOUR - 30_000
    buy = {"orderType": "mkt", "symbol": SYMBOL, "side": "buy", "size": "0.5"}
    answer = engine.send_order("acc", parse_order_request(buy.get), t)
    assert answer["status"] == "placed"
    fill = engine.fills("acc", t)[0]
    assert fill.price == source.book(SYMBOL, t)[1][0][0]  # the model book's best ask
    # a resting buy a little below the market fills once replayed trades print through it
    limit = round(source.last_price(SYMBOL, t) * 0.999 * 2) / 2
    rest = {"orderType": "lmt", "symbol": SYMBOL, "side": "buy", "size": "0.1",
            "limitPrice": repr(limit)}
    engine.send_order("acc", parse_order_request(rest.get), t)
    assert len(engine.open_orders("acc", t)) == 1
    low = None
    for minute in range(t + MIN, NOW, MIN):
        engine.advance(minute)
        low = source.extremes(SYMBOL, "last", minute - MIN, minute)
        if not engine.open_orders("acc", minute):
            break
    assert low is not None
    assert low[0] <= limit
    end = NOW - MIN  # the store holds funding up to the hour before NOW
    assert engine.fills("acc", end)[0].price == limit
    # funding was paid every hour at the stored rate
    log = engine.account_log("acc", end, info="funding rate change")["logs"]
    hours = range(NOW - 5 * HOUR, NOW - HOUR, HOUR)  # the hours ending at -4 h … -1 h
    assert sorted(row["funding_rate"] for row in log) == sorted(
        source.funding_rate(SYMBOL, hour)[0] for hour in hours
    )


def test_candles_and_funding_are_read_a_calendar_month_at_a_time(store: Store) -> None:
    """One store read per month of candles or funding (the month cache), a week of trades;
    the same prices as a read per minute would give."""
    from kfresearch.sim.replay import _MONTHLY
    from kfresearch.store import KINDS

    assert {k.name for k in KINDS.values() if k.month_cache} == _MONTHLY
    reads: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []

    class Counting(Store):
        def read_arrow(self, kind: str, since: Any = None, until: Any = None, **keys: Any) -> Any:
            reads.append((kind, pd.Timestamp(since), pd.Timestamp(until)))
            return super().read_arrow(kind, since, until, **keys)

    source = ReplaySource(Counting(store.root))
    marks = [source.mark_price(SYMBOL, t) for t in range(START + MIN, NOW + 1, MIN)]
    source.funding_rate(SYMBOL, NOW - HOUR)
    source.last_price(SYMBOL, NOW)
    october = (pd.Timestamp("2026-10-01", tz="UTC"), pd.Timestamp("2026-11-01", tz="UTC"))
    november = (october[1], pd.Timestamp("2026-12-01", tz="UTC"))
    # at NOW (Nov 1, 00:00) the mark is the last October candle's close: a day back
    assert ("candles", *october) in reads
    assert ("candles", *november) in reads
    assert ("funding_rates", *october) in reads
    assert sum(kind == "candles" for kind, _, _ in reads) == 2  # 360 minutes, two reads
    trades = [(a, b) for kind, a, b in reads if kind == "trades"]
    assert trades
    assert all(b - a == pd.Timedelta(days=7) for a, b in trades)
    stored = store.read("candles", START - 2 * MIN, NOW, symbol=SYMBOL, tick_type="mark",
                        resolution="1m")["close"]
    assert marks == stored.iloc[: len(marks)].tolist()


def test_a_blocks_arrays_are_those_of_the_stored_frame(store: Store) -> None:
    """The replay's arrays, made from the store's Arrow table, equal those made from
    ``Store.read``'s frame of the same columns (how they were made before), bit for bit."""
    import numpy as np

    from kfresearch.sim.replay import _COLUMNS, _arrays

    t0, t1 = pd.Timestamp(START - 2 * HOUR, unit="ms", tz="UTC"), pd.Timestamp(NOW, unit="ms",
                                                                                tz="UTC")
    reads = [("trades", {}), ("funding_rates", {}), ("book", {})] + [
        ("candles", {"tick_type": t, "resolution": "1m"}) for t in ("mark", "spot", "trade")
    ]
    for kind, keys in reads:
        columns = _COLUMNS[kind]
        frame = store.read(kind, t0, t1, columns=columns, symbol=SYMBOL, **keys)
        got = _arrays(kind, store.read_arrow(kind, t0, t1, columns=columns, symbol=SYMBOL, **keys))
        want: dict[str, Any] = {
            "time": np.asarray(pd.DatetimeIndex(frame.index).as_unit("ms").asi8, dtype=np.int64)
        }
        for column in columns:
            if column != "side":
                want[column] = frame[column].to_numpy(dtype=float)
        if kind == "trades":
            want["buy"] = frame["side"].eq("buy").to_numpy(dtype=bool, na_value=False)
            assert want["buy"].any()
            assert not want["buy"].all()
        elif "side" in columns:
            want["side"] = frame["side"].to_numpy(dtype=str)
        assert list(got) == list(want), kind
        assert len(frame) >= {"book": 0, "funding_rates": 6}.get(kind, 300), kind
        for name, values in want.items():
            assert got[name].dtype == values.dtype, (kind, name)
            assert got[name].tobytes() == values.tobytes(), (kind, name)
    # a stored book's sides as text (this store holds no snapshots)
    import pyarrow as pa

    stamps = pa.array([0, 1_000_000], pa.timestamp("ns", tz="UTC"))
    book = pa.table({"time": stamps, "side": ["bid", "ask"], "price": [1.0, 2.0],
                     "size": [3.0, 4.0]})
    arrays = _arrays("book", book)
    assert arrays["side"].tolist() == ["bid", "ask"]
    assert arrays["time"].tolist() == [0, 1]
    assert arrays["price"].tolist() == [1.0, 2.0]
