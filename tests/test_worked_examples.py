"""Worked examples: every figure computed by hand from the reference's formulas (§7), then
read back from the frames a user gets, to the cent (USD) or the satoshi (coin).

The market is scripted (round prices, fixed books, a fixed funding rate), the
exchange is the in-package simulator behind the real client, and each number
below is worked out in the test from:

* §7.3 PnL: linear ``(exit − entry) × size`` USD; inverse
  ``(1/entry − 1/exit) × contracts`` coin. Entry prices average
  arithmetically (linear) or harmonically (inverse: a contract's coin value is
  ``1/price``).
* §4.22 fees: a fraction of notional (USD for linear, ``contracts / price``
  coin for inverse) by 30-day volume tier (0.05 % taker below 100k USD,
  0.04 % from 100k, 0.03 % from 1M).
* §7.4 margin: tiered by tranche (notional for linear, contracts for inverse).
* §7.5 funding: absolute rate per contract per hour, accrued by the minute,
  paid at the end of each hour or when the position changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch import frames
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock, parse_time_ms
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.instruments import FEE_SCHEDULE_UID, InstrumentSpec, MarginTier
from kfresearch.sim.public_api import instrument_json
from kfresearch.sim.routing import iso
from kfresearch.sim.source import Level

T0 = parse_time_ms("2026-01-05T00:00:00Z")  # a Monday, an hour boundary
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
EXPIRY = T0 + 73 * DAY  # FF_XBTUSD_260319 stops trading at 16:00 London (UTC in winter)
CENT = 0.005  # half a cent: "to the cent"
SATOSHI = 5e-9  # half a satoshi


def usd(value: float) -> Any:
    return pytest.approx(value, abs=CENT)


def coin(value: float) -> Any:
    return pytest.approx(value, abs=SATOSHI)


def _spec(symbol: str, **changes: Any) -> InstrumentSpec:
    linear = InstrumentSpec(
        symbol=symbol,
        type="flexible_futures",
        base=symbol[3:6],
        quote="USD",
        tick_size=1.0,
        contract_size=1.0,
        precision=4,
        max_position_size=1_000.0,
        impact_mid_size=1.0,
        # the multi-collateral class A tiers of §7.4: 2 %/1 % to 1M USD, then 4 %/2 %
        margin_levels=(MarginTier(0, 0.02, 0.01), MarginTier(1_000_000, 0.04, 0.02)),
        retail_margin_levels=(MarginTier(0, 0.5, 0.25),),
        opening_date_ms=T0 - 365 * DAY,
        fee_schedule_uid=FEE_SCHEDULE_UID,
        tag="perpetual",
        funding_rate_coefficient=8.0,
        max_relative_funding_rate=0.001,
    )
    return replace(linear, **changes)


def _inverse(symbol: str) -> InstrumentSpec:
    return _spec(
        symbol,
        type="futures_inverse",
        tick_size=0.5,
        precision=0,
        max_position_size=10_000_000.0,
        # the inverse tiers of §7.4, by contracts: 2 %/1 % to 500k, then 4 %/2 %
        margin_levels=(MarginTier(0, 0.02, 0.01), MarginTier(500_000, 0.04, 0.02)),
    )


SPECS = {
    s.symbol: s
    for s in (
        _spec("PF_XBTUSD"),
        _spec("PF_ETHUSD", tick_size=0.1, precision=3),
        _inverse("PI_XBTUSD"),
        _inverse("PI_ETHUSD"),
        _spec(
            "FF_XBTUSD_260319",
            tag="quarter",
            last_trading_time_ms=EXPIRY,
            funding_rate_coefficient=None,
            max_relative_funding_rate=None,
        ),
    )
}


class ScriptedMarket:
    """A :class:`kfresearch.sim.source.MarketSource` whose prices, books and funding a test writes.

    Every price and book holds from the time it is set until the next one.
    """

    def __init__(self) -> None:
        self.prices: dict[tuple[str, str], list[tuple[int, float]]] = {}
        self.books: dict[str, list[tuple[int, tuple[list[Level], list[Level]]]]] = {}
        self.funding: dict[str, float] = {}
        for symbol in SPECS:
            self.set_price(symbol, 0, 50_000.0)
            self.set_book(symbol, 0, [(49_990.0, 1e9)], [(50_010.0, 1e9)])

    def set_price(
        self, symbol: str, t: int, mark: float, index: float | None = None
    ) -> None:
        for signal, price in (("mark", mark), ("last", mark), ("index", index or mark)):
            self.prices.setdefault((symbol, signal), []).append((t, price))
            self.prices[symbol, signal].sort()

    def set_book(self, symbol: str, t: int, bids: list[Level], asks: list[Level]) -> None:
        self.books.setdefault(symbol, []).append((t, (bids, asks)))
        self.books[symbol].sort(key=lambda item: item[0])

    def _at(self, symbol: str, signal: str, t: int) -> float:
        return [p for start, p in self.prices[symbol.upper(), signal] if start <= t][-1]

    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        return [s for s in SPECS.values() if s.is_listed(now_ms)]

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        return SPECS.get(symbol.upper())

    def index_price(self, symbol: str, t_ms: int) -> float:
        return self._at(symbol, "index", t_ms)

    def mark_price(self, symbol: str, t_ms: int) -> float:
        return self._at(symbol, "mark", t_ms)

    def last_price(self, symbol: str, t_ms: int) -> float:
        return self._at(symbol, "last", t_ms)

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        bids, asks = [b for start, b in self.books[symbol.upper()] if start <= t_ms][-1]
        return list(bids[:depth]), list(asks[:depth])

    def extremes(
        self, symbol: str, signal: str, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        points = self.prices[symbol.upper(), signal]
        seen = [self._at(symbol, signal, t0_ms + 1)] + [p for t, p in points if t0_ms < t <= t1_ms]
        return min(seen), max(seen)

    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        absolute = self.funding.get(symbol.upper(), 0.0)
        index = self.index_price(symbol, hour_ms)
        relative = absolute * index if SPECS[symbol.upper()].is_inverse else absolute / index
        return absolute, relative

    def usd_value(self, currency: str, t_ms: int) -> float:
        return 1.0 if currency == "USD" else self.index_price(f"PI_{currency}USD", t_ms)


class Desk:
    """The client on a simulator over a scripted market, and the frames a user reads."""

    def __init__(self) -> None:
        self.market = ScriptedMarket()
        clock = SimClock.fixed(iso(T0))
        # rate limits are not what these examples are about: a rate clock that refills at once
        exchange = SimExchange(seed=1, clock=clock, market=self.market,
                               rate_clock=itertools.count(0.0, 1_000.0).__next__)
        self.kf = kfresearch.connect("sim", exchange=exchange, limiter=RateLimiter.unlimited())

    @property
    def now(self) -> int:
        return self.kf.sim.clock.now_ms()

    def at(self, t: int) -> None:
        self.kf.sim.advance(t - self.now)

    def trade(self, symbol: str, side: str, size: float) -> Any:
        return self.kf.place_order(symbol, side, size, order_type="mkt", validate=False)

    def log(self) -> pd.DataFrame:
        """The account log's cash rows (position legs are contract sizes, not money)."""
        log = self.kf.account_log(since=T0 - DAY)
        return log[~log["is_position_leg"]]

    def positions(self) -> pd.DataFrame:
        body = self.kf.request("GET", "/derivatives/api/v3/openpositions", private=True)
        marks = [{"symbol": s, "markPrice": self.market.mark_price(s, self.now)} for s in SPECS]
        return frames.positions(body, {"result": "success", "tickers": marks})

    def accounts(self) -> pd.DataFrame:
        def get(path: str, private: bool = True) -> Any:
            return self.kf.request("GET", f"/derivatives/api/v3/{path}", private=private)

        instruments = {"instruments": [instrument_json(s) for s in SPECS.values()]}
        frame = frames.accounts(
            get("accounts"), get("feeschedules", False), get("feeschedules/volumes"), instruments
        )
        # one row per margin wallet: the flex summary (no quantity) and each fi_… wallet
        summary = (frame["account"] != "flex") | frame["quantity"].isna()
        return frame[summary & (frame["account"] != "cash")].set_index("account")


