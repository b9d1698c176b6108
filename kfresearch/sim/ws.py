"""WebSocket v1 of the simulator (reference §3): challenge auth, public and private feeds.

One socket carries every feed, as on the exchange, and opens with
``{"event": "info", "version": 1}`` before the client says anything. Public feeds: ``book``
(``book_snapshot`` then deltas with an increasing ``seq``; ``qty`` 0 removes a
level), ``trade`` (``trade_snapshot`` then each trade), ``ticker`` (at most
one per second), ``ticker_lite`` and ``heartbeat``. Private feeds
(``open_orders``, ``open_orders_verbose``, ``open_positions``, ``fills``,
``balances``, ``account_log``, ``notifications_auth``) need the challenge:
``{"event":"challenge","api_key":…}`` gets a UUID; every private subscribe
carries ``api_key``, ``original_challenge`` and ``signed_challenge``.

Public feeds are produced by sampling the market at each tick and sending
what changed; private ones are pushed by the engine's listeners. Each tick
also advances the engine, so resting orders fill while a client only listens.

One :class:`FeedSession` serves one connection over any pair of "receive a
text" / "send a text" functions: :func:`websocket_endpoint` runs it behind
``kfresearch sim serve``, and :mod:`kfresearch.stream` runs it in-process
(no sockets) for ``env="sim"``. A session handles one request or one tick at
a time, so nothing of a feed follows its ``unsubscribed`` answer, and within a
tick the heartbeat comes last: a client that sees the heartbeat stamped ``T``
has everything the exchange published up to ``T``. Book deltas of a tick
remove levels before adding any, so the book is never crossed between two
messages.

Test hooks: ``ws_drop`` and ``ws_skip`` faults (:mod:`kfresearch.sim.faults`)
cut the connection or swallow a message (a ``seq`` gap) on the way out.
"""

from __future__ import annotations

import functools
import hmac
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.websockets import WebSocket

from kfresearch.auth import ws_challenge_signature
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.pushsession import PushSession, Send, SessionDropped
from kfresearch.sim.pushsession import websocket_endpoint as serve_sessions

__all__ = [
    "INFO_EVENT",
    "PRIVATE_FEEDS",
    "PUBLIC_FEEDS",
    "FeedSession",
    "SessionDropped",
    "websocket_endpoint",
]

INFO_EVENT = {"event": "info", "version": 1}  # the first message of every connection
PUBLIC_FEEDS = frozenset({"book", "trade", "ticker", "ticker_lite", "heartbeat"})
#: private feeds whose snapshot the engine builds (:mod:`kfresearch.sim.private_feeds`)
ENGINE_FEEDS = frozenset(
    {"open_orders", "open_orders_verbose", "open_positions", "fills", "balances"}
)
#: private feeds this module builds from the account log and the notice board
LOG_FEEDS = frozenset({"account_log", "notifications_auth"})
PRIVATE_FEEDS = ENGINE_FEEDS | LOG_FEEDS
HEARTBEAT_MS = 5_000
TICKER_MS = 1_000
BOOK_DEPTH = 25
LOG_SNAPSHOT = 100  # account-log entries in the snapshot, newest first
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

@dataclass
class _Subscription:
    feed: str
    product_id: str | None  # None only for the heartbeat feed
    last_ms: int = 0
    seq: int = 0
    book: tuple[dict[float, float], dict[float, float]] = field(default_factory=lambda: ({}, {}))

    @property
    def symbol(self) -> str:
        if self.product_id is None:
            raise ValueError(f"the {self.feed} feed has no product")
        return self.product_id


