"""Shared machinery of :mod:`kfresearch.frames`: schemas as data and one builder.

Every frame is described once by a :class:`FrameSpec`: an ordered tuple of
:class:`Col` entries (output column, kind, source field path in the decoded
JSON). :func:`build` applies a spec to column-wise flattened records, so no
frame function carries its own parsing code. The pipeline is:

1. :func:`flatten` turns a list of (nested) dicts into ``{dotted.path: list}``,
   one list comprehension per key: no per-row pandas work, and nested objects
   become their own columns (``takerOrder.limitPrice``).
2. :func:`build` converts every declared column with one vectorised converter
   per kind (numpy / pandas), keeps fields the schema does not know under
   their snake_case name with an inferred dtype, runs the spec's ``derive``
   hook, de-duplicates, sets the index and sorts time series.

Kinds and the dtypes they give
------------------------------
``float``  float64; numbers, decimal strings (``"0.0962"``), ``""`` and null → NaN
``int``    int64; the field must be present in every row (a missing value raises)
``Int``    nullable ``Int64`` for integer fields that some rows lack
``bool``   bool; ``true``/``false`` and their string forms; missing → ``Col.default``
``str``    pandas string dtype (``str`` in pandas 3); ``""`` and null → NaN
``lower``  like ``str``, lower-cased (``"Buy"`` → ``"buy"``)
``upper``  like ``str``, upper-cased (``"xbt"`` → ``"XBT"``)
``time``   ``datetime64[ns, UTC]``; ISO-8601 strings with 0–6 fractional digits,
           epoch-millisecond integers or digit strings; null → NaT
``object`` kept as given (lists such as ``marginLevels``)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, compress
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

__all__ = [
    "STR_DTYPE",
    "TIME_DTYPE",
    "UNITS",
    "Col",
    "FrameSpec",
    "Prepare",
    "Sort",
    "as_pages",
    "build",
    "col",
    "combine_pages",
    "concat_flat",
    "drop_repeats",
    "exchange_seq",
    "flatten",
    "flatten_events",
    "payload",
    "repeat_str",
    "server_time",
    "to_float",
    "to_snake",
    "to_time",
]

Kind: TypeAlias = Literal[
    "float", "int", "Int", "bool", "str", "lower", "upper", "time", "object"
]
Flat: TypeAlias = dict[str, Any]
"""Column-wise records: dotted source path → list (or 1-d array) of raw values."""

TIME_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
"""The one time dtype of every frame: tz-aware UTC, nanosecond resolution."""
STR_DTYPE: Any = pd.Series([], dtype="str").dtype
"""pandas' default string dtype (``str``, NaN for missing, in pandas 3)."""

UNITS: dict[str, str] = {
    "quote": "a price in the contract's quote currency (USD for every PF_, PI_, FF_, FI_ contract)",
    "contracts": "a size in contracts: base units for linear PF_/FF_, USD for inverse PI_/FI_",
    "usd": "an amount in US dollars",
    "fraction": "a plain fraction (0.01 = 1 %); the docs say per what (hour, period, year)",
    "pct": "percent (1.0 = 1 %); only in columns whose name ends in _pct",
    "bps": "basis points (1.0 = 0.01 %); only in columns whose name ends in _bps",
    "days": "days",
    "hours": "hours",
    "times": "a multiple (a leverage of 10.0 is 10x)",
    "number": "a plain number defined in the column's docs (a coefficient, a count)",
}
"""What a numeric column measures (:attr:`Col.unit`). Besides these, ``"ccy:<column>"``
is an amount in the currency named row by row in ``<column>`` of the same frame."""

_ARROW: Any = None
_ARROW_COMPUTE: Any = None
if getattr(STR_DTYPE, "storage", None) == "pyarrow":  # pandas has imported it already
    try:
        _ARROW = importlib.import_module("pyarrow")
        _ARROW_COMPUTE = importlib.import_module("pyarrow.compute")
    except ImportError:  # pragma: no cover - pandas could not pick pyarrow storage then
        _ARROW = _ARROW_COMPUTE = None

_EMPTY: dict[str, Any] = {}
_NAN = float("nan")
_BOOLS: dict[Any, bool] = {
    True: True,
    False: False,
    "true": True,
    "false": False,
    "True": True,
    "False": False,
    "TRUE": True,
    "FALSE": False,
}
_TIME_SUFFIXES = ("time", "timestamp", "date")
_STR_OR_NONE = frozenset({str, type(None)})
_DICT = frozenset({dict})
_DICT_OR_NONE = frozenset({dict, type(None)})


# --------------------------------------------------------------------------- names


_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


