"""Private channels of the simulator's Unified WebSocket (reference §1.6, §1.8, §6).

Built from the engine's state and its events, for one account:

* ``executions``: orders and fills on one feed. The snapshot holds the open
  orders (``snap_orders``, default true; ``exec_type`` ``new``) and the last 50
  fills (``snap_trades``, default false; ``exec_type`` ``trade``). Then, per
  order: ``new`` (derivatives have no ``pending_new``), ``trade`` per fill
  (``order_status`` ``partially_filled`` or ``filled``) followed by
  ``filled`` when done, ``amended``, ``status`` when a trigger fires,
  ``canceled`` (with ``cancel_reason``) or ``expired`` (a dated contract's
  orders at its expiry). With ``order_status: false`` only ``new``,
  ``trade``, ``filled``, ``canceled`` and ``expired`` are sent. Orders placed
  over the v3 REST API appear here too: one engine, one account.
* ``balances``: a snapshot of every asset (``asset, asset_class, balance,
  wallets[{type, id, balance}]``) then one update per ledger movement
  (``ledger_id, ref_id, timestamp, type, subtype, category, asset,
  asset_class, amount, fee, balance, wallet_type, wallet_id``). Wallet types:
  ``spot`` (the cash wallet, id ``main``), ``multi_collateral`` (``flex``),
  ``single_collateral`` (``fi_<coin>usd``).
* ``margin``: full-state messages typed ``multi_collateral`` (the flex
  wallet, with the v1 ``balances`` feed's ``flex_futures`` fields) and
  ``single_collateral`` (one row per inverse wallet: ``account, currency,
  balance, portfolio_value, pnl, available, unrealized_funding,
  initial_margin, maintenance_margin, liquidation_threshold,
  termination_threshold``: v3's ``im``/``mm``/``lt``/``tt``), on subscribing
  and whenever the account changes. ``snapshot`` is refused, and one
  subscription per connection.
* ``positions``: a snapshot (``snapshot``, default true) then updates with
  only the positions that changed (``symbol, size, entry_price, mark_price,
  unrealized_pnl, unrealized_funding, liquidation_price, pnl_currency``
  (linear), ``fill_time`` (v3 ``fillTime``: the last fill's), ``timestamp``);
  a closed one is ``{"symbol", "size": 0, "entry_price": 0}``. ``size`` is
  signed (negative short). ``with_margin`` adds the margins (and cannot be
  combined with ``snapshot``).

Fields the reference does not name follow one rule agreed with the client:
Spot v2's name where Spot v2 has the field, else v3's in snake_case.

``executions`` and ``balances`` frames carry a top-level ``sequence`` (1, 2, …
per channel and connection) for gap detection (§6). Everything here runs with
the exchange locked (snapshots, and engine events in the engine's thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kfresearch.sim.accounts import Account, Fill, LogEntry
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.margin import price_where_equity_meets
from kfresearch.sim.orders import Order
from kfresearch.sim.uws import wire
from kfresearch.sim.uws.protocol import UwsError, check_fields

__all__ = ["PRIVATE_CHANNELS", "PrivateFeeds"]

PRIVATE_CHANNELS = ("executions", "balances", "margin", "positions")
FILL_SNAPSHOT = 50
_FIELDS = {
    "executions": ("snap_orders", "snap_trades", "order_status", "ratecounter"),
    "balances": ("snapshot",),
    "margin": (),
    "positions": ("snapshot", "with_margin"),
}
_STATUS_ONLY = frozenset({"new", "trade", "filled", "canceled", "expired"})
_TYPE = {
    "lmt": "limit",
    "post": "limit",
    "ioc": "limit",
    "fok": "limit",
    "mkt": "market",
    "liquidation": "liquidation",
}
_TRIGGER_TYPE = {"stp": "stop-loss", "take_profit": "take-profit", "trailing_stop": "trailing-stop"}
_TIME_IN_FORCE = {"ioc": "ioc", "mkt": "ioc", "fok": "fok", "liquidation": "ioc"}
_CANCEL_REASONS = {
    "cancelled_by_user": "User requested",
    "dead_man_switch": "Cancel all orders after: timer expired",
    "partial_fill": "Not enough liquidity: the rest of an IOC order",
    "not_enough_margin": "Liquidation",
    "post_order_failed_because_it_would_be_filled": "Post only order would have filled",
}
_WALLETS = {"cash": ("spot", "main"), "flex": ("multi_collateral", "flex")}
_LEDGER_TYPES = {
    "futures trade": ("trade", "trade"),
    "futures liquidation": ("trade", "liquidation"),
    "funding rate change": ("rollover", "funding"),
    "settlement": ("settled", "settlement"),
    "transfer": ("transfer", "transfer"),
}
Message = dict[str, Any]


def _wallet(name: str) -> tuple[str, str]:
    return _WALLETS.get(name, ("single_collateral", name))


def uws_order_type(order: Order) -> str:
    """The order's ``order_type`` on the Unified WebSocket (kebab-case, §6)."""
    if order.order_type in _TRIGGER_TYPE:
        limited = order.limit_price is not None or order.offset_unit is not None
        return _TRIGGER_TYPE[order.order_type] + ("-limit" if limited else "")
    return _TYPE.get(order.order_type, order.order_type)


