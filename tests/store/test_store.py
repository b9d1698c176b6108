"""The store serves the client's frames, resumes after every kind of interruption, reports
gaps, detects truncated files and repairs them."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import ValidationError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.store import Store
from kfresearch.store.intervals import intersect, subtract, union

from .conftest import NOW, Recording

DAY_MS = 86_400_000
NOW_MS = int(pd.Timestamp(NOW).value // 1_000_000)


def _same(stored: pd.DataFrame, direct: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(stored, direct)
    assert stored.attrs == direct.attrs
    assert list(stored.attrs) == list(direct.attrs)


@pytest.mark.parametrize(
    ("resolution", "since", "tick_type"),
    [("1m", "2d", "trade"), ("1h", "20d", "mark"), ("15m", "3d", "spot"), ("1w", "3mo", "trade")],
)
def test_store_candles_are_the_clients_frame(
    tmp_path: Path, kf: kfresearch.Client, resolution: str, since: str, tick_type: str
) -> None:
    store = Store(tmp_path, kf, progress=False)
    direct = kf.candles("PF_ETHUSD", resolution, since=since, tick_type=tick_type, progress=False)
    _same(store.candles("PF_ETHUSD", resolution, since=since, tick_type=tick_type), direct)
    # and again, now from disk
    _same(store.candles("PF_ETHUSD", resolution, since=since, tick_type=tick_type), direct)


def test_store_candles_with_the_default_range_and_an_until(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    _same(store.candles("pf_xbtusd", "1h"), kf.candles("PF_XBTUSD", "1h", progress=False))
    until = "2026-10-20T13:37:00Z"
    _same(
        store.candles("PF_XBTUSD", "5m", since="2026-10-18T01:02:03Z", until=until),
        kf.candles("PF_XBTUSD", "5m", since="2026-10-18T01:02:03Z", until=until, progress=False),
    )


def test_an_index_symbol_is_its_perpetuals_spot_series_as_in_kf_candles(
    tmp_path: Path, recording: tuple[kfresearch.Client, Recording]
) -> None:
    kf, transport = recording
    store = Store(tmp_path, kf, progress=False)
    direct = kf.candles("in_xbtusd", "1h", since="3d", progress=False)
    assert direct.attrs["source_symbol"] == "PF_XBTUSD"
    _same(store.candles("in_xbtusd", "1h", since="3d"), direct)
    # one series on disk, shared with the contract's own spot candles: only the open
    # bucket (never stored) is asked again
    before = len(transport.paths("/charts/"))
    spot = store.candles("PF_XBTUSD", "1h", since="3d", tick_type="spot")
    again = transport.paths("/charts/")[before:]
    now_s = str(pd.Timestamp(NOW).value // 10**9)
    assert [(u.path, u.params["from"]) for u in again] == [
        ("/api/charts/v1/spot/PF_XBTUSD/1h", now_s)
    ]
    pd.testing.assert_frame_equal(spot, direct)
    assert [s.keys["tick_type"] for s in store.series()] == ["spot"]
    assert store.download("candles", "IN_XBTUSD", since="3d", resolution="1h").fetched == []
    with pytest.raises(ValidationError, match="no mark price"):
        store.candles("in_xbtusd", "1h", tick_type="mark")
    with pytest.raises(ValidationError, match="reference rate"):
        store.candles("rr_xbtusd", "1h")


def test_a_clock_mid_bucket_serves_the_open_bucket_live_and_never_stores_it(
    tmp_path: Path,
) -> None:
    exchange = SimExchange(seed=5, clock=SimClock.fixed("2026-11-01T10:30:20Z"))
    kf = kfresearch.Client("sim", exchange=exchange)
    store = Store(tmp_path, kf, progress=False)
    direct = kf.candles("PF_XBTUSD", "1h", since="1d", progress=False)
    _same(store.candles("PF_XBTUSD", "1h", since="1d"), direct)
    stored = store.read("candles", symbol="PF_XBTUSD", tick_type="trade", resolution="1h")
    assert stored.index[-1] == pd.Timestamp("2026-11-01T09:00Z")  # 10:00 is still open
    assert direct.index[-1] == pd.Timestamp("2026-11-01T10:00Z")


def test_trades_and_funding_are_the_clients_frames(tmp_path: Path, kf: kfresearch.Client) -> None:
    store = Store(tmp_path, kf, progress=False)
    _same(
        store.trades("PF_SOLUSD", since="3h", progress=False),
        kf.trades("PF_SOLUSD", since="3h", progress=False),
    )
    stored = store.funding_rates("PF_SOLUSD", since="10d")
    direct = kf.funding_rates("PF_SOLUSD", since="10d")
    pd.testing.assert_frame_equal(stored, direct)
    assert stored.attrs == direct.attrs


def test_account_data_is_stored_too(tmp_path: Path) -> None:
    exchange = SimExchange(seed=8, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", exchange=exchange)
    kf.place_order("PF_XBTUSD", "buy", 0.01, order_type="mkt")
    kf.place_order("PF_ETHUSD", "sell", 0.1, order_type="mkt")
    exchange.clock.advance(120_000)  # the store keeps account events once a minute old
    store = Store(tmp_path, kf, progress=False)
    for name in ("account_log", "fills", "order_history"):
        stored = getattr(store, name)(since="1d")
        direct = getattr(kf, name)(since="1d")
        assert list(stored.columns) == list(direct.columns)
        assert (stored.dtypes == direct.dtypes).all()
        assert len(stored) == len(direct) > 0
        assert len(store.read(name)) == len(direct)


def test_the_summary_says_fetched_already_there_and_gaps(
    tmp_path: Path, recording: tuple[kfresearch.Client, Recording]
) -> None:
    kf, transport = recording
    store = Store(tmp_path, kf, progress=False)
    first = store.download("candles", "PF_LINKUSD", since="3d", resolution="1h")
    assert (first.batches, first.rows, first.already) == (1, 72, [])
    second = store.download("candles", "PF_LINKUSD", since="5d", resolution="1h")
    assert second.fetched == [(NOW_MS - 5 * DAY_MS, NOW_MS - 3 * DAY_MS)]
    assert second.already == [(NOW_MS - 3 * DAY_MS, NOW_MS)]
    assert second.rows == 48
    assert "fetched 2 days (48 rows in 1 batches), already there 3 days" in str(second)
    froms = [int(u.params["from"]) * 1000 for u in transport.paths("/trade/PF_LINKUSD/1h")]
    assert froms == [NOW_MS - 3 * DAY_MS, NOW_MS - 5 * DAY_MS]


def test_history_before_the_exchange_has_it_is_a_reported_gap(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    with pytest.warns(kfresearch.DataGapWarning, match="2024-10-28 00:00 UTC") as caught:
        frame = store.candles("PF_XBTUSD", "1w", since="3y", tick_type="mark")
    assert len(caught) == 1
    assert frame.attrs["data_start"] == frame.index[0] == pd.Timestamp("2024-10-28", tz="UTC")
    with pytest.warns(kfresearch.DataGapWarning):
        _same(frame, kf.candles("PF_XBTUSD", "1w", since="3y", tick_type="mark", progress=False))
    summary = store.last_summaries[-1]
    asked = int(pd.Timestamp("2023-10-26").value // 10**6)  # since, on the week grid
    assert summary.gaps == [(asked, int(pd.Timestamp("2024-10-28").value // 10**6))]
    assert "gaps (no data at the exchange): 2023-10-26 00:00 → 2024-10-28 00:00" in str(summary)
    assert store.info().loc[0, "gaps"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", kfresearch.DataGapWarning)
        store.candles("PF_XBTUSD", "1w", since="1y", tick_type="mark")  # inside: no warning


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", path="/trade/PF_ADAUSD/1m", status=503, after=2),
        Fault("rate_limit", path="/trade/PF_ADAUSD/1m", seconds=0.0, after=2),
        Fault("drop_before", path="/trade/PF_ADAUSD/1m", after=2),
    ],
    ids=["server-error", "rate-limit", "network"],
)
def test_a_failed_download_resumes_without_duplicates(tmp_path: Path, fault: Fault) -> None:
    exchange = SimExchange(seed=9, clock=SimClock.fixed(NOW))
    kf = kfresearch.Client("sim", exchange=exchange, retry=kfresearch.client.RetryPolicy(max_attempts=1))
    store = Store(tmp_path, kf, progress=False)
    exchange.add_fault(fault)
    with pytest.raises(kfresearch.KFError) as caught:
        store.download("candles", "PF_ADAUSD", since="5d", resolution="1m")
    assert "2 of 5 batches" in "".join(caught.value.__notes__)
    exchange.faults.clear()
    summary = store.download("candles", "PF_ADAUSD", since="5d", resolution="1m")
    assert summary.batches == 3
    frame = store.read("candles", symbol="PF_ADAUSD", tick_type="trade", resolution="1m")
    assert len(frame) == 5 * 1440
    assert frame.index.is_unique


def test_ctrl_c_keeps_what_was_committed(
    tmp_path: Path, kf: kfresearch.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path, kf, progress=False)
    calls = 0
    real = kfresearch.Client.candles

    def interrupted(self: kfresearch.Client, *args: object, **kwargs: object) -> pd.DataFrame:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kfresearch.Client, "candles", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.download("candles", "PF_LTCUSD", since="4d", resolution="1m")
    monkeypatch.setattr(kfresearch.Client, "candles", real)
    assert store.info().loc[0, "rows"] == 2 * 1440
    assert store.download("candles", "PF_LTCUSD", since="4d", resolution="1m").batches == 2
    assert (
        len(store.read("candles", symbol="PF_LTCUSD", tick_type="trade", resolution="1m"))
        == 4 * 1440
    )


def test_a_truncated_file_is_named_with_its_repair_and_repair_refetches_it(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    before = store.candles("PF_XRPUSD", "1m", since="3d")
    victim = next((tmp_path / "candles").rglob("date=2026-10-30/*.parquet"))
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(kfresearch.CorruptFileError) as caught:
        store.read("candles", symbol="PF_XRPUSD", tick_type="trade", resolution="1m")
    message = str(caught.value)
    assert str(victim) in message
    assert "store.repair()" in message
    assert caught.value.path == str(victim)
    # the other days still read; a read that does not need the file does not fail
    assert (
        len(
            store.read(
                "candles",
                since="2026-10-31",
                symbol="PF_XRPUSD",
                tick_type="trade",
                resolution="1m",
            )
        )
        == 1440
    )
    done = store.repair()
    assert done["path"].tolist() == [str(victim)]
    assert done["action"].tolist() == ["re-fetched"]
    _same(store.candles("PF_XRPUSD", "1m", since="3d"), before)
    assert store.repair().empty


def test_a_deleted_file_and_a_garbage_file_are_detected(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("candles", "PF_DOGEUSD", since="2d", resolution="1h")
    first, second = sorted((tmp_path / "candles").rglob("*.parquet"))
    first.unlink()
    second.write_bytes(b"x" * second.stat().st_size)  # same size, not Parquet
    problems = store.check()
    assert sorted(p.path for p in problems) == [str(first), str(second)]
    assert "missing" in str(problems[0]) or "missing" in str(problems[1])
    assert len(store.repair()) == 2
    assert store.check() == []


def test_a_store_refuses_data_from_another_source(tmp_path: Path, kf: kfresearch.Client) -> None:
    Store(tmp_path, kf, progress=False).download(
        "candles", "PF_XBTUSD", since="1d", resolution="1h"
    )
    other = kfresearch.Client("sim", exchange=SimExchange(seed=1, clock=SimClock.fixed(NOW)))
    with pytest.raises(kfresearch.StoreError, match=r"seed 42.*seed 1"):
        Store(tmp_path, other)


def test_a_read_only_store_says_it_needs_a_client(tmp_path: Path) -> None:
    with pytest.raises(kfresearch.StoreError, match="without a client"):
        Store(tmp_path).candles("PF_XBTUSD", "1m")
    assert Store(tmp_path).info().empty


def test_bad_arguments_are_refused_before_anything_is_sent(
    tmp_path: Path, recording: tuple[kfresearch.Client, Recording]
) -> None:
    kf, transport = recording
    store = Store(tmp_path, kf, progress=False)
    with pytest.raises(kfresearch.ValidationError, match="resolution"):
        store.candles("PF_XBTUSD", "2m")
    with pytest.raises(kfresearch.ValidationError, match="did you mean PF_XBTUSD"):
        store.candles("PF_XBTUSDD", "1m")
    with pytest.raises(ValueError, match="unknown kind"):
        store.download("ohlc", "PF_XBTUSD")
    with pytest.raises(kfresearch.ValidationError, match="needs a symbol"):
        store.download("trades")
    assert transport.paths("/api/charts") == []


def test_iter_days_yields_the_stored_days_in_time_order(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("candles", "PF_ETHUSD", since="3d", resolution="1m")
    days = list(
        store.iter_days(
            "candles",
            since="2026-10-29T12:00Z",
            symbol="PF_ETHUSD",
            tick_type="trade",
            resolution="1m",
        )
    )
    assert [len(d) for d in days] == [720, 1440, 1440]
    joined = pd.concat(days)
    assert joined.index.is_monotonic_increasing
    assert joined.index[0] == pd.Timestamp("2026-10-29T12:00Z")


def test_range_arithmetic() -> None:
    assert union([(0, 5)], [(5, 9), (20, 30)]) == [(0, 9), (20, 30)]
    assert subtract([(0, 30)], [(0, 5), (10, 12), (25, 40)]) == [(5, 10), (12, 25)]
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]
    assert subtract([(0, 10)], []) == [(0, 10)]


def test_a_download_shows_a_progress_bar_unless_told_not_to(
    tmp_path: Path,
    kf: kfresearch.Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    Store(tmp_path, kf, progress=False).download("candles", "PF_XBTUSD", since="2d", resolution="1h")
    assert "batch" not in capsys.readouterr().err
    Store(tmp_path, kf).download("candles", "PF_ETHUSD", since="3d", resolution="1h")
    assert "candles symbol=PF_ETHUSD tick_type=trade resolution=1h" in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    Store(tmp_path, kf).download("candles", "PF_SOLUSD", since="3d", resolution="1h")
    assert "batch" not in capsys.readouterr().err


def test_read_columns_gives_those_columns_of_the_full_frame_and_refuses_unknown_ones(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    store = Store(tmp_path, kf, progress=False)
    store.download("trades", "PF_SOLUSD", since="3h")
    store.download("candles", "PF_ETHUSD", since="3d", resolution="1m")
    whole = store.read("trades", symbol="PF_SOLUSD")
    assert len(whole) > 10
    some = store.read("trades", symbol="PF_SOLUSD", columns=["size", "price", "side", "seq"])
    pd.testing.assert_frame_equal(some, whole[["size", "price", "side", "seq"]])
    # candles keep month caches: the same columns come from them
    keys = {"symbol": "PF_ETHUSD", "tick_type": "trade", "resolution": "1m"}
    candles = store.read("candles", "2026-10-29", "2026-11-01", **keys)
    closes = store.read("candles", "2026-10-29", "2026-11-01", columns=["close"], **keys)
    assert len(closes) == 3 * 1440
    pd.testing.assert_frame_equal(closes, candles[["close"]])
    # an empty range still has the asked columns and dtypes
    empty = store.read("trades", "2020-01-01", "2020-01-02", symbol="PF_SOLUSD",
                       columns="price")
    assert list(empty.columns) == ["price"]
    assert empty.empty
    assert empty.dtypes["price"] == whole.dtypes["price"]
    for bad in (["nope"], []):
        with pytest.raises(ValidationError, match="trades frames have the columns seq, uid"):
            store.read("trades", symbol="PF_SOLUSD", columns=bad)


def test_read_arrow_gives_the_rows_and_values_of_read(tmp_path: Path, kf: kfresearch.Client) -> None:
    import pyarrow as pa

    store = Store(tmp_path, kf, progress=False)
    store.download("trades", "PF_SOLUSD", since="3h")
    store.download("candles", "PF_ETHUSD", since="3d", resolution="1m")
    names = ["size", "price", "side", "seq"]
    since, until = pd.Timestamp(NOW_MS - 150 * 60_000, unit="ms", tz="UTC"), None
    frame = store.read("trades", since, until, symbol="PF_SOLUSD", columns=names)
    table = store.read_arrow("trades", since, until, symbol="PF_SOLUSD", columns=names)
    assert len(frame) > 10
    assert table.column_names == ["time", *names]
    assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert table.column("time").to_pandas().tolist() == frame.index.tolist()
    for name in names:
        assert table.column(name).to_pylist() == frame[name].tolist(), name
    # candles from the month caches, cut to the range asked
    keys = {"symbol": "PF_ETHUSD", "tick_type": "trade", "resolution": "1m"}
    frame = store.read("candles", "2026-10-29T05:00Z", "2026-10-31T07:00Z", columns=["close"], **keys)
    table = store.read_arrow("candles", "2026-10-29T05:00Z", "2026-10-31T07:00Z", columns=["close"],
                             **keys)
    assert table.num_rows == len(frame) == 2 * 1440 + 120
    assert table.column("close").to_pylist() == frame["close"].tolist()
    assert table.column("time").to_pandas().tolist() == frame.index.tolist()
    # a range with no files, and a series with none: the columns, no rows
    for symbol in ("PF_SOLUSD", "PF_ADAUSD"):
        empty = store.read_arrow("trades", "2020-01-01", "2020-01-02", symbol=symbol,
                                 columns="price")
        assert (empty.column_names, empty.num_rows) == (["time", "price"], 0)
    for bad in (["nope"], []):
        with pytest.raises(ValidationError, match="trades frames have the columns seq, uid"):
            store.read_arrow("trades", symbol="PF_SOLUSD", columns=bad)


def test_read_arrow_gives_nulls_for_a_column_the_files_lack(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    """A column an older layout's files do not have: nulls."""
    from kfresearch.store.files import read_table, write_table
    from kfresearch.store.manifest import Series

    store = Store(tmp_path, kf, progress=False)
    store.download("trades", "PF_SOLUSD", since="3h")
    series = Series(tmp_path, "trades", {"symbol": "PF_SOLUSD"})
    manifest = series.load()
    name = next(iter(manifest.files))
    entry = manifest.files[name]
    table = read_table(series.path / name, entry)
    entry["bytes"] = write_table(series.path / name, table.drop_columns(["size"]))
    series.save(manifest)
    frame = store.read("trades", symbol="PF_SOLUSD", columns=["price"])
    arrow = store.read_arrow("trades", symbol="PF_SOLUSD", columns=["price", "size"])
    assert arrow.column("price").to_pylist() == frame["price"].tolist()
    assert arrow.column("size").null_count == arrow.num_rows == len(frame) > 10


def test_readers_parse_a_manifest_again_only_when_it_changed(
    tmp_path: Path, kf: kfresearch.Client
) -> None:
    from kfresearch.store.manifest import Series

    store = Store(tmp_path, kf, progress=False)
    store.download("trades", "PF_SOLUSD", since="2h", until="1h")
    series = Series(tmp_path, "trades", {"symbol": "PF_SOLUSD"})
    first = series.read_only()
    assert series.read_only() is first  # unchanged file: the parsed copy
    before = len(store.read("trades", symbol="PF_SOLUSD"))
    store.download("trades", "PF_SOLUSD", since="1h")  # the manifest is replaced
    second = series.read_only()
    assert second is not first
    assert len(second.files) >= len(first.files)
    assert len(store.read("trades", symbol="PF_SOLUSD")) > before
    assert Series(tmp_path, "trades", {"symbol": "PF_ETHUSD"}).read_only().files == {}
