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
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import httpx
import pandas as pd

from kfresearch import frames
from kfresearch.credentials import Credentials, Secret, as_secret, load_credentials, mask
from kfresearch.endpoints import ENDPOINTS, Endpoint, Params, find_endpoint
from kfresearch.environments import Environment, resolve_environment
from kfresearch.errors import KFError, ValidationError
from kfresearch.queries import (
    Call,
    Plan,
    between,
    plan_account_log,
    plan_candles,
    plan_fills,
    plan_history,
    plan_single,
    plan_trades,
    resolve_symbol,
    time_range,
)
from kfresearch.ratelimit import RateLimiter, shared_limiter
from kfresearch.trading import AsyncTradingMixin, TradingMixin
from kfresearch.transport import Core, RetryPolicy, run_async, run_sync

if TYPE_CHECKING:
    from kfresearch.doctor import Report
    from kfresearch.sim.exchange import SimExchange

__all__ = ["AsyncClient", "Client", "connect"]

T = TypeVar("T")
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
        self._instruments_cache: Any = None
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

    # -- plans: what each data method asks (shared by both clients, no I/O) ----------
    def _now_ms(self) -> int:
        """The exchange's "now": the simulated clock in-process, else the wall clock."""
        return self._sim.clock.now_ms() if self._sim is not None else int(time.time() * 1000)

    def _symbol(self, symbol: str) -> Generator[list[Call], list[Any], str]:
        return (yield from resolve_symbol(symbol, self._instruments_cache))

    def _q_instruments(self) -> Plan:
        return plan_single([Call("instruments")], frames.instruments)

    def _q_tickers(self) -> Plan:
        return plan_single([Call("tickers")], frames.tickers)

    def _q_orderbook(self, symbol: str, depth: int | None) -> Plan:
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise ValidationError("depth", depth, "depth must be a positive whole number of levels")
        name = yield from self._symbol(symbol)
        body = (yield [Call("orderbook", {"symbol": name})])[0]
        return frames.orderbook(body, symbol=name, depth=depth)

    def _q_candles(
        self, symbol: str, resolution: str, since: Any, until: Any, tick_type: str, progress: bool
    ) -> Plan:
        plan = plan_candles("?", resolution, since, until, tick_type, self._now_ms(), progress)
        next(plan, None)  # validates every argument but the symbol before any request
        name = yield from self._symbol(symbol)
        plan = plan_candles(name, resolution, since, until, tick_type, self._now_ms(), progress)
        frame = yield from plan
        frame.attrs.update(symbol=name, resolution=str(resolution).lower(), tick_type=tick_type)
        return frame

    def _q_trades(self, symbol: str, since: Any, until: Any, progress: bool) -> Plan:
        time_range(since, until, self._now_ms(), default_since="1h")
        name = yield from self._symbol(symbol)
        frame = yield from plan_trades(name, since, until, self._now_ms(), progress)
        frame.attrs["symbol"] = name
        return frame

    def _q_funding_rates(self, symbol: str, since: Any, until: Any) -> Plan:
        start, end = time_range(since, until, self._now_ms(), default_since="30d")
        name = yield from self._symbol(symbol)
        body = (yield [Call("historical_funding_rates", {"symbol": name})])[0]
        frame = between(frames.funding_rates(body, symbol=name), start, end)
        frame.attrs["symbol"] = name
        return frame

    def _q_term_structure(self, base: str) -> Plan:
        if not isinstance(base, str) or not base.strip():
            raise ValidationError("base", base, "base must be a currency code like 'XBT' or 'ETH'")
        tickers, instruments = yield [Call("tickers"), Call("instruments")]
        frame = frames.term_structure(tickers, instruments, now=self._now_ms())
        code = base.strip().upper().replace("BTC", "XBT")
        keep = [f"_{code}USD" in symbol.upper() for symbol in frame["symbol"]]
        return frame[keep].reset_index(drop=True)

    def _q_accounts(self) -> Plan:
        return plan_single([Call("accounts")], frames.accounts)

    def _q_positions(self) -> Plan:
        return plan_single([Call("openpositions"), Call("tickers")], frames.positions)

    def _q_open_orders(self) -> Plan:
        return plan_single([Call("openorders")], frames.open_orders)

    def _q_leverage(self) -> Plan:
        return plan_single([Call("leveragepreferences")], frames.leverage)

    def _q_fills(self, since: Any, progress: bool) -> Plan:
        return plan_fills(since, self._now_ms(), progress)

    def _q_history(self, kind: str, since: Any, until: Any, progress: bool) -> Plan:
        build = {"history_orders": frames.order_history, "history_executions": frames.executions}
        return plan_history(
            kind,
            build[kind],
            since,
            until,
            self._now_ms(),
            progress,
            default_since="30d",
            label=kind.replace("_", " "),
        )

    def _q_account_log(self, since: Any, until: Any, info: str | None, progress: bool) -> Plan:
        return plan_account_log(since, until, self._now_ms(), progress, info)

    def _finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame.attrs["env"] = self.env.name
        return frame

    def _remember(self, calls: list[Call], bodies: list[Any]) -> None:
        for call, body in zip(calls, bodies, strict=True):
            if call.endpoint == "instruments":
                self._instruments_cache = body

    def _endpoint(self, method: str, path: str, private: bool) -> Endpoint:
        """The table's rules for ``path`` (cost, retry, safety), sent to ``path`` as given."""
        endpoint = find_endpoint(method, path, private=private)
        # the escape hatch always returns decoded JSON
        return dataclasses.replace(
            endpoint, path=path, private=endpoint.private or private, raw=False
        )

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


