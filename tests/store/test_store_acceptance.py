"""Issue 15's acceptance: 90 days of 1m candles for 3 symbols, killed half-way, resumed.

The first run is a separate process that SIGKILLs itself (kill -9) half-way
through, at the worst moment: a data file renamed into place, its manifest
not yet written. The second run, in this process, must fetch exactly the
missing days (asserted on the requests the simulator answered) and leave
exactly one row per minute per symbol. The same dataset then serves the
partition-pruning checks (files pyarrow opened; DuckDB's plan).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import kfresearch
from kfresearch.sim.exchange import SimExchange
from kfresearch.store import Store

from .conftest import NOW, SEED, Recording

SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD")
DAYS = 90
DAY_MS = 86_400_000
NOW_MS = int(pd.Timestamp(NOW).value // 1_000_000)
KILL_AFTER = DAYS * len(SYMBOLS) // 2  # data files renamed into place before the kill

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import kfresearch
    from kfresearch.store import Store

    renamed = 0
    real_replace = os.replace

    def replace(src, dst):
        global renamed
        if str(dst).endswith(".parquet"):
            renamed += 1
        elif str(dst).endswith("_manifest.json") and renamed >= {kill_after}:
            os.kill(os.getpid(), signal.SIGKILL)  # the file is in place, the manifest is not
        real_replace(src, dst)

    os.replace = replace
    store = Store(sys.argv[1], kfresearch.connect("sim"), progress=False)
    for symbol in {symbols!r}:
        store.download("candles", symbol, since="{days}d", resolution="1m")
    """
)


