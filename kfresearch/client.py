"""``Client`` and ``AsyncClient``: every public method declared once, run two ways.

The market, account and escape-hatch methods are declared here
(:class:`DataMethods`), the order methods in :mod:`kfresearch.trading`; each
declaration returns a plan (:mod:`kfresearch.plans`) and
:mod:`kfresearch.operations` makes it a blocking method of :class:`Client` and
an awaitable one of :class:`AsyncClient`, with the same signature and
docstring. The two classes add only what differs: the connection pool, how a
plan is run (one call after another, or each batch concurrently), closing,
and the dead man's switch helper. :func:`connect` is the one-line entry point.

Example
-------
>>> import kfresearch
>>> kf = kfresearch.connect("sim")
>>> kf.request("GET", "/derivatives/api/v3/tickers/PF_XBTUSD")["ticker"]["symbol"]
'PF_XBTUSD'
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
import pandas as pd

from kfresearch import frames
from kfresearch.clientstate import DEFAULT_TIMEOUT, ClientState
from kfresearch.credentials import Secret, as_secret
from kfresearch.doctor import DoctorReport, plan_doctor
from kfresearch.endpoints import (
    ACCOUNT_LOG_CSV,
    HISTORY_EXECUTIONS,
    HISTORY_ORDERS,
    INSTRUMENTS,
    LEVERAGEPREFERENCES,
    NOTIFICATIONS,
    OPENORDERS,
    OPENPOSITIONS,
    SUBACCOUNTS,
    TICKERS,
    Params,
)
from kfresearch.environments import Environment
from kfresearch.errors import ValidationError
from kfresearch.operations import Awaiting, Blocking, operation
from kfresearch.plans import CONCURRENCY, Call, Plan, drive, drive_async, plan_single
from kfresearch.queries import (
    plan_account_log,
    plan_accounts,
    plan_candles,
    plan_fills,
    plan_funding_rates,
    plan_history,
    plan_orderbook,
    plan_term_structure,
    plan_trades,
)
from kfresearch.trading import (
    SWITCH_INTERVAL,
    SWITCH_TIMEOUT,
    AsyncDeadMansSwitch,
    DeadMansSwitch,
    OrderMethods,
)
from kfresearch.transport import RetryPolicy, run_async, run_sync

if TYPE_CHECKING:
    from kfresearch.ratelimit import RateLimiter
    from kfresearch.stream.runner import LoopRunner
    from kfresearch.timeparse import TimeLike

__all__ = ["AsyncClient", "Client", "DataMethods", "connect"]

T = TypeVar("T")


def _body(body: Any) -> Any:
    return body


class DataMethods(ClientState):
    """The market, account and escape-hatch methods of both clients (declarations)."""

    # -- market data -----------------------------------------------------------------
    @operation
    def instruments(self) -> Plan[pd.DataFrame]:
        """Every contract, indexed by ``symbol``; see :func:`kfresearch.frames.instruments`.

        >>> kf.instruments().loc["PF_XBTUSD", "tick_size"]
        1.0
        """
        return plan_single([Call(INSTRUMENTS)], frames.instruments)

    @operation
    def tickers(self) -> Plan[pd.DataFrame]:
        """Tickers with mid, spread, premium and funding (absolute, relative, annualised).

        Contracts and the ``in_``/``rr_`` index tickers, by ``symbol``; see
        :func:`kfresearch.frames.tickers` for the columns.
        """
        return plan_single([Call(TICKERS)], frames.tickers)

    @operation
    def orderbook(self, symbol: str, depth: int | None = None) -> Plan[pd.DataFrame]:
        """The book of ``symbol`` as one tidy frame (side, level, price, size, cumulative size
        and notional), best first; ``attrs`` has mid, spread and spread_bps.
        """
        return plan_orderbook(symbol, depth, self._instruments_body())

    @operation
    def candles(
        self,
        symbol: str,
        resolution: str = "1h",
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        *,
        tick_type: str = "trade",
        progress: bool = True,
    ) -> Plan[pd.DataFrame]:
        """OHLCV candles indexed by ``time`` (UTC bucket start), float64 columns.

        ``since``/``until`` take datetimes, ISO strings, ``"30d"``-style
        relative strings or epoch ms; default: the last 2,000 candles. Pages of
        2,000 candles are fetched four at a time and joined without gaps or
        duplicates.
        ``tick_type`` is ``"trade"``, ``"mark"`` or ``"spot"`` (the index). An
        index symbol (``"in_xbtusd"``) gives the index's own candles (the
        ``spot`` series of the perpetual on its pair, ``attrs["source_symbol"]``).

        >>> kf.candles("PF_XBTUSD", "1m", since="1d").shape[0]
        1440
        """
        return plan_candles(
            symbol,
            resolution,
            since,
            until,
            tick_type,
            self._now_ms(),
            progress,
            self._instruments_body(),
        )

    @operation
    def trades(
        self,
        symbol: str,
        since: TimeLike | None = "1h",
        until: TimeLike | None = None,
        *,
        progress: bool = True,
    ) -> Plan[pd.DataFrame]:
        """Public trades of ``symbol`` in ``[since, until)`` (market history), oldest first.

        A long range is paged in time sub-ranges, four requests at a time, and
        joined into the frame one page after another would give; see
        :func:`kfresearch.frames.trades` for the columns.
        """
        return plan_trades(symbol, since, until, self._now_ms(), progress, self._instruments_body())

    @operation
    def funding_rates(
        self, symbol: str, since: TimeLike | None = "30d", until: TimeLike | None = None
    ) -> Plan[pd.DataFrame]:
        """Hourly funding of a perpetual: absolute, relative and annualised rates, by ``time``.

        Dated futures pay no funding: asking for one raises a
        :class:`~kfresearch.ValidationError` that says so.
        """
        return plan_funding_rates(symbol, since, until, self._now_ms(), self._instruments_body())

    @operation
    def term_structure(self, base: str = "XBT") -> Plan[pd.DataFrame]:
        """The perpetual and dated contracts of ``base`` with days to expiry, basis and
        annualised basis, perpetual first. An unknown ``base`` raises with the closest ones.
        """
        return plan_term_structure(base, self._now_ms())

    # -- account (private) ------------------------------------------------------------
    @operation
    def accounts(self) -> Plan[pd.DataFrame]:
        """One row per wallet, and per currency of the multi-collateral wallet, with each
        margin wallet's fee tier and maker/taker rates (fractions); see
        :func:`kfresearch.frames.accounts`."""
        return plan_accounts(self._instruments_body())

    @operation
    def positions(self) -> Plan[pd.DataFrame]:
        """Open positions by ``symbol`` with mark price, notional and unrealised PnL."""
        return plan_single([Call(OPENPOSITIONS), Call(TICKERS)], frames.positions)

    @operation
    def open_orders(self) -> Plan[pd.DataFrame]:
        """Open orders by ``order_id``."""
        return plan_single([Call(OPENORDERS)], frames.open_orders)

    @operation
    def fills(self, since: TimeLike | None = None, *, progress: bool = True) -> Plan[pd.DataFrame]:
        """The account's fills by ``time`` (the last 100, or all since ``since``)."""
        return plan_fills(since, self._now_ms(), progress)

    @operation
    def order_history(
        self,
        since: TimeLike | None = "30d",
        until: TimeLike | None = None,
        *,
        progress: bool = True,
    ) -> Plan[pd.DataFrame]:
        """Order events (placed, updated, cancelled, rejected) from the history service."""
        return plan_history(
            HISTORY_ORDERS,
            frames.order_history,
            since,
            until,
            self._now_ms(),
            progress,
            default_since="30d",
            label="order history",
        )

    @operation
    def executions(
        self,
        since: TimeLike | None = "30d",
        until: TimeLike | None = None,
        *,
        progress: bool = True,
    ) -> Plan[pd.DataFrame]:
        """The account's executions with fees and maker/taker role, from the history service."""
        return plan_history(
            HISTORY_EXECUTIONS,
            frames.executions,
            since,
            until,
            self._now_ms(),
            progress,
            default_since="30d",
            label="executions",
        )

    @operation
    def account_log(
        self,
        since: TimeLike | None = "30d",
        until: TimeLike | None = None,
        *,
        info: str | None = None,
        progress: bool = True,
    ) -> Plan[pd.DataFrame]:
        """Every balance change by ``time``; ``is_position_leg`` tells position legs from cash."""
        return plan_account_log(since, until, self._now_ms(), progress, info)

    @operation
    def account_log_csv(self, *, conversion_details: bool = False) -> Plan[pd.DataFrame]:
        """The account log from its CSV export, in :meth:`account_log`'s frame.

        One request for the exchange's recent entries (no paging, no time
        range); the export has no entry ids, so ``id`` is ``<NA>``. With
        ``conversion_details`` the conversion columns are filled. See
        :func:`kfresearch.frames.account_log_csv`.
        """
        params = {"conversion_details": "true"} if conversion_details else {}
        return plan_single([Call(ACCOUNT_LOG_CSV, params)], frames.account_log_csv)

    @operation
    def notifications(self) -> Plan[pd.DataFrame]:
        """The exchange's notices (maintenance, settlements, market notes) by ``time``,
        with ``is_downtime``; see :func:`kfresearch.frames.notifications`."""
        return plan_single([Call(NOTIFICATIONS)], frames.notifications)

    @operation
    def subaccounts(self) -> Plan[pd.DataFrame]:
        """The account's subaccounts by ``account_uid`` with their multi-collateral wallet
        (USD); empty for an account without any. See :func:`kfresearch.frames.subaccounts`."""
        return plan_single([Call(SUBACCOUNTS)], frames.subaccounts)

    @operation
    def leverage(self) -> Plan[pd.DataFrame]:
        """Leverage preferences (isolated ``max_leverage`` or cross) by symbol."""
        return plan_single([Call(LEVERAGEPREFERENCES)], frames.leverage)

    # -- escape hatch and checks -----------------------------------------------------------
    @operation
    def request(
        self, method: str, path: str, params: Params | None = None, *, private: bool = False
    ) -> Plan[Any]:
        """Call any endpoint and return its decoded JSON: the escape hatch.

        ``path`` is absolute (``"/derivatives/api/v3/tickers"``). Known
        endpoints keep their cost, retry and safety rules; unknown ones are
        treated conservatively (only GET is retried). Every call that changes
        the account (any method but GET, unless the endpoint table says it only
        reads) needs ``allow_trading`` on live; a known order or settings path
        called with a method it does not take is refused before sending.
        """
        call = Call(self._endpoint(method, path, private), dict(params or {}))
        return plan_single([call], _body)

    @operation
    def doctor(self) -> Plan[DoctorReport]:
        """Check host, clock, both kinds of key and known traps (:mod:`kfresearch.doctor`)."""
        return plan_doctor(
            self.env,
            self.protocol,
            derivatives=self._core.credentials is not None,
            spot=self._core.spot_credentials is not None,
        )


