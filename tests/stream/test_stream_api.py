"""The stream's API on the in-process simulator: live tables equal the client's frames,
callbacks and iterators, errors, the async API, and a clean stop."""

from __future__ import annotations

import asyncio
import gc
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import CredentialsError, StreamError, SubscriptionError, ValidationError
from kfresearch.stream import Message, Stream, candles_from_trades

SYMBOL = "PF_XBTUSD"


@pytest.fixture
def s(kf: kfresearch.Client) -> Iterator[Stream]:
    stream = kf.stream()
    yield stream
    stream.close()


def advance(kf: kfresearch.Client, s: Stream, ms: int = 10_000) -> None:
    kf.sim.advance(ms)
    s.sync()


def test_the_book_is_kf_orderbook_at_every_step(kf: kfresearch.Client, s: Stream) -> None:
    sub = s.subscribe("book", SYMBOL)
    assert repr(sub) == "<Subscription book PF_XBTUSD: live>"
    book = s.book("pf_xbtusd")
    for _ in range(5):
        pd.testing.assert_frame_equal(book.frame(), kf.orderbook(SYMBOL, depth=25))
        advance(kf, s, 1_000)
    assert s.stats()["book_deltas"] > 0


def test_tickers_trades_and_candles_are_the_clients(kf: kfresearch.Client, s: Stream) -> None:
    s.subscribe("ticker", [SYMBOL, "PF_ETHUSD"])
    s.subscribe("trade", SYMBOL)
    start = kf.sim.clock.now_ms()
    for _ in range(6):
        advance(kf, s, 60_000)
    live = s.tickers()
    rest = kf.tickers()
    assert list(live.columns[: len(rest.columns)]) == list(rest.columns)
    # the REST body rounds prices to decimal strings; the feed sends floats
    columns = ["mark_price", "index_price", "bid", "ask", "bid_size", "funding_rate", "premium"]
    pd.testing.assert_frame_equal(live.loc[[SYMBOL, "PF_ETHUSD"], columns],
                                  rest.loc[[SYMBOL, "PF_ETHUSD"], columns],
                                  check_exact=False, rtol=1e-6, atol=1e-6)
    trades = s.trades(SYMBOL)
    history = kf.trades(SYMBOL, since=pd.Timestamp(start, unit="ms", tz="UTC"), progress=False)
    assert trades["uid"].is_unique
    window = trades[trades.index >= history.index[0]]
    assert window["uid"].tolist() == history["uid"].tolist()
    assert window[["price", "size", "side"]].equals(history[["price", "size", "side"]])
    # candles built from the stream's trades are the exchange's candles
    candles = kf.candles(SYMBOL, "1m", since=pd.Timestamp(start, unit="ms", tz="UTC"),
                         progress=False)
    built = candles_from_trades(window, "1m")
    whole = candles.index[1:-1].intersection(built.index)
    assert len(whole) >= 4
    pd.testing.assert_frame_equal(built.loc[whole], candles.loc[whole], check_freq=False)


def test_account_tables_are_the_clients(kf: kfresearch.Client, s: Stream) -> None:
    for feed in ("open_orders", "fills", "open_positions", "balances", "account_log"):
        s.subscribe(feed)
    s.subscribe("book", SYMBOL)
    ask = s.book(SYMBOL).best_ask
    kf.place_order(SYMBOL, "buy", 0.02, order_type="ioc", limit_price=ask + 50)
    resting = kf.place_order(SYMBOL, "sell", 0.01, limit_price=ask + 2_000)
    advance(kf, s, 1_000)
    pd.testing.assert_frame_equal(s.open_orders(), kf.open_orders())
    assert list(s.open_orders().index) == [resting.order_id]
    fills, rest_fills = s.fills(), kf.fills(progress=False)
    pd.testing.assert_frame_equal(fills[rest_fills.columns], rest_fills)
    assert fills["fee_paid"].gt(0).all()
    positions, rest_positions = s.positions(), kf.positions()
    shared = ["side", "size", "entry_price", "mark_price", "notional", "unrealized_pnl"]
    pd.testing.assert_frame_equal(positions[shared], rest_positions[shared],
                                  check_exact=False, rtol=1e-9)
    accounts, rest_accounts = s.accounts(), kf.accounts()
    key = ["account", "currency", "quantity", "available_margin", "initial_margin"]
    pd.testing.assert_frame_equal(accounts[key].reset_index(drop=True),
                                  rest_accounts[key].reset_index(drop=True),
                                  check_exact=False, rtol=1e-9)
    log, rest_log = s.account_log(), kf.account_log(progress=False)
    assert log["booking_uid"].tolist() == rest_log["booking_uid"].tolist()
    assert list(log.columns) == list(rest_log.columns)


