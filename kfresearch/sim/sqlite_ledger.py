"""A :class:`~kfresearch.sim.ledger.Ledger` that keeps a paper account in an SQLite file.

The ``demo`` environment's account survives kernel restarts and is shared by
every process that opens the same file: its wallets, positions, orders (with
the client order ids they claimed), fills (each with its fee), the account
log (trades, fees, funding payments, settlements, transfers) and the history
service's events.

How it stays right with several writers:

* one **unit of work** of the engine (an order, an edit, a cancel, a step of
  time) is one SQLite transaction, opened with ``BEGIN IMMEDIATE`` when the
  outermost unit starts, committed when it ends, rolled back if it raised;
* a second process waits for the write lock up to ``wait_s`` seconds, then
  gets :class:`~kfresearch.errors.PaperAccountBusyError`; nothing is lost;
* when another process committed since this one last looked (SQLite's
  ``PRAGMA data_version``), the records are read again before the unit runs,
  so every decision is made on the latest state;
* appended records (fills, account-log rows, history events, client order
  ids) are written as they happen, changed ones (wallets, positions, the
  orders touched, preferences) when the unit commits: a process killed at any
  point leaves the file as of its last commit, nothing half-written.

The records live in memory too (the engine reads ``acc.positions`` …
directly), exactly as in :class:`~kfresearch.sim.ledger.MemoryLedger`.
Order, fill and booking ids are random UUIDs (unique across sessions and
processes); the order sequence number and the time the accounts were brought
up to are kept in the file. Amounts are in the wallet's currency, times in
epoch milliseconds.

Example
-------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "study.sqlite"
>>> ledger = SqliteLedger(path, balance=25_000.0)
>>> with ledger.unit_of_work():
...     acc = ledger.account("acc-1", now_ms=0)
...     ledger.credit(acc, "flex", "USD", -250.0)
(25000.0, 24750.0)
>>> SqliteLedger(path).accounts["acc-1"].balance("flex", "USD")
24750.0
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from kfresearch.errors import PaperAccountBusyError
from kfresearch.sim.accounts import (
    STARTING_WALLETS,
    Account,
    Fill,
    HistoryItem,
    LogEntry,
    Position,
)
from kfresearch.sim.history_bodies import Recorded
from kfresearch.sim.ledger import MemoryLedger
from kfresearch.sim.orders import Order

__all__ = ["DEFAULT_BALANCE", "SqliteLedger"]

#: Starting USD of a new paper account's multi-collateral (flex) wallet.
DEFAULT_BALANCE = 100_000.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    account_id TEXT NOT NULL, symbol TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (account_id, symbol));
CREATE TABLE IF NOT EXISTS orders (
    account_id TEXT NOT NULL, order_id TEXT NOT NULL, seq INTEGER NOT NULL,
    is_open INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (account_id, order_id));
CREATE TABLE IF NOT EXISTS cli_ids (
    account_id TEXT NOT NULL, cli_ord_id TEXT NOT NULL, order_id TEXT NOT NULL,
    PRIMARY KEY (account_id, cli_ord_id));
CREATE TABLE IF NOT EXISTS fills (
    account_id TEXT NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (account_id, n));
CREATE TABLE IF NOT EXISTS log (
    account_id TEXT NOT NULL, id INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (account_id, id));
CREATE TABLE IF NOT EXISTS history (
    account_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (account_id, kind, seq));
"""
_TABLES = ("accounts", "positions", "orders", "cli_ids", "fills", "log", "history")
# Account fields kept in the ``accounts`` row (the rest have tables of their own).
_ACCOUNT_FIELDS = (
    "uid",
    "number",
    "created_ms",
    "wallets",
    "leverage",
    "pnl_currency",
    "dms_trigger_ms",
    "self_trade_strategy",
)


def _dump(value: Any) -> bytes:
    return orjson.dumps(value)


