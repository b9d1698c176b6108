"""``Client`` and ``AsyncClient``: thin shells over the transport core.

Both take the same arguments, share :class:`~kfresearch.transport.Core` (request
building, signing, rate limits, retries, error mapping) and differ only in how
they wait and send. :func:`connect` is the one-line entry point.

Example
-------
>>> import kfresearch
>>> kf = kfresearch.connect("sim")
>>> kf.request("GET", "/derivatives/api/v3/tickers/PF_XBTUSD")["ticker"]["symbol"]
'PF_XBTUSD'
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

import httpx

from kfresearch.credentials import Credentials, Secret, as_secret, load_credentials, mask
from kfresearch.endpoints import ENDPOINTS, Endpoint, Params, find_endpoint
from kfresearch.environments import Environment, resolve_environment
from kfresearch.ratelimit import RateLimiter, shared_limiter
from kfresearch.transport import Core, RetryPolicy, run_async, run_sync

if TYPE_CHECKING:
    from kfresearch.doctor import Report
    from kfresearch.sim.exchange import SimExchange

__all__ = ["AsyncClient", "Client", "connect"]

ALLOW_LIVE_VAR = "KFRESEARCH_ALLOW_LIVE_TRADING"
DEFAULT_TIMEOUT = 10.0


class _Base:
    """Configuration shared by both clients (no I/O)."""

    def __init__(
        self,
        env: str | Environment | None = None,
        *,
        key: str | None = None,
        secret: str | Secret | None = None,
        base_url: str | None = None,
        allow_trading: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sim: SimExchange | None = None,
        transport: Any = None,
    ) -> None:
        secret = as_secret(secret)
        self.env = resolve_environment(env, base_url=base_url)
        self._sim: SimExchange | None = None
        if self.env.in_process:
            from kfresearch.sim.exchange import default_exchange

            self._sim = sim or default_exchange(self.env.name)
        credentials = load_credentials(key, secret, use_environment=not self.env.provisions_keys)
        if credentials is None and self.env.provisions_keys:
            credentials = self._provisioned()
        if allow_trading is None:
            allow_trading = os.environ.get(ALLOW_LIVE_VAR, "") == "1"
        self.timeout = timeout
        self._core = Core(
            self.env,
            credentials,
            limiter=limiter
            or (
                shared_limiter(self.env.base_url, credentials.key) if credentials else RateLimiter()
            ),
            retry=retry or RetryPolicy(),
            allow_trading=allow_trading,
        )
        self._transport = transport
        if transport is None and self._sim is not None:
            from kfresearch.sim.transport import SimTransport

            self._transport = SimTransport(self._sim)

    def _provisioned(self) -> Credentials | None:
        if self._sim is not None:
            return self._sim.credentials("full")
        from kfresearch.sim.keys import provisioned_keys

        # a served simulator (env='sim', base_url=...) uses the same provisioned keys
        return provisioned_keys()["full"].credentials

    @property
    def sim(self) -> SimExchange:
        """The in-process simulated exchange (``sim``/``demo``): its clock, faults, keys."""
        if self._sim is None:
            raise AttributeError(f"env {self.env.name!r} at {self.env.base_url} is not in-process")
        return self._sim

    @property
    def has_credentials(self) -> bool:
        return self._core.credentials is not None

    @property
    def allow_trading(self) -> bool:
        return self._core.allow_trading

    def _endpoint(self, method: str, path: str, private: bool) -> Endpoint:
        """The table's rules for ``path`` (cost, retry, safety), sent to ``path`` as given."""
        endpoint = find_endpoint(method, path, private=private)
        return dataclasses.replace(endpoint, path=path, private=endpoint.private or private)

    def __repr__(self) -> str:
        core: Core | None = getattr(self, "_core", None)
        if core is None:  # repr during a failed __init__ (verbose tracebacks call it)
            return f"<kfresearch.{type(self).__name__} (not initialised)>"
        key = mask(core.credentials.key) if core.credentials else "<none>"
        trading = ", allow_trading=True" if self.env.real_money and core.allow_trading else ""
        return (
            f"<kfresearch.{type(self).__name__} env={self.env.name!r} "
            f"base_url={self.env.base_url!r} key={key!r}{trading}>"
        )


