"""Live gates: on ``live`` nothing order-changing is sent without the separate opt-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import kfresearch
from kfresearch.errors import LiveTradingDisabledError
from kfresearch.orders import Cancel, Send
from kfresearch.ratelimit import RateLimiter

KEY = "k" * 36
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="

ACTIONS: dict[str, Callable[[Any], Any]] = {
    "place_order": lambda kf: kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000),
    "place_order_unvalidated": lambda kf: kf.place_order("PF_XBTUSD", "buy", 1, "mkt",
                                                         validate=False),
    "edit_order": lambda kf: kf.edit_order("o-1", limit_price=70000),
    "cancel_order": lambda kf: kf.cancel_order("o-1"),
    "cancel_all": lambda kf: kf.cancel_all(),
    "cancel_all_symbol": lambda kf: kf.cancel_all("PF_XBTUSD"),
    "cancel_all_after": lambda kf: kf.cancel_all_after(60),
    "keep_alive": lambda kf: kf.keep_alive(),
    "batch": lambda kf: kf.batch([Send("PF_XBTUSD", "buy", 0.001, limit_price=70000),
                                  Cancel("o-1")]),
}


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500, json={"result": "error", "error": "should not be here"})


@pytest.mark.parametrize("action", list(ACTIONS))
def test_live_without_opt_in_sends_nothing(action: str) -> None:
    recorder = Recorder()
    kf = kfresearch.Client("live", key=KEY, secret=SECRET, limiter=RateLimiter.unlimited(),
                           transport=httpx.MockTransport(recorder))
    with pytest.raises(LiveTradingDisabledError, match="nothing was sent") as info:
        ACTIONS[action](kf)
    assert recorder.requests == []
    assert "allow_trading=True" in str(info.value)
    assert "KFRESEARCH_ALLOW_LIVE_TRADING=1" in str(info.value)


@pytest.mark.parametrize("action", ["place_order", "cancel_all", "batch"])
def test_async_live_without_opt_in_sends_nothing(action: str) -> None:
    recorder = Recorder()

    async def main() -> None:
        async with kfresearch.AsyncClient("live", key=KEY, secret=SECRET,
                                          transport=httpx.MockTransport(recorder)) as kf:
            with pytest.raises(LiveTradingDisabledError):
                await ACTIONS[action](kf)

    asyncio.run(main())
    assert recorder.requests == []


def test_reads_stay_allowed_on_live() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": "success", "orders": []})

    kf = kfresearch.Client("live", key=KEY, secret=SECRET, limiter=RateLimiter.unlimited(),
                           transport=httpx.MockTransport(answer))
    assert len(kf.order_status("o-1")) == 0


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_the_opt_in_lets_the_order_through(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    instruments = {"result": "success", "instruments": [
        {"symbol": "PF_XBTUSD", "tickSize": 1, "contractValueTradePrecision": 4,
         "maxPositionSize": 1000000, "tradeable": True}]}

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        sent.append(path)
        bodies: dict[str, Any] = {
            "instruments": instruments,
            "PF_XBTUSD": {"result": "success", "ticker": {"markPrice": "70000"}},
            "openpositions": {"result": "success", "openPositions": []},
            "sendorder": {"result": "success", "sendStatus": {
                "order_id": "o-1", "status": "placed", "orderEvents": []}},
        }
        return httpx.Response(200, json=bodies[path])

    if how == "environment":
        monkeypatch.setenv("KFRESEARCH_ALLOW_LIVE_TRADING", "1")
        kwargs: dict[str, Any] = {}
    else:
        kwargs = {"allow_trading": True}
    kf = kfresearch.connect("live", key=KEY, secret=SECRET, limiter=RateLimiter.unlimited(),
                            transport=httpx.MockTransport(answer), **kwargs)
    assert kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000).order_id == "o-1"
    assert sent[-1] == "sendorder"


def test_the_gate_also_holds_on_a_live_like_simulator(make_live_sim: Any, recorder: Any) -> None:
    kf = make_live_sim(allow_trading=False)
    with pytest.raises(LiveTradingDisabledError):
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    assert recorder.seen == []
    allowed = make_live_sim(allow_trading=True)
    assert allowed.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000).ok
