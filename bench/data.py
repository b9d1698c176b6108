"""Benchmark inputs: raw response bytes in the exchange's shapes, made by the simulator."""

from __future__ import annotations

from typing import Any

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
