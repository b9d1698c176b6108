"""Where the exchange engine takes its prices from: the :class:`MarketSource` protocol.

One engine (orders, matching, margin, funding, liquidation, settlement) runs
on any source, so an order fills by the same rules in every environment:

======================  =================================================  =====================
source                  prices                                             used by
======================  =================================================  =====================
``SyntheticMarket``     seeded synthetic market, any time, offline         ``sim``
                        (:mod:`kfresearch.sim.market`)
``ReplaySource``        a history store's candles, trades, funding and     backtests
                        book snapshots (:mod:`kfresearch.sim.replay`)
live source             the live exchange's public data, polled            ``demo`` (issue 13b)
======================  =================================================  =====================

What the engine asks of a source, and when:

* **an order arrives** at ``t``: the contract (:meth:`MarketSource.instrument`),
  the book (:meth:`~MarketSource.book`: a market order walks its levels), the
  mark (price collar, margin);
* **time moves** from ``t0`` to ``t1`` (steps of at most a minute): the range
  the last trade price, mark or index took in ``(t0, t1]``
  (:meth:`~MarketSource.extremes`: a resting limit fills when trades printed
  through it; a stop fires on its signal), the trades that printed
  (:meth:`~MarketSource.trades`, for sources that model queue position), the
  mark (margin, liquidation);
* **each hour** of a held perpetual: that hour's funding rate
  (:meth:`~MarketSource.funding_rate`);
* **valuing collateral**: a currency's USD value (:meth:`~MarketSource.usd_value`).

Times the engine asks about never run ahead of its clock, and a step's times
only move forward; a source may answer a time with its latest observation at
or before it (the live source answers with its last poll, a replay with the
last stored value), and must never use data from after it (no look-ahead).
Times are epoch milliseconds (UTC), prices floats in USD, sizes in contracts.

Example
-------
>>> from kfresearch.sim.market import SyntheticMarket
>>> source: MarketSource = SyntheticMarket(seed=7)
>>> t = 1_793_491_200_000  # 2026-11-01T00:00:00Z
>>> bids, asks = source.book("PF_XBTUSD", t, depth=5)
>>> len(bids), bids[0][0] < asks[0][0]
(5, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from kfresearch.sim.instruments import InstrumentSpec

__all__ = ["CASH", "Level", "MarketSource", "Signal", "Trades"]

#: Currencies every source values at 1.0 USD (:meth:`MarketSource.usd_value`): collateral
#: whose USD value never moves.
CASH = frozenset({"USD", "USDT", "USDC"})

Signal = Literal["last", "mark", "index"]
Level = tuple[float, float]
"""A book level: (price in USD, size in contracts)."""


@dataclass(frozen=True)
class Trades:
    """Public trades, one row per index of equal-length arrays, oldest first.

    Attributes
    ----------
    time_ms : int64 array
        Epoch milliseconds.
    price : float64 array
        Price in USD, on the contract's tick.
    size : float64 array
        Contracts (base units for ``PF_``, USD for inverse), on the size step.
    buy : bool array
        True when the taker bought.
    trade_id : int64 array
        Per-contract id, increasing with time.
    """

    time_ms: NDArray[np.int64]
    price: NDArray[np.float64]
    size: NDArray[np.float64]
    buy: NDArray[np.bool_]
    trade_id: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.time_ms.shape[0])

    @staticmethod
    def empty() -> Trades:
        """No trades."""
        return Trades(
            np.empty(0, np.int64),
            np.empty(0),
            np.empty(0),
            np.empty(0, bool),
            np.empty(0, np.int64),
        )


class MarketSource(Protocol):
    """Prices of every contract a source knows, at the times the engine asks (module docstring).

    ``name`` says where prices come from, for people: ``"synthetic"``,
    ``"replay"`` or ``"live"``.
    """

    name: str

    def instruments(self, now_ms: int) -> list[InstrumentSpec]:
        """Contracts listed at ``now_ms`` (dated ones until they expire)."""
        ...

    def instrument(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract named ``symbol`` (case-insensitive), or None if the source lacks it."""
        ...

    def index_price(self, symbol: str, t_ms: int) -> float:
        """Spot index (USD) of the contract's underlying at ``t_ms``."""
        ...

    def mark_price(self, symbol: str, t_ms: int) -> float:
        """Mark price (USD) at ``t_ms``."""
        ...

    def last_price(self, symbol: str, t_ms: int) -> float:
        """Price (USD) of the last public trade at or before ``t_ms``."""
        ...

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """The order book at ``t_ms``: (bids best first, asks best first), ``depth`` a side."""
        ...

    def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades:
        """Public trades that printed with ``start_ms <= time < end_ms``, oldest first."""
        ...

    def extremes(
        self, symbol: str, signal: Signal, t0_ms: int, t1_ms: int
    ) -> tuple[float, float] | None:
        """(min, max) of the ``signal`` price in ``(t0_ms, t1_ms]``; None if nothing printed.

        For ``last`` these are public trade prices: a resting buy at L fills
        when the min is below L.
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
        """USD value of one unit of ``currency`` (``"XBT"``, ``"ETH"``; 1.0 for :data:`CASH`).

        Raises ``KeyError`` for a currency the source does not price.
        """
        ...
