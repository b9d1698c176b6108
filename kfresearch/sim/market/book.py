"""Order books of the synthetic market, one per contract and epoch second.

Best bid and ask straddle the mark with a spread of a few ticks drawn per
second (tight most of the time, wider now and then); deeper levels are on
the tick, mostly adjacent with a gap now and then, and their sizes grow with
distance. Public trades print at that second's best bid or ask
(:func:`quote_ticks` is shared with :mod:`kfresearch.sim.market.tape`).
Prices are USD on the contract's tick, sizes contracts on its size step.
"""

from __future__ import annotations

import threading

import numpy as np

from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.market.noise import LRU, key, uniform
from kfresearch.sim.market.params import F64, I64, liquidity, resolve, to_contracts
from kfresearch.sim.market.paths import PricePaths
from kfresearch.sim.source import Level

__all__ = ["BOOK_LEVELS", "Books", "quote_ticks"]

BOOK_LEVELS = 100  # levels per side drawn for every book


def quote_ticks(mark: F64, tick: float, spread: I64) -> tuple[I64, I64]:
    """Best bid and ask in ticks straddling ``mark`` with ``spread`` ticks between them.

    Trades and books both use this, so a trade always prints at that
    second's best bid or ask.
    """
    bid = np.rint(mark / tick - spread / 2.0).astype(np.int64)
    return bid, bid + spread


class Books:
    """The book of every contract at any second (see the module docstring)."""

    def __init__(self, seed: int, lock: threading.RLock, paths: PricePaths) -> None:
        self.seed = seed
        self._lock = lock
        self._paths = paths
        self._books: LRU[tuple[list[Level], list[Level]]] = LRU(256)

    def spread_ticks(self, symbol: str, seconds: I64) -> I64:
        """Quoted spread in ticks for each epoch second in ``seconds`` (int64 array)."""
        spec = resolve(symbol)
        lo, hi = liquidity(spec).spread_ticks
        u = uniform(key(self.seed, "spread", spec.symbol), seconds)
        # squared uniform: tight spreads most of the time, wider ones now and then
        out: I64 = lo + np.floor((hi - lo + 1) * u * u).astype(np.int64)
        return out

    def book(self, symbol: str, t_ms: int, depth: int = 25) -> tuple[list[Level], list[Level]]:
        """Order book at ``t_ms``: ``depth`` levels per side, best first.

        Bids strictly descending, asks strictly ascending, prices on the tick,
        sizes (contracts) on the size step. Deterministic per epoch second.
        """
        spec = resolve(symbol)
        depth = max(1, int(depth))
        second = int(t_ms) // 1000
        # the book is a function of the second: engines ask for it many times
        levels = max(depth, BOOK_LEVELS)
        with self._lock:
            bids, asks = self._books.get(
                (spec.symbol, second, levels), lambda: self._make_book(spec, second, levels)
            )
        return bids[:depth], asks[:depth]

    def _make_book(
        self, spec: InstrumentSpec, second: int, levels: int
    ) -> tuple[list[Level], list[Level]]:
        # always at least BOOK_LEVELS levels, so that a shallow book is the top
        # of the deeper one at the same second
        mark = np.array([self._paths.mark(spec.symbol, second * 1000)])
        spread = self.spread_ticks(spec.symbol, np.array([second], dtype=np.int64))
        bid0, ask0 = quote_ticks(mark, spec.tick_size, spread)
        rng = np.random.default_rng(key(self.seed, "book", spec.symbol, second))
        liq = liquidity(spec)
        sides: list[list[Level]] = []
        for best, direction in ((int(bid0[0]), -1), (int(ask0[0]), 1)):
            # mostly adjacent ticks, a gap of 2-3 ticks now and then
            gaps = 1 + (rng.random(levels) < 0.25) * rng.integers(1, 3, levels)
            gaps[0] = 0
            ticks = best + direction * np.cumsum(gaps)
            usd = (
                liq.level_usd
                * np.exp(0.8 * rng.standard_normal(levels))
                * (1.0 + 0.15 * np.arange(levels))
            )
            positive = ticks > 0
            prices = np.round(ticks[positive] * spec.tick_size, spec.tick_decimals)
            sizes = to_contracts(spec, usd[positive], prices)
            sides.append(list(zip(prices.tolist(), sizes.tolist(), strict=True)))
        return sides[0], sides[1]
