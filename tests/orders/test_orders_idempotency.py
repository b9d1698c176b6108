"""Never two orders for one intent: unknown outcomes are resolved by client order id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import kfresearch
from kfresearch.errors import OrderRejected, OutcomeUnknownError
from kfresearch.orders import Cancel, Send
from kfresearch.orders import Edit as EditOrder
from kfresearch.orders.plans import plan_cancel, plan_edit, plan_place
from kfresearch.plans import Call
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault

INSTRUMENTS = {"instruments": [{"symbol": "PF_XBTUSD", "tickSize": 1,
                                "contractValueTradePrecision": 4, "maxPositionSize": 1e6}]}


def test_200_intents_with_20_percent_timeouts_make_exactly_200_orders(
    kf: kfresearch.Client, ex: SimExchange, acct: Any, recorder: Any
) -> None:
    ex.add_fault(Fault("drop_after", path="/sendorder", probability=0.2))
    results = [
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60000 + i) for i in range(200)
    ]
    resolved = [r for r in results if r.resolved]
    assert 20 <= len(resolved) <= 70  # about 20 % timed out after the engine accepted them
    assert len(acct.orders) == 200
    assert len(acct.open_orders) == 200
    assert len({o.cli_ord_id for o in acct.orders.values()}) == 200
    assert {r.order_id for r in results} == set(acct.orders)
    assert sorted(o.limit_price for o in acct.orders.values()) == [60000.0 + i for i in range(200)]
    assert recorder.paths().count("sendorder") == 200  # resolved by lookup, never re-sent
    assert all(r.status == "placed" for r in resolved)


def test_a_market_order_that_timed_out_is_found(kf: kfresearch.Client, ex: SimExchange,
                                                acct: Any) -> None:
    ex.add_fault(Fault("drop_after", path="/sendorder", count=1))
    result = kf.place_order("PF_XBTUSD", "buy", 0.001, "mkt")
    assert result.resolved
    assert result.status == "filled"
    assert result.filled == 0.001
    assert len(acct.orders) == 1
    assert len(acct.fills) == 1


def test_timeouts_before_processing_are_sent_again_with_the_same_id(
    kf: kfresearch.Client, ex: SimExchange, acct: Any
) -> None:
    # a 503 answer means "not processed": the lookup finds nothing, the order goes again
    ex.add_fault(Fault("status", path="/sendorder", count=1, status=503))
    result = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    assert result.ok
    assert result.resolved
    assert len(acct.orders) == 1


def test_a_rejected_order_behind_a_timeout_still_raises(kf: kfresearch.Client,
                                                         ex: SimExchange) -> None:
    # the simulator keeps no client id for a rejected order: the lookup finds nothing, the
    # same order (same client id) goes once more and its rejection is reported
    ex.add_fault(Fault("drop_after", path="/sendorder", count=1))
    with pytest.raises(OrderRejected) as info:
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=79102, post_only=True)
    assert info.value.status == "postWouldExecute"


def test_cancel_after_a_timeout(kf: kfresearch.Client, ex: SimExchange, acct: Any) -> None:
    order = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    ex.add_fault(Fault("drop_after", path="/cancelorder", count=1))
    result = kf.cancel_order(order.order_id)
    assert result.status == "cancelled"
    assert result.resolved
    assert acct.open_orders == {}


def test_cancel_all_after_a_timeout(kf: kfresearch.Client, ex: SimExchange, acct: Any) -> None:
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    ex.add_fault(Fault("drop_after", path="/cancelallorders", count=1))
    assert kf.cancel_all().resolved
    assert acct.open_orders == {}


def test_batch_after_a_timeout_is_resolved_per_item(kf: kfresearch.Client, ex: SimExchange,
                                                    acct: Any) -> None:
    old = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=69000)
    ex.add_fault(Fault("drop_after", path="/batchorder", count=1))
    result = kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
                       Send("PF_XBTUSD", "buy", 0.001, limit_price=70001), Cancel(old.order_id)])
    assert result.resolved
    assert [r.status for r in result] == ["placed", "placed", "cancelled"]
    assert len(acct.orders) == 3
    assert len(acct.open_orders) == 2


def test_edit_after_a_timeout(kf: kfresearch.Client, ex: SimExchange) -> None:
    order = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    ex.add_fault(Fault("drop_after", path="/editorder", count=1))
    result = kf.edit_order(order.order_id, limit_price=70200)
    assert result.status == "edited"
    assert result.resolved
    assert result.limit_price == 70200.0


# --- the lookup's fallbacks, driven by hand ------------------------------------------------


class Driver:
    """Feed a plan canned bodies (or errors) and record what it asks."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.asked: list[list[Call]] = []
        self.calls = next(plan)
        self.asked.append(self.calls)

    def answer(self, *bodies: Any) -> Any:
        return self._step(lambda: self.plan.send(list(bodies)))

    def fail(self, error: BaseException) -> Any:
        return self._step(lambda: self.plan.throw(error))

    def _step(self, action: Any) -> Any:
        try:
            self.calls = action()
        except StopIteration as done:
            return done.value
        self.asked.append(self.calls)
        return None

    @property
    def last(self) -> list[str]:
        return [c.endpoint.name for c in self.calls]


def unknown() -> OutcomeUnknownError:
    return OutcomeUnknownError("dropped", client_order_id="kfr-x")


