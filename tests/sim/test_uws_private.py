"""Private channels and trading methods of the simulator's Unified WebSocket, in-process.

One engine serves v3 REST and UWS, so every check reads the other protocol's view of
the same account at the same simulated time.
"""

from __future__ import annotations

from typing import Any

import pytest
from uws_helpers import Conn, answers, get_token, pushes, v3

from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.sim.pushsession import SessionDropped

pytestmark = pytest.mark.anyio

DERIV = {"asset_class": "derivatives"}


@pytest.fixture
def exchange() -> SimExchange:
    return SimExchange(seed=1)


class Private(Conn):
    """A private connection that signs every request with its token."""

    def __init__(self, exchange: SimExchange, token: str) -> None:
        super().__init__(exchange, private=True)
        self.token = token

    async def send(self, method: str, **params: Any) -> None:
        params.setdefault("token", self.token)
        if method != "cancel_all_orders_after" and (
            method != "subscribe" or params.get("channel") != "balances"
        ):
            params.setdefault("asset_class", "derivatives")
        await super().send(method, **params)


async def _private(exchange: SimExchange, *channels: str, key: str = "full") -> Private:
    conn = Private(exchange, get_token(exchange, key))
    await conn.open()
    for channel in channels:
        extra = {"snap_trades": True} if channel == "executions" else {}
        (ack, *_) = await conn.request("subscribe", channel=channel, **extra)
        assert ack["success"] is True, ack
    return conn


def _rows(messages: list[dict[str, Any]], channel: str) -> list[dict[str, Any]]:
    return [row for m in pushes(messages, channel) for row in m["data"]]


async def test_market_order_reports_come_before_its_answer(exchange: SimExchange) -> None:
    conn = await _private(exchange, "executions")
    out = await conn.request(
        "add_order", order_type="market", side="buy", order_qty=0.01, symbol="PF_XBTUSD",
        cl_ord_id="mkt-1",
    )
    assert [m.get("method") or m["channel"] for m in out] == ["executions", "add_order"]
    ack = out[-1]
    assert ack["success"] is True
    assert ack["result"]["cl_ord_id"] == "mkt-1"
    reports = _rows(out, "executions")
    assert [r["exec_type"] for r in reports] == ["new", "trade", "filled"]
    assert {r["order_id"] for r in reports} == {ack["result"]["order_id"]}
    _, trade, filled = reports
    (fill,) = v3(exchange, "GET", "/fills")["fills"]
    assert trade["exec_id"] == fill["fill_id"]
    assert trade["last_qty"] == pytest.approx(float(fill["size"]))
    assert trade["last_price"] == pytest.approx(float(fill["price"]))
    assert trade["liquidity_ind"] == "t"
    assert (trade["order_status"], filled["order_status"]) == ("filled", "filled")
    assert filled["cum_qty"] == 0.01
    assert filled["avg_price"] == pytest.approx(float(fill["price"]))
    assert pushes(out, "executions")[0]["sequence"] == 2  # 1 was the snapshot


