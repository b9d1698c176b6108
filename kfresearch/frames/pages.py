"""What a paginated answer says about the next page: the continuation token of a history
page, ``more_candles`` of a charts page. Read from the raw bytes without decoding the rest.

Example
-------
>>> page_token(b'{"elements": [], "continuationToken": "abc"}')
'abc'
>>> candles_more({"candles": [{"time": 60000}], "more_candles": True})
(True, 60000)
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["candles_more", "page_token"]


class _Token(msgspec.Struct):
    continuationToken: str | None = None


class _Time(msgspec.Struct):
    time: int


class _CandleTimes(msgspec.Struct):
    candles: list[_Time]
    more_candles: bool = False


_TOKEN = msgspec.json.Decoder(_Token)
_CANDLE_TIMES = msgspec.json.Decoder(_CandleTimes, strict=False)


def page_token(page: Any) -> str | None:
    """``continuationToken`` of a history page (bytes or decoded), skimming the rest."""
    if isinstance(page, bytes):
        return _TOKEN.decode(page).continuationToken
    return page.get("continuationToken") if isinstance(page, dict) else None


def candles_more(page: Any) -> tuple[bool, int | None]:
    """(``more_candles``, time of the last candle in ms) of a charts answer."""
    if isinstance(page, bytes):
        times = _CANDLE_TIMES.decode(page)
        return times.more_candles, times.candles[-1].time if times.candles else None
    rows = page.get("candles") or []
    return bool(page.get("more_candles")), int(rows[-1]["time"]) if rows else None
