"""Kraken Futures WebSocket v1 (reference §3): requests, and messages parsed into events.

Everything v1-specific lives here: the envelope (``event``/``feed``/
``product_ids``), the challenge fields of private requests, the feed names on
the wire (``notifications_auth``), and the translation of each feed's fields
into the REST vocabulary :mod:`kfresearch.frames` reads (``product_id`` →
``symbol``, ``qty`` → ``size``, ``direction`` 0/1 → ``side`` buy/sell, ``balance``
sign → ``side`` long/short …), so the live tables give the same frames as the
client's methods.

Example
-------
>>> v1 = KrakenV1()
>>> v1.parse('{"feed":"book","product_id":"PF_XBTUSD","side":"sell","seq":7,'
...          '"price":34981,"qty":0,"timestamp":1612269953629}')
BookDelta(symbol='PF_XBTUSD', seq=7, time_ms=1612269953629, bid=False, price=34981.0, size=0.0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from kfresearch.auth import ws_challenge_signature
from kfresearch.credentials import Secret
from kfresearch.environments import Environment
from kfresearch.stream.connection import Connector
from kfresearch.stream.events import (
    Answer,
    BookDelta,
    BookSnapshot,
    ChallengeAnswer,
    Event,
    Heartbeat,
    Info,
    Records,
    Refused,
    Unknown,
)

__all__ = ["KrakenV1"]

# stream feed name -> the name on the wire, where they differ
_WIRE = {"notifications": "notifications_auth"}
_STREAM = {wire: name for name, wire in _WIRE.items()} | {
    "open_orders_verbose": "open_orders",
}
# open_orders ``type`` -> the REST ``orderType`` of /openorders
_ORDER_TYPE = {"limit": "lmt", "stop": "stop", "take_profit": "take_profit",
               "trailing_stop": "trailing_stop"}
# ticker fields -> /tickers fields (the rest keep their name, e.g. bid, ask, tag, pair)
_TICKER = {
    "product_id": "symbol",
    "markPrice": "markPrice",
    "index": "indexPrice",
    "bid_size": "bidSize",
    "ask_size": "askSize",
    "volume": "vol24h",
    "change": "change24h",
    "funding_rate": "fundingRate",
    "funding_rate_prediction": "fundingRatePrediction",
    "post_only": "postOnly",
    "next_funding_rate_time": "nextFundingRateTime",
}
# v1-only ticker fields not carried over: the frame derives its own premium
# (a fraction, where v1 sends percent) and relative funding rates
_TICKER_DROP = frozenset({"feed", "time", "premium", "relative_funding_rate",
                          "relative_funding_rate_prediction"})


class KrakenV1:
    """The :class:`~kfresearch.stream.protocol.WireProtocol` of ``wss://futures.kraken.com/ws/v1``."""

    name = "v1"
    book_depth: int | None = None

    def url(self, env: Environment) -> str:
        return env.ws_url

    def connector(self, env: Environment, inner: Connector) -> Connector:
        return inner

    def unsupported(self, feed: str) -> str | None:
        return None

    async def token(self) -> str | None:
        return None  # v1 signs a challenge instead

    def auth_refused(self, message: str) -> bool:
        return False

    def challenge_request(self, api_key: str) -> str | None:
        return orjson.dumps({"event": "challenge", "api_key": api_key}).decode()

    def sign(self, secret: Secret, challenge: str) -> str:
        return ws_challenge_signature(secret, challenge)

    def subscribe(
        self, feed: str, products: tuple[str, ...], auth: tuple[str, str, str] | None
    ) -> str:
        return self._request("subscribe", feed, products, auth)

    def unsubscribe(
        self, feed: str, products: tuple[str, ...], auth: tuple[str, str, str] | None
    ) -> str:
        return self._request("unsubscribe", feed, products, auth)

    @staticmethod
    def _request(
        event: str, feed: str, products: tuple[str, ...], auth: tuple[str, str, str] | None
    ) -> str:
        message: dict[str, Any] = {"event": event, "feed": _WIRE.get(feed, feed)}
        if products:
            message["product_ids"] = list(products)
        if auth is not None:
            key, challenge, signed = auth
            message |= {"api_key": key, "original_challenge": challenge,
                        "signed_challenge": signed}
        return orjson.dumps(message).decode()

    # -- incoming -------------------------------------------------------------------
    def parse(self, text: str | bytes) -> Event:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            return Unknown(text)
        if not isinstance(message, dict):
            return Unknown(message)
        feed = message.get("feed")
        if feed == "book" and "event" not in message:  # the hot path: one level changed
            try:
                return BookDelta(
                    message["product_id"],
                    message.get("seq"),
                    int(message["timestamp"]),
                    message["side"] == "buy",
                    float(message["price"]),
                    float(message["qty"]),
                )
            except (KeyError, TypeError, ValueError):
                return Unknown(message)
        try:
            event = message.get("event")
            if event is not None:
                return _answer(str(event), message)
            parse = _PARSERS.get(str(feed))
            return parse(message) if parse is not None else Unknown(message)
        except (KeyError, TypeError, ValueError, AttributeError):
            return Unknown(message)


