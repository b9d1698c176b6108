"""The Unified WebSocket's order-book checksum, from the exact wire text of each level.

The rule (reference kraken-unified-ws.md §6, as Kraken's Spot v2 SDK implements
and tests it): CRC-32 (IEEE) over the top 10 asks (lowest first), then the top
10 bids (highest first), of the book after the update is applied and truncated
to the subscribed depth. Each level contributes its price text then its
quantity text, each with every ``.`` removed and leading zeros stripped
(``"0"`` becomes ``""``), taken from the **exact text the exchange sent**,
never re-formatted: ``97000.0`` and ``97000`` give different checksums, and
scientific notation such as ``5.1e-05`` is taken as written (``51e-05``).

Decode the JSON with its number texts kept (``json.loads(raw, parse_float=str,
parse_int=str)`` or ``Decimal``) and hand the texts to these functions. Both
the simulator (which computes what it sends) and the client (which checks
what it received) use this one implementation.

Example
-------
The SDK's test vector:

>>> asks = [("45285.21000000", "1.5"), ("45286.41545719", "53")]
>>> bids = [("45282.11000000", "0.45"), ("45281.01000000", "0.0001")]
>>> checksum_text(asks, bids)
'45285210000001545286415457195345282110000004545281010000001'
>>> book_checksum(asks, bids)
252777935
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

__all__ = ["CHECKSUM_LEVELS", "book_checksum", "checksum_text", "qty_is_zero"]

#: levels per side that the checksum covers
CHECKSUM_LEVELS = 10

Level = tuple[str, str]  # (price text, qty text) exactly as on the wire


def _strip(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def checksum_text(asks: Iterable[Level], bids: Iterable[Level]) -> str:
    """The string the CRC-32 is taken of: top-10 asks, then top-10 bids, stripped.

    Parameters
    ----------
    asks : iterable of (str, str)
        ``(price, qty)`` texts, best (lowest) first; only the first 10 are used.
    bids : iterable of (str, str)
        ``(price, qty)`` texts, best (highest) first; only the first 10 are used.
    """
    parts: list[str] = []
    for side in (asks, bids):
        for count, (price, qty) in enumerate(side):
            if count == CHECKSUM_LEVELS:
                break
            parts.append(_strip(price))
            parts.append(_strip(qty))
    return "".join(parts)


def book_checksum(asks: Iterable[Level], bids: Iterable[Level]) -> int:
    """The book's checksum as the exchange sends it: an unsigned 32-bit integer.

    See :func:`checksum_text` for the arguments.
    """
    return zlib.crc32(checksum_text(asks, bids).encode("ascii")) & 0xFFFFFFFF


def qty_is_zero(text: str) -> bool:
    """Whether a level's quantity text deletes the level: no non-zero digit in its mantissa.

    >>> qty_is_zero("0"), qty_is_zero("0.00000000"), qty_is_zero("5.1e-05")
    (True, True, False)
    """
    mantissa = text.lower().partition("e")[0]
    return not any(c in "123456789" for c in mantissa)

