"""Answering the client's calls over the Unified WebSocket.

The client's plans yield :class:`~kfresearch.plans.Call` objects for v3
endpoints and read v3 bodies. :class:`UwsAdapter` answers the calls that
UWS can serve (the routes of :mod:`kfresearch.uws.routes`) over two
WebSockets, and hands back the v3 body (:mod:`kfresearch.uws.bodies`), so
the plans, frames, order results and widgets are the same on both
protocols:

=====================  =========================================================
call                   over UWS
=====================  =========================================================
instruments            ``instrument`` snapshot (public)
tickers, ticker        ``ticker`` snapshot of the symbols (public)
orderbook              ``book`` snapshot, depth 1000 (public)
recent trades          ``trade`` snapshot: the last 50 trades (public)
open orders, status,   the ``executions`` channel the private connection keeps:
fills                  its snapshot (open orders, last 50 fills), then updates
positions              ``positions`` snapshot (private)
accounts               ``margin`` (multi- and single-collateral) and ``balances``
place / edit / cancel  ``add_order`` / ``amend_order`` / ``cancel_order``
cancel all             ``cancel_all`` (one symbol: ``cancel_order`` of its orders)
dead man's switch      ``cancel_all_orders_after``
batch                  ``batch_add`` per symbol, ``amend_order``, ``batch_cancel``
=====================  =========================================================

A snapshot is read by subscribing (``snapshot: true``), waiting for the
snapshot of every symbol asked, and unsubscribing. The private connection
subscribes ``executions`` (``snap_orders``, ``snap_trades``) when it opens
and keeps the account's orders and recent fills up to date from then on; a
read first lets everything the exchange already sent arrive
(:meth:`~kfresearch.uws.link.Link.settle`).

Orders are never sent twice: an ``add_order`` whose answer did not come
(timeout, dropped connection) raises
:class:`~kfresearch.errors.OutcomeUnknownError`, and the order plans look
the order up by its client order id (a fresh ``executions`` snapshot after
a reconnect); a second ``add_order`` with a client order id already sent is
refused here before anything goes out.

Tokens come from ``token()`` (``GetWebSocketsToken``, reused until half its
life, :mod:`kfresearch.uws.tokens`); ``EAPI:Invalid token`` fetches a fresh
one and the request is made again (the request was not processed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from kfresearch.endpoints import (
    ACCOUNTS,
    BATCHORDER,
    CANCELALLORDERS,
    CANCELALLORDERSAFTER,
    CANCELORDER,
    EDITORDER,
    FILLS,
    INSTRUMENTS,
    OPENORDERS,
    OPENPOSITIONS,
    ORDER_STATUS,
    ORDERBOOK,
    RECENT_TRADES,
    SENDORDER,
    TICKER,
    TICKERS,
    Endpoint,
)
from kfresearch.environments import Environment
from kfresearch.errors import (
    APIError,
    AuthenticationError,
    InsufficientFundsError,
    InvalidArgumentError,
    KFError,
    MarketUnavailableError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    UnsupportedCallError,
)
from kfresearch.plans import Call
from kfresearch.stream.connection import Connector, backoff
from kfresearch.uws import bodies
from kfresearch.uws.executions import TERMINAL, Executions
from kfresearch.uws.link import Link, LinkClosed
from kfresearch.uws.orders import (
    add_order_params,
    amend_order_params,
    cancel_params,
    rejection_status,
)
from kfresearch.uws.wire import Answer, Push

__all__ = ["BOOK_DEPTH", "UwsAdapter", "api_error"]

log = logging.getLogger("kfresearch.uws")

#: depth of the book snapshot behind ``kf.orderbook()`` (the largest UWS offers)
BOOK_DEPTH = 1000
ASSET_CLASS = "derivatives"
_CONNECT_ATTEMPTS = 4
#: subscriptions whose parameters list no ``asset_class`` (reference §1.6)
_NO_ASSET_CLASS = frozenset({"balances", "heartbeat", "status"})

#: UWS error texts (Spot v2 style, §6) -> exception classes
_ERRORS: tuple[tuple[str, type[APIError]], ...] = (
    ("EAPI:Invalid token", AuthenticationError),
    ("ESession:Invalid session", AuthenticationError),
    ("EAPI:Invalid key", AuthenticationError),
    ("EAPI:Invalid signature", AuthenticationError),
    ("EGeneral:Permission denied", PermissionDeniedError),
    ("EGeneral:Temporary lockout", RateLimitError),
    ("EAPI:Rate limit exceeded", RateLimitError),
    ("EOrder:Rate limit exceeded", RateLimitError),
    ("EGeneral:Too many requests", RateLimitError),
    ("EOrder:Insufficient", InsufficientFundsError),
    ("EOrder:Invalid order", NotFoundError),
    ("EGeneral:Invalid arguments", InvalidArgumentError),
    ("EGeneral:Unknown", InvalidArgumentError),
    ("Unsupported field", InvalidArgumentError),
    ("Already subscribed", InvalidArgumentError),
    ("Currency pair not supported", NotFoundError),
    ("EService:Unavailable", MarketUnavailableError),
    ("EService:Market in cancel_only mode", MarketUnavailableError),
    ("EService:Busy", ServerError),
    ("EGeneral:Internal error", ServerError),
)
_HINTS: dict[type[APIError], str] = {
    AuthenticationError: (
        "The Unified WebSocket needs a Kraken (spot-style) API key with the 'Access WebSocket "
        "API' permission, in KFRESEARCH_UWS_API_KEY / KFRESEARCH_UWS_API_SECRET (a "
        "Derivatives key does not work there); `kfresearch doctor` tells which key is which."
    ),
}


def api_error(error: str, where: str, body: Any = None) -> APIError:
    """The exception for a UWS error text (``EAPI:Invalid token`` …), with a hint."""
    cls: type[APIError] = APIError
    for prefix, found in _ERRORS:
        if error.startswith(prefix):
            cls = found
            break
    hint = _HINTS.get(cls)
    return cls(error, endpoint=where, hint=hint, body=body)


@dataclass
class _Collector:
    """The snapshot of one channel being read.

    ``rows`` by symbol for per-symbol channels (done when every symbol in
    ``symbols`` answered, an empty snapshot of one symbol included), by message
    type when ``types`` lists several (``margin``: done when the ``need`` ones
    came), else under ``""`` (done at the first snapshot).
    """

    channel: str
    symbols: tuple[str, ...] = ()
    types: tuple[str, ...] = ("snapshot",)
    need: tuple[str, ...] = ("snapshot",)
    rows: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, push: Push) -> None:
        if push.channel != self.channel or push.type not in self.types:
            return
        data = push.data if isinstance(push.data, list) else [push.data]
        rows = [row for row in data if isinstance(row, Mapping)]
        if len(self.types) > 1:
            self.rows.setdefault(push.type, []).extend(rows)
            self.seen.add(push.type)
            if self.seen >= set(self.need):
                self.done.set()
            return
        if not self.symbols:
            self.rows.setdefault("", []).extend(rows)
            self.done.set()
            return
        for row in rows:
            symbol = str(row.get("symbol") or "")
            if symbol in self.symbols:
                self.rows.setdefault(symbol, []).append(row)
                self.seen.add(symbol)
        if not rows and len(self.symbols) == 1:
            self.seen.add(self.symbols[0])  # e.g. no trades yet: an empty snapshot
        if self.seen >= set(self.symbols):
            self.done.set()


class UwsAdapter:
    """Answers :class:`~kfresearch.plans.Call` objects over UWS (see the module docstring).

    Parameters
    ----------
    env : Environment
        ``env.uws_public_url`` and ``env.uws_private_url`` are where it connects.
    connector : Connector
        Opens the sockets (``websockets``, or the in-process simulator).
    token : async callable, optional
        Returns a WebSocket token (None: no private calls).
    invalidate_token : callable, optional
        Forgets the token (called on ``EAPI:Invalid token``).
    timeout : float
        Seconds to wait for each answer.
    """

    def __init__(
        self,
        env: Environment,
        connector: Connector,
        *,
        token: Callable[[], Awaitable[str]] | None = None,
        invalidate_token: Callable[[], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.env = env
        self.connector = connector
        self.timeout = timeout
        self._token = token
        self._invalidate = invalidate_token or (lambda: None)
        self._public: Link | None = None
        self._private: Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._collectors: list[_Collector] = []
        self._symbols: tuple[str, ...] | None = None
        self._executions = Executions()  # the account, from the executions channel
        self._snapshot_seen: asyncio.Event | None = None
        self._sent_ids: set[str] = set()
        self.counts: dict[str, int] = dict.fromkeys(
            ("connects", "token_refreshes", "sequence_gaps", "requests"), 0
        )

    # -- the calls -------------------------------------------------------------------
    async def answer(self, call: Call) -> Any:
        """The v3 body for ``call`` (see the module docstring for how each is served).

        Raises
        ------
        UnsupportedCallError
            A call UWS cannot serve (paged fills).
        OutcomeUnknownError
            An order-changing request whose answer did not come.
        APIError, NetworkError, RequestTimeoutError
            The exchange's error, or no usable connection.
        """
        self._same_loop()
        handler = _HANDLERS.get(call.endpoint.name)
        if handler is None:
            raise UnsupportedCallError(
                f"{call.endpoint.describe()} has no Unified WebSocket equivalent"
            )
        self.counts["requests"] += 1
        return await handler(self, call)

    def _same_loop(self) -> None:
        """Sockets belong to the loop that opened them: a new loop starts afresh."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._public = self._private = None
            self._locks = {}
            self._collectors = []
            self._snapshot_seen = None

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # -- connections -------------------------------------------------------------------
    async def _open(self, url: str, name: str) -> Link:
        delays = backoff(0.25, 2.0)
        last: BaseException | None = None
        for attempt in range(_CONNECT_ATTEMPTS):
            try:
                socket = await asyncio.wait_for(self.connector.connect(url), self.timeout)
            except (OSError, TimeoutError) as exc:
                status = getattr(exc, "status", None)
                if isinstance(status, int) and 400 <= status < 500:
                    raise _refused(url, status) from exc
                last = exc
                if attempt + 1 < _CONNECT_ATTEMPTS:
                    await asyncio.sleep(next(delays))
                continue
            self.counts["connects"] += 1
            return Link(socket, self._on_push, name=name, url=url)
        raise NetworkError(
            f"could not connect to {url} ({last!r}) after {_CONNECT_ATTEMPTS} attempts; check "
            "the network (`kfresearch doctor`)",
            endpoint=url,
        ) from last

    async def _public_link(self) -> Link:
        async with self._lock("connect-public"):
            if self._public is None or not self._public.alive:
                self._public = await self._open(self.env.uws_public_url, "public")
            return self._public

    async def _private_link(self) -> Link:
        if self._token is None:
            from kfresearch.errors import CredentialsError

            raise CredentialsError(
                "account calls on the Unified WebSocket need a Kraken (spot-style) API key: set "
                "KFRESEARCH_UWS_API_KEY and KFRESEARCH_UWS_API_SECRET (or pass uws_key= and "
                f"uws_secret=); for {self.env.name}: {self.env.keys_help}"
            )
        async with self._lock("connect-private"):
            if self._private is not None and self._private.alive:
                return self._private
            link = await self._open(self.env.uws_private_url, "private")
            self._private = link
            self._snapshot_seen = asyncio.Event()
            self._executions.restart()
            try:
                await self._request(
                    link, "subscribe",
                    {"channel": "executions", "snap_orders": True, "snap_trades": True,
                     "order_status": True},
                    private=True, where="subscribe executions",
                )
                await asyncio.wait_for(self._snapshot_seen.wait(), self.timeout)
            except BaseException:
                await link.close()
                self._private = None
                raise
            return link

    async def aclose(self) -> None:
        """Close both connections."""
        for link in (self._public, self._private):
            if link is not None:
                await link.close()
        self._public = self._private = None

    # -- requests ------------------------------------------------------------------------
    async def _request(
        self,
        link: Link,
        method: str,
        params: Mapping[str, Any],
        *,
        private: bool,
        where: str,
        raise_error: bool = True,
    ) -> Answer:
        """One request (``asset_class`` and the token added), retried once with a fresh
        token on ``EAPI:Invalid token`` (a request refused for its token was not processed).

        Raises ``LinkClosed`` or ``TimeoutError`` as they come: callers decide what an
        unanswered request means.
        """
        for attempt in range(2):
            full = dict(params)
            if method != "ping" and params.get("channel") not in _NO_ASSET_CLASS:
                full.setdefault("asset_class", ASSET_CLASS)
            if private and self._token is not None:
                full["token"] = await self._token()
            answer = await link.request(method, full, self.timeout)
            if not answer.success and _invalid_token(answer.error) and attempt == 0:
                self._invalidate()
                self.counts["token_refreshes"] += 1
                continue
            if answer.success or not raise_error:
                return answer
            raise api_error(str(answer.error or "request failed"), where, answer.raw)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_snapshot(
        self,
        private: bool,
        channel: str,
        params: Mapping[str, Any],
        *,
        symbols: Sequence[str] = (),
        types: tuple[str, ...] = ("snapshot",),
        need: tuple[str, ...] = ("snapshot",),
        unsubscribe: Mapping[str, Any] | None = None,
    ) -> dict[str, list[Mapping[str, Any]]]:
        """Subscribe, wait for the snapshot of each symbol (or each message type), unsubscribe."""
        where = f"{channel} snapshot"
        async with self._lock(f"{'private' if private else 'public'}-{channel}"):
            for attempt in range(2):
                link = await (self._private_link() if private else self._public_link())
                collector = _Collector(channel, tuple(symbols), types, need)
                self._collectors.append(collector)
                try:
                    subscribe = {"channel": channel, **params}
                    if symbols:
                        subscribe["symbol"] = list(symbols)
                    await self._request(link, "subscribe", subscribe, private=private,
                                        where=where)
                    await asyncio.wait_for(collector.done.wait(), self.timeout)
                    if len(types) > 1:
                        await link.settle(self.timeout)  # the other message types, if any
                except LinkClosed:
                    if attempt == 0:
                        continue  # reading is safe to repeat on a new connection
                    raise _no_link(where) from None
                except TimeoutError:
                    raise RequestTimeoutError(
                        f"{where}: no snapshot within {self.timeout:g} s", endpoint=where
                    ) from None
                finally:
                    self._collectors.remove(collector)
                stop = {"channel": channel, **(unsubscribe if unsubscribe is not None else {})}
                if symbols:
                    stop["symbol"] = list(symbols)
                with contextlib.suppress(KFError, LinkClosed, TimeoutError):
                    await self._request(link, "unsubscribe", stop, private=private, where=where,
                                        raise_error=False)
                return collector.rows
        raise AssertionError("unreachable")  # pragma: no cover

    async def _settled_private(self) -> Link:
        """The private link after everything the exchange sent so far was handled."""
        for attempt in range(2):
            link = await self._private_link()
            try:
                await link.settle(self.timeout)
                return link
            except LinkClosed:
                if attempt == 0:
                    continue
                raise _no_link("executions") from None
            except TimeoutError:
                raise RequestTimeoutError("executions: no answer", endpoint="executions") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- pushes ----------------------------------------------------------------------------
    def _on_push(self, push: Push) -> None:
        if push.channel == "executions":
            self._on_executions(push)
            return
        for collector in list(self._collectors):
            collector.offer(push)

    def _on_executions(self, push: Push) -> None:
        data = push.data if isinstance(push.data, list) else []
        if not self._executions.on_push(push.type, data, push.raw.get("sequence")):
            # a lost report: the account state cannot be trusted; read it afresh
            self.counts["sequence_gaps"] += 1
            log.warning("executions: a report was lost (sequence gap); reconnecting")
            if self._private is not None:
                asyncio.get_running_loop().create_task(self._private.close())
                self._private = None
        if push.type == "snapshot" and self._snapshot_seen is not None:
            self._snapshot_seen.set()

    # -- market data -------------------------------------------------------------------
    async def instruments(self, call: Call) -> Any:
        rows = await self._read_snapshot(False, "instrument", {"snapshot": True})
        flat = [r for group in rows.values() for r in _instrument_rows(group)]
        self._symbols = tuple(str(r["symbol"]) for r in flat if r.get("symbol"))
        return bodies.instruments_body(flat)

    async def _all_symbols(self) -> tuple[str, ...]:
        if self._symbols is None:
            await self.instruments(Call(INSTRUMENTS))
        return self._symbols or ()

    async def tickers(self, call: Call) -> Any:
        symbols = await self._all_symbols()
        rows = await self._read_snapshot(False, "ticker", {"snapshot": True}, symbols=symbols)
        ordered = [rows[s][-1] for s in symbols if rows.get(s)]
        return bodies.tickers_body(ordered)

    async def ticker(self, call: Call) -> Any:
        symbol = str(call.path_params.get("symbol") or call.params.get("symbol") or "")
        rows = await self._read_snapshot(False, "ticker", {"snapshot": True}, symbols=[symbol])
        return bodies.tickers_body(rows.get(symbol, [])[-1:], single=True)

    async def orderbook(self, call: Call) -> Any:
        symbol = str(call.params.get("symbol") or "")
        rows = await self._read_snapshot(
            False, "book", {"depth": BOOK_DEPTH, "snapshot": True}, symbols=[symbol],
            unsubscribe={"depth": BOOK_DEPTH},
        )
        return bodies.orderbook_body((rows.get(symbol) or [{}])[-1])

    async def recent_trades(self, call: Call) -> Any:
        symbol = str(call.params.get("symbol") or "")
        rows = await self._read_snapshot(False, "trade", {"snapshot": True}, symbols=[symbol])
        return bodies.trades_body(rows.get(symbol, []))

    # -- account -----------------------------------------------------------------------
    async def open_orders(self, call: Call) -> Any:
        await self._settled_private()
        return bodies.open_orders_body(self._executions.open.values())

    async def order_status(self, call: Call) -> Any:
        await self._settled_private()
        ids = _listed(call.params.get("orderIds"))
        clis = _listed(call.params.get("cliOrdIds"))
        entries = []
        for order in [*self._executions.open.values(), *self._executions.closed.values()]:
            if order.get("order_id") in ids or order.get("cl_ord_id") in clis:
                entries.append(bodies.status_entry(order))
        return {"result": "success", "orders": entries}

    async def fills(self, call: Call) -> Any:
        if call.params.get("lastFillTime"):
            raise UnsupportedCallError(_NO_OLDER_FILLS)
        await self._settled_private()
        return bodies.fills_body(self._executions.fills)

    async def positions(self, call: Call) -> Any:
        rows = await self._read_snapshot(True, "positions", {"snapshot": True})
        flat = [r for group in rows.values() for r in group]
        return bodies.positions_body(flat)

    async def accounts(self, call: Call) -> Any:
        margin = await self._read_snapshot(
            True, "margin", {}, types=("multi_collateral", "single_collateral"),
            need=("multi_collateral",),
        )
        balances = await self._read_snapshot(True, "balances", {"snapshot": True})
        return bodies.accounts_body(
            margin.get("multi_collateral", []),
            margin.get("single_collateral", []),
            [r for group in balances.values() for r in group],
        )

    # -- orders --------------------------------------------------------------------------
    async def _order_request(
        self, method: str, params: Mapping[str, Any], where: str, *, watch: Sequence[str] = ()
    ) -> tuple[Answer, list[dict[str, Any]]]:
        """Send an order-changing request once; its executions reports seen before the answer.

        Raises
        ------
        OutcomeUnknownError
            No answer (timeout, dropped connection): it may have been processed.
        """
        link = await self._private_link()
        keys = [k for k in watch if k]
        seen = self._executions.watch(keys)
        cli = str(params.get("cl_ord_id") or "") or None
        try:
            answer = await self._request(link, method, params, private=True, where=where,
                                         raise_error=False)
            # an order that trades at once: its reports may follow the answer (network)
            if answer.success and method == "add_order" and not _finished(seen):
                with contextlib.suppress(LinkClosed, TimeoutError):
                    await link.settle(self.timeout)
            return answer, seen
        except (LinkClosed, TimeoutError) as exc:
            what = "the connection closed" if isinstance(exc, LinkClosed) else "no answer"
            raise OutcomeUnknownError(
                f"{where}: {what} after the request was sent, so the exchange may or may not "
                f"have processed it. It was NOT re-sent. Look it up by client order id "
                f"({cli or 'none was given'}) with kf.order_status(...) or kf.open_orders().",
                endpoint=where,
                client_order_id=cli,
            ) from exc
        finally:
            self._executions.unwatch(keys)

    async def send_order(self, call: Call) -> Any:
        params = add_order_params(call.params)
        cli = str(params.get("cl_ord_id") or "")
        where = "UWS add_order"
        if cli and cli in self._sent_ids:
            raise OutcomeUnknownError(
                f"{where}: an order with client order id {cli!r} was already sent on this "
                "client, so it is not sent again (orders are never re-sent on the Unified "
                "WebSocket). Look it up with kf.order_status(client_order_ids=[...]).",
                endpoint=where,
                client_order_id=cli,
            )
        if cli:
            self._sent_ids.add(cli)
        answer, seen = await self._order_request("add_order", params, where, watch=[cli])
        if not answer.success:
            return {"result": "success", "sendStatus": _rejection("add_order", answer)}
        result = answer.result if isinstance(answer.result, Mapping) else {}
        order_id = str(result.get("order_id") or "")
        reports = [r for r in seen if not r.get("order_id") or r.get("order_id") == order_id]
        return {
            "result": "success",
            "sendStatus": {
                "status": "placed",
                "order_id": order_id,
                "cliOrdId": result.get("cl_ord_id") or cli or None,
                "receivedTime": answer.raw.get("time_in"),
                "orderEvents": _order_events(order_id, params, reports,
                                             self._executions.find(order_id, cli)),
            },
        }

    async def edit_order(self, call: Call) -> Any:
        await self._settled_private()
        order_id = call.params.get("orderId") or call.params.get("order_id")
        known = self._executions.find(order_id, call.params.get("cliOrdId"))
        filled = float(known.get("cum_qty") or 0.0) if known else None
        params = amend_order_params(call.params, filled)
        answer, _ = await self._order_request("amend_order", params, "UWS amend_order")
        if not answer.success:
            return {"result": "success", "editStatus": _rejection("amend_order", answer)}
        result = answer.result if isinstance(answer.result, Mapping) else {}
        after = self._executions.find(order_id, call.params.get("cliOrdId")) or known or {}
        new = _v3_order(after)
        return {
            "result": "success",
            "editStatus": {
                "status": "edited",
                "orderId": after.get("order_id") or order_id,
                "receivedTime": answer.raw.get("time_in"),
                "amend_id": result.get("amend_id"),
                "orderEvents": [{"type": "EDIT", "old": _v3_order(known or {}), "new": new}],
            },
        }

    async def cancel_order(self, call: Call) -> Any:
        params = cancel_params(call.params)
        order_id = call.params.get("order_id") or call.params.get("orderId")
        cli = call.params.get("cliOrdId")
        answer, _ = await self._order_request("cancel_order", params, "UWS cancel_order")
        known = self._executions.find(order_id, cli)
        if not answer.success:
            status = _rejection("cancel_order", answer)
            if known is not None and known.get("order_status") == "filled":
                status["status"] = "filled"
            return {"result": "success", "cancelStatus": status}
        return {
            "result": "success",
            "cancelStatus": {
                "status": "cancelled",
                "order_id": (known or {}).get("order_id") or order_id,
                "cliOrdId": (known or {}).get("cl_ord_id") or cli,
                "receivedTime": answer.raw.get("time_in"),
                "orderEvents": [{"type": "CANCEL", "uid": order_id,
                                 "order": _v3_order(known or {})}],
            },
        }

    async def cancel_all(self, call: Call) -> Any:
        await self._settled_private()
        symbol = call.params.get("symbol")
        targets = [o for o in self._executions.open.values()
                   if symbol is None or o.get("symbol") == symbol]
        cancelled = [{"order_id": o.get("order_id"), "cliOrdId": o.get("cl_ord_id")}
                     for o in targets]
        if symbol is not None:
            if not targets:
                return _cancel_all_body("noOrdersToCancel", symbol, [], None)
            ids = [str(o["order_id"]) for o in targets]
            # one answer either way (cancel_order answers each id on its own, §6)
            if len(ids) == 1:
                answer, _ = await self._order_request(
                    "cancel_order", {"order_id": ids}, "UWS cancel_order"
                )
            else:
                answer, _ = await self._order_request(
                    "batch_cancel", {"orders": ids[:50]}, "UWS batch_cancel"
                )
        else:
            answer, _ = await self._order_request("cancel_all", {}, "UWS cancel_all")
        if not answer.success:
            raise api_error(str(answer.error), "UWS cancel_all", answer.raw)
        result = answer.result if isinstance(answer.result, Mapping) else {}
        count = result.get("count")
        if symbol is None and isinstance(count, int) and count == 0:
            return _cancel_all_body("noOrdersToCancel", None, [], answer.raw.get("time_in"))
        return _cancel_all_body("cancelled", symbol, cancelled, answer.raw.get("time_in"))

    async def cancel_all_after(self, call: Call) -> Any:
        params = {"timeout": int(call.params.get("timeout") or 0)}
        for attempt in range(2):  # arming twice with the same timeout is harmless
            link = await self._private_link()
            try:
                answer = await self._request(link, "cancel_all_orders_after", params,
                                             private=True, where="UWS cancel_all_orders_after")
            except (LinkClosed, TimeoutError):
                if attempt == 0:
                    continue
                raise _no_link("cancel_all_orders_after") from None
            result = answer.result if isinstance(answer.result, Mapping) else {}
            trigger = result.get("triggerTime")
            return {
                "result": "success",
                "status": {
                    "currentTime": result.get("currentTime"),
                    "triggerTime": None if trigger in (None, "", "0", 0) else trigger,
                },
            }
        raise AssertionError("unreachable")  # pragma: no cover

    async def batch(self, call: Call) -> Any:
        raw = call.params.get("json") or "{}"
        items = list((orjson.loads(raw) if isinstance(raw, str | bytes) else raw)
                     .get("batchOrder") or [])
        statuses: list[dict[str, Any]] = []
        sends: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("order") == "send":
                sends.setdefault(str(item.get("symbol")), []).append(item)
        for symbol, group in sends.items():
            statuses += await self._batch_sends(symbol, group)
        cancels = [i for i in items if i.get("order") == "cancel"]
        for item in items:
            if item.get("order") == "edit":
                body = await self.edit_order(Call(EDITORDER, dict(item)))
                status = dict(body["editStatus"])
                status["order_id"] = status.pop("orderId", None) or item.get("order_id")
                statuses.append(status)
        if len(cancels) == 1:
            body = await self.cancel_order(Call(CANCELORDER, dict(cancels[0])))
            statuses.append(dict(body["cancelStatus"]))
        elif cancels:
            statuses += await self._batch_cancels(cancels)
        return {"result": "success", "batchStatus": statuses}

    async def _batch_sends(
        self, symbol: str, group: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if len(group) == 1 or len(group) > 15:
            out = []
            for item in group:
                body = await self.send_order(Call(SENDORDER, dict(item)))
                out.append({**body["sendStatus"], "order_tag": item.get("order_tag")})
            return out
        orders = []
        for item in group:
            params = add_order_params(item)
            params.pop("symbol", None)
            orders.append(params)
            cli = str(params.get("cl_ord_id") or "")
            if cli in self._sent_ids:
                raise OutcomeUnknownError(
                    f"UWS batch_add: client order id {cli!r} was already sent; not re-sent",
                    endpoint="UWS batch_add", client_order_id=cli,
                )
        for params in orders:
            if params.get("cl_ord_id"):
                self._sent_ids.add(str(params["cl_ord_id"]))
        clis = [str(p.get("cl_ord_id") or "") for p in orders]
        answer, seen = await self._order_request(
            "batch_add", {"symbol": symbol, "orders": orders}, "UWS batch_add", watch=clis
        )
        rows = answer.result if isinstance(answer.result, list) else []
        out = []
        for i, (item, params) in enumerate(zip(group, orders, strict=True)):
            row = rows[i] if i < len(rows) and isinstance(rows[i], Mapping) else {}
            error = row.get("error") or (None if rows else answer.error)
            tag = item.get("order_tag")
            if error or not row.get("order_id"):
                status = rejection_status("add_order", str(error or "unknown"))
                out.append({"status": status, "order_tag": tag, "cliOrdId": params.get(
                    "cl_ord_id"), "error": error})
                continue
            order_id = str(row["order_id"])
            reports = [r for r in seen if r.get("order_id") == order_id]
            out.append({
                "status": "placed", "order_tag": tag, "order_id": order_id,
                "cliOrdId": params.get("cl_ord_id"),
                "orderEvents": _order_events(
                    order_id, {**params, "symbol": symbol}, reports,
                    self._executions.find(order_id, params.get("cl_ord_id")),
                ),
            })
        return out

    async def _batch_cancels(self, cancels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await self._settled_private()
        ids: list[str] = []
        for item in cancels:
            order = self._executions.find(item.get("order_id"), item.get("cliOrdId"))
            ids.append(str(item.get("order_id") or (order or {}).get("order_id") or ""))
        known = [i for i in ids if i]
        answer: Answer | None = None
        if len(known) >= 2:
            answer, _ = await self._order_request(
                "batch_cancel", {"orders": known[:50]}, "UWS batch_cancel"
            )
        out = []
        for item, order_id in zip(cancels, ids, strict=True):
            ok = answer is not None and answer.success and order_id
            out.append({
                "status": "cancelled" if ok else "notFound",
                "order_id": order_id or None,
                "cliOrdId": item.get("cliOrdId"),
            })
        return out


# --------------------------------------------------------------------------- helpers


def _rejection(method: str, answer: Answer) -> dict[str, Any]:
    """The v3 ``*Status`` of an order method's refusal (a request error is raised)."""
    error = str(answer.error or "")
    status = rejection_status(method, error)
    if status == error and not error.startswith("EOrder:"):
        # not an order rejection but a request error (token, rate, arguments): raise it
        raise api_error(error, f"UWS {method}", answer.raw)
    return {"status": status, "receivedTime": answer.raw.get("time_in"), "error": error}


_NO_OLDER_FILLS = (
    "the Unified WebSocket gives only the account's last fills (its executions snapshot), "
    "not fills before a time: kf.fills() without since= gives those; for older fills use "
    "kf.executions(since=...) (the History API, while it answers) and keep them in the "
    "history store (kfresearch.store: `kfresearch download fills`)."
)


def _invalid_token(error: str | None) -> bool:
    return bool(error) and (
        "Invalid token" in str(error) or "ESession:Invalid session" in str(error)
    )


def _refused(url: str, status: int) -> APIError:
    cls: type[APIError] = (
        AuthenticationError if status in (401, 403) else NotFoundError if status == 404
        else InvalidArgumentError
    )
    return cls(
        f"the WebSocket upgrade was refused with HTTP {status}",
        endpoint=url,
        status_code=status,
        hint="Not retried (a 4xx upgrade answer is final): check the URL and the key "
        "(`kfresearch doctor`).",
    )


def _no_link(where: str) -> NetworkError:
    return NetworkError(
        f"{where}: the connection closed twice in a row; check the network "
        "(`kfresearch doctor`)",
        endpoint=where,
    )


def _listed(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {value}
    return {str(v) for v in value}


def _instrument_rows(group: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Instrument rows, whether ``data`` is Spot v2's ``{"assets": […], "pairs": […]}``
    (the simulator's), ``{"instruments": […]}`` or the list of instruments itself."""
    out: list[Mapping[str, Any]] = []
    for row in group:
        nested = row.get("pairs", row.get("instruments"))
        if isinstance(nested, list):
            out += [r for r in nested if isinstance(r, Mapping)]
        elif row.get("symbol"):
            out.append(row)
    return out


def _finished(reports: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        str(r.get("exec_type")) in ("new", "filled", "canceled", "expired", "trade")
        for r in reports
    )


def _v3_order(order: Mapping[str, Any]) -> dict[str, Any]:
    """An order's state in the v3 ``orderEvents`` vocabulary."""
    if not order:
        return {}
    trigger = order.get("triggers") if isinstance(order.get("triggers"), Mapping) else {}
    out = {
        "orderId": order.get("order_id"),
        "cliOrdId": order.get("cl_ord_id"),
        "type": bodies.v3_order_type(order),
        "symbol": order.get("symbol"),
        "side": order.get("side"),
        "quantity": order.get("order_qty"),
        "filled": order.get("cum_qty") or 0,
        "limitPrice": order.get("limit_price"),
        "reduceOnly": bool(order.get("reduce_only", False)),
        "timestamp": order.get("first_timestamp") or order.get("timestamp"),
        "lastUpdateTimestamp": order.get("timestamp"),
    }
    if trigger:
        out["triggerPrice"] = trigger.get("price")
        out["triggerSignal"] = trigger.get("reference")
    return out


def _order_events(
    order_id: str,
    params: Mapping[str, Any],
    reports: Sequence[Mapping[str, Any]],
    state: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The v3 ``orderEvents`` of a new order from the executions reports seen so far."""
    order = {**{k: v for k, v in params.items() if k != "token"}, **(state or {}),
             "order_id": order_id}
    events: list[dict[str, Any]] = []
    v3 = _v3_order(order)
    if bodies.is_trigger(order):
        found = order.get("triggers")
        trigger: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        events.append({"type": "PLACE", "orderTrigger": {
            "uid": order_id, "clientId": order.get("cl_ord_id"), "type": v3["type"],
            "symbol": order.get("symbol"), "side": order.get("side"),
            "quantity": order.get("order_qty"), "limitPrice": order.get("limit_price"),
            "triggerPrice": trigger.get("price"),
            "triggerSignal": f"{trigger.get('reference') or 'last'}_price",
            "reduceOnly": bool(order.get("reduce_only", False)),
            "timestamp": order.get("timestamp"),
        }})
        return events
    fills = [r for r in reports if r.get("last_qty") is not None
             and str(r.get("exec_type")) == "trade"]
    status = str((state or {}).get("order_status") or "")
    rests = status not in TERMINAL and not (
        str(order.get("order_type")) == "market"
        or str(order.get("time_in_force") or "").lower() in ("ioc", "fok")
    )
    if rests:
        events.append({"type": "PLACE", "order": v3})
    for report in fills:
        events.append({
            "type": "EXECUTION",
            "executionId": report.get("exec_id"),
            "price": report.get("last_price"),
            "amount": report.get("last_qty"),
            "orderPriorExecution": v3,
        })
    if status in ("canceled", "expired") or any(
        str(r.get("exec_type")) in ("canceled", "expired") for r in reports
    ):
        events.append({"type": "CANCEL", "uid": order_id, "order": v3,
                       "reason": (state or {}).get("cancel_reason")})
    return events


def _cancel_all_body(
    status: str, symbol: str | None, cancelled: list[dict[str, Any]], received: Any
) -> dict[str, Any]:
    return {
        "result": "success",
        "cancelStatus": {
            "status": status,
            "cancelOnly": symbol or "all",
            "cancelledOrders": cancelled,
            "receivedTime": received,
        },
    }


_Handler = Callable[[UwsAdapter, Call], Awaitable[Any]]
_HANDLERS: dict[str, _Handler] = {
    INSTRUMENTS.name: UwsAdapter.instruments,
    TICKERS.name: UwsAdapter.tickers,
    TICKER.name: UwsAdapter.ticker,
    ORDERBOOK.name: UwsAdapter.orderbook,
    RECENT_TRADES.name: UwsAdapter.recent_trades,
    OPENORDERS.name: UwsAdapter.open_orders,
    ORDER_STATUS.name: UwsAdapter.order_status,
    FILLS.name: UwsAdapter.fills,
    OPENPOSITIONS.name: UwsAdapter.positions,
    ACCOUNTS.name: UwsAdapter.accounts,
    SENDORDER.name: UwsAdapter.send_order,
    EDITORDER.name: UwsAdapter.edit_order,
    CANCELORDER.name: UwsAdapter.cancel_order,
    CANCELALLORDERS.name: UwsAdapter.cancel_all,
    CANCELALLORDERSAFTER.name: UwsAdapter.cancel_all_after,
    BATCHORDER.name: UwsAdapter.batch,
}


def served(endpoint: Endpoint) -> bool:
    """Whether :class:`UwsAdapter` answers ``endpoint``."""
    return endpoint.name in _HANDLERS