def _stream_feed(wire: Any) -> str:
    return _STREAM.get(str(wire), str(wire))


def _answer(event: str, message: Mapping[str, Any]) -> Event:
    products = tuple(str(p) for p in message.get("product_ids") or ())
    feed = message.get("feed")
    if event == "info":
        version = message.get("version")
        return Info(int(version) if version is not None else None)
    if event == "challenge":
        return ChallengeAnswer(str(message["message"]))
    if event in {"subscribed", "unsubscribed"}:
        return Answer(event.removesuffix("d"), _stream_feed(feed), products)
    if event in {"subscribed_failed", "unsubscribed_failed"}:
        return Refused(
            str(message.get("message") or event),
            event.removesuffix("d_failed"),
            _stream_feed(feed) if feed is not None else None,
            products,
        )
    if event in {"error", "alert"}:
        return Refused(str(message.get("message") or event))
    return Unknown(message)


# -- public feeds ----------------------------------------------------------------------


def _book_snapshot(m: Mapping[str, Any]) -> Event:
    return BookSnapshot(
        m["product_id"],
        m.get("seq"),
        int(m["timestamp"]),
        [(float(lv["price"]), float(lv["qty"])) for lv in m.get("bids") or ()],
        [(float(lv["price"]), float(lv["qty"])) for lv in m.get("asks") or ()],
    )


def _trade(t: Mapping[str, Any]) -> dict[str, Any]:
    """A trade as a ``GET /history`` row (``frames.trades``)."""
    return {
        "time": t.get("time"),
        "trade_id": t.get("seq"),
        "price": t.get("price"),
        "size": t.get("qty"),
        "side": t.get("side"),
        "type": t.get("type"),
        "uid": t.get("uid"),
        "symbol": t.get("product_id"),
    }


def _trades(m: Mapping[str, Any]) -> Event:
    if m["feed"] == "trade_snapshot":
        rows = [_trade(t) for t in m.get("trades") or ()]
        return Records("trade", m["product_id"], True, rows, raw=m)
    return Records("trade", m["product_id"], False, [_trade(m)], time_ms=m.get("time"), raw=m)


def _ticker(m: Mapping[str, Any]) -> Event:
    """A ticker as a ``GET /tickers`` row (``frames.tickers``); v1-only fields follow."""
    row = {_TICKER.get(k, k): v for k, v in m.items() if k not in _TICKER_DROP}
    return Records(str(m["feed"]), m["product_id"], False, [row], time_ms=m.get("time"), raw=m)


def _heartbeat(m: Mapping[str, Any]) -> Event:
    return Heartbeat(int(m["time"]))


# -- private feeds ---------------------------------------------------------------------


