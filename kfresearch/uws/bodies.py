"""UWS messages as the v3 REST bodies :mod:`kfresearch.frames` already reads.

The frames, the order results and the widgets were written for the v3 REST
answers. Rather than teach each of them a second vocabulary, the UWS adapter
hands them the body they know: this module turns the data of UWS channels
(reference kraken-unified-ws.md §1.6, §1.8, §6) into ``/instruments``,
``/tickers``, ``/orderbook``, ``/history``, ``/openorders``, ``/fills``,
``/orders/status``, ``/openpositions`` and ``/accounts`` bodies. Pure
functions, no I/O.

Field names: Spot WebSocket v2 names where Spot v2 has the field (``bid_qty``,
``order_qty``, ``cum_qty`` …); derivatives fields the reference did not see
are the v3 REST names in snake_case (``mark_price``, ``open_interest``,
``contract_value_trade_precision``): :func:`camel` maps them back. That rule
is shared with the simulator (``/work/wt/uws-notes.md``, a guess where the
reference is silent, listed in the simulator's README).

Example
-------
>>> body = tickers_body([{"symbol": "PF_XBTUSD", "bid": 97000.5, "bid_qty": 1.2,
...                       "ask": 97001.0, "mark_price": 97000.7, "change_pct": 0.52}])
>>> {k: body["tickers"][0][k] for k in ("bidSize", "markPrice", "change24h")}
{'bidSize': 1.2, 'markPrice': 97000.7, 'change24h': 0.52}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kfresearch.uws.wire import rfc3339, time_ms

__all__ = [
    "accounts_body",
    "camel",
    "camel_keys",
    "candles_body",
    "fill_row",
    "fills_body",
    "instruments_body",
    "is_trigger",
    "open_order_row",
    "open_orders_body",
    "orderbook_body",
    "position_row",
    "positions_body",
    "status_entry",
    "ticker_row",
    "tickers_body",
    "trade_row",
    "trades_body",
    "v3_order_type",
]

Row = Mapping[str, Any]


def camel(name: str) -> str:
    """``mark_price`` → ``markPrice`` (the v3 spelling of a snake_case field).

    >>> camel("contract_value_trade_precision"), camel("symbol")
    ('contractValueTradePrecision', 'symbol')
    """
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(value: Any) -> Any:
    """``value`` with every mapping key camel-cased, recursively (lists too)."""
    if isinstance(value, Mapping):
        return {camel(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def _success(key: str, value: Any, server_ms: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"result": "success", key: value}
    if server_ms is not None:
        body["serverTime"] = rfc3339(server_ms)
    return body


def _latest(rows: Iterable[Row]) -> int | None:
    stamps = [t for r in rows if (t := time_ms(r.get("timestamp"))) is not None]
    return max(stamps, default=None)


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- market data


#: Spot v2 ``pairs`` fields whose v3 twins the row also carries (``tick_size`` …): left
#: out so that ``kf.instruments()`` is the same frame on both protocols
_SPOT_PAIR_FIELDS = frozenset({
    "status", "qty_precision", "qty_increment", "qty_min", "price_precision",
    "price_increment", "marginable", "margin_initial", "position_limit_long",
    "position_limit_short", "cost_precision", "cost_min", "has_index",
})


def instruments_body(rows: Iterable[Row], server_ms: int | None = None) -> dict[str, Any]:
    """The ``instrument`` snapshot's pairs as ``GET /instruments`` (keys camel-cased)."""
    out = [camel_keys({k: v for k, v in r.items() if k not in _SPOT_PAIR_FIELDS}) for r in rows]
    return _success("instruments", out, server_ms)


#: Spot v2 ticker names -> the v3 /tickers names (the others are camel-cased)
_TICKER = {
    "bid_qty": "bidSize",
    "ask_qty": "askSize",
    "volume": "vol24h",
    "low": "low24h",
    "high": "high24h",
    "change_pct": "change24h",
    "open": "open24h",
    "last_qty": "lastSize",
    "last_time": "lastTime",
}


#: not carried over: the body's server time, the relative funding rates the frame
#: derives itself from the absolute ones (as from v3's), and the Spot v2 fields v3's
#: /tickers has no column for (so ``kf.tickers()`` is the same frame on both protocols)
_TICKER_DROP = frozenset({"timestamp", "relative_funding_rate",
                          "relative_funding_rate_prediction", "change", "vwap",
                          "next_funding_rate_time"})


