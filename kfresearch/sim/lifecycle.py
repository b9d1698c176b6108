"""The order lifecycle in time: resting fills, triggers, funding, settlement, dead man's switches.

Time only moves through :meth:`Lifecycle.advance`, in chronological steps of
at most one minute (split at funding hours, settlements and dead man's
switch deadlines), and only symbols with open orders or positions are looked
at. At each step ``(t0, t1]``:

1. funding accrues on perpetual positions for the step;
2. resting limit orders fill as maker at their limit when the market's trades
   went through them (``extremes(symbol, "last", t0, t1)``);
3. stop / take-profit / trailing-stop orders fire on their signal and execute
   against the book at the step's end;
4. at an hour boundary accrued funding is realised into the wallet;
5. dated contracts settle at their last trading time at the index price;
6. margin pools whose equity fell below their maintenance margin are
   liquidated (:mod:`kfresearch.sim.liquidation`);
7. dead man's switches whose deadline passed cancel every order.

Everything done at a step is stamped with the step's end time. Amounts are
in the settlement currency, prices USD, times epoch milliseconds.

A step where nothing happens is cheap (a backtest takes one per bar): an
account without orders costs no order scan; resting orders are looked at
only in symbols where the step's trades reached the account's best bid or
ask (:meth:`~kfresearch.sim.openbook.OpenBook.best`), triggers only when
some wait; liquidation reads one mark per pool while the account is
unchanged (:mod:`kfresearch.sim.liquidation`); funding is realised only at
the hour. Skipping changes no answer.

Quiet minutes are taken at once: while no account has an open order or an
armed dead man's switch, and every account holding positions is inside its
liquidation bands (:meth:`Liquidator.quiet_bands`), a step only accrues
funding, so the minutes up to the next hour, expiry, or the first minute
end whose mark leaves a band (read in one go where the source can,
``mark_prices``) accrue it in a tight loop, with the same float additions
in the same order, and each position is written once. :meth:`Lifecycle.quiet_until`
tells a caller how far that goes (a backtest advances the engine only then).
"""

from __future__ import annotations

from collections.abc import Callable

from kfresearch.sim import margin
from kfresearch.sim.accounts import Account, LogEntry, Position
from kfresearch.sim.events import Events
from kfresearch.sim.formats import dec
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.ledger import Ledger
from kfresearch.sim.liquidation import Liquidator
from kfresearch.sim.margin import HOUR_MS
from kfresearch.sim.matching import ORDER_ERRORS, Matcher
from kfresearch.sim.orders import Order
from kfresearch.sim.prices import MINUTE_MS, Prices
from kfresearch.sim.source import Signal
from kfresearch.sim.ticks import round_price, trailing_stop_price
from kfresearch.sim.valuation import Valuation

__all__ = ["MINUTE_MS", "Lifecycle"]

_SIGNALS: dict[str, Signal] = {"mark": "mark", "index": "index", "last": "last"}
Extremes = Callable[[str, Signal], tuple[float, float] | None]
# a scan of the marks: (from time, bands (symbol, low, high), the minute ends' limit, quiet ends)
_Scan = tuple[int, list[tuple[str, float, float]], int, int]


def _by_seq(order: Order) -> int:
    return order.seq


