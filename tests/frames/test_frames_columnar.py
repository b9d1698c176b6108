"""The columnar reader of executions (pyarrow.json, a slice at a time) gives the frames the
other paths give, and steps aside for anything its schema does not describe."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd
import pytest

from kfresearch import frames
from kfresearch.frames import _columnar, _decode
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

EXECUTIONS = "/api/history/v3/market/PF_ETHUSD/executions?count=500&sort=asc&since=1793400000000"


@pytest.fixture(scope="module")
def body() -> bytes:
    exchange = SimExchange(seed=9, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    raw: bytes = exchange.handle("GET", EXECUTIONS, {}, b"").body
    return raw


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of 64 elements: a 500-element body is read in eight."""
    monkeypatch.setattr(_columnar, "SLICE", 64)


def generic(raw: bytes) -> pd.DataFrame:
    """The frame of the path that keeps every field (dicts, no typed decoding)."""
    return frames.trades(orjson.loads(raw))


def structs(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """The frame of the msgspec structs' path (the columnar reader switched off)."""
    with monkeypatch.context() as patch:
        patch.setattr(_decode, "read_executions", lambda raw: None)
        return frames.trades(raw)


def edited(raw: bytes, edit: Any) -> bytes:
    parsed = orjson.loads(raw)
    edit(parsed["elements"])
    return orjson.dumps(parsed)


def test_the_columnar_frame_equals_the_other_paths(
    body: bytes, small_slices: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _columnar.read_executions(body)
    assert read is not None  # this path was taken
    flat, n, token = read
    assert n == 500
    assert token == orjson.loads(body)["continuationToken"]
    assert len(flat["execution.uid"].chunks) == 8  # read a slice at a time
    fast = frames.trades(body)
    pd.testing.assert_frame_equal(fast, generic(body))
    pd.testing.assert_frame_equal(fast, structs(body, monkeypatch))
    assert fast.attrs["continuation_token"] == token


def test_pages_are_joined_like_the_other_paths(body: bytes) -> None:
    elements = orjson.loads(body)["elements"]
    first = orjson.dumps({"elements": elements[:200], "continuationToken": "t"})
    second = orjson.dumps({"elements": elements[150:]})  # 50 repeats, dropped by uid
    empty = orjson.dumps({"elements": []})  # read by the structs' path: lists, joined too
    pages = [first, second, empty]
    fast = frames.trades(pages, sort="asc")
    assert len(fast) == 500
    assert list(fast["seq"]) == list(range(500))
    pd.testing.assert_frame_equal(fast, frames.trades([orjson.loads(p) for p in pages], sort="asc"))
    pd.testing.assert_frame_equal(fast, frames.trades(body, sort="asc"))


def test_text_fields_keep_empty_as_missing(body: bytes) -> None:
    def blank(elements: list[Any]) -> None:
        elements[3]["event"]["Execution"]["execution"]["makerOrder"]["orderType"] = ""
        elements[4]["event"]["Execution"]["takerReducedQuantity"] = "0.5"

    raw = edited(body, blank)
    assert _columnar.read_executions(raw) is not None
    fast = frames.trades(raw)
    assert pd.isna(fast["maker_order_type"].iloc[3])
    assert fast["taker_reduced_quantity"].iloc[4] == 0.5
    assert fast["taker_reduced_quantity"].isna().sum() == 499
    pd.testing.assert_frame_equal(fast, generic(raw))


def test_a_pretty_printed_body_is_read_too(body: bytes, small_slices: None) -> None:
    pretty = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    assert _columnar.read_executions(pretty) is not None
    pd.testing.assert_frame_equal(frames.trades(pretty), generic(body))


def _new_field(elements: list[Any]) -> None:
    elements[7]["event"]["Execution"]["execution"]["venueFee"] = "0.01"


def _number_for_text(elements: list[Any]) -> None:
    elements[7]["event"]["Execution"]["execution"]["price"] = 2500.5


def _missing_field(elements: list[Any]) -> None:
    del elements[7]["event"]["Execution"]["execution"]["markPrice"]


def _not_a_number(elements: list[Any]) -> None:
    elements[7]["event"]["Execution"]["execution"]["usdValue"] = "n/a"


@pytest.mark.parametrize(
    "edit", [_new_field, _number_for_text, _missing_field, _not_a_number], ids=lambda f: f.__name__
)
def test_what_the_schema_does_not_describe_steps_aside(
    body: bytes, edit: Any, small_slices: None
) -> None:
    raw = edited(body, edit)
    assert _columnar.read_executions(raw) is None
    pd.testing.assert_frame_equal(frames.trades(raw), generic(raw))


def test_a_body_that_is_not_a_page_steps_aside() -> None:
    assert _columnar.read_executions(b'{"history": []}') is None
    assert _columnar.read_executions(b"not json") is None
    assert _columnar.read_executions(b'{"elements": []}') is None


class _Page(bytearray):
    """A page's bytes that can be watched (bytes cannot be weakly referenced)."""


def test_pages_from_an_iterator_are_read_one_at_a_time_and_let_go(body: bytes) -> None:
    elements = orjson.loads(body)["elements"]
    raw = [
        orjson.dumps({"elements": elements[i : i + 100], "continuationToken": f"t{i}"})
        for i in range(0, 500, 100)
    ]
    watched: list[weakref.ref[_Page]] = []

    def pages() -> Iterator[_Page]:
        for i, text in enumerate(raw):
            if i >= 2:  # the page before last was read and is no longer held
                assert watched[i - 2]() is None
            page = _Page(text)
            watched.append(weakref.ref(page))
            yield page
            del page

    streamed = frames.trades(pages(), sort="asc")
    assert len(watched) == 5
    pd.testing.assert_frame_equal(streamed, frames.trades(raw, sort="asc"))
    pd.testing.assert_frame_equal(streamed, frames.trades([orjson.loads(p) for p in raw], sort="asc"))
    assert streamed.attrs["continuation_token"] == "t400"


def test_an_iterator_mixing_fast_and_generic_pages_gives_the_generic_frame(body: bytes) -> None:
    elements = orjson.loads(body)["elements"]
    odd = orjson.loads(orjson.dumps(elements[200:300]))
    odd[5]["event"]["Execution"]["execution"]["venueFee"] = "0.01"  # a field added later
    pages: list[Any] = [
        orjson.dumps({"elements": elements[:250]}),  # overlaps the next page by 50
        orjson.dumps({"elements": odd, "serverTime": "2026-11-01T00:00:00.000Z"}),
        {"elements": elements[300:], "continuationToken": "last"},
    ]
    streamed = frames.trades(iter(pages), sort="asc")
    generic = frames.trades([p if isinstance(p, dict) else orjson.loads(p) for p in pages], sort="asc")
    assert len(streamed) == 500
    assert streamed["venue_fee"].notna().sum() == 1
    pd.testing.assert_frame_equal(streamed, generic)
    assert streamed.attrs == generic.attrs


def test_an_iterator_of_something_else_is_refused() -> None:
    with pytest.raises(ValueError, match="page 0 is a int"):
        frames.trades(iter([1]))


def test_no_deduplication_pass_without_repeated_uids(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    duplicated = pd.Series.duplicated

    def counted(self: pd.Series, *args: Any, **kwargs: Any) -> pd.Series:
        calls.append(len(self))
        return duplicated(self, *args, **kwargs)

    monkeypatch.setattr(pd.Series, "duplicated", counted)
    assert frames.trades(body)["uid"].is_unique
    assert calls == []
    elements = orjson.loads(body)["elements"]
    repeated = frames.trades([body, orjson.dumps({"elements": elements[:10]})])
    assert calls == [510]
    assert len(repeated) == 500


def test_a_compact_body_is_cut_at_its_elements_without_decoding_them(body: bytes) -> None:
    cut = _columnar._cut(body)
    assert cut is not None
    slices, n, token = cut
    assert n == 500
    assert token == orjson.loads(body)["continuationToken"]
    text = b"".join(bytes(make()) + b"\n" for _, _, make in slices)
    assert text.splitlines() == [orjson.dumps(e) for e in orjson.loads(body)["elements"]]


def _cut_inside_an_element(elements: list[Any]) -> None:
    # its bytes hold "},{"uid":" one level down: cut there, the reader refuses the halves
    elements[7]["event"]["Execution"]["execution"]["fills"] = [{"a": 1}, {"uid": "x"}]


def _keys_in_another_order(elements: list[Any]) -> None:
    elements[7] = {"timestamp": elements[7]["timestamp"], **elements[7]}  # no "},{"uid":"


def _pattern_inside_a_string(elements: list[Any]) -> None:
    elements[7]["event"]["Execution"]["execution"]["makerOrder"]["orderType"] = '},{"uid":'


@pytest.mark.parametrize(
    "edit",
    [_cut_inside_an_element, _keys_in_another_order, _pattern_inside_a_string],
    ids=lambda f: f.__name__,
)
def test_a_body_the_byte_cut_gets_wrong_is_read_the_other_way(body: bytes, edit: Any) -> None:
    raw = edited(body, edit)
    pd.testing.assert_frame_equal(frames.trades(raw), generic(raw))


def test_the_token_is_read_wherever_the_body_keeps_it(body: bytes) -> None:
    parsed = orjson.loads(body)
    first = orjson.dumps({"continuationToken": "t", "elements": parsed["elements"]})
    none = orjson.dumps({"elements": parsed["elements"]})
    assert _columnar._cut(first) is None  # not the compact shape: msgspec splits it
    assert frames.trades(first).attrs["continuation_token"] == "t"
    assert frames.trades(none).attrs["continuation_token"] is None
    pd.testing.assert_frame_equal(frames.trades(first), frames.trades(none))


def test_elements_without_a_comma_between_them_are_refused() -> None:
    element = b'{"uid":"e1","timestamp":"1","event":{}}'
    assert _columnar.read_executions(b'{"elements":[' + element + b" " + element + b"]}") is None