def ticker_row(row: Row) -> dict[str, Any]:
    """One ticker as a ``/tickers`` row (``timestamp`` becomes the body's server time)."""
    return {_TICKER.get(k, camel(k)): v for k, v in row.items() if k not in _TICKER_DROP}


def tickers_body(rows: Iterable[Row], *, single: bool = False) -> dict[str, Any]:
    """``GET /tickers`` (``single``: ``GET /tickers/{symbol}``, one ``ticker``)."""
    rows = list(rows)
    out = [ticker_row(r) for r in rows]
    if single:
        return _success("ticker", out[0] if out else {}, _latest(rows))
    return _success("tickers", out, _latest(rows))


def _levels(levels: Any) -> list[list[float]]:
    out = []
    for level in levels or ():
        price, qty = _num(level.get("price")), _num(level.get("qty"))
        if price is not None and qty is not None and qty != 0.0:
            out.append([price, qty])
    return out


def orderbook_body(row: Row) -> dict[str, Any]:
    """A ``book`` snapshot as ``GET /orderbook`` (bids best first, asks best first)."""
    bids = sorted(_levels(row.get("bids")), key=lambda lv: -lv[0])
    asks = sorted(_levels(row.get("asks")), key=lambda lv: lv[0])
    return _success(
        "orderBook", {"bids": bids, "asks": asks}, time_ms(row.get("timestamp"))
    )


def trade_row(row: Row) -> dict[str, Any]:
    """A ``trade`` as a ``GET /history`` row (``ord_type`` kept; ``uid`` is the trade id)."""
    trade_id = row.get("trade_id")
    return {
        "time": row.get("timestamp"),
        "trade_id": trade_id,
        "uid": None if trade_id is None else str(trade_id),
        "price": row.get("price"),
        "size": row.get("qty"),
        "side": row.get("side"),
        "ord_type": row.get("ord_type"),
        "symbol": row.get("symbol"),
    }


def trades_body(rows: Iterable[Row]) -> dict[str, Any]:
    """The ``trade`` snapshot as ``GET /history``."""
    rows = list(rows)
    return _success("history", [trade_row(r) for r in rows], _latest(rows))


def candles_body(rows: Iterable[Row]) -> dict[str, Any]:
    """``ohlc`` rows as a Charts API page (``GET /api/charts/v1/…``): time = the candle's
    ``interval_begin`` in epoch ms, ``more_candles`` False (the channel's snapshot is all
    there is, reference §1.6).

    >>> candles_body([{"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0,
    ...                "interval_begin": "2026-11-20T10:00:00.000000Z"}])["candles"][0]["time"]
    1795687200000
    """
    out = [
        {"time": time_ms(r.get("interval_begin")), "open": r.get("open"), "high": r.get("high"),
         "low": r.get("low"), "close": r.get("close"), "volume": r.get("volume")}
        for r in rows
    ]
    return {"candles": out, "more_candles": False}


# --------------------------------------------------------------------------- orders and fills

_TRIGGERED = {
    "stop-loss": "stop",
    "stop-loss-limit": "stop",
    "take-profit": "take_profit",
    "take-profit-limit": "take_profit",
    "trailing-stop": "trailing_stop",
    "trailing-stop-limit": "trailing_stop",
}


def is_trigger(order: Row) -> bool:
    """An order that waits for a trigger (stop, take-profit, trailing stop)."""
    return str(order.get("order_type") or "") in _TRIGGERED


def v3_order_type(order: Row) -> str:
    """The ``/openorders`` ``orderType`` of a UWS order: ``lmt``, ``post``, ``ioc``,
    ``fok``, ``mkt``, ``stop``, ``take_profit`` or ``trailing_stop``.

    >>> v3_order_type({"order_type": "limit", "post_only": True})
    'post'
    """
    kind = str(order.get("order_type") or "limit")
    if kind in _TRIGGERED:
        return _TRIGGERED[kind]
    if kind == "market":
        return "mkt"
    if order.get("post_only"):
        return "post"
    tif = str(order.get("time_in_force") or "gtc").lower()
    return tif if tif in ("ioc", "fok") else "lmt"


