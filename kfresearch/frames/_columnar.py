"""The history executions body read by a columnar reader (``pyarrow.json``), a slice at a time.

A body of public executions (``GET /api/history/v3/market/{symbol}/executions``)
is one JSON document: ``{"elements": [...], "continuationToken": ...}``, about
800 bytes an element (100,000 elements are ~80 MB). msgspec splits it into
the raw bytes of each element without decoding them (one scan, no copy); the
elements are then handed to ``pyarrow.json`` as newline-delimited slices of
:data:`SLICE` elements, which it parses in C on its own threads into typed
columns with the element's schema. Decimal and epoch strings are cast in
arrow, and each slice's columns are kept while its text is dropped, so the
memory in use stays the body, one slice's text and the finished columns.

Like the msgspec structs of :mod:`kfresearch.frames._decode`, the schema
refuses a field it does not know, a number where the exchange sends a string,
and a missing field: :func:`read_executions` then returns None and the caller
takes the next path.

Example
-------
>>> body = (b'{"elements": [{"uid": "e1", "timestamp": "1000", "event": {"Execution": '
...         b'{"execution": {"uid": "x1", "makerOrder": {}, "takerOrder": {}}}}}]}')
>>> read_executions(body) is None  # the orders' fields are missing: not this path
True
"""

from __future__ import annotations

import io
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

__all__ = ["SLICE", "read_executions"]

Flat = dict[str, Any]

#: Elements per slice handed to the reader: ~16 MB of text, so the copy that
#: joins a slice stays small next to the body, and the reader's threads each
#: get a few blocks of it.
SLICE = 20_000


def _order(*extra: tuple[str, Any]) -> Any:
    return pa.struct(
        [
            ("uid", pa.large_string()),
            ("tradeable", pa.large_string()),
            ("direction", pa.large_string()),
            ("quantity", pa.large_string()),
            ("timestamp", pa.large_string()),
            ("limitPrice", pa.large_string()),
            ("orderType", pa.large_string()),
            ("reduceOnly", pa.bool_()),
            ("lastUpdateTimestamp", pa.large_string()),
            *extra,
        ]
    )


_EXECUTION = pa.struct(
    [
        ("uid", pa.large_string()),
        ("makerOrder", _order()),
        ("takerOrder", _order()),
        ("timestamp", pa.large_string()),
        ("quantity", pa.large_string()),
        ("price", pa.large_string()),
        ("markPrice", pa.large_string()),
        ("limitFilled", pa.bool_()),
        ("usdValue", pa.large_string()),
        ("oldTakerOrder", _order()),
    ]
)
_SCHEMA = pa.schema(
    [
        ("uid", pa.large_string()),
        ("timestamp", pa.large_string()),
        (
            "event",
            pa.struct(
                [
                    (
                        "Execution",
                        pa.struct(
                            [("execution", _EXECUTION), ("takerReducedQuantity", pa.large_string())]
                        ),
                    )
                ]
            ),
        ),
    ]
)
_OPTIONAL = frozenset({"oldTakerOrder", "takerReducedQuantity"})


class _Page(msgspec.Struct, gc=False):
    elements: list[msgspec.Raw]
    continuationToken: str | None = None


_PAGE = msgspec.json.Decoder(_Page)


def read_executions(raw: bytes) -> tuple[Flat, int, str | None] | None:
    """Column-wise records of a history executions page, or None when this path does not fit.

    Returns the same columns as :func:`kfresearch.frames._decode.decode_executions`:
    numbers as float64/int64 arrays, flags as bool arrays, text as arrow
    string arrays (``""`` as null).
    """
    try:
        page = _PAGE.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    elements, token = page.elements, page.continuationToken
    del page
    n = len(elements)
    if not n:
        return None  # an empty page: the other paths make its empty frame
    # a pretty-printed body has line breaks inside its elements: the reader must expect them
    multiline = b"\n" in raw or b"\r" in raw
    out: Flat = {key: np.empty(n, dtype) for key, dtype in _NUMBERS.items()}
    texts: dict[str, list[Any]] = {key: [] for key in _TEXTS}
    # The last slice first, its elements let go as it is taken, so the split's element
    # objects shrink as the columns grow; the text chunks are put back in order at the end.
    for start in reversed(range(0, n, SLICE)):
        part = elements[start:]
        del elements[start:]
        if not _read_slice(part, multiline, out, texts, start):
            return None
        del part
    for key, chunks in texts.items():
        out[key] = chunks[0] if len(chunks) == 1 else pa.chunked_array(reversed(chunks))
    return out, n, token


