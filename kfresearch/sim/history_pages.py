"""Built pages of the public history listings, kept by request so a page is built once.

A page of 1,000 public executions costs the simulator ~0.1–0.3 s of Python
(a UUID and a dozen decimal strings per execution), and the simulator answers
one request at a time: a client paging a day of trades in parallel sub-ranges
waits on the server, not on the network, and ccxt's serial paging waits just
as long. A real exchange serves such pages from storage. So a built page is
kept, as the JSON bytes it is sent as, under everything that decides its
content: the listing, the contract, the request's window (``since``,
``before`` after clamping, order, count, cursor) and whatever else the
listing says (the orders listing: how far its trades reach), on the
:class:`~kfresearch.sim.market.synthetic.SyntheticMarket` that built it.

That is sound because the synthetic market is a pure function of its seed:
the trades of a window that lies in the past never change, and a window
reaching ``now`` is clamped to ``now`` (so its key moves with the clock).
Pages are dropped least recently used past :data:`CACHE_BYTES` per market.

Example
-------
>>> pages = Pages(limit=10)
>>> pages.get(("k",), lambda: (b"{}", None))
(b'{}', None)
>>> pages.get(("k",), lambda: (b"never built", None))
(b'{}', None)
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["CACHE_BYTES", "Built", "Pages", "pages_of"]

CACHE_BYTES = 64 * 2**20
"""Bytes of built pages kept per market (a day of PF_XBTUSD executions is ~22 MB)."""

Built = tuple[bytes, str | None]
"""A page's JSON bytes and its continuation token (None on the last page)."""


class Pages:
    """Built pages by key, least recently used dropped past ``limit`` bytes (thread-safe)."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._pages: OrderedDict[Hashable, Built] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Built]) -> Built:
        """The page of ``key``, built by ``build()`` the first time (outside this lock)."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        page = build()
        with self._lock:
            if key not in self._pages and len(page[0]) <= self.limit:
                self._pages[key] = page
                self._bytes += len(page[0])
                while self._bytes > self.limit:
                    _, dropped = self._pages.popitem(last=False)
                    self._bytes -= len(dropped[0])
        return page


_BY_MARKET: weakref.WeakKeyDictionary[object, Pages] = weakref.WeakKeyDictionary()
_BY_MARKET_LOCK = threading.Lock()


def pages_of(market: object) -> Pages:
    """The page cache of ``market`` (made on first use, gone with the market)."""
    with _BY_MARKET_LOCK:
        pages = _BY_MARKET.get(market)
        if pages is None:
            pages = _BY_MARKET[market] = Pages()
        return pages
