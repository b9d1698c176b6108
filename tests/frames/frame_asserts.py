"""Assertions shared by the frame tests (imported by them; not a test module)."""

from __future__ import annotations

import pandas as pd

UTC = "datetime64[ns, UTC]"


def assert_dtypes(df: pd.DataFrame, expected: dict[str, str]) -> None:
    missing = [c for c in expected if c not in df.columns]
    assert not missing, f"missing columns {missing}"
    wrong = {c: str(df[c].dtype) for c, d in expected.items() if str(df[c].dtype) != d}
    assert not wrong, f"wrong dtypes {wrong}"


def assert_same_schema(empty: pd.DataFrame, full: pd.DataFrame) -> None:
    assert len(empty) == 0
    assert list(empty.columns) == list(full.columns)
    assert empty.dtypes.astype(str).tolist() == full.dtypes.astype(str).tolist()
    assert empty.index.name == full.index.name
    assert str(empty.index.dtype) == str(full.index.dtype)
