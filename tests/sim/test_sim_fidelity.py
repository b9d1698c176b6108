"""`kfresearch sim serve` answers the way the exchange does, seen as another client sees it.

Each test speaks raw HTTP or WebSocket to a served simulator on loopback,
signs by the reference's recipe (§2) and checks what the reference (or, where
it is silent, the exchange's recorded behaviour named in issue 20) says:
history v2 beside v3 (§1, §4.7, §4.25), the WebSocket's opening ``info``
event, the order of checks, the account endpoints (§4.17, §4.23, §4.24), the
CSV account log, fills leaving ``open_orders`` (§3.5) and public order events.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from served import NOW, Served, full_key, serve
from test_sim_schemas import example_schema, problems

from kfresearch.auth import rest_signature, ws_challenge_signature
from kfresearch.credentials import Credentials, Secret
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.keys import provisioned_keys

V3 = "/derivatives/api/v3"
START_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z, the served clock (fixed)
FAKE = Credentials("fake", Secret(base64.b64encode(b"fake").decode()))


@pytest.fixture(scope="module")
def sim() -> Iterator[Served]:
    """A served simulator with a fixed clock, one position, a resting order and a stop."""
    with serve(seed=7, speed=None) as served:
        key = full_key()
        for params in (
            {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.01"},
            {"orderType": "lmt", "symbol": "PF_ETHUSD", "side": "buy", "size": "1",
             "limitPrice": "1000"},
            {"orderType": "stp", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.01",
             "stopPrice": "1000", "reduceOnly": "true"},
        ):
            answer = served.request("POST", f"{V3}/sendorder", params, key=key).json()
            assert answer["sendStatus"]["status"] == "placed", answer
        yield served


# ---------------------------------------------------------------------------
# History v2 serves the v3 bodies


HISTORY_PATHS = [
    ("executions", True),
    ("orders", True),
    ("triggers", True),
    ("account-log", True),
    ("market/PF_XBTUSD/executions", False),
    ("market/PF_XBTUSD/price", False),
    ("market/PF_XBTUSD/orders", False),
]


@pytest.mark.parametrize(("path", "private"), HISTORY_PATHS, ids=[p for p, _ in HISTORY_PATHS])
def test_history_v2_serves_the_v3_bodies(sim: Served, path: str, private: bool) -> None:
    params = {"count": 5, "before": START_MS + 1}
    key = full_key() if private else None
    v2 = sim.request("GET", f"/api/history/v2/{path}", params, key=key)
    v3 = sim.request("GET", f"/api/history/v3/{path}", params, key=key)
    assert (v2.status_code, v3.status_code) == (200, 200), v2.text
    assert v2.json() == v3.json()
    body = v3.json()
    if path == "account-log":
        assert body["logs"], "the fixture's market order writes account-log rows"
    else:
        assert int(body["len"]) == len(body["elements"]) > 0


def test_history_v2_repeats_the_continuation_in_headers(sim: Served) -> None:
    path = "/api/history/{}/market/PF_XBTUSD/executions"
    v2 = sim.request("GET", path.format("v2"), {"count": 2})
    v3 = sim.request("GET", path.format("v3"), {"count": 2})
    token = v2.json()["continuationToken"]
    assert v2.headers["is-truncated"] == "true"
    assert v2.headers["next-continuation-token"] == token
    assert "is-truncated" not in v3.headers


def test_history_v2_needs_the_signature_of_its_own_path(sim: Served) -> None:
    key = full_key()
    signed_for_v3 = sim.request("GET", "/api/history/v3/executions", key=key).request.headers
    answer = sim.request("GET", "/api/history/v2/executions")
    assert answer.status_code == 401
    forged = httpx.get(
        f"{sim.url}/api/history/v2/executions",
        headers={"APIKey": key.key, "Authent": signed_for_v3["authent"]},
    )
    assert forged.status_code == 401
    assert forged.json() == {
        "reason": "You are not authorized to access this endpoint.",
        "status": "unauthorized",
    }


# ---------------------------------------------------------------------------
# WebSocket v1 opens with an info event


def test_websocket_opens_with_the_info_event(sim: Served) -> None:
    async def first_message() -> Any:
        async with websockets.connect(sim.ws_url) as ws:
            return await _recv(ws)

    assert asyncio.run(first_message()) == {"event": "info", "version": 1}


# ---------------------------------------------------------------------------
# The order of checks: path, arguments, authentication, permissions, rate limit


def test_sendorder_without_arguments_is_checked_before_the_key(sim: Served) -> None:
    body = sim.request("POST", f"{V3}/sendorder", key=FAKE).json()
    assert (body["result"], body["error"]) == ("error", "requiredArgumentMissing")


ARGUMENT_ROUTES = [
    ("POST", f"{V3}/sendorder", {"symbol": "PF_XBTUSD", "side": "buy", "size": 1}),
    ("POST", f"{V3}/editorder", {"size": 1}),
    ("POST", f"{V3}/cancelorder", {}),
    ("POST", f"{V3}/cancelallordersafter", {}),
    ("POST", f"{V3}/batchorder", {}),
    ("PUT", f"{V3}/leveragepreferences", {"maxLeverage": 5}),
    ("PUT", f"{V3}/pnlpreferences", {"symbol": "PF_XBTUSD"}),
    ("POST", f"{V3}/transfer", {"fromAccount": "flex", "toAccount": "cash", "unit": "usd"}),
    ("POST", f"{V3}/withdrawal", {"currency": "usd"}),
    ("PUT", f"{V3}/self-trade-strategy", {}),
]


@pytest.mark.parametrize(("method", "path", "params"), ARGUMENT_ROUTES)
@pytest.mark.parametrize("key", ["fake", "read_only"])
def test_a_missing_argument_is_reported_before_the_key_is_judged(
    sim: Served, method: str, path: str, params: dict[str, Any], key: str
) -> None:
    credentials = FAKE if key == "fake" else provisioned_keys()["read_only"].credentials
    body = sim.request(method, path, params, key=credentials).json()
    assert body["error"] == "requiredArgumentMissing"


def test_then_authentication_then_permissions(sim: Served) -> None:
    order = {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": 1, "limitPrice": 1}
    assert sim.request("POST", f"{V3}/sendorder", order, key=FAKE).json()["error"] == (
        "authenticationError"
    )
    read_only = provisioned_keys()["read_only"].credentials
    assert sim.request("POST", f"{V3}/sendorder", order, key=read_only).json()["error"] == (
        "authenticationError"
    )
    # a reused nonce is an authentication failure, found before the permission
    first = sim.request("GET", f"{V3}/openorders", key=read_only, nonce="1000000000001")
    assert first.json()["result"] == "success"
    again = sim.request("POST", f"{V3}/sendorder", order, key=read_only, nonce="1000000000001")
    assert again.json()["error"] == "nonceDuplicate"


def test_an_unknown_path_is_404_before_anything(sim: Served) -> None:
    answer = sim.request("POST", f"{V3}/sendorders", key=FAKE)
    assert answer.status_code == 404


# ---------------------------------------------------------------------------
# Subaccounts, unwind queue, notifications


@pytest.mark.parametrize(
    ("path", "example"),
    [
        ("subaccounts", "subaccounts.kraken-doc.json"),
        ("unwindqueue", "unwindqueue.kraken-doc.json"),
        ("notifications", "notifications.kraken-doc.json"),
    ],
)
def test_account_endpoints_answer_in_the_documented_shape(
    sim: Served, path: str, example: str
) -> None:
    answer = sim.request("GET", f"{V3}/{path}", key=full_key())
    body = answer.json()
    assert answer.status_code == 200
    assert body["result"] == "success"
    names = ("NotificationsSuccessExample",) if path == "notifications" else ()
    found = problems(body, example_schema(example, *names), "", set())
    assert found == [], "\n".join(found)


def test_unwind_queue_lists_the_open_position(sim: Served) -> None:
    queue = sim.request("GET", f"{V3}/unwindqueue", key=full_key()).json()["queue"]
    assert [row["symbol"] for row in queue] == ["PF_XBTUSD"]
    assert queue[0]["percentile"] in {20, 40, 80, 100}


def test_notifications_are_the_posted_notices() -> None:
    exchange = SimExchange(seed=7, clock=SimClock.fixed(NOW))
    exchange.notifications.post(
        "Maintenance",
        type="maintenance",
        priority="high",
        effective_time_ms=START_MS + 3_600_000,
        expected_downtime_minutes=30,
    )
    key = exchange.credentials("full")
    path = f"{V3}/notifications"
    headers = {"APIKey": key.key, "Authent": rest_signature(key.secret, "", "", path)}
    body = json.loads(exchange.handle("GET", path, headers, b"").body)
    assert body["notifications"] == [
        {
            "type": "maintenance",
            "priority": "high",
            "note": "Maintenance",
            "effectiveTime": "2026-11-01T01:00:00.000Z",
            "expectedDowntimeMinutes": 30,
        }
    ]


def test_subaccounts_name_the_account_as_master(sim: Served) -> None:
    body = sim.request("GET", f"{V3}/subaccounts", key=full_key()).json()
    log = sim.request("GET", "/api/history/v3/account-log", key=full_key()).json()
    assert body["masterAccountUid"] == log["accountUid"]
    assert body["subaccounts"] == []


# ---------------------------------------------------------------------------
# The account log as CSV


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_accountlogcsv_is_the_account_log_as_csv(sim: Served, version: str) -> None:
    key = full_key()
    answer = sim.request("GET", f"/api/history/{version}/accountlogcsv", key=key)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    logs = sim.request("GET", "/api/history/v3/account-log", key=key).json()["logs"]
    assert len(rows) == len(logs) > 0
    for row, log in zip(rows, logs, strict=True):  # both newest first
        assert row["uid"] == log["booking_uid"]
        assert row["type"] == log["info"]
        assert row["account"] == log["margin_account"]
        assert row["dateTime"] == log["date"][:19].replace("T", " ")
        assert float(row["new balance"]) == pytest.approx(log["new_balance"])
        change = log["new_balance"] - log["old_balance"]
        assert float(row["change"]) == pytest.approx(change)


def test_accountlogcsv_with_conversion_details_adds_three_columns(sim: Served) -> None:
    answer = sim.request(
        "GET", "/api/history/v3/accountlogcsv", {"conversion_details": "true"}, key=full_key()
    )
    header = answer.text.splitlines()[0].split(",")
    assert header[-3:] == ["exchange rate", "exchange rate from", "conversion fee"]


# ---------------------------------------------------------------------------
# Fills leave open_orders with a full_fill / partial_fill delta


async def _recv(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return message


async def _open_orders_session(sim: Served, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Subscribe to open_orders, send ``orders`` over REST, return the open_orders deltas."""
    key = full_key()
    async with websockets.connect(sim.ws_url) as ws:
        assert await _recv(ws) == {"event": "info", "version": 1}
        await ws.send(json.dumps({"event": "challenge", "api_key": key.key}))
        challenge = (await _recv(ws))["message"]
        await ws.send(
            json.dumps(
                {
                    "event": "subscribe",
                    "feed": "open_orders",
                    "api_key": key.key,
                    "original_challenge": challenge,
                    "signed_challenge": ws_challenge_signature(key.secret, challenge),
                }
            )
        )
        while (await _recv(ws)).get("feed") != "open_orders_snapshot":
            pass
        ids = []
        for params in orders:
            sent = await asyncio.to_thread(sim.request, "POST", f"{V3}/sendorder", params, key=key)
            ids.append(sent.json()["sendStatus"]["order_id"])
        deltas: list[dict[str, Any]] = []
        while len(deltas) < len(ids):
            message = await _recv(ws)
            if message.get("feed") == "open_orders":
                deltas.append(message)
        assert [d["order"]["order_id"] for d in deltas] == ids
        return deltas