@pytest.fixture
def desk() -> Iterator[Desk]:
    made = Desk()
    yield made
    made.kf.close()


def replay(fills: pd.DataFrame) -> dict[str, float]:
    """Realised PnL of each fill, rebuilt from the fills alone in the frame's order (§7.3)."""
    realised: dict[str, float] = {}
    book: dict[str, tuple[float, float]] = {}  # symbol -> (signed size, entry)
    for row in fills.itertuples():
        inverse = row.symbol.startswith(("PI_", "FI_"))
        size, entry = book.get(row.symbol, (0.0, 0.0))
        signed = row.size if row.side == "buy" else -row.size
        closed = min(abs(signed), abs(size)) if size * signed < 0 else 0.0
        direction = 1.0 if size > 0 else -1.0
        if inverse:
            pnl = (1 / entry - 1 / row.price) * closed * direction if closed else 0.0
        else:
            pnl = (row.price - entry) * closed * direction if closed else 0.0
        realised[row.fill_id] = pnl
        new = size + signed
        if abs(new) < 1e-12:
            book[row.symbol] = (0.0, 0.0)
        elif size * signed >= 0:  # open or increase: average the entry
            if inverse:
                entry = (abs(size) + abs(signed)) / (abs(size) / entry + abs(signed) / row.price) \
                    if size else row.price
            else:
                entry = (abs(size) * entry + abs(signed) * row.price) / (abs(size) + abs(signed))
            book[row.symbol] = (new, entry)
        elif new * size > 0:  # decrease: the entry stays
            book[row.symbol] = (new, entry)
        else:  # reversal: the rest opens at this fill's price
            book[row.symbol] = (new, row.price)
    return realised


