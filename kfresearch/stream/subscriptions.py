"""What the stream wants from the exchange, and where each part of it stands.

One :class:`Key` per feed and product (``None`` for account feeds and the
heartbeat): wanted until unsubscribed, re-requested after every reconnect.
Requests go out in order and the exchange answers them in order, so an
answer that does not say which request it answers (a bare
``{"event":"error"}``) belongs to the oldest request still waiting
(:meth:`Subscriptions.refused`).

Key status: ``pending`` (asked, no answer), ``subscribed`` (accepted, its
snapshot not yet handled), ``ready``, ``failed`` (refused: ``error`` says
why), ``unsubscribing`` (on the way to a fresh snapshot when ``resync``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kfresearch.errors import KFError
from kfresearch.stream.events import Answer, Refused

__all__ = ["Key", "KeyStatus", "Request", "Subscriptions"]

KeyStatus = Literal["pending", "subscribed", "ready", "failed", "unsubscribing"]


@dataclass(eq=False)
class Key:
    """One feed of one product (``product`` None for account feeds and the heartbeat)."""

    feed: str
    product: str | None
    status: KeyStatus = "pending"
    error: KFError | None = None
    requested: bool = False  # a subscribe for it went out on this connection
    initial: bool = True  # its next data message is a (re)subscription's first
    resync: bool = False  # unsubscribed for a fresh snapshot: subscribe again when answered
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        return self.status in ("ready", "failed")

    def settle(self, error: KFError | None = None) -> None:
        """Mark it ready (or failed with ``error``) and wake whoever waits for it."""
        self.status = "failed" if error is not None else "ready"
        self.error = error
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


@dataclass(frozen=True)
class Request:
    """A request sent and not yet answered: ``action`` subscribe, unsubscribe or challenge."""

    action: str
    feed: str = ""
    products: tuple[str, ...] = ()


class Subscriptions:
    """The wanted keys and the requests waiting for an answer (on the stream's loop only)."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str | None], Key] = {}
        self.pending: deque[Request] = deque()

    def want(self, feed: str, products: Iterable[str | None]) -> list[Key]:
        """The keys of ``feed`` × ``products``, made when new; a failed one is asked again."""
        keys = []
        for product in products:
            key = self.keys.get((feed, product))
            if key is None:
                key = self.keys[(feed, product)] = Key(feed, product)
            elif key.status == "failed":
                key.status, key.error, key.requested = "pending", None, False
            keys.append(key)
        return keys

    def drop(self, feed: str, products: Iterable[str | None]) -> list[Key]:
        """Forget keys (unsubscribe); their waiters are released."""
        dropped = []
        for product in products:
            key = self.keys.pop((feed, product), None)
            if key is not None:
                for waiter in key.waiters:
                    waiter.cancel()
                key.waiters.clear()
                dropped.append(key)
        return dropped

    def take_unsent(self) -> dict[str, list[str | None]]:
        """Products of each feed that no request has asked for on this connection, now
        marked asked (so two senders never ask twice)."""
        out: dict[str, list[str | None]] = {}
        for key in self.keys.values():
            if not key.requested and key.status != "failed":
                key.requested = True
                key.status = "pending"
                out.setdefault(key.feed, []).append(key.product)
        return out

    def reconnected(self) -> None:
        """A new connection: every key is asked again and starts with a snapshot."""
        self.pending.clear()
        for key in self.keys.values():
            key.requested = False
            key.initial = True
            key.resync = False
            if key.status != "failed":
                key.status = "pending"

    def answered(self, answer: Answer) -> list[Key]:
        """The keys an accepted (un)subscription is about; its request is no longer pending."""
        self._forget(answer.action, answer.feed, answer.products)
        return self._keys_of(answer.feed, answer.products)

    def refused(self, refusal: Refused) -> tuple[Request | None, list[Key]]:
        """The request a refusal answers (the oldest pending one when it does not say) and
        its keys."""
        if refusal.feed is not None:
            request = self._forget(refusal.action or "subscribe", refusal.feed, refusal.products)
            request = request or Request(refusal.action or "subscribe", refusal.feed,
                                         refusal.products)
        elif self.pending:
            request = self.pending.popleft()
        else:
            return None, []
        return request, self._keys_of(request.feed, request.products)

    def _forget(self, action: str, feed: str, products: tuple[str, ...]) -> Request | None:
        for request in self.pending:
            if request.action == action and request.feed == feed and (
                not products or set(request.products) == set(products)
            ):
                self.pending.remove(request)
                return request
        return None

    def _keys_of(self, feed: str, products: tuple[str, ...]) -> list[Key]:
        if not feed:
            return []
        if not products:
            key = self.keys.get((feed, None))
            if key is not None:
                return [key]
            return [k for k in self.keys.values() if k.feed == feed]
        return [k for p in products if (k := self.keys.get((feed, p))) is not None]
