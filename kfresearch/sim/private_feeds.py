"""The private WebSocket feeds' messages (reference §3.5), built from the engine's state.

:func:`snapshot` makes the first message of a subscription (``fills``,
``open_orders``, ``open_orders_verbose``, ``open_positions``,
``balances``); :func:`order_message` and :func:`removal_message` are the
``open_orders`` updates the engine emits as orders change.

Example
-------
>>> snapshot(engine, "open_positions", account, now_ms)["feed"]  # doctest: +SKIP
'open_positions'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from kfresearch.sim import margin
from kfresearch.sim.accounts import Account
from kfresearch.sim.margin import FlexSummary, PositionRisk, WalletSummary
from kfresearch.sim.orders import Order
from kfresearch.sim.source import MarketSource

__all__ = [
    "FEEDS",
    "RiskView",
    "cancel_message",
    "order_message",
    "removal_message",
    "snapshot",
]

# open_orders feed reasons for each update reason.
WS_REASONS = {
    "NEW_USER_ORDER": "new_placed_order_by_user",
    "CANCELLED_BY_USER": "cancelled_by_user",
    "DEAD_MAN_SWITCH": "dead_man_switch",
    "PARTIAL_FILL": "partial_fill",
    "FULL_FILL": "full_fill",
    "EDITED_BY_USER": "edited_by_user",
    "STOP_ORDER_TRIGGERED": "stop_order_triggered",
    "POST_WOULD_EXECUTE": "post_order_failed_because_it_would_be_filled",
}
# Orders that leave the book because they filled: the exchange's delta carries
# the order as it ended, with is_cancel true and the fill as the reason (an IOC
# whose unfilled remainder is dropped leaves with partial_fill).
FILL_REMOVALS = {"FULL_FILL": "full_fill", "NOT_ENOUGH_LIQUIDITY": "partial_fill"}


class RiskView(Protocol):
    """What the feeds read from the engine: prices and the valued wallets and positions."""

    market: MarketSource

    def flex_summary(self, acc: Account, now_ms: int) -> FlexSummary: ...

    def wallet_summary(self, acc: Account, wallet: str, now_ms: int) -> WalletSummary: ...

    def position_risks(self, acc: Account, now_ms: int) -> list[PositionRisk]: ...


def snapshot(engine: RiskView, feed: str, acc: Account, now_ms: int) -> dict[str, Any]:
    """The first message of a private feed for ``acc`` at ``now_ms``.

    Raises
    ------
    KeyError
        For a feed the engine does not serve.
    """
    body = FEEDS[feed](engine, acc, now_ms)
    name = feed if feed == "open_positions" else f"{feed}_snapshot"
    return {"feed": name, "account": acc.uid} | body


def order_message(order: Order, reason: str) -> dict[str, Any]:
    """An ``open_orders`` update: the order as it now stands."""
    return {
        "feed": "open_orders",
        "order": order.ws(),
        "is_cancel": False,
        "reason": WS_REASONS.get(reason, reason.lower()),
    }


def cancel_message(order_id: str, reason: str) -> dict[str, Any]:
    """An ``open_orders`` update: the order was cancelled (only its id, as the exchange sends)."""
    return {
        "feed": "open_orders",
        "order_id": order_id,
        "is_cancel": True,
        "reason": WS_REASONS.get(reason, reason.lower()),
    }


def removal_message(order: Order, reason: str) -> dict[str, Any]:
    """The ``open_orders`` update of an order leaving the book for ``reason``.

    A fill (``FULL_FILL``, or an IOC remainder dropped after a partial fill)
    sends the order with ``is_cancel: true`` and ``full_fill``/``partial_fill``;
    a cancel sends only the order id.
    """
    fill = FILL_REMOVALS.get(reason)
    if fill is None:
        return cancel_message(order.order_id, reason)
    return {"feed": "open_orders", "order": order.ws(), "is_cancel": True, "reason": fill}


def _fills(engine: RiskView, acc: Account, now: int) -> dict[str, Any]:
    return {"fills": [f.ws(i, update=False) for i, f in enumerate(acc.fills[-100:])]}


def _orders(engine: RiskView, acc: Account, now: int) -> dict[str, Any]:
    return {"orders": [o.ws() for o in sorted(acc.open_orders.values(), key=lambda o: o.seq)]}


def _positions(engine: RiskView, acc: Account, now: int) -> dict[str, Any]:
    rows = []
    flex = engine.flex_summary(acc, now)
    for risk in engine.position_risks(acc, now):
        spec = risk.spec
        equity = (
            flex.margin_equity
            if not spec.is_inverse
            else engine.wallet_summary(acc, spec.margin_account, now).portfolio_value
        )
        row: dict[str, Any] = {
            "instrument": spec.symbol,
            "balance": risk.size,
            "pnl": risk.pnl,
            "entry_price": risk.entry,
            "mark_price": risk.mark,
            "index_price": engine.market.index_price(spec.symbol, now),
            "liquidation_threshold": margin.price_where_equity_meets(
                risk, equity, risk.maintenance_margin
            ),
            "effective_leverage": risk.notional_usd
            / (equity * (risk.mark if spec.is_inverse else 1.0))
            if equity > 0
            else 0.0,
            "return_on_equity": risk.pnl / risk.initial_margin if risk.initial_margin else 0.0,
            "unrealized_funding": risk.unrealized_funding,
            "initial_margin": risk.initial_margin,
            "initial_margin_with_orders": risk.initial_margin_with_orders,
            "maintenance_margin": risk.maintenance_margin,
        }
        if not spec.is_inverse:
            row["pnl_currency"] = acc.pnl_currency.get(spec.symbol, "USD")
        rows.append(row)
    return {"positions": rows, "seq": acc.next_seq("open_positions"), "timestamp": now}


def _balances(engine: RiskView, acc: Account, now: int) -> dict[str, Any]:
    holding = {code.upper(): amount for code, amount in acc.wallets.get("cash", {}).items()}
    futures = {}
    for wallet in sorted(w for w in acc.wallets if w.startswith("fi_")):
        single = engine.wallet_summary(acc, wallet, now)
        name = f"F-{single.currency}:USD"
        futures[name] = {
            "name": name,
            "pair": f"{single.currency}/USD",
            "unit": single.currency,
            "portfolio_value": single.portfolio_value,
            "balance": single.balance,
            "maintenance_margin": single.maintenance_margin,
            "initial_margin": single.initial_margin_with_orders,
            "available": single.available,
            "unrealized_funding": single.unrealized_funding,
            "pnl": single.pnl,
        }
    flex = engine.flex_summary(acc, now)
    totals = {
        "initial_margin": flex.initial_margin_with_orders,
        "initial_margin_without_orders": flex.initial_margin,
        "maintenance_margin": flex.maintenance_margin,
        "pnl": flex.pnl,
        "unrealized_funding": flex.unrealized_funding,
        "total_unrealized": flex.total_unrealized,
        "total_unrealized_as_margin": flex.total_unrealized_as_margin,
    }
    isolated = {}
    for risk in flex.risks:
        if risk.max_leverage:
            isolated[risk.spec.symbol] = {
                "initial_margin": risk.initial_margin_with_orders,
                "initial_margin_without_orders": risk.initial_margin,
                "maintenance_margin": risk.maintenance_margin,
                "pnl": risk.pnl,
                "unrealized_funding": risk.unrealized_funding,
                "total_unrealized": risk.pnl + risk.unrealized_funding,
                "total_unrealized_as_margin": risk.pnl + risk.unrealized_funding,
            }
    notional = math.fsum(r.notional_usd for r in flex.risks)
    cross = {
        "balance_value": flex.balance_value,
        "portfolio_value": flex.portfolio_value,
        "collateral_value": flex.collateral_value,
        **totals,
        "margin_equity": flex.margin_equity,
        "available_margin": flex.available_margin,
        "effective_leverage": notional / flex.margin_equity if flex.margin_equity > 0 else 0.0,
    }
    flex_body = {
        "currencies": {
            code: {
                "quantity": c.quantity,
                "value": c.value,
                "collateral_value": c.collateral,
                "available": c.quantity,
                "haircut": c.haircut,
                "conversion_spread": 0.0,
            }
            for code, c in flex.currencies.items()
        },
        "balance_value": flex.balance_value,
        "portfolio_value": flex.portfolio_value,
        "collateral_value": flex.collateral_value,
        **totals,
        "margin_equity": flex.margin_equity,
        "available_margin": flex.available_margin,
        "isolated": isolated,
        "cross": cross,
    }
    return {
        "holding": holding,
        "futures": futures,
        "flex_futures": flex_body,
        "timestamp": now,
        "seq": acc.next_seq("balances"),
    }


FEEDS: dict[str, Callable[[RiskView, Account, int], dict[str, Any]]] = {
    "fills": _fills,
    "open_orders": _orders,
    "open_orders_verbose": _orders,
    "open_positions": _positions,
    "balances": _balances,
}
