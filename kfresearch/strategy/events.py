"""What a strategy is told: bars, public trades, book snapshots, its fills and its funding.

The same event objects come from a backtest (replayed history) and from a live
run (the exchange's clock), in the same order at each bar close (see
:mod:`kfresearch.strategy.driver`). Times are timezone-aware UTC
``pd.Timestamp``; prices are USD, sizes contracts, amounts in the contract's
settlement currency (USD for ``PF_`` contracts).

Example
-------
>>> bar = Bar("PF_XBTUSD", 1_793_491_200_000, 1_793_491_260_000,
...           86000.0, 86010.0, 85990.0, 86005.0, 1.25)
>>> bar.close, bar.end.isoformat()
(86005.0, '2026-11-01T00:01:00+00:00')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd

__all__ = ["Bar", "Book", "Fill", "Funding", "Trade"]


class Bar(NamedTuple):
    """One closed candle of trade prices, delivered at ``end`` (when it is complete).

    Immutable, a named tuple: a backtest makes one per bar, and a tuple is
    made several times faster than a frozen dataclass.

    Attributes
    ----------
    symbol : str
    start_ms, end_ms : int
        The candle covers ``[start, end)`` (epoch ms); the strategy sees it at ``end``.
    open, high, low, close : float
        USD.
    volume : float
        Contracts traded.
    start, end : pd.Timestamp
        The same times, UTC (made when asked: a backtest hands out many bars).
    """

    symbol: str
    start_ms: int
    end_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.start_ms, unit="ms", tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.end_ms, unit="ms", tz="UTC")

    def __repr__(self) -> str:
        return (
            f"Bar({self.symbol} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M} "
            f"o={self.open:g} h={self.high:g} l={self.low:g} c={self.close:g} v={self.volume:g})"
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade (``on_trade``): time, USD price, contracts, taker side."""

    symbol: str
    time: pd.Timestamp
    price: float
    size: float
    side: str


@dataclass(frozen=True, slots=True)
class Book:
    """The order book at a bar close (``on_book``): levels best first, (USD, contracts)."""

    symbol: str
    time: pd.Timestamp
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of the strategy's orders (``on_fill``).

    Attributes
    ----------
    time : pd.Timestamp
    symbol, side : str
        ``side`` is ``"buy"`` or ``"sell"``.
    size : float
        Contracts, positive.
    price : float
        USD.
    fee : float
        Paid, in ``fee_currency`` (negative would be a rebate).
    fee_currency : str
    fill_type : str
        ``"taker"``, ``"maker"``, ``"liquidation"``, ``"takerAfterEdit"``.
    order_id, client_order_id, fill_id : str or None
    """

    time: pd.Timestamp
    symbol: str
    side: str
    size: float
    price: float
    fee: float
    fee_currency: str
    fill_type: str
    order_id: str | None
    client_order_id: str | None
    fill_id: str

    @property
    def signed_size(self) -> float:
        """Contracts, positive for a buy and negative for a sell."""
        return self.size if self.side == "buy" else -self.size

    def row(self) -> dict[str, Any]:
        """The fill as a row of :attr:`Result.fills` (without the time)."""
        return {
            "symbol": self.symbol,
            "side": self.side,
            "size": self.size,
            "price": self.price,
            "notional_usd": self.size * self.price,
            "fee": self.fee,
            "fee_currency": self.fee_currency,
            "fill_type": self.fill_type,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "fill_id": self.fill_id,
        }


@dataclass(frozen=True, slots=True)
class Funding:
    """Funding realised into the wallet (``on_funding``): hourly, or with a trade.

    Attributes
    ----------
    time : pd.Timestamp
    symbol : str
    amount : float
        Received, in the settlement currency (negative: paid).
    rate : float or None
        The hour's absolute funding rate (per contract, settlement currency);
        None when realised with a trade.
    """

    time: pd.Timestamp
    symbol: str
    amount: float
    rate: float | None