class SqliteLedger(MemoryLedger):
    """A paper account in the SQLite file ``path`` (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The file (created with its folder if missing).
    balance : float, optional
        USD in the flex wallet of an account opened in a new file, or after
        :meth:`reset`; an existing file keeps its own (default 100,000).
    wait_s : float
        How long a unit of work waits for another process's transaction to end
        before :class:`~kfresearch.errors.PaperAccountBusyError`.
    """

    def __init__(
        self, path: str | Path, *, balance: float | None = None, wait_s: float = 10.0
    ) -> None:
        super().__init__(seed=0)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.wait_s = wait_s
        # autocommit mode: transactions are opened and closed here, explicitly
        self._db = sqlite3.connect(
            self.path, timeout=wait_s, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a killed process with every committed unit
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                self._db.execute(statement)
            if self._meta("balance") is None:
                self._set_meta("balance", DEFAULT_BALANCE if balance is None else balance)
        self._seen_version: int | None = None
        self._dirty: set[str] = set()
        self._dirty_orders: dict[str, set[str]] = {}
        self._reload()

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self.path)!r}, accounts={len(self._accounts)})"

    @property
    def balance(self) -> float:
        """USD a new account of this file starts with in its flex wallet."""
        return float(self._meta("balance") or DEFAULT_BALANCE)

    def close(self) -> None:
        """Close the file (the ledger cannot be used afterwards)."""
        self._db.close()

    # -- transactions --------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise PaperAccountBusyError(
                f"the paper account in {self.path} is busy: another process held it for more "
                f"than {self.wait_s:g} s. Nothing was changed; try again, or close the other "
                "kernel or `kfresearch demo serve` using this account"
            ) from None
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """One SQLite transaction for the outermost unit; inner units join it."""
        if self._depth:
            with super().unit_of_work():
                yield
            return
        try:
            with self._transaction(), super().unit_of_work():
                if self._db.execute("PRAGMA data_version").fetchone()[0] != self._seen_version:
                    self._reload()
                yield
                self._write_changes()
        except BaseException:
            # the memory may hold half a unit: read back what the file kept
            self._seen_version = None
            self._reload()
            raise
        finally:
            self._dirty.clear()
            self._dirty_orders.clear()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: float | int | None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, repr(value))
        )

    # -- reading the file -----------------------------------------------------------------
    def _reload(self) -> None:
        """Read every record from the file (another process wrote, or a unit failed)."""
        db = self._db
        seqs = {a.account_id: a.ws_seq for a in self._accounts.values()}
        accounts: dict[str, Account] = {}
        for account_id, body in db.execute("SELECT account_id, body FROM accounts"):
            fields = orjson.loads(body)
            acc = Account(
                account_id, fields.pop("uid"), fields.pop("number"), fields.pop("created_ms")
            )
            for name, value in fields.items():
                setattr(acc, name, value)
            acc.ws_seq = seqs.get(account_id, {})
            accounts[account_id] = acc
        for account_id, body in db.execute("SELECT account_id, body FROM positions"):
            position = Position(**orjson.loads(body))
            accounts[account_id].positions[position.symbol] = position
        for account_id, is_open, body in db.execute(
            "SELECT account_id, is_open, body FROM orders ORDER BY seq"
        ):
            order = Order(**orjson.loads(body))
            accounts[account_id].orders[order.order_id] = order
            if is_open:
                accounts[account_id].open_orders[order.order_id] = order
                accounts[account_id].book.add(order)  # the engine's index of open orders
        for account_id, cli_ord_id, order_id in db.execute("SELECT * FROM cli_ids"):
            accounts[account_id].cli_ids[cli_ord_id] = order_id
        for account_id, body in db.execute("SELECT account_id, body FROM fills ORDER BY n"):
            accounts[account_id].fills.append(Fill(**orjson.loads(body)))
        for account_id, body in db.execute("SELECT account_id, body FROM log ORDER BY id"):
            accounts[account_id].log.append(LogEntry(**orjson.loads(body)))
        for account_id, kind, body in db.execute(
            "SELECT account_id, kind, body FROM history ORDER BY seq"
        ):
            fields = orjson.loads(body)
            fields["tags"] = frozenset(fields["tags"])
            accounts[account_id].history[kind].append(HistoryItem(**fields))
        self._accounts = accounts
        seq, advanced = self._meta("order_seq"), self._meta("advanced_ms")
        self._order_seq = int(seq) if seq is not None else 0
        self._advanced_ms = None if advanced in {None, "None"} else int(str(advanced))
        self._seen_version = db.execute("PRAGMA data_version").fetchone()[0]

    # -- writing the file -------------------------------------------------------------------
    def _write_changes(self) -> None:
        """At the end of a unit: the changed accounts' wallets, positions, orders and meta."""
        db = self._db
        for account_id in sorted(self._dirty):
            acc = self._accounts[account_id]
            fields = {name: getattr(acc, name) for name in _ACCOUNT_FIELDS}
            db.execute(
                "INSERT OR REPLACE INTO accounts (account_id, body) VALUES (?, ?)",
                (account_id, _dump(fields)),
            )
            db.execute("DELETE FROM positions WHERE account_id = ?", (account_id,))
            db.executemany(
                "INSERT INTO positions (account_id, symbol, body) VALUES (?, ?, ?)",
                [(account_id, p.symbol, _dump(asdict(p))) for p in acc.positions.values()],
            )
            # open orders are rewritten whole: a field changed in place is never missed
            touched = self._dirty_orders.get(account_id, set()) | set(acc.open_orders)
            db.executemany(
                "INSERT OR REPLACE INTO orders (account_id, order_id, seq, is_open, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        account_id,
                        order_id,
                        acc.orders[order_id].seq,
                        int(order_id in acc.open_orders),
                        _dump(asdict(acc.orders[order_id])),
                    )
                    for order_id in sorted(touched)
                    if order_id in acc.orders
                ],
            )
        self._set_meta("order_seq", self._order_seq)
        self._set_meta("advanced_ms", self._advanced_ms)

    def _touch(self, acc: Account) -> None:
        self._dirty.add(acc.account_id)

    # -- identifiers ------------------------------------------------------------------------
    def new_uid(self) -> str:
        """A random UUID: unique across sessions and processes."""
        return str(uuid.uuid4())

    # -- accounts and wallets ----------------------------------------------------------------
    def account(self, account_id: str, now_ms: int) -> Account:
        found = self._accounts.get(account_id)
        if found is None:
            found = Account(account_id, self.new_uid(), len(self._accounts) + 1, now_ms)
            # paper money is USD in the flex wallet; inverse contracts' coin wallets start empty
            found.wallets = {
                name: ({"USD": self.balance} if name == "flex" else {})
                for name in STARTING_WALLETS
            }
            self._accounts[account_id] = found
            self._touch(found)
        return found

    def credit(
        self, acc: Account, wallet: str, currency: str, amount: float
    ) -> tuple[float, float]:
        self._touch(acc)
        return super().credit(acc, wallet, currency, amount)

    def set_balance(self, acc: Account, wallet: str, currency: str, amount: float) -> None:
        self._touch(acc)
        super().set_balance(acc, wallet, currency, amount)

    # -- positions and orders ------------------------------------------------------------------
    def put_position(self, acc: Account, position: Position) -> None:
        self._touch(acc)
        super().put_position(acc, position)

    def drop_position(self, acc: Account, symbol: str) -> Position | None:
        self._touch(acc)
        return super().drop_position(acc, symbol)

    def put_order(self, acc: Account, order: Order) -> None:
        self._touch(acc)
        self._dirty_orders.setdefault(acc.account_id, set()).add(order.order_id)
        super().put_order(acc, order)

    def book_order(self, acc: Account, order: Order) -> None:
        self.put_order(acc, order)
        super().book_order(acc, order)
        if order.cli_ord_id is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO cli_ids (account_id, cli_ord_id, order_id) "
                "VALUES (?, ?, ?)",
                (acc.account_id, order.cli_ord_id, order.order_id),
            )

    def unbook_order(self, acc: Account, order_id: str) -> None:
        self._touch(acc)
        self._dirty_orders.setdefault(acc.account_id, set()).add(order_id)
        super().unbook_order(acc, order_id)

    # -- what happened (appended as it happens, inside the unit's transaction) -----------------
    def add_fill(self, acc: Account, fill: Fill) -> None:
        self._touch(acc)
        self._db.execute(
            "INSERT INTO fills (account_id, n, body) VALUES (?, ?, ?)",
            (acc.account_id, len(acc.fills), _dump(asdict(fill))),
        )
        super().add_fill(acc, fill)

    def add_log(self, acc: Account, entry: LogEntry) -> LogEntry:
        self._touch(acc)
        kept = super().add_log(acc, entry)
        self._db.execute(
            "INSERT INTO log (account_id, id, body) VALUES (?, ?, ?)",
            (acc.account_id, kept.id, _dump(asdict(kept))),
        )
        return kept

    def record(self, acc: Account, time_ms: int, tradeable: str, event: Recorded) -> None:
        self._touch(acc)
        super().record(acc, time_ms, tradeable, event)
        kind = event[0]
        item = acc.history[kind][-1]
        body = asdict(item) | {"tags": sorted(item.tags)}
        self._db.execute(
            "INSERT INTO history (account_id, kind, seq, body) VALUES (?, ?, ?, ?)",
            (acc.account_id, kind, item.seq, _dump(body)),
        )

    # -- preferences -----------------------------------------------------------------------
    def set_leverage(self, acc: Account, symbol: str, max_leverage: float | None) -> None:
        self._touch(acc)
        super().set_leverage(acc, symbol, max_leverage)

    def set_pnl_currency(self, acc: Account, symbol: str, currency: str) -> None:
        self._touch(acc)
        super().set_pnl_currency(acc, symbol, currency)

    def set_dead_man_switch(self, acc: Account, trigger_ms: int | None) -> None:
        self._touch(acc)
        super().set_dead_man_switch(acc, trigger_ms)

    def set_self_trade_strategy(self, acc: Account, strategy: str) -> None:
        self._touch(acc)
        super().set_self_trade_strategy(acc, strategy)

    # -- the whole account ---------------------------------------------------------------------
    def reset(self, balance: float | None = None) -> None:
        """Forget every record of the file; accounts open again with ``balance`` USD (or the same).

        Waits for other processes like a unit of work. Order sequence numbers
        keep counting, so no id is ever handed out twice.
        """
        with self._transaction():
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            if balance is not None:
                self._set_meta("balance", balance)
            self._set_meta("advanced_ms", None)
        self._seen_version = None
        self._reload()
