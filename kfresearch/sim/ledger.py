"""Where the engine keeps its accounts: the :class:`Ledger` interface and the in-memory one.

The engine decides (matching, margin, funding, liquidation); the ledger keeps
what those decisions did to every account, and hands out identifiers:

* **accounts** (:class:`~kfresearch.sim.accounts.Account` records, opened on
  first use) with their wallets' **balances**, **positions**, **orders**
  (every order ever accepted, the open ones on the book, and the client ids
  they claimed), **fills** (each with its **fee**), the **account log**
  (trades, fees, **funding payments**, settlements, transfers) and the
  history service's events;
* **ids**: order, fill and booking uids, and the order sequence number;
* **units of work**: the engine changes accounts only inside
  :meth:`Ledger.unit_of_work`: one order, one edit, one cancel, one step of
  time is one unit. Units nest (the outermost one counts): a ledger that
  persists commits when the outermost unit ends, and keeps nothing of a unit
  that raised.

The engine reads the records directly (``acc.positions``, ``acc.open_orders``
…: a ledger keeps them in memory even when it also writes them elsewhere) and
changes them only through the write methods below, so a ledger sees every
change as it happens. After changing an order's or a position's fields in
place, the engine hands it back with :meth:`Ledger.put_order` /
:meth:`Ledger.put_position`.

:class:`MemoryLedger` keeps everything in this process, with identifiers from
``random.Random(seed)`` so one seed and one sequence of requests give the
same ids. A ledger that persists (the ``demo`` paper account) implements the
same :class:`Ledger` protocol, most simply by extending :class:`MemoryLedger`:
write each change through to its store as well, open a transaction in
:meth:`unit_of_work` (and reload the records if another process wrote since),
commit when the outermost unit ends.

Example
-------
>>> ledger = MemoryLedger(seed=7)
>>> with ledger.unit_of_work():
...     acc = ledger.account("acc-1", now_ms=0)
...     ledger.credit(acc, "flex", "USD", -250.0)
(100000.0, 99750.0)
>>> ledger.new_uid() != ledger.new_uid()
True
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from typing import Protocol

from kfresearch.sim.accounts import Account, Fill, HistoryItem, LogEntry, Position
from kfresearch.sim.formats import uuid4_text
from kfresearch.sim.history_bodies import Recorded
from kfresearch.sim.orders import Order

__all__ = ["Ledger", "MemoryLedger"]


class Ledger(Protocol):
    """Accounts, their records, identifiers and units of work (see the module docstring).

    Every write takes the account record it changes (from :meth:`account`).
    Amounts are in the wallet's currency, times in epoch milliseconds.
    """

    @property
    def accounts(self) -> Mapping[str, Account]:
        """Every account this ledger serves, by ``account_id``."""
        ...

    @property
    def advanced_ms(self) -> int | None:
        """The time the accounts have been brought up to (None before the first request)."""
        ...

    def set_advanced(self, now_ms: int) -> None:
        """Record that every account was brought up to ``now_ms``."""
        ...

    def unit_of_work(self) -> contextlib.AbstractContextManager[None]:
        """One unit of work: everything inside is kept together, or (on an error) not at all."""
        ...

    def new_uid(self) -> str:
        """A new UUID (orders, fills, account-log bookings, history events)."""
        ...

    def next_order_seq(self) -> int:
        """The next order sequence number (orders are processed in this order)."""
        ...

    def account(self, account_id: str, now_ms: int) -> Account:
        """The account ``account_id``, opened with the starting wallets on first use."""
        ...

    def credit(
        self, acc: Account, wallet: str, currency: str, amount: float
    ) -> tuple[float, float]:
        """Add ``amount`` (negative to debit) to a wallet's balance; (old, new) balance."""
        ...

    def set_balance(self, acc: Account, wallet: str, currency: str, amount: float) -> None:
        """Put a wallet's balance back to ``amount`` (undoing a credit within a unit)."""
        ...

    def put_position(self, acc: Account, position: Position) -> None:
        """Keep ``position`` (new, or changed in place) as the account's position in its symbol."""
        ...

    def drop_position(self, acc: Account, symbol: str) -> Position | None:
        """Close the position in ``symbol`` (it is no longer held); the position, if any."""
        ...

    def put_order(self, acc: Account, order: Order) -> None:
        """Keep ``order`` (new, or changed in place: filled, edited, closed …) among its orders."""
        ...

    def book_order(self, acc: Account, order: Order) -> None:
        """Put a kept order on the book (open orders) and claim its client order id."""
        ...

    def unbook_order(self, acc: Account, order_id: str) -> None:
        """Take an order off the book (filled, cancelled, or being triggered)."""
        ...

    def add_fill(self, acc: Account, fill: Fill) -> None:
        """Keep one execution (with its fee) of one of the account's orders."""
        ...

    def add_log(self, acc: Account, entry: LogEntry) -> LogEntry:
        """Append an account-log entry made for it, stamped with its ``id`` (1, 2, … per
        account); returns it."""
        ...

    def record(self, acc: Account, time_ms: int, tradeable: str, event: Recorded) -> None:
        """Append an event (with a new uid) to one of the account's history streams."""
        ...

    def set_leverage(self, acc: Account, symbol: str, max_leverage: float | None) -> None:
        """Margin ``symbol`` in isolation at ``max_leverage``, or in the cross pool (None)."""
        ...

    def set_pnl_currency(self, acc: Account, symbol: str, currency: str) -> None:
        """The currency ``symbol``'s profits are to be realised in."""
        ...

    def set_dead_man_switch(self, acc: Account, trigger_ms: int | None) -> None:
        """When every order of the account is cancelled (None: disarmed)."""
        ...

    def set_self_trade_strategy(self, acc: Account, strategy: str) -> None:
        """The account's self-trade strategy (stored and reported)."""
        ...