class FeedSession(PushSession):
    """One v1 connection's state: its challenge, subscriptions and outgoing queue.

    Parameters
    ----------
    exchange : SimExchange
    send : async callable
        Sends one text frame to the client.
    offload : bool
        Compute each tick in a worker thread (a served simulator, whose HTTP
        requests run in threads too); in-process sessions compute it inline.
    """

    def __init__(self, exchange: SimExchange, send: Send, *, offload: bool = True) -> None:
        super().__init__(exchange, send, offload=offload)
        self.challenge: str | None = None
        self.subs: dict[tuple[str, str | None], _Subscription] = {}
        self.private: set[str] = set()
        # challenges: seeded (reproducible) but on a stream of their own, so that they do
        # not repeat the engine's ids (the account uid is the same seed's first draw)
        self._rng = random.Random(f"ws-challenges-{exchange.seed}")  # ids, not secrets
        self._log_sent = 0  # id of the last account-log entry sent
        self._notices_sent = 0
        self._tick_ms = exchange.clock.now_ms()  # the time of the last tick

    # -- the connection --------------------------------------------------------------
    async def opened(self) -> None:
        await self.send(INFO_EVENT)

    def fault_path(self, message: dict[str, Any]) -> str:
        return f"/ws/v1/{message.get('feed', '')}"

    # -- incoming -------------------------------------------------------------------
    async def on_message(self, text: str) -> None:
        self.exchange.log("WS", "/ws/v1", text, None)
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
                for out in self.exchange.run_locked(
                    functools.partial(self._private_snapshot, feed, account)
                ):
                    await self._deliver(out)
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
                await self._deliver(out)

    def _verify(self, message: dict[str, Any]) -> str | None:
        key = self.exchange.keys.get(str(message.get("api_key", "")))
        original = message.get("original_challenge")
        signed = str(message.get("signed_challenge", ""))
        if key is None or not self.challenge or original != self.challenge:
            return None
        expected = ws_challenge_signature(key.credentials.secret, self.challenge)
        return key.account_id if hmac.compare_digest(signed, expected) else None

    # -- engine events (called in the thread that runs the engine) -------------------
    def translate(self, feed: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = feed in self.private or (
            feed == "open_orders" and "open_orders_verbose" in self.private
        )
        return [message] if wanted else []

    # -- private feeds -----------------------------------------------------------------
    def _private_snapshot(self, feed: str, account_id: str) -> list[dict[str, Any]]:
        now = self.exchange.clock.now_ms()
        if feed in ENGINE_FEEDS:
            return [self.exchange.engine.ws_snapshot(feed, account_id, now)]
        if feed == "account_log":
            log = self.exchange.engine.account(account_id, now).log
            self._log_sent = log[-1].id if log else 0
            newest = [entry.json() for entry in reversed(log[-LOG_SNAPSHOT:])]
            return [{"feed": "account_log_snapshot", "logs": newest}]
        notices = self.exchange.notifications.since(0)
        self._notices_sent = len(notices)
        return [{"feed": "notifications_auth", "notifications": [n.ws() for n in notices]}]

    def _log_updates(self, now: int) -> list[dict[str, Any]]:
        """New account-log entries (one message each) and new notices since the last tick."""
        out: list[dict[str, Any]] = []
        if "account_log" in self.private and self.account_id is not None:
            log = self.exchange.engine.account(self.account_id, now).log
            for entry in log[self._log_sent :]:
                out.append({"feed": "account_log", "new_entry": entry.json()})
            self._log_sent = len(log)
        if "notifications_auth" in self.private:
            fresh = self.exchange.notifications.since(self._notices_sent)
            if fresh:
                self._notices_sent += len(fresh)
                out.append({"feed": "notifications_auth", "notifications": [n.ws() for n in fresh]})
        return out

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
        self._tick_ms = now
        out: list[dict[str, Any]] = []
        for sub in list(self.subs.values()):
            if now <= sub.last_ms or sub.feed == "heartbeat":
                continue
            if sub.feed == "book":
                out += self._book_deltas(sub, now)
            elif sub.feed == "trade":
                out += self._trades(sub, sub.last_ms + 1, now + 1)
                sub.last_ms = now
            elif now - sub.last_ms >= TICKER_MS:
                out.append(self._ticker(sub.symbol, now, lite=sub.feed == "ticker_lite"))
                sub.last_ms = now
        return out + self._log_updates(now)

    def trailer(self) -> list[dict[str, Any]]:
        """The heartbeat of this tick, when one is due: always the tick's last message."""
        now = self._tick_ms
        sub = self.subs.get(("heartbeat", None))
        if sub is None or now - sub.last_ms < HEARTBEAT_MS:
            return []
        sub.last_ms = now
        return [{"feed": "heartbeat", "time": now}]

    def _book_deltas(self, sub: _Subscription, now: int) -> list[dict[str, Any]]:
        bids, asks = self.exchange.market.book(sub.symbol, now, BOOK_DEPTH)
        removed: list[tuple[str, float, float]] = []
        changed: list[tuple[str, float, float]] = []
        for side, old, new in (("buy", sub.book[0], dict(bids)), ("sell", sub.book[1], dict(asks))):
            removed += [(side, p, 0.0) for p in sorted(old) if p not in new]
            changed += [(side, p, q) for p, q in sorted(new.items()) if old.get(p) != q]
        out = []
        # removals first: every intermediate book holds only prices of the new
        # (uncrossed) book, so it is never crossed between two messages
        for side, price, qty in removed + changed:
            sub.seq += 1
            out.append(
                {
                    "feed": "book",
                    "product_id": sub.symbol,
                    "side": side,
                    "seq": sub.seq,
                    "price": price,
                    "qty": qty,
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
    """The ASGI WebSocket handler for ``/ws/v1`` (an exchange may serve it its own way:
    ``demo`` relays its upstream's market, :mod:`kfresearch.sim.demo_feeds`)."""
    session: type[FeedSession] = getattr(exchange, "feed_session", FeedSession)
    return serve_sessions(exchange, "/ws/v1", functools.partial(session, exchange))
