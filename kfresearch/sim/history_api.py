"""The history service of the simulated exchange (reference §4.7, §4.25), under v2 and v3.

Kraken documents the service under ``/api/history/v3``; clients still call
``/api/history/v2`` and the exchange answers both with the same bodies (§1).
Each path is described once in :data:`LISTINGS` and registered under every
version in :data:`VERSIONS` that serves it; v2 also repeats the continuation
in the ``is-truncated`` and ``next-continuation-token`` response headers, where
Kraken's 2021 sample client read it (§4.7).

Public market events (no key):

* ``market/{tradeable}/executions``: the synthetic market's trades as
  ``Execution`` elements;
* ``market/{tradeable}/orders``: the makers those trades met, as
  ``OrderPlaced`` (when the maker was placed) and ``OrderUpdated`` (when the
  trade filled it, ``full_fill`` or ``partial_fill``) events. The synthetic
  market keeps no other orders, so orders that never traded (and takers,
  which fill on arrival) are not in this listing;
* ``market/{tradeable}/price``: the mark price every 5 s.

The account's own events (history pool): ``executions``, ``orders``,
``triggers``, ``positions`` (v3 only), ``account-log`` and ``accountlogcsv``
(the account log as CSV, newest first, columns as the exchange exports them).

Bodies have no envelope; timestamps, ``len`` and decimals are strings. The
public listings' pages are built once per request window and then served as
the bytes they were (:mod:`kfresearch.sim.history_pages`).
"""

from __future__ import annotations

import base64
import binascii
import csv
import functools
import hashlib
import io
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from kfresearch.sim.engine import Engine
from kfresearch.sim.history_bodies import POSITION_CHANGE_TAGS, POSITION_REASON_TAGS
from kfresearch.sim.history_pages import Built, pages_of
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.market import STEP_MS, SyntheticMarket, Trades
from kfresearch.sim.public_api import synthetic_market
from kfresearch.sim.routing import (
    Answer,
    Context,
    Cost,
    Handler,
    Route,
    SimError,
    dec,
    make_route,
)

__all__ = [
    "ACCOUNT_LOG_CSV_COLUMNS",
    "LISTINGS",
    "VERSIONS",
    "Listing",
    "Version",
    "account_log_cost",
]

Json = dict[str, Any]

MAX_MARKET_COUNT = 1000  # public listings: page size (default and cap)
HISTORY_DEFAULT_COUNT = 500
HISTORY_MAX_COUNT = 1_000  # not published; "the server caps count" (reference §4.7)
ACCOUNT_LOG_MAX_COUNT = 100_000  # the top of the account-log cost table (§6)
# Boolean filters of each account listing (reference §4.25).
HISTORY_FILTERS: dict[str, tuple[str, ...]] = {
    "executions": (),
    "orders": ("opened", "closed"),
    "triggers": ("opened", "closed"),
    "positions": POSITION_CHANGE_TAGS + POSITION_REASON_TAGS,
}
# Account-log cost by requested count (reference §6): (largest count, cost).
ACCOUNT_LOG_COSTS = ((25, 1), (50, 2), (1_000, 3), (5_000, 6), (100_000, 10))
# A synthetic maker rests from 1 s to 10 min before its trade (see _maker).
MAKER_MIN_AGE_MS = 1_000
MAKER_AGE_SPAN_MS = 600_000
# The CSV export's columns and the account-log field each comes from ("" for
# columns the simulator leaves empty). The reference says only "the same as
# CSV" (§4.25): these names are the header of exports users published.
ACCOUNT_LOG_CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uid", "booking_uid"),
    ("dateTime", "date"),
    ("account", "margin_account"),
    ("type", "info"),
    ("symbol", "asset"),
    ("contract", "contract"),
    ("change", "change"),
    ("new balance", "new_balance"),
    ("new average entry price", "new_average_entry_price"),
    ("trade price", "trade_price"),
    ("mark price", "mark_price"),
    ("funding rate", "funding_rate"),
    ("realized pnl", "realized_pnl"),
    ("fee", "fee"),
    ("realized funding", "realized_funding"),
    ("collateral", "collateral"),
    ("conversion spread percentage", "conversion_spread_percentage"),
    ("liquidation fee", "liquidation_fee"),
    ("position uid", ""),
)
# Added with conversion_details=true (the simulator makes no conversions).
CONVERSION_CSV_COLUMNS = (
    ("exchange rate", "exchange_rate"),
    ("exchange rate from", "exchange_rate_from"),
    ("conversion fee", "conversion_fee"),
)


