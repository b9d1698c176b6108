"""The :class:`Store`: a directory of Parquet history that fills itself from a client."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.contracts import check_symbol, kind
from kfresearch.errors import CorruptFileError, StoreError, ValidationError
from kfresearch.queries import (
    CANDLE_PAGE,
    RESOLUTIONS,
    TICK_TYPES,
    index_source,
    report_late_start,
    time_range,
)
from kfresearch.store.download import ensure
from kfresearch.store.files import dumps, read_table, replace_text
from kfresearch.store.kinds import KINDS, Kind, kind_named
from kfresearch.store.manifest import MANIFEST, Series
from kfresearch.store.read import conform, iter_files, read_arrow_series, read_series, renumber
from kfresearch.store.summary import Summary

if TYPE_CHECKING:
    import pyarrow as pa

    from kfresearch.client import Client
    from kfresearch.store.record import Recorder, RecordSummary
    from kfresearch.stream import Stream

__all__ = ["IDENTITY", "Store"]

log = logging.getLogger("kfresearch.store")

_YEAR_2100_MS = 4_102_444_800_000  # "until the end": later than anything stored

IDENTITY = "_store.json"
"""File at the store root naming where its data comes from (environment, simulator seed)."""


class Store:
    """A local history store: hive-partitioned Parquet under ``root``, filled through ``kf``.

    Parameters
    ----------
    root : str or Path
        The store directory (created on the first write).
    kf : Client, optional
        Where missing data comes from. Without one the store only reads.
    progress : bool
        Show a ``tqdm.auto`` bar while downloading (``TQDM_DISABLE=1`` hides it).

    Examples
    --------
    >>> store = Store("data/", kfresearch.connect("sim"))  # doctest: +SKIP
    >>> store.candles("PF_XBTUSD", "1m", since="90d").shape  # doctest: +SKIP
    (129600, 5)
    """

    def __init__(self, root: str | Path, kf: Client | None = None, *, progress: bool = True):
        self.root = Path(root)
        self.kf = kf
        self.progress = progress
        #: the summaries of the downloads the last call made
        self.last_summaries: list[Summary] = []
        self._instruments: pd.DataFrame | None = None
        if kf is not None:
            self._check_identity(kf)

    def __repr__(self) -> str:
        source = f"env={self.kf.env.name!r}" if self.kf is not None else "read-only"
        return f"<kfresearch.store.Store {str(self.root)!r} {source}>"

    # -- where the data comes from ------------------------------------------------------
    @staticmethod
    def _identity_of(kf: Client) -> dict[str, Any]:
        seed = kf.sim.seed if kf.env.in_process else None
        return {"env": kf.env.name, "seed": seed}

    def _check_identity(self, kf: Client) -> None:
        path = self.root / IDENTITY
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        mine = self._identity_of(kf)
        same_env = stored.get("env") == mine["env"]
        seeds = (stored.get("seed"), mine["seed"])
        if not same_env or (None not in seeds and seeds[0] != seeds[1]):
            where = f"env {stored.get('env')!r}" + (
                f", seed {stored['seed']}" if stored.get("seed") is not None else ""
            )
            raise StoreError(
                f"{self.root} holds data from {where}; this client is env {mine['env']!r}"
                + (f", seed {mine['seed']}" if mine["seed"] is not None else "")
                + ". Use another directory for it: mixing sources would mix prices."
            )

    def _write_identity(self) -> None:
        path = self.root / IDENTITY
        if self.kf is None or path.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        replace_text(path, dumps({"format": 1, **self._identity_of(self.kf)}))

    def _client(self) -> Client:
        if self.kf is None:
            raise StoreError(
                f"{self.root} was opened without a client, so it can only read what it holds: "
                "pass one, e.g. Store(path, kfresearch.connect('sim'))"
            )
        return self.kf

    def _now_ms(self) -> int:
        """The exchange's clock: the simulator's in-process, else the server time it sent."""
        kf = self._client()
        if kf.env.in_process:
            return int(kf.sim.clock.now_ms())
        server = kf.instruments().attrs.get("server_time")
        return int(server.value // 1_000_000) if server is not None else int(time.time() * 1000)

    def _listed(self) -> pd.DataFrame:
        if self._instruments is None:
            self._instruments = self._client().instruments()
        return self._instruments

    def _symbol(self, symbol: Any) -> str:
        return check_symbol(symbol, self._listed().index)

    def _candle_source(self, symbol: Any, tick_type: str) -> tuple[str, str, str]:
        """``(label, contract, tick_type)`` of a candle series: an index (``in_xbtusd``) is
        the ``spot`` series of the perpetual on its pair, stored once under that contract."""
        if kind(symbol) != "index":
            name = self._symbol(symbol)
            return name, name, tick_type
        listed = self._listed()
        perpetuals = listed.index[listed["last_trading_time"].isna()]
        label = str(symbol).strip().lower()
        return label, index_source(label, tick_type, perpetuals), "spot"

    # -- the generic path: ensure a range, read it back ------------------------------------
    def _series(self, kind: Kind, keys: dict[str, str]) -> Series:
        return Series(self.root, kind.name, keys)

    def _fill(
        self,
        kind: Kind,
        keys: dict[str, str],
        start: int,
        end: int,
        now: int,
        progress: bool | None = None,
    ) -> int:
        """Download what ``[start, end)`` lacks; returns where the stored (final) part ends."""
        series = self._series(kind, keys)
        final = min(end, kind.final_end(keys, now))
        self._write_identity()
        shown = self.progress if progress is None else progress
        summary = ensure(self._client(), series, kind, (start, final), progress=shown)
        self.last_summaries.append(summary)
        log.info("%s", summary)
        return final

    def _get(
        self,
        kind: Kind,
        keys: dict[str, str],
        start: int,
        end: int,
        now: int,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Rows of ``[start, end)``: stored ones (fetched first when missing) plus the live tail."""
        self.last_summaries = []
        final = self._fill(kind, keys, start, end, now, progress)
        series = self._series(kind, keys)
        stored = read_series(series, kind, start, max(start, final))
        if end <= final or kind.fetch is None:
            return stored
        # the part that is not final yet is served live and never stored
        tail = kind.fetch(self._client(), keys, max(start, final), end)
        if not len(stored):
            return conform(tail, kind.empty())
        return renumber(conform(pd.concat([stored, tail]), kind.empty()))

    def _finish(self, frame: pd.DataFrame, **attrs: Any) -> pd.DataFrame:
        frame.attrs.clear()
        frame.attrs.update(attrs)
        frame.attrs["env"] = self._client().env.name
        return frame

    # -- market data --------------------------------------------------------------------
    def candles(
        self,
        symbol: str,
        resolution: str = "1h",
        since: Any = None,
        until: Any = None,
        *,
        tick_type: str = "trade",
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """The frame ``kf.candles(...)`` returns, served from the store; only missing ranges
        are fetched, and complete candles are kept for next time.

        Same arguments, columns, dtypes, index and attrs as
        :meth:`kfresearch.Client.candles`; ``attrs["data_start"]`` and a
        :class:`~kfresearch.DataGapWarning` when the exchange's data starts
        after ``since``. ``progress`` (default: the store's) shows the download bar.
        """
        resolution = str(resolution).lower()
        if resolution not in RESOLUTIONS:
            raise ValidationError(
                "resolution", resolution, f"resolution must be one of {', '.join(RESOLUTIONS)}"
            )
        if tick_type not in TICK_TYPES:
            raise ValidationError(
                "tick_type", tick_type, f"tick_type must be one of {', '.join(TICK_TYPES)}"
            )
        step = RESOLUTIONS[resolution]
        now = self._now_ms()
        start, end = time_range(since, until, now, default_since=now - CANDLE_PAGE * step)
        first = start // step * step
        label, name, tick_type = self._candle_source(symbol, tick_type)
        keys = {"symbol": name, "tick_type": tick_type, "resolution": resolution}
        frame = self._get(KINDS["candles"], keys, first, end, now, progress)
        frame = self._finish(
            frame, more_candles=False, symbol=label, resolution=resolution, tick_type=tick_type
        )
        if label != name:
            frame.attrs["source_symbol"] = name
        if since is not None:
            report_late_start(frame, first, step, f"{label} {resolution} {tick_type} candles")
        # the order kf.candles gives them
        order = ["more_candles", "symbol", "resolution", "tick_type", "source_symbol",
                 "data_start", "env"]
        ordered = {key: frame.attrs[key] for key in order if key in frame.attrs}
        frame.attrs.clear()
        frame.attrs.update(ordered)
        return frame

    def trades(
        self, symbol: str, since: Any = "1h", until: Any = None, *, progress: bool | None = None
    ) -> pd.DataFrame:
        """Public trades of ``symbol`` in ``[since, until)``, like :meth:`Client.trades`."""
        now = self._now_ms()
        start, end = time_range(since, until, now, default_since="1h")
        name = self._symbol(symbol)
        frame = self._get(KINDS["trades"], {"symbol": name}, start, end, now, progress)
        return self._finish(frame, continuation_token=None, symbol=name)

    def funding_rates(self, symbol: str, since: Any = "30d", until: Any = None) -> pd.DataFrame:
        """Hourly funding of a perpetual like :meth:`kfresearch.Client.funding_rates`."""
        now = self._now_ms()
        start, end = time_range(since, until, now, default_since="30d")
        name = self._symbol(symbol)
        frame = self._get(KINDS["funding_rates"], {"symbol": name}, start, end, now)
        return self._finish(frame, server_time=_stamp(now), symbol=name)

    # -- account data (private) -----------------------------------------------------------
    def account_log(self, since: Any = "30d", until: Any = None) -> pd.DataFrame:
        """Account-log entries like :meth:`kfresearch.Client.account_log`."""
        return self._private("account_log", since, until)

    def fills(self, since: Any = "30d", until: Any = None) -> pd.DataFrame:
        """The account's fills in ``[since, until)`` (see :meth:`kfresearch.Client.fills`)."""
        return self._private("fills", since, until)

    def order_history(self, since: Any = "30d", until: Any = None) -> pd.DataFrame:
        """Order events like :meth:`kfresearch.Client.order_history`."""
        return self._private("order_history", since, until)

    def _private(self, name: str, since: Any, until: Any) -> pd.DataFrame:
        now = self._now_ms()
        start, end = time_range(since, until, now, default_since="30d")
        return self._finish(self._get(KINDS[name], {}, start, end, now))

    # -- downloads without reading ----------------------------------------------------------
    def download(
        self,
        kind: str,
        symbol: str | None = None,
        since: Any = "30d",
        until: Any = None,
        *,
        resolution: str = "1m",
        tick_type: str = "trade",
    ) -> Summary:
        """Fetch what the store lacks of ``[since, until)`` and keep it; read nothing back.

        ``kind`` is ``"candles"``, ``"trades"``, ``"funding_rates"``,
        ``"account_log"``, ``"fills"`` or ``"order_history"``. Returns the
        :class:`~kfresearch.store.Summary` (fetched, already there, gaps).
        Interrupted (Ctrl-C, network error, rate limit, a killed process),
        it resumes where it stopped when called again.
        """
        spec = kind_named(kind)
        if spec.fetch is None:
            raise ValidationError("kind", kind, f"{spec.name} is recorded, not downloaded")
        now = self._now_ms()
        keys = self._keys(spec, symbol, resolution, tick_type)
        step = spec.step(keys)
        start, end = time_range(since, until, now, default_since="30d")
        if step > 1:
            start = start // step * step
        self.last_summaries = []
        self._fill(spec, keys, start, end, now)
        return self.last_summaries[-1]

    def _keys(
        self, spec: Kind, symbol: str | None, resolution: str, tick_type: str
    ) -> dict[str, str]:
        keys: dict[str, str] = {}
        if "tick_type" in spec.keys and tick_type not in TICK_TYPES:
            raise ValidationError(
                "tick_type", tick_type, f"tick_type must be one of {', '.join(TICK_TYPES)}"
            )
        if "symbol" in spec.keys:
            if symbol is None:
                raise ValidationError("symbol", symbol, f"{spec.name} needs a symbol")
            if "tick_type" in spec.keys:  # candles: an index is its contract's spot series
                _, keys["symbol"], tick_type = self._candle_source(symbol, tick_type)
            else:
                keys["symbol"] = self._symbol(symbol)
        if "tick_type" in spec.keys:
            keys["tick_type"] = tick_type
        if "resolution" in spec.keys:
            resolution = str(resolution).lower()
            if resolution not in RESOLUTIONS:
                raise ValidationError(
                    "resolution", resolution, f"resolution must be one of {', '.join(RESOLUTIONS)}"
                )
            keys["resolution"] = resolution
        return keys

    # -- reading what is stored, offline ----------------------------------------------------
    def read(
        self,
        kind: str,
        since: Any = None,
        until: Any = None,
        *,
        columns: Sequence[str] | None = None,
        **keys: str,
    ) -> pd.DataFrame:
        """What the store holds of one series in ``[since, until)``; nothing is fetched.

        ``keys`` name the series (``symbol=``, ``tick_type=``, ``resolution=``).
        ``since``/``until`` default to everything stored. Opens only the files
        of the days asked for. ``columns`` keeps only those columns of the
        kind's frame (the ``time`` index always; one name is one column), and
        reads only them from the files: a long replay of trades needs
        ``["price", "size", "side"]``, not every id.

        >>> store.read("trades", "2026-10-01", "2026-10-08", symbol="PF_XBTUSD",
        ...            columns=["price", "size"]).columns.tolist()  # doctest: +SKIP
        ['price', 'size']

        Raises
        ------
        ValidationError
            A column the kind's frame does not have (the message lists them).
        """
        spec, series, start, end = self._stored(kind, since, until, keys)
        if columns is not None:
            columns = _checked_columns(spec, columns)
        return read_series(series, spec, start, end, columns)

    def read_arrow(
        self,
        kind: str,
        since: Any = None,
        until: Any = None,
        *,
        columns: Sequence[str],
        **keys: str,
    ) -> pa.Table:
        """Like :meth:`read` with ``columns``, as an Arrow table: ``time`` then ``columns``.

        The same rows, without building a frame (a week of trades ~13 -> ~5 ms):
        for a reader that wants arrays, such as a replay. Values keep their
        stored Arrow types (``time`` is ``timestamp[ns, tz=UTC]``); a column
        the files lack is all nulls.

        >>> store.read_arrow("trades", "2026-10-01", "2026-10-08", symbol="PF_XBTUSD",
        ...                  columns=["price"]).column_names  # doctest: +SKIP
        ['time', 'price']

        Raises
        ------
        ValidationError
            A column the kind's frame does not have (the message lists them).
        """
        spec, series, start, end = self._stored(kind, since, until, keys)
        return read_arrow_series(series, spec, start, end, _checked_columns(spec, columns))

    def iter_days(
        self, kind: str, since: Any = None, until: Any = None, **keys: str
    ) -> Iterator[pd.DataFrame]:
        """Like :meth:`read`, one stored file (at most a UTC day) at a time, in time order.

        For replaying long histories with bounded memory.
        """
        spec, series, start, end = self._stored(kind, since, until, keys)
        return iter_files(series, spec, start, end)

    def _stored(
        self, kind: str, since: Any, until: Any, keys: dict[str, str]
    ) -> tuple[Kind, Series, int, int]:
        from kfresearch.timeparse import to_epoch_ms

        spec = kind_named(kind)
        missing = [key for key in spec.keys if key not in keys]
        if missing:
            raise ValidationError("keys", keys, f"{spec.name} needs {', '.join(missing)}")
        series = self._series(spec, {key: str(keys[key]) for key in spec.keys})
        now = int(time.time() * 1000)
        start = 0 if since is None else to_epoch_ms(since, now=now)
        end = _YEAR_2100_MS if until is None else to_epoch_ms(until, now=now)
        return spec, series, start, end

    def series(self) -> list[Series]:
        """Every series with a manifest under the root, sorted by path."""
        return sorted(
            (
                Series(self.root, path.parent.relative_to(self.root).parts[0], _keys_of(path))
                for path in self.root.glob(f"*/**/{MANIFEST}")
            ),
            key=lambda s: str(s.path),
        )

    def info(self) -> pd.DataFrame:
        """One row per series: kind, keys, first and last time covered, rows, files, bytes, gaps.

        ``start``/``end`` bound what is covered (UTC); ``holes`` counts the
        ranges inside them that are not covered (not downloaded yet, or not
        seen by the recorder: a reconnect that lost data) and ``hole_ranges``
        lists them; ``gaps`` are the ranges where the exchange had no data.
        """
        rows = []
        for series in self.series():
            manifest = series.load()
            covered = manifest.covered
            rows.append(
                {
                    "kind": series.kind,
                    **series.keys,
                    "start": _stamp(covered[0][0]) if covered else pd.NaT,
                    "end": _stamp(covered[-1][1]) if covered else pd.NaT,
                    "holes": max(len(covered) - 1, 0),
                    "hole_ranges": [
                        (_stamp(a[1]), _stamp(b[0])) for a, b in itertools.pairwise(covered)
                    ],
                    "rows": manifest.rows,
                    "files": len(manifest.files),
                    "bytes": manifest.bytes,
                    "gaps": len(manifest.gaps),
                    "gap_ranges": [(_stamp(a), _stamp(b)) for a, b in manifest.gaps],
                }
            )
        columns = ["kind", "symbol", "tick_type", "resolution", "start", "end", "holes"]
        columns += ["hole_ranges", "rows", "files", "bytes", "gaps", "gap_ranges"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({"rows": "int64", "files": "int64", "bytes": "int64", "gaps": "int64"})

    # -- repair ---------------------------------------------------------------------------
    def check(self) -> list[CorruptFileError]:
        """Every stored file that is missing, truncated or unreadable (reads every file)."""
        problems: list[CorruptFileError] = []
        for series in self.series():
            manifest = series.load()
            for name in list(manifest.files):
                entry = manifest.files[name]
                try:
                    read_table(series.path / name, entry)
                except CorruptFileError as exc:
                    problems.append(exc)
        return problems

    def repair(self) -> pd.DataFrame:
        """Re-fetch every stored file that is missing, truncated or unreadable.

        Each bad file is removed and its range uncovered, then downloaded
        again (recorded kinds, such as book snapshots, cannot be fetched
        again: their ranges are reported as lost). Returns one row per bad
        file: ``path``, ``problem``, and ``action`` (``"re-fetched"`` or
        ``"lost"``).
        """
        done = []
        bad = self.check()
        by_series: dict[Path, list[CorruptFileError]] = {}
        for problem in bad:
            series_dir = Path(problem.path).parent.parent
            by_series.setdefault(series_dir, []).append(problem)
        now = self._now_ms() if self.kf is not None else None
        for series in self.series():
            problems = by_series.get(series.path, [])
            if not problems:
                continue
            spec = kind_named(series.kind)
            names = [Path(p.path).relative_to(series.path).as_posix() for p in problems]
            with series.locked() as manifest:
                ranges = series.forget(manifest, names)
            refetch = spec.fetch is not None and now is not None
            for start, end in ranges if refetch else []:
                ensure(self._client(), series, spec, (start, end), progress=self.progress)
            for problem in problems:
                done.append(
                    {
                        "path": problem.path,
                        "problem": str(problem).split("; run store.repair")[0],
                        "action": "re-fetched" if refetch else "lost",
                    }
                )
        return pd.DataFrame(done, columns=["path", "problem", "action"])

    # -- SQL ---------------------------------------------------------------------------------
    def sql(self, query: str) -> pd.DataFrame:
        """Run ``query`` in DuckDB over the store and return a DataFrame.

        Each kind is a view named after it (``candles``, ``trades``,
        ``funding_rates``, ``account_log``, ``fills``, ``order_history``,
        ``book``) with the hive keys as columns (``symbol``, ``tick_type``,
        ``resolution``, ``date``). Filter on ``date`` to read only those days'
        files.

        >>> store.sql("select symbol, count(*) from candles group by 1")  # doctest: +SKIP
        """
        from kfresearch.store.sql import connect

        for series in self.series():
            with series.locked():
                pass  # removes leftovers of killed writers before DuckDB globs the files
        with connect(self.root) as con:
            frame: pd.DataFrame = con.sql(query).df()
        return frame

    # -- the recorder ----------------------------------------------------------------------
    def recorder(
        self,
        stream: Stream,
        symbols: str | Sequence[str],
        *,
        trades: bool = True,
        book: bool = True,
        every: float = 5.0,
        roll: float = 300.0,
        depth: int = 25,
    ) -> Recorder:
        """Start recording ``symbols`` from ``stream`` into the store; ``await`` it in a notebook.

        Trades and book snapshots (the top ``depth`` levels every ``every``
        seconds) are committed every ``roll`` seconds of the exchange's time;
        ``recorder.stop()`` commits the rest and returns a
        :class:`~kfresearch.store.RecordSummary`, whose ``gaps`` list what a
        reconnect lost. See :mod:`kfresearch.store.record`.

        Examples
        --------
        >>> s = kf.stream()                                              # doctest: +SKIP
        >>> rec = await store.recorder(s, ["PF_XBTUSD", "PF_ETHUSD"])    # doctest: +SKIP
        >>> rec.stop()                                                   # doctest: +SKIP
        recorded PF_XBTUSD, PF_ETHUSD: 120 book snapshots (6,000 rows), 412 trades, 3 rolls, no gaps
        """
        from kfresearch.store.record import Recorder

        kf = self._client()
        if stream.env.name != kf.env.name:
            raise ValidationError(
                "stream", stream,
                f"the stream is env {stream.env.name!r} and the store's client env "
                f"{kf.env.name!r}: record from the client's own stream, kf.stream()",
            )
        if not (trades or book):
            raise ValidationError("trades", trades, "say what to record: trades, book or both")
        names = [self._symbol(s) for s in ([symbols] if isinstance(symbols, str) else symbols)]
        self._write_identity()
        recorder = Recorder(stream, self.root, names, trades=trades, book=book, every=every,
                            roll=roll, depth=depth)
        return recorder.start()

    def record(
        self,
        symbols: str | Sequence[str],
        *,
        trades: bool = True,
        book: bool = True,
        duration: float | None = None,
        every: float = 5.0,
        roll: float = 300.0,
        depth: int = 25,
    ) -> RecordSummary:
        """Record ``symbols`` for ``duration`` seconds (None: until Ctrl-C), blocking: a
        script's (and ``kfresearch record``'s) way to run :meth:`recorder` on its own stream.

        Raises
        ------
        StoreError
            Called on a running event loop (a notebook): there, use
            ``rec = await store.recorder(kf.stream(), symbols)`` and ``rec.stop()``.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise StoreError(
                "store.record() blocks, which would freeze this event loop (a notebook): use "
                "rec = await store.recorder(kf.stream(), symbols), then rec.stop()"
            )
        with self._client().stream() as stream:
            recorder = self.recorder(stream, symbols, trades=trades, book=book, every=every,
                                     roll=roll, depth=depth)
            try:
                while duration is None:
                    time.sleep(3600)
                time.sleep(duration or 0.0)
            except KeyboardInterrupt:
                pass
            return recorder.stop()


def _keys_of(manifest_path: Path) -> dict[str, str]:
    keys: dict[str, str] = {}
    for part in manifest_path.parent.parts:
        if "=" in part:
            key, value = part.split("=", 1)
            keys[key] = value
    return keys


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _checked_columns(spec: Kind, columns: Sequence[str]) -> list[str]:
    """``columns`` (one name or many) without repeats, all of the kind's frame.

    Raises
    ------
    ValidationError
        A column the kind's frame does not have, or none (the message lists them).
    """
    names = list(dict.fromkeys([columns] if isinstance(columns, str) else columns))
    known = _KNOWN.get(spec.name)
    if known is None:
        known = _KNOWN[spec.name] = tuple(spec.empty().columns)
    if not names or any(name not in known for name in names):
        raise ValidationError(
            "columns", names, f"{spec.name} frames have the columns {', '.join(known)}"
        )
    return names


# kind name -> the columns of its frame (Kind.empty() copies its template every call)
_KNOWN: dict[str, tuple[str, ...]] = {}