def by_execution(log: pd.DataFrame) -> dict[str, float]:
    trades = log[log["execution"].notna()]
    return dict(zip(trades["execution"], trades["realized_pnl"], strict=True))


# --------------------------------------------------------------------------- round trips


def test_linear_round_trip_and_fees_at_two_tiers(desk: Desk) -> None:
    """§7.3's own example: 5 BTC from 35,000 to 40,000 is 25,000 USD."""
    m = desk.market
    m.set_price("PF_XBTUSD", T0, 35_000.0)
    m.set_book("PF_XBTUSD", T0, [(34_990.0, 10.0)], [(35_000.0, 10.0)])
    opened = desk.trade("PF_XBTUSD", "buy", 5)
    assert (opened.filled, opened.avg_fill_price) == (5.0, 35_000.0)
    fee_open = 5 * 35_000 * 0.0005  # tier 0: 87.50
    # 175,000 USD traded: the account is in the second tier from now on
    rates = desk.accounts().loc["flex"]
    assert (rates["fee_tier"], rates["fee_volume_usd"]) == (1, usd(175_000.0))
    assert (rates["maker_fee"], rates["taker_fee"]) == (pytest.approx(0.00015), 0.0004)

    desk.at(T0 + MIN)
    m.set_price("PF_XBTUSD", T0 + MIN, 40_000.0)
    m.set_book("PF_XBTUSD", T0 + MIN, [(40_000.0, 10.0)], [(40_010.0, 10.0)])
    desk.trade("PF_XBTUSD", "sell", 5)
    pnl = (40_000 - 35_000) * 5  # 25,000
    fee_close = 5 * 40_000 * 0.0004  # tier 1: 80.00

    log = desk.log()
    assert log["currency"].tolist() == ["USD", "USD"]
    assert log["realized_pnl"].tolist() == [usd(0.0), usd(pnl)]
    assert log["fee"].tolist() == [usd(fee_open), usd(fee_close)]
    assert log["fee_usd"].tolist() == [usd(fee_open), usd(fee_close)]
    assert log["new_balance"].iloc[-1] == usd(100_000 - fee_open + pnl - fee_close)  # 124,832.50
    ex = desk.kf.executions(since=T0 - DAY)
    assert ex["fee"].tolist() == [usd(fee_open), usd(fee_close)]
    assert [info[0]["percentageFee"] for info in ex["fee_calculation_info"]] == ["0.05", "0.04"]
    assert sum(replay(desk.kf.fills()).values()) == usd(pnl)