@lru_cache(maxsize=4096)
def to_snake(name: str) -> str:
    """Turn an exchange field name (or a dotted path) into a snake_case column name.

    Parameters
    ----------
    name : str
        ``camelCase``, ``snake_case``, ``UPPER`` or a dotted path of those.

    Returns
    -------
    str
        Lower-case words joined by ``_``. ``PnL`` is one word. Anything that
        is not a letter or digit (dots, spaces, dashes) becomes ``_``.

    Examples
    --------
    >>> to_snake("markPrice"), to_snake("cliOrdId"), to_snake("order_id")
    ('mark_price', 'cli_ord_id', 'order_id')
    >>> to_snake("realizedPnL"), to_snake("takerOrder.limitPrice"), to_snake("vol24h")
    ('realized_pnl', 'taker_order_limit_price', 'vol24h')
    """
    text = name.replace("PnL", "Pnl")
    text = _CAMEL_1.sub(r"\1_\2", text)
    text = _CAMEL_2.sub(r"\1_\2", text)
    return _NON_WORD.sub("_", text).strip("_").lower()


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True, slots=True)
class Col:
    """One output column of a frame.

    Attributes
    ----------
    name : str
        Column name in the frame.
    kind : Kind
        Conversion applied (see the module docstring for the dtypes).
    source : str | tuple[str, ...] | None
        Dotted path of the field in the flattened record. A tuple lists
        alternatives, coalesced row by row (first non-null, non-empty wins).
        ``None`` marks a derived column that the spec's ``derive`` hook adds.
    default : bool
        Value of a ``bool`` column where the field is missing.
    doc : str
        Meaning and unit, for docs and ``describe_schema``.
    unit : str
        What a number in the column measures, from :data:`UNITS` (``""`` for
        text, times, flags and objects). ``"ccy:<column>"`` is an amount in
        the currency named, row by row, by ``<column>`` of the same frame.
    """

    name: str
    kind: Kind
    source: str | tuple[str, ...] | None
    default: bool = False
    doc: str = ""
    unit: str = ""

    @property
    def sources(self) -> tuple[str, ...]:
        """The source paths as a tuple (empty for derived columns)."""
        if self.source is None:
            return ()
        if isinstance(self.source, str):
            return (self.source,)
        return self.source


def col(
    source: str | tuple[str, ...] | None,
    kind: Kind,
    name: str | None = None,
    *,
    default: bool = False,
    doc: str = "",
    unit: str = "",
) -> Col:
    """Shorthand for :class:`Col` whose name is the snake_case of its (first) source."""
    if name is None:
        if source is None:
            raise ValueError("a derived column needs a name")
        first = source if isinstance(source, str) else source[0]
        name = to_snake(first.rsplit(".", 1)[-1])
    return Col(name, kind, source, default, doc, unit)


Derive: TypeAlias = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """The schema of one frame, as data.

    Attributes
    ----------
    name : str
        Name used in error messages.
    columns : tuple[Col, ...]
        Declared columns in output order (unknown fields follow them).
    index : str | None
        Column moved into the index (``"time"`` gives a sorted
        ``DatetimeIndex``); ``None`` keeps a ``RangeIndex``.
    unique : str | None
        Column whose duplicates are dropped (the last occurrence is kept).
    strip : tuple[str, ...]
        Path prefixes removed from unknown fields before snake-casing them
        (``"execution."`` makes ``execution.newField`` → ``new_field``).
    drop : tuple[str, ...]
        Path prefixes of fields deliberately not kept as unknown columns.
    stop : frozenset[str]
        Paths that are not flattened further (kept whole as objects).
    derive : Derive | None
        Vectorised hook adding the derived (``source=None``) columns.
    order_by : tuple[str, ...]
        Columns that order rows before the index is set (ties of a time
        index keep this order: the sort by time is stable).
    """

    name: str
    columns: tuple[Col, ...]
    index: str | None = None
    unique: str | None = None
    strip: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    stop: frozenset[str] = field(default_factory=frozenset)
    derive: Derive | None = None
    order_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names in {names}")
        if self.index is not None and self.index not in names:
            raise ValueError(f"{self.name}: index {self.index!r} is not a column")

    @property
    def needed(self) -> frozenset[str]:
        """Every declared source path and each of its parent paths (for ``flatten(keep=)``)."""
        paths: set[str] = set()
        for c in self.columns:
            for source in c.sources:
                parts = source.split(".")
                paths.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        return frozenset(paths)

    @property
    def names(self) -> list[str]:
        """Declared column names in order."""
        return [c.name for c in self.columns]

    def dtypes(self) -> dict[str, Any]:
        """Declared column → dtype (the index column included)."""
        return {c.name: _dtype_of(c.kind) for c in self.columns}


def _dtype_of(kind: Kind) -> Any:
    return {
        "float": np.dtype(np.float64),
        "int": np.dtype(np.int64),
        "Int": pd.Int64Dtype(),
        "bool": np.dtype(np.bool_),
        "str": STR_DTYPE,
        "lower": STR_DTYPE,
        "upper": STR_DTYPE,
        "time": TIME_DTYPE,
        "object": np.dtype(object),
    }[kind]


