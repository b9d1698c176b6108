"""Candles built from trades, shaped like the exchange's charts candles.

Example
-------
>>> import pandas as pd
>>> trades = pd.DataFrame(
...     {"price": [100.0, 103.0, 99.0, 101.0], "size": [1.0, 2.0, 1.0, 0.5]},
...     index=pd.DatetimeIndex(["2026-11-01 00:00:05", "2026-11-01 00:00:40",
...                             "2026-11-01 00:00:59", "2026-11-01 00:02:01"],
...                            tz="UTC", name="time"))
>>> candles_from_trades(trades, "1m")[["open", "high", "low", "close", "volume"]]
                            open   high   low  close  volume
time
2026-11-01 00:00:00+00:00  100.0  103.0  99.0   99.0     4.0
2026-11-01 00:02:00+00:00  101.0  101.0 101.0  101.0     0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kfresearch.errors import ValidationError
from kfresearch.queries import RESOLUTIONS

__all__ = ["candles_from_trades"]

_COLUMNS = ["open", "high", "low", "close", "volume"]


def candles_from_trades(trades: pd.DataFrame | None, resolution: str = "1m") -> pd.DataFrame:
    """OHLCV candles of a trades frame (``kf.trades()``, ``stream.trades()``).

    Parameters
    ----------
    trades : DataFrame
        Indexed by trade ``time`` (UTC), with ``price`` and ``size``.
    resolution : str
        ``"1m"``, ``"5m"``, ``"15m"``, ``"30m"``, ``"1h"``, ``"4h"``,
        ``"12h"``, ``"1d"`` or ``"1w"``.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`kfresearch.frames.candles` (``kf.candles()``):
        ``open``, ``high``, ``low``, ``close``, ``volume`` (float64, volume in
        contracts), indexed by the bucket's start ``time`` (datetime64[ns,
        UTC]), oldest first, one row per bucket with at least one trade.
        ``attrs``: ``symbol`` and ``env`` of the trades, ``resolution``.

    Raises
    ------
    ValidationError
        An unknown resolution.
    """
    key = str(resolution).lower()
    if key not in RESOLUTIONS:
        raise ValidationError(
            "resolution", resolution, f"resolution {resolution!r} is not one of "
            f"{', '.join(RESOLUTIONS)}"
        )
    attrs: dict[str, Any] = {
        k: trades.attrs[k] for k in ("symbol", "env") if trades is not None and k in trades.attrs
    }
    if trades is not None and "symbol" not in attrs and "symbol" in trades.columns \
            and trades["symbol"].nunique() == 1:
        attrs["symbol"] = str(trades["symbol"].iloc[0])
    attrs["resolution"] = key
    if trades is None or not len(trades):
        index = pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ns")
        empty = pd.DataFrame({c: np.array([], dtype=np.float64) for c in _COLUMNS}, index=index)
        empty.attrs.update(attrs)
        return empty
    step_ms = RESOLUTIONS[key]
    times = pd.DatetimeIndex(trades.index).as_unit("ns").asi8
    bucket = times - times % (step_ms * 1_000_000)
    prices = trades["price"].to_numpy(dtype=np.float64)
    sizes = trades["size"].to_numpy(dtype=np.float64)
    order = np.argsort(times, kind="stable")  # trades frames are sorted; be sure anyway
    frame = pd.DataFrame({"bucket": bucket[order], "price": prices[order], "size": sizes[order]})
    grouped = frame.groupby("bucket", sort=True)
    out = pd.DataFrame({
        "open": grouped["price"].first(),
        "high": grouped["price"].max(),
        "low": grouped["price"].min(),
        "close": grouped["price"].last(),
        "volume": grouped["size"].sum(),
    })
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index.to_numpy(), unit="ns", utc=True),
                                 name="time").as_unit("ns")
    out = out.astype(np.float64)
    out.attrs.update(attrs)
    return out