def test_a_filled_market_order_leaves_open_orders_with_full_fill(sim: Served) -> None:
    order = {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.002"}
    (delta,) = asyncio.run(_open_orders_session(sim, [order]))
    assert delta["is_cancel"] is True
    assert delta["reason"] == "full_fill"
    assert delta["order"]["qty"] == delta["order"]["filled"] == 0.002
    assert delta["order"]["direction"] == 1


def test_an_ioc_remainder_leaves_open_orders_with_partial_fill(sim: Served) -> None:
    book = sim.request("GET", f"{V3}/orderbook", {"symbol": "PF_XBTUSD"}).json()["orderBook"]
    best, size = book["asks"][0]
    order = {
        "orderType": "ioc",
        "symbol": "PF_XBTUSD",
        "side": "buy",
        "size": f"{size * 2:.4f}",
        "limitPrice": str(best),  # only the best level is in reach
    }
    (delta,) = asyncio.run(_open_orders_session(sim, [order]))
    assert delta["is_cancel"] is True
    assert delta["reason"] == "partial_fill"
    assert 0 < delta["order"]["filled"] < delta["order"]["qty"]


# ---------------------------------------------------------------------------
# Public order events


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_public_order_events_are_the_makers_of_public_executions(
    sim: Served, version: str
) -> None:
    window = {"since": START_MS - 900_000, "before": START_MS - 600_000, "count": 1000}
    path = f"/api/history/{version}/market/PF_XBTUSD"
    orders = sim.request("GET", f"{path}/orders", window).json()["elements"]
    executions = sim.request("GET", f"{path}/executions", window).json()["elements"]
    makers = {
        e["event"]["Execution"]["execution"]["makerOrder"]["uid"]: e["event"]["Execution"]
        for e in executions
    }
    updated = [e for e in orders if "OrderUpdated" in e["event"]]
    placed = [e for e in orders if "OrderPlaced" in e["event"]]
    assert len(updated) == len(makers) > 0
    assert placed
    assert len(placed) + len(updated) == len(orders)
    for element in updated:
        event = element["event"]["OrderUpdated"]
        execution = makers[event["newOrder"]["uid"]]["execution"]
        assert element["timestamp"] == execution["timestamp"]
        left = float(event["oldOrder"]["quantity"]) - float(execution["quantity"])
        assert float(event["newOrder"]["quantity"]) == pytest.approx(left)
        assert event["reason"] == ("full_fill" if execution["limitFilled"] else "partial_fill")
    for element in orders:
        t = int(element["timestamp"])
        assert window["since"] <= t < window["before"]
        (body,) = element["event"].values()
        order = body.get("order") or body["newOrder"]
        assert set(order) == {
            "uid", "tradeable", "direction", "quantity", "timestamp", "limitPrice",
            "orderType", "reduceOnly", "lastUpdateTimestamp",
        }
    stamps = [int(e["timestamp"]) for e in orders]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_public_order_events_page_without_gaps_or_repeats(sim: Served, sort: str) -> None:
    path = "/api/history/v3/market/PF_XBTUSD/orders"
    window = {"since": START_MS - 1_200_000, "before": START_MS - 600_000, "sort": sort}
    whole = sim.request("GET", path, window | {"count": 1000}).json()["elements"]
    paged: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = window | {"count": 7} | ({"continuation_token": token} if token else {})
        body = sim.request("GET", path, params).json()
        paged += body["elements"]
        token = body.get("continuationToken")
        if token is None:
            break
    assert len(whole) > 20
    assert paged == whole
