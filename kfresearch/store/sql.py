"""DuckDB over the store: one view per kind, hive keys as columns."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kfresearch.store.kinds import KINDS

if TYPE_CHECKING:
    import duckdb

__all__ = ["connect", "view_sql"]


def view_sql(root: Path, kind: str) -> str:
    """The ``CREATE VIEW`` statement of ``kind`` over ``root/<kind>/**/*.parquet``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    pattern = (root / kind).as_posix().replace("'", "''") + "/**/*.parquet"
    # the view name is one of KINDS and the path is quoted: nothing comes from a query
    return (
        f"CREATE OR REPLACE VIEW {kind} AS SELECT * FROM read_parquet('{pattern}', "  # noqa: S608
        "hive_partitioning = true, union_by_name = true)"
    )


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view for each kind the store holds files of."""
    import duckdb

    con = duckdb.connect()
    for kind in KINDS:
        if any((root / kind).glob("**/*.parquet")):
            con.execute(view_sql(root, kind))
    return con