def _trigger(order: Row) -> Mapping[str, Any]:
    triggers = order.get("triggers")
    return triggers if isinstance(triggers, Mapping) else {}


def open_order_row(order: Row) -> dict[str, Any]:
    """The state of an open order (merged ``executions`` reports) as an ``/openorders`` row."""
    quantity = _num(order.get("order_qty")) or 0.0
    filled = _num(order.get("cum_qty")) or 0.0
    trigger = _trigger(order)
    return {
        "order_id": order.get("order_id"),
        "cliOrdId": order.get("cl_ord_id"),
        "symbol": order.get("symbol"),
        "side": order.get("side"),
        "orderType": v3_order_type(order),
        "status": "partiallyFilled" if filled > 0 else "untouched",
        "limitPrice": order.get("limit_price"),
        "stopPrice": trigger.get("price") if is_trigger(order) else None,
        "filledSize": filled,
        "unfilledSize": round(quantity - filled, 12),
        "reduceOnly": bool(order.get("reduce_only", False)),
        "triggerSignal": trigger.get("reference") if is_trigger(order) else None,
        "receivedTime": order.get("first_timestamp") or order.get("timestamp"),
        "lastUpdateTime": order.get("timestamp"),
    }


def open_orders_body(orders: Iterable[Row], server_ms: int | None = None) -> dict[str, Any]:
    return _success("openOrders", [open_order_row(o) for o in orders], server_ms)


def fill_row(report: Row) -> dict[str, Any]:
    """An ``executions`` trade report as a ``/fills`` row (plus ``fee_paid``/``fee_currency``)."""
    fees = report.get("fees") or []
    fee = fees[0] if fees and isinstance(fees[0], Mapping) else {}
    liquidity = str(report.get("liquidity_ind") or "").lower()
    return {
        "fill_id": report.get("exec_id"),
        "symbol": report.get("symbol"),
        "side": report.get("side"),
        "order_id": report.get("order_id"),
        "cliOrdId": report.get("cl_ord_id"),
        "size": report.get("last_qty"),
        "price": report.get("last_price"),
        "fillTime": report.get("timestamp"),
        "fillType": {"m": "maker", "t": "taker"}.get(liquidity, liquidity or None),
        "fee_paid": fee.get("qty"),
        "fee_currency": fee.get("asset"),
    }


#: fields of a fill row that ``GET /fills`` does not have (the stream's rows keep them, as
#: WebSocket v1's fills do): left out so that ``kf.fills()`` is the same frame on both
_NOT_IN_FILLS = ("fee_paid", "fee_currency")


def fills_body(reports: Iterable[Row], server_ms: int | None = None) -> dict[str, Any]:
    """Trade reports (newest first, as ``/fills`` lists them)."""
    rows = [
        {k: v for k, v in fill_row(r).items() if k not in _NOT_IN_FILLS} for r in reports
    ]
    rows.sort(key=lambda r: str(r["fillTime"] or ""), reverse=True)
    return _success("fills", rows, server_ms)


_LIFE = {
    "new": "ENTERED_BOOK",
    "pending_new": "ENTERED_BOOK",
    "partially_filled": "ENTERED_BOOK",
    "filled": "FULLY_EXECUTED",
    "canceled": "CANCELLED",
    "cancelled": "CANCELLED",
    "expired": "CANCELLED",
}


def status_entry(order: Row) -> dict[str, Any]:
    """An order's state as an ``/orders/status`` entry (:func:`kfresearch.orders.results.
    status_frame`)."""
    trigger = _trigger(order)
    waiting = is_trigger(order) and not _num(order.get("cum_qty"))
    life = _LIFE.get(str(order.get("order_status") or "new"), "ENTERED_BOOK")
    if waiting and life == "ENTERED_BOOK":
        life = "TRIGGER_PLACED"
    entry: dict[str, Any] = {
        "order": {
            "type": "TRIGGER_ORDER" if is_trigger(order) else "ORDER",
            "orderId": order.get("order_id"),
            "cliOrdId": order.get("cl_ord_id"),
            "symbol": order.get("symbol"),
            "side": order.get("side"),
            "quantity": order.get("order_qty"),
            "filled": order.get("cum_qty") or 0,
            "limitPrice": order.get("limit_price"),
            "reduceOnly": bool(order.get("reduce_only", False)),
            "timestamp": order.get("first_timestamp") or order.get("timestamp"),
            "lastUpdateTimestamp": order.get("timestamp"),
        },
        "status": life,
        "updateReason": order.get("cancel_reason"),
    }
    if is_trigger(order):
        entry["order"]["priceTriggerOptions"] = {
            "triggerPrice": trigger.get("price"),
            "triggerSignal": trigger.get("reference"),
        }
    return entry


