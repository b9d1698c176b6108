"""The store directory read unchanged by other engines: the documented Polars and Dask examples.

These are the examples of the :mod:`kfresearch.store` docstring and notebook
10, run as written: no home-made engine, no conversion step.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kfresearch
from kfresearch.store import Store


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, kf: kfresearch.Client) -> Path:
    root = tmp_path_factory.mktemp("engines") / "data"
    store = Store(root, kf, progress=False)
    for symbol in ("PF_XBTUSD", "PF_ETHUSD"):
        store.download("candles", symbol, since="3d", resolution="1m")
    return root


def test_polars_reads_the_store_with_its_partitions(data: Path, kf: kfresearch.Client) -> None:
    import polars as pl

    daily = (
        pl.scan_parquet(data / "candles" / "**" / "*.parquet", hive_partitioning=True)
        .filter(pl.col("resolution") == "1m")
        .group_by("symbol", "date")
        .agg(pl.len().alias("minutes"), pl.col("volume").sum(), pl.col("close").last())
        .sort("symbol", "date")
        .collect()
    )
    assert daily.shape == (6, 5)
    assert daily["minutes"].to_list() == [1440] * 6
    assert daily.schema["date"] == pl.Date
    direct = kf.candles("PF_XBTUSD", "1m", since="3d", progress=False)
    xbt = daily.filter(pl.col("symbol") == "PF_XBTUSD")
    assert xbt["volume"].sum() == pytest.approx(direct["volume"].sum())
    frame = pl.read_parquet(data / "candles" / "symbol=PF_XBTUSD" / "**" / "*.parquet")
    assert frame.schema["time"] == pl.Datetime("ns", "UTC")
    assert frame.height == 3 * 1440


@pytest.mark.slow
def test_dask_on_a_two_worker_local_cluster_reads_the_store(data: Path) -> None:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        candles = dd.read_parquet(str(data / "candles"))
        assert candles.npartitions >= 6  # one per stored file
        per_symbol = candles.groupby("symbol")["volume"].sum().compute()
    expected = Store(data).read("candles", symbol="PF_ETHUSD", tick_type="trade", resolution="1m")
    assert per_symbol["PF_ETHUSD"] == pytest.approx(expected["volume"].sum())
    assert isinstance(per_symbol, pd.Series)
