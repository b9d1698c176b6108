"""Live data from the exchange's WebSocket: order books that are never wrong, live tables,
callbacks, async iterators and live charts.

Quick start (a notebook; in a script drop the ``await``)::

    import kfresearch
    kf = kfresearch.connect("sim")
    s = kf.stream()
    await s.subscribe("book", ["PF_XBTUSD"])
    s.book("PF_XBTUSD").frame()          # exactly what kf.orderbook("PF_XBTUSD") returns
    await s.subscribe("trade", ["PF_XBTUSD"])
    s.trades("PF_XBTUSD")                # rolling window, the columns of kf.trades()
    s.on("fill", lambda m: print(m.record["price"]))
    async for msg in s.messages("trade"):
        ...
    s.close()

Where it runs
    In JupyterLab the stream is a task on the kernel's own event loop: cells
    stay responsive, nothing needs ``nest_asyncio``. Calls that wait
    (``subscribe``, ``sync``, ``close``) return something to ``await`` there,
    because blocking the loop would freeze the stream. In a plain script the
    stream runs a loop in a background thread and the same calls block until
    done. ``async with kf.stream() as s:`` runs it on your loop. The one rule,
    as in every asyncio program: callbacks must not block the loop.

Feeds (:data:`FEEDS`)
    Public, per product: ``book``, ``trade``, ``ticker``, ``ticker_lite``,
    ``heartbeat``. Account feeds (the key's account; signed with the
    exchange's challenge, reference §3.2): ``open_orders``, ``fills``,
    ``open_positions``, ``balances``, ``account_log``, ``notifications``.

Books (:class:`LiveBook`)
    A snapshot, then deltas checked one by one: a gap in ``seq``, a crossed
    book or a negative size stops the book, which is fetched again
    (unsubscribe + subscribe); ``stream.stats()`` counts ``resyncs`` and
    their causes. ``book.frame()`` is :func:`kfresearch.frames.orderbook` of
    the current levels.

Live tables
    ``tickers()``, ``trades()``, ``open_orders()``, ``fills()``,
    ``positions()``, ``accounts()``, ``account_log()``, ``notifications()``:
    the frames of the client's methods of the same names, kept up to date in
    place (:mod:`kfresearch.stream.tables`).

Reacting
    ``stream.on(feed, fn)`` calls ``fn(message)`` on the stream's loop
    (coroutine functions run as tasks); ``stream.messages(feed)`` is an async
    (or, in scripts, plain) iterator. Both get :class:`Message` objects whose
    ``records`` are rows in the frames' vocabulary; snapshots (``initial``)
    only when asked for.

Connection
    Protocol pings every 30 s (the exchange's window is 60 s), the heartbeat
    feed, a reconnect after ``stale_after`` seconds of silence, reconnection
    with exponential backoff and jitter, then every subscription asked again
    (private ones with a fresh challenge), every book rebuilt from a fresh
    snapshot, and rolling tables de-duplicated. A refused subscription raises
    :class:`~kfresearch.errors.SubscriptionError` (when awaited, or at once in
    a script), is logged, and goes to ``on("error")`` callbacks.

Reproducible notebooks
    ``env="sim"`` serves the feed in-process from the simulator, whose clock
    moves only when told: ``kf.sim.advance(ms)`` then ``await s.sync()``
    leaves books and tables exactly as the exchange publishes them at that
    time.

Live charts (:mod:`kfresearch.stream.charts`)
    :func:`live_depth`, :func:`live_candles` (candles built from trades,
    :func:`candles_from_trades`), :func:`live_heatmap`, :func:`live_tape`: a
    ``FigureWidget`` redrawn at most ``fps`` times a second however fast
    messages come.

Protocols
    The wire format lives behind :class:`~kfresearch.stream.protocol.WireProtocol`
    (:class:`~kfresearch.stream.v1.KrakenV1` today); a second protocol plugs
    in by producing the same :mod:`~kfresearch.stream.events`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kfresearch.stream.book import LiveBook
from kfresearch.stream.candles import candles_from_trades
from kfresearch.stream.delivery import Message, MessageIterator
from kfresearch.stream.protocol import FEEDS, PRIVATE_FEEDS, PUBLIC_FEEDS, WireProtocol
from kfresearch.stream.stream import Stream, Subscription
from kfresearch.stream.v1 import KrakenV1
from kfresearch.stream.waiting import Waitable

if TYPE_CHECKING:
    from kfresearch.stream.charts import (
        LiveChart,
        live_candles,
        live_depth,
        live_heatmap,
        live_tape,
    )

__all__ = [
    "FEEDS",
    "PRIVATE_FEEDS",
    "PUBLIC_FEEDS",
    "KrakenV1",
    "LiveBook",
    "LiveChart",
    "Message",
    "MessageIterator",
    "Stream",
    "Subscription",
    "Waitable",
    "WireProtocol",
    "candles_from_trades",
    "live_candles",
    "live_depth",
    "live_heatmap",
    "live_tape",
]

# the live charts import plotly: only when first used
_CHARTS = frozenset({"LiveChart", "live_candles", "live_depth", "live_heatmap", "live_tape"})


def __getattr__(name: str) -> Any:
    if name in _CHARTS:
        return getattr(importlib.import_module("kfresearch.stream.charts"), name)
    raise AttributeError(f"module 'kfresearch.stream' has no attribute {name!r}")
