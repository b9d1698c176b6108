"""What a :class:`~kfresearch.stream.Stream` does with each message the exchange sends.

:class:`StreamInbox` is a base of :class:`~kfresearch.stream.Stream`: it
applies book snapshots and deltas (resubscribing when a book cannot be
trusted), table records, heartbeats, answers and refusals, and publishes
them to the stream's callbacks and iterators.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from kfresearch.environments import Environment
from kfresearch.errors import StreamError, SubscriptionError
from kfresearch.stream.book import MAX_CHECKSUM_FAILURES, LiveBook
from kfresearch.stream.connection import Socket
from kfresearch.stream.delivery import Hub, Message
from kfresearch.stream.events import (
    Answer,
    BookDelta,
    BookLevels,
    BookSnapshot,
    ChallengeAnswer,
    Event,
    Heartbeat,
    Info,
    Many,
    Records,
    Refused,
)
from kfresearch.stream.protocol import PRIVATE_FEEDS, SNAPSHOT_FEEDS, WireProtocol
from kfresearch.stream.runner import LoopRunner
from kfresearch.stream.subscriptions import Key, Request, Subscriptions
from kfresearch.stream.tables import Table

__all__ = ["StreamInbox"]

log = logging.getLogger("kfresearch.stream")


class StreamInbox:
    """The incoming side of a stream (see the module docstring)."""

    if TYPE_CHECKING:  # the Stream's state, and what it does for its inbox
        env: Environment
        _books: dict[str, LiveBook]
        _subs: Subscriptions
        _tables: dict[str, Table]
        _hub: Hub
        _runner: LoopRunner | None
        _counts: dict[str, int]
        server_version: int | str | None
        last_heartbeat_ms: int | None
        _protocol: WireProtocol
        _challenge: asyncio.Future[str] | None
        _auth: tuple[str, str, str] | None
        _auth_retries: int
        system_status: str | None
        _socket: Socket | None

        def _ping(self) -> None: ...
        def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]: ...
        async def _send(self, request: Request) -> None: ...
        async def _send_unsent(self) -> None: ...

    # -- incoming ------------------------------------------------------------------------
    def _handle(self, text: str | bytes) -> None:
        self._counts["messages"] += 1
        self._dispatch(self._protocol.parse(text))

    def _dispatch(self, event: Event, optional: frozenset[str] = frozenset()) -> None:
        match event:
            case BookDelta() as delta:  # first: nearly every message of a busy stream
                self._on_delta(delta)
            case BookLevels() as levels:
                self._on_levels(levels)
            case Records() as records:
                if records.feed in optional and (records.feed, records.symbol) not in \
                        self._subs.keys:
                    return  # a shared channel's rows for a feed nobody subscribed
                self._on_records(records)
            case Many(events=events, optional=shared):
                for each in events:
                    self._dispatch(each, shared)
            case BookSnapshot() as snapshot:
                self._on_book(snapshot)
            case Heartbeat() as beat:
                self._on_heartbeat(beat)
            case Answer() as answer:
                self._on_answer(answer)
            case Refused() as refusal:
                self._on_refused(refusal)
            case ChallengeAnswer(challenge=challenge):
                if self._challenge is not None and not self._challenge.done():
                    self._challenge.set_result(challenge)
                with contextlib.suppress(ValueError):
                    self._subs.pending.remove(Request("challenge"))
            case Info(version=version, system=system):
                self.server_version = version
                if system is not None:
                    self.system_status = system
            case other:
                self._counts["unknown_messages"] += 1
                log.debug("message not understood: %r", other)

    def _on_delta(self, delta: BookDelta) -> None:
        book = self._books.get(delta.symbol)
        if book is None:
            self._counts["unexpected_messages"] += 1
            return
        outcome = book.apply_delta(delta)
        if outcome == "applied":
            if self._hub.wants("book"):
                side = "bid" if delta.bid else "ask"
                record = {"side": side, "price": delta.price, "size": delta.size, "seq": delta.seq}
                self._hub.publish(
                    Message("book", delta.symbol, False, (record,), delta.time_ms)
                )
        elif outcome != "ignored":
            self._resync(delta.symbol, outcome)

    def _on_levels(self, event: BookLevels) -> None:
        """A Unified WebSocket book message: applied and checksummed by the book."""
        key = self._subs.keys.get(("book", event.symbol))
        book = self._books.get(event.symbol)
        if key is None or book is None or book.status == "failed":
            self._counts["unexpected_messages"] += 1
            return
        outcome = book.apply_levels(event)
        if event.snapshot:
            key.resync = False
        if outcome == "ignored":
            return
        if outcome != "applied":
            if book.failures_in_row >= MAX_CHECKSUM_FAILURES:
                self._abandon(event.symbol, book, key)
            else:
                self._resync(event.symbol, outcome)
            return
        initial = False
        if event.snapshot:
            initial, key.initial = key.initial, False
            if key.status != "ready":
                key.settle()
                self._ping()
        if self._hub.wants("book"):
            records = tuple(
                [{"side": "bid", "price": float(p), "size": float(q), "seq": None}
                 for p, q in event.bids]
                + [{"side": "ask", "price": float(p), "size": float(q), "seq": None}
                   for p, q in event.asks]
            )
            self._hub.publish(Message("book", event.symbol, initial, records, event.time_ms))

    def _abandon(self, symbol: str, book: LiveBook, key: Key) -> None:
        """Too many checksum mismatches in a row: stop the book and say so plainly."""
        error = StreamError(
            f"book {symbol}: the checksum failed {book.failures_in_row} times in a row, each "
            "time after a fresh snapshot, so kfresearch stops maintaining this book rather than "
            f"show a wrong one (stream.stats()['books'][{symbol!r}] has the counts). Subscribe "
            f"again to retry: s.subscribe('book', [{symbol!r}])."
        )
        book.fail(error)
        log.warning("%s", error)
        key.settle(error)
        self._hub.error(error)
        self._ping()
        if self._socket is not None:
            self._spawn(self._send(Request("unsubscribe", "book", (symbol,))))

    def _on_book(self, snapshot: BookSnapshot) -> None:
        key = self._subs.keys.get(("book", snapshot.symbol))
        book = self._books.get(snapshot.symbol)
        if key is None or book is None:
            self._counts["unexpected_messages"] += 1
            return
        problem = book.apply_snapshot(snapshot)
        key.resync = False
        if problem is not None:
            self._resync(snapshot.symbol, problem)
            return
        initial, key.initial = key.initial, False
        if key.status != "ready":
            key.settle()
            self._ping()
        if self._hub.wants("book"):
            records = tuple(
                [{"side": "bid", "price": p, "size": q, "seq": snapshot.seq}
                 for p, q in snapshot.bids]
                + [{"side": "ask", "price": p, "size": q, "seq": snapshot.seq}
                   for p, q in snapshot.asks]
            )
            self._hub.publish(Message("book", snapshot.symbol, initial, records, snapshot.time_ms))

    def _on_records(self, event: Records) -> None:
        key = self._subs.keys.get((event.feed, event.symbol))
        if key is None:  # not (or no longer) subscribed
            self._counts["unexpected_messages"] += 1
            return
        self._tables[event.feed].apply(event)
        initial, key.initial = key.initial, False
        if key.status != "ready" and key.status != "failed":
            key.settle()
            self._ping()
        if self._hub.wants(event.feed):
            self._hub.publish(Message(event.feed, event.symbol, initial, tuple(event.records),
                                      event.time_ms, event.removed, event.reason, event.raw))

    def _on_heartbeat(self, beat: Heartbeat) -> None:
        if beat.time_ms is not None:
            self.last_heartbeat_ms = beat.time_ms
        key = self._subs.keys.get(("heartbeat", None))
        if key is not None and key.status != "ready":
            key.settle()
            self._ping()
        if self._hub.wants("heartbeat"):
            initial = False
            if key is not None:
                initial, key.initial = key.initial, False
            self._hub.publish(Message("heartbeat", None, initial, ({"time": beat.time_ms},),
                                      beat.time_ms))

    def _on_answer(self, answer: Answer) -> None:
        keys = self._subs.answered(answer)
        for key in keys:
            if answer.action == "unsubscribe":
                if key.resync:
                    key.status, key.requested = "pending", False
                    self._spawn(self._send_unsent())
                continue
            if key.feed in SNAPSHOT_FEEDS:
                if key.status == "pending":
                    key.status = "subscribed"
            elif key.status != "ready":
                key.settle()
        self._ping()

    def _on_refused(self, refusal: Refused) -> None:
        request, keys = self._subs.refused(refusal)
        if request is not None and request.action == "challenge":
            if self._challenge is not None and not self._challenge.done():
                self._challenge.set_exception(
                    SubscriptionError(refusal.message, feed="challenge", private=True)
                )
            return
        if request is None:
            error = StreamError(f"the exchange says: {refusal.message}")
            log.warning("%s", error)
            self._hub.error(error)
            return
        if request.action == "unsubscribe":
            for key in keys:  # could not unsubscribe for a fresh snapshot: subscribe anyway
                if key.resync:
                    key.status, key.requested = "pending", False
                    self._spawn(self._send_unsent())
            return
        if request.feed in PRIVATE_FEEDS and self._protocol.auth_refused(refusal.message):
            # the token was refused (expired, unknown): fetch a fresh one and ask again
            self._counts["auth_refusals"] += 1
            self._auth_retries += 1
            if self._auth_retries <= 3:  # per connection: a token that keeps failing is fatal
                self._auth = None
                for key in keys:
                    key.status, key.requested = "pending", False
                self._spawn(self._send_unsent())
                return
        failure = SubscriptionError(
            refusal.message, feed=request.feed, products=request.products,
            private=request.feed in PRIVATE_FEEDS,
        )
        self._counts["subscription_errors"] += 1
        # a script's blocking subscribe raises it; on a notebook's loop nobody may await
        # the subscription, so say it where the notebook shows it
        runner = self._runner
        log.log(logging.INFO if runner is not None and runner.owns_thread else logging.WARNING,
                "%s", failure)
        for key in keys:
            key.settle(failure)
        self._hub.error(failure)
        self._ping()

    def _resync(self, symbol: str, problem: str) -> None:
        """The local book cannot be trusted: unsubscribe and subscribe for a fresh snapshot."""
        key = self._subs.keys.get(("book", symbol))
        if key is None or key.resync:
            return
        self._counts["resyncs"] += 1
        log.info("book %s: %s, asking for a fresh snapshot", symbol, problem)
        key.resync = True
        key.initial = True
        key.status = "unsubscribing"
        self._ping()
        self._spawn(self._send(Request("unsubscribe", "book", (symbol,))))