def _order(o: Mapping[str, Any]) -> dict[str, Any]:
    """An open order as a ``GET /openorders`` row (``frames.open_orders``)."""
    kind = str(o.get("type", "limit"))
    trigger = kind != "limit"
    quantity, filled = float(o.get("qty") or 0.0), float(o.get("filled") or 0.0)
    limit = o.get("limit_price")
    row: dict[str, Any] = {
        "order_id": o["order_id"],
        "cliOrdId": o.get("cli_ord_id"),
        "symbol": o.get("instrument"),
        "side": "buy" if o.get("direction") == 0 else "sell",
        "orderType": _ORDER_TYPE.get(kind, kind),
        "status": "partiallyFilled" if filled > 0 else "untouched",
        # v1 sends 0 where an order has no such price
        "limitPrice": limit if limit not in (None, 0, 0.0) else None,
        "stopPrice": o.get("stop_price") if trigger else None,
        "filledSize": filled,
        "unfilledSize": quantity - filled,
        "reduceOnly": bool(o.get("reduce_only", False)),
        "triggerSignal": o.get("triggerSignal"),
        "receivedTime": o.get("time"),
        "lastUpdateTime": o.get("last_update_time"),
    }
    for extra in ("trailing_stop_options", "limit_price_offset"):
        if extra in o:
            row[extra] = o[extra]
    return row


def _orders(m: Mapping[str, Any]) -> Event:
    if str(m["feed"]).endswith("_snapshot"):
        return Records("open_orders", None, True, [_order(o) for o in m.get("orders") or ()],
                       raw=m)
    order = m.get("order")
    reason = m.get("reason")
    if m.get("is_cancel"):
        order_id = m.get("order_id") or (order or {}).get("order_id")
        return Records("open_orders", None, False, [], removed=(str(order_id),),
                       reason=reason, raw=m)
    if not isinstance(order, Mapping):
        return Unknown(m)
    return Records("open_orders", None, False, [_order(order)], reason=reason, raw=m)


def _fill(f: Mapping[str, Any]) -> dict[str, Any]:
    """A fill as a ``GET /fills`` row (``frames.fills``); fees and order types follow."""
    return {
        "fill_id": f.get("fill_id"),
        "symbol": f.get("instrument"),
        "side": "buy" if f.get("buy") else "sell",
        "order_id": f.get("order_id"),
        "cliOrdId": f.get("cli_ord_id"),
        "size": f.get("qty"),
        "price": f.get("price"),
        "fillTime": f.get("time"),
        "fillType": f.get("fill_type"),
        "fee_paid": f.get("fee_paid"),
        "fee_currency": f.get("fee_currency"),
        "remaining_order_qty": f.get("remaining_order_qty"),
        "order_type": f.get("order_type"),
        "taker_order_type": f.get("taker_order_type"),
    }


def _fills(m: Mapping[str, Any]) -> Event:
    rows = [_fill(f) for f in m.get("fills") or ()]
    return Records("fills", None, str(m["feed"]).endswith("_snapshot"), rows, raw=m)


def _position(p: Mapping[str, Any]) -> dict[str, Any]:
    """A position as a ``GET /openpositions`` row (``frames.positions``), plus the mark
    (``markPrice``, for the frame's PnL) and v1's margin fields."""
    balance = float(p.get("balance") or 0.0)
    row: dict[str, Any] = {
        "side": "long" if balance >= 0 else "short",
        "symbol": p.get("instrument"),
        "price": p.get("entry_price"),
        "size": abs(balance),
        "unrealizedFunding": p.get("unrealized_funding"),
        "pnlCurrency": p.get("pnl_currency"),
        "unrealizedPnl": p.get("pnl"),
        "markPrice": p.get("mark_price"),
    }
    for extra in ("index_price", "liquidation_threshold", "effective_leverage",
                  "return_on_equity", "initial_margin", "initial_margin_with_orders",
                  "maintenance_margin"):
        if extra in p:
            row[extra] = p[extra]
    return row


def _positions(m: Mapping[str, Any]) -> Event:
    rows = [_position(p) for p in m.get("positions") or ()]
    return Records("open_positions", None, True, rows, time_ms=m.get("timestamp"), raw=m)


