"""What the exchange did: OrderResult and friends, built from answers or lookups.

Part of :mod:`kfresearch.orders` (see its docstring for the rules).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from kfresearch.contracts import is_inverse
from kfresearch.errors import OrderRejected
from kfresearch.frames.core import Col, FrameSpec, build, col, flatten
from kfresearch.orders.requests import (
    Send,
)
from kfresearch.orders.rules import (
    as_float,
    parse_time,
    plain,
)
from kfresearch.orders.statuses import (
    ERROR_STATUS,
    LIFE_STATUS,
    OK_STATUSES,
    explain,
)

# --------------------------------------------------------------------------- results

_RESULT_FRAME = FrameSpec(
    name="order_result",
    columns=(
        col("order_id", "str"),
        col("client_order_id", "str"),
        col("action", "str"),
        col("status", "str"),
        Col("ok", "bool", "ok"),
        col("symbol", "str"),
        col("side", "str"),
        col("order_type", "str"),
        col("size", "float", unit="contracts"),
        col("filled", "float", unit="contracts"),
        col("avg_fill_price", "float", unit="quote"),
        col("limit_price", "float", unit="quote"),
        col("stop_price", "float", unit="quote"),
        Col("reduce_only", "bool", "reduce_only"),
        col("received_time", "time"),
        Col("resolved", "bool", "resolved"),
        col("explanation", "str"),
    ),
    index="order_id",
)


@dataclass(frozen=True)
class OrderResult:
    """What the exchange did with one order request.

    Attributes
    ----------
    action : {"send", "edit", "cancel"}
    status : str
        The exchange's status (``placed``, ``edited``, ``cancelled`` …; see :data:`EXPLANATIONS`).
    order_id, client_order_id : str or None
    symbol, side, order_type : str or None
    size, filled : float
        Contracts; ``filled`` is the size executed so far (by this request's
        events, or the order's state when the result comes from a lookup),
        summed exactly and on the contract's step, so a complete fill has
        ``filled == size``.
    limit_price, stop_price : float or None
        USD.
    reduce_only : bool
    received_time : pandas.Timestamp or None
        When the exchange received the request (UTC).
    events : tuple of dict
        The exchange's ``orderEvents`` as sent.
    resolved : bool
        True when the outcome was unknown (timeout, dropped connection) and was
        found by looking the order up by its client order id.

    Examples
    --------
    >>> r = OrderResult("send", "placed", "o-1", "kfr-1", "PF_XBTUSD", "buy", "lmt", 0.001)
    >>> r
    <OrderResult placed: buy 0.001 PF_XBTUSD lmt, filled 0, order_id='o-1'>
    >>> r.to_frame().loc["o-1", "status"]
    'placed'
    """

    action: str
    status: str
    order_id: str | None = None
    client_order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    size: float = math.nan
    filled: float = 0.0
    limit_price: float | None = None
    stop_price: float | None = None
    reduce_only: bool = False
    received_time: pd.Timestamp | None = None
    events: tuple[Mapping[str, Any], ...] = field(default=(), repr=False, compare=False)
    resolved: bool = False

    @property
    def ok(self) -> bool:
        """The exchange accepted the request (no rejection status)."""
        return self.status in OK_STATUSES.get(self.action, frozenset())

    @property
    def explanation(self) -> str:
        return explain(self.status, self.action)

    @property
    def fills(self) -> list[tuple[float, float]]:
        """``(price, size)`` of each execution in :attr:`events`."""
        out: list[tuple[float, float]] = []
        for event in self.events:
            if str(event.get("type", "")).upper() == "EXECUTION":
                price, amount = as_float(event.get("price")), as_float(event.get("amount"))
                if price is not None and amount is not None:
                    out.append((price, amount))
        return out

    @property
    def avg_fill_price(self) -> float:
        """The average price of :attr:`fills`, the one PnL is computed from (NaN without fills).

        Linear contracts: ``Σ price × size / Σ size``. Inverse contracts
        (``PI_``/``FI_``, whose coin value is ``size / price``):
        ``Σ size / Σ (size / price)``, the harmonic mean the exchange's
        entry price uses (reference §7.3).
        """
        fills = self.fills
        total = math.fsum(size for _, size in fills)
        if not total:
            return math.nan
        if is_inverse(self.symbol):
            return total / math.fsum(s / p for p, s in fills)
        return math.fsum(p * s for p, s in fills) / total

    def outcome(self, price_format: Callable[[float], str] = plain) -> str:
        """What happened to the order, in one sentence, read from the exchange's events.

        ``placed`` alone does not say whether an order rests, filled or waits for
        its trigger (reference §4.12: an order that executes at once still
        reports ``placed``); the events do.

        Parameters
        ----------
        price_format : callable, default plain decimals
            Formats prices (e.g. to the contract's tick, with a unit).

        Returns
        -------
        str
            For example ``"Filled 0.5 at 2647.3."``, ``"Resting on the book at 70000;
            nothing filled yet."`` or ``"Waiting for its trigger: mark price at 60000."``;
            for a rejection or another action, :attr:`explanation`.

        Examples
        --------
        >>> fill = {"type": "EXECUTION", "price": 2647.3, "amount": 0.5}
        >>> OrderResult("send", "placed", size=0.5, filled=0.5, events=(fill,)).outcome()
        'Filled 0.5 at 2647.3.'
        """
        if self.action != "send" or not self.ok:
            return self.explanation
        kinds = [str(e.get("type", "")).upper() for e in self.events]
        filled, size = self.filled, self.size
        at = f" at {price_format(self.avg_fill_price)}" if self.fills else ""
        if filled > 0 and not (math.isfinite(size) and size - filled > 1e-12):
            return f"Filled {plain(filled)}{at}."
        trigger = next(
            (
                e["orderTrigger"]
                for e, kind in zip(self.events, kinds, strict=True)
                if kind == "PLACE" and isinstance(e.get("orderTrigger"), Mapping)
            ),
            None,
        )
        if trigger is not None and not filled:
            signal = str(trigger.get("triggerSignal") or "mark_price").replace("_", " ")
            level = as_float(trigger.get("triggerPrice"))
            level_text = price_format(level) if level is not None else "its level"
            return f"Waiting for its trigger: {signal} at {level_text}."
        rests = "PLACE" in kinds and self.status != "cancelled"
        limit = f" at {price_format(self.limit_price)}" if self.limit_price is not None else ""
        if filled > 0:
            rest = plain(round(size - filled, 12))
            then = (
                f"{rest} rests on the book{limit}" if rests else f"the other {rest} was cancelled"
            )
            return f"Partly filled: {plain(filled)} of {plain(size)}{at}; {then}."
        if rests:
            return f"Resting on the book{limit}; nothing filled yet."
        return self.explanation

    def to_frame(self) -> pd.DataFrame:
        """The result as a one-row DataFrame indexed by ``order_id``."""
        row = {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "action": self.action,
            "status": self.status,
            "ok": self.ok,
            "symbol": self.symbol,
            "side": self.side,
            "order_type": self.order_type,
            "size": self.size,
            "filled": self.filled,
            "avg_fill_price": self.avg_fill_price,
            "limit_price": self.limit_price,
            "stop_price": self.stop_price,
            "reduce_only": self.reduce_only,
            "received_time": self.received_time,
            "resolved": self.resolved,
            "explanation": self.explanation,
        }
        return build(_RESULT_FRAME, flatten([row]), 1)

    def describe(self) -> str:
        """One line: ``placed: buy 0.001 PF_XBTUSD lmt @ 80000, filled 0``."""
        what = " ".join(
            p
            for p in (
                self.side,
                plain(self.size) if math.isfinite(self.size) else None,
                self.symbol,
                self.order_type,
            )
            if p
        )
        price = ""
        if self.limit_price is not None and self.order_type != "mkt":
            price = f" @ {plain(self.limit_price)}"
        stop = f" stop {plain(self.stop_price)}" if self.stop_price is not None else ""
        text = f"{self.status}: {what}{price}{stop}, filled {plain(self.filled)}"
        if self.fills:
            text += f" @ {plain(round(self.avg_fill_price, 8))}"
        return text + (" (resolved by lookup)" if self.resolved else "")

    def __repr__(self) -> str:
        return f"<OrderResult {self.describe()}, order_id={self.order_id!r}>"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        head = (
            f'<div><b style="color:{colour}">{html.escape(self.status)}</b> '
            f"{html.escape(self.outcome())}</div>"
        )
        return head + self.to_frame().to_html()


def _exact_sum(values: Sequence[float]) -> float:
    """Sum sizes as the decimals they were sent as: ``9 + 9 + 9`` is ``27.0``, not ``27.000…04``."""
    if len(values) == 1 and values[0]:  # one fill (most orders): the sum is the value itself
        return float(values[0])
    return float(sum((Decimal(repr(float(v))) for v in values), Decimal(0)))


def _order_object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("new", "order", "orderTrigger", "orderPriorExecution", "old"):
        value = event.get(key)
        if isinstance(value, Mapping):
            return value
    return {}


def result_from_status(
    action: str,
    payload: Mapping[str, Any],
    intent: Send | None = None,
    *,
    resolved: bool = False,
) -> OrderResult:
    """An :class:`OrderResult` from a ``sendStatus``/``editStatus``/``cancelStatus``/batch entry."""
    events = tuple(e for e in payload.get("orderEvents") or [] if isinstance(e, Mapping))
    order: Mapping[str, Any] = {}
    for event in events:
        found = _order_object(event)
        if found:
            order = found
            if str(event.get("type", "")).upper() in {"EDIT", "PLACE"}:
                break
    filled_events = _exact_sum(
        [
            as_float(e.get("amount")) or 0.0
            for e in events
            if str(e.get("type", "")).upper() == "EXECUTION"
        ]
    )
    filled = max(filled_events, as_float(order.get("filled")) or 0.0)
    if action == "send":
        filled = filled_events or (as_float(order.get("filled")) or 0.0)
    size = as_float(order.get("quantity"))
    if size is None and intent is not None:
        size = as_float(intent.size)
    limit = as_float(order.get("limitPrice"))
    stop = as_float(order.get("triggerPrice")) or as_float(order.get("stopPrice"))
    if intent is not None:
        limit = limit if limit is not None else as_float(intent.limit_price)
        stop = stop if stop is not None else as_float(intent.stop_price)
    order_id = (
        payload.get("order_id")
        or payload.get("orderId")
        or order.get("orderId")
        or (order.get("uid"))
    )
    cli = payload.get("cliOrdId") or order.get("cliOrdId") or order.get("clientId")
    if cli is None and intent is not None:
        cli = intent.client_order_id
    return OrderResult(
        action=action,
        status=str(payload.get("status") or "unknown"),
        order_id=str(order_id) if order_id else None,
        client_order_id=str(cli) if cli else None,
        symbol=str(order.get("symbol") or (intent.symbol if intent else "") or "") or None,
        side=str(order.get("side") or (intent.side if intent else "") or "") or None,
        order_type=str((intent.order_type if intent else None) or order.get("type") or "") or None,
        size=size if size is not None else math.nan,
        filled=filled,
        limit_price=limit,
        stop_price=stop,
        reduce_only=bool(order.get("reduceOnly", intent.reduce_only if intent else False)),
        received_time=parse_time(payload.get("receivedTime") or payload.get("dateTimeReceived")),
        events=events,
        resolved=resolved,
    )


def _rejected(result: OrderResult, endpoint: str, body: Any) -> OrderRejected:
    return OrderRejected(
        result.status, explanation=result.explanation, endpoint=endpoint, body=body
    )


def accept(result: OrderResult, endpoint: str, body: Any) -> OrderResult:
    """``result``, or :class:`OrderRejected` when its status is a rejection."""
    if not result.ok:
        raise _rejected(result, endpoint, body)
    return result


def payload(body: Any, key: str, endpoint: str) -> Mapping[str, Any]:
    found = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(found, Mapping):
        from kfresearch.errors import DecodeError

        raise DecodeError(f"{endpoint}: the answer has no {key!r} object", endpoint=endpoint)
    return found


def result_from_lookup(row: Mapping[str, Any], *, source: str) -> OrderResult:
    """An order found by lookup: an ``orders/status`` entry, an open order, or its fills."""
    if source == "status":
        order = row.get("order") or {}
        life = str(row.get("status") or "")
        status = LIFE_STATUS.get(life, life.lower() or "unknown")
        if life == "REJECTED":
            error = str(row.get("error") or "")
            status = ERROR_STATUS.get(error, error or "rejected")
        trigger = order.get("priceTriggerOptions") or {}
        kind = "trigger" if order.get("type") == "TRIGGER_ORDER" else None
        return OrderResult(
            action="send",
            status=status,
            order_id=order.get("orderId"),
            client_order_id=order.get("cliOrdId"),
            symbol=order.get("symbol"),
            side=order.get("side"),
            order_type=kind,
            size=as_float(order.get("quantity")) or math.nan,
            filled=as_float(order.get("filled")) or 0.0,
            limit_price=as_float(order.get("limitPrice")),
            stop_price=as_float(trigger.get("triggerPrice")) if trigger else None,
            reduce_only=bool(order.get("reduceOnly", False)),
            received_time=parse_time(order.get("timestamp")),
            resolved=True,
        )
    if source == "open":
        filled = as_float(row.get("filledSize")) or 0.0
        return OrderResult(
            action="send",
            status="placed",
            order_id=row.get("order_id"),
            client_order_id=row.get("cliOrdId"),
            symbol=row.get("symbol"),
            side=row.get("side"),
            order_type=row.get("orderType"),
            size=filled + (as_float(row.get("unfilledSize")) or 0.0),
            filled=filled,
            limit_price=as_float(row.get("limitPrice")),
            stop_price=as_float(row.get("stopPrice")),
            reduce_only=bool(row.get("reduceOnly", False)),
            received_time=parse_time(row.get("receivedTime")),
            resolved=True,
        )
    raise ValueError(f"unknown lookup source {source!r}")


def result_from_fills(rows: Sequence[Mapping[str, Any]]) -> OrderResult:
    first = rows[0]
    events = tuple(
        {
            "type": "EXECUTION",
            "executionId": r.get("fill_id"),
            "price": r.get("price"),
            "amount": r.get("size"),
        }
        for r in rows
    )
    filled = _exact_sum([as_float(r.get("size")) or 0.0 for r in rows])
    return OrderResult(
        action="send",
        status="placed",
        order_id=first.get("order_id"),
        client_order_id=first.get("cliOrdId"),
        symbol=first.get("symbol"),
        side=first.get("side"),
        size=filled,
        filled=filled,
        received_time=parse_time(min(str(r.get("fillTime") or "") for r in rows) or None),
        events=events,
        resolved=True,
    )


@dataclass(frozen=True)
class CancelAllResult:
    """The answer to ``cancel_all``: which orders were cancelled.

    Examples
    --------
    >>> CancelAllResult("cancelled", "all", (("o-1", None),))
    <CancelAllResult cancelled 1 order (all)>
    """

    status: str
    cancel_only: str
    cancelled: tuple[tuple[str, str | None], ...] = ()
    received_time: pd.Timestamp | None = None
    resolved: bool = False

    @property
    def order_ids(self) -> list[str]:
        return [order_id for order_id, _ in self.cancelled]

    def to_frame(self) -> pd.DataFrame:
        """The cancelled orders, indexed by ``order_id`` (column ``client_order_id``)."""
        frame = pd.DataFrame(
            {"client_order_id": pd.Series([c for _, c in self.cancelled], dtype="str")},
            index=pd.Index([o for o, _ in self.cancelled], name="order_id", dtype="str"),
        )
        return frame

    def __repr__(self) -> str:
        n = len(self.cancelled)
        return (
            f"<CancelAllResult {self.status} {n} order{'s' if n != 1 else ''} ({self.cancel_only})>"
        )


@dataclass(frozen=True)
class SwitchStatus:
    """State of the dead man's switch after ``cancel_all_after``.

    ``trigger_time`` is when every order will be cancelled unless re-armed
    (None when disarmed).

    Examples
    --------
    >>> SwitchStatus(pd.Timestamp("2026-11-01", tz="UTC"), None)
    <SwitchStatus disarmed at 2026-11-01T00:00:00Z>
    """

    current_time: pd.Timestamp | None
    trigger_time: pd.Timestamp | None

    @property
    def armed(self) -> bool:
        return self.trigger_time is not None

    def __repr__(self) -> str:
        def iso(stamp: pd.Timestamp | None) -> str:
            return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp is not None else "?"

        if self.armed:
            return f"<SwitchStatus armed: cancels all orders at {iso(self.trigger_time)}>"
        return f"<SwitchStatus disarmed at {iso(self.current_time)}>"


@dataclass(frozen=True)
class BatchResult:
    """The results of a batch, in the order of its instructions.

    Per-instruction rejections do not raise (the other instructions may have
    gone through): see :attr:`rejected` and :meth:`raise_for_status`.
    """

    results: tuple[OrderResult, ...]
    resolved: bool = False

    def __iter__(self) -> Any:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> OrderResult:
        return self.results[index]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def rejected(self) -> list[OrderResult]:
        return [r for r in self.results if not r.ok]

    def raise_for_status(self) -> BatchResult:
        """Raise :class:`OrderRejected` for the first rejected instruction, else return self."""
        for result in self.results:
            if not result.ok:
                raise OrderRejected(
                    result.status,
                    explanation=f"{result.explanation} (batch item {self.results.index(result)})",
                    endpoint="POST /derivatives/api/v3/batchorder",
                )
        return self

    def to_frame(self) -> pd.DataFrame:
        """One row per instruction (RangeIndex in batch order), the columns of
        :meth:`OrderResult.to_frame` plus ``order_id``."""
        if not self.results:
            return OrderResult("send", "").to_frame().iloc[:0].reset_index()
        return pd.concat([r.to_frame().reset_index() for r in self.results], ignore_index=True)

    def __repr__(self) -> str:
        lines = [f"<BatchResult {len(self.results)} instructions, {len(self.rejected)} rejected>"]
        lines += [f"  {i}: {r.action} {r.describe()}" for i, r in enumerate(self.results)]
        return "\n".join(lines)


# --------------------------------------------------------------------------- status frame

_STATUS_FRAME = FrameSpec(
    name="order_status",
    columns=(
        col("order.orderId", "str", "order_id"),
        col("order.cliOrdId", "str", "client_order_id"),
        col("order.symbol", "str", "symbol"),
        col("order.side", "lower", "side"),
        col("order.type", "str", "order_type"),
        col("status", "str"),
        col("updateReason", "str"),
        col("error", "str"),
        col("order.quantity", "float", "quantity", unit="contracts"),
        col("order.filled", "float", "filled", unit="contracts"),
        col("order.limitPrice", "float", "limit_price", unit="quote"),
        col("order.reduceOnly", "bool", "reduce_only"),
        col("order.priceTriggerOptions.triggerPrice", "float", "trigger_price", unit="quote"),
        col("order.priceTriggerOptions.triggerSide", "str", "trigger_side"),
        col("order.priceTriggerOptions.triggerSignal", "str", "trigger_signal"),
        col("order.timestamp", "time", "time"),
        col("order.lastUpdateTimestamp", "time", "last_update_time"),
        col("order.triggerTime", "time", "trigger_time"),
    ),
    index="order_id",
    strip=("order.",),
    drop=("order.priceTriggerOptions",),
)


def status_frame(body: Mapping[str, Any]) -> pd.DataFrame:
    """``POST /orders/status`` (reference §4.20) as a frame indexed by ``order_id``.

    Columns: ``client_order_id``, ``symbol``, ``side``, ``order_type``
    (``ORDER``/``TRIGGER_ORDER``), ``status`` (``ENTERED_BOOK``,
    ``FULLY_EXECUTED``, ``REJECTED``, ``CANCELLED``, ``TRIGGER_PLACED``,
    ``TRIGGER_ACTIVATION_FAILURE``), ``update_reason``, ``error``,
    ``quantity``/``filled`` (contracts), ``limit_price``/``trigger_price``
    (USD), ``reduce_only``, ``trigger_side``, ``trigger_signal``, ``time``,
    ``last_update_time``, ``trigger_time`` (UTC).

    Examples
    --------
    >>> body = {"orders": [{"order": {"orderId": "o1", "symbol": "PF_XBTUSD", "side": "buy",
    ...         "quantity": 1, "filled": 0, "type": "ORDER"}, "status": "ENTERED_BOOK"}]}
    >>> status_frame(body).loc["o1", "status"]
    'ENTERED_BOOK'
    """
    rows = [r for r in body.get("orders") or [] if isinstance(r, Mapping)]
    return build(_STATUS_FRAME, flatten(rows), len(rows))
