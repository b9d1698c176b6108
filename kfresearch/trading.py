"""The order methods of both clients, each declared once (see :mod:`kfresearch.operations`).

Thin declarations: every decision (validation, parameters, rejection checks,
the lookup that resolves an unknown outcome) is a plan in
:mod:`kfresearch.orders.plans`; each declaration checks the live gate and
returns its plan, and :class:`~kfresearch.Client` / :class:`~kfresearch.AsyncClient`
run it. The dead man's switch helpers (:class:`DeadMansSwitch`, a thread;
:class:`AsyncDeadMansSwitch`, a task) are the one place the two clients differ
by design.

Safety rules (design.md, "Orders are dangerous")
------------------------------------------------
* On ``live``, placing, editing or cancelling needs ``allow_trading=True`` (or
  ``KFRESEARCH_ALLOW_LIVE_TRADING=1``): without it the call raises
  :class:`~kfresearch.errors.LiveTradingDisabledError` before any request,
  including the reads that validation needs. The one gate is
  :meth:`kfresearch.transport.Core.check_allowed`.
* Every new order carries a client order id; after a timeout the order is
  looked up by it before anything else is decided (:mod:`kfresearch.orders`).
* The dead man's switch (``keep_alive``) cancels every order if the notebook
  stops re-arming it.

Example
-------
>>> kf = kfresearch.connect("sim")                                     # doctest: +SKIP
>>> kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)       # doctest: +SKIP
<OrderResult placed: buy 0.001 PF_XBTUSD lmt @ 70000, filled 0, order_id='…'>
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Self

import pandas as pd

from kfresearch.clientstate import ClientState
from kfresearch.endpoints import (
    BATCHORDER,
    CANCELALLORDERS,
    CANCELALLORDERSAFTER,
    CANCELORDER,
    EDITORDER,
    SENDORDER,
)
from kfresearch.errors import KFError, ValidationError
from kfresearch.operations import operation
from kfresearch.orders.plans import (
    plan_batch,
    plan_cancel,
    plan_cancel_all,
    plan_cancel_all_after,
    plan_edit,
    plan_order_status,
    plan_place,
)
from kfresearch.orders.preview import OrderContext, OrderPreview, plan_context, plan_preview
from kfresearch.orders.requests import Edit, Instruction, Send, Trailing
from kfresearch.orders.results import BatchResult, CancelAllResult, OrderResult, SwitchStatus
from kfresearch.orders.statuses import LOOKUP_RESENDS

if TYPE_CHECKING:
    from kfresearch.plans import Plan
    from kfresearch.timeparse import TimeLike

__all__ = [
    "SWITCH_INTERVAL",
    "SWITCH_TIMEOUT",
    "AsyncDeadMansSwitch",
    "DeadMansSwitch",
    "OrderMethods",
]

log = logging.getLogger("kfresearch.trading")

#: Kraken's advice for the dead man's switch (reference §4.16): 60 s, re-armed every 15–20 s.
SWITCH_TIMEOUT = 60
SWITCH_INTERVAL = 15.0


class OrderMethods(ClientState):
    """The order methods of :class:`~kfresearch.Client` and :class:`~kfresearch.AsyncClient`."""

    @operation
    def place_order(
        self,
        symbol: str,
        side: str,
        size: float,
        order_type: str = "lmt",
        limit_price: float | None = None,
        stop_price: float | None = None,
        trigger_signal: str | None = None,
        reduce_only: bool = False,
        post_only: bool = False,
        trailing: str | Trailing | None = None,
        client_order_id: str | None = None,
        *,
        process_before: TimeLike | None = None,
        validate: bool = True,
    ) -> Plan[OrderResult]:
        """Place one order; checked against the contract's rules before it is sent.

        Parameters
        ----------
        symbol : str
            Contract, e.g. ``"PF_XBTUSD"`` (any case).
        side : {"buy", "sell"}
        size : float
            Contracts: base units for ``PF_``/``FF_`` (0.001 = 0.001 XBT), USD for
            ``PI_``/``FI_``. A positive multiple of the contract step.
        order_type : str
            ``"lmt"`` (default), ``"post"``, ``"ioc"``, ``"fok"``, ``"mkt"``,
            ``"stp"``, ``"take_profit"`` or ``"trailing_stop"`` (aliases
            ``"limit"``, ``"market"``, ``"stop"``).
        limit_price : float, optional
            USD, on the tick grid. Required for lmt/post/ioc/fok; the worst fill
            price of a triggered stp/take_profit; not for mkt or trailing_stop.
        stop_price : float, optional
            Trigger price (USD) of stp/take_profit.
        trigger_signal : {"mark", "index", "last"}, optional
            What the trigger watches (stop orders only).
        reduce_only, post_only : bool
            Only reduce a position; post-only limit (never takes liquidity).
            ``True`` or ``False`` only (``"no"`` is refused, not read as true).
        trailing : str or Trailing, optional
            Trailing-stop distance, ``"1%"`` or ``"250 usd"`` (trailing_stop only).
        client_order_id : str, optional
            Your id for the order (at most 100 characters); a fresh one is made
            when omitted. After a timeout the order is found by it.
        process_before : datetime or str, optional
            The exchange does nothing if it would process the order later.
        validate : bool
            Check before sending (default). ``False`` sends the order as given
            and lets the exchange judge it.

        Returns
        -------
        OrderResult
            Order id, client order id, status, size filled so far, events;
            ``.to_frame()`` gives one row.

        Raises
        ------
        ValidationError
            Bad input, before anything is sent: names the field, the value and
            what is valid.
        OrderRejected
            The exchange rejected the order (``.status``, ``.explanation``).
        LiveTradingDisabledError
            On ``live`` without ``allow_trading``; nothing was sent.
        OutcomeUnknownError
            No answer and the order could not be found or ruled out.

        Notes
        -----
        One request (``sendorder``, 10 rate units) for a market order once the
        client holds the instruments (read at most once a minute); a limit
        order also reads its ticker (public, no rate units) for the price
        collar, unless the client read that mark in the last two seconds
        (:data:`~kfresearch.clientstate.MARKS_FRESH_FOR`).

        Examples
        --------
        >>> kf = kfresearch.connect("sim")                                    # doctest: +SKIP
        >>> kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)      # doctest: +SKIP
        <OrderResult placed: buy 0.001 PF_XBTUSD lmt @ 70000, filled 0, order_id='…'>
        >>> kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000.3)    # doctest: +SKIP
        ValidationError: limit_price 70000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid:
        70000 or 70001
        """
        self._gate(SENDORDER)
        self._check_client_order_id(client_order_id)
        intent = Send(
            symbol,
            side,
            size,
            order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            trigger_signal=trigger_signal,
            reduce_only=reduce_only,
            post_only=post_only,
            trailing=trailing,
            client_order_id=client_order_id,
            process_before=process_before,
        )
        return plan_place(
            intent,
            instruments_body=self._instruments_body(),
            client_order_id=client_order_id or self._new_client_order_id(),
            validate=validate,
            # on UWS an unanswered order is resolved by lookup only, never sent again
            resends=0 if self.protocol == "uws" else LOOKUP_RESENDS,
            marks=self._fresh_marks(),
        )

    @operation
    def edit_order(
        self,
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        size: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trailing: str | Trailing | None = None,
        qty_mode: str | None = None,
        validate: bool = True,
    ) -> Plan[OrderResult]:
        """Change an open order's size (contracts) or prices (USD); None keeps a field.

        ``qty_mode="relative"`` (the exchange's default) makes ``size`` the new
        open size; ``"absolute"`` the total including fills. Raises
        :class:`OrderRejected` for ``orderForEditNotFound`` and the other edit
        statuses.

        >>> kf.edit_order(result.order_id, limit_price=70500)                 # doctest: +SKIP
        """
        self._gate(EDITORDER)
        edit = Edit(order_id, client_order_id, size, limit_price, stop_price, trailing, qty_mode)
        return plan_edit(
            edit,
            instruments_body=self._instruments_body(),
            validate=validate,
            marks=self._fresh_marks(),
        )

    @operation
    def cancel_order(
        self, order_id: str | None = None, *, client_order_id: str | None = None
    ) -> Plan[OrderResult]:
        """Cancel one open order by ``order_id`` or ``client_order_id``.

        Raises :class:`OrderRejected` with status ``notFound`` (not open) or
        ``filled`` (too late).

        >>> kf.cancel_order(result.order_id).status                          # doctest: +SKIP
        'cancelled'
        """
        self._gate(CANCELORDER)
        return plan_cancel(order_id, client_order_id)

    @operation
    def cancel_all(self, symbol: str | None = None) -> Plan[CancelAllResult]:
        """Cancel every open order, or only those of ``symbol``.

        >>> kf.cancel_all()                                                   # doctest: +SKIP
        <CancelAllResult cancelled 2 orders (all)>
        """
        self._gate(CANCELALLORDERS)
        return plan_cancel_all(symbol, instruments_body=self._instruments_body())

    @operation
    def cancel_all_after(self, seconds: int) -> Plan[SwitchStatus]:
        """Arm the dead man's switch: cancel everything in ``seconds`` unless re-armed (0 disarms).

        See ``keep_alive`` for a helper that keeps it armed in the background.

        >>> kf.cancel_all_after(60)                                           # doctest: +SKIP
        <SwitchStatus armed: cancels all orders at 2026-11-01T00:01:00Z>
        """
        self._gate(CANCELALLORDERSAFTER)
        return plan_cancel_all_after(seconds)

    @operation
    def batch(self, items: Sequence[Instruction], *, validate: bool = True) -> Plan[BatchResult]:
        """Send, edit and cancel several orders in one request (cost 9 + number of items).

        ``items`` are :class:`kfresearch.Send`, ``Edit`` and ``Cancel``.
        Each new order is validated like ``place_order`` and gets a client
        order id. A rejected item does not raise; see ``.rejected`` and
        ``.raise_for_status()``.

        >>> from kfresearch import Send, Cancel
        >>> kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
        ...           Cancel(order_id)])                                      # doctest: +SKIP
        """
        self._gate(BATCHORDER)
        for i, item in enumerate(items):
            if isinstance(item, Send):
                self._check_client_order_id(item.client_order_id, f"items[{i}].client_order_id")
        return plan_batch(
            list(items),
            instruments_body=self._instruments_body(),
            new_client_order_id=self._new_client_order_id,
            validate=validate,
            marks=self._fresh_marks(),
        )

    @operation
    def order_status(
        self,
        ids: str | Sequence[str] | None = None,
        *,
        client_order_ids: str | Sequence[str] | None = None,
    ) -> Plan[pd.DataFrame]:
        """Open orders, or orders closed in the last 5 s, by order id and/or client order id;
        with no ids, every open order.

        See :func:`kfresearch.orders.results.status_frame` for the columns.

        >>> kf.order_status().loc[:, ["symbol", "status", "filled"]]          # doctest: +SKIP
        """
        return plan_order_status(ids, client_order_ids)

    @operation
    def order_context(self, symbol: str) -> Plan[OrderContext]:
        """Rules, bid/ask/mark, position, available margin and fee rates of ``symbol``."""
        return plan_context(symbol, self._instruments_body())

    @operation
    def preview_order(
        self,
        symbol: str,
        side: str,
        size: float,
        order_type: str = "lmt",
        limit_price: float | None = None,
        stop_price: float | None = None,
        trigger_signal: str | None = None,
        reduce_only: bool = False,
        post_only: bool = False,
        trailing: str | Trailing | None = None,
        client_order_id: str | None = None,
        *,
        process_before: TimeLike | None = None,
    ) -> Plan[OrderPreview]:
        """What ``place_order`` with these arguments would do: notional, margin, fee,
        distance from mark, resulting position, and the validation errors. Sends no order.

        >>> kf.preview_order("PF_XBTUSD", "buy", 0.01, "mkt").notional_usd    # doctest: +SKIP
        """
        intent = Send(
            symbol,
            side,
            size,
            order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            trigger_signal=trigger_signal,
            reduce_only=reduce_only,
            post_only=post_only,
            trailing=trailing,
            client_order_id=client_order_id,
            process_before=process_before,
        )
        return plan_preview(intent, self._instruments_body())


# --------------------------------------------------------------------------- dead man's switch


def _check_switch(timeout: Any, interval: Any) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValidationError("timeout", timeout, "timeout must be a positive whole number of "
                              "seconds (Kraken recommends 60)")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not (
        0 < interval < timeout
    ):
        raise ValidationError("interval", interval, f"interval must be between 0 and the "
                              f"timeout ({timeout} s); Kraken recommends 15–20 s")


class DeadMansSwitch:
    """Re-arms ``cancel_all_after(timeout)`` every ``interval`` seconds from a daemon thread.

    Made by :meth:`kfresearch.Client.keep_alive`. A failed re-arm is logged and
    kept in :attr:`last_error`; the thread tries again at the next interval
    (the exchange-side deadline still protects you). :meth:`stop` ends the
    thread and disarms the switch.

    Attributes
    ----------
    status : SwitchStatus or None
        The exchange's answer to the last successful arm.
    last_error : Exception or None
        The last failure (cleared by a success).
    rearms : int
        Successful arms so far.
    """

    def __init__(
        self,
        arm: Callable[[int], SwitchStatus],
        *,
        timeout: int = SWITCH_TIMEOUT,
        interval: float = SWITCH_INTERVAL,
    ) -> None:
        _check_switch(timeout, interval)
        self.timeout = timeout
        self.interval = float(interval)
        self.status: SwitchStatus | None = None
        self.last_error: BaseException | None = None
        self.rearms = 0
        self._arm = arm
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Arm now (raising on failure), then keep re-arming in the background."""
        if self.running:
            return self
        self._fire(raise_errors=True)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="kfresearch-dead-mans-switch", daemon=True
        )
        self._thread.start()
        return self

    def _fire(self, *, raise_errors: bool) -> None:
        try:
            self.status = self._arm(self.timeout)
        except Exception as exc:
            self.last_error = exc
            log.warning("dead man's switch: re-arming failed: %s", exc)
            if raise_errors:
                raise
        else:
            self.last_error = None
            self.rearms += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._fire(raise_errors=False)

    def stop(self, *, disarm: bool = True) -> None:
        """Stop re-arming; with ``disarm`` (default) also switch it off at the exchange."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.interval + 30)
        if disarm:
            try:
                self.status = self._arm(0)
            except KFError as exc:
                self.last_error = exc
                log.warning("dead man's switch: disarming failed: %s", exc)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        error = f", last error: {self.last_error}" if self.last_error else ""
        return (
            f"<DeadMansSwitch {state}: cancel all after {self.timeout} s, re-armed every "
            f"{self.interval:g} s{error}>"
        )


class AsyncDeadMansSwitch:
    """The asyncio twin of :class:`DeadMansSwitch`: a task on the running loop."""

    def __init__(
        self,
        arm: Callable[[int], Awaitable[SwitchStatus]],
        *,
        timeout: int = SWITCH_TIMEOUT,
        interval: float = SWITCH_INTERVAL,
    ) -> None:
        _check_switch(timeout, interval)
        self.timeout = timeout
        self.interval = float(interval)
        self.status: SwitchStatus | None = None
        self.last_error: BaseException | None = None
        self.rearms = 0
        self._arm = arm
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> Self:
        """Arm now (raising on failure), then keep re-arming from a task."""
        if self.running:
            return self
        self.status = await self._arm(self.timeout)
        self.rearms += 1
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.status = await self._arm(self.timeout)
            except Exception as exc:
                self.last_error = exc
                log.warning("dead man's switch: re-arming failed: %s", exc)
            else:
                self.last_error = None
                self.rearms += 1

    async def stop(self, *, disarm: bool = True) -> None:
        """Stop re-arming; with ``disarm`` also switch it off at the exchange."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if disarm:
            try:
                self.status = await self._arm(0)
            except KFError as exc:
                self.last_error = exc
                log.warning("dead man's switch: disarming failed: %s", exc)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<AsyncDeadMansSwitch {state}: cancel all after {self.timeout} s, re-armed every "
            f"{self.interval:g} s>"
        )
