"""Private REST routes of the simulated exchange: account, orders, fills, preferences.

Each handler turns the request's parameters into an engine call and the
engine's state into the exchange's JSON (reference §4.9–§4.22). Required
arguments, signatures, nonces, key permissions and rate limits are checked by
the exchange layer before a handler runs; payloads go back without ``result``
and ``serverTime`` (the exchange layer adds the envelope). The account's
history is in :mod:`~kfresearch.sim.history_api`, the account-administration
routes in :mod:`~kfresearch.sim.account_api`.

Number encoding follows the reference (§4.0): ``accounts`` and the order
endpoints send JSON numbers like Kraken's examples; ``openorders``,
``openpositions`` and ``fills`` send decimals as strings like recorded 2025
bodies. Times are ISO-8601 with milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kfresearch.sim.accounts import Account
from kfresearch.sim.clock import parse_time_ms
from kfresearch.sim.engine import Engine
from kfresearch.sim.margin import FlexSummary, WalletSummary, price_where_equity_meets
from kfresearch.sim.orders import (
    EditRequest,
    OrderRequest,
    parse_edit_request,
    parse_order_request,
)
from kfresearch.sim.routing import Context, Route, SimError, dec, iso, make_route

__all__ = ["batch_cost", "fills_cost"]

V3 = "/derivatives/api/v3"
# Messages of the numeric preference errors. The codes are the reference's
# (§4.21, §5.2); it does not give the message texts, these are ours.
PREFERENCE_ERRORS = {
    41: "WOULD_CAUSE_LIQUIDATION",
    87: "CONTRACT_DOES_NOT_EXIST",
    88: "CONTRACT_NOT_MULTI_COLLATERAL",
    89: "CURRENCY_DOES_NOT_EXIST",
    90: "CURRENCY_NOT_ENABLED_FOR_MULTI_COLLATERAL",
}


# ---------------------------------------------------------------- helpers


def _engine(ctx: Context) -> Engine:
    engine: Engine = ctx.exchange.engine
    return engine


def _account_id(ctx: Context) -> str:
    if ctx.account_id is None:
        raise SimError("authenticationError")
    return ctx.account_id


def _account(ctx: Context) -> Account:
    engine = _engine(ctx)
    engine.advance(ctx.now_ms)
    return engine.account(_account_id(ctx), ctx.now_ms)


def _time_param(ctx: Context, name: str) -> int | None:
    text = ctx.get(name)
    if not text:
        return None
    try:
        return parse_time_ms(text)
    except ValueError:
        raise SimError("invalidArgument") from None


def _preference_error(ctx: Context, code: int) -> SimError:
    """The newer-style error body with a numeric code (reference §5.2)."""
    message = PREFERENCE_ERRORS[code]
    body = {
        "result": "error",
        "serverTime": iso(ctx.now_ms),
        "errors": [{"code": code, "message": message}],
    }
    return SimError(message, status=400, body=body)


# ----------------------------------------------------------------- accounts


def _flex_json(flex: FlexSummary) -> dict[str, Any]:
    return {
        "type": "multiCollateralMarginAccount",
        "currencies": {
            code: {
                "quantity": c.quantity,
                "value": c.value,
                "collateral": c.collateral,
                "available": c.quantity,
            }
            for code, c in flex.currencies.items()
        },
        "initialMargin": flex.initial_margin,
        "initialMarginWithOrders": flex.initial_margin_with_orders,
        "maintenanceMargin": flex.maintenance_margin,
        "balanceValue": flex.balance_value,
        "portfolioValue": flex.portfolio_value,
        "collateralValue": flex.collateral_value,
        "pnl": flex.pnl,
        "unrealizedFunding": flex.unrealized_funding,
        "totalUnrealized": flex.total_unrealized,
        "totalUnrealizedAsMargin": flex.total_unrealized_as_margin,
        "marginEquity": flex.margin_equity,
        "availableMargin": flex.available_margin,
    }


def _single_json(wallet: WalletSummary) -> dict[str, Any]:
    """A ``marginAccount``; trigger estimates only when the wallet holds one position."""
    levels = {
        "im": wallet.initial_margin,
        "lt": wallet.liquidation_threshold,
        "mm": wallet.maintenance_margin,
        "tt": wallet.termination_threshold,
    }
    positions = [r for r in wallet.risks if r.size]
    estimates = dict.fromkeys(levels, 0.0)
    if len(positions) == 1:
        estimates = {
            name: price_where_equity_meets(positions[0], wallet.portfolio_value, need)
            for name, need in levels.items()
        }
    balances = {wallet.currency.lower(): dec(wallet.balance)}
    balances |= {r.spec.symbol: dec(r.size) for r in positions}
    return {
        "auxiliary": {
            "af": wallet.available,
            "funding": wallet.unrealized_funding,
            "pnl": wallet.pnl,
            "pv": wallet.portfolio_value,
            "usd": 0.0,
        },
        "balances": balances,
        "currency": wallet.currency.lower(),
        "marginRequirements": levels,
        "triggerEstimates": estimates,
        "type": "marginAccount",
    }


def accounts(ctx: Context) -> dict[str, Any]:
    """Every wallet of the account: ``cash``, single-collateral ``fi_*`` and ``flex``."""
    engine, acc = _engine(ctx), _account(ctx)
    body: dict[str, Any] = {
        "cash": {
            "balances": {code.lower(): dec(v) for code, v in acc.wallets.get("cash", {}).items()},
            "type": "cashAccount",
        }
    }
    for name in sorted(w for w in acc.wallets if w.startswith("fi_")):
        body[name] = _single_json(engine.wallet_summary(acc, name, ctx.now_ms))
    body["flex"] = _flex_json(engine.flex_summary(acc, ctx.now_ms))
    return {"accounts": body}


def open_positions(ctx: Context) -> dict[str, Any]:
    """Net positions, newest fill first; decimals as strings."""
    acc = _account(ctx)
    rows = []
    for position in sorted(acc.positions.values(), key=lambda p: (-p.fill_time_ms, p.symbol)):
        spec = _engine(ctx).known_spec(position.symbol)
        row: dict[str, Any] = {
            "side": "long" if position.size > 0 else "short",
            "symbol": position.symbol,
            "price": dec(position.entry),
            "fillTime": iso(position.fill_time_ms),
            "size": dec(abs(position.size)),
        }
        if spec.is_perpetual:
            row["unrealizedFunding"] = dec(position.unrealized_funding)
        if not spec.is_inverse:
            row["pnlCurrency"] = acc.pnl_currency.get(position.symbol, "USD")
        if position.symbol in acc.leverage:
            row["maxFixedLeverage"] = acc.leverage[position.symbol]
        rows.append(row)
    return {"openPositions": rows}


def open_orders(ctx: Context) -> dict[str, Any]:
    """Open orders (resting and untriggered), newest first; decimals as strings."""
    orders = _engine(ctx).open_orders(_account_id(ctx), ctx.now_ms)
    return {"openOrders": [order.open_order() for order in orders]}


# ------------------------------------------------------------------- orders


def send_order(ctx: Context) -> dict[str, Any]:
    """Place an order; a rejection is a ``sendStatus.status``, not an error."""
    request = parse_order_request(ctx.get)
    return {"sendStatus": _engine(ctx).send_order(_account_id(ctx), request, ctx.now_ms)}


def edit_order(ctx: Context) -> dict[str, Any]:
    """Edit an open order found by ``orderId`` or ``cliOrdId``."""
    request = parse_edit_request(ctx.get, id_key="orderId")
    return {"editStatus": _engine(ctx).edit_order(_account_id(ctx), request, ctx.now_ms)}


def _cancel_one(
    ctx: Context, get: Callable[[str], Any], process_before_ms: int | None
) -> dict[str, Any]:
    order_id, cli_ord_id = get("order_id"), get("cliOrdId")
    if not order_id and not cli_ord_id:
        raise SimError("requiredArgumentMissing")
    return _engine(ctx).cancel_order(
        _account_id(ctx),
        str(order_id) if order_id else None,
        str(cli_ord_id) if cli_ord_id else None,
        ctx.now_ms,
        process_before_ms=process_before_ms,
    )


def cancel_order(ctx: Context) -> dict[str, Any]:
    """Cancel one order by ``order_id`` (note: not ``orderId``) or ``cliOrdId``."""
    return {"cancelStatus": _cancel_one(ctx, ctx.get, _time_param(ctx, "processBefore"))}


def cancel_all_orders(ctx: Context) -> dict[str, Any]:
    """Cancel every open order, or those of ``symbol``."""
    return {
        "cancelStatus": _engine(ctx).cancel_all(_account_id(ctx), ctx.get("symbol"), ctx.now_ms)
    }


def cancel_all_orders_after(ctx: Context) -> dict[str, Any]:
    """Arm the dead man's switch for ``timeout`` seconds; 0 disarms it."""
    timeout = ctx.get_int("timeout")
    if timeout is None:
        raise SimError("requiredArgumentMissing")
    if not 0 <= timeout < 2**32:
        raise SimError("invalidArgument")
    return {"status": _engine(ctx).cancel_all_after(_account_id(ctx), timeout, ctx.now_ms)}


