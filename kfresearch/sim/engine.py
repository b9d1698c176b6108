"""The exchange engine: orders, matching, positions, margin, fees, funding, liquidation, settlement.

:class:`Engine` is the front of the parts that do the work, each a module of
its own:

* :mod:`~kfresearch.sim.entry`: a new order judged in the exchange's order
  of checks, then rested or executed;
* :mod:`~kfresearch.sim.matching`: the fill rules (walking the book, post,
  IOC, FOK, self-trade) and what each fill does to the account;
* :mod:`~kfresearch.sim.lifecycle`: time: resting fills, triggers, funding,
  settlement, dead man's switches, and :mod:`~kfresearch.sim.liquidation`;
* :mod:`~kfresearch.sim.edits`: edits of open orders;
* :mod:`~kfresearch.sim.valuation`: margin and fee tiers at the mark.

The engine knows prices only through a :class:`~kfresearch.sim.source.MarketSource`
(the seeded synthetic market for ``sim``), read through
:class:`~kfresearch.sim.prices.Prices`; it keeps accounts in a
:class:`~kfresearch.sim.ledger.Ledger` (in memory by default), and tells the
private feeds what happened through :class:`~kfresearch.sim.events.Events`.
Every public method is one unit of work of the ledger, and brings every
account up to its ``now_ms`` first.

Identifiers come from the ledger (``random.Random(seed)`` in memory), so one
seed and one sequence of requests give byte-identical answers. Amounts are in
the contract's settlement currency (USD for ``PF_``, the base coin for
``PI_``/``FI_``), sizes in contracts, prices in USD, times in epoch ms.

Example
-------
>>> engine = Engine(market, seed=7)  # doctest: +SKIP
>>> engine.send_order("acc-1", parse_order_request(params.get), now_ms)  # doctest: +SKIP
{'order_id': '…', 'status': 'placed', 'receivedTime': '…', 'orderEvents': […]}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kfresearch.sim import history_bodies, margin, private_feeds
from kfresearch.sim.accounts import Account, Fill, LogEntry, page_history, select_log
from kfresearch.sim.edits import Editor
from kfresearch.sim.entry import OrderEntry
from kfresearch.sim.events import Events, Listener
from kfresearch.sim.formats import iso
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.ledger import Ledger, MemoryLedger
from kfresearch.sim.lifecycle import Lifecycle
from kfresearch.sim.margin import FlexSummary, PositionRisk, WalletSummary
from kfresearch.sim.matching import Matcher
from kfresearch.sim.orders import EditRequest, Order, OrderRequest
from kfresearch.sim.prices import Prices
from kfresearch.sim.source import MarketSource
from kfresearch.sim.valuation import Valuation

__all__ = ["PNL_CURRENCIES", "STATUS_WINDOW_MS", "Engine", "Listener"]

STATUS_WINDOW_MS = 5_000  # orders/status also lists orders closed this recently
# Currencies a flex contract's profits may be realised in (``BTC`` is the UI's XBT).
PNL_CURRENCIES = frozenset({"USD", "XBT", "BTC", "ETH", "USDC", "USDT", "EUR", "GBP"})


class Engine:
    """The simulated exchange's matching and risk engine (see the module docstring).

    Parameters
    ----------
    market
        Where every price comes from.
    seed
        Seed of the identifiers of the default in-memory ledger.
    ledger
        Where accounts are kept (default: a :class:`MemoryLedger` of ``seed``).
    """

    def __init__(self, market: MarketSource, *, seed: int, ledger: Ledger | None = None) -> None:
        self.market = market
        self.seed = seed
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger(seed=seed)
        self.prices = Prices(market)
        self.events = Events()
        self.valuation = Valuation(self.prices)
        self.matcher = Matcher(self.prices, self.ledger, self.events, self.valuation)
        self.entry = OrderEntry(self.prices, self.ledger, self.valuation, self.matcher)
        self.editor = Editor(self.prices, self.ledger, self.events, self.valuation, self.matcher)
        self.lifecycle = Lifecycle(
            self.prices, self.ledger, self.events, self.valuation, self.matcher
        )
        self._depth = 0
        # outermost units of work begun: one that caches an answer of the engine (the
        # backtest's quiet_until) knows from it whether anything may have changed since
        self.units_begun = 0

    def __repr__(self) -> str:
        return f"Engine({self.market!r}, ledger={self.ledger!r})"

    # ------------------------------------------------------------------ basics

    @property
    def accounts(self) -> Mapping[str, Account]:
        """Every account, by ``account_id``."""
        return self.ledger.accounts

    @property
    def listeners(self) -> list[Listener]:
        """Called with ``(feed, account_id, message)`` for every private feed message."""
        return self.events.listeners

    @property
    def now_ms(self) -> int | None:
        """The time every account has been brought up to (None before the first request)."""
        return self.ledger.advanced_ms

    @contextlib.contextmanager
    def unit(self, now_ms: int | None = None) -> Iterator[None]:
        """One unit of work of the ledger (brought up to ``now_ms`` first when given).

        Feed messages are sent when the outermost unit ends, and not at all if
        it raised.
        """
        self._open_unit()
        try:
            with self.ledger.unit_of_work():
                if now_ms is not None:
                    self._advance(now_ms)
                yield
                if now_ms is not None:
                    self._flush(now_ms)
        except BaseException:
            self._close_unit(failed=True)
            raise
        self._close_unit(failed=False)

    def _open_unit(self) -> None:
        self._depth += 1
        if self._depth == 1:
            self.units_begun += 1
            self.prices.forget()

    def _close_unit(self, *, failed: bool) -> None:
        """The end of a unit: its feed messages go out (the outermost one's, if it did not fail)."""
        if failed and self._depth == 1:
            self.events.discard()
        self._depth -= 1
        if self._depth == 0:
            self.prices.forget()
            if not failed:
                self.events.dispatch()

    def account(self, account_id: str, now_ms: int) -> Account:
        """The account named ``account_id``, opened with the starting wallets on first use."""
        return self.ledger.account(account_id, now_ms)

    def spec(self, symbol: str, now_ms: int) -> InstrumentSpec | None:
        """The contract ``symbol`` if it can be traded at ``now_ms`` (dated ones until expiry)."""
        return self.prices.spec(symbol, now_ms)

    def known_spec(self, symbol: str) -> InstrumentSpec:
        """The contract of an order or position, even after it expired (it was looked up then)."""
        return self.prices.known_spec(symbol)

    def advance(self, now_ms: int) -> None:
        """Bring every account up to ``now_ms`` (no-op when time has not moved on)."""
        # what `with self.unit(): self._advance(now_ms)` does, without the generator's cost:
        # a backtest advances once per bar
        self._open_unit()
        try:
            with self.ledger.unit_of_work():
                self._advance(now_ms)
        except BaseException:
            self._close_unit(failed=True)
            raise
        self._close_unit(failed=False)

    def quiet_until(self, horizon_ms: int) -> int:
        """The first time ``<= horizon_ms`` at which advancing could change anything but the
        funding accruing on positions (epoch ms; :meth:`Lifecycle.quiet_until`).

        Until then no fill, order change, log entry, liquidation, realised
        funding, settlement or dead man's switch happens, so a caller that
        moves its clock through history (a backtest) need not :meth:`advance`
        before: any request, or an advance at that time, catches up minute by
        minute with the same result. It reads the mark up to ``horizon_ms``:
        for a market that knows the future (a replay), not a live one.

        >>> engine.quiet_until(end_ms)            # doctest: +SKIP
        1759280400000
        """
        return self.lifecycle.quiet_until(horizon_ms)

    def _advance(self, now_ms: int) -> None:
        if self.lifecycle.advance(now_ms):
            self._flush(now_ms)

    # ------------------------------------------------------------ orders

    def send_order(self, account_id: str, request: OrderRequest, now_ms: int) -> dict[str, Any]:
        """Judge and execute a new order; the ``sendStatus`` payload of ``POST /sendorder``.

        The statuses and the order they are checked in: :mod:`kfresearch.sim.entry`.
        """
        with self.unit(now_ms):
            return self.entry.send(self.account(account_id, now_ms), request, now_ms)

    def edit_order(self, account_id: str, request: EditRequest, now_ms: int) -> dict[str, Any]:
        """Change an open order's size or prices; the ``editStatus`` payload of ``POST /editorder``.

        The statuses and the order they are checked in: :mod:`kfresearch.sim.edits`.
        """
        with self.unit(now_ms):
            return self.editor.edit(self.account(account_id, now_ms), request, now_ms)

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
        with self.unit(now_ms):
            acc = self.account(account_id, now_ms)
            order = acc.find_order(order_id, cli_ord_id)
            events: list[dict[str, Any]] = []
            if process_before_ms is not None and now_ms > process_before_ms:
                status = "wouldProcessAfterSpecifiedTime"
            elif order is not None and order.is_open:
                status = "cancelled"
                events.append(self.matcher.cancel(acc, order, now_ms, "CANCELLED_BY_USER"))
            else:
                status = "filled" if order is not None and order.status == "filled" else "notFound"
            body: dict[str, Any] = {"status": status}
            if order is not None or order_id:
                body["order_id"] = order.order_id if order is not None else order_id
            if (order and order.cli_ord_id) or cli_ord_id:
                body["cliOrdId"] = order.cli_ord_id if order and order.cli_ord_id else cli_ord_id
            return body | {"receivedTime": iso(now_ms), "orderEvents": events}

    def cancel_all(self, account_id: str, symbol: str | None, now_ms: int) -> dict[str, Any]:
        """Cancel every open order (of ``symbol`` if given); the ``cancelallorders`` answer."""
        with self.unit(now_ms):
            acc = self.account(account_id, now_ms)
            wanted = symbol.upper() if symbol else None
            chosen = sorted(
                (o for o in acc.open_orders.values() if wanted is None or o.symbol == wanted),
                key=lambda o: o.seq,
            )
            events = [self.matcher.cancel(acc, o, now_ms, "CANCELLED_BY_USER") for o in chosen]
            cancelled = [
                {"order_id": o.order_id} | ({"cliOrdId": o.cli_ord_id} if o.cli_ord_id else {})
                for o in chosen
            ]
            return {
                "receivedTime": iso(now_ms),
                "cancelOnly": wanted or "all",
                "status": "cancelled" if chosen else "noOrdersToCancel",
                "cancelledOrders": cancelled,
                "orderEvents": events,
            }

    def cancel_all_after(self, account_id: str, timeout_s: int, now_ms: int) -> dict[str, Any]:
        """Arm (``timeout_s`` > 0) or disarm (0) the dead man's switch; the ``status`` payload."""
        with self.unit():
            self._advance(now_ms)
            acc = self.account(account_id, now_ms)
            trigger_ms = now_ms + timeout_s * 1000 if timeout_s > 0 else None
            self.ledger.set_dead_man_switch(acc, trigger_ms)
            trigger = iso(trigger_ms) if trigger_ms is not None else "0"
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
        with self.unit(now_ms):
            acc = self.account(account_id, now_ms)
            spec = self.spec(symbol, now_ms)
            if spec is None:
                return 87
            if spec.is_inverse:
                return 88
            previous = acc.leverage.get(spec.symbol)
            self.ledger.set_leverage(acc, spec.symbol, max_leverage)
            flex = self.valuation.flex_summary(acc, now_ms)
            if spec.symbol in acc.positions and flex.margin_equity < flex.initial_margin:
                self.ledger.set_leverage(acc, spec.symbol, previous)
                return 41
            self.events.touch(acc.account_id)
            return None

    def set_pnl_currency(
        self, account_id: str, symbol: str, currency: str, now_ms: int
    ) -> int | None:
        """Record the currency ``symbol``'s profits are to be realised in; an error code or None.

        The preference is stored and reported; realised PnL stays in USD (the
        conversion into another collateral is not simulated).
        """
        with self.unit():
            self._advance(now_ms)
            acc = self.account(account_id, now_ms)
            spec = self.spec(symbol, now_ms)
            if spec is None:
                return 87
            if spec.is_inverse:
                return 88
            code = currency.upper()
            if code not in PNL_CURRENCIES:
                return 89
            self.ledger.set_pnl_currency(acc, spec.symbol, code)
            return None

    def set_self_trade_strategy(self, account_id: str, strategy: str, now_ms: int) -> None:
        """Store the account's self-trade strategy (matching always rejects the taker)."""
        with self.unit():
            self.ledger.set_self_trade_strategy(self.account(account_id, now_ms), strategy)

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
        with self.unit():
            self._advance(now_ms)
            acc = self.account(account_id, now_ms)
            return self._transfer(acc, source.lower(), target.lower(), unit.upper(), amount, now_ms)

    def _transfer(
        self, acc: Account, source: str, target: str, unit: str, amount: float, now_ms: int
    ) -> str | None:
        if not amount > 0 or amount == float("inf"):
            return "invalidAmount"
        if source == target or source not in acc.wallets or target not in acc.wallets:
            return "invalidAccount"
        for wallet in (source, target):
            if wallet.startswith("fi_") and unit != wallet[3:6].upper():
                return "invalidUnit"  # a single-collateral wallet holds its coin only
        try:
            self.prices.usd_value(unit, now_ms)
        except (KeyError, ValueError):
            return "invalidUnit"
        if acc.balance(source, unit) < amount:
            return "insufficientFunds"
        old_source = self.ledger.credit(acc, source, unit, -amount)[0]
        if not self.valuation.margin_kept(acc, source, now_ms):
            self.ledger.set_balance(acc, source, unit, old_source)
            return "insufficientFunds"
        old_target, new_target = self.ledger.credit(acc, target, unit, amount)
        for wallet, old, new in (
            (source, old_source, old_source - amount),
            (target, old_target, new_target),
        ):
            entry = LogEntry(
                booking_uid=self.ledger.new_uid(),
                date_ms=now_ms,
                asset=unit.lower(),
                info="transfer",
                margin_account=wallet,
                old_balance=old,
                new_balance=new,
            )
            self.ledger.add_log(acc, entry)
        self.events.touch(acc.account_id)
        return None

    # --------------------------------------------------------------- valuation

    def flex_summary(self, acc: Account, now_ms: int, *, extra: Order | None = None) -> FlexSummary:
        """The multi-collateral wallet valued at ``now_ms`` (``extra``: count one more order)."""
        return self.valuation.flex_summary(acc, now_ms, extra=extra)

    def wallet_summary(
        self, acc: Account, wallet: str, now_ms: int, *, extra: Order | None = None
    ) -> WalletSummary:
        """A single-collateral wallet (``fi_xbtusd`` …) valued at ``now_ms`` in its coin."""
        return self.valuation.wallet_summary(acc, wallet, now_ms, extra=extra)

    def position_risks(self, acc: Account, now_ms: int) -> list[PositionRisk]:
        """Every open position valued at ``now_ms``, newest fill first."""
        return self.valuation.position_risks(acc, now_ms)

    def fee_tier(self, acc: Account, schedule_uid: str, now_ms: int) -> margin.FeeTier:
        """The account's fee tier on a schedule at ``now_ms`` (its 30-day volume before)."""
        return self.valuation.fee_tier(acc, schedule_uid, now_ms)

    # -------------------------------------------------------------- listings

    def _reading(self, account_id: str, now_ms: int) -> Account:
        """Bring accounts up to ``now_ms`` (its own unit of work) for a read of one of them."""
        self.advance(now_ms)
        return self.account(account_id, now_ms)

    def open_orders(self, account_id: str, now_ms: int) -> list[Order]:
        """Open orders, newest first."""
        acc = self._reading(account_id, now_ms)
        return sorted(acc.open_orders.values(), key=lambda o: (-o.received_ms, -o.seq))

    def fills(
        self, account_id: str, now_ms: int, *, before_ms: int | None = None, limit: int = 100
    ) -> list[Fill]:
        """The latest ``limit`` fills (strictly before ``before_ms`` if given), newest first."""
        acc = self._reading(account_id, now_ms)
        chosen = [f for f in acc.fills if before_ms is None or f.time_ms < before_ms]
        return list(reversed(chosen))[:limit]

    def order_statuses(
        self, account_id: str, order_ids: Iterable[str], cli_ord_ids: Iterable[str], now_ms: int
    ) -> list[dict[str, Any]]:
        """``orders/status`` rows: open orders or ones closed in the last 5 s, by (client) id."""
        acc = self._reading(account_id, now_ms)
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

    def fee_volumes(self, account_id: str, now_ms: int) -> dict[str, float]:
        """30-day traded USD notional per fee schedule uid (fills in ``(now - 30 d, now]``)."""
        acc = self._reading(account_id, now_ms)
        return self.valuation.volumes(acc, now_ms + 1)

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
        acc = self._reading(account_id, now_ms)
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
        acc = self._reading(account_id, now_ms)
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

    def _flush(self, now_ms: int) -> None:
        """Queue position and balance snapshots of the accounts that changed."""
        self.events.flush(now_ms, self.ws_snapshot)

    def ws_snapshot(self, feed: str, account_id: str, now_ms: int) -> dict[str, Any]:
        """The first message of a private feed (reference §3.5): ``fills``, ``open_orders``,
        ``open_orders_verbose``, ``open_positions`` or ``balances``.

        Raises
        ------
        KeyError
            For a feed the engine does not serve.
        """
        return private_feeds.snapshot(self, feed, self.account(account_id, now_ms), now_ms)
