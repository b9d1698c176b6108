"""Public REST routes of the simulated exchange (reference §4.1–§4.8, §4.22).

Every handler reads the :class:`~kfresearch.sim.market.SyntheticMarket` of the
exchange at ``ctx.now_ms`` and answers in the exchange's shapes:

* ``/derivatives/api/v3`` (and v4 funding) payloads without ``result`` /
  ``serverTime`` (the exchange layer adds the envelope). ``/tickers`` sends
  decimals as strings like the 2024–2026 live bodies; ``/instruments``,
  ``/orderbook``, ``/history`` and funding rates send JSON numbers like the
  spec examples.
* ``/api/charts/v1`` bodies exactly, no envelope. Chart errors use the
  charts service's ``{"result", "errors": [...]}`` shape.

The public market history (``/api/history/…/market``) is in
:mod:`~kfresearch.sim.history_api`.

Public routes cost nothing (§6).
"""

from __future__ import annotations

import math
from typing import Any

from kfresearch.sim.clock import parse_time_ms
from kfresearch.sim.diagnosis import symbol_why
from kfresearch.sim.instruments import (
    DAY_MS,
    FEE_SCHEDULE_NAME,
    FEE_SCHEDULE_UID,
    FEE_TIERS,
    HOUR_MS,
    InstrumentSpec,
    MarginTier,
    index_symbols,
    london_fixing_ms,
)
from kfresearch.sim.market import RESOLUTIONS, SyntheticMarket, TickType
from kfresearch.sim.routing import Context, Route, SimError, dec, iso, make_route

__all__ = ["chart_error", "instrument_json", "synthetic_market", "ticker_json"]

Json = dict[str, Any]

TICK_TYPES: tuple[TickType, ...] = ("mark", "spot", "trade")
MAX_CANDLES = 2000  # per answer, as observed on the live service (§4.6)
RECENT_TRADES = 100  # /history answers the 100 most recent trades
RECENT_LOOKBACK_MS = 7 * DAY_MS  # … up to 7 days back (§4.5)
BOOK_DEPTH = 100  # levels per side the REST order book shows


def synthetic_market(ctx: Context) -> SyntheticMarket:
    market = getattr(ctx.exchange, "market", None)
    if not isinstance(market, SyntheticMarket):
        # the demo environment reads public data from the live exchange
        raise SimError("Unavailable", status=503)
    return market


def _num(x: float) -> int | float:
    """A JSON number as the spec examples print it: ``1`` rather than ``1.0``."""
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else float(x)


def _listed(ctx: Context, symbol: str, status: int = 200) -> InstrumentSpec:
    market = ctx.exchange.market  # any market source: the synthetic one, a replay
    spec = market.instrument(symbol, ctx.now_ms)
    if spec is None:
        listed = [s.symbol for s in market.instruments(ctx.now_ms)]
        raise SimError("notFound", status=status, why=symbol_why(symbol, listed))
    return spec


# ---------------------------------------------------------------------------
# /instruments


def _tiers_json(spec: InstrumentSpec, tiers: tuple[MarginTier, ...]) -> list[Json]:
    # inverse tiers are keyed by contracts, linear ones by USD notional (§4.1)
    key = "contracts" if spec.is_inverse else "numNonContractUnits"
    return [
        {key: _num(t.lower), "initialMargin": t.initial, "maintenanceMargin": t.maintenance}
        for t in tiers
    ]