class Client(_Base):
    """The blocking client: what a notebook cell uses.

    Parameters
    ----------
    env : {"demo", "sim", "live"}, optional
        Default ``KFRESEARCH_ENV`` or ``"demo"``.
    key, secret : str, optional
        Default ``KFRESEARCH_API_KEY`` / ``KFRESEARCH_API_SECRET`` or ``./.env``
        (live only; sim and demo provision their own keys).
    base_url : str, optional
        A server that speaks the API, e.g. ``kfresearch sim serve``.
    allow_trading : bool, optional
        The second opt-in that order-changing calls on ``live`` need
        (default ``KFRESEARCH_ALLOW_LIVE_TRADING=1``).
    timeout : float
        Seconds for every request (connect, read, write).
    """

    def __init__(self, env: str | Environment | None = None, **kwargs: Any) -> None:
        if "secret" in kwargs:
            kwargs["secret"] = as_secret(kwargs["secret"])
        super().__init__(env, **kwargs)
        self._http = httpx.Client(timeout=self.timeout, transport=self._transport)
        self._sleep: Callable[[float], None] = time.sleep  # tests swap in a fake clock

    def _call(self, name: str, params: Params | None = None, **path_params: str) -> Any:
        return self._send(ENDPOINTS[name], params, path_params)

    def _send(
        self, endpoint: Endpoint, params: Params | None, path_params: Mapping[str, str] | None
    ) -> Any:
        return run_sync(self._core.exchange(endpoint, params, path_params), self._http, self._sleep)

    def request(
        self, method: str, path: str, params: Params | None = None, *, private: bool = False
    ) -> Any:
        """Call any endpoint and return its decoded JSON: the escape hatch.

        ``path`` is absolute (``"/derivatives/api/v3/tickers"``). Known
        endpoints keep their cost, retry and safety rules; unknown ones are
        treated conservatively (only GET is retried).
        """
        return self._send(self._endpoint(method, path, private), params, None)

    def doctor(self) -> Report:
        """Check host, clock, credentials and known traps (:mod:`kfresearch.doctor`)."""
        from kfresearch.doctor import run_doctor

        return run_doctor(self)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_Base):
    """The asyncio twin of :class:`Client` (same arguments, awaitable methods).

    Use top-level ``await`` in notebooks: ``async with AsyncClient("sim") as kf: ...``.
    """

    def __init__(self, env: str | Environment | None = None, **kwargs: Any) -> None:
        if "secret" in kwargs:
            kwargs["secret"] = as_secret(kwargs["secret"])
        super().__init__(env, **kwargs)
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def _call(self, name: str, params: Params | None = None, **path_params: str) -> Any:
        return await self._send(ENDPOINTS[name], params, path_params)

    async def _send(
        self, endpoint: Endpoint, params: Params | None, path_params: Mapping[str, str] | None
    ) -> Any:
        step = self._core.exchange(endpoint, params, path_params)
        return await run_async(step, self._http, self._sleep)

    async def request(
        self, method: str, path: str, params: Params | None = None, *, private: bool = False
    ) -> Any:
        """Async twin of :meth:`Client.request`."""
        return await self._send(self._endpoint(method, path, private), params, None)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def connect(env: str | Environment | None = None, **kwargs: Any) -> Client:
    """Make a :class:`Client`: ``kf = kfresearch.connect()``.

    Same arguments as :class:`Client`. Default environment: ``KFRESEARCH_ENV``
    or ``demo`` (paper trading; nothing reaches the real exchange).
    """
    if "secret" in kwargs:
        kwargs["secret"] = as_secret(kwargs["secret"])
    return Client(env, **kwargs)
