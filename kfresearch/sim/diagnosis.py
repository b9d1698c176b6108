"""Why the simulator refused a request, in a learner's words, and the log of every request.

The exchange answers a mistake with one string (``authenticationError``,
``notFound`` …). The simulator answers exactly the same, and also says what
was wrong: in its request log (:attr:`SimExchange.request_log
<kfresearch.sim.exchange.SimExchange.request_log>`) and in one response
header the exchange does not send, ``X-Sim-Why``, which a trace shows
(``kf.trace()``) and ``curl -i`` prints. The explanations are worked out only
after a check failed, so they cost nothing on the way of a good request.

Example
-------
>>> from kfresearch.sim.routing import make_route
>>> routes = [make_route("GET", "/derivatives/api/v3/openpositions", lambda ctx: {})]
>>> path_why("GET", "/api/v3/positions", routes).split("; ")[-1]
'closest: /derivatives/api/v3/openpositions'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kfresearch.auth import VARIANTS, identify, rest_signature
from kfresearch.credentials import Secret, mask
from kfresearch.sim.routing import Route

__all__ = [
    "LoggedRequest",
    "auth_why",
    "nonce_why",
    "path_why",
    "rate_why",
    "symbol_why",
]

#: header names a signature is often sent under by mistake (lower case, as the
#: simulator sees headers)
_WRONG_SIGNATURE_HEADERS = (
    *dict.fromkeys(v.header.lower() for v in VARIANTS if v.header != "Authent"),
    "authentication",
    "signature",
    "api-signature",
)


@dataclass(frozen=True)
class LoggedRequest:
    """One request the simulator answered (or one WebSocket message it received).

    Attributes
    ----------
    seq : int
        0, 1, 2 … in the order the simulator took them.
    method : str
        ``GET``/``POST``/…; ``WS`` for a WebSocket message from a client.
    target : str
        Path and query as received (``/ws/v1`` for WebSocket messages).
    body : str
        The form body, or the WebSocket message.
    status : int or None
        HTTP status of the answer; None for WebSocket messages and dropped
        connections.
    error : str or None
        The exchange's error string of the answer, None for a success (an
        order rejection is a success with a status, as on the exchange).
    check : str or None
        What answered with the error: ``"path"``, a step of
        :data:`~kfresearch.sim.exchange.CHECKS`, ``"handler"`` or ``"fault"``.
    why : str or None
        The simulator's explanation (not something the exchange says).
    """

    seq: int
    method: str
    target: str
    body: str
    status: int | None
    error: str | None
    check: str | None
    why: str | None


def path_why(method: str, path: str, routes: Iterable[Route]) -> str:
    """Why no route serves ``method path``: the method, the ``/derivatives`` prefix, or
    the closest paths."""
    routes = list(routes)
    methods = sorted({r.method for r in routes if r.regex.match(path)})
    if methods:
        return f"{path} takes {' or '.join(methods)}, not {method}"
    head = f"no {method} {path} on the exchange"
    probe = path
    if path.startswith("/api/v3/"):  # the tutorial's base URL (reference §8)
        head += (
            ": the v3 API is served under /derivatives (base URL "
            "https://futures.kraken.com/derivatives/api/v3); only the signed path leaves "
            "/derivatives out"
        )
        probe = "/derivatives" + path
        if any(r.regex.match(probe) for r in routes if r.method == method):
            return head
    patterns = sorted({r.pattern for r in routes if r.method == method})
    close = difflib.get_close_matches(probe, patterns, n=2, cutoff=0.75)
    return f"{head}; closest: {', '.join(close)}" if close else head


def auth_why(
    headers: Mapping[str, str],
    secret: Secret | None,
    post_data: str,
    nonce: str,
    path: str,
) -> str:
    """Why a private request was not authenticated (``headers`` in lower case; ``secret``
    None when the key is unknown)."""
    if "apikey" not in headers:
        return "no APIKey header: a private request needs APIKey and Authent (reference §2.1)"
    if secret is None:
        return (
            f"APIKey {mask(headers['apikey'])} is not a key of this exchange "
            "(`kfresearch sim keys` lists the simulator's)"
        )
    authent = headers.get("authent")
    if not authent:
        for name in _WRONG_SIGNATURE_HEADERS:
            if name in headers:
                value = headers[name]
                if value == rest_signature(secret, post_data, nonce, path):
                    how = ": the value is right, only the header's name is wrong"
                else:
                    recipe = identify(secret, post_data, nonce, path, name, value)
                    how = f" and is {recipe.mistake}" if recipe is not None else ""
                return (
                    f"no Authent header: the signature came as {name!r}{how}; the exchange "
                    "reads only 'Authent' (reference §2.1)"
                )
        return "no Authent header: the request is not signed (reference §2.1)"
    recipe = identify(secret, post_data, nonce, path, "Authent", authent)
    if recipe is not None:
        return (
            f"the signature is {recipe.mistake}; the exchange wants base64(HMAC-SHA512("
            "base64decode(secret), SHA-256(postData + nonce + endpointPath))) (reference §2.2)"
        )
    unsent = (
        "; no Nonce header was sent, so the exchange hashed an empty nonce in its place"
        if not nonce
        else ""
    )
    return (
        "the signature does not match postData + nonce + endpointPath for this key "
        f"(postData {post_data!r}, nonce {nonce!r}){unsent}; kfresearch.auth.explain(path, "
        "nonce, post_data, secret) shows every step"
    )


def nonce_why(problem: str, nonce: str, oldest: int | None, window: int) -> str:
    """Why a nonce was refused (``problem`` is the exchange's error string)."""
    if problem == "nonceDuplicate":
        return (
            f"nonce {nonce} was already used with this key: every request needs a new, "
            "larger nonce, so a replayed request is refused"
        )
    if problem == "nonceBelowThreshold":
        return (
            f"nonce {nonce} is below {oldest}, the oldest of the last {window} nonces this "
            "key sent: nonces must keep increasing (one clock, one unit: ms or µs)"
        )
    return f"nonce {nonce!r} is not an integer"


def rate_why(pool: str, available: float, capacity: float, per_second: float, cost: int) -> str:
    """Why a request was rate limited."""
    return (
        f"the {pool} pool holds {max(available, 0.0):.1f} of {capacity:g} units and this "
        f"request costs {cost}; it refills at {per_second:g} units a second (reference §6)"
    )


def symbol_why(symbol: str, listed: Iterable[str]) -> str:
    """Why ``symbol`` names no contract, with the closest listed ones."""
    upper = symbol.upper()
    close = difflib.get_close_matches(upper, list(listed), n=3, cutoff=0.6)
    hint = f"; closest: {', '.join(close)}" if close else ""
    if upper.startswith("F_"):
        hint += (
            "; f_xbtusd_YYMMDD is not a symbol: dated futures are FI_XBTUSD_YYMMDD (inverse) "
            "or FF_XBTUSD_YYMMDD (multi-collateral), reference §7.1"
        )
    return f"no contract {symbol!r} (symbols match in any case){hint}"
