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
    "BookSnapshot",
    "ChallengeAnswer",
    "Event",
    "Heartbeat",
    "Info",
    "Records",
    "Refused",
    "Unknown",
]


@dataclass(frozen=True, slots=True)
class Info:
    """The exchange greets a new connection (``{"event": "info", "version": 1}``)."""

    version: int | None


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
    """The exchange's clock (epoch ms)."""

    time_ms: int


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
    | Records
    | Unknown
)