def instrument_json(spec: InstrumentSpec) -> Json:
    """One element of ``/instruments`` ``instruments[]``, fields in the spec's order."""
    body: Json = {
        "symbol": spec.symbol,
        "pair": spec.pair,
        "base": spec.base,
        "quote": spec.quote,
        "type": spec.type,
    }
    if spec.underlying is not None:
        body["underlying"] = spec.underlying
    if spec.last_trading_time_ms is not None:
        body["lastTradingTime"] = iso(spec.last_trading_time_ms)
    body |= {
        "tickSize": _num(spec.tick_size),
        "contractSize": _num(spec.contract_size),
        "tradeable": True,
        "impactMidSize": _num(spec.impact_mid_size),
        "maxPositionSize": _num(spec.max_position_size),
        "openingDate": iso(spec.opening_date_ms),
        "marginLevels": _tiers_json(spec, spec.margin_levels),
    }
    if spec.is_perpetual:
        body["fundingRateCoefficient"] = _num(spec.funding_rate_coefficient or 8)
        body["maxRelativeFundingRate"] = _num(spec.max_relative_funding_rate or 0.001)
    if spec.isin is not None:
        body["isin"] = spec.isin
    body |= {
        "contractValueTradePrecision": spec.precision,
        "postOnly": spec.post_only,
        "feeScheduleUid": spec.fee_schedule_uid,
        "retailMarginLevels": _tiers_json(spec, spec.retail_margin_levels),
        "category": spec.category,
        "tags": list(spec.tags),
        "tradfi": spec.tradfi,
        "mtf": spec.mtf,
    }
    return body


def instruments(ctx: Context) -> Json:
    """``instruments[]``: every listed contract; ``contractType`` (repeatable) filters."""
    wanted = {t for t in ctx.get_list("contractType") if t and t != "all"}
    specs = ctx.exchange.market.instruments(ctx.now_ms)
    return {"instruments": [instrument_json(s) for s in specs if not wanted or s.type in wanted]}


def _status_json(spec: InstrumentSpec) -> Json:
    # the synthetic market never dislocates nor halts
    return {
        "tradeable": spec.symbol,
        "experiencingDislocation": False,
        "priceDislocationDirection": None,
        "experiencingExtremeVolatility": False,
        "extremeVolatilityInitialMarginMultiplier": 1,
    }


def instruments_status(ctx: Context) -> Json:
    """``instrumentStatus[]`` for every listed contract (§4.2)."""
    specs = synthetic_market(ctx).instruments(ctx.now_ms)
    return {"instrumentStatus": [_status_json(s) for s in specs]}


def instrument_status(ctx: Context) -> Json:
    """The status object of one contract, 404 ``notFound`` if not listed."""
    return _status_json(_listed(ctx, ctx.path_params["symbol"], status=404))


# ---------------------------------------------------------------------------
# /tickers


def ticker_json(market: SyntheticMarket, spec: InstrumentSpec, now_ms: int) -> Json:
    """One market ticker at ``now_ms`` with decimals as strings (key order of the live body)."""
    bids, asks = market.book(spec.symbol, now_ms, depth=1)
    stats = market.stats_24h(spec.symbol, now_ms)
    digits = spec.tick_decimals
    size_digits = max(spec.precision, 0)
    body: Json = {
        "symbol": spec.symbol,
        "last": dec(stats.last, digits),
        "lastTime": iso(stats.last_time_ms),
        "tag": spec.tag,
        "pair": spec.pair,
        "markPrice": dec(market.mark_price(spec.symbol, now_ms), digits + 6),
        "bid": dec(bids[0][0], digits),
        "bidSize": dec(bids[0][1], size_digits),
        "ask": dec(asks[0][0], digits),
        "askSize": dec(asks[0][1], size_digits),
        "vol24h": dec(stats.volume, size_digits),
        "volumeQuote": dec(stats.volume_quote, 6),
        "openInterest": dec(market.open_interest(spec.symbol, now_ms), size_digits),
        "open24h": dec(stats.open, digits),
        "high24h": dec(stats.high, digits),
        "low24h": dec(stats.low, digits),
        "lastSize": dec(stats.last_size, size_digits),
    }
    if spec.is_perpetual:
        hour = now_ms // HOUR_MS * HOUR_MS
        body["fundingRate"] = dec(market.funding_rate(spec.symbol, hour)[0])
        body["fundingRatePrediction"] = dec(market.funding_prediction(spec.symbol, now_ms)[0])
    body |= {
        "suspended": False,
        "indexPrice": dec(market.index_price(spec.symbol, now_ms), digits + 2),
        "postOnly": spec.post_only,
        "change24h": dec(stats.change_pct, 2),
    }
    return body


