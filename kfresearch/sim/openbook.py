"""An account's open orders, indexed for the checks every new order runs.

Each order the engine judges asks three things of the account's open orders:
which symbols the account is active in, how much it has open to buy and to
sell in a symbol (the orders margin counts: not reduce-only, not waiting for a
trigger), and whether the order would meet one of the account's own resting
orders. Scanning every open order for each made an order's cost grow with the
book; :class:`OpenBook` keeps the answers up to date as orders are booked,
change and leave, so each answer costs the same however many orders rest.

An order on the book tells it when a field these answers read changes
(:meth:`kfresearch.sim.orders.Order.__setattr__`), so fills, edits and
triggers need no bookkeeping of their own. Open sizes are kept as exact sums
(the floats as fractions), so they equal ``math.fsum`` of the same sizes
whatever the order in which the orders came and went.

Example
-------
>>> from kfresearch.sim.orders import Order
>>> def limit(oid, side, size, price):
...     return Order(oid, "acc", "PF_XBTUSD", side, "lmt", size, price, None, None,
...                  False, None, 0, 0)
>>> book = OpenBook()
>>> bid, ask = limit("a", "buy", 0.3, 100.0), limit("b", "sell", 0.1, 110.0)
>>> book.add(bid); book.add(ask)
>>> bid.filled = 0.1  # a fill: the open size follows
>>> book.open_sizes("PF_XBTUSD")
(0.19999999999999998, 0.1)
>>> book.crosses(limit("c", "buy", 1.0, 120.0), reach=120.0)  # would meet our own ask
True
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from kfresearch.sim.orders import Order

__all__ = ["OpenBook"]

_ZERO = Fraction(0)


class _Entry(NamedTuple):
    """What one booked order adds to the book's answers, as it stood when last indexed."""

    symbol: str
    side: str
    open_size: Fraction  #: counted by margin (0 for reduce-only orders and waiting triggers)
    price: float | None  #: where it rests (None for waiting triggers and market orders)
    version: int  #: of its place among the resting prices
    waiting: bool  #: a trigger order waiting for its trigger


def _plus(kept: Fraction, size: float) -> float:
    """``float(kept + Fraction(size))``; a new order on an empty side (the usual case) is
    its own size: one exact term needs no fraction."""
    if not kept and size and math.isfinite(size):
        return float(size)
    return float(kept + Fraction(size))