async def test_resting_limit_amend_and_cancel_show_on_v3(exchange: SimExchange) -> None:
    conn = await _private(exchange, "executions")
    bid = v3(exchange, "GET", "/tickers/PF_XBTUSD")["ticker"]["bid"]
    price = float(bid) - 500
    (report, ack) = await conn.request(
        "add_order", order_type="limit", side="buy", order_qty=0.02, symbol="PF_XBTUSD",
        limit_price=price, post_only=True, cl_ord_id="rest-1",
    )
    order_id = ack["result"]["order_id"]
    assert report["data"][0]["exec_type"] == "new"
    assert report["data"][0]["post_only"] is True
    (open_order,) = v3(exchange, "GET", "/openorders")["openOrders"]
    assert (open_order["order_id"], open_order["cliOrdId"]) == (order_id, "rest-1")
    out = await conn.request("amend_order", cl_ord_id="rest-1", order_qty=0.03,
                             limit_price=price - 1)
    (amended,) = _rows(out, "executions")
    assert amended["exec_type"] == "amended"
    assert (amended["order_qty"], amended["limit_price"]) == (0.03, price - 1)
    assert answers(out)[0]["result"]["order_id"] == order_id
    assert len(answers(out)[0]["result"]["amend_id"]) == 36
    (open_order,) = v3(exchange, "GET", "/openorders")["openOrders"]
    assert float(open_order["unfilledSize"]) == 0.03
    assert float(open_order["limitPrice"]) == price - 1
    out = await conn.request("cancel_order", order_id=[order_id])
    (canceled,) = _rows(out, "executions")
    assert canceled["exec_type"] == "canceled"
    assert canceled["order_status"] == "canceled"
    assert canceled["cancel_reason"] == "User requested"
    assert v3(exchange, "GET", "/openorders")["openOrders"] == []
    (again,) = await conn.request("cancel_order", order_id=[order_id])
    assert (again["success"], again["error"]) == (False, "EOrder:Invalid order")
    (amend_gone,) = await conn.request("amend_order", order_id=order_id, order_qty=0.01)
    assert amend_gone["error"] == "EOrder:Invalid order"


async def test_orders_placed_over_v3_reach_the_executions_snapshot_and_updates(
    exchange: SimExchange,
) -> None:
    v3(exchange, "POST", "/sendorder", orderType="mkt", symbol="PF_ETHUSD", side="sell",
       size=0.5)
    resting = v3(exchange, "POST", "/sendorder", orderType="lmt", symbol="PF_ETHUSD",
                 side="buy", size=0.2, limitPrice=1000, cliOrdId="v3-rest")
    conn = await _private(exchange)
    out = await conn.request("subscribe", channel="executions", snap_trades=True)
    (snap,) = pushes(out, "executions")
    assert snap["type"] == "snapshot"
    kinds = [(r["exec_type"], r.get("cl_ord_id")) for r in snap["data"]]
    assert kinds == [("new", "v3-rest"), ("trade", None)]  # open orders, then fills
    assert snap["data"][0]["order_id"] == resting["sendStatus"]["order_id"]
    v3(exchange, "POST", "/cancelorder", cliOrdId="v3-rest")
    (canceled,) = _rows(await conn.tick(), "executions")
    assert (canceled["exec_type"], canceled["cl_ord_id"]) == ("canceled", "v3-rest")


async def test_positions_match_v3_openpositions(exchange: SimExchange) -> None:
    conn = await _private(exchange, "positions")
    out = await conn.request(
        "add_order", order_type="market", side="sell", order_qty=0.05, symbol="PF_XBTUSD",
    )
    (row,) = _rows(out, "positions")
    (rest,) = v3(exchange, "GET", "/openpositions")["openPositions"]
    assert row["size"] == -0.05
    assert rest["side"] == "short"
    assert row["entry_price"] == pytest.approx(float(rest["price"]))
    assert row["fill_time"] == rest["fillTime"].replace("Z", "000Z")
    assert row["pnl_currency"] == rest["pnlCurrency"]
    out = await conn.request(
        "add_order", order_type="market", side="buy", order_qty=0.05, symbol="PF_XBTUSD",
        reduce_only=True,
    )
    assert _rows(out, "positions") == [{"symbol": "PF_XBTUSD", "size": 0, "entry_price": 0}]
    assert v3(exchange, "GET", "/openpositions")["openPositions"] == []


