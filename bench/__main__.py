"""Raw response bytes -> typed DataFrame: kfresearch vs ccxt, a naive frame and the decode floor.

Run with ``make bench`` (or ``.venv/bin/python -m bench``). ccxt and msgspec are
bench-only extras (``pip install -e '.[bench]'``). Prints a markdown table.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
import pandas as pd

from bench import data
from kfresearch import frames

REPEAT = 5


def best_of(fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# -- the decode floor: msgspec decoding, into typed structs, exactly the fields the trades
# frame keeps (values left as the JSON gives them: no conversion, no DataFrame) ----------
class _Order(msgspec.Struct):
    uid: str
    orderType: str
    limitPrice: str
    quantity: str
    reduceOnly: bool
    timestamp: str


class _TakerOrder(_Order):
    tradeable: str
    direction: str


class _Execution(msgspec.Struct):
    uid: str
    timestamp: str
    price: str
    quantity: str
    markPrice: str
    usdValue: str
    limitFilled: bool
    makerOrder: _Order
    takerOrder: _TakerOrder


class _ExecutionEvent(msgspec.Struct):
    execution: _Execution
    takerReducedQuantity: str


class _Event(msgspec.Struct):
    Execution: _ExecutionEvent


class _Element(msgspec.Struct):
    uid: str
    timestamp: str
    event: _Event


class _Executions(msgspec.Struct):
    elements: list[_Element]


class _Book(msgspec.Struct):
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class _BookBody(msgspec.Struct):
    orderBook: _Book


class _Candle(msgspec.Struct):
    time: int
    open: str
    high: str
    low: str
    close: str
    volume: float


class _Candles(msgspec.Struct):
    candles: list[_Candle]


def main() -> int:
    import ccxt

    ex = data.exchange()
    raw_trades = data.executions_bytes(ex)
    raw_book = data.book_bytes()
    raw_candles = data.candles_bytes(ex)
    instruments = data.instruments_body(ex)

    kraken = ccxt.krakenfutures()
    kraken.publicGetInstruments = lambda params={}: instruments  # no network: markets from the sim
    kraken.load_markets()
    market = kraken.markets_by_id["PF_XBTUSD"][0]

    def ccxt_trades() -> pd.DataFrame:
        body = json.loads(raw_trades)
        rows = [
            kraken.parse_trade(e["event"]["Execution"]["execution"], market)
            for e in body["elements"]
        ]
        return pd.DataFrame(rows)

    def naive_trades() -> pd.DataFrame:
        return pd.DataFrame(
            [e["event"]["Execution"]["execution"] for e in json.loads(raw_trades)["elements"]]
        )

    def ccxt_book() -> pd.DataFrame:
        body = json.loads(raw_book)["orderBook"]
        book = kraken.parse_order_book(body, "BTC/USD:USD", None, "bids", "asks", 0, 1)
        return pd.concat(
            [
                pd.DataFrame(book["bids"], columns=["price", "size"]).assign(side="bid"),
                pd.DataFrame(book["asks"], columns=["price", "size"]).assign(side="ask"),
            ]
        )

    def naive_book() -> pd.DataFrame:
        body = json.loads(raw_book)["orderBook"]
        return pd.concat([pd.DataFrame(body["bids"]), pd.DataFrame(body["asks"])])

    def ccxt_candles() -> pd.DataFrame:
        rows = [kraken.parse_ohlcv(c, market) for c in json.loads(raw_candles)["candles"]]
        return pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])

    def naive_candles() -> pd.DataFrame:
        return pd.DataFrame(json.loads(raw_candles)["candles"])

    cases = [
        (
            "100,000 executions -> trades",
            len(raw_trades),
            lambda: frames.trades(orjson.loads(raw_trades)),
            ccxt_trades,
            naive_trades,
            lambda: msgspec.json.decode(raw_trades, type=_Executions),
        ),
        (
            "1,000-level book -> orderbook",
            len(raw_book),
            lambda: frames.orderbook(orjson.loads(raw_book)),
            ccxt_book,
            naive_book,
            lambda: msgspec.json.decode(raw_book, type=_BookBody),
        ),
        (
            "43,200 candles -> candles",
            len(raw_candles),
            lambda: frames.candles(orjson.loads(raw_candles)),
            ccxt_candles,
            naive_candles,
            lambda: msgspec.json.decode(raw_candles, type=_Candles),
        ),
    ]
    print(
        f"python {sys.version.split()[0]}, pandas {pd.__version__}, ccxt {ccxt.__version__}, "
        f"msgspec {msgspec.__version__}, orjson {orjson.__version__}; best of {REPEAT}\n"
    )
    print(
        "| input | bytes | kfresearch | (a) ccxt parse + DataFrame | (b) json + untyped DataFrame "
        "| (c) msgspec decode floor | vs (a) | vs (c) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for name, size, ours, a, b, c in cases:
        t = [best_of(f) for f in (ours, a, b, c)]
        speedup, floor = t[1] / t[0], t[0] / t[3]
        ok &= speedup >= 3 and floor <= 1.5
        print(
            f"| {name} | {size:,} | {t[0] * 1e3:.1f} ms | {t[1] * 1e3:.1f} ms "
            f"| {t[2] * 1e3:.1f} ms | {t[3] * 1e3:.1f} ms | {speedup:.1f}x faster | {floor:.2f}x |"
        )
    print("\ngoals (>= 3x faster than (a), <= 1.5x the floor (c)):", "met" if ok else "NOT met")
    _ = statistics  # keep the import for ad-hoc medians when exploring
    return 0


if __name__ == "__main__":
    sys.exit(main())
