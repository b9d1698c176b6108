"""A backtest's client skips HTTP, and answers exactly as the HTTP path does: the same orders,
fills, rejections and errors, request for request."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch.errors import APIError, OrderRejected, ValidationError
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.strategy.direct import DirectClient

from .conftest import SYMBOL

NOW = "2026-10-31T12:00:00Z"


class Same:
    """A frame that equals another when ``DataFrame.equals`` says so."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and self.frame.equals(other.frame)

    __hash__ = None  # type: ignore[assignment]


def _session(kf: kfresearch.Client) -> list[Any]:
    """Orders, rejections and reads on ``kf``; what each gave (results or error texts)."""
    seen: list[Any] = []
    for side, size, kind, price in [("buy", 0.01, "mkt", None), ("sell", 0.004, "mkt", None),
                                    ("buy", 0.002, "lmt", 60_000.0), ("sell", 5_000.0, "mkt", None)]:
        try:
            result = kf.place_order(SYMBOL, side, size, kind, limit_price=price,
                                    client_order_id=f"c-{len(seen)}")
            seen.append((result.status, result.filled, result.order_id, result.client_order_id))
        except (OrderRejected, APIError, ValidationError) as error:
            seen.append((type(error).__name__, str(error)))
        kf.sim.advance("1m")
    seen.append(kf.cancel_all(SYMBOL).status)
    # frames compare by .equals (NaN equal to NaN, dtypes too)
    seen += [Same(kf.fills()), Same(kf.positions()), Same(kf.accounts())]
    with pytest.raises(APIError) as refused:
        kf.request("GET", "/derivatives/api/v3/no-such-endpoint", private=False)
    seen.append((type(refused.value).__name__, str(refused.value)))
    return seen


def test_direct_client_answers_as_the_http_path() -> None:
    ordinary = kfresearch.connect("sim", exchange=SimExchange(seed=9, clock=SimClock.fixed(NOW)))
    direct = DirectClient("sim", exchange=SimExchange(seed=9, clock=SimClock.fixed(NOW)))
    by_http, by_call = _session(ordinary), _session(direct)
    assert any(isinstance(s, tuple) and s[0] in {"OrderRejected", "InsufficientFundsError"}
               for s in by_http)  # a rejection was compared too
    assert by_call == by_http
    # the exchange saw the same requests, signed and checked (no request was refused)
    assert direct.sim.requests_seen == ordinary.sim.requests_seen
    assert [r.status for r in direct.sim.request_log] == [
        r.status for r in ordinary.sim.request_log]


def test_a_traced_request_takes_the_http_path() -> None:
    kf = DirectClient("sim", exchange=SimExchange(seed=9, clock=SimClock.fixed(NOW)))
    with kf.trace() as trace:
        kf.tickers()
    assert len(trace.frame()) == 1
    assert isinstance(kf.tickers(), pd.DataFrame)