def source_ticker_json(market: Any, spec: InstrumentSpec, now_ms: int) -> Json:
    """A ticker from what every market source answers (a replay has no 24 h statistics):
    last, mark, best bid and ask, index and, for perpetuals, the hour's funding rate."""
    bids, asks = market.book(spec.symbol, now_ms, depth=1)
    digits = spec.tick_decimals
    size_digits = max(spec.precision, 0)
    body: Json = {
        "symbol": spec.symbol,
        "last": dec(market.last_price(spec.symbol, now_ms), digits),
        "tag": spec.tag,
        "pair": spec.pair,
        "markPrice": dec(market.mark_price(spec.symbol, now_ms), digits + 6),
    }
    if bids:
        body |= {"bid": dec(bids[0][0], digits), "bidSize": dec(bids[0][1], size_digits)}
    if asks:
        body |= {"ask": dec(asks[0][0], digits), "askSize": dec(asks[0][1], size_digits)}
    if spec.is_perpetual:
        hour = now_ms // HOUR_MS * HOUR_MS
        body["fundingRate"] = dec(market.funding_rate(spec.symbol, hour)[0])
    body |= {
        "suspended": False,
        "indexPrice": dec(market.index_price(spec.symbol, now_ms), digits + 2),
        "postOnly": spec.post_only,
    }
    return body


def _index_tickers(market: SyntheticMarket, now_ms: int) -> list[Json]:
    out: list[Json] = []
    for symbol, base in index_symbols():
        if symbol.startswith("rr_"):
            # the reference rate is fixed once a day at 16:00 London
            t = london_fixing_ms(now_ms)
        else:
            t = now_ms // 1000 * 1000
        out.append(
            {"symbol": symbol, "last": dec(market.index_price(base, t), 2), "lastTime": iso(t)}
        )
    return out


def tickers(ctx: Context) -> Json:
    """``tickers[]``: every listed contract, then the ``in_``/``rr_`` index tickers."""
    source = ctx.exchange.market
    if not isinstance(source, SyntheticMarket):
        # a replayed market: its contracts only
        specs = source.instruments(ctx.now_ms)
        return {"tickers": [source_ticker_json(source, s, ctx.now_ms) for s in specs]}
    market = synthetic_market(ctx)
    rows = [ticker_json(market, s, ctx.now_ms) for s in market.instruments(ctx.now_ms)]
    return {"tickers": rows + _index_tickers(market, ctx.now_ms)}


def ticker(ctx: Context) -> Json:
    """``ticker`` of one contract or index (case-insensitive); 404 ``notFound`` if unknown."""
    source = ctx.exchange.market
    if not isinstance(source, SyntheticMarket):
        # a replayed market: contracts only, from what any market source answers
        spec = source.instrument(ctx.path_params["symbol"], ctx.now_ms)
        if spec is None:
            raise SimError("notFound", status=404)
        return {"ticker": source_ticker_json(source, spec, ctx.now_ms)}
    market = synthetic_market(ctx)
    symbol = ctx.path_params["symbol"]
    for row in _index_tickers(market, ctx.now_ms):
        if row["symbol"] == symbol.lower():
            return {"ticker": row}
    return {"ticker": ticker_json(market, _listed(ctx, symbol, status=404), ctx.now_ms)}


# ---------------------------------------------------------------------------
# /orderbook and /history


def orderbook(ctx: Context) -> Json:
    """``orderBook``: ``bids`` descending and ``asks`` ascending, ``[[price, size], …]`` numbers.

    The book the engine matches against at the exchange's time, whatever the
    market source: the synthetic book, or on a replay the stored snapshot at or
    before the clock (else the replay's model book, :class:`~kfresearch.sim.replay.ReplaySource`).
    """
    spec = _listed(ctx, ctx.require("symbol"))
    bids, asks = ctx.exchange.market.book(spec.symbol, ctx.now_ms, depth=BOOK_DEPTH)
    return {
        "orderBook": {
            "bids": [[_num(p), _num(s)] for p, s in bids],
            "asks": [[_num(p), _num(s)] for p, s in asks],
        }
    }


def _time_param(ctx: Context, name: str) -> int | None:
    value = ctx.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_time_ms(value)
    except ValueError:
        raise SimError("invalidArgument") from None


