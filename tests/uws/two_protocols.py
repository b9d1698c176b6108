"""Helpers of the two-protocol tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault


@dataclass
class Loopback:
    """The simulator served on 127.0.0.1: its URL and the exchange behind it."""

    url: str
    exchange: SimExchange


@dataclass(frozen=True)
class Wire:
    """What a protocol calls the things the tests inject faults into."""

    protocol: str
    #: order method -> the fault that lets the exchange process it and loses the answer
    lost_answers: dict[str, Fault]

    def lose_answer(self, exchange: SimExchange, method: str, **kw: Any) -> None:
        fault = self.lost_answers[method]
        exchange.add_fault(Fault(fault.kind, path=fault.path, **kw))


WIRES = {
    "v3": Wire("v3", {m: Fault("drop_after", path=p) for m, p in (
        ("place", "/sendorder"), ("cancel", "/cancelorder"), ("edit", "/editorder"))}),
    "uws": Wire("uws", {m: Fault("ws_drop", path=p) for m, p in (
        ("place", "/v2/private/add_order"), ("cancel", "/v2/private/cancel_order"),
        ("edit", "/v2/private/amend_order"))}),
}
