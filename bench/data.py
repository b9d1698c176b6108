"""Benchmark inputs: raw response bytes in the exchange's shapes, made by the simulator."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec
import numpy as np
import orjson

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"


def exchange() -> SimExchange:
    return SimExchange(seed=42, clock=SimClock.fixed(NOW))


def executions_bytes(ex: SimExchange, n: int = 100_000) -> bytes:
    """One history body with ``n`` public executions (decimals and timestamps as strings)."""
    elements: list[Any] = []
    token = ""
    since = ex.clock.now_ms() - 10 * 86_400_000
    while len(elements) < n:
        query = f"since={since}&sort=asc&count=1000" + (
            f"&continuation_token={token}" if token else ""
        )
        body = orjson.loads(
            ex.handle("GET", f"/api/history/v3/market/PF_XBTUSD/executions?{query}", {}, b"").body
        )
        elements += body["elements"]
        token = body["continuationToken"]
    return orjson.dumps({"elements": elements[:n], "len": str(n)})


def executions_times(body: bytes, times: int) -> bytes:
    """``body``'s executions ``times`` over, each copy with its own ids and later in time."""
    elements = orjson.loads(body)["elements"]
    stamps = [int(e["timestamp"]) for e in elements]
    span = max(stamps) - min(stamps) + 1
    parts = []
    for copy in range(times):
        shift = copy * span

        def moved(order: dict[str, Any], shift: int = shift, copy: int = copy) -> dict[str, Any]:
            return {
                **order,
                "uid": f"{order['uid']}-{copy}",
                "timestamp": str(int(order["timestamp"]) + shift),
                "lastUpdateTimestamp": str(int(order["lastUpdateTimestamp"]) + shift),
            }

        out = []
        for element in elements:
            execution = element["event"]["Execution"]["execution"]
            event = {
                **element["event"]["Execution"],
                "execution": {
                    **execution,
                    "uid": f"{execution['uid']}-{copy}",
                    "timestamp": str(int(execution["timestamp"]) + shift),
                    "makerOrder": moved(execution["makerOrder"]),
                    "takerOrder": moved(execution["takerOrder"]),
                },
            }
            out.append(
                {
                    "uid": f"{element['uid']}-{copy}",
                    "timestamp": str(int(element["timestamp"]) + shift),
                    "event": {"Execution": event},
                }
            )
        parts.append(orjson.dumps(out)[1:-1])
        del out
    count = str(len(elements) * times).encode()
    return b'{"elements":[' + b",".join(parts) + b'],"len":"' + count + b'"}'


def executions_pages(body: bytes, size: int = 1000) -> list[bytes]:
    """``body``'s executions as pages of ``size``, as the history endpoint sends them (each
    page but the last with a continuation token)."""
    elements = orjson.loads(body)["elements"]
    pages = []
    for start in range(0, len(elements), size):
        page: dict[str, Any] = {"elements": elements[start : start + size], "len": str(size)}
        if start + size < len(elements):
            page["continuationToken"] = f"page-{start // size + 1}"
        pages.append(orjson.dumps(page))
    return pages


def executions_head(body: bytes, n: int) -> bytes:
    """The first ``n`` executions of ``body`` as a body of their own."""
    elements = orjson.loads(body)["elements"][:n]
    return orjson.dumps({"elements": elements, "len": str(len(elements))})


class HistoryServer:
    """The market history endpoint (``/api/history/v3/market/{symbol}/executions``) over
    prepared elements, for an ``httpx.MockTransport``: answers ``since`` (inclusive),
    ``before`` (exclusive), ``sort=asc``, ``count`` and ``continuation_token`` as the
    exchange does (a token on every page but the last of a range), and the instruments.

    ``stamps`` are the elements' times (epoch ms, ascending) and ``joined(a, b)`` the raw
    JSON of elements ``a`` to ``b - 1`` joined by commas, so the elements may live on disk
    (:func:`elements_file`) and not in the measured process's memory. ``sent`` counts
    the body bytes answered for the history endpoint.
    """

    def __init__(
        self,
        stamps: Sequence[int],
        joined: Callable[[int, int], bytes],
        instruments: bytes = b'{"result":"success","instruments":[{"symbol":"PF_XBTUSD"}]}',
    ) -> None:
        self.stamps = stamps
        self.joined = joined
        self.instruments = instruments
        self.sent = 0
        self.requests = 0

    def page(self, since: int, before: int, count: int, token: str | None) -> bytes:
        """One answer: the elements of ``[since, before)`` from the token's place on."""
        lo = int(bisect_left(self.stamps, since))
        hi = int(bisect_left(self.stamps, before))
        start = max(lo, int(token)) if token else lo
        stop = min(hi, start + count)
        body = b'{"elements":[' + (self.joined(start, stop) if stop > start else b"")
        body += b'],"len":"' + str(max(0, stop - start)).encode() + b'"'
        if stop < hi:
            body += b',"continuationToken":"' + str(stop).encode() + b'"'
        return body + b"}"

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/instruments"):
            return httpx.Response(200, content=self.instruments)
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        body = self.page(
            int(query.get("since", 0)),
            int(query.get("before", 2**62)),
            int(query.get("count", 1000)),
            query.get("continuation_token"),
        )
        self.sent += len(body)
        self.requests += 1
        return httpx.Response(200, content=body)


