"""demo's own WebSocket v1: the upstream's real market on public feeds, the paper account
on private ones.

``kf.stream()`` on a ``demo`` client runs :class:`DemoFeedSession` in-process
(as ``sim`` runs :class:`~kfresearch.sim.ws.FeedSession`). Public feeds relay
what the live source holds from the upstream: ``book`` is its book (streamed,
or polled when the upstream's socket is down), ``trade`` its trades with the
upstream's own uids, ``ticker`` the upstream's latest ticker message as it
was sent (a ``GET /tickers`` row renamed to v1's names when it came by REST).
Private feeds (``fills``, ``open_orders``, ``open_positions``, ``balances``,
``account_log``) are the paper engine's, exactly as on ``sim``.
"""

from __future__ import annotations

from typing import Any

from kfresearch.sim.ws import FeedSession

__all__ = ["DemoFeedSession"]

# the fields of a ticker_lite message (reference §3, ticker_lite)
_LITE = ("bid", "ask", "change", "premium", "volume", "tag", "pair", "dtm", "maturityTime",
         "volumeQuote")


class DemoFeedSession(FeedSession):
    """One demo WebSocket connection (see the module docstring)."""

    def _ticker(self, symbol: str, now: int, *, lite: bool) -> dict[str, Any]:
        feed = "ticker_lite" if lite else "ticker"
        message: dict[str, Any] | None = self.exchange.market.v1_ticker(symbol)
        if message is None:
            return {"feed": feed, "product_id": symbol, "suspended": True}
        if lite:
            return {"feed": feed, "product_id": symbol} | {
                k: message[k] for k in _LITE if k in message
            }
        return message | {"feed": feed, "product_id": symbol}
