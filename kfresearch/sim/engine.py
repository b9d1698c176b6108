"""The exchange engine: orders, matching, positions, margin, fees, funding, liquidation, settlement.

The engine knows prices only through a :class:`~kfresearch.sim.interfaces.Market`
(the seeded synthetic market for ``sim``, the live public feed for ``demo``).
Everything else (wallets, orders, fills, the account log and history) is
its own state, created on first use per ``account_id``.

Time only moves through :meth:`Engine.advance`, in chronological steps of at
most one minute (split at funding hours, settlements and dead man's switch
deadlines), and only symbols with open orders or positions are looked at:

1. funding accrues on perpetual positions for the step;
2. resting limit orders fill as maker at their limit when the market's trades
   went through them (``market.extremes(symbol, "last", t0, t1)``);
3. stop / take-profit / trailing-stop orders fire on their signal and execute
   against the book at the step's end;
4. at an hour boundary accrued funding is realised into the wallet;
5. dated contracts settle at their last trading time at the index price;
6. margin pools (a wallet's cross positions, or one isolated position) whose
   equity fell below their maintenance margin are liquidated;
7. dead man's switches whose deadline passed cancel every order.

Everything the engine does at a step is stamped with the step's end time.
Identifiers come from ``random.Random(seed)``, so one seed and one sequence of
requests give byte-identical answers.

Amounts are in the contract's settlement currency (USD for ``PF_``, the base
coin for ``PI_``/``FI_``), sizes in contracts, prices in USD, times in epoch ms.

Example
-------
>>> engine = Engine(market, seed=7)  # doctest: +SKIP
>>> engine.send_order("acc-1", parse_order_request(params.get), now_ms)  # doctest: +SKIP
{'order_id': '…', 'status': 'placed', 'receivedTime': '…', 'orderEvents': […]}
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from kfresearch.sim import history_bodies, margin, private_feeds
from kfresearch.sim.accounts import Account, Fill, Position, page_history, select_log
from kfresearch.sim.instruments import FEE_TIERS, InstrumentSpec
from kfresearch.sim.interfaces import Level, Market, Signal
from kfresearch.sim.margin import HOUR_MS, FlexSummary, PositionRisk, WalletSummary
from kfresearch.sim.orders import (
    LIMIT_TYPES,
    ORDER_TYPES,
    TRIGGER_TYPES,
    EditRequest,
    Order,
    OrderRequest,
)
from kfresearch.sim.routing import dec, iso

__all__ = ["Engine", "Listener"]

Listener = Callable[[str, str, dict[str, Any]], None]
Pool = tuple[str, str | None]
"""A margin pool: (wallet, the isolated contract, or None for the wallet's cross margin)."""

MINUTE_MS = 60_000
PRICE_COLLAR = 0.10  # aggressive limit orders may not reach more than 10 % past the mark
MARKET_PROTECTION = 0.01  # "mkt" is an IOC limited to 1 % past the best price (reference §4.12)
MAX_CLI_ORD_ID = 100
SAFE_BAND = 0.05  # liquidation is re-checked in full only when the mark leaves +-5 %
STATUS_WINDOW_MS = 5_000  # orders/status also lists orders closed this recently
FEE_WINDOW_MS = 30 * 24 * HOUR_MS  # fee tiers follow the 30-day traded volume (reference §4.22)
# Collateral haircuts of the flex wallet (reference §7.4 example: about 2 % on XBT).
HAIRCUTS = {"USD": 0.0, "USDC": 0.0, "USDT": 0.0, "XBT": 0.02, "ETH": 0.02}

# Currencies a flex contract's profits may be realised in (``BTC`` is the UI's XBT).
PNL_CURRENCIES = frozenset({"USD", "XBT", "BTC", "ETH", "USDC", "USDT", "EUR", "GBP"})
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


_SIGNALS: dict[str, Signal] = {"mark": "mark", "index": "index", "last": "last"}


@dataclass(frozen=True)
class _Taking:
    """What a marketable order would take from the book: fills and what is left."""

    limit: float
    walk: list[tuple[float, float]]
    remaining: float


def _decimals(step: float) -> int:
    return len(dec(step).partition(".")[2])


def _on_grid(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-7


class Engine:
    """The simulated exchange's matching and risk engine (see the module docstring).

    Parameters
    ----------
    market
        Where every price comes from.
    seed
        Seed of the identifier generator.
    """

    def __init__(self, market: Market, *, seed: int) -> None:
        self.market = market
        self.seed = seed
        self.accounts: dict[str, Account] = {}
        self.listeners: list[Listener] = []
        self.now_ms: int | None = None
        self._rng = random.Random(seed)
        self._seq = 0
        self._specs: dict[str, InstrumentSpec] = {}
        self._funding: dict[tuple[str, int], float] = {}
        self._dirty: set[str] = set()
        # (account, wallet, isolated symbol) -> (band key, low mark, high mark):
        # see _remember_safe_band.
        self._safe_bands: dict[
            tuple[str, str, str | None], tuple[tuple[Any, ...], float, float]
        ] = {}

    # ------------------------------------------------------------------ basics

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def account(self, account_id: str, now_ms: int) -> Account:
        """The account named ``account_id``, opened with the starting wallets on first use."""
        found = self.accounts.get(account_id)
        if found is None:
            found = Account(account_id, self._uuid(), len(self.accounts) + 1, now_ms)
            self.accounts[account_id] = found
        return found

    def spec(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract ``symbol`` if it can be traded at ``now_ms`` (dated ones until expiry)."""
        found = self.market.instrument(symbol, now_ms)
        if found is None:
            return None
        self._specs[found.symbol] = found
        expiry = found.last_trading_time_ms
        return None if expiry is not None and now_ms >= expiry else found

    def known_spec(self, symbol: str) -> InstrumentSpec:
        """The contract of an order or position, even after it expired (it was looked up then)."""
        return self._specs[symbol]

    def _signal_price(self, symbol: str, signal: str, t_ms: int) -> float:
        if signal == "index":
            return self.market.index_price(symbol, t_ms)
        if signal == "last":
            return self.market.last_price(symbol, t_ms)
        return self.market.mark_price(symbol, t_ms)

    def _funding_rate(self, symbol: str, hour_ms: int) -> float:
        key = (symbol, hour_ms)
        if key not in self._funding:
            self._funding[key] = self.market.funding_rate(symbol, hour_ms)[0]
        return self._funding[key]

    # ------------------------------------------------------------ advancing

    def advance(self, now_ms: int) -> None:
        """Bring every account up to ``now_ms`` (no-op when time has not moved on)."""
        if self.now_ms is None:
            self.now_ms = now_ms
            return
        t = self.now_ms
        while t < now_ms:
            if not self._anything_active():
                self._fire_dead_man_switches(now_ms)
                break
            t1 = min(now_ms, (t // MINUTE_MS + 1) * MINUTE_MS, self._next_deadline(t, now_ms))
            self._step(t, t1)
            t = t1
        self.now_ms = max(self.now_ms, now_ms)
        self._flush(now_ms)

    def _anything_active(self) -> bool:
        return any(acc.open_orders or acc.positions for acc in self.accounts.values())

    def _next_deadline(self, t: int, horizon: int) -> int:
        """The earliest dead man's switch or settlement in ``(t, horizon]`` (steps end there)."""
        deadlines = [horizon]
        for acc in self.accounts.values():
            if acc.dms_trigger_ms is not None and acc.dms_trigger_ms > t:
                deadlines.append(acc.dms_trigger_ms)
            for symbol in self._active_symbols(acc):
                expiry = self.known_spec(symbol).last_trading_time_ms
                if expiry is not None and expiry > t:
                    deadlines.append(expiry)
        return min(deadlines)

    @staticmethod
    def _active_symbols(acc: Account) -> set[str]:
        return set(acc.positions) | {order.symbol for order in acc.open_orders.values()}

    def _step(self, t0: int, t1: int) -> None:
        cache: dict[tuple[str, str], tuple[float, float] | None] = {}

        def extremes(symbol: str, signal: Signal) -> tuple[float, float] | None:
            if (symbol, signal) not in cache:
                cache[symbol, signal] = self.market.extremes(symbol, signal, t0, t1)
            return cache[symbol, signal]

        self._accrue_funding(t0, t1)
        for acc in list(self.accounts.values()):
            for order in sorted(acc.open_orders.values(), key=lambda o: o.seq):
                if order.is_open and not order.is_trigger:
                    self._maybe_fill_resting(acc, order, extremes, t1)
            for order in sorted(acc.open_orders.values(), key=lambda o: o.seq):
                if order.is_open and order.is_trigger:
                    self._maybe_trigger(acc, order, extremes, t1)
        if t1 % HOUR_MS == 0:
            self._realise_funding(t1)
        self._settle_expired(t1)
        self._liquidate_underwater(t1)
        self._fire_dead_man_switches(t1)

    # ----------------------------------------------------------------- funding

    def _accrue_funding(self, t0: int, t1: int) -> None:
        hour = (t0 // HOUR_MS) * HOUR_MS
        for acc in self.accounts.values():
            for position in acc.positions.values():
                if self.known_spec(position.symbol).is_perpetual:
                    rate = self._funding_rate(position.symbol, hour)
                    position.funding_accrued += margin.funding_accrual(position.size, rate, t1 - t0)

    def _realise_funding(self, t: int) -> None:
        """Pay each perpetual position's funding of the hour ending at ``t`` into its wallet."""
        for acc in self.accounts.values():
            for position in acc.positions.values():
                spec = self.known_spec(position.symbol)
                amount = position.unrealized_funding
                if not spec.is_perpetual or amount == 0:
                    continue
                position.funding_accrued = 0.0
                rate = self._funding_rate(position.symbol, t - HOUR_MS)
                old, new = acc.credit(spec.margin_account, spec.settlement_currency, amount)
                acc.add_log(
                    booking_uid=self._uuid(),
                    date_ms=t,
                    asset=spec.settlement_currency.lower(),
                    info="funding rate change",
                    margin_account=spec.margin_account,
                    old_balance=old,
                    new_balance=new,
                    contract=spec.symbol,
                    collateral=spec.settlement_currency,
                    funding_rate=rate,
                    mark_price=self.market.mark_price(spec.symbol, t),
                    realized_funding=amount,
                )
                self._record_position(
                    acc,
                    spec,
                    t,
                    old=(position.size, position.entry),
                    new=(position.size, position.entry),
                    change="noChange",
                    reason="fundingRealisation",
                    extra={"fundingRealizationTime": t, "realizedFunding": dec(amount)},
                )
                self._dirty.add(acc.account_id)

    # --------------------------------------------------------------- placement

    def send_order(self, account_id: str, request: OrderRequest, now_ms: int) -> dict[str, Any]:
        """Judge and execute a new order; the ``sendStatus`` payload of ``POST /sendorder``.

        Rejections are answers, not errors (reference §4.12): the status names
        are those of the spec, checked in this order: ``wouldProcessAfterSpecifiedTime``,
        ``invalidOrderType``, ``invalidSide``, ``marketInactive`` (unknown or
        expired symbol; the v3 API has no separate "unknown symbol" status),
        ``clientOrderIdTooLong``, ``clientOrderIdAlreadyExist`` (client ids are
        never reused within an account, so a resend is always caught),
        ``invalidSize``, ``invalidPrice``; then, for an order that got an id,
        ``outsidePriceCollar``, ``wouldNotReducePosition``,
        ``maxPositionViolation``, ``insufficientAvailableFunds``,
        ``postWouldExecute``, ``selfFill``, ``iocWouldNotExecute`` (also for a
        ``fok`` that cannot fill completely: the spec has no FOK status).
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        screened = self._screen(acc, request, now_ms)
        if isinstance(screened, str):
            head = {"cliOrdId": request.cli_ord_id} if request.cli_ord_id is not None else {}
            return head | {"status": screened, "receivedTime": iso(now_ms), "orderEvents": []}
        order = self._new_order(acc, request, screened, now_ms)
        status, events = self._admit(acc, order, screened, now_ms)
        body: dict[str, Any] = {"order_id": order.order_id}
        if order.cli_ord_id is not None:
            body["cliOrdId"] = order.cli_ord_id
        body |= {"status": status, "receivedTime": iso(now_ms), "orderEvents": events}
        self._flush(now_ms)
        return body

    def _screen(self, acc: Account, request: OrderRequest, now: int) -> str | InstrumentSpec:
        """Checks that need no order id: the first failing status, else the contract."""
        if request.process_before_ms is not None and now > request.process_before_ms:
            return "wouldProcessAfterSpecifiedTime"
        if request.order_type not in ORDER_TYPES:
            return "invalidOrderType"
        if request.side not in {"buy", "sell"}:
            return "invalidSide"
        spec = self.spec(request.symbol, now)
        if spec is None:
            return "marketInactive"
        if request.cli_ord_id is not None and len(request.cli_ord_id) > MAX_CLI_ORD_ID:
            return "clientOrderIdTooLong"
        if request.cli_ord_id is not None and request.cli_ord_id in acc.cli_ids:
            return "clientOrderIdAlreadyExist"
        if request.size <= 0 or not _on_grid(request.size, spec.size_step):
            return "invalidSize"
        for price in (request.limit_price, request.stop_price):
            if price is not None and (price <= 0 or not _on_grid(price, spec.tick_size)):
                return "invalidPrice"
        return spec

    def _new_order(
        self, acc: Account, request: OrderRequest, spec: InstrumentSpec, now: int
    ) -> Order:
        self._seq += 1
        order = Order(
            order_id=self._uuid(),
            account_id=acc.account_id,
            symbol=spec.symbol,
            side=request.side,
            order_type=request.order_type,
            quantity=margin.round_size(spec, request.size),
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trigger_signal=request.trigger_signal if request.order_type in TRIGGER_TYPES else None,
            reduce_only=request.reduce_only,
            cli_ord_id=request.cli_ord_id,
            received_ms=now,
            seq=self._seq,
            updated_ms=now,
            trailing_deviation=request.trailing_deviation,
            trailing_unit=request.trailing_unit,
            offset_value=request.offset_value,
            offset_unit=request.offset_unit,
        )
        if order.order_type == "trailing_stop":
            order.trail_extreme = self._signal_price(
                spec.symbol, order.trigger_signal or "mark", now
            )
            order.stop_price = self._trailing_stop(order, spec)
        return order

    def _trailing_stop(self, order: Order, spec: InstrumentSpec) -> float:
        """Stop price ``max_deviation`` behind the best price seen, on the tick grid."""
        best = order.trail_extreme or 0.0
        deviation = order.trailing_deviation or 0.0
        away = best * deviation / 100 if order.trailing_unit == "PERCENT" else deviation
        raw = best - away if order.side == "sell" else best + away
        return self._round_price(spec, raw, down=order.side == "sell")

    @staticmethod
    def _round_price(spec: InstrumentSpec, price: float, *, down: bool) -> float:
        units = price / spec.tick_size
        snapped = math.floor(units + 1e-9) if down else math.ceil(units - 1e-9)
        return round(snapped * spec.tick_size, _decimals(spec.tick_size))

    def _admit(
        self, acc: Account, order: Order, spec: InstrumentSpec, now: int
    ) -> tuple[str, list[dict[str, Any]]]:
        """Risk checks, then rest or execute. Returns the status and the order events."""
        status = self._risk_status(acc, order, spec, now)
        if status is not None:
            return status, [self._reject(acc, order, now, status)]
        reduced = self._clip_reduce_only(acc, order)
        if order.is_trigger:
            return "placed", [self._rest(acc, order, now, reduced)]
        status, events = self._execute(acc, order, spec, now, fill_type="taker", reduced=reduced)
        if status is not None:
            return status, [self._reject(acc, order, now, status)]
        return "placed", events

    def _risk_status(
        self, acc: Account, order: Order, spec: InstrumentSpec, now: int
    ) -> str | None:
        mark = self.market.mark_price(spec.symbol, now)
        if order.order_type in LIMIT_TYPES and order.limit_price is not None:
            reach = order.limit_price / mark - 1
            if order.sign * reach > PRICE_COLLAR:
                return "outsidePriceCollar"
        position = self._size(acc, spec.symbol)
        if order.reduce_only:
            return None if position * order.sign < 0 else "wouldNotReducePosition"
        if abs(position + order.sign * order.quantity) > spec.max_position_size:
            return "maxPositionViolation"
        if not order.is_trigger and not self._margin_allows(acc, spec, now, extra=order):
            return "insufficientAvailableFunds"
        return None

    @staticmethod
    def _size(acc: Account, symbol: str) -> float:
        position = acc.positions.get(symbol)
        return position.size if position else 0.0

    def _clip_reduce_only(self, acc: Account, order: Order) -> float | None:
        """Shrink a reduce-only order to the position; return the amount cut, if any."""
        if not order.reduce_only:
            return None
        room = abs(self._size(acc, order.symbol))
        if order.unfilled <= room:
            return None
        cut = order.unfilled - room
        order.quantity = margin.round_size(self.known_spec(order.symbol), order.filled + room)
        return cut

    def _margin_allows(
        self, acc: Account, spec: InstrumentSpec, now: int, extra: Order | None
    ) -> bool:
        """Whether the wallet can carry ``extra`` (or the order reduces the requirement)."""
        _, before_im = self._wallet_need(acc, spec.margin_account, now, None)
        after_equity, after_im = self._wallet_need(acc, spec.margin_account, now, extra)
        return after_im <= after_equity or after_im <= before_im

    def _wallet_need(
        self, acc: Account, wallet: str, now: int, extra: Order | None
    ) -> tuple[float, float]:
        """(margin equity, initial margin with orders) of a wallet, maybe with one more order."""
        if wallet == "flex":
            flex = self.flex_summary(acc, now, extra=extra)
            return flex.margin_equity, flex.initial_margin_with_orders
        single = self.wallet_summary(acc, wallet, now, extra=extra)
        return single.portfolio_value, single.initial_margin_with_orders

    # --------------------------------------------------------------- matching

    def _taking(
        self, order: Order, spec: InstrumentSpec, levels: list[Level], limit: float
    ) -> _Taking:
        walk: list[tuple[float, float]] = []
        remaining = order.unfilled
        for price, size in levels:
            if remaining <= 0 or order.sign * (price - limit) > 0:
                break
            take = margin.round_size(spec, min(size, remaining))
            if take > 0:
                walk.append((price, take))
                remaining = margin.round_size(spec, remaining - take)
        return _Taking(limit, walk, remaining)

    def _protection_price(self, order: Order, spec: InstrumentSpec, best: float) -> float:
        return self._round_price(
            spec, best * (1 + order.sign * MARKET_PROTECTION), down=order.side == "buy"
        )

    def _self_cross(self, acc: Account, order: Order, taking: _Taking) -> bool:
        """Would the order meet one of the account's own resting orders (REJECT_TAKER)?"""
        reach = taking.limit if taking.remaining > 0 or not taking.walk else taking.walk[-1][0]
        for other in acc.open_orders.values():
            if (
                other.order_id != order.order_id
                and other.symbol == order.symbol
                and other.side != order.side
                and not other.is_trigger
                and other.limit_price is not None
                and order.sign * (reach - other.limit_price) >= 0
            ):
                return True
        return False

    def _execute(
        self,
        acc: Account,
        order: Order,
        spec: InstrumentSpec,
        now: int,
        *,
        fill_type: str,
        reduced: float | None,
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """Take liquidity as the order type allows, then rest or drop the remainder."""
        bids, asks = self.market.book(spec.symbol, now)
        levels = asks if order.side == "buy" else bids
        kind = order.effective_type
        if kind == "mkt":
            if not levels:
                return "iocWouldNotExecute", []
            limit = self._protection_price(order, spec, levels[0][0])
            if order.order_type == "mkt":
                order.limit_price = limit
        else:
            limit = order.limit_price or 0.0
        if kind == "post":
            if levels and order.sign * (levels[0][0] - limit) <= 0:
                return "postWouldExecute", []
            return None, [self._rest(acc, order, now, reduced)]
        taking = self._taking(order, spec, levels, limit)
        if self._self_cross(acc, order, taking):
            return "selfFill", []
        if kind in {"ioc", "mkt", "fok"} and not taking.walk:
            return "iocWouldNotExecute", []
        if kind == "fok" and taking.remaining > 0:
            return "iocWouldNotExecute", []
        self._record_placed(acc, order, now, reduced)
        events = [
            self._fill(acc, order, spec, qty, price, now, fill_type) for price, qty in taking.walk
        ]
        if order.is_open and kind == "lmt":
            events.append(self._place_event(order, reduced))
            self._emit_order(acc, order, "NEW_USER_ORDER")
        elif order.is_open:
            # Not from the reference: the reason an IOC remainder is dropped.
            self._close(acc, order, now, "cancelled", "NOT_ENOUGH_LIQUIDITY")
        return None, events

    def _place_event(self, order: Order, reduced: float | None) -> dict[str, Any]:
        key, body = order.v3_event_body()
        event: dict[str, Any] = {"type": "PLACE", key: body}
        if reduced is not None:
            event["reducedQuantity"] = reduced
        return event

    def _rest(self, acc: Account, order: Order, now: int, reduced: float | None) -> dict[str, Any]:
        """Put the order on the book (or in the trigger list); the PLACE event."""
        self._record_placed(acc, order, now, reduced)
        self._emit_order(acc, order, "NEW_USER_ORDER")
        return self._place_event(order, reduced)

    def _record_placed(self, acc: Account, order: Order, now: int, reduced: float | None) -> None:
        acc.orders[order.order_id] = order
        acc.open_orders[order.order_id] = order
        if order.cli_ord_id is not None:
            acc.cli_ids[order.cli_ord_id] = order.order_id
        self._dirty.add(acc.account_id)
        self._store(acc, now, order.symbol,
                    history_bodies.order_placed(order, acc.uid, acc.number, reduced))

    def _store(self, acc: Account, t: int, symbol: str, recorded: history_bodies.Recorded) -> None:
        kind, body, tags = recorded
        acc.add_history(kind, self._uuid(), t, symbol, body, tags)

    def _reject(self, acc: Account, order: Order, now: int, status: str) -> dict[str, Any]:
        """Record a rejected order; the REJECT event (reason = the engine's OrderError name)."""
        order.status, order.closed_ms = "rejected", now
        order.error = ORDER_ERRORS.get(status)
        order.update_reason = order.error or status
        acc.orders[order.order_id] = order
        key, body = order.v3_event_body()
        self._store(acc, now, order.symbol,
                    history_bodies.order_rejected(order, acc.uid, acc.number))
        return {"type": "REJECT", "uid": order.order_id, key: body, "reason": order.error}

    # ------------------------------------------------------------------ fills

    def _fill(
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
        tier = self.fee_tier(acc, spec.fee_schedule_uid, now)
        rate = tier.maker if fill_type == "maker" else tier.taker
        if fill_type == "liquidation" and spec.is_inverse:
            rate = 0.0  # "liquidation fee … not applicable for inverse futures" (history spec)
        fee = margin.fee(spec, quantity, price, rate)
        fill_id = self._uuid()
        trade, realised_funding = self._book_trade(
            acc, spec, order, quantity, price, now, fee, fill_id, fill_type
        )
        order.filled = margin.round_size(spec, order.filled + quantity)
        order.updated_ms = now
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
        acc.fills.append(fill)
        self._record_execution(acc, order, spec, fill, trade.new_size)
        self._record_position(
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
        self._record_order_update(
            acc, order, now, "FULL_FILL" if done else "PARTIAL_FILL", old=prior_history
        )
        if done:
            self._close(acc, order, now, "filled", "FULL_FILL")
        self._emit(
            acc, "fills", {"feed": "fills", "fills": [fill.ws(acc.next_seq("fills"), update=True)]}
        )
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
            acc.positions.pop(spec.symbol, None)
        else:
            acc.positions[spec.symbol] = Position(
                spec.symbol, trade.new_size, trade.new_entry or price, now
            )
        currency, wallet = spec.settlement_currency, spec.margin_account
        old, new = acc.credit(wallet, currency, trade.realized_pnl + funding - fee)
        info = "futures liquidation" if fill_type == "liquidation" else "futures trade"
        mark = self.market.mark_price(spec.symbol, now)
        common = {
            "date_ms": now,
            "info": info,
            "margin_account": wallet,
            "contract": spec.symbol,
            "collateral": currency,
            "execution": fill_id,
            "mark_price": mark,
            "trade_price": price,
        }
        acc.add_log(
            booking_uid=self._uuid(),
            asset=spec.symbol.lower(),
            old_balance=size,
            new_balance=trade.new_size,
            old_average_entry_price=entry,
            new_average_entry_price=trade.new_entry,
            **common,
        )
        acc.add_log(
            booking_uid=self._uuid(),
            asset=currency.lower(),
            old_balance=old,
            new_balance=new,
            fee=fee,
            realized_pnl=trade.realized_pnl,
            realized_funding=funding,
            liquidation_fee=fee if fill_type == "liquidation" and not spec.is_inverse else None,
            **common,
        )
        self._dirty.add(acc.account_id)
        return trade, funding

    def _record_execution(
        self, acc: Account, order: Order, spec: InstrumentSpec, fill: Fill, position: float
    ) -> None:
        counterparty = self._uuid()  # drawn before the element's uid: same ids for one seed
        mark = self.market.mark_price(spec.symbol, fill.time_ms)
        self._store(acc, fill.time_ms, spec.symbol, history_bodies.execution(
            order, acc.uid, spec, fill, position=position, mark_price=mark,
            counterparty_uid=counterparty))

    def _record_position(
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
        self._store(acc, t, spec.symbol, history_bodies.position_update(
            acc.uid, spec.symbol, t, old=old, new=new, change=change, reason=reason, extra=extra))

    def _record_order_update(
        self, acc: Account, order: Order, now: int, reason: str, old: dict[str, Any] | None = None
    ) -> None:
        order.update_reason = reason
        recorded = history_bodies.order_updated(order, acc.uid, reason, old)
        self._store(acc, now, order.symbol, recorded)

    def _close(self, acc: Account, order: Order, now: int, status: str, reason: str) -> None:
        """Take the order off the book as ``filled`` or ``cancelled`` with an update reason."""
        order.status, order.closed_ms, order.updated_ms = status, now, now
        order.update_reason = reason
        acc.open_orders.pop(order.order_id, None)
        self._dirty.add(acc.account_id)
        if status == "cancelled":
            self._record_cancel(acc, order, now, reason)
        self._emit(acc, "open_orders", private_feeds.removal_message(order, reason))

    def _record_cancel(self, acc: Account, order: Order, now: int, reason: str) -> None:
        self._store(acc, now, order.symbol,
                    history_bodies.order_cancelled(order, acc.uid, acc.number, reason))

    def _cancel(self, acc: Account, order: Order, now: int, reason: str) -> dict[str, Any]:
        """Cancel an open order; the CANCEL event."""
        key, body = order.v3_event_body()
        self._close(acc, order, now, "cancelled", reason)
        return {"type": "CANCEL", "uid": order.order_id, key: body}

    # ------------------------------------------------------- resting / triggers

    def _maybe_fill_resting(
        self,
        acc: Account,
        order: Order,
        extremes: Callable[[str, Signal], tuple[float, float] | None],
        t: int,
    ) -> None:
        """Fill a resting limit as maker, whole, when public trades went through its price."""
        seen = extremes(order.symbol, "last")
        limit = order.limit_price
        if seen is None or limit is None:
            return
        low, high = seen
        if (order.side == "buy" and low <= limit) or (order.side == "sell" and high >= limit):
            spec = self.known_spec(order.symbol)
            if order.reduce_only:
                self._clip_reduce_only(acc, order)
                if order.unfilled <= 0 or self._size(acc, order.symbol) * order.sign >= 0:
                    self._close(acc, order, t, "cancelled", "WOULD_NOT_REDUCE_POSITION")
                    return
            self._fill(acc, order, spec, order.unfilled, limit, t, "maker")

    def _maybe_trigger(
        self,
        acc: Account,
        order: Order,
        extremes: Callable[[str, Signal], tuple[float, float] | None],
        t: int,
    ) -> None:
        """Fire a trigger order whose signal crossed its stop during the step.

        A trailing stop is checked against its stop *before* the step's best
        price moves the stop: the order of the high and the low within one
        minute is unknown, and this way nothing is looked up ahead.
        """
        seen = extremes(order.symbol, _SIGNALS[order.trigger_signal or "mark"])
        if seen is None or order.stop_price is None:
            return
        low, high = seen
        fired = (
            high >= order.stop_price if order.trigger_side == "above" else low <= order.stop_price
        )
        if fired:
            self._activate(acc, order, t)
        elif order.order_type == "trailing_stop" and order.trail_extreme is not None:
            best = (
                max(order.trail_extreme, high)
                if order.side == "sell"
                else min(order.trail_extreme, low)
            )
            if best != order.trail_extreme:
                order.trail_extreme = best
                order.stop_price = self._trailing_stop(order, self.known_spec(order.symbol))

    def _activate(self, acc: Account, order: Order, t: int) -> None:
        """Turn a fired trigger into a limit (or market) order and execute it at ``t``."""
        spec = self.known_spec(order.symbol)
        body = {"OrderTriggerActivated": {"order": order.history_trigger(acc.uid, acc.number)}}
        acc.add_history("triggers", self._uuid(), t, order.symbol, body, {"closed"})
        order.triggered, order.triggered_ms, order.updated_ms = True, t, t
        order.update_reason = "STOP_ORDER_TRIGGERED"
        if order.offset_unit is not None and order.stop_price is not None:
            offset = order.offset_value or 0.0
            raw = (
                order.stop_price * (1 + offset / 100)
                if order.offset_unit == "PERCENT"
                else order.stop_price + offset
            )
            order.limit_price = self._round_price(spec, raw, down=order.side == "buy")
        acc.open_orders.pop(order.order_id, None)
        status = (
            "wouldNotReducePosition"
            if order.reduce_only and self._size(acc, order.symbol) * order.sign >= 0
            else None
        )
        if status is None:
            self._clip_reduce_only(acc, order)
            if not order.reduce_only and not self._margin_allows(acc, spec, t, extra=order):
                status = "insufficientAvailableFunds"
        if status is None:
            status, _ = self._execute(acc, order, spec, t, fill_type="taker", reduced=None)
        if status is not None:
            order.error = ORDER_ERRORS.get(status, status)
            acc.open_orders[order.order_id] = order
            self._close(acc, order, t, "cancelled", order.error)

    # ------------------------------------------- settlement / liquidation / DMS

    def _settle_expired(self, t: int) -> None:
        """Close positions in dated contracts whose last trading time is ``t``, at the index."""
        for acc in self.accounts.values():
            for symbol in sorted(self._active_symbols(acc)):
                spec = self.known_spec(symbol)
                if spec.last_trading_time_ms is None or spec.last_trading_time_ms > t:
                    continue
                for order in [o for o in acc.open_orders.values() if o.symbol == symbol]:
                    # Not from the reference: the update reason of orders of an expired contract.
                    self._close(acc, order, t, "cancelled", "CONTRACT_EXPIRED")
                position = acc.positions.pop(symbol, None)
                if position is not None:
                    self._settle(acc, spec, position, t)

    def _settle(self, acc: Account, spec: InstrumentSpec, position: Position, t: int) -> None:
        price = self.market.index_price(spec.symbol, t)
        pnl = (
            margin.unrealized_pnl(spec, position.size, position.entry, price)
            + position.unrealized_funding
        )
        old, new = acc.credit(spec.margin_account, spec.settlement_currency, pnl)
        booking = self._uuid()
        common = {
            "booking_uid": booking,
            "date_ms": t,
            "info": "settlement",
            "margin_account": spec.margin_account,
            "contract": spec.symbol,
            "collateral": spec.settlement_currency,
            "trade_price": price,
            "mark_price": self.market.mark_price(spec.symbol, t),
        }
        acc.add_log(
            asset=spec.symbol.lower(),
            old_balance=position.size,
            new_balance=0.0,
            old_average_entry_price=position.entry,
            **common,
        )
        acc.add_log(
            asset=spec.settlement_currency.lower(),
            old_balance=old,
            new_balance=new,
            realized_pnl=pnl,
            **common,
        )
        self._record_position(
            acc,
            spec,
            t,
            old=(position.size, position.entry),
            new=(0.0, None),
            change="close",
            reason="settlement",
            extra={"settlementPrice": dec(price), "realizedPnL": dec(pnl)},
        )
        self._dirty.add(acc.account_id)

    def _liquidate_underwater(self, t: int) -> None:
        """Close the positions of every margin pool whose equity fell below its maintenance.

        A pool is a wallet's cross-margined positions, or one isolated
        position (see :meth:`_equity_and_maintenance`).
        """
        for acc in self.accounts.values():
            for pool in self._pools(acc):
                if not self._pool_symbols(acc, pool) or self._inside_safe_band(acc, pool, t):
                    continue
                equity, maintenance = self._equity_and_maintenance(acc, pool, t)
                if equity < maintenance:
                    self._liquidate(acc, pool, t)
                else:
                    self._remember_safe_band(acc, pool, t)

    def _is_isolated(self, acc: Account, symbol: str) -> bool:
        """Margined alone: a multi-collateral contract with a leverage preference (§4.21)."""
        return symbol in acc.leverage and not self.known_spec(symbol).is_inverse

    def _pools(self, acc: Account) -> list[Pool]:
        pools = {
            (self.known_spec(s).margin_account, s if self._is_isolated(acc, s) else None)
            for s in acc.positions
        }
        return sorted(pools, key=lambda pool: (pool[0], pool[1] or ""))

    def _pool_symbols(self, acc: Account, pool: Pool) -> list[str]:
        wallet, isolated = pool
        if isolated is not None:
            return [isolated] if isolated in acc.positions else []
        return sorted(
            s
            for s in acc.positions
            if self.known_spec(s).margin_account == wallet and not self._is_isolated(acc, s)
        )

    def _band_key(self, acc: Account, pool: Pool, t: int) -> tuple[Any, ...] | None:
        """What a safe band depends on; None when the pool holds more than one position."""
        held = self._pool_symbols(acc, pool)
        if len(held) != 1:
            return None
        wallet = pool[0]
        # the cross pool's equity also depends on the isolated positions' allocated margin
        positions = tuple(
            (p.symbol, p.size, p.entry, acc.leverage.get(p.symbol))
            for p in sorted(acc.positions.values(), key=lambda p: p.symbol)
            if self.known_spec(p.symbol).margin_account == wallet
        )
        balances = tuple(sorted(acc.wallets.get(wallet, {}).items()))
        return (t // HOUR_MS, held[0], positions, balances)

    def _inside_safe_band(self, acc: Account, pool: Pool, t: int) -> bool:
        band = self._safe_bands.get((acc.account_id, *pool))
        if band is None or band[0] != self._band_key(acc, pool, t):
            return False
        symbol = band[0][1]
        return band[1] <= self.market.mark_price(symbol, t) <= band[2]

    def _remember_safe_band(self, acc: Account, pool: Pool, t: int) -> None:
        """Mark prices around the current one where this one-position pool cannot be liquidated.

        For a single position, equity minus maintenance margin is monotonic in
        the mark (linear: slope ``s(1 - rate)``; inverse: ``-(s + c)/P``), so
        checking both ends of the band checks all of it. A whole hour's
        funding is held back because the band lives until the hour ends (or
        until the wallet changes, which changes the key).
        """
        key = self._band_key(acc, pool, t)
        if key is None:
            self._safe_bands.pop((acc.account_id, *pool), None)
            return
        position = acc.positions[key[1]]
        spec = self.known_spec(position.symbol)
        mark = self.market.mark_price(spec.symbol, t)
        funding = (
            abs(position.size * self._funding_rate(spec.symbol, (t // HOUR_MS) * HOUR_MS))
            if spec.is_perpetual
            else 0.0
        )
        base = self._equity_and_maintenance(acc, pool, t)[0] - margin.unrealized_pnl(
            spec, position.size, position.entry, mark
        )
        low, high = mark * (1 - SAFE_BAND), mark * (1 + SAFE_BAND)
        for edge in (low, high):
            risk = margin.position_risk(
                spec, position.size, position.entry, edge, position.unrealized_funding
            )
            if base + risk.pnl - funding <= risk.maintenance_margin:
                self._safe_bands.pop((acc.account_id, *pool), None)
                return
        self._safe_bands[(acc.account_id, *pool)] = (key, low, high)

    def _equity_and_maintenance(self, acc: Account, pool: Pool, t: int) -> tuple[float, float]:
        """Equity and maintenance margin of a margin pool, in the wallet's currency.

        Isolated position (multi-collateral, with a leverage preference): its
        allocated margin, ``|size| x entry / max_leverage`` USD (the initial
        margin it was opened with), plus its unrealised PnL and funding. Its
        loss is capped by what was allocated: it is liquidated alone.
        The flex wallet's cross pool: the wallet's margin equity less what the
        isolated positions hold (their allocated margin and PnL). A
        single-collateral wallet: its portfolio value. Reference §4.21 says
        only that a leverage preference makes a contract isolated; how the
        exchange sizes the allocated margin is not documented.
        """
        wallet, isolated = pool
        if wallet != "flex":
            single = self.wallet_summary(acc, wallet, t)
            return single.portfolio_value, single.maintenance_margin
        flex = self.flex_summary(acc, t)
        alone = [r for r in flex.risks if r.size and self._is_isolated(acc, r.spec.symbol)]
        if isolated is not None:
            risk = next(r for r in alone if r.spec.symbol == isolated)
            return self._isolated_equity(acc, risk), risk.maintenance_margin
        held = math.fsum(self._isolated_equity(acc, r) for r in alone)
        maintenance = flex.maintenance_margin - math.fsum(r.maintenance_margin for r in alone)
        return flex.margin_equity - held, maintenance

    @staticmethod
    def _isolated_equity(acc: Account, risk: PositionRisk) -> float:
        position = acc.positions[risk.spec.symbol]
        allocated = abs(position.size) * risk.spec.contract_size * position.entry
        allocated /= acc.leverage[risk.spec.symbol]
        return allocated + risk.pnl + risk.unrealized_funding

    def _liquidate(self, acc: Account, pool: Pool, t: int) -> None:
        symbols = self._pool_symbols(acc, pool)
        for order in [o for o in acc.open_orders.values() if o.symbol in symbols]:
            # Not from the reference: the update reason of orders cancelled by a liquidation.
            self._close(acc, order, t, "cancelled", "NOT_ENOUGH_MARGIN")
        for symbol in symbols:
            spec, position = self.known_spec(symbol), acc.positions[symbol]
            self._seq += 1
            order = Order(
                order_id=self._uuid(),
                account_id=acc.account_id,
                symbol=symbol,
                side="sell" if position.size > 0 else "buy",
                order_type="liquidation",
                quantity=abs(position.size),
                limit_price=self.market.mark_price(symbol, t),
                stop_price=None,
                trigger_signal=None,
                reduce_only=True,
                cli_ord_id=None,
                received_ms=t,
                seq=self._seq,
                updated_ms=t,
                update_reason="LIQUIDATION_ORDER",
            )
            acc.orders[order.order_id] = order
            acc.open_orders[order.order_id] = order
            self._fill(acc, order, spec, order.quantity, order.limit_price or 0.0, t, "liquidation")

    def _fire_dead_man_switches(self, t: int) -> None:
        for acc in self.accounts.values():
            if acc.dms_trigger_ms is not None and acc.dms_trigger_ms <= t:
                when = acc.dms_trigger_ms
                acc.dms_trigger_ms = None
                for order in sorted(acc.open_orders.values(), key=lambda o: o.seq):
                    self._cancel(acc, order, when, "DEAD_MAN_SWITCH")

    # ------------------------------------------------------ edit and cancel

    def edit_order(self, account_id: str, request: EditRequest, now_ms: int) -> dict[str, Any]:
        """Change an open order's size or prices; the ``editStatus`` payload of ``POST /editorder``.

        Statuses: ``edited``, ``wouldProcessAfterSpecifiedTime``,
        ``orderForEditNotFound``, ``orderForEditNotAStop`` (a stop price for an
        order without one), ``cannotEditTriggerPriceOfTrailingStop``,
        ``cannotEditLimitPriceOfTrailingStop``, ``invalidSize``,
        ``invalidPrice``, ``outsidePriceCollar``, ``wouldNotReducePosition``,
        ``insufficientAvailableFunds``, ``postWouldExecute``, ``selfFill``.
        A limit order edited through the market takes liquidity (fill type
        ``takerAfterEdit``).
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        order = acc.find_order(request.order_id, request.cli_ord_id)
        if order is not None and not order.is_open:
            order = None
        status, edited = self._edit_status(acc, order, request, now_ms)
        body: dict[str, Any] = {"status": status}
        if order is not None:
            body["orderId"] = order.order_id
        elif request.order_id:
            body["orderId"] = request.order_id
        if (order and order.cli_ord_id) or request.cli_ord_id:
            body["cliOrdId"] = (
                order.cli_ord_id if order and order.cli_ord_id else request.cli_ord_id
            )
        body["receivedTime"] = iso(now_ms)
        body["orderEvents"] = (
            self._apply_edit(acc, order, edited, now_ms) if order and edited else []
        )
        self._flush(now_ms)
        return body

    def _edit_status(
        self, acc: Account, order: Order | None, request: EditRequest, now: int
    ) -> tuple[str, Order | None]:
        """The edit's status and, when it is accepted, the order as it would become."""
        if request.process_before_ms is not None and now > request.process_before_ms:
            return "wouldProcessAfterSpecifiedTime", None
        if order is None:
            return "orderForEditNotFound", None
        spec = self.known_spec(order.symbol)
        if order.order_type == "trailing_stop" and order.is_trigger:
            if request.stop_price is not None:
                return "cannotEditTriggerPriceOfTrailingStop", None
            if request.limit_price is not None:
                return "cannotEditLimitPriceOfTrailingStop", None
        if request.stop_price is not None and not order.is_trigger:
            return "orderForEditNotAStop", None
        edited = replace(order)
        if request.size is not None:
            quantity = request.size + (order.filled if request.qty_mode == "RELATIVE" else 0.0)
            if (
                request.size <= 0
                or not _on_grid(request.size, spec.size_step)
                or quantity <= order.filled
            ):
                return "invalidSize", None
            edited.quantity = margin.round_size(spec, quantity)
        for price in (request.limit_price, request.stop_price):
            if price is not None and (price <= 0 or not _on_grid(price, spec.tick_size)):
                return "invalidPrice", None
        if request.limit_price is not None:
            edited.limit_price = request.limit_price
        if request.stop_price is not None:
            edited.stop_price = request.stop_price
        if request.trailing_deviation is not None and order.order_type == "trailing_stop":
            edited.trailing_deviation = request.trailing_deviation
            edited.trailing_unit = request.trailing_unit or order.trailing_unit
            edited.trail_extreme = self._signal_price(
                order.symbol, order.trigger_signal or "mark", now
            )
            edited.stop_price = self._trailing_stop(edited, spec)
        status = self._edit_risk(acc, order, edited, spec, now)
        return (status, None) if status else ("edited", edited)

    def _edit_risk(
        self, acc: Account, order: Order, edited: Order, spec: InstrumentSpec, now: int
    ) -> str | None:
        mark = self.market.mark_price(spec.symbol, now)
        if (
            edited.effective_type in LIMIT_TYPES
            and edited.limit_price is not None
            and not edited.is_trigger
        ):
            if edited.sign * (edited.limit_price / mark - 1) > PRICE_COLLAR:
                return "outsidePriceCollar"
        if edited.reduce_only and edited.unfilled > abs(self._size(acc, spec.symbol)):
            return "wouldNotReducePosition"
        if not edited.reduce_only and not edited.is_trigger:
            _, before = self._wallet_need(acc, spec.margin_account, now, None)
            acc.open_orders[order.order_id] = edited
            try:
                equity, after = self._wallet_need(acc, spec.margin_account, now, None)
            finally:
                acc.open_orders[order.order_id] = order
            if after > equity and after > before:
                return "insufficientAvailableFunds"
        if edited.is_trigger or edited.limit_price is None:
            return None
        bids, asks = self.market.book(spec.symbol, now)
        levels = asks if edited.side == "buy" else bids
        crosses = bool(levels) and edited.sign * (levels[0][0] - edited.limit_price) <= 0
        if edited.order_type == "post" and crosses:
            return "postWouldExecute"
        if self._self_cross(acc, edited, self._taking(edited, spec, levels, edited.limit_price)):
            return "selfFill"
        return None

    def _apply_edit(
        self, acc: Account, order: Order, edited: Order, now: int
    ) -> list[dict[str, Any]]:
        spec = self.known_spec(order.symbol)
        old_body = order.v3_event_body()[1]
        old_history = (
            order.history(acc.uid)
            if not order.is_trigger
            else order.history_trigger(acc.uid, acc.number)
        )
        for name in (
            "quantity",
            "limit_price",
            "stop_price",
            "trailing_deviation",
            "trailing_unit",
            "trail_extreme",
        ):
            setattr(order, name, getattr(edited, name))
        order.updated_ms = now
        order.update_reason = "EDITED_BY_USER"
        _, new_body = order.v3_event_body()
        if order.is_trigger:
            body = {
                "OrderTriggerUpdated": {
                    "oldOrderTrigger": old_history,
                    "newOrderTrigger": order.history_trigger(acc.uid, acc.number),
                    "reason": "edited_by_user",
                }
            }
            acc.add_history("triggers", self._uuid(), now, order.symbol, body)
        else:
            self._record_order_update(acc, order, now, "EDITED_BY_USER", old=old_history)
        self._emit_order(acc, order, "EDITED_BY_USER")
        events: list[dict[str, Any]] = [{"type": "EDIT", "old": old_body, "new": new_body}]
        self._dirty.add(acc.account_id)
        repriced = order.limit_price != old_body.get("limitPrice")
        # Only a new limit price can make the order cross: a remainder left resting
        # at a crossing price (the market's book is not depleted by our fills) stays put.
        if (
            repriced
            and not order.is_trigger
            and order.effective_type == "lmt"
            and order.limit_price
        ):
            bids, asks = self.market.book(spec.symbol, now)
            taking = self._taking(
                order, spec, asks if order.side == "buy" else bids, order.limit_price
            )
            events += [
                self._fill(acc, order, spec, qty, price, now, "takerAfterEdit")
                for price, qty in taking.walk
            ]
        return events

    def cancel_order(
        self,
        account_id: str,
        order_id: str | None,
        cli_ord_id: str | None,
        now_ms: int,
        *,
        process_before_ms: int | None = None,
    ) -> dict[str, Any]:
        """Cancel one order; the ``cancelStatus`` of ``POST /cancelorder``.

        Status ``cancelled``, ``filled`` (it filled before the cancel arrived),
        ``notFound`` (unknown, or already cancelled) or
        ``wouldProcessAfterSpecifiedTime``.
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        order = acc.find_order(order_id, cli_ord_id)
        events: list[dict[str, Any]] = []
        if process_before_ms is not None and now_ms > process_before_ms:
            status = "wouldProcessAfterSpecifiedTime"
        elif order is not None and order.is_open:
            status = "cancelled"
            events.append(self._cancel(acc, order, now_ms, "CANCELLED_BY_USER"))
        else:
            status = "filled" if order is not None and order.status == "filled" else "notFound"
        body: dict[str, Any] = {"status": status}
        if order is not None or order_id:
            body["order_id"] = order.order_id if order is not None else order_id
        if (order and order.cli_ord_id) or cli_ord_id:
            body["cliOrdId"] = order.cli_ord_id if order and order.cli_ord_id else cli_ord_id
        body |= {"receivedTime": iso(now_ms), "orderEvents": events}
        self._flush(now_ms)
        return body

    def cancel_all(self, account_id: str, symbol: str | None, now_ms: int) -> dict[str, Any]:
        """Cancel every open order (of ``symbol`` if given); the ``cancelallorders`` answer."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        wanted = symbol.upper() if symbol else None
        chosen = sorted(
            (o for o in acc.open_orders.values() if wanted is None or o.symbol == wanted),
            key=lambda o: o.seq,
        )
        events = [self._cancel(acc, order, now_ms, "CANCELLED_BY_USER") for order in chosen]
        cancelled = [
            {"order_id": o.order_id} | ({"cliOrdId": o.cli_ord_id} if o.cli_ord_id else {})
            for o in chosen
        ]
        self._flush(now_ms)
        return {
            "receivedTime": iso(now_ms),
            "cancelOnly": wanted or "all",
            "status": "cancelled" if chosen else "noOrdersToCancel",
            "cancelledOrders": cancelled,
            "orderEvents": events,
        }

    def cancel_all_after(self, account_id: str, timeout_s: int, now_ms: int) -> dict[str, Any]:
        """Arm (``timeout_s`` > 0) or disarm (0) the dead man's switch; the ``status`` payload."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        acc.dms_trigger_ms = now_ms + timeout_s * 1000 if timeout_s > 0 else None
        trigger = iso(acc.dms_trigger_ms) if acc.dms_trigger_ms is not None else "0"
        return {"currentTime": iso(now_ms), "triggerTime": trigger}

    # ------------------------------------------------------------ preferences

    def set_max_leverage(
        self, account_id: str, symbol: str, max_leverage: float | None, now_ms: int
    ) -> int | None:
        """Make ``symbol`` isolated at ``max_leverage`` (or cross with None).

        Returns the exchange's numeric error code instead of applying the
        change (reference §4.21): 87 no such contract, 88 not a
        multi-collateral contract, 41 the change would leave the flex wallet
        below its initial margin.
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        spec = self.spec(symbol, now_ms)
        if spec is None:
            return 87
        if spec.is_inverse:
            return 88
        previous = acc.leverage.get(spec.symbol)
        if max_leverage is None:
            acc.leverage.pop(spec.symbol, None)
        else:
            acc.leverage[spec.symbol] = max_leverage
        flex = self.flex_summary(acc, now_ms)
        if spec.symbol in acc.positions and flex.margin_equity < flex.initial_margin:
            if previous is None:
                acc.leverage.pop(spec.symbol, None)
            else:
                acc.leverage[spec.symbol] = previous
            return 41
        self._dirty.add(acc.account_id)
        self._flush(now_ms)
        return None

    def set_pnl_currency(
        self, account_id: str, symbol: str, currency: str, now_ms: int
    ) -> int | None:
        """Record the currency ``symbol``'s profits are to be realised in; an error code or None.

        The preference is stored and reported; realised PnL stays in USD (the
        conversion into another collateral is not simulated).
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        spec = self.spec(symbol, now_ms)
        if spec is None:
            return 87
        if spec.is_inverse:
            return 88
        code = currency.upper()
        if code not in PNL_CURRENCIES:
            return 89
        acc.pnl_currency[spec.symbol] = code
        return None

    # --------------------------------------------------------------- valuation

    def _symbol_risk(
        self, acc: Account, spec: InstrumentSpec, now: int, extra: Order | None
    ) -> PositionRisk:
        position = acc.positions.get(spec.symbol)
        resting = [o for o in acc.open_orders.values() if o.symbol == spec.symbol]
        if (
            extra is not None
            and extra.symbol == spec.symbol
            and extra.order_id not in acc.open_orders
        ):
            resting.append(extra)
        counted = [o for o in resting if not o.is_trigger and not o.reduce_only]
        leverage = acc.leverage.get(spec.symbol)
        return margin.position_risk(
            spec,
            position.size if position else 0.0,
            position.entry if position else 0.0,
            self.market.mark_price(spec.symbol, now),
            position.unrealized_funding if position else 0.0,
            open_buys=math.fsum(o.unfilled for o in counted if o.side == "buy"),
            open_sells=math.fsum(o.unfilled for o in counted if o.side == "sell"),
            max_leverage=leverage if not spec.is_inverse else None,
        )

    def _wallet_risks(
        self, acc: Account, wallet: str, now: int, extra: Order | None
    ) -> list[PositionRisk]:
        symbols = self._active_symbols(acc) | ({extra.symbol} if extra is not None else set())
        specs = [self.known_spec(s) for s in sorted(symbols)]
        return [
            self._symbol_risk(acc, spec, now, extra)
            for spec in specs
            if spec.margin_account == wallet
        ]

    def flex_summary(self, acc: Account, now_ms: int, *, extra: Order | None = None) -> FlexSummary:
        """The multi-collateral wallet valued at ``now_ms`` (``extra``: count one more order)."""
        balances = acc.wallets.get("flex", {})
        values = {
            code: 1.0 if code == "USD" else self.market.usd_value(code, now_ms) for code in balances
        }
        return margin.flex_summary(
            balances, values, HAIRCUTS, self._wallet_risks(acc, "flex", now_ms, extra)
        )

    def wallet_summary(
        self, acc: Account, wallet: str, now_ms: int, *, extra: Order | None = None
    ) -> WalletSummary:
        """A single-collateral wallet (``fi_xbtusd`` …) valued at ``now_ms`` in its coin."""
        balances = acc.wallets.get(wallet, {})
        currency = next(iter(balances), wallet[3:6].upper())
        return margin.wallet_summary(
            currency, balances.get(currency, 0.0), self._wallet_risks(acc, wallet, now_ms, extra)
        )

    def position_risks(self, acc: Account, now_ms: int) -> list[PositionRisk]:
        """Every open position valued at ``now_ms``, newest fill first."""
        ordered = sorted(acc.positions.values(), key=lambda p: (-p.fill_time_ms, p.symbol))
        return [self._symbol_risk(acc, self.known_spec(p.symbol), now_ms, None) for p in ordered]

    # -------------------------------------------------------------- listings

    def open_orders(self, account_id: str, now_ms: int) -> list[Order]:
        """Open orders, newest first."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        return sorted(acc.open_orders.values(), key=lambda o: (-o.received_ms, -o.seq))

    def fills(
        self, account_id: str, now_ms: int, *, before_ms: int | None = None, limit: int = 100
    ) -> list[Fill]:
        """The latest ``limit`` fills (strictly before ``before_ms`` if given), newest first."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        chosen = [f for f in acc.fills if before_ms is None or f.time_ms < before_ms]
        return list(reversed(chosen))[:limit]

    def order_statuses(
        self, account_id: str, order_ids: Iterable[str], cli_ord_ids: Iterable[str], now_ms: int
    ) -> list[dict[str, Any]]:
        """``orders/status`` rows: open orders or ones closed in the last 5 s, by (client) id."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        found = [acc.find_order(i, None) for i in order_ids] + [
            acc.find_order(None, c) for c in cli_ord_ids
        ]
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for order in found:
            if order is None or order.order_id in seen:
                continue
            seen.add(order.order_id)
            if order.is_open or (
                order.closed_ms is not None and now_ms - order.closed_ms <= STATUS_WINDOW_MS
            ):
                rows.append(order.status_entry())
        return rows

    def transfer(
        self,
        account_id: str,
        source: str,
        target: str,
        unit: str,
        amount: float,
        now_ms: int,
    ) -> str | None:
        """Move ``amount`` of ``unit`` between two of the account's wallets.

        Returns None when done, else the exchange's error string:
        ``invalidAmount``, ``invalidAccount``, ``invalidUnit`` or
        ``insufficientFunds`` (the source lacks the amount, or would fall
        below its initial margin). Both legs go to the account log as
        ``transfer`` entries.
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        source, target, unit = source.lower(), target.lower(), unit.upper()
        if not amount > 0 or amount == float("inf"):
            return "invalidAmount"
        if source == target or source not in acc.wallets or target not in acc.wallets:
            return "invalidAccount"
        for wallet in (source, target):
            if wallet.startswith("fi_") and unit != wallet[3:6].upper():
                return "invalidUnit"  # a single-collateral wallet holds its coin only
        try:
            self.market.usd_value(unit, now_ms)
        except (KeyError, ValueError):
            return "invalidUnit"
        if acc.balance(source, unit) < amount:
            return "insufficientFunds"
        old_source = acc.credit(source, unit, -amount)[0]
        if not self._margin_kept(acc, source, now_ms):
            acc.wallets[source][unit] = old_source
            return "insufficientFunds"
        old_target, new_target = acc.credit(target, unit, amount)
        for wallet, old, new in (
            (source, old_source, old_source - amount),
            (target, old_target, new_target),
        ):
            acc.add_log(
                booking_uid=self._uuid(),
                date_ms=now_ms,
                asset=unit.lower(),
                info="transfer",
                margin_account=wallet,
                old_balance=old,
                new_balance=new,
            )
        self._dirty.add(acc.account_id)
        return None

    def _margin_kept(self, acc: Account, wallet: str, now_ms: int) -> bool:
        """Whether a margin wallet still covers its initial margin (cash has none)."""
        if wallet == "cash":
            return True
        equity, need = self._wallet_need(acc, wallet, now_ms, None)
        return need <= equity

    def fee_volumes(self, account_id: str, now_ms: int) -> dict[str, float]:
        """30-day traded USD notional per fee schedule uid (fills in ``(now - 30 d, now]``)."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        return self._volumes(acc, now_ms + 1)

    def _volumes(self, acc: Account, end_ms: int) -> dict[str, float]:
        """USD notional traded per fee schedule in the 30 days before ``end_ms`` (excluded)."""
        parts: dict[str, list[float]] = {}
        for fill in reversed(acc.fills):  # fills are kept in time order: stop at the window
            if fill.time_ms <= end_ms - 1 - FEE_WINDOW_MS:
                break
            if fill.time_ms < end_ms:
                spec = self.known_spec(fill.symbol)
                parts.setdefault(spec.fee_schedule_uid, []).append(
                    margin.notional_usd(spec, fill.quantity, fill.price)
                )
        return {uid: math.fsum(values) for uid, values in parts.items()}

    def fee_tier(self, acc: Account, schedule_uid: str, now_ms: int) -> margin.FeeTier:
        """The account's fee tier at ``now_ms``: its 30-day volume on the schedule before
        ``now_ms``, so every fill of one instant (a market order walking the book) pays
        the same rates."""
        volume = self._volumes(acc, now_ms).get(schedule_uid, 0.0)
        return margin.fee_tier(volume, FEE_TIERS)

    def history(
        self,
        account_id: str,
        kind: str,
        now_ms: int,
        *,
        since: int | None = None,
        before: int | None = None,
        sort: str = "desc",
        count: int = 500,
        token: str | None = None,
        tradeable: str | None = None,
        filters: dict[str, bool] | None = None,
    ) -> dict[str, Any]:
        """A page of ``executions``/``orders``/``triggers``/``positions`` history (no envelope).

        ``filters`` holds the boolean query flags (``opened``, ``closed``, and
        for positions the change and reason flags). For orders and triggers,
        ``true`` flags select, ``false`` flags exclude; for positions, true
        flags select within their group and both groups must match
        (reference §4.25); false flags have no effect there.
        """
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        keep = history_bodies.history_filter(kind, tradeable, filters or {})
        page, following = page_history(
            acc.history[kind],
            since=since,
            before=before,
            sort=sort,
            count=count,
            token=token,
            keep=keep,
        )
        elements = [item.body if kind == "positions" else item.element() for item in page]
        body: dict[str, Any] = {
            "accountUid": acc.uid,
            "len": str(len(elements)),
            "serverTime": iso(now_ms),
            "elements": elements,
        }
        if following is not None:
            body["continuationToken"] = following
        return body

    def account_log(
        self,
        account_id: str,
        now_ms: int,
        *,
        since: int | None = None,
        before: int | None = None,
        from_id: int | None = None,
        to_id: int | None = None,
        info: str | None = None,
        sort: str = "desc",
        count: int = 500,
    ) -> dict[str, Any]:
        """``{accountUid, logs}`` of ``GET /api/history/v3/account-log``."""
        self.advance(now_ms)
        acc = self.account(account_id, now_ms)
        rows = select_log(
            acc.log,
            since=since,
            before=before,
            first_id=from_id,
            last_id=to_id,
            info=info,
            sort=sort,
            count=count,
        )
        return {"accountUid": acc.uid, "logs": [row.json() for row in rows]}

    # ------------------------------------------------------ WebSocket events

    def _emit(self, acc: Account, feed: str, message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(feed, acc.account_id, message)

    def _emit_order(self, acc: Account, order: Order, reason: str) -> None:
        if self.listeners:
            self._emit(acc, "open_orders", private_feeds.order_message(order, reason))

    def _flush(self, now_ms: int) -> None:
        """Send position and balance snapshots of accounts that changed."""
        dirty, self._dirty = self._dirty, set()
        if not self.listeners:
            return
        for account_id in sorted(dirty):
            acc = self.accounts[account_id]
            positions = self.ws_snapshot("open_positions", account_id, now_ms)
            self._emit(acc, "open_positions", positions)
            balances = self.ws_snapshot("balances", account_id, now_ms) | {"feed": "balances"}
            self._emit(acc, "balances", balances)

    def ws_snapshot(self, feed: str, account_id: str, now_ms: int) -> dict[str, Any]:
        """The first message of a private feed (reference §3.5): ``fills``, ``open_orders``,
        ``open_orders_verbose``, ``open_positions`` or ``balances``.

        Raises
        ------
        KeyError
            For a feed the engine does not serve.
        """
        return private_feeds.snapshot(self, feed, self.account(account_id, now_ms), now_ms)
