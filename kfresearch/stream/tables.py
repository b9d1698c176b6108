"""Live tables: the state each table feed builds, kept up to date in place.

Each table holds rows in the REST vocabulary (see :mod:`~kfresearch.stream.events`)
keyed by their natural key, and makes its frame with the same
:mod:`kfresearch.frames` function as the client's method of the same name, so
``stream.open_orders()`` has the columns and dtypes of ``kf.open_orders()``:

===============  ==========================  ===========================================
table            updated how                 frame (as the client's)
===============  ==========================  ===========================================
tickers          one row per symbol, merged  ``frames.tickers`` (``kf.tickers()``)
trades           rolling window per symbol,  ``frames.trades`` (``kf.trades()``)
                 de-duplicated by ``uid``
open_orders      snapshot, then upserts and  ``frames.open_orders`` (``kf.open_orders()``)
                 removals by ``order_id``
fills            rolling, by ``fill_id``     ``frames.fills`` (``kf.fills()``)
open_positions   each message replaces all   ``frames.positions`` (``kf.positions()``)
balances         per wallet, cash merged     ``frames.accounts`` (``kf.accounts()``)
account_log      rolling, by ``booking_uid`` ``frames.account_log`` (``kf.account_log()``)
notifications    by ``id``                   indexed by ``id`` (see :func:`notifications_frame`)
===============  ==========================  ===========================================

Rows are replaced, never mutated, and every table has a lock, so a frame can
be made from any thread while the stream updates the table.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kfresearch import frames
from kfresearch.stream.events import Records

__all__ = [
    "FRAMES",
    "KeyedTable",
    "PositionTable",
    "RollingTable",
    "Table",
    "WalletTable",
    "notifications_frame",
]

Rows = list[dict[str, Any]]


def _tickers(rows: Rows) -> pd.DataFrame:
    return frames.tickers({"tickers": rows})


def _trades(rows: Rows) -> pd.DataFrame:
    return frames.trades({"history": rows})


def _open_orders(rows: Rows) -> pd.DataFrame:
    return frames.open_orders({"openOrders": rows})


def _fills(rows: Rows) -> pd.DataFrame:
    return frames.fills({"fills": rows})


def _positions(rows: Rows) -> pd.DataFrame:
    marks = [{"symbol": r.get("symbol"), "markPrice": r.get("markPrice")} for r in rows]
    bare = [{k: v for k, v in r.items() if k != "markPrice"} for r in rows]
    return frames.positions({"openPositions": bare}, {"tickers": marks})


def _accounts(rows: Rows) -> pd.DataFrame:
    wallets = {r["account"]: {k: v for k, v in r.items() if k != "account"} for r in rows}
    return frames.accounts({"accounts": wallets})


def _account_log(rows: Rows) -> pd.DataFrame:
    return frames.account_log({"logs": rows})


def notifications_frame(rows: Rows) -> pd.DataFrame:
    """Exchange notifications indexed by ``id`` (int64), oldest first.

    Columns: ``type``, ``priority``, ``note`` (str), ``effective_time``
    (datetime64[ns, UTC]), ``expected_downtime_minutes`` (Int64, NA when no
    downtime is expected). ``high`` priority ``maintenance`` means downtime.
    """
    data = {
        "id": np.array([int(r["id"]) for r in rows], dtype=np.int64),
        "type": pd.array([r.get("type") for r in rows], dtype="str"),
        "priority": pd.array([r.get("priority") for r in rows], dtype="str"),
        "note": pd.array([r.get("note") for r in rows], dtype="str"),
        "effective_time": pd.to_datetime(
            pd.Series([r.get("effectiveTime") for r in rows], dtype="float64"),
            unit="ms",
            utc=True,
        ).astype("datetime64[ns, UTC]"),
        "expected_downtime_minutes": pd.array(
            [r.get("expectedDowntimeMinutes") for r in rows], dtype="Int64"
        ),
    }
    return pd.DataFrame(data).set_index("id").sort_index()


#: feed -> the function that makes a frame of its rows
FRAMES: dict[str, Callable[[Rows], pd.DataFrame]] = {
    "ticker": _tickers,
    "ticker_lite": _tickers,
    "trade": _trades,
    "open_orders": _open_orders,
    "fills": _fills,
    "open_positions": _positions,
    "balances": _accounts,
    "account_log": _account_log,
    "notifications": notifications_frame,
}


class Table:
    """Rows of one feed; :meth:`apply` takes each :class:`Records` event of it.

    ``version`` counts the changes (live charts redraw when it moved).
    """

    def __init__(self, feed: str) -> None:
        self.feed = feed
        self.version = 0
        self._lock = threading.Lock()
        self._build = FRAMES[feed]

    def apply(self, event: Records) -> None:
        with self._lock:
            self._apply(event)
            self.version += 1

    def _apply(self, event: Records) -> None:
        raise NotImplementedError

    def rows(self, symbol: str | None = None) -> Rows:
        with self._lock:
            return self._rows(symbol)

    def _rows(self, symbol: str | None) -> Rows:
        raise NotImplementedError

    def frame(self, symbol: str | None = None) -> pd.DataFrame:
        """The table as the frame of its feed (see the module docstring)."""
        return self._build(self.rows(symbol))

    def __len__(self) -> int:
        return len(self.rows())


class KeyedTable(Table):
    """Latest row per key; a snapshot replaces every row (open orders, tickers,
    notifications). ``merge`` folds an update into the row it updates (tickers:
    ``ticker_lite`` carries fewer fields than ``ticker``)."""

    def __init__(self, feed: str, key: str, *, merge: bool = False) -> None:
        super().__init__(feed)
        self.key = key
        self.merge = merge
        self._rows_by_key: dict[str, dict[str, Any]] = {}

    def _apply(self, event: Records) -> None:
        if event.snapshot:
            self._rows_by_key = {}
        for row in event.records:
            key = str(row.get(self.key))
            old = self._rows_by_key.get(key)
            self._rows_by_key[key] = {**old, **row} if self.merge and old else row
        for key in event.removed:
            self._rows_by_key.pop(key, None)

    def _rows(self, symbol: str | None) -> Rows:
        rows = list(self._rows_by_key.values())
        return rows if symbol is None else [r for r in rows if r.get("symbol") == symbol]


class RollingTable(Table):
    """The last ``maxlen`` rows of a history feed per group, each key once (trades per
    symbol, fills, account log): a snapshot after a reconnect repeats rows already
    held, and they are not added twice."""

    def __init__(
        self, feed: str, key: str, *, maxlen: int, group: str | None = None
    ) -> None:
        super().__init__(feed)
        self.key = key
        self.group = group
        self.maxlen = maxlen
        self._groups: dict[str | None, deque[dict[str, Any]]] = {}
        self._seen: dict[str | None, set[Any]] = {}

    def _apply(self, event: Records) -> None:
        for row in event.records:
            group = row.get(self.group) if self.group else None
            rows = self._groups.get(group)
            if rows is None:
                rows = self._groups[group] = deque()
                self._seen[group] = set()
            seen = self._seen[group]
            key = row.get(self.key)
            if key in seen:
                continue
            if len(rows) >= self.maxlen:
                seen.discard(rows.popleft().get(self.key))
            rows.append(row)
            seen.add(key)

    def _rows(self, symbol: str | None) -> Rows:
        if symbol is not None:
            return list(self._groups.get(symbol, ()))
        return [row for rows in self._groups.values() for row in rows]


class PositionTable(Table):
    """Open positions: every ``open_positions`` message lists them all."""

    def __init__(self) -> None:
        super().__init__("open_positions")
        self._positions: Rows = []

    def _apply(self, event: Records) -> None:
        self._positions = list(event.records)

    def _rows(self, symbol: str | None) -> Rows:
        rows = self._positions
        return list(rows) if symbol is None else [r for r in rows if r.get("symbol") == symbol]


class WalletTable(Table):
    """Wallets by name: a snapshot replaces them all; an update carries only the
    wallets that changed, and the cash wallet only the currencies that changed."""

    def __init__(self) -> None:
        super().__init__("balances")
        self._wallets: dict[str, dict[str, Any]] = {}

    def _apply(self, event: Records) -> None:
        if event.snapshot:
            self._wallets = {}
        for wallet in event.records:
            name = str(wallet["account"])
            old = self._wallets.get(name)
            if name == "cash" and old is not None and not event.snapshot:
                balances: Mapping[str, Any] = {**old["balances"], **wallet["balances"]}
                wallet = {**wallet, "balances": balances}
            self._wallets[name] = wallet

    def _rows(self, symbol: str | None) -> Rows:
        order = {"cash": 0, "flex": 2}  # as GET /accounts lists them
        return sorted(self._wallets.values(), key=lambda w: (order.get(w["account"], 1),
                                                             w["account"]))


def make_tables(*, trades_maxlen: int, history_maxlen: int) -> dict[str, Table]:
    """One table per table feed."""
    tables: Iterable[Table] = (
        KeyedTable("ticker", "symbol", merge=True),
        KeyedTable("ticker_lite", "symbol", merge=True),
        RollingTable("trade", "uid", maxlen=trades_maxlen, group="symbol"),
        KeyedTable("open_orders", "order_id"),
        RollingTable("fills", "fill_id", maxlen=history_maxlen),
        PositionTable(),
        WalletTable(),
        RollingTable("account_log", "booking_uid", maxlen=history_maxlen),
        KeyedTable("notifications", "id"),
    )
    return {table.feed: table for table in tables}