# ---------------------------------------------------------------------------
# Versions and listings, as data


@dataclass(frozen=True)
class Version:
    """A version prefix of the history service."""

    name: str
    paging_headers: bool = False  # the continuation also in response headers


@dataclass(frozen=True)
class Listing:
    """One history path (below ``/api/history/<version>``) and the versions serving it."""

    path: str
    handler: Handler
    private: bool = True
    cost: Cost = 0
    versions: tuple[str, ...] = ("v2", "v3")


VERSIONS = (Version("v2", paging_headers=True), Version("v3"))


@dataclass(frozen=True)
class _Page(Answer):
    """A public listing's page as the bytes it is sent as, with its continuation."""

    token: str | None = None


def _paging_headers(token: str | None) -> dict[str, str]:
    headers = {"is-truncated": "true" if token else "false"}
    if token:
        headers["next-continuation-token"] = str(token)
    return headers


def _with_paging_headers(handler: Handler) -> Handler:
    """The v2 form of a listing: the same body, the continuation repeated in headers."""

    @functools.wraps(handler)
    def paged(ctx: Context) -> Any:
        payload = handler(ctx)
        if isinstance(payload, _Page):
            return Answer(payload.payload, headers=_paging_headers(payload.token))
        if not isinstance(payload, dict) or "elements" not in payload:
            return payload
        return Answer(payload, headers=_paging_headers(payload.get("continuationToken")))

    return paged


# ---------------------------------------------------------------------------
# Paging helpers shared by the public listings


def _unit(*parts: object) -> float:
    """A stable uniform in [0, 1) for presentation details of synthetic events."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def _token(ts: int, ident: int) -> str:
    return base64.b64encode(f"{ts}/{ident}".encode()).decode()


def _parse_token(token: str) -> tuple[int, int]:
    try:
        ts, ident = base64.b64decode(token, validate=True).decode().split("/")
        return int(ts), int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SimError("invalidArgument", status=400) from None


@dataclass(frozen=True)
class _Window:
    """A public listing's request: ``since <= t < before``, order, page size, cursor."""

    since: int
    before: int
    descending: bool
    count: int
    cursor: tuple[int, int] | None


def _window(ctx: Context, spec: InstrumentSpec) -> _Window:
    market = synthetic_market(ctx)
    since = ctx.get_int("since")
    before = ctx.get_int("before")
    sort = (ctx.get("sort") or "desc").lower()
    if sort not in {"asc", "desc"}:
        raise SimError("invalidArgument", status=400)
    count = ctx.get_int("count", MAX_MARKET_COUNT)
    if count is None or count < 1:
        raise SimError("invalidArgument", status=400)
    start = market.first_data_ms(spec, ctx.now_ms)
    token = ctx.get("continuation_token")
    return _Window(
        since=start if since is None else max(since, start),
        before=ctx.now_ms + 1 if before is None else min(before, ctx.now_ms + 1),
        descending=sort == "desc",
        count=min(count, MAX_MARKET_COUNT),
        cursor=_parse_token(token) if token else None,
    )


def _tradeable(ctx: Context) -> InstrumentSpec:
    spec = synthetic_market(ctx).instrument(ctx.path_params["tradeable"], ctx.now_ms)
    if spec is None:
        raise SimError("notFound", status=404)
    return spec


def _page(market: SyntheticMarket, key: Hashable, build: Callable[[], Json]) -> _Page:
    """The page of ``key`` from the market's page cache (:mod:`kfresearch.sim.history_pages`),
    built by ``build()`` the first time; the bytes are those ``orjson`` makes of the body."""

    def built() -> Built:
        body = build()
        return orjson.dumps(body), body.get("continuationToken")

    content, token = pages_of(market).get(key, built)
    return _Page(content, token=token)


# ---------------------------------------------------------------------------
# market/{tradeable}/executions


