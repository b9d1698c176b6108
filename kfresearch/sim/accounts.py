"""The records of one paper account: wallets, positions, orders, fills, the account log and history.

Only the records live here, and how they are listed and paged. They change
through a :class:`~kfresearch.sim.ledger.Ledger` (which also keeps them), by
the rules of the engine (:mod:`kfresearch.sim.engine`). Amounts are in the
wallet's currency, sizes in contracts, times in epoch milliseconds.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kfresearch.sim.formats import SimError, dec, iso
from kfresearch.sim.margin import HOUR_MS
from kfresearch.sim.openbook import OpenBook
from kfresearch.sim.orders import Order

__all__ = [
    "STARTING_WALLETS",
    "Account",
    "Fill",
    "HistoryItem",
    "LogEntry",
    "Position",
    "page_history",
    "select_log",
]

# A fresh paper account (the brief of the simulator): USD in the multi-collateral
# wallet, coin in the single-collateral wallets of the inverse contracts.
STARTING_WALLETS: dict[str, dict[str, float]] = {
    "flex": {"USD": 100_000.0},
    "cash": {},
    "fi_xbtusd": {"XBT": 1.0},
    "fi_ethusd": {"ETH": 10.0},
}


@dataclass
class Position:
    """A net position: signed size in contracts, average entry price in USD.

    ``unrealized_funding`` accrues in the settlement currency within the hour
    and is realised into the wallet at the hour's end or when the size changes.
    """

    symbol: str
    size: float
    entry: float
    fill_time_ms: int
    funding_accrued: float = 0.0  # x HOUR_MS, see margin.funding_accrual

    @property
    def unrealized_funding(self) -> float:
        return self.funding_accrued / HOUR_MS


@dataclass(frozen=True)
class Fill:
    """One execution of one of the account's orders."""

    fill_id: str
    order_id: str
    cli_ord_id: str | None
    symbol: str
    side: str
    quantity: float
    price: float
    time_ms: int
    fill_type: str  # maker | taker | takerAfterEdit | liquidation
    fee: float
    fee_rate: float  # fraction of notional charged (the account's tier when it filled)
    fee_currency: str
    order_type: str  # the filled order's effective type (lmt, ioc, mkt …)
    remaining: float  # the order's unfilled size after this fill

    def v3(self) -> dict[str, Any]:
        """A ``fills[]`` row of ``GET /fills`` (decimals as strings)."""
        body: dict[str, Any] = {
            "fill_id": self.fill_id,
            "symbol": self.symbol,
            "side": self.side,
            "order_id": self.order_id,
        }
        if self.cli_ord_id is not None:
            body["cliOrdId"] = self.cli_ord_id
        body |= {
            "size": dec(self.quantity),
            "price": dec(self.price),
            "fillTime": iso(self.time_ms),
            "fillType": self.fill_type,
        }
        return body

    def ws(self, seq: int, *, update: bool) -> dict[str, Any]:
        """A fill of the ``fills`` feed; ``cli_ord_id`` only on updates (as ccxt observed)."""
        body: dict[str, Any] = {
            "instrument": self.symbol,
            "time": self.time_ms,
            "price": self.price,
            "seq": seq,
            "buy": self.side == "buy",
            "qty": self.quantity,
            "remaining_order_qty": self.remaining,
            "order_id": self.order_id,
            "fill_id": self.fill_id,
            "fill_type": self.fill_type,
            "fee_paid": self.fee,
            "fee_currency": "BTC" if self.fee_currency == "XBT" else self.fee_currency,
            "taker_order_type": "market" if self.order_type == "mkt" else self.order_type,
            "order_type": "limit" if self.order_type in {"lmt", "post"} else self.order_type,
        }
        if update and self.cli_ord_id is not None:
            body["cli_ord_id"] = self.cli_ord_id
        return body


@dataclass(kw_only=True)
class LogEntry:
    """An account-log row (history service ``AccountLogEntry``); amounts are numbers or null.

    ``id`` counts the account's entries from 1; the ledger stamps it when it
    keeps the entry (0 until then).
    """

    id: int = 0
    booking_uid: str
    date_ms: int
    asset: str
    info: str
    margin_account: str
    old_balance: float
    new_balance: float
    contract: str | None = None
    collateral: str | None = None
    execution: str | None = None
    fee: float | None = None
    funding_rate: float | None = None
    mark_price: float | None = None
    trade_price: float | None = None
    old_average_entry_price: float | None = None
    new_average_entry_price: float | None = None
    realized_pnl: float | None = None
    realized_funding: float | None = None
    conversion_spread_percentage: float | None = None
    liquidation_fee: float | None = None

    def json(self) -> dict[str, Any]:
        body = asdict(self)
        body["date"] = iso(body.pop("date_ms"))
        return dict(sorted(body.items()))


