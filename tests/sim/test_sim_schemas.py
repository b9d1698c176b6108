"""Every simulated endpoint answers in the shape of the exchange's documented bodies.

The schema of each endpoint is built from Kraken's example bodies in
``shared/reference/examples`` (field names and JSON types) and checked against
the simulator's answer. Decimals may be numbers or decimal strings (the live API
sends strings since 2024, reference §4.0). Fields the reference documents as
optional (only for some contracts or states) are listed per endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kfresearch
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples"
MAP_KEYS = {"balances", "currencies", "volumesByFeeSchedule"}  # keyed by data, not field names


def shape(value: Any) -> Any:
    """A schema from an example value: nested dicts of field -> shape; lists merged."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = merge(merged, shape(item))
        return ["array", merged]
    return {key: shape(item) for key, item in value.items()}


def merge(a: Any, b: Any) -> Any:
    """Union of two shapes; dict fields present in only one become optional ("?")."""
    if a is None or a == b:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        out = {}
        for key in a.keys() | b.keys():
            if key in a and key in b:
                out[key] = merge(a[key], b[key])
            else:
                out["?" + key if not key.startswith("?") else key] = a.get(key, b.get(key))
        return out
    if isinstance(a, list) and isinstance(b, list):
        return ["array", merge(a[1], b[1])]
    if "null" in (a, b):
        return b if a == "null" else a
    return "any"


NULLABLE = {"cliOrdId"}  # "cliOrdId (null if none)", reference §4.12


