"""The Unified WebSocket's token: fetched once, reused, refreshed at half-life and after
``EAPI:Invalid token``; concurrent users share one fetch."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from kfresearch.errors import DecodeError
from kfresearch.uws.tokens import TokenSource


class Exchange:
    def __init__(self, expires: float = 900) -> None:
        self.calls = 0
        self.expires = expires

    def __call__(self) -> Any:
        self.calls += 1
        time.sleep(0.01)  # long enough for concurrent callers to pile up behind the lock
        return {"error": [], "result": {"token": f"tok-{self.calls}", "expires": self.expires}}


def test_reused_until_half_its_life_then_fetched_again() -> None:
    now = [100.0]
    exchange = Exchange(expires=900)
    tokens = TokenSource(exchange, clock=lambda: now[0])
    assert [tokens.get() for _ in range(5)] == ["tok-1"] * 5
    now[0] = 100.0 + 449.0
    assert tokens.get() == "tok-1"
    now[0] = 100.0 + 450.0  # half of 900 s
    assert tokens.get() == "tok-2"
    assert exchange.calls == 2


def test_invalidated_after_the_exchange_refused_it() -> None:
    exchange = Exchange()
    tokens = TokenSource(exchange)
    first = tokens.get()
    tokens.invalidate()
    assert tokens.get() != first
    assert tokens.fetches == 2


def test_concurrent_users_share_one_fetch() -> None:
    exchange = Exchange()
    tokens = TokenSource(exchange)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(tokens.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["tok-1"] * 8
    assert exchange.calls == 1

    async def many() -> list[str]:
        return list(await asyncio.gather(*(tokens.aget() for _ in range(8))))

    assert asyncio.run(many()) == ["tok-1"] * 8
    assert exchange.calls == 1


@pytest.mark.parametrize("body", [{"error": [], "result": {}}, {"result": {"token": ""}}, []])
def test_an_answer_without_a_token_is_a_decode_error(body: Any) -> None:
    with pytest.raises(DecodeError, match="without a token"):
        TokenSource(lambda: body).get()


def test_a_missing_lifetime_means_the_documented_900_seconds() -> None:
    now = [0.0]
    tokens = TokenSource(lambda: {"error": [], "result": {"token": "tok-value-123"}},
                         clock=lambda: now[0])
    tokens.get()
    now[0] = 449.0
    assert tokens.fetches == 1
    tokens.get()
    assert tokens.fetches == 1
    assert "1 fetched" in repr(tokens)
    assert "tok-value-123" not in repr(tokens)  # a token is a credential: never printed