def test_inverse_round_trip_in_the_coin(desk: Desk) -> None:
    """§7.3's own example: buy 10,000 PI_ETHUSD at 2,500, sell at 2,800: 0.42857 ETH."""
    m = desk.market
    m.set_price("PI_ETHUSD", T0, 2_500.0)
    m.set_book("PI_ETHUSD", T0, [(2_499.5, 50_000.0)], [(2_500.0, 50_000.0)])
    desk.trade("PI_ETHUSD", "buy", 10_000)
    fee_open = 10_000 / 2_500 * 0.0005  # 0.002 ETH

    desk.at(T0 + MIN)
    m.set_price("PI_ETHUSD", T0 + MIN, 2_800.0)
    position = desk.positions().loc["PI_ETHUSD"]
    pnl = (1 / 2_500 - 1 / 2_800) * 10_000  # 0.42857143 ETH
    assert position["currency"] == "ETH"
    assert position["notional"] == 10_000.0  # USD: 1 USD a contract
    assert position["unrealized_pnl"] == coin(pnl)
    assert position["unrealized_pnl_usd"] == usd(pnl * 2_800)  # 1,200.00 at the mark

    m.set_book("PI_ETHUSD", T0 + MIN, [(2_800.0, 50_000.0)], [(2_800.5, 50_000.0)])
    desk.trade("PI_ETHUSD", "sell", 10_000)
    fee_close = 10_000 / 2_800 * 0.0005  # still tier 0: 20,000 USD traded

    log = desk.log()
    assert log["currency"].tolist() == ["ETH", "ETH"]
    assert log["realized_pnl"].tolist() == [coin(0.0), coin(pnl)]
    assert log["realized_pnl_usd"].iloc[-1] == usd(1_200.0)  # coin × the mark of the time
    assert log["fee"].tolist() == [coin(fee_open), coin(fee_close)]
    assert log["fee_usd"].tolist() == [usd(fee_open * 2_500), usd(fee_close * 2_800)]
    assert log["new_balance"].iloc[-1] == coin(10 - fee_open + pnl - fee_close)
    assert log["margin_account"].tolist() == ["fi_ethusd", "fi_ethusd"]


# --------------------------------------------------------------------------- reversals


def test_linear_reversal_through_a_walked_book(desk: Desk) -> None:
    """Long 2 at 50,000; a market sell of 5 takes three bids at one instant, then buy back.

    In execution order: 1 at 51,000 closes 1 (+1,000), 1 at 50,900 closes the
    other (+900), 3 at 50,800 open a short at 50,800; buying 3 back at 49,000
    realises 3 × 1,800 = 5,400. Replayed newest first, the same fills would
    give +1,600 / −100 / 0 and a short at 50,933.33.
    """
    m = desk.market
    m.set_book("PF_XBTUSD", T0, [(49_990.0, 10.0)], [(50_000.0, 2.0)])
    m.set_price("PF_XBTUSD", T0, 50_000.0)
    desk.trade("PF_XBTUSD", "buy", 2)
    desk.at(T0 + MIN)
    m.set_book("PF_XBTUSD", T0 + MIN, [(51_000.0, 1.0), (50_900.0, 1.0), (50_800.0, 3.0)],
               [(51_010.0, 10.0)])
    m.set_price("PF_XBTUSD", T0 + MIN, 51_000.0)
    desk.trade("PF_XBTUSD", "sell", 5)
    assert desk.positions().loc["PF_XBTUSD", ["size", "entry_price"]].tolist() == [-3.0, 50_800.0]
    desk.at(T0 + 2 * MIN)
    m.set_book("PF_XBTUSD", T0 + 2 * MIN, [(48_990.0, 10.0)], [(49_000.0, 10.0)])
    m.set_price("PF_XBTUSD", T0 + 2 * MIN, 49_000.0)
    desk.trade("PF_XBTUSD", "buy", 3)

    fills = desk.kf.fills()
    assert fills["price"].tolist() == [50_000.0, 51_000.0, 50_900.0, 50_800.0, 49_000.0]
    assert fills["seq"].tolist() == [0, 1, 2, 3, 4]
    log = desk.log()
    assert log["realized_pnl"].tolist() == [usd(v) for v in (0, 1_000, 900, 0, 5_400)]
    hand = replay(fills)
    assert [hand[i] for i in fills["fill_id"]] == [usd(v) for v in (0, 1_000, 900, 0, 5_400)]
    assert hand == {k: usd(v) for k, v in by_execution(log).items()}


