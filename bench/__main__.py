"""Raw response bytes -> typed DataFrame: kfresearch vs ccxt, a naive frame, pyarrow.json
and the decode floor; and the peak memory of a 1,000,000-execution body.

Run with ``make bench`` (or ``.venv/bin/python -m bench [--rounds N]``); ccxt is
the ``bench`` extra. Every approach runs in a fresh process, the approaches in
turn round after round (:mod:`bench.interleave`); each process warms up once,
then times the approach until about half a second has passed (at least once)
and reports its median. Prints markdown tables: medians and spread (min–max)
over the rounds, and the ratios to kfresearch taken round by round.

Approaches:

* **kfresearch**: ``frames.trades(raw)`` / ``frames.orderbook(raw)`` / ``frames.candles(raw)``.
* **kfresearch (msgspec structs)**: the same with the columnar reader switched
  off, i.e. the typed msgspec decode that read executions before it.
* **ccxt**: ``json.loads``, ``krakenfutures.parse_trade`` / ``parse_order_book`` /
  ``parse_ohlcv`` per record, then ``pd.DataFrame``.
* **naive**: ``json.loads`` and an untyped ``pd.DataFrame(records)``.
* **pyarrow.json**: ``pyarrow.json.read_json`` of the same body (no frame).
* **decode floor**: msgspec decoding, into structs, exactly the fields the frame
  keeps, with no conversion and no frame.

The memory case builds a body of 1,000,000 executions (the 100,000 of the
speed case ten times, ids and times shifted so every row is its own) and reads
it into the trades frame in a fresh process, three ways taking turns: the body
held by the caller, its 1,000 pages handed to ``frames.trades`` one at a time,
and ``kf.trades`` downloading them through the client's paging from an
``httpx.MockTransport`` answering the history endpoint from files (the
simulator would take far too long to make a million executions). Peak
resident memory (the process's ``VmHWM``) against the bytes read (the body;
the pages received).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson

from bench import data
from bench.interleave import column, interleave, machine, ratios, summary

MIN_SECONDS = 0.5


# -- the decode floor: msgspec decoding, into typed structs, exactly the fields the trades
# frame keeps (values left as the JSON gives them: no conversion, no DataFrame) ----------
class _Order(msgspec.Struct, gc=False):
    uid: str
    orderType: str
    limitPrice: str
    quantity: str
    reduceOnly: bool
    timestamp: str


class _TakerOrder(_Order):
    tradeable: str
    direction: str


class _Execution(msgspec.Struct, gc=False):
    uid: str
    timestamp: str
    price: str
    quantity: str
    markPrice: str
    usdValue: str
    limitFilled: bool
    makerOrder: _Order
    takerOrder: _TakerOrder


class _ExecutionEvent(msgspec.Struct, gc=False):
    execution: _Execution
    takerReducedQuantity: str


class _Event(msgspec.Struct, gc=False):
    Execution: _ExecutionEvent


class _Element(msgspec.Struct, gc=False):
    uid: str
    timestamp: str
    event: _Event


class _Executions(msgspec.Struct, gc=False):
    elements: list[_Element]


class _Book(msgspec.Struct, gc=False):
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class _BookBody(msgspec.Struct, gc=False):
    orderBook: _Book


class _Candle(msgspec.Struct, gc=False):
    time: int
    open: str
    high: str
    low: str
    close: str
    volume: float


class _Candles(msgspec.Struct, gc=False):
    candles: list[_Candle]


def _approach(case: str, approach: str, raw: bytes, instruments: Any) -> Callable[[], Any]:
    """One (input, approach) pair as a callable on the raw bytes."""
    import pandas as pd

    from kfresearch import frames

    ours = {"trades": frames.trades, "book": frames.orderbook, "candles": frames.candles}[case]
    if approach == "ours":
        return lambda: ours(raw)
    if approach == "structs":
        from kfresearch.frames import _decode

        _decode.read_executions = lambda raw: None  # type: ignore[assignment]
        return lambda: ours(raw)
    if approach == "pyarrow":
        import pyarrow.json as pa_json

        options = pa_json.ReadOptions(block_size=len(raw) + 1)  # one document: one block
        return lambda: pa_json.read_json(io.BytesIO(raw), read_options=options)
    if approach == "floor":
        kind = {"trades": _Executions, "book": _BookBody, "candles": _Candles}[case]
        return lambda: msgspec.json.decode(raw, type=kind)
    if approach == "naive":
        if case == "trades":
            return lambda: pd.DataFrame(
                [e["event"]["Execution"]["execution"] for e in json.loads(raw)["elements"]]
            )
        if case == "book":
            return lambda: pd.concat(
                [pd.DataFrame(json.loads(raw)["orderBook"][side]) for side in ("bids", "asks")]
            )
        return lambda: pd.DataFrame(json.loads(raw)["candles"])
    return _ccxt(case, raw, instruments)


def _ccxt(case: str, raw: bytes, instruments: Any) -> Callable[[], Any]:
    import ccxt
    import pandas as pd

    kraken = ccxt.krakenfutures()
    kraken.publicGetInstruments = lambda params={}: instruments  # no network: markets from the sim
    kraken.load_markets()
    market = kraken.markets_by_id["PF_XBTUSD"][0]

    def trades() -> pd.DataFrame:
        body = json.loads(raw)
        rows = [
            kraken.parse_trade(e["event"]["Execution"]["execution"], market)
            for e in body["elements"]
        ]
        return pd.DataFrame(rows)

    def book() -> pd.DataFrame:
        body = json.loads(raw)["orderBook"]
        parsed = kraken.parse_order_book(body, "BTC/USD:USD", None, "bids", "asks", 0, 1)
        return pd.concat(
            [
                pd.DataFrame(parsed["bids"], columns=["price", "size"]).assign(side="bid"),
                pd.DataFrame(parsed["asks"], columns=["price", "size"]).assign(side="ask"),
            ]
        )

    def candles() -> pd.DataFrame:
        rows = [kraken.parse_ohlcv(c, market) for c in json.loads(raw)["candles"]]
        return pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])

    return {"trades": trades, "book": book, "candles": candles}[case]


def _time(folder: Path, case: str, approach: str) -> dict[str, float]:
    """In this fresh process: one warm-up, then the median of runs over MIN_SECONDS."""
    raw = (folder / f"{case}.json").read_bytes()
    instruments = orjson.loads((folder / "instruments.json").read_bytes())
    run = _approach(case, approach, raw, instruments)
    run()
    times: list[float] = []
    while not times or sum(times) < MIN_SECONDS:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "runs": len(times)}


def _memory(path: Path, small: Path, mode: str) -> dict[str, float]:
    """Peak resident memory of reading the executions in ``path`` into the trades frame.

    ``mode`` "body": ``path`` is one body, read whole and held by the caller through
    ``frames.trades``. "pages": ``path`` holds one page body a line, handed to
    ``frames.trades`` by a generator that reads a line at a time (as a download hands
    over pages). "client": ``kf.trades(symbol, since, until)`` downloads them through the
    client's paging from :class:`bench.data.HistoryServer` (an ``httpx.MockTransport``)
    answering from the files of :func:`bench.data.write_elements` in ``path``; ``body``
    is then the bytes of the pages received.
    """
    from kfresearch import frames

    frames.trades(small.read_bytes())  # every module the path needs is loaded
    if mode == "client":
        _download(*data.raw_elements(small.read_bytes()))  # and the client's
    baseline = _maxrss()
    start = time.perf_counter()
    if mode == "body":
        raw = path.read_bytes()
        size = len(raw)
        start = time.perf_counter()
        frame = frames.trades(raw)
    elif mode == "pages":
        read = [0]

        def pages() -> Iterator[bytes]:
            with path.open("rb") as lines:
                for line in lines:
                    read[0] += len(line) - 1
                    yield line[:-1]

        frame = frames.trades(pages())
        size = read[0]
    else:
        server = data.file_server(path)
        start = time.perf_counter()
        frame = _download(server.stamps, server)
        size = server.sent
    seconds = time.perf_counter() - start
    peak = _maxrss()  # before the check below, whose hash of a million ids costs ~100 MB
    assert frame["uid"].is_unique, "the body's rows should all be distinct"
    return {
        "body": size,
        "rows": len(frame),
        "baseline": baseline,
        "peak": peak,
        "seconds": seconds,
    }


def _download(stamps: Any, server: Any) -> Any:
    """``kf.trades`` over every element of ``server`` (or of ``server`` elements, a list
    of raw elements), through a blocking Client and an ``httpx.MockTransport``."""
    import httpx
    import pandas as pd

    import kfresearch
    from kfresearch.ratelimit import RateLimiter

    if not isinstance(server, data.HistoryServer):
        server = data.HistoryServer(stamps, data.in_memory(server))
    since = pd.Timestamp(int(stamps[0]), unit="ms", tz="UTC")
    until = pd.Timestamp(int(stamps[-1]) + 1, unit="ms", tz="UTC")
    transport = httpx.MockTransport(server.handle)
    limiter = RateLimiter.unlimited()
    with kfresearch.Client("live", transport=transport, limiter=limiter, protocol="v3") as kf:
        return kf.trades("PF_XBTUSD", since, until, progress=False)


def _maxrss() -> float:
    """Peak resident bytes of this process. Linux's VmHWM belongs to the process's own
    memory map; ``ru_maxrss`` would start at the parent's peak (it survives fork and exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # KiB on Linux


