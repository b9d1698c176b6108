"""Parameters of the synthetic market: its time grid, each coin's volatility, each contract's
liquidity, and the contracts it prices.

Times are epoch milliseconds; notionals USD.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from kfresearch.sim.instruments import DAY_MS, HOUR_MS, InstrumentSpec, spec_for

__all__ = [
    "ASSETS",
    "DAY_MS",
    "F64",
    "HOUR_MS",
    "I64",
    "MINUTES",
    "MINUTE_MS",
    "NODES",
    "NODES_PER_MINUTE",
    "STEP_MS",
    "YEAR_MS",
    "Asset",
    "Bool",
    "Liquidity",
    "liquidity",
    "resolve",
    "to_contracts",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

STEP_MS = 5_000
"""Spacing of the index/mark grid: both change at most every 5 seconds."""
MINUTE_MS = 60_000
NODES = DAY_MS // STEP_MS  # 17,280 nodes per UTC day
MINUTES = DAY_MS // MINUTE_MS  # 1,440
NODES_PER_MINUTE = MINUTE_MS // STEP_MS  # 12
YEAR_MS = 365 * DAY_MS


@dataclass(frozen=True)
class Asset:
    """How a coin moves."""

    daily_vol: float  # std of a daily log return in a normal regime
    beta: float  # loading on the common crypto factor (correlation ≈ beta_a × beta_b)


ASSETS: dict[str, Asset] = {
    "XBT": Asset(0.025, 0.92),
    "ETH": Asset(0.034, 0.88),
    "SOL": Asset(0.045, 0.78),
    "XRP": Asset(0.040, 0.68),
    "DOGE": Asset(0.050, 0.72),
    "ADA": Asset(0.042, 0.72),
    "LINK": Asset(0.044, 0.72),
    "LTC": Asset(0.036, 0.72),
}


@dataclass(frozen=True)
class Liquidity:
    """How busy a contract is."""

    trades_per_minute: float  # mean of the Poisson part (one more is always added)
    spread_ticks: tuple[int, int]  # inclusive range of the quoted spread, in ticks
    trade_usd: float  # median trade notional, USD
    level_usd: float  # median size of the best book level, USD
    open_interest_usd: float  # typical open interest, USD notional


_LIQUIDITY: dict[str, Liquidity] = {
    "PF_XBTUSD": Liquidity(20, (1, 3), 6_000, 60_000, 300e6),
    "PF_ETHUSD": Liquidity(14, (1, 3), 4_000, 40_000, 150e6),
    "PF_SOLUSD": Liquidity(8, (1, 3), 2_500, 20_000, 60e6),
    "PF_XRPUSD": Liquidity(6, (1, 4), 2_000, 15_000, 40e6),
    "PF_DOGEUSD": Liquidity(5, (10, 30), 1_500, 10_000, 25e6),
    "PF_ADAUSD": Liquidity(3, (2, 6), 1_000, 8_000, 12e6),
    "PF_LINKUSD": Liquidity(3, (1, 4), 1_000, 8_000, 10e6),
    "PF_LTCUSD": Liquidity(3, (1, 3), 1_000, 8_000, 10e6),
    "PI_XBTUSD": Liquidity(6, (1, 4), 5_000, 50_000, 120e6),
    "PI_ETHUSD": Liquidity(3, (1, 3), 3_000, 20_000, 30e6),
}
_DATED_LIQUIDITY = Liquidity(1.5, (2, 8), 4_000, 25_000, 20e6)


def liquidity(spec: InstrumentSpec) -> Liquidity:
    """The contract's liquidity (dated contracts share one)."""
    return _LIQUIDITY.get(spec.symbol, _DATED_LIQUIDITY)


@functools.lru_cache(maxsize=256)
def _spec(symbol: str) -> InstrumentSpec | None:
    return spec_for(symbol)


def resolve(symbol: str) -> InstrumentSpec:
    """The contract named ``symbol`` (upper case), listed or not.

    Raises
    ------
    KeyError
        For a name that is no contract of the catalog.
    """
    spec = _spec(symbol.upper())
    if spec is None:
        raise KeyError(f"unknown contract {symbol!r}")
    return spec


def spec_of(symbol: str) -> InstrumentSpec | None:
    """The contract named ``symbol`` (upper case), or None."""
    return _spec(symbol.upper())


def to_contracts(spec: InstrumentSpec, usd: F64, price: F64) -> F64:
    """USD notionals to sizes in contracts on the size step (at least one step)."""
    raw = usd / spec.contract_size if spec.is_inverse else usd / (price * spec.contract_size)
    steps = np.maximum(np.rint(raw / spec.size_step), 1.0)
    out: F64 = np.round(steps * spec.size_step, max(spec.precision, 0))
    return out
