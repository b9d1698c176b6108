"""Raw response bytes -> typed DataFrame: kfresearch vs ccxt, a naive frame and the decode floor.

Run with ``make bench`` (or ``.venv/bin/python -m bench``). ccxt and msgspec are
bench-only extras (``pip install -e '.[bench]'``). Prints a markdown table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pandas as pd

from bench import data
from kfresearch import frames

REPEAT = 5


def best_of(fn: Callable[[], Any]) -> float:
    """The best of at least REPEAT runs (more for fast ones, up to about a second)."""
    times: list[float] = []
    while len(times) < REPEAT or (sum(times) < 1.0 and len(times) < 200):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


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


def _approaches(raw: dict[str, bytes], instruments: Any) -> dict[str, dict[str, Callable[[], Any]]]:
    """Every (input, approach) pair as a callable on the raw bytes."""
    import ccxt

    kraken = ccxt.krakenfutures()
    kraken.publicGetInstruments = lambda params={}: instruments  # no network: markets from the sim
    kraken.load_markets()
    market = kraken.markets_by_id["PF_XBTUSD"][0]
    trades, book, candles = raw["trades"], raw["book"], raw["candles"]

    def ccxt_trades() -> pd.DataFrame:
        body = json.loads(trades)
        rows = [
            kraken.parse_trade(e["event"]["Execution"]["execution"], market)
            for e in body["elements"]
        ]
        return pd.DataFrame(rows)

    def ccxt_book() -> pd.DataFrame:
        body = json.loads(book)["orderBook"]
        parsed = kraken.parse_order_book(body, "BTC/USD:USD", None, "bids", "asks", 0, 1)
        return pd.concat(
            [
                pd.DataFrame(parsed["bids"], columns=["price", "size"]).assign(side="bid"),
                pd.DataFrame(parsed["asks"], columns=["price", "size"]).assign(side="ask"),
            ]
        )

    def ccxt_candles() -> pd.DataFrame:
        rows = [kraken.parse_ohlcv(c, market) for c in json.loads(candles)["candles"]]
        return pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])

    return {
        "trades": {
            "ours": lambda: frames.trades(trades),
            "ccxt": ccxt_trades,
            "naive": lambda: pd.DataFrame(
                [e["event"]["Execution"]["execution"] for e in json.loads(trades)["elements"]]
            ),
            "floor": lambda: msgspec.json.decode(trades, type=_Executions),
        },
        "book": {
            "ours": lambda: frames.orderbook(book),
            "ccxt": ccxt_book,
            "naive": lambda: pd.concat(
                [pd.DataFrame(json.loads(book)["orderBook"][side]) for side in ("bids", "asks")]
            ),
            "floor": lambda: msgspec.json.decode(book, type=_BookBody),
        },
        "candles": {
            "ours": lambda: frames.candles(candles),
            "ccxt": ccxt_candles,
            "naive": lambda: pd.DataFrame(json.loads(candles)["candles"]),
            "floor": lambda: msgspec.json.decode(candles, type=_Candles),
        },
    }


def _measure(folder: Path, case: str, approach: str) -> float:
    """Best-of time of one approach, measured in this (fresh) process."""
    raw = {name: (folder / f"{name}.json").read_bytes() for name in ("trades", "book", "candles")}
    instruments = orjson.loads((folder / "instruments.json").read_bytes())
    return best_of(_approaches(raw, instruments)[case][approach])


CASES = [
    ("trades", "100,000 executions -> trades"),
    ("book", "1,000-level book -> orderbook"),
    ("candles", "43,200 candles -> candles"),
]
APPROACHES = ("ours", "ccxt", "naive", "floor")


def main() -> int:
    import ccxt

    if len(sys.argv) == 4:  # a child: measure one approach
        print(_measure(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
        return 0
    ex = data.exchange()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "trades.json").write_bytes(data.executions_bytes(ex))
        (folder / "book.json").write_bytes(data.book_bytes())
        (folder / "candles.json").write_bytes(data.candles_bytes(ex))
        (folder / "instruments.json").write_bytes(orjson.dumps(data.instruments_body(ex)))
        sizes = {case: (folder / f"{case}.json").stat().st_size for case, _ in CASES}
        # each approach runs in a fresh process, so none pays for another's garbage
        times = {
            (case, approach): float(
                subprocess.run(  # noqa: S603 - our own interpreter and module
                    [sys.executable, "-m", "bench", tmp, case, approach],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for case, _ in CASES
            for approach in APPROACHES
        }
    print(
        f"python {sys.version.split()[0]}, pandas {pd.__version__}, ccxt {ccxt.__version__}, "
        f"msgspec {msgspec.__version__}, orjson {orjson.__version__}; best of >= {REPEAT} runs, "
        "each approach in its own process\n"
    )
    print(
        "| input | bytes | kfresearch | (a) ccxt parse + DataFrame | (b) json + untyped DataFrame "
        "| (c) msgspec decode floor | vs (a) | vs (c) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for case, name in CASES:
        t = [times[(case, approach)] for approach in APPROACHES]
        speedup, floor = t[1] / t[0], t[0] / t[3]
        ok &= speedup >= 3 and floor <= 1.5
        print(
            f"| {name} | {sizes[case]:,} | {t[0] * 1e3:.1f} ms | {t[1] * 1e3:.1f} ms "
            f"| {t[2] * 1e3:.1f} ms | {t[3] * 1e3:.1f} ms | {speedup:.1f}x faster | {floor:.2f}x |"
        )
    print("\ngoals (>= 3x faster than (a), <= 1.5x the floor (c)):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