def test_inverse_reversal(desk: Desk) -> None:
    """Long 20,000 PI_XBTUSD at 50,000; sell 50,000 as 10,000 at 51,000 and 40,000 at
    50,500; buy the 30,000 short back at 49,000."""
    m = desk.market
    m.set_book("PI_XBTUSD", T0, [(49_990.0, 1e6)], [(50_000.0, 1e6)])
    desk.trade("PI_XBTUSD", "buy", 20_000)
    desk.at(T0 + MIN)
    m.set_book("PI_XBTUSD", T0 + MIN, [(51_000.0, 10_000.0), (50_500.0, 40_000.0)],
               [(51_010.0, 1e6)])
    m.set_price("PI_XBTUSD", T0 + MIN, 51_000.0)
    desk.trade("PI_XBTUSD", "sell", 50_000)
    desk.at(T0 + 2 * MIN)
    m.set_book("PI_XBTUSD", T0 + 2 * MIN, [(48_990.0, 1e6)], [(49_000.0, 1e6)])
    m.set_price("PI_XBTUSD", T0 + 2 * MIN, 49_000.0)
    desk.trade("PI_XBTUSD", "buy", 30_000)

    expected = [
        0.0,
        (1 / 50_000 - 1 / 51_000) * 10_000,  # 0.00392157 XBT
        (1 / 50_000 - 1 / 50_500) * 10_000,  # 0.00198020 XBT, then short 30,000 at 50,500
        (1 / 49_000 - 1 / 50_500) * 30_000,  # a short gains as the price falls: 0.01818594
    ]
    log = desk.log()
    assert log["currency"].unique().tolist() == ["XBT"]
    assert log["realized_pnl"].tolist() == [coin(v) for v in expected]
    fills = desk.kf.fills()
    hand = replay(fills)
    assert [hand[i] for i in fills["fill_id"]] == [coin(v) for v in expected]
    assert hand == {k: coin(v) for k, v in by_execution(log).items()}


# --------------------------------------------------------------------------- funding


def test_funding_over_partial_hours(desk: Desk) -> None:
    """Long 2 PF_XBTUSD from 00:20 to 02:30 at 3 USD per contract-hour; short 10,000
    PI_XBTUSD over the same time at 1e-8 XBT per contract-hour (shorts receive)."""
    m = desk.market
    m.funding.update({"PF_XBTUSD": 3.0, "PI_XBTUSD": 1e-8})
    desk.at(T0 + 20 * MIN)
    desk.trade("PF_XBTUSD", "buy", 2)
    desk.trade("PI_XBTUSD", "sell", 10_000)
    desk.at(T0 + 150 * MIN)
    desk.trade("PF_XBTUSD", "sell", 2)
    desk.trade("PI_XBTUSD", "buy", 10_000)

    log = desk.log()
    funding = log[log["info"] == "funding rate change"]
    # paid at 01:00 for 40 minutes, at 02:00 for the hour; the last 30 minutes with the close
    assert funding.index.tolist() == [pd.Timestamp(T0 + h * HOUR, unit="ms", tz="UTC")
                                      for h in (1, 1, 2, 2)]
    linear = funding[funding["currency"] == "USD"]["realized_funding"].tolist()
    inverse = funding[funding["currency"] == "XBT"]["realized_funding"].tolist()
    assert linear == [usd(-2 * 3.0 * 40 / 60), usd(-2 * 3.0)]  # -4.00, -6.00
    assert inverse == [coin(10_000 * 1e-8 * 40 / 60), coin(10_000 * 1e-8)]
    closes = log[log["execution"].notna()].iloc[2:]
    assert closes["realized_funding"].tolist() == [usd(-2 * 3.0 * 30 / 60),
                                                   coin(10_000 * 1e-8 * 30 / 60)]
    # the funding rows carry the rate that was paid, stamped at the end of its hour
    assert funding["funding_rate"].tolist() == pytest.approx([3.0, 1e-8, 3.0, 1e-8])


# --------------------------------------------------------------------------- basis, margin


