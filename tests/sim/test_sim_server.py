"""`kfresearch sim serve`: real HTTP and WebSocket on loopback, clean stop on SIGINT."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from served import serve

import kfresearch
from kfresearch.auth import ws_challenge_signature
from kfresearch.sim.keys import provisioned_keys


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    with serve(seed=7) as served:
        yield served.url, served.process


def test_plain_curl_of_tickers(server: tuple[str, Any]) -> None:
    url, _ = server
    if shutil.which("curl"):
        out = subprocess.run(
            ["curl", "-s", f"{url}/derivatives/api/v3/tickers"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    else:  # pragma: no cover - a machine without curl still gets a plain HTTP GET
        with urllib.request.urlopen(f"{url}/derivatives/api/v3/tickers", timeout=30) as answer:  # noqa: S310
            out = answer.read().decode()
    body = json.loads(out)
    assert body["result"] == "success"
    symbols = {t["symbol"] for t in body["tickers"]}
    assert {"PF_XBTUSD", "PI_XBTUSD", "PF_ETHUSD"} <= symbols


def test_a_traced_order_replayed_with_its_curl_command_is_placed(server: tuple[str, Any]) -> None:
    # kf.trace()[i].curl(): the shell signs afresh with the secret from a variable
    url, _ = server
    full = provisioned_keys()["full"].credentials
    with kfresearch.connect("sim", base_url=url) as kf, kf.trace() as trace:
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=50_000, client_order_id="curl-1")
    command = trace.http[-1].curl().replace("curl-1", "curl-2")
    out = subprocess.run(
        ["bash", "-c", command.replace("curl -X", "curl -s -i -X", 1)],
        env={"PATH": "/usr/bin:/bin", "KFRESEARCH_API_KEY": full.key,
             "KFRESEARCH_API_SECRET": full.secret.reveal()},
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    _head, _, body = out.partition("\n\n")
    assert json.loads(body)["sendStatus"]["status"] == "placed", out
    assert json.loads(body)["sendStatus"]["cliOrdId"] == "curl-2"
    wrong = subprocess.run(  # signed with another secret: the simulator says why it failed
        ["bash", "-c", command.replace("curl -X", "curl -s -i -X", 1)],
        env={"PATH": "/usr/bin:/bin", "KFRESEARCH_API_KEY": full.key,
             "KFRESEARCH_API_SECRET": "AAAA" * 22},
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    assert '"error":"authenticationError"' in wrong
    assert "x-sim-why: the signature does not match" in wrong.lower()


def test_client_over_http_with_provisioned_keys(server: tuple[str, Any]) -> None:
    url, _ = server
    with kfresearch.connect("sim", base_url=url) as kf:
        accounts = kf.request("GET", "/derivatives/api/v3/accounts", private=True)
        assert "flex" in accounts["accounts"]
        assert kf.doctor().ok


def test_websocket_book_snapshot_and_deltas_and_private_feed(server: tuple[str, Any]) -> None:
    url, _ = server
    ws_url = url.replace("http", "ws") + "/ws/v1"
    full = provisioned_keys()["full"].credentials

    async def session() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        async with websockets.connect(ws_url) as ws:
            assert json.loads(await ws.recv()) == {"event": "info", "version": 1}
            await ws.send(
                json.dumps({"event": "subscribe", "feed": "book", "product_ids": ["PF_XBTUSD"]})
            )
            ack = json.loads(await ws.recv())
            assert ack == {"event": "subscribed", "feed": "book", "product_ids": ["PF_XBTUSD"]}
            snapshot = json.loads(await ws.recv())
            deltas: list[dict[str, Any]] = []
            while len(deltas) < 10:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
                if message.get("feed") == "book":
                    deltas.append(message)
            await ws.send(json.dumps({"event": "challenge", "api_key": full.key}))
            challenge = json.loads(await ws.recv())
            while challenge.get("event") != "challenge":
                challenge = json.loads(await ws.recv())
            signed = ws_challenge_signature(full.secret, challenge["message"])
            await ws.send(
                json.dumps(
                    {
                        "event": "subscribe",
                        "feed": "balances",
                        "api_key": full.key,
                        "original_challenge": challenge["message"],
                        "signed_challenge": signed,
                    }
                )
            )
            balances: dict[str, Any] = {}
            while balances.get("feed") != "balances_snapshot":
                balances = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
            return snapshot, deltas, balances

    snapshot, deltas, balances = asyncio.run(session())
    assert snapshot["feed"] == "book_snapshot"
    assert snapshot["product_id"] == "PF_XBTUSD"
    assert len(snapshot["bids"]) > 0
    prices = [level["price"] for level in snapshot["bids"]]
    assert prices == sorted(prices, reverse=True)
    seqs = [snapshot["seq"]] + [d["seq"] for d in deltas]
    assert all(b > a for a, b in itertools.pairwise(seqs))
    assert {d["side"] for d in deltas} <= {"buy", "sell"}
    assert "flex_futures" in balances or "holding" in balances


def test_bad_challenge_signature_fails_the_subscription(server: tuple[str, Any]) -> None:
    url, _ = server
    full = provisioned_keys()["full"].credentials

    async def session() -> dict[str, Any]:
        async with websockets.connect(url.replace("http", "ws") + "/ws/v1") as ws:
            await ws.recv()  # the info event
            await ws.send(json.dumps({"event": "challenge", "api_key": full.key}))
            challenge = json.loads(await ws.recv())
            await ws.send(
                json.dumps(
                    {
                        "event": "subscribe",
                        "feed": "fills",
                        "api_key": full.key,
                        "original_challenge": challenge["message"],
                        "signed_challenge": "AAAA",
                    }
                )
            )
            return dict(json.loads(await ws.recv()))

    assert asyncio.run(session())["event"] == "subscribed_failed"


def test_sigint_stops_the_server_cleanly(server: tuple[str, subprocess.Popen[str]]) -> None:
    _, process = server
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