class Lifecycle:
    """Brings every account forward in time (see the module docstring)."""

    # quiet minutes are taken at once (_quiet_minutes); False steps every minute in full,
    # the reference the tests compare against
    spans = True

    def __init__(
        self,
        prices: Prices,
        ledger: Ledger,
        events: Events,
        valuation: Valuation,
        matcher: Matcher,
    ) -> None:
        self.prices = prices
        self.ledger = ledger
        self.events = events
        self.valuation = valuation
        self.matcher = matcher
        self.liquidator = Liquidator(prices, ledger, valuation, matcher)
        # the last scan of the marks (_quiet_minutes): (t, bands, limit, quiet).
        # quiet_until and the advance that follows it ask for the same minutes.
        self._scanned: _Scan = (-1, [], 0, 0)

    def advance(self, now_ms: int) -> bool:
        """Bring every account up to ``now_ms``; False on the first call (nothing to catch up)."""
        self.prices.moved_to(now_ms)
        if self.ledger.advanced_ms is None:
            self.ledger.set_advanced(now_ms)
            return False
        t = self.ledger.advanced_ms
        while t < now_ms:
            if not self._anything_active():
                self._fire_dead_man_switches(now_ms)
                break
            if self.spans:
                first, quiet = self._quiet_minutes(t, now_ms)
                if quiet:
                    t = self._accrue_quiet(t, first, quiet)
                    if t >= now_ms:
                        break
            t1 = min(now_ms, (t // MINUTE_MS + 1) * MINUTE_MS, self._next_deadline(t, now_ms))
            self._step(t, t1)
            t = t1
        self.ledger.set_advanced(max(self.ledger.advanced_ms, now_ms))
        return True

    def quiet_until(self, horizon_ms: int) -> int:
        """The first time ``<= horizon_ms`` at which :meth:`advance` could change more than
        the funding accrued on positions: a fill, an order, a log entry, a liquidation, a
        realised funding, a settlement, a switch firing (epoch ms).

        The end of the first step from the advanced time that is not quiet (see
        :meth:`_quiet_minutes`): the next minute while an order is open or a dead
        man's switch armed; with positions only, the next hour (funding is
        realised), the minute a mark leaves its band (liquidation is checked in
        full) or the next expiry, whichever comes first; ``horizon_ms`` when
        nothing is held. It reads the marks up to ``horizon_ms``: a caller that
        knows the future (a replay) moves its clock there without advancing,
        and advancing then gives the same answers as advancing minute by minute.

        >>> lifecycle.quiet_until(horizon_ms)                # doctest: +SKIP
        1759280400000
        """
        t = self.ledger.advanced_ms
        if t is None or t >= horizon_ms:
            return horizon_ms
        if any(acc.dms_trigger_ms is not None for acc in self.ledger.accounts.values()):
            return min(horizon_ms, (t // MINUTE_MS + 1) * MINUTE_MS)
        if not self._anything_active():
            return horizon_ms
        first, quiet = self._quiet_minutes(t, horizon_ms)
        if quiet:
            t = first + (quiet - 1) * MINUTE_MS
        return min(horizon_ms, (t // MINUTE_MS + 1) * MINUTE_MS, self._next_deadline(t, horizon_ms))

    def _anything_active(self) -> bool:
        return any(acc.open_orders or acc.positions for acc in self.ledger.accounts.values())

    def _quiet_minutes(self, t: int, now_ms: int) -> tuple[int, int]:
        """The whole-minute step ends ahead of ``t`` where a step would only accrue funding.

        Returns ``(first, n)``: of the minute ends in ``(t, now_ms]`` before the
        next hour boundary and before any dead man's switch or expiry, the
        first (epoch ms) and how many of them, from the first, are quiet. A step ending there is
        quiet when no account has an open order and every account holding
        positions is quiet in the liquidator (:meth:`Liquidator.quiet_bands`)
        with each band's mark inside it at the step's end: nothing is then
        filled, triggered, realised, settled, liquidated or fired, and only
        the positions' funding accrues. ``n`` is 0 when the next step is not quiet,
        or when there is one step at most (one step is as quick in full).
        """
        first = (t // MINUTE_MS + 1) * MINUTE_MS
        limit = min(now_ms + 1, (t // HOUR_MS + 1) * HOUR_MS)  # ends are < limit
        if limit - first <= MINUTE_MS:
            return first, 0  # one step at most: _step is as quick
        hour = t // HOUR_MS
        known_spec = self.prices.known_spec
        bands: list[tuple[str, float, float]] = []
        for acc in self.ledger.accounts.values():
            if acc.open_orders:
                return first, 0
            switch = acc.dms_trigger_ms
            if switch is not None:
                if switch <= t:
                    return first, 0
                limit = min(limit, switch)
            if not acc.positions:
                continue
            held = self.liquidator.quiet_bands(acc, hour)
            if held is None:
                return first, 0
            bands += held
            for symbol in acc.positions:
                expiry = known_spec(symbol).last_trading_time_ms
                if expiry is not None:
                    if expiry <= t:
                        return first, 0
                    limit = min(limit, expiry)
        if first >= limit:
            return first, 0
        n = (limit - first + MINUTE_MS - 1) // MINUTE_MS  # the ends first, +1 min, ... < limit
        seen_t, seen_bands, seen_limit, seen_quiet = self._scanned
        if seen_t == t and limit <= seen_limit and seen_bands == bands:
            # the same minutes from the same time with the same bands: a prefix of the last
            # scan, whose first mark outside a band is the last scan's or none (marks of
            # a time do not change: the same numbers)
            return first, min(seen_quiet, n)
        quiet = n
        for symbol, low, high in bands:
            quiet = self.prices.first_minute_outside(symbol, low, high, first, quiet)
            if not quiet:
                break
        self._scanned = (t, bands, limit, quiet)
        return first, quiet

    def _accrue_quiet(self, t: int, first: int, quiet: int) -> int:
        """Take the ``quiet`` steps from ``t`` to the minute ends ``first``, ``first + 1 min``,
        ... at once; the time reached.

        Funding accrues exactly as :meth:`_accrue_funding` would have added it
        step by step (the same float additions, in the same order, of the same
        hour's rate); each position is written once, at the end.
        """
        hour = (t // HOUR_MS) * HOUR_MS
        head = first - t  # the first step is short when t is not on a minute
        for acc in self.ledger.accounts.values():
            for position in acc.positions.values():
                if self.prices.known_spec(position.symbol).is_perpetual:
                    rate = self.prices.funding_rate(position.symbol, hour)
                    accrued = position.funding_accrued
                    accrued += margin.funding_accrual(position.size, rate, head)
                    minute = margin.funding_accrual(position.size, rate, MINUTE_MS)
                    for _ in range(quiet - 1):
                        accrued += minute
                    position.funding_accrued = accrued
                    self.ledger.put_position(acc, position)
        return first + (quiet - 1) * MINUTE_MS

    def _next_deadline(self, t: int, horizon: int) -> int:
        """The earliest dead man's switch or settlement in ``(t, horizon]`` (steps end there)."""
        deadline = horizon
        known_spec = self.prices.known_spec
        for acc in self.ledger.accounts.values():
            if acc.dms_trigger_ms is not None and t < acc.dms_trigger_ms < deadline:
                deadline = acc.dms_trigger_ms
            for symbols in (acc.positions, acc.book.symbol_counts):
                for symbol in symbols:
                    expiry = known_spec(symbol).last_trading_time_ms
                    if expiry is not None and t < expiry < deadline:
                        deadline = expiry
        return deadline

    def _step(self, t0: int, t1: int) -> None:
        self._accrue_funding(t0, t1)
        cache: dict[tuple[str, str], tuple[float, float] | None] = {}

        def extremes(symbol: str, signal: Signal) -> tuple[float, float] | None:
            if (symbol, signal) not in cache:
                cache[symbol, signal] = self.prices.extremes(symbol, signal, t0, t1)
            return cache[symbol, signal]

        for acc in list(self.ledger.accounts.values()):
            if acc.open_orders:
                self._step_orders(acc, extremes, t0, t1)
        if t1 % HOUR_MS == 0:
            self._realise_funding(t1)
        self._settle_expired(t1)
        self.liquidator.liquidate_underwater(t1)
        self._fire_dead_man_switches(t1)

    def _step_orders(self, acc: Account, extremes: Extremes, t0: int, t1: int) -> None:
        """Fill the account's reached resting orders, then fire its triggers, oldest first.

        Only the orders of symbols where something can happen are looked at:
        resting orders where the step's trades reached the account's best
        bid or ask (every symbol when the source models queues), triggers
        where any wait. What is skipped would have been left as it was.
        """
        book = acc.book
        reached: set[str] = set()
        for symbol in book.symbol_counts:
            bid, ask = book.best(symbol, "buy"), book.best(symbol, "sell")
            if bid is None and ask is None:
                continue
            if self.prices.models_queue:
                reached.add(symbol)
                continue
            seen = extremes(symbol, "last")
            if seen is not None and (
                (bid is not None and seen[0] <= bid) or (ask is not None and seen[1] >= ask)
            ):
                reached.add(symbol)
        if reached:
            for order in sorted(
                (o for o in acc.open_orders.values() if o.symbol in reached), key=_by_seq
            ):
                if order.is_open and not order.is_trigger:
                    self._maybe_fill_resting(acc, order, extremes, t0, t1)
        if book.waiting:
            for order in sorted(acc.open_orders.values(), key=_by_seq):
                if order.is_open and order.is_trigger:
                    self._maybe_trigger(acc, order, extremes, t1)

    # ------------------------------------------------------------------- funding

    def _accrue_funding(self, t0: int, t1: int) -> None:
        hour = (t0 // HOUR_MS) * HOUR_MS
        for acc in self.ledger.accounts.values():
            for position in acc.positions.values():
                if self.prices.known_spec(position.symbol).is_perpetual:
                    rate = self.prices.funding_rate(position.symbol, hour)
                    position.funding_accrued += margin.funding_accrual(position.size, rate, t1 - t0)
                    self.ledger.put_position(acc, position)

    def _realise_funding(self, t: int) -> None:
        """Pay each perpetual position's funding of the hour ending at ``t`` into its wallet."""
        for acc in self.ledger.accounts.values():
            for position in acc.positions.values():
                spec = self.prices.known_spec(position.symbol)
                amount = position.unrealized_funding
                if not spec.is_perpetual or amount == 0:
                    continue
                position.funding_accrued = 0.0
                self.ledger.put_position(acc, position)
                rate = self.prices.funding_rate(position.symbol, t - HOUR_MS)
                old, new = self.ledger.credit(
                    acc, spec.margin_account, spec.settlement_currency, amount
                )
                self.ledger.add_log(
                    acc,
                    LogEntry(
                        booking_uid=self.ledger.new_uid(),
                        date_ms=t,
                        asset=spec.settlement_currency.lower(),
                        info="funding rate change",
                        margin_account=spec.margin_account,
                        old_balance=old,
                        new_balance=new,
                        contract=spec.symbol,
                        collateral=spec.settlement_currency,
                        funding_rate=rate,
                        mark_price=self.prices.mark(spec.symbol, t),
                        realized_funding=amount,
                    ),
                )
                self.matcher.record_position(
                    acc,
                    spec,
                    t,
                    old=(position.size, position.entry),
                    new=(position.size, position.entry),
                    change="noChange",
                    reason="fundingRealisation",
                    extra={"fundingRealizationTime": t, "realizedFunding": dec(amount)},
                )
                self.events.touch(acc.account_id)

    # ---------------------------------------------------------- resting / triggers

    def _maybe_fill_resting(
        self, acc: Account, order: Order, extremes: Extremes, t0: int, t: int
    ) -> None:
        """Fill a resting limit as maker at its price when public trades reached it.

        A source that models queues (:attr:`Prices.models_queue`) fills
        conservatively: the whole order on a trade strictly through the
        price, else only the volume traded at the price beyond the order's
        place in the queue. Otherwise a trade at or through the price fills
        the whole order.
        """
        limit = order.limit_price
        if limit is None:
            return
        if self.prices.models_queue:
            quantity = self._queue_fill(acc, order, limit, t0, t)
        else:
            seen = extremes(order.symbol, "last")
            reached = seen is not None and (
                (order.side == "buy" and seen[0] <= limit)
                or (order.side == "sell" and seen[1] >= limit)
            )
            quantity = order.unfilled if reached else 0.0
        if quantity > 0:
            spec = self.prices.known_spec(order.symbol)
            if order.reduce_only:
                self.matcher.clip_reduce_only(acc, order)
                if order.unfilled <= 0 or acc.position_size(order.symbol) * order.sign >= 0:
                    self.matcher.close(acc, order, t, "cancelled", "WOULD_NOT_REDUCE_POSITION")
                    return
            quantity = min(quantity, order.unfilled)
            self.matcher.fill(acc, order, spec, quantity, limit, t, "maker")

    def _queue_fill(self, acc: Account, order: Order, limit: float, t0: int, t1: int) -> float:
        """Contracts of a queued resting order that the trades of ``(t0, t1]`` fill."""
        trades = self.prices.trades(order.symbol, t0, t1)
        if not len(trades):
            return 0.0
        through = trades.price < limit if order.side == "buy" else trades.price > limit
        if through.any():
            return order.unfilled
        tick = self.prices.known_spec(order.symbol).tick_size
        at_price = float(trades.size[abs(trades.price - limit) < tick / 2].sum())
        if at_price <= 0:
            return 0.0
        ahead = order.queue_ahead or 0.0
        order.queue_ahead = max(ahead - at_price, 0.0)
        self.ledger.put_order(acc, order)
        return max(at_price - ahead, 0.0)

    def _maybe_trigger(self, acc: Account, order: Order, extremes: Extremes, t: int) -> None:
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
                order.stop_price = trailing_stop_price(order, self.prices.known_spec(order.symbol))
                self.ledger.put_order(acc, order)

    def _activate(self, acc: Account, order: Order, t: int) -> None:
        """Turn a fired trigger into a limit (or market) order and execute it at ``t``."""
        spec = self.prices.known_spec(order.symbol)
        body = {"OrderTriggerActivated": {"order": order.history_trigger(acc.uid, acc.number)}}
        self.ledger.record(acc, t, order.symbol, ("triggers", body, {"closed"}))
        order.triggered, order.triggered_ms, order.updated_ms = True, t, t
        order.update_reason = "STOP_ORDER_TRIGGERED"
        if order.offset_unit is not None and order.stop_price is not None:
            offset = order.offset_value or 0.0
            raw = (
                order.stop_price * (1 + offset / 100)
                if order.offset_unit == "PERCENT"
                else order.stop_price + offset
            )
            order.limit_price = round_price(spec, raw, down=order.side == "buy")
        self.ledger.put_order(acc, order)
        self.ledger.unbook_order(acc, order.order_id)
        status = (
            "wouldNotReducePosition"
            if order.reduce_only and acc.position_size(order.symbol) * order.sign >= 0
            else None
        )
        if status is None:
            self.matcher.clip_reduce_only(acc, order)
            if not order.reduce_only and not self.valuation.margin_allows(acc, spec, t, order):
                status = "insufficientAvailableFunds"
        if status is None:
            status, _ = self.matcher.execute(acc, order, spec, t, fill_type="taker", reduced=None)
        if status is not None:
            order.error = ORDER_ERRORS.get(status, status)
            self.matcher.close(acc, order, t, "cancelled", order.error)

    # ------------------------------------------------------ settlement / dead man's switch

    def _settle_expired(self, t: int) -> None:
        """Close positions in dated contracts whose last trading time is ``t``, at the index."""
        known_spec = self.prices.known_spec
        for acc in self.ledger.accounts.values():
            expired = [
                symbol
                for symbols in (acc.positions, acc.book.symbol_counts)
                for symbol in symbols
                if (expiry := known_spec(symbol).last_trading_time_ms) is not None and expiry <= t
            ]
            for symbol in sorted(set(expired)):
                spec = known_spec(symbol)
                for order in [o for o in acc.open_orders.values() if o.symbol == symbol]:
                    # Not from the reference: the update reason of orders of an expired contract.
                    self.matcher.close(acc, order, t, "cancelled", "CONTRACT_EXPIRED")
                position = self.ledger.drop_position(acc, symbol)
                if position is not None:
                    self._settle(acc, spec, position, t)

    def _settle(self, acc: Account, spec: InstrumentSpec, position: Position, t: int) -> None:
        price = self.prices.index(spec.symbol, t)
        pnl = (
            margin.unrealized_pnl(spec, position.size, position.entry, price)
            + position.unrealized_funding
        )
        old, new = self.ledger.credit(acc, spec.margin_account, spec.settlement_currency, pnl)
        booking = self.ledger.new_uid()
        mark = self.prices.mark(spec.symbol, t)
        for leg in (
            LogEntry(
                booking_uid=booking,
                date_ms=t,
                info="settlement",
                margin_account=spec.margin_account,
                contract=spec.symbol,
                collateral=spec.settlement_currency,
                trade_price=price,
                mark_price=mark,
                asset=spec.symbol.lower(),
                old_balance=position.size,
                new_balance=0.0,
                old_average_entry_price=position.entry,
            ),
            LogEntry(
                booking_uid=booking,
                date_ms=t,
                info="settlement",
                margin_account=spec.margin_account,
                contract=spec.symbol,
                collateral=spec.settlement_currency,
                trade_price=price,
                mark_price=mark,
                asset=spec.settlement_currency.lower(),
                old_balance=old,
                new_balance=new,
                realized_pnl=pnl,
            ),
        ):
            self.ledger.add_log(acc, leg)
        self.matcher.record_position(
            acc,
            spec,
            t,
            old=(position.size, position.entry),
            new=(0.0, None),
            change="close",
            reason="settlement",
            extra={"settlementPrice": dec(price), "realizedPnL": dec(pnl)},
        )
        self.events.touch(acc.account_id)

    def _fire_dead_man_switches(self, t: int) -> None:
        for acc in self.ledger.accounts.values():
            if acc.dms_trigger_ms is not None and acc.dms_trigger_ms <= t:
                when = acc.dms_trigger_ms
                self.ledger.set_dead_man_switch(acc, None)
                for order in sorted(acc.open_orders.values(), key=_by_seq):
                    self.matcher.cancel(acc, order, when, "DEAD_MAN_SWITCH")
