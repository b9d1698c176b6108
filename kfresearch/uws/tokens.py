"""The Unified WebSocket's token: fetched with the spot-style key, reused, refreshed.

``POST /0/private/GetWebSocketsToken`` (signed with a Kraken spot-style key,
reference kraken-unified-ws.md §1.3) answers ``{"token", "expires": 900}``.
A token must be used within its ``expires`` seconds; once a connection has
used it, it stays valid there (§1.3). :class:`TokenSource` keeps one token
and hands it out until **half** its life has passed (§6: refresh at
half-life, so a token handed out is never close to expiry when a
connection first uses it), then fetches a fresh one; :meth:`invalidate`
(after ``EAPI:Invalid token``) makes the next :meth:`get` fetch.

The fetch is any function returning the decoded body (the client sends it
through its transport core, so retries, error mapping and the in-process
simulator all apply); it runs under a lock, so concurrent users share one
fetch.

Example
-------
>>> calls = []
>>> def fetch():
...     calls.append(1)
...     return {"error": [], "result": {"token": f"t{len(calls)}", "expires": 900}}
>>> now = [0.0]
>>> tokens = TokenSource(fetch, clock=lambda: now[0])
>>> tokens.get(), tokens.get()
('t1', 't1')
>>> now[0] = 451.0   # past half of 900 s
>>> tokens.get()
't2'
>>> tokens.invalidate(); tokens.get()
't3'
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kfresearch.errors import DecodeError

__all__ = ["TokenSource"]


class TokenSource:
    """One token, reused until half its life (see the module docstring).

    Parameters
    ----------
    fetch : callable
        Returns the decoded ``GetWebSocketsToken`` body (blocking).
    clock : callable
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self, fetch: Callable[[], Any], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._fresh_until = -float("inf")
        self.fetches = 0

    def get(self) -> str:
        """A token with more than half its life left (fetched when needed)."""
        with self._lock:
            if self._token is not None and self._clock() < self._fresh_until:
                return self._token
            started = self._clock()
            body = self._fetch()
            token, expires = _parse(body)
            self.fetches += 1
            self._token = token
            self._fresh_until = started + expires / 2.0
            return token

    async def aget(self) -> str:
        """:meth:`get` from async code (the fetch runs in a worker thread)."""
        if self._token is not None and self._clock() < self._fresh_until:
            return self._token
        return await asyncio.to_thread(self.get)

    def invalidate(self) -> None:
        """Forget the token (the exchange said ``EAPI:Invalid token``)."""
        with self._lock:
            self._token = None
            self._fresh_until = -float("inf")

    def __repr__(self) -> str:
        state = "a token" if self._token is not None else "no token"
        return f"<TokenSource holding {state}, {self.fetches} fetched>"


def _parse(body: Any) -> tuple[str, float]:
    result = body.get("result") if isinstance(body, Mapping) else None
    token = result.get("token") if isinstance(result, Mapping) else None
    if not isinstance(token, str) or not token:
        raise DecodeError(
            "GetWebSocketsToken answered without a token", endpoint="POST /0/private/"
            "GetWebSocketsToken"
        )
    expires = result.get("expires") if isinstance(result, Mapping) else None
    seconds = float(expires) if isinstance(expires, int | float) and expires > 0 else 900.0
    return token, seconds
