"""What the store keeps, described as data: one :class:`Kind` per kind of time series.

A kind says which hive keys name a series (``symbol``, ``tick_type``,
``resolution``…), how to fetch the rows of ``[start, end)`` through a
:class:`~kfresearch.Client` (its public methods: the store never speaks HTTP
itself), how old a row must be before it is final and may be kept, how much
to fetch per request batch, and the empty frame whose columns and dtypes the
store gives back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from kfresearch import frames
from kfresearch.errors import DataGapWarning
from kfresearch.frames.market import CANDLES
from kfresearch.queries import CANDLE_PAGE, RESOLUTIONS

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.frames.core import FrameSpec

__all__ = ["KINDS", "MINUTE_MS", "WEEK_OFFSET_MS", "Kind", "bucket_offset", "kind_named"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_OFFSET_MS = 4 * DAY_MS  # weekly candles start on Mondays; 1970-01-01 was a Thursday

Keys = Mapping[str, str]
_EMPTY: dict[str, pd.DataFrame] = {}
Fetch = Callable[["Client", Keys, int, int], pd.DataFrame]


def bucket_offset(keys: Keys) -> int:
    """Where buckets of the series start relative to the epoch (Mondays for ``1w``)."""
    return WEEK_OFFSET_MS if keys.get("resolution") == "1w" else 0


@dataclass(frozen=True)
class Kind:
    """One kind of stored time series.

    Attributes
    ----------
    name : str
        Directory under the store root and DuckDB view name; also the
        :class:`~kfresearch.Client` method it mirrors.
    keys : tuple of str
        Hive keys between the kind's directory and ``date=``, in path order.
    fetch : callable or None
        ``fetch(kf, keys, start_ms, end_ms)``: the frame of rows with
        ``start_ms <= time < end_ms``. None for kinds only the recorder writes.
    template : callable
        The empty frame with every column and dtype the kind reads back as.
    step : callable
        Bucket length in ms for the series' keys (1 for event streams).
    settle_ms : int
        Rows younger than this are not final yet: they are served live, not kept.
    batch_ms : callable
        Time span fetched per batch (one commit) for the series' keys.
    gap_ms : int or None
        A fetched batch whose data starts this much after its start (or is
        empty) is reported as a gap the exchange has no data for; None for
        account data, where no rows just means no activity.
    private : bool
        Needs credentials.
    compression : str
        Parquet codec of its files: ``snappy`` for candles (small day files,
        where zstd's per-file set-up doubled the time to read a month back),
        ``zstd`` for the rest (trades are ~4x larger than candles per day).
    month_cache : bool
        Reads of many days read a month cache (:mod:`kfresearch.store.cache`):
        for small day files (candles, funding), where opening each file is
        most of a read's time.
    spec : FrameSpec or None
        The frame schema ``template`` is built from. When stored rows hold
        exactly its columns as numbers, reads build the frame straight from
        the Arrow buffers without building ``template`` at all
        (:func:`kfresearch.store.read.plain_frame`).
    """

    name: str
    keys: tuple[str, ...]
    fetch: Fetch | None
    template: Callable[[], pd.DataFrame]
    step: Callable[[Keys], int]
    settle_ms: int
    batch_ms: Callable[[Keys], int]
    gap_ms: Callable[[Keys], int | None]
    private: bool = False
    compression: str = "zstd"
    month_cache: bool = False
    spec: FrameSpec | None = None

    def empty(self) -> pd.DataFrame:
        """A copy of the empty frame of the kind (built once: the frame builders take ms)."""
        cached = _EMPTY.get(self.name)
        if cached is None:
            cached = _EMPTY[self.name] = self.template()
        return cached.copy()

    def final_end(self, keys: Keys, now_ms: int) -> int:
        """End of what is final at ``now_ms``: complete buckets, rows older than ``settle_ms``."""
        step, offset = self.step(keys), bucket_offset(keys)
        if step > 1:
            return (now_ms - offset) // step * step + offset
        return (now_ms - self.settle_ms) // MINUTE_MS * MINUTE_MS


def _quiet(call: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    # the store reports gaps once over the whole range, not per batch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataGapWarning)
        return call()


def _candles(kf: Client, keys: Keys, start: int, end: int) -> pd.DataFrame:
    return _quiet(
        lambda: kf.candles(
            keys["symbol"],
            keys["resolution"],
            since=start,
            until=end,
            tick_type=keys["tick_type"],
            progress=False,
        )
    )


def _trades(kf: Client, keys: Keys, start: int, end: int) -> pd.DataFrame:
    return kf.trades(keys["symbol"], since=start, until=end, progress=False)


def _funding(kf: Client, keys: Keys, start: int, end: int) -> pd.DataFrame:
    return kf.funding_rates(keys["symbol"], since=start, until=end)


def _account_log(kf: Client, keys: Keys, start: int, end: int) -> pd.DataFrame:
    return kf.account_log(since=start, until=end, progress=False)


def _fills(kf: Client, keys: Keys, start: int, end: int) -> pd.DataFrame:
    frame = kf.fills(since=start, progress=False)
    lo, hi = pd.Timestamp(start, unit="ms", tz="UTC"), pd.Timestamp(end, unit="ms", tz="UTC")
    return frame[(frame.index >= lo) & (frame.index < hi)]


def _order_history(kf: Client, keys: Keys, start: int, end: int) -> pd.DataFrame:
    return kf.order_history(since=start, until=end, progress=False)


def _book_template() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ns")
    return pd.DataFrame(
        {
            "side": pd.Series([], dtype="str"),
            "level": pd.Series([], dtype="int64"),
            "price": pd.Series([], dtype="float64"),
            "size": pd.Series([], dtype="float64"),
        },
        index=index,
    )


def _step_of(keys: Keys) -> int:
    return RESOLUTIONS[keys["resolution"]]


def _one(keys: Keys) -> int:
    return 1


def _days(n: int) -> Callable[[Keys], int]:
    return lambda keys: n * DAY_MS


def _hour(keys: Keys) -> int | None:
    return HOUR_MS


def _never(keys: Keys) -> int | None:
    return None


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "candles",
            ("symbol", "tick_type", "resolution"),
            _candles,
            lambda: frames.candles([]),
            _step_of,
            settle_ms=0,
            # one charts page per batch, at least a day
            batch_ms=lambda keys: max(DAY_MS, CANDLE_PAGE * _step_of(keys)),
            gap_ms=_step_of,
            compression="snappy",
            month_cache=True,
            spec=CANDLES,
        ),
        Kind(
            "trades",
            ("symbol",),
            _trades,
            lambda: frames.trades([]),
            _one,
            settle_ms=MINUTE_MS,
            batch_ms=_days(1),
            gap_ms=_hour,
        ),
        Kind(
            "funding_rates",
            ("symbol",),
            _funding,
            lambda: frames.funding_rates({"rates": []}),
            lambda keys: HOUR_MS,
            settle_ms=0,
            batch_ms=_days(3660),  # one answer holds the whole history
            gap_ms=_hour,
            month_cache=True,
        ),
        Kind(
            "account_log",
            (),
            _account_log,
            lambda: frames.account_log([]),
            _one,
            settle_ms=MINUTE_MS,
            batch_ms=_days(31),
            gap_ms=_never,
            private=True,
        ),
        Kind(
            "fills",
            (),
            _fills,
            lambda: frames.fills([]),
            _one,
            settle_ms=MINUTE_MS,
            batch_ms=_days(31),
            gap_ms=_never,
            private=True,
        ),
        Kind(
            "order_history",
            (),
            _order_history,
            lambda: frames.order_history([]),
            _one,
            settle_ms=MINUTE_MS,
            batch_ms=_days(31),
            gap_ms=_never,
            private=True,
        ),
        Kind(
            "book",
            ("symbol",),
            None,
            _book_template,
            _one,
            settle_ms=0,
            batch_ms=_days(1),
            gap_ms=_never,
        ),
    )
}
"""Every kind the store keeps, by name."""


def kind_named(name: str) -> Kind:
    """The :class:`Kind` called ``name``; unknown names raise ``ValueError`` listing the kinds."""
    try:
        return KINDS[name.replace("-", "_")]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}: use one of {', '.join(KINDS)}") from None