# --------------------------------------------------------------------------- bodies


def payload(body: Any, *keys: str, name: str, required: bool = True) -> Any:
    """Return ``body[key]`` for the first of ``keys`` present in a success body.

    Raises
    ------
    ValueError
        If ``body`` is not a JSON object, is an error body
        (``"result": "error"``), or (``required``) has none of ``keys``.
    """
    if not isinstance(body, Mapping):
        raise ValueError(
            f"frames.{name} takes the decoded JSON object of the response, "
            f"got {type(body).__name__}"
        )
    if body.get("result") == "error" or ("errors" in body and "result" in body):
        err = body.get("error", body.get("errors"))
        raise ValueError(
            f"frames.{name} got an error body ({err!r}); frames take success bodies "
            "(the transport turns error bodies into exceptions)"
        )
    for key in keys:
        if key in body:
            return body[key]
    if required:
        raise ValueError(
            f"frames.{name} expects a body with {' or '.join(map(repr, keys))}; "
            f"keys present: {sorted(body)}"
        )
    return None


def server_time(body: Any) -> pd.Timestamp | None:
    """The body's ``serverTime`` as a UTC Timestamp (``None`` when absent or unreadable)."""
    if not isinstance(body, Mapping):
        return None
    raw = body.get("serverTime")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and not raw.isdigit():
        try:  # one ISO string: pd.Timestamp is ~100x faster than a vectorised parse
            stamp = pd.Timestamp(raw)
        except ValueError:
            pass
        else:
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            return stamp.as_unit("ns")
    values = to_time([raw])
    stamp = values.iloc[0]
    return None if pd.isna(stamp) else pd.Timestamp(stamp)


def as_pages(body_or_pages: Any, *, name: str) -> list[Mapping[str, Any]]:
    """Normalise one body or a sequence of page bodies to a list of bodies.

    Raises
    ------
    ValueError
        If the argument is neither a JSON object nor a list/tuple of them.
    """
    if isinstance(body_or_pages, Mapping):
        return [body_or_pages]
    if isinstance(body_or_pages, Sequence) and not isinstance(body_or_pages, str | bytes):
        pages = list(body_or_pages)
        for i, page in enumerate(pages):
            if not isinstance(page, Mapping):
                raise ValueError(
                    f"frames.{name}: page {i} is a {type(page).__name__}, "
                    "expected the decoded JSON object of a response"
                )
        return pages
    raise ValueError(
        f"frames.{name} takes a response body (dict) or a list of page bodies, "
        f"got {type(body_or_pages).__name__}"
    )


def combine_pages(body_or_pages: Any, *keys: str, name: str = "combine_pages") -> list[Any]:
    """Concatenate the record lists of one body or of several page bodies.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        One decoded body, or the bodies of successive pages.
    *keys : str
        Key(s) of the record list in each body (``"elements"``, ``"candles"``…).

    Returns
    -------
    list
        The records of all pages in page order (de-duplication and sorting
        happen in the frame builder).

    Examples
    --------
    >>> combine_pages([{"candles": [1]}, {"candles": [2, 3]}], "candles")
    [1, 2, 3]
    """
    out: list[Any] = []
    for page in as_pages(body_or_pages, name=name):
        records = payload(page, *keys, name=name)
        if records is None:
            continue
        if not isinstance(records, list):
            raise ValueError(f"frames.{name}: {keys[0]!r} is not a list")
        out.extend(records)
    return out


Sort: TypeAlias = Literal["asc", "desc"]


