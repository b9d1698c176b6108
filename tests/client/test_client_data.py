"""Client data methods against the simulator: columns, numbers, pagination, inputs."""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch import frames
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=3, clock=SimClock.fixed(NOW))


@pytest.fixture(scope="module")
def kf(exchange: SimExchange) -> kfresearch.Client:
    return kfresearch.Client("sim", exchange=exchange)


def _empty_like(fn: Any, body: dict[str, Any]) -> pd.DataFrame:
    return fn(body)


@pytest.mark.parametrize(
    ("method", "frame_fn", "empty_body"),
    [
        ("instruments", frames.instruments, {"result": "success", "instruments": []}),
        ("tickers", frames.tickers, {"result": "success", "tickers": []}),
        ("accounts", frames.accounts, {"result": "success", "accounts": {}}),
        ("open_orders", frames.open_orders, {"result": "success", "openOrders": []}),
        ("leverage", frames.leverage, {"result": "success", "leveragePreferences": []}),
    ],
)
def test_snapshot_methods_have_the_documented_columns(
    kf: kfresearch.Client, method: str, frame_fn: Any, empty_body: dict[str, Any]
) -> None:
    got = getattr(kf, method)()
    documented = frame_fn(empty_body)
    assert list(got.columns[: len(documented.columns)]) == list(documented.columns)
    for column in documented.columns:
        assert got[column].dtype == documented[column].dtype, column
    assert got.attrs["env"] == "sim"


