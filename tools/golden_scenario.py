"""Drive the simulator through a long seeded scenario and print a digest of every answer.

    .venv/bin/python tools/golden_scenario.py [--dump FILE] [--steps N]

A refactoring of the simulator that must change no answer (issue 13's split)
is checked by running this before and after: the digests must match. To run
it on another commit's code: ``git archive <commit> | tar -x -C /tmp/old`` and
``PYTHONPATH=/tmp/old .venv/bin/python tools/golden_scenario.py``. Every
REST answer (public, private, history), every private WebSocket message the
engine emits, and every account's state are folded into one SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from typing import Any

import httpx

from kfresearch.auth import KrakenAuth
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.transport import SimTransport

V3 = "/derivatives/api/v3"
H = "/api/history/v3"


class _FastClock:
    """Rate-limit pools that refill at once: the scenario never waits."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1_000.0
        return self.t


def run(steps: int, seed: int = 42) -> list[Any]:
    ex = SimExchange(
        seed=seed, clock=SimClock.fixed("2026-11-01T00:00:00Z"), rate_clock=_FastClock()
    )
    log: list[Any] = []
    ex.engine.listeners.append(lambda feed, acc, msg: log.append(["ws", feed, acc, msg]))
    rng = random.Random(seed)  # noqa: S311 (a reproducible scenario, not a secret)
    http = httpx.Client(
        transport=SimTransport(ex),
        base_url="http://sim.invalid",
        auth=KrakenAuth(ex.credentials("full")),
    )

    def call(method: str, path: str, **params: Any) -> Any:
        if method == "GET":
            answer = http.request(method, path, params=params)
        else:
            answer = http.request(
                method, path, content=httpx.QueryParams(params).__str__(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        log.append(["http", method, path, params, answer.status_code, answer.text])
        try:
            return answer.json()
        except ValueError:
            return None

    now = ex.clock.now_ms()
    instruments = call("GET", f"{V3}/instruments")["instruments"]
    dated = [i["symbol"] for i in instruments if i["symbol"].startswith("FI_XBTUSD")]
    symbols = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PI_XBTUSD", "PI_ETHUSD", *dated[:1]]
    sizes = {"PF_XBTUSD": 0.05, "PF_ETHUSD": 1.0, "PF_SOLUSD": 20.0, "PI_XBTUSD": 3000,
             "PI_ETHUSD": 2000, **{d: 2000 for d in dated}}
    ticks = {i["symbol"]: i["tickSize"] for i in instruments}
    cli_ids: list[str] = []
    for symbol in ("PF_ETHUSD",):
        call("PUT", f"{V3}/leveragepreferences", symbol=symbol, maxLeverage="40")

    def mark(symbol: str) -> float:
        body = call("GET", f"{V3}/tickers/{symbol}")
        return float(body["ticker"]["markPrice"])

    def price(symbol: str, away: float) -> str:
        tick = ticks[symbol]
        raw = mark(symbol) * (1 + away)
        return repr(round(round(raw / tick) * tick, 8))

    def open_ids() -> list[str]:
        return [o["order_id"] for o in call("GET", f"{V3}/openorders")["openOrders"]]

    for step in range(steps):
        action = rng.random()
        symbol = rng.choice(symbols)
        side = rng.choice(["buy", "sell"])
        size = sizes[symbol] * rng.choice([1, 2, 3, 5, 10, 40, 400])
        sign = 1 if side == "buy" else -1
        if action < 0.40:
            kind = rng.choice(["lmt", "lmt", "post", "ioc", "mkt", "fok", "stp", "take_profit",
                               "trailing_stop"])
            params: dict[str, Any] = {"orderType": kind, "symbol": symbol, "side": side,
                                      "size": repr(size)}
            if kind in {"lmt", "post", "ioc", "fok"}:
                params["limitPrice"] = price(symbol, sign * rng.uniform(-0.01, 0.004))
            if kind in {"stp", "take_profit"}:
                away = rng.uniform(0.001, 0.01) * (sign if kind == "stp" else -sign)
                params["stopPrice"] = price(symbol, away)
                params["triggerSignal"] = rng.choice(["mark", "index", "last"])
                if rng.random() < 0.5:
                    params["limitPrice"] = params["stopPrice"]
            if kind == "trailing_stop":
                params["trailingStopMaxDeviation"] = "0.5"
                params["trailingStopDeviationUnit"] = "PERCENT"
            if rng.random() < 0.15:
                params["reduceOnly"] = "true"
            if rng.random() < 0.5:
                cli = f"c-{step}" if rng.random() < 0.9 or not cli_ids else rng.choice(cli_ids)
                cli_ids.append(cli)
                params["cliOrdId"] = cli
            call("POST", f"{V3}/sendorder", **params)
        elif action < 0.50:
            ids = open_ids()
            if ids:
                edit: dict[str, Any] = {"orderId": rng.choice(ids)}
                if rng.random() < 0.5:
                    edit["size"] = repr(size)
                if rng.random() < 0.7:
                    edit["limitPrice"] = price(symbol, sign * rng.uniform(-0.01, 0.004))
                call("POST", f"{V3}/editorder", **edit)
        elif action < 0.57:
            ids = open_ids()
            if ids:
                call("POST", f"{V3}/cancelorder", order_id=rng.choice(ids))
        elif action < 0.59:
            call("POST", f"{V3}/cancelallorders", **({"symbol": symbol} if rng.random() < 0.5
                                                      else {}))
        elif action < 0.61:
            call("POST", f"{V3}/cancelallordersafter", timeout=str(rng.choice([0, 30, 600])))
        elif action < 0.64:
            batch = [{"order": "send", "order_tag": "a", "orderType": "lmt", "symbol": symbol,
                      "side": side, "size": size,
                      "limitPrice": float(price(symbol, -sign * 0.002))}]
            ids = open_ids()
            if ids:
                batch.append({"order": "cancel", "order_id": rng.choice(ids)})
            call("POST", f"{V3}/batchorder", json=json.dumps({"batchOrder": batch}))
        elif action < 0.66:
            call("PUT", f"{V3}/leveragepreferences", symbol=rng.choice(["PF_XBTUSD",
                                                                        "PF_SOLUSD"]),
                 **({"maxLeverage": rng.choice(["5", "20", "50"])} if rng.random() < 0.7
                    else {}))
        elif action < 0.67:
            call("POST", f"{V3}/transfer", fromAccount="flex", toAccount="cash", unit="USD",
                 amount=str(rng.choice([10, 1000, 1e7])))
        elif action < 0.85:
            ex.advance(rng.choice(["5s", "30s", "2m", "17m", "1h", "3h", "9h"]))
        else:
            path = rng.choice([
                f"{V3}/accounts", f"{V3}/openpositions", f"{V3}/openorders", f"{V3}/fills",
                f"{V3}/feeschedules/volumes", f"{V3}/unwindqueue", f"{V3}/leveragepreferences",
                f"{H}/account-log", f"{H}/executions", f"{H}/orders", f"{H}/triggers",
                f"{H}/positions",
            ])
            call("GET", path)
    for symbol in dated[:1]:  # hold the dated contract into its settlement
        call("POST", f"{V3}/sendorder", orderType="mkt", symbol=symbol, side="buy", size="1000")
    ex.advance("8d")
    call("POST", f"{V3}/sendorder", orderType="mkt", symbol=dated[0], side="buy", size="1000")
    now = ex.clock.now_ms()
    for feed in ("fills", "open_orders", "open_orders_verbose", "open_positions", "balances"):
        for account_id in sorted(ex.engine.accounts):
            log.append(["snapshot", feed, ex.engine.ws_snapshot(feed, account_id, now)])
    for path in (f"{V3}/accounts", f"{V3}/openpositions", f"{V3}/openorders", f"{V3}/fills",
                 f"{H}/account-log?count=100000", f"{H}/executions?count=100000",
                 f"{H}/orders?count=100000", f"{H}/triggers?count=100000",
                 f"{H}/positions?count=100000"):
        call("GET", path)
    for path in ("/derivatives/api/v3/tickers", "/derivatives/api/v3/orderbook?symbol=PF_XBTUSD",
                 "/api/charts/v1/trade/PF_XBTUSD/1h?from=1793000000",
                 "/api/charts/v1/mark/PI_XBTUSD/15m?from=1793400000",
                 "/api/charts/v1/spot/PF_ETHUSD/1d",
                 "/api/history/v3/market/PF_ETHUSD/executions?count=500",
                 "/derivatives/api/v4/historicalfundingrates?symbol=PF_SOLUSD",
                 "/derivatives/api/v3/history?symbol=PF_XBTUSD"):
        call("GET", path)
    return log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--dump")
    args = parser.parse_args(argv)
    log = run(args.steps)
    text = json.dumps(log, sort_keys=True, default=str)
    if args.dump:
        with open(args.dump, "w") as out:
            for row in log:
                out.write(json.dumps(row, sort_keys=True, default=str) + "\n")
    kinds = {}
    for row in log:
        kinds[row[0]] = kinds.get(row[0], 0) + 1
    fills = text.count('"fill_id"')
    liquidations = text.count("futures liquidation")
    print(hashlib.sha256(text.encode()).hexdigest(), len(log), kinds,
          f"fill_ids={fills}", f"liquidation_rows={liquidations}",
          f"funding={text.count('funding rate change')}", f"settle={text.count('settlement')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
