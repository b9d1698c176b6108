"""What a backtest or a run returns: frames, statistics and charts of one strategy run.

Example
-------
>>> result = backtest(SmaCross(), store, "PF_XBTUSD", "2026-10-01", "2026-10-08")  # doctest: +SKIP
>>> result.stats[["net_pnl_usd", "fees_usd", "sharpe", "max_drawdown"]]            # doctest: +SKIP
>>> result.equity_chart()                                                          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kfresearch.client import Client
    from kfresearch.strategy.base import Strategy
    from kfresearch.strategy.context import Context

__all__ = ["STAT_UNITS", "Result", "build_result", "parameters", "statistics"]

#: Every statistic of :attr:`Result.stats`, with its unit.
STAT_UNITS: dict[str, str] = {
    "start_equity_usd": "USD",
    "end_equity_usd": "USD",
    "net_pnl_usd": "USD: end equity - start equity",
    "gross_pnl_usd": "USD: net PnL before fees and funding",
    "fees_usd": "USD paid (rebates negative)",
    "funding_usd": "USD paid (received negative)",
    "return": "fraction of start equity",
    "sharpe": "annualised (daily equity returns, per-bar under 3 days), risk-free 0",
    "max_drawdown": "fraction of the running peak, <= 0",
    "max_drawdown_usd": "USD, <= 0",
    "turnover_usd": "USD notional traded",
    "turnover": "notional traded / start equity",
    "fills": "count",
    "liquidations": "count of liquidation fills",
    "orders": "count of order requests",
    "bars": "count of bar closes",
}


def statistics(
    equity: pd.DataFrame, fills: pd.DataFrame, funding: pd.DataFrame, orders: int, start: float
) -> pd.Series:
    """The statistics of :data:`STAT_UNITS` from a run's frames (float64 Series)."""
    curve = equity["equity_usd"].to_numpy(dtype=float)
    end = float(curve[-1]) if curve.size else start
    usd_fees = fills["fee"][fills["fee_currency"] == "USD"].to_numpy(dtype=float)
    fees = math.fsum(usd_fees)
    funding_paid = -math.fsum(funding["amount"].to_numpy(dtype=float))
    net = end - start
    turnover = math.fsum(fills["notional_usd"].to_numpy(dtype=float))
    values: dict[str, float] = {
        "start_equity_usd": start,
        "end_equity_usd": end,
        "net_pnl_usd": net,
        "gross_pnl_usd": net + fees + funding_paid,
        "fees_usd": fees,
        "funding_usd": funding_paid,
        "return": net / start if start else math.nan,
        "sharpe": _sharpe(equity["equity_usd"]),
        "max_drawdown": float(equity["drawdown"].min()) if len(equity) else 0.0,
        "max_drawdown_usd": float(equity["drawdown_usd"].min()) if len(equity) else 0.0,
        "turnover_usd": turnover,
        "turnover": turnover / start if start else math.nan,
        "fills": float(len(fills)),
        "liquidations": float((fills["fill_type"] == "liquidation").sum()),
        "orders": float(orders),
        "bars": float(len(equity)),
    }
    return pd.Series(values, dtype="float64", name="value")


def _sharpe(equity: pd.Series) -> float:
    if len(equity) < 3:
        return math.nan
    span = equity.index[-1] - equity.index[0]
    if span >= pd.Timedelta(days=3):
        sampled = equity.resample("1D").last().dropna()
        per_year = 365.0
    else:
        sampled = equity
        step = float(np.median(np.diff(pd.DatetimeIndex(equity.index).asi8))) / 1e9
        per_year = 365.0 * 86_400 / step
    returns = sampled.pct_change().dropna().to_numpy(dtype=float)
    spread = float(returns.std(ddof=1)) if returns.size > 1 else 0.0
    if spread == 0.0:
        return math.nan
    return float(returns.mean() / spread * math.sqrt(per_year))


