"""Matching: an order against the market's book, and what every fill does to the account.

The fill rules, written once for every market source:

* a taking order walks the book level by level, best price first, up to its
  limit (a market order's limit is the best price plus 1 %, reference
  §4.12), without depleting the book (the market's book is not ours);
* ``post`` rests or is refused (``postWouldExecute``); ``ioc``/``mkt`` take
  what they can and drop the rest; ``fok`` fills completely or not at all;
  ``lmt`` takes what it can and rests the remainder;
* an order that would meet one of the account's own resting orders is
  refused (``selfFill``: the exchange's REJECT_TAKER);
* each fill pays the account's fee tier (maker, taker, or the liquidation
  rate), moves the position (realising PnL and the funding accrued so far),
  credits the wallet, and is written to the account log (a position leg and
  a wallet leg), the history streams and the private feeds.

Resting orders and triggers are filled by :mod:`kfresearch.sim.lifecycle`
through :meth:`Matcher.fill` and :meth:`Matcher.execute`. Sizes are in
contracts, prices USD, amounts in the settlement currency, times epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfresearch.sim import history_bodies, margin, private_feeds
from kfresearch.sim.accounts import Account, Fill, LogEntry, Position
from kfresearch.sim.events import Events
from kfresearch.sim.formats import dec
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.ledger import Ledger
from kfresearch.sim.orders import Order
from kfresearch.sim.prices import Prices
from kfresearch.sim.source import Level
from kfresearch.sim.ticks import round_price
from kfresearch.sim.valuation import Valuation

__all__ = ["MARKET_PROTECTION", "ORDER_ERRORS", "Matcher", "Taking"]

MARKET_PROTECTION = 0.01  # "mkt" is an IOC limited to 1 % past the best price (reference §4.12)
# Status strings answered to the client -> the engine's OrderError names
# (reference §5.2) used in REJECT events, orders/status and history.
ORDER_ERRORS = {
    "outsidePriceCollar": "PRICE_COLLAR",
    "wouldNotReducePosition": "WOULD_NOT_REDUCE_POSITION",
    "maxPositionViolation": "MAX_POSITION_EXCEEDED",
    "insufficientAvailableFunds": "INSUFFICIENT_MARGIN",
    "postWouldExecute": "POST_WOULD_EXECUTE",
    "iocWouldNotExecute": "IOC_WOULD_NOT_EXECUTE",
    "selfFill": "WOULD_EXECUTE_SELF",
    "invalidPrice": "INVALID_PRICE",
    "invalidSize": "INVALID_QUANTITY",
}


@dataclass(frozen=True)
class Taking:
    """What a marketable order would take from the book: (price, size) fills and what is left."""

    limit: float
    walk: list[tuple[float, float]]
    remaining: float


class Matcher:
    """Executes orders against the book and books their fills (see the module docstring)."""

    def __init__(self, prices: Prices, ledger: Ledger, events: Events, valuation: Valuation):
        self.prices = prices
        self.ledger = ledger
        self.events = events
        self.valuation = valuation

    # ------------------------------------------------------------------ the book

    @staticmethod
    def taking(order: Order, spec: InstrumentSpec, levels: list[Level], limit: float) -> Taking:
        """Walk ``levels`` (the opposite side, best first) up to ``limit`` for the unfilled size."""
        walk: list[tuple[float, float]] = []
        remaining = order.unfilled
        for price, size in levels:
            if remaining <= 0 or order.sign * (price - limit) > 0:
                break
            take = margin.round_size(spec, min(size, remaining))
            if take > 0:
                walk.append((price, take))
                remaining = margin.round_size(spec, remaining - take)
        return Taking(limit, walk, remaining)

    @staticmethod
    def self_cross(acc: Account, order: Order, taking: Taking) -> bool:
        """Would the order meet one of the account's own resting orders (REJECT_TAKER)?"""
        reach = taking.limit if taking.remaining > 0 or not taking.walk else taking.walk[-1][0]
        return acc.book.crosses(order, reach)

    def execute(
        self,
        acc: Account,
        order: Order,
        spec: InstrumentSpec,
        now: int,
        *,
        fill_type: str,
        reduced: float | None,
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """Take liquidity as the order type allows, then rest or drop the remainder.

        Returns the refusal status (None when accepted) and the order events.
        """
        # the top of the book first: most orders take no more (a source's shallow book is
        # the top of its deep one, so the answer is the same; the model book is costly)
        bids, asks = self.prices.book(spec.symbol, now, depth=1)
        levels = asks if order.side == "buy" else bids
        kind = order.effective_type
        if kind == "mkt":
            if not levels:
                return "iocWouldNotExecute", []
            limit = round_price(
                spec,
                levels[0][0] * (1 + order.sign * MARKET_PROTECTION),
                down=order.side == "buy",
            )
            if order.order_type == "mkt":
                order.limit_price = limit
        else:
            limit = order.limit_price or 0.0
        if kind == "post":
            if levels and order.sign * (levels[0][0] - limit) <= 0:
                return "postWouldExecute", []
            return None, [self.rest(acc, order, now, reduced)]
        taking = self.taking(order, spec, levels, limit)
        if taking.remaining > 0 and levels and order.sign * (levels[-1][0] - limit) <= 0:
            # the walk would go on past the top: walk the whole book (25 levels) instead
            bids, asks = self.prices.book(spec.symbol, now)
            levels = asks if order.side == "buy" else bids
            taking = self.taking(order, spec, levels, limit)
        if self.self_cross(acc, order, taking):
            return "selfFill", []
        if kind in {"ioc", "mkt", "fok"} and not taking.walk:
            return "iocWouldNotExecute", []
        if kind == "fok" and taking.remaining > 0:
            return "iocWouldNotExecute", []
        self._book(acc, order, now, reduced)
        events = [
            self.fill(acc, order, spec, qty, price, now, fill_type) for price, qty in taking.walk
        ]
        if order.is_open and kind == "lmt":
            events.append(self._place_event(order, reduced))
            self.events.emit_order(acc.account_id, order, "NEW_USER_ORDER")
        elif order.is_open:
            # Not from the reference: the reason an IOC remainder is dropped.
            self.close(acc, order, now, "cancelled", "NOT_ENOUGH_LIQUIDITY")
        return None, events

    def clip_reduce_only(self, acc: Account, order: Order) -> float | None:
        """Shrink a reduce-only order to the position; return the amount cut, if any.

        The caller keeps the order (it is booked, filled or closed next).
        """
        if not order.reduce_only:
            return None
        room = abs(acc.position_size(order.symbol))
        if order.unfilled <= room:
            return None
        cut = order.unfilled - room
        order.quantity = margin.round_size(
            self.prices.known_spec(order.symbol), order.filled + room
        )
        return cut

    # ------------------------------------------------------- an order's life on the book

    @staticmethod
    def _place_event(order: Order, reduced: float | None) -> dict[str, Any]:
        key, body = order.v3_event_body()
        event: dict[str, Any] = {"type": "PLACE", key: body}
        if reduced is not None:
            event["reducedQuantity"] = reduced
        return event

    def rest(self, acc: Account, order: Order, now: int, reduced: float | None) -> dict[str, Any]:
        """Put the order on the book (or in the trigger list); the PLACE event."""
        self._book(acc, order, now, reduced)
        self.events.emit_order(acc.account_id, order, "NEW_USER_ORDER")
        return self._place_event(order, reduced)

    def _book(self, acc: Account, order: Order, now: int, reduced: float | None) -> None:
        if self.prices.models_queue and order.limit_price is not None and not order.is_trigger:
            order.queue_ahead = self.prices.queue_ahead(
                order.symbol, order.side, order.limit_price, now
            )
        self.ledger.put_order(acc, order)
        self.ledger.book_order(acc, order)
        self.events.touch(acc.account_id)
        self.ledger.record(
            acc, now, order.symbol, history_bodies.order_placed(order, acc.uid, acc.number, reduced)
        )

    def reject(self, acc: Account, order: Order, now: int, status: str) -> dict[str, Any]:
        """Record a rejected order; the REJECT event (reason = the engine's OrderError name)."""
        order.status, order.closed_ms = "rejected", now
        order.error = ORDER_ERRORS.get(status)
        order.update_reason = order.error or status
        self.ledger.put_order(acc, order)
        key, body = order.v3_event_body()
        self.ledger.record(
            acc, now, order.symbol, history_bodies.order_rejected(order, acc.uid, acc.number)
        )
        return {"type": "REJECT", "uid": order.order_id, key: body, "reason": order.error}

    def close(self, acc: Account, order: Order, now: int, status: str, reason: str) -> None:
        """Take the order off the book as ``filled`` or ``cancelled`` with an update reason."""
        order.status, order.closed_ms, order.updated_ms = status, now, now
        order.update_reason = reason
        self.ledger.put_order(acc, order)
        self.ledger.unbook_order(acc, order.order_id)
        self.events.touch(acc.account_id)
        if status == "cancelled":
            self.ledger.record(
                acc,
                now,
                order.symbol,
                history_bodies.order_cancelled(order, acc.uid, acc.number, reason),
            )
        if self.events.listeners:  # the message is dropped when nobody listens: not built
            self.events.emit(
                acc.account_id, "open_orders", private_feeds.removal_message(order, reason)
            )

    def cancel(self, acc: Account, order: Order, now: int, reason: str) -> dict[str, Any]:
        """Cancel an open order; the CANCEL event."""
        key, body = order.v3_event_body()
        self.close(acc, order, now, "cancelled", reason)
        return {"type": "CANCEL", "uid": order.order_id, key: body}

    def record_update(
        self, acc: Account, order: Order, now: int, reason: str, old: dict[str, Any] | None = None
    ) -> None:
        """An ``OrderUpdated`` history event (a fill or an edit) with the order's update reason."""
        order.update_reason = reason
        self.ledger.put_order(acc, order)
        self.ledger.record(
            acc, now, order.symbol, history_bodies.order_updated(order, acc.uid, reason, old)
        )

    def record_position(
        self,
        acc: Account,
        spec: InstrumentSpec,
        t: int,
        *,
        old: tuple[float, float | None],
        new: tuple[float, float | None],
        change: str,
        reason: str,
        extra: dict[str, Any],
    ) -> None:
        """A position-history event: (size, entry) before and after, why, and its details."""
        self.ledger.record(
            acc,
            t,
            spec.symbol,
            history_bodies.position_update(
                acc.uid, spec.symbol, t, old=old, new=new, change=change, reason=reason, extra=extra
            ),
        )

    # ---------------------------------------------------------------------- fills

    def fill(
        self,
        acc: Account,
        order: Order,
        spec: InstrumentSpec,
        quantity: float,
        price: float,
        now: int,
        fill_type: str,
    ) -> dict[str, Any]:
        """Execute ``quantity`` of ``order`` at ``price``; the EXECUTION event."""
        prior, prior_history = order.v3(), order.history(acc.uid)
        tier = self.valuation.fee_tier(acc, spec.fee_schedule_uid, now)
        rate = tier.maker if fill_type == "maker" else tier.taker
        if fill_type == "liquidation" and spec.is_inverse:
            rate = 0.0  # "liquidation fee … not applicable for inverse futures" (history spec)
        fee = margin.fee(spec, quantity, price, rate)
        fill_id = self.ledger.new_uid()
        trade, realised_funding = self._book_trade(
            acc, spec, order, quantity, price, now, fee, fill_id, fill_type
        )
        order.filled = margin.round_size(spec, order.filled + quantity)
        order.updated_ms = now
        self.ledger.put_order(acc, order)
        fill = Fill(
            fill_id=fill_id,
            order_id=order.order_id,
            cli_ord_id=order.cli_ord_id,
            symbol=spec.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            time_ms=now,
            fill_type=fill_type,
            fee=fee,
            fee_rate=rate,
            fee_currency=spec.settlement_currency,
            order_type=order.effective_type,
            remaining=order.unfilled,
        )
        self.ledger.add_fill(acc, fill)
        counterparty = self.ledger.new_uid()  # drawn before the element's uid: same ids for a seed
        mark = self.prices.mark(spec.symbol, fill.time_ms)
        self.ledger.record(
            acc,
            fill.time_ms,
            spec.symbol,
            history_bodies.execution(
                order,
                acc.uid,
                spec,
                fill,
                position=trade.new_size,
                mark_price=mark,
                counterparty_uid=counterparty,
            ),
        )
        self.record_position(
            acc,
            spec,
            now,
            old=(trade.old_size, trade.old_entry),
            new=(trade.new_size, trade.new_entry),
            change=trade.change,
            reason="trade",
            extra={
                "fillTime": now,
                "fee": dec(fee),
                "feeCurrency": spec.settlement_currency,
                "realizedPnL": dec(trade.realized_pnl),
                "executionUid": fill_id,
                "executionPrice": dec(price),
                "executionSize": dec(quantity),
                "tradeType": "liquidation" if fill_type == "liquidation" else "userExecution",
                "realizedFunding": dec(realised_funding),
            },
        )
        done = order.unfilled <= 0
        self.record_update(acc, order, now, "FULL_FILL" if done else "PARTIAL_FILL", prior_history)
        if done:
            self.close(acc, order, now, "filled", "FULL_FILL")
        seq = acc.next_seq("fills")  # counted whether or not anybody listens
        if self.events.listeners:
            message = {"feed": "fills", "fills": [fill.ws(seq, update=True)]}
            self.events.emit(acc.account_id, "fills", message)
        return {
            "type": "EXECUTION",
            "executionId": fill_id,
            "price": price,
            "amount": quantity,
            "orderPriorEdit": None,
            "orderPriorExecution": prior,
            "takerReducedQuantity": None,
        }

    def _book_trade(
        self,
        acc: Account,
        spec: InstrumentSpec,
        order: Order,
        quantity: float,
        price: float,
        now: int,
        fee: float,
        fill_id: str,
        fill_type: str,
    ) -> tuple[margin.TradeResult, float]:
        """Move the position and the wallet for one fill and write both account-log legs.

        Accrued funding is realised with the trade because the position changes
        (reference §7.5). Returns the position change and the funding realised.
        """
        position = acc.positions.get(spec.symbol)
        size, entry = (position.size, position.entry) if position else (0.0, None)
        funding = position.unrealized_funding if position else 0.0
        trade = margin.apply_trade(spec, size, entry, order.sign * quantity, price)
        if trade.new_size == 0:
            self.ledger.drop_position(acc, spec.symbol)
        else:
            self.ledger.put_position(
                acc, Position(spec.symbol, trade.new_size, trade.new_entry or price, now)
            )
        currency, wallet = spec.settlement_currency, spec.margin_account
        old, new = self.ledger.credit(acc, wallet, currency, trade.realized_pnl + funding - fee)
        info = "futures liquidation" if fill_type == "liquidation" else "futures trade"
        # One fill books two rows sharing everything but the asset: the position
        # leg (contracts) and the cash leg (settlement currency).
        common: dict[str, Any] = {
            "date_ms": now,
            "info": info,
            "margin_account": wallet,
            "contract": spec.symbol,
            "collateral": currency,
            "execution": fill_id,
            "mark_price": self.prices.mark(spec.symbol, now),
            "trade_price": price,
        }
        self.ledger.add_log(
            acc,
            LogEntry(
                booking_uid=self.ledger.new_uid(),
                asset=spec.symbol.lower(),
                old_balance=size,
                new_balance=trade.new_size,
                old_average_entry_price=entry,
                new_average_entry_price=trade.new_entry,
                **common,
            ),
        )
        self.ledger.add_log(
            acc,
            LogEntry(
                booking_uid=self.ledger.new_uid(),
                asset=currency.lower(),
                old_balance=old,
                new_balance=new,
                fee=fee,
                realized_pnl=trade.realized_pnl,
                realized_funding=funding,
                liquidation_fee=fee if fill_type == "liquidation" and not spec.is_inverse else None,
                **common,
            ),
        )
        self.events.touch(acc.account_id)
        return trade, funding