def test_basis_to_expiry_and_settlement(desk: Desk) -> None:
    """A quarterly at 51,000 over an index at 50,000 with 73 days left: basis 1,000 USD,
    2 % of the index, 0.02 × 365 / 73 = 10 % a year; it settles at the index at expiry."""
    m = desk.market
    symbol = "FF_XBTUSD_260319"
    m.set_price(symbol, T0, 51_000.0, index=50_000.0)
    tickers = {"result": "success", "tickers": [
        {"symbol": symbol, "tag": "quarter", "pair": "XBT:USD", "markPrice": 51_000.0,
         "indexPrice": 50_000.0}]}
    instruments = {"result": "success", "instruments": [instrument_json(SPECS[symbol])]}
    row = frames.term_structure(tickers, instruments, now=T0).iloc[0]
    assert row["expiry"] == pd.Timestamp(EXPIRY, unit="ms", tz="UTC")
    assert row["days_to_expiry"] == pytest.approx(73.0)
    assert row["basis"] == 1_000.0
    assert row["relative_basis"] == pytest.approx(0.02)
    assert row["basis_annualised"] == pytest.approx(0.10)

    m.set_book(symbol, T0, [(50_990.0, 10.0)], [(51_000.0, 10.0)])
    desk.trade(symbol, "buy", 1)
    m.set_price(symbol, EXPIRY - HOUR, 50_520.0, index=50_500.0)
    desk.at(EXPIRY + MIN)
    settled = desk.log()
    settled = settled[settled["info"] == "settlement"]
    assert settled["realized_pnl"].tolist() == [usd((50_500 - 51_000) * 1)]  # at the index
    assert settled["trade_price"].tolist() == [50_500.0]
    assert desk.positions().empty


def test_tiered_margin(desk: Desk) -> None:
    """IM and MM by tranche (§7.4): 30 BTC at 50,000 is 1.5M USD of notional; 600,000
    PI_XBTUSD contracts, margined in XBT at the mark."""
    m = desk.market
    m.set_book("PF_XBTUSD", T0, [(49_990.0, 100.0)], [(50_000.0, 100.0)])
    m.set_book("PI_XBTUSD", T0, [(49_990.0, 1e7)], [(50_000.0, 1e7)])
    desk.trade("PF_XBTUSD", "buy", 30)
    desk.trade("PI_XBTUSD", "buy", 600_000)
    wallets = desk.accounts()
    flex, fi = wallets.loc["flex"], wallets.loc["fi_xbtusd"]
    assert flex["initial_margin"] == usd(0.02 * 1_000_000 + 0.04 * 500_000)  # 40,000
    assert flex["maintenance_margin"] == usd(0.01 * 1_000_000 + 0.02 * 500_000)  # 20,000
    assert (flex["currency"], fi["currency"]) == ("USD", "XBT")
    assert fi["initial_margin"] == coin((0.02 * 500_000 + 0.04 * 100_000) / 50_000)  # 0.28
    assert fi["maintenance_margin"] == coin((0.01 * 500_000 + 0.02 * 100_000) / 50_000)  # 0.14


# --------------------------------------------------------------------------- liquidation


def test_cross_liquidation(desk: Desk) -> None:
    """30 BTC long at 50,000 on 100,000 USD. At 47,000 equity is 100,000 − 750 − 90,000
    = 9,250 USD, below MM = 1 % × 1M + 2 % × 410,000 = 18,200: closed at the mark."""
    m = desk.market
    m.set_book("PF_XBTUSD", T0, [(49_990.0, 100.0)], [(50_000.0, 100.0)])
    desk.trade("PF_XBTUSD", "buy", 30)
    m.set_price("PF_XBTUSD", T0 + 10 * MIN, 47_500.0)  # 24,250 > 18,500: still open
    desk.at(T0 + 20 * MIN)
    assert desk.positions().loc["PF_XBTUSD", "size"] == 30.0
    m.set_price("PF_XBTUSD", T0 + 30 * MIN, 47_000.0)
    desk.at(T0 + 40 * MIN)
    assert desk.positions().empty
    fills = desk.kf.fills()
    assert fills["fill_type"].tolist() == ["taker", "liquidation"]
    assert fills.index[-1] == pd.Timestamp(T0 + 30 * MIN, unit="ms", tz="UTC")
    log = desk.log()
    closed = log[log["info"] == "futures liquidation"].iloc[0]
    fee = 30 * 47_000 * 0.0003  # 1.5M USD traded before: the third tier
    assert closed["realized_pnl"] == usd(-90_000.0)
    assert closed["fee"] == usd(fee)
    assert closed["new_balance"] == usd(100_000 - 750 - 90_000 - fee)