def market_executions(ctx: Context) -> _Page:
    """Public executions as event-store ``Execution`` elements (§4.7).

    ``since``/``before`` are epoch ms (``since <= t < before``), ``sort``
    ``desc`` (default) or ``asc``, ``count`` up to 1000 (the default). When
    more remain, ``continuationToken`` (base64 of ``"<ms>/<trade id>"``)
    continues after the last element with the same ``sort``. Timestamps,
    ``len`` and decimals are strings, as recorded live bodies carry them.
    """
    market = synthetic_market(ctx)
    spec = _tradeable(ctx)
    w = _window(ctx, spec)
    return _page(market, ("executions", spec.symbol, w), lambda: _executions(market, spec, w))


def _executions(market: SyntheticMarket, spec: InstrumentSpec, w: _Window) -> Json:
    since, before, count, cursor = w.since, w.before, w.count, w.cursor
    if cursor is not None:
        if w.descending:
            before = min(before, cursor[0] + 1)
        else:
            since = max(since, cursor[0])
    # a few extra rows cover trades sharing the cursor's millisecond
    trades = market.trades(spec.symbol, since, before, limit=count + 64, descending=w.descending)
    ids = trades.trade_id
    keep = np.ones(len(trades), dtype=bool)
    if cursor is not None:
        keep = ids < cursor[1] if w.descending else ids > cursor[1]
    rows = np.flatnonzero(keep)[: count + 1]
    elements = [_execution_json(market, spec, trades, int(i)) for i in rows[:count]]
    body: Json = {"elements": elements, "len": str(len(elements))}
    if rows.shape[0] > count:
        last = int(rows[count - 1])
        body["continuationToken"] = _token(int(trades.time_ms[last]), int(ids[last]))
    return body


@dataclass(frozen=True)
class _Maker:
    """The resting order a synthetic trade met (its details drawn from the trade's id)."""

    uid: str
    quantity: float  # its size when placed
    placed_ms: int
    order_type: str  # "Post" | "Limit"
    filled: bool  # the trade filled it completely


def _maker(market: SyntheticMarket, spec: InstrumentSpec, trades: Trades, i: int) -> _Maker:
    trade_id = int(trades.trade_id[i])
    seed = market.seed
    quantity = float(trades.size[i])
    # the maker rested for a while and was often, not always, filled completely
    filled = _unit(seed, "filled", spec.symbol, trade_id) < 0.55
    larger = quantity * (1 + int(4 * _unit(seed, "maker-qty", spec.symbol, trade_id)))
    age = MAKER_MIN_AGE_MS + int(
        MAKER_AGE_SPAN_MS * _unit(seed, "maker-age", spec.symbol, trade_id)
    )
    return _Maker(
        uid=market.trade_uid(spec.symbol, trade_id, "maker"),
        quantity=quantity if filled else larger,
        placed_ms=int(trades.time_ms[i]) - age,
        order_type="Post" if _unit(seed, "maker-type", spec.symbol, trade_id) < 0.6 else "Limit",
        filled=filled,
    )


def _public_order(
    spec: InstrumentSpec,
    *,
    uid: str,
    buy: bool,
    quantity: float,
    placed_ms: int,
    limit_price: float,
    order_type: str,
    updated_ms: int,
) -> Json:
    """A ``HistoricalOrderSanitized``: an order as the public listings show it."""
    return {
        "uid": uid,
        "tradeable": spec.symbol,
        "direction": "Buy" if buy else "Sell",
        "quantity": dec(quantity, max(spec.precision, 0)),
        "timestamp": str(placed_ms),
        "limitPrice": dec(limit_price, spec.tick_decimals),
        "orderType": order_type,
        "reduceOnly": False,
        "lastUpdateTimestamp": str(updated_ms),
    }


