"""Market-data frames: instruments, tickers, order book, trades, candles, funding, term structure.

All functions take the decoded JSON body of the endpoint (envelope included)
and return a DataFrame; see :mod:`kfresearch.frames` for the conventions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kfresearch.contracts import HOURS_PER_YEAR, kinds, settlement_currencies
from kfresearch.frames._decode import (
    decode_candles,
    decode_executions,
    decode_orderbook,
    is_raw,
    raw_pages,
    to_body,
)
from kfresearch.frames.core import (
    STR_DTYPE,
    TIME_DTYPE,
    Col,
    Flat,
    FrameSpec,
    Sort,
    as_pages,
    build,
    col,
    concat_flat,
    drop_repeats,
    exchange_seq,
    flatten,
    flatten_events,
    last_attr,
    pages_attrs,
    payload,
    repeat_str,
    server_time,
    to_float,
)
from kfresearch.timeparse import to_timestamp

__all__ = [
    "TradesPage",
    "candles",
    "fee_schedules",
    "funding_rates",
    "instruments",
    "orderbook",
    "read_trades_page",
    "term_structure",
    "tickers",
    "trades",
]

def _relative_funding(absolute: pd.Series, index: pd.Series, symbols: pd.Series) -> pd.Series:
    """Absolute funding → relative (fraction per period), by contract type (reference §7.5).

    The exchange fixes a period's absolute rate from the relative one with the
    index at the start of the period: linear ``absolute = relative × index``,
    inverse ``absolute = relative / index``.
    """
    kind = kinds(symbols)
    linear, inverse = kind == "linear", kind == "inverse"
    a = absolute.to_numpy(dtype=np.float64)
    m = index.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(linear, a / m, np.where(inverse, a * m, np.nan))
    return pd.Series(rel, index=absolute.index)


# --------------------------------------------------------------------------- instruments


def _derive_instruments(df: pd.DataFrame) -> pd.DataFrame:
    is_index = df["type"].str.contains("index", case=False, na=False) | (
        kinds(df["symbol"]) == "index"
    )
    df["is_perpetual"] = (df["last_trading_time"].isna() & ~is_index).astype(bool)
    return df


INSTRUMENTS = FrameSpec(
    name="instruments",
    columns=(
        col("symbol", "str"),
        col("type", "str"),
        col("tradeable", "bool"),
        col("pair", "str"),
        col("base", "str"),
        col("quote", "str"),
        col("underlying", "str"),
        col("underlyingFuture", "str"),
        col("tickSize", "float", unit="quote"),
        col("contractSize", "float", unit="number"),
        col("contractValueTradePrecision", "Int"),
        col("impactMidSize", "float", unit="contracts"),
        col("maxPositionSize", "float", unit="contracts"),
        col("openingDate", "time"),
        col("lastTradingTime", "time"),
        Col("is_perpetual", "bool", None),
        col("fundingRateCoefficient", "float", unit="number"),
        col("maxRelativeFundingRate", "float", unit="fraction"),
        col("isin", "str"),
        col("feeScheduleUid", "str"),
        col("postOnly", "bool"),
        col("category", "str"),
        col("tags", "object"),
        col("tradfi", "bool"),
        col("mtf", "bool"),
        col("marginLevels", "object"),
        col("retailMarginLevels", "object"),
        col("marginSchedules", "object"),
    ),
    index="symbol",
    stop=frozenset({"marginSchedules"}),
    derive=_derive_instruments,
)


def instruments(body: Mapping[str, Any]) -> pd.DataFrame:
    """Contract specifications from ``GET /derivatives/api/v3/instruments``.

    Parameters
    ----------
    body : dict
        Decoded response body with ``instruments[]``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``symbol`` (str), one row per instrument:

        ==============================  =================  =========================================
        column                          dtype              meaning / unit
        ==============================  =================  =========================================
        type                            str                futures_inverse, flexible_futures, …
        tradeable                       bool
        pair, base, quote               str                ``XBT:USD``, ``XBT``, ``USD``
        underlying, underlying_future   str                index id (``rr_xbtusd``); options only
        tick_size                       float64            price increment (quote currency)
        contract_size                   float64            1 USD (inverse) or 1 base unit (linear)
        contract_value_trade_precision  Int64              size decimals (may be negative)
        impact_mid_size                 float64            contracts
        max_position_size               float64            contracts
        opening_date                    datetime64[ns,UTC]
        last_trading_time               datetime64[ns,UTC] NaT for perpetuals
        is_perpetual                    bool               derived: no last trading time and
                                                           not an index
        funding_rate_coefficient        float64            perpetuals only
        max_relative_funding_rate       float64            cap on hourly relative funding (fraction)
        isin, fee_schedule_uid          str
        post_only, tradfi, mtf          bool               missing → False
        category                        str                "" → NaN
        tags                            object             list
        margin_levels                   object             list of tier dicts (professional)
        retail_margin_levels            object             list of tier dicts (retail)
        margin_schedules                object             dict (newer bodies), else None
        ==============================  =================  =========================================

        Fields the exchange adds later follow, snake_cased. ``attrs["server_time"]``.

    Examples
    --------
    >>> body = {"result": "success", "serverTime": "2022-06-28T09:29:04.243Z",
    ...         "instruments": [{"symbol": "PF_XBTUSD", "type": "flexible_futures",
    ...                          "tradeable": True, "tickSize": 1,
    ...                          "contractValueTradePrecision": 4}]}
    >>> df = instruments(body)
    >>> df.loc["PF_XBTUSD", ["tick_size", "is_perpetual"]].to_dict()
    {'tick_size': 1.0, 'is_perpetual': True}
    """
    records = payload(body, "instruments", name="instruments")
    return build(INSTRUMENTS, flatten(records, stop=INSTRUMENTS.stop), len(records),
                 attrs=pages_attrs([body]))


# --------------------------------------------------------------------------- tickers


def _derive_tickers(df: pd.DataFrame) -> pd.DataFrame:
    bid, ask = df["bid"], df["ask"]
    df["mid"] = (bid + ask) / 2.0
    df["spread"] = ask - bid
    df["spread_bps"] = df["spread"] / df["mid"] * 1e4
    df["premium"] = df["mark_price"] / df["index_price"] - 1.0
    df["change24h"] = df["change24h"] / 100.0  # the exchange sends percent (reference §4.3)
    df["currency"] = pd.array(settlement_currencies(df["symbol"]), dtype=STR_DTYPE)
    _funding_columns(df, df["index_price"], df["symbol"])
    return df


def _funding_columns(df: pd.DataFrame, index: pd.Series, symbols: pd.Series) -> None:
    rel = _relative_funding(df["funding_rate"], index, symbols)
    df["relative_funding_rate"] = rel
    df["relative_funding_rate_prediction"] = _relative_funding(
        df["funding_rate_prediction"], index, symbols
    )
    df["funding_rate_annualised"] = rel * HOURS_PER_YEAR


TICKERS = FrameSpec(
    name="tickers",
    columns=(
        col("symbol", "str"),
        col("tag", "str"),
        col("pair", "str"),
        Col("currency", "str", None),
        col("markPrice", "float", unit="quote"),
        col("indexPrice", "float", unit="quote"),
        col("bid", "float", unit="quote"),
        col("bidSize", "float", unit="contracts"),
        col("ask", "float", unit="quote"),
        col("askSize", "float", unit="contracts"),
        Col("mid", "float", None, unit="quote"),
        Col("spread", "float", None, unit="quote"),
        Col("spread_bps", "float", None, unit="bps"),
        Col("premium", "float", None, unit="fraction"),
        col("last", "float", unit="quote"),
        col("lastTime", "time"),
        col("lastSize", "float", unit="contracts"),
        col("vol24h", "float", unit="contracts"),
        col("volumeQuote", "float", unit="usd"),
        col("openInterest", "float", unit="contracts"),
        col("open24h", "float", unit="quote"),
        col("high24h", "float", unit="quote"),
        col("low24h", "float", unit="quote"),
        col("change24h", "float", unit="fraction"),
        col("fundingRate", "float", unit="ccy:currency"),
        col("fundingRatePrediction", "float", unit="ccy:currency"),
        Col("relative_funding_rate", "float", None, unit="fraction"),
        Col("relative_funding_rate_prediction", "float", None, unit="fraction"),
        Col("funding_rate_annualised", "float", None, unit="fraction"),
        col("suspended", "bool"),
        col("postOnly", "bool"),
        col("isUnderlyingMarketClosed", "bool"),
        col("extrinsicValue", "float", unit="quote"),
        col("greeks", "object"),
    ),
    index="symbol",
    stop=frozenset({"greeks"}),
    derive=_derive_tickers,
)


def tickers(
    body: Mapping[str, Any], funding_index: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Tickers from ``GET /tickers`` (``tickers[]``) or ``GET /tickers/{symbol}`` (``ticker``).

    Parameters
    ----------
    body : dict
        Decoded response body. Decimals may be JSON numbers or strings.
    funding_index : mapping of str to float, optional
        Index price at the start of the current funding hour, by symbol. The
        exchange fixes the hour's absolute rate from the relative one with
        that index, so with it ``relative_funding_rate`` is the exchange's own
        relative rate (the one :func:`funding_rates` reports for the hour).
        Without it (the REST ticker does not carry that index) the body's
        current ``indexPrice`` is used: off by the index's move since the hour
        began (a few 0.01 % of the rate, never the mark's premium).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``symbol`` (str). Markets and indices (``in_…``, ``rr_…``,
        which only carry ``last``/``last_time``: their other fields are NaN
        and their flags False).

        ================================  =================  ====================================
        column                            dtype              meaning / unit
        ================================  =================  ====================================
        tag                               str                perpetual, month, quarter, semiannual
        pair                              str                ``XBT:USD``
        currency                          str                settlement currency: ``USD`` for
                                                             PF_/FF_, the base coin (``XBT``)
                                                             for PI_/FI_; NaN for indices
        mark_price, index_price           float64            quote currency (USD)
        bid, ask, last                    float64            quote currency
        bid_size, ask_size, last_size     float64            contracts
        mid                               float64            derived (bid + ask) / 2
        spread                            float64            derived ask − bid
        spread_bps                        float64            derived spread / mid × 10⁴ (bps)
        premium                           float64            derived mark / index − 1 (fraction)
        last_time                         datetime64[ns,UTC]
        vol24h                            float64            contracts traded in 24 h
        volume_quote                      float64            USD traded in 24 h
        open_interest                     float64            contracts
        open24h, high24h, low24h          float64            quote currency
        change24h                         float64            **fraction** over 24 h (the exchange
                                                             sends percent: −1.31 → −0.0131)
        funding_rate                      float64            absolute, as given: ``currency`` per
                                                             contract per hour (perpetuals)
        funding_rate_prediction           float64            absolute, as given
        relative_funding_rate             float64            derived, fraction per hour, like
                                                             :func:`funding_rates`: linear
                                                             absolute / index, inverse absolute
                                                             × index (see ``funding_index``)
        relative_funding_rate_prediction  float64            the same for the prediction
        funding_rate_annualised           float64            derived relative × 24 × 365
        suspended, post_only              bool               missing → False
        is_underlying_market_closed       bool               tradfi markets; missing → False
        extrinsic_value                   float64            options (demo only)
        greeks                            object             options (demo only)
        ================================  =================  ====================================

        Fields the exchange adds later follow, snake_cased. ``attrs["server_time"]``.

    Examples
    --------
    >>> body = {"result": "success", "serverTime": "2026-02-08T17:33:58.322Z",
    ...         "tickers": [{"symbol": "PF_DOGEUSD", "markPrice": "0.09624183255",
    ...                      "indexPrice": "0.096257", "bid": "0.096234", "ask": "0.096253",
    ...                      "fundingRate": "-0.000000742689179664", "tag": "perpetual",
    ...                      "change24h": "-1.31"}]}
    >>> df = tickers(body)
    >>> df[["relative_funding_rate", "spread_bps", "change24h"]].round(10).to_dict("records")
    [{'relative_funding_rate': -7.7157e-06, 'spread_bps': 1.9741592939, 'change24h': -0.0131}]
    """
    records = payload(body, "tickers", "ticker", name="tickers")
    if isinstance(records, Mapping):
        records = [records]
    frame = build(TICKERS, flatten(records, stop=TICKERS.stop), len(records),
                  attrs=pages_attrs([body]))
    if funding_index is not None and len(frame):
        known = {str(k).upper(): float(v) for k, v in funding_index.items()}
        given = pd.Series(frame.index.str.upper().map(known), index=frame.index, dtype=float)
        symbols = pd.Series(frame.index, index=frame.index)
        _funding_columns(frame, given.fillna(frame["index_price"]), symbols)
    return frame


