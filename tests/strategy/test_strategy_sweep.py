"""Acceptance: a 16-point sweep gives the same frame on local processes and on a 2-worker
Dask LocalCluster; and the grid, the frame's shape and the heatmap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kfresearch.errors import ValidationError
from kfresearch.strategy import STAT_UNITS, grid_points, sweep, sweep_heatmap

from .conftest import SYMBOL, WINDOW_SINCE, SmaCross

GRID = {"fast": [2, 3, 4, 5], "slow": [8, 10, 12, 15]}
UNTIL = pd.Timestamp(WINDOW_SINCE) + pd.Timedelta(minutes=45)


def test_grid_points_cover_every_combination_in_order() -> None:
    points = grid_points(GRID)
    assert len(points) == 16
    assert points[:2] == [{"fast": 2, "slow": 8}, {"fast": 2, "slow": 10}]
    with pytest.raises(ValidationError, match="no values"):
        grid_points({"fast": []})


@pytest.fixture(scope="module")
def in_process(sim_store: Path) -> pd.DataFrame:
    return sweep(SmaCross, GRID, store=sim_store, symbols=SYMBOL, since=WINDOW_SINCE,
                 until=UNTIL, seed=3, workers=1)


def test_sweep_frame_has_parameters_then_statistics(in_process: pd.DataFrame) -> None:
    assert list(in_process.columns) == ["fast", "slow", *STAT_UNITS]
    assert len(in_process) == 16
    assert (in_process["fills"] > 0).all()
    # different parameters trade differently
    assert in_process["net_pnl_usd"].nunique() > 1
    fig = sweep_heatmap(in_process, "fast", "slow", "net_pnl_usd")
    heat = fig.data[0]
    assert list(heat.x) == ["2", "3", "4", "5"]
    assert list(heat.y) == ["8", "10", "12", "15"]
    row = in_process[(in_process["fast"] == 3) & (in_process["slow"] == 12)].iloc[0]
    assert heat.z[2][1] == pytest.approx(row["net_pnl_usd"])


@pytest.mark.slow
def test_local_processes_and_dask_give_the_same_frame(
    sim_store: Path, in_process: pd.DataFrame
) -> None:
    distributed = pytest.importorskip("dask.distributed")
    local = sweep(SmaCross, GRID, store=sim_store, symbols=SYMBOL, since=WINDOW_SINCE,
                  until=UNTIL, seed=3, workers=2)
    pd.testing.assert_frame_equal(local, in_process)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = sweep(SmaCross, GRID, store=sim_store, symbols=SYMBOL, since=WINDOW_SINCE,
                        until=UNTIL, seed=3, client=client)
    pd.testing.assert_frame_equal(on_dask, local)
