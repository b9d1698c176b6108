"""One series of the store on disk: its directory, its manifest, and the commit of new files.

A *series* is one kind with fixed key values, e.g. the 1-minute trade candles
of ``PF_XBTUSD``: ``candles/symbol=PF_XBTUSD/tick_type=trade/resolution=1m/``.
Its ``_manifest.json`` is the truth about it:

``covered``
    the ``[start, end)`` ranges (epoch ms) already fetched, data or not;
``gaps``
    the covered ranges where the exchange had no data;
``files``
    every data file (path relative to the series directory) with the range
    it holds, its row count and its size in bytes.

Committing a batch writes its files (each atomically), then the manifest
(atomically): the manifest is the commit point. A file on disk that the
manifest does not list is the leftover of a process killed between the two
and is deleted the next time the series is opened for writing, before
anything else is written, so a range is never held by two files. An
exclusive lock on ``.lock`` keeps two processes (a download and the
recorder) from committing to one series at the same time.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kfresearch.errors import StoreError
from kfresearch.store.files import dumps, replace_text, table_of, write_table
from kfresearch.store.intervals import Range, intersect, normalise, split_days, subtract, union

__all__ = ["MANIFEST", "Manifest", "Series", "day_of", "times_ms"]

MANIFEST = "_manifest.json"
# manifest path -> ((inode, mtime ns, size) of the file parsed, the manifest): Series.read_only
_READ_ONLY: dict[Path, tuple[tuple[int, int, int], Manifest]] = {}
_READ_ONLY_MAX = 256
FORMAT = 1


def times_ms(frame: pd.DataFrame) -> NDArray[np.int64]:
    """Epoch milliseconds (int64) of a frame's UTC ``time`` index."""
    index = pd.DatetimeIndex(frame.index).as_unit("ms")
    out: NDArray[np.int64] = np.asarray(index.asi8, dtype=np.int64)
    return out


def day_of(ms: int) -> str:
    """``YYYY-MM-DD`` of the UTC day holding ``ms``."""
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d")


@dataclass
class Manifest:
    """What a series holds (see the module docstring)."""

    covered: list[Range] = field(default_factory=list)
    gaps: list[Range] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            covered=normalise(tuple(r) for r in data.get("covered", [])),
            gaps=normalise(tuple(r) for r in data.get("gaps", [])),
            files={name: dict(entry) for name, entry in data.get("files", {}).items()},
        )

    def to_json(self, kind: str, keys: Mapping[str, str]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": kind,
            "keys": dict(keys),
            "covered": [list(r) for r in self.covered],
            "gaps": [list(r) for r in self.gaps],
            "files": self.files,
        }

    def files_between(self, start: int, end: int) -> list[str]:
        """Names of the files holding rows in ``[start, end)``, in time order."""
        hits = [
            (entry["start"], name)
            for name, entry in self.files.items()
            if entry["start"] < end and entry["end"] > start
        ]
        return [name for _, name in sorted(hits)]

    @property
    def rows(self) -> int:
        return sum(int(entry["rows"]) for entry in self.files.values())

    @property
    def bytes(self) -> int:
        return sum(int(entry["bytes"]) for entry in self.files.values())


class Series:
    """The directory of one series and the operations on its manifest."""

    def __init__(self, root: Path, kind: str, keys: Mapping[str, str]) -> None:
        self.kind = kind
        self.keys = dict(keys)
        self.path = root.joinpath(kind, *(f"{k}={v}" for k, v in self.keys.items()))

    def __repr__(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in self.keys.items())
        return f"Series({self.kind}{': ' + keys if keys else ''})"

    def load(self) -> Manifest:
        """The manifest (empty when nothing was stored yet), the caller's to change and save."""
        try:
            text = (self.path / MANIFEST).read_text(encoding="utf-8")
        except FileNotFoundError:
            return Manifest()
        try:
            return Manifest.from_json(json.loads(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(
                f"{self.path / MANIFEST} cannot be read ({exc}); move the series directory "
                "away and download it again"
            ) from None

    def read_only(self) -> Manifest:
        """The manifest for reading, not changing: parsed again only when its file changed.

        A replay reads a series week after week; its manifest lists every day
        file (a year of trades: ~370 entries, a few milliseconds to parse).
        The file is always replaced whole (a new inode), so its ``stat``
        says when the parsed copy is stale.
        """
        path = self.path / MANIFEST
        try:
            found = os.stat(path)
        except FileNotFoundError:
            return Manifest()
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        held = _READ_ONLY.get(path)
        if held is not None and held[0] == stamp:
            return held[1]
        manifest = self.load()
        if len(_READ_ONLY) >= _READ_ONLY_MAX:
            _READ_ONLY.clear()
        _READ_ONLY[path] = (stamp, manifest)
        return manifest

    def save(self, manifest: Manifest) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        replace_text(self.path / MANIFEST, dumps(manifest.to_json(self.kind, self.keys)))

    @contextlib.contextmanager
    def locked(self) -> Iterator[Manifest]:
        """Hold the series' write lock; yields its manifest after removing crash leftovers."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a+b") as handle:
            _lock(handle.fileno())
            manifest = self.load()
            self._remove_leftovers(manifest)
            yield manifest

    def _remove_leftovers(self, manifest: Manifest) -> None:
        listed = set(manifest.files)
        # a manifest, or a month cache, being written when killed
        for path in (*self.path.glob(".*.tmp"), *self.path.glob("_cache/.*.tmp")):
            path.unlink(missing_ok=True)
        for path in self.path.glob("date=*/*"):
            name = path.relative_to(self.path).as_posix()
            temporary = path.name.startswith(".") and path.name.endswith(".tmp")
            if temporary or (path.suffix == ".parquet" and name not in listed):
                path.unlink(missing_ok=True)

    def commit(
        self,
        manifest: Manifest,
        frame: pd.DataFrame,
        span: Range,
        gaps: list[Range],
        compression: str = "zstd",
    ) -> int:
        """Store the rows of ``frame`` for ``span`` (one file per UTC day), then the manifest.

        ``frame`` must hold only rows with ``span[0] <= time < span[1]``. Parts of
        ``span`` another writer covered meanwhile are skipped, so no row is
        stored twice. Returns the number of rows written. Call inside :meth:`locked`.
        """
        written = 0
        times = times_ms(frame) if len(frame) else None
        for start, end in split_days(subtract([span], manifest.covered)):
            if times is None:
                break
            rows = frame[(times >= start) & (times < end)]
            if not len(rows):
                continue
            name = f"date={day_of(start)}/part-{start}-{end}.parquet"
            size = write_table(self.path / name, table_of(rows), compression)
            manifest.files[name] = {"start": start, "end": end, "rows": len(rows), "bytes": size}
            written += len(rows)
        manifest.covered = union(manifest.covered, [span])
        manifest.gaps = union(manifest.gaps, intersect(gaps, [span]))
        self.save(manifest)
        return written

    def forget(self, manifest: Manifest, names: list[str]) -> list[Range]:
        """Drop files from the manifest (and disk) and uncover their ranges; returns them."""
        ranges = normalise((manifest.files[n]["start"], manifest.files[n]["end"]) for n in names)
        for name in names:
            manifest.files.pop(name, None)
            (self.path / name).unlink(missing_ok=True)
        manifest.covered = subtract(manifest.covered, ranges)
        self.save(manifest)
        return ranges


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one writer at a time is the user's job
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
