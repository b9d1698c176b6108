"""The shape of a strategy: a small class with hooks, or one function of ``(ctx, bar)``.

Every hook gets the :class:`~kfresearch.strategy.Context` first; override
only the ones you need. A backtest and a live run call them in the same
order at each bar close (:mod:`kfresearch.strategy.driver`):

1. ``on_fill`` and ``on_funding`` for what happened since the last bar;
2. ``on_trade`` for each public trade of the bar, ``on_book`` for the book
   at the bar close (only when overridden: they cost time);
3. ``on_bar`` for each symbol's closed bar, then ``on_fill`` for what its
   orders filled at once.

``on_start`` runs before the first bar, ``on_stop`` after the last.
Parameters are the constructor's arguments (a dataclass reads best), so
:func:`~kfresearch.strategy.sweep` can make one strategy per grid point.
A driver works on a copy of the object: the one you pass stays as it was,
and a backtest and a run of it start from the same state.

Example
-------
>>> from dataclasses import dataclass
>>> @dataclass
... class Momentum(Strategy):
...     size: float = 0.01
...     def on_bar(self, ctx, bar):
...         closes = ctx.closes(bar.symbol, 2)
...         if len(closes) == 2:
...             ctx.order_target(bar.symbol, self.size if closes[1] > closes[0] else 0.0)
>>> Momentum(size=0.02)
Momentum(size=0.02)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kfresearch.strategy.context import Context
    from kfresearch.strategy.events import Bar, Book, Fill, Funding, Trade

__all__ = ["FunctionStrategy", "Strategy", "as_strategy"]


class Strategy:
    """Base class of strategies: every hook does nothing until overridden."""

    def on_start(self, ctx: Context) -> None:
        """Before the first bar (positions and balances are readable; history is empty)."""

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """A bar of one of the symbols closed (``bar.end`` is now)."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """A public trade printed during the bar that just closed."""

    def on_book(self, ctx: Context, book: Book) -> None:
        """The order book at the bar close."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """One of the strategy's orders (partly) filled, or a position was liquidated."""

    def on_funding(self, ctx: Context, funding: Funding) -> None:
        """Funding was realised into the wallet (hourly, or with a trade)."""

    def on_stop(self, ctx: Context) -> None:
        """After the last bar."""

    def wants(self, hook: str) -> bool:
        """Whether ``hook`` (``"on_trade"``, ``"on_book"``) is overridden, so worth feeding."""
        return getattr(type(self), hook) is not getattr(Strategy, hook)


class FunctionStrategy(Strategy):
    """A strategy made of one ``on_bar`` function (see :func:`as_strategy`)."""

    def __init__(self, on_bar: Callable[[Context, Bar], None]) -> None:
        self.function = on_bar

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.function(ctx, bar)

    def __repr__(self) -> str:
        return f"FunctionStrategy({getattr(self.function, '__name__', 'on_bar')})"


def as_strategy(strategy: Strategy | Callable[[Context, Bar], None]) -> Strategy:
    """``strategy`` itself, or a plain ``f(ctx, bar)`` function made into its ``on_bar``.

    Raises
    ------
    TypeError
        Neither a :class:`Strategy` nor a callable.
    """
    if isinstance(strategy, Strategy):
        return strategy
    if callable(strategy):
        return FunctionStrategy(strategy)
    raise TypeError(
        f"a strategy is a kfresearch.strategy.Strategy subclass instance or a function "
        f"f(ctx, bar); got {type(strategy).__name__}"
    )