def _execution_json(market: SyntheticMarket, spec: InstrumentSpec, trades: Trades, i: int) -> Json:
    t = int(trades.time_ms[i])
    trade_id = int(trades.trade_id[i])
    price = float(trades.price[i])
    quantity = float(trades.size[i])
    buy = bool(trades.buy[i])
    digits = spec.tick_decimals
    maker = _maker(market, spec, trades, i)
    # market orders are IoC with 1 % price protection (§7.6)
    taker_limit = round(
        round(price * (1.01 if buy else 0.99) / spec.tick_size) * spec.tick_size, digits
    )
    usd = quantity * spec.contract_size if spec.is_inverse else quantity * price
    return {
        "uid": market.trade_uid(spec.symbol, trade_id, "event"),
        "timestamp": str(t),
        "event": {
            "Execution": {
                "execution": {
                    "uid": market.trade_uid(spec.symbol, trade_id),
                    "makerOrder": _public_order(
                        spec,
                        uid=maker.uid,
                        buy=not buy,
                        quantity=maker.quantity,
                        placed_ms=maker.placed_ms,
                        limit_price=price,
                        order_type=maker.order_type,
                        updated_ms=maker.placed_ms,
                    ),
                    "takerOrder": _public_order(
                        spec,
                        uid=market.trade_uid(spec.symbol, trade_id, "taker"),
                        buy=buy,
                        quantity=quantity,
                        placed_ms=t,
                        limit_price=taker_limit,
                        order_type="IoC",
                        updated_ms=t,
                    ),
                    "timestamp": str(t),
                    "quantity": dec(quantity, max(spec.precision, 0)),
                    "price": dec(price, digits),
                    "markPrice": dec(market.mark_price(spec.symbol, t)),
                    "limitFilled": maker.filled,
                    "usdValue": f"{usd:.2f}",
                },
                "takerReducedQuantity": "",
            }
        },
    }


# ---------------------------------------------------------------------------
# market/{tradeable}/orders


@dataclass(frozen=True)
class _OrderEvent:
    """One maker event: placed (``updated`` False) or filled by trade ``i`` of a page."""

    time_ms: int
    ident: int  # 2 * trade id, + 1 for the update: orders events within one ms
    i: int
    maker: _Maker
    updated: bool


def _order_events(
    market: SyntheticMarket, spec: InstrumentSpec, trades: Trades, w: _Window
) -> list[_OrderEvent]:
    """The placed and updated events of the makers of ``trades`` that fall in ``w``."""
    events: list[_OrderEvent] = []
    for i in range(len(trades)):
        maker = _maker(market, spec, trades, i)
        trade_id = int(trades.trade_id[i])
        for time_ms, updated in ((maker.placed_ms, False), (int(trades.time_ms[i]), True)):
            if w.since <= time_ms < w.before:
                events.append(_OrderEvent(time_ms, 2 * trade_id + updated, i, maker, updated))
    return events


def _order_element(
    market: SyntheticMarket, spec: InstrumentSpec, trades: Trades, event: _OrderEvent
) -> Json:
    i, maker = event.i, event.maker
    trade_id = int(trades.trade_id[i])
    as_placed = functools.partial(
        _public_order,
        spec,
        uid=maker.uid,
        buy=not bool(trades.buy[i]),
        placed_ms=maker.placed_ms,
        limit_price=float(trades.price[i]),
        order_type=maker.order_type,
    )
    placed = as_placed(quantity=maker.quantity, updated_ms=maker.placed_ms)
    if not event.updated:
        kind, body = "OrderPlaced", {"order": placed, "reason": "new_user_order"}
    else:
        # quantity is what stays on the book: 0 once the maker is filled
        left = as_placed(quantity=maker.quantity - float(trades.size[i]), updated_ms=event.time_ms)
        reason = "full_fill" if maker.filled else "partial_fill"
        kind, body = "OrderUpdated", {"oldOrder": placed, "newOrder": left, "reason": reason}
    return {
        "uid": market.trade_uid(spec.symbol, trade_id, f"maker-{kind}"),
        "timestamp": str(event.time_ms),
        "event": {kind: body | {"reducedQuantity": ""}},
    }


def market_orders(ctx: Context) -> _Page:
    """Public order events: the makers the synthetic trades met (§4.7).

    Paged like the executions (``since``/``before`` epoch ms, ``sort``,
    ``count`` up to 1000, ``continuationToken`` base64 of ``"<ms>/<event
    id>"``). Only trades that already happened are used, so no event reveals
    the market's future.
    """
    market = synthetic_market(ctx)
    spec = _tradeable(ctx)
    w = _window(ctx, spec)
    # makers of trades up to MAKER_AGE later were placed inside the window
    end = min(w.before + MAKER_MIN_AGE_MS + MAKER_AGE_SPAN_MS, ctx.now_ms + 1)
    return _page(market, ("orders", spec.symbol, w, end), lambda: _orders(market, spec, w, end))