def test_isolated_position_is_liquidated_alone(desk: Desk) -> None:
    """PF_XBTUSD isolated at 10x: 2 BTC at 50,000 hold 2 × 50,000 / 10 = 10,000 USD.

    Its equity 10,000 + 2 (P − 50,000) meets MM 1 % × 2P at P = 45,454.55; at
    45,000 it is −10 %: the isolated position goes, and with it at most its
    10,000 USD, while the flex wallet's 90,000 USD and a cross ETH long stay.
    """
    m = desk.market
    desk.kf.request("PUT", "/derivatives/api/v3/leveragepreferences",
                    {"symbol": "PF_XBTUSD", "maxLeverage": 10}, private=True)
    m.set_book("PF_XBTUSD", T0, [(49_990.0, 100.0)], [(50_000.0, 100.0)])
    m.set_book("PF_ETHUSD", T0, [(2_999.0, 100.0)], [(3_000.0, 100.0)])
    m.set_price("PF_ETHUSD", T0, 3_000.0)
    desk.trade("PF_XBTUSD", "buy", 2)
    desk.trade("PF_ETHUSD", "buy", 1)
    m.set_price("PF_XBTUSD", T0 + 10 * MIN, 45_600.0)  # 10,000 − 8,800 = 1,200 > 912
    desk.at(T0 + 20 * MIN)
    assert set(desk.positions().index) == {"PF_XBTUSD", "PF_ETHUSD"}
    m.set_price("PF_XBTUSD", T0 + 30 * MIN, 45_000.0)  # 10,000 − 10,000 = 0 < 900
    desk.at(T0 + 40 * MIN)
    assert desk.positions().index.tolist() == ["PF_ETHUSD"]
    log = desk.log()
    closed = log[log["info"] == "futures liquidation"]
    fee = 2 * 45_000 * 0.0004  # 103,000 USD traded before: the second tier
    assert closed["realized_pnl"].tolist() == [usd(2 * (45_000 - 50_000))]
    assert closed["fee"].tolist() == [usd(fee)]
    opening_fees = (2 * 50_000 + 3_000) * 0.0005
    assert closed["new_balance"].iloc[0] == usd(100_000 - opening_fees - 10_000 - fee)


# --------------------------------------------------------------------------- replay, on the
# synthetic market: many fills at one instant, reversals, both kinds of contract


