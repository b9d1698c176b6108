"""The order API on the simulator: every order type, every rejection status the simulator
produces, edits, cancels, the dead man's switch, batches and the async twins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

import kfresearch
from kfresearch.errors import OrderRejected, ValidationError
from kfresearch.orders import BatchResult, Cancel, Edit, OrderResult, Send
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.exchange import SimExchange

# The seeded market at 2026-11-01T00:00:00Z: PF_XBTUSD bid 79099, ask 79102, mark ~79100.8.
BID, ASK = 79099.0, 79102.0


def sends(recorder: Any) -> int:
    return recorder.paths().count("sendorder")


@pytest.mark.parametrize(
    ("kwargs", "engine_type", "resting"),
    [
        ({"order_type": "lmt", "limit_price": 70000}, "lmt", True),
        ({"order_type": "lmt", "limit_price": 70000, "post_only": True}, "post", True),
        ({"order_type": "ioc", "limit_price": ASK}, "ioc", False),
        ({"order_type": "fok", "limit_price": ASK}, "fok", False),
        ({"order_type": "mkt"}, "mkt", False),
        ({"order_type": "stp", "stop_price": 90000, "trigger_signal": "last"}, "stp", True),
        ({"order_type": "take_profit", "stop_price": 70000, "limit_price": 70010},
         "take_profit", True),
        ({"order_type": "trailing_stop", "trailing": "2%"}, "trailing_stop", True),
    ],
)
def test_each_order_type_reaches_the_simulator(
    kf: kfresearch.Client, acct: Any, kwargs: dict[str, Any], engine_type: str, resting: bool
) -> None:
    result = kf.place_order("PF_XBTUSD", "buy", 0.001, **kwargs)
    assert isinstance(result, OrderResult)
    assert result.ok
    assert result.status == "placed"
    order = acct.orders[result.order_id]
    assert order.order_type == engine_type
    assert order.cli_ord_id == result.client_order_id
    assert result.client_order_id.startswith("kfr-")
    assert (result.order_id in acct.open_orders) is resting
    if not resting:
        assert result.filled == pytest.approx(0.001)
        assert result.avg_fill_price >= BID
    frame = result.to_frame()
    assert frame.index.tolist() == [result.order_id]
    assert frame.loc[result.order_id, "ok"]


def test_client_order_ids_are_reproducible_on_the_seeded_sim(ex: SimExchange) -> None:
    other = SimExchange(seed=1, clock=ex.clock, rate_clock=lambda: 0.0)
    first = kfresearch.Client("sim", exchange=ex, limiter=RateLimiter.unlimited())
    second = kfresearch.Client("sim", exchange=other, limiter=RateLimiter.unlimited())
    a = first.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    b = second.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    assert (a.order_id, a.client_order_id) == (b.order_id, b.client_order_id)
    # clients of one exchange share the id stream: no collision
    third = kfresearch.Client("sim", exchange=ex, limiter=RateLimiter.unlimited())
    assert third.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000).ok


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": 0.00015, "limit_price": 70000}, "size"),
        ({"size": 0.00001, "limit_price": 70000}, "size"),
        ({"size": 0.001, "limit_price": 70000.3}, "limit_price"),
        ({"size": 0.001, "limit_price": 95000}, "limit_price"),  # price collar
        ({"size": 2_000_000, "limit_price": 70000}, "size"),  # max position
        ({"size": 0.001, "order_type": "stp"}, "stop_price"),
        ({"size": 0.001, "order_type": "mkt", "limit_price": 1}, "limit_price"),
        ({"size": 0.001, "symbol": "PF_XBTUSDX", "limit_price": 70000}, "symbol"),
        ({"size": 0.001, "side": "long", "limit_price": 70000}, "side"),
    ],
)
def test_validation_errors_send_nothing(
    kf: kfresearch.Client, recorder: Any, kwargs: dict[str, Any], field: str
) -> None:
    args = {"symbol": "PF_XBTUSD", "side": "buy"} | kwargs
    with pytest.raises(ValidationError) as info:
        kf.place_order(**args)
    assert info.value.field == field
    assert sends(recorder) == 0


def _position(kf: kfresearch.Client, size: float = 0.01) -> None:
    kf.place_order("PF_XBTUSD", "buy", size, "mkt")


# Each case: (setup(kf), place_order kwargs) -> the status the simulator answers.
SEND_REJECTIONS: list[tuple[str, Callable[[kfresearch.Client], Any], dict[str, Any]]] = [
    ("wouldProcessAfterSpecifiedTime", lambda kf: None,
     {"limit_price": 70000, "process_before": "2026-10-31T23:59:00Z"}),
    ("invalidOrderType", lambda kf: None, {"order_type": "bogus", "validate": False}),
    ("invalidSide", lambda kf: None, {"side": "long", "limit_price": 1, "validate": False}),
    ("marketInactive", lambda kf: None,
     {"symbol": "PF_NOPEUSD", "limit_price": 1, "validate": False}),
    ("clientOrderIdTooLong", lambda kf: None,
     {"limit_price": 70000, "client_order_id": "x" * 101, "validate": False}),
    ("clientOrderIdAlreadyExist",
     lambda kf: kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=60000,
                               client_order_id="mine-1"),
     {"limit_price": 70000, "client_order_id": "mine-1"}),
    ("invalidSize", lambda kf: None, {"size": 0.00015, "limit_price": 70000, "validate": False}),
    ("invalidPrice", lambda kf: None, {"limit_price": 70000.5, "validate": False}),
    ("outsidePriceCollar", lambda kf: None, {"limit_price": 95000, "validate": False}),
    ("wouldNotReducePosition", lambda kf: None, {"order_type": "mkt", "reduce_only": True}),
    ("maxPositionViolation", lambda kf: None,
     {"size": 2_000_000, "limit_price": 1000, "validate": False}),
    ("insufficientAvailableFunds", lambda kf: None, {"size": 100, "limit_price": 70000}),
    ("postWouldExecute", lambda kf: None, {"limit_price": ASK, "post_only": True}),
    ("selfFill", lambda kf: kf.place_order("PF_XBTUSD", "sell", 0.001, limit_price=ASK),
     {"limit_price": ASK}),
    ("iocWouldNotExecute", lambda kf: None, {"order_type": "ioc", "limit_price": 70000}),
    ("iocWouldNotExecute", lambda kf: None,  # fok larger than the best level
     {"order_type": "fok", "size": 5, "limit_price": ASK}),
]


@pytest.mark.parametrize(("status", "setup", "kwargs"), SEND_REJECTIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SEND_REJECTIONS)])
def test_each_send_rejection_raises_order_rejected(
    kf: kfresearch.Client, status: str, setup: Callable[[kfresearch.Client], Any],
    kwargs: dict[str, Any],
) -> None:
    setup(kf)
    args = {"symbol": "PF_XBTUSD", "side": "buy", "size": 0.001} | kwargs
    with pytest.raises(OrderRejected) as info:
        kf.place_order(**args)
    assert info.value.status == status
    assert info.value.explanation
    assert info.value.explanation in str(info.value)
    assert info.value.endpoint == "POST /derivatives/api/v3/sendorder"


def _resting(kf: kfresearch.Client, **kw: Any) -> OrderResult:
    args = {"symbol": "PF_XBTUSD", "side": "buy", "size": 0.001, "limit_price": 70000} | kw
    return kf.place_order(**args)


def test_edit_and_its_result(kf: kfresearch.Client, acct: Any) -> None:
    order = _resting(kf)
    edited = kf.edit_order(order.order_id, limit_price=70500, size=0.002)
    assert edited.ok
    assert edited.status == "edited"
    assert edited.action == "edit"
    assert (edited.limit_price, edited.size) == (70500.0, 0.002)
    assert acct.orders[order.order_id].limit_price == 70500.0
    by_client_id = kf.edit_order(client_order_id=order.client_order_id, limit_price=70400)
    assert by_client_id.ok
    assert acct.orders[order.order_id].limit_price == 70400.0


def test_edit_validation_uses_the_orders_contract(kf: kfresearch.Client, recorder: Any) -> None:
    order = _resting(kf)
    with pytest.raises(ValidationError, match=r"off the 1\.0 tick for PF_XBTUSD") as info:
        kf.edit_order(order.order_id, limit_price=70500.5)
    assert info.value.field == "limit_price"
    with pytest.raises(ValidationError, match="outsidePriceCollar"):
        kf.edit_order(order.order_id, limit_price=95000)
    with pytest.raises(ValidationError, match="nothing to change"):
        kf.edit_order(order.order_id)
    assert "editorder" not in recorder.paths()


EDIT_REJECTIONS: list[tuple[str, Callable[[kfresearch.Client], str], dict[str, Any]]] = [
    ("orderForEditNotFound", lambda kf: "00000000-0000-4000-8000-000000000000",
     {"limit_price": 70000}),
    ("orderForEditNotAStop", lambda kf: _resting(kf).order_id, {"stop_price": 65000}),
    ("cannotEditTriggerPriceOfTrailingStop",
     lambda kf: kf.place_order("PF_XBTUSD", "sell", 0.001, "trailing_stop",
                               trailing="1%").order_id, {"stop_price": 65000}),
    ("cannotEditLimitPriceOfTrailingStop",
     lambda kf: kf.place_order("PF_XBTUSD", "sell", 0.001, "trailing_stop",
                               trailing="1%").order_id, {"limit_price": 65000}),
    ("invalidSize", lambda kf: _resting(kf).order_id, {"size": 0.00015, "validate": False}),
    ("invalidPrice", lambda kf: _resting(kf).order_id,
     {"limit_price": 70000.5, "validate": False}),
    ("outsidePriceCollar", lambda kf: _resting(kf).order_id,
     {"limit_price": 95000, "validate": False}),
    ("insufficientAvailableFunds", lambda kf: _resting(kf).order_id, {"size": 100}),
    ("postWouldExecute", lambda kf: _resting(kf, post_only=True).order_id,
     {"limit_price": ASK + 5}),
    ("selfFill",
     lambda kf: (kf.place_order("PF_XBTUSD", "sell", 0.001, limit_price=ASK),
                 _resting(kf))[1].order_id, {"limit_price": ASK}),
    ("wouldNotReducePosition",
     lambda kf: (_position(kf), _resting(kf, side="sell", size=0.01, limit_price=85000,
                                          reduce_only=True))[1].order_id, {"size": 0.02}),
]


@pytest.mark.parametrize(("status", "setup", "kwargs"), EDIT_REJECTIONS,
                         ids=[c[0] for c in EDIT_REJECTIONS])
def test_each_edit_rejection_raises_order_rejected(
    kf: kfresearch.Client, status: str, setup: Callable[[kfresearch.Client], str],
    kwargs: dict[str, Any],
) -> None:
    order_id = setup(kf)
    with pytest.raises(OrderRejected) as info:
        kf.edit_order(order_id, **kwargs)
    assert info.value.status == status
    assert info.value.endpoint == "POST /derivatives/api/v3/editorder"


def test_cancel_and_its_rejections(kf: kfresearch.Client, acct: Any) -> None:
    order = _resting(kf)
    cancelled = kf.cancel_order(order.order_id)
    assert cancelled.ok
    assert cancelled.status == "cancelled"
    assert order.order_id not in (
        acct.open_orders)
    with pytest.raises(OrderRejected) as info:
        kf.cancel_order(order.order_id)
    assert info.value.status == "notFound"
    assert "already cancelled" in info.value.explanation
    filled = kf.place_order("PF_XBTUSD", "buy", 0.001, "mkt")
    with pytest.raises(OrderRejected) as info:
        kf.cancel_order(filled.order_id)
    assert info.value.status == "filled"
    assert info.value.explanation.startswith("Too late")
    by_client_id = _resting(kf, client_order_id="to-cancel")
    assert kf.cancel_order(client_order_id="to-cancel").order_id == by_client_id.order_id
    with pytest.raises(ValidationError, match="order_id or the client_order_id"):
        kf.cancel_order()


def test_cancel_all(kf: kfresearch.Client, acct: Any) -> None:
    ids = {_resting(kf).order_id, _resting(kf).order_id}
    eth = kf.place_order("PF_ETHUSD", "buy", 0.01, limit_price=2000)
    only_xbt = kf.cancel_all("pf_xbtusd")
    assert set(only_xbt.order_ids) == ids
    assert only_xbt.cancel_only == "PF_XBTUSD"
    assert list(acct.open_orders) == [eth.order_id]
    rest = kf.cancel_all()
    assert rest.order_ids == [eth.order_id]
    assert rest.status == "cancelled"
    assert repr(kf.cancel_all()) == "<CancelAllResult noOrdersToCancel 0 orders (all)>"
    assert rest.to_frame().index.tolist() == [eth.order_id]
    with pytest.raises(ValidationError):
        kf.cancel_all("PF_NOPE")


def test_dead_mans_switch_cancels_everything(kf: kfresearch.Client, ex: SimExchange,
                                             acct: Any) -> None:
    _resting(kf)
    status = kf.cancel_all_after(60)
    assert status.armed
    assert (status.trigger_time - status.current_time).total_seconds() == 60
    ex.advance(61_000)
    assert acct.open_orders == {}
    assert not kf.cancel_all_after(0).armed
    with pytest.raises(ValidationError, match="whole number"):
        kf.cancel_all_after(-1)


def test_keep_alive_rearms_in_the_background_and_stops(kf: kfresearch.Client,
                                                       acct: Any) -> None:
    with kf.keep_alive(timeout=2, interval=0.05) as switch:
        assert switch.running
        assert acct.dms_trigger_ms is not None
        deadline = time.monotonic() + 5
        while switch.rearms < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert switch.rearms >= 3
        assert "running" in repr(switch)
        assert "0x" not in repr(switch)
    assert not switch.running
    assert acct.dms_trigger_ms is None
    assert "stopped" in repr(switch)
    with pytest.raises(ValidationError, match="interval"):
        kf.keep_alive(timeout=10, interval=20)


def test_keep_alive_records_failures_without_stopping(kf: kfresearch.Client) -> None:
    calls: list[int] = []

    def flaky(seconds: int) -> Any:
        calls.append(seconds)
        if len(calls) == 2:
            raise kfresearch.NetworkError("down")
        return kf.cancel_all_after(seconds)

    from kfresearch.trading import DeadMansSwitch

    switch = DeadMansSwitch(flaky, timeout=5, interval=0.02).start()
    deadline = time.monotonic() + 5
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    switch.stop()
    assert switch.rearms >= 2
    assert calls[-1] == 0


def test_batch(kf: kfresearch.Client, acct: Any) -> None:
    old = _resting(kf)
    other = _resting(kf)
    result = kf.batch([
        Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
        Send("PF_ETHUSD", "sell", 0.01, limit_price=9000, client_order_id="eth-1"),
        Send("PF_XBTUSD", "buy", 0.001, limit_price=ASK, post_only=True),
        Edit(other.order_id, limit_price=70100),
        Cancel(old.order_id),
    ])
    assert isinstance(result, BatchResult)
    assert len(result) == 5
    assert [r.status for r in result] == [
        "placed", "placed", "postWouldExecute", "edited", "cancelled"]
    assert [r.action for r in result] == ["send", "send", "send", "edit", "cancel"]
    assert result[1].client_order_id == "eth-1"
    assert result[0].client_order_id.startswith("kfr-")
    assert [r.status for r in result.rejected] == ["postWouldExecute"]
    assert acct.orders[other.order_id].limit_price == 70100.0
    assert old.order_id not in acct.open_orders
    with pytest.raises(OrderRejected, match="batch item 2"):
        result.raise_for_status()
    assert result.to_frame()["status"].tolist()[2] == "postWouldExecute"
    assert "0x" not in repr(result)


def test_batch_validates_every_item_before_sending(kf: kfresearch.Client, recorder: Any) -> None:
    with pytest.raises(ValidationError, match=r"items\[1\]: limit_price 70000.5 is off") as info:
        kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
                  Send("PF_XBTUSD", "buy", 0.001, limit_price=70000.5)])
    assert info.value.field == "items[1].limit_price"
    with pytest.raises(ValidationError, match="at least one"):
        kf.batch([])
    assert "batchorder" not in recorder.paths()


def test_order_status(kf: kfresearch.Client) -> None:
    a = _resting(kf)
    b = kf.place_order("PF_XBTUSD", "sell", 0.001, "stp", stop_price=60000)
    frame = kf.order_status([a.order_id], client_order_ids=b.client_order_id)
    assert set(frame.index) == {a.order_id, b.order_id}
    assert frame.loc[a.order_id, "status"] == "ENTERED_BOOK"
    assert frame.loc[b.order_id, "status"] == "TRIGGER_PLACED"
    assert frame.loc[b.order_id, "trigger_price"] == 60000.0
    # no ids: every open order, as the docstring says (it raised before)
    everything = kf.order_status()
    assert set(everything.index) == {a.order_id, b.order_id}
    assert set(everything.index) == set(kf.open_orders().index)
    with pytest.raises(ValidationError, match="give order ids"):
        kf.order_status([])


def test_preview_and_context(kf: kfresearch.Client) -> None:
    context = kf.order_context("pf_xbtusd")
    assert context.symbol == "PF_XBTUSD"
    assert (context.bid, context.ask) == (BID, ASK)
    assert context.available_margin == 100_000.0
    assert context.taker_fee_rate == 0.0005
    view = kf.preview_order("PF_XBTUSD", "buy", 0.5, limit_price=79000)
    assert view.ok
    assert view.notional_usd == 39500.0
    assert kf.order_context("PI_XBTUSD").available_margin == 1.0  # XBT wallet


def test_async_twins(ex: SimExchange, acct: Any) -> None:
    async def main() -> None:
        async with kfresearch.AsyncClient("sim", exchange=ex, limiter=RateLimiter.unlimited()) as kf:
            placed = await kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
            assert placed.ok
            assert placed.order_id in acct.open_orders
            with pytest.raises(ValidationError):
                await kf.place_order("PF_XBTUSD", "buy", 0.00015, limit_price=70000)
            with pytest.raises(OrderRejected):
                await kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=ASK, post_only=True)
            assert (await kf.edit_order(placed.order_id, limit_price=70100)).ok
            frame = await kf.order_status(placed.order_id)
            assert frame.loc[placed.order_id, "limit_price"] == 70100.0
            batch = await kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=69000)])
            assert batch.ok
            assert (await kf.cancel_order(placed.order_id)).status == "cancelled"
            assert (await kf.cancel_all()).order_ids == [batch[0].order_id]
            assert (await kf.cancel_all_after(30)).armed
            switch = await kf.keep_alive(timeout=5, interval=0.01)
            await asyncio.sleep(0.1)
            assert switch.running
            assert switch.rearms >= 2
            await switch.stop()
            assert not switch.running
            assert acct.dms_trigger_ms is None
            assert (await kf.preview_order("PF_XBTUSD", "sell", 0.001, "mkt")).ok
            assert (await kf.order_context("PF_ETHUSD")).rules.tick_size == 0.1

    asyncio.run(main())