def _orders(market: SyntheticMarket, spec: InstrumentSpec, w: _Window, end: int) -> Json:
    """The orders page of ``w`` from the trades in ``[w.since, end)``."""
    cursor = w.cursor
    reach = MAKER_MIN_AGE_MS + MAKER_AGE_SPAN_MS
    start = w.since
    limit = w.count + 64
    while True:
        trades = market.trades(spec.symbol, start, end, limit=limit, descending=w.descending)
        events = _order_events(market, spec, trades, w)
        complete = len(trades) < limit
        if not complete:
            # later (asc) or earlier (desc) trades may still add events past this bound
            edge = int(trades.time_ms[-1])
            bound = edge - reach if not w.descending else edge
            events = [
                e for e in events if (e.time_ms < bound if not w.descending else e.time_ms > bound)
            ]
        if cursor is not None:
            after = cursor
            events = [
                e
                for e in events
                if ((e.time_ms, e.ident) < after) == w.descending and (e.time_ms, e.ident) != after
            ]
        events.sort(key=lambda e: (e.time_ms, e.ident), reverse=w.descending)
        if complete or len(events) > w.count:
            break
        limit *= 2
    page = events[: w.count]
    elements = [_order_element(market, spec, trades, e) for e in page]
    body: Json = {"elements": elements, "len": str(len(page))}
    if len(events) > w.count:
        body["continuationToken"] = _token(page[-1].time_ms, page[-1].ident)
    return body


# ---------------------------------------------------------------------------
# market/{tradeable}/price


def market_price(ctx: Context) -> _Page:
    """Mark price events (one per 5 s grid node), paged like the executions."""
    market = synthetic_market(ctx)
    spec = _tradeable(ctx)
    w = _window(ctx, spec)
    return _page(market, ("price", spec.symbol, w), lambda: _prices(market, spec, w))


