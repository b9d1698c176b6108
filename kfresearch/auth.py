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
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import httpx

from kfresearch.credentials import Credentials, Secret

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "VARIANTS",
    "KrakenAuth",
    "NonceSource",
    "SignatureSteps",
    "SpotAuth",
    "Variant",
    "explain",
    "identify",
    "nonce_source",
    "rest_signature",
    "signed_path",
    "spot_signature",
    "unauthorized_answer",
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


# -- the signature, step by step, and the ways it goes wrong --------------------------------
_HISTORY_UNAUTHORIZED = {
    "reason": "You are not authorized to access this endpoint.",
    "status": "unauthorized",
}


def unauthorized_answer(path: str) -> tuple[int, dict[str, str]]:
    """The exchange's answer to a request it cannot authenticate (reference §2.7, §5.3).

    ``/derivatives`` answers HTTP 200 with the v3 error envelope (plus
    ``serverTime``); the history service HTTP 401 with its own body; the
    auth and stats services HTTP 401.

    >>> unauthorized_answer("/derivatives/api/v3/accounts")
    (200, {'result': 'error', 'error': 'authenticationError'})
    >>> unauthorized_answer("/api/history/v3/account-log")[0]
    401
    """
    if path.startswith("/api/history/"):
        return 401, dict(_HISTORY_UNAUTHORIZED)
    if path.startswith(("/api/auth/", "/api/stats/")):
        return 401, {"error": "authenticationError"}
    return 200, {"result": "error", "error": "authenticationError"}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _hmac256(secret: Secret, message: str) -> str:
    return _b64(hmac.new(secret.key_bytes(), message.encode("utf-8"), hashlib.sha256).digest())


def _hex_digest(secret: Secret, message: str) -> str:
    digest = hashlib.sha256(message.encode("utf-8")).hexdigest().encode("ascii")
    return _b64(hmac.new(secret.key_bytes(), digest, hashlib.sha512).digest())


def _text_key(secret: Secret, message: str) -> str:
    digest = hashlib.sha256(message.encode("utf-8")).digest()
    return _b64(hmac.new(secret.reveal().encode("ascii"), digest, hashlib.sha512).digest())


Signer = Callable[[Secret, str, str, str], str]
"""``(secret, post_data, nonce, path) -> header value``."""