async def test_margin_matches_v3_accounts(exchange: SimExchange) -> None:
    v3(exchange, "POST", "/sendorder", orderType="mkt", symbol="PI_XBTUSD", side="buy", size=100)
    v3(exchange, "POST", "/sendorder", orderType="mkt", symbol="PF_ETHUSD", side="buy", size=1)
    conn = await _private(exchange)
    out = await conn.request("subscribe", channel="margin")
    accounts = v3(exchange, "GET", "/accounts")["accounts"]
    (multi,) = [m for m in pushes(out, "margin") if m["type"] == "multi_collateral"]
    flex = accounts["flex"]
    for uws, rest in [("portfolio_value", "portfolioValue"), ("available_margin",
                      "availableMargin"), ("maintenance_margin", "maintenanceMargin"),
                      ("pnl", "pnl"), ("margin_equity", "marginEquity")]:
        assert multi["data"][0][uws] == pytest.approx(float(flex[rest]), rel=1e-9), uws
    (single,) = [m for m in pushes(out, "margin") if m["type"] == "single_collateral"]
    xbt = next(r for r in single["data"] if r["account"] == "fi_xbtusd")
    needs = accounts["fi_xbtusd"]["marginRequirements"]
    assert xbt["maintenance_margin"] == pytest.approx(float(needs["mm"]))
    assert xbt["liquidation_threshold"] == pytest.approx(float(needs["lt"]))
    assert xbt["termination_threshold"] == pytest.approx(float(needs["tt"]))
    assert xbt["maintenance_margin"] > 0
    (again,) = await conn.request("subscribe", channel="margin")
    assert again["error"] == "Already subscribed to margin channel"


async def test_balances_snapshot_and_ledger_updates(exchange: SimExchange) -> None:
    fresh = await _private(exchange)
    (ack, snapshot) = await fresh.request("subscribe", channel="balances")
    assert ack["success"] is True
    usd = next(r for r in snapshot["data"] if r["asset"] == "USD")
    accounts = v3(exchange, "GET", "/accounts")["accounts"]
    assert usd["balance"] == pytest.approx(float(accounts["flex"]["currencies"]["USD"]["quantity"]))
    out = await fresh.request(
        "add_order", order_type="market", side="buy", order_qty=0.01, symbol="PF_XBTUSD",
    )
    (update,) = pushes(out, "balances")
    assert update["sequence"] == snapshot["sequence"] + 1
    assert {r["asset"] for r in update["data"]} == {"USD"}
    assert all(r["wallet_type"] == "multi_collateral" for r in update["data"])


async def test_tokens_keys_and_endpoints(exchange: SimExchange) -> None:
    public = Conn(exchange)
    await public.open()
    token = get_token(exchange)
    (refused,) = await public.request("add_order", token=token, order_type="market", side="buy",
                                      order_qty=1, symbol="PF_XBTUSD", **DERIV)
    assert "needs the private endpoint /v2/private" in refused["error"]
    conn = Private(exchange, "no-such-token")
    await conn.open()
    (bad,) = await conn.request("subscribe", channel="executions")
    assert (bad["success"], bad["error"]) == (False, "EAPI:Invalid token")
    reader = await _private(exchange, key="read_only")
    (denied,) = await reader.request(
        "add_order", order_type="market", side="buy", order_qty=0.01, symbol="PF_XBTUSD")
    assert denied["error"] == "EGeneral:Permission denied"
    old = get_token(exchange, nonce=10**15)
    exchange.advance("901s")
    late = Private(exchange, old)
    await late.open()
    (expired,) = await late.request("cancel_all")
    assert expired["error"] == "EAPI:Invalid token"


async def test_token_used_in_time_stays_valid_on_its_connection(exchange: SimExchange) -> None:
    conn = await _private(exchange, "executions")
    exchange.advance("1200s")
    (ack,) = await conn.request("cancel_all")
    assert ack["success"] is True
    other = Private(exchange, conn.token)
    await other.open()
    (refused,) = await other.request("cancel_all")
    assert refused["error"] == "EAPI:Invalid token"


async def test_bad_token_fault_refuses_once(exchange: SimExchange) -> None:
    conn = await _private(exchange)
    exchange.add_fault(Fault("ws_bad_token", path="/v2/private/cancel_all", count=1))
    (first,) = await conn.request("cancel_all")
    (second,) = await conn.request("cancel_all")
    assert (first["error"], second["success"]) == ("EAPI:Invalid token", True)


