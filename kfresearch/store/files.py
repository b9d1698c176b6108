"""Parquet files of the store: written whole under a temporary name, read with checks.

A file is written to a dot-named temporary file in its partition directory
(every Parquet reader skips names starting with ``.`` or ``_``), then renamed
over its final name: a killed process leaves either no file or a complete
one, never a half file that reads as data. Data files are not fsynced (that
cost 7 ms a file, most of a day of 1-minute candles); if the machine itself
loses power, the size recorded in the manifest catches a short file on read,
with :class:`~kfresearch.errors.CorruptFileError` naming it and the repair.
Manifests, the commit points, are fsynced.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.errors import CorruptFileError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "REPAIR_HINT",
    "check_size",
    "dumps",
    "read_arrow",
    "read_table",
    "replace_text",
    "table_of",
    "write_arrow",
    "write_table",
]

# a stored file of at most this many rows is read on the calling thread (read_table)
_SMALL_ROWS = 50_000

REPAIR_HINT = "run store.repair() (or `kfresearch store repair DIR`) to re-fetch it"


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def _commit(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename)."""
    tmp = _temporary(path)
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        _commit(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def table_of(frame: pd.DataFrame) -> pa.Table:
    """The Arrow table of a time-indexed frame: ``time`` first, then the frame's columns."""
    import pyarrow as pa

    plain = frame.reset_index()
    plain.attrs = {}  # attrs describe one answer, not the stored rows
    return pa.Table.from_pandas(plain, preserve_index=False)


def write_table(path: Path, table: pa.Table, compression: str = "zstd") -> int:
    """Write ``table`` to ``path`` atomically with ``compression``; returns its size in bytes."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        pq.write_table(table, tmp, compression=compression)
        _commit(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path.stat().st_size


def write_arrow(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` atomically as an uncompressed Arrow IPC file of one
    record batch (a cache: not fsynced, not in the manifest).

    One batch means every column reads back as one contiguous buffer, which
    numpy views without a copy.
    """
    import pyarrow as pa

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    table = table.combine_chunks()
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=max(table.num_rows, 1))
        _commit(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def read_arrow(path: Path) -> pa.Table | None:
    """The table of an Arrow IPC file, memory-mapped; None when it is missing or unreadable.

    The table's buffers are the file's pages in the OS cache, not a copy: for
    a month of 1-minute candles (2 MB) a ``read()`` into a fresh buffer cost
    several times more than mapping, mostly in page faults of the new
    buffer. Caches are replaced by a rename, never rewritten in place, so a
    mapping never sees a file change under it.
    """
    import pyarrow as pa

    try:
        return pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    except (FileNotFoundError, pa.ArrowException, OSError):
        return None


def _corrupt(path: str | Path, why: str) -> CorruptFileError:
    return CorruptFileError(f"{path}: {why}; {REPAIR_HINT}", path=str(path))


def check_size(path: str | Path, expected: dict[str, Any]) -> None:
    """Raise :class:`~kfresearch.errors.CorruptFileError` unless ``path`` exists with the
    size its manifest entry says (a missing or truncated file).

    One ``stat``: a read served from a month cache checks each day file it stands
    for this way, a few microseconds each.
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise _corrupt(path, "the file is missing") from None
    if size != expected["bytes"]:
        raise _corrupt(path, f"the file has {size:,} bytes, {expected['bytes']:,} were written")


def read_table(
    path: Path, expected: dict[str, Any], columns: list[str] | None = None
) -> pa.Table:
    """Read one stored file, checking it against its manifest entry (``bytes``, ``rows``).

    ``columns`` reads only those (the ones the file has; Parquet is columnar,
    so the others cost nothing).

    Raises
    ------
    CorruptFileError
        The file is missing, has another size than when it was written, or
        cannot be parsed; the message names it and the repair.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_size(path, expected)
    try:
        # ParquetFile reads one file ~4x faster than read_table's dataset machinery; a small
        # file is decoded on this thread, read in one go (a pool's hand-off and pre-buffered
        # ranges cost more than its few columns: a day of 1,440 trades ~1.0 -> ~0.6 ms)
        small = expected["rows"] <= _SMALL_ROWS
        parquet = pq.ParquetFile(path, pre_buffer=not small)
        if columns is not None:
            present = set(parquet.schema_arrow.names)
            columns = [name for name in columns if name in present]
        table = parquet.read(columns=columns, use_threads=not small)
    except (pa.ArrowException, OSError) as exc:
        raise _corrupt(path, f"the file cannot be read ({exc})") from None
    if table.num_rows != expected["rows"]:
        raise _corrupt(path, f"the file has {table.num_rows} rows, {expected['rows']} were written")
    return table


def dumps(value: Any) -> str:
    """Stable, human-readable JSON (sorted keys) for the manifests."""
    return json.dumps(value, indent=1, sort_keys=True) + "\n"
