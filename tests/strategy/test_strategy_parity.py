"""Acceptance: one strategy object, the same fills from a backtest of a stored window and
from run() on the simulator driven over the same window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kfresearch
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.store import Store
from kfresearch.strategy import Result, backtest, run

from .conftest import SYMBOL, WINDOW_SINCE, WINDOW_UNTIL, SmaCross

FILL_COLUMNS = ["symbol", "side", "size", "price", "notional_usd", "fee", "fee_currency",
                "fill_type"]


@pytest.fixture(scope="module")
def both(sim_store: Path) -> tuple[Result, Result, SmaCross]:
    strategy = SmaCross(fast=5, slow=20, size=0.1)
    tested = backtest(strategy, Store(sim_store), SYMBOL, WINDOW_SINCE, WINDOW_UNTIL, seed=42)
    exchange = SimExchange(seed=42, clock=SimClock.fixed(WINDOW_SINCE))
    kf = kfresearch.connect("sim", exchange=exchange)
    ran = run(strategy, kf, SYMBOL, until=WINDOW_UNTIL)
    return tested, ran, strategy


def test_backtest_and_run_fill_identically(both: tuple[Result, Result, SmaCross]) -> None:
    tested, ran, _ = both
    assert len(tested.fills) >= 4  # the rule traded: the comparison is not vacuous
    pd.testing.assert_frame_equal(tested.fills[FILL_COLUMNS], ran.fills[FILL_COLUMNS])
    pd.testing.assert_frame_equal(tested.funding, ran.funding)
    pd.testing.assert_frame_equal(tested.equity, ran.equity)
    pd.testing.assert_series_equal(tested.stats, ran.stats)


def test_the_strategy_object_is_left_as_it_was(both: tuple[Result, Result, SmaCross]) -> None:
    tested, ran, strategy = both
    assert strategy == SmaCross(fast=5, slow=20, size=0.1)
    assert tested.params == ran.params == {"fast": 5, "slow": 20, "size": 0.1}


def test_backtest_is_deterministic_for_a_seed(sim_store: Path, both: tuple[Result, Result, SmaCross]) -> None:
    again = backtest(SmaCross(fast=5, slow=20, size=0.1), Store(sim_store), SYMBOL,
                     WINDOW_SINCE, WINDOW_UNTIL, seed=42)
    pd.testing.assert_frame_equal(again.fills, both[0].fills)
    pd.testing.assert_frame_equal(again.orders, both[0].orders)
