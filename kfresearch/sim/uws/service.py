"""The Unified WebSocket side of one simulated exchange: Kraken keys, nonces, tokens.

``SimExchange.uws`` holds one :class:`UwsService`; the sessions of
:mod:`kfresearch.sim.uws.session` and the token endpoint of
:mod:`kfresearch.sim.uws.spot_rest` share it, and everything they do to
orders and accounts goes through the exchange's one engine. It knows only the
exchange's seed and clock, so the exchange can hold it without an import cycle.
"""

from __future__ import annotations

import random
import threading
import uuid

from kfresearch.credentials import Credentials
from kfresearch.sim.clock import SimClock
from kfresearch.sim.keys import SimKey, provisioned_spot_keys
from kfresearch.sim.uws.spot_rest import handle_spot_rest
from kfresearch.sim.uws.tokens import Token, TokenBook

__all__ = ["UwsService"]


class UwsService:
    """Kraken (spot-style) keys, their nonces and WebSocket tokens, on the simulated ``clock``."""

    def __init__(self, seed: int, clock: SimClock) -> None:
        self.clock = clock
        self.spot_keys: dict[str, SimKey] = {
            k.credentials.key: k for k in provisioned_spot_keys().values()
        }
        self.tokens = TokenBook(seed)
        self._nonces: dict[str, int] = {}
        self._ids = random.Random(f"uws-connections-{seed}")  # ids, not secrets
        self._lock = threading.Lock()

    def spot_credentials(self, name: str = "full") -> Credentials:
        """The provisioned Kraken key pair ``"full"`` or ``"read_only"``.

        >>> from kfresearch.sim.exchange import SimExchange
        >>> SimExchange(seed=1).uws.spot_credentials("read_only")
        Credentials(key='ksS4…', secret=Secret('********'))
        """
        for key in self.spot_keys.values():
            if key.name == f"spot_{name}":
                return key.credentials
        raise KeyError(f"no provisioned Kraken key {name!r}: use 'full' or 'read_only'")

    def take_nonce(self, key: SimKey, nonce: int) -> bool:
        """Accept ``nonce`` for ``key`` when it is above the last one accepted."""
        with self._lock:
            if nonce <= self._nonces.get(key.credentials.key, 0):
                return False
            self._nonces[key.credentials.key] = nonce
            return True

    def issue_token(self, key: SimKey) -> Token:
        """A new token for ``key``, valid from the clock's time on."""
        with self._lock:
            return self.tokens.issue(key, self.clock.now_ms())

    def new_id(self) -> str:
        """A fresh UUID (an ``amend_id``), from the seeded generator."""
        with self._lock:
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def connection_id(self) -> int:
        """A new connection's id: an unsigned 64-bit integer (it may pass 2**63, §6)."""
        with self._lock:
            return self._ids.getrandbits(64)

    def handle_rest(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Answer a Spot REST request (a ``/0/`` path; headers with lower-case names):
        HTTP status and JSON body."""
        return handle_spot_rest(self, method, path, headers, body)
