"""History downloads read each page as it arrives (``queries.plan_history`` with
``frames.paged``): the same frame as building from every page at once, and the pages let go."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest

import kfresearch
from bench.data import HistoryServer, executions_bytes, in_memory
from kfresearch import frames, queries
from kfresearch.endpoints import HISTORY_EXECUTIONS, MARKET_EXECUTIONS
from kfresearch.frames import paged
from kfresearch.plans import CONCURRENCY, Call, drive, drive_async
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW_MS = 1_793_491_200_000
START = NOW_MS - 3_600_000


pytestmark = pytest.mark.usefixtures("small_pages")  # tests/client/conftest.py


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    """1,000 public executions from the simulator, in the history service's shape."""
    ex = SimExchange(seed=7, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    return list(orjson.loads(executions_bytes(ex, 1000))["elements"])


def retimed(base: list[dict[str, Any]], stamps: list[int]) -> list[bytes]:
    """One element per time of ``stamps`` (made from ``base``, each with its own uids)."""
    out = []
    for i, stamp in enumerate(stamps):
        element = base[i % len(base)]
        inner = element["event"]["Execution"]
        execution = {**inner["execution"], "uid": f"x{i}", "timestamp": str(stamp)}
        out.append(
            orjson.dumps(
                {
                    "uid": f"e{i}",
                    "timestamp": str(stamp),
                    "event": {"Execution": {**inner, "execution": execution}},
                }
            )
        )
    return out


def spread(n: int, every: int = 1000) -> list[int]:
    return [START + every * i for i in range(n)]


SCENARIOS: dict[str, Callable[[], list[int]]] = {
    # 3,000 evenly: the first page covers 1/30 of the range, so 32 sub-ranges follow
    "many sub-ranges": lambda: spread(3000),
    # groups of 30 share a time: the first page (100) ends inside a group, which the
    # first sub-range reads whole again (uids repeated across the seam)
    "repeated times at the seam": lambda: [START + 30_000 * (i // 30) for i in range(3000)],
    # dense at both ends, nothing in the middle: the middle sub-ranges answer empty pages
    "empty sub-ranges": lambda: spread(1500, 200) + [NOW_MS - 300_000 + 200 * i for i in range(1500)],
    # the first page covers most of the range: its token is followed, no sub-ranges
    "one token chain": lambda: spread(250, 14_000),
    "one page": lambda: spread(60),
    "nothing": lambda: [],
}


def serial(server: HistoryServer) -> list[bytes]:
    """Every page of ``[START, NOW_MS]`` by one token chain: serial paging."""
    pages, token = [], None
    while True:
        pages.append(server.page(START, NOW_MS + 1, 100, token))
        token = frames.pages.page_token(pages[-1])
        if token is None:
            return pages


def plan(endpoint: Any = MARKET_EXECUTIONS, build: Any = frames.trades) -> Any:
    return queries.plan_history(
        endpoint, build, START, NOW_MS + 1, NOW_MS, False, path_params={"symbol": "PF_XBTUSD"}
    )


def answer(server: HistoryServer) -> Callable[[Call], bytes]:
    def send(call: Call) -> bytes:
        p = call.params
        return server.page(p["since"], p["before"], p["count"], p.get("continuation_token"))

    return send


def _scenario(
    base: list[dict[str, Any]], scenario: str
) -> tuple[Any, HistoryServer, pd.DataFrame]:
    """The scenario's element times, a server of ``base`` retimed to them, and the frame
    of every page read one after another (what a streamed download must give)."""
    stamps = SCENARIOS[scenario]()
    server = HistoryServer(stamps, in_memory(retimed(base, stamps)))
    return stamps, server, frames.trades(serial(server), sort="asc")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_streamed_download_is_the_frame_of_every_page_at_once(
    base: list[dict[str, Any]], scenario: str
) -> None:
    stamps, server, expected = _scenario(base, scenario)
    streamed = drive(plan(), answer(server))
    pd.testing.assert_frame_equal(streamed, expected)
    assert streamed.attrs == expected.attrs
    assert len(streamed) == len(stamps)

    async def send(call: Call) -> bytes:
        return answer(server)(call)

    pd.testing.assert_frame_equal(asyncio.run(drive_async(plan(), send)), expected)


def test_the_seam_really_repeats_uids(base: list[dict[str, Any]]) -> None:
    """The scenario above downloads some elements twice: the frame has each once."""
    stamps = SCENARIOS["repeated times at the seam"]()
    server = HistoryServer(stamps, in_memory(retimed(base, stamps)))
    sent: list[bytes] = []

    def send(call: Call) -> bytes:
        sent.append(answer(server)(call))
        return sent[-1]

    frame = drive(plan(), send)
    received = sum(len(orjson.loads(page)["elements"]) for page in sent)
    assert received >= 3000 + 10  # the first page's last group, read again
    assert len(frame) == 3000
    assert frame["uid"].is_unique
    assert frame["seq"].tolist() == list(range(3000))


class Watched(bytearray):
    """A page's bytes that can be watched (bytes cannot be weakly referenced)."""


def alive_when_sending(base: list[dict[str, Any]]) -> tuple[list[int], pd.DataFrame]:
    """How many pages already answered were still held each time a request went out."""
    stamps = spread(4000, 900)
    server = HistoryServer(stamps, in_memory(retimed(base, stamps)))
    refs: list[weakref.ref[Watched]] = []
    alive: list[int] = []

    def send(call: Call) -> Watched:
        alive.append(sum(ref() is not None for ref in refs))
        page = Watched(answer(server)(call))
        refs.append(weakref.ref(page))
        return page

    frame = drive(plan(), send)
    return alive, frame


def test_pages_are_let_go_once_read(base: list[dict[str, Any]]) -> None:
    alive, frame = alive_when_sending(base)
    assert len(frame) == 4000
    assert len(alive) >= 40  # 40 pages at least
    # when a request goes out, only the pages of its own batch answered so far (and, in
    # the second batch, the first page) are held: every earlier page was read and let go
    assert max(alive) <= CONCURRENCY


def test_a_builder_that_keeps_its_pages_holds_them_all(
    base: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe above can fail: with no page reader for trades every page stays held."""
    monkeypatch.setattr(paged, "_READERS", {})
    alive, frame = alive_when_sending(base)
    assert len(frame) == 4000
    assert max(alive) == len(alive) - 1  # every page answered before the last request


def test_page_reader_reads_trades_and_keeps_other_pages() -> None:
    body = orjson.dumps({"elements": [], "continuationToken": "t"})
    trades = paged.page_reader(frames.trades, sort="asc")
    read = trades.read(body)
    assert isinstance(read, frames.market.TradesPage)
    assert read.head == {"continuationToken": "t"}
    assert trades.build(iter([read])).attrs["continuation_token"] == "t"
    held = paged.page_reader(frames.executions, sort="asc")
    page = {"elements": [], "accountUid": "a"}
    assert held.read(page) is page
    assert held.build(iter([page])).attrs["account_uid"] == "a"


def test_private_history_pages_still_give_the_frame_of_all_pages() -> None:
    """Executions arrive decoded and are kept whole until the end: same frame as before."""
    elements = [
        {
            "uid": f"e{i}",
            "timestamp": START + 1000 * i,
            "event": {
                "Execution": {
                    "execution": {
                        "uid": f"x{i}",
                        "timestamp": START + 1000 * i,
                        "price": "100",
                        "quantity": "1",
                        "order": {"uid": "o", "tradeable": "PF_XBTUSD", "direction": "Buy"},
                        "orderData": {"fee": "0.1"},
                        "executionType": "taker",
                    }
                }
            },
        }
        for i in range(700)
    ]
    server = HistoryServer(
        [e["timestamp"] for e in elements], in_memory([orjson.dumps(e) for e in elements])
    )

    def send(call: Call) -> Any:
        return orjson.loads(answer(server)(call))

    pages = [orjson.loads(p) for p in serial(server)]
    frame = drive(plan(HISTORY_EXECUTIONS, frames.executions), send)
    pd.testing.assert_frame_equal(frame, frames.executions(pages, sort="asc"))
    assert len(frame) == 700


@pytest.mark.parametrize("scenario", ["many sub-ranges", "repeated times at the seam"])
def test_kf_trades_sync_and_async_stream_the_same_frame(
    base: list[dict[str, Any]], scenario: str
) -> None:
    _, server, expected = _scenario(base, scenario)
    since = pd.Timestamp(START, unit="ms", tz="UTC")
    until = pd.Timestamp(NOW_MS + 1, unit="ms", tz="UTC")
    transport = httpx.MockTransport(server.handle)
    options: dict[str, Any] = {
        "transport": transport,
        "limiter": RateLimiter.unlimited(),
        "protocol": "v3",
    }
    with kfresearch.Client("live", **options) as kf:
        sync = kf.trades("PF_XBTUSD", since, until, progress=False)

    async def download() -> pd.DataFrame:
        async with kfresearch.AsyncClient("live", **options) as kf:
            return await kf.trades("PF_XBTUSD", since, until, progress=False)

    for frame in (sync, asyncio.run(download())):
        assert frame.attrs.pop("env") == "live"
        assert frame.attrs.pop("symbol") == "PF_XBTUSD"
        pd.testing.assert_frame_equal(frame, expected)
        assert frame.attrs == expected.attrs
    assert server.requests > 30