class Client(_Base, TradingMixin):
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

    def _drive(self, plan: Generator[list[Call], list[Any], T]) -> T:
        """Run a plan: each batch's calls one after another, errors thrown back into it."""
        try:
            calls = next(plan)
            while True:
                try:
                    bodies = [self._call(c.endpoint, c.params, **c.path_params) for c in calls]
                except KFError as exc:
                    calls = plan.throw(exc)
                    continue
                self._remember(calls, bodies)
                calls = plan.send(bodies)
        except StopIteration as done:
            return cast(T, done.value)

    def _run(self, plan: Plan) -> pd.DataFrame:
        return self._finish(self._drive(plan))

    # -- market data -----------------------------------------------------------------
    def instruments(self) -> pd.DataFrame:
        """Every contract, indexed by ``symbol``; see :func:`kfresearch.frames.instruments`.

        >>> kf.instruments().loc["PF_XBTUSD", "tick_size"]
        1.0
        """
        return self._run(self._q_instruments())

    def tickers(self) -> pd.DataFrame:
        """Tickers with mid, spread, premium and funding (absolute, relative, annualised).

        See :func:`kfresearch.frames.tickers` for the columns.
        """
        return self._run(self._q_tickers())

    def orderbook(self, symbol: str, depth: int | None = None) -> pd.DataFrame:
        """The book of ``symbol`` as one tidy frame (side, level, price, size, cumulative size
        and notional), best first; ``attrs`` has mid, spread and spread_bps.
        """
        return self._run(self._q_orderbook(symbol, depth))

    def candles(
        self,
        symbol: str,
        resolution: str = "1h",
        since: Any = None,
        until: Any = None,
        *,
        tick_type: str = "trade",
        progress: bool = True,
    ) -> pd.DataFrame:
        """OHLCV candles indexed by ``time`` (UTC bucket start), float64 columns.

        ``since``/``until`` take datetimes, ISO strings, ``"30d"``-style
        relative strings or epoch ms; default: the last 2,000 candles. Pages of
        2,000 candles are fetched and joined without gaps or duplicates.
        ``tick_type`` is ``"trade"``, ``"mark"`` or ``"spot"`` (the index).

        >>> kf.candles("PF_XBTUSD", "1m", since="1d").shape[0]
        1440
        """
        return self._run(self._q_candles(symbol, resolution, since, until, tick_type, progress))

    def trades(
        self, symbol: str, since: Any = "1h", until: Any = None, *, progress: bool = True
    ) -> pd.DataFrame:
        """Public trades of ``symbol`` in ``[since, until)`` (market history), oldest first."""
        return self._run(self._q_trades(symbol, since, until, progress))

    def funding_rates(self, symbol: str, since: Any = "30d", until: Any = None) -> pd.DataFrame:
        """Hourly funding of a perpetual: absolute, relative and annualised rates, by ``time``."""
        return self._run(self._q_funding_rates(symbol, since, until))

    def term_structure(self, base: str = "XBT") -> pd.DataFrame:
        """The perpetual and dated contracts of ``base`` with days to expiry, basis and
        annualised basis, perpetual first.
        """
        return self._run(self._q_term_structure(base))

    # -- account (private) ------------------------------------------------------------
    def accounts(self) -> pd.DataFrame:
        """One row per wallet, and per currency of the multi-collateral wallet."""
        return self._run(self._q_accounts())

    def positions(self) -> pd.DataFrame:
        """Open positions by ``symbol`` with mark price, notional and unrealised PnL."""
        return self._run(self._q_positions())

    def open_orders(self) -> pd.DataFrame:
        """Open orders by ``order_id``."""
        return self._run(self._q_open_orders())

    def fills(self, since: Any = None, *, progress: bool = True) -> pd.DataFrame:
        """The account's fills by ``time`` (the last 100, or all since ``since``)."""
        return self._run(self._q_fills(since, progress))

    def order_history(
        self, since: Any = "30d", until: Any = None, *, progress: bool = True
    ) -> pd.DataFrame:
        """Order events (placed, updated, cancelled, rejected) from the history service."""
        return self._run(self._q_history("history_orders", since, until, progress))

    def executions(
        self, since: Any = "30d", until: Any = None, *, progress: bool = True
    ) -> pd.DataFrame:
        """The account's executions with fees and maker/taker role, from the history service."""
        return self._run(self._q_history("history_executions", since, until, progress))

    def account_log(
        self,
        since: Any = "30d",
        until: Any = None,
        *,
        info: str | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Every balance change by ``time``; ``is_position_leg`` tells position legs from cash."""
        return self._run(self._q_account_log(since, until, info, progress))

    def leverage(self) -> pd.DataFrame:
        """Leverage preferences (isolated ``max_leverage`` or cross) by symbol."""
        return self._run(self._q_leverage())

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


class AsyncClient(_Base, AsyncTradingMixin):
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

    async def _drive(self, plan: Generator[list[Call], list[Any], T]) -> T:
        """Run a plan; each batch's calls run concurrently (the limiter keeps the budget)."""
        try:
            calls = next(plan)
            while True:
                try:
                    bodies = list(
                        await asyncio.gather(
                            *(self._call(c.endpoint, c.params, **c.path_params) for c in calls)
                        )
                    )
                except KFError as exc:
                    calls = plan.throw(exc)
                    continue
                self._remember(calls, bodies)
                calls = plan.send(bodies)
        except StopIteration as done:
            return cast(T, done.value)

    async def _run(self, plan: Plan) -> pd.DataFrame:
        return self._finish(await self._drive(plan))

    # Async twins of the Client's data methods (same arguments and frames).
    async def instruments(self) -> pd.DataFrame:
        return await self._run(self._q_instruments())

    async def tickers(self) -> pd.DataFrame:
        return await self._run(self._q_tickers())

    async def orderbook(self, symbol: str, depth: int | None = None) -> pd.DataFrame:
        return await self._run(self._q_orderbook(symbol, depth))

    async def candles(
        self,
        symbol: str,
        resolution: str = "1h",
        since: Any = None,
        until: Any = None,
        *,
        tick_type: str = "trade",
        progress: bool = True,
    ) -> pd.DataFrame:
        return await self._run(
            self._q_candles(symbol, resolution, since, until, tick_type, progress)
        )

    async def trades(
        self, symbol: str, since: Any = "1h", until: Any = None, *, progress: bool = True
    ) -> pd.DataFrame:
        return await self._run(self._q_trades(symbol, since, until, progress))

    async def funding_rates(
        self, symbol: str, since: Any = "30d", until: Any = None
    ) -> pd.DataFrame:
        return await self._run(self._q_funding_rates(symbol, since, until))

    async def term_structure(self, base: str = "XBT") -> pd.DataFrame:
        return await self._run(self._q_term_structure(base))

    async def accounts(self) -> pd.DataFrame:
        return await self._run(self._q_accounts())

    async def positions(self) -> pd.DataFrame:
        return await self._run(self._q_positions())

    async def open_orders(self) -> pd.DataFrame:
        return await self._run(self._q_open_orders())

    async def fills(self, since: Any = None, *, progress: bool = True) -> pd.DataFrame:
        return await self._run(self._q_fills(since, progress))

    async def order_history(
        self, since: Any = "30d", until: Any = None, *, progress: bool = True
    ) -> pd.DataFrame:
        return await self._run(self._q_history("history_orders", since, until, progress))

    async def executions(
        self, since: Any = "30d", until: Any = None, *, progress: bool = True
    ) -> pd.DataFrame:
        return await self._run(self._q_history("history_executions", since, until, progress))

    async def account_log(
        self,
        since: Any = "30d",
        until: Any = None,
        *,
        info: str | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        return await self._run(self._q_account_log(since, until, info, progress))

    async def leverage(self) -> pd.DataFrame:
        return await self._run(self._q_leverage())

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
