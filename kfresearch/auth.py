"""Signing requests the exchange's way (reference §2 and §3.2), and nonces.

REST::

    endpointPath = request path with a leading "/derivatives" removed
    message      = postData + nonce + endpointPath
    Authent      = base64(HMAC-SHA-512(base64decode(secret), SHA-256(message)))

``postData`` is exactly what goes on the wire: the query string (without
``?``) followed by the form body. :class:`KrakenAuth` reads both from the
finished :class:`httpx.Request`, so the bytes signed are the bytes sent; one
encoder (:func:`kfresearch.endpoints.encode_params`) builds them.

WebSocket: ``signed_challenge = base64(HMAC-SHA-512(base64decode(secret), SHA-256(challenge)))``.

Example
-------
>>> s = Secret("cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ==")
>>> rest_signature(s, "orderType=lmt&symbol=PI_XBTUSD", "1616492376594",
...                "/derivatives/api/v3/sendorder")[:16]
'Txi+gJVXe3EN1brX'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Generator

import httpx

from kfresearch.credentials import Credentials, Secret

__all__ = [
    "KrakenAuth",
    "NonceSource",
    "nonce_source",
    "rest_signature",
    "signed_path",
    "ws_challenge_signature",
]

_PREFIX = "/derivatives"


def signed_path(path: str) -> str:
    """The path that is signed: only a leading ``/derivatives`` is removed.

    >>> signed_path("/derivatives/api/v3/openorders"), signed_path("/api/history/v3/orders")
    ('/api/v3/openorders', '/api/history/v3/orders')
    """
    return path[len(_PREFIX) :] if path.startswith(_PREFIX + "/") else path


def _hmac(secret: Secret, message: str) -> str:
    digest = hashlib.sha256(message.encode("utf-8")).digest()
    mac = hmac.new(secret.key_bytes(), digest, hashlib.sha512).digest()
    return base64.b64encode(mac).decode("ascii")


def rest_signature(secret: Secret, post_data: str, nonce: str, path: str) -> str:
    """The ``Authent`` header for a REST request.

    Parameters
    ----------
    post_data : str
        Query string and form body exactly as sent ("" when there are none).
    nonce : str
        The ``Nonce`` header value, or "" when no nonce is sent.
    path : str
        The request path as sent (``/derivatives/...`` is stripped here).
    """
    return _hmac(secret, post_data + nonce + signed_path(path))


def ws_challenge_signature(secret: Secret, challenge: str) -> str:
    """``signed_challenge`` for the WebSocket challenge (reference §3.2, vector K2)."""
    return _hmac(secret, challenge)


class NonceSource:
    """Strictly increasing nonces for one key, safe across threads.

    Nonces are epoch microseconds, bumped by one when two requests fall in
    the same microsecond, so they stay increasing even when the wall clock
    steps back, and a restarted process (clock-based) starts above the last
    run's values.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(time.time_ns() // 1000, self._last + 1)
            return str(self._last)


_SOURCES: dict[str, NonceSource] = {}
_SOURCES_LOCK = threading.Lock()


def nonce_source(key: str) -> NonceSource:
    """The one :class:`NonceSource` of ``key`` in this process (shared by every client)."""
    with _SOURCES_LOCK:
        return _SOURCES.setdefault(key, NonceSource())


class KrakenAuth(httpx.Auth):
    """Signs a request with ``APIKey``, ``Nonce`` and ``Authent`` headers.

    The same object works for :class:`httpx.Client` and
    :class:`httpx.AsyncClient`; each attempt of a retried request gets a fresh
    nonce because httpx runs the auth flow per send.
    """

    requires_request_body = True

    def __init__(self, credentials: Credentials, *, use_nonce: bool = True) -> None:
        self._credentials = credentials
        self._nonces = nonce_source(credentials.key) if use_nonce else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        post_data = request.url.query.decode("ascii") + request.content.decode("utf-8")
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        nonce = self._nonces.next() if self._nonces is not None else ""
        request.headers["APIKey"] = self._credentials.key
        if nonce:
            request.headers["Nonce"] = nonce
        request.headers["Authent"] = rest_signature(
            self._credentials.secret, post_data, nonce, path
        )
        yield request

    def __repr__(self) -> str:
        return f"KrakenAuth({self._credentials!r})"
