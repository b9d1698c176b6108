"""Repeated uids are dropped from the raw columns (``core.drop_repeats``) before the trades
frame is made: the same frame as dropping them from the finished frame, never held twice."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest

from kfresearch import frames
from kfresearch.frames import core, market
from kfresearch.frames.core import Col, FrameSpec, drop_repeats
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

EXECUTIONS = "/api/history/v3/market/PF_ETHUSD/executions?count=300&sort=asc&since=1793400000000"


@pytest.fixture(scope="module")
def elements() -> list[Any]:
    exchange = SimExchange(seed=11, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    return list(orjson.loads(exchange.handle("GET", EXECUTIONS, {}, b"").body)["elements"])


def frame_dropping_after(monkeypatch: pytest.MonkeyPatch, pages: Any, **options: Any) -> Any:
    """The trades frame as it was made before: repeats dropped from the finished frame."""
    with monkeypatch.context() as patch:
        patch.setattr(market, "drop_repeats", lambda spec, flat, n: (flat, n))
        patch.setattr(market, "build", lambda *a, **k: core.build(*a, **{**k, "unique": False}))
        return frames.trades(pages, **options)


def overlapping(elements: list[Any]) -> list[bytes]:
    """Three pages: the second repeats the first's last 40, the third the second's last 5."""
    cuts = [(0, 120), (80, 200), (195, 300)]
    return [orjson.dumps({"elements": elements[a:b]}) for a, b in cuts]


@pytest.mark.parametrize("sort", ["asc", "desc", None])
def test_overlapping_pages_give_the_frame_of_dropping_afterwards(
    elements: list[Any], sort: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = overlapping(elements)
    expected = frame_dropping_after(monkeypatch, pages, sort=sort)
    assert len(expected) == 300
    for given in (pages, iter(pages), [orjson.loads(p) for p in pages]):
        frame = frames.trades(given, sort=sort)
        pd.testing.assert_frame_equal(frame, expected)
        assert frame.attrs == expected.attrs


def test_recent_trades_with_trade_ids_and_missing_uids(monkeypatch: pytest.MonkeyPatch) -> None:
    """``history[]`` rows rank by ``trade_id``; rows without a uid (None or "") never count
    as repeats."""
    rows = [
        {"time": f"2026-11-01T00:00:0{i % 10}.000Z", "trade_id": 10 + i, "price": 100 + i,
         "size": 1, "side": "buy", "type": "fill", "uid": uid}
        for i, uid in enumerate(["a", "b", "a", None, "", None, "", "c", "b", "d"])
    ]
    pages = [{"history": rows[:6]}, {"history": rows[4:]}]  # rows 4 and 5 twice
    expected = frame_dropping_after(monkeypatch, pages, symbol="PF_XBTUSD")
    frame = frames.trades(pages, symbol="PF_XBTUSD")
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["uid"].isna().sum() == 6  # None and "" rows, the repeated ones too
    assert sorted(frame["uid"].dropna()) == ["a", "b", "c", "d"]
    assert frame["seq"].tolist() == sorted(frame["seq"].tolist())


def test_drop_repeats_moves_every_column_and_keeps_its_kind() -> None:
    spec = FrameSpec(
        name="s", columns=(Col("uid", "str", "uid"), Col("seq", "int", "seq")),
        unique="uid", order_by=("seq",),
    )
    flat: dict[str, Any] = {
        "uid": pa.chunked_array([["a", "b"], ["a", "c"]]),
        "seq": np.arange(4),
        "price": [1.0, 2.0, 3.0, 4.0],
        "size": np.array([5.0, 6.0, 7.0, 8.0]),
    }
    out, n = drop_repeats(spec, flat, 4)
    assert flat == {}  # the caller's columns were moved, not copied beside them
    assert n == 3
    assert out["uid"].to_pylist() == ["b", "a", "c"]
    assert isinstance(out["uid"], pa.ChunkedArray)
    assert out["seq"].tolist() == [0, 1, 2]
    assert out["price"] == [2.0, 3.0, 4.0]
    assert out["size"].tolist() == [6.0, 7.0, 8.0]


def test_drop_repeats_leaves_unique_columns_alone() -> None:
    spec = FrameSpec(name="s", columns=(Col("uid", "str", "uid"),), unique="uid")
    flat: dict[str, Any] = {"uid": ["a", "b", None, None]}
    assert drop_repeats(spec, flat, 4) == ({"uid": ["a", "b", None, None]}, 4)
    assert flat == {"uid": ["a", "b", None, None]}