# --------------------------------------------------------------------------- order book


ORDERBOOK = FrameSpec(
    name="orderbook",
    columns=(
        Col("side", "str", "side"),
        Col("level", "int", "level"),
        Col("price", "float", "price", unit="quote"),
        Col("size", "float", "size", unit="contracts"),
        # cumulated per side in orderbook(), where the sides are still apart
        Col("cum_size", "float", "cum_size", unit="contracts"),
        Col("cum_notional", "float", "cum_notional", unit="ccy:currency"),
        Col("currency", "str", "currency"),
    ),
)


def _book_side(levels: Any, *, descending: bool, depth: int | None) -> np.ndarray[Any, Any]:
    if levels is None or len(levels) == 0:
        return np.zeros((0, 2))
    first = levels[0]
    if isinstance(first, Mapping):  # WebSocket snapshots: {"price", "qty"}
        rows = [(lv.get("price"), lv.get("qty", lv.get("size"))) for lv in levels]
    else:
        rows = levels
    try:
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"frames.orderbook: levels are not [price, size] pairs: {exc}") from None
    prices = -arr[:, 0] if descending else arr[:, 0]
    if len(prices) > 1 and not (prices[1:] >= prices[:-1]).all():  # the exchange sends them sorted
        arr = arr[np.argsort(prices, kind="stable")]
    return arr if depth is None else arr[:depth]