def test_candles_30_days_of_minutes_on_and_off_progress(
    kf: kfresearch.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    quiet = kf.candles("PF_XBTUSD", "1m", since="30d", progress=False)
    assert "candles" not in capsys.readouterr().err
    loud = kf.candles("pf_xbtusd", "1m", since="30d", progress=True)
    assert "PF_XBTUSD 1m candles" in capsys.readouterr().err  # the tqdm bar was shown
    assert abs(len(quiet) - 43_200) <= 1
    assert quiet.index.is_unique
    assert quiet.index.is_monotonic_increasing
    steps = quiet.index.to_series().diff().dropna().unique()
    assert list(steps) == [pd.Timedelta(minutes=1)]
    pd.testing.assert_frame_equal(quiet, loud)
    assert (quiet["low"] <= quiet[["open", "close"]].min(axis=1)).all()
    assert (quiet["high"] >= quiet[["open", "close"]].max(axis=1)).all()
    assert str(quiet.index.tz) == "UTC"
    assert quiet.index.name == "time"


def test_candle_volume_equals_public_trades(kf: kfresearch.Client) -> None:
    candles = kf.candles("PF_ETHUSD", "1m", since="2h", until="1h")
    trades = kf.trades("PF_ETHUSD", since="2h", until="1h")
    per_minute = trades["size"].groupby(trades.index.floor("1min")).sum()
    joined = candles["volume"].to_frame().join(per_minute.rename("traded"), how="left").fillna(0.0)
    assert len(candles) == 60
    assert joined["volume"].to_numpy() == pytest.approx(joined["traded"].to_numpy(), abs=1e-6)


def test_time_inputs_all_mean_the_same(kf: kfresearch.Client) -> None:
    forms = [
        "2026-10-31T20:00:00Z",
        "2026-10-31T20:00:00",  # naive means UTC
        datetime(2026, 10, 31, 20),
        pd.Timestamp("2026-10-31 20:00", tz="UTC"),
        1793476800000,
        "4h",
    ]
    results = [kf.candles("PF_SOLUSD", "15m", since=form, until=NOW) for form in forms]
    for result in results[1:]:
        pd.testing.assert_frame_equal(results[0], result)
    assert len(results[0]) == 16


def test_bad_arguments_fail_before_any_request(
    kf: kfresearch.Client, exchange: SimExchange
) -> None:
    seen = exchange.requests_seen
    with pytest.raises(kfresearch.ValidationError, match="resolution '2m' is not one of"):
        kf.candles("PF_XBTUSD", "2m")
    with pytest.raises(kfresearch.ValidationError, match="since"):
        kf.candles("PF_XBTUSD", since="yesterday-ish")
    with pytest.raises(kfresearch.ValidationError, match="must be before"):
        kf.trades("PF_XBTUSD", since="1h", until="2h")
    with pytest.raises(kfresearch.ValidationError, match="depth"):
        kf.orderbook("PF_XBTUSD", depth=0)
    assert exchange.requests_seen == seen


def test_unknown_symbol_suggests_the_closest(kf: kfresearch.Client) -> None:
    with pytest.raises(kfresearch.ValidationError, match="did you mean PF_ETHUSD") as caught:
        kf.orderbook("PF_ETHUSDT")
    assert caught.value.field == "symbol"


def test_orderbook_frame_matches_the_sim_book(kf: kfresearch.Client, exchange: SimExchange) -> None:
    book = kf.orderbook("PF_XBTUSD", depth=5)
    bids, asks = exchange.market.book("PF_XBTUSD", exchange.clock.now_ms(), 5)
    assert book[book.side == "bid"]["price"].tolist() == [p for p, _ in bids]
    assert book[book.side == "ask"]["size"].tolist() == [q for _, q in asks]
    assert book.attrs["mid"] == pytest.approx((bids[0][0] + asks[0][0]) / 2)


def test_funding_rates_match_the_market(kf: kfresearch.Client, exchange: SimExchange) -> None:
    funding = kf.funding_rates("PF_XBTUSD", since="2d")
    assert 47 <= len(funding) <= 49
    last = funding.index[-1]
    absolute, relative = exchange.market.funding_rate("PF_XBTUSD", last.value // 1_000_000)
    assert funding["funding_rate"].iloc[-1] == pytest.approx(absolute)
    assert funding["relative_funding_rate"].iloc[-1] == pytest.approx(relative)


def test_term_structure_lists_perpetuals_and_dated(kf: kfresearch.Client) -> None:
    term = kf.term_structure("BTC")
    symbols = term["symbol"].tolist()
    assert "PF_XBTUSD" in symbols
    assert sum(s.startswith("FI_XBTUSD_") for s in symbols) == 2


def test_positions_agree_with_the_engine_after_a_fill() -> None:
    exchange = SimExchange(seed=5, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", exchange=exchange)
    kf.request(
        "POST",
        "/derivatives/api/v3/sendorder",
        {"orderType": "mkt", "symbol": "PF_ETHUSD", "side": "buy", "size": 1.5},
    )
    positions = kf.positions()
    raw = kf.request("GET", "/derivatives/api/v3/openpositions", private=True)["openPositions"][0]
    assert positions.loc["PF_ETHUSD", "size"] == pytest.approx(1.5)
    assert positions.loc["PF_ETHUSD", "entry_price"] == pytest.approx(float(raw["price"]))
    fills = kf.fills()
    assert fills["size"].sum() == pytest.approx(1.5)
    log = kf.account_log(since="1d")
    assert log["info"].str.contains("futures trade").any()
    executions = kf.executions(since="1d")
    assert len(executions) == len(fills)


def test_a_download_failing_half_way_carries_the_rows_so_far(exchange: SimExchange) -> None:
    kf = kfresearch.Client("sim", exchange=exchange, retry=kfresearch.client.RetryPolicy(max_attempts=1))
    exchange.add_fault(
        Fault("status", path="/api/charts/v1/trade/PF_LTCUSD/1m", status=500, after=5)
    )
    try:
        with pytest.raises(kfresearch.ServerError) as caught:
            kf.candles("PF_LTCUSD", "1m", since="20d", progress=False)
    finally:
        exchange.faults.clear()
    partial = caught.value.partial
    assert isinstance(partial, pd.DataFrame)
    assert 4 * 2000 <= len(partial) <= 5 * 2000
    assert partial.index.is_monotonic_increasing


@pytest.mark.anyio
async def test_async_candles_fetch_concurrently_and_agree(exchange: SimExchange) -> None:
    sync = kfresearch.Client("sim", exchange=exchange).candles("PF_XRPUSD", "5m", since="20d")
    async with kfresearch.AsyncClient("sim", exchange=exchange) as akf:
        got = await akf.candles("PF_XRPUSD", "5m", since="20d")
        tickers = await akf.tickers()
    pd.testing.assert_frame_equal(sync, got)
    assert "PF_XRPUSD" in tickers.index


def test_candles_before_the_history_say_where_the_data_starts(kf: kfresearch.Client) -> None:
    with pytest.warns(kfresearch.DataGapWarning, match="2024-10-31 00:00 UTC") as caught:
        frame = kf.candles("PF_XBTUSD", "1d", since="3y", tick_type="mark", progress=False)
    assert len(caught) == 1
    assert frame.attrs["data_start"] == frame.index[0] == pd.Timestamp("2024-10-31", tz="UTC")
    assert len(frame) == 732  # two years of days (a leap day included) and the open one


def test_candles_that_start_on_time_carry_no_gap(kf: kfresearch.Client) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", kfresearch.DataGapWarning)
        frame = kf.candles("PF_XBTUSD", "1d", since="1y", tick_type="mark", progress=False)
        weeks = kf.candles("PF_XBTUSD", "1w", since="1y", tick_type="spot", progress=False)
    assert "data_start" not in frame.attrs
    assert "data_start" not in weeks.attrs
    assert frame.index[0] == pd.Timestamp("2025-11-01", tz="UTC")
