"""The Unified WebSocket (reference kraken-unified-ws.md) as a stream wire protocol.

:class:`KrakenUWS` speaks the Spot-v2-shaped envelope (``method``/``params``/
``req_id`` requests, ``channel``/``type``/``data`` pushes) and turns each
message into the stream's events, with rows in the v3 REST vocabulary the
frames read (:mod:`kfresearch.uws.bodies`), so ``stream.book()``, the live
tables and the callbacks are the same on both protocols.

==================  ========================================================
stream feed         UWS channel
==================  ========================================================
``book``            ``book`` at depth :data:`BOOK_DEPTH`, checksummed (§6)
``trade``           ``trade`` (snapshot: the last 50)
``ticker``          ``ticker`` (``ticker_lite`` has no twin: use ``ticker``)
``heartbeat``       answered by a ``ping``; then ``heartbeat`` pushes
``open_orders``     ``executions`` (one subscription feeds both: order
``fills``           changes to ``open_orders``, trades to ``fills``)
``open_positions``  ``positions`` (updates carry only what changed)
``balances``        ``margin`` (multi- and single-collateral wallets)
``account_log``,    none: the stream says so when asked
``notifications``
==================  ========================================================

Public channels go to ``/v2/public`` and private ones (with ``params.token``)
to ``/v2/private``: :class:`UwsConnector` holds both sockets behind one, the
private one opened at the first private request. The token comes from
``token()`` (``GetWebSocketsToken``, :mod:`kfresearch.uws.tokens`); an
``EAPI:Invalid token`` refusal makes the stream fetch a fresh one and ask
again.

Each request's ``req_id`` encodes the stream feed and action it is for, so an
answer (which may omit the channel, §6) is matched to its subscription.

Example
-------
>>> uws = KrakenUWS()
>>> uws.parse('{"channel":"book","type":"update","data":[{"symbol":"PF_XBTUSD",'
...           '"bids":[{"price":97000.5,"qty":0.0}],"asks":[{"price":97001.0,"qty":1.5}],'
...           '"checksum":2439117997,"timestamp":"2026-11-20T10:00:01.123456Z"}]}')
BookLevels(symbol='PF_XBTUSD', snapshot=False, time_ms=1795687201123, bids=[('97000.5', '0.0')], asks=[('97001.0', '1.5')], checksum=2439117997)
"""  # noqa: E501

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from kfresearch.credentials import Secret
from kfresearch.environments import Environment
from kfresearch.stream.connection import Connector, Socket, SocketClosed
from kfresearch.stream.events import (
    Answer,
    BookLevels,
    Event,
    Heartbeat,
    Info,
    Many,
    Records,
    Refused,
    Unknown,
)
from kfresearch.uws import bodies
from kfresearch.uws.wire import Answer as WireAnswer
from kfresearch.uws.wire import Push, decode, encode_request, time_ms

__all__ = ["BOOK_DEPTH", "KrakenUWS", "UwsConnector"]

#: book depth the stream subscribes (checksummed over the top 10; 25 gives headroom, §6)
BOOK_DEPTH = 25
ASSET_CLASS = "derivatives"

#: stream feed -> (UWS channel, subscribe parameters)
_CHANNELS: dict[str, tuple[str, dict[str, Any]]] = {
    "book": ("book", {"depth": BOOK_DEPTH, "snapshot": True}),
    "trade": ("trade", {"snapshot": True}),
    "ticker": ("ticker", {"snapshot": True}),
    "open_orders": ("executions", {"snap_orders": True, "snap_trades": True}),
    "fills": ("executions", {"snap_orders": True, "snap_trades": True}),
    "open_positions": ("positions", {"snapshot": True}),
    "balances": ("margin", {}),
}
#: parameters an unsubscribe must repeat (§6: the book's depth)
_REPEAT = {"book": ("depth",)}
_NOT_ON_UWS = {
    "account_log": "the account log has no Unified WebSocket channel (reference §1.9): read it "
    "with kf.account_log() (the History API, while it answers) or stream it with "
    "protocol='v3' until 2027-03-01",
    "notifications": "notifications have no Unified WebSocket channel (reference §1.9); use "
    "protocol='v3' until 2027-03-01",
    "ticker_lite": "the Unified WebSocket has one ticker channel: subscribe 'ticker'",
}
_FEEDS = ("heartbeat", "book", "trade", "ticker", "open_orders", "fills", "open_positions",
          "balances")
_ACTIONS = ("subscribe", "unsubscribe")
_SLOTS = 64  # req_id = n * _SLOTS + action * 16 + feed
_REQ_IDS = itertools.count(1)
_SHARED = frozenset({"open_orders", "fills"})


