"""What the stream hands to user code: messages, callbacks and message iterators.

Every feed message the stream handles becomes a :class:`Message` (only when
someone listens: an unobserved book delta costs nothing). The :class:`Hub`
passes it to the callbacks registered with ``stream.on(feed, fn)`` and to the
open ``stream.messages(feed)`` iterators, on the stream's loop thread.

A callback that raises, or a coroutine callback whose task fails, does not
stop the stream: the exception is logged (logger ``kfresearch.stream``),
counted in ``stream.stats()["callback_errors"]`` and passed to the ``"error"``
callbacks. An iterator whose consumer falls more than ``maxsize`` messages
behind raises :class:`~kfresearch.errors.StreamError` instead of growing
without bound or dropping messages silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import pandas as pd

from kfresearch.errors import StreamError
from kfresearch.stream.tables import FRAMES

__all__ = ["Callback", "Hub", "Message", "MessageIterator"]

log = logging.getLogger("kfresearch.stream")

Callback = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a feed, as the stream hands it to callbacks and iterators.

    Attributes
    ----------
    feed : str
        The stream's feed name (``"book"``, ``"trade"``, ``"fills"`` …).
    symbol : str or None
        The product, for per-product feeds.
    initial : bool
        The first message of a subscription (or of a resubscription after a
        reconnect or a book resync): a snapshot of what already exists, not
        news. ``on``/``messages`` skip these unless asked for them.
    records : tuple of dict
        The rows it carries, in the REST vocabulary of the feed's frame
        (a fill has ``fill_id``, ``symbol``, ``side``, ``size``, ``price``,
        ``fillTime`` (epoch ms), ``fee_paid`` …); book messages carry
        ``side`` (``"bid"``/``"ask"``), ``price``, ``size`` and ``seq``.
    time_ms : int or None
        The exchange's time of the message (epoch ms), when it says.
    removed : tuple of str
        Ids that left the table (an open order filled or cancelled).
    reason : str or None
        The exchange's reason (``"new_placed_order_by_user"``, ``"full_fill"`` …).
    raw : object
        The message as the exchange sent it (protocol-specific: prefer ``records``).

    Examples
    --------
    >>> s.on("fill", lambda m: print(m.record["side"], m.record["size"], m.record["price"]))
    ... # doctest: +SKIP
    """

    feed: str
    symbol: str | None
    initial: bool
    records: tuple[dict[str, Any], ...]
    time_ms: int | None = None
    removed: tuple[str, ...] = ()
    reason: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def record(self) -> dict[str, Any]:
        """The first (usually only) record; ``{}`` when it carries none (a cancel)."""
        return self.records[0] if self.records else {}

    @property
    def time(self) -> pd.Timestamp | None:
        return None if self.time_ms is None else pd.Timestamp(self.time_ms, unit="ms", tz="UTC")

    def frame(self) -> pd.DataFrame:
        """The records as the feed's frame (``frames.fills`` for fills …); book records
        as a plain frame of ``side``, ``price``, ``size``, ``seq``."""
        build = FRAMES.get(self.feed)
        rows = list(self.records)
        return build(rows) if build is not None else pd.DataFrame(rows)


@dataclass
class _Listener:
    feed: str
    symbol: str | None
    initial: bool

    def wants(self, message: Message) -> bool:
        return (self.symbol is None or message.symbol == self.symbol) and (
            self.initial or not message.initial
        )


@dataclass
class _CallbackListener(_Listener):
    fn: Callback = field(default=print)