def problems(value: Any, schema: Any, path: str, optional: set[str]) -> list[str]:
    if schema in ("null", "any", None):
        return []
    name = path.rsplit(".", 1)[-1]
    if value is None and (name in NULLABLE or name in optional or path in optional):
        return []  # optional fields may also be sent as null
    if schema == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return [f"{path}: expected a number, got {value!r}"]
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return [f"{path}: expected a decimal string, got {value!r}"]
        return []
    if schema == "string":
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    if schema == "bool":
        return [] if isinstance(value, bool) else [f"{path}: expected a bool, got {value!r}"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {value!r}"]
        return [p for item in value for p in problems(item, schema[1], f"{path}[]", optional)]
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {value!r}"]
    if path.rsplit(".", 1)[-1] in MAP_KEYS:
        union: Any = None
        for item in schema.values():
            union = merge(union, item)
        return [
            p for k, item in value.items() for p in problems(item, union, f"{path}.{k}", optional)
        ]
    found = []
    for key, item in schema.items():
        name = key.lstrip("?")
        where = f"{path}.{name}" if path else name
        if name not in value:
            if not key.startswith("?") and where not in optional and name not in optional:
                found.append(f"{where}: missing")
            continue
        found += problems(value[name], item, where, optional)
    return found


def example_schema(file: str, *names: str) -> Any:
    data = json.loads((EXAMPLES / file).read_text())
    examples = data["examples"]
    merged: Any = None
    for name in names or list(examples):
        merged = merge(merged, shape(examples[name]))
    return merged


@pytest.fixture(scope="module")
def kf() -> kfresearch.Client:
    if not EXAMPLES.is_dir():
        pytest.skip(f"the reference examples are not at {EXAMPLES}")
    exchange = SimExchange(seed=11, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    client = kfresearch.Client("sim", exchange=exchange)
    order = "/derivatives/api/v3/sendorder"
    client.request(
        "POST", order, {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": 0.01}
    )
    client.request(
        "POST", order, {"orderType": "mkt", "symbol": "PI_XBTUSD", "side": "sell", "size": 1000}
    )
    client.request(
        "POST",
        order,
        {
            "orderType": "lmt",
            "symbol": "PF_ETHUSD",
            "side": "buy",
            "size": 1,
            "limitPrice": 2500,
            "cliOrdId": "rest-1",
        },
    )
    client.request(
        "POST",
        order,
        {
            "orderType": "stp",
            "symbol": "PF_ETHUSD",
            "side": "sell",
            "size": 1,
            "stopPrice": 2000,
            "limitPrice": 1990,
            "triggerSignal": "mark",
        },
    )
    client.request(
        "PUT", "/derivatives/api/v3/leveragepreferences", {"symbol": "PF_SOLUSD", "maxLeverage": 5}
    )
    client.request(
        "PUT", "/derivatives/api/v3/pnlpreferences", {"symbol": "PF_SOLUSD", "pnlPreference": "USD"}
    )
    exchange.advance(2 * 3_600_000)
    return client


V3 = "/derivatives/api/v3"
CASES: list[tuple[str, str, str, dict[str, Any], tuple[str, ...], set[str]]] = [
    # (example file, method, path, params, example names, optional fields)
    (
        "instruments.kraken-doc.json",
        "GET",
        f"{V3}/instruments",
        {},
        (),
        # options/index-only fields; lastTradingTime only for dated contracts (reference §4.1)
        {
            "underlyingFuture",
            "lastTradingTime",
            "fundingRateCoefficient",
            "maxRelativeFundingRate",
            "underlying",
            "marginSchedules",
            "isin",
            "retailMarginLevels",
            "contracts",
            "numNonContractUnits",
        },
    ),
    (
        "tickers.kraken-doc.json",
        "GET",
        f"{V3}/tickers",
        {},
        (),
        {
            "fundingRate",
            "fundingRatePrediction",
            "extrinsicValue",
            "greeks",
            "isUnderlyingMarketClosed",
            "markPrice",
            "bid",
            "bidSize",
            "ask",
            "askSize",
            "vol24h",
            "volumeQuote",
            "openInterest",
            "open24h",
            "high24h",
            "low24h",
            "lastSize",
            "suspended",
            "indexPrice",
            "postOnly",
            "change24h",
            "tag",
            "pair",
        },
    ),  # index tickers (in_, rr_) carry only symbol, last, lastTime
    (
        "tickers_symbol.kraken-doc.json",
        "GET",
        f"{V3}/tickers/PF_XBTUSD",
        {},
        (),
        {"extrinsicValue", "greeks", "isUnderlyingMarketClosed"},
    ),
    ("orderbook.kraken-doc.json", "GET", f"{V3}/orderbook", {"symbol": "PF_XBTUSD"}, (), set()),
    ("history_public_trades.json", "GET", f"{V3}/history", {"symbol": "PF_XBTUSD"}, (), set()),
    (
        "historical_funding_rates.kraken-doc.json",
        "GET",
        "/derivatives/api/v4/historicalfundingrates",
        {"symbol": "PF_XBTUSD"},
        (),
        set(),
    ),
    ("feeschedules.kraken-doc.json", "GET", f"{V3}/feeschedules", {}, (), set()),
    (
        "accounts.kraken-doc.json",
        "GET",
        f"{V3}/accounts",
        {},
        (),
        # the example's legacy wallets (fv_xrpxbt, fi_bchusd…) and the options breakdown
        {
            "accounts.fv_xrpxbt",
            "accounts.fi_bchusd",
            "accounts.fi_ltcusd",
            "accounts.fi_xrpusd",
            "accounts.fi_xrpxbt",
            "accounts.fv_ethxbt",
            "portfolioMarginBreakdown",
        },
    ),
    (
        "openpositions.kraken-doc.json",
        "GET",
        f"{V3}/openpositions",
        {},
        ("OpenPositionsSuccessExample",),
        {"maxFixedLeverage", "greeks", "pnlCurrency", "unrealizedFunding"},
    ),
    (
        "openorders.kraken-doc.json",
        "GET",
        f"{V3}/openorders",
        {},
        (),
        {"stopPrice", "triggerSignal", "cliOrdId", "limitPrice", "reduceOnly"},
    ),
    ("fills.kraken-doc.json", "GET", f"{V3}/fills", {}, (), {"cliOrdId"}),
    (
        "leveragepreferences.kraken-doc.json",
        "GET",
        f"{V3}/leveragepreferences",
        {},
        ("GetLeveragePreferencesExample",),
        set(),
    ),
    (
        "pnlpreferences.kraken-doc.json",
        "GET",
        f"{V3}/pnlpreferences",
        {},
        ("GetPnlPreferencesExample",),
        set(),
    ),
    ("feeschedules_volumes.kraken-doc.json", "GET", f"{V3}/feeschedules/volumes", {}, (), set()),
]


@pytest.mark.parametrize(
    ("file", "method", "path", "params", "names", "optional"),
    CASES,
    ids=[case[0].split(".")[0] for case in CASES],
)
def test_read_endpoints_match_the_documented_shapes(
    kf: kfresearch.Client,
    file: str,
    method: str,
    path: str,
    params: dict[str, Any],
    names: tuple[str, ...],
    optional: set[str],
) -> None:
    schema = example_schema(file, *names)
    body = kf.request(
        method,
        path,
        params,
        private=path.endswith(
            ("accounts", "openpositions", "openorders", "fills", "preferences", "volumes")
        ),
    )
    if file == "orderbook.kraken-doc.json":  # the example is the bare orderBook property
        schema = {"orderBook": schema}
    found = problems(body, schema, "", optional)
    assert found == [], "\n".join(found)


ORDER_CASES = [
    (
        "sendorder.kraken-doc.json",
        "PlacedOrderExample",
        "sendorder",
        {
            "orderType": "lmt",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "size": 0.001,
            "limitPrice": "BID",
        },
        {"cliOrdId", "reducedQuantity"},
    ),
    (
        "sendorder.kraken-doc.json",
        "ExecutedOrderExample",
        "sendorder",
        {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell", "size": 0.001},
        {"cliOrdId", "takerReducedQuantity", "orderPriorEdit", "reducedQuantity"},
    ),
    (
        "sendorder.kraken-doc.json",
        "RejectedOrderExample",
        "sendorder",
        {
            "orderType": "ioc",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "size": 0.001,
            "limitPrice": "BID",
        },
        {"cliOrdId", "reducedQuantity", "order_id"},
    ),
    (
        "cancelallordersafter.kraken-doc.json",
        "CancelAllOrdersAfterSuccessExample",
        "cancelallordersafter",
        {"timeout": 60},
        set(),
    ),
]


@pytest.mark.parametrize(
    ("file", "name", "endpoint", "params", "optional"),
    ORDER_CASES,
    ids=[case[1] for case in ORDER_CASES],
)
def test_order_endpoints_match_the_documented_shapes(
    kf: kfresearch.Client,
    file: str,
    name: str,
    endpoint: str,
    params: dict[str, Any],
    optional: set[str],
) -> None:
    schema = example_schema(file, name)
    params = {k: _resting_bid(kf) if v == "BID" else v for k, v in params.items()}
    body = kf.request("POST", f"{V3}/{endpoint}", params)
    if name != "CancelAllOrdersAfterSuccessExample":
        expected = {
            "PlacedOrderExample": "placed",
            "ExecutedOrderExample": "placed",
            "RejectedOrderExample": "iocWouldNotExecute",
        }[name]
        assert body["sendStatus"]["status"] == expected
    found = problems(body, schema, "", optional)
    assert found == [], "\n".join(found)


def _resting_bid(kf: kfresearch.Client) -> int:
    """A buy price 3 % under the mark: rests, inside the price collar."""
    mark = float(kf.request("GET", f"{V3}/tickers/PF_XBTUSD")["ticker"]["markPrice"])
    return round(mark * 0.97)


def test_cancel_edit_and_batch_match_the_documented_shapes(kf: kfresearch.Client) -> None:
    bid = _resting_bid(kf)
    placed = kf.request(
        "POST",
        f"{V3}/sendorder",
        {
            "orderType": "lmt",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "size": 0.001,
            "limitPrice": bid,
        },
    )
    order_id = placed["sendStatus"]["order_id"]
    assert placed["sendStatus"]["status"] == "placed"
    edited = kf.request("POST", f"{V3}/editorder", {"orderId": order_id, "limitPrice": bid + 1})
    found = problems(
        edited, example_schema("editorder.kraken-doc.json"), "", {"cliOrdId", "reducedQuantity"}
    )
    cancelled = kf.request("POST", f"{V3}/cancelorder", {"order_id": order_id})
    found += problems(cancelled, example_schema("cancelorder.kraken-doc.json"), "", {"cliOrdId"})
    batch = json.dumps(
        {
            "batchOrder": [
                {
                    "order": "send",
                    "order_tag": "1",
                    "orderType": "lmt",
                    "symbol": "PF_XBTUSD",
                    "side": "buy",
                    "size": 0.001,
                    "limitPrice": bid,
                    "cliOrdId": "b-1",
                },
                {"order": "cancel", "cliOrdId": "b-1"},
            ]
        }
    )
    found += problems(
        kf.request("POST", f"{V3}/batchorder", {"json": batch}),
        example_schema("batchorder.kraken-doc.json"),
        "",
        {"cliOrdId", "reducedQuantity"},
    )
    kf.request(
        "POST",
        f"{V3}/sendorder",
        {
            "orderType": "lmt",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "size": 0.001,
            "limitPrice": bid,
        },
    )
    everything = kf.request("POST", f"{V3}/cancelallorders", {})
    # the fixture's stop order is a trigger: its CANCEL event carries orderTrigger, not order (§4.12)
    assert any("orderTrigger" in event for event in everything["cancelStatus"]["orderEvents"])
    found += problems(
        everything,
        example_schema("cancelallorders.kraken-doc.json"),
        "",
        {"cliOrdId", "cancelStatus.orderEvents[].order"},
    )
    assert found == [], "\n".join(found)


def test_candles_match_the_documented_shape(kf: kfresearch.Client) -> None:
    body = kf.request("GET", "/api/charts/v1/trade/PF_XBTUSD/1h", {"from": 1793400000})
    assert problems(body, example_schema("charts_candles.json"), "", set()) == []
    assert body["candles"], "the window holds candles"


# The history service has no example bodies in the reference; these schemas are
# written from its field lists (§4.7, §4.25). Timestamps and len are strings there.
ACCOUNT_LOG = {
    "accountUid": "string",
    "logs": [
        "array",
        {
            "id": "number",
            "booking_uid": "string",
            "date": "string",
            "asset": "string",
            "info": "string",
            "margin_account": "string",
            "?contract": "string",
            "?collateral": "string",
            "?execution": "string",
            "fee": "number",
            "funding_rate": "number",
            "mark_price": "number",
            "trade_price": "number",
            "old_balance": "number",
            "new_balance": "number",
            "old_average_entry_price": "number",
            "new_average_entry_price": "number",
            "realized_pnl": "number",
            "realized_funding": "number",
            "?conversion_spread_percentage": "number",
            "?liquidation_fee": "number",
        },
    ],
}
ORDER = {
    "uid": "string",
    "tradeable": "string",
    "direction": "string",
    "quantity": "number",
    "timestamp": "string",
    "limitPrice": "number",
    "orderType": "string",
    "reduceOnly": "bool",
    "lastUpdateTimestamp": "string",
}
MARKET_EXECUTIONS = {
    "elements": [
        "array",
        {
            "uid": "string",
            "timestamp": "string",
            "event": {
                "Execution": {
                    "execution": {
                        "uid": "string",
                        "makerOrder": ORDER,
                        "takerOrder": ORDER,
                        "timestamp": "string",
                        "quantity": "number",
                        "price": "number",
                        "markPrice": "number",
                        "limitFilled": "bool",
                        "usdValue": "number",
                    },
                    "takerReducedQuantity": "string",
                }
            },
        },
    ],
    "len": "string",
}


def test_history_bodies_match_the_reference_field_lists(kf: kfresearch.Client) -> None:
    log = kf.request("GET", "/api/history/v3/account-log", {"count": 50}, private=True)
    assert log["logs"], "the fixture's trades and funding wrote the log"
    # each entry fills only the fields of its kind (a fee row has no trade price…)
    kind_specific = {
        "fee",
        "funding_rate",
        "mark_price",
        "trade_price",
        "old_balance",
        "new_balance",
        "old_average_entry_price",
        "new_average_entry_price",
        "realized_pnl",
        "realized_funding",
        "conversion_spread_percentage",
        "liquidation_fee",
        "execution",
        "contract",
        "collateral",
    }
    found = problems(log, ACCOUNT_LOG, "", kind_specific)
    assert {"futures trade", "funding rate change"} <= {entry["info"] for entry in log["logs"]}
    market = kf.request("GET", "/api/history/v3/market/PF_XBTUSD/executions", {"count": 20})
    assert market["elements"]
    assert market["len"] == "20"
    found += problems(market, MARKET_EXECUTIONS, "", set())
    assert all(
        isinstance(e["timestamp"], str) and e["timestamp"].isdigit() for e in market["elements"]
    )
    assert found == [], "\n".join(found)
