"""``run`` / ``arun``: the same strategy object on an exchange's clock, driven by ``kf.stream()``.

The run subscribes the exchange's WebSocket (:mod:`kfresearch.stream`):
``heartbeat`` and ``trade`` of every symbol, and ``book`` when the strategy
overrides ``on_book``. Bars are built from the streamed trades and handed to
the strategy by the loop that runs backtests (:mod:`kfresearch.strategy.driver`),
so the hooks are called in the same order, with the same events.

How a bar closes
    A bar covers ``[start, end)`` of the exchange's time. It closes, and
    ``on_bar`` fires, when the stream shows that the exchange's clock has
    reached ``end``: a ``heartbeat`` stamped at or after ``end`` while every
    ``trade`` subscription is live (the exchange sends a heartbeat after
    everything it published up to its time). The Unified WebSocket's
    heartbeat carries no time: there a heartbeat stands for the exchange's
    clock ``lag`` seconds ago (the local clock; the simulator's in-process).
    Its open, high, low, close and
    volume are those of the streamed trades of ``[start, end)``, as the
    exchange's 1-minute trade candles are made; a bar without a trade is no
    bar (the exchange has no candle for it either). Bars close one by one, in
    order, each exactly once, however late the heartbeat.

Reconnects
    After a reconnect the stream subscribes again; the ``trade`` snapshot
    (the recent trades) either reaches back to what was seen, and the tape is
    continuous (trades seen twice are dropped by ``uid``), or it does not, and
    every bar that overlaps the hole is read over REST instead (``kf.candles``,
    and ``kf.trades`` for ``on_trade``): no bar is lost or doubled. The same
    holds for the first bar, which began before the run did. Orders are never
    sent again: the strategy sends each one once over REST, and what it did is
    read from the exchange (fills and funding, :mod:`kfresearch.strategy.taps`).

The clock
    On an in-process exchange whose clock is fixed (``sim`` under
    ``KFRESEARCH_SIM_NOW``, or a ``SimExchange`` with ``SimClock.fixed``) the
    run moves it bar by bar (``kf.sim.advance``, then ``stream.sync()``):
    hours run in seconds, reproducibly. Otherwise the exchange's clock runs
    and the run waits for its heartbeats.

Where it runs
    In a script ``run(...)`` blocks until the run ends (the stream runs on a
    thread of its own) and returns the :class:`~kfresearch.strategy.Result`.
    In a notebook the stream lives on the kernel's event loop, which must not
    be blocked: ``r = await arun(...)`` starts the run in the background and
    returns its :class:`StrategyRun` once the feeds are live; ``await
    r.wait()`` waits for the end, ``await r.stop()`` ends it at once; both give
    the Result. The strategy's hooks run on a worker thread, never on the loop.

Safety
    The dead man's switch (``cancel_all_after``) is armed for
    ``dead_man_switch`` seconds at the start and re-armed at a bar close
    whenever it would fire within two bars: if the kernel dies or hangs, the
    exchange cancels the strategy's open orders. It is disarmed when the run
    ends, however it ends. On ``live`` every order (and the switch) needs the
    client's two opt-ins (``env="live"`` and ``allow_trading=True``); nothing
    is sent otherwise. Ctrl-C (in a script) ends the run at once and returns
    what happened so far.

Example
-------
>>> kf = kfresearch.connect("sim")                                          # doctest: +SKIP
>>> result = run(SmaCross(fast=5, slow=20), kf, "PF_XBTUSD", bars=240)      # doctest: +SKIP
>>> r = await arun(SmaCross(fast=5, slow=20), kf, "PF_XBTUSD")  # a notebook  # doctest: +SKIP
>>> result = await r.stop()                                                 # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.errors import LiveTradingDisabledError, StreamError, ValidationError
from kfresearch.strategy.barclock import REST, BarClock, Step, Stop, stamp
from kfresearch.strategy.driver import STEP_MS, StrategyLike, check_symbols, drive, usd_equity
from kfresearch.strategy.events import Bar, Book, Trade
from kfresearch.strategy.result import build_result
from kfresearch.strategy.taps import EngineTap, RestTap, Tap

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.strategy.result import Result
    from kfresearch.stream import Stream, Subscription
    from kfresearch.timeparse import TimeLike

__all__ = ["StrategyRun", "arun", "run"]


class StreamVenue:
    """A run on the exchange's clock, its bars from ``kf.stream()`` (module docstring)."""

    mode = "run"

    def __init__(
        self,
        kf: Client,
        symbols: tuple[str, ...],
        *,
        resolution: str,
        bars: int | None,
        until_ms: int | None,
        dead_man_switch: int,
        stream: Stream | None,
        books: bool,
        lag: float,
    ) -> None:
        self.kf = kf
        self.symbols = symbols
        self.resolution = resolution
        self.step_ms = STEP_MS[resolution]
        self.max_bars = bars
        self.until_ms = until_ms
        self.switch = dead_man_switch
        self.driven = kf.env.in_process and kf.sim.clock.mode == "fixed"
        self.tap: Tap = EngineTap.for_client(kf) if kf.env.in_process else RestTap(kf)
        self.seen: dict[str, list[Bar]] = {s: [] for s in symbols}
        self.deadline = 0
        self.armed = False
        self.owns_stream = stream is None
        self.stream: Stream = kf.stream() if stream is None else stream
        self.first_end = (self.now_ms() // self.step_ms + 1) * self.step_ms
        self.clock = BarClock(self.stream, symbols, self.step_ms, self.first_end, books=books,
                              now_ms=self.now_ms, lag_ms=round(lag * 1000))
        self.subscriptions: list[Subscription] = []
        self._offs: list[Callable[[], None]] = []
        self._step: Step | None = None
        self._stopped = threading.Event()

    # -- feeds ------------------------------------------------------------------------------
    def subscribe(self) -> list[Subscription]:
        """Register the callbacks, then subscribe (live on return in a script; to await
        on a notebook's loop)."""
        s, names = self.stream, list(self.symbols)
        self._offs = [s.on("heartbeat", self.clock.on_heartbeat, initial=True),
                      s.on("trade", self.clock.on_trade, initial=True)]
        self.subscriptions = [s.subscribe("heartbeat"), s.subscribe("trade", names)]
        if self.clock.books:
            self.subscriptions.append(s.subscribe("book", names))
        return self.subscriptions

    def stop(self) -> None:
        """End the run at once (from any thread)."""
        self._stopped.set()
        self.clock.stop()

    def close(self) -> None:
        """Disarm the switch, stop listening, close the stream if the run made it."""
        try:
            self._arm(0)
        finally:
            for off in self._offs:
                off()
            self._offs = []
            if self.owns_stream:
                self.stream.close()

    # -- the venue --------------------------------------------------------------------------
    def now_ms(self) -> int:
        if self.kf.env.in_process:
            return int(self.kf.sim.clock.now_ms())
        return int(time.time() * 1000)

    def start_equity(self) -> float:
        return usd_equity(self.kf)

    def _arm(self, seconds: int) -> None:
        """Arm the switch for ``seconds`` (0 disarms) if it is on."""
        if self.switch > 0 and (seconds > 0 or self.armed):
            self.kf.cancel_all_after(seconds)
            self.armed = seconds > 0
            self.deadline = self.now_ms() + seconds * 1000

    def _rearm(self) -> None:
        """Re-arm when the switch would fire within two bars (each arming costs 25 rate units)."""
        if self.switch > 0 and self.deadline - self.now_ms() <= 2 * self.step_ms:
            self._arm(self.switch)

    def _next(self) -> Step | None:
        """The next bar close (None: stop), moving a fixed clock there first."""
        if self.driven and not self._stopped.is_set():
            end = self.clock.next_end
            self.kf.sim.advance(f"{end - self.now_ms()}ms")
            self.stream.sync()
            self.clock.advance(self.now_ms())  # sync: everything up to now was handled
        while True:
            try:
                step = self.clock.steps.get(timeout=1.0)
            except queue.Empty:
                if self.stream.status == "closed":
                    raise StreamError(
                        "the run's stream closed (it gave up reconnecting): "
                        f"{self.stream.errors[-1] if self.stream.errors else 'see the log'}; "
                        "start the run again"
                    ) from None
                continue
            return None if isinstance(step, Stop) else step

    def steps(self) -> Iterator[tuple[int, list[Bar]]]:
        self._arm(self.switch)
        count = 0
        try:
            while (self.max_bars is None or count < self.max_bars) and (
                self.until_ms is None or self.first_end + count * self.step_ms <= self.until_ms
            ):
                step = self._next()
                if step is None:
                    return
                self._rearm()
                self._step = step
                bars = []
                for symbol in self.symbols:
                    found = step.bars[symbol]
                    bar = self._rest_bar(symbol, step.end) if found == REST else found
                    if isinstance(bar, Bar):
                        bars.append(bar)
                        self.seen[symbol].append(bar)
                yield step.end, bars
                count += 1
        except KeyboardInterrupt:
            return
        finally:
            self._arm(0)

    def _rest_bar(self, symbol: str, end: int) -> Bar | None:
        """The candle ``[end - step, end)`` of ``symbol`` over REST, None if there is none."""
        start = end - self.step_ms
        frame = self.kf.candles(symbol, self.resolution, since=stamp(start), until=stamp(end))
        at = frame.index == stamp(start)
        if not at.any():
            return None
        row = frame[at].iloc[0]
        return Bar(symbol, start, end, float(row["open"]), float(row["high"]),
                   float(row["low"]), float(row["close"]), float(row["volume"]))

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> list[Trade]:
        step = self._step
        if step is not None and step.end == end_ms and start_ms == end_ms - self.step_ms:
            seen = step.trades[symbol]
            if not isinstance(seen, str):
                return seen
        frame = self.kf.trades(symbol, since=stamp(start_ms), until=stamp(end_ms))
        return [
            Trade(symbol, pd.Timestamp(t), float(p), float(s), str(side))
            for t, p, s, side in zip(frame.index, frame["price"], frame["size"], frame["side"],
                                     strict=True)
        ]

    def book(self, symbol: str, t_ms: int) -> Book:
        step = self._step
        if step is not None and step.end == t_ms and symbol in step.books:
            return step.books[symbol]
        frame = self.kf.orderbook(symbol)
        bids = frame[frame["side"] == "bid"]
        asks = frame[frame["side"] == "ask"]
        return Book(
            symbol, stamp(t_ms),
            tuple(zip(bids["price"].tolist(), bids["size"].tolist(), strict=True)),
            tuple(zip(asks["price"].tolist(), asks["size"].tolist(), strict=True)),
        )

    def candles(self) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for symbol, bars in self.seen.items():
            frame = pd.DataFrame(
                {
                    "open": [b.open for b in bars], "high": [b.high for b in bars],
                    "low": [b.low for b in bars], "close": [b.close for b in bars],
                    "volume": [b.volume for b in bars],
                },
                index=pd.DatetimeIndex(
                    pd.to_datetime([b.start_ms for b in bars], unit="ms", utc=True), name="time"
                ).as_unit("ns"),
                dtype=float,
            )
            frame.attrs.update(symbol=symbol, resolution=self.resolution, tick_type="trade",
                               env=self.kf.env.name)
            out[symbol] = frame
        return out


def _venue(
    strategy: StrategyLike,
    kf: Client,
    symbols: str | list[str] | tuple[str, ...],
    resolution: str,
    bars: int | None,
    until: TimeLike | None,
    dead_man_switch: int | None,
    stream: Stream | None,
    lag: float,
) -> StreamVenue:
    """Check the arguments (nothing is sent before) and make the run's venue."""
    from kfresearch.strategy.base import as_strategy
    from kfresearch.timeparse import to_epoch_ms

    if resolution not in STEP_MS:
        raise ValidationError("resolution", resolution, f"use one of {', '.join(STEP_MS)}")
    if bars is not None and bars < 1:
        raise ValidationError("bars", bars, "bars must be at least 1 (or None)")
    if not 0 <= lag < STEP_MS[resolution] / 1000:
        raise ValidationError("lag", lag, "give a few seconds, less than a bar")
    names = check_symbols(symbols)
    if kf.env.real_money and not kf.allow_trading:
        raise LiveTradingDisabledError(
            "run() trades on LIVE (real money) and live trading is not enabled, so nothing was "
            "sent. To trade for real, connect with kfresearch.connect(env='live', "
            "allow_trading=True); to practise, run on env='demo' or env='sim'."
        )
    if stream is not None and stream.env.name != kf.env.name:
        raise ValidationError(
            "stream", stream, f"the stream is env {stream.env.name!r} and the client "
            f"{kf.env.name!r}: pass the client's own stream, kf.stream()",
        )
    step_s = STEP_MS[resolution] // 1000
    driven = kf.env.in_process and kf.sim.clock.mode == "fixed"
    default = max(600, 10 * step_s) if driven else max(60, 3 * step_s)
    switch = default if dead_man_switch is None else int(dead_man_switch)
    if switch < 0 or (0 < switch and switch <= 2 * step_s):
        raise ValidationError(
            "dead_man_switch", dead_man_switch,
            f"give more than two bars ({2 * step_s} s) so the switch is re-armed before it "
            "fires, or 0 to turn it off",
        )
    # whole minutes, so the switch's deadlines fall on bar closes and never split a step
    switch = int(math.ceil(switch / 60) * 60) if switch else 0
    until_ms = None if until is None else to_epoch_ms(until)
    return StreamVenue(kf, names, resolution=resolution, bars=bars, until_ms=until_ms,
                       dead_man_switch=switch, stream=stream,
                       books=as_strategy(strategy).wants("on_book"), lag=lag)


def _play(strategy: StrategyLike, venue: StreamVenue, keep: int) -> Result:
    """Drive the strategy on ``venue`` to the end; the venue is closed however it ends."""
    try:
        ctx, player = drive(strategy, venue, venue.symbols, keep=keep)
    finally:
        venue.close()
    return build_result(ctx, player, venue.candles(), "run")


def run(
    strategy: StrategyLike,
    kf: Client,
    symbols: str | list[str] | tuple[str, ...],
    *,
    resolution: str = "1m",
    bars: int | None = None,
    until: TimeLike | None = None,
    dead_man_switch: int | None = None,
    stream: Stream | None = None,
    lag: float = 2.0,
    keep: int = 10_000,
) -> Result:
    """Trade ``strategy`` on ``kf``'s exchange, bar by bar as the stream closes them; blocks.

    For scripts; in a notebook use ``r = await arun(...)`` (module docstring).

    Parameters
    ----------
    strategy : Strategy or function
        The object a backtest ran (a copy is run), or ``f(ctx, bar)``.
    kf : Client
        ``sim``, ``demo`` or ``live`` (with both opt-ins).
    symbols : str or list of str
        Linear contracts.
    resolution : {"1m", "5m", "15m", "30m", "1h"}
    bars : int, optional
        Stop after this many bar closes.
    until : TimeLike, optional
        Stop after the bar closing at (or before) this time. With neither
        ``bars`` nor ``until`` the run goes on until Ctrl-C.
    dead_man_switch : int, optional
        Seconds of the exchange's dead man's switch, in whole minutes of more
        than two bars (default: three bars and at least 60 s on a real clock;
        ten bars and at least 10 minutes on a driven clock, where re-arming
        every bar would spend the rate budget of real seconds; 0 turns it off).
    stream : Stream, optional
        A stream of ``kf`` to use (default: a new ``kf.stream()``, closed at the end).
    lag : float
        Seconds the exchange may take to publish a trade, where its heartbeat
        carries no time (the Unified WebSocket): a bar closes at the first
        heartbeat ``lag`` seconds after its end.
    keep : int
        Bars of history kept per symbol.

    Returns
    -------
    Result
        As :func:`~kfresearch.strategy.backtest` returns, for the bars run.

    Raises
    ------
    LiveTradingDisabledError
        ``kf`` is a ``live`` client without ``allow_trading``: nothing was sent.
    StreamError
        Called on a running event loop (a notebook: ``await arun(...)`` there),
        or the stream gave up reconnecting.

    Examples
    --------
    >>> result = run(SmaCross(), kfresearch.connect("sim"), "PF_XBTUSD", bars=60)  # doctest: +SKIP
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise StreamError(
            "run() blocks, which would freeze this event loop (a notebook) and the stream "
            "on it: use r = await arun(strategy, kf, symbols, ...), then "
            "result = await r.wait() (or await r.stop())"
        )
    venue = _venue(strategy, kf, symbols, resolution, bars, until, dead_man_switch, stream, lag)
    try:
        venue.subscribe()
    except BaseException:
        venue.close()
        raise
    return _play(strategy, venue, keep)


class StrategyRun:
    """A strategy running in the background of an event loop (made by :func:`arun`).

    ``await`` it to wait until its feeds are live (``arun`` is awaited for
    that); :meth:`wait` for its end, :meth:`stop` to end it now.

    Attributes
    ----------
    symbols : tuple of str
    status : {"starting", "running", "done", "failed"}
    """

    def __init__(self, venue: StreamVenue, strategy: StrategyLike, keep: int) -> None:
        self.venue = venue
        self.symbols = venue.symbols
        self._strategy = strategy
        self._keep = keep
        self._loop = asyncio.get_running_loop()
        self._live: asyncio.Future[None] = self._loop.create_future()
        self._done: asyncio.Future[Result] = self._loop.create_future()
        self._task = self._loop.create_task(self._main())

    @property
    def status(self) -> str:
        if self._done.done():
            return "failed" if self._done.cancelled() or self._done.exception() else "done"
        return "running" if self._live.done() else "starting"

    @property
    def done(self) -> bool:
        return self._done.done()

    def __repr__(self) -> str:
        return (f"<StrategyRun {', '.join(self.symbols)} on {self.venue.kf.env.name}: "
                f"{self.status}>")

    async def _main(self) -> None:
        try:
            for subscription in self.venue.subscribe():
                await subscription
        except BaseException as exc:
            self.venue.close()
            self._fail(exc)
            return
        self._live.set_result(None)
        # the hooks (and the client's blocking calls) run on a thread: the loop stays free
        threading.Thread(target=self._work, name="kfresearch-strategy", daemon=True).start()

    def _work(self) -> None:
        try:
            result = _play(self._strategy, self.venue, self._keep)
        except BaseException as exc:
            self._loop.call_soon_threadsafe(self._fail, exc)
        else:
            self._loop.call_soon_threadsafe(self._finish, result)

    def _fail(self, exc: BaseException) -> None:
        for future in (self._live, self._done):
            if not future.done():
                future.set_exception(exc)

    def _finish(self, result: Result) -> None:
        if not self._done.done():
            self._done.set_result(result)

    def __await__(self) -> Generator[Any, None, StrategyRun]:
        return self._started().__await__()

    async def _started(self) -> StrategyRun:
        await asyncio.shield(self._live)
        return self

    async def wait(self) -> Result:
        """The Result, once the run ends (``bars`` or ``until`` reached, or :meth:`stop`)."""
        return await asyncio.shield(self._done)

    async def stop(self) -> Result:
        """End the run now (``on_stop`` runs, the switch is disarmed) and return its Result."""
        self.venue.stop()
        return await self.wait()

    def result(self) -> Result:
        """The Result of a run that has ended.

        Raises
        ------
        StreamError
            The run has not ended: ``await r.wait()`` or ``await r.stop()``.
        """
        if not self._done.done():
            raise StreamError("the run has not ended: result = await r.wait() (or r.stop())")
        return self._done.result()


def arun(
    strategy: StrategyLike,
    kf: Client,
    symbols: str | list[str] | tuple[str, ...],
    *,
    resolution: str = "1m",
    bars: int | None = None,
    until: TimeLike | None = None,
    dead_man_switch: int | None = None,
    stream: Stream | None = None,
    lag: float = 2.0,
    keep: int = 10_000,
) -> StrategyRun:
    """Start :func:`run` in the background of the running event loop (a notebook).

    Takes the arguments of :func:`run`. ``await`` the handle to wait until
    the feeds are live; the run then goes on while other cells run.

    Returns
    -------
    StrategyRun
        ``await r.wait()`` or ``await r.stop()`` gives the
        :class:`~kfresearch.strategy.Result`.

    Raises
    ------
    StreamError
        No running event loop (a script: call :func:`run`).

    Examples
    --------
    >>> r = await arun(SmaCross(), kf, "PF_XBTUSD", bars=120)          # doctest: +SKIP
    >>> result = await r.wait()                                        # doctest: +SKIP
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise StreamError(
            "arun() runs on an event loop (a notebook, async code); in a script call "
            "run(strategy, kf, symbols, ...), which blocks until the run ends"
        ) from None
    venue = _venue(strategy, kf, symbols, resolution, bars, until, dead_man_switch, stream, lag)
    return StrategyRun(venue, strategy, keep)
