"""The stream's speed: book deltas applied per second, snapshot to frame, and the latency
from the simulator's send to the callback over loopback.

Run with ``make bench`` or ``.venv/bin/python -m bench.stream [--rounds N]``. Each
measurement runs in a fresh process; rounds interleave them (deltas, frame, latency,
deltas, …) so a machine that changes speed during the run moves every case alike. The
table gives the median over rounds and the range (min–max).

* **deltas**: 200,000 level changes of a 500-level book (made by diffing the
  simulator's book every 250 ms, as its WebSocket does), applied to a
  :class:`~kfresearch.stream.LiveBook` (a) as parsed events and (b) from the
  JSON text (``KrakenV1.parse`` then ``apply_delta``, what the stream does per
  message). Each is the best of 5 passes in the process, in CPU time of the
  thread (``time.thread_time``): on a shared machine wall-clock time would
  measure the neighbours too.
* **frame**: a book of 500 levels per side (and 250 per side): the snapshot's
  JSON text parsed, applied and turned into the ``kf.orderbook`` frame; and
  ``frame()`` alone. Median of 200 runs in the process, in thread CPU time.
* **latency**: ``kfresearch sim serve``'s WebSocket app in its own process (clock
  10x real time), a stream subscribed to two books in this one; for every book
  delta, the time from just before the server hands it to the socket to the
  callback's start (``time.monotonic_ns``, one clock for both processes on
  Linux). About 8 s of deltas. The yardstick is a bare ``websockets`` client on
  the same server, timing each delta when ``recv()`` returns it: what is left
  is the stream's own cost (parse, book, message, callback) and its loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

#: CPU seconds of this thread: on a machine shared with other work, wall-clock times
#: measure the neighbours too; "on one core" is what the goals ask
CLOCK = time.thread_time
DELTAS = 200_000
DEPTH = 500
SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD")
T0 = 1_793_491_200_000


# -- data -------------------------------------------------------------------------------
def delta_texts(count: int = DELTAS, depth: int = DEPTH) -> tuple[bytes, list[bytes]]:
    """A book snapshot and ``count`` delta messages of PF_XBTUSD, as the sim sends them."""
    from kfresearch.sim.market import SyntheticMarket

    market = SyntheticMarket(7)
    symbol = "PF_XBTUSD"
    bids, asks = market.book(symbol, T0, depth)
    snapshot = orjson.dumps({
        "feed": "book_snapshot", "product_id": symbol, "timestamp": T0, "seq": 1,
        "tickSize": None, "bids": [{"price": p, "qty": q} for p, q in bids],
        "asks": [{"price": p, "qty": q} for p, q in asks],
    })
    old = (dict(bids), dict(asks))
    seq, now, out = 1, T0, []
    while len(out) < count:
        now += 250
        bids, asks = market.book(symbol, now, depth)
        new = (dict(bids), dict(asks))
        changes: list[tuple[str, float, float]] = []
        for side, before, after in (("buy", old[0], new[0]), ("sell", old[1], new[1])):
            changes += [(side, p, 0.0) for p in sorted(before) if p not in after]
        for side, before, after in (("buy", old[0], new[0]), ("sell", old[1], new[1])):
            changes += [(side, p, q) for p, q in sorted(after.items()) if before.get(p) != q]
        for side, price, qty in changes:
            seq += 1
            out.append(orjson.dumps({"feed": "book", "product_id": symbol, "side": side,
                                     "seq": seq, "price": price, "qty": qty, "timestamp": now}))
        old = new
    return snapshot, out[:count]


# -- cases (each in its own process) ------------------------------------------------------
def case_deltas() -> dict[str, float]:
    from kfresearch.stream import KrakenV1, LiveBook

    v1 = KrakenV1()
    snapshot, texts = delta_texts()
    events = [v1.parse(t) for t in texts]
    first = v1.parse(snapshot)

    def run(parse: bool) -> float:
        book = LiveBook("PF_XBTUSD")
        book.apply_snapshot(first)  # type: ignore[arg-type]
        apply, decode = book.apply_delta, v1.parse
        start = CLOCK()
        if parse:
            for text in texts:
                apply(decode(text))  # type: ignore[arg-type]
        else:
            for event in events:
                apply(event)  # type: ignore[arg-type]
        elapsed = CLOCK() - start
        if book.stats()["deltas"] != len(texts):
            raise AssertionError(f"applied {book.stats()}")
        return len(texts) / elapsed

    return {"apply_per_s": max(run(False) for _ in range(5)),
            "parse_apply_per_s": max(run(True) for _ in range(5))}


def case_frame() -> dict[str, float]:
    from kfresearch.stream import KrakenV1, LiveBook

    v1 = KrakenV1()
    out: dict[str, float] = {}
    for depth in (DEPTH, DEPTH // 2):
        snapshot, _ = delta_texts(count=0, depth=depth)
        whole: list[float] = []
        frame_only: list[float] = []
        for _ in range(200):
            book = LiveBook("PF_XBTUSD", env="sim")
            start = CLOCK()
            book.apply_snapshot(v1.parse(snapshot))  # type: ignore[arg-type]
            frame = book.frame()
            whole.append(CLOCK() - start)
            start = CLOCK()
            book.frame()
            frame_only.append(CLOCK() - start)
        if len(frame) != 2 * depth:
            raise AssertionError(len(frame))
        out[f"snapshot_to_frame_ms_{depth}"] = statistics.median(whole) * 1e3
        out[f"frame_ms_{depth}"] = statistics.median(frame_only) * 1e3
    return out


def serve(port: int, log: Path) -> None:
    """The simulator's WebSocket app, recording when each book delta is handed to the socket."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from kfresearch.sim.clock import SimClock
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.sim.ws import FeedSession

    exchange = SimExchange(seed=7, clock=SimClock("accelerated", T0, 10.0))
    sent: list[tuple[int, str]] = []

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()

        async def send(text: str) -> None:
            if text.startswith('{"feed":"book",'):
                sent.append((time.monotonic_ns(), text))
            await websocket.send_text(text)

        async def receive() -> str | None:
            try:
                return await websocket.receive_text()
            except WebSocketDisconnect:
                return None

        await FeedSession(exchange, send).run(receive)

    app = Starlette(routes=[WebSocketRoute("/ws/v1", endpoint)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")
    rows = []
    for stamp, text in sent:
        message = orjson.loads(text)
        rows.append([message["product_id"], message["seq"], stamp, message["timestamp"]])
    log.write_bytes(orjson.dumps(rows))


def _raw_client(port: int, seconds: float, received: dict[tuple[str, int], int]) -> None:
    """The yardstick: a bare ``websockets`` client timing each book delta on receipt."""
    from websockets.asyncio.client import connect

    async def main() -> None:
        async with connect(f"ws://127.0.0.1:{port}/ws/v1", max_size=2**24) as ws:
            await ws.send(orjson.dumps({"event": "subscribe", "feed": "book",
                                        "product_ids": list(SYMBOLS)}).decode())
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    text = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                except TimeoutError:
                    break
                stamp = time.monotonic_ns()
                message = orjson.loads(text)
                if message.get("feed") == "book" and "seq" in message:
                    received[(message["product_id"], message["seq"])] = stamp

    asyncio.run(main())


def case_latency(seconds: float = 8.0, *, raw: bool = False) -> dict[str, float]:
    import socket
    import tempfile

    import kfresearch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    folder = Path(tempfile.mkdtemp())
    log = folder / "sent.json"
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.stream", "serve", str(port), str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    received: dict[tuple[str, int], int] = {}

    def on_delta(message: Any) -> None:
        received[(message.symbol, message.record["seq"])] = time.monotonic_ns()

    stats: dict[str, Any] = {"gaps": 0, "resyncs": 0}
    try:
        if raw:
            deadline = time.monotonic() + 30
            while True:  # wait for the server to listen
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            _raw_client(port, seconds, received)
        else:
            kf = kfresearch.Client("sim", base_url=f"http://127.0.0.1:{port}")
            stream = kf.stream(heartbeat=False, backoff=(0.05, 0.2), timeout=30)
            try:
                stream.on("book", on_delta)
                stream.subscribe("book", list(SYMBOLS))
                time.sleep(seconds)
                stats = stream.stats()
            finally:
                stream.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    rows = orjson.loads(log.read_bytes())
    sent = {(symbol, seq): stamp for symbol, seq, stamp, _ in rows}
    waits = sorted((received[k] - sent[k]) / 1e3 for k in received if k in sent)
    # the first delta of each tick waits for no other delta of its batch
    heads: dict[tuple[str, int], tuple[str, int]] = {}
    for symbol, seq, _, tick in rows:
        heads.setdefault((symbol, tick), (symbol, seq))
    firsts = [(received[k] - sent[k]) / 1e3 for k in heads.values() if k in received]
    if stats["gaps"] or stats["resyncs"] or len(waits) < 1000:
        raise AssertionError(f"bad run: {stats}, {len(waits)} deltas")

    def pct(q: float) -> float:
        return waits[min(len(waits) - 1, int(q * len(waits)))]

    prefix = "raw_" if raw else ""
    return {f"{prefix}latency_us_p50": statistics.median(waits),
            f"{prefix}latency_us_p90": pct(0.9), f"{prefix}latency_us_p99": pct(0.99),
            f"{prefix}latency_us_first_p50": statistics.median(firsts),
            f"{prefix}deltas": float(len(waits))}


def case_latency_raw() -> dict[str, float]:
    return case_latency(raw=True)


CASES = {"deltas": case_deltas, "frame": case_frame, "latency": case_latency,
         "latency_raw": case_latency_raw}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream")
    parser.add_argument("what", nargs="?", default=None)
    parser.add_argument("args", nargs="*")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.what == "serve":
        serve(int(args.args[0]), Path(args.args[1]))
        return 0
    if args.what in CASES:
        print(json.dumps(CASES[args.what]()))
        return 0
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for case in CASES:  # interleaved: deltas, frame, latency, deltas, …
            out = subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bench.stream", case], capture_output=True, text=True,
                check=True, env={**os.environ, "TQDM_DISABLE": "1"},
            ).stdout
            for key, value in json.loads(out.strip().splitlines()[-1]).items():
                results.setdefault(key, []).append(float(value))
    import numpy
    import pandas
    import websockets

    print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, pandas "
          f"{pandas.__version__}, websockets {websockets.__version__}, orjson "
          f"{orjson.__version__}; {args.rounds} rounds, each case in a fresh process, "
          f"interleaved; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "at the end\n")
    print("| measure | median | range (min–max) | goal |")
    print("|---|---|---|---|")
    rows = [
        ("apply_per_s", "book deltas applied / s (parsed events)", "{:,.0f}", ">= 100,000"),
        ("parse_apply_per_s", "book deltas parsed + applied / s (JSON text)", "{:,.0f}",
         ">= 100,000"),
        (f"snapshot_to_frame_ms_{DEPTH}", f"snapshot ({DEPTH}/side) parsed, applied, framed, ms",
         "{:.2f}", "< 2 ms"),
        (f"frame_ms_{DEPTH}", f"frame() of a {DEPTH}/side book, ms", "{:.2f}", "< 2 ms"),
        (f"snapshot_to_frame_ms_{DEPTH // 2}",
         f"snapshot ({DEPTH // 2}/side) parsed, applied, framed, ms", "{:.2f}", "< 2 ms"),
        ("latency_us_p50", "sim send -> callback, loopback, median µs", "{:,.0f}", ""),
        ("latency_us_p90", "sim send -> callback, loopback, p90 µs", "{:,.0f}", ""),
        ("latency_us_p99", "sim send -> callback, loopback, p99 µs", "{:,.0f}", ""),
        ("latency_us_first_p50", "the same, first delta of each tick, median µs", "{:,.0f}",
         ""),
        ("raw_latency_us_p50", "yardstick: bare websockets client, send -> recv, median µs",
         "{:,.0f}", ""),
        ("raw_latency_us_p90", "yardstick: bare websockets client, p90 µs", "{:,.0f}", ""),
        ("raw_latency_us_first_p50", "yardstick: first delta of each tick, median µs",
         "{:,.0f}", ""),
    ]
    for key, label, fmt, goal in rows:
        values = results[key]
        print(f"| {label} | {fmt.format(statistics.median(values))} | "
              f"{fmt.format(min(values))} – {fmt.format(max(values))} | {goal} |")
    print(f"\n(latency over {statistics.median(results['deltas']):,.0f} deltas per round)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