@dataclass(frozen=True)
class HistoryItem:
    """One event of the history service; ``tags`` carry what its filters select on."""

    seq: int
    uid: str
    timestamp_ms: int
    tradeable: str
    body: dict[str, Any]
    tags: frozenset[str] = frozenset()

    def element(self) -> dict[str, Any]:
        """``{uid, timestamp, event}``, the timestamp a string as in recorded bodies."""
        return {"uid": self.uid, "timestamp": str(self.timestamp_ms), "event": self.body}


@dataclass
class Account:
    """Everything kept for one ``account_id``; ``ws_seq`` is the feeds' own counter (not kept)."""

    account_id: str
    uid: str
    number: int
    created_ms: int
    wallets: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            name: dict(balances) for name, balances in STARTING_WALLETS.items()
        }
    )
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)  # every order ever accepted, by id
    open_orders: dict[str, Order] = field(default_factory=dict)
    # the open orders again, indexed for the checks of each new order (kept by the ledger)
    book: OpenBook = field(default_factory=OpenBook, repr=False, compare=False)
    cli_ids: dict[str, str] = field(default_factory=dict)  # cliOrdId -> order id, never released
    fills: list[Fill] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    history: dict[str, list[HistoryItem]] = field(
        default_factory=lambda: {
            kind: [] for kind in ("executions", "orders", "triggers", "positions")
        }
    )
    leverage: dict[str, float] = field(default_factory=dict)  # symbol -> maxLeverage (isolated)
    pnl_currency: dict[str, str] = field(default_factory=dict)
    dms_trigger_ms: int | None = None
    ws_seq: dict[str, int] = field(default_factory=dict)
    self_trade_strategy: str = "REJECT_TAKER"  # stored; matching always rejects the taker

    def balance(self, wallet: str, currency: str) -> float:
        return self.wallets.get(wallet, {}).get(currency, 0.0)

    def position_size(self, symbol: str) -> float:
        """Signed size of the position in ``symbol`` (0 when none is held)."""
        position = self.positions.get(symbol)
        return position.size if position else 0.0

    def active_symbols(self) -> set[str]:
        """Symbols the account holds a position or an open order in."""
        return set(self.positions) | self.book.symbols()

    def find_order(self, order_id: str | None, cli_ord_id: str | None) -> Order | None:
        """An order by exchange id, else by client id (open or closed)."""
        if order_id:
            return self.orders.get(order_id)
        if cli_ord_id:
            found = self.cli_ids.get(cli_ord_id)
            return self.orders.get(found) if found else None
        return None

    def next_seq(self, feed: str) -> int:
        self.ws_seq[feed] = self.ws_seq.get(feed, -1) + 1
        return self.ws_seq[feed]


def _token(sort: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{sort}:{seq}".encode()).decode()


def _untoken(token: str, sort: str) -> int:
    try:
        kind, seq = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if kind != sort:
            raise ValueError(kind)
        return int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise SimError("invalidArgument", status=400) from None


def page_history(
    items: Sequence[HistoryItem],
    *,
    since: int | None,
    before: int | None,
    sort: str,
    count: int,
    token: str | None,
    keep: Callable[[HistoryItem], bool],
) -> tuple[list[HistoryItem], str | None]:
    """One page of history events and the continuation token of the next page, if any.

    ``since`` is inclusive and ``before`` exclusive (epoch ms). The token
    encodes the sort and the sequence number of the next event, so a page stays
    stable while new events are appended.
    """
    ordered = list(items) if sort == "asc" else list(reversed(items))
    if token:
        start = _untoken(token, sort)
        ordered = [i for i in ordered if (i.seq >= start if sort == "asc" else i.seq <= start)]
    chosen = [
        item
        for item in ordered
        if (since is None or item.timestamp_ms >= since)
        and (before is None or item.timestamp_ms < before)
        and keep(item)
    ]
    page = chosen[:count]
    following = _token(sort, chosen[count].seq) if len(chosen) > count else None
    return page, following


def select_log(
    log: Sequence[LogEntry],
    *,
    since: int | None,
    before: int | None,
    first_id: int | None,
    last_id: int | None,
    info: str | None,
    sort: str,
    count: int,
) -> list[LogEntry]:
    """Account-log rows by time (``since`` in, ``before`` out) and id range (both inclusive)."""
    chosen = [
        entry
        for entry in log
        if (since is None or entry.date_ms >= since)
        and (before is None or entry.date_ms < before)
        and (first_id is None or entry.id >= first_id)
        and (last_id is None or entry.id <= last_id)
        and (info is None or entry.info == info)
    ]
    if sort == "desc":
        chosen.reverse()
    return chosen[:count]
