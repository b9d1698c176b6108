"""The order plans the clients drive: place, edit, cancel, batch, status, lookup.

Part of :mod:`kfresearch.orders` (see its docstring for the rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
import pandas as pd

from kfresearch.contracts import LIMIT_TYPES
from kfresearch.endpoints import (
    BATCHORDER,
    CANCELALLORDERS,
    CANCELALLORDERSAFTER,
    CANCELORDER,
    EDITORDER,
    FILLS,
    INSTRUMENTS,
    OPENORDERS,
    OPENPOSITIONS,
    ORDER_STATUS,
    SENDORDER,
    TICKER,
)
from kfresearch.errors import DecodeError, KFError, OutcomeUnknownError, ValidationError
from kfresearch.orders.preview import (
    position_of,
    ticker_prices,
)
from kfresearch.orders.requests import (
    Cancel,
    Edit,
    Instruction,
    Send,
    cancel_params,
    check_edit,
    check_send,
    edit_params,
    raise_first,
    rule_errors,
    send_params,
    shape_errors,
)
from kfresearch.orders.results import (
    BatchResult,
    CancelAllResult,
    OrderResult,
    SwitchStatus,
    accept,
    payload,
    result_from_fills,
    result_from_lookup,
    result_from_status,
    status_frame,
)
from kfresearch.orders.rules import (
    InstrumentRules,
    as_float,
    parse_time,
    rules_for,
)
from kfresearch.orders.statuses import LOOKUP_RESENDS
from kfresearch.plans import Call, Plan

# --------------------------------------------------------------------------- plans

_SEND = SENDORDER.describe()
_EDIT = EDITORDER.describe()
_CANCEL = CANCELORDER.describe()
_CANCEL_ALL = CANCELALLORDERS.describe()
_BATCH = BATCHORDER.describe()


def plan_lookup(
    order_id: str | None = None, client_order_id: str | None = None
) -> Plan[OrderResult | None]:
    """Find one order by id or client id: ``orders/status``, then open orders, then fills.

    Returns None when none of them knows it (not processed, or closed more
    than 5 s ago without fills).
    """

    def same(row_order_id: Any, row_cli: Any) -> bool:
        if order_id:
            return bool(row_order_id == order_id)
        return bool(client_order_id and row_cli == client_order_id)

    params = {"orderIds": [order_id]} if order_id else {"cliOrdIds": [client_order_id]}
    status = (yield [Call(ORDER_STATUS, params)])[0]
    for entry in (status or {}).get("orders") or []:
        order = entry.get("order") or {}
        if same(order.get("orderId"), order.get("cliOrdId")):
            return result_from_lookup(entry, source="status")
    open_orders = (yield [Call(OPENORDERS)])[0]
    for row in (open_orders or {}).get("openOrders") or []:
        if same(row.get("order_id"), row.get("cliOrdId")):
            return result_from_lookup(row, source="open")
    fills = (yield [Call(FILLS)])[0]
    rows = (fills or {}).get("fills") or []
    mine = [r for r in rows if same(r.get("order_id"), r.get("cliOrdId"))]
    return result_from_fills(mine) if mine else None


def _lookup_or_unknown(
    order_id: str | None, client_order_id: str | None, cause: BaseException | None
) -> Plan[OrderResult | None]:
    try:
        return (yield from plan_lookup(order_id, client_order_id))
    except KFError as err:
        ident = (
            f"client order id {client_order_id!r}"
            if client_order_id
            else (f"order id {order_id!r}")
        )
        raise OutcomeUnknownError(
            f"The outcome of an order request is unknown and looking it up by {ident} failed "
            f"too ({err}). Nothing was re-sent. Check kf.order_status(client_order_ids=["
            f"{client_order_id!r}]) and kf.open_orders() before trying again.",
            client_order_id=client_order_id,
        ) from (cause or err)


def plan_validated_send(
    order: Send, instruments_body: Any, marks: Mapping[str, float] | None = None
) -> Plan[tuple[Send, InstrumentRules]]:
    """Check ``order`` (shape, then the contract's rules); raise the first problem as a
    :class:`ValidationError`, else return the normalised order and its rules.

    Reads only what a check needs: the instruments when the client holds none,
    the ticker's mark for a limit order (the price collar) unless ``marks``
    (mark prices by symbol the client read moments ago) has it, and the position
    only when the order alone exceeds the maximum position (it may still
    reduce a short). A market order needs no read at all. A position that is
    already near its maximum is left to the exchange, whose
    ``maxPositionViolation`` is explained like every rejection.
    """
    order = order.normalised()
    raise_first(shape_errors(order))
    if instruments_body is None:
        instruments_body = (yield [Call(INSTRUMENTS)])[0]
    rules = rules_for(instruments_body, order.symbol)
    calls = []
    mark = (marks or {}).get(rules.symbol)
    if order.order_type in LIMIT_TYPES and mark is None:
        calls.append(Call(TICKER, path_params={"symbol": rules.symbol}))
    if _needs_position(order, rules):
        calls.append(Call(OPENPOSITIONS))
    bodies = (yield calls) if calls else []
    position: float | None = None
    for call, body in zip(calls, bodies, strict=True):
        if call.endpoint is TICKER:
            mark = ticker_prices(body)["mark"]
        else:
            position = position_of(body, rules.symbol)
    # the shape passed above: the rules' checks alone give what check_send would
    raise_first(rule_errors(order, rules, [], mark=mark, position=position))
    return replace(order, symbol=rules.symbol), rules


def _needs_position(order: Send, rules: InstrumentRules) -> bool:
    """True when the maximum-position check cannot be decided without the position."""
    size = as_float(order.size)
    limit = rules.max_position_size
    return not order.reduce_only and size is not None and limit is not None and size > limit


def plan_place(
    order: Send,
    *,
    instruments_body: Any,
    client_order_id: str,
    validate: bool = True,
    resends: int = LOOKUP_RESENDS,
    marks: Mapping[str, float] | None = None,
) -> Plan[OrderResult]:
    """Validate, send and, if the outcome is unknown, resolve one new order.

    When the answer does not come, the order is looked up by its client order
    id; if no lookup finds it, it is sent again with the same id at most
    ``resends`` times (v3 refuses a client order id it already holds, so that
    cannot make a second order); on the Unified WebSocket ``resends`` is 0.

    Raises
    ------
    ValidationError
        Before anything is sent.
    OrderRejected
        The exchange answered a rejection status.
    OutcomeUnknownError
        The order could be neither confirmed nor ruled out.
    """
    order = replace(order, client_order_id=client_order_id)
    rules: InstrumentRules | None = None
    if validate:
        order, rules = yield from plan_validated_send(order, instruments_body, marks)
    else:
        order = order.normalised()
    params = send_params(order, client_order_id, rules)
    for attempt in range(resends + 1):
        try:
            body = (yield [Call(SENDORDER, params)])[0]
        except OutcomeUnknownError as exc:
            found = yield from _lookup_or_unknown(None, client_order_id, exc)
            if found is not None:
                return accept(replace(found, order_type=order.order_type), _SEND, None)
            if attempt < resends:
                continue  # never processed: send again, same client order id
            times = "once" if attempt == 0 else f"{attempt + 1} times"
            raise OutcomeUnknownError(
                f"{_SEND}: no answer, and the order with client order id {client_order_id!r} "
                f"is neither open, nor recently closed, nor filled. It was sent {times} with "
                "that id, so the exchange holds at most one. Check kf.order_history() before "
                "placing it again with the same client_order_id.",
                endpoint=_SEND,
                client_order_id=client_order_id,
            ) from exc
        result = result_from_status("send", payload(body, "sendStatus", _SEND), order)
        if attempt > 0 and result.status == "clientOrderIdAlreadyExist":
            # the first copy did arrive after all: find it
            found = yield from _lookup_or_unknown(None, client_order_id, None)
            if found is not None:
                return accept(replace(found, order_type=order.order_type), _SEND, body)
            raise OutcomeUnknownError(
                f"{_SEND}: the client order id {client_order_id!r} is taken, so the first "
                "request was processed, but the order is not open and has no recent fills "
                "(rejected or cancelled already?). Check kf.order_history().",
                endpoint=_SEND,
                client_order_id=client_order_id,
            )
        if attempt > 0:
            result = replace(result, resolved=True)
        if rules is not None and rules.size_step is not None:
            result = replace(result, filled=rules.snap_size(result.filled, down=False))
        return accept(result, _SEND, body)
    raise AssertionError("unreachable")  # pragma: no cover


def plan_edit(
    edit: Edit,
    *,
    instruments_body: Any,
    validate: bool = True,
    marks: Mapping[str, float] | None = None,
) -> Plan[OrderResult]:
    """Validate and send an edit; an unknown outcome is resolved by comparing the order's state."""
    raise_first(check_edit(edit))
    rules: InstrumentRules | None = None
    if validate and any(v is not None for v in (edit.size, edit.limit_price, edit.stop_price)):
        lookup = (
            {"orderIds": [edit.order_id]}
            if edit.order_id
            else {"cliOrdIds": [edit.client_order_id]}
        )
        status = (yield [Call(ORDER_STATUS, lookup)])[0]
        entries = (status or {}).get("orders") or []
        if entries:  # not found: send anyway, the exchange answers orderForEditNotFound
            order = entries[0].get("order") or {}
            if instruments_body is None:
                instruments_body = (yield [Call(INSTRUMENTS)])[0]
            rules = rules_for(instruments_body, str(order.get("symbol")))
            resting = order.get("type") == "ORDER" and edit.limit_price is not None
            mark = (marks or {}).get(rules.symbol)
            if resting and mark is None:
                ticker = (yield [Call(TICKER, path_params={"symbol": rules.symbol})])[0]
                mark = ticker_prices(ticker)["mark"]
            raise_first(check_edit(edit, rules, side=order.get("side"), mark=mark, collar=resting))
    params = edit_params(edit, rules, batch=False)
    try:
        body = (yield [Call(EDITORDER, params)])[0]
    except OutcomeUnknownError as exc:
        found = yield from _lookup_or_unknown(edit.order_id, edit.client_order_id, exc)
        wanted = {"limit_price": params.get("limitPrice"), "stop_price": params.get("stopPrice")}
        if (
            found is not None
            and found.status == "placed"
            and all(v is None or getattr(found, k) == v for k, v in wanted.items())
            and (
                params.get("size") is None
                or found.size - found.filled == params["size"]
                or found.size == params["size"]
            )
        ):
            return replace(found, action="edit", status="edited")
        state = found.describe() if found is not None else "not open"
        raise OutcomeUnknownError(
            f"{_EDIT}: no answer, and the order does not show the change (now: {state}). "
            "The edit was NOT re-sent; check kf.open_orders() and edit again if needed.",
            endpoint=_EDIT,
            client_order_id=edit.client_order_id,
        ) from exc
    return accept(result_from_status("edit", payload(body, "editStatus", _EDIT)), _EDIT, body)


def plan_cancel(
    order_id: str | None = None, client_order_id: str | None = None
) -> Plan[OrderResult]:
    """Cancel one order; after an unknown outcome, look it up and cancel again if still open."""
    params = cancel_params(order_id, client_order_id)
    for attempt in range(2):
        try:
            body = (yield [Call(CANCELORDER, params)])[0]
        except OutcomeUnknownError as exc:
            found = yield from _lookup_or_unknown(order_id, client_order_id, exc)
            if found is not None and found.status == "placed" and attempt == 0:
                continue  # still open: a second cancel is harmless
            if found is not None and found.status != "placed":
                result = replace(found, action="cancel")
                return accept(result, _CANCEL, None)
            raise OutcomeUnknownError(
                f"{_CANCEL}: no answer, and the order is no longer open or recent (cancelled by "
                "this request or earlier, or filled). Check kf.fills() and kf.order_history().",
                endpoint=_CANCEL,
                client_order_id=client_order_id,
            ) from exc
        result = result_from_status("cancel", payload(body, "cancelStatus", _CANCEL))
        return accept(replace(result, resolved=attempt > 0), _CANCEL, body)
    raise AssertionError("unreachable")  # pragma: no cover


def plan_cancel_all(symbol: str | None, *, instruments_body: Any) -> Plan[CancelAllResult]:
    """Cancel every open order (of ``symbol``); after an unknown outcome, send once more."""
    params: dict[str, Any] = {}
    if symbol is not None:
        if instruments_body is None:
            instruments_body = (yield [Call(INSTRUMENTS)])[0]
        params["symbol"] = rules_for(instruments_body, symbol).symbol
    resolved = False
    try:
        body = (yield [Call(CANCELALLORDERS, params)])[0]
    except OutcomeUnknownError:
        resolved = True  # cancelling everything twice cannot add an order
        body = (yield [Call(CANCELALLORDERS, params)])[0]
    status = payload(body, "cancelStatus", _CANCEL_ALL)
    cancelled = tuple(
        (str(row.get("order_id")), row.get("cliOrdId"))
        for row in status.get("cancelledOrders") or []
    )
    return CancelAllResult(
        status=str(status.get("status")),
        cancel_only=str(status.get("cancelOnly") or params.get("symbol") or "all"),
        cancelled=cancelled,
        received_time=parse_time(status.get("receivedTime")),
        resolved=resolved,
    )


def plan_cancel_all_after(seconds: Any) -> Plan[SwitchStatus]:
    """Arm the dead man's switch for ``seconds`` (0 disarms)."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (0 <= seconds < 2**32 and float(seconds).is_integer())
    ):
        raise ValidationError(
            "seconds",
            seconds,
            f"seconds must be a whole number from 0 (disarm) to {2**32 - 1}, got {seconds!r}; "
            "Kraken recommends 60, re-armed every 15–20 s (kf.keep_alive() does that)",
        )
    body = (yield [Call(CANCELALLORDERSAFTER, {"timeout": int(seconds)})])[0]
    status = (body or {}).get("status") or {}
    return SwitchStatus(
        current_time=parse_time(status.get("currentTime")),
        trigger_time=parse_time(status.get("triggerTime")),
    )


def plan_order_status(
    order_ids: Iterable[str] | str | None, client_order_ids: Iterable[str] | str | None
) -> Plan[pd.DataFrame]:
    """``orders/status`` of the given ids as a frame (:func:`status_frame`); with neither
    ``order_ids`` nor ``client_order_ids``, of every open order (two requests)."""

    def listed(name: str, value: Iterable[str] | str | None) -> list[str]:
        items = [value] if isinstance(value, str) else list(value or [])
        if not all(isinstance(i, str) and i for i in items):
            raise ValidationError(name, value, f"{name} must be strings (one id or a list)")
        return items

    ids, clis = listed("ids", order_ids), listed("client_order_ids", client_order_ids)
    if order_ids is None and client_order_ids is None:
        # no ids: every open order (the endpoint itself answers only for ids it is given)
        open_orders = (yield [Call(OPENORDERS)])[0]
        ids = [str(r["order_id"]) for r in (open_orders or {}).get("openOrders") or []]
        if not ids:
            return status_frame({"orders": []})
    elif not ids and not clis:
        raise ValidationError("ids", order_ids, "give order ids (ids=) or client_order_ids=")
    params: dict[str, Any] = {}
    if ids:
        params["orderIds"] = ids
    if clis:
        params["cliOrdIds"] = clis
    body = (yield [Call(ORDER_STATUS, params)])[0]
    return status_frame(body)


def _batch_item(
    index: int, item: Instruction, rules: InstrumentRules | None, cli: str | None
) -> dict[str, Any]:
    if isinstance(item, Send):
        params = send_params(item, cli, rules)
        params.pop("processBefore", None)
        return {"order": "send", "order_tag": str(index), **params}
    if isinstance(item, Edit):
        return {"order": "edit", **edit_params(item, rules, batch=True)}
    return {"order": "cancel", **cancel_params(item.order_id, item.client_order_id)}


def plan_batch(
    items: Sequence[Instruction],
    *,
    instruments_body: Any,
    new_client_order_id: Callable[[], str],
    validate: bool = True,
    marks: Mapping[str, float] | None = None,
) -> Plan[BatchResult]:
    """Validate and send a batch of send/edit/cancel instructions (reference §4.18).

    New orders get client order ids; an unknown outcome is resolved per
    instruction by lookup, and an instruction that cannot be resolved makes
    the plan raise :class:`OutcomeUnknownError` (``partial``: the resolved rows).
    """
    if not items:
        raise ValidationError("items", items, "a batch needs at least one Send, Edit or Cancel")
    clis: list[str | None] = []
    for i, item in enumerate(items):
        if not isinstance(item, Send | Edit | Cancel):
            raise ValidationError(
                f"items[{i}]", item, "batch items are kfresearch.orders.Send, Edit or Cancel"
            )
        clis.append(
            (item.client_order_id or new_client_order_id()) if isinstance(item, Send) else None
        )
    sends = [
        replace(it.normalised(), client_order_id=c)
        for it, c in zip(items, clis, strict=True)
        if isinstance(it, Send)
    ]
    if validate:
        for i, item in enumerate(items):
            if isinstance(item, Send):
                raise_first([_renamed(e, i) for e in shape_errors(item.normalised())])
            elif isinstance(item, Edit):
                raise_first([_renamed(e, i) for e in check_edit(item)])
            else:
                cancel_params(item.order_id, item.client_order_id)
    rules_by_symbol: dict[str, InstrumentRules] = {}
    if validate and sends:
        if instruments_body is None:
            instruments_body = (yield [Call(INSTRUMENTS)])[0]
        for send in sends:
            rules = rules_for(instruments_body, send.symbol)
            rules_by_symbol[send.symbol] = rules
        symbols = sorted({r.symbol for r in rules_by_symbol.values()})
        # marks for the price collar of limit orders; the position for the batch's sum
        known: dict[str, float | None] = dict(marks or {})
        priced = sorted(
            {rules_by_symbol[s.symbol].symbol for s in sends if s.order_type in LIMIT_TYPES}
            - set(known)
        )
        bodies = yield [Call(TICKER, path_params={"symbol": s}) for s in priced] + [
            Call(OPENPOSITIONS)
        ]
        known |= {s: ticker_prices(b)["mark"] for s, b in zip(priced, bodies[:-1], strict=True)}
        positions = {s: position_of(bodies[-1], s) for s in symbols}
        for i, item in enumerate(items):
            if not isinstance(item, Send):
                continue
            send = item.normalised()
            rules = rules_by_symbol[send.symbol]
            errors = check_send(
                send, rules, mark=known.get(rules.symbol), position=positions[rules.symbol]
            )
            raise_first([_renamed(e, i) for e in errors])
            if not send.reduce_only and send.side in {"buy", "sell"}:
                positions[rules.symbol] += send.sign * (as_float(send.size) or 0.0)
    payload = [
        _batch_item(
            i,
            item.normalised() if isinstance(item, Send) else item,
            rules_by_symbol.get(item.normalised().symbol) if isinstance(item, Send) else None,
            clis[i],
        )
        for i, item in enumerate(items)
    ]
    params = {"json": orjson.dumps({"batchOrder": payload}).decode()}
    try:
        body = (yield [Call(BATCHORDER, params)])[0]
    except OutcomeUnknownError as exc:
        return (yield from _resolve_batch(items, clis, exc))
    statuses = body.get("batchStatus") if isinstance(body, Mapping) else None
    if not isinstance(statuses, list):
        raise DecodeError(f"{_BATCH}: the answer has no 'batchStatus' list", endpoint=_BATCH)
    return BatchResult(tuple(_match_batch(items, clis, statuses)))


def _renamed(error: ValidationError, index: int) -> ValidationError:
    return ValidationError(f"items[{index}].{error.field}", error.value, f"items[{index}]: {error}")


def _match_batch(
    items: Sequence[Instruction], clis: Sequence[str | None], statuses: list[Any]
) -> list[OrderResult]:
    """Results in instruction order (the exchange lists them "in no particular order")."""
    left = [s for s in statuses if isinstance(s, Mapping)]
    out: list[OrderResult] = []
    for i, item in enumerate(items):
        match: Mapping[str, Any] | None = None
        for entry in left:
            if isinstance(item, Send):
                hit = str(entry.get("order_tag")) == str(i) or (
                    clis[i] is not None and entry.get("cliOrdId") == clis[i]
                )
            else:
                hit = entry.get("order_tag") is None and (
                    (item.order_id is not None and entry.get("order_id") == item.order_id)
                    or (
                        item.client_order_id is not None
                        and entry.get("cliOrdId") == item.client_order_id
                    )
                )
            if hit:
                match = entry
                break
        if match is None:
            untagged = [e for e in left if e.get("order_tag") is None] or left
            match = untagged[0] if untagged else {"status": "unknown"}
        if match in left:
            left.remove(match)
        action = (
            "send" if isinstance(item, Send) else "edit" if isinstance(item, Edit) else "cancel"
        )
        intent = (
            replace(item.normalised(), client_order_id=clis[i]) if isinstance(item, Send) else None
        )
        out.append(result_from_status(action, match, intent))
    return out


def _resolve_batch(
    items: Sequence[Instruction], clis: Sequence[str | None], cause: OutcomeUnknownError
) -> Plan[BatchResult]:
    results: list[OrderResult] = []
    unknown: list[int] = []
    for i, item in enumerate(items):
        if isinstance(item, Send):
            found = yield from _lookup_or_unknown(None, clis[i], cause)
            if found is None:
                unknown.append(i)
                found = OrderResult("send", "unknown", client_order_id=clis[i], resolved=True)
            results.append(found)
        else:
            found = yield from _lookup_or_unknown(item.order_id, item.client_order_id, cause)
            action = "edit" if isinstance(item, Edit) else "cancel"
            if isinstance(item, Cancel) and (found is None or found.status != "placed"):
                results.append(
                    OrderResult(
                        "cancel", "cancelled", item.order_id, item.client_order_id, resolved=True
                    )
                )
            else:
                unknown.append(i)
                results.append(
                    OrderResult(
                        action, "unknown", item.order_id, item.client_order_id, resolved=True
                    )
                )
    batch = BatchResult(tuple(results), resolved=True)
    if unknown:
        error = OutcomeUnknownError(
            f"{_BATCH}: no answer; looked up every instruction: items {unknown} could not be "
            "confirmed (nothing was re-sent). The partial result is in .partial; check "
            "kf.open_orders() before sending them again.",
            endpoint=_BATCH,
        )
        error.partial = batch.to_frame()
        raise error from cause
    return batch
