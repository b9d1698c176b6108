"""The small interface a wire protocol implements, and the stream's feed names.

The stream speaks to the exchange only through a :class:`WireProtocol`:
where to connect, the text of each request, and the parse of each incoming
message into one :mod:`~kfresearch.stream.events` event. Kraken's WebSocket
v1 is :class:`kfresearch.stream.v1.KrakenV1` (until 2027-03-01); the Unified
WebSocket is :class:`kfresearch.stream.uws.KrakenUWS`.

Feed names (:data:`FEEDS`) are the stream's, used by ``subscribe``, ``on``
and ``messages``; :func:`feed_name` also accepts the singular and wire
spellings users reach for (``"fill"``, ``"orders"``, ``"notifications_auth"``).
"""

from __future__ import annotations

from typing import Protocol

from kfresearch.credentials import Secret
from kfresearch.environments import Environment
from kfresearch.errors import ValidationError
from kfresearch.stream.connection import Connector
from kfresearch.stream.events import Event

__all__ = [
    "FEEDS",
    "PRIVATE_FEEDS",
    "PUBLIC_FEEDS",
    "SNAPSHOT_FEEDS",
    "WireProtocol",
    "feed_name",
]

#: feeds per product (``subscribe(feed, ["PF_XBTUSD", …])``)
PUBLIC_FEEDS = frozenset({"book", "trade", "ticker", "ticker_lite", "heartbeat"})
#: feeds of the account behind the key (``subscribe(feed)``; need credentials)
PRIVATE_FEEDS = frozenset(
    {"open_orders", "fills", "open_positions", "balances", "account_log", "notifications"}
)
FEEDS = PUBLIC_FEEDS | PRIVATE_FEEDS
#: feeds whose first message is a snapshot a subscription waits for
SNAPSHOT_FEEDS = frozenset({"book", "trade"}) | PRIVATE_FEEDS

_ALIASES = {
    "trades": "trade",
    "tickers": "ticker",
    "books": "book",
    "orderbook": "book",
    "order": "open_orders",
    "orders": "open_orders",
    "fill": "fills",
    "position": "open_positions",
    "positions": "open_positions",
    "balance": "balances",
    "accounts": "balances",
    "log": "account_log",
    "notification": "notifications",
    "notifications_auth": "notifications",
}


def feed_name(name: str) -> str:
    """The stream's name for ``name`` (case-insensitive; singular and wire spellings too).

    Raises
    ------
    ValidationError
        An unknown feed; the message lists the known ones.

    Examples
    --------
    >>> feed_name("fill"), feed_name("Book"), feed_name("notifications_auth")
    ('fills', 'book', 'notifications')
    """
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FEEDS:
        raise ValidationError(
            "feed", name, f"unknown feed {name!r}: use one of {', '.join(sorted(FEEDS))}"
        )
    return key


class WireProtocol(Protocol):
    """How one WebSocket API is spoken: requests out, events in.

    Implementations are stateless apart from configuration: the stream keeps
    the connection, the subscriptions and the books.
    """

    #: short name shown in reprs and stats (``"v1"``)
    name: str
    #: levels a book subscription keeps (None: the exchange's; books checked by ``seq``)
    book_depth: int | None

    def url(self, env: Environment) -> str:
        """The WebSocket URL of ``env``."""
        ...

    def connector(self, env: Environment, inner: Connector) -> Connector:
        """How to connect: ``inner`` (network or in-process), or a wrapper around it."""
        ...

    def unsupported(self, feed: str) -> str | None:
        """Why ``feed`` cannot be had on this protocol (None: it can)."""
        ...

    def challenge_request(self, api_key: str) -> str | None:
        """The text that asks for a challenge, or None when the protocol needs none."""
        ...

    def sign(self, secret: Secret, challenge: str) -> str:
        """The signed challenge."""
        ...

    async def token(self) -> str | None:
        """A token for private requests (protocols without a challenge), or None."""
        ...

    def auth_refused(self, message: str) -> bool:
        """Whether a refusal means the authentication was refused (the stream then gets a
        fresh one and asks again)."""
        ...

    def subscribe(
        self, feed: str, products: tuple[str, ...], auth: tuple[str, str, str] | None
    ) -> str:
        """The text of a subscribe request; ``auth`` is (api key, challenge, signature)."""
        ...

    def unsubscribe(
        self, feed: str, products: tuple[str, ...], auth: tuple[str, str, str] | None
    ) -> str:
        """The text of an unsubscribe request."""
        ...

    def parse(self, text: str | bytes) -> Event:
        """One incoming message as one event (:class:`~kfresearch.stream.events.Unknown`
        when not understood; never raises)."""
        ...
