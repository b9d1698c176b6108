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
    elements = page.elements
    # a pretty-printed body has line breaks inside its elements: the reader must expect them
    multiline = b"\n" in raw or b"\r" in raw
    parts: list[Flat] = []
    for start in range(0, len(elements), SLICE):
        part = _read_slice(elements[start : start + SLICE], multiline)
        if part is None:
            return None
        parts.append(part)
    if not parts:
        return None  # an empty page: the other paths make its empty frame
    return _join(parts), len(elements), page.continuationToken


def _read_slice(elements: list[msgspec.Raw], multiline: bool) -> Flat | None:
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
        return None
    del text
    if table.num_rows != len(elements):
        return None
    batch = table.combine_chunks().to_batches()
    if len(batch) != 1:
        return None
    return _columns(batch[0])


def _complete(array: Any, name: str) -> bool:
    """No null anywhere a required field should be (nested structs included)."""
    if array.null_count:
        return False
    if pa.types.is_struct(array.type):
        return all(
            _complete(array.field(i), array.type.field(i).name)
            for i in range(array.type.num_fields)
            if array.type.field(i).name not in _OPTIONAL
        )
    return True


def _number(array: Any, dtype: Any) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = pc.cast(array, dtype).to_numpy(zero_copy_only=False)
    return out


def _text(array: Any) -> Any:
    """Text with ``""`` as null (the generic path's missing value)."""
    empty = pc.equal(array, "")
    return pc.if_else(empty, None, array) if pc.any(empty).as_py() else array


def _columns(batch: Any) -> Flat | None:
    for i, name in enumerate(batch.schema.names):
        if not _complete(batch.column(i), name):
            return None
    event = batch.column(2).field("Execution")
    execution = event.field("execution")
    reduced = event.field("takerReducedQuantity")
    reduced = pc.if_else(pc.equal(reduced, ""), None, reduced)
    try:
        flat: Flat = {
            "element.uid": _text(batch.column(0)),
            "element.timestamp": _number(batch.column(1), pa.int64()),
            "execution.uid": _text(execution.field("uid")),
            "execution.timestamp": _number(execution.field("timestamp"), pa.int64()),
            "execution.price": _number(execution.field("price"), pa.float64()),
            "execution.quantity": _number(execution.field("quantity"), pa.float64()),
            "execution.markPrice": _number(execution.field("markPrice"), pa.float64()),
            "execution.usdValue": _number(execution.field("usdValue"), pa.float64()),
            "execution.limitFilled": execution.field("limitFilled").to_numpy(zero_copy_only=False),
            "takerReducedQuantity": _number(reduced, pa.float64()),
        }
        for prefix in ("makerOrder", "takerOrder"):
            order = execution.field(prefix)
            key = f"execution.{prefix}."
            flat[key + "uid"] = _text(order.field("uid"))
            flat[key + "orderType"] = _text(order.field("orderType"))
            flat[key + "limitPrice"] = _number(order.field("limitPrice"), pa.float64())
            flat[key + "quantity"] = _number(order.field("quantity"), pa.float64())
            flat[key + "reduceOnly"] = order.field("reduceOnly").to_numpy(zero_copy_only=False)
            flat[key + "timestamp"] = _number(order.field("timestamp"), pa.int64())
        taker = execution.field("takerOrder")
        flat["execution.takerOrder.tradeable"] = _text(taker.field("tradeable"))
        flat["execution.takerOrder.direction"] = _text(taker.field("direction"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a number that does not parse
        return None
    return flat


def _join(parts: list[Flat]) -> Flat:
    """The slices' columns end to end; each slice's piece is let go once joined, so the
    memory holds the columns about once (arrow text is chained, not copied)."""
    if len(parts) == 1:
        return parts[0]
    out: Flat = {}
    for key in list(parts[0]):
        columns = [part.pop(key) for part in parts]
        if isinstance(columns[0], np.ndarray):
            out[key] = np.concatenate(columns)
        else:
            out[key] = pa.chunked_array(columns)
        del columns
    return out
