"""What each Client method asks the exchange, as plans that do no I/O.

A *plan* is a generator: it validates the arguments (raising
:class:`~kfresearch.errors.ValidationError` before anything is sent), yields
batches of :class:`Call` (requests that may run concurrently), receives their
decoded bodies, and returns the DataFrame. :class:`~kfresearch.Client` runs a
batch one call after another; :class:`~kfresearch.AsyncClient` runs it with
``asyncio.gather`` (within the rate budget the transport enforces). So both
clients share every decision, and pagination is written once.

If a call fails half-way through a download, the plan attaches the rows
fetched so far to the exception as ``partial`` and lets it propagate.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kfresearch import frames
from kfresearch.errors import KFError, ValidationError
from kfresearch.frames._decode import candles_more, page_token
from kfresearch.timeparse import to_epoch_ms

__all__ = [
    "CANDLE_PAGE",
    "RESOLUTIONS",
    "Call",
    "Plan",
    "Progress",
    "between",
    "check_symbol",
    "plan_account_log",
    "plan_candles",
    "plan_fills",
    "plan_history",
    "plan_single",
    "plan_trades",
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
CONCURRENCY = 4  # pages an async download keeps in flight


@dataclass(frozen=True)
class Call:
    """One request: a name in :data:`kfresearch.endpoints.ENDPOINTS` and its parameters."""

    endpoint: str
    params: dict[str, Any] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)


Plan = Generator[list[Call], list[Any], pd.DataFrame]


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


def check_symbol(symbol: Any, known: Iterable[str], field_name: str = "symbol") -> str:
    """``symbol`` in the exchange's spelling; unknown ones raise with the closest valid ones.

    >>> check_symbol("pf_xbtusd", ["PF_XBTUSD", "PI_XBTUSD"])
    'PF_XBTUSD'
    """
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValidationError(field_name, symbol, f"{field_name} must be a symbol like 'PF_XBTUSD'")
    upper = {name.upper(): name for name in known}
    wanted = symbol.strip().upper()
    if wanted in upper:
        return upper[wanted]
    close = difflib.get_close_matches(wanted, list(upper), n=3, cutoff=0.5)
    hint = (
        f"did you mean {', '.join(upper[c] for c in close)}?" if close else "see kf.instruments()"
    )
    raise ValidationError(field_name, symbol, f"unknown {field_name} {symbol!r}: {hint}")


def resolve_symbol(
    symbol: Any, instruments_body: Any, field_name: str = "symbol"
) -> Generator[list[Call], list[Any], str]:
    """Check ``symbol`` against the instruments (fetched once per client when not cached)."""
    body = instruments_body
    if body is None:
        body = (yield [Call("instruments")])[0]
    return check_symbol(symbol, [i["symbol"] for i in body.get("instruments", [])], field_name)


def _ms(name: str, value: Any, now_ms: int) -> int:
    try:
        return to_epoch_ms(value, now=now_ms)
    except ValueError as exc:
        raise ValidationError(name, value, f"{name}: {exc}") from None


def between(frame: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Rows of a time-indexed frame with ``start_ms <= time < end_ms``."""
    start = pd.Timestamp(start_ms, unit="ms", tz="UTC")
    end = pd.Timestamp(end_ms, unit="ms", tz="UTC")
    return frame[(frame.index >= start) & (frame.index < end)]


def time_range(since: Any, until: Any, now_ms: int, *, default_since: Any) -> tuple[int, int]:
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


def plan_single(calls: Sequence[Call], build: Callable[..., pd.DataFrame]) -> Plan:
    """Send ``calls`` together and build the frame from their bodies, in order."""
    bodies = yield list(calls)
    return build(*bodies)


def _guarded(
    pages: list[Any], build: Callable[[list[Any]], pd.DataFrame], batch: list[Call]
) -> Plan:
    """Yield ``batch``; on failure attach the frame of ``pages`` so far to the error."""
    try:
        bodies = yield batch
    except KFError as exc:
        exc.partial = build(pages)
        raise
    pages.extend(bodies)
    return pd.DataFrame()


