"""kfresearch.timeparse: every accepted form, and clear errors for the rest."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kfresearch.timeparse import to_epoch_ms, to_timestamp

NOW = pd.Timestamp("2024-05-01T12:00:00Z")
MS = 1714564800000  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.Timestamp("2024-05-01T12:00:00Z"), NOW),
        (pd.Timestamp("2024-05-01T12:00:00"), NOW),  # naive = UTC
        (pd.Timestamp("2024-05-01T14:00:00+02:00"), NOW),
        (dt.datetime(2024, 5, 1, 12, 0), NOW),
        (dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC), NOW),
        (dt.datetime(2024, 5, 1, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), NOW),
        (np.datetime64("2024-05-01T12:00:00"), NOW),
        (dt.date(2024, 5, 1), pd.Timestamp("2024-05-01T00:00:00Z")),
        ("2024-05-01", pd.Timestamp("2024-05-01T00:00:00Z")),
        ("2024-05-01T12:00:00Z", NOW),
        ("2024-05-01T12:00:00.123456Z", NOW + pd.Timedelta(microseconds=123456)),
        ("2024-05-01 14:00+02:00", NOW),
        ("  2024-05-01T12:00:00  ", NOW),
        (MS, NOW),
        (MS // 1000, NOW),  # seconds
        (float(MS), NOW),
        (MS / 1000 + 0.5, NOW + pd.Timedelta(milliseconds=500)),
        (np.int64(MS), NOW),
        (str(MS), NOW),
        (str(MS // 1000), NOW),
    ],
)
def test_absolute_forms(value: Any, expected: pd.Timestamp) -> None:
    out = to_timestamp(value)
    assert out == expected
    assert str(out.tz) == "UTC"
    assert out.unit == "ns"


@pytest.mark.parametrize(
    ("value", "delta"),
    [
        ("90s", pd.Timedelta(seconds=90)),
        ("15m", pd.Timedelta(minutes=15)),
        ("6h", pd.Timedelta(hours=6)),
        ("30d", pd.Timedelta(days=30)),
        ("2w", pd.Timedelta(weeks=2)),
        ("1.5h", pd.Timedelta(minutes=90)),
        ("30d ago", pd.Timedelta(days=30)),
        (" 6 h ", pd.Timedelta(hours=6)),
        ("now", pd.Timedelta(0)),
        (dt.timedelta(hours=1), pd.Timedelta(hours=1)),
        (pd.Timedelta(minutes=5), pd.Timedelta(minutes=5)),
    ],
)
def test_relative_forms(value: Any, delta: pd.Timedelta) -> None:
    assert to_timestamp(value, now=NOW) == NOW - delta
    assert to_timestamp(value, now=MS) == NOW - delta
    assert to_timestamp(value, now="2024-05-01T12:00:00Z") == NOW - delta


def test_relative_default_now_is_current_time() -> None:
    before = pd.Timestamp.now(tz="UTC")
    out = to_timestamp("1h")
    after = pd.Timestamp.now(tz="UTC")
    assert before - pd.Timedelta(hours=1) <= out <= after - pd.Timedelta(hours=1)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "30x",
        "6H",
        "30 days",
        "2024-13-45",
        None,
        True,
        [1],
        {"t": 1},
        float("nan"),
        pd.NaT,
    ],
)
def test_rejects_with_a_message_listing_the_forms(value: Any) -> None:
    with pytest.raises(ValueError, match=r"not a time|cannot read a time") as info:
        to_timestamp(value)
    assert "ISO-8601" in str(info.value)
    assert "'30d'" in str(info.value)
    assert "epoch milliseconds" in str(info.value)


def test_now_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        to_timestamp("1d", now="2h")


def test_to_epoch_ms() -> None:
    assert to_epoch_ms("2024-05-01T12:00:00Z") == MS
    assert to_epoch_ms(MS) == MS
    assert to_epoch_ms(MS // 1000) == MS
    assert to_epoch_ms("1d", now=MS) == MS - 86_400_000
    assert to_epoch_ms("2024-05-01T12:00:00.000999Z") == MS  # floored
    assert to_epoch_ms("1969-12-31T23:59:59.9995Z") == -1
    assert isinstance(to_epoch_ms(MS), int)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3mo", "2024-02-01T12:00:00Z"),
        ("1mo", "2024-04-01T12:00:00Z"),
        ("12mo", "2023-05-01T12:00:00Z"),
        ("1y", "2023-05-01T12:00:00Z"),
        ("2y ago", "2022-05-01T12:00:00Z"),
        (" 6 MO ", "2023-11-01T12:00:00Z"),
    ],
)
def test_calendar_months_and_years(value: str, expected: str) -> None:
    assert to_timestamp(value, now=NOW) == pd.Timestamp(expected)


def test_calendar_month_clips_to_the_month_end() -> None:
    assert to_timestamp("1mo", now="2024-03-31T00:00Z") == pd.Timestamp("2024-02-29T00:00Z")
    assert to_timestamp("1y", now="2024-02-29T00:00Z") == pd.Timestamp("2023-02-28T00:00Z")


def test_minutes_are_not_months() -> None:
    assert to_timestamp("1m", now=NOW) == NOW - pd.Timedelta(minutes=1)


@pytest.mark.parametrize("value", ["1.5mo", "0.5y"])
def test_fractional_months_and_years_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        to_timestamp(value, now=NOW)


def test_calendar_string_is_not_an_absolute_now() -> None:
    with pytest.raises(ValueError, match="absolute"):
        to_timestamp("1d", now="3mo")