class Hub:
    """Callbacks and iterators by feed; ``"error"`` callbacks get exceptions.

    Parameters
    ----------
    spawn : callable
        Runs a coroutine returned by an async callback as a task of the stream.
    """

    def __init__(self, spawn: Callable[[Awaitable[Any]], Any]) -> None:
        self._spawn = spawn
        self._callbacks: dict[str, list[_CallbackListener]] = {}
        self._iterators: dict[str, list[MessageIterator]] = {}
        self.errors: deque[BaseException] = deque(maxlen=20)
        self.callback_errors = 0

    def wants(self, feed: str) -> bool:
        """Whether anyone listens to ``feed`` (the hot path checks this first)."""
        return bool(self._callbacks.get(feed) or self._iterators.get(feed))

    def on(
        self, feed: str, fn: Callback, *, symbol: str | None, initial: bool
    ) -> Callable[[], None]:
        listener = _CallbackListener(feed, symbol, initial, fn)
        self._callbacks.setdefault(feed, []).append(listener)

        def off() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.get(feed, []).remove(listener)

        return off

    def attach(self, iterator: MessageIterator) -> None:
        self._iterators.setdefault(iterator.feed, []).append(iterator)

    def detach(self, iterator: MessageIterator) -> None:
        with contextlib.suppress(ValueError):
            self._iterators.get(iterator.feed, []).remove(iterator)

    def publish(self, message: Message) -> None:
        for listener in tuple(self._callbacks.get(message.feed, ())):
            if listener.wants(message):
                self._call(listener.fn, message)
        for iterator in tuple(self._iterators.get(message.feed, ())):
            if iterator.wants(message):
                iterator.push(message)

    def error(self, exc: BaseException) -> None:
        """Record a problem and tell the ``"error"`` callbacks (whose own failures are
        only logged)."""
        self.errors.append(exc)
        for listener in tuple(self._callbacks.get("error", ())):
            try:
                listener.fn(exc)
            except Exception:
                log.exception("an 'error' callback raised")

    def _call(self, fn: Callback, message: Message) -> None:
        try:
            result = fn(message)
        except Exception as exc:
            self._failed(fn, exc)
            return
        if inspect.isawaitable(result):
            task = self._spawn(result)
            task.add_done_callback(lambda t: self._task_done(fn, t))

    def _task_done(self, fn: Callback, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._failed(fn, exc)

    def _failed(self, fn: Callback, exc: BaseException) -> None:
        self.callback_errors += 1
        name = getattr(fn, "__qualname__", repr(fn))
        log.error("stream callback %s raised %r", name, exc, exc_info=exc)
        self.error(exc)

    def close(self) -> None:
        """End every iterator (their consumers see the end of the stream)."""
        for iterators in self._iterators.values():
            for iterator in tuple(iterators):
                iterator.end()
        self._iterators.clear()
        self._callbacks.clear()


class MessageIterator:
    """Messages of one feed, for ``async for`` (notebooks, async code) or ``for`` (scripts).

    Registered as soon as it is made, so nothing sent between
    ``stream.messages(…)`` and the first ``next`` is missed. Ends when the
    stream closes or :meth:`close` is called; use it as a context manager to
    close it when the loop is left early.

    Raises
    ------
    StreamError
        When the consumer fell ``maxsize`` messages behind (nothing is dropped
        silently), or a blocking ``for`` on the stream's own loop thread (it
        would wait forever: use ``async for``).
    """

    def __init__(
        self,
        hub: Hub,
        feed: str,
        *,
        symbol: str | None,
        initial: bool,
        maxsize: int,
        loop_thread: Callable[[], bool],
    ) -> None:
        self.feed = feed
        self._listener = _Listener(feed, symbol, initial)
        self._hub = hub
        self._maxsize = maxsize
        self._on_loop_thread = loop_thread
        self._buffer: deque[Message] = deque()
        self._ended = False
        self._overflowed = False
        self._cond = threading.Condition()
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        hub.attach(self)

    def wants(self, message: Message) -> bool:
        return self._listener.wants(message)

    # -- producer side (the stream's loop thread) -----------------------------------
    def push(self, message: Message) -> None:
        if self._overflowed:
            return
        if len(self._buffer) >= self._maxsize:
            self._overflowed = True
            self._hub.detach(self)
        else:
            self._buffer.append(message)
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
        waiter = self._waiter
        if waiter is not None:
            loop, event = waiter
            if loop.is_closed():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                event.set()
            else:
                loop.call_soon_threadsafe(event.set)

    # -- consumer side ---------------------------------------------------------------
    def _next_ready(self) -> Message | None:
        if self._buffer:
            return self._buffer.popleft()
        if self._overflowed:
            raise StreamError(
                f"the consumer of {self.feed!r} messages fell {self._maxsize} messages behind; "
                "handle them faster, pass a larger maxsize=, or read the live table instead"
            )
        return None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        loop = asyncio.get_running_loop()
        if self._waiter is None or self._waiter[0] is not loop:
            self._waiter = (loop, asyncio.Event())
        event = self._waiter[1]
        while True:
            message = self._next_ready()
            if message is not None:
                return message
            if self._ended:
                raise StopAsyncIteration
            event.clear()
            if self._buffer or self._ended or self._overflowed:
                continue
            await event.wait()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Message:
        if self._on_loop_thread():
            raise StreamError(
                "a blocking `for` over stream messages on the stream's own loop would wait "
                "forever: use `async for msg in s.messages(...)` in a notebook or async code"
            )
        with self._cond:
            while True:
                message = self._next_ready()
                if message is not None:
                    return message
                if self._ended:
                    raise StopIteration
                self._cond.wait()

    def close(self) -> None:
        """Stop receiving messages; the iteration ends after those already buffered."""
        self._hub.detach(self)
        self.end()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" {self._listener.symbol}" if self._listener.symbol else ""
        state = "ended" if self._ended else f"{len(self._buffer)} waiting"
        return f"<MessageIterator {self.feed}{where}: {state}>"
