"""The background loop's ``call``: its own timeout is a StreamError, the coroutine's
exceptions (a TimeoutError among them) come through as they are."""

from __future__ import annotations

import asyncio

import pytest

from kfresearch.errors import RequestTimeoutError, StreamError
from kfresearch.stream.runner import LoopRunner


def test_a_timeout_raised_by_the_coroutine_is_not_the_callers_timeout() -> None:
    runner = LoopRunner.background()
    try:
        async def times_out() -> None:
            raise RequestTimeoutError("no answer", endpoint="UWS add_order")

        with pytest.raises(RequestTimeoutError, match="no answer"):
            runner.call(times_out(), None)

        async def slow() -> None:
            await asyncio.sleep(5)

        with pytest.raises(StreamError, match=r"within 0\.05 s"):
            runner.call(slow(), 0.05)
    finally:
        runner.stop()
