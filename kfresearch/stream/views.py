"""What a :class:`~kfresearch.stream.Stream` shows its user: books, live tables,
callbacks, message iterators and counters, and ``sync()`` (wait until they are current).

:class:`StreamViews` is a base of :class:`~kfresearch.stream.Stream`; it reads
the state the stream's connection keeps up to date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.environments import Environment
from kfresearch.errors import StreamError
from kfresearch.stream.book import PROBLEMS, LiveBook
from kfresearch.stream.connection import Connector, Socket, SocketClosed
from kfresearch.stream.delivery import Callback, Hub, MessageIterator
from kfresearch.stream.protocol import PUBLIC_FEEDS, feed_name
from kfresearch.stream.runner import LoopRunner
from kfresearch.stream.subscriptions import Subscriptions
from kfresearch.stream.tables import Table
from kfresearch.stream.waiting import Waitable

__all__ = ["StreamViews"]


class StreamViews:
    """The reading side of a stream (see the module docstring)."""

    if TYPE_CHECKING:  # kept up to date by the Stream
        env: Environment
        _books: dict[str, LiveBook]
        _subs: Subscriptions
        _tables: dict[str, Table]
        _hub: Hub
        _runner: LoopRunner | None
        _counts: dict[str, int]
        server_version: int | str | None
        last_heartbeat_ms: int | None
        _state: str
        _connector: Connector
        _socket: Socket | None
        _changed: asyncio.Event | None
        _fatal: StreamError | None
        timeout: float

        def _call(self, coro: Coroutine[Any, Any, Any], what: str) -> Waitable: ...
        def _no_answer(self, what: str, seconds: float) -> str: ...

    # -- waiting for the feed ------------------------------------------------------------
    def sync(self, timeout: float | None = None) -> Waitable:
        """Wait until everything the in-process simulator published up to its current
        time has been handled (books, tables, synchronous callbacks).

        This is what makes a notebook reproducible: move the simulator's clock
        (``kf.sim.advance(60_000)``), then ``await s.sync()``; the books and
        tables are then exactly the exchange's at that time.

        Raises
        ------
        StreamError
            Not an in-process simulator (a network feed has no "everything
            up to now"), or no answer within ``timeout``.
        """
        if not self._connector.flushable:
            raise StreamError(
                "sync() needs the in-process simulator (env='sim' or 'demo' without "
                "base_url); on a network feed wait for what you need with s.messages(...)"
            )
        return self._call(self._sync(timeout), "sync")

    async def _sync(self, seconds: float | None) -> None:
        limit = seconds if seconds is not None else self.timeout
        try:
            await asyncio.wait_for(self._flush_until_settled(), limit)
        except TimeoutError:
            raise StreamError(self._no_answer("sync", limit)) from None

    async def _flush_until_settled(self) -> None:
        while True:
            await self._settled()
            if self._fatal is not None:
                raise self._fatal
            socket = self._socket
            if socket is None:
                continue
            try:
                await socket.flush()  # type: ignore[attr-defined]
            except SocketClosed:
                await asyncio.sleep(0)
                continue
            if self._socket is socket and all(k.settled for k in self._subs.keys.values()):
                return

    async def _settled(self) -> None:
        """Until connected and every wanted key is live or refused."""
        changed = self._changed
        if changed is None:  # pragma: no cover - made by _begin
            raise StreamError("the stream has not started")
        while True:
            changed.clear()
            if self._fatal is not None:
                raise self._fatal
            if self._socket is not None and all(k.settled for k in self._subs.keys.values()):
                return
            await changed.wait()

    # -- what the user reads -------------------------------------------------------------
    def book(self, symbol: str) -> LiveBook:
        """The live book of ``symbol`` (subscribe to ``"book"`` first).

        Raises
        ------
        StreamError
            Not subscribed; :class:`SubscriptionError` when the exchange refused it.
        """
        name = str(symbol).strip().upper()
        book = self._books.get(name)
        key = self._subs.keys.get(("book", name))
        if book is None:
            raise StreamError(
                f"no book of {name}: subscribe first: s.subscribe('book', [{name!r}])"
            )
        if key is not None and key.error is not None:
            raise key.error
        return book

    def _frame(self, feed: str, symbol: str | None = None) -> pd.DataFrame:
        keys = [k for k in self._subs.keys.values() if k.feed == feed]
        table = self._tables[feed]
        if not keys and not len(table):
            hint = f"s.subscribe({feed!r}, ['PF_XBTUSD'])" if feed in PUBLIC_FEEDS \
                else f"s.subscribe({feed!r})"
            raise StreamError(f"not subscribed to {feed}: {hint}")
        failed = [k for k in keys if k.error is not None]
        if failed and len(failed) == len(keys):
            raise failed[0].error  # type: ignore[misc]
        frame = table.frame(symbol)
        frame.attrs["env"] = self.env.name
        return frame

    def tickers(self, *, lite: bool = False) -> pd.DataFrame:
        """Latest ticker per symbol: the columns of ``kf.tickers()`` (from the ``ticker``
        feed, or ``ticker_lite`` with ``lite=True``), plus the feed's ``dtm``,
        ``leverage``, ``maturity_time``, ``next_funding_rate_time``."""
        return self._frame("ticker_lite" if lite else "ticker")

    def trades(self, symbol: str | None = None) -> pd.DataFrame:
        """The rolling window of trades (all subscribed symbols, or one): the columns of
        ``kf.trades()``, oldest first, each trade once."""
        return self._frame("trade", None if symbol is None else str(symbol).upper())

    def open_orders(self) -> pd.DataFrame:
        """The account's open orders, as ``kf.open_orders()`` (plus trailing-stop options)."""
        return self._frame("open_orders")

    def fills(self) -> pd.DataFrame:
        """The account's fills as ``kf.fills()``, plus ``fee_paid``, ``fee_currency``,
        ``remaining_order_qty``, ``order_type``, ``taker_order_type``."""
        return self._frame("fills")

    def positions(self) -> pd.DataFrame:
        """Open positions as ``kf.positions()`` (marked at the feed's mark price), plus the
        feed's margin fields (``liquidation_threshold``, ``effective_leverage`` …)."""
        return self._frame("open_positions")

    def accounts(self) -> pd.DataFrame:
        """Wallets (``balances`` feed) as ``kf.accounts()``."""
        return self._frame("balances")

    def account_log(self) -> pd.DataFrame:
        """The rolling account log as ``kf.account_log()``."""
        return self._frame("account_log")

    def notifications(self) -> pd.DataFrame:
        """Exchange notifications by ``id``
        (:func:`kfresearch.stream.tables.notifications_frame`)."""
        return self._frame("notifications")

    def table(self, feed: str) -> Table:
        """The live table of a table feed (live charts watch its ``version``)."""
        return self._tables[feed_name(feed)]

    # -- reacting ------------------------------------------------------------------------
    def on(
        self, event: str, fn: Callback, *, symbol: str | None = None, initial: bool = False
    ) -> Callable[[], None]:
        """Call ``fn(message)`` for each message of a feed (or ``fn(exception)`` for ``"error"``).

        Parameters
        ----------
        event : str
            A feed (``"fill"``, ``"trade"``, ``"book"``, ``"open_orders"`` …) or
            ``"error"`` (refused subscriptions, failing callbacks).
        fn : callable
            Called on the stream's loop with a :class:`Message`; keep it quick.
            A coroutine function runs as a task. Exceptions are logged and
            counted, never stop the stream.
        symbol : str, optional
            Only this product's messages.
        initial : bool
            Also the first message of each (re)subscription (the snapshot of
            what already exists); default only news.

        Returns
        -------
        callable
            Call it to stop the callbacks.

        Examples
        --------
        >>> off = s.on("fill", lambda m: print(m.record["price"]))      # doctest: +SKIP
        >>> off()                                                       # doctest: +SKIP
        """
        name = "error" if event == "error" else feed_name(event)
        return self._hub.on(name, fn, symbol=symbol.upper() if symbol else None,
                            initial=initial or name == "error")

    def messages(
        self, feed: str, symbol: str | None = None, *, initial: bool = False,
        maxsize: int = 10_000,
    ) -> MessageIterator:
        """The messages of a feed, for ``async for`` (or ``for`` in a script).

        Examples
        --------
        >>> async for msg in s.messages("trade", "PF_XBTUSD"):          # doctest: +SKIP
        ...     print(msg.record["price"], msg.record["size"])
        """
        def on_loop_thread() -> bool:
            runner = self._runner or LoopRunner.current()
            return runner is not None and runner.in_loop_thread()

        return MessageIterator(
            self._hub, feed_name(feed), symbol=symbol.upper() if symbol else None,
            initial=initial, maxsize=maxsize, loop_thread=on_loop_thread,
        )

    # -- inspection --------------------------------------------------------------------
    @property
    def subscriptions(self) -> list[tuple[str, str | None, str]]:
        """``(feed, product, status)`` of every wanted feed."""
        return [(k.feed, k.product, k.status) for k in self._subs.keys.values()]

    def stats(self) -> dict[str, Any]:
        """Counters of the connection and the books.

        Keys: ``status``; ``connects``, ``reconnects``, ``connect_failures``,
        ``stale_disconnects``; ``messages`` handled; ``resyncs`` (books fetched
        again) and the problems that caused them: ``gaps``, ``crossed``,
        ``negative_sizes``, ``checksum_mismatches`` (Unified WebSocket books);
        ``book_snapshots``, ``book_deltas`` applied, ``ignored_deltas`` (old
        ``seq``, or while resyncing);
        ``subscription_errors``, ``callback_errors``, ``handler_errors``,
        ``unknown_messages``, ``unexpected_messages``; ``authentications``,
        ``auth_refusals`` (tokens refused and fetched again);
        ``server_version``; ``last_heartbeat`` (the exchange's time, a UTC
        Timestamp); ``books``: per-symbol counters.
        """
        books = {symbol: book.stats() for symbol, book in list(self._books.items())}
        total = {name: sum(b[name] for b in books.values())
                 for name in ("snapshots", "deltas", "ignored", *PROBLEMS)}
        beat = self.last_heartbeat_ms
        return {
            "status": self._state,
            **{k: v for k, v in self._counts.items() if k != "resyncs"},
            "resyncs": self._counts["resyncs"],
            "gaps": total["gap"],
            "crossed": total["crossed"],
            "negative_sizes": total["negative_size"],
            "checksum_mismatches": total["checksum"],
            "book_snapshots": total["snapshots"],
            "book_deltas": total["deltas"],
            "ignored_deltas": total["ignored"],
            "callback_errors": self._hub.callback_errors,
            "server_version": self.server_version,
            "last_heartbeat": None if beat is None else pd.Timestamp(beat, unit="ms", tz="UTC"),
            "books": books,
        }

    @property
    def errors(self) -> list[BaseException]:
        """The last problems (refusals, failing callbacks), oldest first."""
        return list(self._hub.errors)