@dataclass
class _Fills:
    """What an order's fills add up to."""

    qty: float = 0.0
    cost: float = 0.0
    coins: float = 0.0  # sum of qty / price (an inverse contract's average price)

    def add(self, fill: Fill) -> None:
        self.qty += fill.quantity
        self.cost += fill.quantity * fill.price
        self.coins += fill.quantity / fill.price


@dataclass
class PrivateFeeds:
    """One connection's private subscriptions and what they have been sent.

    ``engine`` is the exchange's engine; every method runs with the exchange locked.
    """

    engine: Any
    account_id: str
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> options
    sequences: dict[str, int] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)  # orders reported as new
    triggered: set[str] = field(default_factory=set)  # triggers reported as fired
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)  # sent (size, entry)
    log_sent: int = 0  # account-log entries already sent as balance updates

    # -- subscribing ------------------------------------------------------------------------
    def subscribe(
        self, channel: str, params: dict[str, Any], now: int
    ) -> tuple[Message, list[Message]]:
        """The acknowledgement's ``result`` and the snapshot messages.

        Raises
        ------
        UwsError
            A field the channel does not take, a bad value, or a second subscription
            to ``margin`` or ``positions``.
        """
        check_fields(params, ("channel", "token", "asset_class", *_FIELDS[channel]))
        for name in ("snap_orders", "snap_trades", "order_status", "ratecounter",
                     "snapshot", "with_margin"):
            if name in params and not isinstance(params[name], bool):
                raise UwsError.of("invalid", f"{name} must be true or false")
        if channel in self.options:
            if channel in {"margin", "positions"}:
                raise UwsError.of("subscribed_once", channel)
            raise UwsError.of("subscribed")
        acc = self.engine.account(self.account_id, now)
        if channel == "executions":
            options = {
                "snap_orders": params.get("snap_orders", True),
                "snap_trades": params.get("snap_trades", False),
                "order_status": params.get("order_status", True),
            }
            self.options[channel] = options
            return {"channel": channel, **options}, [self._executions_snapshot(acc, now)]
        if channel == "balances":
            snapshot = params.get("snapshot", True)
            self.options[channel] = {"snapshot": snapshot}
            self.log_sent = len(acc.log)
            out = [self._balances_snapshot(acc, now)] if snapshot else []
            return {"channel": channel, "snapshot": snapshot}, out
        if channel == "margin":
            self.options[channel] = {}
            return {"channel": channel}, self._margin(acc, now)
        if "snapshot" in params and "with_margin" in params:
            raise UwsError.of("invalid", "snapshot and with_margin cannot be combined")
        with_margin = params.get("with_margin", False)
        snapshot = params.get("snapshot", True) if not with_margin else True
        self.options[channel] = {"with_margin": with_margin}
        self.positions = {}
        rows = self._position_rows(acc, now, only_changed=False)
        result = {"channel": channel, "snapshot": snapshot}
        if with_margin:
            result = {"channel": channel, "with_margin": True}
        pushes = [{"channel": "positions", "type": "snapshot", "data": rows}] if snapshot else []
        return result, pushes

    def unsubscribe(self, channel: str) -> bool:
        """Forget ``channel``; False when it was not subscribed."""
        return self.options.pop(channel, None) is not None

    # -- engine events --------------------------------------------------------------------
    def translate(self, feed: str, message: Message, now: int) -> list[Message]:
        """The pushes an engine event of the account makes (v1 feed names, see
        :mod:`kfresearch.sim.private_feeds`)."""
        acc = self.engine.accounts.get(self.account_id)
        if acc is None:
            return []
        if feed == "fills" and "executions" in self.options:
            reports: list[Message] = []
            for row in message.get("fills", []):
                reports += self._fill_reports(acc, row["fill_id"], row["order_id"])
            return self._executions(reports)
        if feed == "open_orders" and "executions" in self.options:
            return self._executions(self._order_reports(acc, message))
        if feed == "open_positions" and "positions" in self.options:
            rows = self._position_rows(acc, now, only_changed=True)
            return [{"channel": "positions", "type": "update", "data": rows}] if rows else []
        if feed == "balances":
            out = self._margin(acc, now) if "margin" in self.options else []
            if "balances" in self.options:
                out += self._ledger_updates(acc)
            return out
        return []

    # -- executions -------------------------------------------------------------------------
    def _next(self, channel: str) -> int:
        self.sequences[channel] = self.sequences.get(channel, 0) + 1
        return self.sequences[channel]

    def _executions(self, reports: list[Message]) -> list[Message]:
        if not self.options["executions"]["order_status"]:
            reports = [r for r in reports if r["exec_type"] in _STATUS_ONLY]
        if not reports:
            return []
        return [{"channel": "executions", "type": "update", "data": reports,
                 "sequence": self._next("executions")}]

    def _executions_snapshot(self, acc: Account, now: int) -> Message:
        options = self.options["executions"]
        data: list[Message] = []
        for order in sorted(acc.open_orders.values(), key=lambda o: o.seq):
            self.announced.add(order.order_id)
            if order.triggered:
                self.triggered.add(order.order_id)
            if options["snap_orders"]:
                data.append(self._report(acc, order, "new", order.updated_ms or now))
        if options["snap_trades"]:
            for fill in acc.fills[-FILL_SNAPSHOT:]:
                data.append(self._trade_report(acc, fill, final=False))
        return {"channel": "executions", "type": "snapshot", "data": data,
                "sequence": self._next("executions")}

    def _order_reports(self, acc: Account, message: Message) -> list[Message]:
        reason = str(message.get("reason", ""))
        if not message.get("is_cancel"):
            order = acc.orders.get(message["order"]["order_id"])
            if order is None:
                return []
            reports = self._announce(acc, order)
            if reason == "edited_by_user":
                reports.append(self._report(acc, order, "amended", order.updated_ms))
            elif order.triggered and order.order_id not in self.triggered:
                self.triggered.add(order.order_id)
                reports.append(self._report(acc, order, "status", order.updated_ms))
            return reports
        order_id = message.get("order_id") or message.get("order", {}).get("order_id")
        order = acc.orders.get(order_id)
        if order is None or reason == "full_fill" or order.order_id not in self.announced:
            return []  # a fill's end is reported with the fill
        kind = "expired" if reason == "contract_expired" else "canceled"
        report = self._report(acc, order, kind, order.closed_ms or order.updated_ms)
        if kind == "canceled":
            report["cancel_reason"] = _CANCEL_REASONS.get(
                reason, reason.replace("_", " ").capitalize()
            )
        return [report]

    def _announce(self, acc: Account, order: Order) -> list[Message]:
        """``new`` for an order not reported yet (before its first fill or its resting)."""
        if order.order_id in self.announced:
            return []
        self.announced.add(order.order_id)
        report = self._report(acc, order, "new", order.received_ms, fills=_Fills())
        report["order_status"] = "new"
        if order.triggered:
            self.triggered.add(order.order_id)
        return [report]

    def _fill_reports(self, acc: Account, fill_id: str, order_id: str) -> list[Message]:
        order = acc.orders.get(order_id)
        fill = next((f for f in reversed(acc.fills) if f.fill_id == fill_id), None)
        if order is None or fill is None:
            return []
        reports = self._announce(acc, order)
        if order.triggered and order.order_id not in self.triggered:
            self.triggered.add(order.order_id)
            reports.append(self._report(acc, order, "status", order.triggered_ms or fill.time_ms))
        done = order.status == "filled" and fill.remaining <= 0
        reports.append(self._trade_report(acc, fill, final=done))
        if done:
            reports.append(self._report(acc, order, "filled", fill.time_ms))
        return reports

    def _sums(self, acc: Account, order_id: str, upto: str | None = None) -> _Fills:
        sums = _Fills()
        for fill in acc.fills:
            if fill.order_id == order_id:
                sums.add(fill)
                if fill.fill_id == upto:
                    break
        return sums

    def _report(
        self, acc: Account, order: Order, exec_type: str, t: int, *, fills: _Fills | None = None
    ) -> Message:
        spec: InstrumentSpec = self.engine.known_spec(order.symbol)
        sums = fills if fills is not None else self._sums(acc, order.order_id)
        report: Message = {"exec_type": exec_type, "order_id": order.order_id}
        if order.cli_ord_id is not None:
            report["cl_ord_id"] = order.cli_ord_id
        report |= {
            "symbol": order.symbol,
            "side": order.side,
            "order_type": uws_order_type(order),
            "time_in_force": _TIME_IN_FORCE.get(order.order_type, "gtc"),
            "order_qty": wire.qty(order.quantity),
        }
        if order.limit_price is not None and order.order_type not in {"mkt", "liquidation"}:
            report["limit_price"] = wire.price(order.limit_price, spec.tick_decimals)
        report |= {"post_only": order.order_type == "post", "reduce_only": order.reduce_only}
        if order.order_type in _TRIGGER_TYPE:
            report["triggers"] = self._triggers(order, spec)
        report["order_status"] = self._status(order, sums)
        report |= self._cumulative(spec, sums)
        report["timestamp"] = wire.rfc3339(t)
        return report

    @staticmethod
    def _status(order: Order, sums: _Fills) -> str:
        if order.status == "filled":
            return "filled"
        if order.status in {"cancelled", "rejected"}:
            return "expired" if order.update_reason == "CONTRACT_EXPIRED" else "canceled"
        return "partially_filled" if sums.qty > 0 else "new"

    @staticmethod
    def _cumulative(spec: InstrumentSpec, sums: _Fills) -> Message:
        qty = round(sums.qty, spec.precision)
        body: Message = {"cum_qty": wire.qty(qty), "cum_cost": round(_cost(spec, sums), 8)}
        if qty > 0:
            average = sums.qty / sums.coins if spec.is_inverse else sums.cost / sums.qty
            body["avg_price"] = round(average, spec.tick_decimals + 2)
        return body

    @staticmethod
    def _triggers(order: Order, spec: InstrumentSpec) -> Message:
        reference = order.trigger_signal or "mark"
        if order.order_type == "trailing_stop":
            price_type = "pct" if order.trailing_unit == "PERCENT" else "quote"
            body: Message = {"reference": reference, "price": order.trailing_deviation,
                             "price_type": price_type}
        else:
            body = {"reference": reference,
                    "price": wire.price(order.stop_price or 0.0, spec.tick_decimals),
                    "price_type": "static"}
        if order.stop_price is not None:
            body["actual_price"] = wire.price(order.stop_price, spec.tick_decimals)
        body["status"] = "triggered" if order.triggered else "untriggered"
        return body

    def _trade_report(self, acc: Account, fill: Fill, *, final: bool) -> Message:
        order = acc.orders.get(fill.order_id)
        spec: InstrumentSpec = self.engine.known_spec(fill.symbol)
        sums = self._sums(acc, fill.order_id, upto=fill.fill_id)
        if order is not None:
            report = self._report(acc, order, "trade", fill.time_ms, fills=sums)
            report["order_status"] = "filled" if final else (
                "filled" if order.status == "filled" and sums.qty >= order.quantity
                else "partially_filled"
            )
        else:  # pragma: no cover - every fill's order is kept by the engine
            report = {"exec_type": "trade", "order_id": fill.order_id, "symbol": fill.symbol,
                      "side": fill.side, "timestamp": wire.rfc3339(fill.time_ms)}
        price = wire.price(fill.price, spec.tick_decimals)
        report |= {
            "exec_id": fill.fill_id,
            "trade_id": next(i for i, f in enumerate(acc.fills, 1) if f.fill_id == fill.fill_id),
            "last_qty": wire.qty(fill.quantity),
            "last_price": price,
            "cost": round(_cost(spec, _one(fill)), 8),
            "liquidity_ind": "m" if fill.fill_type == "maker" else "t",
            "fees": [{"asset": fill.fee_currency, "qty": round(fill.fee, 10)}],
        }
        return report

    # -- positions ---------------------------------------------------------------------------
    def _position_rows(self, acc: Account, now: int, *, only_changed: bool) -> list[Message]:
        with_margin = self.options["positions"]["with_margin"]
        flex = self.engine.flex_summary(acc, now)
        rows: list[Message] = []
        seen: set[str] = set()
        for risk in sorted(self.engine.position_risks(acc, now), key=lambda r: r.spec.symbol):
            spec = risk.spec
            seen.add(spec.symbol)
            state = (risk.size, risk.entry)
            if only_changed and self.positions.get(spec.symbol) == state:
                continue
            self.positions[spec.symbol] = state
            equity = (
                self.engine.wallet_summary(acc, spec.margin_account, now).portfolio_value
                if spec.is_inverse else flex.margin_equity
            )
            liquidation = price_where_equity_meets(risk, equity, risk.maintenance_margin)
            row: Message = {
                "symbol": spec.symbol,
                "size": risk.size,
                "entry_price": risk.entry,
                "mark_price": wire.price(risk.mark, spec.tick_decimals),
                "unrealized_pnl": risk.pnl,
                "unrealized_funding": risk.unrealized_funding,
                "liquidation_price": liquidation if math.isfinite(liquidation) else None,
            }
            if not spec.is_inverse:
                row["pnl_currency"] = acc.pnl_currency.get(spec.symbol, "USD")
            held = acc.positions.get(spec.symbol)
            if held is not None:
                row["fill_time"] = wire.rfc3339(held.fill_time_ms)
            row["timestamp"] = wire.rfc3339(now)
            if with_margin:
                row |= {
                    "initial_margin": risk.initial_margin,
                    "initial_margin_with_orders": risk.initial_margin_with_orders,
                    "maintenance_margin": risk.maintenance_margin,
                }
            rows.append(row)
        for symbol in sorted(set(self.positions) - seen):
            del self.positions[symbol]
            rows.append({"symbol": symbol, "size": 0, "entry_price": 0})
        return rows

    # -- margin and balances ----------------------------------------------------------------
    def _margin(self, acc: Account, now: int) -> list[Message]:
        flex = self.engine.flex_summary(acc, now)
        multi = {
            "currencies": {
                code: {"quantity": c.quantity, "value": c.value, "collateral_value": c.collateral,
                       "available": c.quantity, "haircut": c.haircut}
                for code, c in flex.currencies.items()
            },
            "initial_margin": flex.initial_margin_with_orders,
            "initial_margin_without_orders": flex.initial_margin,
            "maintenance_margin": flex.maintenance_margin,
            "balance_value": flex.balance_value,
            "portfolio_value": flex.portfolio_value,
            "collateral_value": flex.collateral_value,
            "pnl": flex.pnl,
            "unrealized_funding": flex.unrealized_funding,
            "total_unrealized": flex.total_unrealized,
            "total_unrealized_as_margin": flex.total_unrealized_as_margin,
            "margin_equity": flex.margin_equity,
            "available_margin": flex.available_margin,
            "timestamp": wire.rfc3339(now),
        }
        singles = []
        for wallet in sorted(w for w in acc.wallets if w.startswith("fi_")):
            single = self.engine.wallet_summary(acc, wallet, now)
            singles.append({
                "account": wallet,
                "currency": single.currency,
                "balance": single.balance,
                "portfolio_value": single.portfolio_value,
                "pnl": single.pnl,
                "available": single.available,
                "unrealized_funding": single.unrealized_funding,
                "initial_margin": single.initial_margin_with_orders,
                "maintenance_margin": single.maintenance_margin,
                "liquidation_threshold": single.liquidation_threshold,
                "termination_threshold": single.termination_threshold,
                "timestamp": wire.rfc3339(now),
            })
        return [
            {"channel": "margin", "type": "multi_collateral", "data": [multi]},
            {"channel": "margin", "type": "single_collateral", "data": singles},
        ]

    def _balances_snapshot(self, acc: Account, now: int) -> Message:
        assets: dict[str, list[Message]] = {}
        for name in sorted(acc.wallets):
            kind, wallet_id = _wallet(name)
            for code, amount in sorted(acc.wallets[name].items()):
                assets.setdefault(code, []).append(
                    {"type": kind, "id": wallet_id, "balance": amount}
                )
        data = [
            {"asset": code, "asset_class": "currency",
             "balance": math.fsum(w["balance"] for w in wallets), "wallets": wallets}
            for code, wallets in sorted(assets.items())
        ]
        return {"channel": "balances", "type": "snapshot", "data": data,
                "sequence": self._next("balances")}

    def _ledger_updates(self, acc: Account) -> list[Message]:
        fresh, self.log_sent = acc.log[self.log_sent:], len(acc.log)
        rows = [_ledger(entry) for entry in fresh if not _is_contract(entry)]
        if not rows:
            return []
        return [{"channel": "balances", "type": "update", "data": rows,
                 "sequence": self._next("balances")}]