@pytest.mark.parametrize("kind", ["ws_drop", "ws_skip"])
async def test_lost_answer_after_the_order_was_placed(exchange: SimExchange, kind: str) -> None:
    conn = await _private(exchange, "executions")
    exchange.add_fault(Fault(kind, path="/v2/private/add_order", count=1))
    params = {"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "PF_XBTUSD",
              "limit_price": 50000.0, "cl_ord_id": "lost-1"}
    if kind == "ws_drop":
        with pytest.raises(SessionDropped):
            await conn.send("add_order", **params)
    else:
        await conn.send("add_order", **params)
    messages = conn.take()
    assert answers(messages) == []  # the answer never came
    assert [r["exec_type"] for r in _rows(messages, "executions")] == ["new"]
    (order,) = v3(exchange, "GET", "/openorders")["openOrders"]
    assert order["cliOrdId"] == "lost-1"
    retry = await _private(exchange)
    (dup,) = await retry.request("add_order", **params)
    assert dup["error"] == "EOrder:clientOrderIdAlreadyExist"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "PF_XBTUSD",
          "limit_price": 79200.0, "post_only": True}, "EOrder:postWouldExecute"),
        ({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "PF_XBTUSD",
          "limit_price": 200000.0}, "EOrder:outsidePriceCollar"),
        ({"order_type": "limit", "side": "buy", "order_qty": 0.00001, "symbol": "PF_XBTUSD",
          "limit_price": 50000.0}, "EOrder:invalidSize"),
        ({"order_type": "market", "side": "buy", "order_qty": 0.01, "symbol": "PF_XBTUSD",
          "leverage": 5}, "Unsupported field: 'leverage'"),
        ({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "PF_XBTUSD"},
         "EGeneral:Invalid arguments:limit_price is required"),
        ({"order_type": "trailing-stop-limit", "side": "buy", "order_qty": 0.01,
          "symbol": "PF_XBTUSD"}, "not available for derivatives"),
        ({"order_type": "market", "side": "buy", "order_qty": 1000.0, "symbol": "PF_XBTUSD"},
         "EOrder:insufficientAvailableFunds"),
        ({"order_type": "stop-loss", "side": "sell", "order_qty": 0.01, "symbol": "PF_XBTUSD",
          "triggers": {"reference": "mark", "price": 1.0}}, "reference must be last or index"),
    ],
)
async def test_rejections_say_why(
    exchange: SimExchange, params: dict[str, Any], error: str
) -> None:
    conn = await _private(exchange)
    (answer,) = await conn.request("add_order", **params)
    assert answer["success"] is False
    assert error in answer["error"]


async def test_validate_places_nothing(exchange: SimExchange) -> None:
    conn = await _private(exchange)
    (answer,) = await conn.request(
        "add_order", order_type="limit", side="buy", order_qty=0.01, symbol="PF_XBTUSD",
        limit_price=50000.0, validate=True, cl_ord_id="check")
    assert answer["result"] == {"order_id": "", "cl_ord_id": "check"}
    assert v3(exchange, "GET", "/openorders")["openOrders"] == []


async def test_stop_on_the_index_fires_with_a_status_report(exchange: SimExchange) -> None:
    conn = await _private(exchange, "executions")
    index = float(v3(exchange, "GET", "/tickers/PF_XBTUSD")["ticker"]["indexPrice"])
    out = await conn.request(
        "add_order", order_type="take-profit", side="sell", order_qty=0.01, symbol="PF_XBTUSD",
        triggers={"reference": "index", "price": -0.0001, "price_type": "pct"})
    assert answers(out)[0]["success"] is True
    (new,) = _rows(out, "executions")
    assert new["order_type"] == "take-profit"
    assert new["triggers"]["reference"] == "index"
    assert new["triggers"]["price"] == pytest.approx(round(index * (1 - 1e-6)), abs=1)
    kinds: list[str] = []
    for _ in range(120):
        kinds += [r["exec_type"] for r in _rows(await conn.tick(1), "executions")]
        if "filled" in kinds:
            break
    assert kinds[:1] == ["status"]
    assert kinds[-2:] == ["trade", "filled"]