def _prices(market: SyntheticMarket, spec: InstrumentSpec, w: _Window) -> Json:
    since, before, count = w.since, w.before, w.count
    if w.cursor is not None:
        if w.descending:
            before = min(before, w.cursor[0])
        else:
            since = max(since, w.cursor[0] + 1)
    first = -(-since // STEP_MS) * STEP_MS
    last = (before - 1) // STEP_MS * STEP_MS
    if last < first:
        times: list[int] = []
    elif w.descending:
        times = list(range(last, max(first, last - count * STEP_MS) - 1, -STEP_MS))
    else:
        times = list(range(first, min(last, first + count * STEP_MS) + 1, STEP_MS))
    page = times[:count]
    elements = [
        {
            "uid": market.trade_uid(spec.symbol, t, "price"),
            "timestamp": str(t),
            "event": {"price": dec(market.mark_price(spec.symbol, t))},
        }
        for t in page
    ]
    body: Json = {"elements": elements, "len": str(len(elements))}
    if len(times) > count:
        body["continuationToken"] = _token(page[-1], 0)
    return body


# ---------------------------------------------------------------------------
# The account's history


def _engine(ctx: Context) -> Engine:
    engine: Engine = ctx.exchange.engine
    return engine


def _account_id(ctx: Context) -> str:
    if ctx.account_id is None:
        raise SimError("authenticationError")
    return ctx.account_id


def _bad_history_argument(status: int = 400) -> SimError:
    return SimError("invalidArgument", status=status)


def _history_int(ctx: Context, name: str) -> int | None:
    try:
        return ctx.get_int(name)
    except SimError:
        raise _bad_history_argument() from None


def _sort(ctx: Context) -> str:
    sort = (ctx.get("sort") or "desc").lower()
    if sort not in {"asc", "desc"}:
        raise _bad_history_argument()
    return sort


def _count(ctx: Context, ceiling: int) -> int:
    count = _history_int(ctx, "count")
    if count is None:
        return min(HISTORY_DEFAULT_COUNT, ceiling)
    if count < 1:
        raise _bad_history_argument()
    return min(count, ceiling)


def _history_handler(kind: str) -> Handler:
    def handler(ctx: Context) -> Json:
        try:
            flags = {name: ctx.get_bool(name) for name in HISTORY_FILTERS[kind] if ctx.get(name)}
        except SimError:
            raise _bad_history_argument() from None
        return _engine(ctx).history(
            _account_id(ctx),
            kind,
            ctx.now_ms,
            since=_history_int(ctx, "since"),
            before=_history_int(ctx, "before"),
            sort=_sort(ctx),
            count=_count(ctx, HISTORY_MAX_COUNT),
            token=ctx.get("continuation_token"),
            tradeable=ctx.get("tradeable"),
            filters=flags,
        )

    handler.__name__ = f"history_{kind}"
    handler.__doc__ = f"``GET /api/history/v3/{kind}``: one page of the account's {kind} events."
    return handler


def account_log_cost(ctx: Context) -> int:
    """History-pool cost of an account-log request by its ``count`` (reference §6)."""
    try:
        count = ctx.get_int("count", HISTORY_DEFAULT_COUNT) or HISTORY_DEFAULT_COUNT
    except SimError:
        count = HISTORY_DEFAULT_COUNT
    return next((cost for top, cost in ACCOUNT_LOG_COSTS if count <= top), ACCOUNT_LOG_COSTS[-1][1])


def account_log(ctx: Context) -> Json:
    """Account-log rows by time (``since``/``before``) and id (``from``/``to``), newest first."""
    return _engine(ctx).account_log(
        _account_id(ctx),
        ctx.now_ms,
        since=_history_int(ctx, "since"),
        before=_history_int(ctx, "before"),
        from_id=_history_int(ctx, "from"),
        to_id=_history_int(ctx, "to"),
        info=ctx.get("info"),
        sort=_sort(ctx),
        count=_count(ctx, ACCOUNT_LOG_MAX_COUNT),
    )


def _csv_cell(row: Json, field: str) -> str:
    if field == "change":
        return dec(float(row["new_balance"]) - float(row["old_balance"]))
    if field == "date":  # the export drops the T, the Z and the milliseconds
        return str(row["date"])[:19].replace("T", " ")
    value = row.get(field) if field else None
    if value is None:
        return ""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return dec(value)
    return str(value)


def account_log_csv(ctx: Context) -> Answer:
    """The account log as CSV (``text/csv``), newest entry first.

    With ``conversion_details=true`` three columns follow: ``exchange rate``,
    ``exchange rate from``, ``conversion fee``. Empty cells are fields the
    entry does not have.
    """
    try:
        details = ctx.get_bool("conversion_details")
    except SimError:
        raise _bad_history_argument() from None
    columns = ACCOUNT_LOG_CSV_COLUMNS + (CONVERSION_CSV_COLUMNS if details else ())
    logs = _engine(ctx).account_log(
        _account_id(ctx), ctx.now_ms, sort="desc", count=ACCOUNT_LOG_MAX_COUNT
    )["logs"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in columns])
    for row in logs:
        writer.writerow([_csv_cell(row, field) for _, field in columns])
    return Answer(out.getvalue().encode(), content_type="text/csv")


LISTINGS: tuple[Listing, ...] = (
    Listing("/market/{tradeable}/executions", market_executions, private=False),
    Listing("/market/{tradeable}/orders", market_orders, private=False),
    Listing("/market/{tradeable}/price", market_price, private=False),
    *(
        Listing(f"/{kind}", _history_handler(kind), cost=1)
        for kind in ("executions", "orders", "triggers")
    ),
    # ccxt reads positions from v3 only; no client or text shows a v2 path (§1)
    Listing("/positions", _history_handler("positions"), cost=1, versions=("v3",)),
    Listing("/account-log", account_log, cost=account_log_cost),
    Listing("/accountlogcsv", account_log_csv, cost=6),
)

ROUTES: tuple[Route, ...] = tuple(
    make_route(
        "GET",
        f"/api/history/{version.name}{listing.path}",
        _with_paging_headers(listing.handler) if version.paging_headers else listing.handler,
        private=listing.private,
        cost=listing.cost,
    )
    for listing in LISTINGS
    for version in VERSIONS
    if version.name in listing.versions
)
