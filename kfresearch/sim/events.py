"""What the engine tells the private WebSocket feeds, sent once a unit of work is done.

The engine's parts :meth:`Events.emit` messages as things happen and
:meth:`Events.touch` the accounts whose positions or balances changed; when
the engine's unit of work is over, :meth:`Events.flush` adds a positions and
a balances snapshot of every touched account and :meth:`Events.dispatch`
hands everything, in order, to the listeners (``listener(feed, account_id,
message)``). A unit that failed sends nothing (:meth:`Events.discard`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfresearch.sim import private_feeds
from kfresearch.sim.orders import Order

__all__ = ["Events", "Listener", "Snapshot"]

Listener = Callable[[str, str, dict[str, Any]], None]
"""``listener(feed, account_id, message)``, called in the thread that runs the engine."""
Snapshot = Callable[[str, str, int], dict[str, Any]]
"""``snapshot(feed, account_id, now_ms)``: a private feed's full message."""


class Events:
    """The engine's outbox to its listeners (see the module docstring)."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._outbox: list[tuple[str, str, dict[str, Any]]] = []
        self._touched: set[str] = set()

    def emit(self, account_id: str, feed: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for the listeners of ``feed`` (dropped when nobody listens)."""
        if self.listeners:
            self._outbox.append((feed, account_id, message))

    def emit_order(self, account_id: str, order: Order, reason: str) -> None:
        """Queue an ``open_orders`` update: ``order`` as it now stands."""
        if self.listeners:
            self.emit(account_id, "open_orders", private_feeds.order_message(order, reason))

    def touch(self, account_id: str) -> None:
        """The account's positions or balances changed: snapshot it at the next flush."""
        self._touched.add(account_id)

    def flush(self, now_ms: int, snapshot: Snapshot) -> None:
        """Queue position and balance snapshots of the accounts touched since the last flush."""
        touched, self._touched = self._touched, set()
        if not self.listeners:
            return
        for account_id in sorted(touched):
            self.emit(account_id, "open_positions", snapshot("open_positions", account_id, now_ms))
            balances = snapshot("balances", account_id, now_ms) | {"feed": "balances"}
            self.emit(account_id, "balances", balances)

    def dispatch(self) -> None:
        """Hand the queued messages to the listeners, in the order they were emitted."""
        outbox, self._outbox = self._outbox, []
        for feed, account_id, message in outbox:
            for listener in list(self.listeners):
                listener(feed, account_id, message)

    def discard(self) -> None:
        """Drop what was queued (the unit of work that emitted it failed)."""
        self._outbox = []
        self._touched = set()