@dataclass(frozen=True)
class Variant:
    """One way of signing a REST request, right or wrong, and where its value is sent.

    Attributes
    ----------
    name : str
        Short label (``"tutorial"``, ``"HMAC-SHA256"`` …).
    mistake : str
        What differs from the exchange's recipe ("" for the recipe itself).
    header : str
        The header the value is sent in (the exchange reads only ``Authent``).
    sign : callable
        ``(secret, post_data, nonce, path) -> str``: the value sent.
    sends_nonce : bool
        Whether the ``Nonce`` header is sent (the exchange hashes "" without it).
    accepted_for_now : bool
        The exchange still accepts it (the URL-decoded postData of before
        2024-02-20, reference §2.4), though it announced the end of it.
    """

    name: str
    mistake: str
    header: str
    sign: Signer
    sends_nonce: bool = True
    accepted_for_now: bool = False


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "reference", "", "Authent",
        lambda s, p, n, e: _hmac(s, p + n + signed_path(e)),
    ),
    Variant(
        "tutorial",
        "the popular tutorial's recipe: HMAC-SHA256 of nonce + path + postData",
        "Authentification",
        lambda s, p, n, e: _hmac256(s, n + e + p),
    ),
    Variant(
        "HMAC-SHA256",
        "HMAC-SHA256 of the message instead of SHA-256 then HMAC-SHA512",
        "Authent",
        lambda s, p, n, e: _hmac256(s, p + n + signed_path(e)),
    ),
    Variant(
        "Authentification header",
        "the right signature in a header named 'Authentification'",
        "Authentification",
        lambda s, p, n, e: _hmac(s, p + n + signed_path(e)),
    ),
    Variant(
        "/derivatives signed",
        "'/derivatives' left in the signed path (vector V6): only the path after it is signed",
        "Authent",
        lambda s, p, n, e: _hmac(s, p + n + e),
    ),
    Variant(
        "nonce first",
        "the message in the order nonce + endpointPath + postData",
        "Authent",
        lambda s, p, n, e: _hmac(s, n + signed_path(e) + p),
    ),
    Variant(
        "hex digest",
        "the HMAC taken over the SHA-256 as hex text instead of its 32 raw bytes",
        "Authent",
        lambda s, p, n, e: _hex_digest(s, p + n + signed_path(e)),
    ),
    Variant(
        "secret not decoded",
        "the HMAC keyed with the secret's base64 text instead of the decoded bytes",
        "Authent",
        lambda s, p, n, e: _text_key(s, p + n + signed_path(e)),
    ),
    Variant(
        "nonce not sent",
        "the nonce hashed but no Nonce header sent (the exchange then hashes an empty nonce)",
        "Authent",
        lambda s, p, n, e: _hmac(s, p + n + signed_path(e)),
        sends_nonce=False,
    ),
    Variant(
        "Spot recipe",
        "Kraken Spot's recipe: HMAC-SHA512 of path + SHA-256(nonce + postData)",
        "API-Sign",
        lambda s, p, n, e: spot_signature(s, e, n, p),
    ),
    Variant(
        "decoded postData",
        "postData URL-decoded before hashing: the rule before 2024-02-20, still accepted "
        "'for the time being' (reference §2.4); strict simulators refuse it",
        "Authent",
        lambda s, p, n, e: _hmac(s, unquote_plus(p) + n + signed_path(e)),
        accepted_for_now=True,
    ),
)


def identify(
    secret: Secret, post_data: str, nonce: str, path: str, header: str, value: str
) -> Variant | None:
    """The wrong variant of :data:`VARIANTS` that produced ``value`` in ``header``, if any.

    The simulator asks this after a signature failed, to tell a learner what
    went wrong (the exchange itself only says ``authenticationError``).
    ``nonce`` is the ``Nonce`` header sent ("" when none was: then the nonce a
    client may have hashed is unknown, and "nonce not sent" is not found).
    """
    wanted = header.lower()
    right = rest_signature(secret, post_data, nonce, path)
    for variant in VARIANTS[1:]:
        if variant.header.lower() != wanted or not variant.sends_nonce:
            continue
        candidate = variant.sign(secret, post_data, nonce, path)
        if wanted == "authent" and candidate == right:
            continue  # the same as the recipe for this request: not a mistake here
        if hmac.compare_digest(candidate, value):
            return variant
    return None


@dataclass(frozen=True, repr=False)
class SignatureSteps:
    """What :func:`explain` returns: each step of the signature, and the wrong variants.

    Attributes
    ----------
    authent : str
        The ``Authent`` header value.
    steps : pandas.DataFrame
        One row per step (index ``step``): ``value`` and ``what`` it is.
    variants : pandas.DataFrame
        One row per variant of :data:`VARIANTS` (index ``variant``): the
        ``header`` it is sent in, its ``value``, whether it ``matches`` the
        right one, the exchange's HTTP ``status`` and its ``answer``.
    """

    authent: str
    steps: pd.DataFrame
    variants: pd.DataFrame

    def __repr__(self) -> str:
        width = max(len(str(name)) for name in self.steps.index) + 2
        lines = [f"{name!s:<{width}}{value}" for name, value in self.steps["value"].items()]
        lines += ["", "signed the wrong ways (the exchange's answer):"]
        width = max(len(str(name)) for name in self.variants.index) + 2
        for name, row in self.variants.iterrows():
            lines.append(f"{name!s:<{width}}HTTP {row['status']} {row['answer']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Authent</b> = <code>{self.authent}</code></p>"
            + self.steps.to_html()
            + "<p><b>The same request signed the wrong ways, and what the exchange says</b></p>"
            + self.variants.to_html()
        )


