"""Month caches: a month read reads one Arrow file, a day read opens its day's Parquet file,
and the cache never serves rows the manifest no longer stands for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import kfresearch
from kfresearch.store import Store

KEYS = {"symbol": "PF_XBTUSD", "tick_type": "trade", "resolution": "1h"}
OCTOBER = {"since": "2026-10-01", "until": "2026-11-01"}


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Parquet files pyarrow opens from now on."""
    seen: list[str] = []
    real = pq.ParquetFile

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", spy)
    return seen


def _series(root: Path) -> Path:
    return root / "candles" / "symbol=PF_XBTUSD" / "tick_type=trade" / "resolution=1h"


def test_a_month_read_reads_one_file_once_cached_and_a_day_read_opens_its_day(
    tmp_path: Path, kf: kfresearch.Client, opened: list[str]
) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("candles", "PF_XBTUSD", since="40d", resolution="1h")
    opened.clear()
    first = store.read("candles", **OCTOBER, **KEYS)
    assert len(first) == 31 * 24
    assert len(opened) == 31  # every day file of October, checked, then cached
    cache = _series(tmp_path) / "_cache" / "2026-10.arrow"
    assert cache.exists()
    opened.clear()
    again = store.read("candles", **OCTOBER, **KEYS)
    assert opened == []
    pd.testing.assert_frame_equal(again, first)
    # a part of the month: cut from the cache, numbered like any read
    part = store.read("candles", since="2026-10-10T05:00Z", until="2026-10-12", **KEYS)
    pd.testing.assert_frame_equal(part, first.iloc[9 * 24 + 5 : 11 * 24])
    assert opened == []
    # one day opens that day's Parquet file and nothing else
    day = store.read("candles", since="2026-10-05", until="2026-10-06", **KEYS)
    assert len(day) == 24
    assert [Path(p).parent.name for p in opened] == ["date=2026-10-05"]
    # store.candles serves from the same cache
    opened.clear()
    frame = store.candles("PF_XBTUSD", "1h", since="2026-10-01", until="2026-11-01")
    pd.testing.assert_frame_equal(frame, first)
    assert opened == []


def test_new_days_make_the_cache_stale_and_the_next_month_read_rebuilds_it(
    tmp_path: Path, kf: kfresearch.Client, opened: list[str]
) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("candles", "PF_XBTUSD", since="2026-10-20", resolution="1h")
    assert len(store.read("candles", **OCTOBER, **KEYS)) == 12 * 24
    store.download("candles", "PF_XBTUSD", since="2026-10-01", resolution="1h")
    opened.clear()
    month = store.read("candles", **OCTOBER, **KEYS)
    assert len(month) == 31 * 24
    assert month.index.is_unique
    assert len(opened) == 31
    pd.testing.assert_frame_equal(month, kf.candles("PF_XBTUSD", "1h", **OCTOBER, progress=False))


def test_a_damaged_cache_is_ignored_and_a_truncated_day_still_fails_the_read(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("candles", "PF_XBTUSD", since="40d", resolution="1h")
    month = store.read("candles", **OCTOBER, **KEYS)
    cache = _series(tmp_path) / "_cache" / "2026-10.arrow"
    cache.write_bytes(cache.read_bytes()[:1000])
    pd.testing.assert_frame_equal(store.read("candles", **OCTOBER, **KEYS), month)
    victim = _series(tmp_path) / "date=2026-10-07"
    part = next(victim.glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:-10])
    with pytest.raises(kfresearch.CorruptFileError, match="date=2026-10-07") as caught:
        store.read("candles", **OCTOBER, **KEYS)
    assert "store.repair()" in str(caught.value)


def test_other_engines_never_see_the_cache(tmp_path: Path, kf: kfresearch.Client) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("candles", "PF_XBTUSD", since="40d", resolution="1h")
    store.read("candles", **OCTOBER, **KEYS)
    assert list(_series(tmp_path).glob("_cache/*.arrow"))
    dataset = ds.dataset(tmp_path / "candles", format="parquet", partitioning="hive")
    assert all(f.endswith(".parquet") for f in dataset.files)
    assert dataset.count_rows() == 40 * 24
    counted = store.sql("select count(*) as n from candles")
    assert counted["n"].tolist() == [40 * 24]


def test_plain_frames_are_the_frames_the_client_builds(kf: kfresearch.Client) -> None:
    """Candles go from Arrow buffers straight to the frame; anything else is not plain."""
    import pyarrow as pa

    import kfresearch.frames
    from kfresearch.frames.market import CANDLES, FUNDING_RATES
    from kfresearch.store.files import table_of
    from kfresearch.store.read import plain_frame

    expected = kf.candles("PF_XBTUSD", "1h", since="2026-10-01", until="2026-10-03", progress=False)
    table = table_of(expected)
    start, end = (
        int(pd.Timestamp(t).value // 1_000_000) for t in ("2026-10-01T05:00Z", "2026-10-02")
    )
    frame = plain_frame(table, CANDLES, start, end)
    assert frame is not None
    expected = expected.iloc[5:24]
    expected.attrs = {}
    pd.testing.assert_frame_equal(frame, expected)
    frame.iloc[0, 0] = 1.0  # an ordinary, writable frame
    assert frame.iloc[0, 0] == 1.0
    assert plain_frame(table, None, start, end) is None
    assert plain_frame(table, FUNDING_RATES, start, end) is None
    assert plain_frame(table.drop_columns(["volume"]), CANDLES, start, end) is None
    holed = table.set_column(1, "open", pa.array([None] + [1.0] * (len(table) - 1), pa.float64()))
    assert plain_frame(holed, CANDLES, start, end) is None
    as_ms = table.set_column(0, "time", table.column("time").cast(pa.timestamp("ms", tz="UTC")))
    assert plain_frame(as_ms, CANDLES, start, end) is None
    none = plain_frame(table, CANDLES, 0, 1)
    assert none is not None
    empty = kfresearch.frames.candles([])
    empty.attrs = {}
    pd.testing.assert_frame_equal(none, empty)
