"""The history store: rows written per second, and reading a month back vs downloading it again.

Run with ``make bench`` (or ``.venv/bin/python -m bench.store``). Prints markdown tables.

* **write**: a fresh store downloads 30 days of 1-minute candles of three
  contracts from the in-process simulator (fetch, frame, Parquet, manifest per
  day); rows per second end to end, and of the store's commit alone (the same
  frames written again to a second store, nothing fetched).
* **ways to read a month**: the same 30 day files read five ways, each to the
  same frame (``to_pandas().set_index("time")``): one ``ParquetFile`` per day
  file (the store before month caches), one ``pq.ParquetDataset`` over the
  explicit paths with a known schema, ``pyarrow.dataset`` with the footers
  read beforehand, one compacted month Parquet file with a row group per day,
  the store's month cache (one Arrow IPC file) through ``to_pandas``, and the
  same file the way the store reads it now (``plain_frame``: the Arrow buffers
  copied once into the frame's block, no ``to_pandas``).
* **read vs download**: one month (30 days, 43,200 rows) of ``PF_XBTUSD`` 1-minute
  candles, (A) read from the store (``Store(dir).read(...)``: the month cache
  once the first read built it; (A0) that first read) vs (B) downloaded again
  from ``kfresearch sim serve`` on loopback (``Client("sim", base_url=...).candles(...)``,
  22 charts pages).

Every comparison alternates its contestants (A, B, A, B…), each run in a fresh
process that times only the operation (interpreter and imports excluded), and
quotes medians and min–max spread.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.interleave import NOW, env, free_port, serve_sim

SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD")
DAYS = 30
RUNS = 7


KEYS = {"symbol": "PF_XBTUSD", "tick_type": "trade", "resolution": "1m"}
WARM_UP = {**KEYS, "symbol": "PF_ETHUSD"}
MONTH = ("2026-10-02", NOW)


def _read(root: str, cold: bool = False, warm: bool = False) -> float:
    """``Store.read`` of the month; ``cold``: with its month cache deleted first; ``warm``:
    after reading one day of another contract (the process's first frame is built)."""
    import shutil

    import pyarrow.parquet  # noqa: F401 - imported by any reader before it reads; not timed

    from kfresearch.store import Store

    store = Store(root)
    if cold:
        for cache in Path(root).glob("candles/**/_cache"):
            shutil.rmtree(cache)
    if warm:
        store.read("candles", since="2026-10-20", until="2026-10-21", **WARM_UP)
    start = time.perf_counter()
    frame = store.read("candles", since=MONTH[0], until=MONTH[1], **KEYS)
    elapsed = time.perf_counter() - start
    assert len(frame) == DAYS * 1440, len(frame)
    return elapsed


def _month_paths(root: str) -> list[str]:
    import pandas as pd

    from kfresearch.store.manifest import Series

    series = Series(Path(root), "candles", KEYS)
    start, end = (int(pd.Timestamp(t).value // 1_000_000) for t in MONTH)
    return [str(series.path / name) for name in series.load().files_between(start, end)]


def _prepare(root: str) -> None:
    """Beside the store: the month compacted into one Parquet file with a row group per
    day, and a ``_metadata`` file with the footers of its day files (made once)."""
    import os.path

    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = _month_paths(root)
    tables = [pq.read_table(p) for p in paths]
    month = Path(root).parent / "month.parquet"
    pq.write_table(pa.concat_tables(tables), month, compression="snappy", row_group_size=1440)
    footers = []
    for path in paths:
        footer = pq.read_metadata(path)
        footer.set_file_path(os.path.relpath(path, Path(root).parent))
        footers.append(footer)
    pq.write_metadata(tables[0].schema, Path(root).parent / "_metadata", metadata_collector=footers)


def _alternative(name: str, root: str) -> float:
    """One way of reading the month's rows into the frame; seconds."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from kfresearch.frames.market import CANDLES
    from kfresearch.store.cache import cache_path
    from kfresearch.store.files import read_arrow
    from kfresearch.store.manifest import Series
    from kfresearch.store.read import plain_frame

    paths = _month_paths(root)
    schema = pq.read_schema(paths[0])  # what the store knows without discovery
    cache = cache_path(Series(Path(root), "candles", KEYS), "2026-10")
    month = str(Path(root).parent / "month.parquet")

    def read() -> Any:
        import pyarrow as pa

        if name == "day-files":
            return pa.concat_tables([pq.ParquetFile(p).read() for p in paths])
        if name == "dataset":
            return pq.ParquetDataset(paths, schema=schema).read()
        if name == "footers":
            return ds.parquet_dataset(str(Path(root).parent / "_metadata"), schema).to_table()
        if name == "month-file":
            return pq.ParquetFile(month).read()
        if name in ("arrow-cache", "plain-frame"):
            return read_arrow(cache)
        raise ValueError(name)

    start = time.perf_counter()
    if name == "plain-frame":
        frame = plain_frame(read(), CANDLES, 0, 2**62 // 1_000_000)
    else:
        frame = read().to_pandas().set_index("time")
    elapsed = time.perf_counter() - start
    assert frame is not None, name
    assert len(frame) >= DAYS * 1440, (name, len(frame))
    return elapsed


ALTERNATIVES = {
    "day-files": "30 day files, one `ParquetFile` each (the store before month caches)",
    "dataset": "30 day files, one `pq.ParquetDataset` over the paths, schema known",
    "footers": "30 day files, `ds.parquet_dataset` of a `_metadata` file holding their footers",
    "month-file": "one compacted month file (snappy, a row group per day)",
    "arrow-cache": "the month cache: one Arrow IPC file (memory-mapped), `to_pandas().set_index`",
    "plain-frame": "the same file straight into the frame (`read.plain_frame`: the store now)",
}


def _download(url: str, warm: bool = False) -> float:
    """The month downloaded again; ``warm``: after downloading one day of another contract."""
    import kfresearch

    with kfresearch.Client("sim", base_url=url) as kf:
        if warm:
            kf.candles("PF_ETHUSD", "1m", since="2026-10-20", until="2026-10-21", progress=False)
        start = time.perf_counter()
        frame = kf.candles("PF_XBTUSD", "1m", since=MONTH[0], until=MONTH[1], progress=False)
        elapsed = time.perf_counter() - start
    assert len(frame) == DAYS * 1440, len(frame)
    return elapsed


def _write(root: str) -> tuple[float, float, int]:
    """(seconds end to end, seconds of the commits alone, rows) for DAYS x SYMBOLS of 1m."""
    import kfresearch
    from kfresearch.store import Store
    from kfresearch.store.manifest import Series

    kf = kfresearch.connect("sim")
    store = Store(Path(root) / "a", kf, progress=False)
    kf.instruments()
    start = time.perf_counter()
    rows = sum(
        store.download("candles", s, since=f"{DAYS}d", resolution="1m").rows for s in SYMBOLS
    )
    end_to_end = time.perf_counter() - start
    # the same frames again, into a fresh store: the commit path alone
    frames = {
        s: store.read("candles", symbol=s, tick_type="trade", resolution="1m") for s in SYMBOLS
    }
    day = 86_400_000
    first = int(frames[SYMBOLS[0]].index[0].value // 1_000_000)
    start = time.perf_counter()
    for symbol, frame in frames.items():
        series = Series(
            Path(root) / "b",
            "candles",
            {"symbol": symbol, "tick_type": "trade", "resolution": "1m"},
        )
        for d in range(DAYS):
            a, b = first + d * day, first + (d + 1) * day
            rows_of_day = frame.iloc[d * 1440 : (d + 1) * 1440]
            with series.locked() as manifest:
                series.commit(manifest, rows_of_day, (a, b), [])
    commits = time.perf_counter() - start
    return end_to_end, commits, rows


def _child(argv: list[str]) -> float:
    out = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.store", *argv], env=env(), capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    low, mid, high = (1000 * v for v in (min(values), statistics.median(values), max(values)))
    return f"{mid:.1f} ms ({low:.1f}–{high:.1f})"


def _interleaved(argvs: list[list[str]]) -> list[list[float]]:
    """Each command RUNS times, alternating (A, B, C, A, B, C…); seconds per command."""
    times: list[list[float]] = [[] for _ in argvs]
    for _ in range(RUNS):
        for i, argv in enumerate(argvs):
            times[i].append(_child(argv))
    return times


def main() -> None:
    os.environ.update(env())  # this process's simulator too: seed 42, clock fixed
    args = sys.argv[1:]
    warm = "warm" in args
    if len(args) > 1 and args[0] in ("read", "read-cold"):
        print(_read(args[1], cold=args[0] == "read-cold", warm=warm))
        return
    if len(args) > 2 and args[0] == "alternative":
        print(_alternative(args[1], args[2]))
        return
    if len(args) > 1 and args[0] == "download":
        print(_download(args[1], warm=warm))
        return
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end, commits, rows = _write(tmp)
        print("| what | rows | seconds | rows per second |\n|---|---|---|---|")
        for what, seconds in (
            ("download into the store (in-process sim, 3 x 30 days of 1m)", end_to_end),
            ("store commits alone (same frames, one file + manifest per day)", commits),
        ):
            print(f"| {what} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |")
        store = str(Path(tmp) / "a")
        _read(store)  # builds the month cache
        _prepare(store)
        names = list(ALTERNATIVES)
        times = _interleaved([["alternative", name, store] for name in names])
        print("\n| reading the month's rows into a frame (43,200 rows) | median (min–max) |")
        print("|---|---|")
        for name, values in zip(names, times, strict=True):
            print(f"| {ALTERNATIVES[name]} | {_spread(values)} |")
        port = free_port()
        server = serve_sim(port)
        try:
            url = f"http://127.0.0.1:{port}"
            _child(["download", url])  # warm the server's caches like a second download would
            cold, reads, downloads, warm_reads, warm_downloads = _interleaved(
                [
                    ["read-cold", store],
                    ["read", store],
                    ["download", url],
                    ["read", store, "warm"],
                    ["download", url, "warm"],
                ]
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
        print("\n| one month of PF_XBTUSD 1m candles (43,200 rows) | median (min–max) |\n|---|---|")
        rows_of = [
            ("(A0) first read from the store (reads 30 files, writes the cache)", cold),
            ("(A) read from the store: the process's first frame", reads),
            ("(B) download from a served simulator: the process's first frame", downloads),
            ("(A') read from the store after one day of another contract", warm_reads),
            ("(B') download after one day of another contract", warm_downloads),
        ]
        for label, values in rows_of:
            print(f"| {label} | {_spread(values)} |")
        for label, ours, theirs in (
            ("B / A0", cold, downloads),
            ("B / A", reads, downloads),
            ("B' / A'", warm_reads, warm_downloads),
        ):
            ratios = [d / r for r, d in zip(ours, theirs, strict=True)]
            mid, low, high = statistics.median(ratios), min(ratios), max(ratios)
            print(f"| {label}, run by run | **{mid:.0f}x** ({low:.0f}–{high:.0f}) |")


if __name__ == "__main__":
    main()
