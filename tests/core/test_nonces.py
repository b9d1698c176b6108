"""Nonces: strictly increasing per key across threads and clients."""

from __future__ import annotations

import base64
import itertools
import threading

import httpx

import kfresearch
from kfresearch.ratelimit import RateLimiter

SECRET = base64.b64encode(b"n" * 64).decode()


def test_8_threads_x_500_signed_requests_have_distinct_increasing_nonces() -> None:
    lock = threading.Lock()
    seen: dict[str, list[int]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            name = threading.current_thread().name
            seen.setdefault(name, []).append(int(request.headers["Nonce"]))
        return httpx.Response(200, json={"result": "success", "accounts": {}})

    def worker(name: str) -> None:
        # one client per thread: the nonce source is shared per key across clients
        client = kfresearch.Client(
            "live",
            key="nonce-key",
            secret=SECRET,
            transport=httpx.MockTransport(handler),
            limiter=RateLimiter.unlimited(),  # this test is about nonces, not the budget
        )
        for _ in range(500):
            client.request("GET", "/derivatives/api/v3/openorders", private=True)

    threads = [
        threading.Thread(target=worker, args=(str(i),), name=f"worker-{i}") for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [n for values in seen.values() for n in values]
    assert len(everything) == 4000
    assert len(set(everything)) == 4000
    for values in seen.values():
        assert values == sorted(values)
        assert all(b > a for a, b in itertools.pairwise(values))