def _spy_on_opened_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every Parquet file pyarrow opens from now on."""
    opened: list[str] = []
    real = pq.ParquetFile

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", spy)
    monkeypatch.setattr(
        pq, "read_table", lambda source, *a, **k: pytest.fail(f"read_table({source})")
    )
    return opened


def _series_dir(root: Path, symbol: str) -> Path:
    return root / "candles" / f"symbol={symbol}" / "tick_type=trade" / "resolution=1m"


def _manifest(root: Path, symbol: str) -> dict[str, Any]:
    path = _series_dir(root, symbol) / "_manifest.json"
    if not path.exists():
        return {"covered": [], "files": {}}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _missing_days(root: Path, symbol: str) -> set[int]:
    covered = _manifest(root, symbol)["covered"]
    days = range(NOW_MS - DAYS * DAY_MS, NOW_MS, DAY_MS)
    return {d for d in days if not any(a <= d and d + DAY_MS <= b for a, b in covered)}


@pytest.fixture(scope="module")
def ninety_days(tmp_path_factory: pytest.TempPathFactory, exchange: SimExchange) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("store") / "data"
    script = root.parent / "child.py"
    script.write_text(CHILD.format(kill_after=KILL_AFTER, symbols=SYMBOLS, days=DAYS))
    env = {**os.environ, "KFRESEARCH_SIM_SEED": str(SEED), "KFRESEARCH_SIM_NOW": NOW}
    env["TQDM_DISABLE"] = "1"
    child = subprocess.run(
        [sys.executable, str(script), str(root)], env=env, capture_output=True, timeout=600
    )
    before = {s: _missing_days(root, s) for s in SYMBOLS}
    orphans = [
        p
        for s in SYMBOLS
        for p in _series_dir(root, s).glob("date=*/*.parquet")
        if p.relative_to(_series_dir(root, s)).as_posix() not in _manifest(root, s)["files"]
    ]
    transport = Recording(exchange)
    with kfresearch.Client("sim", exchange=exchange, transport=transport) as kf:
        store = Store(root, kf, progress=False)
        summaries = [
            store.download("candles", s, since=f"{DAYS}d", resolution="1m") for s in SYMBOLS
        ]
    return {
        "root": root,
        "child": child,
        "missing_before": before,
        "orphans": orphans,
        "requests": transport,
        "summaries": summaries,
    }


def test_the_first_run_was_killed_half_way(ninety_days: dict[str, Any]) -> None:
    assert ninety_days["child"].returncode == -9, ninety_days["child"].stderr.decode()[-2000:]
    missing = sum(len(days) for days in ninety_days["missing_before"].values())
    assert missing == DAYS * len(SYMBOLS) - KILL_AFTER + 1  # the last renamed file is uncommitted
    # the kill left a complete file that no manifest lists: it must not become a duplicate
    assert len(ninety_days["orphans"]) == 1


def test_the_second_run_fetched_only_the_missing_days(ninety_days: dict[str, Any]) -> None:
    requests: Recording = ninety_days["requests"]
    for symbol in SYMBOLS:
        asked = [int(url.params["from"]) * 1000 for url in requests.paths(f"/trade/{symbol}/1m")]
        assert sorted(asked) == sorted(ninety_days["missing_before"][symbol])
    summaries = ninety_days["summaries"]
    fetched_days = sum(s.batches for s in summaries)
    assert fetched_days == sum(len(d) for d in ninety_days["missing_before"].values())
    assert sum(s.rows for s in summaries) == fetched_days * 1440


def test_exactly_one_row_per_minute_per_symbol(ninety_days: dict[str, Any]) -> None:
    store = Store(ninety_days["root"])
    for symbol in SYMBOLS:
        frame = store.read("candles", symbol=symbol, tick_type="trade", resolution="1m")
        assert len(frame) == DAYS * 1440
        assert frame.index.is_unique
        assert frame.index.is_monotonic_increasing
        assert (frame.index.to_series().diff().dropna() == pd.Timedelta(minutes=1)).all()
        assert frame.index[0] == pd.Timestamp(NOW) - pd.Timedelta(days=DAYS)
    counts = store.sql(
        "select symbol, count(*) as n, count(distinct time) as t from candles group by 1"
    )
    assert sorted(counts["symbol"]) == sorted(SYMBOLS)
    assert (counts["n"] == DAYS * 1440).all()
    assert (counts["t"] == DAYS * 1440).all()


def test_no_leftover_file_survives_the_resume(ninety_days: dict[str, Any]) -> None:
    root: Path = ninety_days["root"]
    assert not list(root.rglob("*.tmp"))
    for symbol in SYMBOLS:
        on_disk = {
            p.relative_to(_series_dir(root, symbol)).as_posix()
            for p in _series_dir(root, symbol).glob("date=*/*.parquet")
        }
        assert on_disk == set(_manifest(root, symbol)["files"])
        assert len(on_disk) == DAYS


def test_a_third_run_fetches_nothing(
    ninety_days: dict[str, Any], recording: tuple[kfresearch.Client, Recording]
) -> None:
    kf, transport = recording
    store = Store(ninety_days["root"], kf, progress=False)
    summary = store.download("candles", "PF_ETHUSD", since=f"{DAYS}d", resolution="1m")
    assert transport.paths("/api/charts") == []
    assert summary.fetched == []
    assert summary.already == [(NOW_MS - DAYS * DAY_MS, NOW_MS)]
    assert "already there 90 days" in str(summary)


def test_one_day_of_ninety_opens_only_that_days_file(
    ninety_days: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _spy_on_opened_files(monkeypatch)
    store = Store(ninety_days["root"])
    day = store.read(
        "candles",
        since="2026-09-15",
        until="2026-09-16",
        symbol="PF_XBTUSD",
        tick_type="trade",
        resolution="1m",
    )
    assert len(day) == 1440
    assert len(opened) == 1
    assert "symbol=PF_XBTUSD/tick_type=trade/resolution=1m/date=2026-09-15/" in opened[0]


def test_store_candles_of_one_day_open_one_file_and_ask_nothing(
    ninety_days: dict[str, Any],
    recording: tuple[kfresearch.Client, Recording],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kf, transport = recording
    opened = _spy_on_opened_files(monkeypatch)
    store = Store(ninety_days["root"], kf, progress=False)
    frame = store.candles("PF_SOLUSD", "1m", since="2026-10-01", until="2026-10-02")
    assert len(frame) == 1440
    assert [p.split("/")[-2] for p in opened] == ["date=2026-10-01"]
    assert transport.paths("/api/charts") == []


def test_duckdb_reads_only_the_files_of_the_day(ninety_days: dict[str, Any]) -> None:
    store = Store(ninety_days["root"])
    plan = store.sql(
        "explain analyze select count(*) from candles "
        "where date = DATE '2026-09-15' and symbol = 'PF_XBTUSD'"
    )
    text = "\n".join(plan.iloc[:, -1].astype(str))
    assert f"Scanning Files: 1/{DAYS * len(SYMBOLS)}" in text
    assert "Total Files Read: 1" in text
