"""``kfresearch demo serve``: the paper exchange on loopback, with a served simulator upstream.

Two real server processes: ``kfresearch sim serve`` stands in for the live
exchange (``--upstream``), ``kfresearch demo serve`` serves a paper account to
clients that know nothing of kfresearch: raw signed HTTP here, and ccxt when
it is installed (skipped otherwise, as in test_sim_other_clients.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import Served, free_port, full_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(upstream: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port = free_port()
    data = tmp_path_factory.mktemp("data")
    process = subprocess.Popen(
        [sys.executable, "-m", "kfresearch.cli", "demo", "serve", "--port", str(port),
         "--account", "served", "--balance", "20000", "--upstream", upstream.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"KFRESEARCH_DATA_DIR": str(data)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/derivatives/api/v3/instruments", timeout=1):  # noqa: S310
                break
        except OSError:
            time.sleep(0.2)
    else:  # pragma: no cover
        process.kill()
        raise RuntimeError(process.stdout.read() if process.stdout else "demo serve did not start")
    try:
        yield Served(url, process)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert (Path(data) / "paper" / "served.sqlite").exists()


def test_a_market_order_over_http_fills_at_the_upstream_book(
    upstream: Served, demo: Served
) -> None:
    asks = upstream.request("GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}).json()
    best_ask = asks["orderBook"]["asks"][0]
    assert best_ask[1] >= 0.001
    # the public data demo serves is the upstream's own
    assert demo.request("GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}).json()[
        "orderBook"
    ]["asks"][0] == best_ask
    key = full_key()
    sent = demo.request(
        "POST",
        "/derivatives/api/v3/sendorder",
        {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.001"},
        key=key,
    ).json()
    assert sent["sendStatus"]["status"] == "placed"
    fills = demo.request("GET", "/derivatives/api/v3/fills", key=key).json()["fills"]
    assert [(f["side"], float(f["size"]), float(f["price"])) for f in fills] == [
        ("buy", 0.001, best_ask[0])
    ]
    accounts = demo.request("GET", "/derivatives/api/v3/accounts", key=key).json()["accounts"]
    assert float(accounts["flex"]["currencies"]["USD"]["quantity"]) < 20_000


def test_the_served_demo_s_websocket_relays_the_upstream(upstream: Served, demo: Served) -> None:
    import kfresearch

    book = upstream.request(
        "GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}
    ).json()["orderBook"]
    tickers = upstream.request("GET", "/derivatives/api/v3/tickers").json()["tickers"]
    (ticker,) = [t for t in tickers if t.get("symbol") == "PF_XBTUSD"]
    s = kfresearch.connect("demo", base_url=demo.url).stream()
    try:
        s.subscribe("book", ["PF_XBTUSD"])
        s.subscribe("ticker", ["PF_XBTUSD"])
        frame = s.book("PF_XBTUSD").frame()
        asks = frame[frame["side"] == "ask"]
        assert list(zip(asks["price"], asks["size"], strict=True))[:5] == [
            (float(p), float(q)) for p, q in book["asks"][:5]
        ]
        deadline = time.monotonic() + 10  # a ticker follows its subscription's answer
        while "PF_XBTUSD" not in s.tickers().index and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.tickers().loc["PF_XBTUSD", "mark_price"] == pytest.approx(
            float(ticker["markPrice"]), rel=1e-9
        )
    finally:
        s.close()


def test_ccxt_trades_the_paper_exchange(demo: Served) -> None:
    ccxt = pytest.importorskip("ccxt")
    key = full_key()
    exchange = ccxt.krakenfutures({"apiKey": key.key, "secret": key.secret.reveal()})
    for name in ("public", "private"):
        exchange.urls["api"][name] = f"{demo.url}/derivatives/api/"
    exchange.urls["api"]["charts"] = f"{demo.url}/api/charts/"
    exchange.urls["api"]["history"] = f"{demo.url}/api/history/"
    exchange.urls["api"]["feeschedules"] = f"{demo.url}/api/feeschedules/"
    exchange.load_markets()
    placed = exchange.create_order("BTC/USD:USD", "market", "buy", 0.001)
    assert placed["id"]
    assert any(t["order"] == placed["id"] for t in exchange.fetch_my_trades("BTC/USD:USD"))
    resting = exchange.create_order("BTC/USD:USD", "limit", "buy", 0.001, 10_000)
    assert resting["id"] in {o["id"] for o in exchange.fetch_open_orders("BTC/USD:USD")}
    exchange.cancel_order(resting["id"], "BTC/USD:USD")


def test_demo_takes_the_served_upstream_s_websocket_and_kf_stream_relays_it(
    upstream: Served, tmp_path: Path
) -> None:
    """The live source on a served upstream: its WebSocket feeds (not REST polling) give the
    book orders walk; ``kf.stream()`` on demo relays the upstream's public market and the
    paper account's private feeds."""
    import kfresearch
    from kfresearch.sim.demo import DemoExchange
    from kfresearch.sim.live import LiveSource
    from kfresearch.sim.paper import PaperAccount
    from kfresearch.sim.sqlite_ledger import SqliteLedger

    source = LiveSource(upstream.url)
    demo = DemoExchange(source, PaperAccount("ws", SqliteLedger(tmp_path / "ws.sqlite")))
    kf = kfresearch.connect("demo", exchange=demo)
    try:
        rest_book = upstream.request(
            "GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}
        ).json()["orderBook"]
        (p1, s1), (p2, s2), (p3, _) = rest_book["asks"][:3]
        size = round(s1 + s2 + 0.0001, 4)  # the first two levels and a bit of the third
        kf.place_order("PF_XBTUSD", "buy", size, order_type="mkt")
        assert source.transport == "websocket"
        assert "WebSocket" in source.transport_note
        assert "PF_XBTUSD" in source._feed.stream.stats()["books"]
        walked = kf.fills().groupby("price")["size"].sum().to_dict()
        assert walked == pytest.approx({p1: s1, p2: s2, p3: 0.0001})  # level by level
        s = kf.stream()
        try:
            s.subscribe("book", ["PF_XBTUSD"])
            s.subscribe("ticker", ["PF_XBTUSD"])
            s.subscribe("fills")
            frame = s.book("PF_XBTUSD").frame()
            bids = frame[frame["side"] == "bid"]
            assert list(zip(bids["price"], bids["size"], strict=True))[:5] == [
                tuple(level) for level in rest_book["bids"][:5]
            ]
            ticker = upstream.request("GET", "/derivatives/api/v3/tickers").json()
            (row,) = [t for t in ticker["tickers"] if t.get("symbol") == "PF_XBTUSD"]
            assert s.tickers().loc["PF_XBTUSD", "mark_price"] == pytest.approx(
                float(row["markPrice"]), rel=1e-9
            )
            assert sorted(s.fills()["price"]) == [p1, p2, p3]  # the paper account's fills
            s.subscribe("trade", ["PF_XBTUSD"])
            relayed = s.trades("PF_XBTUSD")
            history = upstream.request(
                "GET", "/derivatives/api/v3/history", {"symbol": "PF_XBTUSD"}
            ).json()["history"]
            by_uid = {t["uid"]: float(t["price"]) for t in history}
            assert len(relayed) > 0
            assert {u: by_uid.get(u) for u in relayed["uid"]} == dict(
                zip(relayed["uid"], relayed["price"], strict=True)
            )  # the upstream's own trades, with its uids
        finally:
            s.close()
    finally:
        kf.close()
        source.close()


