"""Drive the simulator's Unified WebSocket from tests: tokens over HTTP, sessions in-process.

:class:`Conn` runs a :class:`~kfresearch.sim.uws.session.UwsSession` with a
``send`` that collects the frames, so a test sends a request, ticks the
session and asserts on the decoded messages, with no socket and no reader task.
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlencode

import orjson

from kfresearch.auth import spot_signature
from kfresearch.credentials import Credentials
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.uws.session import UwsSession

TOKEN_PATH = "/0/private/GetWebSocketsToken"
Message = dict[str, Any]


def signed_token_request(
    key: Credentials, nonce: int, *, extra: str = ""
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a ``GetWebSocketsToken`` signed the Spot way (§1.3)."""
    body = urlencode({"nonce": nonce}) + extra
    headers = {
        "API-Key": key.key,
        "API-Sign": spot_signature(key.secret, TOKEN_PATH, str(nonce), body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return headers, body.encode()


_NONCES = itertools.count(1)


def get_token(exchange: SimExchange, name: str = "full", nonce: int | None = None) -> str:
    """A fresh token for the provisioned Kraken key ``name``, through ``exchange.handle``."""
    nonce = next(_NONCES) if nonce is None else nonce
    headers, body = signed_token_request(exchange.uws.spot_credentials(name), nonce)
    answer = orjson.loads(exchange.handle("POST", TOKEN_PATH, headers, body).body)
    assert answer["error"] == [], answer
    return str(answer["result"]["token"])


class Conn:
    """One in-process connection; ``frames`` holds the raw texts received."""

    def __init__(self, exchange: SimExchange, *, private: bool = False) -> None:
        self.exchange = exchange
        self.frames: list[str] = []
        self.session = UwsSession(exchange, self._send, private=private, offload=False)
        self._req = 0

    async def _send(self, text: str) -> None:
        self.frames.append(text)

    async def open(self) -> list[Message]:
        await self.session.opened()
        self.exchange.engine.listeners.append(self.session.on_engine_event)
        return self.take()

    def close(self) -> None:
        self.exchange.engine.listeners.remove(self.session.on_engine_event)

    def take(self) -> list[Message]:
        """The messages received since the last take, decoded."""
        out = [orjson.loads(f) for f in self.frames]
        self.frames.clear()
        return out

    def texts(self) -> list[Message]:
        """Like :meth:`take`, with every JSON number kept as its wire text."""
        out = [json.loads(f, parse_float=str, parse_int=str) for f in self.frames]
        self.frames.clear()
        return out

    async def send(self, method: str, **params: Any) -> None:
        """Send ``method`` with ``params`` (req_id numbered from 1); answers stay in frames."""
        self._req += 1
        text = orjson.dumps({"method": method, "params": params, "req_id": self._req})
        await self.session.on_message(text.decode())

    async def request(self, method: str, **params: Any) -> list[Message]:
        """Send ``method`` with ``params``; what came back, decoded."""
        await self.send(method, **params)
        return self.take()

    async def tick(self, seconds: float = 0.0) -> list[Message]:
        """Advance the fixed clock by ``seconds``, then one tick; what it pushed."""
        if seconds:
            self.exchange.advance(f"{seconds}s")
        await self.session.pump()
        return self.take()


def pushes(messages: list[Message], channel: str) -> list[Message]:
    return [m for m in messages if m.get("channel") == channel]


def answers(messages: list[Message]) -> list[Message]:
    return [m for m in messages if "method" in m]


def _strip(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def plain_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """The §6 rule written out plainly, independent of kfresearch.checksum."""
    import binascii

    text = ""
    for price, qty in asks[:10]:
        text += _strip(price) + _strip(qty)
    for price, qty in bids[:10]:
        text += _strip(price) + _strip(qty)
    return binascii.crc32(text.encode()) % 2**32


class ClientBook:
    """A client's book kept from the wire texts (floats parsed as strings)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def apply(self, entry: dict[str, Any]) -> int:
        for side, levels in ((self.bids, entry["bids"]), (self.asks, entry["asks"])):
            for level in levels:
                price, qty = str(level["price"]), str(level["qty"])
                if not any(c in "123456789" for c in qty.lower().partition("e")[0]):
                    side.pop(price, None)
                else:
                    side[price] = qty
        bids = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))[: self.depth]
        asks = sorted(self.asks.items(), key=lambda kv: float(kv[0]))[: self.depth]
        self.bids, self.asks = dict(bids), dict(asks)
        return plain_checksum(asks, bids)


def wire_texts(frame: str | bytes) -> dict[str, Any]:
    """A frame decoded with every JSON number kept as its wire text."""
    decoded: dict[str, Any] = json.loads(frame, parse_float=str, parse_int=str)
    return decoded


def v3(exchange: SimExchange, method: str, endpoint: str, **params: Any) -> Any:
    """A v3 REST call signed with the provisioned Derivatives key, through ``exchange.handle``
    (``endpoint`` after ``/derivatives/api/v3``)."""
    from kfresearch.auth import rest_signature

    path = "/derivatives/api/v3" + endpoint
    data = urlencode(params)
    creds = exchange.credentials("full")
    headers = {"APIKey": creds.key, "Authent": rest_signature(creds.secret, data, "", path)}
    if method == "GET":
        response = exchange.handle("GET", f"{path}?{data}" if data else path, headers, b"")
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = exchange.handle(method, path, headers, data.encode())
    return orjson.loads(response.body)
