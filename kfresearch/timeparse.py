"""Turn the ways people write a time into a UTC :class:`pandas.Timestamp`.

Shared by the frames (``term_structure(now=…)``) and the client (``since=``,
``before=``, ``start=`` arguments). Accepted forms:

=========================  =====================================================
form                       meaning
=========================  =====================================================
``datetime``/``Timestamp``  as is; naive means UTC
``date``                   midnight UTC of that day
ISO-8601 string            ``"2024-05-01"``, ``"2024-05-01T12:00:00.123456Z"``,
                           ``"2024-05-01 12:00+02:00"``; naive means UTC
relative string            ``"90s"``, ``"15m"``, ``"6h"``, ``"30d"``, ``"2w"``
                           (also ``"1.5h"``, ``"30d ago"``): ``now`` minus that;
                           ``"now"`` is ``now``
calendar string            ``"3mo"``, ``"1y"`` (whole numbers): ``now`` minus
                           that many calendar months or years, the day clipped
                           to the month's end (``"1mo"`` before 31 March is
                           28/29 February)
``timedelta``              ``now`` minus that
int/float or digit string  epoch **milliseconds**; values below 10¹¹ are epoch
                           **seconds** (10¹¹ ms is 1973-03-03, 10¹¹ s is year
                           5138, so the two ranges do not overlap in practice)
=========================  =====================================================

Everything else raises :class:`ValueError` naming the accepted forms.

:data:`TimeLike` names these forms for type hints. Client arguments
(``since=``, ``until=``, ``process_before=``) go through :func:`time_argument`,
which also refuses negative epoch numbers and times before Kraken Futures
existed (:data:`EARLIEST`), with a :class:`~kfresearch.errors.ValidationError`.
Durations (``sim.advance("60s")``) go through :func:`to_timedelta`.
"""

from __future__ import annotations

import datetime as dt
import re
from numbers import Real
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from kfresearch.errors import ValidationError

__all__ = [
    "EARLIEST",
    "TimeLike",
    "time_argument",
    "to_epoch_ms",
    "to_timedelta",
    "to_timestamp",
]

TimeLike: TypeAlias = (
    dt.datetime | dt.date | dt.timedelta | pd.Timestamp | pd.Timedelta | np.datetime64 | str | float
)
"""A time as the client's arguments take it: a datetime/Timestamp (naive = UTC), a date,
an ISO-8601 string, a relative string (``"30d"``: that long ago), a timedelta (that long
ago) or epoch milliseconds (below 1e11: seconds). See :func:`to_timestamp`."""

EARLIEST = pd.Timestamp("2015-01-01", tz="UTC")
"""No Kraken Futures (then Crypto Facilities) data is older than this: earlier times in
arguments are mistakes (a negative epoch, a typo in the year)."""

SECONDS_THRESHOLD = 100_000_000_000
"""Epoch numbers below this are seconds, at or above it milliseconds."""

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s+ago)?$")
_CALENDAR = re.compile(r"^(\d+(?:\.\d+)?)\s*(mo|y)(?:\s+ago)?$")
_DIGITS = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\S.*)?$")

_ACCEPTED = (
    "a datetime/Timestamp (naive = UTC), a date, an ISO-8601 string "
    "('2024-05-01T12:00:00Z'), a relative string meaning 'that long ago' "
    "('90s', '15m', '6h', '30d', '2w', or 'now'), a timedelta (that long ago), "
    "or epoch milliseconds as an int (values below 1e11 are read as epoch seconds)"
)


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    if pd.isna(stamp):
        raise ValueError(f"not a time: NaT. Accepted: {_ACCEPTED}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    try:
        return stamp.as_unit("ns")
    except (OverflowError, ValueError):
        raise ValueError(f"time {stamp} is outside 1677–2262, the range pandas can hold") from None


def _from_epoch(number: float) -> pd.Timestamp:
    if not np.isfinite(number):
        raise ValueError(f"not a time: {number!r}. Accepted: {_ACCEPTED}")
    unit = "s" if abs(number) < SECONDS_THRESHOLD else "ms"
    try:
        if float(number).is_integer():
            return _utc(pd.Timestamp(int(number), unit=unit))
        return _utc(pd.Timestamp(float(number), unit=unit))
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"epoch value {number!r} is out of range ({exc})") from None