# --------------------------------------------------------------------------- account


def position_row(row: Row) -> dict[str, Any]:
    """A ``positions`` row (signed ``size``) as an ``/openpositions`` row."""
    size = _num(row.get("size")) or 0.0
    out: dict[str, Any] = {
        "side": "short" if size < 0 else "long",
        "symbol": row.get("symbol"),
        "price": row.get("entry_price"),
        "size": abs(size),
        "fillTime": row.get("fill_time") or row.get("timestamp"),
        "unrealizedFunding": row.get("unrealized_funding"),
        "pnlCurrency": row.get("pnl_currency"),
    }
    for name in ("unrealized_pnl", "max_fixed_leverage"):
        if name in row:
            out[camel(name)] = row[name]
    return out


def positions_body(rows: Iterable[Row], server_ms: int | None = None) -> dict[str, Any]:
    """Open positions (rows of size 0 are closed positions and left out)."""
    open_rows = [position_row(r) for r in rows if _num(r.get("size"))]
    return _success("openPositions", open_rows, server_ms)


def _flex(row: Row) -> dict[str, Any]:
    wallet: dict[str, Any] = {"type": "multiCollateralMarginAccount"}
    for key, value in row.items():
        if key == "currencies" and isinstance(value, Mapping):
            wallet["currencies"] = {
                str(code): {
                    ("collateral" if k == "collateral_value" else camel(k)): v
                    for k, v in (c or {}).items()
                }
                for code, c in value.items()
            }
        elif key == "initial_margin_without_orders":
            wallet["initialMargin"] = value
        elif key == "initial_margin":
            wallet["initialMarginWithOrders"] = value
        elif key not in ("timestamp",):
            wallet[camel(key)] = value
    return wallet


def _single(row: Row) -> tuple[str, dict[str, Any]]:
    currency = str(row.get("currency") or row.get("unit") or "").lower()
    name = str(row.get("account") or "")
    if not name:
        pair = re.sub(r"[^a-z]", "", str(row.get("pair") or "").lower())
        name = f"fi_{pair}"
    return name, {
        "type": "marginAccount",
        "currency": currency,
        "balances": {currency: row.get("balance")},
        "auxiliary": {
            "pv": row.get("portfolio_value"),
            "pnl": row.get("pnl"),
            "af": row.get("available"),
            "funding": row.get("unrealized_funding"),
        },
        "marginRequirements": {
            "im": row.get("initial_margin"),
            "mm": row.get("maintenance_margin"),
            "lt": row.get("liquidation_threshold"),
            "tt": row.get("termination_threshold"),
        },
    }


def accounts_body(
    multi: Iterable[Row] = (),
    single: Iterable[Row] = (),
    balances: Iterable[Row] = (),
    server_ms: int | None = None,
) -> dict[str, Any]:
    """``GET /accounts`` from the ``margin`` channel's ``multi_collateral`` and
    ``single_collateral`` messages and the ``balances`` snapshot (the cash wallet)."""
    wallets: dict[str, Any] = {}
    cash: dict[str, Any] = {}
    for row in balances:
        asset = str(row.get("asset") or "").lower()
        parts = row.get("wallets")
        if not asset:
            continue
        if isinstance(parts, list):  # the cash wallet is the ``spot`` one (Spot v2 shape)
            spot = [w for w in parts if isinstance(w, Mapping) and w.get("type") == "spot"]
            if spot:
                cash[asset] = sum(_num(w.get("balance")) or 0.0 for w in spot)
        else:
            cash[asset] = row.get("balance")
    wallets["cash"] = {"type": "cashAccount", "balances": cash}
    for row in single:
        name, wallet = _single(row)
        wallets[name] = wallet
    for row in multi:
        wallets["flex"] = _flex(row)
    return _success("accounts", wallets, server_ms)
