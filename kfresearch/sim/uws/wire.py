"""How the simulator's Unified WebSocket writes numbers and times.

Reference kraken-unified-ws.md §6: the wire carries prices and quantities as
JSON numbers whose exact text matters (the book checksum is taken of it), and
sometimes in scientific notation (``5.1e-05``). The simulator's choice:

* **prices** with a fixed number of decimals, those of the contract's tick
  and at least one: ``97000.0`` (tick 1), ``2920.0`` (tick 0.1),
  ``0.150000`` (tick 0.000001). So whole prices carry a trailing ``.0`` and
  fine ticks carry trailing zeros, which a client that re-formats floats
  gets wrong;
* **quantities** in the shortest text that reads back as the same float
  (Python's ``repr``): ``1.5``, ``25000.0``, and **scientific notation below
  1e-4**, like Kraken's ``5.1e-05``;
* other numbers (changes, fees, margins) as plain JSON floats;
* times RFC 3339 in UTC with microseconds: ``2026-11-20T10:00:01.123000Z``.

The texts go into the JSON unchanged (:class:`orjson.Fragment`).

Example
-------
>>> price_text(97000.0, 0), price_text(0.15, 6), qty_text(0.000051), qty_text(25000.0)
('97000.0', '0.150000', '5.1e-05', '25000.0')
>>> rfc3339(1793491200123)
'2026-11-01T00:00:00.123000Z'
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["encode", "price", "price_text", "qty", "qty_text", "rfc3339", "rfc3339_us"]


def price_text(value: float, decimals: int) -> str:
    """A price as the wire writes it: ``max(decimals, 1)`` decimals, trailing zeros kept."""
    if not math.isfinite(value):
        raise ValueError(f"no wire text for the price {value!r}")
    text = f"{value:.{max(decimals, 1)}f}"
    return text[1:] if text.startswith("-0") and float(text) == 0 else text


def qty_text(value: float) -> str:
    """A quantity as the wire writes it: shortest round-trip text, scientific below 1e-4."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"no wire text for the quantity {value!r}")
    return repr(abs(number) if number == 0 else number)


def price(value: float, decimals: int) -> orjson.Fragment:
    """:func:`price_text` as a JSON number."""
    return orjson.Fragment(price_text(value, decimals))


def qty(value: float) -> orjson.Fragment:
    """:func:`qty_text` as a JSON number."""
    return orjson.Fragment(qty_text(value))


def rfc3339(ms: int | float) -> str:
    """Epoch milliseconds as RFC 3339 UTC with six fractional digits."""
    return rfc3339_us(int(ms) * 1000)


def rfc3339_us(us: int) -> str:
    """Epoch microseconds as RFC 3339 UTC with six fractional digits."""
    dt = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{us % 1_000_000:06d}Z"


def encode(message: dict[str, Any]) -> str:
    """One message as the text frame sent."""
    return orjson.dumps(message).decode()