def to_timestamp(value: Any, *, now: Any = None) -> pd.Timestamp:
    """Parse ``value`` into a tz-aware UTC :class:`pandas.Timestamp` (ns resolution).

    Parameters
    ----------
    value : datetime, Timestamp, date, str, timedelta, int or float
        See the module docstring for every accepted form.
    now : optional
        The reference time for relative forms (any absolute form accepted
        here); defaults to the current time.

    Returns
    -------
    pandas.Timestamp
        ``datetime64[ns, UTC]`` scalar.

    Raises
    ------
    ValueError
        If ``value`` has none of the accepted forms; the message lists them.

    Examples
    --------
    >>> to_timestamp("2024-05-01T12:00:00.123Z")
    Timestamp('2024-05-01 12:00:00.123000+0000', tz='UTC')
    >>> to_timestamp("6h", now="2024-05-01T12:00Z")
    Timestamp('2024-05-01 06:00:00+0000', tz='UTC')
    >>> to_timestamp(1714564800000) == to_timestamp(1714564800)
    True
    >>> to_timestamp("3mo", now="2024-05-31T12:00Z")
    Timestamp('2024-02-29 12:00:00+0000', tz='UTC')
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a time: {value!r}. Accepted: {_ACCEPTED}")
    if isinstance(value, pd.Timestamp | dt.datetime | np.datetime64):
        return _utc(pd.Timestamp(value))
    if isinstance(value, dt.date):
        return _utc(pd.Timestamp(value.year, value.month, value.day))
    if isinstance(value, pd.Timedelta | dt.timedelta | np.timedelta64):
        return _reference(now) - pd.Timedelta(value)
    if isinstance(value, Real | np.integer | np.floating):
        return _from_epoch(float(value) if not isinstance(value, int) else value)
    if isinstance(value, str):
        return _parse_text(value, now)
    raise ValueError(f"cannot read a time from a {type(value).__name__}. Accepted: {_ACCEPTED}")


def _reference(now: Any) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz="UTC").as_unit("ns")
    lowered = now.strip().lower() if isinstance(now, str) else ""
    if lowered and (_RELATIVE.match(lowered) or _CALENDAR.match(lowered) or lowered == "now"):
        raise ValueError(f"now must be an absolute time, got {now!r}")
    if isinstance(now, pd.Timedelta | dt.timedelta | np.timedelta64):
        raise ValueError(f"now must be an absolute time, got {now!r}")
    return to_timestamp(now)


def _parse_text(value: str, now: Any) -> pd.Timestamp:
    text = value.strip()
    if not text:
        raise ValueError(f"not a time: empty string. Accepted: {_ACCEPTED}")
    lowered = text.lower()
    if lowered == "now":
        return _reference(now)
    match = _RELATIVE.match(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return _reference(now) - pd.Timedelta(seconds=amount * _UNIT_SECONDS[unit])
    match = _CALENDAR.match(lowered)
    if match:
        return _calendar(match.group(1), match.group(2), now, value)
    if _DIGITS.match(text):
        return _from_epoch(float(text) if "." in text else int(text))
    if not _ISO.match(text):
        raise ValueError(f"cannot read a time from {value!r}. Accepted: {_ACCEPTED}")
    try:
        return _utc(pd.Timestamp(text))
    except (ValueError, TypeError):
        raise ValueError(f"cannot read a time from {value!r}. Accepted: {_ACCEPTED}") from None


def _calendar(amount: str, unit: str, now: Any, value: str) -> pd.Timestamp:
    """``now`` minus whole calendar months or years (a month is not a fixed span)."""
    if "." in amount:
        whole = "months" if unit == "mo" else "years"
        raise ValueError(
            f"cannot read a time from {value!r}: {whole} must be whole numbers "
            f"(a {whole[:-1]} has no fixed length); write days instead, e.g. '45d'"
        )
    count = int(amount)
    offset = pd.DateOffset(months=count) if unit == "mo" else pd.DateOffset(years=count)
    return _utc(_reference(now) - offset)


def to_epoch_ms(value: Any, now: Any = None) -> int:
    """Parse ``value`` like :func:`to_timestamp` and return epoch milliseconds.

    Sub-millisecond parts are floored.

    Examples
    --------
    >>> to_epoch_ms("2024-05-01T12:00:00Z")
    1714564800000
    >>> to_epoch_ms("1d", now=1714564800000)
    1714478400000
    """
    stamp = to_timestamp(value, now=now)
    return int(stamp.value // 1_000_000)


def time_argument(name: str, value: Any, *, now: Any = None) -> pd.Timestamp:
    """``value`` of the argument ``name`` as a UTC Timestamp, checked for plausibility.

    Raises
    ------
    ValidationError
        ``value`` is not a time, is a negative epoch number, or lies before
        :data:`EARLIEST`; the message names the argument and what to write.

    Examples
    --------
    >>> time_argument("since", "2024-05-01")
    Timestamp('2024-05-01 00:00:00+0000', tz='UTC')
    >>> time_argument("since", -5)
    Traceback (most recent call last):
    ...
    kfresearch.errors.ValidationError: since -5 is a negative epoch time; for "5 days ago" write since='5d' (or '5h', '5m')
    """  # noqa: E501
    number = _number(value)
    if number is not None and number < 0:
        amount = f"{abs(number):g}"
        raise ValidationError(
            name,
            value,
            f"{name} {value!r} is a negative epoch time; for \"{amount} days ago\" write "
            f"{name}='{amount}d' (or '{amount}h', '{amount}m')",
        )
    try:
        stamp = to_timestamp(value, now=now)
    except ValueError as exc:
        raise ValidationError(name, value, f"{name}: {exc}") from None
    if stamp < EARLIEST:
        raise ValidationError(
            name,
            value,
            f"{name} {stamp.isoformat()} is before Kraken Futures existed (its data starts "
            f"in {EARLIEST.year}); check the year, or give a relative time like '30d'",
        )
    return stamp


def _number(value: Any) -> float | None:
    """``value`` as a number when it is an epoch number (or a string of digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Real | np.integer | np.floating):
        return float(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return float(value.strip())
    return None


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$")


def to_timedelta(value: Any) -> pd.Timedelta:
    """A duration: ``"250ms"``, ``"60s"``, ``"15m"``, ``"6h"``, ``"2d"``, ``"1w"`` or a
    timedelta/Timedelta. Negative durations are refused.

    Raises
    ------
    ValueError
        Anything else (numbers too: say the unit).

    Examples
    --------
    >>> to_timedelta("90s"), to_timedelta("1.5h")
    (Timedelta('0 days 00:01:30'), Timedelta('0 days 01:30:00'))
    """
    if isinstance(value, pd.Timedelta | dt.timedelta | np.timedelta64):
        delta = pd.Timedelta(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.strip().lower())):
        amount, unit = float(match.group(1)), match.group(2)
        seconds = amount / 1000 if unit == "ms" else amount * _UNIT_SECONDS[unit]
        delta = pd.Timedelta(seconds=seconds)
    else:
        raise ValueError(
            f"cannot read a duration from {value!r}: give '250ms', '60s', '15m', '6h', '2d', "
            "'1w' or a datetime.timedelta"
        )
    if delta < pd.Timedelta(0):
        raise ValueError(f"a duration must not be negative, got {value!r}")
    return delta
