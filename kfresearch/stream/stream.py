"""The :class:`Stream`: one WebSocket connection, its subscriptions, books and live tables.

See :mod:`kfresearch.stream` for the guide. In short: ``s = kf.stream()``;
``s.subscribe(feed, products)``; read ``s.book(symbol).frame()`` and the live
tables (``s.trades()``, ``s.open_orders()`` …); react with ``s.on(feed, fn)``
or ``async for msg in s.messages(feed)``; ``s.close()``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from kfresearch.credentials import Credentials
from kfresearch.environments import Environment
from kfresearch.errors import (
    CredentialsError,
    KFError,
    StreamError,
    ValidationError,
)
from kfresearch.stream.book import LiveBook
from kfresearch.stream.connection import (
    Connector,
    Socket,
    SocketClosed,
    WebsocketsConnector,
    backoff,
)
from kfresearch.stream.delivery import Hub
from kfresearch.stream.inbox import StreamInbox
from kfresearch.stream.protocol import (
    PRIVATE_FEEDS,
    WireProtocol,
    feed_name,
)
from kfresearch.stream.runner import LoopRunner
from kfresearch.stream.subscriptions import Key, Request, Subscriptions
from kfresearch.stream.tables import Table, make_tables
from kfresearch.stream.v1 import KrakenV1
from kfresearch.stream.views import StreamViews
from kfresearch.stream.waiting import Waitable, retrieve_exception
from kfresearch.trace.hook import RECORDERS, record_ws

if TYPE_CHECKING:
    from kfresearch.sim.exchange import SimExchange

__all__ = ["Stream", "Subscription"]

log = logging.getLogger("kfresearch.stream")

T = TypeVar("T")
State = Literal["new", "connecting", "connected", "reconnecting", "closing", "closed"]

_OPEN: weakref.WeakSet[Stream] = weakref.WeakSet()


@atexit.register
def _close_open_streams() -> None:
    """At interpreter exit (a script ending, a Jupyter kernel shutting down) close every
    stream still open, so no task is destroyed pending and no socket left unclosed."""
    for stream in list(_OPEN):
        with contextlib.suppress(Exception):
            stream._close_at_exit()


class Subscription:
    """A subscription: ``await`` it to wait until its feeds are live.

    ``stream.subscribe(…)`` returns it. In a script it is already live (or
    the call raised); in a notebook ``await s.subscribe(…)`` waits for the
    exchange's answer and the first snapshot, and raises
    :class:`~kfresearch.errors.SubscriptionError` when the exchange refuses.

    Attributes
    ----------
    feed : str
    products : tuple of str
        Empty for account feeds.
    """

    def __init__(self, stream: Stream, feed: str, products: tuple[str, ...]) -> None:
        self.stream = stream
        self.feed = feed
        self.products = products
        self._futures: list[asyncio.Future[None]] = []

    def _keys(self) -> list[Key]:
        keys = self.stream._subs.keys
        return [k for p in (self.products or (None,)) if (k := keys.get((self.feed, p)))]

    @property
    def status(self) -> str:
        """``live``, ``failed``, ``pending`` (waiting for the exchange), ``resyncing`` (a
        book fetching a fresh snapshot) or ``unsubscribed``."""
        keys = self._keys()
        if not keys:
            return "unsubscribed"
        if any(k.status == "failed" for k in keys):
            return "failed"
        if all(k.status == "ready" for k in keys):
            return "live"
        return "resyncing" if any(k.resync for k in keys) else "pending"

    @property
    def error(self) -> KFError | None:
        """Why the exchange refused it, if it did."""
        return next((k.error for k in self._keys() if k.error is not None), None)

    def __await__(self) -> Generator[Any, None, Subscription]:
        return self.wait().__await__()

    def wait(self, timeout: float | None = None) -> Awaitable[Subscription]:
        """Wait until live (``await sub.wait(30)``); :class:`SubscriptionError` when
        refused, :class:`StreamError` when nothing came within ``timeout`` seconds
        (default: the stream's)."""
        return self._wait(timeout)

    async def _wait(self, seconds: float | None) -> Subscription:
        await self.stream._on_loop(self._wait_on_loop(seconds))
        return self

    async def _wait_on_loop(self, seconds: float | None) -> None:
        limit = seconds if seconds is not None else self.stream.timeout
        pending = [f for f in self._futures if not f.done()]
        if pending:
            # wait (not gather): a refusal must not cancel the other products' futures
            await asyncio.wait(pending, timeout=limit, return_when=asyncio.FIRST_EXCEPTION)
        for future in self._futures:
            if future.done() and not future.cancelled() and (exc := future.exception()):
                raise exc
        if not all(f.done() for f in self._futures):
            raise StreamError(self.stream._no_answer(f"subscribe {self._label()}", limit))

    def unsubscribe(self) -> Waitable:
        """Stop these feeds (their books and tables keep their last state)."""
        return self.stream.unsubscribe(self.feed, list(self.products) or None)

    def _label(self) -> str:
        return f"{self.feed} {' '.join(self.products)}".strip()

    def __repr__(self) -> str:
        error = f" ({self.error})" if self.status == "failed" else ""
        return f"<Subscription {self._label()}: {self.status}{error}>"


class Stream(StreamInbox, StreamViews):
    """Live data over the exchange's WebSocket: books, tables, callbacks, iterators.

    Make one with ``kf.stream()`` (it uses the client's environment and keys).

    Parameters
    ----------
    env : Environment
        Where to connect (``env.ws_url``; ``sim``/``demo`` are served in-process).
    credentials : Credentials, optional
        The key pair private feeds sign the challenge with.
    sim : SimExchange, optional
        The in-process exchange (``sim``/``demo``).
    heartbeat : bool
        Subscribe the exchange's heartbeat feed (the exchange's clock in
        ``stats()["last_heartbeat"]``).
    keepalive : float
        Seconds between WebSocket pings (the exchange drops a connection
        silent for 60 s).
    stale_after : float or None
        Reconnect when no message at all arrived for this many seconds.
    backoff : (float, float)
        First and largest wait (seconds) between reconnection attempts;
        exponential with jitter in between.
    timeout : float
        Seconds a blocking call (or an awaited subscription) waits for the exchange.
    trades_maxlen, history_maxlen : int
        Rolling window of trades per symbol, and of fills and account-log entries.
    protocol, connector : optional
        The wire protocol (default Kraken WebSocket v1) and how to connect.
    """

    def __init__(
        self,
        env: Environment,
        *,
        credentials: Credentials | None = None,
        sim: SimExchange | None = None,
        heartbeat: bool = True,
        keepalive: float = 30.0,
        stale_after: float | None = 60.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        timeout: float = 10.0,
        trades_maxlen: int = 10_000,
        history_maxlen: int = 10_000,
        protocol: WireProtocol | None = None,
        connector: Connector | None = None,
    ) -> None:
        self.env = env
        self.timeout = float(timeout)
        self._credentials = credentials
        self._protocol: WireProtocol = protocol or KrakenV1()
        if connector is None:
            if env.in_process:
                if sim is None:
                    raise StreamError(f"env {env.name!r} is served in-process: pass its sim=")
                from kfresearch.stream.inprocess import InProcessConnector

                connector = InProcessConnector(sim)
            else:
                connector = WebsocketsConnector(keepalive=keepalive)
            connector = self._protocol.connector(env, connector)
        self._connector: Connector = connector
        self._url = self._protocol.url(env)
        self._heartbeat = heartbeat
        self._stale_after = stale_after if not connector.flushable else None
        self._backoff = backoff
        self._subs = Subscriptions()
        self._books: dict[str, LiveBook] = {}
        self._tables: dict[str, Table] = make_tables(
            trades_maxlen=trades_maxlen, history_maxlen=history_maxlen
        )
        self._runner: LoopRunner | None = None
        self._hub = Hub(self._spawn)
        self._state: State = "new"
        self._socket: Socket | None = None
        self._main: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._auth: tuple[str, str, str] | None = None
        self._auth_lock: asyncio.Lock | None = None
        self._challenge: asyncio.Future[str] | None = None
        self._changed: asyncio.Event | None = None
        self._closed_event = asyncio.Event()  # replaced on the loop by _begin
        self._last_rx = 0.0
        self._last_error: BaseException | None = None
        self._fatal: StreamError | None = None
        self._auth_retries = 0
        self._closers: list[Callable[[], None]] = []
        self.server_version: int | str | None = None
        self.system_status: str | None = None
        self.last_heartbeat_ms: int | None = None
        self._counts: dict[str, int] = dict.fromkeys(
            ("connects", "reconnects", "connect_failures", "messages", "resyncs",
             "subscription_errors", "stale_disconnects", "unknown_messages",
             "unexpected_messages", "authentications", "auth_refusals", "handler_errors"),
            0,
        )

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def status(self) -> State:
        """``new``, ``connecting``, ``connected``, ``reconnecting``, ``closing`` or ``closed``."""
        return self._state

    @property
    def closed(self) -> bool:
        return self._state in ("closing", "closed")

    def start(self) -> Self:
        """Connect (subscribing does it too): on this thread's running event loop when
        there is one (a notebook, async code), else on a loop in a background thread."""
        self._ensure_started()
        return self

    def _ensure_started(self) -> LoopRunner:
        if self._fatal is not None:
            raise self._fatal
        if self.closed:
            raise StreamError("the stream is closed: make a new one with kf.stream()")
        if self._runner is not None:
            return self._runner
        runner = LoopRunner.current() or LoopRunner.background()
        self._runner = runner
        _OPEN.add(self)
        if runner.in_loop_thread():
            self._begin()
        else:
            runner.loop.call_soon_threadsafe(self._begin)
        return runner

    def _begin(self) -> None:
        """Start the connection task (on the loop)."""
        self._auth_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._closed_event = asyncio.Event()
        if self._heartbeat:
            self._subs.want("heartbeat", [None])
        self._main = asyncio.get_running_loop().create_task(
            self._run(), name=f"kfresearch-stream-{id(self):x}"
        )

    def close(self) -> Waitable:
        """Unsubscribe nothing, just stop: end every task, close the socket, end iterators.

        In a script this returns when everything has stopped (and the stream's
        thread has ended). On a notebook's loop it starts the shutdown and
        returns a :class:`Waitable`: ``await s.close()`` to wait for it (it
        finishes as soon as the cell ends otherwise).
        """
        runner = self._runner
        if runner is None or self._state == "closed":
            self._state = "closed"
            return Waitable(what="close")
        if runner.in_loop_thread():
            return Waitable(runner.loop.create_task(self.aclose()), what="close")
        if not runner.loop.is_closed():
            with contextlib.suppress(StreamError):
                runner.call(self.aclose(), self.timeout + 5.0)
        runner.stop()
        return Waitable(what="close")

    async def aclose(self) -> None:
        """Close from async code (what ``async with`` does on exit)."""
        runner = self._runner
        if runner is None or self._state == "closed":
            self._state = "closed"
            return
        await self._on_loop(self._aclose_on_loop())
        if runner.owns_thread and not runner.in_loop_thread():
            await asyncio.to_thread(runner.stop)

    async def _aclose_on_loop(self) -> None:
        if self._state in ("closing", "closed"):
            await self._closed_event.wait()
            return
        self._state = "closing"
        for closer in self._closers:
            with contextlib.suppress(Exception):
                closer()
        self._hub.close()
        main = self._main
        if main is not None and not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current and not t.done()]
        for task in others:
            task.cancel()
        for task in others:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for key in self._subs.keys.values():
            for waiter in key.waiters:
                waiter.cancel()
        self._state = "closed"
        self._closed_event.set()
        _OPEN.discard(self)

    def _close_at_exit(self) -> None:
        runner = self._runner
        if runner is None or self._state == "closed":
            return
        if runner.owns_thread:
            self.close()
        elif not runner.loop.is_closed() and not runner.loop.is_running():
            # a kernel that shut down: its loop has stopped but still exists
            runner.loop.run_until_complete(self._aclose_on_loop())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- running calls on the loop ----------------------------------------------------
    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A task of the stream (cancelled on close); on the loop's thread only."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(f"kfresearch-stream-{id(self):x}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(retrieve_exception)
        return task

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the stream's loop, from whichever loop awaits this."""
        runner = self._ensure_started() if self._runner is None else self._runner
        if runner.in_loop_thread():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, runner.loop))

    def _call(self, coro: Coroutine[Any, Any, Any], what: str) -> Waitable:
        """Run ``coro``: block until done from a foreign thread, or start it and hand back
        a :class:`Waitable` on the loop's thread."""
        runner = self._ensure_started()
        if runner.in_loop_thread():
            return Waitable(self._spawn(coro), what=what)
        runner.call(coro, None)
        return Waitable(what=what)

    def _no_answer(self, what: str, seconds: float) -> str:
        where = f"{self._url}" if not self._connector.flushable else "the in-process simulator"
        why = f"; last error: {self._last_error!r}" if self._last_error is not None else ""
        return (f"no answer to {what} within {seconds:g} s from {where} "
                f"(stream {self._state}{why})")

    def _ping(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # -- subscriptions -------------------------------------------------------------------
    def subscribe(
        self, feed: str, products: str | Sequence[str] | None = None, *,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe to a feed: a public feed of some products, or an account feed.

        Parameters
        ----------
        feed : str
            ``"book"``, ``"trade"``, ``"ticker"``, ``"ticker_lite"``,
            ``"heartbeat"``; account feeds ``"open_orders"``, ``"fills"``,
            ``"open_positions"``, ``"balances"``, ``"account_log"``,
            ``"notifications"`` (singular and wire spellings work too).
        products : str or list of str
            Symbols for public feeds (``"PF_XBTUSD"`` or a list); none for
            account feeds.
        timeout : float, optional
            Seconds to wait for the exchange (default: the stream's).

        Returns
        -------
        Subscription
            Live (or the call raised) in a script. In a notebook: ``await`` it.

        Raises
        ------
        ValidationError
            Unknown feed, missing or unexpected products.
        CredentialsError
            An account feed without keys.
        SubscriptionError
            The exchange refused (in a script; in a notebook when awaited).

        Examples
        --------
        >>> s = kf.stream()                                            # doctest: +SKIP
        >>> await s.subscribe("book", ["PF_XBTUSD", "PF_ETHUSD"])      # doctest: +SKIP
        <Subscription book PF_XBTUSD PF_ETHUSD: live>
        """
        name = feed_name(feed)
        wanted = self._products(name, products)
        missing = self._protocol.unsupported(name)
        if missing is not None:
            raise ValidationError("feed", feed, missing)
        if name in PRIVATE_FEEDS and self._credentials is None:
            raise CredentialsError(
                f"the {name} feed is private: it needs an API key pair; {self.env.keys_help}"
            )
        runner = self._ensure_started()
        handle = Subscription(self, name, wanted)
        if runner.in_loop_thread():
            self._want(handle)
            return handle
        runner.call(self._want_and_wait(handle, timeout), None)
        return handle

    async def _want_and_wait(self, handle: Subscription, seconds: float | None) -> None:
        self._want(handle)
        await handle._wait_on_loop(seconds)

    def _products(self, feed: str, products: str | Sequence[str] | None) -> tuple[str, ...]:
        if isinstance(products, str):
            products = [products]
        given = tuple(dict.fromkeys(str(p).strip().upper() for p in products or ()))
        if feed in PRIVATE_FEEDS or feed == "heartbeat":
            if given:
                raise ValidationError(
                    "products", products,
                    f"the {feed} feed covers the whole account: subscribe without products "
                    f"(s.subscribe({feed!r})) and filter its frame",
                )
            return ()
        if not given:
            raise ValidationError(
                "products", products,
                f"the {feed} feed needs symbols: s.subscribe({feed!r}, ['PF_XBTUSD'])",
            )
        return given

    def _want(self, handle: Subscription) -> None:
        """Register the keys and ask for those not yet asked (on the loop)."""
        keys = self._subs.want(handle.feed, handle.products or [None])
        loop = asyncio.get_running_loop()
        for key in keys:
            if key.feed == "book" and key.product is not None:
                book = self._books.setdefault(
                    key.product,
                    LiveBook(key.product, env=self.env.name, depth=self._protocol.book_depth),
                )
                book.restart()  # asked again after the stream gave up on it
            waiter: asyncio.Future[None] = loop.create_future()
            waiter.add_done_callback(retrieve_exception)
            handle._futures.append(waiter)
            if self._fatal is not None:  # gave up before this key was registered
                key.settle(self._fatal)
                waiter.set_exception(self._fatal)
            elif key.status == "ready":
                waiter.set_result(None)
            else:
                key.waiters.append(waiter)
        if self._socket is not None:
            self._spawn(self._send_unsent())

    def unsubscribe(self, feed: str, products: str | Sequence[str] | None = None) -> Waitable:
        """Stop a feed (of some products); its book or table keeps its last state."""
        name = feed_name(feed)
        wanted = self._products(name, products)
        return self._call(self._unsubscribe(name, wanted), f"unsubscribe {name}")

    async def _unsubscribe(self, feed: str, products: tuple[str, ...]) -> None:
        dropped = self._subs.drop(feed, products or [None])
        if dropped and self._socket is not None:
            await self._send(Request("unsubscribe", feed, products))

    # -- the connection --------------------------------------------------------------------
    async def _run(self) -> None:
        delays = backoff(*self._backoff)
        first = True
        while not self.closed:
            self._state = "connecting" if first else "reconnecting"
            try:
                socket = await self._connector.connect(self._url)
            except (OSError, TimeoutError) as exc:
                self._counts["connect_failures"] += 1
                self._last_error = exc
                status = getattr(exc, "status", None)
                if isinstance(status, int) and 400 <= status < 500:
                    self._give_up(f"the WebSocket upgrade was refused with HTTP {status}")
                    return
                log.info("could not connect to %s: %r", self._url, exc)
                await asyncio.sleep(next(delays))
                continue
            first = False
            self._socket = socket
            self._state = "connected"
            self._counts["connects"] += 1
            messages_before = self._counts["messages"]
            try:
                await self._session(socket)
            finally:
                self._socket = None
                self._auth = None
                if self._challenge is not None and not self._challenge.done():
                    self._challenge.set_exception(SocketClosed("connection lost"))
                with contextlib.suppress(Exception):
                    await asyncio.shield(socket.close())
            if self.closed:
                break
            last = self._last_error
            if isinstance(last, SocketClosed) and last.code == 1008:
                self._give_up(f"the exchange closed the connection with code 1008 (policy "
                              f"violation{': ' + last.reason if last.reason else ''})")
                return
            if self._counts["messages"] > messages_before:
                delays = backoff(*self._backoff)  # it was a working connection: start over
            self._counts["reconnects"] += 1
            self._state = "reconnecting"
            wait = next(delays)
            log.info("stream connection to %s lost; reconnecting in %.2f s", self._url, wait)
            self._ping()
            await asyncio.sleep(wait)

    def _give_up(self, why: str) -> None:
        """A terminal failure (close code 1008, a 4xx upgrade answer): no reconnect."""
        error = StreamError(
            f"{why}; the stream does not reconnect (reconnecting would be refused again). "
            "Check the keys and the URL (`kfresearch doctor`), then make a new stream."
        )
        self._fatal = error
        self._last_error = error
        log.warning("%s", error)
        for key in self._subs.keys.values():
            if not key.settled:
                key.settle(error)
        self._hub.error(error)
        self._state = "closed"
        self._closed_event.set()
        self._ping()

    async def _session(self, socket: Socket) -> None:
        self._subs.reconnected()
        self._auth_retries = 0
        for book in self._books.values():
            book.reset()
        self._last_rx = asyncio.get_running_loop().time()
        reader = self._spawn(self._read(socket))
        watchdog = self._spawn(self._watch(socket)) if self._stale_after else None
        try:
            await self._send_unsent()
        except (SocketClosed, StreamError) as exc:
            self._last_error = exc
            with contextlib.suppress(Exception):
                await socket.close()
        try:
            await reader
        finally:
            if watchdog is not None:
                watchdog.cancel()

    async def _read(self, socket: Socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                text = await socket.recv()
            except SocketClosed as exc:
                self._last_error = exc
                return
            self._last_rx = loop.time()
            if RECORDERS:  # a trace is open (kf.trace()): nothing else costs while none is
                record_ws("received", self._url, text, time.time())
            try:
                self._handle(text)
            except Exception as exc:  # a bug must not end the stream
                self._counts["handler_errors"] += 1
                log.exception("the stream could not handle a message")
                self._hub.error(exc)

    async def _watch(self, socket: Socket) -> None:
        """Close a connection that went silent for ``stale_after`` seconds (then reconnect)."""
        limit = float(self._stale_after or 0.0)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(limit / 4.0, 0.05))
            if loop.time() - self._last_rx > limit:
                self._counts["stale_disconnects"] += 1
                log.info("no message for %.0f s: reconnecting", limit)
                await socket.close()
                return

    async def _send_unsent(self) -> None:
        """Ask for every key not yet asked on this connection (heartbeat first)."""
        groups = self._subs.take_unsent()
        for feed in sorted(groups, key=lambda f: (f != "heartbeat", f in PRIVATE_FEEDS, f)):
            products = tuple(p for p in groups[feed] if p is not None)
            await self._send(Request("subscribe", feed, products))

    async def _send(self, request: Request) -> None:
        socket = self._socket
        if socket is None:
            return
        auth = await self._authenticate(socket) if request.feed in PRIVATE_FEEDS else None
        build = (self._protocol.subscribe if request.action == "subscribe"
                 else self._protocol.unsubscribe)
        text = build(request.feed, request.products, auth)
        self._subs.pending.append(request)
        await self._transmit(socket, text)

    async def _transmit(self, socket: Socket, text: str) -> None:
        """Send one message (every message the stream sends passes here, traced or not)."""
        if RECORDERS:
            record_ws("sent", self._url, text, time.time())
        await socket.send(text)

    async def _authenticate(self, socket: Socket) -> tuple[str, str, str] | None:
        """The (key, challenge, signature) of this connection, asked for once."""
        credentials = self._credentials
        if credentials is None:
            return None
        if self._auth_lock is None:  # pragma: no cover - made by _begin before any send
            raise StreamError("the stream has not started")
        async with self._auth_lock:
            if self._auth is not None:
                return self._auth
            request = self._protocol.challenge_request(credentials.key)
            if request is None:  # a token-based protocol (the Unified WebSocket)
                token = await self._protocol.token()
                if token is None:
                    return None
                self._auth = (credentials.key, "", token)
                self._counts["authentications"] += 1
                return self._auth
            self._challenge = asyncio.get_running_loop().create_future()
            self._subs.pending.append(Request("challenge"))
            await self._transmit(socket, request)
            try:
                challenge = await asyncio.wait_for(asyncio.shield(self._challenge), self.timeout)
            except TimeoutError:
                raise StreamError(self._no_answer("the challenge request", self.timeout)) from None
            self._auth = (credentials.key, challenge,
                          self._protocol.sign(credentials.secret, challenge))
            self._counts["authentications"] += 1
            return self._auth
































    def __repr__(self) -> str:
        where = "in-process" if self._connector.flushable else self._url
        subs = ", ".join(
            f"{k.feed}{' ' + k.product if k.product else ''} "
            f"{'live' if k.status == 'ready' else k.status}"
            for k in list(self._subs.keys.values()) if k.feed != "heartbeat"
        )
        return (f"<kfresearch.Stream env={self.env.name!r} ({where}) {self._state}"
                f"{': ' + subs if subs else ''}>")
