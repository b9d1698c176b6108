"""Read stored rows back as the frames the client returns: only the files the range needs.

The manifest lists every file with the range it holds, so a read opens the
files of the days asked for and no others (partition pruning without listing
directories), checks each against its manifest entry, and gives the kind's
columns and dtypes back with a sorted UTC ``time`` index. Reads of many days
of candles read month caches instead (:mod:`kfresearch.store.cache`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kfresearch.store.cache import tables_of
from kfresearch.store.files import read_table
from kfresearch.store.kinds import Kind
from kfresearch.store.manifest import Series

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["conform", "iter_files", "read_series", "renumber"]


def renumber(frame: pd.DataFrame) -> pd.DataFrame:
    """Number ``seq`` 0, 1, 2… down a frame joined from several answers, as one answer would.

    ``seq`` is a row's place in the answer it came in (the exchange's order
    within a timestamp); stored rows are in ``(time, seq)`` order and answers
    never overlap in time, so numbering the joined rows keeps that order.
    """
    if "seq" in frame.columns:
        frame = frame.copy()
        frame["seq"] = np.arange(len(frame), dtype=np.int64)
    return frame


def conform(frame: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the template's dtypes on the columns they share (extra columns kept)."""
    have = dict(frame.dtypes.items())
    changes = {
        name: dtype
        for name, dtype in template.dtypes.items()
        if name in have and have[name] != dtype
    }
    out = frame.astype(changes) if changes else frame
    if out.index.dtype != template.index.dtype:
        out.index = out.index.astype(template.index.dtype)
    out.index.name = template.index.name
    return out


def _slice(table: pa.Table, start: int, end: int) -> pa.Table:
    """Rows of a time-sorted table with ``start <= time < end`` (epoch ms), by binary search."""
    import pyarrow as pa

    times = table.column("time").combine_chunks().view(pa.int64()).to_numpy()
    first, last = np.searchsorted(times, [start * 1_000_000, end * 1_000_000])
    return table.slice(int(first), int(last - first))


def _frame(tables: list[pa.Table], kind: Kind, start: int, end: int) -> pd.DataFrame:
    """The kind's frame of the rows of ``tables`` (in time order) in ``[start, end)``."""
    import pyarrow as pa

    template = kind.empty()
    if not tables:
        return template
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    frame = _slice(table, start, end).to_pandas().set_index("time")
    for name in template.columns.difference(frame.columns):  # files of an older layout
        frame[name] = pd.Series(pd.NA, index=frame.index, dtype=template[name].dtype)
    return conform(frame, template)


def read_series(series: Series, kind: Kind, start: int, end: int) -> pd.DataFrame:
    """Stored rows of ``series`` with ``start <= time < end``, oldest first.

    Opens only the files the range needs, or reads whole months from their
    caches (:mod:`kfresearch.store.cache`) for kinds that keep them.

    Raises
    ------
    CorruptFileError
        A file the range needs is missing, truncated or unreadable.
    """
    manifest = series.load()
    names = manifest.files_between(start, end)
    if kind.month_cache:
        tables = tables_of(series, manifest, names)
    else:
        tables = [read_table(series.path / name, manifest.files[name]) for name in names]
    return renumber(_frame(tables, kind, start, end))


def iter_files(series: Series, kind: Kind, start: int, end: int) -> Iterator[pd.DataFrame]:
    """The rows of ``[start, end)`` one stored file (at most one UTC day) at a time, in time order.

    Memory stays at one day whatever the range: what a replay of stored
    history iterates over.
    """
    manifest = series.load()
    for name in manifest.files_between(start, end):
        table = read_table(series.path / name, manifest.files[name])
        frame = renumber(_frame([table], kind, start, end))
        if len(frame):
            yield frame
