"""One Unified WebSocket connection to the simulator: ``/v2/public`` or ``/v2/private``.

A :class:`UwsSession` is a :class:`~kfresearch.sim.pushsession.PushSession`:
served behind ``kfresearch sim serve`` (:func:`uws_endpoint`) or run
in-process by :mod:`kfresearch.stream.inprocess`, whose ``flush()`` publishes
everything up to the simulator's clock (so notebooks and tests drive it
deterministically).

On opening it sends ``status`` (``system`` online, ``api_version`` v2,
``version``, and a u64 ``connection_id``). Requests: ``ping`` (answered
``pong``), ``subscribe``/``unsubscribe`` (one answer per symbol, then the
snapshot), and on the private endpoint the trading methods of
:mod:`kfresearch.sim.uws.trading`. Each tick pushes what changed, then
``{"channel": "heartbeat"}`` once a second of simulated time while anything
is subscribed (a served session also once a wall-clock second, so a fixed
clock does not look dead).

Private requests (private channels and trading methods) carry
``params.token`` from ``GetWebSocketsToken``: a token not issued, or older
than 15 minutes on its first use, is ``EAPI:Invalid token`` and the socket
stays open (:mod:`kfresearch.sim.uws.tokens`). Private requests on
``/v2/public`` are refused. ``asset_class`` is ``derivatives`` (required
on every subscription but ``balances`` and on the trading methods but
``cancel_all_orders_after``, where it is optional); ``spot`` is refused:
Kraken serves derivatives only on UWS for now (§1.1).

The pushes a trading method causes on this connection's ``executions`` go out
before its answer. Faults (:mod:`kfresearch.sim.faults`): pushes meet
``ws_drop``/``ws_skip``/``ws_close``/``ws_corrupt`` at
``/v2/<endpoint>/<channel>``; a trading method's answer meets
``ws_drop``/``ws_skip``/``ws_close`` at ``/v2/private/<method>`` after the
method ran (the order is placed, its answer lost); ``ws_bad_token`` refuses a
private request's token at ``/v2/private/<method or channel>``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from kfresearch.sim.faults import WS_KINDS, WS_REQUEST_KINDS
from kfresearch.sim.keys import SimKey
from kfresearch.sim.pushsession import PushSession, Send, SessionDropped, websocket_endpoint
from kfresearch.sim.uws import wire
from kfresearch.sim.uws.private import PRIVATE_CHANNELS, PrivateFeeds
from kfresearch.sim.uws.protocol import Request, UwsError, answer, parse_request
from kfresearch.sim.uws.public import (
    PUBLIC_CHANNELS,
    PublicSubscription,
    corrupt_book_update,
    subscribe_public,
)
from kfresearch.sim.uws.trading import TRADING_METHODS, Trader

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from kfresearch.sim.exchange import SimExchange

__all__ = ["API_VERSION", "HEARTBEAT_MS", "VERSION", "UwsSession", "uws_endpoint"]

API_VERSION = "v2"
VERSION = "2.0.10"  # not from the reference: the server version the status message names
HEARTBEAT_MS = 1_000
T = TypeVar("T")
Message = dict[str, Any]


class UwsSession(PushSession):
    """One connection (see the module docstring).

    Parameters
    ----------
    exchange : SimExchange
    send : async callable
        Sends one text frame to the client.
    private : bool
        ``/v2/private`` (True) or ``/v2/public``.
    offload : bool
        Served (True): ticks and requests run in worker threads, and heartbeats
        also follow the wall clock. In-process (False): everything inline.
    """

    def __init__(
        self, exchange: SimExchange, send: Send, *, private: bool, offload: bool = True
    ) -> None:
        super().__init__(exchange, send, offload=offload)
        self.private = private
        self.endpoint = "/v2/private" if private else "/v2/public"
        self.service = exchange.uws
        self.connection_id = self.service.connection_id()
        self.public: dict[tuple[Any, ...], PublicSubscription] = {}
        self.feeds: PrivateFeeds | None = None
        self.used_tokens: set[str] = set()
        self._heartbeat_ms = exchange.clock.now_ms()
        self._heartbeat_wall = time.monotonic()

    # -- the protocol's hooks ---------------------------------------------------------------
    async def opened(self) -> None:
        status = {
            "api_version": API_VERSION,
            "connection_id": self.connection_id,
            "system": "online",
            "version": VERSION,
        }
        await self.send({"channel": "status", "type": "update", "data": [status]})

    def fault_path(self, message: Message) -> str:
        return f"{self.endpoint}/{message.get('channel', '')}"

    def corrupt(self, message: Message) -> Message:
        return corrupt_book_update(message)

    def encode(self, message: Message) -> str:
        return wire.encode(message)

    def updates(self) -> list[Message]:
        now = self.exchange.clock.now_ms()
        self.exchange.engine.advance(now)
        out: list[Message] = []
        for sub in list(self.public.values()):
            out += sub.updates(now)
        return out

    def trailer(self) -> list[Message]:
        if not self.public and not (self.feeds and self.feeds.options):
            return []
        now, wall = self.exchange.clock.now_ms(), time.monotonic()
        due = now - self._heartbeat_ms >= HEARTBEAT_MS or (
            self.offload and wall - self._heartbeat_wall >= HEARTBEAT_MS / 1000
        )
        if not due:
            return []
        self._heartbeat_ms, self._heartbeat_wall = now, wall
        return [{"channel": "heartbeat"}]

    def translate(self, feed: str, message: Message) -> list[Message]:
        if self.feeds is None:
            return []
        return self.feeds.translate(feed, message, self.exchange.clock.now_ms())

    # -- requests ---------------------------------------------------------------------------
    async def on_message(self, text: str) -> None:
        time_in = self._now_text()
        try:
            request = parse_request(orjson.loads(text))
        except (orjson.JSONDecodeError, UwsError) as exc:
            error = exc if isinstance(exc, UwsError) else UwsError.of("malformed")
            await self.send(answer("", None, time_in, self._now_text(), error=error))
            return
        if request.method == "ping":
            pong: Message = {"method": "pong"}
            if request.req_id is not None:
                pong["req_id"] = request.req_id
            await self.send(pong | {"time_in": time_in, "time_out": self._now_text()})
            return
        try:
            if request.method in {"subscribe", "unsubscribe"}:
                await self._subscription(request, time_in)
            elif request.method in TRADING_METHODS:
                await self._trade(request, time_in)
            else:
                raise UwsError.of("method")
        except UwsError as error:
            await self._answer(request, time_in, error=error)

    async def _answer(
        self, request: Request, time_in: str, *, result: Any = None, error: UwsError | None = None
    ) -> None:
        await self.send(
            answer(request.method, request.req_id, time_in, self._now_text(),
                   result=result, error=error)
        )

    def _now_text(self) -> str:
        return wire.rfc3339(self.exchange.clock.now_ms())

    async def _locked(self, work: Callable[[], T]) -> T:
        """Run ``work`` with the exchange locked (in a worker thread when served)."""
        if self.offload:
            return await asyncio.to_thread(self.exchange.run_locked, work)
        return self.exchange.run_locked(work)

    @staticmethod
    def _asset_class(params: dict[str, Any], *, required: bool) -> None:
        value = params.get("asset_class")
        if value is None:
            if required:
                raise UwsError.of("missing", "asset_class")
            return
        if value != "derivatives":
            raise UwsError.of("spot", value)

    def _authorize(self, params: dict[str, Any], what: str) -> SimKey:
        """The key of the request's token (a private request), or the refusal."""
        if not self.private:
            raise UwsError.of("public_endpoint", what)
        if self.exchange.faults.pick(f"/v2/private/{what}", WS_REQUEST_KINDS) is not None:
            raise UwsError.of("token")
        token = self.service.tokens.check(
            params.get("token"), self.exchange.clock.now_ms(), self.used_tokens
        )
        if token is None:
            raise UwsError.of("token")
        self.used_tokens.add(token.value)
        if self.account_id is None:
            self.account_id = token.key.account_id
        return token.key

    # -- subscriptions ----------------------------------------------------------------------
    async def _subscription(self, request: Request, time_in: str) -> None:
        params = request.params
        channel = params.get("channel")
        if not isinstance(channel, str):
            raise UwsError.of("missing", "channel")
        if channel in PRIVATE_CHANNELS:
            await self._private_subscription(request, channel, time_in)
        elif channel in PUBLIC_CHANNELS:
            self._asset_class(params, required=True)
            await self._public_subscription(request, time_in)
        else:
            raise UwsError.of("channel", channel)

    async def _public_subscription(self, request: Request, time_in: str) -> None:
        unsubscribe = request.method == "unsubscribe"
        now = self.exchange.clock.now_ms()
        subs, snapshot = subscribe_public(request.params, self.exchange.market, now)
        for sub in subs:
            if isinstance(sub, UwsError):
                await self._answer(request, time_in, error=sub)
                continue
            current = self.public.get(sub.key)
            extra = {"symbol": sub.symbol} if sub.symbol is not None else {}
            if unsubscribe:
                if current is None or not current.matches_unsubscribe(request.params):
                    missing = UwsError.of("not_subscribed", **extra)
                    await self._answer(request, time_in, error=missing)
                    continue
                del self.public[sub.key]
                await self._answer(request, time_in, result=current.result(snapshot))
                continue
            if current is not None:
                await self._answer(request, time_in, error=UwsError.of("subscribed", **extra))
                continue
            self.public[sub.key] = sub
            await self._answer(request, time_in, result=sub.result(snapshot))
            if snapshot:
                for message in await self._locked(functools.partial(sub.snapshot, now)):
                    await self._deliver(message)
            else:
                await self._locked(functools.partial(sub.start, now))

    async def _private_subscription(self, request: Request, channel: str, time_in: str) -> None:
        params = request.params
        self._asset_class(params, required=channel != "balances")
        self._authorize(params, channel)
        if self.account_id is None:  # pragma: no cover - set by _authorize
            raise UwsError.of("token")
        if self.feeds is None:
            self.feeds = PrivateFeeds(self.exchange.engine, self.account_id)
        feeds = self.feeds
        if request.method == "unsubscribe":
            if not feeds.unsubscribe(channel):
                raise UwsError.of("not_subscribed")
            await self._answer(request, time_in, result={"channel": channel})
            return
        now = self.exchange.clock.now_ms()

        def subscribe() -> tuple[Message, list[Message]]:
            self.exchange.engine.advance(now)
            return feeds.subscribe(channel, params, now)

        result, snapshot = await self._locked(subscribe)
        await self._answer(request, time_in, result=result)
        for message in snapshot:
            await self._deliver(message)

    # -- trading ----------------------------------------------------------------------------
    async def _trade(self, request: Request, time_in: str) -> None:
        params = request.params
        self._asset_class(params, required=request.method != "cancel_all_orders_after")
        key = self._authorize(params, request.method)
        assert self.account_id is not None  # noqa: S101 - set by _authorize
        trader = Trader(self.exchange, self.account_id, can_trade=key.can_trade)
        now = self.exchange.clock.now_ms()
        outcomes = await self._locked(functools.partial(trader.run, request.method, params, now))
        await self.drain()  # the executions the method caused come before its answer
        path = f"/v2/private/{request.method}"
        for result, error in outcomes:
            fault = self.exchange.faults.pick(path, WS_KINDS)
            if fault is not None and fault.kind == "ws_skip":
                continue
            if fault is not None and fault.kind in {"ws_drop", "ws_close"}:
                code = fault.code if fault.kind == "ws_close" else None
                raise SessionDropped(f"{fault.kind} fault before the answer on {path}", code)
            await self._answer(request, time_in, result=result, error=error)


def uws_endpoint(exchange: SimExchange, *, private: bool) -> Callable[[WebSocket], Awaitable[None]]:
    """The ASGI WebSocket handler for ``/v2/private`` (``private``) or ``/v2/public``."""
    return websocket_endpoint(
        exchange,
        "/v2/private" if private else "/v2/public",
        functools.partial(UwsSession, exchange, private=private),
    )
