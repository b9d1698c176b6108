"""The strategy API around the acceptance tests: hooks fed, context reads and refusals,
the live gate, the dead man's switch, the result's frames and charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import LiveTradingDisabledError, OrderRejected, ValidationError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.store import Store
from kfresearch.strategy import (
    STAT_UNITS,
    Bar,
    Book,
    Context,
    Fill,
    Funding,
    Strategy,
    Trade,
    as_strategy,
    backtest,
    run,
)

from .conftest import SYMBOL, write_market

START = pd.Timestamp("2026-09-30T23:59:00Z")
CLOSES = [100_000.0, 100_100.0, 100_200.0, 100_050.0, 99_900.0, 100_300.0, 100_400.0,
          100_250.0, 100_500.0, 100_600.0]
UNTIL = START + pd.Timedelta(minutes=len(CLOSES))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("hand")
    write_market(root, START, CLOSES, {START.floor("h"): 1.0, START.ceil("h"): 1.0})
    return Store(root)


@dataclass
class Watcher(Strategy):
    """Trades on every other bar and remembers everything it was told."""

    size: float = 0.01
    seen: list[str] = field(default_factory=list)

    def on_start(self, ctx: Context) -> None:
        self.seen.append("start")

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.seen.append(f"bar {bar.end:%H:%M} {bar.close:.0f}")
        ctx.order_target(bar.symbol, self.size if len(ctx.closes(bar.symbol)) % 2 else 0.0)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.seen.append(f"trade {trade.time:%H:%M:%S}")

    def on_book(self, ctx: Context, book: Book) -> None:
        self.seen.append(f"book {book.bids[0][0]:.0f}/{book.asks[0][0]:.0f}")

    def on_stop(self, ctx: Context) -> None:
        self.seen.append("stop")


@pytest.fixture(scope="module")
def watched(store: Store) -> kfresearch.strategy.Result:
    return backtest(Watcher(), store, SYMBOL, START, UNTIL, seed=5)


def test_hooks_are_fed_in_the_drivers_order(watched: kfresearch.strategy.Result) -> None:
    seen = watched.strategy.seen  # type: ignore[attr-defined]
    assert seen[0] == "start"
    assert seen[-1] == "stop"
    # the first bar has no previous close: no trades yet; then trades, book, bar
    assert seen[1:3] == ["book 99999/100000", "bar 00:00 100000"]
    assert seen[3:6] == ["trade 00:00:30", "book 100099/100100", "bar 00:01 100100"]
    assert sum(s.startswith("bar ") for s in seen) == len(CLOSES)


def test_result_frames_and_statistics(watched: kfresearch.strategy.Result) -> None:
    fills, orders = watched.fills, watched.orders
    assert len(fills) == len(CLOSES)  # one trade every bar: flat, long, flat, …
    assert list(fills["side"][:2]) == ["buy", "sell"]
    assert isinstance(fills.index, pd.DatetimeIndex)
    assert str(fills.index.tz) == "UTC"
    assert (orders["status"] == "placed").all()
    assert len(orders) == len(CLOSES)
    assert list(watched.positions[SYMBOL][:3]) == [0.01, 0.0, 0.01]
    assert list(watched.stats.index) == list(STAT_UNITS)
    assert watched.stats["fills"] == len(CLOSES)
    assert watched.stats["turnover_usd"] == pytest.approx(fills["notional_usd"].sum())
    assert watched.fees.columns.tolist() == ["symbol", "fill_type", "notional_usd", "fee",
                                             "fee_currency"]
    equity = watched.equity
    assert equity["drawdown"].max() == 0.0
    assert equity["drawdown_usd"].min() == pytest.approx(watched.stats["max_drawdown_usd"])
    assert "net" in repr(watched)


def test_charts_show_the_run(watched: kfresearch.strategy.Result) -> None:
    equity = watched.equity_chart()
    assert [t.name for t in equity.data] == ["equity", "peak", "drawdown"]
    assert list(equity.data[0].y) == list(watched.equity["equity_usd"])
    fills = watched.fills_chart()
    markers = [t for t in fills.data if t.type == "scatter"]
    assert sum(len(t.x) for t in markers) == len(watched.fills)
    costs = watched.costs_chart()
    stats = watched.stats
    assert list(costs.data[0].y[:3]) == pytest.approx(
        [stats["gross_pnl_usd"], -stats["fees_usd"], -stats["funding_usd"]])


def test_a_function_is_a_strategy(store: Store) -> None:
    def buy_once(ctx: Context, bar: Bar) -> None:
        if ctx.position(bar.symbol) == 0:
            ctx.buy(bar.symbol, 0.001)

    result = backtest(buy_once, store, SYMBOL, START, UNTIL)
    assert len(result.fills) == 1
    assert result.positions[SYMBOL].iloc[-1] == 0.001
    with pytest.raises(TypeError, match="Strategy subclass"):
        as_strategy(42)  # type: ignore[arg-type]


def test_recent_bars_are_the_last_ones_kept(store: Store) -> None:
    # keep=3: what is shown is the last 3 bars at most (the buffers' wrap: next test)
    @dataclass
    class Reader(Strategy):
        seen: list[list[float]] = field(default_factory=list)

        def on_bar(self, ctx: Context, bar: Bar) -> None:
            closes = ctx.closes(bar.symbol, 2)
            assert not closes.flags.writeable  # a view of the history: read-only
            self.seen.append([*ctx.closes(bar.symbol), -1.0, *closes])
            if len(self.seen) == len(CLOSES):
                frame = ctx.bars(bar.symbol)
                assert frame["close"].tolist() == CLOSES[-3:]
                assert frame.index[-1] == bar.start
                assert ctx.bars(bar.symbol, 0).empty
                assert len(ctx.closes(bar.symbol, 0)) == 0

    result = backtest(Reader(), store, SYMBOL, START, UNTIL, keep=3)
    seen = result.strategy.seen  # type: ignore[attr-defined]
    for i, row in enumerate(seen):
        shown = CLOSES[max(0, i - 2) : i + 1]
        assert row == [*shown, -1.0, *CLOSES[max(0, i - 1) : i + 1]]


def test_the_history_wraps_without_losing_the_last_bars(store: Store) -> None:
    from kfresearch.strategy.tally import Tally

    kf = backtest(lambda ctx, bar: None, store, SYMBOL, START, UNTIL).kf
    ctx = Context(kf, Tally((SYMBOL,), 0.0), mode="backtest", now_ms=lambda: 0, keep=40)
    for k in range(200):  # the buffers hold 80 bars: they wrap twice
        ctx.record_bar(Bar(SYMBOL, k, k + 1, 0.0, 0.0, 0.0, float(k), 0.0))
        assert ctx.closes(SYMBOL, 5).tolist() == [float(j) for j in range(max(0, k - 4), k + 1)]
        assert len(ctx.closes(SYMBOL)) == min(k + 1, 40)
    assert ctx.bars(SYMBOL, 3)["close"].tolist() == [197.0, 198.0, 199.0]
    assert ctx.bars(SYMBOL, 3).index[0] == pd.Timestamp(197, unit="ms", tz="UTC")


def test_the_tally_frames_equal_its_running_equity() -> None:
    from kfresearch.strategy.tally import Tally

    tally = Tally((SYMBOL, "PF_ETHUSD"), 10_000.0)
    expected: list[tuple[float, float, tuple[float, float]]] = []
    t = START
    for k, (symbol, side, size) in enumerate([(SYMBOL, "buy", 0.013), ("PF_ETHUSD", "sell", 0.7),
                                              (None, "", 0.0), (SYMBOL, "sell", 0.013)]):
        t += pd.Timedelta(minutes=1)
        if symbol is not None:
            tally.add_fill(Fill(t, symbol, side, size, 100_000.0 / (k + 1), 0.37, "USD", "taker",
                                None, None, f"f{k}"))
        tally.add_funding(Funding(t, SYMBOL, -0.0123 * k, None))
        tally.closes[SYMBOL] = 100_123.45 + k
        if k:
            tally.closes["PF_ETHUSD"] = 3_333.3 * k
        tally.mark(int(t.value // 10**6))
        expected.append((tally.equity, tally.cash, (tally.positions[SYMBOL],
                                                    tally.positions["PF_ETHUSD"])))
    equity, held = tally.equity_frame(), tally.positions_frame()
    assert equity["equity_usd"].tolist() == [e for e, _, _ in expected]  # exactly: same floats
    assert equity["cash_usd"].tolist() == [c for _, c, _ in expected]
    assert [tuple(row) for row in held.to_numpy()] == [p for _, _, p in expected]


def test_the_context_refuses_what_the_run_does_not_trade(store: Store) -> None:
    def wrong_symbol(ctx: Context, bar: Bar) -> None:
        ctx.position("PF_ETHUSD")

    with pytest.raises(ValidationError, match="add it to symbols="):
        backtest(wrong_symbol, store, SYMBOL, START, UNTIL)
    with pytest.raises(ValidationError, match="settle in the coin"):
        backtest(wrong_symbol, store, "PI_XBTUSD", START, UNTIL)
    with pytest.raises(ValidationError, match="later than since"):
        backtest(wrong_symbol, store, SYMBOL, UNTIL, START)


def test_rejections_are_raised_and_recorded(store: Store) -> None:
    @dataclass
    class Greedy(Strategy):
        rejected: list[str] = field(default_factory=list)

        def on_bar(self, ctx: Context, bar: Bar) -> None:
            try:
                ctx.buy(bar.symbol, 50.0)  # 5 M USD on 100 k: more than the margin allows
            except OrderRejected as err:
                self.rejected.append(err.status)

    result = backtest(Greedy(), store, SYMBOL, START, START + pd.Timedelta(minutes=2))
    assert result.strategy.rejected == ["insufficientAvailableFunds"] * 2  # type: ignore[attr-defined]
    assert list(result.orders["status"]) == ["insufficientAvailableFunds"] * 2
    assert result.fills.empty


def test_missing_history_says_what_to_download(tmp_path: Path) -> None:
    with pytest.raises(kfresearch.StoreError, match=r"store\.download"):
        backtest(Watcher(), Store(tmp_path), SYMBOL, START, UNTIL)


def test_run_on_live_without_the_second_opt_in_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    kf = kfresearch.connect("live", key="k" * 8, secret="c2VjcmV0", transport=httpx.MockTransport(handler))
    with pytest.raises(LiveTradingDisabledError, match="nothing was sent"):
        run(Watcher(), kf, SYMBOL, bars=1)
    assert sent == []


def test_run_keeps_the_dead_mans_switch_armed_and_disarms_it() -> None:
    exchange = SimExchange(seed=9, clock=SimClock.fixed("2026-10-31T10:00:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    account = exchange.keys[exchange.credentials("full").key].account_id
    deadlines: list[int | None] = []

    def watch(ctx: Context, bar: Bar) -> None:
        deadlines.append(exchange.engine.account(account, ctx.now.value // 10**6).dms_trigger_ms)

    result = run(watch, kf, SYMBOL, bars=12)
    assert len(result.equity) == 12
    now = [int(t.value // 10**6) for t in result.equity.index]
    assert all(d is not None and d > t + 60_000 for d, t in zip(deadlines, now, strict=True))
    assert exchange.engine.account(account, now[-1]).dms_trigger_ms is None
    with pytest.raises(ValidationError, match="more than two bars"):
        run(watch, kf, SYMBOL, bars=1, dead_man_switch=90)


def test_the_rest_tap_tells_fills_with_their_fees_and_funding_once() -> None:
    from kfresearch.strategy.taps import EngineTap, RestTap

    exchange = SimExchange(seed=11, clock=SimClock.fixed("2026-10-31T10:30:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    rest, engine = RestTap(kf), EngineTap.for_client(kf)
    kf.place_order(SYMBOL, "buy", 0.01, "mkt")
    exchange.advance("1h")  # the hour ending at 11:00 realises funding
    told, truth = rest.take(), engine.take()
    assert [type(e).__name__ for e in told] == ["Fill", "Funding"]
    assert told == truth  # REST and the engine's feeds tell the same story
    fill = told[0]
    assert isinstance(fill, Fill)
    assert fill.fee > 0
    assert fill.fee_currency == "USD"
    assert rest.take() == []


def test_run_feeds_trades_and_the_book_like_a_backtest() -> None:
    exchange = SimExchange(seed=12, clock=SimClock.fixed("2026-10-31T09:00:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    result = run(Watcher(size=0.001), kf, SYMBOL, bars=3)
    seen = result.strategy.seen  # type: ignore[attr-defined]
    kinds = [s.split()[0] for s in seen]
    assert kinds[0] == "start"
    assert kinds[-1] == "stop"
    assert kinds[1:3] == ["book", "bar"]  # no trades before the first bar close
    assert "trade" in kinds[3:]
    assert kinds.count("bar") == 3
    trades = kf.trades(SYMBOL, since=result.equity.index[0], until=result.equity.index[-1],
                       progress=False)
    assert kinds.count("trade") == len(trades)
