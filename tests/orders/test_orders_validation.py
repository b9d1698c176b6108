"""Pure order logic: rules, every validation error and its message, parameters, results."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kfresearch.errors import OrderRejected, ValidationError
from kfresearch.orders import Edit as EditOrder
from kfresearch.orders import InstrumentRules, OrderContext, OrderResult, Send, Trailing
from kfresearch.orders.preview import preview
from kfresearch.orders.requests import check_edit, check_send, send_params
from kfresearch.orders.results import accept, result_from_status, status_frame
from kfresearch.orders.rules import rules_for
from kfresearch.orders.statuses import EXPLANATIONS, explain

XBT = InstrumentRules.from_instrument(
    {
        "symbol": "PF_XBTUSD",
        "type": "flexible_futures",
        "base": "XBT",
        "tickSize": 1,
        "contractValueTradePrecision": 4,
        "maxPositionSize": 1000000,
        "tradeable": True,
        "marginLevels": [
            {"numNonContractUnits": 0, "initialMargin": 0.02},
            {"numNonContractUnits": 500000, "initialMargin": 0.04},
        ],
    }
)
PI = InstrumentRules.from_instrument(
    {"symbol": "PI_XBTUSD", "type": "futures_inverse", "tickSize": "0.5",
     "contractValueTradePrecision": "0", "maxPositionSize": "75000000",
     "marginLevels": [{"contracts": 0, "initialMargin": 0.02}]}
)


def errors(order: Send, rules: InstrumentRules | None = XBT, **kw: Any) -> list[tuple[str, str]]:
    return [(e.field, str(e)) for e in check_send(order, rules, **kw)]


def test_rules_from_the_instrument_body() -> None:
    assert (XBT.tick_size, XBT.size_step, XBT.max_position_size) == (1.0, 0.0001, 1e6)
    assert not XBT.inverse
    assert XBT.margin_currency == "USD"
    assert PI.inverse
    assert PI.margin_currency == "XBT"
    assert PI.size_step == 1.0
    negative = InstrumentRules.from_instrument(
        {"symbol": "PF_PEPEUSD", "tickSize": 1e-9, "contractValueTradePrecision": -3}
    )
    assert negative.size_step == 1000.0  # ccxt's "negative precision markets"
    assert [e.field for e in check_send(Send("PF_PEPEUSD", "buy", 1500, limit_price=1e-5),
                                        negative)] == ["size"]


def test_rules_for_names_the_closest_symbols() -> None:
    body = {"instruments": [{"symbol": "PF_XBTUSD"}, {"symbol": "PF_ETHUSD"}]}
    assert rules_for(body, "pf_xbtusd").symbol == "PF_XBTUSD"
    with pytest.raises(ValidationError, match="did you mean PF_XBTUSD") as info:
        rules_for(body, "PF_XBTUSDT")
    assert info.value.field == "symbol"


def test_the_issue_example_message() -> None:
    assert errors(Send("PF_XBTUSD", "buy", 0.001, limit_price=88000.3)) == [
        ("limit_price",
         "limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001")
    ]


@pytest.mark.parametrize(
    ("order", "field", "words"),
    [
        (Send("PF_XBTUSD", "up", 1, limit_price=1), "side", "side must be 'buy' or 'sell'"),
        (Send("PF_XBTUSD", "buy", 1, "bogus"), "order_type", "is not one of lmt, post, ioc"),
        (Send("PF_XBTUSD", "buy", -1, limit_price=1), "size", "size must be a positive number"),
        (Send("PF_XBTUSD", "buy", "lots", limit_price=1), "size", "must be a number"),
        (Send("PF_XBTUSD", "buy", 0.00001, limit_price=70000), "size",
         "size 0.00001 is below the minimum 0.0001 for PF_XBTUSD"),
        (Send("PF_XBTUSD", "buy", 0.00015, limit_price=70000), "size",
         "not a multiple of the 0.0001 contract step for PF_XBTUSD; nearest valid: 0.0001 or "
         "0.0002"),
        (Send("PF_XBTUSD", "buy", 0.001), "limit_price", "limit_price is required for "
         "order_type 'lmt'"),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=-5), "limit_price",
         "limit_price must be a positive number"),
        (Send("PF_XBTUSD", "buy", 0.001, "mkt", limit_price=70000), "limit_price",
         "must not be set for a market order"),
        (Send("PF_XBTUSD", "buy", 0.001, "stp"), "stop_price", "stop_price (the trigger price) "
         "is required for order_type 'stp'"),
        (Send("PF_XBTUSD", "buy", 0.001, "take_profit"), "stop_price", "required"),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=7e4, stop_price=7e4), "stop_price",
         "stop_price is only for stp, take_profit"),
        (Send("PF_XBTUSD", "sell", 0.001, "stp", stop_price=70000.5), "stop_price",
         "stop_price 70000.5 is off the 1.0 tick for PF_XBTUSD; nearest valid: 70000 or 70001"),
        (Send("PF_XBTUSD", "sell", 0.001, "trailing_stop"), "trailing", "trailing is required"),
        (Send("PF_XBTUSD", "sell", 0.001, "trailing_stop", trailing="60%"), "trailing",
         "trailing deviation 60% is outside 0.1–50%"),
        (Send("PF_XBTUSD", "sell", 0.001, "trailing_stop", trailing="1%", limit_price=7e4),
         "limit_price", "a trailing_stop takes no limit_price"),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=7e4, trailing="1%"), "trailing",
         "only for order_type='trailing_stop'"),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=7e4, trigger_signal="mark"),
         "trigger_signal", "only for stp, take_profit and trailing_stop"),
        (Send("PF_XBTUSD", "buy", 0.001, "stp", stop_price=7e4, trigger_signal="moon"),
         "trigger_signal", "must be one of mark, index, last"),
        (Send("PF_XBTUSD", "buy", 0.001, "mkt", post_only=True), "post_only",
         "post_only applies to limit orders"),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=7e4, client_order_id="x" * 101),
         "client_order_id", "client_order_id is 101 characters; at most 100"),
    ],
)
def test_each_validation_error_names_field_value_and_what_is_valid(
    order: Send, field: str, words: str
) -> None:
    found = errors(order)
    assert found, "expected an error"
    assert found[0][0] == field
    assert words in found[0][1]


def test_price_collar_names_the_valid_bound() -> None:
    [(field, text)] = errors(Send("PF_XBTUSD", "buy", 0.001, limit_price=90000), mark=79100.0)
    assert field == "limit_price"
    assert "13.8% above the mark 79100" in text
    assert "highest accepted price is 87010" in text
    [(_, text)] = errors(Send("PF_XBTUSD", "sell", 0.001, limit_price=70000), mark=79100.0)
    assert "below the mark" in text
    assert "lowest accepted price is 71190" in text
    assert errors(Send("PF_XBTUSD", "buy", 0.001, limit_price=60000), mark=79100.0) == []


def test_max_position_counts_the_current_position() -> None:
    order = Send("PF_XBTUSD", "buy", 10, limit_price=70000)
    [(field, text)] = errors(order, position=999995.0)
    assert field == "size"
    assert "from 999995 to 1000005, beyond the maximum position size 1000000" in text
    assert "at most 5 more can be bought" in text
    assert errors(Send("PF_XBTUSD", "sell", 10, limit_price=70000), position=999995.0) == []
    assert errors(Send("PF_XBTUSD", "buy", 10, limit_price=7e4, reduce_only=True),
                  position=999995.0) == []


def test_not_tradeable_and_shape_only_without_rules() -> None:
    closed = InstrumentRules("PF_OLDUSD", tradeable=False)
    assert errors(Send("PF_OLDUSD", "buy", 1, limit_price=1), closed)[0][0] == "symbol"
    assert errors(Send("PF_XBTUSD", "buy", 0.00015, limit_price=1.5), None) == []


def test_aliases_and_post_only_normalise() -> None:
    assert Send("pf_xbtusd", "BUY", 1, "Limit", post_only=True).normalised().order_type == "post"
    assert Send("X", "sell", 1, "market").normalised().order_type == "mkt"
    assert Send("X", "sell", 1, "stop", trigger_signal="spot").normalised().trigger_signal == (
        "index"
    )


def test_trailing_parsing() -> None:
    assert Trailing.parse("2%") == Trailing(2.0, "percent")
    assert Trailing.parse("250 USD") == Trailing(250.0, "quote")
    assert Trailing.parse((1, "quote")).params() == {
        "trailingStopMaxDeviation": 1.0, "trailingStopDeviationUnit": "QUOTE_CURRENCY"}
    with pytest.raises(ValueError, match=r"give '1\.5%'"):
        Trailing.parse(3)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
         {"orderType": "lmt", "limitPrice": 70000.0}),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=70000, post_only=True),
         {"orderType": "post"}),
        (Send("PF_XBTUSD", "buy", 0.001, "ioc", limit_price=70000), {"orderType": "ioc"}),
        (Send("PF_XBTUSD", "buy", 0.001, "fok", limit_price=70000), {"orderType": "fok"}),
        (Send("PF_XBTUSD", "buy", 0.001, "market"), {"orderType": "mkt"}),
        (Send("PF_XBTUSD", "sell", 0.001, "stp", stop_price=70000, limit_price=69000,
              trigger_signal="last"),
         {"orderType": "stp", "stopPrice": 70000.0, "limitPrice": 69000.0,
          "triggerSignal": "last"}),
        (Send("PF_XBTUSD", "sell", 0.001, "take_profit", stop_price=90000, reduce_only=True),
         {"orderType": "take_profit", "stopPrice": 90000.0, "reduceOnly": True}),
        (Send("PF_XBTUSD", "sell", 0.001, "trailing_stop", trailing="1%"),
         {"orderType": "trailing_stop", "trailingStopMaxDeviation": 1.0,
          "trailingStopDeviationUnit": "PERCENT"}),
        (Send("PF_XBTUSD", "buy", 0.001, limit_price=7e4,
              process_before="2026-11-01T00:00:05Z"),
         {"processBefore": "2026-11-01T00:00:05.000Z"}),
    ],
)
def test_wire_parameters_per_order_type(order: Send, expected: dict[str, Any]) -> None:
    params = send_params(order, "kfr-1", XBT)
    assert params["cliOrdId"] == "kfr-1"
    assert params["symbol"] == "PF_XBTUSD"
    assert params | expected == params
    if order.order_type in {"market", "trailing_stop"}:
        assert "limitPrice" not in params
        assert "stopPrice" not in params


def test_sizes_lose_float_dust() -> None:
    assert send_params(Send("PF_XBTUSD", "buy", 0.1 + 0.2, limit_price=1), None, XBT)["size"] == 0.3


def test_edit_checks() -> None:
    assert [e.field for e in check_edit(EditOrder())] == ["order_id", "size"]
    found = check_edit(EditOrder("o1", limit_price=70000.5), XBT)
    assert "off the 1.0 tick" in str(found[0])
    assert check_edit(EditOrder("o1", size=0.002, limit_price=70000), XBT) == []
    collar = check_edit(EditOrder("o1", limit_price=99000), XBT, side="buy", mark=79000,
                        collar=True)
    assert "outsidePriceCollar" in str(collar[0])


def test_every_documented_status_is_explained() -> None:
    spec = (
        "placed partiallyFilled filled cancelled edited marketSuspended marketInactive "
        "invalidPrice invalidSize tooManySmallOrders insufficientAvailableFunds "
        "wouldCauseLiquidation clientOrderIdAlreadyExist clientOrderIdTooBig "
        "clientOrderIdTooLong maxPositionViolation outsidePriceCollar "
        "wouldIncreasePriceDislocation notFound orderForEditNotAStop orderForEditNotFound "
        "postWouldExecute iocWouldNotExecute selfFill wouldNotReducePosition marketIsPostOnly "
        "tooManyOrders fixedLeverageTooHigh clientOrderIdInvalid "
        "cannotEditTriggerPriceOfTrailingStop cannotEditLimitPriceOfTrailingStop "
        "wouldProcessAfterSpecifiedTime invalidOrderType invalidSide noOrdersToCancel"
    ).split()
    assert set(spec) <= set(EXPLANATIONS)
    assert explain("filled", "cancel").startswith("Too late to cancel")
    assert "does not know" in explain("somethingNew")


def test_result_from_the_reference_examples(examples: Any) -> None:

    doc = examples("sendorder")["examples"]
    placed = result_from_status("send", doc["PlacedOrderExample"]["sendStatus"])
    assert (placed.ok, placed.order_id, placed.size, placed.limit_price) == (
        True, "179f9af8-e45e-469d-b3e9-2fd4675cb7d0", 10000.0, 9400.0)
    executed = result_from_status("send", doc["ExecutedOrderExample"]["sendStatus"])
    assert executed.filled == 10
    assert executed.avg_fill_price == 7244.5
    rejected = result_from_status("send", doc["RejectedOrderExample"]["sendStatus"])
    assert not rejected.ok
    assert rejected.status == "iocWouldNotExecute"
    edit = result_from_status("edit", examples("editorder")["examples"]["EditOrderExample"][
        "editStatus"])
    assert (edit.ok, edit.size, edit.limit_price) == (True, 1501.0, 7200.0)
    cancel = result_from_status("cancel", examples("cancelorder")["examples"][
        "CancelOrderExample"]["cancelStatus"])
    assert (cancel.ok, cancel.client_order_id) == (True, "1234568")


def test_outcome_says_what_happened_from_the_events(examples: Any) -> None:
    from kfresearch.orders.results import result_from_status

    doc = examples("sendorder")["examples"]
    # all three are "placed" or a rejection; the events tell them apart
    placed = result_from_status("send", doc["PlacedOrderExample"]["sendStatus"])
    assert placed.outcome() == "Resting on the book at 9400; nothing filled yet."
    executed = result_from_status("send", doc["ExecutedOrderExample"]["sendStatus"])
    assert executed.outcome() == "Filled 10 at 7244.5."
    assert executed.outcome(lambda p: f"{p:,.2f} USD") == "Filled 10 at 7,244.50 USD."
    rejected = result_from_status("send", doc["RejectedOrderExample"]["sendStatus"])
    assert rejected.outcome() == rejected.explanation
    assert "placed" not in placed.outcome()
    partial = result_from_status("send", {
        "status": "placed",
        "orderEvents": [
            {"type": "EXECUTION", "price": 100.0, "amount": 2},
            {"type": "PLACE", "order": {"quantity": 5, "filled": 2, "limitPrice": 100.0}},
        ],
    })
    assert partial.outcome() == "Partly filled: 2 of 5 at 100; 3 rests on the book at 100."
    trigger = result_from_status("send", {
        "status": "placed",
        "orderEvents": [{"type": "PLACE", "orderTrigger": {
            "quantity": 1, "triggerPrice": 60000, "triggerSignal": "last_price"}}],
    })
    assert trigger.outcome() == "Waiting for its trigger: last price at 60000."


EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples"


@pytest.fixture
def examples() -> Any:
    if not EXAMPLES.is_dir():
        pytest.skip(f"the reference examples are not at {EXAMPLES}")

    def load(name: str) -> Any:
        return json.loads((EXAMPLES / f"{name}.kraken-doc.json").read_text())

    return load


def test_result_frame_and_repr_are_stable() -> None:
    result = OrderResult("send", "placed", "o-1", "kfr-1", "PF_XBTUSD", "buy", "lmt", 0.001,
                         limit_price=70000.0,
                         received_time=pd.Timestamp("2026-11-01", tz="UTC"))
    frame = result.to_frame()
    assert frame.index.tolist() == ["o-1"]
    assert frame.index.name == "order_id"
    assert frame.loc["o-1", "status"] == "placed"
    assert bool(frame.loc["o-1", "ok"])
    assert str(frame["received_time"].dtype) == "datetime64[ns, UTC]"
    assert repr(result) == (
        "<OrderResult placed: buy 0.001 PF_XBTUSD lmt @ 70000, filled 0, order_id='o-1'>"
    )
    assert "0x" not in repr(result)
    assert "<table" in result._repr_html_()


def test_status_frame() -> None:
    body = {"orders": [{"order": {"type": "TRIGGER_ORDER", "orderId": "o1", "cliOrdId": "c1",
                                  "symbol": "PF_XBTUSD", "side": "sell", "quantity": 1,
                                  "filled": 0, "limitPrice": None, "reduceOnly": True,
                                  "timestamp": "2026-11-01T00:00:00.000Z",
                                  "priceTriggerOptions": {"triggerPrice": 70000,
                                                          "triggerSide": "TRIGGER_BELOW",
                                                          "triggerSignal": "MARK_PRICE"}},
                        "status": "TRIGGER_PLACED", "updateReason": "NEW_USER_ORDER",
                        "error": None}]}
    frame = status_frame(body)
    row = frame.loc["o1"]
    assert (row["trigger_price"], row["status"], row["client_order_id"]) == (
        70000.0, "TRIGGER_PLACED", "c1")
    empty = status_frame({"orders": []})
    assert list(empty.columns) == list(frame.columns)
    assert len(empty) == 0


def test_preview_estimates() -> None:
    ctx = OrderContext(XBT, bid=79999, ask=80001, mark=80000, position=0.1)
    view = preview(Send("PF_XBTUSD", "buy", 0.5, limit_price=79000), ctx)
    assert view.ok
    assert view.liquidity == "maker"
    assert view.notional_usd == pytest.approx(39500.0)
    assert view.initial_margin == pytest.approx(0.5 * 79000 * 0.02)
    assert view.fee == pytest.approx(39500 * 0.0002)
    assert view.distance_bps == pytest.approx(-125.0)
    assert view.resulting_position == pytest.approx(0.6)
    crossing = preview(Send("PF_XBTUSD", "sell", 0.05, limit_price=79000), ctx)
    assert crossing.liquidity == "taker"
    assert crossing.initial_margin == 0.0
    capped = preview(Send("PF_XBTUSD", "sell", 1, "mkt", reduce_only=True), ctx)
    assert capped.resulting_position == 0.0
    bad = preview(Send("PF_XBTUSD", "buy", 0.00015, limit_price=79000.5), ctx)
    assert set(bad.errors_by_field()) == {"size", "limit_price"}
    inverse = preview(Send("PI_XBTUSD", "buy", 1000, "mkt"),
                      OrderContext(PI, bid=79999, ask=80001, mark=80000))
    assert inverse.notional_usd == 1000
    assert inverse.fee == pytest.approx(1000 * 0.0005 / 80001)
    assert math.isclose(inverse.initial_margin, 1000 * 0.02 / 80001)


def test_rejected_raises_with_status_and_explanation() -> None:

    result = OrderResult("send", "postWouldExecute")
    with pytest.raises(OrderRejected) as info:
        accept(result, "POST /derivatives/api/v3/sendorder", {})
    assert info.value.status == "postWouldExecute"
    assert "buy below the best ask" in info.value.explanation
    assert "postWouldExecute" in str(info.value)