def history(ctx: Context) -> Json:
    """``history[]``: the 100 most recent trades before ``lastTime`` (default now), newest first."""
    market = synthetic_market(ctx)
    spec = _listed(ctx, ctx.require("symbol"))
    last_time = _time_param(ctx, "lastTime")
    end = ctx.now_ms + 1 if last_time is None else min(last_time, ctx.now_ms + 1)
    start = max(end - RECENT_LOOKBACK_MS, market.first_data_ms(spec, ctx.now_ms))
    trades = market.trades(spec.symbol, start, end, limit=RECENT_TRADES, descending=True)
    return {
        "history": [
            {
                "time": iso(int(t)),
                "trade_id": int(i),
                "price": _num(float(p)),
                "size": _num(float(s)),
                "side": "buy" if b else "sell",
                "type": "fill",
                "uid": market.trade_uid(spec.symbol, int(i)),
            }
            for t, i, p, s, b in zip(
                trades.time_ms, trades.trade_id, trades.price, trades.size, trades.buy, strict=True
            )
        ]
    }


# ---------------------------------------------------------------------------
# Charts (no envelope)


def chart_error(status: int, msg: str, field: str, value: str) -> SimError:
    body = {
        "result": "error",
        "errors": [
            {
                "severity": "ERROR",
                "error_class": "CLIENT_ERROR",
                "type": "INVALID_ARGUMENT" if status == 400 else "NOT_FOUND",
                "msg": msg,
                "value": value,
                "field": field,
            }
        ],
    }
    return SimError("invalidArgument" if status == 400 else "notFound", status=status, body=body)


def _tick_type(ctx: Context) -> TickType:
    value = ctx.path_params["tick_type"].lower()
    for tick_type in TICK_TYPES:
        if tick_type == value:
            return tick_type
    raise chart_error(400, "Invalid tick type", "tick_type", ctx.path_params["tick_type"])


def _chart_spec(ctx: Context) -> InstrumentSpec:
    symbol = ctx.path_params["symbol"]
    spec = synthetic_market(ctx).instrument(symbol, ctx.now_ms)
    if spec is None:
        raise chart_error(404, "Symbol not found", "symbol", symbol)
    return spec


def chart_tick_types(ctx: Context) -> list[str]:
    """The tick types: ``["mark", "spot", "trade"]``."""
    return list(TICK_TYPES)


def chart_symbols(ctx: Context) -> list[str]:
    """Symbols with candles of this tick type: the listed contracts."""
    _tick_type(ctx)
    return [s.symbol for s in synthetic_market(ctx).instruments(ctx.now_ms)]


def chart_resolutions(ctx: Context) -> list[str]:
    """Resolutions of a symbol's candles: ``1m 5m 15m 30m 1h 4h 12h 1d 1w``."""
    _tick_type(ctx)
    _chart_spec(ctx)
    return list(RESOLUTIONS)


def _seconds_param(ctx: Context, name: str) -> int | None:
    value = ctx.get_float(name)
    return None if value is None else math.floor(value * 1000)


def chart_candles(ctx: Context) -> Json:
    """``{"candles": [...], "more_candles": bool}``.

    ``from``/``to`` are epoch seconds; candles are those whose start lies in
    ``[from, to]`` (``to`` defaults to now), at most ``min(count, 2000)``:
    the first ones after ``from`` when ``from`` is given, otherwise the last
    ones up to ``to``. ``time`` is the bucket start in epoch ms; OHLC are
    decimal strings, ``volume`` a number (0 for ``mark``/``spot``). ``1w``
    buckets start on Monday 00:00 UTC. Resolutions are case-insensitive.
    """
    tick_type = _tick_type(ctx)
    resolution = ctx.path_params["resolution"].lower()
    if resolution not in RESOLUTIONS:
        raise chart_error(400, "Invalid resolution", "resolution", ctx.path_params["resolution"])
    spec = _chart_spec(ctx)
    count = ctx.get_int("count")
    if count is not None and count < 0:
        raise chart_error(400, "Invalid count", "count", str(count))
    limit = MAX_CANDLES if count is None else min(count, MAX_CANDLES)
    candles, more = synthetic_market(ctx).candles(
        spec.symbol,
        tick_type,
        resolution,
        ctx.now_ms,
        from_ms=_seconds_param(ctx, "from"),
        to_ms=_seconds_param(ctx, "to"),
        limit=limit,
    )
    # trade prices sit on the tick; mark and index carry two more decimals
    digits = spec.tick_decimals + (0 if tick_type == "trade" else 2)
    size_digits = max(spec.precision, 0)
    fmt = f"{{:.{digits}f}}".format
    rows: list[Json] = []
    for t, o, h, lo, c, v in zip(
        candles.time_ms.tolist(),
        candles.open.tolist(),
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        candles.volume.tolist(),
        strict=True,
    ):
        volume: int | float = 0
        if tick_type == "trade":
            volume = round(v, size_digits) if size_digits else int(v)
        rows.append(
            {
                "time": t,
                "open": fmt(o),
                "high": fmt(h),
                "low": fmt(lo),
                "close": fmt(c),
                "volume": volume,
            }
        )
    return {"candles": rows, "more_candles": more}