@pytest.mark.parametrize("seed", [3, 11])
def test_replaying_fills_reproduces_the_account_logs_realised_pnl(seed: int) -> None:
    exchange = SimExchange(seed=seed, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    sizes = {"PF_XBTUSD": [3, -5, 4, -6, 2], "PI_XBTUSD": [90_000, -150_000, 120_000, -60_000]}
    for (symbol, plan), step in itertools.product(sizes.items(), range(5)):
        if step < len(plan):
            size = plan[step]
            kf.place_order(symbol, "buy" if size > 0 else "sell", abs(size), order_type="mkt")
        if step % 2:
            kf.sim.advance(MIN)
    fills = kf.fills()
    assert fills.index.is_monotonic_increasing
    assert (fills.groupby(level=0).size() > 1).any()  # ties to order
    log = kf.account_log(since="1d")
    logged = by_execution(log[~log["is_position_leg"]])
    hand = replay(fills)
    assert set(hand) == set(logged)
    for fill_id, pnl in logged.items():
        assert hand[fill_id] == pytest.approx(pnl, abs=1e-9), fill_id


# --------------------------------------------------------------------------- funding times


def test_funding_rates_join_the_account_log_on_period_end() -> None:
    """``funding_rates()`` stamps a rate at the start of its hour, the log pays it at the end."""
    exchange = SimExchange(seed=7, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    kf = kfresearch.connect("sim", exchange=exchange)
    kf.place_order("PF_XBTUSD", "buy", 2, order_type="mkt")
    kf.sim.advance(3 * HOUR)
    log = kf.account_log(since="1d")
    paid = log[(log["info"] == "funding rate change") & (log["contract"].str.upper() == "PF_XBTUSD")]
    assert len(paid) == 3
    rates = kf.funding_rates("PF_XBTUSD", since="1d")
    assert (rates["period_hours"] == 1.0).all()
    by_end = rates.reset_index().set_index("period_end")
    hourly = by_end[["time", "funding_rate"]].rename(columns={"funding_rate": "funding_rate_hour"})
    joined = paid.join(hourly)
    assert joined["funding_rate_hour"].tolist() == pytest.approx(joined["funding_rate"].tolist())
    assert (joined.index - joined["time"] == pd.Timedelta(hours=1)).all()  # start → payment
    # a whole hour of a 2-contract long: −2 × the hour's absolute rate, in USD
    assert paid["realized_funding"].tolist() == [usd(-2 * r) for r in joined["funding_rate"]]


def test_ticker_relative_funding_is_on_the_funding_rates_basis() -> None:
    """The ticker's relative rate with the index at the start of the hour is the rate
    ``funding_rates()`` reports for that hour; with the current index it is within the
    index's move since then."""
    start = "2026-11-01T00:00:00Z"
    kf = kfresearch.connect("sim", exchange=SimExchange(seed=7, clock=SimClock.fixed(start)))
    kf.sim.advance(40 * MIN)
    body = kf.request("GET", "/derivatives/api/v3/tickers")
    hour = pd.Timestamp(start)
    for symbol in ("PF_XBTUSD", "PI_XBTUSD", "PF_ETHUSD"):
        exchange_rate = kf.funding_rates(symbol, since="1d").loc[hour, "relative_funding_rate"]
        spot = kf.candles(symbol, "1h", since=start, tick_type="spot")
        index_then = float(spot.loc[hour, "open"])
        exact = frames.tickers(body, funding_index={symbol: index_then}).loc[symbol]
        assert exact["relative_funding_rate"] == pytest.approx(exchange_rate, rel=1e-9)
        plain = frames.tickers(body).loc[symbol]
        move = abs(plain["index_price"] / index_then - 1)
        assert plain["relative_funding_rate"] == pytest.approx(exchange_rate, rel=2 * move + 1e-9)


def test_accounts_carry_the_rates_the_next_fill_pays() -> None:
    kf = kfresearch.connect(
        "sim", exchange=SimExchange(seed=7, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    )

    def flex() -> pd.Series:
        wallets = kf.accounts()
        return wallets[(wallets["account"] == "flex") & wallets["quantity"].isna()].iloc[0]

    assert (flex()["fee_tier"], flex()["maker_fee"], flex()["taker_fee"]) == (0, 0.0002, 0.0005)
    kf.place_order("PF_XBTUSD", "buy", 2, order_type="mkt")  # about 170,000 USD
    kf.sim.advance(MIN)
    now = flex()
    assert now["fee_volume_usd"] > 100_000
    assert (now["fee_tier"], now["maker_fee"], now["taker_fee"]) == (1, 0.00015, 0.0004)
    preview = kf.preview_order("PF_XBTUSD", "sell", 2, order_type="mkt")
    assert preview.fee_rate == 0.0004  # the ticket estimates with the account's tier too
    kf.place_order("PF_XBTUSD", "sell", 2, order_type="mkt")
    closing = kf.executions(since="1d").iloc[-1:]
    notional = float((closing["size"] * closing["price"]).sum())
    assert float(closing["fee"].sum()) == usd(notional * now["taker_fee"])


def test_accounts_without_fee_schedules_still_list_the_wallets(desk: Desk) -> None:
    # /instruments (where the fee schedules are read) answers 503
    from kfresearch.sim.faults import Fault

    desk.kf.sim.add_fault(Fault("status", path="/derivatives/api/v3/instruments"))
    wallets = desk.kf.accounts()
    assert set(wallets["account"]) == {"flex", "fi_xbtusd", "fi_ethusd"}
    assert wallets["maker_fee"].isna().all()


def test_paging_back_keeps_a_group_of_fills_the_page_boundary_splits(desk: Desk) -> None:
    """``/fills`` pages hold 100 fills; a market order's 10 fills at one instant end up
    5 on the newest page and 5 beyond it. Every one of the 105 fills comes back, in order."""
    m = desk.market
    levels = [(50_000.0 + 10 * i, 0.1) for i in range(10)]
    m.set_book("PF_XBTUSD", T0, [(49_990.0, 100.0)], levels)
    desk.trade("PF_XBTUSD", "buy", 1.0)  # ten fills at T0
    m.set_book("PF_XBTUSD", T0 + MIN, [(49_990.0, 100.0)], [(50_000.0, 100.0)])
    for i in range(95):
        desk.at(T0 + (i + 1) * 1_000)
        desk.trade("PF_XBTUSD", "sell" if i % 2 else "buy", 0.01)
    fills = desk.kf.fills(since=T0 - DAY)
    assert len(fills) == 105
    assert fills["price"].iloc[:10].tolist() == [p for p, _ in levels]  # the walk, in order
    log = desk.log()
    assert replay(fills) == {k: usd(v) for k, v in by_execution(log).items()}