def _is_contract(entry: LogEntry) -> bool:
    """A position leg of the account log (its asset is the contract), not a balance."""
    return entry.contract is not None and entry.asset.upper() == entry.contract.upper()


def _ledger(entry: LogEntry) -> Message:
    kind, category = _LEDGER_TYPES.get(entry.info, (entry.info.replace(" ", "_"), entry.info))
    wallet_type, wallet_id = _wallet(entry.margin_account)
    return {
        "ledger_id": entry.booking_uid,
        "ref_id": entry.execution or entry.booking_uid,
        "timestamp": wire.rfc3339(entry.date_ms),
        "type": kind,
        "subtype": "",
        "category": category,
        "asset": entry.asset.upper(),
        "asset_class": "currency",
        "amount": entry.new_balance - entry.old_balance,
        "fee": entry.fee or 0.0,
        "balance": entry.new_balance,
        "wallet_type": wallet_type,
        "wallet_id": wallet_id,
    }


def _one(fill: Fill) -> _Fills:
    sums = _Fills()
    sums.add(fill)
    return sums


def _cost(spec: InstrumentSpec, sums: _Fills) -> float:
    """Value traded in USD: contracts x price (linear), contracts of 1 USD (inverse)."""
    return sums.qty * spec.contract_size if spec.is_inverse else sums.cost