def test_a_websocket_that_cannot_be_opened_falls_back_to_rest_and_says_so(
    upstream: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import kfresearch
    from kfresearch.sim.demo import DemoExchange
    from kfresearch.sim.live import LiveSource
    from kfresearch.sim.paper import PaperAccount
    from kfresearch.sim.sqlite_ledger import SqliteLedger

    class Refused:
        flushable = False

        async def connect(self, url: str) -> None:
            raise OSError("refused for the test")

    source = LiveSource(upstream.url, connector=Refused(), timeout_s=2.0)  # type: ignore[arg-type]
    demo = DemoExchange(source, PaperAccount("rest", SqliteLedger(tmp_path / "rest.sqlite")))
    kf = kfresearch.connect("demo", exchange=demo)
    try:
        kf.place_order("PF_XBTUSD", "buy", 0.001, order_type="mkt")
        assert source.transport == "rest"
        assert "REST polling" in source.transport_note
        assert "could not be opened" in source.transport_note
        assert any("polling REST instead" in r.getMessage() for r in caplog.records)
        best_ask = upstream.request(
            "GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}
        ).json()["orderBook"]["asks"][0][0]
        assert list(kf.fills()["price"]) == [best_ask]  # the upstream's prices, never synthetic
    finally:
        kf.close()
        source.close()