class _Depth:
    """A memory ledger's unit of work: it only counts how deep units nest (a plain class:
    the engine opens one per request and per step, and a generator costs more)."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: MemoryLedger) -> None:
        self._ledger = ledger

    def __enter__(self) -> None:
        self._ledger._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._ledger._depth -= 1


class MemoryLedger:
    """A :class:`Ledger` that keeps everything in this process (the ``sim`` environment).

    Parameters
    ----------
    seed : int
        Seed of the identifiers: one seed and one sequence of requests give
        the same ids.
    """

    def __init__(self, *, seed: int) -> None:
        self._accounts: dict[str, Account] = {}
        self._rng = random.Random(seed)
        self._order_seq = 0
        self._advanced_ms: int | None = None
        self._depth = 0

    def __repr__(self) -> str:
        return f"MemoryLedger(accounts={len(self._accounts)})"

    @property
    def accounts(self) -> Mapping[str, Account]:
        return self._accounts

    @property
    def advanced_ms(self) -> int | None:
        return self._advanced_ms

    def set_advanced(self, now_ms: int) -> None:
        self._advanced_ms = now_ms

    def unit_of_work(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to commit in memory; the depth tells :attr:`in_unit`."""
        return _Depth(self)

    @property
    def in_unit(self) -> bool:
        """True inside a unit of work."""
        return self._depth > 0

    # -- identifiers --------------------------------------------------------------------
    def new_uid(self) -> str:
        return uuid4_text(self._rng.getrandbits(128))

    def next_order_seq(self) -> int:
        self._order_seq += 1
        return self._order_seq

    # -- accounts and wallets ------------------------------------------------------------
    def account(self, account_id: str, now_ms: int) -> Account:
        found = self._accounts.get(account_id)
        if found is None:
            found = Account(account_id, self.new_uid(), len(self._accounts) + 1, now_ms)
            self._accounts[account_id] = found
        return found

    def credit(
        self, acc: Account, wallet: str, currency: str, amount: float
    ) -> tuple[float, float]:
        balances = acc.wallets.setdefault(wallet, {})
        old = balances.get(currency, 0.0)
        balances[currency] = old + amount
        return old, old + amount

    def set_balance(self, acc: Account, wallet: str, currency: str, amount: float) -> None:
        acc.wallets.setdefault(wallet, {})[currency] = amount

    # -- positions and orders ---------------------------------------------------------------
    def put_position(self, acc: Account, position: Position) -> None:
        acc.positions[position.symbol] = position

    def drop_position(self, acc: Account, symbol: str) -> Position | None:
        return acc.positions.pop(symbol, None)

    def put_order(self, acc: Account, order: Order) -> None:
        acc.orders[order.order_id] = order

    def book_order(self, acc: Account, order: Order) -> None:
        acc.open_orders[order.order_id] = order
        acc.book.add(order)
        if order.cli_ord_id is not None:
            acc.cli_ids[order.cli_ord_id] = order.order_id

    def unbook_order(self, acc: Account, order_id: str) -> None:
        order = acc.open_orders.pop(order_id, None)
        if order is not None:
            acc.book.remove(order)

    # -- what happened ------------------------------------------------------------------
    def add_fill(self, acc: Account, fill: Fill) -> None:
        acc.fills.append(fill)

    def add_log(self, acc: Account, entry: LogEntry) -> LogEntry:
        entry.id = len(acc.log) + 1  # entries are made for this call: stamped, not copied
        acc.log.append(entry)
        return entry

    def record(self, acc: Account, time_ms: int, tradeable: str, event: Recorded) -> None:
        kind, body, tags = event
        uid = self.new_uid()
        items = acc.history[kind]
        items.append(HistoryItem(len(items), uid, time_ms, tradeable, body, frozenset(tags)))

    # -- preferences ----------------------------------------------------------------------
    def set_leverage(self, acc: Account, symbol: str, max_leverage: float | None) -> None:
        if max_leverage is None:
            acc.leverage.pop(symbol, None)
        else:
            acc.leverage[symbol] = max_leverage

    def set_pnl_currency(self, acc: Account, symbol: str, currency: str) -> None:
        acc.pnl_currency[symbol] = currency

    def set_dead_man_switch(self, acc: Account, trigger_ms: int | None) -> None:
        acc.dms_trigger_ms = trigger_ms

    def set_self_trade_strategy(self, acc: Account, strategy: str) -> None:
        acc.self_trade_strategy = strategy
