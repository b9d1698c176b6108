"""Private REST handlers called directly with a Context over the engine and a scripted market."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from test_engine import HOUR, MIN, T0, FakeMarket, approx

from kfresearch.sim import history_api, private_api
from kfresearch.sim.engine import Engine
from kfresearch.sim.routes import ROUTES, match
from kfresearch.sim.routing import Context, SimError

V3 = "/derivatives/api/v3"
H = "/api/history/v3"


class Desk:
    """An engine, its market and a helper that calls a route like the exchange would."""

    def __init__(self) -> None:
        self.market = FakeMarket()
        self.engine = Engine(self.market, seed=7)
        self.engine.advance(T0)
        self.exchange = types.SimpleNamespace(engine=self.engine, market=self.market)

    def context(self, method: str, path: str, t: int = T0, /, **params: Any) -> Context:
        values = {
            k: v if isinstance(v, list) else [str(v)] for k, v in params.items() if v is not None
        }
        return Context(
            exchange=self.exchange,  # type: ignore[arg-type]
            method=method,
            path=path,
            params=values,
            path_params={},
            now_ms=t,
            account_id="acc-1",
            key_can_trade=True,
        )

    def call(self, method: str, path: str, t: int = T0, /, **params: Any) -> Any:
        found = match(method, path)
        assert found is not None, f"no route for {method} {path}"
        return found[0].handler(self.context(method, path, t, **params))

    def cost(self, method: str, path: str, **params: Any) -> int:
        found = match(method, path)
        assert found is not None
        return found[0].cost_of(self.context(method, path, **params))


@pytest.fixture
def desk() -> Desk:
    return Desk()


def buy_pf(desk: Desk, size: str = "1", price: str = "50010", t: int = T0, **extra: Any) -> Any:
    return desk.call(
        "POST",
        f"{V3}/sendorder",
        t,
        orderType="lmt",
        symbol="PF_XBTUSD",
        side="buy",
        size=size,
        limitPrice=price,
        **extra,
    )


# ------------------------------------------------------------------- routes


EXPECTED_ROUTES = {
    ("GET", f"{V3}/accounts"): (2, False),
    ("GET", f"{V3}/openpositions"): (2, False),
    ("GET", f"{V3}/openorders"): (2, False),
    ("POST", f"{V3}/sendorder"): (10, True),
    ("POST", f"{V3}/editorder"): (10, True),
    ("POST", f"{V3}/cancelorder"): (10, True),
    ("POST", f"{V3}/cancelallorders"): (25, True),
    ("POST", f"{V3}/cancelallordersafter"): (25, True),
    ("GET", f"{V3}/fills"): (2, False),
    ("POST", f"{V3}/orders/status"): (1, False),
    ("GET", f"{V3}/leveragepreferences"): (2, False),
    ("PUT", f"{V3}/leveragepreferences"): (10, True),
    ("GET", f"{V3}/pnlpreferences"): (2, False),
    ("PUT", f"{V3}/pnlpreferences"): (10, True),
    ("GET", f"{V3}/feeschedules/volumes"): (2, False),
    ("GET", f"{H}/executions"): (1, False),
    ("GET", f"{H}/orders"): (1, False),
    ("GET", f"{H}/triggers"): (1, False),
    ("GET", f"{H}/positions"): (1, False),
    ("GET", f"{H}/account-log"): (3, False),
}


@pytest.mark.parametrize(("key", "expected"), EXPECTED_ROUTES.items())
def test_routes_are_registered_private_with_their_costs(
    desk: Desk, key: tuple[str, str], expected: tuple[int, bool]
) -> None:
    method, path = key
    found = match(method, path)
    assert found is not None
    route = found[0]
    assert route.private
    assert (route.cost_of(desk.context(method, path)), route.trading) == expected
    assert route.service == ("history" if path.startswith("/api/history") else "derivatives")


def test_variable_costs(desk: Desk) -> None:
    assert desk.cost("GET", f"{V3}/fills", lastFillTime="2026-01-05T00:00:00.000Z") == 25
    items = {"batchOrder": [{"order": "cancel", "order_id": "x"}] * 10}
    assert desk.cost("POST", f"{V3}/batchorder", json=json.dumps(items)) == 19
    assert desk.cost("POST", f"{V3}/batchorder", json="{not json") == 9
    costs = [
        desk.cost("GET", f"{H}/account-log", count=n)
        for n in (1, 25, 26, 50, 51, 1000, 1001, 5000, 5001, 100_000)
    ]
    assert costs == [1, 1, 2, 2, 3, 3, 6, 6, 10, 10]
    assert history_api.account_log_cost(desk.context("GET", f"{H}/account-log", count="abc")) == 3


def test_every_private_route_of_this_module_is_expected() -> None:
    modules = {private_api.__name__, history_api.__name__}
    ours = {
        (r.method, r.pattern)
        for r in ROUTES
        if r.handler.__module__ in modules and r.private and r.pattern.startswith((V3, H))
    }
    assert ours == set(EXPECTED_ROUTES) | {
        ("POST", f"{V3}/batchorder"),
        ("GET", f"{H}/accountlogcsv"),
    }


# ----------------------------------------------------------------- accounts


def test_accounts_of_a_new_account(desk: Desk) -> None:
    accounts = desk.call("GET", f"{V3}/accounts")["accounts"]
    assert list(accounts) == ["cash", "fi_ethusd", "fi_xbtusd", "flex"]
    assert accounts["cash"] == {"balances": {}, "type": "cashAccount"}
    assert accounts["fi_xbtusd"]["balances"] == {"xbt": "1"}
    assert accounts["fi_xbtusd"]["currency"] == "xbt"
    assert accounts["fi_xbtusd"]["auxiliary"] == {
        "af": 1.0,
        "funding": 0.0,
        "pnl": 0.0,
        "pv": 1.0,
        "usd": 0,
    }
    flex = accounts["flex"]
    assert flex["type"] == "multiCollateralMarginAccount"
    assert flex["currencies"] == {
        "USD": {
            "quantity": 100_000.0,
            "value": 100_000.0,
            "collateral": 100_000.0,
            "available": 100_000.0,
        }
    }
    assert (flex["marginEquity"], flex["availableMargin"], flex["initialMargin"]) == (
        100_000.0,
        100_000.0,
        0.0,
    )


def test_accounts_after_trades_match_hand_numbers(desk: Desk) -> None:
    buy_pf(desk, "1", "50010")  # 0.5 @ 50,010 taker, 0.5 resting at 50,010
    desk.call(
        "POST", f"{V3}/sendorder", orderType="mkt", symbol="PI_XBTUSD", side="buy", size="20000"
    )
    flex = desk.call("GET", f"{V3}/accounts")["accounts"]["flex"]
    fee = 0.5 * 50_010 * 0.0005
    assert flex["balanceValue"] == approx(100_000 - fee)
    assert flex["pnl"] == approx(0.5 * (50_000 - 50_010))
    assert flex["initialMargin"] == approx(0.02 * 0.5 * 50_000)
    assert flex["initialMarginWithOrders"] == approx(0.02 * 1.0 * 50_000)  # the resting 0.5 counts
    assert flex["maintenanceMargin"] == approx(0.01 * 0.5 * 50_000)
    assert flex["marginEquity"] == approx(100_000 - fee - 5)
    assert flex["availableMargin"] == approx(100_000 - fee - 5 - 1_000)
    inverse = desk.call("GET", f"{V3}/accounts")["accounts"]["fi_xbtusd"]
    coin_fee = 20_000 / 50_010 * 0.0005
    assert set(inverse["balances"]) == {"xbt", "PI_XBTUSD"}
    assert inverse["balances"]["PI_XBTUSD"] == "20000"
    assert float(inverse["balances"]["xbt"]) == approx(1 - coin_fee)
    pnl = (1 / 50_010 - 1 / 50_000) * 20_000
    assert inverse["auxiliary"]["pnl"] == approx(pnl)
    assert inverse["auxiliary"]["pv"] == approx(1 - coin_fee + pnl)
    assert inverse["marginRequirements"]["im"] == approx(20_000 * 0.02 / 50_000)
    assert inverse["marginRequirements"]["mm"] == approx(20_000 * 0.01 / 50_000)
    # One long position: the mark at which equity meets maintenance margin,
    # P = (s + c) / (E + s/m) with s = 20,000 contracts and c = 1 % x 20,000 USD.
    equity = 1 - coin_fee + pnl
    assert inverse["triggerEstimates"]["mm"] == approx((20_000 + 200) / (equity + 20_000 / 50_000))
    assert 14_000 < inverse["triggerEstimates"]["mm"] < 15_000  # about 20,200 / 1.4


def test_an_inverse_short_cannot_lose_more_than_contracts_over_entry(desk: Desk) -> None:
    # A short's coin loss is capped at s/entry = 0.4 XBT < 1 XBT: no liquidation price.
    desk.call(
        "POST", f"{V3}/sendorder", orderType="mkt", symbol="PI_XBTUSD", side="sell", size="20000"
    )
    inverse = desk.call("GET", f"{V3}/accounts")["accounts"]["fi_xbtusd"]
    assert inverse["triggerEstimates"]["mm"] == 0.0


def test_open_positions_send_decimals_as_strings(desk: Desk) -> None:
    buy_pf(desk, "0.5")
    desk.call(
        "POST",
        f"{V3}/sendorder",
        T0 + MIN,
        orderType="mkt",
        symbol="PI_XBTUSD",
        side="sell",
        size="1000",
    )
    desk.engine.advance(T0 + 30 * MIN)
    rows = desk.call("GET", f"{V3}/openpositions", T0 + 30 * MIN)["openPositions"]
    assert [r["symbol"] for r in rows] == ["PI_XBTUSD", "PF_XBTUSD"]  # newest fill first
    inverse, linear = rows
    assert linear == {
        "side": "long",
        "symbol": "PF_XBTUSD",
        "price": "50010",
        "fillTime": "2026-01-05T00:00:00.000Z",
        "size": "0.5",
        "unrealizedFunding": "-0.5",  # 0.5 x 2 USD x half an hour
        "pnlCurrency": "USD",
    }
    assert (inverse["side"], inverse["size"], inverse["price"]) == ("short", "1000", "49990")
    assert float(inverse["unrealizedFunding"]) == approx(1_000 * 1e-8 * 29 / 60)
    assert "pnlCurrency" not in inverse


def test_open_orders_newest_first_with_string_decimals(desk: Desk) -> None:
    buy_pf(desk, "1", "49000", cliOrdId="first")
    desk.call(
        "POST",
        f"{V3}/sendorder",
        T0 + 1000,
        orderType="stp",
        symbol="PF_XBTUSD",
        side="sell",
        size="0.5",
        stopPrice="48000",
        triggerSignal="index",
    )
    rows = desk.call("GET", f"{V3}/openorders", T0 + 2000)["openOrders"]
    stop, limit = rows
    assert stop["orderType"] == "stop"
    assert stop["stopPrice"] == "48000"
    assert stop["triggerSignal"] == "spot"
    assert "limitPrice" not in stop
    assert limit == {
        "order_id": limit["order_id"],
        "cliOrdId": "first",
        "status": "untouched",
        "side": "buy",
        "orderType": "lmt",
        "symbol": "PF_XBTUSD",
        "limitPrice": "49000",
        "filledSize": "0",
        "unfilledSize": "1",
        "reduceOnly": False,
        "lastUpdateTime": "2026-01-05T00:00:00.000Z",
        "receivedTime": "2026-01-05T00:00:00.000Z",
    }


# -------------------------------------------------------------------- orders


def test_sendorder_answers_like_the_spec_example(desk: Desk) -> None:
    body = buy_pf(desk, "1", "49000")
    status = body["sendStatus"]
    assert list(status) == ["order_id", "status", "receivedTime", "orderEvents"]
    (event,) = status["orderEvents"]
    assert event["type"] == "PLACE"
    assert event["order"] == {
        "orderId": status["order_id"],
        "cliOrdId": None,
        "type": "lmt",
        "symbol": "PF_XBTUSD",
        "side": "buy",
        "quantity": 1.0,
        "filled": 0.0,
        "limitPrice": 49_000.0,
        "reduceOnly": False,
        "timestamp": "2026-01-05T00:00:00.000Z",
        "lastUpdateTimestamp": "2026-01-05T00:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "limitPrice": "1"},
            "requiredArgumentMissing",
        ),
        (
            {
                "orderType": "lmt",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": "x",
                "limitPrice": "1",
            },
            "invalidArgument",
        ),
        (
            {"orderType": "stp", "symbol": "PF_XBTUSD", "side": "buy", "size": "1"},
            "requiredArgumentMissing",
        ),
        (
            {
                "orderType": "lmt",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": "1",
                "limitPrice": "1",
                "reduceOnly": "maybe",
            },
            "invalidArgument",
        ),
        (
            {
                "orderType": "stp",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": "1",
                "stopPrice": "1",
                "triggerSignal": "moon",
            },
            "invalidArgument",
        ),
        (
            {
                "orderType": "trailing_stop",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": "1",
                "trailingStopMaxDeviation": "60",
                "trailingStopDeviationUnit": "PERCENT",
            },
            "invalidArgument",
        ),
        (
            {"orderType": "trailing_stop", "symbol": "PF_XBTUSD", "side": "buy", "size": "1"},
            "requiredArgumentMissing",
        ),
    ],
)
def test_sendorder_argument_errors(desk: Desk, params: dict[str, str], error: str) -> None:
    with pytest.raises(SimError) as raised:
        desk.call("POST", f"{V3}/sendorder", **params)
    assert raised.value.error == error


def test_editorder_and_cancelorder_use_their_own_id_names(desk: Desk) -> None:
    order_id = buy_pf(desk, "1", "49000")["sendStatus"]["order_id"]
    edited = desk.call("POST", f"{V3}/editorder", orderId=order_id, limitPrice="49100", size="2")[
        "editStatus"
    ]
    assert (edited["status"], edited["orderId"]) == ("edited", order_id)
    assert edited["orderEvents"][0]["new"]["limitPrice"] == 49_100.0
    with pytest.raises(SimError) as missing:
        desk.call("POST", f"{V3}/editorder", limitPrice="49100")
    assert missing.value.error == "requiredArgumentMissing"
    with pytest.raises(SimError):
        desk.call("POST", f"{V3}/editorder", orderId=order_id, qtyMode="SIDEWAYS")
    cancelled = desk.call("POST", f"{V3}/cancelorder", order_id=order_id)["cancelStatus"]
    assert (cancelled["status"], cancelled["order_id"]) == ("cancelled", order_id)
    assert cancelled["orderEvents"][0]["order"]["limitPrice"] == 49_100.0
    late = desk.call(
        "POST", f"{V3}/cancelorder", order_id=order_id, processBefore="2020-01-01T00:00:00Z"
    )
    assert late["cancelStatus"]["status"] == "wouldProcessAfterSpecifiedTime"
    with pytest.raises(SimError):
        desk.call("POST", f"{V3}/cancelorder")


def test_cancel_all_and_dead_mans_switch_handlers(desk: Desk) -> None:
    buy_pf(desk, "1", "49000")
    armed = desk.call("POST", f"{V3}/cancelallordersafter", timeout="60")
    assert armed == {
        "status": {
            "currentTime": "2026-01-05T00:00:00.000Z",
            "triggerTime": "2026-01-05T00:01:00.000Z",
        }
    }
    desk.engine.advance(T0 + 2 * MIN)
    assert desk.call("GET", f"{V3}/openorders", T0 + 2 * MIN)["openOrders"] == []
    disarmed = desk.call("POST", f"{V3}/cancelallordersafter", T0 + 2 * MIN, timeout="0")
    assert disarmed["status"]["triggerTime"] == "0"
    with pytest.raises(SimError) as missing:
        desk.call("POST", f"{V3}/cancelallordersafter")
    assert missing.value.error == "requiredArgumentMissing"
    buy_pf(desk, "1", "49000", t=T0 + 3 * MIN, cliOrdId="k")
    body = desk.call("POST", f"{V3}/cancelallorders", T0 + 3 * MIN)["cancelStatus"]
    assert body["status"] == "cancelled"
    assert body["cancelOnly"] == "all"
    assert body["cancelledOrders"][0]["cliOrdId"] == "k"


def test_batchorder_runs_the_spec_example(desk: Desk) -> None:
    resting = buy_pf(desk, "0.1", "49000", cliOrdId="my_client_id")["sendStatus"]["order_id"]
    batch = {
        "batchOrder": [
            {
                "order": "send",
                "order_tag": "1",
                "orderType": "lmt",
                "symbol": "PI_XBTUSD",
                "side": "buy",
                "size": 1,
                "limitPrice": 49_000.0,
                "cliOrdId": "my_another_client_id",
            },
            {
                "order": "send",
                "order_tag": "2",
                "orderType": "stp",
                "symbol": "PI_XBTUSD",
                "side": "buy",
                "size": 1,
                "limitPrice": 52_000.0,
                "stopPrice": 51_000.0,
            },
            {
                "order": "send",
                "order_tag": "3",
                "orderType": "post",
                "symbol": "PI_XBTUSD",
                "side": "buy",
                "size": 1,
                "limitPrice": 50_010.0,
            },
            {"order": "edit", "order_id": resting, "size": 0.2, "limitPrice": 48_000.0},
            {"order": "cancel", "order_id": "e35d61dd-8a30-4d5f-a574-b5593ef0c050"},
            {"order": "cancel", "cliOrdId": "my_client_id"},
        ]
    }
    statuses = desk.call("POST", f"{V3}/batchorder", json=json.dumps(batch))["batchStatus"]
    assert [s["status"] for s in statuses] == [
        "placed",
        "placed",
        "postWouldExecute",
        "edited",
        "notFound",
        "cancelled",
    ]
    assert [s.get("order_tag") for s in statuses[:3]] == ["1", "2", "3"]
    assert statuses[0]["cliOrdId"] == "my_another_client_id"
    assert statuses[0]["dateTimeReceived"] == "2026-01-05T00:00:00.000Z"
    assert statuses[3]["order_id"] == resting
    assert statuses[5]["order_id"] == resting
    assert statuses[1]["orderEvents"][0]["orderTrigger"]["triggerPrice"] == 51_000.0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "Json Parse Error"),
        ('{"orders": []}', "Json Parse Error"),
        (None, "requiredArgumentMissing"),
        ('{"batchOrder": [{"order": "dance"}]}', "invalidArgument"),
        ('{"batchOrder": [{"order": "cancel"}]}', "requiredArgumentMissing"),
    ],
)
def test_batchorder_errors(desk: Desk, text: str | None, error: str) -> None:
    with pytest.raises(SimError) as raised:
        desk.call("POST", f"{V3}/batchorder", json=text)
    assert raised.value.error == error


def test_batch_is_parsed_before_anything_runs(desk: Desk) -> None:
    batch = {
        "batchOrder": [
            {
                "order": "send",
                "orderType": "lmt",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": 1,
                "limitPrice": 49_000,
            },
            {"order": "send"},
        ]
    }
    with pytest.raises(SimError):
        desk.call("POST", f"{V3}/batchorder", json=json.dumps(batch))
    assert "acc-1" not in desk.engine.accounts or not desk.engine.accounts["acc-1"].open_orders


# --------------------------------------------------------------- fills etc.


def test_fills_newest_first_and_paged_by_last_fill_time(desk: Desk) -> None:
    for i in range(3):
        desk.call(
            "POST",
            f"{V3}/sendorder",
            T0 + i * 1000,
            orderType="ioc",
            symbol="PF_XBTUSD",
            side="buy",
            size="0.1",
            limitPrice="50010",
            cliOrdId=f"c{i}",
        )
    rows = desk.call("GET", f"{V3}/fills", T0 + 5000)["fills"]
    assert [r["cliOrdId"] for r in rows] == ["c2", "c1", "c0"]
    assert rows[0]["size"] == "0.1"
    assert rows[0]["price"] == "50010"
    assert rows[0]["fillType"] == "taker"
    assert rows[0]["fillTime"] == "2026-01-05T00:00:02.000Z"
    older = desk.call("GET", f"{V3}/fills", T0 + 5000, lastFillTime="2026-01-05T00:00:02.000Z")[
        "fills"
    ]
    assert [r["cliOrdId"] for r in older] == ["c1", "c0"]
    with pytest.raises(SimError):
        desk.call("GET", f"{V3}/fills", lastFillTime="yesterday")


def test_order_status_lists_open_and_just_closed_orders(desk: Desk) -> None:
    open_id = buy_pf(desk, "1", "49000")["sendStatus"]["order_id"]
    filled = desk.call(
        "POST",
        f"{V3}/sendorder",
        orderType="ioc",
        symbol="PF_XBTUSD",
        side="buy",
        size="0.1",
        limitPrice="50010",
        cliOrdId="f",
    )
    rows = desk.call(
        "POST", f"{V3}/orders/status", T0 + 4000, orderIds=[open_id, "unknown"], cliOrdIds=["f"]
    )["orders"]
    assert [(r["order"]["orderId"], r["status"], r["updateReason"]) for r in rows] == [
        (open_id, "ENTERED_BOOK", "NEW_USER_ORDER"),
        (filled["sendStatus"]["order_id"], "FULLY_EXECUTED", "FULL_FILL"),
    ]
    later = desk.call(
        "POST", f"{V3}/orders/status", T0 + 6000, orderIds=[open_id], cliOrdIds=["f"]
    )["orders"]
    assert [r["order"]["orderId"] for r in later] == [open_id]


def test_fee_schedule_volumes_sum_usd_notional(desk: Desk) -> None:
    buy_pf(desk, "1", "50010")  # 0.5 filled
    desk.call(
        "POST", f"{V3}/sendorder", orderType="mkt", symbol="PI_XBTUSD", side="sell", size="1000"
    )
    volumes = desk.call("GET", f"{V3}/feeschedules/volumes")["volumesByFeeSchedule"]
    assert volumes == {"fees-pf_xbtusd": approx(0.5 * 50_010), "fees-pi_xbtusd": approx(1_000.0)}


# -------------------------------------------------------------- preferences


def test_isolated_leverage_sets_initial_margin_to_notional_over_leverage(desk: Desk) -> None:
    assert desk.call("PUT", f"{V3}/leveragepreferences", symbol="PF_XBTUSD", maxLeverage="10") == {}
    assert desk.call("GET", f"{V3}/leveragepreferences") == {
        "leveragePreferences": [{"symbol": "PF_XBTUSD", "maxLeverage": 10.0}]
    }
    buy_pf(desk, "0.5", "50010")
    flex = desk.call("GET", f"{V3}/accounts")["accounts"]["flex"]
    assert flex["initialMargin"] == approx(0.5 * 50_000 / 10)
    assert desk.call("GET", f"{V3}/openpositions")["openPositions"][0]["maxFixedLeverage"] == 10.0
    desk.call("PUT", f"{V3}/leveragepreferences", symbol="PF_XBTUSD")
    assert desk.call("GET", f"{V3}/leveragepreferences") == {"leveragePreferences": []}


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("leveragepreferences", {"symbol": "PF_NOPE", "maxLeverage": "5"}, 87),
        ("leveragepreferences", {"symbol": "PI_XBTUSD", "maxLeverage": "5"}, 88),
        ("pnlpreferences", {"symbol": "PF_NOPE", "pnlPreference": "USD"}, 87),
        ("pnlpreferences", {"symbol": "PI_XBTUSD", "pnlPreference": "USD"}, 88),
        ("pnlpreferences", {"symbol": "PF_XBTUSD", "pnlPreference": "DOGE"}, 89),
    ],
)
def test_preference_errors_carry_numeric_codes(
    desk: Desk, path: str, params: dict[str, str], code: int
) -> None:
    with pytest.raises(SimError) as raised:
        desk.call("PUT", f"{V3}/{path}", **params)
    assert raised.value.body["errors"][0]["code"] == code
    assert raised.value.body["result"] == "error"


def test_leverage_that_would_cause_liquidation_is_refused(desk: Desk) -> None:
    desk.market.books["PF_XBTUSD"] = ([(49_990.0, 100.0)], [(50_000.0, 100.0)])
    desk.call("POST", f"{V3}/sendorder", orderType="mkt", symbol="PF_XBTUSD", side="buy", size="30")
    with pytest.raises(SimError) as raised:
        desk.call("PUT", f"{V3}/leveragepreferences", symbol="PF_XBTUSD", maxLeverage="1")
    assert raised.value.body["errors"][0]["code"] == 41
    assert desk.engine.accounts["acc-1"].leverage == {}


def test_pnl_preferences_round_trip(desk: Desk) -> None:
    desk.call("PUT", f"{V3}/pnlpreferences", symbol="pf_xbtusd", pnlPreference="btc")
    assert desk.call("GET", f"{V3}/pnlpreferences") == {
        "preferences": [{"symbol": "PF_XBTUSD", "pnlCurrency": "BTC"}]
    }


# ------------------------------------------------------------------- history


def test_history_endpoints_have_no_envelope_and_string_len(desk: Desk) -> None:
    buy_pf(desk, "0.5", "50010")
    desk.call(
        "POST",
        f"{V3}/sendorder",
        orderType="stp",
        symbol="PF_XBTUSD",
        side="sell",
        size="0.5",
        stopPrice="49000",
        reduceOnly="true",
    )
    account_uid = desk.engine.accounts["acc-1"].uid
    executions = desk.call("GET", f"{H}/executions", T0 + 1)
    assert set(executions) == {"accountUid", "len", "serverTime", "elements"}
    assert executions["accountUid"] == account_uid
    assert executions["len"] == "1"
    execution = executions["elements"][0]["event"]["Execution"]["execution"]
    assert execution["takerOrder"]["accountUid"] == account_uid
    assert execution["takerOrderData"]["fee"] == "12.5025"  # 0.5 x 50,010 x 0.05 %
    assert execution["quantity"] == "0.5"
    assert execution["price"] == "50010"
    triggers = desk.call("GET", f"{H}/triggers", T0 + 1)["elements"]
    placed = triggers[0]["event"]["OrderTriggerPlaced"]["order"]
    assert placed["triggerOptions"]["triggerSide"] == "Below"
    assert placed["triggerOptions"]["triggerSignal"] == "MarkPrice"
    orders = desk.call("GET", f"{H}/orders", T0 + 1, opened="true")["elements"]
    assert [next(iter(e["event"])) for e in orders] == ["OrderPlaced"]
    positions = desk.call("GET", f"{H}/positions", T0 + 1, opened="true", trades="true")["elements"]
    assert [(p["oldPosition"], p["newPosition"], p["positionChange"]) for p in positions] == [
        ("0", "0.5", "open")
    ]
    with pytest.raises(SimError):
        desk.call("GET", f"{H}/orders", sort="sideways")
    with pytest.raises(SimError):
        desk.call("GET", f"{H}/executions", count="0")


def test_history_positions_show_funding_realisation(desk: Desk) -> None:
    buy_pf(desk, "0.5", "50010")
    desk.engine.advance(T0 + HOUR)
    rows = desk.call("GET", f"{H}/positions", T0 + HOUR, funding_realization="true")["elements"]
    assert [(r["updateReason"], r["positionChange"], r["realizedFunding"]) for r in rows] == [
        ("fundingRealisation", "noChange", "-1")
    ]


def test_account_log_handler_pages_and_filters(desk: Desk) -> None:
    for i in range(3):
        desk.call(
            "POST",
            f"{V3}/sendorder",
            T0 + i * 1000,
            orderType="ioc",
            symbol="PF_XBTUSD",
            side="buy",
            size="0.1",
            limitPrice="50010",
        )
    body = desk.call(
        "GET", f"{H}/account-log", T0 + 5000, count="3", sort="asc", info="futures trade"
    )
    assert set(body) == {"accountUid", "logs"}
    assert [row["id"] for row in body["logs"]] == [1, 2, 3]
    by_id = desk.call("GET", f"{H}/account-log", T0 + 5000, **{"from": "5", "to": "6"})
    assert [row["id"] for row in by_id["logs"]] == [6, 5]
    usd = [
        row
        for row in desk.call("GET", f"{H}/account-log", T0 + 5000)["logs"]
        if row["asset"] == "usd"
    ]
    assert usd[0]["fee"] == approx(0.1 * 50_010 * 0.0005)
    assert usd[0]["margin_account"] == "flex"
    assert usd[0]["contract"] == "PF_XBTUSD"