# -------------------------------------------------------------------- batch

# A parsed batch item: the raw JSON object, its parsed request (None for a
# cancel) and the batch's processBefore deadline (epoch ms).
Instruction = tuple[dict[str, Any], OrderRequest | EditRequest | None, int | None]


def _batch_items(ctx: Context) -> list[dict[str, Any]]:
    """The ``batchOrder`` list of the ``json`` parameter (reference §4.18)."""
    text = ctx.get("json")
    if not text:
        raise SimError("requiredArgumentMissing")
    try:
        document = json.loads(text)
    except ValueError:
        raise SimError("Json Parse Error") from None
    items = document.get("batchOrder") if isinstance(document, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SimError("Json Parse Error")
    return items


def _parse_instruction(item: dict[str, Any], deadline: int | None) -> Instruction:
    kind = str(item.get("order", "")).lower()
    if kind == "send":
        return item, replace(parse_order_request(item.get), process_before_ms=deadline), deadline
    if kind == "edit":
        request = parse_edit_request(item.get, id_key="order_id")
        return item, replace(request, process_before_ms=deadline), deadline
    if kind == "cancel":
        if not item.get("order_id") and not item.get("cliOrdId"):
            raise SimError("requiredArgumentMissing")
        return item, None, deadline
    raise SimError("invalidArgument")


def _run_instruction(ctx: Context, instruction: Instruction) -> dict[str, Any]:
    item, request, deadline = instruction
    engine, account_id = _engine(ctx), _account_id(ctx)
    if isinstance(request, OrderRequest):
        status = engine.send_order(account_id, request, ctx.now_ms)
        entry = {"status": status["status"], "order_tag": item.get("order_tag")}
        entry |= {k: status[k] for k in ("order_id", "cliOrdId") if k in status}
        return entry | {
            "dateTimeReceived": status["receivedTime"],
            "orderEvents": status["orderEvents"],
        }
    if isinstance(request, EditRequest):
        status = engine.edit_order(account_id, request, ctx.now_ms)
        entry = {"status": status["status"], "order_id": status.get("orderId")}
        return entry | {"orderEvents": status["orderEvents"]}
    status = _cancel_one(ctx, item.get, deadline)
    entry = {"status": status["status"]}
    entry |= {k: status[k] for k in ("order_id", "cliOrdId") if k in status}
    return entry | {"orderEvents": status["orderEvents"]}


def batch_cost(ctx: Context) -> int:
    """9 plus the number of instructions (reference §6); 9 when the JSON does not parse."""
    try:
        return 9 + len(_batch_items(ctx))
    except SimError:
        return 9


def batch_order(ctx: Context) -> dict[str, Any]:
    """Run send/edit/cancel instructions in order; every one is parsed before any runs."""
    deadline = _time_param(ctx, "processBefore") or _time_param(ctx, "ProcessBefore")
    instructions = [_parse_instruction(item, deadline) for item in _batch_items(ctx)]
    return {"batchStatus": [_run_instruction(ctx, instruction) for instruction in instructions]}


# -------------------------------------------------------------------- fills


def fills_cost(ctx: Context) -> int:
    """2, or 25 when paging back with ``lastFillTime`` (reference §6)."""
    return 25 if ctx.get("lastFillTime") else 2


def fills(ctx: Context) -> dict[str, Any]:
    """The last 100 fills (before ``lastFillTime`` if given), newest first."""
    before = _time_param(ctx, "lastFillTime")
    rows = _engine(ctx).fills(_account_id(ctx), ctx.now_ms, before_ms=before)
    return {"fills": [fill.v3() for fill in rows]}


def order_status(ctx: Context) -> dict[str, Any]:
    """Open orders, or orders closed in the last 5 s, by repeated ``orderIds``/``cliOrdIds``."""
    rows = _engine(ctx).order_statuses(
        _account_id(ctx), ctx.get_list("orderIds"), ctx.get_list("cliOrdIds"), ctx.now_ms
    )
    return {"orders": rows}


# -------------------------------------------------------------- preferences


def leverage_preferences(ctx: Context) -> dict[str, Any]:
    """Contracts margined in isolation, with their maximum leverage."""
    acc = _account(ctx)
    rows = [{"symbol": s, "maxLeverage": lev} for s, lev in sorted(acc.leverage.items())]
    return {"leveragePreferences": rows}


def set_leverage_preference(ctx: Context) -> dict[str, Any]:
    """Isolated margin at ``maxLeverage`` for ``symbol``, or cross margin without it."""
    symbol = ctx.require("symbol")
    leverage = ctx.get_float("maxLeverage")
    if leverage is not None and not 0 < leverage <= 100:
        raise SimError("invalidArgument")
    code = _engine(ctx).set_max_leverage(_account_id(ctx), symbol, leverage, ctx.now_ms)
    if code is not None:
        raise _preference_error(ctx, code)
    return {}


def pnl_preferences(ctx: Context) -> dict[str, Any]:
    """The currency each multi-collateral contract's profits are realised in, where set."""
    acc = _account(ctx)
    rows = [{"symbol": s, "pnlCurrency": c} for s, c in sorted(acc.pnl_currency.items())]
    return {"preferences": rows}


def set_pnl_preference(ctx: Context) -> dict[str, Any]:
    """Set ``symbol``'s PnL currency to ``pnlPreference``."""
    symbol, currency = ctx.require("symbol"), ctx.require("pnlPreference")
    code = _engine(ctx).set_pnl_currency(_account_id(ctx), symbol, currency, ctx.now_ms)
    if code is not None:
        raise _preference_error(ctx, code)
    return {}


def fee_schedule_volumes(ctx: Context) -> dict[str, Any]:
    """30-day traded USD volume per fee schedule."""
    return {"volumesByFeeSchedule": _engine(ctx).fee_volumes(_account_id(ctx), ctx.now_ms)}


ROUTES: tuple[Route, ...] = (
    make_route("GET", f"{V3}/accounts", accounts, private=True, cost=2),
    make_route("GET", f"{V3}/openpositions", open_positions, private=True, cost=2),
    make_route("GET", f"{V3}/openorders", open_orders, private=True, cost=2),
    make_route(
        "POST",
        f"{V3}/sendorder",
        send_order,
        trading=True,
        cost=10,
        required=("orderType", "symbol", "side", "size"),
    ),
    make_route(
        "POST",
        f"{V3}/editorder",
        edit_order,
        trading=True,
        cost=10,
        required=(("orderId", "cliOrdId"),),
    ),
    make_route(
        "POST",
        f"{V3}/cancelorder",
        cancel_order,
        trading=True,
        cost=10,
        required=(("order_id", "cliOrdId"),),
    ),
    make_route("POST", f"{V3}/cancelallorders", cancel_all_orders, trading=True, cost=25),
    make_route(
        "POST",
        f"{V3}/cancelallordersafter",
        cancel_all_orders_after,
        trading=True,
        cost=25,
        required=("timeout",),
    ),
    make_route(
        "POST",
        f"{V3}/batchorder",
        batch_order,
        trading=True,
        cost=batch_cost,
        required=("json",),
    ),
    make_route("GET", f"{V3}/fills", fills, private=True, cost=fills_cost),
    make_route("POST", f"{V3}/orders/status", order_status, private=True, cost=1),
    make_route("GET", f"{V3}/leveragepreferences", leverage_preferences, private=True, cost=2),
    make_route(
        "PUT",
        f"{V3}/leveragepreferences",
        set_leverage_preference,
        trading=True,
        cost=10,
        required=("symbol",),
    ),
    make_route("GET", f"{V3}/pnlpreferences", pnl_preferences, private=True, cost=2),
    make_route(
        "PUT",
        f"{V3}/pnlpreferences",
        set_pnl_preference,
        trading=True,
        cost=10,
        required=("symbol", "pnlPreference"),
    ),
    make_route("GET", f"{V3}/feeschedules/volumes", fee_schedule_volumes, private=True, cost=2),
)
