"""The history executions body read by a columnar reader (``pyarrow.json``), a slice at a time.

A body of public executions (``GET /api/history/v3/market/{symbol}/executions``)
is one JSON document: ``{"elements": [...], "continuationToken": ...}``, about
800 bytes an element (100,000 elements are ~80 MB). A compact body is cut at
its elements' boundaries byte by byte (:func:`_cut`: numpy finds the commas of
``},{"uid":`` and a copy of one slice at a time has them as line breaks); any
other body is split by msgspec into the raw bytes of each element. The
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

from collections.abc import Callable, Iterator
from functools import partial
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


class _Tail(msgspec.Struct, gc=False):
    continuationToken: str | None = None


_PAGE = msgspec.json.Decoder(_Page)
_TAIL = msgspec.json.Decoder(_Tail)

#: How a compact body (the exchange's, the simulator's) opens, and the bytes between two
#: of its elements: ``},{"uid":``. Only there are the elements cut without decoding them.
_HEAD = b'{"elements":['
_NEXT = b'"uid":'
#: Bytes of the body searched at once for the elements' boundaries (bounds the temporaries).
_SCAN = 1 << 24


#: One slice of elements: (index of its first element, element count, what makes its
#: newline-delimited text).
Slice = tuple[int, int, Callable[[], Any]]


def read_executions(raw: bytes) -> tuple[Flat, int, str | None] | None:
    """Column-wise records of a history executions page, or None when this path does not fit.

    Returns the same columns as :func:`kfresearch.frames._decode.decode_executions`:
    numbers as float64/int64 arrays, flags as bool arrays, text as arrow
    string arrays (``""`` as null).
    """
    cut = _cut(raw)
    if cut is not None:
        read = _read(cut[0], cut[1], cut[2], multiline=False)
        if read is not None:
            return read
    # the body's bytes did not cut (pretty-printed, keys in another order …): msgspec splits it
    try:
        page = _PAGE.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    elements, token = page.elements, page.continuationToken
    del page
    if not elements:
        return None  # an empty page: the other paths make its empty frame
    # a pretty-printed body has line breaks inside its elements: the reader must expect them
    multiline = b"\n" in raw or b"\r" in raw
    return _read(_joined(elements), len(elements), token, multiline=multiline)


def _read(
    slices: Iterator[Slice], n: int, token: str | None, *, multiline: bool
) -> tuple[Flat, int, str | None] | None:
    """Every slice read into the columns (numbers and flags in place, text a chunk a slice)."""
    out: Flat = {key: np.empty(n, dtype) for key, dtype in _NUMBERS.items()}
    chunks: dict[int, dict[str, Any]] = {}  # a slice's first element -> its text columns
    for start, rows, text in slices:
        texts = _read_slice(text(), rows, multiline, out, start)
        if texts is None:
            return None
        chunks[start] = texts
        del text, texts
    order = sorted(chunks)
    for key in _TEXTS:
        parts = [chunks[start][key] for start in order]
        out[key] = parts[0] if len(parts) == 1 else pa.chunked_array(parts)
    return out, n, token


def _joined(elements: list[msgspec.Raw]) -> Iterator[Slice]:
    """The elements' slices, the last first, each element let go as its slice is taken,
    so the split's element objects shrink as the columns grow."""
    for start in reversed(range(0, len(elements), SLICE)):
        part = elements[start:]
        del elements[start:]
        yield start, len(part), partial(b"\n".join, part)
        del part


