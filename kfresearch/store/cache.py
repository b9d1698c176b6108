"""Month caches: one Arrow IPC file per calendar month of a series, read by long reads.

A month of 1-minute candles is 30 day files. Opening a Parquet file costs
about half a millisecond whatever it holds, so reading a month that way spends
~15 ms opening files and ~1 ms on the rows (``bench/README.md``, "History
store"). A read that needs several files of one month reads a single
uncompressed Arrow IPC file holding the whole month instead, as one record
batch that is memory-mapped, so its columns become the frame's columns with
one copy and no conversion (:func:`kfresearch.store.read.plain_frame`)::

    candles/symbol=PF_XBTUSD/tick_type=trade/resolution=1m/_cache/2026-10.arrow

The cache is derived data, never the truth:

* it records the files it was built from (name, bytes, rows) and is used only
  while the manifest lists exactly those files for its month, so a new day,
  a repair or a forgotten file makes it stale, and a stale cache is rebuilt
  from the Parquet files by the next read that wants it;
* deleting it loses nothing, and a damaged one is ignored and rebuilt;
* a read served from it still checks the size of every file it stands for
  (one ``stat`` each, microseconds), so a missing or truncated file fails the
  read as it would without a cache. What no check here catches is a day file
  rewritten in place at the same size: its rows are not read at all
  (``Store.check()`` reads every file);
* it lives under ``_cache/`` and is not ``*.parquet``: DuckDB, Polars, Dask,
  Spark and pyarrow never see it, and ``Store.info()`` does not count it.

When: a read that needs one file of a month opens that file, nothing else (one
day out of ninety opens that day's file). A read that needs two or more reads
the month's cache when it is current; when it is not and the read needs at
least half of the month's files, the read opens them all (checked against the
manifest as always), writes the cache, and serves itself from it.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from kfresearch.store.files import check_size, read_arrow, read_table, write_arrow
from kfresearch.store.manifest import Manifest, Series

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CACHE_DIR", "cache_path", "month_of", "tables_of"]

CACHE_DIR = "_cache"
_FILES_KEY = b"kfresearch.files"


def month_of(name: str) -> str:
    """``YYYY-MM`` of a stored file, from its ``date=YYYY-MM-DD/`` directory.

    >>> month_of("date=2026-10-05/part-1791158400000-1791244800000.parquet")
    '2026-10'
    """
    return name[len("date=") : len("date=YYYY-MM")]


def cache_path(series: Series, month: str) -> Path:
    """Where the cache of ``month`` (``YYYY-MM``) of ``series`` lives."""
    return series.path / CACHE_DIR / f"{month}.arrow"


def _signature(manifest: Manifest, names: list[str]) -> bytes:
    entries = {n: [manifest.files[n]["bytes"], manifest.files[n]["rows"]] for n in names}
    return json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()


def _current(series: Series, month: str, signature: bytes) -> pa.Table | None:
    table = read_arrow(cache_path(series, month))
    if table is None or (table.schema.metadata or {}).get(_FILES_KEY) != signature:
        return None
    return table


def _build(series: Series, month: str, manifest: Manifest, names: list[str]) -> pa.Table:
    import pyarrow as pa

    tables = [read_table(series.path / n, manifest.files[n]) for n in names]
    table = pa.concat_tables(tables, promote_options="default")
    metadata = {**(table.schema.metadata or {}), _FILES_KEY: _signature(manifest, names)}
    table = table.replace_schema_metadata(metadata)
    write_arrow(cache_path(series, month), table)
    return table


def _months(manifest: Manifest, months: set[str]) -> dict[str, list[str]]:
    """The stored files of each of ``months``, in time order."""
    out: dict[str, list[str]] = {month: [] for month in months}
    for name in manifest.files:
        files = out.get(month_of(name))
        if files is not None:
            files.append(name)
    for files in out.values():
        files.sort(key=lambda n: manifest.files[n]["start"])
    return out


def tables_of(series: Series, manifest: Manifest, names: list[str]) -> list[pa.Table]:
    """The tables of the stored files ``names`` (in time order), whole months from their
    caches where the rules of the module allow; rows outside ``names`` may come along
    (the caller cuts the time range it wants).

    Raises
    ------
    CorruptFileError
        A Parquet file the read (or the cache it builds) needs is missing,
        truncated or unreadable.
    """
    wanted: dict[str, list[str]] = defaultdict(list)
    for name in names:
        wanted[month_of(name)].append(name)
    in_month = _months(manifest, {m for m, needed in wanted.items() if len(needed) >= 2})
    out: list[pa.Table] = []
    for month, needed in wanted.items():
        table = None
        if len(needed) >= 2:
            every = in_month[month]
            table = _current(series, month, _signature(manifest, every))
            if table is None and 2 * len(needed) >= len(every):
                table = _build(series, month, manifest, every)
        if table is not None:
            for name in needed:  # a missing or truncated file still fails the read
                check_size(os.path.join(series.path, name), manifest.files[name])
            out.append(table)
        else:
            out.extend(read_table(series.path / n, manifest.files[n]) for n in needed)
    return out
