"""The order ticket's context and preview: prices, margin, fee, resulting position.

Part of :mod:`kfresearch.orders` (see its docstring for the rules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kfresearch import frames
from kfresearch.endpoints import (
    ACCOUNTS,
    FEESCHEDULE_VOLUMES,
    FEESCHEDULES,
    INSTRUMENTS,
    OPENPOSITIONS,
    TICKER,
)
from kfresearch.errors import UnsupportedCallError, ValidationError
from kfresearch.orders.requests import (
    Send,
    check_send,
)
from kfresearch.orders.rules import (
    InstrumentRules,
    as_float,
    rules_for,
)
from kfresearch.orders.statuses import (
    DEFAULT_MAKER_FEE,
    DEFAULT_TAKER_FEE,
)
from kfresearch.plans import Call, Plan

# --------------------------------------------------------------------------- context, preview


@dataclass(frozen=True)
class OrderContext:
    """What a ticket needs to know about one contract right now.

    Prices in USD, sizes in contracts (``position`` signed: + long),
    ``available_margin`` in :attr:`InstrumentRules.margin_currency`, fee rates (the
    account's tier)
    as fractions (0.0005 = 5 bp).
    """

    rules: InstrumentRules
    bid: float | None = None
    ask: float | None = None
    mark: float | None = None
    last: float | None = None
    position: float = 0.0
    available_margin: float | None = None
    maker_fee_rate: float = DEFAULT_MAKER_FEE
    taker_fee_rate: float = DEFAULT_TAKER_FEE

    @property
    def symbol(self) -> str:
        return self.rules.symbol


@dataclass(frozen=True)
class OrderPreview:
    """What an order would do, before it is sent (see :func:`preview`).

    Attributes
    ----------
    price : float or None
        The price the estimates use (USD): the limit price, else the stop
        price, else the side of the book a market order takes.
    notional_usd : float
        Order size in USD at ``price``.
    initial_margin : float
        Extra initial margin the resulting position needs (margin currency;
        0 when the order reduces the position).
    fee, fee_rate : float
        Estimated fee if it executes (margin currency) and the rate used.
    liquidity : {"maker", "taker"}
    distance_bps : float
        ``(price − mark) / mark`` in basis points (NaN without mark or price).
    position, resulting_position : float
        Signed contracts now and after a complete fill.
    errors : tuple of ValidationError
        The same checks :meth:`kfresearch.Client.place_order` makes.
    """

    order: Send
    context: OrderContext
    price: float | None
    notional_usd: float
    initial_margin: float
    fee: float
    fee_rate: float
    liquidity: str
    distance_bps: float
    position: float
    resulting_position: float
    errors: tuple[ValidationError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def margin_currency(self) -> str:
        return self.context.rules.margin_currency

    def errors_by_field(self) -> dict[str, str]:
        """``{field: message}`` of the first error of each field."""
        out: dict[str, str] = {}
        for error in self.errors:
            out.setdefault(error.field, str(error))
        return out

    def __repr__(self) -> str:
        o = self.order
        return (
            f"<OrderPreview {o.side} {o.size} {self.context.symbol} {o.order_type}: notional "
            f"{self.notional_usd:,.2f} USD, IM {self.initial_margin:,.6g} "
            f"{self.margin_currency}, fee {self.fee:,.6g}, {len(self.errors)} errors>"
        )


def preview(order: Send, context: OrderContext) -> OrderPreview:
    """Estimate notional, margin, fee, distance from mark and resulting position of ``order``.

    Pure: uses only ``context`` (see :meth:`kfresearch.Client.order_context`).

    Examples
    --------
    >>> rules = InstrumentRules.from_instrument({"symbol": "PF_XBTUSD", "tickSize": 1,
    ...     "contractValueTradePrecision": 4, "marginLevels": [
    ...         {"numNonContractUnits": 0, "initialMargin": 0.02}]})
    >>> ctx = OrderContext(rules, bid=79999, ask=80001, mark=80000)
    >>> p = preview(Send("PF_XBTUSD", "buy", 0.5, "mkt"), ctx)
    >>> round(p.notional_usd, 1), round(p.initial_margin, 2), p.liquidity
    (40000.5, 800.01, 'taker')
    """
    order = order.normalised()
    rules = context.rules
    errors = tuple(check_send(order, rules, mark=context.mark, position=context.position))
    size = as_float(order.size) or 0.0
    sign = order.sign if order.side in {"buy", "sell"} else 0
    limit, stop = as_float(order.limit_price), as_float(order.stop_price)
    market_side = context.ask if sign > 0 else context.bid
    price = limit if limit is not None else stop if stop is not None else market_side
    if price is None:
        price = context.mark
    after = context.position + sign * size
    if order.reduce_only and context.position * after < 0:
        after = 0.0  # a reduce-only order is cut at the position
    crossing = limit is not None and market_side is not None and sign * (limit - market_side) >= 0
    taker = order.order_type in {"mkt", "ioc", "fok", "stp", "trailing_stop"} or (
        order.order_type == "lmt" and crossing
    )
    rate = context.taker_fee_rate if taker else context.maker_fee_rate
    notional = rules.notional_usd(size, price) if price else 0.0
    fee = 0.0
    if price:
        fee = notional * rate / price if rules.inverse else notional * rate
    margin = 0.0
    if price:
        margin = max(
            0.0,
            rules.initial_margin(after, price) - rules.initial_margin(context.position, price),
        )
    mark = context.mark
    distance = (price - mark) / mark * 1e4 if price and mark else math.nan
    return OrderPreview(
        order=order,
        context=context,
        price=price,
        notional_usd=notional,
        initial_margin=margin,
        fee=fee,
        fee_rate=rate,
        liquidity="taker" if taker else "maker",
        distance_bps=distance,
        position=context.position,
        resulting_position=after,
        errors=errors,
    )


def ticker_prices(body: Any) -> dict[str, float | None]:
    ticker = body.get("ticker") if isinstance(body, Mapping) else None
    ticker = ticker if isinstance(ticker, Mapping) else {}
    return {
        "bid": as_float(ticker.get("bid")),
        "ask": as_float(ticker.get("ask")),
        "mark": as_float(ticker.get("markPrice")),
        "last": as_float(ticker.get("last")),
    }


def position_of(body: Any, symbol: str) -> float:
    """Signed position in ``symbol`` from an ``openpositions`` body (contracts, + long)."""
    total = 0.0
    for row in (body or {}).get("openPositions") or []:
        if str(row.get("symbol", "")).upper() == symbol.upper():
            size = as_float(row.get("size")) or 0.0
            total += -abs(size) if str(row.get("side", "")).lower() == "short" else abs(size)
    return total


def _available_margin(body: Any, rules: InstrumentRules) -> float | None:
    wallets = (body or {}).get("accounts") or {}
    if rules.inverse:
        wallet = wallets.get(f"fi_{rules.base.lower()}usd") or {}
        return as_float((wallet.get("auxiliary") or {}).get("af"))
    return as_float((wallets.get("flex") or {}).get("availableMargin"))


def _fee_rates(
    accounts: Any, fees: Any, volumes: Any, instruments_body: Any, rules: InstrumentRules
) -> tuple[float, float]:
    """The account's maker/taker rates on the wallet that margins ``rules``' contract: the
    tier its 30-day volume reaches (as :func:`kfresearch.frames.accounts` reads them)."""
    wallets = frames.accounts(accounts, fees, volumes, instruments_body)
    name = f"fi_{rules.base.lower()}usd" if rules.inverse else "flex"
    found = wallets[(wallets["account"] == name) & wallets["maker_fee"].notna()]
    if found.empty:
        return DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE
    return float(found["maker_fee"].iloc[0]), float(found["taker_fee"].iloc[0])


def plan_context(symbol: str, instruments_body: Any) -> Plan[OrderContext]:
    """Rules, prices, position, available margin and fee rates of ``symbol``."""
    if instruments_body is None:
        instruments_body = (yield [Call(INSTRUMENTS)])[0]
    rules = rules_for(instruments_body, symbol)
    reads = [
        Call(TICKER, path_params={"symbol": rules.symbol}),
        Call(OPENPOSITIONS),
        Call(ACCOUNTS),
    ]
    try:
        # the fee schedules first: where they do not exist (the Unified WebSocket) the
        # batch fails before anything is sent, and the reads go without them
        fees, volumes, ticker, positions, accounts = yield [
            Call(FEESCHEDULES),
            Call(FEESCHEDULE_VOLUMES),
            *reads,
        ]
    except UnsupportedCallError:
        fees = volumes = None
        ticker, positions, accounts = yield reads
    maker, taker = _fee_rates(accounts, fees, volumes, instruments_body, rules)
    return OrderContext(
        rules=rules,
        **ticker_prices(ticker),
        position=position_of(positions, rules.symbol),
        available_margin=_available_margin(accounts, rules),
        maker_fee_rate=maker,
        taker_fee_rate=taker,
    )


def plan_preview(order: Send, instruments_body: Any) -> Plan[OrderPreview]:
    """The context of ``order``'s contract, then :func:`preview` (sends no order)."""
    context = yield from plan_context(order.symbol, instruments_body)
    return preview(order, context)