def _cut(raw: bytes) -> tuple[Iterator[Slice], int, str | None] | None:
    """The slices of a compact body cut at its elements' boundaries, byte by byte, or None.

    The elements of ``{"elements":[{...},{...}],...}`` are separated by ``},{"uid":``;
    each of those commas becomes a line break (in a copy of one slice at a time), which
    makes the newline-delimited JSON the reader takes. The bytes ``{"uid":`` cannot occur
    inside a JSON string (its quote would end the string), so a comma is cut only between
    two values; one cut inside an element leaves its lines unbalanced, and two elements
    left on one line keep their comma: the reader refuses both, as it refuses a line
    break anywhere else, and each slice's row count is checked against its cuts. Then
    the body is read the other way (:func:`read_executions`).
    """
    if not raw.startswith(_HEAD) or b"\n" in raw:
        return None
    end = raw.rfind(b"]")  # closes the elements, when the rest (the tail) is a valid object
    first = len(_HEAD)
    tail = raw[end + 1 :]
    if end <= first or raw[end - 1] != ord("}") or tail[:1] not in (b",", b"}"):
        return None
    try:
        token = _TAIL.decode(b"{" + tail[1:]).continuationToken if tail != b"}" else None
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    body = np.frombuffer(raw, dtype=np.uint8)
    commas = _commas(body, first, end)
    n = len(commas) + 1
    starts = np.concatenate([[first], commas + 1])
    stops = np.concatenate([commas, [end]])

    def slices() -> Iterator[Slice]:
        for start in range(0, n, SLICE):
            last = min(start + SLICE, n) - 1
            cuts = commas[start:last]
            yield start, last + 1 - start, partial(_lines, body, starts[start], stops[last], cuts)

    return slices(), n, token


def _lines(body: np.ndarray[Any, Any], lo: int, hi: int, commas: np.ndarray[Any, Any]) -> Any:
    """A copy of ``body[lo:hi]`` with ``commas`` (offsets in ``body``) made line breaks."""
    text = body[lo:hi].copy()
    text[commas - lo] = ord("\n")
    return pa.py_buffer(text)


def _commas(body: np.ndarray[Any, Any], first: int, end: int) -> np.ndarray[Any, Any]:
    """Offsets of the commas in ``},{"uid":`` between ``first`` and ``end``, ascending."""
    found = []
    for lo in range(first, end, _SCAN):
        opens = np.flatnonzero(body[lo : min(lo + _SCAN, end)] == ord("{")) + lo
        opens = opens[(opens >= first + 2) & (opens + len(_NEXT) < end)]
        opens = opens[body[opens - 1] == ord(",")]
        opens = opens[body[opens - 2] == ord("}")]
        for k, byte in enumerate(_NEXT, 1):
            opens = opens[body[opens + k] == byte]
        found.append(opens - 1)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


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
    text: Any,
    rows: int,
    multiline: bool,
    out: Flat,
    start: int,
) -> dict[str, Any] | None:
    """Read one slice's ``rows`` elements (newline-delimited ``text``) into
    ``out[key][start:...]`` (numbers, flags); returns its text columns (arrow arrays),
    or None when the slice does not fit the schema."""
    try:
        table = pj.read_json(
            pa.BufferReader(text),
            read_options=pj.ReadOptions(use_threads=True),
            parse_options=pj.ParseOptions(
                explicit_schema=_SCHEMA,
                unexpected_field_behavior="error",
                newlines_in_values=multiline,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    del text
    if table.num_rows != rows:
        return None
    for i in range(table.num_columns):
        if not _complete(table.column(i), table.schema.field(i).type):
            return None
    stop = start + rows
    try:
        for key, (path, kind) in _NUMERIC.items():
            leaf = _leaf(table, path)
            if key == "takerReducedQuantity":  # "" (no trim) is missing
                leaf = pc.if_else(pc.equal(leaf, ""), None, leaf)
            out[key][start:stop] = pc.cast(leaf, kind).to_numpy()
        for key, path in _FLAGS.items():
            out[key][start:stop] = _leaf(table, path).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a number that does not parse
        return None
    texts = {key: _text(_leaf(table, path).combine_chunks()) for key, path in _TEXTS.items()}
    del table
    # the reader's buffers of this slice go back to the system now, not at the end
    pa.default_memory_pool().release_unused()
    return texts


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
