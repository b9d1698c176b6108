"""Other people's clients place, list and cancel orders against `kfresearch sim serve` unchanged.

Optional: each test is skipped when its library is not installed (ccxt is in
the ``bench`` extra; python-kraken-sdk in no extra). Only the base URLs change.
Checked with ccxt 4.5.90 and python-kraken-sdk 3.5.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from served import Served, full_key, serve


@pytest.fixture(scope="module")
def sim() -> Iterator[Served]:
    with serve(seed=7, speed=None) as served:
        yield served


def _resting_bid(sim: Served) -> float:
    book = sim.request("GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}).json()
    return float(round(book["orderBook"]["bids"][0][0] * 0.97))


def _ccxt(module: Any, sim: Served) -> Any:
    key = full_key()
    exchange = module.krakenfutures({"apiKey": key.key, "secret": key.secret.reveal()})
    for name in ("public", "private"):
        exchange.urls["api"][name] = f"{sim.url}/derivatives/api/"
    exchange.urls["api"]["charts"] = f"{sim.url}/api/charts/"
    exchange.urls["api"]["history"] = f"{sim.url}/api/history/"
    exchange.urls["api"]["feeschedules"] = f"{sim.url}/api/feeschedules/"
    return exchange


def test_ccxt_places_lists_and_cancels(sim: Served) -> None:
    ccxt = pytest.importorskip("ccxt")
    exchange = _ccxt(ccxt, sim)
    exchange.load_markets()
    order = exchange.create_order("BTC/USD:USD", "limit", "buy", 0.001, _resting_bid(sim))
    assert order["id"]
    listed = exchange.fetch_open_orders("BTC/USD:USD")
    assert order["id"] in {o["id"] for o in listed}
    exchange.cancel_order(order["id"], "BTC/USD:USD")
    assert order["id"] not in {o["id"] for o in exchange.fetch_open_orders("BTC/USD:USD")}


def test_ccxt_pro_watch_orders_sees_a_market_order_fill(sim: Served) -> None:
    pro = pytest.importorskip("ccxt.pro")

    async def watch() -> list[dict[str, Any]]:
        exchange = _ccxt(pro, sim)
        exchange.urls["api"]["ws"] = sim.ws_url
        try:
            await exchange.load_markets()
            waiting = asyncio.ensure_future(exchange.watch_orders("BTC/USD:USD"))
            await asyncio.sleep(1)  # subscribed before the order goes in
            placed = await exchange.create_order("BTC/USD:USD", "market", "buy", 0.001)
            orders: list[dict[str, Any]] = await asyncio.wait_for(waiting, timeout=15)
            assert placed["id"] in {o["id"] for o in orders}
            return orders
        finally:
            await exchange.close()

    orders = asyncio.run(watch())
    assert orders


def test_python_kraken_sdk_places_lists_and_cancels(sim: Served) -> None:
    futures = pytest.importorskip("kraken.futures")
    key = full_key()
    trade = futures.Trade(key=key.key, secret=key.secret.reveal(), url=sim.url)
    user = futures.User(key=key.key, secret=key.secret.reveal(), url=sim.url)
    answer = trade.create_order(
        orderType="lmt", side="buy", size=0.001, symbol="PF_XBTUSD", limitPrice=_resting_bid(sim)
    )
    order_id = answer["sendStatus"]["order_id"]
    assert answer["sendStatus"]["status"] == "placed"
    assert order_id in {o["order_id"] for o in user.get_open_orders()["openOrders"]}
    cancelled = trade.cancel_order(order_id=order_id)
    assert cancelled["cancelStatus"]["status"] == "cancelled"
    assert order_id not in {o["order_id"] for o in user.get_open_orders()["openOrders"]}