def test_notifications(kf: kfresearch.Client, s: Stream) -> None:
    kf.sim.notifications.post("old news", effective_time_ms=1_793_400_000_000)
    s.subscribe("notifications")
    assert s.notifications()["note"].tolist() == ["old news"]
    seen: list[Message] = []
    s.on("notification", seen.append)
    kf.sim.notifications.post("maintenance", type="maintenance", priority="high",
                              effective_time_ms=1_793_500_000_000, expected_downtime_minutes=45)
    advance(kf, s, 1_000)
    frame = s.notifications()
    assert frame.index.tolist() == [1, 2]
    assert frame.loc[2, "expected_downtime_minutes"] == 45
    assert [m.record["note"] for m in seen] == ["maintenance"]


def test_callbacks_see_news_and_survive_errors(kf: kfresearch.Client, s: Stream) -> None:
    trades: list[Message] = []
    snapshots: list[Message] = []
    errors: list[BaseException] = []

    def broken(message: Message) -> None:
        raise RuntimeError("strategy bug")

    s.on("trades", trades.append, symbol=SYMBOL)
    s.on("trade", snapshots.append, initial=True)
    s.on("trade", broken)
    s.on("error", errors.append)
    s.subscribe("trade", SYMBOL)
    advance(kf, s, 30_000)
    assert trades
    assert not any(m.initial for m in trades)
    assert snapshots[0].initial
    assert len(snapshots[0].records) > 1
    assert s.stats()["callback_errors"] == len(trades)
    assert isinstance(errors[0], RuntimeError)
    assert all(m.frame().index.name == "time" for m in trades[:3])


def test_coroutine_callbacks_run_as_tasks(kf: kfresearch.Client, s: Stream) -> None:
    seen: list[str] = []

    async def slow(message: Message) -> None:
        await asyncio.sleep(0)
        seen.append(message.feed)

    s.on("book", slow, initial=True)
    s.subscribe("book", SYMBOL)
    advance(kf, s, 1_000)
    s.sync()
    assert seen
    assert set(seen) == {"book"}


def test_messages_in_a_script(kf: kfresearch.Client, s: Stream) -> None:
    with s.messages("trade", SYMBOL) as trades:
        s.subscribe("trade", SYMBOL)
        advance(kf, s, 30_000)
        first = next(trades)
    assert first.feed == "trade"
    assert first.symbol == SYMBOL
    assert not first.initial
    assert set(first.record) >= {"price", "size", "side", "uid", "time"}


def test_the_async_api(kf: kfresearch.Client) -> None:
    async def main() -> tuple[list[Message], str, set[asyncio.Task[Any]]]:
        async with kf.stream() as s:
            await s.subscribe("book", [SYMBOL])
            await s.subscribe("trade", SYMBOL)
            got: list[Message] = []
            async with s.messages("trade") as trades:
                kf.sim.advance(30_000)
                await s.sync()
                async for message in trades:
                    got.append(message)
                    if len(got) == 3:
                        break
            status = repr(s)
        return got, status, asyncio.all_tasks() - {asyncio.current_task()}

    got, status, left = asyncio.run(main())
    assert [m.feed for m in got] == ["trade"] * 3
    assert "book PF_XBTUSD live" in status
    assert left == set()


def test_iterators_end_when_the_stream_closes(kf: kfresearch.Client) -> None:
    s = kf.stream()
    s.subscribe("book", SYMBOL)
    trades = s.messages("trade")
    s.close()
    assert list(trades) == []


