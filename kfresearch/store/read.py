"""Read stored rows back as the frames the client returns: only the files the range needs.

The manifest lists every file with the range it holds, so a read opens the
files of the days asked for and no others (partition pruning without listing
directories), checks each against its manifest entry, and gives the kind's
columns and dtypes back with a sorted UTC ``time`` index. Reads of many days
of candles read month caches instead (:mod:`kfresearch.store.cache`).

Rows that hold exactly the columns of the kind's frame schema, all numbers
(candles), become the frame straight from the Arrow buffers
(:func:`plain_frame`): no ``to_pandas``, no ``set_index``, no dtype
conversion, and no empty template frame to build (the frame builders' first
call costs ~10 ms in a fresh process). Anything else takes the general path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kfresearch.store.cache import tables_of
from kfresearch.store.files import read_table
from kfresearch.store.kinds import Kind
from kfresearch.store.manifest import Series

if TYPE_CHECKING:
    import pyarrow as pa

    from kfresearch.frames.core import FrameSpec

_NS_PER_MS = 1_000_000

__all__ = ["conform", "iter_files", "plain_frame", "read_arrow_series", "read_series", "renumber"]


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
    first, last = np.searchsorted(times, [start * _NS_PER_MS, end * _NS_PER_MS])
    return table.slice(int(first), int(last - first))


def _plain_columns(table: pa.Table, spec: FrameSpec) -> list[tuple[str, np.dtype[Any]]] | None:
    """``(name, dtype)`` of the value columns when ``table`` is ``time`` (ns, UTC) followed
    by exactly the spec's other columns, each a null-free number of the spec's dtype;
    None otherwise."""
    import pyarrow as pa

    dtypes = spec.dtypes()
    if spec.index != "time" or spec.derive is not None or table.column_names[:1] != ["time"]:
        return None
    names = [name for name in spec.names if name != "time"]
    if table.column_names[1:] != names:
        return None
    if not pa.types.is_timestamp(table.schema.field("time").type):
        return None
    kind = table.schema.field("time").type
    if kind.unit != "ns" or kind.tz not in ("UTC", "+00:00"):
        return None
    out: list[tuple[str, np.dtype[Any]]] = []
    for name in names:
        field, dtype = table.schema.field(name), dtypes[name]
        numeric = pa.types.is_floating(field.type) or pa.types.is_integer(field.type)
        if not (isinstance(dtype, np.dtype) and dtype.kind in "fiu" and numeric):
            return None
        if field.type.to_pandas_dtype() != dtype.type or table.column(name).null_count:
            return None
        out.append((name, dtype))
    return out


def plain_frame(
    table: pa.Table, spec: FrameSpec | None, start: int, end: int
) -> pd.DataFrame | None:
    """The frame of the rows of a time-sorted ``table`` in ``[start, end)`` (epoch ms), built
    straight from its buffers; None when the table is not plain (see the module docstring).

    Returns
    -------
    pandas.DataFrame or None
        ``DatetimeIndex`` named ``time`` (datetime64[ns, UTC]), then the spec's
        columns with its dtypes in one writable block: the frame the kind's
        frame builder gives for the same rows.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from kfresearch.frames.market import CANDLES
    >>> times = pa.array([0, 60_000_000_000], pa.timestamp("ns", tz="UTC"))
    >>> ones = pa.array([1.0, 2.0])
    >>> values = {name: ones for name in ("open", "high", "low", "close", "volume")}
    >>> table = pa.table({"time": times, **values})
    >>> plain_frame(table, CANDLES, 0, 60_000).shape
    (1, 5)
    """
    if spec is None:
        return None
    columns = _plain_columns(table, spec)
    if columns is None:
        return None
    stamps = table.column("time").to_numpy()  # datetime64[ns] of the UTC instants
    first, last = np.searchsorted(
        stamps.view(np.int64), [start * _NS_PER_MS, end * _NS_PER_MS]
    ).tolist()
    index = pd.DatetimeIndex(stamps[first:last], name="time").tz_localize("UTC")
    if len({dtype for _, dtype in columns}) == 1:
        # one (columns x rows) array is the frame's only block: filled once, never copied again
        block = np.empty((len(columns), last - first), dtype=columns[0][1])
        for row, (name, _) in enumerate(columns):
            block[row] = table.column(name).to_numpy()[first:last]
        return pd.DataFrame(block.T, index=index, columns=[n for n, _ in columns], copy=False)
    data = {name: table.column(name).to_numpy()[first:last] for name, _ in columns}
    return pd.DataFrame(data, index=index)


def _frame(
    tables: list[pa.Table], kind: Kind, start: int, end: int, columns: list[str] | None = None
) -> pd.DataFrame:
    """The kind's frame (only ``columns`` when given) of the rows of ``tables`` (in time
    order) in ``[start, end)``."""
    import pyarrow as pa

    if not tables:
        return kind.empty() if columns is None else kind.empty()[columns]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    if columns is None:
        plain = plain_frame(table, kind.spec, start, end)
        if plain is not None:
            return plain  # no template built: its first call costs milliseconds
    else:
        table = table.select([n for n in ("time", *columns) if n in table.column_names])
    template = kind.empty() if columns is None else kind.empty()[columns]
    frame = _slice(table, start, end).to_pandas().set_index("time")
    for name in template.columns.difference(frame.columns):  # files of an older layout
        frame[name] = pd.Series(pd.NA, index=frame.index, dtype=template[name].dtype)
    if columns is not None:
        frame = frame[columns]
    return conform(frame, template)


def read_series(
    series: Series, kind: Kind, start: int, end: int, columns: list[str] | None = None
) -> pd.DataFrame:
    """Stored rows of ``series`` with ``start <= time < end``, oldest first.

    Opens only the files the range needs, or reads whole months from their
    caches (:mod:`kfresearch.store.cache`) for kinds that keep them.
    ``columns`` (names of the kind's frame, checked by the caller) reads only
    those: the frame has them, in that order, with the kind's dtypes.

    Raises
    ------
    CorruptFileError
        A file the range needs is missing, truncated or unreadable.
    """
    manifest = series.read_only()
    names = manifest.files_between(start, end)
    if kind.month_cache:
        tables = tables_of(series, manifest, names)
    else:
        wanted = None if columns is None else ["time", *columns]
        tables = [read_table(series.path / n, manifest.files[n], wanted) for n in names]
    return renumber(_frame(tables, kind, start, end, columns))


def read_arrow_series(
    series: Series, kind: Kind, start: int, end: int, columns: list[str]
) -> pa.Table:
    """Stored rows of ``series`` with ``start <= time < end`` as one Arrow table: ``time``
    (as stored: timestamp ns, UTC), then ``columns`` in that order, oldest first.

    The rows and columns :func:`read_series` gives for the same arguments,
    without the frame: no ``to_pandas``, index or dtype conversion (~6 ms of a
    week of trades' ~13). Values keep their stored Arrow types; a column the
    files lack (an older layout) is all nulls; ``seq`` is numbered 0, 1, 2…
    as :func:`renumber` does.

    Examples
    --------
    >>> table = read_arrow_series(series, KINDS["trades"], t0, t1, ["price"])  # doctest: +SKIP
    >>> table.column_names
    ['time', 'price']
    """
    import pyarrow as pa

    manifest = series.read_only()
    names = manifest.files_between(start, end)
    wanted = ["time", *columns]
    if kind.month_cache:
        tables = tables_of(series, manifest, names)
    else:
        tables = [read_table(series.path / n, manifest.files[n], wanted) for n in names]
    if not tables:
        stamps = pa.array([], pa.timestamp("ns", tz="UTC"))
        return pa.table([stamps, *(pa.nulls(0) for _ in columns)], names=wanted)
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    table = _slice(table.select([n for n in wanted if n in table.column_names]), start, end)
    present = set(table.column_names)
    out = [table.column("time")]
    for name in columns:
        if name == "seq":
            out.append(pa.chunked_array([pa.array(np.arange(table.num_rows, dtype=np.int64))]))
        elif name in present:
            out.append(table.column(name))
        else:
            out.append(pa.chunked_array([pa.nulls(table.num_rows)]))
    return pa.table(out, names=wanted)


def iter_files(series: Series, kind: Kind, start: int, end: int) -> Iterator[pd.DataFrame]:
    """The rows of ``[start, end)`` one stored file (at most one UTC day) at a time, in time order.

    Memory stays at one day whatever the range: what a replay of stored
    history iterates over.
    """
    manifest = series.read_only()
    for name in manifest.files_between(start, end):
        table = read_table(series.path / name, manifest.files[name])
        frame = renumber(_frame([table], kind, start, end))
        if len(frame):
            yield frame