def plan_candles(
    symbol: str,
    resolution: str,
    since: Any,
    until: Any,
    tick_type: str,
    now_ms: int,
    progress: bool,
) -> Plan:
    """Candles in ``[since, until)``: 2,000-candle windows, fetched ``CONCURRENCY`` at a time.

    A window whose answer says ``more_candles`` (a server with smaller pages)
    is continued from its last candle. The result is continuous and sorted
    with one row per bucket.
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
    first = start // step * step
    windows = [(t, min(t + CANDLE_PAGE * step, end)) for t in range(first, end, CANDLE_PAGE * step)]
    bar = Progress(progress, f"{symbol} {resolution} candles", total=len(windows))
    path = {"tick_type": tick_type, "symbol": symbol, "resolution": resolution}

    def call(a: int, b: int) -> Call:
        # ``to`` is inclusive and in seconds: stop one second before the next window
        return Call("candles", {"from": a // 1000, "to": (b - 1) // 1000}, path)

    pages: list[Any] = []
    pending = [call(a, b) for a, b in windows]
    try:
        while pending:
            batch, pending = pending[:CONCURRENCY], pending[CONCURRENCY:]
            before = len(pages)
            yield from _guarded(pages, frames.candles, batch)
            for sent, body in zip(batch, pages[before:], strict=True):
                more, last = candles_more(body)
                if more and last is not None:
                    nxt = last + step
                    if nxt // 1000 <= sent.params["to"]:
                        pending.insert(
                            0, Call("candles", {"from": nxt // 1000, "to": sent.params["to"]}, path)
                        )
            bar.update(len(batch))
    finally:
        bar.close()
    return between(frames.candles(pages), first, end)


def plan_history(
    endpoint: str,
    build: Callable[..., pd.DataFrame],
    since: Any,
    until: Any,
    now_ms: int,
    progress: bool,
    *,
    path_params: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    default_since: str = "1d",
    label: str = "history",
) -> Plan:
    """Every element of an event-store endpoint in ``[since, until)``, oldest first.

    Pages follow ``continuationToken`` (same ``sort``) until there is none.
    The progress bar measures time covered. ``build`` takes the pages and
    their ``sort`` (which orders rows that share a time).
    """
    start, end = time_range(since, until, now_ms, default_since=default_since)
    params = {"since": start, "before": end, "sort": "asc", "count": HISTORY_PAGE, **(extra or {})}
    bar = Progress(progress, label)
    pages: list[Any] = []
    build = functools.partial(build, sort="asc")
    try:
        while True:
            yield from _guarded(pages, build, [Call(endpoint, dict(params), path_params or {})])
            bar.update()
            token = page_token(pages[-1])
            if not token:
                break
            params["continuation_token"] = token
    finally:
        bar.close()
    return build(pages)


def plan_trades(symbol: str, since: Any, until: Any, now_ms: int, progress: bool) -> Plan:
    """Public executions of ``symbol`` in ``[since, until)`` from the market history."""
    return plan_history(
        "market_executions",
        frames.trades,
        since,
        until,
        now_ms,
        progress,
        path_params={"symbol": symbol},
        default_since="1h",
        label=f"{symbol} trades",
    )


def plan_account_log(since: Any, until: Any, now_ms: int, progress: bool, info: str | None) -> Plan:
    """Account-log entries in ``[since, until)``, paged by entry id (reference §4.25)."""
    start, end = time_range(since, until, now_ms, default_since="30d")
    params: dict[str, Any] = {"since": start, "before": end, "sort": "asc", "count": HISTORY_PAGE}
    if info:
        params["info"] = info
    bar = Progress(progress, "account log")
    pages: list[Any] = []
    try:
        while True:
            yield from _guarded(pages, frames.account_log, [Call("account_log", dict(params))])
            bar.update()
            logs = pages[-1].get("logs") or []
            if len(logs) < HISTORY_PAGE:
                break
            params["from"] = max(int(entry["id"]) for entry in logs) + 1
    finally:
        bar.close()
    return frames.account_log(pages)


FILLS_PAGE = 100  # the fills endpoint answers at most 100 fills (reference §4.19)


def plan_fills(since: Any, now_ms: int, progress: bool) -> Plan:
    """Fills since ``since`` (default: the last 100), newest pages first via ``lastFillTime``."""
    pages: list[Any] = []
    yield from _guarded(pages, frames.fills, [Call("fills")])
    if since is None:
        return frames.fills(pages)
    start = _ms("since", since, now_ms)
    bar = Progress(progress, "fills")
    try:
        while True:
            rows = pages[-1].get("fills") or []
            if len(rows) < FILLS_PAGE:
                break
            oldest = min(pd.to_datetime([r["fillTime"] for r in rows], utc=True, format="ISO8601"))
            if oldest.value // 1_000_000 <= start:
                break
            last = oldest.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            yield from _guarded(pages, frames.fills, [Call("fills", {"lastFillTime": last})])
            bar.update()
    finally:
        bar.close()
    return between(frames.fills(pages), start, now_ms + 1)
