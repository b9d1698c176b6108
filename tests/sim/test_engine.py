"""The exchange engine on a scripted market: every number here is worked out by hand.

The fake market has a fixed order book, piecewise-constant mark/index/last
prices that a test can script, and a fixed absolute funding rate per contract.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from kfresearch.sim.clock import parse_time_ms
from kfresearch.sim.engine import Engine
from kfresearch.sim.instruments import InstrumentSpec, MarginTier
from kfresearch.sim.orders import EditRequest, OrderRequest
from kfresearch.sim.routing import SimError
from kfresearch.sim.source import Level

T0 = parse_time_ms("2026-01-05T00:00:00Z")  # an hour boundary
MIN = 60_000
HOUR = 3_600_000
EXPIRY = T0 + 2 * HOUR


def approx(expected: float) -> Any:
    """Equality up to float rounding: tight enough that a missed fee or funding shows."""
    return pytest.approx(expected, rel=1e-10, abs=1e-12)


def _spec(symbol: str, **changes: Any) -> InstrumentSpec:
    base = InstrumentSpec(
        symbol=symbol,
        type="flexible_futures",
        base="XBT",
        quote="USD",
        tick_size=1.0,
        contract_size=1.0,
        precision=4,
        max_position_size=1_000.0,
        impact_mid_size=1.0,
        margin_levels=(MarginTier(0, 0.02, 0.01), MarginTier(1_000_000, 0.04, 0.02)),
        retail_margin_levels=(MarginTier(0, 0.5, 0.25),),
        opening_date_ms=T0 - 365 * 24 * HOUR,
        fee_schedule_uid="fees-" + symbol.lower(),
        tag="perpetual",
        funding_rate_coefficient=8.0,
        max_relative_funding_rate=0.001,
    )
    return replace(base, **changes)


PF = _spec("PF_XBTUSD")
PI = _spec(
    "PI_XBTUSD",
    type="futures_inverse",
    tick_size=0.5,
    precision=0,
    max_position_size=10_000_000.0,
    margin_levels=(MarginTier(0, 0.02, 0.01), MarginTier(500_000, 0.04, 0.02)),
    underlying="rr_xbtusd",
)
FI = replace(
    PI,
    symbol="FI_XBTUSD_260105",
    tag="month",
    last_trading_time_ms=EXPIRY,
    funding_rate_coefficient=None,
    max_relative_funding_rate=None,
)
SPECS = (PF, PI, FI)


class FakeMarket:
    """A :class:`~kfresearch.sim.source.MarketSource` whose prices the test writes.

    ``set_price(symbol, signal, t, price)`` changes a price from ``t`` on;
    ``extremes`` over ``(t0, t1]`` are the min/max of the prices in force then.
    """

    def __init__(self) -> None:
        self.specs = {s.symbol: s for s in SPECS}
        self.schedule: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for spec in SPECS:
            for signal in ("mark", "index", "last"):
                self.schedule[spec.symbol, signal] = [(0, 50_000.0)]
        self.books: dict[str, tuple[list[Level], list[Level]]] = {
            "PF_XBTUSD": ([(49_990.0, 1.0), (49_980.0, 2.0)], [(50_010.0, 0.5), (50_020.0, 2.0)]),
            "PI_XBTUSD": ([(49_990.0, 100_000.0)], [(50_010.0, 50_000.0), (50_020.0, 200_000.0)]),
            "FI_XBTUSD_260105": ([(49_990.0, 100_000.0)], [(50_010.0, 100_000.0)]),
        }
        self.funding = {"PF_XBTUSD": 2.0, "PI_XBTUSD": 1e-8}
        self.calls = 0

    def set_price(self, symbol: str, signal: str, t: int, price: float) -> None:
        self.schedule[symbol, signal].append((t, price))
        self.schedule[symbol, signal].sort()

    def move(self, symbol: str, t: int, price: float) -> None:
        for signal in ("mark", "index", "last"):
            self.set_price(symbol, signal, t, price)

    def _at(self, symbol: str, signal: str, t: int) -> float:
        return [p for start, p in self.schedule[symbol.upper(), signal] if start <= t][-1]

    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        return list(self.specs.values())

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        return self.specs.get(symbol.upper())

    def index_price(self, symbol: str, t_ms: int) -> float:
        return self._at(symbol, "index", t_ms)

    def mark_price(self, symbol: str, t_ms: int) -> float:
        return self._at(symbol, "mark", t_ms)

    def last_price(self, symbol: str, t_ms: int) -> float:
        return self._at(symbol, "last", t_ms)

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        bids, asks = self.books[symbol.upper()]
        return list(bids[:depth]), list(asks[:depth])

    def extremes(
        self, symbol: str, signal: str, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        self.calls += 1
        points = self.schedule[symbol.upper(), signal]
        prices = [self._at(symbol, signal, t0_ms + 1)] + [
            p for t, p in points if t0_ms < t <= t1_ms
        ]
        return min(prices), max(prices)

    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        absolute = self.funding.get(symbol.upper(), 0.0)
        return absolute, absolute / 50_000.0

    def usd_value(self, currency: str, t_ms: int) -> float:
        return {"USD": 1.0, "XBT": 50_000.0, "ETH": 3_000.0}[currency]


def make() -> tuple[Engine, FakeMarket]:
    market = FakeMarket()
    engine = Engine(market, seed=42)
    engine.advance(T0)
    return engine, market


def order(kind: str, symbol: str, side: str, size: float, **extra: Any) -> OrderRequest:
    return OrderRequest(order_type=kind, symbol=symbol, side=side, size=size, **extra)


def send(
    engine: Engine, request: OrderRequest, t: int = T0, account: str = "acc-1"
) -> dict[str, Any]:
    return engine.send_order(account, request, t)


# ------------------------------------------------------------------ accounts


def test_new_account_has_the_starting_wallets() -> None:
    engine, _ = make()
    acc = engine.account("acc-1", T0)
    assert acc.wallets == {
        "flex": {"USD": 100_000.0},
        "cash": {},
        "fi_xbtusd": {"XBT": 1.0},
        "fi_ethusd": {"ETH": 10.0},
    }
    flex = engine.flex_summary(acc, T0)
    assert flex.margin_equity == 100_000.0
    assert flex.available_margin == 100_000.0


# -------------------------------------------------------- linear (PF_) maths


def test_linear_market_buy_walks_the_book_and_charges_taker_fee() -> None:
    engine, _ = make()
    status = send(engine, order("mkt", "PF_XBTUSD", "buy", 1.0))
    assert status["status"] == "placed"
    executions = [e for e in status["orderEvents"] if e["type"] == "EXECUTION"]
    assert [(e["price"], e["amount"]) for e in executions] == [(50_010.0, 0.5), (50_020.0, 0.5)]
    # Price protection: 1 % past the best ask, rounded down to the 1 USD tick.
    assert executions[0]["orderPriorExecution"]["limitPrice"] == 50_510.0
    acc = engine.accounts["acc-1"]
    position = acc.positions["PF_XBTUSD"]
    assert position.size == 1.0
    assert position.entry == approx(50_015.0)
    fee = 0.0005 * (0.5 * 50_010 + 0.5 * 50_020)  # 25.0075 USD
    assert acc.wallets["flex"]["USD"] == approx(100_000 - fee)
    flex = engine.flex_summary(acc, T0)
    assert flex.initial_margin == approx(0.02 * 50_000)  # notional at mark 50,000
    assert flex.maintenance_margin == approx(0.01 * 50_000)
    assert flex.pnl == approx(50_000 - 50_015)
    assert flex.margin_equity == approx(100_000 - fee - 15)
    assert flex.available_margin == approx(100_000 - fee - 15 - 1_000)


def test_linear_round_trip_realises_pnl_and_writes_the_account_log() -> None:
    engine, market = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=50_010.0))
    market.books["PF_XBTUSD"] = ([(51_000.0, 5.0)], [(51_010.0, 5.0)])
    market.move("PF_XBTUSD", T0 + MIN, 51_000.0)
    send(engine, order("mkt", "PF_XBTUSD", "sell", 0.5), T0 + 2 * MIN)
    acc = engine.accounts["acc-1"]
    assert "PF_XBTUSD" not in acc.positions
    open_fee = 0.5 * 50_010 * 0.0005
    close_fee = 0.5 * 51_000 * 0.0005
    realised = (51_000 - 50_010) * 0.5  # 495 USD
    funding = -0.5 * 2.0 * 2 / 60  # two minutes long at 2 USD per contract-hour
    assert acc.wallets["flex"]["USD"] == approx(100_000 - open_fee - close_fee + realised + funding)
    log = engine.account_log("acc-1", T0 + 2 * MIN, sort="asc")["logs"]
    assert [(row["asset"], row["info"]) for row in log] == [
        ("pf_xbtusd", "futures trade"),
        ("usd", "futures trade"),
        ("pf_xbtusd", "futures trade"),
        ("usd", "futures trade"),
    ]
    closing = log[3]
    assert closing["realized_pnl"] == approx(realised)
    assert closing["fee"] == approx(close_fee)
    assert closing["realized_funding"] == approx(funding)
    assert closing["new_balance"] - closing["old_balance"] == approx(realised - close_fee + funding)
    assert log[2]["old_balance"] == 0.5
    assert log[2]["new_balance"] == 0
    assert log[2]["old_average_entry_price"] == 50_010.0
    assert [row["id"] for row in log] == [1, 2, 3, 4]


def test_average_entry_is_size_weighted_for_linear() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=50_010.0))
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.5, limit_price=50_020.0))
    position = engine.accounts["acc-1"].positions["PF_XBTUSD"]
    # 0.5 @ 50010, then the second walk takes 0.5 @ 50010 and 1.0 @ 50020
    # (the fake book is not depleted by the first order)
    assert position.size == 2.0
    assert position.entry == approx((1.0 * 50_010 + 1.0 * 50_020) / 2.0)


# ------------------------------------------------------- inverse (PI_) maths


def test_inverse_buy_margin_fee_and_pnl_are_in_coin() -> None:
    engine, market = make()
    send(engine, order("lmt", "PI_XBTUSD", "buy", 10_000, limit_price=50_010.0))
    acc = engine.accounts["acc-1"]
    fee = 10_000 / 50_010 * 0.0005
    assert acc.wallets["fi_xbtusd"]["XBT"] == approx(1 - fee)
    wallet = engine.wallet_summary(acc, "fi_xbtusd", T0)
    assert wallet.initial_margin == approx(10_000 * 0.02 / 50_000)  # 0.004 XBT
    assert wallet.maintenance_margin == approx(10_000 * 0.01 / 50_000)
    assert wallet.pnl == approx((1 / 50_010 - 1 / 50_000) * 10_000)
    # Close at 52,000: PnL (1/entry - 1/exit) x contracts, in XBT.
    market.books["PI_XBTUSD"] = ([(52_000.0, 100_000.0)], [(52_010.0, 100_000.0)])
    send(engine, order("mkt", "PI_XBTUSD", "sell", 10_000), T0 + MIN)
    realised = (1 / 50_010 - 1 / 52_000) * 10_000
    close_fee = 10_000 / 52_000 * 0.0005
    funding = -10_000 * 1e-8 / 60  # one minute long at 1e-8 XBT per contract-hour
    assert acc.wallets["fi_xbtusd"]["XBT"] == approx(1 - fee + realised - close_fee + funding)
    assert "PI_XBTUSD" not in acc.positions


def test_inverse_tiers_apply_per_tranche_and_average_entry_is_harmonic() -> None:
    engine, market = make()
    market.books["PI_XBTUSD"] = ([(49_990.0, 1e7)], [(50_000.0, 400_000.0), (50_500.0, 1e7)])
    send(engine, order("mkt", "PI_XBTUSD", "buy", 600_000))
    acc = engine.accounts["acc-1"]
    position = acc.positions["PI_XBTUSD"]
    assert position.entry == approx(600_000 / (400_000 / 50_000 + 200_000 / 50_500))
    wallet = engine.wallet_summary(acc, "fi_xbtusd", T0)
    # 2 % of the first 500k contracts plus 4 % of the next 100k, in USD, / mark
    assert wallet.initial_margin == approx((500_000 * 0.02 + 100_000 * 0.04) / 50_000)
    assert wallet.maintenance_margin == approx((500_000 * 0.01 + 100_000 * 0.02) / 50_000)


# ------------------------------------------------------------ resting orders


def test_buy_limit_below_market_fills_as_maker_when_trades_go_through_it() -> None:
    engine, market = make()
    status = send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_900.0))
    assert [e["type"] for e in status["orderEvents"]] == ["PLACE"]
    market.set_price("PF_XBTUSD", "last", T0 + 90_000, 49_850.0)
    engine.advance(T0 + MIN)
    assert engine.accounts["acc-1"].open_orders  # nothing traded through it yet
    engine.advance(T0 + 3 * MIN)
    acc = engine.accounts["acc-1"]
    assert not acc.open_orders
    (fill,) = acc.fills
    assert (fill.price, fill.quantity, fill.fill_type) == (49_900.0, 1.0, "maker")
    assert fill.time_ms == T0 + 2 * MIN  # the end of the step with the print
    assert fill.fee == approx(49_900 * 0.0002)
    assert acc.positions["PF_XBTUSD"].entry == 49_900.0


def test_sell_limit_above_market_waits_for_the_high() -> None:
    engine, market = make()
    send(engine, order("lmt", "PI_XBTUSD", "sell", 1_000, limit_price=50_100.0))
    market.set_price("PI_XBTUSD", "last", T0 + 10 * MIN, 50_099.5)
    engine.advance(T0 + 15 * MIN)
    assert engine.accounts["acc-1"].open_orders
    market.set_price("PI_XBTUSD", "last", T0 + 20 * MIN, 50_100.0)
    engine.advance(T0 + 25 * MIN)
    assert engine.accounts["acc-1"].positions["PI_XBTUSD"].size == -1_000


def test_steps_only_look_at_symbols_with_orders_or_positions() -> None:
    engine, market = make()
    engine.advance(T0 + 30 * 24 * HOUR)  # a month with nothing open: no market calls
    assert market.calls == 0


# ------------------------------------------------------------------ funding


def test_linear_funding_accrues_within_the_hour_and_is_realised_at_its_end() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=50_010.0))  # opened at T0
    acc = engine.accounts["acc-1"]
    after_trade = acc.wallets["flex"]["USD"]
    engine.advance(T0 + 30 * MIN)
    # a long pays size x absolute rate per hour: 0.5 x 2.0 USD, half of it so far
    assert acc.positions["PF_XBTUSD"].unrealized_funding == approx(-0.5)
    assert engine.flex_summary(acc, T0 + 30 * MIN).unrealized_funding == approx(-0.5)
    engine.advance(T0 + HOUR)
    assert acc.positions["PF_XBTUSD"].unrealized_funding == 0
    assert acc.wallets["flex"]["USD"] == approx(after_trade - 1.0)
    row = engine.account_log("acc-1", T0 + HOUR, info="funding rate change")["logs"][0]
    assert row["realized_funding"] == approx(-1.0)
    assert row["funding_rate"] == 2.0
    assert row["date"] == "2026-01-05T01:00:00.000Z"
    engine.advance(T0 + 3 * HOUR + 15 * MIN)
    assert acc.wallets["flex"]["USD"] == approx(after_trade - 3.0)
    assert acc.positions["PF_XBTUSD"].unrealized_funding == approx(-0.25)


def test_inverse_short_receives_positive_funding_in_coin() -> None:
    engine, _ = make()
    send(engine, order("mkt", "PI_XBTUSD", "sell", 10_000))
    acc = engine.accounts["acc-1"]
    before = acc.wallets["fi_xbtusd"]["XBT"]
    engine.advance(T0 + 2 * HOUR)
    assert acc.wallets["fi_xbtusd"]["XBT"] == approx(before + 2 * 10_000 * 1e-8)


def test_funding_accrued_is_realised_when_the_position_changes() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=50_010.0))
    engine.advance(T0 + 15 * MIN)
    send(engine, order("mkt", "PF_XBTUSD", "sell", 0.5), T0 + 15 * MIN)
    row = engine.account_log("acc-1", T0 + 15 * MIN, count=1)["logs"][0]
    assert row["realized_funding"] == approx(-0.25)


# -------------------------------------------------------------- order types


def test_post_only_rests_or_is_rejected_when_it_would_take() -> None:
    engine, _ = make()
    rested = send(engine, order("post", "PF_XBTUSD", "buy", 1.0, limit_price=50_000.0))
    assert rested["status"] == "placed"
    assert rested["orderEvents"][0]["order"]["type"] == "post"
    crossed = send(engine, order("post", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))
    assert crossed["status"] == "postWouldExecute"
    assert crossed["orderEvents"][0]["type"] == "REJECT"
    assert crossed["orderEvents"][0]["reason"] == "POST_WOULD_EXECUTE"


def test_ioc_takes_what_it_can_and_drops_the_rest() -> None:
    engine, _ = make()
    status = send(engine, order("ioc", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))
    assert status["status"] == "placed"
    assert [e["amount"] for e in status["orderEvents"]] == [0.5]
    acc = engine.accounts["acc-1"]
    assert not acc.open_orders
    assert acc.orders[status["order_id"]].status == "cancelled"
    nothing = send(engine, order("ioc", "PF_XBTUSD", "buy", 1.0, limit_price=50_000.0))
    assert nothing["status"] == "iocWouldNotExecute"
    assert nothing["orderEvents"][0]["reason"] == "IOC_WOULD_NOT_EXECUTE"


def test_fok_fills_completely_or_not_at_all() -> None:
    engine, _ = make()
    # Only 0.5 is offered at 50,010: a FOK for 1.0 is rejected with the IOC status.
    assert (
        send(engine, order("fok", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))["status"]
        == "iocWouldNotExecute"
    )
    assert engine.accounts["acc-1"].positions == {}
    filled = send(engine, order("fok", "PF_XBTUSD", "buy", 0.4, limit_price=50_010.0))
    assert filled["status"] == "placed"
    assert engine.accounts["acc-1"].positions["PF_XBTUSD"].size == 0.4


def test_marketable_limit_takes_then_rests_the_remainder() -> None:
    engine, _ = make()
    status = send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))
    assert [e["type"] for e in status["orderEvents"]] == ["EXECUTION", "PLACE"]
    rest = engine.accounts["acc-1"].open_orders[status["order_id"]]
    assert (rest.filled, rest.unfilled) == (0.5, 0.5)


def test_market_order_on_an_empty_book_does_not_execute() -> None:
    engine, market = make()
    market.books["PF_XBTUSD"] = ([], [])
    assert send(engine, order("mkt", "PF_XBTUSD", "buy", 1.0))["status"] == "iocWouldNotExecute"


def test_stop_market_triggers_on_mark_and_sells_into_the_bids() -> None:
    engine, market = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=50_010.0))
    placed = send(
        engine, order("stp", "PF_XBTUSD", "sell", 0.5, stop_price=49_500.0, reduce_only=True)
    )
    assert placed["status"] == "placed"
    trigger = placed["orderEvents"][0]["orderTrigger"]
    assert (trigger["triggerSide"], trigger["triggerSignal"], trigger["type"]) == (
        "trigger_below",
        "mark_price",
        "mkt",
    )
    market.set_price("PF_XBTUSD", "last", T0 + 2 * MIN, 49_400.0)  # last is not the signal
    engine.advance(T0 + 4 * MIN)
    assert engine.accounts["acc-1"].positions["PF_XBTUSD"].size == 0.5
    market.set_price("PF_XBTUSD", "mark", T0 + 5 * MIN, 49_450.0)
    engine.advance(T0 + 6 * MIN)
    acc = engine.accounts["acc-1"]
    assert "PF_XBTUSD" not in acc.positions
    last = acc.fills[-1]
    assert (last.price, last.quantity, last.fill_type, last.time_ms) == (
        49_990.0,
        0.5,
        "taker",
        T0 + 5 * MIN,
    )


def test_stop_limit_becomes_a_resting_limit_when_it_cannot_fill() -> None:
    engine, market = make()
    send(
        engine,
        order(
            "stp",
            "PF_XBTUSD",
            "buy",
            1.0,
            stop_price=50_500.0,
            limit_price=50_000.0,
            trigger_signal="last",
        ),
    )
    market.set_price("PF_XBTUSD", "last", T0 + MIN, 50_600.0)
    engine.advance(T0 + 2 * MIN)
    (rest,) = engine.accounts["acc-1"].open_orders.values()
    assert rest.triggered
    assert rest.effective_type == "lmt"
    assert rest.limit_price == 50_000.0
    assert rest.open_order()["orderType"] == "lmt"


def test_take_profit_fires_on_the_other_side() -> None:
    engine, market = make()
    send(engine, order("mkt", "PF_XBTUSD", "buy", 0.5))
    tp = send(
        engine,
        order("take_profit", "PF_XBTUSD", "sell", 0.5, stop_price=50_500.0, reduce_only=True),
    )
    assert tp["orderEvents"][0]["orderTrigger"]["triggerSide"] == "trigger_above"
    market.set_price("PF_XBTUSD", "mark", T0 + MIN, 49_000.0)  # a fall does not fire a sell TP
    engine.advance(T0 + 2 * MIN)
    assert engine.accounts["acc-1"].open_orders
    market.set_price("PF_XBTUSD", "mark", T0 + 3 * MIN, 50_600.0)
    engine.advance(T0 + 4 * MIN)
    assert engine.accounts["acc-1"].positions == {}


def test_trailing_stop_follows_the_best_price_then_fires() -> None:
    engine, market = make()
    send(engine, order("mkt", "PF_XBTUSD", "buy", 0.5))
    status = send(
        engine,
        order(
            "trailing_stop",
            "PF_XBTUSD",
            "sell",
            0.5,
            trailing_deviation=1.0,
            trailing_unit="PERCENT",
            reduce_only=True,
        ),
    )
    trailing = engine.accounts["acc-1"].orders[status["order_id"]]
    assert trailing.stop_price == 49_500.0  # 1 % under the mark of 50,000
    market.set_price("PF_XBTUSD", "mark", T0 + MIN + 1, 51_000.0)
    engine.advance(T0 + 2 * MIN)
    assert trailing.stop_price == 50_490.0  # 1 % under the new best, 51,000
    assert trailing.open_order()["stopPrice"] == "50490"
    market.set_price("PF_XBTUSD", "mark", T0 + 3 * MIN + 1, 50_400.0)
    engine.advance(T0 + 5 * MIN)
    assert engine.accounts["acc-1"].positions == {}
    assert trailing.triggered_ms == T0 + 4 * MIN


def test_trigger_with_limit_offset_sets_the_limit_from_the_stop() -> None:
    engine, market = make()
    send(
        engine,
        order(
            "stp",
            "PF_XBTUSD",
            "buy",
            1.0,
            stop_price=50_500.0,
            offset_value=-1.0,
            offset_unit="PERCENT",
        ),
    )
    market.set_price("PF_XBTUSD", "mark", T0 + MIN, 50_500.0)
    engine.advance(T0 + 2 * MIN)
    (rest,) = engine.accounts["acc-1"].open_orders.values()
    assert rest.limit_price == 49_995.0  # 50,500 x 0.99


# --------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (order("lmt", "PF_NOPE", "buy", 1.0, limit_price=1.0), "marketInactive"),
        (order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.5), "invalidPrice"),
        (order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=-5.0), "invalidPrice"),
        (order("lmt", "PF_XBTUSD", "buy", 0.00001, limit_price=49_000.0), "invalidSize"),
        (order("lmt", "PF_XBTUSD", "buy", 0.0, limit_price=49_000.0), "invalidSize"),
        (order("lmt", "PI_XBTUSD", "buy", 10.5, limit_price=49_000.0), "invalidSize"),
        (order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=55_001.0), "outsidePriceCollar"),
        (order("lmt", "PF_XBTUSD", "sell", 1.0, limit_price=44_999.0), "outsidePriceCollar"),
        (order("lmt", "PF_XBTUSD", "buy", 1_001.0, limit_price=40_000.0), "maxPositionViolation"),
        (
            order("lmt", "PF_XBTUSD", "buy", 100.0, limit_price=49_000.0),
            "insufficientAvailableFunds",
        ),
        (
            order("lmt", "PI_XBTUSD", "buy", 2_000_000, limit_price=49_000.0),
            "insufficientAvailableFunds",
        ),
        (
            order("lmt", "PF_XBTUSD", "sell", 1.0, limit_price=51_000.0, reduce_only=True),
            "wouldNotReducePosition",
        ),
        (
            order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0, cli_ord_id="x" * 101),
            "clientOrderIdTooLong",
        ),
        (order("limit", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0), "invalidOrderType"),
        (order("lmt", "PF_XBTUSD", "up", 1.0, limit_price=49_000.0), "invalidSide"),
        (
            order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0, process_before_ms=T0 - 1),
            "wouldProcessAfterSpecifiedTime",
        ),
    ],
)
def test_rejections_answer_with_the_exchange_status(request_: OrderRequest, status: str) -> None:
    engine, _ = make()
    answer = send(engine, request_)
    assert answer["status"] == status
    assert engine.accounts["acc-1"].open_orders == {}
    assert engine.accounts["acc-1"].positions == {}


def test_a_far_passive_limit_is_not_collared() -> None:
    engine, _ = make()
    assert (
        send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=30_000.0))["status"]
        == "placed"
    )


def test_client_order_ids_are_never_reused() -> None:
    engine, _ = make()
    first = send(
        engine, order("ioc", "PF_XBTUSD", "buy", 0.1, limit_price=50_010.0, cli_ord_id="mine")
    )
    assert first["cliOrdId"] == "mine"
    assert first["status"] == "placed"
    # The first order is already filled; the id still may not be used again.
    again = send(
        engine, order("lmt", "PF_XBTUSD", "buy", 0.1, limit_price=49_000.0, cli_ord_id="mine")
    )
    assert again == {
        "cliOrdId": "mine",
        "status": "clientOrderIdAlreadyExist",
        "receivedTime": "2026-01-05T00:00:00.000Z",
        "orderEvents": [],
    }


def test_self_fill_rejects_the_taker() -> None:
    engine, _ = make()
    assert (
        send(engine, order("lmt", "PF_XBTUSD", "sell", 0.1, limit_price=50_005.0))["status"]
        == "placed"
    )
    taker = send(engine, order("lmt", "PF_XBTUSD", "buy", 0.1, limit_price=50_010.0))
    assert taker["status"] == "selfFill"
    assert taker["orderEvents"][0]["reason"] == "WOULD_EXECUTE_SELF"
    # a buy that stays below the own sell is fine
    assert (
        send(engine, order("lmt", "PF_XBTUSD", "buy", 0.1, limit_price=50_000.0))["status"]
        == "placed"
    )


def test_reduce_only_is_cut_to_the_position() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=50_010.0))
    status = send(
        engine, order("lmt", "PF_XBTUSD", "sell", 2.0, limit_price=51_000.0, reduce_only=True)
    )
    assert status["status"] == "placed"
    place = status["orderEvents"][0]
    assert place["reducedQuantity"] == 1.5
    assert place["order"]["quantity"] == 0.5
    same_side = send(
        engine, order("lmt", "PF_XBTUSD", "buy", 0.1, limit_price=49_000.0, reduce_only=True)
    )
    assert same_side["status"] == "wouldNotReducePosition"


def test_missing_and_unparsable_arguments_are_errors() -> None:
    from kfresearch.sim.orders import parse_order_request

    params = {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "limitPrice": "1"}
    with pytest.raises(SimError) as missing:
        parse_order_request(params.get)
    assert missing.value.error == "requiredArgumentMissing"
    with pytest.raises(SimError) as bad:
        parse_order_request({**params, "size": "abc"}.get)
    assert bad.value.error == "invalidArgument"
    with pytest.raises(SimError) as no_limit:
        parse_order_request({**params, "size": "1", "limitPrice": None}.get)
    assert no_limit.value.error == "requiredArgumentMissing"


# ------------------------------------------------------------ edit / cancel


def test_edit_changes_price_and_size() -> None:
    engine, _ = make()
    placed = send(
        engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0, cli_ord_id="a")
    )
    edited = engine.edit_order(
        "acc-1", EditRequest(cli_ord_id="a", size=2.0, limit_price=49_100.0), T0 + 1
    )
    assert edited["status"] == "edited"
    event = edited["orderEvents"][0]
    assert (event["old"]["quantity"], event["new"]["quantity"]) == (1.0, 2.0)
    assert event["new"]["limitPrice"] == 49_100.0
    assert engine.accounts["acc-1"].open_orders[placed["order_id"]].quantity == 2.0


@pytest.mark.parametrize(
    ("edit", "status"),
    [
        (EditRequest(order_id="nope", size=1.0), "orderForEditNotFound"),
        (EditRequest(cli_ord_id="a", stop_price=48_000.0), "orderForEditNotAStop"),
        (EditRequest(cli_ord_id="a", limit_price=49_000.5), "invalidPrice"),
        (EditRequest(cli_ord_id="a", size=-1.0), "invalidSize"),
        (EditRequest(cli_ord_id="a", limit_price=56_000.0), "outsidePriceCollar"),
        (EditRequest(cli_ord_id="a", size=100.0), "insufficientAvailableFunds"),
    ],
)
def test_edit_rejections(edit: EditRequest, status: str) -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0, cli_ord_id="a"))
    assert engine.edit_order("acc-1", edit, T0)["status"] == status
    assert (
        engine.accounts["acc-1"].open_orders[engine.accounts["acc-1"].cli_ids["a"]].quantity == 1.0
    )


def test_edit_through_the_market_takes_liquidity_and_post_refuses() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 0.5, limit_price=49_000.0, cli_ord_id="a"))
    send(engine, order("post", "PF_XBTUSD", "buy", 0.5, limit_price=49_000.0, cli_ord_id="p"))
    assert (
        engine.edit_order("acc-1", EditRequest(cli_ord_id="p", limit_price=50_010.0), T0)["status"]
        == "postWouldExecute"
    )
    edited = engine.edit_order("acc-1", EditRequest(cli_ord_id="a", limit_price=50_010.0), T0)
    assert [e["type"] for e in edited["orderEvents"]] == ["EDIT", "EXECUTION"]
    assert engine.accounts["acc-1"].fills[-1].fill_type == "takerAfterEdit"


def test_edit_quantity_modes() -> None:
    engine, _ = make()
    placed = send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))  # 0.5 filled
    order_id = placed["order_id"]
    engine.edit_order("acc-1", EditRequest(order_id=order_id, size=2.0, limit_price=49_000.0), T0)
    assert engine.accounts["acc-1"].orders[order_id].quantity == 2.5  # relative: new open size
    engine.edit_order("acc-1", EditRequest(order_id=order_id, size=0.75, qty_mode="ABSOLUTE"), T0)
    assert engine.accounts["acc-1"].orders[order_id].unfilled == 0.25
    bad = engine.edit_order(
        "acc-1", EditRequest(order_id=order_id, size=0.5, qty_mode="ABSOLUTE"), T0
    )
    assert bad["status"] == "invalidSize"


def test_cancel_by_id_or_client_id_and_too_late() -> None:
    engine, _ = make()
    placed = send(
        engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0, cli_ord_id="c")
    )
    cancelled = engine.cancel_order("acc-1", None, "c", T0 + 5)
    assert cancelled["status"] == "cancelled"
    assert cancelled["order_id"] == placed["order_id"]
    assert cancelled["orderEvents"][0]["type"] == "CANCEL"
    assert engine.cancel_order("acc-1", placed["order_id"], None, T0 + 6)["status"] == "notFound"
    filled = send(engine, order("ioc", "PF_XBTUSD", "buy", 0.1, limit_price=50_010.0))
    assert engine.cancel_order("acc-1", filled["order_id"], None, T0 + 7)["status"] == "filled"


def test_cancel_all_and_by_symbol() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0))
    send(engine, order("lmt", "PI_XBTUSD", "buy", 100, limit_price=49_000.0))
    only_pi = engine.cancel_all("acc-1", "pi_xbtusd", T0)
    assert only_pi["cancelOnly"] == "PI_XBTUSD"
    assert len(only_pi["cancelledOrders"]) == 1
    everything = engine.cancel_all("acc-1", None, T0)
    assert everything["cancelOnly"] == "all"
    assert everything["status"] == "cancelled"
    assert engine.cancel_all("acc-1", None, T0)["status"] == "noOrdersToCancel"


def test_dead_mans_switch_cancels_everything_at_its_deadline() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0))
    send(engine, order("stp", "PF_XBTUSD", "buy", 1.0, stop_price=52_000.0))
    armed = engine.cancel_all_after("acc-1", 60, T0)
    assert armed == {
        "currentTime": "2026-01-05T00:00:00.000Z",
        "triggerTime": "2026-01-05T00:01:00.000Z",
    }
    engine.advance(T0 + 59_999)
    assert len(engine.accounts["acc-1"].open_orders) == 2
    engine.advance(T0 + 10 * MIN)
    acc = engine.accounts["acc-1"]
    assert acc.open_orders == {}
    assert {o.update_reason for o in acc.orders.values()} == {"DEAD_MAN_SWITCH"}
    assert {o.closed_ms for o in acc.orders.values()} == {T0 + MIN}
    assert engine.cancel_all_after("acc-1", 0, T0 + 11 * MIN)["triggerTime"] == "0"


# ------------------------------------------- settlement and liquidation


def test_dated_contract_settles_at_the_index_at_its_last_trading_time() -> None:
    engine, market = make()
    send(engine, order("mkt", "FI_XBTUSD_260105", "buy", 10_000))
    send(
        engine,
        order("lmt", "FI_XBTUSD_260105", "sell", 1_000, limit_price=54_000.0, reduce_only=True),
    )
    market.set_price("FI_XBTUSD_260105", "index", EXPIRY - 30 * MIN, 52_000.0)
    acc = engine.accounts["acc-1"]
    before = acc.wallets["fi_xbtusd"]["XBT"]
    engine.advance(EXPIRY + HOUR)
    assert acc.positions == {}
    assert acc.open_orders == {}
    assert acc.wallets["fi_xbtusd"]["XBT"] == approx(before + (1 / 50_010 - 1 / 52_000) * 10_000)
    rows = engine.account_log("acc-1", EXPIRY + HOUR, info="settlement", sort="asc")["logs"]
    assert [r["asset"] for r in rows] == ["fi_xbtusd_260105", "xbt"]
    assert rows[1]["date"] == "2026-01-05T02:00:00.000Z"
    assert rows[1]["trade_price"] == 52_000.0
    assert (
        send(engine, order("mkt", "FI_XBTUSD_260105", "buy", 1), EXPIRY + HOUR)["status"]
        == "marketInactive"
    )


def test_linear_liquidation_closes_at_the_mark_below_maintenance() -> None:
    engine, market = make()
    market.books["PF_XBTUSD"] = ([(49_990.0, 100.0)], [(50_000.0, 100.0)])
    send(engine, order("mkt", "PF_XBTUSD", "buy", 30.0))
    acc = engine.accounts["acc-1"]
    fee = 30 * 50_000 * 0.0005  # 750
    # Equity at 47,500: 100,000 - 750 - 75,000 = 24,250 > MM 10,000 + 2 % x 425,000 = 18,500
    market.set_price("PF_XBTUSD", "mark", T0 + 10 * MIN, 47_500.0)
    engine.advance(T0 + 20 * MIN)
    assert acc.positions["PF_XBTUSD"].size == 30.0
    # At 47,000: 100,000 - 750 - 90,000 = 9,250 < 10,000 + 2 % x 410,000 = 18,200
    market.set_price("PF_XBTUSD", "mark", T0 + 30 * MIN, 47_000.0)
    engine.advance(T0 + 40 * MIN)
    assert acc.positions == {}
    last = acc.fills[-1]
    assert (last.fill_type, last.price, last.time_ms) == ("liquidation", 47_000.0, T0 + 30 * MIN)
    # the opening 1.5M USD traded puts the account in the third tier (from 1M: taker 0.03 %)
    liquidation_fee = 30 * 47_000 * 0.0003
    funding = -30 * 2.0 * 0.5  # half an hour of funding at 2 USD per contract-hour
    expected = 100_000 - fee - 90_000 - liquidation_fee + funding
    assert acc.wallets["flex"]["USD"] == approx(expected)
    row = engine.account_log("acc-1", T0 + 40 * MIN, info="futures liquidation", count=1)["logs"][0]
    assert row["liquidation_fee"] == approx(liquidation_fee)


@pytest.mark.parametrize(
    ("size", "safe", "unsafe"),
    [
        # E(P) = 100,000 - fee + s(P - 50,000) meets MM(P) = 1 % x 1M + 2 % x (sP - 1M):
        (30.0, 47_400.0, 47_300.0),  # at 47,304: outside the +-5 % band around 50,000
        (38.0, 48_150.0, 48_050.0),  # at 48,092: inside the band, so checked every minute
    ],
)
def test_liquidation_happens_just_past_the_hand_computed_price(
    size: float, safe: float, unsafe: float
) -> None:
    engine, market = make()
    market.books["PF_XBTUSD"] = ([(49_990.0, 100.0)], [(50_000.0, 100.0)])
    send(engine, order("mkt", "PF_XBTUSD", "buy", size))
    market.set_price("PF_XBTUSD", "mark", T0 + 5 * MIN, safe)
    engine.advance(T0 + 10 * MIN)
    assert engine.accounts["acc-1"].positions["PF_XBTUSD"].size == size
    market.set_price("PF_XBTUSD", "mark", T0 + 15 * MIN, unsafe)
    engine.advance(T0 + 20 * MIN)
    assert engine.accounts["acc-1"].positions == {}
    assert engine.accounts["acc-1"].fills[-1].time_ms == T0 + 15 * MIN


def test_a_quiet_account_is_checked_again_when_its_wallet_changes() -> None:
    """Between mark moves the liquidation check is skipped (every pool inside its band);
    a change of balance within the hour ends that, so the next step checks in full."""
    engine, market = make()
    market.books["PF_XBTUSD"] = ([(49_990.0, 100.0)], [(50_000.0, 100.0)])
    send(engine, order("mkt", "PF_XBTUSD", "buy", 30.0))
    engine.advance(T0 + 10 * MIN)  # quiet: the mark stays at 50,000
    acc = engine.accounts["acc-1"]
    assert acc.positions["PF_XBTUSD"].size == 30.0
    with engine.unit(T0 + 10 * MIN):  # 95,000 USD leave: equity 4,250 < maintenance 19,000
        engine.ledger.credit(acc, "flex", "USD", -95_000.0)
    engine.advance(T0 + 11 * MIN)
    assert acc.positions == {}
    assert (acc.fills[-1].fill_type, acc.fills[-1].time_ms) == ("liquidation", T0 + 11 * MIN)


def test_an_isolated_pool_is_liquidated_alone_and_the_cross_pool_stays_banded() -> None:
    """Two pools in the flex wallet: PF_XBTUSD isolated at leverage 10, PF_ETHUSD cross.

    Isolated equity 10,000 + 2(P - 50,000) meets its maintenance 1 % x 2P at
    P = 45,454.5: at 45,000 only it is closed; the cross pool keeps its band.
    """
    engine, market = make()
    eth = _spec("PF_ETHUSD", base="ETH")
    market.specs[eth.symbol] = eth
    for signal in ("mark", "index", "last"):
        market.schedule[eth.symbol, signal] = [(0, 3_000.0)]
    market.books[eth.symbol] = ([(2_999.0, 100.0)], [(3_000.0, 100.0)])
    market.books["PF_XBTUSD"] = ([(49_990.0, 100.0)], [(50_000.0, 100.0)])
    assert engine.set_max_leverage("acc-1", "PF_XBTUSD", 10.0, T0) is None
    send(engine, order("mkt", "PF_XBTUSD", "buy", 2.0))
    send(engine, order("mkt", "PF_ETHUSD", "buy", 5.0))
    acc = engine.accounts["acc-1"]
    liquidator = engine.lifecycle.liquidator
    market.set_price("PF_XBTUSD", "mark", T0 + 5 * MIN, 45_600.0)  # just safe
    engine.advance(T0 + 10 * MIN)
    assert {s: p.size for s, p in acc.positions.items()} == {"PF_XBTUSD": 2.0, "PF_ETHUSD": 5.0}
    market.set_price("PF_XBTUSD", "mark", T0 + 15 * MIN, 45_000.0)
    engine.advance(T0 + 20 * MIN)
    assert {s: p.size for s, p in acc.positions.items()} == {"PF_ETHUSD": 5.0}
    assert (acc.fills[-1].symbol, acc.fills[-1].fill_type) == ("PF_XBTUSD", "liquidation")
    assert acc.fills[-1].time_ms == T0 + 15 * MIN
    bands = liquidator.quiet_bands(acc, (T0 + 20 * MIN) // HOUR)
    assert bands == [("PF_ETHUSD", 3_000.0 * 0.95, 3_000.0 * 1.05)]


def test_inverse_liquidation_has_no_fee() -> None:
    engine, market = make()
    market.books["PI_XBTUSD"] = ([(49_990.0, 1e7)], [(50_000.0, 1e7)])
    assert send(engine, order("mkt", "PI_XBTUSD", "buy", 1_000_000))["status"] == "placed"
    acc = engine.accounts["acc-1"]
    after_open = acc.wallets["fi_xbtusd"]["XBT"]
    market.set_price("PI_XBTUSD", "mark", T0 + MIN, 45_000.0)
    engine.advance(T0 + 2 * MIN)
    assert acc.positions == {}
    funding = -1_000_000 * 1e-8 / 60  # one minute of funding
    pnl = (1 / 50_000 - 1 / 45_000) * 1_000_000
    assert acc.wallets["fi_xbtusd"]["XBT"] == approx(after_open + pnl + funding)


# --------------------------------------------------------- history paging


def test_history_pages_with_a_continuation_token() -> None:
    engine, _ = make()
    for i in range(5):
        send(engine, order("ioc", "PF_XBTUSD", "buy", 0.1, limit_price=50_010.0), T0 + i * 1000)
    first = engine.history("acc-1", "executions", T0 + 10_000, count=2)
    assert first["len"] == "2"
    assert "continuationToken" in first
    times = [e["timestamp"] for e in first["elements"]]
    assert times == [str(T0 + 4000), str(T0 + 3000)]
    second = engine.history(
        "acc-1", "executions", T0 + 10_000, count=2, token=first["continuationToken"]
    )
    third = engine.history(
        "acc-1", "executions", T0 + 10_000, count=2, token=second["continuationToken"]
    )
    assert [e["timestamp"] for e in second["elements"] + third["elements"]] == [
        str(T0 + 2000),
        str(T0 + 1000),
        str(T0),
    ]
    assert "continuationToken" not in third
    ascending = engine.history(
        "acc-1", "executions", T0 + 10_000, sort="asc", since=T0 + 1000, before=T0 + 3000
    )
    assert [e["timestamp"] for e in ascending["elements"]] == [str(T0 + 1000), str(T0 + 2000)]
    with pytest.raises(SimError):
        engine.history(
            "acc-1", "executions", T0 + 10_000, sort="asc", token=first["continuationToken"]
        )


def test_history_filters_orders_and_positions() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_000.0))
    send(engine, order("mkt", "PF_XBTUSD", "buy", 0.1))
    send(engine, order("mkt", "PF_XBTUSD", "sell", 0.1), T0 + 1)
    opened = engine.history("acc-1", "orders", T0 + 2, filters={"opened": True})
    assert {next(iter(e["event"])) for e in opened["elements"]} == {"OrderPlaced"}
    closed = engine.history("acc-1", "positions", T0 + 2, filters={"closed": True})
    assert [e["positionChange"] for e in closed["elements"]] == ["close"]
    assert closed["elements"][0]["updateReason"] == "trade"
    assert engine.history("acc-1", "positions", T0 + 2, tradeable="pi_xbtusd")["elements"] == []


def test_account_log_pages_by_id_and_time() -> None:
    engine, _ = make()
    for i in range(3):
        send(engine, order("ioc", "PF_XBTUSD", "buy", 0.1, limit_price=50_010.0), T0 + i * 1000)
    everything = engine.account_log("acc-1", T0 + 5000)["logs"]
    assert [r["id"] for r in everything] == [6, 5, 4, 3, 2, 1]
    by_id = engine.account_log("acc-1", T0 + 5000, from_id=2, to_id=4, sort="asc")["logs"]
    assert [r["id"] for r in by_id] == [2, 3, 4]
    by_time = engine.account_log("acc-1", T0 + 5000, since=T0 + 1000, before=T0 + 2000)["logs"]
    assert [r["id"] for r in by_time] == [4, 3]
    assert [r["id"] for r in engine.account_log("acc-1", T0 + 5000, count=2)["logs"]] == [6, 5]
    assert everything[0]["date"] == "2026-01-05T00:00:02.000Z"
    assert set(everything[0]) >= {"booking_uid", "margin_account", "collateral", "liquidation_fee"}


# ------------------------------------------------- determinism and events


def _script(engine: Engine, market: FakeMarket) -> list[Any]:
    answers: list[Any] = [
        send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=49_900.0, cli_ord_id="a")),
        send(engine, order("mkt", "PI_XBTUSD", "sell", 5_000)),
    ]
    market.set_price("PF_XBTUSD", "last", T0 + 5 * MIN, 49_800.0)
    engine.advance(T0 + 2 * HOUR)
    answers.append(engine.history("acc-1", "executions", T0 + 2 * HOUR))
    answers.append(engine.account_log("acc-1", T0 + 2 * HOUR))
    answers.append(engine.ws_snapshot("balances", "acc-1", T0 + 2 * HOUR))
    return answers


def test_same_seed_and_requests_give_identical_answers() -> None:
    first = _script(*make())
    second = _script(*make())
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    market = FakeMarket()
    other = Engine(market, seed=43)
    other.advance(T0)
    assert json.dumps(_script(other, market), sort_keys=True) != json.dumps(first, sort_keys=True)


def test_listeners_receive_private_feed_messages() -> None:
    engine, _ = make()
    seen: list[tuple[str, str, dict[str, Any]]] = []
    engine.listeners.append(lambda feed, account, message: seen.append((feed, account, message)))
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))
    feeds = [feed for feed, _, _ in seen]
    assert feeds[:2] == ["fills", "open_orders"]
    assert set(feeds) == {"fills", "open_orders", "open_positions", "balances"}
    fill = next(m for f, _, m in seen if f == "fills")["fills"][0]
    assert (fill["qty"], fill["price"], fill["buy"], fill["fill_type"]) == (
        0.5,
        50_010.0,
        True,
        "taker",
    )
    positions = next(m for f, _, m in seen if f == "open_positions")["positions"]
    assert positions[0]["balance"] == 0.5
    assert positions[0]["pnl_currency"] == "USD"
    new_order = next(m for f, _, m in seen if f == "open_orders")
    assert new_order["reason"] == "new_placed_order_by_user"
    assert new_order["order"]["direction"] == 0


def test_ws_snapshots_have_the_documented_shapes() -> None:
    engine, _ = make()
    send(engine, order("lmt", "PF_XBTUSD", "buy", 1.0, limit_price=50_010.0))
    orders = engine.ws_snapshot("open_orders", "acc-1", T0)
    assert orders["feed"] == "open_orders_snapshot"
    assert orders["orders"][0]["filled"] == 0.5
    fills = engine.ws_snapshot("fills", "acc-1", T0)
    assert fills["feed"] == "fills_snapshot"
    assert "cli_ord_id" not in fills["fills"][0]
    balances = engine.ws_snapshot("balances", "acc-1", T0)
    assert balances["feed"] == "balances_snapshot"
    assert balances["futures"]["F-XBT:USD"]["balance"] == 1.0
    assert balances["flex_futures"]["initial_margin"] == approx(0.02 * 50_000)
    with pytest.raises(KeyError):
        engine.ws_snapshot("nonsense", "acc-1", T0)


def test_a_wallet_holding_a_coin_is_checked_every_step_not_banded() -> None:
    """Flex collateral in XBT: equity moves with XBT's price, not only with the position's
    mark, so a safe band around the mark must not stand in for the full check."""

    class CoinMarket(FakeMarket):
        def usd_value(self, currency: str, t_ms: int) -> float:
            if currency == "XBT":
                return self._at("PF_XBTUSD", "index", t_ms)
            return super().usd_value(currency, t_ms)

    market = CoinMarket()
    eth = _spec("PF_ETHUSD", base="ETH")
    market.specs[eth.symbol] = eth
    for signal in ("mark", "index", "last"):
        market.schedule[eth.symbol, signal] = [(0, 3_000.0)]
    market.books[eth.symbol] = ([(2_999.0, 1_000.0)], [(3_000.0, 1_000.0)])
    engine = Engine(market, seed=42)
    engine.advance(T0)
    acc = engine.account("acc-1", T0)
    engine.ledger.set_balance(acc, "flex", "USD", 0.0)
    engine.ledger.set_balance(acc, "flex", "XBT", 2.0)  # 100,000 USD at 50,000
    assert send(engine, order("mkt", "PF_ETHUSD", "buy", 50.0))["status"] == "placed"
    engine.advance(T0 + 5 * MIN)
    assert acc.positions["PF_ETHUSD"].size == 50.0  # the ETH mark never moves
    market.set_price("PF_XBTUSD", "index", T0 + 10 * MIN, 100.0)  # the collateral: 200 USD
    engine.advance(T0 + 20 * MIN)
    assert acc.positions == {}
    assert (acc.fills[-1].fill_type, acc.fills[-1].time_ms) == ("liquidation", T0 + 10 * MIN)