@dataclass
class Result:
    """One strategy run (a backtest or a live run).

    Attributes
    ----------
    mode : {"backtest", "run"}
    symbols : tuple of str
    params : dict
        The strategy's parameters (its dataclass fields or ``vars``).
    equity : DataFrame
        Per bar close (index ``time``, UTC): ``equity_usd``, ``cash_usd``,
        ``drawdown`` (fraction of the running peak, <= 0), ``drawdown_usd``.
    positions : DataFrame
        Signed contracts per symbol (one column each) at every bar close.
    fills : DataFrame
        One row per execution: ``symbol``, ``side``, ``size`` (contracts),
        ``price`` (USD), ``notional_usd``, ``fee`` (in ``fee_currency``),
        ``fill_type`` (``taker``/``maker``/``liquidation``…), ids.
    orders : DataFrame
        One row per order request: ``action``, ``symbol``, ``side``,
        ``order_type``, ``size``, ``filled``, prices, ``status``, ids.
    funding : DataFrame
        Funding realised: ``symbol``, ``amount`` (received, settlement
        currency; negative = paid), ``rate`` (the hour's absolute rate, NaN
        when realised with a trade).
    candles : dict of DataFrame
        The bars the strategy saw, per symbol (candles frames).
    stats : Series
        :data:`STAT_UNITS`.
    strategy : Strategy
        The copy of the strategy that ran, in its final state.
    kf : Client
        The client it traded through: a backtest's replay exchange can still
        be asked (``result.kf.account_log()``, ``result.kf.positions()``).
    """

    mode: str
    symbols: tuple[str, ...]
    params: dict[str, Any]
    equity: pd.DataFrame
    positions: pd.DataFrame
    fills: pd.DataFrame
    orders: pd.DataFrame
    funding: pd.DataFrame
    candles: dict[str, pd.DataFrame] = field(repr=False)
    stats: pd.Series = field(repr=False)
    strategy: Strategy = field(repr=False)
    kf: Client = field(repr=False)

    @property
    def fees(self) -> pd.DataFrame:
        """Fees per execution: ``symbol``, ``fill_type``, ``notional_usd``, ``fee``,
        ``fee_currency``."""
        return self.fills[["symbol", "fill_type", "notional_usd", "fee", "fee_currency"]]

    def __repr__(self) -> str:
        if len(self.equity):
            span = f"{self.equity.index[0]:%Y-%m-%d %H:%M} → {self.equity.index[-1]:%Y-%m-%d %H:%M}"
        else:
            span = "no bars"
        return (
            f"<Result {self.mode} {', '.join(self.symbols)} {span}: "
            f"net {self.stats['net_pnl_usd']:+,.2f} USD, {int(self.stats['fills'])} fills>"
        )

    # -- charts --------------------------------------------------------------------
    def equity_chart(self, *, title: str | None = None) -> go.Figure:
        """Equity (USD) with its drawdown (%) below (:mod:`kfresearch.strategy.charts`)."""
        from kfresearch.strategy.charts import equity_chart

        return equity_chart(self, title=title)

    def fills_chart(self, symbol: str | None = None, *, max_candles: int = 1500) -> go.Figure:
        """The fills of ``symbol`` (default: the first) on its candles."""
        from kfresearch.strategy.charts import fills_chart

        return fills_chart(self, symbol, max_candles=max_candles)

    def costs_chart(self, *, title: str | None = None) -> go.Figure:
        """Gross PnL, fees, funding and net PnL as a waterfall (USD)."""
        from kfresearch.strategy.charts import costs_chart

        return costs_chart(self, title=title)


def parameters(strategy: object) -> dict[str, Any]:
    """A strategy's parameters: its dataclass fields, else its public attributes."""
    if dataclasses.is_dataclass(strategy) and not isinstance(strategy, type):
        return {f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy)}
    return {k: v for k, v in vars(strategy).items() if not k.startswith("_")}


def build_result(
    ctx: Context, strategy: Strategy, candles: dict[str, pd.DataFrame], mode: str
) -> Result:
    """The :class:`Result` of a finished drive (its context and the strategy it ran)."""
    tally = ctx.tally
    equity, fills, funding = tally.equity_frame(), tally.fills_frame(), tally.funding_frame()
    orders = ctx.orders_frame()
    return Result(
        mode=mode,
        symbols=tally.symbols,
        params=parameters(strategy),
        equity=equity,
        positions=tally.positions_frame(),
        fills=fills,
        orders=orders,
        funding=funding,
        candles=candles,
        stats=statistics(equity, fills, funding, len(orders), tally.start_equity),
        strategy=strategy,
        kf=ctx.kf,
    )
