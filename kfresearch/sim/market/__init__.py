"""The seeded synthetic market (``sim``): see :mod:`kfresearch.sim.market.synthetic`.

A small package: noise, index/premium paths, book, tape, funding, candles,
and :class:`SyntheticMarket`, which puts them together.
"""

from kfresearch.sim.market.candles import RESOLUTIONS, Candles, TickType
from kfresearch.sim.market.params import MINUTE_MS, STEP_MS
from kfresearch.sim.market.synthetic import HISTORY_DAYS, SyntheticMarket
from kfresearch.sim.market.tape import Stats24h, Trades

__all__ = [
    "HISTORY_DAYS",
    "MINUTE_MS",
    "RESOLUTIONS",
    "STEP_MS",
    "Candles",
    "Stats24h",
    "SyntheticMarket",
    "TickType",
    "Trades",
]
