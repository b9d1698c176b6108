"""The bytes fast path gives the same frames as the generic path, and steps aside for new fields."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest

from kfresearch import frames
from kfresearch.frames import _decode
from kfresearch.frames.pages import candles_more, page_token
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=9, clock=SimClock.fixed("2026-11-01T00:00:00Z"))


def _get(exchange: SimExchange, target: str) -> bytes:
    return exchange.handle("GET", target, {}, b"").body


def test_executions_bytes_equal_the_generic_frame(exchange: SimExchange) -> None:
    pages = [
        _get(
            exchange,
            "/api/history/v3/market/PF_ETHUSD/executions?count=300&sort=asc&since=1793400000000",
        )
    ]
    token = page_token(pages[0])
    assert token
    pages.append(
        _get(
            exchange,
            f"/api/history/v3/market/PF_ETHUSD/executions?count=300&sort=asc&since=1793400000000&continuation_token={token}",
        )
    )
    assert all(_decode.decode_executions(p) is not None for p in pages)  # the fast path was taken
    fast = frames.trades(pages)
    generic = frames.trades([orjson.loads(p) for p in pages])
    pd.testing.assert_frame_equal(fast, generic)
    assert len(fast) == 600
    assert fast.attrs["continuation_token"] == page_token(pages[-1])


def test_candles_and_book_bytes_equal_the_generic_frames(exchange: SimExchange) -> None:
    raw = _get(exchange, "/api/charts/v1/trade/PF_XBTUSD/5m?from=1793300000")
    assert _decode.decode_candles(raw) is not None
    pd.testing.assert_frame_equal(frames.candles(raw), frames.candles(orjson.loads(raw)))
    assert candles_more(raw) == candles_more(orjson.loads(raw))
    book = _get(exchange, "/derivatives/api/v3/orderbook?symbol=PF_XBTUSD")
    assert _decode.decode_orderbook(book) is not None
    pd.testing.assert_frame_equal(frames.orderbook(book), frames.orderbook(orjson.loads(book)))


def test_a_field_added_later_falls_back_and_is_kept(exchange: SimExchange) -> None:
    body = orjson.loads(_get(exchange, "/api/history/v3/market/PF_ETHUSD/executions?count=5"))
    for element in body["elements"]:
        element["event"]["Execution"]["execution"]["venueFee"] = "0.01"
    raw = orjson.dumps(body)
    assert _decode.decode_executions(raw) is None  # the typed path steps aside
    frame = frames.trades(raw)
    assert frame["venue_fee"].tolist() == [0.01] * 5


def test_unexpected_values_fall_back_to_the_generic_path() -> None:
    raw = b'{"candles":[{"time":1,"open":"","high":"2","low":"1","close":"2","volume":0}],"more_candles":false}'
    assert _decode.decode_candles(raw) is None
    frame = frames.candles(raw)
    assert frame["open"].isna().tolist() == [True]
    assert frame["high"].tolist() == [2.0]
