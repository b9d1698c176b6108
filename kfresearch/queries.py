"""The plans of the client's market and account methods (see :mod:`kfresearch.plans`).

Each plan validates its arguments before the first request, reads the
instruments only when the client holds none fresh enough, pages where the
exchange pages, and returns the DataFrame of :mod:`kfresearch.frames`.
Both clients run the same plans, so every decision (and pagination) is
written once.

If a call fails half-way through a download, the plan attaches the rows
fetched so far to the exception as ``partial`` and lets it propagate.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import pandas as pd

from kfresearch import frames
from kfresearch.contracts import check_name, check_symbol, index_pair, kind, split_symbol
from kfresearch.endpoints import (
    ACCOUNT_LOG,
    ACCOUNTS,
    CANDLES,
    FEESCHEDULE_VOLUMES,
    FEESCHEDULES,
    FILLS,
    HISTORICAL_FUNDING_RATES,
    INSTRUMENTS,
    MARKET_EXECUTIONS,
    ORDERBOOK,
    TICKERS,
    Endpoint,
)
from kfresearch.errors import (
    APIError,
    DataGapWarning,
    KFError,
    UnsupportedCallError,
    ValidationError,
)
from kfresearch.frames.paged import PageReader, page_reader
from kfresearch.frames.pages import HistoryPage, candles_more, history_page, page_token
from kfresearch.plans import CONCURRENCY, Call, Plan
from kfresearch.timeparse import TimeLike, time_argument

__all__ = [
    "CANDLE_PAGE",
    "RESOLUTIONS",
    "TICK_TYPES",
    "Progress",
    "between",
    "index_source",
    "plan_account_log",
    "plan_accounts",
    "plan_candles",
    "plan_fills",
    "plan_funding_rates",
    "plan_history",
    "plan_orderbook",
    "plan_term_structure",
    "plan_trades",
    "report_late_start",
    "resolve_symbol",
    "time_range",
]

#: Candle resolutions of the charts API and their length in ms.
RESOLUTIONS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "1w": 604_800_000,
}
TICK_TYPES = ("trade", "mark", "spot")
CANDLE_PAGE = 2000  # candles per charts answer (reference §4.6)
HISTORY_PAGE = 1000  # elements per history answer we ask for
FILLS_PAGE = 100  # the fills endpoint answers at most 100 fills (reference §4.19)


class Progress:
    """A ``tqdm.auto`` bar that appears only when a download takes more than a few pages."""

    def __init__(
        self, enabled: bool, description: str, total: int | None = None, *, after: int = 3
    ):
        # TQDM_DISABLE is tqdm's own switch; its notebook widget bar does not read it
        self.enabled = enabled and os.environ.get("TQDM_DISABLE", "") in {"", "0", "false"}
        self.description = description
        self.total = total
        self.after = after
        self.done = 0
        self._bar: Any = None

    def update(self, pages: int = 1) -> None:
        self.done += pages
        if not self.enabled:
            return
        if self._bar is None and self.done > self.after:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.total, desc=self.description, unit="page", initial=self.done
            )
        elif self._bar is not None:
            self._bar.update(pages)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --------------------------------------------------------------------------- arguments


def instruments_of(instruments_body: Any) -> Generator[list[Call], list[Any], Any]:
    """The instruments body: ``instruments_body`` when the client holds it, else read."""
    if instruments_body is None:
        instruments_body = (yield [Call(INSTRUMENTS)])[0]
    return instruments_body


def _rows(instruments_body: Any) -> list[dict[str, Any]]:
    return [r for r in (instruments_body or {}).get("instruments", []) if "symbol" in r]


def resolve_symbol(
    symbol: Any, instruments_body: Any, field_name: str = "symbol"
) -> Generator[list[Call], list[Any], str]:
    """Check ``symbol`` against the instruments (read when the client holds none)."""
    body = yield from instruments_of(instruments_body)
    return check_symbol(symbol, [str(r["symbol"]) for r in _rows(body)], field_name)


def _ms(name: str, value: Any, now_ms: int) -> int:
    return int(time_argument(name, value, now=now_ms).value // 1_000_000)


def between(frame: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Rows of a time-indexed frame with ``start_ms <= time < end_ms``."""
    start = pd.Timestamp(start_ms, unit="ms", tz="UTC")
    end = pd.Timestamp(end_ms, unit="ms", tz="UTC")
    return frame[(frame.index >= start) & (frame.index < end)]