# ---------------------------------------------------------------------------
# Funding and fees


def _funding_body(ctx: Context) -> Json:
    market = synthetic_market(ctx)
    symbol = ctx.require("symbol")
    spec = market.instrument(symbol, ctx.now_ms)
    if spec is None or not spec.is_perpetual:
        raise SimError("invalidArgument", status=400)
    start = market.first_data_ms(spec, ctx.now_ms)
    hours, absolute, relative = market.funding_rates(spec.symbol, start, ctx.now_ms)
    return {
        "rates": [
            {"timestamp": iso(h), "fundingRate": a, "relativeFundingRate": r}
            for h, a, r in zip(hours.tolist(), absolute.tolist(), relative.tolist(), strict=True)
        ]
    }


def historical_funding_rates_v4(ctx: Context) -> Json:
    """``rates[]`` ascending, hourly: ``timestamp`` (hour start), absolute and relative rate."""
    return _funding_body(ctx)


def historical_funding_rates_v3(ctx: Context) -> Json:
    """The spec's path for the same body (400 ``invalidArgument`` for non-perpetuals)."""
    return _funding_body(ctx)


def feeschedules(ctx: Context) -> Json:
    """``feeSchedules[]``: the one schedule, fees in percent (§4.22)."""
    return {
        "feeSchedules": [
            {
                "uid": FEE_SCHEDULE_UID,
                "name": FEE_SCHEDULE_NAME,
                "tiers": [
                    {"makerFee": maker, "takerFee": taker, "usdVolume": volume}
                    for volume, maker, taker in FEE_TIERS
                ],
            }
        ]
    }


ROUTES: tuple[Route, ...] = (
    make_route("GET", "/derivatives/api/v3/instruments", instruments),
    make_route("GET", "/derivatives/api/v3/instruments/status", instruments_status),
    make_route("GET", "/derivatives/api/v3/instruments/{symbol}/status", instrument_status),
    make_route("GET", "/derivatives/api/v3/tickers", tickers),
    make_route("GET", "/derivatives/api/v3/tickers/{symbol}", ticker),
    make_route("GET", "/derivatives/api/v3/orderbook", orderbook, required=("symbol",)),
    make_route("GET", "/derivatives/api/v3/history", history, required=("symbol",)),
    make_route("GET", "/api/charts/v1/", chart_tick_types),
    make_route("GET", "/api/charts/v1", chart_tick_types),
    make_route("GET", "/api/charts/v1/{tick_type}", chart_symbols),
    make_route("GET", "/api/charts/v1/{tick_type}/{symbol}", chart_resolutions),
    make_route("GET", "/api/charts/v1/{tick_type}/{symbol}/{resolution}", chart_candles),
    make_route(
        "GET",
        "/derivatives/api/v4/historicalfundingrates",
        historical_funding_rates_v4,
        required=("symbol",),
    ),
    make_route(
        "GET",
        "/derivatives/api/v3/historical-funding-rates",
        historical_funding_rates_v3,
        required=("symbol",),
    ),
    make_route("GET", "/derivatives/api/v3/feeschedules", feeschedules),
)
