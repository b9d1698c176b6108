"""What a strategy's hooks can read and do: the :class:`Context`.

Reading costs no request: positions, cash and equity follow the strategy's
own fills and funding (:mod:`kfresearch.strategy.tally`), recent bars are kept
by the driver. Orders go through the client's own validated order API
(:class:`kfresearch.Client` ``place_order``, ``edit_order``, ``cancel_order``,
``cancel_all``: the same checks before anything is sent, the same
:class:`~kfresearch.OrderResult`, the same errors), in a backtest as in a live
run; the context only records what they returned. ``ctx.kf`` is the client
itself, for anything else (``ctx.kf.accounts()``, ``ctx.kf.orderbook(...)``).

Example
-------
>>> def on_bar(ctx, bar):                                        # doctest: +SKIP
...     if ctx.position(bar.symbol) == 0 and bar.close > ctx.closes(bar.symbol, 20).mean():
...         ctx.buy(bar.symbol, 0.01)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kfresearch.errors import OrderRejected, ValidationError
from kfresearch.strategy.events import Bar

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.orders import OrderResult
    from kfresearch.strategy.driver import History
    from kfresearch.strategy.tally import Tally

__all__ = ["Context"]

P = ParamSpec("P")

_ORDER_COLUMNS: dict[str, str] = {
    "action": "string",
    "symbol": "string",
    "side": "string",
    "order_type": "string",
    "size": "float64",
    "filled": "float64",
    "limit_price": "float64",
    "stop_price": "float64",
    "status": "string",
    "order_id": "string",
    "client_order_id": "string",
}


class _Bars:
    """Recent bars of one symbol, at most ``keep``, in column buffers.

    Each column is a buffer of ``2 x keep`` (at least 64) values written in
    turn; when it is full, the last ``keep`` move to its front. Adding a bar
    is a few stores and reading the last ``n`` closes is a view, whatever
    ``keep`` is: O(1) per bar, no allocation.
    """

    def __init__(self, keep: int) -> None:
        self.keep = max(int(keep), 1)
        size = max(2 * self.keep, 64)
        self.start_ms = np.zeros(size, dtype=np.int64)
        self.columns = np.zeros((5, size), dtype=float)  # open, high, low, close, volume
        self.close = self.columns[3]
        # each column again as a 1-D view: a store through one is a third of a 2-D store's cost
        self._rows = tuple(self.columns[k] for k in range(5))
        # the strategy reads through this: views of it are read-only
        self.shown: NDArray[np.float64] = self.close.view()
        self.shown.flags.writeable = False
        self.count = 0  # values written in the buffers

    def add(self, bar: Bar) -> None:
        i = self.count
        if i == self.start_ms.size:
            keep = self.keep
            self.start_ms[:keep] = self.start_ms[i - keep : i]
            self.columns[:, :keep] = self.columns[:, i - keep : i]
            i = keep
        self.start_ms[i] = bar.start_ms
        opens, highs, lows, closes, volumes = self._rows
        opens[i] = bar.open
        highs[i] = bar.high
        lows[i] = bar.low
        closes[i] = bar.close
        volumes[i] = bar.volume
        self.count = i + 1

    def first(self, n: int | None) -> int:
        """Where the last ``n`` kept bars start in the buffers (all kept when None)."""
        held = min(self.count, self.keep)
        return self.count - (held if n is None else max(min(n, held), 0))


class _GivenBars(_Bars):
    """Recent bars of one symbol when the venue knows every bar in advance (a backtest).

    The buffers are the venue's read-only arrays of all the run's bars
    (:class:`~kfresearch.strategy.driver.History`); ``count`` of them have been
    handed over, and every read stops there (:meth:`_Bars.first`): adding a bar
    only counts it. Reads give what :class:`_Bars` gives, bit for bit.
    """

    def __init__(self, keep: int, history: History) -> None:
        self.keep = max(int(keep), 1)
        self.start_ms = history.start_ms
        self.columns = history.columns
        self.close = history.columns[3]
        self.shown = self.close.view()
        self.shown.flags.writeable = False
        self.count = 0
        self._size = self.start_ms.size

    def add(self, bar: Bar) -> None:
        if self.count == self._size:
            raise ValidationError("bar", bar, "the venue handed over more bars than its history")
        self.count += 1


class Context:
    """The strategy's view of its account and market (see the module docstring).

    Made by the drivers (:func:`~kfresearch.strategy.backtest`,
    :func:`~kfresearch.strategy.run`), not by hand.

    Attributes
    ----------
    kf : Client
        The client orders go through (a backtest's is served by the replay exchange).
    symbols : tuple of str
    mode : {"backtest", "run"}
    """

    def __init__(
        self,
        kf: Client,
        tally: Tally,
        *,
        mode: str,
        now_ms: Callable[[], int],
        keep: int,
        history: dict[str, History] | None = None,
    ) -> None:
        self.kf = kf
        self.tally = tally
        self.symbols = tally.symbols
        self.mode = mode
        self._now_ms = now_ms
        self._bars: dict[str, _Bars] = {
            symbol: _Bars(keep) if history is None else _GivenBars(keep, history[symbol])
            for symbol in tally.symbols
        }
        self._orders: list[tuple[int, dict[str, Any]]] = []
        self.place_order = self._recorded(kf.place_order)
        self.edit_order = self._recorded(kf.edit_order)
        self.cancel_order = self._recorded(kf.cancel_order)

    def __repr__(self) -> str:
        return (
            f"<Context {self.mode} {', '.join(self.symbols)} at {self.now.isoformat()} "
            f"equity={self.equity:,.2f} USD>"
        )

    # -- reading -------------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        """The exchange's time (UTC): the close of the bar being handled."""
        return pd.Timestamp(self._now_ms(), unit="ms", tz="UTC")

    def position(self, symbol: str) -> float:
        """Signed contracts held in ``symbol`` (0.0 when flat)."""
        return self.tally.positions.get(self._symbol(symbol), 0.0)

    @property
    def positions(self) -> dict[str, float]:
        """Signed contracts per symbol (a copy)."""
        return dict(self.tally.positions)

    @property
    def cash(self) -> float:
        """USD: starting equity plus realised PnL, less fees, plus funding received."""
        return self.tally.cash

    @property
    def equity(self) -> float:
        """USD: cash plus every position valued at its symbol's last close."""
        return self.tally.equity

    def balances(self) -> pd.DataFrame:
        """The exchange's wallets, ``kf.accounts()`` (one request)."""
        return self.kf.accounts()

    def closes(self, symbol: str, n: int | None = None) -> NDArray[np.float64]:
        """The last ``n`` closes (all kept when None, at most ``keep``), oldest first, USD
        float64.

        A read-only view, valid until the next bar: ``.copy()`` it to keep it longer.
        """
        kept = self._bars.get(symbol) if type(symbol) is str else None  # the run's spelling
        if kept is None:
            kept = self._bars[self._symbol(symbol)]
        # _Bars.first, inline: strategies ask every bar
        count, keep = kept.count, kept.keep
        held = count if count < keep else keep
        if n is not None:
            held = n if n < held else held
            held = held if held > 0 else 0
        shown: NDArray[np.float64] = kept.shown[count - held : count]
        return shown

    def bars(self, symbol: str, n: int | None = None) -> pd.DataFrame:
        """The last ``n`` bars as a candles frame (index ``time`` = bar start, UTC;
        ``open``, ``high``, ``low``, ``close`` USD, ``volume`` contracts)."""
        kept = self._bars[self._symbol(symbol)]
        a, b = kept.first(n), kept.count
        frame = pd.DataFrame(
            kept.columns[:, a:b].T.copy(),
            columns=["open", "high", "low", "close", "volume"],
            index=pd.DatetimeIndex(
                pd.to_datetime(kept.start_ms[a:b].copy(), unit="ms", utc=True), name="time"
            ),
            dtype=float,
        )
        frame.attrs["symbol"] = self._symbol(symbol)
        return frame

    def _symbol(self, symbol: str) -> str:
        if type(symbol) is str and symbol in self._bars:  # spelled as the run's (every bar)
            return symbol
        name = str(symbol).upper()
        if name not in self._bars:
            raise ValidationError(
                "symbol", symbol, f"this run trades {', '.join(self.symbols)}; add it to symbols="
            )
        return name

    # -- acting ----------------------------------------------------------------------
    def buy(
        self,
        symbol: str,
        size: float,
        limit_price: float | None = None,
        *,
        order_type: str | None = None,
        reduce_only: bool = False,
        post_only: bool = False,
        client_order_id: str | None = None,
    ) -> OrderResult:
        """Buy ``size`` contracts: a market order, or a limit order at ``limit_price``."""
        return self._send(
            symbol, "buy", size, limit_price, order_type, reduce_only, post_only, client_order_id
        )

    def sell(
        self,
        symbol: str,
        size: float,
        limit_price: float | None = None,
        *,
        order_type: str | None = None,
        reduce_only: bool = False,
        post_only: bool = False,
        client_order_id: str | None = None,
    ) -> OrderResult:
        """Sell ``size`` contracts: a market order, or a limit order at ``limit_price``."""
        return self._send(
            symbol, "sell", size, limit_price, order_type, reduce_only, post_only, client_order_id
        )

    def order_target(
        self, symbol: str, target: float, limit_price: float | None = None
    ) -> OrderResult | None:
        """Trade toward holding ``target`` signed contracts; None when already there.

        The difference is rounded to 12 decimals (sizes are on the contract's
        step; the order API refuses a size off it with a clear error).
        """
        held = self.tally.positions.get(symbol) if type(symbol) is str else None
        if held == target and symbol in self._bars:  # there already: most bars of most rules
            return None
        change = round(target - self.position(symbol), 12)
        if change == 0:
            return None
        side = self.buy if change > 0 else self.sell
        return side(symbol, abs(change), limit_price)

    def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every open order (of ``symbol``), ``kf.cancel_all``."""
        self.kf.cancel_all(symbol)

    def _send(
        self,
        symbol: str,
        side: str,
        size: float,
        limit_price: float | None,
        order_type: str | None,
        reduce_only: bool,
        post_only: bool,
        client_order_id: str | None,
    ) -> OrderResult:
        kind = order_type or ("mkt" if limit_price is None else "lmt")
        return self.place_order(
            self._symbol(symbol),
            side,
            size,
            kind,
            limit_price=limit_price,
            reduce_only=reduce_only,
            post_only=post_only,
            client_order_id=client_order_id,
        )

    def _recorded(self, method: Callable[P, OrderResult]) -> Callable[P, OrderResult]:
        """``method`` of the client, its result (or rejection) added to :meth:`orders_frame`."""

        def call(*args: P.args, **kwargs: P.kwargs) -> OrderResult:
            try:
                result = method(*args, **kwargs)
            except OrderRejected as rejected:
                self._orders.append((self._now_ms(), {"status": rejected.status}))
                raise
            self._orders.append((self._now_ms(), _order_row(result)))
            return result

        call.__doc__ = method.__doc__
        call.__name__ = getattr(method, "__name__", "order")
        return call

    # -- for the drivers ---------------------------------------------------------------
    def record_bar(self, bar: Bar) -> None:
        """Add a closed bar to the history (drivers call this before ``on_bar``)."""
        self._bars[bar.symbol].add(bar)
        self.tally.closes[bar.symbol] = bar.close

    def orders_frame(self) -> pd.DataFrame:
        """One row per order request the strategy made, indexed by ``time`` (UTC)."""
        frame = pd.DataFrame([row for _, row in self._orders], columns=list(_ORDER_COLUMNS))
        frame.index = pd.DatetimeIndex(
            pd.to_datetime(np.asarray([t for t, _ in self._orders], dtype=np.int64), unit="ms",
                           utc=True),
            name="time",
        )
        return frame.astype(_ORDER_COLUMNS)


def _order_row(result: OrderResult) -> dict[str, Any]:
    return {
        "action": result.action,
        "symbol": result.symbol,
        "side": result.side,
        "order_type": result.order_type,
        "size": result.size,
        "filled": result.filled,
        "limit_price": result.limit_price,
        "stop_price": result.stop_price,
        "status": result.status,
        "order_id": result.order_id,
        "client_order_id": result.client_order_id,
    }