def explain(path: str, nonce: str, post_data: str, secret: str | bytes | Secret) -> SignatureSteps:
    """The ``Authent`` signature step by step (reference §2.2), and what goes wrong.

    Parameters
    ----------
    path : str
        The request path as sent (``/derivatives/api/v3/sendorder``).
    nonce : str
        The ``Nonce`` header ("" when none is sent).
    post_data : str
        The query string and form body exactly as sent ("" when there are none).
    secret : str, bytes or Secret
        The API secret (base64 text). Never shown: only its decoded length is.

    Returns
    -------
    SignatureSteps
        ``.steps``: the endpoint path, the message, SHA-256 of the message
        (hex of its 32 bytes), the decoded secret's length, HMAC-SHA512
        (hex of its 64 bytes), and the base64 ``Authent``. ``.variants``: the
        same request signed the common wrong ways (:data:`VARIANTS`), each
        with the exchange's answer (``authenticationError``, HTTP 200 on
        ``/derivatives``, 401 on history, reference §2.7).

    Examples
    --------
    Vector K1 of the reference (§2.6):

    >>> steps = explain("/derivatives/api/v3/sendorder", "1616492376594",
    ...                 "orderType=lmt&symbol=PI_XBTUSD",
    ...                 "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ==")
    >>> steps.authent[:24]
    'Txi+gJVXe3EN1brXYQ46FuV6'
    >>> steps.steps.loc["4 key = base64decode(secret)", "value"]
    '40 bytes'
    >>> steps.variants.loc["tutorial", "answer"]
    '{"result":"error","error":"authenticationError"}'
    >>> steps.variants.loc["decoded postData", "answer"][:8]   # nothing is URL-encoded here
    'accepted'
    """
    import json

    import pandas as pd

    key = secret if isinstance(secret, Secret) else Secret(secret)
    endpoint_path = signed_path(path)
    message = post_data + nonce + endpoint_path
    digest = hashlib.sha256(message.encode("utf-8")).digest()
    key_bytes = key.key_bytes()
    mac = hmac.new(key_bytes, digest, hashlib.sha512).digest()
    authent = _b64(mac)
    steps = pd.DataFrame(
        [
            ("1 endpointPath", endpoint_path,
             "the request path with a leading /derivatives removed"),
            ("2 message", message, "postData + nonce + endpointPath"),
            ("3 SHA-256(message)", digest.hex(),
             "32 raw bytes (shown as hex); the HMAC takes the bytes"),
            ("4 key = base64decode(secret)", f"{len(key_bytes)} bytes",
             "the secret's bytes (never shown)"),
            ("5 HMAC-SHA512(key, digest)", mac.hex(), "64 bytes (shown as hex)"),
            ("6 Authent = base64(HMAC)", authent, "the header value"),
        ],
        columns=["step", "value", "what"],
    ).set_index("step")
    status, body = unauthorized_answer(path)
    refused = json.dumps(body, separators=(",", ":"))
    rows: list[dict[str, Any]] = []
    for variant in VARIANTS:
        value = variant.sign(key, post_data, nonce, path)
        right = value == authent and (variant.sends_nonce or not nonce)
        accepted = variant.header == "Authent" and (right or variant.accepted_for_now)
        rows.append(
            {
                "variant": variant.name,
                "mistake": variant.mistake or "none: the exchange's recipe",
                "header": variant.header + ("" if variant.sends_nonce else " (no Nonce header)"),
                "value": value,
                "matches": value == authent,
                "status": 200 if accepted else status,
                "answer": _verdict(accepted, variant is VARIANTS[0] or not right, refused),
            }
        )
    variants = pd.DataFrame(rows).set_index("variant")
    return SignatureSteps(authent, steps, variants)


def _verdict(accepted: bool, differs: bool, refused: str) -> str:
    if not accepted:
        return refused
    return "accepted" if differs else "accepted (for this request it is the right signature)"