CASES = [
    ("trades", "100,000 executions -> trades"),
    ("book", "1,000-level book -> orderbook"),
    ("candles", "43,200 candles -> candles"),
]
APPROACHES = {
    "trades": ("ours", "structs", "ccxt", "naive", "pyarrow", "floor"),
    "book": ("ours", "ccxt", "naive", "floor"),
    "candles": ("ours", "ccxt", "naive", "floor"),
}
NAMES = {
    "ours": "kfresearch",
    "structs": "kfresearch, msgspec structs (before)",
    "ccxt": "ccxt parse + DataFrame",
    "naive": "json + untyped DataFrame",
    "pyarrow": "pyarrow.json read (no frame)",
    "floor": "msgspec decode floor (no frame)",
}


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "memory":  # a child: one memory run
        print(json.dumps(_memory(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])))
        return 0
    if len(sys.argv) == 4:  # a child: time one approach
        print(json.dumps(_time(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-rounds", type=int, default=3)
    parser.add_argument(
        "--cases", default="trades,book,candles,memory", help="which inputs (comma-separated)"
    )
    parser.add_argument(
        "--approaches", default=",".join(NAMES), help="which approaches (comma-separated)"
    )
    args = parser.parse_args()
    chosen = set(args.cases.split(","))
    wanted = [a for a in NAMES if a in set(args.approaches.split(",")) | {"ours"}]
    import ccxt
    import pandas as pd
    import pyarrow

    ex = data.exchange()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trades = data.executions_bytes(ex)
        (folder / "trades.json").write_bytes(trades)
        (folder / "book.json").write_bytes(data.book_bytes())
        (folder / "candles.json").write_bytes(data.candles_bytes(ex))
        (folder / "instruments.json").write_bytes(orjson.dumps(data.instruments_body(ex)))
        print(
            f"{machine()}; pandas {pd.__version__}, pyarrow {pyarrow.__version__}, "
            f"msgspec {msgspec.__version__}, ccxt {ccxt.__version__}; {args.rounds} rounds "
            f"(memory: {args.memory_rounds}), every approach in a fresh process, interleaved\n"
        )
        for case, title in CASES:
            if case not in chosen:
                continue
            approaches = [a for a in APPROACHES[case] if a in wanted]
            size = (folder / f"{case}.json").stat().st_size
            runs = interleave(
                "bench", {a: [tmp, case, a] for a in approaches}, args.rounds, warmup=False
            )
            ours = column(runs["ours"], "seconds")
            print(f"\n{title} ({size:,} bytes)\n")
            print("| approach | median ms (min–max) | ratio to kfresearch: median (min–max) |")
            print("|---|---|---|")
            for approach in approaches:
                seconds = column(runs[approach], "seconds")
                digits = 2 if case == "book" else 1
                print(
                    f"| {NAMES[approach]} | {summary(seconds, scale=1000, digits=digits)} | "
                    f"{summary(ratios(seconds, ours), digits=2)}x |"
                )
        if "memory" not in chosen:
            return 0
        big, small, paged = folder / "million.json", folder / "small.json", folder / "pages"
        million = data.executions_times(trades, 10)
        big.write_bytes(million)
        paged.write_bytes(b"".join(page + b"\n" for page in data.executions_pages(million)))
        served = folder / "served"
        served.mkdir()
        data.write_elements(served, million)
        del million
        small.write_bytes(data.executions_head(trades, 1000))
        del trades
        memory = interleave(
            "bench",
            {
                mode: ["memory", str(path), str(small), mode]
                for mode, path in (("body", big), ("pages", paged), ("client", served))
            },
            args.memory_rounds,
            warmup=False,
        )
        for mode, title in (
            ("body", "one body, held by the caller"),
            ("pages", "1,000 pages of 1,000, handed over one at a time"),
            ("client", "kf.trades downloading them (pages of 1,000, sub-ranges side by side)"),
        ):
            measured = memory[mode]
            body = measured[0]["body"]
            print(f"\n1,000,000 executions -> trades: {title} ({body:,} bytes)\n")
            print("| figure | median (min–max) |\n|---|---|")
            print(f"| seconds | {summary(column(measured, 'seconds'), digits=2)} |")
            print(f"| peak resident memory, MB | {summary(column(measured, 'peak'), scale=1e-6)} |")
            print(f"| rows | {summary(column(measured, 'rows'))} |")
            over = [m["peak"] / m["body"] for m in measured]
            added = [(m["peak"] - m["baseline"]) / m["body"] for m in measured]
            print(f"| peak / body | {summary(over, digits=2)}x |")
            print(
                "| (peak - resident before the body was read) / body | "
                f"{summary(added, digits=2)}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