def test_a_slow_consumer_is_told_not_starved(kf: kfresearch.Client, s: Stream) -> None:
    trades = s.messages("book", maxsize=5)
    s.subscribe("book", SYMBOL)
    advance(kf, s, 5_000)
    with pytest.raises(StreamError, match="fell 5 messages behind"):
        list(trades)


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda s: s.subscribe("orderbooks", SYMBOL), ValidationError, "unknown feed"),
        (lambda s: s.subscribe("book"), ValidationError, "needs symbols"),
        (lambda s: s.subscribe("fills", SYMBOL), ValidationError, "whole account"),
        (lambda s: s.book("PF_ETHUSD"), StreamError, "subscribe first"),
        (lambda s: s.open_orders(), StreamError, "s.subscribe('open_orders')"),
    ],
)
def test_bad_calls_say_what_to_do(s: Stream, call: Any, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=re.escape(text)):
        call(s)


def test_an_unknown_symbol_is_refused_clearly(s: Stream) -> None:
    with pytest.raises(SubscriptionError, match="PF_NOPE"):
        s.subscribe("book", "PF_NOPE")
    assert s.stats()["subscription_errors"] == 1


def test_private_feeds_need_keys() -> None:
    live = kfresearch.connect("live")
    s = live.stream()
    with pytest.raises(CredentialsError, match=re.escape("futures.kraken.com")):
        s.subscribe("fills")
    s.close()


def test_sync_is_for_the_in_process_simulator() -> None:
    s = kfresearch.Client("sim", base_url="http://127.0.0.1:9").stream()
    with pytest.raises(StreamError, match="in-process"):
        s.sync()
    s.close()


def test_unsubscribe_stops_the_feed_and_keeps_the_book(kf: kfresearch.Client, s: Stream) -> None:
    s.subscribe("book", SYMBOL)
    advance(kf, s, 2_000)
    before = s.book(SYMBOL).frame()
    s.unsubscribe("book", SYMBOL)
    advance(kf, s, 5_000)
    pd.testing.assert_frame_equal(s.book(SYMBOL).frame(), before)
    assert ("book", SYMBOL, "ready") not in s.subscriptions


def test_close_leaves_no_task_no_thread_and_nothing_on_stderr(
    kf: kfresearch.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        s = kf.stream()
        s.subscribe("book", SYMBOL)
        s.subscribe("fills")
        s.on("book", lambda m: None)
        advance(kf, s, 5_000)
        runner = s._runner
        assert runner is not None
        assert runner.thread is not None
        loop = runner.loop
        s.close()
        assert s.status == "closed"
        assert not runner.thread.is_alive()
        assert loop.is_closed()
        assert not [t for t in threading.enumerate() if t.name == "kfresearch-stream"]
        del s, runner, loop
        gc.collect()
    _out, err = capfd.readouterr()
    assert err == ""


def test_close_in_async_code_leaves_no_task(kf: kfresearch.Client,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    async def main() -> set[asyncio.Task[Any]]:
        s = kf.stream()
        await s.subscribe("book", SYMBOL)
        await s.subscribe("open_orders")
        await s.close()
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(main()) == set()
    gc.collect()
    assert capfd.readouterr().err == ""


def test_stats_and_repr(kf: kfresearch.Client, s: Stream) -> None:
    s.subscribe("book", SYMBOL)
    advance(kf, s, 5_000)
    stats = s.stats()
    assert stats["status"] == "connected"
    assert stats["connects"] == 1
    assert stats["books"][SYMBOL]["status"] == "live"
    assert stats["last_heartbeat"] == pd.Timestamp(kf.sim.clock.now_ms(), unit="ms", tz="UTC")
    assert repr(s) == "<kfresearch.Stream env='sim' (in-process) connected: book PF_XBTUSD live>"
    assert repr(s.sync()) == "<sync: done>"


def test_the_async_client_makes_streams_too(ex: Any) -> None:
    async def main() -> str:
        async with kfresearch.AsyncClient("sim", exchange=ex) as kf:
            async with kf.stream() as s:
                await s.subscribe("book", SYMBOL)
                await s.subscribe("fills")
                return repr(s)

    assert asyncio.run(main()).endswith("connected: book PF_XBTUSD live, fills live>")


def test_the_exchanges_greeting_is_understood(kf: kfresearch.Client, s: Stream) -> None:
    s.subscribe("book", SYMBOL)
    runner = s._runner
    assert runner is not None

    async def greet() -> None:
        s._handle('{"event":"info","version":1}')
        s._handle('{"event":"alert","message":"Bad websocket message"}')

    runner.call(greet(), timeout=5)
    assert s.stats()["server_version"] == 1
    assert "Bad websocket message" in str(s.errors[-1])
