"""Frames as text for people: prices on their tick, sizes as written, no scientific notation.

``DataFrame.to_string()`` prints every float column with one precision chosen
for the widest value (``84140.000000``) or in scientific notation for large
ones (``1.192701e+08``). The commands print through :func:`render` instead;
files (``--csv``/``--parquet``) keep the raw numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from kfresearch.contracts import currency_decimals, decimals

__all__ = ["MONEY_COLUMNS", "PRICE_COLUMNS", "SIZE_COLUMNS", "render"]

#: Quote-currency prices: shown with the decimals of the contract's tick.
PRICE_COLUMNS = frozenset({
    "ask", "bid", "close", "entry_price", "high", "index_price", "last", "limit_price",
    "low", "mark_price", "mid", "open", "price", "spread", "stop_price",
})
#: Contract sizes and volumes: shown exactly, without trailing zeros.
SIZE_COLUMNS = frozenset({
    "abs_size", "contract_size", "cum_size", "filled_size", "impact_mid_size",
    "max_position_size", "open_interest", "size", "unfilled_size", "vol24h", "volume",
})
#: Amounts: shown to the cent in USD, to the satoshi in a coin (a row's ``currency``).
MONEY_COLUMNS = frozenset({"cum_notional", "notional", "usd_value", "volume_quote"})


def render(frame: pd.DataFrame, ticks: Mapping[str, float] | float | None = None) -> str:
    """``frame`` as an aligned text table, each number formatted for its column.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any frame of :class:`~kfresearch.Client`.
    ticks : float or mapping of symbol to float, optional
        The tick size of the frame's contract, or of each row's contract (looked
        up by the row's ``symbol`` column, else its index). Prices without a
        tick keep their own decimals.

    Returns
    -------
    str
        What ``print`` shows: prices with the tick's decimals (``86,224.5``),
        sizes as exact decimals (``119,270,123.4``), USD amounts to the cent
        (coin amounts, in a frame whose ``currency`` says so, to 8 decimals),
        other floats with six significant digits, all with thousands separators.

    Examples
    --------
    >>> frame = pd.DataFrame({"price": [84140.0], "vol24h": [1.192701e8], "rate": [-2.609265]},
    ...                      index=pd.Index(["PF_XBTUSD"], name="symbol"))
    >>> print(render(frame, {"PF_XBTUSD": 1.0}))  # doctest: +NORMALIZE_WHITESPACE
                price       vol24h      rate
    symbol
    PF_XBTUSD  84,140  119,270,100  -2.60927
    """
    if frame.empty:
        return frame.to_string()
    out = frame.copy()
    row_ticks = _row_ticks(frame, ticks)
    currencies = (frame["currency"].fillna("USD").tolist() if "currency" in frame.columns
                  else ["USD"] * len(frame))
    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_float_dtype(column.dtype):
            continue
        if name in PRICE_COLUMNS:
            out[name] = [_price(v, t) for v, t in zip(column, row_ticks, strict=True)]
        elif name in SIZE_COLUMNS:
            out[name] = [_size(v) for v in column]
        elif name in MONEY_COLUMNS:
            out[name] = [_fixed(v, currency_decimals(str(c)))
                         for v, c in zip(column, currencies, strict=True)]
        else:
            out[name] = [_general(v) for v in column]
    return out.to_string()


def _row_ticks(
    frame: pd.DataFrame, ticks: Mapping[str, float] | float | None
) -> list[float | None]:
    if ticks is None or isinstance(ticks, (int, float)):
        return [float(ticks) if ticks else None] * len(frame)
    symbols = frame["symbol"] if "symbol" in frame.columns else frame.index.to_series()
    return [ticks.get(str(s)) for s in symbols]


def _missing(value: float) -> bool:
    return value is None or math.isnan(value)


def _fixed(value: float, decimals: int) -> str:
    return "" if _missing(value) else f"{value:,.{decimals}f}"


def _price(value: float, tick: float | None) -> str:
    if tick is None or not tick > 0:
        return _size(value)
    return _fixed(value, decimals(tick))


def _size(value: float) -> str:
    """The shortest decimal, with separators: ``3405.802`` → ``'3,405.802'``; sums such
    as ``1.9828999999999999`` lose their float noise (sizes have at most 10 decimals)."""
    if _missing(value):
        return ""
    return _group(np.format_float_positional(round(value, 10), trim="-"))


def _general(value: float) -> str:
    """Six significant digits, never fewer than the integer part has, never an exponent."""
    if _missing(value):
        return ""
    whole = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    text = np.format_float_positional(
        value, precision=max(6, whole), unique=False, fractional=False, trim="-"
    )
    return _group(text)


def _group(text: str) -> str:
    """``'-1234567.5'`` → ``'-1,234,567.5'``."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = body.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"
