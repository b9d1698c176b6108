"""WebSocket v1 of the served simulator (reference §3): challenge auth, public and private feeds.

One socket carries every feed, as on the exchange. Public feeds: ``book``
(``book_snapshot`` then deltas with an increasing ``seq``; ``qty`` 0 removes a
level), ``trade`` (``trade_snapshot`` then each trade), ``ticker`` (at most
one per second), ``ticker_lite`` and ``heartbeat``. Private feeds
(``open_orders``, ``open_orders_verbose``, ``open_positions``, ``fills``,
``balances``) need the challenge: ``{"event":"challenge","api_key":…}`` gets a
UUID; every private subscribe carries ``api_key``, ``original_challenge`` and
``signed_challenge``.

Public feeds are produced by sampling the market at each tick and sending
what changed; private ones are pushed by the engine's listeners. Each tick
also advances the engine, so resting orders fill while a client only listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from kfresearch.auth import ws_challenge_signature
from kfresearch.sim.exchange import SimExchange

__all__ = ["PRIVATE_FEEDS", "PUBLIC_FEEDS", "websocket_endpoint"]

PUBLIC_FEEDS = frozenset({"book", "trade", "ticker", "ticker_lite", "heartbeat"})
PRIVATE_FEEDS = frozenset(
    {"open_orders", "open_orders_verbose", "open_positions", "fills", "balances"}
)
TICK_SECONDS = 0.25
HEARTBEAT_MS = 5_000
TICKER_MS = 1_000
BOOK_DEPTH = 25
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


@dataclass
class _Subscription:
    feed: str
    product_id: str | None  # None only for the heartbeat feed
    last_ms: int = 0

    @property
    def symbol(self) -> str:
        if self.product_id is None:
            raise ValueError(f"the {self.feed} feed has no product")
        return self.product_id
    seq: int = 0
    book: tuple[dict[float, float], dict[float, float]] = field(default_factory=lambda: ({}, {}))


class _Session:
    """One connection's state: its challenge, subscriptions and outgoing queue."""

    def __init__(
        self, exchange: SimExchange, send: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        self.exchange = exchange
        self.send = send
        self.challenge: str | None = None
        self.account_id: str | None = None
        self.subs: dict[tuple[str, str | None], _Subscription] = {}
        self.private: set[str] = set()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self._rng = random.Random(exchange.seed)  # ids, not secrets

    # -- incoming -------------------------------------------------------------------
    async def on_message(self, text: str) -> None:
        try:
            message = orjson.loads(text)
            event = message["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await self.send({"event": "error", "message": "Json Error"})
            return
        if event == "challenge":
            self.challenge = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            await self.send({"event": "challenge", "message": self.challenge})
        elif event in {"subscribe", "unsubscribe"}:
            await self._subscription(event, message)
        else:
            await self.send({"event": "error", "message": "Json Error"})

    async def _subscription(self, event: str, message: dict[str, Any]) -> None:
        feed = str(message.get("feed", ""))
        products = message.get("product_ids")
        answer: dict[str, Any] = {"event": f"{event}d", "feed": feed}
        if products is not None:
            answer["product_ids"] = products
        failed = {**answer, "event": f"{event}d_failed"}
        if feed in PRIVATE_FEEDS:
            account = self._verify(message)
            if account is None:
                await self.send(failed)
                return
            self.account_id = account
            if event == "subscribe":
                self.private.add(feed)
                await self.send(answer)
                now = self.exchange.clock.now_ms()
                snapshot = self.exchange.run_locked(
                    lambda: self.exchange.engine.ws_snapshot(feed, account, now)
                )
                await self.send(snapshot)
            else:
                self.private.discard(feed)
                await self.send(answer)
            return
        if feed not in PUBLIC_FEEDS:
            await self.send(failed)
            return
        if feed == "heartbeat":
            keys: list[str | None] = [None]
        else:
            if not isinstance(products, list) or not products:
                await self.send(failed)
                return
            now = self.exchange.clock.now_ms()
            keys = []
            for product in products:
                spec = self.exchange.market.instrument(str(product), now)
                if spec is None:
                    await self.send(failed)
                    return
                keys.append(spec.symbol)
        if event == "unsubscribe":
            for key in keys:
                self.subs.pop((feed, key), None)
            await self.send(answer)
            return
        await self.send(answer)
        for key in keys:
            sub = _Subscription(feed, key)
            self.subs[(feed, key)] = sub
            for out in self.exchange.run_locked(functools.partial(self._snapshot, sub)):
                await self.send(out)

    def _verify(self, message: dict[str, Any]) -> str | None:
        key = self.exchange.keys.get(str(message.get("api_key", "")))
        original = message.get("original_challenge")
        signed = str(message.get("signed_challenge", ""))
        if key is None or not self.challenge or original != self.challenge:
            return None
        expected = ws_challenge_signature(key.credentials.secret, self.challenge)
        return key.account_id if hmac.compare_digest(signed, expected) else None

    # -- engine events (called in the thread that runs the engine) -------------------
    def on_engine_event(self, feed: str, account_id: str, message: dict[str, Any]) -> None:
        if account_id != self.account_id:
            return
        wanted = feed in self.private or (
            feed == "open_orders" and "open_orders_verbose" in self.private
        )
        if wanted:
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, message)

    # -- public feeds ------------------------------------------------------------------
    def _snapshot(self, sub: _Subscription) -> list[dict[str, Any]]:
        now = self.exchange.clock.now_ms()
        sub.last_ms = now
        if sub.feed == "heartbeat":
            return [{"feed": "heartbeat", "time": now}]
        if sub.feed == "book":
            bids, asks = self.exchange.market.book(sub.symbol, now, BOOK_DEPTH)
            sub.book = (dict(bids), dict(asks))
            sub.seq = 1
            return [
                {
                    "feed": "book_snapshot",
                    "product_id": sub.symbol,
                    "timestamp": now,
                    "seq": sub.seq,
                    "tickSize": None,
                    "bids": [{"price": p, "qty": q} for p, q in bids],
                    "asks": [{"price": p, "qty": q} for p, q in asks],
                }
            ]
        if sub.feed == "trade":
            recent = self._trades(sub, now - HOUR_MS, now)[-100:]
            return [{"feed": "trade_snapshot", "product_id": sub.symbol, "trades": recent}]
        return [self._ticker(sub.symbol, now, lite=sub.feed == "ticker_lite")]

    def updates(self) -> list[dict[str, Any]]:
        """Everything that changed since the last tick (call with the exchange locked)."""
        now = self.exchange.clock.now_ms()
        self.exchange.engine.advance(now)
        out: list[dict[str, Any]] = []
        for sub in list(self.subs.values()):
            if now <= sub.last_ms:
                continue
            if sub.feed == "heartbeat":
                if now - sub.last_ms >= HEARTBEAT_MS:
                    out.append({"feed": "heartbeat", "time": now})
                    sub.last_ms = now
            elif sub.feed == "book":
                out += self._book_deltas(sub, now)
            elif sub.feed == "trade":
                out += self._trades(sub, sub.last_ms + 1, now + 1)
                sub.last_ms = now
            elif now - sub.last_ms >= TICKER_MS:
                out.append(self._ticker(sub.symbol, now, lite=sub.feed == "ticker_lite"))
                sub.last_ms = now
        return out

    def _book_deltas(self, sub: _Subscription, now: int) -> list[dict[str, Any]]:
        bids, asks = self.exchange.market.book(sub.symbol, now, BOOK_DEPTH)
        out = []
        for side, old, new in (("buy", sub.book[0], dict(bids)), ("sell", sub.book[1], dict(asks))):
            changed = {p: 0.0 for p in old if p not in new}
            changed |= {p: q for p, q in new.items() if old.get(p) != q}
            for price in sorted(changed):
                sub.seq += 1
                out.append(
                    {
                        "feed": "book",
                        "product_id": sub.symbol,
                        "side": side,
                        "seq": sub.seq,
                        "price": price,
                        "qty": changed[price],
                        "timestamp": now,
                    }
                )
        sub.book = (dict(bids), dict(asks))
        sub.last_ms = now
        return out

    def _trades(self, sub: _Subscription, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        market = self.exchange.market
        trades = market.trades(sub.symbol, start_ms, end_ms)
        return [
            {
                "feed": "trade",
                "product_id": sub.symbol,
                "uid": market.trade_uid(sub.symbol, int(trades.trade_id[i])),
                "side": "buy" if trades.buy[i] else "sell",
                "type": "fill",
                "seq": int(trades.trade_id[i]),
                "time": int(trades.time_ms[i]),
                "qty": float(trades.size[i]),
                "price": float(trades.price[i]),
            }
            for i in range(len(trades.time_ms))
        ]

    def _ticker(self, symbol: str, now: int, *, lite: bool) -> dict[str, Any]:
        market = self.exchange.market
        spec = market.instrument(symbol, now)
        if spec is None:  # delisted (a dated contract expired) while subscribed
            feed = "ticker_lite" if lite else "ticker"
            return {"feed": feed, "product_id": symbol, "suspended": True}
        bids, asks = market.book(symbol, now, 1)
        stats = market.stats_24h(symbol, now)
        index = market.index_price(symbol, now)
        mark = market.mark_price(symbol, now)
        maturity = spec.last_trading_time_ms or 0
        common = {
            "bid": bids[0][0],
            "ask": asks[0][0],
            "change": stats.change_pct,
            "premium": round((mark - index) / index * 100, 4),
            "volume": stats.volume,
            "tag": spec.tag,
            "pair": spec.pair,
            "dtm": max(0, (maturity - now) // DAY_MS) if maturity else 0,
            "maturityTime": maturity,
            "volumeQuote": stats.volume_quote,
        }
        if lite:
            return {"feed": "ticker_lite", "product_id": symbol, **common}
        message: dict[str, Any] = {"time": now, "product_id": symbol}
        if spec.is_perpetual:
            absolute, relative = market.funding_rate(symbol, now // HOUR_MS * HOUR_MS)
            next_abs, next_rel = market.funding_prediction(symbol, now)
            message |= {
                "funding_rate": absolute,
                "funding_rate_prediction": next_abs,
                "relative_funding_rate": relative,
                "relative_funding_rate_prediction": next_rel,
                "next_funding_rate_time": (now // HOUR_MS + 1) * HOUR_MS,
            }
        leverage = round(1 / spec.margin_levels[0].initial) if spec.margin_levels else 1
        message |= {
            "feed": "ticker",
            **common,
            "bid_size": bids[0][1],
            "ask_size": asks[0][1],
            "leverage": f"{leverage}x",
            "index": index,
            "last": stats.last,
            "suspended": False,
            "openInterest": market.open_interest(symbol, now),
            "markPrice": mark,
            "post_only": False,
        }
        return message


def websocket_endpoint(exchange: SimExchange) -> Callable[[WebSocket], Awaitable[None]]:
    """The ASGI WebSocket handler for ``/ws/v1``."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()

        async def send(message: dict[str, Any]) -> None:
            await websocket.send_text(orjson.dumps(message).decode())

        session = _Session(exchange, send)
        exchange.engine.listeners.append(session.on_engine_event)

        async def pump() -> None:
            while True:
                await asyncio.sleep(TICK_SECONDS)
                for message in await asyncio.to_thread(exchange.run_locked, session.updates):
                    await send(message)
                while not session.outbox.empty():
                    await send(session.outbox.get_nowait())

        pumping = asyncio.create_task(pump())
        try:
            while True:
                await session.on_message(await websocket.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await pumping
            with contextlib.suppress(ValueError):
                exchange.engine.listeners.remove(session.on_engine_event)

    return endpoint
