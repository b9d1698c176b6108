"""What a paginated answer says about the next page: the continuation token of a history
page (with how many elements it holds and the time of its last), ``more_candles`` of a
charts page. Read from the raw bytes without decoding the rest.

Example
-------
>>> page_token(b'{"elements": [], "continuationToken": "abc"}')
'abc'
>>> history_page(b'{"elements": [{"timestamp": "1000"}, {"timestamp": 1500}], "len": "2"}')
HistoryPage(token=None, size=2, last_ms=1500)
>>> candles_more({"candles": [{"time": 60000}], "more_candles": True})
(True, 60000)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

__all__ = ["HistoryPage", "candles_more", "history_page", "page_token"]


class _Token(msgspec.Struct):
    continuationToken: str | None = None


class _Stamp(msgspec.Struct):
    timestamp: int | None = None


class _Stamps(msgspec.Struct):
    elements: list[_Stamp] = msgspec.field(default_factory=list)
    continuationToken: str | None = None


class _Time(msgspec.Struct):
    time: int


class _CandleTimes(msgspec.Struct):
    candles: list[_Time]
    more_candles: bool = False


_RAW = (bytes, bytearray, memoryview)  # a response's bytes, however held
_TOKEN = msgspec.json.Decoder(_Token)
_STAMPS = msgspec.json.Decoder(_Stamps, strict=False)  # "1792627215194" reads as an int
_CANDLE_TIMES = msgspec.json.Decoder(_CandleTimes, strict=False)


def page_token(page: Any) -> str | None:
    """``continuationToken`` of a history page (bytes or decoded), skimming the rest."""
    if isinstance(page, _RAW):
        return _TOKEN.decode(page).continuationToken
    return page.get("continuationToken") if isinstance(page, dict) else None


class HistoryPage(NamedTuple):
    """What a history page says about the rest of its listing."""

    token: str | None  #: ``continuationToken``: more elements follow
    size: int  #: elements on the page
    last_ms: int | None  #: time of the last element (epoch ms), None for an empty page


def history_page(page: Any) -> HistoryPage:
    """The :class:`HistoryPage` of a history answer (bytes or decoded)."""
    if isinstance(page, _RAW):
        stamps = _STAMPS.decode(page)
        last = stamps.elements[-1].timestamp if stamps.elements else None
        return HistoryPage(stamps.continuationToken, len(stamps.elements), last)
    elements = (page.get("elements") if isinstance(page, dict) else None) or []
    last_stamp = elements[-1].get("timestamp") if elements else None
    return HistoryPage(
        page_token(page), len(elements), int(last_stamp) if last_stamp is not None else None
    )


def candles_more(page: Any) -> tuple[bool, int | None]:
    """(``more_candles``, time of the last candle in ms) of a charts answer."""
    if isinstance(page, _RAW):
        times = _CANDLE_TIMES.decode(page)
        return times.more_candles, times.candles[-1].time if times.candles else None
    rows = page.get("candles") or []
    return bool(page.get("more_candles")), int(rows[-1]["time"]) if rows else None