def orderbook(
    body: Mapping[str, Any] | bytes, symbol: str | None = None, depth: int | None = None
) -> pd.DataFrame:
    """The order book from ``GET /orderbook?symbol=`` as one tidy frame.

    Parameters
    ----------
    body : dict
        Decoded body with ``orderBook: {bids: [[price, size], …], asks: […]}``;
        a bare ``{bids, asks}`` object and WebSocket-style ``{price, qty}``
        levels are accepted too.
    symbol : str, optional
        Recorded in ``attrs["symbol"]`` (the body does not name it); tells
        linear from inverse books for ``cum_notional``.
    depth : int, optional
        Keep only the best ``depth`` levels per side.

    Returns
    -------
    pandas.DataFrame
        RangeIndex; bids first (best = highest price first), then asks (best =
        lowest first):

        ============  =======  ============================================================
        column        dtype    meaning / unit
        ============  =======  ============================================================
        side          str      ``"bid"`` or ``"ask"``
        level         int64    0 = best price of that side
        price         float64  quote currency
        size          float64  contracts at that price (not cumulative)
        cum_size      float64  contracts summed from the best level outwards
        cum_notional  float64  value summed from the best level outwards, in ``currency``:
                               linear PF_/FF_ Σ price × size (USD); inverse PI_/FI_
                               Σ size / price (the base coin: sizes are USD contracts)
        currency      str      ``USD`` (linear) or the base coin (inverse); NaN, and
                               ``cum_notional`` NaN, when ``symbol`` is not given
        ============  =======  ============================================================

        ``attrs``: ``symbol``, ``mid``, ``spread``, ``spread_bps`` (NaN when a
        side is empty), ``server_time``.

    Examples
    --------
    >>> body = {"result": "success", "serverTime": "2022-06-28T09:29:04.243Z",
    ...         "orderBook": {"bids": [[40178, 5], [40174, 4.2]], "asks": [[40186, 5.0183]]}}
    >>> ob = orderbook(body, symbol="PF_XBTUSD")
    >>> ob[["side", "level", "price", "cum_size"]].values.tolist()
    [['bid', 0, 40178.0, 5.0], ['bid', 1, 40174.0, 9.2], ['ask', 0, 40186.0, 5.0183]]
    >>> ob.attrs["mid"], ob.attrs["spread"]
    (40182.0, 8.0)
    """
    if isinstance(body, bytes):
        body = decode_orderbook(body) or to_body(body)
    book = payload(body, "orderBook", name="orderbook", required=False)
    if book is None:
        book = body if "bids" in body or "asks" in body else payload(
            body, "orderBook", name="orderbook"
        )
    if not isinstance(book, Mapping):
        raise ValueError("frames.orderbook: 'orderBook' is not an object with bids and asks")
    if depth is not None and depth < 0:
        raise ValueError(f"frames.orderbook: depth must be >= 0, got {depth}")
    bids = _book_side(book.get("bids"), descending=True, depth=depth)
    asks = _book_side(book.get("asks"), descending=False, depth=depth)
    n_bid, n_ask = len(bids), len(asks)
    currency = settlement_currencies([symbol])[0] if symbol is not None else None
    inverse = currency is not None and currency != "USD"

    def notional(side: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if currency is None:
            return np.full(len(side), np.nan)
        return np.cumsum(side[:, 1] / side[:, 0] if inverse else side[:, 0] * side[:, 1])

    flat: Flat = {
        "side": repeat_str(("bid", "ask"), (n_bid, n_ask)),
        "level": np.concatenate([np.arange(n_bid), np.arange(n_ask)]).astype(np.int64),
        "price": np.concatenate([bids[:, 0], asks[:, 0]]),
        "size": np.concatenate([bids[:, 1], asks[:, 1]]),
        "cum_size": np.concatenate([np.cumsum(bids[:, 1]), np.cumsum(asks[:, 1])]),
        "cum_notional": np.concatenate([notional(bids), notional(asks)]),
    }
    if currency is not None:
        flat["currency"] = repeat_str((currency,), (n_bid + n_ask,))
    best_bid = bids[0, 0] if n_bid else np.nan
    best_ask = asks[0, 0] if n_ask else np.nan
    mid = (best_bid + best_ask) / 2.0
    spread = best_ask - best_bid
    attrs: dict[str, Any] = {
        "symbol": symbol,
        "mid": float(mid),
        "spread": float(spread),
        "spread_bps": float(spread / mid * 1e4) if n_bid and n_ask else float("nan"),
        **pages_attrs([body]),
    }
    return build(ORDERBOOK, flat, n_bid + n_ask, attrs=attrs)


# --------------------------------------------------------------------------- trades


TRADES = FrameSpec(
    name="trades",
    columns=(
        Col("time", "time", ("execution.timestamp", "element.timestamp", "time")),
        Col("seq", "int", "seq"),
        Col("uid", "str", ("execution.uid", "uid")),
        Col("trade_id", "Int", "trade_id"),
        Col("symbol", "str", ("execution.takerOrder.tradeable", "symbol")),
        Col("side", "lower", ("execution.takerOrder.direction", "side")),
        Col("price", "float", ("execution.price", "price"), unit="quote"),
        Col("size", "float", ("execution.quantity", "size"), unit="contracts"),
        Col("type", "str", "type"),
        Col("mark_price", "float", "execution.markPrice", unit="quote"),
        Col("usd_value", "float", "execution.usdValue", unit="usd"),
        Col("limit_filled", "bool", "execution.limitFilled"),
        Col("maker_order_id", "str", "execution.makerOrder.uid"),
        Col("maker_order_type", "str", "execution.makerOrder.orderType"),
        Col("maker_limit_price", "float", "execution.makerOrder.limitPrice", unit="quote"),
        Col("maker_order_quantity", "float", "execution.makerOrder.quantity", unit="contracts"),
        Col("maker_reduce_only", "bool", "execution.makerOrder.reduceOnly"),
        Col("maker_order_time", "time", "execution.makerOrder.timestamp"),
        Col("taker_order_id", "str", "execution.takerOrder.uid"),
        Col("taker_order_type", "str", "execution.takerOrder.orderType"),
        Col("taker_limit_price", "float", "execution.takerOrder.limitPrice", unit="quote"),
        Col("taker_order_quantity", "float", "execution.takerOrder.quantity", unit="contracts"),
        Col("taker_reduce_only", "bool", "execution.takerOrder.reduceOnly"),
        Col("taker_order_time", "time", "execution.takerOrder.timestamp"),
        Col("taker_reduced_quantity", "float", "takerReducedQuantity", unit="contracts"),
        Col("event_uid", "str", "element.uid"),
    ),
    index="time",
    unique="uid",
    strip=("execution.",),
    drop=(
        "element.kind",
        "execution.makerOrder.tradeable",
        "execution.makerOrder.direction",
        "execution.makerOrder.lastUpdateTimestamp",
        "execution.takerOrder.lastUpdateTimestamp",
        "execution.oldTakerOrder",
    ),
    order_by=("seq",),
)


def _trade_seq(flat: Flat, n: int, sort: Sort | None) -> np.ndarray[Any, Any]:
    """Execution order of public trades: ``trade_id`` where every row has one, else the pages'."""
    ids = flat.get("trade_id")
    if ids is not None and n and all(i is not None and i != "" for i in ids):
        numbers = to_float(ids, n)
        if not np.isnan(numbers).any():
            ranks: np.ndarray[Any, Any] = np.argsort(np.argsort(numbers, kind="stable"))
            return ranks.astype(np.int64)
    times = next((flat[k] for k in ("execution.timestamp", "element.timestamp", "time")
                  if k in flat), None)
    return exchange_seq(times, n, sort)


def trades(
    body_or_pages: Any, symbol: str | None = None, sort: Sort | None = None
) -> pd.DataFrame:
    """Public trades from the market event store or from the recent-trades endpoint.

    Parameters
    ----------
    body_or_pages : dict, bytes, or a sequence or iterator of them
        One body or several page bodies (decoded, or the response's bytes) of
        either ``GET /api/history/v3/market/{symbol}/executions``
        (``elements[].event.Execution.execution``) or
        ``GET /derivatives/api/v3/history`` (``history[]``). Pages are
        concatenated, sorted by time and de-duplicated by ``uid``. An
        iterator (a generator reading pages from disk or the network) is
        consumed a page at a time and each page is let go once read, so many
        pages cost about the frame's memory, not the pages' total.
    symbol : str, optional
        Fills ``symbol`` where the body does not carry it (``history[]``).
    sort : {"asc", "desc"}, optional
        The ``sort`` the event-store pages were asked with (read from their
        times when omitted; see ``seq``).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (datetime64[ns, UTC]):

        ======================  ==================  ================================================
        column                  dtype               meaning / unit
        ======================  ==================  ================================================
        seq                     int64               execution order, oldest first: rows that share
                                                    a time are sorted by it (``trade_id`` where
                                                    every row has one, else the pages' order)
        uid                     str                 trade (execution) id
        trade_id                Int64               per-maturity counter (``history[]`` only)
        symbol                  str                 contract (taker order's ``tradeable``)
        side                    str                 taker side, ``"buy"``/``"sell"``
        price                   float64             quote currency
        size                    float64             contracts
        type                    str                 fill, liquidation, … (``history[]`` only)
        mark_price              float64             mark at execution (event store only)
        usd_value               float64             USD value of the trade (event store only)
        limit_filled            bool                the maker order was filled completely
        maker_order_id          str                 maker order uid
        maker_order_type        str                 Limit, Post, …
        maker_limit_price       float64
        maker_order_quantity    float64             contracts
        maker_reduce_only       bool
        maker_order_time        datetime64[ns,UTC]  when the maker order was placed
        taker_order_id          str                 taker order uid
        taker_order_type        str                 Market, IoC, Limit, Liquidation, …
        taker_limit_price       float64             (a market order's protection limit)
        taker_order_quantity    float64             contracts
        taker_reduce_only       bool
        taker_order_time        datetime64[ns,UTC]
        taker_reduced_quantity  float64             reduce-only trim ("" → NaN)
        event_uid               str                 id of the history element
        ======================  ==================  ================================================

        Event-store-only columns are NaN/False for ``history[]`` rows and vice
        versa. The maker's direction (the taker's opposite), the orders'
        ``tradeable`` and ``lastUpdateTimestamp`` and ``oldTakerOrder`` are
        not kept. MiFID fields of ``history[]`` and fields the exchange adds
        later follow, snake_cased. ``attrs``: ``server_time``,
        ``continuation_token`` (last page).

    Examples
    --------
    >>> body = {"result": "success", "serverTime": "2022-03-18T06:39:18.056Z",
    ...         "history": [{"time": "2022-03-18T04:55:37.692Z", "trade_id": 100,
    ...                      "price": 0.7921, "size": 1068, "side": "sell",
    ...                      "type": "fill", "uid": "6c5da0b0"}]}
    >>> trades(body, symbol="PF_XRPUSD")[["symbol", "price", "size", "side"]].to_dict("records")
    [{'symbol': 'PF_XRPUSD', 'price': 0.7921, 'size': 1068.0, 'side': 'sell'}]
    """
    if isinstance(body_or_pages, Iterator):
        return _trades_streamed(body_or_pages, symbol, sort)
    if is_raw(body_or_pages):
        fast = [decode_executions(raw) for raw in raw_pages(body_or_pages)]
        if all(part is not None for part in fast):
            done = [part for part in fast if part is not None]
            flat, n = concat_flat([(f, k) for f, k, _ in done]) if done else ({}, 0)
            return _trades_frame(flat, n, None, sort, {"continuation_token": done[-1][2]})
        body_or_pages = [to_body(raw) for raw in raw_pages(body_or_pages)]
    pages = as_pages(body_or_pages, name="trades")
    flat, n = concat_flat([_trades_part(page) for page in pages]) if pages else ({}, 0)
    attrs = pages_attrs(pages)
    attrs["continuation_token"] = last_attr(pages, "continuationToken")
    return _trades_frame(flat, n, symbol, sort, attrs)


def _trades_part(page: Mapping[str, Any]) -> tuple[Flat, int]:
    """One decoded page's records, column-wise (every field kept)."""
    records = payload(page, "elements", "history", name="trades")
    if "elements" in page:
        return flatten_events(records, skip=TRADES.drop, keep=TRADES.needed), len(records)
    return flatten(records), len(records)


class TradesPage(NamedTuple):
    """A page of executions once read by :func:`read_trades_page`: its columns (the page's
    bytes or JSON can go), its row count, and its other fields, for the frame's attrs."""

    flat: Flat  #: column-wise records: typed arrays (fast path) or lists (decoded JSON)
    n: int  #: rows
    head: dict[str, Any]  #: the page without its records (``continuationToken`` …)
    generic: bool  #: read from decoded JSON (the page did not fit the fast decoder)


def read_trades_page(page: Any, i: int = 0) -> TradesPage:
    """Read one page of executions (bytes, decoded JSON, or an already read page) for
    :func:`trades`; ``i`` is its place, for the error message.

    ``trades(iter(pages))`` equals ``trades(iter(map(read_trades_page, pages)))``: a
    download can read each page as it arrives and keep only this.

    >>> read_trades_page(b'{"elements": [], "continuationToken": "t1"}').head
    {'continuationToken': 't1'}
    """
    if isinstance(page, TradesPage):
        return page
    if isinstance(page, bytes | bytearray | memoryview):
        fast = decode_executions(bytes(page))
        if fast is not None:
            return TradesPage(fast[0], fast[1], {"continuationToken": fast[2]}, False)
        page = to_body(bytes(page))
    if not isinstance(page, Mapping):
        raise ValueError(
            f"frames.trades: page {i} is a {type(page).__name__}, expected the bytes "
            "or the decoded JSON object of a response"
        )
    flat, n = _trades_part(page)
    head = {k: v for k, v in page.items() if k not in ("elements", "history")}
    return TradesPage(flat, n, head, True)


def _trades_streamed(pages: Iterator[Any], symbol: str | None, sort: Sort | None) -> pd.DataFrame:
    """The trades of pages handed over one at a time; each page's bytes are let go once its
    columns are read (the fast path's arrays, else the generic path's records)."""
    parts: list[tuple[Flat, int]] = []
    heads: list[dict[str, Any]] = []  # each page without its records, for the attrs
    generic = False
    for i, page in enumerate(pages):
        read = read_trades_page(page, i)
        del page
        parts.append((read.flat, read.n))
        heads.append(read.head)
        generic = generic or read.generic
        del read
    flat, n = concat_flat(parts) if parts else ({}, 0)
    del parts
    if not generic:
        token = heads[-1]["continuationToken"] if heads else None
        return _trades_frame(flat, n, None, sort, {"continuation_token": token})
    attrs = pages_attrs(heads)
    attrs["continuation_token"] = last_attr(heads, "continuationToken")
    return _trades_frame(flat, n, symbol, sort, attrs)


def _trades_frame(
    flat: Flat, n: int, symbol: str | None, sort: Sort | None, attrs: dict[str, Any]
) -> pd.DataFrame:
    if symbol is not None and n:
        flat["symbol"] = [symbol] * n
    flat["seq"] = _trade_seq(flat, n, sort)
    flat, n = drop_repeats(TRADES, flat, n)  # before the frame: it is not held twice
    return build(TRADES, flat, n, attrs=attrs, unique=True)


# --------------------------------------------------------------------------- candles


CANDLES = FrameSpec(
    name="candles",
    columns=(
        col("time", "time"),
        col("open", "float", unit="quote"),
        col("high", "float", unit="quote"),
        col("low", "float", unit="quote"),
        col("close", "float", unit="quote"),
        col("volume", "float", unit="contracts"),
    ),
    index="time",
    unique="time",
)


def candles(body_or_pages: Any) -> pd.DataFrame:
    """OHLCV candles from ``GET /api/charts/v1/{tick_type}/{symbol}/{resolution}``.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        ``{"candles": [{"time": <epoch ms>, "open": "…", …, "volume": …}],
        "more_candles": bool}``, or several such pages; they are
        concatenated, sorted by time and de-duplicated on time (the last
        page wins).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (candle open time,
        datetime64[ns, UTC]); columns ``open``, ``high``, ``low``, ``close``
        (float64, quote currency) and ``volume`` (float64, contracts; zero for
        ``mark`` and ``spot`` series). ``attrs["more_candles"]`` is the last
        page's flag.

    Examples
    --------
    >>> body = {"candles": [{"time": 1680624000000, "open": "28050.0", "high": "28150",
    ...                      "low": "27983.0", "close": "28126.0",
    ...                      "volume": "1089794.00000000"}], "more_candles": True}
    >>> candles(body).iloc[0].tolist()
    [28050.0, 28150.0, 27983.0, 28126.0, 1089794.0]
    """
    if is_raw(body_or_pages):
        fast = [decode_candles(raw) for raw in raw_pages(body_or_pages)]
        if all(part is not None for part in fast):
            done = [part for part in fast if part is not None]
            flat, n = concat_flat([(f, k) for f, k, _ in done])
            return build(CANDLES, flat, n, attrs={"more_candles": done[-1][2]})
        body_or_pages = [to_body(raw) for raw in raw_pages(body_or_pages)]
    pages = as_pages(body_or_pages, name="candles")
    records: list[Any] = []
    for page in pages:
        records.extend(payload(page, "candles", name="candles"))
    attrs = pages_attrs(pages)
    attrs["more_candles"] = last_attr(pages, "more_candles")
    return build(CANDLES, flatten(records), len(records), attrs=attrs)


# --------------------------------------------------------------------------- funding

_HOUR = pd.Timedelta(hours=1)


def _derive_funding(df: pd.DataFrame) -> pd.DataFrame:
    """Each rate's period: the spacing (hours) to its nearer neighbour in time.

    Recent history funds every hour, older history every 4 hours (reference
    §4.8); the nearer neighbour's spacing reads both, and a missing row does
    not stretch the rows beside it. A lone row is taken as hourly.
    """
    times = df["time"]
    distinct = np.unique(times.dropna().to_numpy(dtype="datetime64[ns]").astype(np.int64))
    hours = np.ones(len(distinct))
    if len(distinct) > 1:
        steps = np.diff(distinct) / 3.6e12  # ns → hours
        hours = np.minimum(np.concatenate([[np.inf], steps]), np.concatenate([steps, [np.inf]]))
    keys = times.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    period = pd.Series(hours, index=distinct).reindex(keys).to_numpy()
    df["period_hours"] = period
    df["period_end"] = times + pd.to_timedelta(period, unit="h")
    df["funding_rate_annualised"] = df["relative_funding_rate"] * HOURS_PER_YEAR / period
    return df


FUNDING_RATES = FrameSpec(
    name="funding_rates",
    columns=(
        Col("time", "time", "timestamp"),
        Col("period_end", "time", None),
        Col("period_hours", "float", None, unit="hours"),
        col("fundingRate", "float", unit="ccy:currency"),
        col("relativeFundingRate", "float", unit="fraction"),
        Col("funding_rate_annualised", "float", None, unit="fraction"),
        Col("currency", "str", "currency"),
    ),
    index="time",
    unique="time",
    derive=_derive_funding,
)


def funding_rates(body_or_pages: Any, symbol: str | None = None) -> pd.DataFrame:
    """Historical funding rates from ``GET /derivatives/api/v4/historicalfundingrates``.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        Body (or bodies) with ``rates[]``: ``timestamp`` (ISO, start of the
        period), ``fundingRate``, ``relativeFundingRate``.
    symbol : str, optional
        The perpetual the rates are of: gives ``currency`` (NaN without it).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time``: the **start** of the funding
        period, as the exchange stamps the rate (datetime64[ns, UTC]):

        =======================  ==================  ===========================================
        column                   dtype               meaning / unit
        =======================  ==================  ===========================================
        period_end               datetime64[ns,UTC]  time + period_hours: when the payment is
                                                     booked. ``kf.account_log()`` stamps its
                                                     ``funding rate change`` rows at this time,
                                                     so join the two on ``period_end``
        period_hours             float64             hours the rate covers, from the data: the
                                                     spacing to the nearer neighbouring row
                                                     (1 for recent history, 4 for older rows;
                                                     1 for a lone row)
        funding_rate             float64             absolute, as given: ``currency`` per
                                                     contract per period
        relative_funding_rate    float64             fraction per period
        funding_rate_annualised  float64             relative × 8,760 / period_hours: a
                                                     fraction per year, 4-hourly rows included
        currency                 str                 settlement currency (``USD`` for PF_, the
                                                     coin for PI_); NaN without ``symbol``
        =======================  ==================  ===========================================

    Examples
    --------
    >>> body = {"result": "success", "rates": [
    ...     {"timestamp": "2022-06-28T00:00:00.000Z", "fundingRate": -8.15861558e-10,
    ...      "relativeFundingRate": -1.6898883333333e-05},
    ...     {"timestamp": "2022-06-28T04:00:00.000Z", "fundingRate": -8.0e-10,
    ...      "relativeFundingRate": -1.6e-05}]}
    >>> df = funding_rates(body, symbol="PI_XBTUSD")
    >>> df[["period_hours", "funding_rate_annualised", "currency"]].round(6).values.tolist()
    [[4.0, -0.037009, 'XBT'], [4.0, -0.03504, 'XBT']]
    """
    pages = as_pages(body_or_pages, name="funding_rates")
    records: list[Any] = []
    for page in pages:
        records.extend(payload(page, "rates", name="funding_rates"))
    flat = flatten(records)
    currency = settlement_currencies([symbol])[0] if symbol is not None else None
    if currency is not None and records:
        flat["currency"] = [currency] * len(records)
    return build(FUNDING_RATES, flat, len(records), attrs=pages_attrs(pages))


# --------------------------------------------------------------------------- fee schedules


def _derive_fees(df: pd.DataFrame) -> pd.DataFrame:
    df["maker_fee"] = df["maker_fee"] / 100.0  # the exchange sends percent (reference §4.22)
    df["taker_fee"] = df["taker_fee"] / 100.0
    return df


FEE_SCHEDULES = FrameSpec(
    name="fee_schedules",
    columns=(
        col("uid", "str"),
        col("name", "str"),
        col("tier", "int"),
        col("usdVolume", "float", unit="usd"),
        col("makerFee", "float", unit="fraction"),
        col("takerFee", "float", unit="fraction"),
    ),
    derive=_derive_fees,
)


def fee_schedules(body: Mapping[str, Any]) -> pd.DataFrame:
    """Fee schedules from ``GET /derivatives/api/v3/feeschedules``, one row per tier.

    Deprecated by Kraken from 2026-06-22: the values no longer reflect the
    fees charged on the live exchange (reference §0, §4.22); the simulator
    charges them.

    Returns
    -------
    pandas.DataFrame
        RangeIndex, tidy:

        ==========  =======  ===========================================================
        column      dtype    meaning / unit
        ==========  =======  ===========================================================
        uid, name   str      schedule (an instrument's fee_schedule_uid)
        tier        int64    0 = lowest volume tier
        usd_volume  float64  30-day USD volume from which the tier applies
        maker_fee   float64  **fraction** of notional (the exchange sends percent:
                             0.02 → 0.0002, i.e. 2 bp)
        taker_fee   float64  fraction of notional
        ==========  =======  ===========================================================

    Examples
    --------
    >>> body = {"result": "success", "feeSchedules": [{"uid": "u1", "name": "main",
    ...         "tiers": [{"makerFee": 0.02, "takerFee": 0.05, "usdVolume": 0.0}]}]}
    >>> fee_schedules(body)[["tier", "maker_fee", "taker_fee"]].to_dict("records")
    [{'tier': 0, 'maker_fee': 0.0002, 'taker_fee': 0.0005}]
    """
    schedules = payload(body, "feeSchedules", name="fee_schedules")
    records: list[dict[str, Any]] = []
    for schedule in schedules:
        head = {k: v for k, v in schedule.items() if k != "tiers"}
        for i, tier in enumerate(schedule.get("tiers") or []):
            records.append({**head, "tier": i, **tier})
    return build(FEE_SCHEDULES, flatten(records), len(records), attrs=pages_attrs([body]))


# --------------------------------------------------------------------------- term structure

_DATED_SUFFIX = re.compile(r"_(\d{6})$")


def _expiry_from_symbols(symbols: pd.Series) -> pd.Series:
    """Expiry from a ``_YYMMDD`` suffix at 16:00 London time (reference §7.2)."""
    digits = symbols.str.extract(_DATED_SUFFIX, expand=False)
    dates = pd.to_datetime(digits, format="%y%m%d", errors="coerce") + pd.Timedelta(hours=16)
    try:
        local = dates.dt.tz_localize("Europe/London", nonexistent="shift_forward",
                                     ambiguous="NaT")
    except Exception:  # no tz database: 16:00 UTC is within an hour
        local = dates.dt.tz_localize("UTC")
    return local.dt.tz_convert("UTC").astype(TIME_DTYPE)


def _derive_term(df: pd.DataFrame) -> pd.DataFrame:
    df["basis"] = df["mark_price"] - df["index_price"]
    df["relative_basis"] = df["basis"] / df["index_price"]
    days = df["days_to_expiry"].where(df["days_to_expiry"] > 0)
    # a fraction per year, like funding_rate_annualised: the two carries compare directly
    df["basis_annualised"] = df["relative_basis"] * 365.0 / days
    return df


TERM_STRUCTURE = FrameSpec(
    name="term_structure",
    columns=(
        col("symbol", "str"),
        col("pair", "str"),
        col("tag", "str"),
        col("expiry", "time"),
        col("days_to_expiry", "float", unit="days"),
        col("mark_price", "float", unit="quote"),
        col("index_price", "float", unit="quote"),
        Col("basis", "float", None, unit="quote"),
        Col("relative_basis", "float", None, unit="fraction"),
        Col("basis_annualised", "float", None, unit="fraction"),
        col("funding_rate_annualised", "float", unit="fraction"),
    ),
    derive=_derive_term,
)


def term_structure(
    tickers_body: Mapping[str, Any],
    instruments_body: Mapping[str, Any] | None = None,
    now: Any = None,
) -> pd.DataFrame:
    """Basis of every perpetual and dated contract against its index.

    Parameters
    ----------
    tickers_body : dict
        Body of ``GET /tickers``.
    instruments_body : dict, optional
        Body of ``GET /instruments``: gives the exact expiry
        (``lastTradingTime``). Without it the expiry is the ``_YYMMDD``
        symbol suffix at 16:00 London time, an approximation.
    now : timestamp-like, optional
        Reference time for ``days_to_expiry`` (anything
        :func:`kfresearch.timeparse.to_timestamp` accepts); defaults to the
        tickers body's ``serverTime``, else the current time.

    Returns
    -------
    pandas.DataFrame
        RangeIndex, one row per tradeable contract (index tickers dropped;
        filter by ``pair`` for one base), sorted by pair, then perpetual
        first, then expiry:

        =======================  ==================  ==============================================
        column                   dtype               meaning / unit
        =======================  ==================  ==============================================
        symbol, pair, tag        str
        expiry                   datetime64[ns,UTC]  last trading time; NaT for perpetuals
        days_to_expiry           float64             (expiry − now) in days; NaN for perpetuals
        mark_price, index_price  float64             quote currency
        basis                    float64             mark − index (quote currency)
        relative_basis           float64             basis / index, a **fraction** (0.01 = 1 %;
                                                     the ``premium`` of :func:`tickers`)
        basis_annualised         float64             relative_basis × 365 / days_to_expiry, a
                                                     **fraction** per year (0.05 = 5 %); NaN for
                                                     perpetuals, which have no expiry (their carry
                                                     is funding_rate_annualised), and for expired
                                                     rows
        funding_rate_annualised  float64             relative funding × 24 × 365, a fraction per
                                                     year (perpetuals): compares directly with
                                                     basis_annualised
        =======================  ==================  ==============================================

        ``attrs``: ``now``, ``server_time``.

    Examples
    --------
    >>> tick = {"result": "success", "serverTime": "2022-06-17T11:00:31.335Z", "tickers": [
    ...     {"symbol": "FI_XBTUSD_220930", "tag": "quarter", "pair": "XBT:USD",
    ...      "markPrice": 21200.0, "indexPrice": 21000.0}]}
    >>> ts = term_structure(tick)
    >>> ts[["relative_basis", "days_to_expiry", "basis_annualised"]].round(4).to_dict("records")
    [{'relative_basis': 0.0095, 'days_to_expiry': 105.1663, 'basis_annualised': 0.0331}]
    """
    tick = tickers(tickers_body)
    stamp = to_timestamp(now) if now is not None else server_time(tickers_body)
    if stamp is None:
        stamp = pd.Timestamp.now(tz="UTC")
    tick = tick[kinds(tick.index) != "index"]
    tick = tick[tick["tag"].notna() | tick["mark_price"].notna()]
    symbols = pd.Series(tick.index.astype(str), index=tick.index)
    expiry = _expiry_from_symbols(symbols)
    if instruments_body is not None:
        inst = instruments(instruments_body)
        by_upper = pd.Series(inst["last_trading_time"].to_numpy(), index=inst.index.str.upper())
        by_upper = by_upper[~by_upper.index.duplicated()]
        exact = symbols.str.upper().map(by_upper)
        known = symbols.str.upper().isin(by_upper.index)
        expiry = expiry.where(~known, exact).astype(TIME_DTYPE)
    tag = tick["tag"]
    perpetual = (tag == "perpetual").fillna(False).to_numpy(dtype=bool) | expiry.isna().to_numpy()
    expiry = expiry.where(~perpetual)
    days = (expiry - stamp) / pd.Timedelta(days=1)
    flat: Flat = {
        "symbol": symbols.tolist(),
        "pair": tick["pair"].tolist(),
        "tag": tag.tolist(),
        "expiry": expiry.array,
        "days_to_expiry": days.to_numpy(dtype=np.float64),
        "mark_price": tick["mark_price"].to_numpy(),
        "index_price": tick["index_price"].to_numpy(),
        "funding_rate_annualised": tick["funding_rate_annualised"].to_numpy(),
    }
    attrs = {"now": stamp, **pages_attrs([tickers_body])}
    frame = build(TERM_STRUCTURE, flat, len(symbols), attrs=attrs)
    order = frame.assign(_dated=frame["expiry"].notna()).sort_values(
        ["pair", "_dated", "expiry", "symbol"], kind="stable", na_position="first"
    )
    return frame.loc[order.index].reset_index(drop=True)