class Client(DataMethods, OrderMethods, Blocking):
    """The blocking client: what a notebook cell uses.

    Parameters
    ----------
    env : {"demo", "sim", "live"} or Environment, optional
        Default ``KFRESEARCH_ENV`` or ``"demo"`` (paper trading).
    key : str, optional
        API public key. Default ``KFRESEARCH_API_KEY`` or ``./.env`` (live
        only: sim and demo provision their own keys).
    secret : str, bytes or Secret, optional
        API secret (base64 text), held masked. Default
        ``KFRESEARCH_API_SECRET`` or ``./.env``.
    base_url : str, optional
        A server that speaks the API, e.g. ``kfresearch sim serve``.
    allow_trading : bool, optional
        The second opt-in that account-changing calls on ``live`` need
        (default ``KFRESEARCH_ALLOW_LIVE_TRADING=1``).
    timeout : float
        Seconds for every request (connect, read, write).
    retry, limiter, exchange, transport : optional
        Retry policy, rate-limit pools, an exchange to share (``kf.sim``) and
        an :class:`httpx.BaseTransport` (see
        :class:`kfresearch.clientstate.ClientState`).
    protocol : {"v3", "uws"}, optional
        The Derivatives REST API or the Unified WebSocket; default
        ``KFRESEARCH_PROTOCOL``, else by date (``uws`` from 2027-03-01).
    uws_key, uws_secret : str, optional
        The Kraken (spot-style) key pair for the Unified WebSocket. Default
        ``KFRESEARCH_UWS_API_KEY`` / ``KFRESEARCH_UWS_API_SECRET`` or ``./.env``.
    account, balance : optional
        ``demo`` only: the named paper account and the USD a new one starts
        with (``connect("demo", account="carry-study", balance=25_000)``).
    """

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise ValidationError(
                "transport",
                transport,
                "Client needs an httpx.BaseTransport (such as httpx.HTTPTransport); an "
                "httpx.AsyncBaseTransport goes with AsyncClient",
            )
        self._http = httpx.Client(timeout=self.timeout, transport=transport)
        self._sleep: Callable[[float], None] = time.sleep  # tests swap in a fake clock
        self._uws_loop: LoopRunner | None = None
        # a batch's requests (candle windows, history sub-ranges) go out side by side;
        # httpx.Client is thread-safe, and its threads start only when first needed
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="kfresearch-request")

    def _send(self, call: Call) -> Any:
        route = self._uws_route(call)
        if route is not None and route.kind == "uws":
            # the UWS adapter is asyncio: it runs on a loop of its own, in a thread
            if self._uws_loop is None:
                from kfresearch.stream.runner import LoopRunner

                self._uws_loop = LoopRunner.background()
            return self._uws_loop.call(self._uws().answer(call), None)
        step = self._core.exchange(call.endpoint, call.params, call.path_params)
        return run_sync(step, self._http, self._sleep)

    def _run(self, plan: Plan[T]) -> T:
        """Run a plan: each batch's calls side by side on the client's threads, errors
        thrown back into it."""
        return _finish(drive(plan, self._send, self._seen, pool=self._pool), self)

    def keep_alive(
        self,
        timeout: int = SWITCH_TIMEOUT,
        interval: float = SWITCH_INTERVAL,
        *,
        start: bool = True,
    ) -> DeadMansSwitch:
        """Keep the dead man's switch armed from a background thread while the notebook runs.

        Arms it now for ``timeout`` seconds (errors such as the live gate
        surface here), then re-arms it every ``interval`` seconds. If the
        kernel dies or hangs, the exchange cancels every order ``timeout``
        seconds after the last re-arm. ``.stop()`` (or leaving a ``with``
        block) stops re-arming and disarms it; ``start=False`` returns it
        unarmed (``.start()`` later).

        Examples
        --------
        >>> with kf.keep_alive():                                             # doctest: +SKIP
        ...     run_strategy(kf)
        """
        switch = DeadMansSwitch(self.cancel_all_after, timeout=timeout, interval=interval)
        if start:
            switch.start()
        return switch

    def close(self) -> None:
        """Close the connection pool, the client's request threads and the UWS connections."""
        self._pool.shutdown(wait=True)
        self._http.close()
        self._close_uws()
        runner, self._uws_loop = self._uws_loop, None
        if runner is not None:
            adapter = self._uws_adapter
            if adapter is not None:
                with contextlib.suppress(Exception):
                    runner.call(adapter.aclose(), self.timeout)
            runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(DataMethods, OrderMethods, Awaiting):
    """The asyncio twin of :class:`Client`: same arguments, same methods, awaitable.

    Each batch of a plan runs concurrently (candle windows, context reads).
    Use top-level ``await`` in notebooks: ``async with AsyncClient("sim") as kf: ...``.
    """

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ValidationError(
                "transport",
                transport,
                "AsyncClient needs an httpx.AsyncBaseTransport (such as "
                "httpx.AsyncHTTPTransport); an httpx.BaseTransport goes with Client",
            )
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=transport)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def _send(self, call: Call) -> Any:
        route = self._uws_route(call)
        if route is not None and route.kind == "uws":
            return await self._uws().answer(call)
        step = self._core.exchange(call.endpoint, call.params, call.path_params)
        return await run_async(step, self._http, self._sleep)

    async def _run(self, plan: Plan[T]) -> T:
        """Run a plan; each batch's calls run concurrently (the limiter keeps the budget)."""
        return _finish(await drive_async(plan, self._send, self._seen), self)

    async def keep_alive(
        self,
        timeout: int = SWITCH_TIMEOUT,  # noqa: ASYNC109 - the switch's timeout, not ours
        interval: float = SWITCH_INTERVAL,
        *,
        start: bool = True,
    ) -> AsyncDeadMansSwitch:
        """Keep the dead man's switch armed from a task on the running loop.

        Arms it now for ``timeout`` seconds (errors such as the live gate
        surface here), then re-arms it every ``interval`` seconds. If the
        kernel dies or hangs, the exchange cancels every order ``timeout``
        seconds after the last re-arm. ``await .stop()`` (or leaving an
        ``async with`` block) stops re-arming and disarms it; ``start=False``
        returns it unarmed (``await .start()`` later).

        Examples
        --------
        >>> async with await kf.keep_alive():                                 # doctest: +SKIP
        ...     await run_strategy(kf)
        """
        switch = AsyncDeadMansSwitch(self.cancel_all_after, timeout=timeout, interval=interval)
        if start:
            await switch.start()
        return switch

    async def aclose(self) -> None:
        """Close the connection pool (and the UWS connections)."""
        await self._http.aclose()
        self._close_uws()
        if self._uws_adapter is not None:
            await self._uws_adapter.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _finish(result: T, client: ClientState) -> T:
    """Frames record the environment they came from (``attrs["env"]``)."""
    if isinstance(result, pd.DataFrame):
        result.attrs["env"] = client.env.name
    return result