def _req_id(action: str, feed: str) -> int:
    return next(_REQ_IDS) * _SLOTS + _ACTIONS.index(action) * 16 + _FEEDS.index(feed)


def _of_req_id(req_id: int | None) -> tuple[str, str] | None:
    """(action, feed) a ``req_id`` of this module encodes."""
    if req_id is None or req_id < _SLOTS:
        return None
    action, feed = divmod(req_id % _SLOTS, 16)
    if action >= len(_ACTIONS) or feed >= len(_FEEDS):
        return None
    return _ACTIONS[action], _FEEDS[feed]


class KrakenUWS:
    """The :class:`~kfresearch.stream.protocol.WireProtocol` of the Unified WebSocket.

    Parameters
    ----------
    token : async callable, optional
        Returns a ``GetWebSocketsToken`` token (None: public feeds only).
    invalidate_token : callable, optional
        Forgets the token after ``EAPI:Invalid token``.
    """

    name = "uws"
    book_depth: int | None = BOOK_DEPTH

    def __init__(
        self,
        *,
        token: Callable[[], Awaitable[str]] | None = None,
        invalidate_token: Callable[[], None] | None = None,
    ) -> None:
        self._token = token
        self._invalidate = invalidate_token or (lambda: None)

    def url(self, env: Environment) -> str:
        return env.uws_public_url

    def connector(self, env: Environment, inner: Connector) -> Connector:
        return UwsConnector(inner, env.uws_public_url, env.uws_private_url)

    def unsupported(self, feed: str) -> str | None:
        return _NOT_ON_UWS.get(feed)

    def challenge_request(self, api_key: str) -> str | None:
        return None  # UWS authenticates each private request with a token instead

    def sign(self, secret: Secret, challenge: str) -> str:
        raise NotImplementedError("the Unified WebSocket signs no challenge")

    async def token(self) -> str | None:
        return await self._token() if self._token is not None else None

    def auth_refused(self, message: str) -> bool:
        refused = "Invalid token" in message or "ESession:Invalid session" in message
        if refused:
            self._invalidate()
        return refused

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
        action: str, feed: str, products: tuple[str, ...], auth: tuple[str, str, str] | None
    ) -> str:
        req_id = _req_id(action, feed)
        if feed == "heartbeat":  # no such subscription: a ping proves the connection
            return encode_request("ping", None, req_id)
        channel, extra = _CHANNELS[feed]
        params: dict[str, Any] = {"channel": channel}
        if channel != "balances":
            params["asset_class"] = ASSET_CLASS
        if products:
            params["symbol"] = list(products)
        if action == "subscribe":
            params |= extra
        else:
            params |= {k: extra[k] for k in _REPEAT.get(channel, ()) if k in extra}
        if auth is not None:
            params["token"] = auth[2]
        return encode_request(action, params, req_id)

    # -- incoming -------------------------------------------------------------------
    def parse(self, text: str | bytes) -> Event:
        message = decode(text)
        try:
            if isinstance(message, WireAnswer):
                return _answer(message)
            if isinstance(message, Push):
                parse = _PARSERS.get(message.channel)
                return parse(message) if parse is not None else Unknown(message.raw)
        except (KeyError, TypeError, ValueError, AttributeError):
            return Unknown(getattr(message, "raw", text))
        return Unknown(message.raw)


def _answer(answer: WireAnswer) -> Event:
    tagged = _of_req_id(answer.req_id)
    if tagged is None:
        if not answer.success:
            return Refused(str(answer.error or "refused"))
        return Unknown(answer.raw)
    action, feed = tagged
    result = answer.result if isinstance(answer.result, Mapping) else {}
    symbol = result.get("symbol") or answer.raw.get("symbol")
    products = (str(symbol),) if symbol else ()
    if answer.success:
        return Answer(action, feed, products)
    return Refused(str(answer.error or f"{action} refused"), action, feed, products)


# -- public channels -------------------------------------------------------------------


def _status(push: Push) -> Event:
    data = push.data[0] if isinstance(push.data, list) and push.data else {}
    return Info(data.get("version") or data.get("api_version"), data.get("system"))


def _heartbeat(push: Push) -> Event:
    return Heartbeat(None)


def _book(push: Push) -> Event:
    events: list[Event] = []
    for entry in push.data or ():
        checksum = entry.get("checksum")
        events.append(BookLevels(
            str(entry["symbol"]),
            push.type == "snapshot",
            time_ms(entry.get("timestamp")),
            [(str(lv["price"]), str(lv["qty"])) for lv in entry.get("bids") or ()],
            [(str(lv["price"]), str(lv["qty"])) for lv in entry.get("asks") or ()],
            int(checksum) if checksum is not None else None,
        ))
    return events[0] if len(events) == 1 else Many(tuple(events))