def _wallets(m: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The wallets a balances message carries, each as a ``GET /accounts`` wallet
    named by ``account`` (a delta carries only the wallets that changed)."""
    out: list[dict[str, Any]] = []
    holding = m.get("holding")
    if holding:
        out.append({"account": "cash", "type": "cashAccount",
                    "balances": {str(c).lower(): v for c, v in holding.items()}})
    for name, w in (m.get("futures") or {}).items():
        unit = str(w.get("unit", "")).lower()
        out.append({
            # "F-XBT:USD" (pair "XBT/USD") is the REST wallet "fi_xbtusd"
            "account": "fi_" + re.sub(r"[^a-z]", "", str(w.get("pair", name)).lower()),
            "type": "marginAccount",
            "currency": unit,
            "balances": {unit: w.get("balance")},
            "auxiliary": {"pv": w.get("portfolio_value"), "pnl": w.get("pnl"),
                          "af": w.get("available"), "funding": w.get("unrealized_funding")},
            "marginRequirements": {"im": w.get("initial_margin"),
                                   "mm": w.get("maintenance_margin")},
        })
    flex = m.get("flex_futures")
    if flex:
        out.append({
            "account": "flex",
            "type": "multiCollateralMarginAccount",
            "currencies": {
                code: {"quantity": c.get("quantity"), "value": c.get("value"),
                       "collateral": c.get("collateral_value"), "available": c.get("available"),
                       "haircut": c.get("haircut")}
                for code, c in (flex.get("currencies") or {}).items()
            },
            "initialMargin": flex.get("initial_margin_without_orders"),
            "initialMarginWithOrders": flex.get("initial_margin"),
            "maintenanceMargin": flex.get("maintenance_margin"),
            "balanceValue": flex.get("balance_value"),
            "portfolioValue": flex.get("portfolio_value"),
            "collateralValue": flex.get("collateral_value"),
            "pnl": flex.get("pnl"),
            "unrealizedFunding": flex.get("unrealized_funding"),
            "totalUnrealized": flex.get("total_unrealized"),
            "totalUnrealizedAsMargin": flex.get("total_unrealized_as_margin"),
            "marginEquity": flex.get("margin_equity"),
            "availableMargin": flex.get("available_margin"),
        })
    return out


def _balances(m: Mapping[str, Any]) -> Event:
    snapshot = str(m["feed"]).endswith("_snapshot")
    return Records("balances", None, snapshot, _wallets(m), time_ms=m.get("timestamp"), raw=m)


def _account_log(m: Mapping[str, Any]) -> Event:
    if m["feed"] == "account_log_snapshot":
        return Records("account_log", None, True, list(m.get("logs") or ()), raw=m)
    rows = [m["new_entry"]] if "new_entry" in m else list(m.get("logs") or ())
    return Records("account_log", None, False, rows, raw=m)


def _notifications(m: Mapping[str, Any]) -> Event:
    rows = [
        {"id": n.get("id"), "type": n.get("type"), "priority": n.get("priority"),
         "note": n.get("note"), "effectiveTime": n.get("effective_time"),
         "expectedDowntimeMinutes": n.get("expected_downtime_minutes")}
        for n in m.get("notifications") or ()
    ]
    return Records("notifications", None, False, rows, raw=m)


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "book_snapshot": _book_snapshot,
    "trade": _trades,
    "trade_snapshot": _trades,
    "ticker": _ticker,
    "ticker_lite": _ticker,
    "heartbeat": _heartbeat,
    "open_orders": _orders,
    "open_orders_snapshot": _orders,
    "open_orders_verbose": _orders,
    "open_orders_verbose_snapshot": _orders,
    "fills": _fills,
    "fills_snapshot": _fills,
    "open_positions": _positions,
    "balances": _balances,
    "balances_snapshot": _balances,
    "account_log": _account_log,
    "account_log_snapshot": _account_log,
    "notifications_auth": _notifications,
}
