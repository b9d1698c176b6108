"""The public history listings' pages, byte for byte: fixed windows, pinned digests.

The served pages are cached and built faster than they were; neither may
change an answer. The digests below were taken from the simulator before
either change (seed 42, clock 2026-11-01T00:00:00Z): body, status and
headers of each page, following the continuation tokens.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW_MS = 1_793_491_200_000
H3 = NOW_MS - 3 * 3_600_000
H1 = NOW_MS - 3_600_000
EXECUTIONS = "/api/history/v3/market/PF_XBTUSD/executions"
PAGES = {  # first page's target -> (pages followed, sha256 prefix)
    f"{EXECUTIONS}?since={H3}&before={NOW_MS}&sort=asc&count=1000": (3, "dd7c1c892c32c515"),
    f"/api/history/v2/market/PF_XBTUSD/executions?since={H3}&before={NOW_MS}": (
        3,
        "18b603d8cc5f1a51",
    ),
    "/api/history/v3/market/PF_ETHUSD/executions?count=37": (3, "999d3d4c77e5ab41"),
    f"/api/history/v3/market/PI_XBTUSD/orders?since={H1}&sort=asc&count=300": (
        2,
        "e6c50cb6727c5aee",
    ),
    f"/api/history/v2/market/PF_XBTUSD/orders?before={NOW_MS}&count=250": (3, "97767607f1e77324"),
    f"/api/history/v3/market/PF_SOLUSD/price?since={H1}&count=100&sort=asc": (
        3,
        "fa0ac0d5c6d098e5",
    ),
}


def _digest(exchange: SimExchange, target: str, pages: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    seen = 0
    for _ in range(pages):
        answer = exchange.handle("GET", target, {}, b"")
        seen += 1
        digest.update(str(answer.status).encode())
        digest.update(answer.body)
        digest.update(json.dumps(answer.headers, sort_keys=True).encode())
        token = json.loads(answer.body).get("continuationToken")
        if not token:
            break
        target = target.split("&continuation_token=")[0] + f"&continuation_token={token}"
    return seen, digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))


@pytest.mark.parametrize("target", list(PAGES))
def test_pages_are_the_bytes_they_always_were_first_time_and_again(
    exchange: SimExchange, target: str
) -> None:
    pages, expected = PAGES[target]
    assert _digest(exchange, target, pages) == (pages, expected)
    assert _digest(exchange, target, pages) == (pages, expected)  # served again (cached)


def test_a_page_is_built_once_and_the_cache_keeps_its_byte_budget() -> None:
    from kfresearch.sim.history_pages import Pages

    exchange = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    market = exchange.market
    built: list[tuple[object, ...]] = []
    real = market.trades

    def counted(*args: object, **kwargs: object) -> object:
        built.append(args)
        return real(*args, **kwargs)

    market.trades = counted
    target = f"{EXECUTIONS}?since={H1}&count=100"
    first = exchange.handle("GET", target, {}, b"").body
    again = exchange.handle("GET", target, {}, b"").body
    assert first == again
    assert len(built) == 1
    exchange.handle("GET", target.replace("count=100", "count=99"), {}, b"")
    assert len(built) == 2  # another window is another page

    pages = Pages(limit=10)
    for key in "abc":
        pages.get(key, lambda: (b"1234", None))
    assert pages.get("c", lambda: (b"never", None)) == (b"1234", None)
    assert pages.get("a", lambda: (b"rebuilt", None)) == (b"rebuilt", None)  # dropped: 12 > 10
