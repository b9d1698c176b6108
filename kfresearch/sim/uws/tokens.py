"""WebSocket tokens of the simulated ``GetWebSocketsToken`` (unified-ws reference §1.3, §6).

A token is issued to a Kraken (spot-style) key and answers ``expires: 900``:
it must be used within 15 minutes of simulated time, and once a connection
has used it, it stays valid on that connection for as long as the connection
lasts (a connection remembers the tokens it used). Tokens are random (seeded)
base64 strings, like Kraken's.

Example
-------
>>> from kfresearch.sim.keys import provisioned_spot_keys
>>> book = TokenBook(seed=1)
>>> token = book.issue(provisioned_spot_keys()["full"], now_ms=0)
>>> book.check(token.value, now_ms=899_999, used=set()) is token
True
>>> book.check(token.value, now_ms=900_000, used=set()) is None
True
>>> book.check(token.value, now_ms=900_000, used={token.value}) is token
True
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass

from kfresearch.sim.keys import SimKey

__all__ = ["TOKEN_LIFETIME_S", "Token", "TokenBook"]

TOKEN_LIFETIME_S = 900


@dataclass(frozen=True)
class Token:
    """An issued token: its text, the key it was issued to, when it stops being accepted."""

    value: str
    key: SimKey
    issued_ms: int

    @property
    def expires_ms(self) -> int:
        return self.issued_ms + TOKEN_LIFETIME_S * 1000


class TokenBook:
    """The tokens issued by one simulated exchange."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"uws-tokens-{seed}")  # ids, not secrets
        self._tokens: dict[str, Token] = {}

    def issue(self, key: SimKey, now_ms: int) -> Token:
        raw = self._rng.getrandbits(256).to_bytes(32, "big")
        token = Token(base64.b64encode(raw).decode().rstrip("="), key, now_ms)
        self._tokens[token.value] = token
        return token

    def check(self, value: object, now_ms: int, used: set[str]) -> Token | None:
        """The token ``value`` names if it is accepted at ``now_ms`` by a connection that
        has already used the tokens in ``used``; None when unknown or expired."""
        token = self._tokens.get(value) if isinstance(value, str) else None
        if token is None:
            return None
        if token.value in used or now_ms < token.expires_ms:
            return token
        return None
