"""The Unified WebSocket over real sockets (``kfresearch sim serve``'s app on loopback, in a
thread so the test holds the clock and the faults), and through the in-process connector
the streaming client uses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from loopback import serve_app
from uws_helpers import TOKEN_PATH, ClientBook, signed_token_request, wire_texts

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault

NOW = "2026-11-01T00:00:00Z"
DERIV = {"asset_class": "derivatives"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, SimExchange]]:
    from kfresearch.sim.server import build_app

    exchange = SimExchange(seed=5, clock=SimClock.fixed(NOW))
    with serve_app(build_app(exchange), name="test-uws-server") as url:
        yield url.removeprefix("http://"), exchange


async def _until(ws: Any, test: Any, limit: float = 10.0) -> dict[str, Any]:
    """The first message ``test`` accepts (numbers as wire texts)."""
    while True:
        message = wire_texts(await asyncio.wait_for(ws.recv(), timeout=limit))
        if test(message):
            return message


def test_token_over_http_then_trading_on_the_private_socket(
    served: tuple[str, SimExchange],
) -> None:
    host, exchange = served
    headers, body = signed_token_request(exchange.uws.spot_credentials("full"), 10_001)
    answer = httpx.post(f"http://{host}{TOKEN_PATH}", headers=headers, content=body).json()
    token = answer["result"]["token"]

    async def session() -> list[dict[str, Any]]:
        async with websockets.connect(f"ws://{host}/v2/private") as ws:
            status = json.loads(await ws.recv())
            assert status["channel"] == "status"
            await ws.send(json.dumps({"method": "subscribe", "params": {
                "channel": "executions", "token": token, **DERIV}, "req_id": 1}))
            await _until(ws, lambda m: m.get("channel") == "executions")  # the snapshot
            await ws.send(json.dumps({"method": "add_order", "params": {
                "order_type": "market", "side": "buy", "order_qty": 0.001,
                "symbol": "PF_XBTUSD", "cl_ord_id": "served-1", "token": token, **DERIV},
                "req_id": 2}))
            seen = []
            while not seen or seen[-1].get("method") != "add_order":
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                if message.get("channel") == "executions" or "method" in message:
                    seen.append(message)
            return seen

    seen = asyncio.run(session())
    *pushed, ack = seen
    assert ack["success"] is True
    assert ack["result"]["cl_ord_id"] == "served-1"
    kinds = [row["exec_type"] for message in pushed for row in message["data"]]
    assert kinds == ["new", "trade", "filled"]  # all before the answer
    assert pushed[0]["data"][0]["order_id"] == ack["result"]["order_id"]


def test_public_book_over_the_socket_checks_out(served: tuple[str, SimExchange]) -> None:
    host, exchange = served

    async def session() -> list[bool]:
        async with websockets.connect(f"ws://{host}/v2/public") as ws:
            await ws.recv()  # status
            await ws.send(json.dumps({"method": "subscribe", "params": {
                "channel": "book", "symbol": ["PF_ETHUSD"], "depth": 25, **DERIV}}))
            book, checks = ClientBook(25), []
            for _ in range(4):
                message = await _until(ws, lambda m: m.get("channel") == "book")
                (entry,) = message["data"]
                checks.append(book.apply(entry) == int(entry["checksum"]))
                exchange.advance("1s")
            return checks

    assert asyncio.run(session()) == [True] * 4


def test_refused_upgrade_and_fault_closes(served: tuple[str, SimExchange]) -> None:
    host, exchange = served

    async def refused() -> int:
        exchange.add_fault(Fault("ws_refuse", path="/v2/public", status=503, count=1))
        try:
            async with websockets.connect(f"ws://{host}/v2/public"):
                return 101
        except websockets.InvalidStatus as exc:
            return int(exc.response.status_code)

    async def closed(kind: str) -> int | None:
        async with websockets.connect(f"ws://{host}/v2/public") as ws:
            await ws.recv()
            exchange.add_fault(Fault(kind, path="/v2/public/ticker", count=1))
            await ws.send(json.dumps({"method": "subscribe", "params": {
                "channel": "ticker", "symbol": ["PF_XBTUSD"], **DERIV}}))
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=10)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

    assert asyncio.run(refused()) == 503
    assert asyncio.run(closed("ws_close")) == 1008
    assert asyncio.run(closed("ws_drop")) == 1012


@pytest.mark.anyio
async def test_in_process_connector_picks_the_protocol_by_path() -> None:
    from kfresearch.stream.connection import HandshakeRefused, SocketClosed
    from kfresearch.stream.inprocess import InProcessConnector

    exchange = SimExchange(seed=2, clock=SimClock.fixed(NOW))
    connector = InProcessConnector(exchange)
    v1 = await connector.connect("wss://futures.kraken.com/ws/v1")
    assert json.loads(await v1.recv()) == {"event": "info", "version": 1}
    await v1.close()
    uws = await connector.connect("wss://ws.kraken.com/v2/public")
    assert json.loads(await uws.recv())["channel"] == "status"
    await uws.send(json.dumps({"method": "subscribe", "params": {
        "channel": "ticker", "symbol": ["PF_XBTUSD"], **DERIV}, "req_id": 1}))
    assert json.loads(await uws.recv())["success"] is True
    assert json.loads(await uws.recv())["type"] == "snapshot"
    exchange.add_fault(Fault("ws_close", path="/v2/public/ticker", code=1008, count=1))
    exchange.advance("5s")
    with pytest.raises(SocketClosed) as closed:
        await uws.flush()
    assert closed.value.code == 1008
    exchange.add_fault(Fault("ws_refuse", path="/v2/private", status=401, count=1))
    with pytest.raises(HandshakeRefused) as refused:
        await connector.connect("wss://ws-auth.kraken.com/v2/private")
    assert refused.value.status == 401


def test_fidelity_table_lists_every_channel_and_method() -> None:
    import re
    from pathlib import Path

    import kfresearch.sim
    from kfresearch.sim.uws.private import PRIVATE_CHANNELS
    from kfresearch.sim.uws.public import PUBLIC_CHANNELS
    from kfresearch.sim.uws.trading import TRADING_METHODS

    text = Path(kfresearch.sim.__file__).with_name("README.md").read_text()
    section = text[text.index("## The Unified WebSocket"):]
    rows = set(re.findall(r"^\| `([^`]+)`", section, flags=re.MULTILINE))
    served = {*PUBLIC_CHANNELS, *PRIVATE_CHANNELS, *TRADING_METHODS}
    assert served <= rows
    assert "POST /0/private/GetWebSocketsToken" in rows
    reference = (
        Path(__file__).resolve().parents[2].parent / "shared" / "reference"
        / "kraken-unified-ws.md"
    ).read_text()
    assert all(f"`{name}`" in reference for name in served)
