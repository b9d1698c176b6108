"""How close to the decode floor can a typed frame get? A lower bound from measured parts.

Run with ``make bench`` (after the main table) or ``.venv/bin/python -m bench.floor``.

The issue's second goal is a frame within 1.5x of (c), msgspec decoding the
kept fields into structs. This measures, on the same bytes and in one process,
the parts any frame built from those structs must pay, each at its cheapest:

* **typed decode**: our decoder alone (the kept fields plus the ones it must
  see to refuse unknown fields, decimals parsed while decoding);
* **values → columns**: for every kept field, one list comprehension over the
  structs and the conversion of that list into the column's array
  (numpy for numbers and flags, arrow for text): the least Python can do per
  value;
* **frame**: ``pd.DataFrame`` from the finished arrays (no index, no checks).

Their sum is a lower bound for any frame built on msgspec structs. It also
times the one columnar JSON reader among the dependencies, ``pyarrow.json``,
on the same body.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.json as pa_json  # type: ignore[import-untyped]

from bench import data
from bench.__main__ import _BookBody, _Candles, _Executions
from kfresearch.frames import _decode

REPEAT = 5


def best_of(fn: Callable[[], Any], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _column(values: list[Any], kind: str) -> Any:
    if kind == "str":
        return pa.array(values, type=pa.large_string())
    return np.array(values, dtype=np.bool_ if kind == "bool" else np.float64)


Extract = tuple[Callable[[], list[Any]], str]


def _columns_cost(rows: dict[str, Extract]) -> tuple[float, dict[str, Any]]:
    """Seconds to turn every field into its column (comprehension + conversion), and the columns."""
    total, out = 0.0, {}
    for name, (values, kind) in rows.items():
        total += best_of(lambda v=values, k=kind: _column(v(), k))  # type: ignore[misc]
        out[name] = _column(values(), kind)
    return total, out


def _frame_cost(columns: dict[str, Any]) -> float:
    text: Any = pd.Series([], dtype="str").dtype
    ready = {k: text.__from_arrow__(v) if isinstance(v, pa.Array) else v
             for k, v in columns.items()}
    return best_of(lambda: pd.DataFrame(ready, copy=False))


def trades(raw: bytes) -> dict[str, float]:
    floor = best_of(lambda: msgspec.json.decode(raw, type=_Executions))
    decode = best_of(lambda: _decode._EXECUTIONS.decode(raw))
    page = _decode._EXECUTIONS.decode(raw)
    events = [e.event.Execution for e in page.elements]
    execs = [ev.execution for ev in events]
    makers = [x.makerOrder for x in execs]
    takers = [x.takerOrder for x in execs]
    walk = best_of(lambda: [[x.makerOrder for x in execs], [x.takerOrder for x in execs],
                            [ev.execution for ev in events],
                            [e.event.Execution for e in page.elements]])
    e, m, t = execs, makers, takers
    rows: dict[str, Extract] = {
        "time": (lambda: [x.timestamp for x in e], "float"),
        "uid": (lambda: [x.uid for x in e], "str"),
        "price": (lambda: [x.price for x in e], "float"),
        "size": (lambda: [x.quantity for x in e], "float"),
        "mark_price": (lambda: [x.markPrice for x in e], "float"),
        "usd_value": (lambda: [x.usdValue for x in e], "float"),
        "limit_filled": (lambda: [x.limitFilled for x in e], "bool"),
        "event_uid": (lambda: [x.uid for x in page.elements], "str"),
        # mostly "" (no trim): charged as text, which is cheaper than cleaning it to floats
        "taker_reduced_quantity": (lambda: [x.takerReducedQuantity for x in events], "str"),
        "symbol": (lambda: [x.tradeable for x in t], "str"),
        "side": (lambda: [x.direction for x in t], "str"),
        "maker_order_id": (lambda: [x.uid for x in m], "str"),
        "maker_order_type": (lambda: [x.orderType for x in m], "str"),
        "maker_limit_price": (lambda: [x.limitPrice for x in m], "float"),
        "maker_order_quantity": (lambda: [x.quantity for x in m], "float"),
        "maker_reduce_only": (lambda: [x.reduceOnly for x in m], "bool"),
        "maker_order_time": (lambda: [x.timestamp for x in m], "float"),
        "taker_order_id": (lambda: [x.uid for x in t], "str"),
        "taker_order_type": (lambda: [x.orderType for x in t], "str"),
        "taker_limit_price": (lambda: [x.limitPrice for x in t], "float"),
        "taker_order_quantity": (lambda: [x.quantity for x in t], "float"),
        "taker_reduce_only": (lambda: [x.reduceOnly for x in t], "bool"),
        "taker_order_time": (lambda: [x.timestamp for x in t], "float"),
    }
    columns_cost, columns = _columns_cost(rows)
    arrow = best_of(
        lambda: pa_json.read_json(
            io.BytesIO(raw), read_options=pa_json.ReadOptions(block_size=len(raw) + 1)
        ),
        repeat=2,
    )
    return {
        "floor": floor,
        "decode": decode,
        "columns": walk + columns_cost,
        "frame": _frame_cost(columns),
        "arrow": arrow,
        "n_columns": float(len(rows)),
    }


def candles(raw: bytes) -> dict[str, float]:
    floor = best_of(lambda: msgspec.json.decode(raw, type=_Candles))
    decode = best_of(lambda: _decode._CANDLES.decode(raw))
    rows = _decode._CANDLES.decode(raw).candles
    spec: dict[str, Extract] = {
        "time": (lambda: [c.time for c in rows], "float"),
        "open": (lambda: [c.open for c in rows], "float"),
        "high": (lambda: [c.high for c in rows], "float"),
        "low": (lambda: [c.low for c in rows], "float"),
        "close": (lambda: [c.close for c in rows], "float"),
        "volume": (lambda: [c.volume for c in rows], "float"),
    }
    columns_cost, columns = _columns_cost(spec)
    arrow = best_of(
        lambda: pa_json.read_json(
            io.BytesIO(raw), read_options=pa_json.ReadOptions(block_size=len(raw) + 1)
        )
    )
    return {
        "floor": floor,
        "decode": decode,
        "columns": columns_cost,
        "frame": _frame_cost(columns),
        "arrow": arrow,
        "n_columns": 6.0,
    }


def book(raw: bytes) -> dict[str, float]:
    repeat = 200
    floor = best_of(lambda: msgspec.json.decode(raw, type=_BookBody), repeat)
    decode = best_of(lambda: _decode._BOOK.decode(raw), repeat)
    body = _decode._BOOK.decode(raw).orderBook
    columns = best_of(lambda: (_decode._levels(body.bids), _decode._levels(body.asks)), repeat)
    n = len(body.bids) + len(body.asks)
    ready = {"side": pd.array(["bid"] * n, dtype="str"), "level": np.arange(n),
             **{name: np.zeros(n) for name in ("price", "size", "cum_size", "cum_notional")}}
    frame = best_of(lambda: pd.DataFrame(ready, copy=False), repeat)
    arrow = best_of(lambda: pa_json.read_json(io.BytesIO(raw)), repeat)
    return {"floor": floor, "decode": decode, "columns": columns, "frame": frame,
            "arrow": arrow, "n_columns": 6.0}


def main() -> int:
    ex = data.exchange()
    cases = [
        ("100,000 executions -> trades", trades, data.executions_bytes(ex)),
        ("1,000-level book -> orderbook", book, data.book_bytes()),
        ("43,200 candles -> candles", candles, data.candles_bytes(ex)),
    ]
    print(
        f"python {sys.version.split()[0]}, pandas {pd.__version__}, msgspec {msgspec.__version__}, "
        f"pyarrow {pa.__version__}; best of >= {REPEAT} runs, one process\n"
    )
    print("| input | columns | (c) floor | typed decode | values -> columns | DataFrame "
          "| lower bound | bound / floor | pyarrow.json read |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, measure, raw in cases:
        m = measure(raw)
        bound = m["decode"] + m["columns"] + m["frame"]
        ms = {k: f"{v * 1e3:.2f} ms" if v < 0.01 else f"{v * 1e3:.1f} ms" for k, v in m.items()}
        print(f"| {name} | {int(m['n_columns'])} | {ms['floor']} | {ms['decode']} "
              f"| {ms['columns']} | {ms['frame']} | {bound * 1e3:.1f} ms "
              f"| {bound / m['floor']:.2f}x | {ms['arrow']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