def exchange_seq(times: Any, n: int, sort: Sort | None) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Each row's place in the exchange's own order, oldest first (``0`` = first executed).

    Rows arrive in ``sort`` order across pages (``"desc"``: newest first, the
    history service's default and the order of ``/fills``), and rows that
    share a timestamp keep the order the exchange executed them in. Sorting a
    frame by ``(time, seq)`` therefore replays the events in that order. With
    ``sort=None`` the order is read from ``times`` (the raw time column): rows
    whose times never decrease are ascending; otherwise, or when every time
    is equal, the exchange's default ``"desc"`` is assumed.
    """
    if sort is None:
        stamps = to_time(times, n).dropna().to_numpy(dtype="datetime64[ns]").astype(np.int64)
        steps = np.diff(stamps)
        ascending = bool(len(steps)) and bool((steps >= 0).all()) and bool((steps > 0).any())
        sort = "asc" if ascending else "desc"
    order = np.arange(n, dtype=np.int64)
    return order if sort == "asc" else order[::-1].copy()


def last_attr(pages: Iterable[Mapping[str, Any]], key: str) -> Any:
    """The value of ``key`` in the last page that has it (``None`` if none has)."""
    value: Any = None
    for page in pages:
        if key in page:
            value = page[key]
    return value


def pages_attrs(pages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``attrs`` shared by all frames: the newest ``server_time`` of the pages."""
    times = [t for t in (server_time(p) for p in pages) if t is not None]
    return {"server_time": max(times)} if times else {}


# --------------------------------------------------------------------------- flatten


def flatten(
    records: Sequence[Any],
    *,
    stop: frozenset[str] = frozenset(),
    skip: tuple[str, ...] = (),
    keep: frozenset[str] = frozenset(),
    prefix: str = "",
) -> Flat:
    """Flatten records column-wise into ``{dotted.path: list}``.

    One list comprehension per key and nesting level; nested objects become
    dotted paths, lists stay whole, missing keys give ``None``. Rows that are
    not objects count as empty objects. Paths in ``stop`` are kept whole;
    paths under a prefix in ``skip`` are not extracted at all, unless they
    are in ``keep`` (which must hold every prefix of a kept path: see
    :meth:`FrameSpec.needed`).

    Examples
    --------
    >>> flatten([{"a": 1, "b": {"c": "x"}}, {"a": 2}])
    {'a': [1, 2], 'b.c': ['x', None]}
    """
    out: Flat = {}
    _flatten_into(out, records, prefix, stop, skip, keep)
    return out


def _as_dicts(records: Sequence[Any]) -> Sequence[Mapping[str, Any]]:
    types = set(map(type, records))
    if types <= _DICT:
        return records
    if types <= _DICT_OR_NONE:
        return [_EMPTY if r is None else r for r in records]
    return [r if isinstance(r, Mapping) else _EMPTY for r in records]


def _keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Union of the rows' keys: the first row's order, then the others sorted."""
    if not rows:
        return []
    union: set[str] = set().union(*rows)
    first = [k for k in rows[0] if k in union]
    return first + sorted(union.difference(first), key=str)


def _flatten_into(
    out: Flat,
    records: Sequence[Any],
    prefix: str,
    stop: frozenset[str],
    skip: tuple[str, ...],
    keep: frozenset[str] = frozenset(),
) -> None:
    rows = _as_dicts(records)
    for key in _keys(rows):
        path = prefix + key
        if skip and path not in keep and _dropped(path, skip):
            continue
        column = [d.get(key) for d in rows]
        if path not in stop:
            first = next((v for v in column if v is not None), None)
            if isinstance(first, Mapping):
                _flatten_into(out, column, path + ".", stop, skip, keep)
                continue
        out[path] = column


def _event_kinds(events: list[Any]) -> tuple[list[str | None], list[Any]]:
    try:  # fast path: every event is {"<Kind>": {...}} with the kind first
        kinds: list[str | None] = [next(iter(ev)) for ev in events]
        payloads = [ev[k] for ev, k in zip(events, kinds, strict=True)]
        if set(map(type, payloads)) <= {dict}:
            return kinds, payloads
    except (TypeError, StopIteration, KeyError):
        pass
    kinds = [_event_kind(ev) for ev in events]
    payloads = [
        ev[k] if k is not None and isinstance(ev, Mapping) else None
        for ev, k in zip(events, kinds, strict=True)
    ]
    return kinds, payloads


def _event_kind(event: Any) -> str | None:
    if isinstance(event, Mapping):
        for key, value in event.items():
            if isinstance(value, Mapping):
                return str(key)
    return None


Prepare: TypeAlias = Callable[[list[Any], Flat], tuple[list[Any], Flat]]
"""Rewrites event payloads before flattening (given the element columns); also returns
columns that are added after flattening, replacing any of the same path."""


def flatten_events(
    elements: Sequence[Any],
    *,
    stop: frozenset[str] = frozenset(),
    skip: tuple[str, ...] = (),
    keep: frozenset[str] = frozenset(),
    prepare: Prepare | None = None,
    extra: Flat | None = None,
) -> Flat:
    """Flatten history-service elements ``{uid, timestamp, event: {<Kind>: {...}}}``.

    The element's own fields become ``element.uid``, ``element.timestamp`` and
    ``element.kind`` (the event's kind, e.g. ``OrderPlaced``, found as the
    first key of ``event`` that holds an object); the kind's payload is
    flattened without a prefix, so every kind shares the same paths
    (``order.uid``, ``execution.price`` …). ``extra`` adds element-level
    columns (e.g. the page's ``accountUid``); ``prepare`` may rewrite the
    payload list first (without mutating the payloads it is given) and
    supply columns of its own.
    """
    rows = _as_dicts(elements)
    kinds, payloads = _event_kinds([e.get("event") for e in rows])
    flat: Flat = {
        "element.uid": [e.get("uid") for e in rows],
        "element.timestamp": [e.get("timestamp") for e in rows],
        "element.kind": kinds,
        **(extra or {}),
    }
    prepared: Flat = {}
    if prepare is not None:
        payloads, prepared = prepare(payloads, flat)
    flat.update(flatten(payloads, stop=stop, skip=skip, keep=keep))
    flat.update(prepared)
    return flat


def concat_flat(parts: Sequence[tuple[Flat, int]]) -> tuple[Flat, int]:
    """Concatenate several column-wise record sets (missing columns padded with ``None``)."""
    if len(parts) == 1:
        return parts[0]
    keys = dict.fromkeys(chain.from_iterable(flat for flat, _ in parts))
    total = sum(n for _, n in parts)
    out: Flat = {}
    for key in keys:
        columns = [flat.get(key) for flat, _ in parts]
        arrays = [c for c in columns if isinstance(c, np.ndarray) and c.dtype.kind in "iufb"]
        if len(arrays) == len(columns):
            out[key] = np.concatenate(arrays)  # typed arrays from the decoder
            continue
        if all(_is_arrow(c) for c in columns):  # text from the columnar reader
            out[key] = _ARROW.chunked_array(
                chain.from_iterable(
                    c.chunks if isinstance(c, _ARROW.ChunkedArray) else [c] for c in columns
                )
            )
            continue
        column: list[Any] = []
        for values, (_, n) in zip(columns, parts, strict=True):
            if values is None:
                column.extend([None] * n)
            elif _is_arrow(values):
                column.extend(values.to_pylist())
            else:
                column.extend(values.tolist() if isinstance(values, np.ndarray) else values)
        out[key] = column
    return out, total


# --------------------------------------------------------------------------- converters


def _objects(values: Any, n: int) -> pd.Series:
    if values is None:
        return pd.Series([None] * n, dtype=object)
    return pd.Series(values, dtype=object)


def to_float(values: Any, n: int | None = None) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Vectorised float64 conversion of numbers, decimal strings, ``""`` and nulls."""
    if values is None:
        return np.full(n or 0, np.nan)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    if isinstance(values, list):  # "" for "no value" is common: 2x faster than to_numeric
        try:
            return np.asarray([_NAN if v == "" else v for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            pass
    series = pd.Series(values, dtype=object)
    try:
        numbers = pd.to_numeric(series, errors="coerce")
    except (TypeError, ValueError):  # objects (dicts, lists) in a number field
        numbers = pd.to_numeric(
            series.map(lambda v: v if isinstance(v, str | int | float) else None),
            errors="coerce",
        )
    return np.asarray(numbers, dtype=np.float64)


def to_time(values: Any, n: int | None = None) -> pd.Series:
    """Vectorised conversion to ``datetime64[ns, UTC]``.

    Accepts ISO-8601 strings (0–6 fractional digits, ``Z`` or an offset; a
    naive string is UTC), epoch-millisecond integers and digit strings, and
    nulls (→ NaT), mixed in one column.
    """
    if values is None:
        return pd.Series(pd.NaT, index=pd.RangeIndex(n or 0), dtype=TIME_DTYPE)
    dtype = getattr(values, "dtype", None)
    if dtype is not None and (isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M"):
        stamps = pd.to_datetime(pd.Series(values).reset_index(drop=True), utc=True)
        return stamps.dt.as_unit("ns")
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return _ms_to_time(values.astype(np.int64))
    first = next((v for v in values if v is not None and not (isinstance(v, str) and not v)), None)
    if isinstance(first, str) and not first.isdigit():
        if set(map(type, values)) <= _STR_OR_NONE:  # fast path: ISO-8601 strings and nulls
            text = pd.Series(values, dtype=object)
            try:
                parsed = pd.to_datetime(text.where(text != ""), utc=True, format="ISO8601")
            except (TypeError, ValueError):
                pass
            else:
                return pd.Series(parsed, dtype=TIME_DTYPE)
    else:
        try:  # fast path: epoch-ms integers / digit strings
            millis = np.asarray(values, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            return _ms_to_time(millis)
    series = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(series.where(series != ""), errors="coerce")
    is_number = numbers.notna().to_numpy()
    out = pd.Series(pd.NaT, index=series.index, dtype=TIME_DTYPE)
    if is_number.any():
        millis = np.rint(numbers.to_numpy()[is_number]).astype(np.int64)
        out.iloc[np.flatnonzero(is_number)] = _ms_to_time(millis).array
    is_text = ~is_number & series.notna().to_numpy() & (series != "").to_numpy()
    if is_text.any():
        parsed = pd.to_datetime(
            series[is_text].astype(str), utc=True, format="ISO8601", errors="coerce"
        )
        out.iloc[np.flatnonzero(is_text)] = parsed.dt.as_unit("ns").array
    return out


def _ms_to_time(millis: np.ndarray[Any, Any]) -> pd.Series:
    stamps = pd.to_datetime(millis, unit="ms", utc=True).as_unit("ns")
    out: pd.Series = pd.Series(stamps, dtype=TIME_DTYPE)
    return out


def _missing_str(n: int) -> Any:
    """An all-missing string column of length ``n``."""
    if _ARROW is not None:  # ~100x faster than converting a list of n NaNs
        return STR_DTYPE.__from_arrow__(_ARROW.nulls(n, _ARROW.large_string()))
    return pd.array([np.nan] * n, dtype=STR_DTYPE)


def _is_arrow(values: Any) -> bool:
    """True for an arrow array or chunked array (from a columnar reader)."""
    return _ARROW is not None and isinstance(values, _ARROW.Array | _ARROW.ChunkedArray)


def _arrow_str(values: Any) -> Any:
    """Strings (and nulls) as an arrow large_string array, or None when some value is not a str."""
    if _is_arrow(values) and _ARROW.types.is_string(values.type):
        return values.cast(_ARROW.large_string())
    if _ARROW is None or not isinstance(values, list):
        return None
    try:  # 2-3x faster than pandas' own conversion for arrow-backed strings
        return _ARROW.array(values, type=_ARROW.large_string(), from_pandas=True)
    except (_ARROW.ArrowException, TypeError, ValueError):
        return None  # not all strings: let pandas convert numbers etc.


def repeat_str(values: Sequence[str], counts: Sequence[int]) -> Any:
    """A string column repeating ``values[i]`` ``counts[i]`` times (``["bid"] * 3 + …``)."""
    codes = np.repeat(np.arange(len(values)), counts)
    if _ARROW is not None:  # a take from the distinct values: no Python string per row
        distinct = _ARROW.array(list(values), type=_ARROW.large_string())
        return STR_DTYPE.__from_arrow__(distinct.take(codes))
    return pd.array(list(values), dtype=STR_DTYPE).take(codes)


def _to_str(values: Any, n: int) -> pd.Series:
    if values is None:
        return pd.Series(_missing_str(n))
    if getattr(values, "dtype", None) == STR_DTYPE:  # converted already (repeat_str)
        ready = pd.Series(values)
        return ready.mask(ready == "") if (ready == "").any() else ready
    if isinstance(values, list) and "" in values:
        values = [None if v == "" else v for v in values]
    arrow = _arrow_str(values)
    if arrow is not None:
        if _is_arrow(values):  # "" → missing, as for lists
            empty = _ARROW_COMPUTE.equal(arrow, "")
            if _ARROW_COMPUTE.any(empty).as_py():
                arrow = _ARROW_COMPUTE.if_else(empty, None, arrow)
        return pd.Series(STR_DTYPE.__from_arrow__(arrow))
    out: pd.Series = pd.Series(values, dtype=STR_DTYPE)
    if not isinstance(values, list):
        out = out.mask(out == "")
    return out


def _to_case(values: Any, n: int, *, upper: bool) -> Any:
    """Lower/upper-case a low-cardinality text column through its distinct values."""
    if values is None:
        return _missing_str(n)
    arrow = _arrow_str(values)
    if arrow is not None:  # all strings: case them in arrow, then "" → NaN
        compute = _ARROW_COMPUTE
        cased = compute.utf8_upper(arrow) if upper else compute.utf8_lower(arrow)
        cased = compute.if_else(compute.equal(cased, ""), None, cased)
        return STR_DTYPE.__from_arrow__(cased)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    distinct_cased = [
        (u.upper() if upper else u.lower()) if isinstance(u, str) else str(u) for u in uniques
    ]
    distinct = pd.array([c if c else None for c in distinct_cased], dtype=STR_DTYPE)
    return distinct.take(codes, allow_fill=True)  # code -1 (missing) → NaN


def _to_bool(values: Any, n: int, default: bool) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if values is None:
        return np.full(n, default, dtype=bool)
    if isinstance(values, np.ndarray) and values.dtype == np.bool_:
        return values
    if isinstance(values, list):
        try:  # bools (and 0/1) pack into bytes 4x faster than the per-value mapping below
            packed = np.frombuffer(bytes(values), dtype=np.uint8)
        except (TypeError, ValueError):
            pass
        else:
            if not len(packed) or packed.max() <= 1:
                return packed.astype(bool)
    get = _BOOLS.get
    flags = [
        v if v is True or v is False else (get(v, default) if isinstance(v, str | int) else default)
        for v in values
    ]
    return np.asarray(flags, dtype=bool)


def _to_int(values: Any, n: int, *, nullable: bool, where: str) -> Any:
    if values is None:
        if nullable:
            return pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, np.bool_))
        if n:
            raise ValueError(f"{where}: required integer field is missing")
        return np.zeros(0, dtype=np.int64)
    try:
        ints = np.asarray(values, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        floats = to_float(values, n)
        if not nullable:
            if np.isnan(floats).any():
                raise ValueError(f"{where}: required integer field missing in some rows") from None
            return np.rint(floats).astype(np.int64)
        return pd.array(np.where(np.isnan(floats), np.nan, np.rint(floats)), dtype=pd.Int64Dtype())
    return pd.array(ints, dtype=pd.Int64Dtype()) if nullable else ints


def convert(col: Col, values: Any, n: int, *, where: str = "") -> Any:
    """Convert one raw column with the converter of ``col.kind``."""
    kind = col.kind
    if kind == "float":
        return to_float(values, n)
    if kind == "time":
        return to_time(values, n).array
    if kind == "str":
        return _to_str(values, n).array
    if kind == "lower" or kind == "upper":
        return _to_case(values, n, upper=kind == "upper")
    if kind == "bool":
        return _to_bool(values, n, col.default)
    if kind == "int" or kind == "Int":
        return _to_int(values, n, nullable=kind == "Int", where=f"{where}.{col.name}")
    return _objects(values, n).to_numpy()


def _coalesce(first: Any, second: Any) -> Any:
    if first is None:
        return second
    if second is None:
        return first
    if isinstance(first, np.ndarray):
        if first.dtype.kind in "iub" or (first.dtype.kind == "f" and not np.isnan(first).any()):
            return first  # a typed array from the decoder has no gaps to fill
        first = [None if v != v else v for v in first.tolist()]  # NaN → missing
    if isinstance(first, list) and None not in first and "" not in first:
        return first
    if isinstance(second, np.ndarray):
        second = second.tolist()
    return [b if a is None or a == "" else a for a, b in zip(first, second, strict=True)]


def infer(values: Any, name: str = "") -> Any:
    """Pick a dtype for a field the schema does not know.

    Numbers and all-numeric strings → float64 (int64 for complete integer
    columns), ``true``/``false`` → bool, other strings → ``str`` (or
    ``datetime64[ns, UTC]`` when the name ends in time/timestamp/date and
    every value parses), anything else stays ``object``.
    """
    series = pd.Series(values, dtype=object)
    present = series[series.notna() & (series != "")]
    if present.empty:
        return np.full(len(series), np.nan)
    kind = pd.api.types.infer_dtype(present, skipna=True)
    if name.endswith(_TIME_SUFFIXES) and kind in ("string", "integer", "mixed-integer"):
        times = to_time(series.tolist())
        if times.notna().sum() == len(present):
            return times.array
    if kind == "boolean":
        return _to_bool(series.tolist(), len(series), False)
    if kind == "integer" and len(present) == len(series):
        return np.asarray(series.tolist(), dtype=np.int64)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return to_float(series.tolist())
    if kind == "string":
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().all():
            return to_float(series.where(series != "").tolist())
        return _to_str(series.tolist(), len(series)).array
    return series.to_numpy()


# --------------------------------------------------------------------------- builder


def _dropped(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def _unknown_name(path: str, strip: tuple[str, ...]) -> str:
    for prefix in strip:
        if path.startswith(prefix):
            return to_snake(path[len(prefix) :])
    return to_snake(path)


def build(
    spec: FrameSpec,
    flat: Mapping[str, Any],
    n: int,
    *,
    attrs: Mapping[str, Any] | None = None,
    unique: bool = False,
) -> pd.DataFrame:
    """Apply ``spec`` to column-wise records and return the frame.

    Parameters
    ----------
    spec : FrameSpec
        The frame's schema.
    flat : mapping of str to list
        Column-wise raw records (from :func:`flatten`), every list of length ``n``.
    n : int
        Number of records.
    attrs : mapping, optional
        Stored in ``df.attrs`` (``server_time`` …).
    unique : bool
        ``flat`` has been through :func:`drop_repeats`: its ``spec.unique`` values
        are known not to repeat, so the frame is not checked again (the check hashes
        the whole column: on a million ids, ~150 MB at the frame's peak).

    Returns
    -------
    pandas.DataFrame
        Declared columns (in order, with their dtypes, also when ``n`` is 0),
        then unknown fields; indexed and sorted as the spec says.
    """
    remaining = dict(flat)
    data: dict[str, Any] = {}
    for col in spec.columns:
        if col.source is None:
            continue
        raw: Any = None
        for source in col.sources:
            raw = _coalesce(raw, remaining.pop(source, None))
        data[col.name] = convert(col, raw, n, where=spec.name)
    declared = set(spec.names)
    unknown: list[str] = []
    for path, values in remaining.items():
        if _dropped(path, spec.drop):
            continue
        name = _unknown_name(path, spec.strip)
        if not name or name in declared or name in data:
            name = to_snake(path)
            if name in declared or name in data:
                continue
        data[name] = infer(values, name)
        unknown.append(name)
    # the converted columns are arrays of length n: no per-column Series needed
    frame = pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)
    if spec.derive is not None:
        frame = spec.derive(frame)
    frame = _enforce(spec, frame, unknown)
    return _finish(spec, frame, attrs, unique=unique)


def _ranks(seq: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    """``seq`` as a rank: 0, 1, 2, … in its own order (over the rows kept)."""
    order = np.argsort(np.asarray(seq), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order), dtype=np.int64)
    return ranks


def _take(values: Any, keep: np.ndarray[Any, np.dtype[np.bool_]]) -> Any:
    """The rows of a raw column (list, numpy or arrow array, pandas array) where ``keep``."""
    if values is None:
        return None
    if isinstance(values, list):
        return list(compress(values, keep))
    if _is_arrow(values):
        return values.filter(_ARROW.array(keep))
    return values[keep]


def drop_repeats(spec: FrameSpec, flat: Flat, n: int) -> tuple[Flat, int]:
    """``flat`` without the rows :func:`build` drops by ``spec.unique`` (a repeated key but
    its last; missing keys kept), ``seq`` re-ranked as it is there: the same frame.

    ``build`` removes repeats from the finished frame, which copies every column while
    the frame is held; here each raw column is filtered and let go in turn, so a large
    download is never held twice. ``flat`` is emptied (its columns move to the result);
    when no key repeats it is returned as it is. Build the frame with ``unique=True``.

    >>> spec = FrameSpec(name="s", columns=(Col("uid", "str", "uid"),), unique="uid")
    >>> drop_repeats(spec, {"uid": ["a", "b", "a", None, None]}, 5)
    ({'uid': ['b', 'a', None, None]}, 4)
    """
    if spec.unique is None or not n:
        return flat, n
    column = next(c for c in spec.columns if c.name == spec.unique)
    raw: Any = None
    for source in column.sources:
        raw = _coalesce(raw, flat.get(source))
    key = pd.Series(convert(column, raw, n, where=spec.name))
    if key.is_unique:
        return flat, n
    repeated = (key.duplicated(keep="last") & key.notna()).to_numpy(dtype=bool)
    del key, raw
    if not repeated.any():  # only missing keys repeat
        return flat, n
    keep = ~repeated
    out: Flat = {}
    for path in list(flat):
        out[path] = _take(flat.pop(path), keep)
    if _ARROW is not None:  # the arrow columns let go: their memory back to the system
        _ARROW.default_memory_pool().release_unused()
    if "seq" in spec.order_by and out.get("seq") is not None:
        out["seq"] = _ranks(out["seq"])
    return out, int(keep.sum())


def _enforce(spec: FrameSpec, frame: pd.DataFrame, unknown: list[str]) -> pd.DataFrame:
    dtypes = frame.dtypes
    for col in spec.columns:
        dtype = _dtype_of(col.kind)
        if col.name not in dtypes.index:
            if col.source is not None or len(frame) == 0:
                frame[col.name] = pd.Series(
                    convert(col, None, len(frame), where=spec.name), index=frame.index
                )
            else:
                raise RuntimeError(f"{spec.name}: derive did not add {col.name!r}")
        elif dtypes[col.name] != dtype:
            frame[col.name] = frame[col.name].astype(dtype)
    order = spec.names + [c for c in unknown if c in frame.columns]
    extra = [c for c in frame.columns if c not in set(order)]
    wanted = order + extra
    return frame if list(frame.columns) == wanted else frame[wanted]


def _finish(
    spec: FrameSpec, frame: pd.DataFrame, attrs: Mapping[str, Any] | None, *, unique: bool
) -> pd.DataFrame:
    if (
        spec.unique is not None
        and not unique
        and len(frame)
        and not frame[spec.unique].is_unique
    ):
        # is_unique (one hash pass, no mask) is ~2x cheaper than duplicated: the pass that
        # marks the repeats is only made when some value repeats
        key = frame[spec.unique]
        repeated = key.duplicated(keep="last") & key.notna()
        if repeated.any():
            frame = frame[~repeated]
            if "seq" in spec.order_by:
                frame = frame.assign(seq=_ranks(frame["seq"].to_numpy()))
    if spec.order_by and len(frame):
        frame = frame.sort_values(list(spec.order_by), kind="stable")
    if spec.index is not None:
        frame = frame.set_index(spec.index)
        if spec.index == "time":
            frame = frame.sort_index(kind="stable")
    elif len(frame) and not frame.index.equals(pd.RangeIndex(len(frame))):
        frame = frame.reset_index(drop=True)
    if attrs:
        frame.attrs.update(attrs)
    return frame
