"""What a trace keeps: one :class:`HttpRecord` per request sent, one :class:`WsRecord` per
WebSocket message, with the public key shortened everywhere and no secret anywhere.

The secret itself never reaches a record: a request carries only the key, the
nonce and the signature (``Authent``), a WebSocket message only the key and the
signed challenge. The key is shortened (``DIK2…``) in headers and in message
texts; signatures are shown, because they are what a learner compares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from kfresearch.credentials import mask

__all__ = ["HttpRecord", "WsRecord", "masked_text", "shown_headers"]

#: headers whose value is the public key: shortened like every repr of a key
_KEY_HEADERS = frozenset({"apikey"})
#: message fields that carry a key or a session token (UWS ``token``): shortened in records
_KEY_FIELDS = re.compile(r'("(?:api_key|token)"\s*:\s*")([^"]*)(")')


def shown_headers(headers: Any) -> tuple[tuple[str, str], ...]:
    """``(name, value)`` pairs as sent (names in their own case), the key shortened.

    >>> shown_headers({"APIKey": "DIK2abcdef", "Nonce": "1"})
    (('APIKey', 'DIK2…'), ('Nonce', '1'))
    """
    raw = getattr(headers, "raw", None)
    pairs: Iterable[tuple[str, str]]
    if raw is not None:
        pairs = ((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)
    else:
        pairs = dict(headers).items() if isinstance(headers, Mapping) else headers
    return tuple(
        (name, mask(value) if name.lower() in _KEY_HEADERS else value) for name, value in pairs
    )


def masked_text(text: str) -> str:
    """A WebSocket message with its ``api_key`` (v1) and ``token`` (Unified WebSocket,
    a session credential for 15 minutes) shortened.

    >>> masked_text('{"event":"challenge","api_key":"DIK2abcdef"}')
    '{"event":"challenge","api_key":"DIK2…"}'
    >>> masked_text('{"method":"subscribe","params":{"channel":"executions","token":"G38a1t"}}')
    '{"method":"subscribe","params":{"channel":"executions","token":"G38a…"}}'
    """
    if '"api_key"' not in text and '"token"' not in text:
        return text
    return _KEY_FIELDS.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)


def _decode(content: bytes | str) -> Any:
    """JSON when it is JSON, else the text (CSV exports, 429 plain text), None when empty."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace") if isinstance(content, bytes) else content


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True, repr=False)
class HttpRecord:
    """One REST request as it went on the wire, and what came back.

    Attributes
    ----------
    env, endpoint : str
        Environment name; ``"METHOD /path"`` of the endpoint table.
    method, url : str
        As sent (the URL with its query string).
    request_headers, response_headers : tuple of (name, value)
        As sent and received; ``APIKey`` shortened, ``Authent`` and ``Nonce`` shown.
    request_body : str
        The form body ("" for GET).
    status : int or None
        HTTP status; None when no response came (see ``failure``).
    response_body : bytes
        The body as received.
    failure : str or None
        The transport error when there was no response (``"ConnectError: …"``).
    sent_at, elapsed : float
        Epoch seconds when sent; seconds until the answer (or the failure).
    pool, cost, pool_before, pool_after, waited
        Rate-limit pool (``"derivatives"``, ``"history"`` or None for free
        requests), the request's cost in that pool's units, the client's
        model of the pool's level before the cost was reserved and after the
        answer, and the seconds the client waited for the pool first.
    attempt : int
        1 for the first try; retries of one call count up.
    """

    env: str
    endpoint: str
    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    status: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes
    failure: str | None
    sent_at: float
    elapsed: float
    pool: str | None
    cost: float
    pool_before: float | None
    pool_after: float | None
    waited: float
    attempt: int

    kind: Literal["http"] = "http"

    # -- derived --------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The URL's path (no query)."""
        return urlsplit(self.url).path

    @property
    def query(self) -> str:
        """The query string as sent, without ``?``."""
        return urlsplit(self.url).query

    @property
    def post_data(self) -> str:
        """What the exchange hashes: the query string, then the body (reference §2.4)."""
        return self.query + self.request_body

    def header(self, name: str, *, response: bool = False) -> str | None:
        """A request (or response) header's shown value, by case-insensitive name."""
        wanted = name.lower()
        headers = self.response_headers if response else self.request_headers
        return next((value for key, value in headers if key.lower() == wanted), None)

    @property
    def signed(self) -> bool:
        """True when the request carried a signature (``Authent``)."""
        return self.header("Authent") is not None

    @property
    def answer(self) -> Any:
        """The decoded answer: JSON as dicts and lists, other bodies as text."""
        return _decode(self.response_body)

    @property
    def error(self) -> str | None:
        """The exchange's error string (``"authenticationError"`` …), the transport
        failure, or None for a success (order rejections are a status in a success)."""
        if self.failure is not None:
            return self.failure.split(":", 1)[0]
        from kfresearch.transport import error_of

        found = error_of(self.answer)
        if found is not None:
            return found[0]
        if self.status is not None and self.status >= 400:
            answer = self.answer
            return answer.strip()[:80] if isinstance(answer, str) else f"HTTP {self.status}"
        return None

    @property
    def result(self) -> str | None:
        """The envelope's ``result`` (``"success"``/``"error"``); None where there is none."""
        answer = self.answer
        if isinstance(answer, dict):
            value = answer.get("result")
            return str(value) if value is not None else None
        return None

    @property
    def time(self) -> datetime:
        """When it was sent (UTC)."""
        return _utc(self.sent_at)

    def curl(
        self,
        *,
        key_var: str = "KFRESEARCH_API_KEY",
        secret_var: str = "KFRESEARCH_API_SECRET",  # noqa: S107 - a variable name
    ) -> str:
        """The same request as a shell command; see :func:`kfresearch.trace.curl.curl`."""
        from kfresearch.trace.curl import curl

        return curl(self, key_var=key_var, secret_var=secret_var)

    def row(self) -> dict[str, Any]:
        """This record as one row of :meth:`kfresearch.trace.Trace.frame`."""
        return {
            "time": self.time,
            "kind": "http",
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.request_body,
            "signed": self.signed,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "pool": self.pool,
            "cost": self.cost,
            "pool_before": self.pool_before,
            "pool_after": self.pool_after,
            "waited_s": self.waited,
            "elapsed_ms": self.elapsed * 1000.0,
            "attempt": self.attempt,
            "bytes": len(self.response_body),
        }

    # -- display --------------------------------------------------------------------
    def _outcome(self) -> str:
        if self.status is None:
            return f"no answer ({self.failure})"
        error = self.error
        return f"{self.status} {error}" if error else f"{self.status} {self.result or 'ok'}"

    def __repr__(self) -> str:
        return f"<HttpRecord {self.method} {self.path} → {self._outcome()}>"

    def __str__(self) -> str:
        """The request and the answer as text (what :meth:`_repr_html_` shows, minus timings)."""
        from kfresearch.trace.render import record_text

        return record_text(self)

    def _repr_html_(self) -> str:
        from kfresearch.trace.render import record_html

        return record_html(self)


