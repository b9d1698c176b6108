"""``run``: the same strategy object on an exchange's clock (``sim``, ``demo`` or ``live``).

At each bar close the run reads the bar that just closed (``kf.candles``),
learns what its orders did (in-process: from the exchange engine's private
feeds, as the in-process WebSocket does; elsewhere: ``kf.fills()`` and
``kf.account_log()``) and calls the strategy exactly as a backtest does
(:mod:`kfresearch.strategy.driver`).

The clock
    On an in-process exchange whose clock is fixed (``sim`` under
    ``KFRESEARCH_SIM_NOW``, or a ``SimExchange`` with ``SimClock.fixed``),
    the run moves it bar by bar (``kf.sim.advance``): hours run in seconds,
    reproducibly. Otherwise it sleeps until each bar close (plus ``lag``
    seconds for the exchange to publish the candle).

Safety
    The dead man's switch (``cancel_all_after``) is armed for
    ``dead_man_switch`` seconds at the start and re-armed at a bar close
    whenever it would fire within two bars: if the kernel dies or hangs, the
    exchange cancels the strategy's open orders. It is disarmed when the run
    ends. On ``live`` every order (and the switch) needs the client's two
    opt-ins (``env="live"`` and ``allow_trading=True``); nothing is sent
    otherwise. Ctrl-C ends the run
    at the next bar and returns what happened so far.

Example
-------
>>> kf = kfresearch.connect("sim")                                          # doctest: +SKIP
>>> result = run(SmaCross(fast=5, slow=20), kf, "PF_XBTUSD", bars=240)      # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pandas as pd

from kfresearch.errors import LiveTradingDisabledError, ValidationError
from kfresearch.strategy.driver import STEP_MS, StrategyLike, check_symbols, drive, usd_equity
from kfresearch.strategy.events import Bar, Book, Trade
from kfresearch.strategy.result import build_result
from kfresearch.strategy.taps import EngineTap, RestTap, Tap

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.strategy.result import Result
    from kfresearch.timeparse import TimeLike

__all__ = ["run"]


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


class ClockVenue:
    """A run on the exchange's clock (module docstring)."""

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
        lag: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kf = kf
        self.symbols = symbols
        self.resolution = resolution
        self.step_ms = STEP_MS[resolution]
        self.max_bars = bars
        self.until_ms = until_ms
        self.switch = dead_man_switch
        self.lag = lag
        self.sleep = sleep
        in_process = kf.env.in_process
        self.driven = in_process and kf.sim.clock.mode == "fixed"
        self.tap: Tap = EngineTap.for_client(kf) if in_process else RestTap(kf)
        self.seen: dict[str, list[Bar]] = {s: [] for s in symbols}
        self.deadline = 0

    def now_ms(self) -> int:
        if self.kf.env.in_process:
            return int(self.kf.sim.clock.now_ms())
        return int(time.time() * 1000)

    def start_equity(self) -> float:
        return usd_equity(self.kf)

    def _wait_until(self, t_ms: int) -> None:
        if self.driven:
            self.kf.sim.advance(f"{t_ms - self.now_ms()}ms")
            return
        while (left := (t_ms - self.now_ms()) / 1000 + self.lag) > 0:
            self.sleep(min(left, 1.0))

    def _arm(self, seconds: int) -> None:
        """Arm the switch for ``seconds`` (0 disarms) if it is on."""
        if self.switch > 0:
            self.kf.cancel_all_after(seconds)
            self.deadline = self.now_ms() + seconds * 1000

    def _rearm(self) -> None:
        """Re-arm when the switch would fire within two bars (each arming costs 25 rate units)."""
        if self.switch > 0 and self.deadline - self.now_ms() <= 2 * self.step_ms:
            self._arm(self.switch)

    def steps(self) -> Iterator[tuple[int, list[Bar]]]:
        step = self.step_ms
        t = (self.now_ms() // step + 1) * step
        self._arm(self.switch)
        count = 0
        try:
            while (self.max_bars is None or count < self.max_bars) and (
                self.until_ms is None or t <= self.until_ms
            ):
                self._wait_until(t)
                self._rearm()
                bars = [bar for symbol in self.symbols if (bar := self._bar(symbol, t))]
                for bar in bars:
                    self.seen[bar.symbol].append(bar)
                yield t, bars
                count += 1
                t += step
        except KeyboardInterrupt:
            return
        finally:
            self._arm(0)

    def _bar(self, symbol: str, end: int) -> Bar | None:
        """The candle ``[end - step, end)`` of ``symbol``, None if the exchange has none."""
        start = end - self.step_ms
        frame = self.kf.candles(symbol, self.resolution, since=_stamp(start), until=_stamp(end))
        at = frame.index == _stamp(start)
        if not at.any():
            return None
        row = frame[at].iloc[0]
        return Bar(symbol, start, end, float(row["open"]), float(row["high"]),
                   float(row["low"]), float(row["close"]), float(row["volume"]))

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> list[Trade]:
        frame = self.kf.trades(symbol, since=_stamp(start_ms), until=_stamp(end_ms))
        return [
            Trade(symbol, pd.Timestamp(t), float(p), float(s), str(side))
            for t, p, s, side in zip(frame.index, frame["price"], frame["size"], frame["side"],
                                     strict=True)
        ]

    def book(self, symbol: str, t_ms: int) -> Book:
        frame = self.kf.orderbook(symbol)
        bids = frame[frame["side"] == "bid"]
        asks = frame[frame["side"] == "ask"]
        return Book(
            symbol, _stamp(t_ms),
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
                ),
                dtype=float,
            )
            frame.attrs.update(symbol=symbol, resolution=self.resolution, tick_type="trade",
                               env=self.kf.env.name)
            out[symbol] = frame
        return out


def run(
    strategy: StrategyLike,
    kf: Client,
    symbols: str | list[str] | tuple[str, ...],
    *,
    resolution: str = "1m",
    bars: int | None = None,
    until: TimeLike | None = None,
    dead_man_switch: int | None = None,
    lag: float = 2.0,
    keep: int = 10_000,
) -> Result:
    """Trade ``strategy`` on ``kf``'s exchange, bar by bar, on its clock (module docstring).

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
    lag : float
        Seconds to wait after a bar close before reading it (real clock only).
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
    """
    from kfresearch.timeparse import to_epoch_ms

    if resolution not in STEP_MS:
        raise ValidationError("resolution", resolution, f"use one of {', '.join(STEP_MS)}")
    if bars is not None and bars < 1:
        raise ValidationError("bars", bars, "bars must be at least 1 (or None)")
    names = check_symbols(symbols)
    if kf.env.real_money and not kf.allow_trading:
        raise LiveTradingDisabledError(
            "run() trades on LIVE (real money) and live trading is not enabled, so nothing was "
            "sent. To trade for real, connect with kfresearch.connect(env='live', "
            "allow_trading=True); to practise, run on env='demo' or env='sim'."
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
    venue = ClockVenue(kf, names, resolution=resolution, bars=bars, until_ms=until_ms,
                       dead_man_switch=switch, lag=lag)
    ctx, player = drive(strategy, venue, names, keep=keep)
    return build_result(ctx, player, venue.candles(), "run")
