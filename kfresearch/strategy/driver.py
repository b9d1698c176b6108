"""One loop feeds a strategy, whatever the market: replayed history or the exchange's clock.

A :class:`Venue` moves the exchange to each bar close and hands over the
bars that closed; the loop (:func:`drive`) does the rest, identically for
:func:`~kfresearch.strategy.backtest` and :func:`~kfresearch.strategy.run`.
At each bar close ``t``:

1. fills and funding of ``(previous close, t]`` (the venue's tap), in the
   exchange's order: ``on_fill`` / ``on_funding``;
2. if overridden, ``on_trade`` for the public trades of the bar and
   ``on_book`` for the book at ``t``;
3. every symbol's bar is added to the history first, then ``on_bar`` for
   each, in symbol order, each followed by the fills its orders made at once;
4. equity, cash and positions are recorded at ``t``.

``on_start`` runs before the first bar, ``on_stop`` after the last (its
orders' fills are delivered too). The loop runs a deep copy of the strategy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from kfresearch.errors import ValidationError
from kfresearch.strategy.base import Strategy, as_strategy
from kfresearch.strategy.context import Context
from kfresearch.strategy.events import Bar, Book, Fill, Trade
from kfresearch.strategy.tally import Tally

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.strategy.taps import Event, Tap

__all__ = ["STEP_MS", "History", "Venue", "check_symbols", "drive", "usd_equity"]

#: Bar lengths the drivers take, in milliseconds.
STEP_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000}

StrategyLike = Strategy | Callable[[Context, Bar], None]


class History(NamedTuple):
    """Every bar of one symbol a venue will hand over, in order, when it knows them in
    advance (a backtest's stored candles): read-only arrays.

    Attributes
    ----------
    start_ms, end_ms : ndarray of int64
        Each bar's start and end (epoch ms).
    columns : ndarray of float64, shape (5, bars)
        Open, high, low, close (USD) and volume (contracts) rows.
    """

    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    columns: NDArray[np.float64]


class Venue(Protocol):
    """Where a run happens: the client, the clock, the bars, the account's events.

    A venue that knows every bar in advance (a backtest) may also have
    ``history() -> dict[str, History] | None``: the context's recent bars and
    the tally's marks are then read from those arrays (only as far as the
    bars handed over) instead of being copied bar by bar.
    """

    kf: Client
    mode: str
    tap: Tap

    def now_ms(self) -> int:
        """The exchange's time, epoch ms."""
        ...

    def start_equity(self) -> float:
        """USD equity of the account when the run starts."""
        ...

    def steps(self) -> Iterator[tuple[int, list[Bar]]]:
        """Move the exchange to each bar close in turn; yield (close ms, the bars closed)."""
        ...

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> list[Trade]:
        """Public trades of ``[start_ms, end_ms)``."""
        ...

    def book(self, symbol: str, t_ms: int) -> Book:
        """The order book at ``t_ms``."""
        ...


def usd_equity(kf: Client) -> float:
    """USD value of the multi-collateral (flex) wallet, where ``PF_`` contracts are margined:
    its portfolio value, else the sum of its currencies' USD values."""
    accounts = kf.accounts()
    flex = accounts[accounts["account"] == "flex"]
    if flex.empty:
        raise ValidationError("kf", kf, "the account has no flex wallet to trade PF_ contracts in")
    portfolio = flex["portfolio_value"].dropna()
    if len(portfolio):
        return float(portfolio.iloc[0])
    return float(flex["value"].fillna(0.0).sum())


def check_symbols(symbols: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Symbols in the exchange's spelling, linear contracts only.

    Raises
    ------
    ValidationError
        No symbols, or an inverse contract (the run's USD accounting is for
        linear ``PF_``/``FF_`` contracts).
    """
    from kfresearch.contracts import is_inverse

    names = (symbols,) if isinstance(symbols, str) else tuple(symbols)
    out = tuple(dict.fromkeys(str(s).upper() for s in names))
    if not out:
        raise ValidationError("symbols", symbols, "give at least one symbol, e.g. 'PF_XBTUSD'")
    inverse = [s for s in out if is_inverse(s)]
    if inverse:
        raise ValidationError(
            "symbols",
            symbols,
            f"{', '.join(inverse)} settle in the coin; strategies account in USD: use the "
            "linear PF_ contracts",
        )
    return out


def drive(
    strategy: StrategyLike, venue: Venue, symbols: tuple[str, ...], *, keep: int = 10_000
) -> tuple[Context, Strategy]:
    """Run ``strategy`` (a copy) on ``venue`` (module docstring); the context and the copy."""
    player = copy.deepcopy(as_strategy(strategy))
    given = getattr(venue, "history", None)
    history: dict[str, History] | None = given() if given is not None else None
    tally = Tally(symbols, venue.start_equity(), history=history)
    ctx = Context(venue.kf, tally, mode=venue.mode, now_ms=venue.now_ms, keep=keep,
                  history=history)
    wants_trades, wants_book = player.wants("on_trade"), player.wants("on_book")

    take = venue.tap.take

    def deliver(events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Fill):
                tally.add_fill(event)
                player.on_fill(ctx, event)
            else:
                tally.add_funding(event)
                player.on_funding(ctx, event)

    player.on_start(ctx)
    deliver(take())
    previous: int | None = None
    record_bar, on_bar, mark = ctx.record_bar, player.on_bar, tally.mark
    for t, bars in venue.steps():
        # most bars bring no event: the tap's empty answer is checked here, not in a call
        if events := take():
            deliver(events)
        if wants_trades and previous is not None:
            for symbol in symbols:
                for trade in venue.trades(symbol, previous, t):
                    player.on_trade(ctx, trade)
        if wants_book:
            for symbol in symbols:
                player.on_book(ctx, venue.book(symbol, t))
        for bar in bars:
            record_bar(bar)
        for bar in bars:
            on_bar(ctx, bar)
            if events := take():
                deliver(events)
        mark(t)
        previous = t
    player.on_stop(ctx)
    deliver(take())
    return ctx, player
