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

Spot REST (the Unified WebSocket's token, reference kraken-unified-ws.md §1.3)::

    API-Sign = base64(HMAC-SHA-512(base64decode(secret), uri_path + SHA-256(nonce + post_data)))

with the SHA-256 as its raw 32 bytes appended to the path's bytes.

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
    "SpotAuth",
    "nonce_source",
    "rest_signature",
    "signed_path",
    "spot_signature",
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


def spot_signature(secret: Secret, path: str, nonce: str, post_data: str) -> str:
    """The ``API-Sign`` header of a Spot-style REST request (``GetWebSocketsToken``).

    Parameters
    ----------
    secret : Secret
        The Kraken (spot-style) API secret, base64 as Kraken shows it.
    path : str
        The URI path only, e.g. ``/0/private/GetWebSocketsToken``.
    nonce : str
        The ``nonce`` field of the body, as sent.
    post_data : str
        The urlencoded body exactly as sent, ``nonce`` included.

    Returns
    -------
    str
        base64 of the HMAC-SHA-512 (88 characters).

    Example
    -------
    Kraken's documented example (unified-ws reference §1.3):

    >>> s = Secret("kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HA"
    ...            "ZtuZuj6F1huXg==")
    >>> body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    >>> spot_signature(s, "/0/private/AddOrder", "1616492376594", body)[:16]
    '4/dpxb3iT4tp/ZCV'
    """
    digest = hashlib.sha256((nonce + post_data).encode("utf-8")).digest()
    mac = hmac.new(secret.key_bytes(), path.encode("utf-8") + digest, hashlib.sha512).digest()
    return base64.b64encode(mac).decode("ascii")


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


class SpotAuth(httpx.Auth):
    """Signs a Spot REST request the way ``GetWebSocketsToken`` needs (reference
    kraken-unified-ws.md §1.3): ``nonce`` first in the form body, then ``API-Key``
    and ``API-Sign`` headers over exactly that body.

    Each attempt of a retried request gets a fresh nonce (httpx runs the auth
    flow per send); the body sent is the body signed.
    """

    requires_request_body = True

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._nonces = nonce_source(credentials.key)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        nonce = self._nonces.next()
        rest = request.content.decode("utf-8")
        body = f"nonce={nonce}" + (f"&{rest}" if rest else "")
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("content-length", "content-type")
        }
        headers |= {
            "Content-Type": "application/x-www-form-urlencoded",
            "API-Key": self._credentials.key,
            "API-Sign": spot_signature(self._credentials.secret, path, nonce, body),
        }
        yield httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=body.encode("utf-8"),
            extensions=request.extensions,
        )

    def __repr__(self) -> str:
        return f"SpotAuth({self._credentials!r})"
