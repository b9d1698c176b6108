"""The order path: what ``place_order`` costs as orders pile up, and what it sends.

In-process simulator (no sockets, no latency), fresh process per case, cases in
turn (:mod:`bench.interleave`):

* **place_order, N resting**: ``N`` limit buys rest on the book (placed
  through the engine, not timed), then ``Client.place_order`` places
  :data:`PLACED` more resting limit buys, one at a time; the median
  milliseconds per order. N = 100 and N = 10,000, paired round by round.
* **engine orders/s, 10,000 resting**: the same, straight into the engine
  (``SimExchange.engine.send_order``, no HTTP, no client): orders per second.
* **engine step, µs**: ``SimExchange.engine.advance`` one minute at a time
  (what a backtest does per 1m bar; the synthetic market's own reads
  included), median microseconds per step over :data:`STEPS` steps, in three
  states: nothing open (``idle``), one perpetual position (``position``: funding
  accrues, liquidation is checked), the position plus three resting limit
  buys far below the market and one stop sell (``orders``); and the position
  advanced an hour at a time (``hourly``, microseconds per minute: the quiet
  minutes between the hours are taken at once, what a lazy backtest's
  catch-up does; the synthetic market's marks are read minute by minute).
* **requests per order**: how many requests the exchange sees for one plain
  market order and one limit order from a client that already holds the
  instruments (the limit order reads its mark once, unless a fresh one is held).

Rates and step times are printed twice: by the wall clock (what the goals
name) and by the process's CPU time (``time.process_time``), which a loaded
machine moves much less.

Run: ``python -m bench.orders [--rounds N]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from typing import Any

from bench.interleave import column, interleave, machine, ratios, summary

PLACED = 200
STEPS = 20_000  # one-minute engine steps timed per state (about two weeks)
STATES = ("idle", "position", "orders", "hourly")
SIZE = 0.0001
SYMBOL = "PF_XBTUSD"


def _setup(resting: int) -> tuple[Any, Any, float, float]:
    """An exchange with ``resting`` limit buys on PF_XBTUSD, a client on it, its mark and tick."""
    import kfresearch
    from kfresearch.ratelimit import RateLimiter
    from kfresearch.sim.clock import SimClock
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.sim.orders import OrderRequest

    pools_full = itertools.count(0.0, 10.0).__next__  # rate pools refilled at every reading
    ex = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"), rate_clock=pools_full)
    kf = kfresearch.Client("sim", exchange=ex, limiter=RateLimiter.unlimited())
    mark = float(kf.tickers().loc[SYMBOL, "mark_price"])
    tick = float(kf.instruments().loc[SYMBOL, "tick_size"])
    account, now = _account_id(), ex.clock.now_ms()
    for i in range(resting):
        price = round((mark * 0.97) / tick - i % 500) * tick
        answer = ex.engine.send_order(account, OrderRequest("lmt", SYMBOL, "buy", SIZE, price), now)
        assert answer["status"] == "placed", answer
    return ex, kf, mark, tick


def _account_id() -> str:
    from kfresearch.sim.keys import SIM_ACCOUNT_ID

    return SIM_ACCOUNT_ID


def _place(resting: int) -> dict[str, float]:
    _, kf, mark, tick = _setup(resting)
    times = []
    for i in range(PLACED):
        price = round((mark * 0.96) / tick - i) * tick
        start = time.perf_counter()
        kf.place_order(SYMBOL, "buy", SIZE, limit_price=price)
        times.append(time.perf_counter() - start)
    return {"ms_per_order": statistics.median(times) * 1000}


def _engine(resting: int) -> dict[str, float]:
    from kfresearch.sim.orders import OrderRequest

    ex, _, mark, tick = _setup(resting)
    account, now = _account_id(), ex.clock.now_ms()
    count = 1000
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        price = round((mark * 0.96) / tick - i % 500) * tick
        ex.engine.send_order(account, OrderRequest("lmt", SYMBOL, "buy", SIZE, price), now)
    return {
        "orders_per_s": count / (time.perf_counter() - start),
        "orders_per_cpu_s": count / (time.process_time() - cpu),  # less moved by the load
    }


def _step(state: str) -> dict[str, float]:
    from kfresearch.sim.orders import OrderRequest

    ex, _, mark, tick = _setup(0)
    engine, account, now = ex.engine, _account_id(), ex.clock.now_ms()
    if state in {"position", "orders", "hourly"}:
        engine.send_order(account, OrderRequest("mkt", SYMBOL, "buy", 0.01), now)
    if state == "orders":
        for i in range(3):
            price = round(mark * (0.5 - 0.01 * i) / tick) * tick
            engine.send_order(account, OrderRequest("lmt", SYMBOL, "buy", SIZE, price), now)
        stop = round(mark * 0.5 / tick) * tick
        engine.send_order(
            account, OrderRequest("stp", SYMBOL, "sell", SIZE, stop, stop_price=stop), now
        )
    for _ in range(600):  # warm up: ten hours, so funding and the hour's checks ran
        now += 60_000
        engine.advance(now)
    stride = 60 if state == "hourly" else 1  # minutes an advance covers
    per = 100 if stride == 1 else 5 * stride  # minutes a timed sample covers
    times = []
    cpu = time.process_time()
    for _ in range(STEPS // per):
        start = time.perf_counter()
        for _ in range(per // stride):
            now += 60_000 * stride
            engine.advance(now)
        times.append((time.perf_counter() - start) / per)
    cpu_per_step = (time.process_time() - cpu) / (STEPS // per * per)
    held = account in engine.accounts and bool(engine.accounts[account].positions)
    assert held == (state != "idle"), "the state did not hold (a fill or a liquidation)"
    return {"us_per_step": statistics.median(times) * 1e6, "cpu_us_per_step": cpu_per_step * 1e6}


def _requests() -> dict[str, float]:
    ex, kf, mark, tick = _setup(0)
    kf.instruments()
    seen = ex.requests_seen
    kf.place_order(SYMBOL, "buy", SIZE, "mkt")  # a plain market order
    market = ex.requests_seen - seen
    ex.advance("3s")  # the marks the client read are stale now
    seen = ex.requests_seen
    kf.place_order(SYMBOL, "buy", SIZE, limit_price=round(mark * 0.96 / tick) * tick)
    limit = ex.requests_seen - seen
    seen = ex.requests_seen
    kf.place_order(SYMBOL, "buy", SIZE, limit_price=round(mark * 0.95 / tick) * tick)
    second = ex.requests_seen - seen
    return {"market": market, "limit": limit, "limit_again": second}


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] in {"place", "engine"}:  # a child
        run = _place if sys.argv[1] == "place" else _engine
        print(json.dumps(run(int(sys.argv[2]))))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "step":  # a child
        print(json.dumps(_step(sys.argv[2])))
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "requests":
        print(json.dumps(_requests()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{machine()}; in-process simulator; {args.rounds} rounds, fresh processes, interleaved\n"
    )
    runs = interleave(
        "bench.orders",
        {
            "place 100": ["place", "100"],
            "place 10000": ["place", "10000"],
            "engine 100": ["engine", "100"],
            "engine 10000": ["engine", "10000"],
        },
        args.rounds,
        warmup=False,
    )
    few, many = (
        column(runs["place 100"], "ms_per_order"),
        column(runs["place 10000"], "ms_per_order"),
    )
    print("| figure | median (min–max) |\n|---|---|")
    print(f"| place_order, 100 resting, ms | {summary(few, digits=2)} |")
    print(f"| place_order, 10,000 resting, ms | {summary(many, digits=2)} |")
    print(f"| 10,000 resting / 100 resting | {summary(ratios(many, few), digits=2)}x |")
    for resting in (100, 10000):
        rate = column(runs[f"engine {resting}"], "orders_per_s")
        print(f"| engine orders/s, {resting:,} resting | {summary(rate)} |")
        cpu_rate = column(runs[f"engine {resting}"], "orders_per_cpu_s")
        print(f"| engine orders per CPU second, {resting:,} resting | {summary(cpu_rate)} |")
    steps = interleave(
        "bench.orders", {state: ["step", state] for state in STATES}, args.rounds, warmup=False
    )
    for state in STATES:
        micros = column(steps[state], "us_per_step")
        print(f"| engine step, {state}, µs | {summary(micros, digits=1)} |")
        cpu_micros = column(steps[state], "cpu_us_per_step")
        print(f"| engine step, {state}, CPU µs | {summary(cpu_micros, digits=1)} |")
    counted = interleave("bench.orders", {"requests": ["requests"]}, 1, warmup=False)["requests"][0]
    print(f"| requests for a plain market order | {counted['market']:.0f} |")
    print(f"| requests for a limit order (mark stale) | {counted['limit']:.0f} |")
    print(f"| requests for the next limit order (mark fresh) | {counted['limit_again']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
