"""The synthetic market: determinism, shapes of its series, and their consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kfresearch.sim.clock import parse_time_ms
from kfresearch.sim.instruments import (
    DAY_MS,
    FEE_SCHEDULE_UID,
    HOUR_MS,
    catalog,
    dated_expiries,
    expiry_ms,
    spec_for,
)
from kfresearch.sim.market import MINUTE_MS, STEP_MS, SyntheticMarket

NOW = parse_time_ms("2026-11-01T00:00:00Z")
PERPETUALS = [
    "PF_XBTUSD",
    "PF_ETHUSD",
    "PF_SOLUSD",
    "PF_XRPUSD",
    "PF_DOGEUSD",
    "PF_ADAUSD",
    "PF_LINKUSD",
    "PF_LTCUSD",
    "PI_XBTUSD",
    "PI_ETHUSD",
]
ANCHORS = {
    "XBT": 88_000,
    "ETH": 2_920,
    "SOL": 138,
    "XRP": 2.24,
    "DOGE": 0.15,
    "ADA": 0.42,
    "LINK": 12.95,
    "LTC": 82,
}


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return SyntheticMarket(seed=7)


def on_grid(values: np.ndarray, step: float) -> bool:
    ratio = np.asarray(values, dtype=float) / step
    return bool(np.all(np.abs(ratio - np.rint(ratio)) < 1e-6))


# -- catalog ---------------------------------------------------------------


def test_catalog_lists_perpetuals_and_two_dated_contracts() -> None:
    specs = {s.symbol: s for s in catalog(NOW)}
    assert list(specs) == [*PERPETUALS, "FI_XBTUSD_261127", "FI_XBTUSD_261225"]
    assert (specs["PF_XBTUSD"].tick_size, specs["PF_XBTUSD"].precision) == (1.0, 4)
    assert (specs["PF_ETHUSD"].tick_size, specs["PF_ETHUSD"].precision) == (0.1, 3)
    assert (specs["PI_XBTUSD"].tick_size, specs["PI_ETHUSD"].tick_size) == (0.5, 0.1)
    assert specs["PI_XBTUSD"].underlying == "rr_xbtusd"
    assert specs["FI_XBTUSD_261127"].tag == "month"
    assert specs["FI_XBTUSD_261225"].tag == "quarter"
    # last Friday of the month, 16:00 London (UTC in winter)
    assert specs["FI_XBTUSD_261127"].last_trading_time_ms == parse_time_ms("2026-11-27T16:00:00Z")
    assert {s.fee_schedule_uid for s in specs.values()} == {FEE_SCHEDULE_UID}
    for s in specs.values():
        assert s.opening_date_ms < NOW
        if s.is_perpetual:
            assert s.funding_rate_coefficient == 8
            assert s.max_relative_funding_rate == 0.001
            assert s.opening_date_ms < NOW - 60 * DAY_MS
        else:
            assert s.funding_rate_coefficient is None


def test_margin_tiers_start_at_two_percent_and_end_at_fifty() -> None:
    for s in catalog(NOW):
        tiers = s.margin_levels
        assert (tiers[0].lower, tiers[0].initial, tiers[0].maintenance) == (0, 0.02, 0.01)
        assert (tiers[-1].initial, tiers[-1].maintenance) == (0.5, 0.25)
        assert [t.lower for t in tiers] == sorted({t.lower for t in tiers})
    pf = spec_for("PF_XBTUSD")
    assert pf is not None
    assert pf.margin_levels[1].lower == 1_000_000
    pi = spec_for("PI_XBTUSD")
    assert pi is not None
    assert [t.lower for t in pi.margin_levels[:3]] == [0, 500_000, 1_000_000]


def test_dated_contracts_are_listed_until_expiry() -> None:
    expiry = expiry_ms(2026, 11)
    listed = {s.symbol for s in catalog(expiry - 1)}
    assert "FI_XBTUSD_261127" in listed
    after = {s.symbol for s in catalog(expiry)}
    assert "FI_XBTUSD_261127" not in after
    assert {"FI_XBTUSD_261225", "FI_XBTUSD_270326"} <= after
    spec = spec_for("FI_XBTUSD_261127")
    assert spec is not None
    # listed from the previous expiry on (the October month-end)
    assert spec.opening_date_ms == expiry_ms(2026, 10)
    assert spec_for("FI_XBTUSD_261126") is None  # not a last Friday
    assert dated_expiries(parse_time_ms("2026-09-01T00:00:00Z"))[0] == (
        parse_time_ms("2026-09-25T15:00:00Z"),  # summer time: 16:00 London is 15:00 UTC
        "quarter",
    )


def test_instrument_lookup_is_case_insensitive_and_respects_listing() -> None:
    m = SyntheticMarket(1)
    spec = m.instrument("pf_xbtusd", NOW)
    assert spec is not None
    assert spec.symbol == "PF_XBTUSD"
    assert m.instrument("PF_NOPEUSD", NOW) is None
    assert m.instrument("FI_XBTUSD_261127", expiry_ms(2026, 11)) is None


# -- determinism -----------------------------------------------------------


def test_same_seed_same_market_in_any_order_other_seed_differs() -> None:
    a, b, c = SyntheticMarket(5), SyntheticMarket(5), SyntheticMarket(6)
    t_early, t_late = NOW - 20 * DAY_MS + 12_345, NOW - 3_600_000
    # b computes the days in the opposite order: random access must not depend on it
    first = (a.index_price("XBT", t_early), a.last_price("PF_ETHUSD", t_late))
    second = (b.last_price("PF_ETHUSD", t_late), b.index_price("XBT", t_early))
    assert first == second[::-1]
    ca, _ = a.candles("PF_SOLUSD", "trade", "1m", NOW, from_ms=NOW - DAY_MS)
    cb, _ = b.candles("PF_SOLUSD", "trade", "1m", NOW, from_ms=NOW - DAY_MS)
    cc, _ = c.candles("PF_SOLUSD", "trade", "1m", NOW, from_ms=NOW - DAY_MS)
    assert np.array_equal(ca.close, cb.close)
    assert np.array_equal(ca.volume, cb.volume)
    assert not np.array_equal(ca.close, cc.close)
    ta = a.trades("PF_XBTUSD", NOW - HOUR_MS, NOW)
    tb = b.trades("PF_XBTUSD", NOW - HOUR_MS, NOW)
    assert np.array_equal(ta.time_ms, tb.time_ms)
    assert np.array_equal(ta.size, tb.size)
    assert a.book("PF_XBTUSD", NOW) == b.book("PF_XBTUSD", NOW) != c.book("PF_XBTUSD", NOW)


def test_small_caches_give_the_same_answers() -> None:
    big, small = SyntheticMarket(9), SyntheticMarket(9, cache_days=1)
    for t in (NOW - 5 * DAY_MS, NOW - DAY_MS + 7, NOW - 5 * DAY_MS + 999_999):
        assert big.last_price("PF_XBTUSD", t) == small.last_price("PF_XBTUSD", t)
        assert big.mark_price("PI_ETHUSD", t) == small.mark_price("PI_ETHUSD", t)


# -- prices ----------------------------------------------------------------


def test_prices_stay_near_their_anchors(market: SyntheticMarket) -> None:
    for base, anchor in ANCHORS.items():
        daily = np.array([market.index_price(base, NOW - k * DAY_MS) for k in range(0, 180, 3)])
        assert np.all(daily > 0.5 * anchor), base
        assert np.all(daily < 2.0 * anchor), base


def test_contracts_on_one_coin_share_the_index(market: SyntheticMarket) -> None:
    t = NOW - 12_345_678
    index = market.index_price("XBT", t)
    for symbol in ("PF_XBTUSD", "PI_XBTUSD", "FI_XBTUSD_261225", "in_xbtusd"):
        assert market.index_price(symbol, t) == index
    # perpetual marks sit within a few tens of basis points of the index
    for symbol in PERPETUALS:
        ratio = market.mark_price(symbol, t) / market.index_price(symbol, t)
        assert abs(ratio - 1) < 0.003, symbol


def test_dated_basis_shrinks_to_zero_and_settles_at_index(market: SyntheticMarket) -> None:
    expiry = expiry_ms(2026, 12)
    symbol = "FI_XBTUSD_261225"

    def basis(t: int) -> float:
        return market.mark_price(symbol, t) / market.index_price(symbol, t) - 1

    assert basis(NOW) > 0.003  # about 6 % a year, ~54 days out
    assert abs(basis(expiry - HOUR_MS)) < 0.0005
    assert market.mark_price(symbol, expiry) == market.index_price(symbol, expiry)


def test_volatility_clusters_and_jumps(market: SyntheticMarket) -> None:
    pages = [
        market.candles("PF_XBTUSD", "spot", "1m", NOW, from_ms=NOW - k * DAY_MS, limit=1440)[0]
        for k in range(30, 0, -1)
    ]
    assert [len(p) for p in pages] == [1440] * 30
    values = np.concatenate([p.close for p in pages])
    returns = np.diff(np.log(values))
    size = np.abs(returns - returns.mean())
    # absolute returns are autocorrelated (clustering) and tails are fat
    assert np.corrcoef(size[:-1], size[1:])[0, 1] > 0.1
    kurtosis = np.mean((returns - returns.mean()) ** 4) / np.var(returns) ** 2
    assert kurtosis > 4
    # a daily volatility of a couple of percent, as for bitcoin
    daily = returns.std() * math.sqrt(1440)
    assert 0.008 < daily < 0.06


def test_usd_value(market: SyntheticMarket) -> None:
    assert market.usd_value("USD", NOW) == 1.0
    assert market.usd_value("usdt", NOW) == 1.0
    assert market.usd_value("XBT", NOW) == market.index_price("PF_XBTUSD", NOW)
    assert market.usd_value("BTC", NOW) == market.usd_value("XBT", NOW)
    assert market.usd_value("ETH", NOW) == market.index_price("PI_ETHUSD", NOW)
    with pytest.raises(KeyError):
        market.usd_value("XYZ", NOW)


# -- books and trades --------------------------------------------------------


@pytest.mark.parametrize("symbol", [*PERPETUALS, "FI_XBTUSD_261127"])
def test_book_is_ordered_on_the_tick_and_straddles_the_mark(
    market: SyntheticMarket, symbol: str
) -> None:
    spec = market.instrument(symbol, NOW)
    assert spec is not None
    for t in (NOW, NOW - 7 * HOUR_MS + 1_234):
        bids, asks = market.book(symbol, t)
        assert len(bids) >= 25
        assert len(asks) >= 25
        bid_p = np.array([p for p, _ in bids])
        ask_p = np.array([p for p, _ in asks])
        sizes = np.array([s for _, s in bids + asks])
        assert np.all(np.diff(bid_p) < 0)
        assert np.all(np.diff(ask_p) > 0)
        assert bid_p[0] < ask_p[0]
        assert bid_p[0] <= market.mark_price(symbol, t) + spec.tick_size
        assert ask_p[0] >= market.mark_price(symbol, t) - spec.tick_size
        assert on_grid(bid_p, spec.tick_size)
        assert on_grid(ask_p, spec.tick_size)
        assert on_grid(sizes, spec.size_step)
        assert np.all(sizes > 0)
        # the spread of liquid contracts is a few ticks
        assert round((ask_p[0] - bid_p[0]) / spec.tick_size) <= 30
    deep_bids, deep_asks = market.book(symbol, NOW, depth=100)
    assert len(deep_bids) == len(deep_asks) == 100
    # a shallow book is the top of the deep one
    assert (deep_bids[:25], deep_asks[:25]) == market.book(symbol, NOW)


def test_trades_print_at_the_best_bid_or_ask(market: SyntheticMarket) -> None:
    trades = market.trades("PF_XBTUSD", NOW - 2 * HOUR_MS, NOW)
    spec = spec_for("PF_XBTUSD")
    assert spec is not None
    assert len(trades) > 2 * 60  # at least one a minute
    assert on_grid(trades.price, spec.tick_size)
    assert on_grid(trades.size, spec.size_step)
    assert np.all(np.diff(trades.time_ms) >= 0)
    assert np.all(np.diff(trades.trade_id) == 1)
    for i in range(0, len(trades), 97):
        bids, asks = market.book("PF_XBTUSD", int(trades.time_ms[i]), depth=1)
        expected = asks[0][0] if trades.buy[i] else bids[0][0]
        assert trades.price[i] == expected


def test_trade_queries_agree(market: SyntheticMarket) -> None:
    t0, t1 = NOW - DAY_MS - 30 * MINUTE_MS, NOW - DAY_MS + 30 * MINUTE_MS  # across midnight
    every = market.trades("PF_ETHUSD", t0, t1)
    newest = market.trades("PF_ETHUSD", t0, t1, limit=10, descending=True)
    oldest = market.trades("PF_ETHUSD", t0, t1, limit=10)
    assert np.array_equal(newest.trade_id, every.trade_id[::-1][:10])
    assert np.array_equal(oldest.time_ms, every.time_ms[:10])
    assert every.time_ms[0] >= t0
    assert every.time_ms[-1] < t1
    t = int(every.time_ms[len(every) // 2])
    assert market.last_price("PF_ETHUSD", t) == every.price[every.time_ms <= t][-1]
    last = market.last_trade("PF_ETHUSD", t)
    assert last is not None
    assert last[0] == t


def test_extremes_match_brute_force(market: SyntheticMarket) -> None:
    t0, t1 = NOW - 3 * HOUR_MS + 2_500, NOW - HOUR_MS - 1_234
    trades = market.trades("PF_SOLUSD", t0 + 1, t1 + 1)
    assert market.extremes("PF_SOLUSD", "last", t0, t1) == (
        float(trades.price.min()),
        float(trades.price.max()),
    )
    times = range(t0 + 1, t1 + 1, 1_000)  # every second touches every 5 s node
    for signal, price in (("mark", market.mark_price), ("index", market.index_price)):
        values = [price("PF_SOLUSD", t) for t in times] + [price("PF_SOLUSD", t1)]
        assert market.extremes("PF_SOLUSD", signal, t0, t1) == (min(values), max(values))
    assert market.extremes("PF_SOLUSD", "last", t1, t0) is None
    # ranges of days are fine too
    wide = market.extremes("PF_XBTUSD", "mark", NOW - 3 * DAY_MS, NOW)
    assert wide is not None
    assert wide[0] < wide[1]


# -- candles -------------------------------------------------------------------


def test_trade_candles_are_made_of_the_trades(market: SyntheticMarket) -> None:
    start = NOW - 5 * HOUR_MS
    candles, more = market.candles("PF_LINKUSD", "trade", "1m", NOW, from_ms=start, limit=120)
    assert more
    assert len(candles) == 120
    trades = market.trades("PF_LINKUSD", start, start + 120 * MINUTE_MS)
    minute = (trades.time_ms - start) // MINUTE_MS
    for i in range(120):
        mask = minute == i
        assert candles.time_ms[i] == start + i * MINUTE_MS
        assert candles.open[i] == trades.price[mask][0]
        assert candles.close[i] == trades.price[mask][-1]
        assert candles.high[i] == trades.price[mask].max()
        assert candles.low[i] == trades.price[mask].min()
        assert candles.volume[i] == pytest.approx(trades.size[mask].sum(), abs=1e-9)


def test_coarser_candles_aggregate_minutes(market: SyntheticMarket) -> None:
    hours, _ = market.candles("PF_XBTUSD", "trade", "1h", NOW, from_ms=NOW - 6 * HOUR_MS)
    minutes, _ = market.candles(
        "PF_XBTUSD", "trade", "1m", NOW, from_ms=NOW - 6 * HOUR_MS, to_ms=NOW - 1
    )
    assert len(hours) == 6
    assert len(minutes) == 360
    for h in range(6):
        part = slice(60 * h, 60 * h + 60)
        assert hours.open[h] == minutes.open[part][0]
        assert hours.close[h] == minutes.close[part][-1]
        assert hours.high[h] == minutes.high[part].max()
        assert hours.low[h] == minutes.low[part].min()
        assert hours.volume[h] == pytest.approx(minutes.volume[part].sum())
    weeks, _ = market.candles("PF_XBTUSD", "mark", "1w", NOW)
    assert len(weeks) >= 12
    # 1970-01-05 was a Monday
    assert np.all((weeks.time_ms // DAY_MS - 4) % 7 == 0)


def test_candles_only_up_to_now(market: SyntheticMarket) -> None:
    now = NOW + 30_500  # half a minute into the day
    candles, more = market.candles("PF_XBTUSD", "trade", "1m", now, from_ms=now - 10 * MINUTE_MS)
    assert not more
    assert candles.time_ms[-1] <= now
    trades = market.trades("PF_XBTUSD", NOW, now + 1)
    if len(trades):
        assert candles.time_ms[-1] == NOW
        assert candles.volume[-1] == pytest.approx(trades.size.sum())
    spot, _ = market.candles("PF_XBTUSD", "spot", "1m", now, limit=1)
    assert spot.time_ms[0] == NOW
    assert spot.volume[0] == 0
    assert spot.close[0] == market.index_price("XBT", now)


# -- funding, open interest, statistics ----------------------------------------


@pytest.mark.parametrize("symbol", ["PF_XBTUSD", "PF_DOGEUSD", "PI_XBTUSD", "PI_ETHUSD"])
def test_funding_follows_the_premium_of_the_previous_hour(
    market: SyntheticMarket, symbol: str
) -> None:
    hour = NOW - 5 * HOUR_MS
    nodes = range(hour - HOUR_MS, hour, STEP_MS)
    premium = np.mean([market.mark_price(symbol, t) / market.index_price(symbol, t) for t in nodes])
    expected_relative = float(np.clip((premium - 1) / 8, -0.001, 0.001))
    absolute, relative = market.funding_rate(symbol, hour)
    assert relative == pytest.approx(expected_relative, rel=1e-9, abs=1e-15)
    index = market.index_price(symbol, hour)
    if symbol.startswith("PI_"):
        assert absolute == pytest.approx(relative / index, rel=1e-12)
    else:
        assert absolute == pytest.approx(relative * index, rel=1e-12)
    # realistic magnitudes: well inside the cap, not all zero
    hours, _, rel = market.funding_rates(symbol, NOW - 10 * DAY_MS, NOW)
    assert len(hours) == 10 * 24 + 1
    assert np.all(np.diff(hours) == HOUR_MS)
    assert 1e-7 < np.abs(rel).mean() < 2e-4
    assert market.funding_rate(symbol, int(hours[17]) + 123)[1] == rel[17]


def test_funding_of_a_dated_contract_is_an_error(market: SyntheticMarket) -> None:
    with pytest.raises(ValueError, match="not a perpetual"):
        market.funding_rate("FI_XBTUSD_261225", NOW)


def test_open_interest_and_24h_statistics(market: SyntheticMarket) -> None:
    spec = spec_for("PF_ADAUSD")
    assert spec is not None
    oi = market.open_interest("PF_ADAUSD", NOW)
    assert oi > 0
    assert on_grid(np.array([oi]), spec.size_step)
    assert market.open_interest("PF_ADAUSD", NOW + HOUR_MS) != oi
    stats = market.stats_24h("PF_ADAUSD", NOW)
    trades = market.trades("PF_ADAUSD", NOW - DAY_MS + 1, NOW + 1)
    assert stats.volume == pytest.approx(trades.size.sum())
    assert stats.volume_quote == pytest.approx(float((trades.size * trades.price).sum()))
    assert (stats.low, stats.high) == (trades.price.min(), trades.price.max())
    assert stats.last == trades.price[-1]
    assert stats.last_time_ms == trades.time_ms[-1]
    assert stats.open == market.last_price("PF_ADAUSD", NOW - DAY_MS)
    assert stats.change_pct == pytest.approx((stats.last / stats.open - 1) * 100)


def test_two_years_of_minute_candles_and_trades_are_published() -> None:
    deep = SyntheticMarket(7)
    start = deep.history_start_ms(NOW)
    assert NOW - start == 731 * DAY_MS
    spec = deep.instrument("PF_XBTUSD", NOW)
    assert spec is not None
    candles, more = deep.candles("PF_XBTUSD", "trade", "1m", NOW, from_ms=0, limit=3)
    assert candles.time_ms.tolist() == [start, start + MINUTE_MS, start + 2 * MINUTE_MS]
    assert more
    trades = deep.trades("PF_XBTUSD", start, start + MINUTE_MS)
    assert len(trades) > 0
    assert trades.time_ms.min() >= start


def test_deeper_history_leaves_every_answer_of_the_seed_unchanged() -> None:
    shallow, deep = SyntheticMarket(7, history_days=90), SyntheticMarket(7)
    for tick_type in ("trade", "mark", "spot"):
        a, _ = shallow.candles("PF_ETHUSD", tick_type, "1h", NOW, from_ms=NOW - 3 * DAY_MS)
        b, _ = deep.candles("PF_ETHUSD", tick_type, "1h", NOW, from_ms=NOW - 3 * DAY_MS)
        for field in ("time_ms", "open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
    t0 = NOW - 2 * DAY_MS
    assert np.array_equal(
        shallow.trades("PF_ETHUSD", t0, t0 + DAY_MS).price,
        deep.trades("PF_ETHUSD", t0, t0 + DAY_MS).price,
    )
    assert shallow.funding_rates("PF_ETHUSD", t0, NOW)[2].tolist() == (
        deep.funding_rates("PF_ETHUSD", t0, NOW)[2].tolist()
    )