def time_range(
    since: TimeLike | None, until: TimeLike | None, now_ms: int, *, default_since: TimeLike
) -> tuple[int, int]:
    """Validated ``[since, until)`` in epoch ms; ``until`` defaults to now, included."""
    start = _ms("since", since if since is not None else default_since, now_ms)
    end = _ms("until", until, now_ms) if until is not None else now_ms + 1
    if start >= end:
        raise ValidationError(
            "since",
            since,
            f"since ({pd.Timestamp(start, unit='ms', tz='UTC')}) must be before "
            f"until ({pd.Timestamp(end, unit='ms', tz='UTC')})",
        )
    return start, end


def _guarded(
    so_far: Callable[[], pd.DataFrame], batch: list[Call]
) -> Generator[list[Call], list[Any], list[Any]]:
    """Yield ``batch`` and return its bodies; on failure attach ``so_far()`` (the frame of
    the pages received before) to the error."""
    try:
        return (yield batch)
    except KFError as exc:
        exc.partial = so_far()
        raise


# --------------------------------------------------------------------------- market data


def plan_orderbook(symbol: str, depth: int | None, instruments_body: Any) -> Plan[pd.DataFrame]:
    """The book of ``symbol`` (see :func:`kfresearch.frames.orderbook`)."""
    if depth is not None and (
        isinstance(depth, bool) or not isinstance(depth, int) or depth < 1
    ):
        raise ValidationError("depth", depth, "depth must be a positive whole number of levels")
    name = yield from resolve_symbol(symbol, instruments_body)
    body = (yield [Call(ORDERBOOK, {"symbol": name})])[0]
    return frames.orderbook(body, symbol=name, depth=depth)


def index_source(index: str, tick_type: str, perpetuals: Iterable[str]) -> str:
    """The contract whose ``spot`` candles are the index ``index`` (``in_xbtusd``): the
    perpetual on the same pair, linear first.

    ``perpetuals`` are the listed contracts without a last trading time. The
    charts service keys index series by contract (reference §4.6), so
    ``kf.candles("in_xbtusd")`` and the store both read this contract's ``spot``
    series.

    Raises
    ------
    ValidationError
        A reference rate (``rr_``), a tick type other than ``trade``/``spot``,
        or no perpetual on the pair.

    Examples
    --------
    >>> index_source("in_xbtusd", "trade", ["PI_XBTUSD", "PF_XBTUSD", "PF_ETHUSD"])
    'PF_XBTUSD'
    """
    if kind(index) != "index" or not index.lower().startswith("in_"):
        raise ValidationError(
            "symbol",
            index,
            f"{index} is a once-a-day reference rate: the charts service has no candles for it; "
            f"use the real-time index 'in_{index[3:].lower()}' or kf.tickers()",
        )
    if tick_type not in ("trade", "spot"):
        raise ValidationError(
            "tick_type",
            tick_type,
            f"{index} is an index: it has no {tick_type} price, only its own value "
            "(tick_type='spot')",
        )
    pair = index_pair(index)
    candidates = [
        str(symbol)
        for symbol in perpetuals
        if (parts := split_symbol(symbol)) is not None
        and parts.base + parts.quote == pair
        and kind(symbol) in ("linear", "inverse")
    ]
    if not candidates:
        raise ValidationError(
            "symbol", index, f"no perpetual contract on {pair} lists the index {index}"
        )
    return sorted(candidates, key=lambda s: (kind(s) != "linear", s))[0]


