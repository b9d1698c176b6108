"""Market charts on simulator frames: assertions on fig.data / fig.layout values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import kfresearch
from kfresearch import charts
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

SEND = "/derivatives/api/v3/sendorder"


@pytest.fixture(scope="module")
def kf() -> Any:
    client = kfresearch.Client(
        "sim", exchange=SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def traded(kf: Any) -> dict[str, Any]:
    """Fills (a buy and a sell on PF_XBTUSD, a buy on PF_ETHUSD) and two resting orders."""
    kf.request("POST", SEND, {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy",
                              "size": 0.5})
    kf.sim.advance(600_000)
    kf.request("POST", SEND, {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell",
                              "size": 0.2})
    kf.request("POST", SEND, {"orderType": "mkt", "symbol": "PF_ETHUSD", "side": "buy",
                              "size": 1})
    kf.request("POST", SEND, {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy",
                              "size": 0.1, "limitPrice": 70000})
    kf.request("POST", SEND, {"orderType": "lmt", "symbol": "PF_ETHUSD", "side": "sell",
                              "size": 0.1, "limitPrice": 5000})
    return {"fills": kf.fills(progress=False), "orders": kf.open_orders(),
            "candles": kf.candles("PF_XBTUSD", "1h", since="3d", progress=False)}


def by_name(fig: Any, name: str) -> Any:
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def assert_round_twin_axes(left: Any, right: Any, left_values: Any, right_values: Any) -> None:
    """Both axes tick at round steps (1, 2, 2.5, 5 × 10^k) from 0, over the same number of
    intervals with zero on the same gridline, and hold their data."""
    shape = []
    for axis, values in ((left, left_values), (right, right_values)):
        step = axis.dtick
        mantissa = step / 10 ** np.floor(np.log10(step))
        assert round(mantissa, 9) in {1.0, 2.0, 2.5, 5.0}, step
        assert axis.tick0 == 0
        low, high = (v / step for v in axis.range)
        assert low == pytest.approx(round(low)), axis.range
        assert high == pytest.approx(round(high)), axis.range
        shape.append((round(high - low), round(-low)))
        data = np.asarray(values, dtype=float)
        data = data[np.isfinite(data)]
        assert axis.range[0] <= data.min()
        assert data.max() <= axis.range[1]
    assert shape[0] == shape[1]  # same gridlines, zero on the same one


def times(values: Any) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))


# --------------------------------------------------------------------------- candles


def test_candles_x_is_the_index_and_ohlc_are_the_columns(traded: dict[str, Any]) -> None:
    candles = traded["candles"]
    fig = charts.candles_chart(candles, symbol="PF_XBTUSD")
    stick = by_name(fig, "price")
    assert stick.type == "candlestick"
    assert times(stick.x).equals(candles.index)
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(np.asarray(getattr(stick, column), dtype=float),
                                      candles[column].to_numpy())
    bars = by_name(fig, "volume")
    np.testing.assert_array_equal(np.asarray(bars.y, dtype=float), candles["volume"].to_numpy())
    assert bars.xaxis == "x2"
    assert stick.xaxis == "x"
    sma = by_name(fig, "SMA 20")
    expected = candles["close"].rolling(20).mean().to_numpy()
    np.testing.assert_allclose(np.asarray(sma.y, dtype=float), expected, equal_nan=True)
    assert fig.layout.title.text == "PF_XBTUSD · 1h candles · sim"
    assert fig.layout.yaxis.title.text == "price (USD)"
    assert fig.layout.yaxis2.title.text == "volume (XBT)"
    assert fig.layout.xaxis2.title.text == "time (UTC)"
    assert fig.layout.xaxis.rangeslider.visible is False
    assert fig.layout.xaxis2.rangeslider.visible is False


def test_candles_fill_markers_sit_at_fill_times_and_prices(traded: dict[str, Any]) -> None:
    fills = traded["fills"]
    fig = charts.candles_chart(traded["candles"], fills=fills, symbol="PF_XBTUSD")
    mine = fills[fills["symbol"] == "PF_XBTUSD"]
    for side, marker in (("buy", "triangle-up"), ("sell", "triangle-down")):
        rows = mine[mine["side"] == side]
        assert len(rows) >= 1
        trace = by_name(fig, f"{side} fills")
        assert times(trace.x).equals(rows.index)
        np.testing.assert_array_equal(np.asarray(trace.y, dtype=float), rows["price"].to_numpy())
        np.testing.assert_array_equal(np.asarray(trace.customdata, dtype=float),
                                      rows["size"].to_numpy())
        assert trace.marker.symbol == marker
        assert trace.marker.color == charts.COLORS[side]
        assert trace.yaxis == "y"


def test_candles_order_lines_at_limit_prices_of_this_symbol(traded: dict[str, Any]) -> None:
    candles = traded["candles"]
    orders = traded["orders"].copy()
    # resting inside the candles' range (the fixture's 70,000 lies far below them)
    orders["limit_price"] = float(candles["low"].min()) + 10.0
    fig = charts.candles_chart(candles, orders=orders, symbol="PF_XBTUSD")
    mine = orders[orders["symbol"] == "PF_XBTUSD"]
    lines = [s for s in fig.layout.shapes if s.name in set(orders.index)]
    assert {s.name for s in lines} == set(mine.index)
    for shape in lines:
        assert shape.y0 == shape.y1 == mine.loc[shape.name, "limit_price"]
        assert shape.line.color == charts.COLORS["buy"]
        assert shape.yref == "y"


def test_candles_without_a_symbol_draws_every_fill(traded: dict[str, Any]) -> None:
    fills = traded["fills"]
    candles = traded["candles"].copy()
    candles.attrs.pop("symbol", None)  # a frame that does not say which contract it is
    fig = charts.candles_chart(candles, fills=fills, volume=False, overlays=())
    assert [t.name for t in fig.data] == ["price", "buy fills", "sell fills"]
    assert len(by_name(fig, "buy fills").x) == int((fills["side"] == "buy").sum())
    assert fig.layout.xaxis.title.text == "time (UTC)"
    assert fig.layout.title.text == "1h candles · sim"


def test_candles_overlay_series_and_rangeslider(traded: dict[str, Any]) -> None:
    candles = traded["candles"]
    vwap = (candles["close"] * candles["volume"]).cumsum() / candles["volume"].cumsum()
    fig = charts.candles_chart(candles, overlays=(500, vwap.rename("VWAP")), rangeslider=True,
                               title="mine")
    assert [t.name for t in fig.data] == ["price", "VWAP", "volume"]  # SMA 500 > 72 candles
    np.testing.assert_allclose(np.asarray(by_name(fig, "VWAP").y, dtype=float), vwap.to_numpy())
    assert fig.layout.xaxis2.rangeslider.visible is True
    assert fig.layout.title.text == "mine"


# --------------------------------------------------------------------------- depth


def test_depth_last_cumulative_values_are_the_side_totals(kf: Any) -> None:
    book = kf.orderbook("PF_XBTUSD", depth=50)
    fig = charts.depth_chart(book)
    assert [t.name for t in fig.data] == ["bids", "asks"]
    for trace, side in zip(fig.data, ("bid", "ask"), strict=True):
        rows = book[book["side"] == side]
        assert trace.y[-1] == pytest.approx(rows["size"].sum())
        np.testing.assert_array_equal(np.asarray(trace.x, dtype=float), rows["price"].to_numpy())
        assert trace.line.shape == "hv"
    bids, asks = fig.data
    assert max(bids.x) < book.attrs["mid"] < min(asks.x)
    mid_line = fig.layout.shapes[0]
    assert mid_line.x0 == mid_line.x1 == book.attrs["mid"]
    note = fig.layout.annotations[0].text
    assert "mid" in note
    assert "spread" in note
    assert "bps" in note
    assert f"{book.attrs['spread_bps']:.2f} bps" in note
    assert fig.layout.title.text == "PF_XBTUSD · order book depth · sim"
    assert fig.layout.xaxis.title.text == "price (USD)"
    assert fig.layout.yaxis.title.text == "cumulative size (XBT)"


def test_depth_of_an_inverse_book_in_usd_contracts(kf: Any) -> None:
    fig = charts.depth_chart(kf.orderbook("PI_XBTUSD", depth=10))
    assert fig.layout.yaxis.title.text == "cumulative size (USD)"


def test_depth_with_one_side_only() -> None:
    book = kfresearch.frames.orderbook({"orderBook": {"bids": [[100.0, 2.0], [99.0, 3.0]],
                                                      "asks": []}})
    fig = charts.depth_chart(book, symbol="PF_TESTUSD")
    assert [t.name for t in fig.data] == ["bids"]
    assert fig.data[0].y[-1] == 5.0
    assert fig.layout.shapes == ()  # no mid without both sides


# --------------------------------------------------------------------------- heatmap


def test_book_heatmap_grid_holds_each_snapshots_sizes(kf: Any) -> None:
    books = []
    for _ in range(4):
        books.append(kf.orderbook("PF_XBTUSD", depth=5))
        kf.sim.advance(60_000)
    fig = charts.book_heatmap(books)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    stamps = [b.attrs["server_time"] for b in books]
    assert list(times(heat.x)) == stamps
    prices = np.asarray(heat.y, dtype=float)
    assert np.all(np.diff(prices) > 0)
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (len(prices), len(books))
    for j, book in enumerate(books):
        for price, size in zip(book["price"], book["size"], strict=True):
            i = int(np.flatnonzero(prices == price)[0])
            assert z[i, j] == pytest.approx(size)
        assert np.nansum(z[:, j]) == pytest.approx(book["size"].sum())
    best_bid = by_name(fig, "best bid")
    assert list(best_bid.y) == [b[b["side"] == "bid"]["price"].max() for b in books]
    assert by_name(fig, "mid").y[0] == pytest.approx(books[0].attrs["mid"])
    assert fig.layout.title.text == "PF_XBTUSD · order book over time · sim"
    assert fig.layout.yaxis.title.text == "price (USD)"


def test_book_heatmap_accepts_a_mapping_a_long_frame_and_price_buckets() -> None:
    t0, t1 = pd.Timestamp("2026-11-01", tz="UTC"), pd.Timestamp("2026-11-01 00:01", tz="UTC")
    a = kfresearch.frames.orderbook({"orderBook": {"bids": [[100.0, 1.0], [99.5, 2.0]],
                                                   "asks": [[101.0, 3.0]]}})
    b = kfresearch.frames.orderbook({"orderBook": {"bids": [[100.5, 4.0]],
                                                   "asks": [[101.2, 5.0]]}})
    by_map = charts.book_heatmap({t0: a, t1: b}, price_step=1.0, symbol="PF_XBTUSD")
    assert list(by_map.data[0].y) == [100.0, 101.0]  # 99.5 → 100, 100.5 → 100, 101.2 → 101
    z = np.asarray(by_map.data[0].z, dtype=float)
    np.testing.assert_array_equal(z, [[3.0, 4.0], [3.0, 5.0]])
    long = pd.concat([a, b], keys=[t0, t1], names=["time", None])
    by_long = charts.book_heatmap(long)
    assert list(times(by_long.data[0].x)) == [t0, t1]
    untimed = charts.book_heatmap([a, b])
    assert list(untimed.data[0].x) == [0, 1]
    assert untimed.layout.xaxis.title.text == "snapshot"


# --------------------------------------------------------------------------- funding


def test_funding_per_period_annualised_and_paid_by_a_long(kf: Any) -> None:
    funding = kf.funding_rates("PF_XBTUSD", since="3d")
    fig = charts.funding_chart(funding, symbol="PF_XBTUSD")
    rel = funding["relative_funding_rate"].to_numpy()
    bars = by_name(fig, "funding per period")
    assert times(bars.x).equals(funding.index)
    np.testing.assert_allclose(np.asarray(bars.y, dtype=float), rel * 100.0)
    np.testing.assert_allclose(np.asarray(bars.customdata, dtype=float)[:, 0], rel * 1e4)
    colors = np.asarray(bars.marker.color)
    assert set(colors[rel >= 0]) <= {charts.COLORS["buy"]}
    assert set(colors[rel < 0]) <= {charts.COLORS["sell"]}
    mean = by_name(fig, "annualised, 24-period mean")
    expected = funding["funding_rate_annualised"].rolling(24, min_periods=1).mean() * 100.0
    np.testing.assert_allclose(np.asarray(mean.y, dtype=float), expected.to_numpy())
    assert mean.yaxis == "y2"
    paid = by_name(fig, "paid by a long, cumulative")
    assert paid.y[-1] == pytest.approx(rel.sum() * 100.0)
    assert paid.customdata[-1] == pytest.approx(funding["funding_rate"].sum())
    assert_round_twin_axes(fig.layout.yaxis, fig.layout.yaxis2, bars.y, mean.y)
    assert fig.layout.yaxis.title.text == "funding (% per 1h)"
    assert fig.layout.yaxis2.title.text == "annualised (% per year)"
    assert fig.layout.title.text == "PF_XBTUSD · funding · sim"
    assert "USD per contract" in bars.hovertemplate


# --------------------------------------------------------------------------- term structure


def test_term_structure_basis_and_annualised(kf: Any) -> None:
    term = kf.term_structure("XBT")
    fig = charts.term_structure_chart(term)
    basis = by_name(fig, "basis")
    assert list(basis.x) == list(term["symbol"])
    np.testing.assert_allclose(np.asarray(basis.y, dtype=float),
                               term["relative_basis"].to_numpy() * 100.0)  # % axis
    assert term.index.tolist() == list(range(len(term)))  # filtered to XBT, then renumbered
    dated = term[term["basis_annualised"].notna()]
    annual = by_name(fig, "annualised basis")
    assert list(annual.x) == list(dated["symbol"])
    np.testing.assert_allclose(np.asarray(annual.y, dtype=float),
                               dated["basis_annualised"].to_numpy() * 100.0)  # % axis
    perp = by_name(fig, "perpetual funding, annualised")
    perps = term[term["funding_rate_annualised"].notna()]
    np.testing.assert_allclose(np.asarray(perp.y, dtype=float),
                               perps["funding_rate_annualised"].to_numpy() * 100.0)
    assert annual.yaxis == perp.yaxis == "y2"
    assert_round_twin_axes(fig.layout.yaxis, fig.layout.yaxis2, basis.y,
                           [*annual.y, *perp.y])
    assert fig.layout.title.text == "XBT · term structure · sim"
    assert fig.layout.yaxis.title.text == "basis, mark vs index (%)"


# --------------------------------------------------------------------------- tickers


def test_tickers_overview_scatter_and_bars(kf: Any) -> None:
    tickers = kf.tickers()
    fig = charts.tickers_overview(tickers)
    markets = tickers[tickers["mark_price"].notna()]
    scatter = by_name(fig, "24h change vs volume")
    assert list(scatter.text) == list(markets.index)
    np.testing.assert_allclose(np.asarray(scatter.x, dtype=float), markets["volume_quote"])
    np.testing.assert_allclose(np.asarray(scatter.y, dtype=float),
                               markets["change24h"] * 100.0)  # a fraction drawn in %
    hover = scatter.hovertemplate
    for word in ("mark", "24h change", "24h volume", "open interest", "funding", "spread"):
        assert word in hover
    funding = by_name(fig, "funding, annualised")
    perps = markets["funding_rate_annualised"].dropna() * 100.0
    got = dict(zip(funding.x, funding.y, strict=True))
    assert set(got) == set(perps.index)
    for symbol, value in perps.items():
        assert got[symbol] == pytest.approx(value)
    assert list(funding.y) == sorted(funding.y, reverse=True)
    spread = by_name(fig, "spread")
    assert dict(zip(spread.x, spread.y, strict=True)) == pytest.approx(
        markets["spread_bps"].dropna().to_dict())
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.xaxis.title.text == "24h volume (USD, log scale)"
    assert fig.layout.title.text == "market overview · sim"
    only = charts.tickers_overview(tickers, symbols=["pf_xbtusd", "PI_XBTUSD"])
    assert list(only.data[0].text) == ["PF_XBTUSD", "PI_XBTUSD"]


# --------------------------------------------------------------------------- trades


def test_trades_tape_and_volume_profile(kf: Any) -> None:
    trades = kf.trades("PF_XBTUSD", since="1h", progress=False)
    fig = charts.trades_chart(trades, bins=25)
    for side in ("buy", "sell"):
        rows = trades[trades["side"] == side]
        tape = by_name(fig, side)
        assert times(tape.x).equals(rows.index)
        np.testing.assert_array_equal(np.asarray(tape.y, dtype=float), rows["price"].to_numpy())
        np.testing.assert_array_equal(np.asarray(tape.customdata, dtype=float),
                                      rows["size"].to_numpy())
        profile = by_name(fig, f"{side} volume")
        assert profile.orientation == "h"
        assert profile.xaxis == "x2"
        assert float(np.sum(profile.x)) == pytest.approx(rows["size"].sum())
        assert len(profile.y) == 25
    sizes = np.asarray(by_name(fig, "buy").marker.size, dtype=float)
    assert sizes.min() >= 4.0
    assert sizes.max() <= 22.0 + 1e-9
    assert fig.layout.barmode == "stack"
    assert fig.layout.title.text == "PF_XBTUSD · trades · sim"
    assert fig.layout.xaxis2.title.text == "volume (XBT)"
    assert fig.layout.yaxis.title.text == "price (USD)"


def test_trades_with_one_price_and_unknown_sides() -> None:
    index = pd.DatetimeIndex(["2026-11-01T00:00:00Z", "2026-11-01T00:00:01Z"], name="time")
    trades = pd.DataFrame({"price": [10.0, 10.0], "size": [1.0, 2.0], "side": ["buy", None]},
                          index=index)
    fig = charts.trades_chart(trades, symbol="PI_XBTUSD")
    assert [t.name for t in fig.data] == ["buy", "sell", "other", "buy volume", "sell volume",
                                          "other volume"]
    assert float(np.sum(by_name(fig, "other volume").x)) == 2.0
    assert fig.layout.xaxis2.title.text == "volume (USD)"