def placed(cli: str = "kfr-x") -> dict[str, Any]:
    return {"sendStatus": {"order_id": "o-1", "cliOrdId": cli, "status": "placed",
                           "orderEvents": []}}


@pytest.fixture
def place() -> Iterator[Driver]:
    plan = plan_place(Send("PF_XBTUSD", "buy", 0.001, "mkt"), instruments_body=INSTRUMENTS,
                      client_order_id="kfr-x", validate=False)
    driver = Driver(plan)
    assert driver.last == ["sendorder"]
    assert driver.calls[0].params["cliOrdId"] == "kfr-x"
    return driver


def test_lookup_falls_back_to_open_orders(place: Driver) -> None:
    place.fail(unknown())
    assert place.last == ["order_status"]
    assert place.calls[0].params == {"cliOrdIds": ["kfr-x"]}
    place.answer({"orders": []})
    assert place.last == ["openorders"]
    result = place.answer({"openOrders": [{"order_id": "o-9", "cliOrdId": "kfr-x",
                                           "symbol": "PF_XBTUSD", "side": "buy",
                                           "filledSize": "0", "unfilledSize": "0.001"}]})
    assert result.order_id == "o-9"
    assert result.resolved
    assert result.status == "placed"


def test_lookup_falls_back_to_fills(place: Driver) -> None:
    place.fail(unknown())
    place.answer({"orders": []})
    place.answer({"openOrders": []})
    assert place.last == ["fills"]
    result = place.answer({"fills": [
        {"order_id": "o-7", "cliOrdId": "kfr-x", "symbol": "PF_XBTUSD", "side": "buy",
         "size": "0.0006", "price": "79100", "fillTime": "2026-11-01T00:00:00.000Z"},
        {"order_id": "o-7", "cliOrdId": "kfr-x", "symbol": "PF_XBTUSD", "side": "buy",
         "size": "0.0004", "price": "79110", "fillTime": "2026-11-01T00:00:00.000Z"},
        {"order_id": "other", "cliOrdId": "kfr-y", "size": "1", "price": "1"},
    ]})
    assert result.order_id == "o-7"
    assert result.filled == pytest.approx(0.001)
    assert result.avg_fill_price == pytest.approx(79104.0)


def test_not_found_is_sent_again_with_the_same_id_once(place: Driver) -> None:
    place.fail(unknown())
    place.answer({"orders": []})
    place.answer({"openOrders": []})
    place.answer({"fills": []})
    assert place.last == ["sendorder"]
    assert place.calls[0].params["cliOrdId"] == "kfr-x"
    place.fail(unknown())
    place.answer({"orders": []})
    place.answer({"openOrders": []})
    with pytest.raises(OutcomeUnknownError, match="sent 2 times with that id") as info:
        place.answer({"fills": []})
    assert info.value.client_order_id == "kfr-x"


def test_a_late_first_copy_is_found_not_duplicated(place: Driver) -> None:
    place.fail(unknown())
    place.answer({"orders": []})
    place.answer({"openOrders": []})
    place.answer({"fills": []})
    # the second send is refused: the first copy arrived after all -> look it up again
    place.answer({"sendStatus": {"status": "clientOrderIdAlreadyExist", "orderEvents": []}})
    assert place.last == ["order_status"]
    result = place.answer({"orders": [{"order": {"orderId": "o-1", "cliOrdId": "kfr-x",
                                                 "quantity": 0.001, "filled": 0.001},
                                       "status": "FULLY_EXECUTED"}]})
    assert result.order_id == "o-1"
    assert result.status == "filled"
    assert result.resolved


def test_a_failing_lookup_keeps_the_client_order_id(place: Driver) -> None:
    place.fail(unknown())
    with pytest.raises(OutcomeUnknownError, match="looking it up by client order id") as info:
        place.fail(kfresearch.NetworkError("still down"))
    assert info.value.client_order_id == "kfr-x"


def test_a_rejection_seen_in_orders_status() -> None:
    driver = Driver(plan_place(Send("PF_XBTUSD", "buy", 0.001, "mkt"),
                               instruments_body=INSTRUMENTS, client_order_id="kfr-x",
                               validate=False))
    driver.fail(unknown())
    with pytest.raises(OrderRejected) as info:
        driver.answer({"orders": [{"order": {"orderId": "o-1", "cliOrdId": "kfr-x"},
                                   "status": "REJECTED", "error": "INSUFFICIENT_MARGIN"}]})
    assert info.value.status == "insufficientAvailableFunds"


def test_an_edit_that_did_not_apply_is_not_resent() -> None:
    driver = Driver(plan_edit(EditOrder("o-1", limit_price=70200), instruments_body=None,
                              validate=False))
    assert driver.last == ["editorder"]
    driver.fail(unknown())
    with pytest.raises(OutcomeUnknownError, match="NOT re-sent"):
        driver.answer({"orders": [{"order": {"orderId": "o-1", "limitPrice": 70000,
                                             "quantity": 1, "filled": 0},
                                   "status": "ENTERED_BOOK"}]})


def test_a_cancel_whose_order_is_gone_is_reported() -> None:
    driver = Driver(plan_cancel("o-1"))
    driver.fail(unknown())
    result = driver.answer({"orders": [{"order": {"orderId": "o-1"}, "status": "CANCELLED"}]})
    assert result.action == "cancel"
    assert result.status == "cancelled"
    assert result.resolved