def plan_candles(
    symbol: str,
    resolution: str,
    since: TimeLike | None,
    until: TimeLike | None,
    tick_type: str,
    now_ms: int,
    progress: bool,
    instruments_body: Any,
) -> Plan[pd.DataFrame]:
    """Candles in ``[since, until)``: 2,000-candle windows, fetched ``CONCURRENCY`` at a time.

    A window whose answer says ``more_candles`` (a server with smaller pages)
    is continued from its last candle. The result is continuous and sorted
    with one row per bucket. An index (``in_xbtusd``) gives the ``spot``
    candles of the perpetual on its pair (the charts service keys the index
    series by contract, reference §4.6).
    """
    resolution = str(resolution).lower()
    if resolution not in RESOLUTIONS:
        raise ValidationError(
            "resolution",
            resolution,
            f"resolution {resolution!r} is not one of {', '.join(RESOLUTIONS)}",
        )
    if tick_type not in TICK_TYPES:
        raise ValidationError(
            "tick_type", tick_type, f"tick_type must be one of {', '.join(TICK_TYPES)}"
        )
    step = RESOLUTIONS[resolution]
    start, end = time_range(since, until, now_ms, default_since=now_ms - CANDLE_PAGE * step)
    body = yield from instruments_of(instruments_body)
    if kind(symbol) == "index":
        label = symbol.strip().lower()
        perpetuals = [str(r["symbol"]) for r in _rows(body) if not r.get("lastTradingTime")]
        name, tick_type = index_source(label, tick_type, perpetuals), "spot"
    else:
        name = label = check_symbol(symbol, [str(r["symbol"]) for r in _rows(body)])
    first = start // step * step
    windows = [(t, min(t + CANDLE_PAGE * step, end)) for t in range(first, end, CANDLE_PAGE * step)]
    bar = Progress(progress, f"{label} {resolution} candles", total=len(windows))
    path = {"tick_type": tick_type, "symbol": name, "resolution": resolution}

    def call(a: int, b: int) -> Call:
        # ``to`` is inclusive and in seconds: stop one second before the next window
        return Call(CANDLES, {"from": a // 1000, "to": (b - 1) // 1000}, path)

    pages: list[Any] = []
    pending = [call(a, b) for a, b in windows]
    try:
        while pending:
            batch, pending = pending[:CONCURRENCY], pending[CONCURRENCY:]
            bodies = yield from _guarded(lambda: frames.candles(pages), batch)
            pages.extend(bodies)
            for sent, page in zip(batch, bodies, strict=True):
                more, last = candles_more(page)
                if more and last is not None:
                    nxt = last + step
                    if nxt // 1000 <= sent.params["to"]:
                        pending.insert(
                            0, Call(CANDLES, {"from": nxt // 1000, "to": sent.params["to"]}, path)
                        )
            bar.update(len(batch))
    finally:
        bar.close()
    frame = between(frames.candles(pages), first, end)
    frame.attrs.update(symbol=label, resolution=resolution, tick_type=tick_type)
    if label != name:
        frame.attrs["source_symbol"] = name
    if since is not None:
        report_late_start(frame, first, step, f"{label} {resolution} {tick_type} candles")
    return frame


def report_late_start(frame: pd.DataFrame, start_ms: int, step_ms: int, what: str) -> None:
    """Say so when a time series starts at least one ``step_ms`` after ``start_ms``.

    The exchange keeps a limited depth of history: a frame asked for from
    ``start_ms`` may begin later, or be empty. Then ``frame.attrs["data_start"]``
    is set to the first time with data (``NaT`` for an empty frame) and a
    :class:`~kfresearch.errors.DataGapWarning` names both times. A frame that
    starts on time is left untouched.

    >>> import pandas as pd, warnings
    >>> f = pd.DataFrame({"x": [1.0]}, index=pd.DatetimeIndex(["2026-01-02"], tz="UTC"))
    >>> with warnings.catch_warnings(record=True):
    ...     report_late_start(f, 1767225600000, 60_000, "candles")  # from 2026-01-01
    >>> f.attrs["data_start"]
    Timestamp('2026-01-02 00:00:00+0000', tz='UTC')
    """
    first = frame.index[0] if len(frame) else pd.NaT
    asked = pd.Timestamp(start_ms, unit="ms", tz="UTC")
    if len(frame) and first < asked + pd.Timedelta(milliseconds=step_ms):
        return
    frame.attrs["data_start"] = first
    where = (
        f"its data starts at {first:%Y-%m-%d %H:%M} UTC"
        if len(frame)
        else "it has no data in the range"
    )
    warnings.warn(
        DataGapWarning(
            f"{what}: asked from {asked:%Y-%m-%d %H:%M} UTC (since), but {where}; "
            "frame.attrs['data_start'] holds the first time with data"
        ),
        stacklevel=2,
    )


def plan_history(
    endpoint: Endpoint,
    build: Callable[..., pd.DataFrame],
    since: TimeLike | None,
    until: TimeLike | None,
    now_ms: int,
    progress: bool,
    *,
    path_params: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    default_since: str = "1d",
    label: str = "history",
) -> Plan[pd.DataFrame]:
    """Every element of an event-store endpoint in ``[since, until)``, oldest first.

    The first page is asked for the whole range. When more follow, the time
    its elements covered says how dense the listing is: the rest of the range
    is cut into sub-ranges of about three quarters of a page each (at most
    :data:`SPLIT_MAX`), which are paged side by side, :data:`CONCURRENCY` at a
    time, each following its own ``continuationToken`` (same ``sort``). The
    pages are joined in time order; the first sub-range starts at the first
    page's last time, so elements that share that time are read whole again,
    and the frame's de-duplication by uid removes the repeats. The frame is
    the one serial paging gives. ``build`` takes the pages and their ``sort``.

    Each page is read as it arrives (:func:`kfresearch.frames.paged.page_reader`:
    for trades, decoded into its columns and its bytes let go), so a download
    holds the frame's columns and the pages of one batch, not every page.
    """
    start, end = time_range(since, until, now_ms, default_since=default_since)
    params = {"since": start, "before": end, "sort": "asc", "count": HISTORY_PAGE, **(extra or {})}
    path = path_params or {}
    bar = Progress(progress, label)
    reader = page_reader(build, sort="asc")
    parts: list[Any] = []  # the pages read so far, oldest first

    def so_far() -> pd.DataFrame:
        return reader.build(iter(parts))

    try:
        body = (yield from _guarded(so_far, [Call(endpoint, dict(params), path)]))[0]
        bar.update()
        first = history_page(body)
        parts.append(reader.read(body))
        del body
        ranges = _sub_ranges(start, end, first)
        if ranges:
            yield from _chains(endpoint, params, path, ranges, parts, reader, bar)
        else:
            token = first.token
            while token:
                params["continuation_token"] = token
                body = (yield from _guarded(so_far, [Call(endpoint, dict(params), path)]))[0]
                bar.update()
                token = page_token(body)
                parts.append(reader.read(body))
                del body
    finally:
        bar.close()
    return reader.build(_handed_over(parts))


def _handed_over(parts: list[Any]) -> Iterator[Any]:
    """``parts`` oldest first, each dropped from the list as it is handed over (the builder
    then holds the only reference, and can let it go)."""
    parts.reverse()
    while parts:
        yield parts.pop()


#: Sub-ranges one history download is cut into, at most. More in flight than
#: :data:`CONCURRENCY` keeps the slots busy when the density varies; each costs
#: about half a page more, so not many more.
SPLIT_MAX = 8 * CONCURRENCY


def _sub_ranges(start: int, end: int, first: HistoryPage) -> list[tuple[int, int]]:
    """``[a, b)`` ranges (epoch ms) for the rest of a listing whose first page is ``first``;
    none when one more page likely ends it (then its token is followed)."""
    if not first.token or first.last_ms is None or first.size == 0:
        return []
    reached = max(start, min(first.last_ms, end - 1))
    left = end - reached
    per_ms = first.size / max(1, reached - start)
    pages_left = left * per_ms / HISTORY_PAGE
    if pages_left <= 1:
        return []
    count = min(SPLIT_MAX, math.ceil(pages_left * 4 / 3), left)
    edges = [reached + left * i // count for i in range(count + 1)]
    return [(a, b) for a, b in itertools.pairwise(edges) if a < b]


def _chains(
    endpoint: Endpoint,
    params: dict[str, Any],
    path_params: dict[str, str],
    ranges: list[tuple[int, int]],
    parts: list[Any],
    reader: PageReader,
    bar: Progress,
) -> Generator[list[Call], list[Any], None]:
    """Page every range of ``ranges`` by its continuation token, ``CONCURRENCY`` calls at a
    time, reading each page as it arrives; add the read pages to ``parts`` in range order.
    On failure the frame of ``parts`` and the pages so far is attached to the error."""
    done: list[list[Any]] = [[] for _ in ranges]
    waiting = deque(range(len(ranges)))
    tokens: dict[int, str | None] = {}  # range in flight -> token of its next page
    while waiting or tokens:
        while waiting and len(tokens) < CONCURRENCY:
            tokens[waiting.popleft()] = None
        order = list(tokens)
        batch = []
        for i in order:
            since, until = ranges[i]
            query = {**params, "since": since, "before": until}
            if tokens[i]:
                query["continuation_token"] = tokens[i]
            batch.append(Call(endpoint, query, path_params))
        try:
            bodies = yield batch
        except KFError as exc:
            exc.partial = reader.build(iter(parts + [page for pages in done for page in pages]))
            raise
        for i in order:
            body = bodies.pop(0)
            token = page_token(body)
            done[i].append(reader.read(body))
            del body
            if token:
                tokens[i] = token
            else:
                del tokens[i]
        bar.update(len(batch))
    parts.extend(page for pages in done for page in pages)


def plan_trades(
    symbol: str,
    since: TimeLike | None,
    until: TimeLike | None,
    now_ms: int,
    progress: bool,
    instruments_body: Any,
) -> Plan[pd.DataFrame]:
    """Public executions of ``symbol`` in ``[since, until)`` from the market history."""
    time_range(since, until, now_ms, default_since="1h")
    name = yield from resolve_symbol(symbol, instruments_body)
    frame = yield from plan_history(
        MARKET_EXECUTIONS,
        frames.trades,
        since,
        until,
        now_ms,
        progress,
        path_params={"symbol": name},
        default_since="1h",
        label=f"{name} trades",
    )
    frame.attrs["symbol"] = name
    return frame


def plan_funding_rates(
    symbol: str,
    since: TimeLike | None,
    until: TimeLike | None,
    now_ms: int,
    instruments_body: Any,
) -> Plan[pd.DataFrame]:
    """Hourly funding of a perpetual in ``[since, until)``; dated futures have none."""
    start, end = time_range(since, until, now_ms, default_since="30d")
    if kind(symbol) == "index":
        raise ValidationError(
            "symbol", symbol, f"{symbol} is an index: only perpetual contracts pay funding"
        )
    body = yield from instruments_of(instruments_body)
    name = check_symbol(symbol, [str(r["symbol"]) for r in _rows(body)])
    row = next(r for r in _rows(body) if str(r["symbol"]) == name)
    if row.get("lastTradingTime"):
        parts = split_symbol(name)
        perpetual = f"PF_{parts.base}{parts.quote}" if parts else "a PF_ perpetual"
        raise ValidationError(
            "symbol",
            symbol,
            f"{name} is a dated future: dated futures pay no funding (their carry is the "
            f"basis, see kf.term_structure()); funding rates are for perpetuals such as "
            f"{perpetual}",
        )
    body = (yield [Call(HISTORICAL_FUNDING_RATES, {"symbol": name})])[0]
    frame = between(frames.funding_rates(body, symbol=name), start, end)
    frame.attrs["symbol"] = name
    return frame


def plan_term_structure(base: str, now_ms: int) -> Plan[pd.DataFrame]:
    """The perpetual and dated contracts of ``base`` (``"XBT"``; ``"BTC"`` means XBT)."""
    if not isinstance(base, str) or not base.strip():
        raise ValidationError("base", base, "base must be a currency code like 'XBT' or 'ETH'")
    tickers, instruments = yield [Call(TICKERS), Call(INSTRUMENTS)]
    frame = frames.term_structure(tickers, instruments, now=now_ms)
    bases = {
        parts.base
        for symbol in frame["symbol"]
        if (parts := split_symbol(symbol)) is not None and kind(symbol) in ("linear", "inverse")
    }
    wanted = base.strip().upper()
    code = check_name("XBT" if wanted == "BTC" else wanted, bases, "base", "'XBT' or 'ETH'")
    keep = [
        (parts := split_symbol(symbol)) is not None and parts.base == code
        for symbol in frame["symbol"]
    ]
    return frame[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- account data


def plan_accounts(instruments_body: Any) -> Plan[pd.DataFrame]:
    """Wallets, with each margin wallet's fee tier and maker/taker rates.

    The fee schedule endpoints are deprecated (reference §0): when they do not
    answer (or the protocol has none: the Unified WebSocket), the wallets come
    without fee rates (NaN) rather than not at all.
    """
    # the fee schedules first: where they do not exist (the Unified WebSocket) the batch
    # fails before anything is sent
    calls = [Call(FEESCHEDULES), Call(FEESCHEDULE_VOLUMES), Call(ACCOUNTS)]
    if instruments_body is None:
        calls.append(Call(INSTRUMENTS))
    try:
        bodies = yield calls
    except (APIError, UnsupportedCallError):
        return frames.accounts((yield [Call(ACCOUNTS)])[0])
    instruments = bodies[3] if len(bodies) > 3 else instruments_body
    return frames.accounts(bodies[2], bodies[0], bodies[1], instruments)


def plan_account_log(
    since: TimeLike | None,
    until: TimeLike | None,
    now_ms: int,
    progress: bool,
    info: str | None,
) -> Plan[pd.DataFrame]:
    """Account-log entries in ``[since, until)``, paged by entry id (reference §4.25)."""
    start, end = time_range(since, until, now_ms, default_since="30d")
    params: dict[str, Any] = {"since": start, "before": end, "sort": "asc", "count": HISTORY_PAGE}
    if info:
        params["info"] = info
    bar = Progress(progress, "account log")
    pages: list[Any] = []
    try:
        while True:
            pages.extend(
                (yield from _guarded(
                    lambda: frames.account_log(pages), [Call(ACCOUNT_LOG, dict(params))]
                ))
            )
            bar.update()
            logs = pages[-1].get("logs") or []
            if len(logs) < HISTORY_PAGE:
                break
            params["from"] = max(int(entry["id"]) for entry in logs) + 1
    finally:
        bar.close()
    return frames.account_log(pages)


def plan_fills(since: TimeLike | None, now_ms: int, progress: bool) -> Plan[pd.DataFrame]:
    """Fills since ``since`` (default: the last 100), newest pages first via ``lastFillTime``.

    ``lastFillTime`` returns fills strictly before it, and a page of 100 may end
    inside a group of fills that share a time (one order walking the book), so
    each next page asks from just after the page's oldest time and the repeats
    are dropped by ``fill_id``: no fill of a split group is lost. Only a group
    of more than 100 fills in one millisecond is stepped over.
    """
    start = _ms("since", since, now_ms) if since is not None else None
    pages: list[Any] = []
    pages.extend((yield from _guarded(lambda: frames.fills(pages), [Call(FILLS)])))
    if start is None:
        return frames.fills(pages)
    bar = Progress(progress, "fills")
    before: int | None = None
    try:
        while True:
            rows = pages[-1].get("fills") or []
            if len(rows) < FILLS_PAGE:
                break
            times = pd.to_datetime([r["fillTime"] for r in rows], utc=True, format="ISO8601")
            oldest = int(min(times).value // 1_000_000)
            if oldest <= start:
                break
            # from just after the oldest instant (its group may go on), unless the last page
            # asked exactly that: then the page was all one instant, so step past it. Either
            # way ``before`` falls at every page, so the walk ends.
            before = oldest + 1 if before != oldest + 1 else oldest
            last = pd.Timestamp(before, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")
            pages.extend(
                (yield from _guarded(
                    lambda: frames.fills(pages), [Call(FILLS, {"lastFillTime": last[:-3] + "Z"})]
                ))
            )
            bar.update()
    finally:
        bar.close()
    return between(frames.fills(pages), start, now_ms + 1)