@dataclass(frozen=True, repr=False)
class WsRecord:
    """One WebSocket text message, ``sent`` by the client or ``received`` from the exchange.

    ``text`` is the message as it went on the wire with the ``api_key``
    shortened; :attr:`message` decodes it.
    """

    direction: Literal["sent", "received"]
    url: str
    text: str
    sent_at: float

    kind: Literal["ws"] = "ws"

    @property
    def message(self) -> Any:
        """The decoded message (a dict for every v1 message)."""
        return _decode(self.text)

    @property
    def name(self) -> str:
        """``event`` of a v1 request or answer, else ``feed`` of a data message; ``method``
        of a Unified WebSocket request or answer, ``type`` or ``channel`` of its pushes."""
        message = self.message
        if isinstance(message, dict):
            value = (message.get("event") or message.get("feed") or message.get("type")
                     or message.get("method"))  # the Unified WebSocket's requests and answers
            if value is None and "channel" in message:
                value = message["channel"]
            return str(value) if value is not None else ""
        return ""

    @property
    def error(self) -> str | None:
        """The exchange's complaint: an ``error`` event's message or a ``…_failed`` event."""
        message = self.message
        if not isinstance(message, dict):
            return None
        event = str(message.get("event", ""))
        if event == "error":
            return str(message.get("message", "error"))
        return event if event.endswith("_failed") else None

    @property
    def time(self) -> datetime:
        """When it was sent or read (UTC)."""
        return _utc(self.sent_at)

    def row(self) -> dict[str, Any]:
        """This record as one row of :meth:`kfresearch.trace.Trace.frame`."""
        return {
            "time": self.time,
            "kind": "ws",
            "method": "SEND" if self.direction == "sent" else "RECV",
            "path": urlsplit(self.url).path,
            "query": "",
            "body": self.text,
            "signed": '"signed_challenge"' in self.text,
            "status": None,
            "result": self.name,
            "error": self.error,
            "pool": None,
            "cost": 0.0,
            "pool_before": None,
            "pool_after": None,
            "waited_s": 0.0,
            "elapsed_ms": None,
            "attempt": None,
            "bytes": len(self.text.encode("utf-8")),
        }

    def __repr__(self) -> str:
        arrow = "→" if self.direction == "sent" else "←"
        return f"<WsRecord {arrow} {self.name or '?'}>"

    def __str__(self) -> str:
        arrow = "→" if self.direction == "sent" else "←"
        return f"{arrow} {self.url}\n{self.text}"

    def _repr_html_(self) -> str:
        from kfresearch.trace.render import ws_html

        return ws_html(self)