async def test_cancel_all_and_the_dead_mans_switch(exchange: SimExchange) -> None:
    conn = await _private(exchange, "executions")
    for i in range(3):
        await conn.request("add_order", order_type="limit", side="buy", order_qty=0.01,
                           symbol="PF_XBTUSD", limit_price=50000.0 + i)
    (ack,) = answers(await conn.request("cancel_all"))
    assert ack["result"] == {"count": 3}
    await conn.request("add_order", order_type="limit", side="buy", order_qty=0.01,
                       symbol="PF_XBTUSD", limit_price=50000.0)
    (armed,) = await conn.request("cancel_all_orders_after", timeout=60)
    assert armed["result"] == {"currentTime": "2026-11-01T00:00:00Z",
                               "triggerTime": "2026-11-01T00:01:00Z"}
    canceled = _rows(await conn.tick(61), "executions")
    assert [(r["exec_type"], r["cancel_reason"]) for r in canceled] == [
        ("canceled", "Cancel all orders after: timer expired")]
    (disarmed,) = await conn.request("cancel_all_orders_after", timeout=0)
    assert disarmed["result"]["triggerTime"] == "0"


async def test_batches(exchange: SimExchange) -> None:
    conn = await _private(exchange)
    out = await conn.request("batch_add", symbol="PF_XBTUSD", orders=[
        {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": 50000.0,
         "cl_ord_id": "b-1"},
        {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": 79200.0,
         "post_only": True, "cl_ord_id": "b-2"},
        {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": 50001.0,
         "cl_ord_id": "b-3"},
    ])
    (answer,) = out
    assert answer["success"] is False
    assert answer["error"] == "EOrder:postWouldExecute"
    rows = answer["result"]
    assert [r["cl_ord_id"] for r in rows] == ["b-1", "b-2", "b-3"]
    assert [bool(r["order_id"]) for r in rows] == [True, False, True]
    assert rows[1]["error"] == "EOrder:postWouldExecute"
    (cancelled,) = await conn.request(
        "batch_cancel", orders=[rows[0]["order_id"]], cl_ord_id=["b-3"])
    assert cancelled["result"] == {"count": 2}
    assert v3(exchange, "GET", "/openorders")["openOrders"] == []


def _reference_requests() -> list[tuple[str, dict[str, Any]]]:
    """Every request quoted in §1.8 of the unified-ws reference (comments stripped)."""
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2].parent / "shared" / "reference"
            / "kraken-unified-ws.md").read_text()
    section = text[text.index("### 1.8"):text.index("### 1.9")]
    out = []
    for block in re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL):
        for chunk in re.split(r"\n\s*\n", block):
            chunk = re.sub(r"/\*.*?\*/", "", chunk).strip()
            if '"params"' in chunk:
                message = json.loads(chunk)
                out.append((message["method"], message))
    return out


@pytest.mark.parametrize(("method", "message"), _reference_requests(),
                         ids=lambda v: v if isinstance(v, str) else "")
async def test_every_request_in_the_reference_is_understood(
    exchange: SimExchange, method: str, message: dict[str, Any]
) -> None:
    params = dict(message["params"])
    if "deadline" in params:  # the example's date is in the past of the simulator's clock
        from kfresearch.sim.uws.wire import rfc3339

        params["deadline"] = rfc3339(exchange.clock.now_ms() + 5_000)
    conn = await _private(exchange)
    if params.pop("token", None) is None:
        conn.token = ""
    if method == "add_order" and params.get("order_type") == "limit":
        params["limit_price"] = 50000.0  # the example's 97000 would cross this book
    if params.get("channel") == "book":
        params.pop("asset_class")
        params["asset_class"] = "derivatives"
    answer = answers(await conn.request(method, **params))[0]
    # understood: done, or refused by the account's state (the example's made-up order id,
    # a reduce-only stop without a position), never for its fields
    assert answer["success"] is True or answer["error"].startswith("EOrder:"), answer
