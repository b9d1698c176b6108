"""End to end on the seeded market: a resting buy fills when the market trades through it,
and position, entry, fee, margin, balances and hourly funding match hand-computed numbers.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import kfresearch
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"
HOUR = 3_600_000
V3 = "/derivatives/api/v3"
MAKER = 0.0002  # 0.02 %


def _resting_bid_that_will_fill(exchange: SimExchange, symbol: str, tick: float) -> tuple[float, int]:
    """A price under the best bid that the market's trades reach later, and when they first do."""
    market, now = exchange.market, exchange.clock.now_ms()
    best_bid = market.book(symbol, now, 1)[0][0][0]
    lowest = market.extremes(symbol, "last", now, now + 12 * HOUR)
    assert lowest is not None
    price = math.floor((lowest[0] + best_bid) / 2 / tick) * tick
    assert price < best_bid, "the seed's next 12 hours must dip below the bid"
    t = now
    while True:  # first minute whose trades go through the price
        low = market.extremes(symbol, "last", t, t + 60_000)
        if low is not None and low[0] <= price:
            return price, t + 60_000
        t += 60_000


@pytest.fixture
def sim() -> tuple[SimExchange, kfresearch.Client]:
    exchange = SimExchange(seed=42, clock=SimClock.fixed(NOW))
    return exchange, kfresearch.Client("sim", exchange=exchange)


def _order(kf: kfresearch.Client, **params: Any) -> dict[str, Any]:
    body = kf.request("POST", f"{V3}/sendorder", params)
    return dict(body["sendStatus"])


def test_linear_limit_buy_fills_when_traded_through(sim: tuple[SimExchange, kfresearch.Client]) -> None:
    exchange, kf = sim
    price, fills_by = _resting_bid_that_will_fill(exchange, "PF_XBTUSD", 1.0)
    status = _order(kf, orderType="lmt", symbol="PF_XBTUSD", side="buy", size=0.1, limitPrice=price)
    assert status["status"] == "placed"
    assert kf.positions().empty
    exchange.advance(fills_by - exchange.clock.now_ms() - 60_000)  # not yet through
    assert kf.positions().empty
    exchange.advance(60_000)
    position = kf.positions().loc["PF_XBTUSD"]
    assert position["size"] == pytest.approx(0.1)
    assert position["entry_price"] == pytest.approx(price)
    fee = 0.1 * price * MAKER
    flex = kf.request("GET", f"{V3}/accounts", private=True)["accounts"]["flex"]
    assert flex["currencies"]["USD"]["quantity"] == pytest.approx(100_000 - fee)
    mark = exchange.market.mark_price("PF_XBTUSD", exchange.clock.now_ms())
    assert flex["initialMargin"] == pytest.approx(0.1 * mark * 0.02, rel=1e-9)  # first tier: 2 %
    assert flex["maintenanceMargin"] == pytest.approx(0.1 * mark * 0.01, rel=1e-9)
    fills = kf.fills()
    assert fills["price"].tolist() == [price]
    assert fills["fill_type"].tolist() == ["maker"]


def test_inverse_limit_buy_and_hourly_funding(sim: tuple[SimExchange, kfresearch.Client]) -> None:
    exchange, kf = sim
    price, fills_by = _resting_bid_that_will_fill(exchange, "PI_XBTUSD", 0.5)
    _order(kf, orderType="lmt", symbol="PI_XBTUSD", side="buy", size=10_000, limitPrice=price)
    exchange.advance(fills_by - exchange.clock.now_ms())
    position = kf.positions().loc["PI_XBTUSD"]
    assert position["size"] == pytest.approx(10_000)
    assert position["entry_price"] == pytest.approx(price)
    fee_xbt = 10_000 / price * MAKER  # inverse: fees in coin on notional = contracts / price
    wallet = kf.request("GET", f"{V3}/accounts", private=True)["accounts"]["fi_xbtusd"]
    assert float(wallet["balances"]["xbt"]) == pytest.approx(1.0 - fee_xbt, rel=1e-12)
    now = exchange.clock.now_ms()
    mark = exchange.market.mark_price("PI_XBTUSD", now)
    assert wallet["marginRequirements"]["im"] == pytest.approx(10_000 / mark * 0.02, rel=1e-9)

    # hold through two whole funding hours: each pays -size x absolute rate, in XBT
    first_full_hour = (now // HOUR + 1) * HOUR
    exchange.advance(first_full_hour + 2 * HOUR - now)
    log = kf.account_log(since="2d", info="funding rate change")
    paid = {int(t.value // 1_000_000): amount for t, amount in log["realized_funding"].items()}
    for hour_end in (first_full_hour + HOUR, first_full_hour + 2 * HOUR):
        rate = exchange.market.funding_rate("PI_XBTUSD", hour_end - HOUR)[0]
        assert paid[hour_end] == pytest.approx(-10_000 * rate, rel=1e-9, abs=1e-15)