def connect(
    env: str | Environment | None = None,
    *,
    key: str | None = None,
    secret: str | bytes | Secret | None = None,
    base_url: str | None = None,
    allow_trading: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
    exchange: Any = None,
    transport: httpx.BaseTransport | None = None,
    protocol: str | None = None,
    uws_key: str | None = None,
    uws_secret: str | bytes | Secret | None = None,
    account: str | None = None,
    balance: float | None = None,
) -> Client:
    """Make a :class:`Client`: ``kf = kfresearch.connect()``.

    Same arguments as :class:`Client`. Default environment: ``KFRESEARCH_ENV``
    or ``demo`` (paper trading; nothing reaches the real exchange). Default
    protocol: ``KFRESEARCH_PROTOCOL``, else by the environment's date: the v3
    REST API before 2027-03-01 (with a warning from 2027-01-01), the Unified
    WebSocket (``protocol="uws"``) from that day on.

    >>> kfresearch.connect("sim", protocol="uws").protocol
    'uws'
    """
    secret = as_secret(secret)  # first: no frame keeps the secret in clear
    uws_secret = as_secret(uws_secret)
    return Client(
        env,
        key=key,
        secret=secret,
        base_url=base_url,
        allow_trading=allow_trading,
        timeout=timeout,
        retry=retry,
        limiter=limiter,
        exchange=exchange,
        transport=transport,
        protocol=protocol,
        uws_key=uws_key,
        uws_secret=uws_secret,
        account=account,
        balance=balance,
    )
