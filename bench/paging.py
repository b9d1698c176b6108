"""Downloads over a network that costs a round trip: kfresearch's ``Client`` vs ccxt, paging.

``kfresearch sim serve --latency 50ms`` answers every request 50 ms late, as a
real exchange across the internet does. Against it, in fresh processes and in
turn (A, B, A, B, ...; :mod:`bench.interleave`):

* **30 days of 1-minute candles** of PF_XBTUSD (43,200 candles):
  ``Client("sim", base_url=...).candles(...)`` vs ccxt's
  ``fetch_ohlcv(..., params={"paginate": True, "paginationCalls": 30})``
  (ccxt's default of 10 calls stops at 19,999 candles).
* **one day of public trades** of PF_XBTUSD: ``Client.trades(...)`` vs ccxt's
  ``fetch_trades(..., params={"paginate": True, "until": ..., "paginationCalls": 100})``.

Each child times only the download (imports and ``load_markets`` excluded) and
checks that it is complete: every candle, and as many trades as the exchange
holds in the day. Run: ``python -m bench.paging [--rounds N] [--latency 50ms]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.interleave import (
    column,
    free_port,
    interleave,
    machine,
    ratios,
    serve_sim,
    summary,
)

NOW_MS = 1_793_491_200_000  # bench.interleave.NOW
DAY_MS = 86_400_000
CANDLE_DAYS = 30


def _ours(url: str, what: str, path: str | None = None) -> dict[str, Any]:
    if path:  # another checkout's kfresearch (``--before``)
        sys.path.insert(0, path)
    import kfresearch

    kf = kfresearch.Client("sim", base_url=url)
    kf.instruments()  # as ccxt's load_markets: not timed
    start = time.perf_counter()
    if what == "candles":
        frame = kf.candles(
            "PF_XBTUSD", "1m", since=NOW_MS - CANDLE_DAYS * DAY_MS, until=NOW_MS, progress=False
        )
    else:
        frame = kf.trades("PF_XBTUSD", since=NOW_MS - DAY_MS, until=NOW_MS, progress=False)
    seconds = time.perf_counter() - start
    kf.close()
    return {"seconds": seconds, "rows": len(frame)}


def _ccxt(url: str, what: str) -> dict[str, Any]:
    import ccxt

    exchange = ccxt.krakenfutures()
    for name in ("public", "private"):
        exchange.urls["api"][name] = f"{url}/derivatives/api/"
    exchange.urls["api"]["charts"] = f"{url}/api/charts/"
    exchange.urls["api"]["history"] = f"{url}/api/history/"
    exchange.load_markets()
    start = time.perf_counter()
    if what == "candles":
        rows: list[Any] = exchange.fetch_ohlcv(
            "BTC/USD:USD",
            "1m",
            since=NOW_MS - CANDLE_DAYS * DAY_MS,
            params={"paginate": True, "paginationCalls": 30, "until": NOW_MS - 1},
        )
        rows = [r for r in rows if r[0] < NOW_MS]
        count = len({r[0] for r in rows})
    else:
        rows = exchange.fetch_trades(
            "BTC/USD:USD",
            since=NOW_MS - DAY_MS,
            params={"paginate": True, "paginationCalls": 100, "until": NOW_MS},
        )
        count = len({r["id"] for r in rows if r["timestamp"] < NOW_MS})
    return {"seconds": time.perf_counter() - start, "rows": count}


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] in {"ours", "ccxt"}:  # a child: one download
        if sys.argv[1] == "ccxt":
            print(json.dumps(_ccxt(sys.argv[2], sys.argv[3])))
        else:
            print(json.dumps(_ours(sys.argv[2], sys.argv[3], *sys.argv[4:])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", default="50ms")
    parser.add_argument(
        "--before", metavar="DIR", help="also time the Client of another checkout (a column more)"
    )
    args = parser.parse_args()
    import ccxt

    port = free_port()
    server = serve_sim(port, "--latency", args.latency)
    url = f"http://127.0.0.1:{port}"
    try:
        print(
            f"{machine()}; ccxt {ccxt.__version__}; kfresearch sim serve --latency "
            f"{args.latency} on loopback; {args.rounds} rounds, fresh processes, interleaved\n"
        )
        before = "| before | before / ccxt " if args.before else ""
        print(
            f"| download | kfresearch Client | ccxt, paginated | kfresearch / ccxt {before}| rows |"
        )
        print("|---|---|---|---|---|" + ("---|---|" if args.before else ""))
        for what, title in (
            ("candles", f"{CANDLE_DAYS} days of 1m candles"),
            ("trades", "one day of trades"),
        ):
            cases = {n: [n, url, what] for n in ("ours", "ccxt")}
            if args.before:
                cases["before"] = ["ours", url, what, args.before]
            runs = interleave("bench.paging", cases, args.rounds)
            ours, theirs = column(runs["ours"], "seconds"), column(runs["ccxt"], "seconds")
            rows = {n: sorted({int(r["rows"]) for r in runs[n]}) for n in runs}
            old = ""
            if args.before:
                then = column(runs["before"], "seconds")
                old = (
                    f"{summary(then, scale=1000, unit='ms')} | "
                    f"{summary(ratios(then, theirs), digits=2)}x | "
                )
            print(
                f"| {title} | {summary(ours, scale=1000, unit='ms')} | "
                f"{summary(theirs, scale=1000, unit='ms')} | "
                f"{summary(ratios(ours, theirs), digits=2)}x | {old}"
                f"{', '.join(f'{n} {v}' for n, v in rows.items())} |"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
