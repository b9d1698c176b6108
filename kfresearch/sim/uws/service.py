"""The Unified WebSocket side of one simulated exchange: Kraken keys, nonces, tokens.

``SimExchange.uws`` holds one :class:`UwsService`; the sessions of
:mod:`kfresearch.sim.uws.session` and the token endpoint of
:mod:`kfresearch.sim.uws.spot_rest` share it, and everything they do to
orders and accounts goes through the exchange's one engine.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import TYPE_CHECKING

from kfresearch.credentials import Credentials
from kfresearch.sim.keys import SimKey, provisioned_spot_keys
from kfresearch.sim.uws.spot_rest import handle_spot_rest
from kfresearch.sim.uws.tokens import TokenBook

if TYPE_CHECKING:
    from kfresearch.sim.exchange import SimExchange, SimResponse

__all__ = ["UwsService"]


class UwsService:
    """Kraken (spot-style) keys, their nonces and WebSocket tokens, for ``exchange``."""

    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange
        self.spot_keys: dict[str, SimKey] = {
            k.credentials.key: k for k in provisioned_spot_keys().values()
        }
        self.tokens = TokenBook(exchange.seed)
        self._nonces: dict[str, int] = {}
        self._ids = random.Random(f"uws-connections-{exchange.seed}")  # ids, not secrets
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
    ) -> SimResponse:
        """Answer a Spot REST request (a ``/0/`` path; headers with lower-case names)."""
        return handle_spot_rest(self, method, path, headers, body)