def _grouped(push: Push, feed: str, row: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Event:
    """One Records per symbol (a message may carry several)."""
    by_symbol: dict[str, list[Mapping[str, Any]]] = {}
    for entry in push.data or ():
        by_symbol.setdefault(str(entry.get("symbol")), []).append(entry)
    events: list[Event] = [
        Records(feed, symbol, push.type == "snapshot", [row(e) for e in entries],
                time_ms=max((t for e in entries if (t := time_ms(e.get("timestamp")))),
                            default=None),
                raw=push.raw)
        for symbol, entries in by_symbol.items()
    ]
    return events[0] if len(events) == 1 else Many(tuple(events))


def _trade_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    row = bodies.trade_row(entry)
    row["time"] = time_ms(entry.get("timestamp"))  # the stream's rows carry epoch ms (as v1)
    return row


def _trade(push: Push) -> Event:
    if push.type == "snapshot":
        return _grouped(push, "trade", _trade_row)
    # one message per trade, as WebSocket v1 sends them: callbacks and iterators see each
    events: list[Event] = [
        Records("trade", str(entry.get("symbol")), False, [_trade_row(entry)],
                time_ms=time_ms(entry.get("timestamp")), raw=push.raw)
        for entry in push.data or ()
    ]
    return events[0] if len(events) == 1 else Many(tuple(events))


def _ticker(push: Push) -> Event:
    return _grouped(push, "ticker", bodies.ticker_row)


# -- private channels ------------------------------------------------------------------

_CLOSED = frozenset({"filled", "canceled", "cancelled", "expired"})


def _executions(push: Push) -> Event:
    snapshot = push.type == "snapshot"
    orders: list[dict[str, Any]] = []
    removed: list[str] = []
    reason: str | None = None
    fills: list[dict[str, Any]] = []
    for report in push.data or ():
        kind = str(report.get("exec_type") or "")
        if kind == "trade" and report.get("last_qty") is not None:
            fill = bodies.fill_row(report)
            fill["fillTime"] = time_ms(report.get("timestamp"))
            fills.append(fill)
            if snapshot:
                continue  # a snapshot's fills are history, not the state of an order
        status = str(report.get("order_status") or "")
        if kind in ("canceled", "expired", "filled") or status in _CLOSED:
            removed.append(str(report.get("order_id")))
            reason = (
                "full_fill" if kind == "filled" or status == "filled"
                else str(report.get("cancel_reason") or kind)
            )
        elif report.get("order_id"):
            orders.append(bodies.open_order_row(report))
    stamp = max((t for r in push.data or () if (t := time_ms(r.get("timestamp")))), default=None)
    events = (
        Records("open_orders", None, snapshot, orders, time_ms=stamp, removed=tuple(removed),
                reason=reason, raw=push.raw),
        Records("fills", None, snapshot, fills, time_ms=stamp, raw=push.raw),
    )
    return Many(events, _SHARED)


def _positions(push: Push) -> Event:
    rows = [bodies.position_row(r) | {"markPrice": r.get("mark_price")} for r in push.data or ()]
    return Records("open_positions", None, push.type == "snapshot", rows,
                   time_ms=max((t for r in push.data or ()
                                if (t := time_ms(r.get("timestamp")))), default=None),
                   raw=push.raw)


def _margin(push: Push) -> Event:
    if push.type == "multi_collateral":
        body = bodies.accounts_body(multi=push.data or ())
    elif push.type == "single_collateral":
        body = bodies.accounts_body(single=push.data or ())
    else:
        return Unknown(push.raw)
    wallets = [{"account": name, **wallet} for name, wallet in body["accounts"].items()
               if name != "cash"]
    return Records("balances", None, False, wallets, raw=push.raw)


_PARSERS: dict[str, Callable[[Push], Event]] = {
    "status": _status,
    "heartbeat": _heartbeat,
    "book": _book,
    "trade": _trade,
    "ticker": _ticker,
    "executions": _executions,
    "positions": _positions,
    "margin": _margin,
}


# -- the two sockets behind one ----------------------------------------------------------


@dataclass(eq=False)
class _Barrier:
    reached: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class UwsConnector:
    """Opens a :class:`UwsSocket`: the public socket now, the private one when needed."""

    def __init__(self, inner: Connector, public_url: str, private_url: str) -> None:
        self.inner = inner
        self.public_url = public_url
        self.private_url = private_url
        self.flushable = inner.flushable

    async def connect(self, url: str) -> UwsSocket:
        return UwsSocket(self.inner, await self.inner.connect(self.public_url), self.private_url)


class UwsSocket:
    """``/v2/public`` and ``/v2/private`` as one socket for the stream.

    Requests carrying a token go to the private socket (opened at the first);
    everything else to the public one. Messages of both arrive in one inbox.
    The ``executions`` channel feeds two stream feeds: a second subscription to
    it unsubscribes and subscribes again (a fresh snapshot for both; the
    unsubscribe's answer is swallowed), and unsubscribing one of them while
    the other is still wanted only answers locally. When either socket ends,
    the pair ends (the stream reconnects both and replays its subscriptions).
    """

    def __init__(self, inner: Connector, public: Socket, private_url: str) -> None:
        self._inner = inner
        self._private_url = private_url
        self._public = public
        self._private: Socket | None = None
        self._inbox: asyncio.Queue[str | bytes | _Barrier | SocketClosed] = asyncio.Queue()
        self._readers = [asyncio.get_running_loop().create_task(self._pump(public))]
        self._executions: set[str] = set()
        self._swallow: set[int] = set()
        self._closed: SocketClosed | None = None
        self._barriers: set[_Barrier] = set()
        self._lock = asyncio.Lock()

    async def _pump(self, socket: Socket) -> None:
        while True:
            try:
                text = await socket.recv()
            except SocketClosed as exc:
                self._end(exc)
                return
            if self._swallow and '"unsubscribe"' in str(text):
                answer = decode(text)
                if isinstance(answer, WireAnswer) and answer.req_id in self._swallow:
                    self._swallow.discard(answer.req_id)
                    continue
            self._inbox.put_nowait(text)

    def _end(self, exc: SocketClosed) -> None:
        if self._closed is None:
            self._closed = exc
            self._inbox.put_nowait(exc)
        for barrier in self._barriers:  # a flush waiting behind the end fails, not hangs
            if not barrier.reached.done():
                barrier.reached.set_exception(exc)
        self._barriers.clear()

    async def _private_socket(self) -> Socket:
        async with self._lock:
            if self._private is None:
                try:
                    self._private = await self._inner.connect(self._private_url)
                except (OSError, TimeoutError) as exc:
                    raise SocketClosed(f"could not open {self._private_url}: {exc}") from exc
                self._readers.append(asyncio.get_running_loop().create_task(
                    self._pump(self._private)
                ))
            return self._private

    async def send(self, text: str) -> None:
        if self._closed is not None:
            raise self._closed
        message = orjson.loads(text)
        params = message.get("params") or {}
        if "token" not in params:
            await self._public.send(text)
            return
        private = await self._private_socket()
        tagged = _of_req_id(message.get("req_id"))
        feed = tagged[1] if tagged else ""
        if params.get("channel") == "executions" and feed:
            if message["method"] == "subscribe":
                if self._executions:
                    # widen: a fresh executions snapshot serves the feeds held and the new one
                    again = _req_id("unsubscribe", feed)
                    self._swallow.add(again)
                    stop = {k: v for k, v in params.items()
                            if k in ("channel", "asset_class", "token")}
                    await private.send(encode_request("unsubscribe", stop, again))
                self._executions.add(feed)
            else:
                self._executions.discard(feed)
                if self._executions:  # the other feed still wants the channel
                    self._inbox.put_nowait(orjson.dumps({
                        "method": "unsubscribe", "req_id": message.get("req_id"),
                        "success": True, "result": {"channel": "executions"},
                    }).decode())
                    return
        await private.send(text)

    async def recv(self) -> str | bytes:
        while True:
            item = await self._inbox.get()
            if isinstance(item, _Barrier):
                if not item.reached.done():
                    item.reached.set_result(None)
                continue
            if isinstance(item, SocketClosed):
                self._inbox.put_nowait(item)  # every later recv sees the end too
                raise item
            return item

    async def flush(self) -> None:
        """Both in-process sockets publish up to the simulator's time; returns once the
        stream has read all of it (the in-process connector only)."""
        for socket in (self._public, self._private):
            if socket is not None:
                await socket.flush()  # type: ignore[attr-defined]
        if self._closed is not None:
            raise self._closed
        barrier = _Barrier()
        self._barriers.add(barrier)
        self._inbox.put_nowait(barrier)
        try:
            await barrier.reached
        finally:
            self._barriers.discard(barrier)

    async def close(self) -> None:
        for socket in (self._public, self._private):
            if socket is not None:
                with contextlib.suppress(Exception):
                    await socket.close()
        for reader in self._readers:
            reader.cancel()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        self._end(SocketClosed("closed", 1000))
