"""A run's own book-keeping: positions and USD cash from its fills and funding, equity per bar.

The exchange keeps the account; the tally follows it from the events the
strategy is told (fills, funding), so reading a position or the equity in
``on_bar`` costs no request, in a backtest as in a live run. Cash is USD for
linear contracts (``PF_``/``FF_``: fees, PnL and funding are USD):

    cash = start equity − Σ signed size × price − Σ fees + Σ funding
    equity = cash + Σ position × last close

so realised and unrealised PnL need no entry price. Inverse contracts
(``PI_``/``FI_``, settled in the coin) are refused by the drivers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kfresearch.strategy.events import Fill, Funding

if TYPE_CHECKING:
    from kfresearch.strategy.driver import History

__all__ = ["Tally"]


@dataclass
class Tally:
    """Positions, cash and the per-bar record of one run (see the module docstring).

    Attributes
    ----------
    symbols : tuple of str
    start_equity : float
        USD at the start.
    cash : float
        USD (module docstring).
    positions : dict
        Signed contracts per symbol.
    closes : dict
        Last close per symbol (USD).
    history : dict of History or None
        Every bar per symbol when the venue knows them in advance (a
        backtest): the closes at each mark are then found from the marks'
        times at the end instead of being noted at every mark.
    """

    symbols: tuple[str, ...]
    start_equity: float
    cash: float = 0.0
    positions: dict[str, float] = field(default_factory=dict)
    closes: dict[str, float] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    funding: list[Funding] = field(default_factory=list)
    history: dict[str, History] | None = field(default=None, repr=False)
    _times: list[int] = field(default_factory=list)
    # each symbol's last close at every mark; cash and positions only where they changed
    _marked_closes: dict[str, list[float]] = field(default_factory=dict)
    _changes: list[tuple[int, float, tuple[float, ...]]] = field(default_factory=list)
    _changed: bool = True

    def __post_init__(self) -> None:
        self.cash = self.start_equity
        for symbol in self.symbols:
            self.positions.setdefault(symbol, 0.0)
            if self.history is None:
                self._marked_closes[symbol] = []

    def add_fill(self, fill: Fill) -> None:
        signed = fill.signed_size
        held = self.positions.get(fill.symbol, 0.0) + signed
        # sizes live on the contract's step: keep float dust out of "flat"
        self.positions[fill.symbol] = 0.0 if abs(held) < 1e-12 else held
        self.cash -= signed * fill.price + fill.fee
        self.fills.append(fill)
        self._changed = True

    def add_funding(self, funding: Funding) -> None:
        self.cash += funding.amount
        self.funding.append(funding)
        self._changed = True

    @property
    def equity(self) -> float:
        """USD: cash plus every position at its symbol's last close."""
        return self.cash + sum(
            size * self.closes.get(symbol, 0.0) for symbol, size in self.positions.items() if size
        )

    def mark(self, time_ms: int) -> None:
        """Record equity, cash and positions at ``time_ms`` (a bar close).

        O(1) and no arithmetic: the closes are noted (unless the history
        holds them), cash and positions only when a fill or funding changed
        them; the frames are computed at the end.
        """
        if self._changed:
            self._changes.append(
                (len(self._times), self.cash, tuple(self.positions[s] for s in self.symbols))
            )
            self._changed = False
        self._times.append(time_ms)
        if self._marked_closes:  # empty when the history holds the closes
            closes = self.closes
            for symbol, kept in self._marked_closes.items():
                kept.append(closes.get(symbol, 0.0))

    # -- frames ------------------------------------------------------------------
    def _index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(
            pd.to_datetime(np.asarray(self._times, dtype=np.int64), unit="ms", utc=True),
            name="time",
        )

    def _states(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Cash (USD) and positions (marks x symbols) at every mark."""
        count = len(self._times)
        if not self._changes:
            return np.empty(0), np.empty((0, len(self.symbols)))
        starts = np.asarray([at for at, _, _ in self._changes], dtype=np.int64)
        repeats = np.diff(np.append(starts, count))
        cash = np.repeat(np.asarray([c for _, c, _ in self._changes], dtype=float), repeats)
        held = np.asarray([p for _, _, p in self._changes], dtype=float).reshape(
            len(self._changes), len(self.symbols)
        )
        return cash, np.repeat(held, repeats, axis=0)

    def _equity(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Equity and cash (USD) at every mark, as :attr:`equity` gives them."""
        cash, held = self._states()
        # the same float operations in the same order as ``equity``: terms of the
        # symbols held, summed in symbol order, then added to cash
        total = np.zeros(cash.size)
        for j, symbol in enumerate(self.symbols):
            size = held[:, j]
            total = total + np.where(size != 0, size * self._closes_marked(symbol), 0.0)
        return cash + total, cash

    def _closes_marked(self, symbol: str) -> NDArray[np.float64]:
        """``symbol``'s last close (USD) at every mark, 0.0 before its first bar."""
        if self.history is None:
            return np.asarray(self._marked_closes[symbol], dtype=float)
        # the bars handed over by a mark are those that ended by then (the drivers
        # record every bar of a bar close before marking it)
        known = self.history[symbol]
        seen = np.searchsorted(known.end_ms, np.asarray(self._times, dtype=np.int64), "right")
        return np.concatenate(([0.0], known.columns[3]))[seen]

    def equity_frame(self) -> pd.DataFrame:
        """Per bar: ``equity_usd``, ``cash_usd``, ``drawdown`` (fraction <= 0), ``drawdown_usd``."""
        equity, cash = self._equity()
        peak = np.maximum.accumulate(equity) if equity.size else equity
        with np.errstate(divide="ignore", invalid="ignore"):
            drawdown = np.where(peak > 0, equity / peak - 1.0, 0.0)
        return pd.DataFrame(
            {
                "equity_usd": equity,
                "cash_usd": cash,
                "drawdown": drawdown,
                "drawdown_usd": equity - peak,
            },
            index=self._index(),
        )

    def positions_frame(self) -> pd.DataFrame:
        """Signed contracts per symbol (one column each) at every bar close."""
        _, held = self._states()
        return pd.DataFrame(held, index=self._index(), columns=list(self.symbols))

    def fills_frame(self) -> pd.DataFrame:
        """One row per fill (:meth:`Fill.row`), indexed by ``time``."""
        # column by column: what a frame of Fill.row() rows holds, without a dict a fill
        fills = self.fills
        columns = {name: [getattr(fill, name) for fill in fills] for name in _FILL_COLUMNS
                   if name != "notional_usd"}
        columns["notional_usd"] = [fill.size * fill.price for fill in fills]
        frame = pd.DataFrame(columns, columns=list(_FILL_COLUMNS))
        frame.index = pd.DatetimeIndex([fill.time for fill in self.fills], name="time", tz="UTC")
        return frame.astype(_FILL_COLUMNS)

    def funding_frame(self) -> pd.DataFrame:
        """``symbol``, ``amount`` (received; negative = paid), ``rate`` per realisation."""
        frame = pd.DataFrame(
            {
                "symbol": [f.symbol for f in self.funding],
                "amount": [f.amount for f in self.funding],
                "rate": [np.nan if f.rate is None else f.rate for f in self.funding],
            }
        )
        frame.index = pd.DatetimeIndex([f.time for f in self.funding], name="time", tz="UTC")
        return frame.astype({"symbol": "string", "amount": "float64", "rate": "float64"})


_FILL_COLUMNS: dict[str, str] = {
    "symbol": "string",
    "side": "string",
    "size": "float64",
    "price": "float64",
    "notional_usd": "float64",
    "fee": "float64",
    "fee_currency": "string",
    "fill_type": "string",
    "order_id": "string",
    "client_order_id": "string",
    "fill_id": "string",
}
