"""What a wire protocol turns each incoming message into: protocol-neutral events.

A :class:`~kfresearch.stream.protocol.WireProtocol` parses the exchange's text
into exactly one of these; the rest of the stream (books, live tables,
subscriptions, callbacks) only ever sees them, so a second protocol (the
Unified WebSocket) plugs in by producing the same events.

Feed names are the stream's own (:data:`~kfresearch.stream.protocol.FEEDS`),
whatever the wire calls them. Records (:class:`Records`) are in the
vocabulary of the REST bodies that :mod:`kfresearch.frames` reads, so the live
tables build their frames with the same functions as the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "BookDelta",
    "BookLevels",
    "BookSnapshot",
    "ChallengeAnswer",
    "Event",
    "Heartbeat",
    "Info",
    "Many",
    "Records",
    "Refused",
    "Unknown",
]


@dataclass(frozen=True, slots=True)
class Info:
    """The exchange greets a new connection (``{"event": "info", "version": 1}``; on the
    Unified WebSocket its ``status`` message, whose ``system`` says ``online``,
    ``maintenance``, ``cancel_only`` or ``post_only``)."""

    version: int | str | None
    system: str | None = None


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """The challenge to sign for private feeds."""

    challenge: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A (un)subscription was accepted: ``action`` is ``"subscribe"`` or ``"unsubscribe"``."""

    action: str
    feed: str
    products: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """A request was refused.

    ``action``/``feed``/``products`` are set when the exchange says which
    request it refuses (``subscribed_failed``); a bare error (``{"event":
    "error", "message": "Invalid product id"}``) leaves them empty and
    belongs to the oldest request still waiting for an answer.
    """

    message: str
    action: str | None = None
    feed: str | None = None
    products: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The exchange is alive; ``time_ms`` is its clock (epoch ms) when the heartbeat says
    (v1), None when it carries no time (the Unified WebSocket's)."""

    time_ms: int | None


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A whole book: ``bids``/``asks`` as ``(price, size)`` pairs, in any order."""

    symbol: str
    seq: int | None
    time_ms: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """One level's new absolute size (``size`` 0 removes the level)."""

    symbol: str
    seq: int | None
    time_ms: int
    bid: bool
    price: float
    size: float


@dataclass(frozen=True, slots=True)
class BookLevels:
    """Book levels with their exact wire text and the exchange's checksum (the Unified
    WebSocket's ``book``, reference kraken-unified-ws.md §6).

    ``bids``/``asks`` are ``(price_text, qty_text)`` pairs exactly as sent; a
    quantity with no non-zero digit deletes its level. ``snapshot`` replaces
    the book. ``checksum`` is the CRC-32 of the book after applying this
    message (None: the message carried none, which is malformed).
    """

    symbol: str
    snapshot: bool
    time_ms: int | None
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    checksum: int | None


@dataclass(frozen=True, slots=True)
class Records:
    """Rows of a table feed (tickers, trades, orders, fills, positions, balances, log).

    Attributes
    ----------
    feed : str
        The stream's feed name.
    symbol : str or None
        For per-product feeds (ticker, trade).
    snapshot : bool
        The first message of a subscription (replaces, or seeds, the table).
    records : list of dict
        Rows in the REST vocabulary of the feed's frame function.
    time_ms : int or None
        The exchange's time of the message, when it says.
    removed : tuple of str
        Keys that left the table (orders filled or cancelled).
    reason : str or None
        Why (the exchange's ``reason``, e.g. ``"full_fill"``).
    raw : mapping
        The message as the exchange sent it.
    """

    feed: str
    symbol: str | None
    snapshot: bool
    records: list[dict[str, Any]]
    time_ms: int | None = None
    removed: tuple[str, ...] = ()
    reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Many:
    """Several events from one message (a Unified WebSocket ``executions`` message holds
    order changes and fills). ``optional`` feeds' records are dropped quietly when
    that feed is not subscribed (one channel feeds two of the stream's feeds)."""

    events: tuple[Event, ...]
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message the protocol does not understand (kept, counted, not acted on)."""

    raw: Any


Event = (
    Info
    | ChallengeAnswer
    | Answer
    | Refused
    | Heartbeat
    | BookSnapshot
    | BookDelta
    | BookLevels
    | Records
    | Many
    | Unknown
)
