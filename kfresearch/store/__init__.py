"""A local history store: Parquet on disk, downloads that resume, SQL in DuckDB.

>>> import kfresearch
>>> from kfresearch.store import Store
>>> store = Store("data/", kfresearch.connect("sim"))          # doctest: +SKIP
>>> store.candles("PF_XBTUSD", "1m", since="90d")              # doctest: +SKIP
>>> store.sql("select symbol, count(*) from candles group by 1")  # doctest: +SKIP

What a call asks for that the store lacks is fetched through the client, kept,
and served from disk next time: ``store.candles(...)`` returns the very frame
``kf.candles(...)`` returns (columns, dtypes, index, attrs). An index symbol
(``store.candles("in_xbtusd", "1m")``) reads the ``spot`` candles of the
perpetual on its pair, as ``kf.candles`` does, kept once under that contract
(``symbol=PF_XBTUSD/tick_type=spot``).

Layout
------
One directory per kind, each a hive-partitioned Parquet dataset that DuckDB,
Polars, Dask, Spark and pyarrow read unchanged::

    data/
      _store.json                       where the data comes from (env, simulator seed)
      candles/symbol=PF_XBTUSD/tick_type=trade/resolution=1m/
        _manifest.json                  covered ranges, gaps, files (see manifest.py)
        date=2026-08-03/part-1785715200000-1785801600000.parquet
        date=2026-08-04/part-….parquet
      trades/symbol=PF_XBTUSD/date=YYYY-MM-DD/part-<start>-<end>.parquet
      funding_rates/symbol=PF_XBTUSD/date=…/
      account_log/date=…/   fills/date=…/   order_history/date=…/
      book/symbol=PF_XBTUSD/date=…/     book snapshots (recorder only)

* ``date`` is the UTC day of every row in the file; every series is
  partitioned by day, whatever its resolution, so a filter on ``date`` (or a
  read of some days) opens those days' files only.
* A file ``part-<start>-<end>.parquet`` holds the rows with
  ``start <= time < end`` (epoch ms), sorted by ``time`` (a
  ``timestamp[ns, UTC]`` column), with the frame's columns and dtypes.
  Ranges of the files of a series never overlap: no row is stored twice.
* Each series (a kind and its key values) has a ``_manifest.json``: the
  ranges covered (fetched, data or not), the gaps where the exchange had no
  data, and every file with its range, rows and bytes. Files are written
  under a temporary dot-name and renamed; the manifest is written after them
  and is the commit point. Names starting with ``.`` or ``_`` are skipped by
  every Parquet reader.
* Only final rows are kept: complete candles, funding of past hours, trades
  and account events older than a minute. The rest of a range is fetched
  live on each call.

Kinds: ``candles`` (every tick type and resolution), ``trades`` (public
executions), ``funding_rates``, ``account_log``, ``fills``,
``order_history``, and ``book`` (snapshots written by the recorder).

Other engines
-------------
The same directory, no conversion::

    duckdb:  select * from read_parquet('data/candles/**/*.parquet', hive_partitioning=true)
    polars:  pl.scan_parquet("data/candles/**/*.parquet", hive_partitioning=True)
    dask:    dask.dataframe.read_parquet("data/candles/")
    spark:   spark.read.parquet("data/candles")

Recording
---------
``await store.recorder(kf.stream(), ["PF_XBTUSD"])`` (or, blocking,
``store.record(...)`` and ``kfresearch record``) keeps the live trade tape
and book snapshots from the WebSocket in the same dataset, committed every
few minutes; what a reconnect lost is a hole in the covered ranges and a
:class:`Gap` in the summary (:mod:`kfresearch.store.record`).

Replay
------
:meth:`Store.iter_days` yields a series one stored day at a time in time
order (bounded memory) and :meth:`Store.read` reads any range of what is
stored without a client: what a backtest's market source needs.
"""

from kfresearch.store.intervals import Range
from kfresearch.store.kinds import KINDS, Kind
from kfresearch.store.record import Gap, Recorder, RecordSummary
from kfresearch.store.store import Store
from kfresearch.store.summary import Summary

__all__ = ["KINDS", "Gap", "Kind", "Range", "RecordSummary", "Recorder", "Store", "Summary"]
