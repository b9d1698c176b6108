"""Typed decoding of the large bodies straight from their bytes (msgspec).

Decoding JSON into Python dicts dominates the cost of a big download (100,000
executions are ~80 MB of text). For the three large shapes (history
executions, chart candles, the order book) this module decodes only the
documented fields, converting decimal strings to floats and epoch-ms strings to
ints while parsing (``strict=False``), and hands :func:`~kfresearch.frames.core.build`
column-wise records like the generic path's, with the numeric columns
already float64/int64 arrays.

The structs forbid unknown fields: a body with a field the exchange added
later (or a value of an unexpected type, such as ``""`` for a price) makes the
fast path step aside, and the generic path, which keeps every field, reads it.
Both paths give the same frame for documented bodies (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import orjson

from kfresearch.frames._columnar import read_executions
from kfresearch.frames.core import Flat

__all__ = [
    "decode_candles",
    "decode_executions",
    "decode_orderbook",
    "is_raw",
    "raw_pages",
    "to_body",
]


class _Order(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    uid: str
    tradeable: str
    direction: str
    quantity: float
    timestamp: int
    limitPrice: float
    orderType: str
    reduceOnly: bool
    lastUpdateTimestamp: int


class _Execution(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    uid: str
    makerOrder: _Order
    takerOrder: _Order
    timestamp: int
    quantity: float
    price: float
    markPrice: float
    limitFilled: bool
    usdValue: float
    oldTakerOrder: _Order | None = None


class _ExecutionEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    execution: _Execution
    takerReducedQuantity: str | float | None = None


class _Event(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    Execution: _ExecutionEvent


class _Element(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    uid: str
    timestamp: int
    event: _Event


class _ExecutionsPage(msgspec.Struct, gc=False):
    elements: list[_Element]
    continuationToken: str | None = None


class _Candle(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class _CandlesPage(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    candles: list[_Candle]
    more_candles: bool = False


class _Book(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class _BookBody(msgspec.Struct, gc=False):
    orderBook: _Book
    result: str = "success"
    serverTime: str | None = None


_EXECUTIONS = msgspec.json.Decoder(_ExecutionsPage, strict=False)
_CANDLES = msgspec.json.Decoder(_CandlesPage, strict=False)
_BOOK = msgspec.json.Decoder(_BookBody, strict=False)
_MISS = (msgspec.ValidationError, msgspec.DecodeError)


def is_raw(body_or_pages: Any) -> bool:
    """True for response bytes or a non-empty sequence of them."""
    if isinstance(body_or_pages, bytes | bytearray | memoryview):
        return True
    return (
        isinstance(body_or_pages, Sequence)
        and not isinstance(body_or_pages, str)
        and len(body_or_pages) > 0
        and all(isinstance(page, bytes | bytearray | memoryview) for page in body_or_pages)
    )


def raw_pages(body_or_pages: Any) -> list[bytes]:
    if isinstance(body_or_pages, bytes | bytearray | memoryview):
        return [bytes(body_or_pages)]
    return [bytes(page) for page in body_or_pages]


def to_body(raw: bytes) -> Any:
    """The generic path: the whole body as Python objects."""
    return orjson.loads(raw)


def _numbers(structs: list[Any], name: str, dtype: type) -> np.ndarray[Any, Any]:
    """One numeric field of every struct as an array, without a list in between."""
    return np.fromiter(map(attrgetter(name), structs), dtype=dtype, count=len(structs))


def decode_executions(raw: bytes) -> tuple[Flat, int, str | None] | None:
    """Column-wise records of a history executions page, or None when the fast path does not fit.

    The columnar reader (:func:`kfresearch.frames._columnar.read_executions`)
    reads it when it can; else msgspec's structs do: numeric fields come as
    float64/int64 arrays (the structs typed them while parsing), text and
    flags as lists.
    """
    columnar = read_executions(raw)
    if columnar is not None:
        return columnar
    try:
        page = _EXECUTIONS.decode(raw)
    except _MISS:
        return None
    elements = page.elements
    events = [e.event.Execution for e in elements]
    execs = [ev.execution for ev in events]
    makers = [x.makerOrder for x in execs]
    takers = [x.takerOrder for x in execs]
    flat: Flat = {
        "element.uid": [e.uid for e in elements],
        "element.timestamp": _numbers(elements, "timestamp", np.int64),
        "execution.uid": [x.uid for x in execs],
        "execution.timestamp": _numbers(execs, "timestamp", np.int64),
        "execution.price": _numbers(execs, "price", np.float64),
        "execution.quantity": _numbers(execs, "quantity", np.float64),
        "execution.markPrice": _numbers(execs, "markPrice", np.float64),
        "execution.usdValue": _numbers(execs, "usdValue", np.float64),
        "execution.limitFilled": [x.limitFilled for x in execs],
        "takerReducedQuantity": [ev.takerReducedQuantity for ev in events],
    }
    for prefix, orders in (("execution.makerOrder.", makers), ("execution.takerOrder.", takers)):
        flat[prefix + "uid"] = [o.uid for o in orders]
        flat[prefix + "orderType"] = [o.orderType for o in orders]
        flat[prefix + "limitPrice"] = _numbers(orders, "limitPrice", np.float64)
        flat[prefix + "quantity"] = _numbers(orders, "quantity", np.float64)
        flat[prefix + "reduceOnly"] = [o.reduceOnly for o in orders]
        flat[prefix + "timestamp"] = _numbers(orders, "timestamp", np.int64)
    flat["execution.takerOrder.tradeable"] = [o.tradeable for o in takers]
    flat["execution.takerOrder.direction"] = [o.direction for o in takers]
    return flat, len(elements), page.continuationToken


def decode_candles(raw: bytes) -> tuple[Flat, int, bool] | None:
    """Column-wise candles of a charts answer, or None when the fast path does not fit.

    Every field is numeric: ``time`` comes as an int64 array, the rest as float64 arrays.
    """
    try:
        page = _CANDLES.decode(raw)
    except _MISS:
        return None
    rows = page.candles
    flat: Flat = {
        "time": _numbers(rows, "time", np.int64),
        "open": _numbers(rows, "open", np.float64),
        "high": _numbers(rows, "high", np.float64),
        "low": _numbers(rows, "low", np.float64),
        "close": _numbers(rows, "close", np.float64),
        "volume": _numbers(rows, "volume", np.float64),
    }
    return flat, len(rows), page.more_candles


def _levels(pairs: list[tuple[float, float]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """(price, size) pairs as an (n, 2) float64 array; 2x faster than ``np.asarray(pairs)``."""
    flat = np.fromiter(chain.from_iterable(pairs), dtype=np.float64, count=2 * len(pairs))
    return flat.reshape(-1, 2)


def decode_orderbook(raw: bytes) -> dict[str, Any] | None:
    """The book body with each side as an (n, 2) float64 array of (price, size), or None
    when it does not fit."""
    try:
        body = _BOOK.decode(raw)
    except _MISS:
        return None
    if body.result != "success":
        return None
    book = body.orderBook
    out: dict[str, Any] = {"orderBook": {"bids": _levels(book.bids), "asks": _levels(book.asks)}}
    if body.serverTime is not None:
        out["serverTime"] = body.serverTime
    return out
