"""The small interface between where prices come from and the exchange engine.

The engine (orders, positions, margin, funding) only sees a :class:`Market`.
The ``sim`` environment plugs in the seeded synthetic market; the ``demo``
environment will plug in the live exchange's public data behind the same
methods. Times are epoch milliseconds; prices are floats in the quote currency
(USD).
"""

from __future__ import annotations

from typing import Literal, Protocol

from kfresearch.sim.instruments import InstrumentSpec

__all__ = ["Level", "Market", "Signal"]

Signal = Literal["last", "mark", "index"]
Level = tuple[float, float]  # (price, size in contracts)


class Market(Protocol):
    """Prices of every listed contract at any time, deterministic for a source."""

    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        """Contracts listed at ``now_ms`` (dated ones until they expire)."""
        ...

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract named ``symbol`` (case-insensitive), or None."""
        ...

    def index_price(self, symbol: str, t_ms: int) -> float:
        """Spot index of the contract's underlying at ``t_ms``."""
        ...

    def mark_price(self, symbol: str, t_ms: int) -> float:
        """Mark price (index plus smoothed premium) at ``t_ms``."""
        ...

    def last_price(self, symbol: str, t_ms: int) -> float:
        """Price of the last public trade at or before ``t_ms``."""
        ...

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """Order book at ``t_ms``: bids best (highest) first, asks best (lowest) first."""
        ...

    def extremes(
        self, symbol: str, signal: Signal, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        """(min, max) of the ``signal`` price in ``(t0_ms, t1_ms]``; None if nothing printed.

        For ``last`` these are public trade prices: a resting buy at L fills
        when the min is <= L.
        """
        ...

    def funding_rate(self, symbol: str, hour_ms: int) -> tuple[float, float]:
        """(absolute, relative) funding rate of a perpetual for the hour starting at ``hour_ms``.

        Absolute is per contract per hour in the settlement currency's terms
        (reference §7.5): for linear contracts absolute = relative x price, for
        inverse absolute = relative / price.
        """
        ...

    def usd_value(self, currency: str, t_ms: int) -> float:
        """USD value of one unit of ``currency`` (``"XBT"``, ``"ETH"``, ``"USD"`` = 1.0)."""
        ...