_X = ("event", "Execution", "execution")  # where an element keeps its execution

#: Numeric leaves: column key -> (path in the element, arrow type to cast the text to).
_NUMERIC: dict[str, tuple[tuple[str, ...], Any]] = {
    "element.timestamp": (("timestamp",), pa.int64()),
    **{
        f"execution.{name}": ((*_X, name), kind)
        for name, kind in (
            ("timestamp", pa.int64()),
            ("price", pa.float64()),
            ("quantity", pa.float64()),
            ("markPrice", pa.float64()),
            ("usdValue", pa.float64()),
        )
    },
    "takerReducedQuantity": (("event", "Execution", "takerReducedQuantity"), pa.float64()),
    **{
        f"execution.{side}.{name}": ((*_X, side, name), kind)
        for side in ("makerOrder", "takerOrder")
        for name, kind in (
            ("limitPrice", pa.float64()),
            ("quantity", pa.float64()),
            ("timestamp", pa.int64()),
        )
    },
}
_FLAGS: dict[str, tuple[str, ...]] = {
    "execution.limitFilled": (*_X, "limitFilled"),
    "execution.makerOrder.reduceOnly": (*_X, "makerOrder", "reduceOnly"),
    "execution.takerOrder.reduceOnly": (*_X, "takerOrder", "reduceOnly"),
}
_TEXTS: dict[str, tuple[str, ...]] = {
    "element.uid": ("uid",),
    "execution.uid": (*_X, "uid"),
    **{
        f"execution.{side}.{name}": (*_X, side, name)
        for side in ("makerOrder", "takerOrder")
        for name in ("uid", "orderType")
    },
    "execution.takerOrder.tradeable": (*_X, "takerOrder", "tradeable"),
    "execution.takerOrder.direction": (*_X, "takerOrder", "direction"),
}
_NUMBERS: dict[str, Any] = {
    **{key: kind.to_pandas_dtype() for key, (_, kind) in _NUMERIC.items()},
    **{key: np.bool_ for key in _FLAGS},
}


def _read_slice(
    elements: list[msgspec.Raw],
    multiline: bool,
    out: Flat,
    texts: dict[str, list[Any]],
    start: int,
) -> bool:
    """Read one slice into ``out[key][start:...]`` (numbers, flags) and ``texts`` (one
    arrow chunk per slice); False when the slice does not fit the schema."""
    text = b"\n".join(elements)
    try:
        table = pj.read_json(
            io.BytesIO(text),
            read_options=pj.ReadOptions(use_threads=True),
            parse_options=pj.ParseOptions(
                explicit_schema=_SCHEMA,
                unexpected_field_behavior="error",
                newlines_in_values=multiline,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    del text
    if table.num_rows != len(elements):
        return False
    for i in range(table.num_columns):
        if not _complete(table.column(i), table.schema.field(i).type):
            return False
    stop = start + len(elements)
    try:
        for key, (path, kind) in _NUMERIC.items():
            leaf = _leaf(table, path)
            if key == "takerReducedQuantity":  # "" (no trim) is missing
                leaf = pc.if_else(pc.equal(leaf, ""), None, leaf)
            out[key][start:stop] = pc.cast(leaf, kind).to_numpy()
        for key, path in _FLAGS.items():
            out[key][start:stop] = _leaf(table, path).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a number that does not parse
        return False
    for key, path in _TEXTS.items():
        texts[key].append(_text(_leaf(table, path).combine_chunks()))
    del table
    # the reader's buffers of this slice go back to the system now, not at the end
    pa.default_memory_pool().release_unused()
    return True


def _leaf(table: Any, path: tuple[str, ...]) -> Any:
    """One leaf of the table's nested columns (a chunked array)."""
    column = table.column(path[0])
    return pc.struct_field(column, list(path[1:])) if len(path) > 1 else column


def _complete(column: Any, kind: Any) -> bool:
    """No null anywhere a required field should be (nested structs included)."""
    if column.null_count:
        return False
    if pa.types.is_struct(kind):
        return all(
            _complete(pc.struct_field(column, [i]), kind.field(i).type)
            for i in range(kind.num_fields)
            if kind.field(i).name not in _OPTIONAL
        )
    return True


def _text(array: Any) -> Any:
    """Text with ``""`` as null (the generic path's missing value)."""
    empty = pc.equal(array, "")
    return pc.if_else(empty, None, array) if pc.any(empty).as_py() else array
