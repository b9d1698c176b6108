"""A backtest's client: the ordinary :class:`~kfresearch.Client`, its requests handed straight
to its in-process exchange.

Every order a strategy places in a backtest goes through the client's plans
(the same validation, the same :class:`~kfresearch.OrderResult`, the same
errors) and reaches the exchange as the same request text, signed with the
same key and judged by the same checks (:meth:`SimExchange.handle
<kfresearch.sim.exchange.SimExchange.handle>`). What is left out is what
only a wire needs: the ``httpx`` request and response objects, the connection
pool and its auth flow, cookies and redirects; about a millisecond an order.
So fills are those of the HTTP path, request for request.

Not for faults or tracing: a request made while a trace is open
(``kf.trace()``) takes the ordinary path, so the trace sees it; a backtest's
exchange has no injected faults.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kfresearch.auth import nonce_source, rest_signature
from kfresearch.client import Client
from kfresearch.endpoints import encode_params
from kfresearch.plans import Call
from kfresearch.trace.hook import RECORDERS
from kfresearch.transport import interpret

__all__ = ["DirectClient"]


class DirectClient(Client):
    """A :class:`~kfresearch.Client` of an in-process exchange that skips HTTP (module docstring).

    Made like any client of ``sim``: ``DirectClient("sim", exchange=exchange, ...)``.
    """

    def _send(self, call: Call) -> Any:
        exchange = self._exchange
        endpoint = call.endpoint
        if RECORDERS or exchange is None or endpoint.scheme != "futures" or self.protocol != "v3":
            return super()._send(call)
        core = self._core
        core.check_allowed(endpoint)
        path = _base_path(self.env.base_url) + endpoint.url_path(call.path_params)
        encoded = encode_params(call.params)
        headers: dict[str, str] = {}
        credentials = core.credentials
        if endpoint.private and credentials is not None:
            # the headers KrakenAuth writes (query and body are the same string here)
            nonce = nonce_source(credentials.key).next()
            headers = {
                "apikey": credentials.key,
                "nonce": nonce,
                "authent": rest_signature(credentials.secret, encoded, nonce, path),
            }
        if endpoint.method == "POST":
            headers["content-type"] = "application/x-www-form-urlencoded"
            answer = exchange.handle("POST", path, headers, encoded.encode("ascii"))
        else:
            target = f"{path}?{encoded}" if encoded else path
            answer = exchange.handle(endpoint.method, target, headers, b"")
        headers = {name.lower(): value for name, value in answer.headers.items()}
        return interpret(endpoint, _Answer(answer.status, answer.body, headers))


@functools.lru_cache(maxsize=16)
def _base_path(base_url: str) -> str:
    """The path part of the environment's base URL, without a trailing slash."""
    return urlsplit(base_url).path.rstrip("/")


@dataclass(frozen=True, slots=True)
class _Answer:
    """The answer as :func:`~kfresearch.transport.interpret` reads it (an httpx.Response's
    status, body and headers, without building one: about 20 µs an order)."""

    status_code: int
    content: bytes
    headers: dict[str, str]