def in_memory(elements: Sequence[bytes]) -> Callable[[int, int], bytes]:
    """``joined`` of :class:`HistoryServer` over elements held in a list."""
    return lambda a, b: b",".join(elements[a:b])


class _RawElements(msgspec.Struct):
    elements: list[msgspec.Raw]


class _Stamp(msgspec.Struct):
    timestamp: int


class _Stamps(msgspec.Struct):
    elements: list[_Stamp]


def write_elements(folder: Path, body: bytes) -> None:
    """``body``'s elements (a history body, times ascending) as the files
    :func:`file_server` answers from: their raw JSON one after the other, their
    times and where each starts (without parsing them into objects)."""
    stamps = msgspec.json.decode(body, type=_Stamps, strict=False).elements
    np.save(folder / "stamps.npy", np.fromiter((e.timestamp for e in stamps), np.int64))
    del stamps
    offsets = np.zeros(1, dtype=np.int64)
    sizes = []
    with (folder / "elements.bin").open("wb") as out:
        for raw in msgspec.json.decode(body, type=_RawElements).elements:
            out.write(bytes(raw) + b",")
            sizes.append(len(raw) + 1)
    np.save(folder / "offsets.npy", np.concatenate([offsets, np.cumsum(sizes)]))


def file_server(folder: Path) -> HistoryServer:
    """A :class:`HistoryServer` over the files of :func:`write_elements`: the elements stay
    on disk (``os.pread``: thread-safe, and the file's pages sit in the kernel's cache,
    not in this process's resident memory); only their times and offsets are loaded."""
    stamps = np.load(folder / "stamps.npy")
    offsets = np.load(folder / "offsets.npy")
    fd = os.open(folder / "elements.bin", os.O_RDONLY)

    def joined(a: int, b: int) -> bytes:
        start, stop = int(offsets[a]), int(offsets[b]) - 1
        return os.pread(fd, stop - start, start)

    return HistoryServer(stamps, joined)


def raw_elements(body: bytes) -> tuple[list[int], list[bytes]]:
    """The times and raw JSON of ``body``'s elements (``elements`` of a history body)."""
    elements = orjson.loads(body)["elements"]
    return [int(e["timestamp"]) for e in elements], [orjson.dumps(e) for e in elements]


def book_bytes(levels: int = 1000) -> bytes:
    """An orderbook body with ``levels`` price levels per side (numbers, as the endpoint sends)."""
    bids = [[88_000.0 - i, round(0.1 + (i % 37) * 0.013, 4)] for i in range(levels)]
    asks = [[88_001.0 + i, round(0.1 + (i % 41) * 0.011, 4)] for i in range(levels)]
    return orjson.dumps(
        {
            "result": "success",
            "orderBook": {"bids": bids, "asks": asks},
            "serverTime": "2026-11-01T00:00:00.000Z",
        }
    )


def candles_bytes(ex: SimExchange, n: int = 43_200) -> bytes:
    """One charts body with ``n`` one-minute candles (OHLC as strings, volume a number)."""
    candles: list[Any] = []
    start = ex.clock.now_ms() // 1000 - n * 60
    while len(candles) < n:
        body = orjson.loads(
            ex.handle("GET", f"/api/charts/v1/trade/PF_XBTUSD/1m?from={start}", {}, b"").body
        )
        candles += body["candles"]
        start = candles[-1]["time"] // 1000 + 60
    return orjson.dumps({"candles": candles[:n], "more_candles": False})


def instruments_body(ex: SimExchange) -> Any:
    return orjson.loads(ex.handle("GET", "/derivatives/api/v3/instruments", {}, b"").body)