class OpenBook:
    """Open orders of one account by symbol, their open sizes and own best resting prices."""

    def __init__(self) -> None:
        self._symbols: dict[str, int] = {}  # symbol -> open orders in it
        self._open: dict[tuple[str, str], Fraction] = {}  # (symbol, side) -> counted size
        self._entries: dict[str, _Entry] = {}  # order id -> its entry
        # (symbol, side) -> heap of (key, version, order id): key = price for sells and
        # -price for buys, so the top is the account's best resting price on that side;
        # entries whose version is no longer the order's are skipped (lazy deletion)
        self._prices: dict[tuple[str, str], list[tuple[float, int, str]]] = {}
        self._version = 0
        self._waiting = 0  # trigger orders waiting for their trigger

    # -- keeping up ------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Book ``order``; from now on its changes update the book."""
        if order.order_id in self._entries:
            self.remove(order)
        self._index(order)
        order.__dict__["_book"] = self

    def remove(self, order: Order) -> None:
        """Take ``order`` off the book (it no longer reports its changes)."""
        if self._entries.get(order.order_id) is None:
            return
        self._unindex(order.order_id)
        order.__dict__.pop("_book", None)

    def before_change(self, order: Order) -> None:
        """``order`` is about to change a field the book reads: take out what it adds."""
        self._unindex(order.order_id)

    def after_change(self, order: Order) -> None:
        """``order`` changed (see :meth:`before_change`): add what it adds now."""
        self._index(order)

    def _index(self, order: Order) -> None:
        counted = not order.is_trigger and not order.reduce_only
        size = Fraction(order.unfilled) if counted else _ZERO
        resting = not order.is_trigger and order.limit_price is not None
        price = float(order.limit_price) if resting and order.limit_price is not None else None
        self._version += 1
        entry = _Entry(order.symbol, order.side, size, price, self._version, order.is_trigger)
        self._entries[order.order_id] = entry
        self._waiting += entry.waiting
        self._symbols[entry.symbol] = self._symbols.get(entry.symbol, 0) + 1
        key = (entry.symbol, entry.side)
        if size:
            held = self._open.get(key)
            self._open[key] = size if held is None else held + size
        if price is not None:
            heap = self._prices.setdefault(key, [])
            heapq.heappush(
                heap, (price if entry.side == "sell" else -price, entry.version, order.order_id)
            )
            if len(heap) > 2 * len(self._entries) + 64:  # mostly stale: keep it small
                heap[:] = [item for item in heap if self._current(item)]
                heapq.heapify(heap)

    def _current(self, item: tuple[float, int, str]) -> bool:
        entry = self._entries.get(item[2])
        return entry is not None and entry.version == item[1]

    def _unindex(self, order_id: str) -> None:
        entry = self._entries.pop(order_id)
        self._waiting -= entry.waiting
        left = self._symbols[entry.symbol] - 1
        if left:
            self._symbols[entry.symbol] = left
        else:
            del self._symbols[entry.symbol]
        key = (entry.symbol, entry.side)
        if entry.open_size:
            held = self._open[key]
            rest = _ZERO if held == entry.open_size else held - entry.open_size  # alone: no sum
            if rest:
                self._open[key] = rest
            else:
                del self._open[key]
        # its heap entry goes stale: the version no longer matches

    # -- answers ---------------------------------------------------------------------
    def symbols(self) -> set[str]:
        """Symbols with at least one open order."""
        return set(self._symbols)

    @property
    def symbol_counts(self) -> Mapping[str, int]:
        """Open orders per symbol (symbols with none are absent); a live view, not a copy."""
        return self._symbols

    @property
    def waiting(self) -> int:
        """How many trigger orders wait for their trigger."""
        return self._waiting

    def best(self, symbol: str, side: str) -> float | None:
        """The account's best resting price on one side of ``symbol`` (highest bid, lowest ask)."""
        return self._best((symbol, side), "")

    def open_sizes(self, symbol: str, extra: Order | None = None) -> tuple[float, float]:
        """(buy, sell) size open in ``symbol`` that margin counts, in contracts.

        ``extra`` is counted as if it were booked, in place of a booked order with
        its id (a new order, a trigger being activated, an order as an edit would
        leave it).
        """
        buys = self._open.get((symbol, "buy"), _ZERO)
        sells = self._open.get((symbol, "sell"), _ZERO)
        if extra is None or extra.symbol != symbol:
            return float(buys), float(sells)
        booked = self._entries.get(extra.order_id)
        if booked is not None and booked.symbol == symbol:
            if booked.side == "buy":
                buys -= booked.open_size
            else:
                sells -= booked.open_size
        if extra.is_trigger or extra.reduce_only:
            return float(buys), float(sells)
        if extra.side == "buy":
            return _plus(buys, extra.unfilled), float(sells)
        return float(buys), _plus(sells, extra.unfilled)

    def crosses(self, order: Order, reach: float) -> bool:
        """Whether another resting order of the account on the other side of ``order``'s
        symbol is priced at or inside ``reach`` (a buy meets asks at or below it, a sell
        bids at or above it)."""
        other = "sell" if order.side == "buy" else "buy"
        best = self._best((order.symbol, other), order.order_id)
        if best is None:
            return False
        return order.sign * (reach - best) >= 0

    def _best(self, key: tuple[str, str], besides: str) -> float | None:
        """The best resting price on one side, leaving out order ``besides``."""
        heap = self._prices.get(key)
        if not heap:
            return None
        held: list[tuple[float, int, str]] = []
        best: float | None = None
        while heap:
            top = heap[0]
            if not self._current(top):
                heapq.heappop(heap)  # stale: the order left or changed
                continue
            if top[2] == besides:
                held.append(heapq.heappop(heap))
                continue
            best = top[0] if key[1] == "sell" else -top[0]
            break
        for item in held:
            heapq.heappush(heap, item)
        if not heap:
            del self._prices[key]
        return best
