"""Market analytics of the charts service (reference §4.6: ``/api/charts/v1/analytics``).

``GET /analytics/{symbol}/{analytics_type}?since=&interval=&to=`` answers
``{"result": {"timestamp": [...], "data": ..., "more": bool}, "errors": []}``
with one value per bucket of ``interval`` seconds from ``since`` (epoch
seconds) up to ``to`` (default now). The simulator derives from its synthetic
trades and open interest the types they determine:

=========================  ===================================================
``trade-volume``           contracts traded per bucket (decimal strings)
``trade-count``            trades per bucket (integers)
``aggressor-differential`` contracts bought minus sold by takers
``open-interest``          open interest at the bucket's start
``cvd``                    ``{buyVolume, sellVolume, cvd}`` (cvd cumulative)
=========================  ===================================================

The other types the exchange lists (long/short ratios, top traders,
liquidations, order-book statistics, volatility, basis) and
``/analytics/liquidity-pool`` describe a population of traders or a book
history the synthetic market does not have: they answer the service's 404
``NOT_FOUND`` body, naming the type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kfresearch.sim.public_api import chart_error, synthetic_market
from kfresearch.sim.routing import Context, Route, dec, make_route

__all__ = ["ANALYTICS_TYPES", "INTERVALS", "MODELLED"]

# Every type the spec's AnalyticsType enum lists, and the bucket sizes of Interval.
ANALYTICS_TYPES = (
    "open-interest",
    "aggressor-differential",
    "trade-volume",
    "trade-count",
    "liquidation-volume",
    "rolling-volatility",
    "long-short-ratio",
    "long-short-info",
    "cvd",
    "top-traders",
    "orderbook",
    "spreads",
    "liquidity",
    "slippage",
    "future-basis",
)
INTERVALS = (60, 300, 900, 1800, 3600, 14400, 43200, 86400, 604800)
MODELLED = frozenset(
    {"trade-volume", "trade-count", "aggressor-differential", "open-interest", "cvd"}
)
MAX_BUCKETS = 2000  # like candles (§4.6); ``more`` says when the range held more


def _seconds(ctx: Context, name: str, default: int | None = None) -> int:
    value = ctx.get(name)
    if value is None or value == "":
        if default is None:
            raise chart_error(400, f"Missing {name}", name, "")
        return default
    try:
        return int(value)
    except ValueError:
        raise chart_error(400, f"Invalid {name}", name, value) from None


def liquidity_pool(ctx: Context) -> dict[str, Any]:
    """404: the simulator has no liquidity pool."""
    raise chart_error(404, "Not modelled by the simulator", "analytics_type", "liquidity-pool")


def market_analytics(ctx: Context) -> dict[str, Any]:
    """One analytics series of a market, bucketed by ``interval`` seconds."""
    kind = ctx.path_params["analytics_type"].lower()
    if kind not in ANALYTICS_TYPES:
        raise chart_error(404, "Unknown analytics type", "analytics_type", kind)
    market = synthetic_market(ctx)
    spec = market.instrument(ctx.path_params["symbol"], ctx.now_ms)
    if spec is None:
        raise chart_error(404, "Symbol not found", "symbol", ctx.path_params["symbol"])
    if kind not in MODELLED:
        raise chart_error(404, "Not modelled by the simulator", "analytics_type", kind)
    interval = _seconds(ctx, "interval")
    if interval not in INTERVALS:
        raise chart_error(400, "Invalid interval", "interval", str(interval))
    now_s = ctx.now_ms // 1000
    since = max(_seconds(ctx, "since"), market.first_data_ms(spec, ctx.now_ms) // 1000)
    to = min(_seconds(ctx, "to", now_s), now_s)
    buckets = max(0, -(-(to - since) // interval))
    more = buckets > MAX_BUCKETS
    starts = since + interval * np.arange(min(buckets, MAX_BUCKETS), dtype=np.int64)
    end_s = int(starts[-1]) + interval if len(starts) else since
    trades = market.trades(spec.symbol, since * 1000, min(end_s, to) * 1000)
    slot = (trades.time_ms // 1000 - since) // interval
    n = len(starts)
    bought = np.bincount(slot, weights=trades.size * trades.buy, minlength=n)[:n]
    sold = np.bincount(slot, weights=trades.size * ~trades.buy, minlength=n)[:n]
    digits = max(spec.precision, 0)

    def decimals(values: np.ndarray[Any, Any]) -> list[str]:
        return [dec(v, digits) for v in values.tolist()]

    data: Any
    if kind == "trade-volume":
        data = decimals(bought + sold)
    elif kind == "trade-count":
        data = np.bincount(slot, minlength=n)[:n].tolist()
    elif kind == "aggressor-differential":
        data = decimals(bought - sold)
    elif kind == "open-interest":
        data = [dec(market.open_interest(spec.symbol, int(s) * 1000), digits) for s in starts]
    else:  # cvd
        data = {
            "buyVolume": decimals(bought),
            "sellVolume": decimals(sold),
            "cvd": decimals(np.cumsum(bought - sold)),
        }
    return {"result": {"timestamp": starts.tolist(), "data": data, "more": more}, "errors": []}


ROUTES: tuple[Route, ...] = (
    make_route(
        "GET",
        "/api/charts/v1/analytics/liquidity-pool",
        liquidity_pool,
        required=("since", "interval"),
    ),
    make_route(
        "GET",
        "/api/charts/v1/analytics/{symbol}/{analytics_type}",
        market_analytics,
        required=("since", "interval"),
    ),
)
